"""The `simpul` subcommands for Kafka publication and agency projections.

`simpul relay`, `simpul project --agency X` (or `--all-agencies`),
`simpul projections rebuild|verify --agency X` and
`simpul measure propagation`. Each finds PostgreSQL and the broker in
SIMPUL_DATABASE_URL and SIMPUL_KAFKA_BOOTSTRAP_SERVERS, or else where
`simpul run` started them (its runtime.json).
"""

import argparse
import logging
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry
from tqdm import tqdm

from gateways.agency_views import AgencyStore, schema_name
from gateways.kafka.relay import (
    Relay,
    derived_agency_events,
    ensure_topics,
    producer_for,
    serve_metrics,
)
from gateways.runtime import Runtime, build_cases
from services.settings import Settings
from services.sharing import SharingMatrix, SharingPolicy, load_matrix

log = logging.getLogger("simpul")


@dataclass(frozen=True)
class Services:
    database_url: str
    bootstrap_servers: str


class NotConfigured(SystemExit):
    pass


def resolve(settings: Settings, *, kafka: bool = True) -> Services:
    runtime = Runtime.load(settings)
    database_url = str(settings.database_url) if settings.database_url else (
        runtime.database_url if runtime else None)
    servers = settings.kafka_bootstrap_servers or (
        runtime.kafka_bootstrap_servers if runtime else None)
    if database_url is None or (kafka and servers is None):
        print("set SIMPUL_DATABASE_URL and SIMPUL_KAFKA_BOOTSTRAP_SERVERS, or start "
              "`simpul run` first", file=sys.stderr)
        raise NotConfigured(2)
    return Services(database_url, servers or "")


def matrix_for(settings: Settings) -> SharingMatrix:
    return load_matrix(settings.sharing_matrix)


def agencies_from(args: argparse.Namespace, matrix: SharingMatrix) -> list[str]:
    agencies = list(matrix.agencies) if args.all_agencies else list(dict.fromkeys(args.agency))
    unknown = [agency for agency in agencies if agency not in matrix.agencies]
    if not agencies or unknown:
        print(f"choose --agency from {', '.join(matrix.agencies)} (or --all-agencies)",
              file=sys.stderr)
        raise NotConfigured(2)
    return agencies


# ---- simpul relay ------------------------------------------------------------------------------


def relay(args: argparse.Namespace, settings: Settings, stop: threading.Event) -> int:
    """Publish every stored case event to Kafka: the internal topic and each agency's topic."""
    services = resolve(settings)
    matrix = matrix_for(settings)
    topics = ensure_topics(
        services.bootstrap_servers, settings.kafka_topic_prefix, matrix.agencies,
        partitions=settings.kafka_partitions,
        replication_factor=settings.kafka_replication_factor,
    )
    log.info("relay: topics ready: %s", ", ".join(topics))
    cases = build_cases(settings, services.database_url)
    producer = producer_for(services.bootstrap_servers, f"{settings.kafka_topic_prefix}-relay")
    registry = CollectorRegistry()
    try:
        relay_ = Relay(
            cases=cases, database_url=services.database_url, producer=producer,
            policy=SharingPolicy(matrix), prefix=settings.kafka_topic_prefix,
            batch_size=args.batch_size or settings.relay_batch_size, registry=registry,
        )
        serve_metrics(registry, settings.relay_metrics_port)
        log.info("relay: publishing from position %d", relay_.position())
        relay_.run(stop)
    finally:
        producer.close()
        cases.close()
    return 0


# ---- simpul project ----------------------------------------------------------------------------


def project(args: argparse.Namespace, settings: Settings, stop: threading.Event) -> int:
    """Keep agency read models up to date from their topics (one consumer group per agency)."""
    from gateways.kafka.projector import run_projectors

    services = resolve(settings)
    agencies = agencies_from(args, matrix_for(settings))
    registry = CollectorRegistry()
    serve_metrics(registry, settings.projector_metrics_port)
    log.info("projectors: %s", ", ".join(agencies))
    run_projectors(agencies, database_url=services.database_url,
                   bootstrap_servers=services.bootstrap_servers,
                   prefix=settings.kafka_topic_prefix, stop=stop, registry=registry)
    return 0


# ---- simpul projections rebuild | verify -------------------------------------------------------


