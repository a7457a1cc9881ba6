"""Timelines read back from PostgreSQL agree with the commands that recorded them."""

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from uuid import uuid4

import pytest

from benchmarks.audit import build_case
from gateways.eventstore.environment import postgres_env
from projections.case_file import case_file_as_of
from projections.timeline import case_timeline
from services.access_log import CaseRead
from services.case_commands import (
    AcceptReferral,
    AssignCaseWorker,
    Classify,
    RecordConsent,
    Refer,
    ReportCase,
)
from services.cases import Cases
from services.settings import Settings
from tests.support.builders import (
    AUDITOR,
    CASE_WORKER,
    COORDINATOR,
    DISTRICT,
    HEALTH_OFFICER,
    INTAKE_OFFICER,
    report_details,
)

T0 = datetime(2025, 3, 3, 0, 0, tzinfo=UTC)
REPORT = {
    name: value
    for name, value in report_details(arrived_at=T0 - timedelta(minutes=5)).items()
    if name not in ("case_id", "district", "register_number")
}
READ = CaseRead(view="read_timeline", purpose="test")


@pytest.fixture
def cases(database_url: str, test_settings: Settings) -> Iterator[Cases]:
    minutes = count()
    app = Cases(
        env=postgres_env(database_url, test_settings),
        clock=lambda: T0 + timedelta(minutes=10 * next(minutes)),
    )
    yield app
    app.close()


def test_the_timeline_follows_the_commands_that_made_it(cases: Cases) -> None:
    steps = []
    reported = cases.report_case(INTAKE_OFFICER, ReportCase(**REPORT))
    case_id = reported.case_id
    steps.append((INTAKE_OFFICER, reported))
    steps.append(
        (
            COORDINATOR,
            cases.execute(
                COORDINATOR,
                case_id,
                Classify(
                    case_type="KTA", risk_level="high", jurisdiction="district", emergency=True
                ),
            ),
        )
    )
    steps.append(
        (
            INTAKE_OFFICER,
            cases.execute(
                INTAKE_OFFICER,
                case_id,
                Refer(service_type="medical_examination", agency="health", emergency=True),
            ),
        )
    )
    referral_id = cases.read_case_events(AUDITOR, case_id, READ)[-1].referral_id
    steps.append(
        (
            HEALTH_OFFICER,
            cases.execute(HEALTH_OFFICER, case_id, AcceptReferral(referral_id=referral_id)),
        )
    )
    steps.append(
        (
            COORDINATOR,
            cases.execute(
                COORDINATOR, case_id, AssignCaseWorker(case_worker_id=CASE_WORKER.user_id)
            ),
        )
    )
    steps.append(
        (
            CASE_WORKER,
            cases.execute(CASE_WORKER, case_id, RecordConsent(given=False, given_by="parent")),
        )
    )
    events = cases.read_case_events(AUDITOR, case_id, READ)
    profile = cases.profiles.profile(DISTRICT)

    timeline = case_timeline(events, profile, now=cases.clock())

    expected = [
        (actor.as_record(), name)
        for actor, result in steps
        for name in result.recorded
        if name not in ("Opened", "NumberIssued")
    ]
    assert [(e.actor.model_dump(), e.type) for e in timeline.entries] == expected
    assert [e.version for e in timeline.entries] == list(range(1, steps[-1][1].version + 1))
    assert timeline.entries[2].summary_id == (
        "Dirujuk ke fasilitas kesehatan untuk pemeriksaan medis (darurat)"
    )
    assert timeline.entries[-1].sop_step == "L1.10"
    assert timeline.state.status == "closed"
    for result in (steps[1][1], steps[3][1]):
        cut = case_timeline(events, profile, now=cases.clock(), version=result.version)
        assert cut.state == case_file_as_of(events, version=result.version)
        assert cut.entries == timeline.entries[: result.version]
        as_of = cut.entries[-1].recorded_at
        assert case_timeline(events, profile, now=cases.clock(), as_of=as_of).state == cut.state


def test_the_timeline_of_a_case_with_a_thousand_events_comes_back_quickly(
    cases: Cases, capsys: pytest.CaptureFixture[str]
) -> None:
    case = build_case(uuid4(), 1, 1000, T0 - timedelta(days=30))
    cases.save(case)
    profile = cases.profiles.profile(DISTRICT)

    started = time.perf_counter()
    events = cases.read_case_events(AUDITOR, case.id, READ)
    timeline = case_timeline(events, profile, now=cases.clock())
    body = json.dumps(timeline.model_dump(mode="json"))
    elapsed = time.perf_counter() - started

    with capsys.disabled():
        print(
            f"\n    timeline of {len(timeline.entries)} events: {elapsed * 1000:.0f} ms, "
            f"{len(body):,} bytes of JSON"
        )
    assert len(timeline.entries) == 1000
    assert elapsed < 5  # a generous bound against regressions; `simpul audit bench` measures
