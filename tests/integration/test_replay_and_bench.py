"""`simpul replay` runs every registered rebuild; the bench's generator writes a real chain."""

from io import StringIO

import pytest
from eventsourcing.utils import resolve_topic

from gateways.audit_bench import generate_store, measure_access_logging, measure_verification
from gateways.audit_commands import replay_projections
from gateways.replay import REBUILDS, ReplayContext, rebuild
from services.case_commands import Classify, HandOver, ReportCase
from services.cases import Cases
from services.settings import Settings
from tests.support.builders import COORDINATOR, INTAKE_OFFICER, report_details

REPORT = {
    name: value
    for name, value in report_details().items()
    if name not in ("case_id", "district", "register_number")
}


class Counted:
    def __init__(self) -> None:
        self.expected: int | None = None
        self.advanced = 0

    def expect(self, total: int) -> None:
        self.expected = total

    def advance(self, count: int) -> None:
        self.advanced += count


def test_every_registered_rebuild_can_be_found() -> None:
    assert REBUILDS
    for topic in REBUILDS.values():
        assert callable(resolve_topic(topic)), topic


def test_replay_folds_every_case_and_reports_its_count(
    pg_cases: Cases, database_url: str, test_settings: Settings
) -> None:
    for _ in range(3):
        case_id = pg_cases.report_case(INTAKE_OFFICER, ReportCase(**REPORT)).case_id
        pg_cases.execute(COORDINATOR, case_id, Classify(case_type="KTA", risk_level="low", jurisdiction="village", emergency=False))
        pg_cases.execute(COORDINATOR, case_id, HandOver(target="patbm"))
    progress = Counted()
    context = ReplayContext(test_settings, database_url)
    out = StringIO()

    try:
        replayed = rebuild("case_files", context, progress)
    finally:
        context.close()
    status = replay_projections(test_settings, database_url, out)

    assert replayed == progress.expected == progress.advanced == 9
    assert status == 0
    assert "case_files: 9 events replayed" in out.getvalue()
    assert "coordinator: " in out.getvalue()
    assert out.getvalue().endswith(f"into {len(REBUILDS)} projection(s).\n")


def test_replay_refuses_an_unknown_projection(database_url: str, test_settings: Settings) -> None:
    out = StringIO()

    assert replay_projections(test_settings, database_url, out, ["no_such"]) == 2
    assert "No such projection: no_such" in out.getvalue()


@pytest.mark.parametrize("total", [1234])
def test_the_generator_writes_a_real_chain_in_batches(
    pg_cases: Cases, database_url: str, total: int
) -> None:
    batches: list[int] = []

    written = generate_store(pg_cases, total, events_per_case=100, batch_events=500,
                             progress=batches.append)
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
    recorded = log.select_access(user_id="bench.auditor", limit=1000)  # type: ignore[attr-defined]
    assert len(recorded) == 22
