"""`simpul run` (everything on one machine), `simpul serve` (the API) and `simpul token`."""

import argparse
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import uvicorn

from domain.actors import Actor
from domain.errors import InvalidValue
from domain.vocabulary import Agency, Role
from gateways import runtime
from gateways.api.server import server_config
from gateways.cli.commands import Commands
from gateways.cli.staff import ensure_development_administrator
from gateways.tokens import InvalidToken, TokenLifetimeTooLong
from services.settings import Settings

if TYPE_CHECKING:
    from gateways.embedded.kafka import EmbeddedKafka

# Beside the API, `simpul run` starts these as child processes, each with the embedded
# broker's principal it connects as (None: it uses no Kafka).
CHILDREN = (
    (["relay"], runtime.RELAY_PRINCIPAL),
    (["project", "--all-agencies"], runtime.PROJECTORS_PRINCIPAL),
    (["project", "--coordinator"], None),
    # Without SIMPUL_SMTP_HOST it mails nothing: it says so once and keeps in-app notices.
    (["notify"], None),
)


def start_children(
    environment: dict[str, str], broker: "EmbeddedKafka | None" = None
) -> Callable[[], None]:
    """`simpul <command>` for each of CHILDREN as a child process, given the credentials of
    its own principal on the embedded ``broker``; returns how to stop them."""
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "gateways.cli", *command],
            env={
                **environment,
                **(broker.security(principal).environment() if broker and principal else {}),
            },
        )
        for command, principal in CHILDREN
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
        broker = None
        if kafka_servers is None:
            broker = runtime.start_embedded_kafka(settings)
            stack.append(broker.stop)
            kafka_servers = broker.bootstrap_servers
            print(
                f"embedded Kafka-protocol broker: {kafka_servers} (TLS and SCRAM; CA "
                f"{broker.ca_file}, passwords in {broker.credentials_file})"
            )
        port = args.port or settings.api_port
        api_url = f"http://{settings.api_host}:{port}"
        runtime.Runtime(api_url, database, kafka_servers).save(settings)
        environment = {
            **os.environ,
            "SIMPUL_DATABASE_URL": database,
            "SIMPUL_KAFKA_BOOTSTRAP_SERVERS": kafka_servers,
            # The notices' login link: this machine's API, unless the deployment names one.
            "SIMPUL_PUBLIC_URL": os.environ.get("SIMPUL_PUBLIC_URL", api_url),
        }
        stack.append(start_children(environment, broker))
        cases = runtime.open_cases(settings, database)
        stack.append(cases.close)
        tokens = runtime.token_service(settings, cases)
        # The log shows how to mint a token, never a token: logs are kept and shared.
        print(f"\nSimpul is running: open {api_url}/ to log in  (API docs: {api_url}/api/v1/docs)")
        print(f"Mint a coordinator token to try (at most {settings.token_max_hours} h), in a")
        print("second terminal at the repository's root:")
        print(
            "  export TOKEN=$(.venv/bin/simpul token --user koordinator.demo "
            "--role coordinator --agency uptd_ppa)"
        )
        print(f'  curl -s -H "Authorization: Bearer $TOKEN" {api_url}/api/v1/me')
        print("Walk one case through all six SOP stages:  .venv/bin/simpul demo")
        first = ensure_development_administrator(
            runtime.accounts(cases, settings), settings.default_district, api_url
        )
        print(f"\n{first}\n", flush=True)
        app = runtime.api(
            cases,
            tokens,
            runtime.sharing_matrix(settings),
            runtime.message_verifier(settings),
            settings=settings,
        )
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
    tokens = runtime.token_service(settings, cases)
    app = runtime.api(
        cases,
        tokens,
        runtime.sharing_matrix(settings),
        runtime.message_verifier(settings),
        settings=settings,
    )
    config = server_config(
        app, settings, host=args.host or settings.api_host, port=args.port or settings.api_port
    )
    uvicorn.Server(config).run()
    return 0