def rebuild_projection(settings: Settings, database_url: str, agency: str, *, swap: bool = True,
                       show_progress: bool = True) -> str:
    """Fold the agency's messages, derived afresh from the event store, into a new schema.

    With ``swap`` the new schema replaces the live one between two projector
    batches; without, it stays beside it (``agency_<x>__verify``) for comparison.
    """
    cases = build_cases(settings, database_url)
    try:
        head = cases.recorder.max_notification_id() or 0
        with tqdm(total=head, desc=f"rebuild {agency}", unit="event",
                  disable=not show_progress, file=sys.stderr) as bar:

            def progress(position: int, _head: int) -> None:
                bar.update(position - bar.n)

            events = derived_agency_events(
                cases, SharingPolicy(matrix_for(settings)), settings.kafka_topic_prefix, agency,
                progress=progress,
            )
            store = AgencyStore(database_url, agency)
            return store.rebuild(events, suffix="__rebuild" if swap else "__verify", swap=swap)
    finally:
        cases.close()


def replay_agencies(context: Any, progress: Any) -> int:
    """`simpul replay`'s entry for the agency projections (see gateways/replay.py)."""
    agencies = matrix_for(context.settings).agencies
    head = context.cases.recorder.max_notification_id() or 0
    progress.expect(head * len(agencies))
    for agency in agencies:
        rebuild_projection(context.settings, context.database_url, agency, show_progress=False)
        progress.advance(head)
    return head * len(agencies)


def projection_differences(settings: Settings, database_url: str, agency: str, *,
                           show_progress: bool = False) -> list[str]:
    """How the live projection differs from a rebuild from scratch (empty: identical)."""
    scratch = rebuild_projection(settings, database_url, agency, swap=False,
                                 show_progress=show_progress)
    store = AgencyStore(database_url, agency)
    try:
        return store.differences(scratch)
    finally:
        store.drop(scratch)


def projections(args: argparse.Namespace, settings: Settings, _stop: threading.Event) -> int:
    """Rebuild an agency projection from scratch, or verify it equals one."""
    services = resolve(settings, kafka=False)
    agencies = agencies_from(args, matrix_for(settings))
    status = 0
    for agency in agencies:
        if args.action == "rebuild":
            rebuild_projection(settings, services.database_url, agency)
            print(f"{schema_name(agency)}: rebuilt from the event store")
        else:
            differences = projection_differences(settings, services.database_url, agency,
                                                 show_progress=True)
            print(f"{schema_name(agency)}: " + ("equals a rebuild from scratch" if not differences
                                                else f"{len(differences)} differences"))
            for line in differences:
                print(f"  {line}")
            status = status or (1 if differences else 0)
    return status


# ---- simpul measure propagation ----------------------------------------------------------------


def measure(args: argparse.Namespace, settings: Settings, _stop: threading.Event) -> int:
    """Measure the time from a command's commit to its appearance in an agency projection."""
    from gateways.bench.propagation import measure_propagation

    result = measure_propagation(settings, events=args.events, rate=args.rate,
                                 agency=args.agency[0] if args.agency else "police")
    print(result.report())
    return 0


# ---- for `simpul run`: the relay and projectors as child processes -----------------------------


def start_children(services: Services) -> list[subprocess.Popen[bytes]]:
    """Start `simpul relay` and `simpul project --all-agencies`, configured by their environment."""
    environment = {
        **os.environ,
        "SIMPUL_DATABASE_URL": services.database_url,
        "SIMPUL_KAFKA_BOOTSTRAP_SERVERS": services.bootstrap_servers,
    }
    commands = (["relay"], ["project", "--all-agencies"])
    return [
        subprocess.Popen([sys.executable, "-m", "gateways.cli", *command], env=environment)
        for command in commands
    ]


def stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def add_agency_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agency", action="append", default=[],
                        help="an agency with a row in the sharing matrix; repeatable")
    parser.add_argument("--all-agencies", action="store_true")


def wants_agencies(args: argparse.Namespace) -> bool:
    return bool(args.agency or args.all_agencies)


def _bound(handler):
    def run_handler(args: argparse.Namespace) -> int:
        # The client library narrates every connection at INFO; our own lines say what matters.
        logging.getLogger("kafka").setLevel(logging.WARNING)
        return handler(args, Settings(), threading.Event())

    run_handler.__doc__ = handler.__doc__
    return run_handler


run_agency_projectors = _bound(project)
agency_projections = _bound(projections)


def add_parsers(add) -> None:
    """Add this module's subcommands to `simpul`."""

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        return add(name, _bound(handler), help_text)

    relay_parser = command("relay", relay, relay.__doc__ or "")
    relay_parser.add_argument("--batch-size", type=int, default=None)

    measure_parser = command("measure", measure, measure.__doc__ or "")
    measure_parser.add_argument("what", choices=["propagation"])
    measure_parser.add_argument("--events", type=int, default=200)
    measure_parser.add_argument("--rate", type=float, default=20.0, help="commands per second")
    measure_parser.add_argument("--agency", action="append", default=[])
