"""The processes that follow the store and the broker, and the rebuilds of what they keep.

`simpul relay`; `simpul project --coordinator` or `--agency X` (or
`--all-agencies`); `simpul projections rebuild|verify|quarantine`; `simpul replay`. Each
finds PostgreSQL and the broker in SIMPUL_DATABASE_URL and
SIMPUL_KAFKA_BOOTSTRAP_SERVERS, or else where `simpul run` started them.
"""

import argparse
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from prometheus_client import CollectorRegistry
from tqdm import tqdm

from domain.sharing_matrix import SharingMatrix
from gateways import runtime
from gateways.cli.commands import Commands
from gateways.kafka.projector import run_projectors
from gateways.kafka.relay import Relay, ensure_topics, producer_for, serve_metrics
from gateways.projectors.agencies import AgencyInboxesRebuild
from gateways.projectors.case_files import CaseFileCheck
from gateways.projectors.coordinator import CoordinatorRebuild, follow
from gateways.projectors.histories import CaseHistories
from gateways.projectors.rebuild import RebuildResult, RebuildTarget, rebuild
from gateways.readmodels.agency import schema_name
from services.cases import Cases
from services.settings import Settings
from services.sharing import SharingPolicy

log = logging.getLogger("simpul")
EXIT_USAGE = 2


def _quiet_kafka_client() -> None:
    # The client library narrates every connection at INFO; our own lines say what matters.
    logging.getLogger("kafka").setLevel(logging.WARNING)


def _agencies(args: argparse.Namespace, matrix: SharingMatrix) -> list[str] | None:
    agencies = list(matrix.agencies) if args.all_agencies else list(dict.fromkeys(args.agency))
    unknown = [agency for agency in agencies if agency not in matrix.agencies]
    if not agencies or unknown:
        print(
            f"choose --agency from {', '.join(matrix.agencies)} (or --all-agencies)",
            file=sys.stderr,
        )
        return None
    return agencies


def _wants_agencies(args: argparse.Namespace) -> bool:
    return bool(args.agency or args.all_agencies)


# ---- simpul relay --------------------------------------------------------------------------


def relay(args: argparse.Namespace) -> int:
    """Publish every stored case event to Kafka: the internal topic and each agency's topic."""
    _quiet_kafka_client()
    settings = Settings()
    found = runtime.services(settings)
    matrix = runtime.sharing_matrix(settings)
    security = runtime.kafka_security(settings)
    signer = runtime.message_signer(settings)
    topics = ensure_topics(
        found.bootstrap_servers,
        settings.kafka_topic_prefix,
        matrix.agencies,
        partitions=settings.kafka_partitions,
        replication_factor=settings.kafka_replication_factor,
        security=security,
    )
    log.info("relay: topics ready: %s", ", ".join(topics))
    cases = runtime.open_cases(settings, found.database_url)
    producer = producer_for(
        found.bootstrap_servers, f"{settings.kafka_topic_prefix}-relay", security
    )
    registry = CollectorRegistry()
    try:
        publisher = Relay(
            cases=cases,
            database_url=found.database_url,
            producer=producer,
            policy=SharingPolicy(matrix),
            prefix=settings.kafka_topic_prefix,
            signer=signer,
            batch_size=args.batch_size or settings.relay_batch_size,
            registry=registry,
        )
        serve_metrics(registry, settings.relay_metrics_port, settings.metrics_host)
        log.info(
            "relay: publishing from position %d, signing with key %s",
            publisher.position(),
            signer.key_id,
        )
        publisher.run(threading.Event())
    finally:
        producer.close()
        cases.close()
    return 0


# ---- simpul project ------------------------------------------------------------------------


def project(args: argparse.Namespace) -> int:
    """Keep read models up to date: the coordinator's views, or agencies' (one kind per process)."""
    if args.coordinator == _wants_agencies(args):
        print("say which projections to run: --coordinator, or --agency X / --all-agencies")
        return EXIT_USAGE
    settings = Settings()
    if args.coordinator:
        return _project_coordinator(settings)
    _quiet_kafka_client()
    found = runtime.services(settings)
    agencies = _agencies(args, runtime.sharing_matrix(settings))
    if agencies is None:
        return EXIT_USAGE
    verifier = runtime.message_verifier(settings)
    security = runtime.kafka_security(settings)
    registry = CollectorRegistry()
    serve_metrics(registry, settings.projector_metrics_port, settings.metrics_host)
    log.info(
        "projectors: %s; accepting messages signed with %s",
        ", ".join(agencies),
        ", ".join(verifier.key_ids),
    )
    run_projectors(
        agencies,
        database_url=found.database_url,
        bootstrap_servers=found.bootstrap_servers,
        prefix=settings.kafka_topic_prefix,
        stop=threading.Event(),
        registry=registry,
        retention=runtime.agency_retention(settings),
        purge_interval=settings.agency_purge_interval_seconds,
        verifier=verifier,
        security=security,
    )
    return 0