def token(args: argparse.Namespace) -> int:
    """Mint a bearer token (development and first set-up), or revoke tokens."""
    settings = Settings()
    if args.revoke is not None or args.revoke_user is not None:
        return revoke(settings, token_or_id=args.revoke, user_id=args.revoke_user)
    missing = [name for name in ("user", "role", "agency") if getattr(args, name) is None]
    if missing:
        print(f"minting a token needs --{', --'.join(missing)}", file=sys.stderr)
        return 2
    try:
        actor = Actor(
            args.user,
            Role(args.role),
            Agency(args.agency),
            args.district or settings.default_district,
        )
    except InvalidValue as error:
        print(f"--user: {error.message}", file=sys.stderr)
        return 2
    if args.hours is not None and args.hours < 1:
        print("--hours: a token lives at least 1 hour", file=sys.stderr)
        return 2
    tokens = runtime.minting_token_service(settings)
    try:
        minted = tokens.mint(actor, ttl=None if args.hours is None else timedelta(hours=args.hours))
    except TokenLifetimeTooLong as error:
        print(f"--hours: {error} (SIMPUL_TOKEN_MAX_HOURS)", file=sys.stderr)
        return 2
    claims = tokens.inspect(minted)
    print(minted)
    # On stderr, so `TOKEN=$(simpul token ...)` keeps only the token.
    print(
        f"token {claims.token_id}, valid until {claims.expires_at.isoformat()}; "
        f"revoke it with: simpul token --revoke {claims.token_id}",
        file=sys.stderr,
    )
    return 0


def revoke(settings: Settings, *, token_or_id: str | None, user_id: str | None) -> int:
    """Record a revocation in the event store's database; every API process honours it
    within SIMPUL_TOKEN_REVOCATION_REFRESH_SECONDS."""
    database = runtime.database_url(settings)
    if database is None:
        print("set SIMPUL_DATABASE_URL, or start `simpul run` first", file=sys.stderr)
        return 2
    max_lifetime = timedelta(hours=settings.token_max_hours)
    token_id: str | None = token_or_id
    expires_at = datetime.now(UTC) + max_lifetime
    if token_or_id is not None and token_or_id.count(".") == 2:
        try:
            claims = runtime.token_service(settings).inspect(token_or_id, check_expiry=False)
        except InvalidToken as error:
            print(f"--revoke: {error}", file=sys.stderr)
            return 2
        token_id, expires_at = claims.token_id, claims.expires_at
    cases = runtime.open_cases(settings, database)
    try:
        store = runtime.revocation_store(cases)
        if token_id is not None:
            revoked = store.revoke_token(token_id, expires_at)
            what = f"token {token_id}"
        else:
            assert user_id is not None
            revoked = store.revoke_user(user_id, max_lifetime)
            what = f"every token of {user_id} issued until now"
    finally:
        cases.close()
    print(
        f"revoked {what} (in force until {revoked.in_force_until.isoformat()}); API processes "
        f"refuse it within {settings.token_revocation_refresh_seconds:g} s"
    )
    return 0


def add_commands(commands: Commands) -> None:
    run_parser = commands.add("run", run)
    run_parser.add_argument("--port", type=int, default=None)

    serve_parser = commands.add("serve", serve)
    serve_parser.add_argument("--host", default=None)
    serve_parser.add_argument("--port", type=int, default=None)

    token_parser = commands.add("token", token)
    token_parser.add_argument("--user", help="user id, e.g. siti.intake")
    token_parser.add_argument("--role", choices=[r.value for r in Role])
    token_parser.add_argument("--agency", choices=[a.value for a in Agency])
    token_parser.add_argument(
        "--district", default=None, help="defaults to SIMPUL_DEFAULT_DISTRICT"
    )
    token_parser.add_argument(
        "--hours",
        type=int,
        default=None,
        help="lifetime (default SIMPUL_TOKEN_TTL_HOURS), at most SIMPUL_TOKEN_MAX_HOURS",
    )
    revocation = token_parser.add_mutually_exclusive_group()
    revocation.add_argument(
        "--revoke",
        metavar="TOKEN_OR_ID",
        help="revoke one token: the token itself, or its id (printed when it was minted)",
    )
    revocation.add_argument(
        "--revoke-user",
        metavar="USER",
        help="revoke every token of this user issued until now",
    )
