"""Every store-following projection sets aside a case it cannot apply and goes on with the rest
(issue 10, defect 2: one NUL stopped the coordinator's views for every district)."""

import io
import json
from datetime import UTC, datetime
from uuid import UUID

import pytest

from gateways.cli.projections import Rebuilding, replay_projections
from gateways.projectors.agencies import AgencyMessages, derived_agency_events
from gateways.projectors.coordinator import coordinator_projection, coordinator_runner
from gateways.projectors.quarantine import SetAside
from gateways.projectors.rebuild import rebuild
from gateways.projectors.runner import Runner, RunnerMetrics
from gateways.readmodels.coordinator import CaseFilters, CoordinatorStore
from gateways.runtime import coordinator_store, sharing_matrix
from services.cases import Cases
from services.settings import Settings
from services.sharing import SharingPolicy
from tests.support.coordinator import record_mix
from tests.support.poison import (
    NUL_WORKER,
    UNREADABLE_TOPIC,
    case_the_fold_cannot_read,
    case_with_a_nul,
    case_with_an_unreadable_event,
)


@pytest.fixture
def store(pg_cases: Cases) -> CoordinatorStore:
    return coordinator_store(pg_cases)


def listed_case_ids(store: CoordinatorStore, district: str) -> set[UUID]:
    rows = store.list_cases(district, CaseFilters(status=None), now=datetime.now(UTC), limit=500)
    return {row["case_id"] for row in rows}


def test_a_value_the_database_refuses_sets_its_case_aside_and_every_later_case_appears(
    pg_cases: Cases, store: CoordinatorStore, test_settings: Settings
):
    before = record_mix(pg_cases, 3, district="luwu-utara")
    poisoned = case_with_a_nul(pg_cases, district="kota-batu")
    after = record_mix(pg_cases, 3, district="kota-batu") + record_mix(
        pg_cases, 2, district="luwu-utara"
    )

    coordinator_runner(pg_cases, test_settings, store, batch_size=500).catch_up()

    assert store.position(pg_cases.name) == pg_cases.recorder.max_notification_id()
    assert {c.case_id for c in before} <= listed_case_ids(store, "luwu-utara")
    assert {c.case_id for c in after[:3]} <= listed_case_ids(store, "kota-batu")
    assert {c.case_id for c in after[3:]} <= listed_case_ids(store, "luwu-utara")
    [set_aside] = store.quarantined()
    assert set_aside.case_id == poisoned.case_id
    assert set_aside.reason == "CharacterNotInRepertoire (SQLSTATE 22021)"
    assert set_aside.event_topic.endswith("Case.CaseWorkerAssigned")
    assert "rina" not in set_aside.reason


def test_a_case_set_aside_keeps_the_rows_it_had_before_the_event_it_cannot_apply(
    pg_cases: Cases, store: CoordinatorStore, test_settings: Settings
):
    poisoned = case_with_a_nul(pg_cases)
    runner = coordinator_runner(pg_cases, test_settings, store, batch_size=1)

    runner.catch_up()

    [row] = [r for r in store.rows()["open_cases"] if r[0] == poisoned.case_id]
    assert row[4] != "" and NUL_WORKER not in row
    assert [item.case_id for item in store.quarantined()] == [poisoned.case_id]


def test_an_event_todays_code_cannot_decode_sets_its_case_aside_not_the_stream(
    pg_cases: Cases, store: CoordinatorStore, test_settings: Settings
):
    poisoned = case_with_an_unreadable_event(pg_cases)
    later = record_mix(pg_cases, 2, district="kota-batu")

    coordinator_runner(pg_cases, test_settings, store, batch_size=3).catch_up()

    assert store.position(pg_cases.name) == pg_cases.recorder.max_notification_id()
    assert {c.case_id for c in later} <= listed_case_ids(store, "kota-batu")
    [set_aside] = store.quarantined()
    assert set_aside.case_id == poisoned.case_id
    assert set_aside.event_topic == UNREADABLE_TOPIC


