"""Figure: the timeline of a 1,000-event case, against selecting the case's rows raw."""

import time
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import psycopg

from benchmarks.audit import AUDITOR, build_case
from benchmarks.harness import Figure, percentile
from gateways.eventstore.environment import postgres_env
from projections.timeline import case_timeline
from services.access_log import CaseRead
from services.cases import Cases
from services.settings import Settings

RUNS = 30


def measure(database_url: str, *, events: int = 1000) -> Figure:
    cases = Cases(env=postgres_env(database_url, Settings(_env_file=None)))
    try:
        case = build_case(uuid4(), 1, events, datetime.now(UTC) - timedelta(days=30))
        cases.save(case)
        read = CaseRead(view="bench_timeline")
        profile = cases.profiles.profile(case.district)

        def timeline() -> None:
            history = cases.read_case_events(AUDITOR, case.id, read)
            case_timeline(history, profile, now=cases.clock()).model_dump_json()

        with psycopg.connect(database_url) as conn:

            def raw() -> None:
                conn.execute(
                    "SELECT originator_id, originator_version, topic, state FROM cases_events "
                    "WHERE originator_id = %s ORDER BY originator_version",
                    (case.id,),
                    prepare=True,
                ).fetchall()

            ours: list[float] = []
            baseline: list[float] = []
            for run in range(RUNS + 3):
                for function, samples in ((raw, baseline), (timeline, ours)):
                    started = time.perf_counter()
                    function()
                    if run >= 3:
                        samples.append(time.perf_counter() - started)
    finally:
        cases.close()
    return Figure.at_most(
        f"timeline of a {events:,}-event case (p50)",
        percentile(ours, 0.5) * 1000,
        percentile(baseline, 0.5) * 1000,
        "ms",
        2.0,
        ours_p99_ms=percentile(ours, 0.99) * 1000,
        raw_p99_ms=percentile(baseline, 0.99) * 1000,
    )
