"""The coordinator projection on a real PostgreSQL: batches applied once, rebuilds converge."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import psycopg
import pytest

from gateways.projectors.coordinator import (
    CoordinatorProjection,
    CoordinatorRebuild,
    coordinator_runner,
)
from gateways.projectors.histories import CaseHistories
from gateways.projectors.rebuild import rebuild
from gateways.projectors.runner import Batch, PositionMoved, Recorded, Runner
from gateways.readmodels.coordinator import CaseChange, CaseFilters, CoordinatorStore, StepFilters
from gateways.runtime import coordinator_store
from gateways.search_keys import search_keys
from projections.open_cases import CaseRows, OpenCase
from projections.time_standards_dashboard import StepRow
from services.cases import Cases
from services.settings import Settings
from tests.support.coordinator import record_case, record_mix


@pytest.fixture
def store(pg_cases: Cases) -> CoordinatorStore:
    return coordinator_store(pg_cases)


def rebuilt_rows(cases: Cases, settings: Settings, schema: str = "coordinator_check") -> dict:
    """What a rebuild from the whole store gives, in a schema of its own."""
    check = coordinator_store(cases, schema)
    check.drop()
    coordinator_runner(cases, settings, check, batch_size=1000).catch_up()
    return check.rows()


def test_small_batches_apply_every_event_once_and_track_the_head(
    pg_cases: Cases, store: CoordinatorStore, test_settings: Settings
):
    record_mix(pg_cases, 6)
    runner = coordinator_runner(pg_cases, test_settings, store, batch_size=4)

    moved = runner.catch_up()

    head = pg_cases.recorder.max_notification_id()
    assert moved == head == store.position(pg_cases.name)
    assert runner.lag.events_behind == 0
    assert store.case_count() == 6
    assert store.rows() == rebuilt_rows(pg_cases, test_settings)


def test_a_projector_stopped_midway_resumes_where_its_last_commit_left_it(
    pg_cases: Cases, store: CoordinatorStore, test_settings: Settings
):
    record_mix(pg_cases, 6)
    first = coordinator_runner(pg_cases, test_settings, store, batch_size=5)
    first.step()
    first.step()
    stopped_at = store.position(pg_cases.name)
    assert 0 < stopped_at < pg_cases.recorder.max_notification_id()
    del first  # gone without a goodbye, as after a crash
    record_mix(pg_cases, 3)

    coordinator_runner(pg_cases, test_settings, store, batch_size=5).catch_up()

    assert store.position(pg_cases.name) == pg_cases.recorder.max_notification_id()
    assert store.rows() == rebuilt_rows(pg_cases, test_settings)


def test_reapplying_an_already_tracked_batch_changes_nothing(
    pg_cases: Cases, store: CoordinatorStore, test_settings: Settings
):
    record_mix(pg_cases, 4)
    runner = coordinator_runner(pg_cases, test_settings, store, batch_size=6)
    runner.step()
    batch_start = store.position(pg_cases.name)
    runner.step()
    batch_end = store.position(pg_cases.name)
    runner.catch_up()
    before = store.rows()
    notifications = pg_cases.recorder.select_notifications(
        start=batch_start, stop=batch_end, limit=100, inclusive_of_start=False
    )
    recorded = [Recorded(n.id, n.topic, pg_cases.mapper.to_domain_event(n)) for n in notifications]
    projection = CoordinatorProjection(
        store,
        CaseHistories(pg_cases),
        pg_cases.profiles,
        pg_cases.name,
        nik_digest=search_keys(test_settings).nik_digest,
    )

    with pytest.raises(PositionMoved):
        projection.apply(Batch(after=batch_start, to=batch_end, recorded=recorded))

    assert store.rows() == before
    assert store.position(pg_cases.name) == pg_cases.recorder.max_notification_id()


def test_per_case_order_holds_whatever_the_batch_size_and_cache(
    pg_cases: Cases, test_settings: Settings
):
    record_mix(pg_cases, 8)
    one_by_one = coordinator_store(pg_cases, "coordinator_one")
    one_by_one.drop()
    coordinator_runner(pg_cases, test_settings, one_by_one, batch_size=1).catch_up()
    # No cache at all: every touched case's history comes back from the store.
    no_cache = coordinator_store(pg_cases, "coordinator_nocache")
    no_cache.drop()
    no_cache.create_tables()
    histories = CaseHistories(pg_cases, max_cases=0)
    projection = CoordinatorProjection(
        no_cache,
        histories,
        pg_cases.profiles,
        pg_cases.name,
        nik_digest=search_keys(test_settings).nik_digest,
    )

    Runner(pg_cases, [projection], batch_size=7).catch_up()

    assert histories.loads_from_store > 0
    assert one_by_one.rows() == no_cache.rows() == rebuilt_rows(pg_cases, test_settings)


def test_a_rebuild_converges_and_the_live_projector_reads_on_after_the_swap(
    pg_cases: Cases, store: CoordinatorStore, test_settings: Settings
):
    record_mix(pg_cases, 6)
    live = coordinator_runner(pg_cases, test_settings, store, batch_size=3)
    live.catch_up()
    incremental = store.rows()
    progressed: list[int] = []

    target = CoordinatorRebuild(pg_cases, test_settings, store)
    result = rebuild(pg_cases, [target], batch_size=1000, progress=progressed.append)

    assert store.rows() == incremental
    assert result.events == sum(progressed) == pg_cases.recorder.max_notification_id()
    assert result.built == ("coordinator: 6 cases",)
    record_mix(pg_cases, 2)
    live.catch_up()
    assert store.rows() == rebuilt_rows(pg_cases, test_settings)


# ---- Queries -----------------------------------------------------------------------------


@pytest.fixture
def projected(pg_cases: Cases, store: CoordinatorStore, test_settings: Settings) -> Iterator[dict]:
    recorded = {
        shape: record_case(pg_cases, shape, worker="cw-a")
        for shape in ("reported", "classified", "classified_medium", "referred", "closed")
    }
    other = record_case(pg_cases, "referred", district="kota-batu")
    coordinator_runner(pg_cases, test_settings, store).catch_up()
    yield {"cases": recorded, "other_district": other}


def ids(rows: list[dict]) -> set:
    return {row["case_id"] for row in rows}


def test_the_list_filters_by_each_triage_column(store: CoordinatorStore, projected: dict):
    cases = projected["cases"]
    now = datetime.now(UTC)

    def listed(**filters) -> set:
        return ids(store.list_cases("luwu-utara", CaseFilters(**filters), now=now, limit=50))

    assert listed() == {
        cases[s].case_id for s in ("reported", "classified", "classified_medium", "referred")
    }
    assert listed(status="closed") == {cases["closed"].case_id}
    assert listed(status=None) == {c.case_id for c in cases.values()}
    assert listed(risk_level="medium") == {cases["classified_medium"].case_id}
    assert listed(stage="assessment") == {cases["referred"].case_id}
    assert listed(agency="police") == {cases["referred"].case_id}
    assert listed(case_worker="cw-a") == {cases["referred"].case_id}
    assert listed(case_type="KTA", status=None) == {
        cases[s].case_id for s in ("classified", "classified_medium", "referred", "closed")
    }
    assert projected["other_district"].case_id not in listed(status=None)


def test_overdue_is_decided_by_the_query_clock_not_by_events(
    store: CoordinatorStore, projected: dict
):
    reported = projected["cases"]["reported"].case_id
    soon = datetime.now(UTC) + timedelta(minutes=10)
    later = datetime.now(UTC) + timedelta(hours=3)

    def row_at(now: datetime) -> dict:
        rows = store.list_cases("luwu-utara", CaseFilters(), now=now, limit=50)
        return next(row for row in rows if row["case_id"] == reported)

    assert row_at(soon)["overdue_steps"] == []
    assert row_at(soon)["next_step"] == "L1.5"
    assert row_at(later)["overdue_steps"] == ["L1.5"]
    overdue_later = store.list_cases(
        "luwu-utara", CaseFilters(overdue_step="L1.5"), now=later, limit=50
    )
    assert reported in ids(overdue_later)
    assert (
        ids(store.list_cases("luwu-utara", CaseFilters(overdue_step="L1.5"), now=soon, limit=50))
        == set()
    )


def test_pages_follow_the_keyset_without_repeats(store: CoordinatorStore, projected: dict):
    now = datetime.now(UTC)
    first = store.list_cases("luwu-utara", CaseFilters(status=None), now=now, limit=2)
    last = first[-1]
    second = store.list_cases(
        "luwu-utara",
        CaseFilters(status=None),
        now=now,
        limit=10,
        after=(last["reported_at"], last["case_id"]),
    )

    assert len(first) == 2 and len(second) == 3
    assert ids(first).isdisjoint(ids(second))


def test_workload_counts_open_cases_per_worker_and_open_referrals_per_agency(
    store: CoordinatorStore, projected: dict
):
    in_eight_days = datetime.now(UTC) + timedelta(days=8)

    load = store.workload("luwu-utara", now=in_eight_days)

    workers = {row["case_worker_id"]: row for row in load["case_workers"]}
    assert workers["cw-a"]["open_cases"] == 1
    assert workers[None]["open_cases"] == 3
    agencies = {row["agency"]: row for row in load["agencies"]}
    assert agencies["health"]["open_referrals"] == agencies["health"]["pending"] == 1
    assert agencies["police"]["accepted"] == 1
    # Referrals are due 7 days after they were made (L4.1).
    assert agencies["health"]["overdue_referrals"] == 1
    now_load = store.workload("luwu-utara", now=datetime.now(UTC))
    assert {row["overdue_referrals"] for row in now_load["agencies"]} == {0}


def test_the_dashboard_lists_open_steps_by_case_and_counts_by_agency(
    store: CoordinatorStore, projected: dict
):
    later = datetime.now(UTC) + timedelta(days=8)

    dashboard = store.step_dashboard("luwu-utara", StepFilters(), now=later, limit=50)

    by_case = {row["case_id"]: row for row in dashboard["cases"]}
    referred = by_case[projected["cases"]["referred"].case_id]
    assert referred["overdue"] >= 2 and referred["due"] == 0
    assert {step["state"] for step in referred["steps"]} == {"overdue"}
    agencies = {row["agency"]: row for row in dashboard["agencies"]}
    assert agencies["health"]["overdue"] == 1
    assert projected["cases"]["closed"].case_id not in by_case
    police_only = store.step_dashboard(
        "luwu-utara", StepFilters(agency="police"), now=later, limit=50
    )
    assert [row["agency"] for row in police_only["agencies"]] == ["police"]


def _ranged_referral_step(case_id: UUID, started: datetime) -> StepRow:
    """Tanjungpinang T4: a referred service is due from day 3 and overdue after day 7."""
    return StepRow(
        case_id=case_id,
        district="tanjungpinang",
        code="L4.1",
        stage="intervention",
        title_en="Referred service delivered",
        title_id="Layanan rujukan diberikan",
        agency="health",
        referral_id="r1",
        limit_minutes=7 * 24 * 60,
        started_at=started,
        due_at=started + timedelta(days=7),
        done_at=None,
        state="open",
        due_from=started + timedelta(days=3),
    )


def test_a_ranged_step_is_upcoming_until_its_range_starts_then_due_then_overdue(
    store: CoordinatorStore,
):
    started = datetime(2024, 3, 4, 9, tzinfo=UTC)
    case_id = uuid4()
    case = OpenCase(
        case_id=case_id,
        register_number="TPI/2024/0001",
        district="tanjungpinang",
        stage="intervention",
        status="open",
        reported_at=started,
        updated_at=started,
        version=12,
    )
    store.ensure_tables()
    store.write(
        [CaseChange(CaseRows(case), steps=[_ranged_referral_step(case_id, started)])],
        "ranged-step-check",
        after=None,
        to=1,
    )

    def state_on(day: float) -> str:
        dashboard = store.step_dashboard(
            "tanjungpinang",
            StepFilters(states=("upcoming", "due", "overdue")),
            now=started + timedelta(days=day),
            limit=10,
        )
        [row] = dashboard["cases"]
        [step] = row["steps"]
        return str(step["state"])

    assert [state_on(day) for day in (2.9, 3, 7, 7.1)] == ["upcoming", "due", "due", "overdue"]


def test_tables_made_before_a_column_was_added_get_it(pg_cases: Cases, database_url: str):
    old = coordinator_store(pg_cases, "coordinator_before_due_from")
    old.create_tables()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE coordinator_before_due_from.case_steps DROP COLUMN due_from")

    coordinator_store(pg_cases, "coordinator_before_due_from").ensure_tables()

    with psycopg.connect(database_url, autocommit=True) as conn:
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'coordinator_before_due_from' AND table_name = 'case_steps'"
        ).fetchall()
    assert ("due_from",) in columns
