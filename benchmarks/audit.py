"""Measurements for the audit features, as ratios and rates from one run on one server.

- ``generate_store``: many real case events, written through the real chained
  recorder in large batches (the hashes are the real ones), for the rest;
- ``measure_verification``: the store walk of `simpul audit verify`, in events/s;
- ``measure_access_logging``: a case read with its access record against the
  same read without it, interleaved in one run, p50/p99 and their ratio;
- ``measure_timeline``: the timeline of a case with many events, through the
  HTTP API in process.

`python -m benchmarks audit` runs them all on a throwaway PostgreSQL; `make
bench` calls some of the functions directly.
"""

import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID, uuid4

import psycopg
from psycopg.sql import SQL, Identifier
from tqdm import tqdm

from domain.actors import Actor, acting_as
from domain.case import Case
from domain.vocabulary import Agency, Role
from gateways.cli.audit import describe
from gateways.embedded.postgres import EmbeddedPostgres
from gateways.eventstore.environment import postgres_env
from gateways.eventstore.verify import StoreVerification, count_events, verify_store
from projections.case_file import CaseFile
from services.access_log import CaseRead
from services.cases import Cases
from services.settings import Settings

# One client reads thousands of times in a row: the per-user and per-address request
# limits would measure themselves, so they are off here.
UNLIMITED = Settings(api_rate_per_address=0, api_rate_per_user=0, _env_file=None)

DISTRICT = "luwu-utara"
INTAKE = Actor("bench.intake", Role.INTAKE_OFFICER, Agency.UPTD_PPA, DISTRICT)
CASE_WORKER = Actor("bench.pendamping", Role.CASE_WORKER, Agency.UPTD_PPA, DISTRICT)
AUDITOR = Actor("bench.auditor", Role.AUDITOR, Agency.PROVINCE, "sulawesi-selatan")


def _report(case_id: UUID, number: int, at: datetime) -> Case:
    with acting_as(INTAKE, at):
        return Case.receive_report(
            case_id=case_id,
            district=DISTRICT,
            register_number=f"BENCH/{number:06d}",
            channel="hotline",
            arrived_at=at - timedelta(minutes=5),
            chronology="A generated report for measurements; no real person.",
            victim={"name": "Anak Bench", "age": 12, "sex": "female"},
            reporter={"relationship": "teacher"},
            needs="none",
        )


def build_case(case_id: UUID, number: int, events: int, start: datetime) -> Case:
    """A case with ``events`` events: report, classification, assignment, consent, accompaniment."""
    case = _report(case_id, number, start)
    steps: list[tuple[Actor, Callable[[], None]]] = [
        (
            INTAKE,
            lambda: case.classify(
                case_type="KTA", risk_level="medium", jurisdiction="district", emergency=False
            ),
        ),
        (INTAKE, lambda: case.assign_case_worker(case_worker_id=CASE_WORKER.user_id)),
        (
            CASE_WORKER,
            lambda: case.record_consent(given=True, given_by="parent", document_ref="IC/BENCH"),
        ),
    ]
    for index in range(1, events):
        actor, command = (
            steps[index - 1]
            if index <= len(steps)
            else (
                CASE_WORKER,
                lambda: case.record_accompaniment(activity="accompanied to a session"),
            )
        )
        with acting_as(actor, start + timedelta(minutes=index)):
            command()
    return case


def generate_store(
    cases: Cases,
    total_events: int,
    *,
    events_per_case: int = 100,
    batch_events: int = 5000,
    progress: Callable[[int], object] | None = None,
) -> int:
    """Write ``total_events`` real events through the chained recorder, many cases per batch."""
    start = datetime.now(UTC) - timedelta(days=400)
    written = 0
    number = 0
    while written < total_events:
        batch: list[Case] = []
        in_batch = 0
        while in_batch < batch_events and written + in_batch < total_events:
            size = min(events_per_case, total_events - written - in_batch)
            number += 1
            batch.append(build_case(uuid4(), number, size, start))
            in_batch += size
        cases.save(*batch)
        written += in_batch
        if progress is not None:
            progress(in_batch)
    return written


