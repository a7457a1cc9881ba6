"""A real `simpul project --coordinator`, SIGKILLed again and again while cases are recorded,
ends with exactly the rows a rebuild from the store gives."""

import threading
import time
from collections.abc import Callable

import pytest

from gateways.projectors.coordinator import coordinator_runner, wait_until_caught_up
from gateways.runtime import coordinator_store
from services.cases import Cases
from services.settings import Settings
from tests.support.coordinator import record_mix
from tests.support.coordinator_process import Projector


def wait_for_position_past(cases: Cases, position: int, timeout: float = 60) -> int:
    store = coordinator_store(cases)
    deadline = time.monotonic() + timeout
    while True:
        now_at = store.position(cases.name)
        if now_at > position:
            return now_at
        assert time.monotonic() < deadline, f"the projector did not move past {position}"
        time.sleep(0.02)


@pytest.mark.fault
def test_sigkilled_projector_restarts_into_the_rows_a_rebuild_gives(
    pg_cases: Cases,
    projector: Projector,
    test_settings: Settings,
    rounds: Callable[[int, int], int],
    fault_report,
):
    kills = rounds(3, 30)
    record_mix(pg_cases, 20)
    recording_done = threading.Event()
    failures: list[BaseException] = []

    def keep_recording() -> None:
        try:
            while not recording_done.is_set():
                record_mix(pg_cases, 2)
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            failures.append(error)

    recorder = threading.Thread(target=keep_recording, daemon=True)
    recorder.start()
    position = 0
    try:
        for _ in range(kills):
            projector.start()
            position = wait_for_position_past(pg_cases, position)
            projector.kill()
    finally:
        recording_done.set()
        recorder.join(timeout=60)
    assert not failures

    projector.start()
    store = coordinator_store(pg_cases)
    wait_until_caught_up(pg_cases, store, timeout=60)
    assert "simpul_projection_events_behind" in projector.metrics()
    check = coordinator_store(pg_cases, "coordinator_check")
    coordinator_runner(pg_cases, test_settings, check, batch_size=1000).catch_up()

    assert store.position(pg_cases.name) == check.position(pg_cases.name)
    assert store.rows() == check.rows()
    assert store.case_count() >= 20 + kills * 2
    fault_report(
        f"coordinator projector SIGKILLed {kills} times, each after its position moved, while "
        f"cases were recorded; restarted, it caught up to {store.position(pg_cases.name)} and "
        f"its {store.case_count()} cases' rows equal a rebuild from the store",
        kills=kills,
    )
