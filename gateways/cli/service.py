"""`simpul run` (everything on one machine), `simpul serve` (the API) and `simpul token`."""

import argparse
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta

import uvicorn

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from gateways import runtime
from gateways.api.server import server_config
from gateways.cli.commands import Commands
from services.settings import Settings

# Beside the API, `simpul run` starts these as child processes.
CHILDREN = (["relay"], ["project", "--all-agencies"], ["project", "--coordinator"])


def start_children(environment: dict[str, str]) -> Callable[[], None]:
    """`simpul <command>` for each of CHILDREN as a child process; returns how to stop them."""
    children = [
        subprocess.Popen([sys.executable, "-m", "gateways.cli", *command], env=environment)
        for command in CHILDREN
    ]

    def stop() -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    return stop


def run(args: argparse.Namespace) -> int:
    """The whole service on one machine, with embedded PostgreSQL and broker where unset."""
    settings = Settings()
    stack: list[Callable[[], None]] = []
    try:
        if settings.database_url is None:
            postgres, database = runtime.start_embedded_postgres(settings)
            stack.append(postgres.stop)
            print(f"embedded PostgreSQL: {database}")
        else:
            database = str(settings.database_url)
        kafka_servers = settings.kafka_bootstrap_servers
        if kafka_servers is None:
            broker = runtime.start_embedded_kafka(settings)
            stack.append(broker.stop)
            kafka_servers = broker.bootstrap_servers
            print(f"embedded Kafka-protocol broker: {kafka_servers}")
        port = args.port or settings.api_port
        api_url = f"http://{settings.api_host}:{port}"
        runtime.Runtime(api_url, database, kafka_servers).save(settings)
        environment = {
            **os.environ,
            "SIMPUL_DATABASE_URL": database,
            "SIMPUL_KAFKA_BOOTSTRAP_SERVERS": kafka_servers,
        }
        stack.append(start_children(environment))
        cases = runtime.open_cases(settings, database)
        stack.append(cases.close)
        tokens = runtime.token_service(settings)
        coordinator = Actor(
            "koordinator.demo", Role.COORDINATOR, Agency.UPTD_PPA, settings.default_district
        )
        print(f"\nSimpul is running at {api_url}  (API docs: {api_url}/api/v1/docs)")
        print("A coordinator token to try (12 h):")
        print(f"  export TOKEN={tokens.mint(coordinator)}")
        print(f'  curl -s -H "Authorization: Bearer $TOKEN" {api_url}/api/v1/me')
        print("Walk one case through all six SOP stages:  .venv/bin/simpul demo\n", flush=True)
        app = runtime.api(cases, tokens, runtime.sharing_matrix(settings), settings=settings)
        config = server_config(
            app, settings, host=settings.api_host, port=port, log_level="warning", access_log=False
        )
        uvicorn.Server(config).run()
    finally:
        for stop in reversed(stack):
            stop()
    return 0


def serve(args: argparse.Namespace) -> int:
    """Only the API, against the configured PostgreSQL (a deployment's API process)."""
    settings = Settings()
    if settings.database_url is None:
        print("simpul serve needs SIMPUL_DATABASE_URL; use `simpul run` for embedded services")
        return 2
    cases = runtime.open_cases(settings, str(settings.database_url))
    app = runtime.api(
        cases, runtime.token_service(settings), runtime.sharing_matrix(settings), settings=settings
    )
    config = server_config(
        app, settings, host=args.host or settings.api_host, port=args.port or settings.api_port
    )
    uvicorn.Server(config).run()
    return 0


def token(args: argparse.Namespace) -> int:
    """Mint a bearer token for this deployment (development and first set-up)."""
    settings = Settings()
    actor = Actor(
        args.user, Role(args.role), Agency(args.agency), args.district or settings.default_district
    )
    print(runtime.token_service(settings).mint(actor, ttl=timedelta(hours=args.hours)))
    return 0


def add_commands(commands: Commands) -> None:
    run_parser = commands.add("run", run)
    run_parser.add_argument("--port", type=int, default=None)

    serve_parser = commands.add("serve", serve)
    serve_parser.add_argument("--host", default=None)
    serve_parser.add_argument("--port", type=int, default=None)

    token_parser = commands.add("token", token)
    token_parser.add_argument("--user", required=True, help="user id, e.g. siti.intake")
    token_parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    token_parser.add_argument("--agency", required=True, choices=[a.value for a in Agency])
    token_parser.add_argument(
        "--district", default=None, help="defaults to SIMPUL_DEFAULT_DISTRICT"
    )
    token_parser.add_argument("--hours", type=int, default=12)