def measure_verification(
    database_url: str, progress: Callable[[int], object] | None = None
) -> StoreVerification:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return verify_store(conn, progress=progress)


@dataclass(frozen=True)
class Latencies:
    p50_ms: float
    p99_ms: float
    mean_ms: float

    @classmethod
    def of(cls, seconds: list[float]) -> "Latencies":
        ordered = sorted(seconds)
        return cls(
            p50_ms=statistics.median(ordered) * 1000,
            p99_ms=ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000,
            mean_ms=statistics.fmean(ordered) * 1000,
        )


@dataclass(frozen=True)
class AccessLogCost:
    level: str
    reads: int
    case_events: int
    logged: Latencies
    unlogged: Latencies

    @property
    def p50_ratio(self) -> float:
        return self.logged.p50_ms / self.unlogged.p50_ms

    @property
    def p99_ratio(self) -> float:
        return self.logged.p99_ms / self.unlogged.p99_ms

    def describe(self) -> str:
        return (
            f"{self.level} case read ({self.case_events} events, {self.reads} reads each, "
            "interleaved):\n"
            f"  with access log    p50 {self.logged.p50_ms:.3f} ms  p99 "
            f"{self.logged.p99_ms:.3f} ms  mean {self.logged.mean_ms:.3f} ms\n"
            f"  without access log p50 {self.unlogged.p50_ms:.3f} ms  p99 "
            f"{self.unlogged.p99_ms:.3f} ms  mean {self.unlogged.mean_ms:.3f} ms\n"
            f"  ratio with/without p50 {self.p50_ratio:.2f}  p99 {self.p99_ratio:.2f}"
        )


def measure_access_logging(
    cases: Cases, *, reads: int = 2000, case_events: int = 25, warmup: int = 50
) -> AccessLogCost:
    """A case-file read with and without its access record, alternating, same case, same run.

    The read without is the read path as it was before access logging (the
    visibility check, then the events, then the fold); the read with differs
    only by the access record written in the same statement.
    """
    case = build_case(uuid4(), 0, case_events, datetime.now(UTC) - timedelta(days=2))
    cases.save(case)
    read = CaseRead(view="bench_read_case", purpose="access-log benchmark")

    def logged() -> None:
        CaseFile.from_events(cases.read_case_events(AUDITOR, case.id, read))

    def unlogged() -> None:
        cases.visible_case(AUDITOR, case.id)
        CaseFile.from_events(cases.history(case.id))

    logged_times, unlogged_times = _interleaved(logged, unlogged, reads, warmup)
    return AccessLogCost("service", reads, case_events, logged_times, unlogged_times)