def test_a_history_the_fold_cannot_read_sets_its_case_aside(
    pg_cases: Cases, store: CoordinatorStore, test_settings: Settings
):
    poisoned = case_the_fold_cannot_read(pg_cases)
    later = record_mix(pg_cases, 2)

    coordinator_runner(pg_cases, test_settings, store).catch_up()

    assert {c.case_id for c in later} <= listed_case_ids(store, "luwu-utara")
    assert [item.case_id for item in store.quarantined()] == [poisoned.case_id]


def test_a_case_set_aside_leaves_the_quarantine_once_it_applies(
    pg_cases: Cases, store: CoordinatorStore, test_settings: Settings
):
    [healthy] = record_mix(pg_cases, 1)
    projection = coordinator_projection(pg_cases, test_settings, store)
    # As after a fix is deployed: the case was set aside by earlier code and now folds.
    store.write(
        [],
        pg_cases.name,
        after=None,
        to=0,
        set_aside=[SetAside(healthy.case_id, 1, "domain.case:Case.Reported", "TypeError")],
    )

    assert projection.retry_set_aside() == 1

    assert store.quarantined() == []
    assert healthy.case_id in listed_case_ids(store, "luwu-utara")


def test_the_metric_counts_each_case_set_aside(
    pg_cases: Cases, store: CoordinatorStore, test_settings: Settings
):
    case_with_a_nul(pg_cases)
    case_with_an_unreadable_event(pg_cases)
    metrics = RunnerMetrics("coordinator")

    coordinator_runner(pg_cases, test_settings, store, metrics=metrics).catch_up()

    assert (
        metrics.registry.get_sample_value(
            "simpul_projection_cases_set_aside_total", {"projection": "coordinator"}
        )
        == 2
    )


def test_a_rebuild_builds_every_other_case_and_says_which_it_set_aside(
    pg_cases: Cases, store: CoordinatorStore, test_settings: Settings, database_url: str
):
    record_mix(pg_cases, 4)
    poisoned = case_with_a_nul(pg_cases)
    out = io.StringIO()

    status = replay_projections(test_settings, database_url, out, ["coordinator"])

    assert status == 1
    assert "1 set aside" in out.getvalue()
    assert [item.case_id for item in store.quarantined()] == [poisoned.case_id]
    assert store.case_count() == 4


def test_the_case_file_check_names_every_history_that_does_not_fold_and_fails(
    pg_cases: Cases, test_settings: Settings, database_url: str
):
    record_mix(pg_cases, 3)
    unreadable = case_with_an_unreadable_event(pg_cases)
    unfoldable = case_the_fold_cannot_read(pg_cases)
    out = io.StringIO()

    status = replay_projections(test_settings, database_url, out, ["case_files"])

    assert status == 1
    report = out.getvalue()
    assert "do not:" in report
    assert str(unreadable.case_id) in report and str(unfoldable.case_id) in report


def test_agency_messages_hold_back_a_case_they_cannot_derive_and_derive_the_others(
    pg_cases: Cases, test_settings: Settings
):
    referred = [c for c in record_mix(pg_cases, 4) if c.shape == "referred"]
    poisoned = case_with_an_unreadable_event(pg_cases)
    matrix = sharing_matrix(test_settings)
    messages = AgencyMessages(
        pg_cases, SharingPolicy(matrix), test_settings.kafka_topic_prefix, ["health"]
    )

    Runner(pg_cases, [messages], batch_size=5).catch_up()

    assert list(messages.held) == [poisoned.case_id]
    assert messages.position() == pg_cases.recorder.max_notification_id()
    derived = json.dumps(
        derived_agency_events(
            pg_cases, SharingPolicy(matrix), test_settings.kafka_topic_prefix, "health"
        )
    )
    assert referred and all(str(case.case_id) in derived for case in referred)


def test_a_rebuild_of_agency_inboxes_builds_the_other_cases_and_names_the_one_held(
    pg_cases: Cases, test_settings: Settings
):
    record_mix(pg_cases, 4)
    poisoned = case_with_an_unreadable_event(pg_cases)
    target = Rebuilding(test_settings, pg_cases).agencies(["health"])

    result = rebuild(pg_cases, [target], batch_size=100)

    assert result.set_aside == 1
    assert str(poisoned.case_id) in result.built[0]
