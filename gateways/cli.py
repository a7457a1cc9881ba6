"""The `simpul` command."""

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from types import FrameType

import uvicorn

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from gateways.api.main import create_app
from gateways.kafka import commands as kafka_commands
from gateways.kafka.commands import Services, start_children, stop_children
from gateways.runtime import (
    Runtime,
    build_cases,
    start_embedded_kafka,
    start_embedded_postgres,
    token_service,
)
from services.settings import Settings

log = logging.getLogger("simpul")


def _settings() -> Settings:
    return Settings()


def run(args: argparse.Namespace) -> int:
    """The whole service on one machine, with embedded PostgreSQL and broker where unset."""
    settings = _settings()
    stack = []
    try:
        if settings.database_url is None:
            postgres, database_url = start_embedded_postgres(settings)
            stack.append(postgres.stop)
            print(f"embedded PostgreSQL: {database_url}")
        else:
            database_url = str(settings.database_url)
        kafka_servers = settings.kafka_bootstrap_servers
        if kafka_servers is None:
            broker = start_embedded_kafka(settings)
            stack.append(broker.stop)
            kafka_servers = broker.bootstrap_servers
            print(f"embedded Kafka-protocol broker: {kafka_servers}")
        port = args.port or settings.api_port
        api_url = f"http://{settings.api_host}:{port}"
        Runtime(api_url, database_url, kafka_servers).save(settings)
        # The relay and the agency projectors run beside the API, as child processes.
        children = start_children(Services(database_url, kafka_servers))
        stack.append(lambda: stop_children(children))
        cases = build_cases(settings, database_url)
        stack.append(cases.close)
        stack.append(start_coordinator_projector(database_url))
        tokens = token_service(settings)
        coordinator = Actor("koordinator.demo", Role.COORDINATOR, Agency.UPTD_PPA, settings.default_district)
        print(f"\nSimpul is running at {api_url}  (API docs: {api_url}/api/v1/docs)")
        print("A coordinator token to try (12 h):")
        print(f"  export TOKEN={tokens.mint(coordinator)}")
        print(f"  curl -s -H \"Authorization: Bearer $TOKEN\" {api_url}/api/v1/me")
        print("Walk one case through all six SOP stages:  .venv/bin/simpul demo\n", flush=True)
        app = create_app(cases=cases, tokens=tokens)
        uvicorn.run(app, host=settings.api_host, port=port, log_level="warning")
    finally:
        for stop in reversed(stack):
            stop()
    return 0


def serve(args: argparse.Namespace) -> int:
    """Only the API, against the configured PostgreSQL (a deployment's API process)."""
    settings = _settings()
    if settings.database_url is None:
        print("simpul serve needs SIMPUL_DATABASE_URL; use `simpul run` for embedded services")
        return 2
    cases = build_cases(settings, str(settings.database_url))
    app = create_app(cases=cases, tokens=token_service(settings))
    uvicorn.run(
        app,
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        log_level="info",
        access_log=True,
    )
    return 0


def token(args: argparse.Namespace) -> int:
    """Mint a bearer token for this deployment (development and first set-up)."""
    settings = _settings()
    actor = Actor(args.user, Role(args.role), Agency(args.agency), args.district or settings.default_district)
    print(token_service(settings).mint(actor, ttl=timedelta(hours=args.hours)))
    return 0


def demo(args: argparse.Namespace) -> int:
    """Drive one realistic case through all six SOP stages against a running service."""
    from gateways.demo import run_demo

    settings = _settings()
    runtime = Runtime.load(settings)
    url = args.url or (runtime.api_url if runtime else f"http://127.0.0.1:{settings.api_port}")
    return run_demo(
        url, token_service(settings), settings.default_district, _database_url(settings)
    )


def _database_url(settings: Settings) -> str | None:
    """The configured PostgreSQL, else the embedded one `simpul run` started."""
    if settings.database_url is not None:
        return str(settings.database_url)
    runtime = Runtime.load(settings)
    return runtime.database_url if runtime else None


