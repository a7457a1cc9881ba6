"""`simpul replay` rebuilds every projection in one pass; the bench writes a real chain."""

from io import StringIO

import pytest

from benchmarks.audit import generate_store, measure_access_logging, measure_verification
from gateways.cli.projections import REPLAYED, replay_projections
from services.access_log import AccessQuery
from services.case_commands import Classify, HandOver, ReportCase
from services.cases import Cases
from services.settings import Settings
from tests.support.builders import COORDINATOR, INTAKE_OFFICER, report_details

REPORT = {
    name: value
    for name, value in report_details().items()
    if name not in ("case_id", "district", "register_number")
}


def test_replay_rebuilds_every_projection_in_one_pass_and_reports_what_it_built(
    pg_cases: Cases, database_url: str, test_settings: Settings
) -> None:
    for _ in range(3):
        case_id = pg_cases.report_case(INTAKE_OFFICER, ReportCase(**REPORT)).case_id
        pg_cases.execute(
            COORDINATOR,
            case_id,
            Classify(case_type="KTA", risk_level="low", jurisdiction="village", emergency=False),
        )
        pg_cases.execute(COORDINATOR, case_id, HandOver(target="patbm"))
    out = StringIO()

    status = replay_projections(test_settings, database_url, out)

    head = pg_cases.recorder.max_notification_id()
    assert status == 0
    assert "case files: 3 cases (9 events) fold with this code" in out.getvalue()
    assert "coordinator: 3 cases" in out.getvalue()
    assert "agencies: agency_police" in out.getvalue()
    assert f"Replayed {head} events into {len(REPLAYED)} projection(s) in one pass" in (
        out.getvalue()
    )


def test_replay_of_one_named_projection_rebuilds_only_that_one(
    pg_cases: Cases, database_url: str, test_settings: Settings
) -> None:
    pg_cases.report_case(INTAKE_OFFICER, ReportCase(**REPORT))
    out = StringIO()

    assert replay_projections(test_settings, database_url, out, ["case_files"]) == 0
    assert out.getvalue().splitlines()[0] == "case files: 1 cases (1 events) fold with this code"
    assert "into 1 projection(s)" in out.getvalue()


def test_replay_refuses_an_unknown_projection(database_url: str, test_settings: Settings) -> None:
    out = StringIO()

    assert replay_projections(test_settings, database_url, out, ["no_such"]) == 2
    assert "No such projection: no_such" in out.getvalue()


@pytest.mark.parametrize("total", [1234])
def test_the_generator_writes_a_real_chain_in_batches(
    pg_cases: Cases, database_url: str, total: int
) -> None:
    batches: list[int] = []

    written = generate_store(
        pg_cases, total, events_per_case=100, batch_events=500, progress=batches.append
    )
    result = measure_verification(database_url)

    assert written == sum(batches) == total
    assert batches[:2] == [500, 500]
    assert result.intact and result.events == total


def test_the_access_logging_measurement_compares_both_reads(pg_cases: Cases) -> None:
    cost = measure_access_logging(pg_cases, reads=20, warmup=2)

    assert cost.reads == 20
    assert cost.logged.p50_ms > 0 and cost.unlogged.p50_ms > 0
    assert "ratio with/without" in cost.describe()
    log = pg_cases.recorder
    recorded = log.access_log.select_access(AccessQuery(user_id="bench.auditor", limit=1000))  # type: ignore[attr-defined]  # the PostgreSQL recorder's own
    assert len(recorded) == 22
