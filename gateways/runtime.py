"""The composition root: resolve settings into running services, once per process.

With nothing configured, a development machine gets an embedded PostgreSQL
(and, for the event relay, an embedded broker) under the data folder. Where
the running pieces are is written to ``runtime.json`` there, so `simpul demo`,
`simpul token` and the relay find them without more configuration.
"""

import json
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

import psycopg

from gateways.embedded.kafka import EmbeddedKafka
from gateways.embedded.postgres import EmbeddedPostgres
from gateways.eventstore.environment import postgres_env
from gateways.tokens import TokenService, development_secret
from services.cases import Cases
from services.profiles import load_profiles
from services.settings import Settings

EMBEDDED_DATABASE = "simpul"
PREFERRED_POSTGRES_PORT = 54329
PREFERRED_KAFKA_PORT = 59092


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


def token_service(settings: Settings) -> TokenService:
    secret = (
        settings.token_secret.get_secret_value()
        if settings.token_secret
        else development_secret(settings.data_dir)
    )
    return TokenService(
        secret=secret, issuer=settings.token_issuer, ttl=timedelta(hours=settings.token_ttl_hours)
    )


def build_cases(settings: Settings, database_url: str) -> Cases:
    return Cases(
        env=postgres_env(database_url, settings),
        profiles=load_profiles(settings.profiles_dir),
    )


def start_embedded_postgres(settings: Settings) -> tuple[EmbeddedPostgres, str]:
    server = EmbeddedPostgres(
        settings.data_dir / "postgres", port=PREFERRED_POSTGRES_PORT
    ).start()
    with psycopg.connect(server.url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (EMBEDDED_DATABASE,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{EMBEDDED_DATABASE}"')
    return server, server.database_url(EMBEDDED_DATABASE)


def start_embedded_kafka(settings: Settings) -> EmbeddedKafka:
    return EmbeddedKafka(settings.data_dir / "kafka", port=PREFERRED_KAFKA_PORT).start()