def _test_client() -> Any:
    """FastAPI's in-process client, without Starlette's notice about the httpx it uses."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from fastapi.testclient import TestClient
    return TestClient


def measure_access_logging_http(
    cases: Cases, *, reads: int = 2000, case_events: int = 25, warmup: int = 50
) -> AccessLogCost:
    """GET /api/v1/cases/{id} against the same read without its access record, in one app.

    The baseline route exists only in the app this function builds: it is the
    read route as it was before access logging, so the two differ by the
    access record alone (and the request-id header).
    """
    TestClient = _test_client()

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from gateways.api.deps import ActorDep
    from gateways.runtime import api
    from gateways.tokens import TokenService

    case = build_case(uuid4(), 0, case_events, datetime.now(UTC) - timedelta(days=2))
    cases.save(case)
    tokens = TokenService.minting(Ed25519PrivateKey.generate())
    headers = {"Authorization": f"Bearer {tokens.mint(AUDITOR)}"}
    app = api(cases, tokens, settings=UNLIMITED)

    @app.get("/bench/unlogged-case/{case_id}", response_model=CaseFile)
    def read_case_unlogged(case_id: UUID, actor: ActorDep) -> CaseFile:
        cases.visible_case(actor, case_id)
        return CaseFile.from_events(cases.history(case_id))

    with TestClient(app) as client:

        def logged() -> None:
            client.get(f"/api/v1/cases/{case.id}", headers=headers).raise_for_status()

        def unlogged() -> None:
            client.get(f"/bench/unlogged-case/{case.id}", headers=headers).raise_for_status()

        logged_times, unlogged_times = _interleaved(logged, unlogged, reads, warmup)
    return AccessLogCost("HTTP", reads, case_events, logged_times, unlogged_times)


def _interleaved(
    first: Callable[[], None], second: Callable[[], None], runs: int, warmup: int
) -> tuple[Latencies, Latencies]:
    """Time both, alternating which goes first, so drift and caches favour neither."""
    timings: dict[Callable[[], None], list[float]] = {first: [], second: []}
    for index in range(warmup + runs):
        for run_once in (first, second) if index % 2 else (second, first):
            started = time.perf_counter()
            run_once()
            elapsed = time.perf_counter() - started
            if index >= warmup:
                timings[run_once].append(elapsed)
    return Latencies.of(timings[first]), Latencies.of(timings[second])


@dataclass(frozen=True)
class TimelineTiming:
    events: int
    runs: int
    http: Latencies  # GET /cases/{id}/timeline through the ASGI app, JSON included
    body_bytes: int


def measure_timeline(cases: Cases, *, events: int = 1000, runs: int = 20) -> TimelineTiming:
    TestClient = _test_client()

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from gateways.runtime import api
    from gateways.tokens import TokenService

    case = build_case(uuid4(), 1, events, datetime.now(UTC) - timedelta(days=30))
    cases.save(case)
    tokens = TokenService.minting(Ed25519PrivateKey.generate())
    headers = {"Authorization": f"Bearer {tokens.mint(AUDITOR)}"}
    timings = []
    size = 0
    with TestClient(api(cases, tokens, settings=UNLIMITED)) as client:
        for _ in range(runs + 2):
            started = time.perf_counter()
            response = client.get(f"/api/v1/cases/{case.id}/timeline", headers=headers)
            timings.append(time.perf_counter() - started)
            response.raise_for_status()
            size = len(response.content)
    return TimelineTiming(events=events, runs=runs, http=Latencies.of(timings[2:]), body_bytes=size)


def run_benchmarks(
    out: TextIO,
    *,
    events: int = 100_000,
    reads: int = 2000,
    timeline_events: int = 1000,
    admin_url: str | None = None,
) -> int:
    """All three measurements on a scratch database; prints a report."""
    with TemporaryDirectory(prefix="simpul-bench-") as scratch:
        server = None
        if admin_url is None:
            server = EmbeddedPostgres(Path(scratch) / "postgres", durable=True).start()
            admin_url = server.url
        name = f"simpul_bench_{uuid4().hex[:8]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(SQL("CREATE DATABASE {}").format(Identifier(name)))
        database_url = urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
        settings = Settings(_env_file=None)
        cases = Cases(env=postgres_env(database_url, settings))
        try:
            out.write(f"PostgreSQL: {'embedded, durable' if server else admin_url}\n\n")
            out.write(measure_access_logging(cases, reads=reads).describe() + "\n")
            out.write(measure_access_logging_http(cases, reads=reads).describe() + "\n\n")
            timing = measure_timeline(cases, events=timeline_events)
            out.write(
                f"timeline of a case with {timing.events} events over HTTP "
                f"({timing.runs} runs, {timing.body_bytes:,} bytes): p50 "
                f"{timing.http.p50_ms:.1f} ms  p99 {timing.http.p99_ms:.1f} ms\n\n"
            )
            with tqdm(total=events, unit=" events", desc="generating", leave=False) as bar:
                started = time.perf_counter()
                generate_store(cases, events, progress=bar.update)
                generated_in = time.perf_counter() - started
            out.write(f"generated {events:,} events in {generated_in:.1f} s\n")
            with psycopg.connect(database_url) as conn:
                stored = count_events(conn)
            with tqdm(total=stored, unit=" events", desc="verifying", leave=False) as bar:
                result = measure_verification(database_url, progress=bar.update)
            out.write(describe(result))
        finally:
            cases.close()
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(SQL("DROP DATABASE {} WITH (FORCE)").format(Identifier(name)))
            if server is not None:
                server.stop()
    return 0 if result.intact else 1