NO_DATABASE = "No database: set SIMPUL_DATABASE_URL, or start the service with `simpul run`."


def audit_verify(args: argparse.Namespace) -> int:
    """Verify the whole event store's hash chain; exit 1 naming the first break if tampered."""
    from gateways.audit_commands import verify_event_store
    from gateways.eventstore.chain import ChainRoot, MalformedRoot

    database_url = _database_url(_settings())
    if database_url is None:
        print(NO_DATABASE)
        return 2
    try:
        anchors = [ChainRoot.parse(text) for text in args.anchor]
        return verify_event_store(
            database_url, sys.stdout, anchors=anchors, anchors_file=args.anchors_file
        )
    except MalformedRoot as error:
        print(error)
        return 2


def audit_bench(args: argparse.Namespace) -> int:
    """Measure verification rate, access-logging cost and timeline time on a scratch PostgreSQL."""
    from gateways.audit_bench import run_benchmarks

    return run_benchmarks(
        sys.stdout,
        events=args.events,
        reads=args.reads,
        timeline_events=args.timeline_events,
        admin_url=args.admin_url,
    )


def replay(args: argparse.Namespace) -> int:
    """Rebuild every projection (or those named) from the event store, with progress."""
    from gateways.audit_commands import replay_projections

    settings = _settings()
    database_url = _database_url(settings)
    if database_url is None:
        print(NO_DATABASE)
        return 2
    return replay_projections(settings, database_url, sys.stdout, args.projection)


# ---- Projections: the coordinator's views follow the event store ----------------------------


def _database_url(settings: Settings) -> str | None:
    if settings.database_url is not None:
        return str(settings.database_url)
    runtime = Runtime.load(settings)
    return runtime.database_url if runtime else None


def start_coordinator_projector(database_url: str) -> Callable[[], None]:
    """`simpul project --coordinator` as a child process; returns how to stop it."""
    environment = {**os.environ, "SIMPUL_DATABASE_URL": database_url}
    child = subprocess.Popen(
        [sys.executable, "-m", "gateways.cli", "project", "--coordinator"], env=environment
    )

    def stop() -> None:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    return stop


def project(args: argparse.Namespace) -> int:
    """Keep read models up to date: the coordinator's views, or agencies' (one kind per process)."""
    from gateways.coordinator.running import follow

    if args.coordinator == kafka_commands.wants_agencies(args):
        print("say which projections to run: --coordinator, or --agency X / --all-agencies")
        return 2
    if not args.coordinator:
        return int(kafka_commands.run_agency_projectors(args))
    settings = _settings()
    database_url = _database_url(settings)
    if database_url is None:
        print("simpul project needs SIMPUL_DATABASE_URL (or a running `simpul run`)")
        return 2
    cases = build_cases(settings, database_url)
    stop = threading.Event()
    try:
        if settings.projection_metrics_port:
            print(
                "coordinator projector; lag at http://"
                f"{settings.projection_metrics_host}:{settings.projection_metrics_port}/metrics",
                flush=True,
            )
        follow(cases, settings, stop)
    finally:
        stop.set()
        cases.close()
    return 0


def rebuild_projections(args: argparse.Namespace) -> int:
    """Rebuild read models from every stored event, or verify agencies' equal such a rebuild."""
    from tqdm import tqdm

    from gateways.coordinator.running import rebuild

    if args.coordinator == kafka_commands.wants_agencies(args):
        print("say which projections: --coordinator, or --agency X / --all-agencies")
        return 2
    if not args.coordinator:
        return int(kafka_commands.agency_projections(args))
    if args.action != "rebuild":
        print("the coordinator's views are checked by rebuilding them: use rebuild")
        return 2
    settings = _settings()
    database_url = _database_url(settings)
    if database_url is None:
        print("simpul projections rebuild needs SIMPUL_DATABASE_URL (or a running `simpul run`)")
        return 2
    cases = build_cases(settings, database_url)
    try:
        with tqdm(desc="coordinator", unit="event", file=sys.stderr) as bar:
            result = rebuild(
                cases,
                settings,
                on_start=lambda head: setattr(bar, "total", head),
                progress=bar.update,
            )
    finally:
        cases.close()
    print(
        f"rebuilt coordinator: {result.events} events, {result.cases} cases "
        f"in {result.seconds:.2f} s ({result.events_per_second:,.0f} events/s)"
    )
    return 0