def _project_coordinator(settings: Settings) -> int:
    database = runtime.database_url(settings)
    if database is None:
        print("simpul project needs SIMPUL_DATABASE_URL (or a running `simpul run`)")
        return EXIT_USAGE
    cases = runtime.open_cases(settings, database)
    stop = threading.Event()
    try:
        if settings.projection_metrics_port:
            print(
                "coordinator projector; lag at http://"
                f"{settings.projection_metrics_host}:{settings.projection_metrics_port}/metrics",
                flush=True,
            )
        follow(cases, settings, runtime.coordinator_store(cases), stop)
    finally:
        stop.set()
        cases.close()
    return 0


# ---- Rebuilds: simpul projections rebuild | verify, simpul replay -------------------------------


@dataclass(frozen=True)
class Rebuilding:
    """What a rebuild target is made from."""

    settings: Settings
    cases: Cases

    @property
    def matrix(self) -> SharingMatrix:
        return runtime.sharing_matrix(self.settings)

    def case_files(self) -> RebuildTarget:
        histories = CaseHistories(
            self.cases, max_cases=self.settings.projection_history_cache_cases
        )
        return CaseFileCheck(histories)

    def coordinator(self) -> RebuildTarget:
        return CoordinatorRebuild(self.cases, self.settings, runtime.coordinator_store(self.cases))

    def agencies(
        self, agencies: Sequence[str] | None = None, *, swap: bool = True
    ) -> AgencyInboxesRebuild:
        chosen = list(agencies) if agencies is not None else list(self.matrix.agencies)
        return AgencyInboxesRebuild(
            self.cases,
            SharingPolicy(self.matrix),
            self.settings.kafka_topic_prefix,
            [runtime.agency_store(self.cases, agency, self.matrix) for agency in chosen],
            swap=swap,
        )


# What `simpul replay` rebuilds, by name, in one pass over the store.
REPLAYED: dict[str, Callable[[Rebuilding], RebuildTarget]] = {
    "case_files": Rebuilding.case_files,
    "coordinator": Rebuilding.coordinator,
    "agencies": lambda rebuilding: rebuilding.agencies(),
}


def rebuild_with_progress(
    settings: Settings,
    cases: Cases,
    targets: Sequence[RebuildTarget],
    *,
    label: str,
    show_progress: bool = True,
) -> RebuildResult:
    with tqdm(desc=label, unit="event", file=sys.stderr, disable=not show_progress) as bar:

        def expect(head: int) -> None:
            bar.total = head

        return rebuild(
            cases,
            targets,
            batch_size=settings.projection_rebuild_batch_size,
            on_start=expect,
            progress=bar.update,
        )


def rebuild_agencies(
    settings: Settings, database: str, agencies: Sequence[str], *, show_progress: bool = True
) -> RebuildResult:
    """Rebuild these agencies' inboxes from the event store, in one pass, and swap them in."""
    cases = runtime.open_cases(settings, database)
    try:
        target = Rebuilding(settings, cases).agencies(agencies)
        return rebuild_with_progress(
            settings,
            cases,
            [target],
            label="rebuild " + ", ".join(agencies),
            show_progress=show_progress,
        )
    finally:
        cases.close()


def projection_differences(settings: Settings, database: str, agency: str) -> list[str]:
    """How the live agency projection differs from a rebuild from scratch (empty: identical)."""
    cases = runtime.open_cases(settings, database)
    try:
        verifying = Rebuilding(settings, cases).agencies([agency], swap=False)
        rebuild_with_progress(
            settings, cases, [verifying], label=f"verify {agency}", show_progress=False
        )
        store = runtime.agency_store(cases, agency, runtime.sharing_matrix(settings))
        scratch = verifying.schemas[agency]
        try:
            return store.differences(scratch)
        finally:
            store.drop(scratch)
    finally:
        cases.close()


