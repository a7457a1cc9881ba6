"""How long from a command's commit until an agency sees it in its own projection.

``measure_propagation`` records referrals to one agency at a steady rate
through the case service and watches the agency's PostgreSQL schema for each
one, with the real relay and projector running as `simpul relay` and
`simpul project` child processes, as `simpul run` starts them. It measures two
spans per referral: from the command's return (the commit is done) and from
the stored event's timestamp (taken just before the commit), to the moment a
poll of the agency's schema first finds the referral.

Against embedded services by default (a temporary PostgreSQL and broker);
with SIMPUL_DATABASE_URL and SIMPUL_KAFKA_BOOTSTRAP_SERVERS set it uses those,
in a fresh database of its own (the user needs CREATEDB) and topics of its own.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from gateways.embedded.kafka import EmbeddedKafka
from gateways.embedded.postgres import EmbeddedPostgres
from gateways.readmodels.agency import schema_name
from gateways.runtime import open_cases
from services.case_commands import (
    AssignCaseWorker,
    Classify,
    RecordConsent,
    Refer,
    ReportCase,
    referral_id_for,
)
from services.cases import Cases
from services.settings import Settings

SERVICE_FOR_AGENCY = {
    "police": ("legal_process", "legal_aid"),
    "health": ("medical_care", "medical_examination"),
    "social": ("social_rehabilitation", "temporary_shelter"),
    "education": ("return_to_school", "non_formal_education"),
    "patbm": ("community_accompaniment", "social_reintegration"),
    "province": ("specialist_assessment", "psychological_counselling"),
    "prosecutor": ("legal_process",),
    "court": ("legal_process",),
    "legal_aid": ("legal_aid",),
    "civil_registry": ("civil_documents",),
    "religious_affairs": ("religious_guidance",),
    "baznas": ("repatriation",),
    "bpjs": ("health_insurance", "social_security_enrolment"),
}
POLL_INTERVAL_SECONDS = 0.002
VISIBLE_DEADLINE_SECONDS = 120


@dataclass
class PropagationResult:
    agency: str
    events: int
    rate: float
    from_commit: list[float] = field(default_factory=list)
    from_event_time: list[float] = field(default_factory=list)

    @staticmethod
    def _percentile(values: list[float], fraction: float) -> float:
        ordered = sorted(values)
        index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
        return ordered[index]

    def summary(self) -> dict[str, float]:
        return {
            "median_ms": statistics.median(self.from_commit) * 1000,
            "p99_ms": self._percentile(self.from_commit, 0.99) * 1000,
            "max_ms": max(self.from_commit) * 1000,
            "median_from_event_time_ms": statistics.median(self.from_event_time) * 1000,
            "p99_from_event_time_ms": self._percentile(self.from_event_time, 0.99) * 1000,
        }

    def report(self) -> str:
        s = self.summary()
        return (
            f"{self.events} referrals to {self.agency} at {self.rate:g}/s: command committed -> "
            f"visible in agency_{self.agency}: median {s['median_ms']:.1f} ms, "
            f"p99 {s['p99_ms']:.1f} ms, max {s['max_ms']:.1f} ms "
            f"(from the stored event's timestamp: median {s['median_from_event_time_ms']:.1f} ms, "
            f"p99 {s['p99_from_event_time_ms']:.1f} ms)"
        )


def _fresh_database(admin_url: str) -> str:
    name = f"simpul_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


def _drop_database(admin_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _consented_case(cases: Cases, district: str) -> uuid.UUID:
    intake = Actor("bench.intake", Role.INTAKE_OFFICER, Agency.UPTD_PPA, district)
    coordinator = Actor("bench.coordinator", Role.COORDINATOR, Agency.UPTD_PPA, district)
    worker = Actor("bench.worker", Role.CASE_WORKER, Agency.UPTD_PPA, district)
    case_id = cases.report_case(
        intake,
        ReportCase(
            channel="walk_in",
            arrived_at=datetime.now(UTC) - timedelta(minutes=1),
            chronology="Benchmark case.",
            victim={"name": "Bench", "age": 10},
        ),
    ).case_id
    cases.execute(
        intake,
        case_id,
        Classify(case_type="KTA", risk_level="high", jurisdiction="district", emergency=False),
    )
    cases.execute(coordinator, case_id, AssignCaseWorker(case_worker_id=worker.user_id))
    cases.execute(worker, case_id, RecordConsent(given=True, given_by="parent", document_ref="IC"))
    return case_id


class _Watcher:
    """Polls the agency's schema and notes when each awaited referral first shows up."""

    def __init__(self, database_url: str, agency: str) -> None:
        self.database_url = database_url
        self.schema = schema_name(agency)
        self.awaited: set[str] = set()
        self.seen: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def expect(self, referral_id: str) -> None:
        with self.lock:
            self.awaited.add(referral_id)

    def run(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            while not self.stop.is_set():
                with self.lock:
                    awaited = list(self.awaited)
                if awaited:
                    try:
                        rows = conn.execute(
                            f'SELECT referral_id FROM "{self.schema}".referrals '
                            "WHERE referral_id = ANY(%s)",
                            (awaited,),
                        ).fetchall()
                    except psycopg.errors.UndefinedTable:
                        rows = []
                    now = time.time()
                    with self.lock:
                        for (referral_id,) in rows:
                            self.seen.setdefault(referral_id, now)
                            self.awaited.discard(referral_id)
                time.sleep(POLL_INTERVAL_SECONDS)

    def wait_for(self, referral_ids: list[str]) -> None:
        deadline = time.monotonic() + VISIBLE_DEADLINE_SECONDS
        while not all(r in self.seen for r in referral_ids):
            if time.monotonic() > deadline:
                missing = len([r for r in referral_ids if r not in self.seen])
                raise RuntimeError(f"{missing} referrals never reached the projection")
            time.sleep(0.05)


def measure_propagation(
    settings: Settings, *, events: int = 200, rate: float = 20.0, agency: str = "police"
) -> PropagationResult:
    """Record ``events`` referrals to ``agency`` at ``rate`` per second; time each to visible."""
    if agency not in SERVICE_FOR_AGENCY:
        raise ValueError(f"agency must be one of {', '.join(SERVICE_FOR_AGENCY)}")
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="simpul-bench-")))
        if settings.database_url is not None:
            admin_url = str(settings.database_url)
        else:
            postgres = EmbeddedPostgres(work / "postgres", durable=False).start()
            stack.callback(postgres.stop, "immediate")
            admin_url = postgres.url
        servers = settings.kafka_bootstrap_servers
        if servers is None:
            broker = EmbeddedKafka(work / "kafka").start()
            stack.callback(broker.stop)
            servers = broker.bootstrap_servers
        database_url = _fresh_database(admin_url)
        stack.callback(_drop_database, admin_url, database_url)
        prefix = f"bench{uuid.uuid4().hex[:8]}"
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")},
            "SIMPUL_DATABASE_URL": database_url,
            "SIMPUL_KAFKA_BOOTSTRAP_SERVERS": servers,
            "SIMPUL_KAFKA_TOPIC_PREFIX": prefix,
            "SIMPUL_DATA_DIR": str(work / "data"),
            "SIMPUL_RELAY_METRICS_PORT": "0",
            "SIMPUL_PROJECTOR_METRICS_PORT": "0",
        }
        cases = open_cases(settings, database_url)
        stack.callback(cases.close)
        district = settings.default_district
        case_ids = [_consented_case(cases, district) for _ in range((events + 2) // 2 + 1)]
        log = (work / "services.log").open("wb")
        stack.callback(log.close)
        children = [
            subprocess.Popen(
                [sys.executable, "-m", "gateways.cli", *command],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            for command in (["relay"], ["project", "--agency", agency])
        ]

        def stop_children() -> None:
            for child in children:
                child.terminate()
            for child in children:
                child.wait(timeout=30)

        stack.callback(stop_children)
        watcher = _Watcher(database_url, agency)
        poller = threading.Thread(target=watcher.run, daemon=True)
        poller.start()
        stack.callback(watcher.stop.set)
        worker = Actor("bench.worker", Role.CASE_WORKER, Agency.UPTD_PPA, district)
        services = SERVICE_FOR_AGENCY[agency]

        def refer(case_id: uuid.UUID, service: str) -> tuple[str, float, datetime]:
            result = cases.execute(worker, case_id, Refer(service_type=service, agency=agency))
            returned = time.time()
            referral_id = referral_id_for(case_id, result.version)
            watcher.expect(referral_id)
            stored = cases.history(case_id, lte=result.version)[-1]
            return referral_id, returned, stored.timestamp

        # Warm up: the first referral waits for the consumer group to form; it is not counted.
        warm_up = refer(case_ids[-1], services[0])
        watcher.wait_for([warm_up[0]])

        sent: list[tuple[str, float, datetime]] = []
        interval = 1.0 / rate
        start = time.monotonic()
        for index in range(events):
            time.sleep(max(0.0, start + index * interval - time.monotonic()))
            sent.append(refer(case_ids[index // 2], services[index % len(services)]))
        watcher.wait_for([referral_id for referral_id, _, _ in sent])
        result = PropagationResult(agency=agency, events=events, rate=rate)
        for referral_id, returned, stored_at in sent:
            seen = watcher.seen[referral_id]
            result.from_commit.append(seen - returned)
            result.from_event_time.append(seen - stored_at.timestamp())
        return result