def bench(args: argparse.Namespace) -> int:
    """Every speed figure as a ratio to a raw baseline measured in the same run (make bench)."""
    from gateways.bench.run import main as run_benchmarks

    return run_benchmarks(quick=args.quick, results=args.results)


def _add_projection_commands(command: Callable[..., argparse.ArgumentParser]) -> None:
    project_parser = command("project", project, project.__doc__ or "")
    project_parser.add_argument(
        "--coordinator", action="store_true", help="the coordinating office's views"
    )
    kafka_commands.add_agency_options(project_parser)
    projections_parser = command(
        "projections", rebuild_projections, rebuild_projections.__doc__ or ""
    )
    projections_parser.add_argument("action", choices=["rebuild", "verify"])
    projections_parser.add_argument(
        "--coordinator", action="store_true", help="the coordinating office's views"
    )
    kafka_commands.add_agency_options(projections_parser)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simpul", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    run_parser = command("run", run, run.__doc__ or "")
    run_parser.add_argument("--port", type=int, default=None)

    serve_parser = command("serve", serve, serve.__doc__ or "")
    serve_parser.add_argument("--host", default=None)
    serve_parser.add_argument("--port", type=int, default=None)

    token_parser = command("token", token, token.__doc__ or "")
    token_parser.add_argument("--user", required=True, help="user id, e.g. siti.intake")
    token_parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    token_parser.add_argument("--agency", required=True, choices=[a.value for a in Agency])
    token_parser.add_argument("--district", default=None, help="defaults to SIMPUL_DEFAULT_DISTRICT")
    token_parser.add_argument("--hours", type=int, default=12)

    demo_parser = command("demo", demo, demo.__doc__ or "")
    demo_parser.add_argument("--url", default=None, help="defaults to the one `simpul run` started")

    _add_projection_commands(command)

    bench_parser = command("bench", bench, bench.__doc__ or "")
    bench_parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    bench_parser.add_argument("--results", type=Path, default=Path("bench-results.json"))

    audit_parser = commands.add_parser(
        "audit", help="check the event store and measure audit costs"
    )
    audit_commands = audit_parser.add_subparsers(dest="audit_command", required=True)
    verify_parser = audit_commands.add_parser("verify", help=audit_verify.__doc__)
    verify_parser.set_defaults(handler=audit_verify)
    verify_parser.add_argument(
        "--anchor", action="append", default=[], metavar="ROOT",
        help="a root printed by an earlier verify (simpul-root:v1:...); the chain must pass it",
    )
    verify_parser.add_argument(
        "--anchors-file", type=Path, default=None, metavar="PATH",
        help="check every root kept in this file, then append today's (keep it off the server)",
    )
    bench_parser = audit_commands.add_parser("bench", help=audit_bench.__doc__)
    bench_parser.set_defaults(handler=audit_bench)
    bench_parser.add_argument("--events", type=int, default=100_000)
    bench_parser.add_argument("--reads", type=int, default=2000)
    bench_parser.add_argument("--timeline-events", type=int, default=1000)
    bench_parser.add_argument(
        "--admin-url", default=None,
        help="a PostgreSQL where a scratch database may be created; default: a throwaway "
        "embedded one (durable, like a deployment)",
    )

    replay_parser = command("replay", replay, replay.__doc__ or "")
    replay_parser.add_argument("projection", nargs="*", help="default: every registered one")

    # ---- Kafka publication and agency projections: relay, project, projections, measure ----
    kafka_commands.add_parsers(command)
    return parser


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
