"""The `simpul` command."""

import argparse
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
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
    return run_demo(url, token_service(settings), settings.default_district)


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