def projections(args: argparse.Namespace) -> int:
    """Rebuild read models from every stored event, or verify agencies' equal such a rebuild."""
    if args.coordinator == _wants_agencies(args):
        print("say which projections: --coordinator, or --agency X / --all-agencies")
        return EXIT_USAGE
    settings = Settings()
    database = runtime.database_url(settings)
    if database is None:
        print("simpul projections needs SIMPUL_DATABASE_URL (or a running `simpul run`)")
        return EXIT_USAGE
    if args.coordinator:
        if args.action == "quarantine":
            return _list_coordinator_quarantine(settings, database)
        if args.action != "rebuild":
            print("the coordinator's views are checked by rebuilding them: use rebuild")
            return EXIT_USAGE
        return _rebuild_coordinator(settings, database)
    if args.action == "quarantine":
        print(
            "agency projectors set bad messages aside in their dead-letter topics: see <topic>.dlq"
        )
        return EXIT_USAGE
    agencies = _agencies(args, runtime.sharing_matrix(settings))
    if agencies is None:
        return EXIT_USAGE
    if args.action == "rebuild":
        result = rebuild_agencies(settings, database, agencies)
        for agency in agencies:
            print(f"{schema_name(agency)}: rebuilt from the event store")
        if result.set_aside:
            print(result.built[0])
            return 1
        return 0
    status = 0
    for agency in agencies:
        differences = projection_differences(settings, database, agency)
        print(
            f"{schema_name(agency)}: "
            + (
                "equals a rebuild from scratch"
                if not differences
                else f"{len(differences)} differences"
            )
        )
        for line in differences:
            print(f"  {line}")
        status = status or (1 if differences else 0)
    return status


def _rebuild_coordinator(settings: Settings, database: str) -> int:
    cases = runtime.open_cases(settings, database)
    try:
        target = Rebuilding(settings, cases).coordinator()
        result = rebuild_with_progress(settings, cases, [target], label="coordinator")
    finally:
        cases.close()
    cases_built = result.built[0].removeprefix("coordinator: ")
    print(
        f"rebuilt coordinator: {result.events} events, {cases_built} "
        f"in {result.seconds:.2f} s ({result.events_per_second:,.0f} events/s)"
    )
    return 1 if result.set_aside else 0


def _list_coordinator_quarantine(settings: Settings, database: str) -> int:
    """The cases the coordinator's projection set aside; exit 1 while there are any."""
    cases = runtime.open_cases(settings, database)
    try:
        set_aside = runtime.coordinator_store(cases).quarantined()
    finally:
        cases.close()
    if not set_aside:
        print("coordinator: no case set aside")
        return 0
    print(f"coordinator: {len(set_aside)} cases set aside")
    for item in set_aside:
        print(
            f"  case {item.case_id}: {item.reason} at position {item.position} ({item.event_topic})"
        )
    return 1


def replay_projections(
    settings: Settings, database: str, out: TextIO, names: Sequence[str] = ()
) -> int:
    """Rebuild every projection (or those named) in one pass over the store."""
    unknown = sorted(set(names) - set(REPLAYED))
    if unknown:
        out.write(f"No such projection: {', '.join(unknown)}. Known: {', '.join(REPLAYED)}\n")
        return EXIT_USAGE
    chosen = list(names) or list(REPLAYED)
    cases = runtime.open_cases(settings, database)
    try:
        rebuilding = Rebuilding(settings, cases)
        targets = [REPLAYED[name](rebuilding) for name in chosen]
        result = rebuild_with_progress(settings, cases, targets, label=", ".join(chosen))
    finally:
        cases.close()
    out.writelines(f"{line}\n" for line in result.built)
    out.write(
        f"Replayed {result.events:,} events into {len(chosen)} projection(s) in one pass "
        f"({result.seconds:.2f} s).\n"
    )
    if result.set_aside:
        out.write(f"{result.set_aside} cases could not be built: see above.\n")
        return 1
    return 0


def replay(args: argparse.Namespace) -> int:
    """Rebuild every projection (or those named) from the event store, in one pass."""
    settings = Settings()
    database = runtime.database_url(settings)
    if database is None:
        print("No database: set SIMPUL_DATABASE_URL, or start the service with `simpul run`.")
        return EXIT_USAGE
    return replay_projections(settings, database, sys.stdout, args.projection)


def add_commands(commands: Commands) -> None:
    relay_parser = commands.add("relay", relay)
    relay_parser.add_argument("--batch-size", type=int, default=None)

    for name, handler in (("project", project), ("projections", projections)):
        parser = commands.add(name, handler)
        if name == "projections":
            parser.add_argument("action", choices=["rebuild", "verify", "quarantine"])
        parser.add_argument(
            "--coordinator", action="store_true", help="the coordinating office's views"
        )
        parser.add_argument(
            "--agency",
            action="append",
            default=[],
            help="an agency with a row in the sharing matrix; repeatable",
        )
        parser.add_argument("--all-agencies", action="store_true")

    replay_parser = commands.add("replay", replay)
    replay_parser.add_argument(
        "projection", nargs="*", help=f"default: all of {', '.join(REPLAYED)}"
    )
