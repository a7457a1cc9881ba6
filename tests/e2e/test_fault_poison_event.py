"""A real `simpul project --coordinator` meets events it cannot apply while cases of every
district keep arriving: it sets those cases aside and every other case appears
(issue 10, defect 2: one NUL stopped the coordinator's views for every district)."""

import threading
from collections.abc import Callable
from uuid import UUID

import pytest

from gateways.projectors.coordinator import coordinator_runner, wait_until_caught_up
from gateways.runtime import coordinator_store
from services.cases import Cases
from services.settings import Settings
from tests.support.coordinator import record_mix
from tests.support.coordinator_process import Projector
from tests.support.poison import (
    NUL_WORKER,
    case_the_fold_cannot_read,
    case_with_a_nul,
    case_with_an_unreadable_event,
)

POISONS = (case_with_a_nul, case_with_an_unreadable_event, case_the_fold_cannot_read)
DISTRICTS = ("luwu-utara", "kota-batu")


@pytest.mark.fault
def test_poisoned_cases_are_set_aside_and_every_other_case_of_every_district_appears(
    pg_cases: Cases,
    projector: Projector,
    test_settings: Settings,
    rounds: Callable[[int, int], int],
    fault_report,
):
    poison_rounds = rounds(2, 20)
    projector.start()
    recording_done = threading.Event()
    failures: list[BaseException] = []
    healthy: list[UUID] = []

    def keep_recording() -> None:
        try:
            while not recording_done.is_set():
                for district in DISTRICTS:
                    healthy.extend(c.case_id for c in record_mix(pg_cases, 2, district=district))
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            failures.append(error)

    recorder = threading.Thread(target=keep_recording, daemon=True)
    recorder.start()
    poisoned: list[UUID] = []
    try:
        for round_ in range(poison_rounds):
            for poison in POISONS:
                poisoned.append(poison(pg_cases, DISTRICTS[round_ % 2]).case_id)
    finally:
        recording_done.set()
        recorder.join(timeout=120)
    assert not failures
    healthy.extend(c.case_id for c in record_mix(pg_cases, 3, district="kota-batu"))

    store = coordinator_store(pg_cases)
    wait_until_caught_up(pg_cases, store, timeout=120)

    projected = {row[0] for row in store.rows()["open_cases"]}
    assert set(healthy) <= projected
    assert {item.case_id for item in store.quarantined()} == set(poisoned)
    assert 'simpul_projection_cases_set_aside_total{projection="coordinator"}' in (
        projector.metrics()
    )
    log = projector.log()
    assert log.count("set aside at position") >= len(poisoned)
    assert NUL_WORKER not in log and "rina" not in log
    # A rebuild from the store gives the same rows for every case that applies.
    check = coordinator_store(pg_cases, "coordinator_check")
    coordinator_runner(pg_cases, test_settings, check, batch_size=1000).catch_up()
    assert {item.case_id for item in check.quarantined()} == set(poisoned)
    live, rebuilt = store.rows(), check.rows()
    for table in live:
        assert [r for r in live[table] if r[0] not in poisoned] == [
            r for r in rebuilt[table] if r[0] not in poisoned
        ]
    fault_report(
        f"{len(poisoned)} poisoned cases (NUL the database refuses, undecodable event, "
        f"unfoldable history) among {len(healthy)} healthy ones in {len(DISTRICTS)} districts; "
        "the projector set aside exactly the poisoned, projected every other case, and equals "
        "a rebuild on them"
    )
