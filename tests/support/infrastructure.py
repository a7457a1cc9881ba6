"""Real PostgreSQL and Kafka-protocol servers for the tests, started when none is configured.

- SIMPUL_TEST_DATABASE_URL: use this PostgreSQL (its user must be able to CREATE DATABASE).
- SIMPUL_TEST_KAFKA_BOOTSTRAP_SERVERS: use these brokers.
- SIMPUL_TEST_DOCKER=1: start PostgreSQL and Apache Kafka with testcontainers (needs Docker).
Otherwise an embedded PostgreSQL and the embedded Tansu broker start in a temp folder, the
broker as `simpul run` starts it: reached only with TLS and SASL/SCRAM, the tests being one
principal (configured and containerised brokers are used as they are: plaintext).
"""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from gateways.embedded.kafka import EmbeddedKafka
from gateways.embedded.postgres import EmbeddedPostgres
from gateways.kafka.security import PLAINTEXT, KafkaSecurity

TEST_PRINCIPAL = "simpul-tests"
# The one search key of the tests' deployment (SIMPUL_SEARCH_KEY, 32 bytes base64url): the
# API, the in-process projectors and every spawned `simpul project --coordinator` hash NIKs
# alike, as a deployment's processes must.
TEST_SEARCH_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"


class PostgresServer:
    """A server the tests may create and drop databases on."""

    def __init__(self, admin_url: str, embedded: EmbeddedPostgres | None = None) -> None:
        self.admin_url = admin_url
        self.embedded = embedded

    def database_url(self, name: str) -> str:
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def create_database(self) -> str:
        name = f"simpul_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _docker_wanted() -> bool:
    return os.environ.get("SIMPUL_TEST_DOCKER", "") == "1"


@contextmanager
def postgres_server(work_dir: Path) -> Iterator[PostgresServer]:
    configured = os.environ.get("SIMPUL_TEST_DATABASE_URL")
    if configured:
        yield PostgresServer(configured)
    elif _docker_wanted():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16", driver=None) as container:
            yield PostgresServer(container.get_connection_url())
    else:
        embedded = EmbeddedPostgres(work_dir / "postgres", durable=False).start()
        try:
            yield PostgresServer(embedded.url, embedded)
        finally:
            embedded.stop("immediate")


@dataclass(frozen=True)
class KafkaEndpoint:
    """Where the test broker is, and how a client authenticates to it."""

    bootstrap_servers: str
    security: KafkaSecurity


@contextmanager
def kafka_broker(work_dir: Path, *, authentication: bool = True) -> Iterator[KafkaEndpoint]:
    configured = os.environ.get("SIMPUL_TEST_KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield KafkaEndpoint(configured, PLAINTEXT)
    elif _docker_wanted():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            yield KafkaEndpoint(container.get_bootstrap_server(), PLAINTEXT)
    else:
        broker = EmbeddedKafka(
            work_dir / "kafka", authentication=authentication, principals=[TEST_PRINCIPAL]
        ).start()
        try:
            yield KafkaEndpoint(broker.bootstrap_servers, broker.security(TEST_PRINCIPAL))
        finally:
            broker.stop()
