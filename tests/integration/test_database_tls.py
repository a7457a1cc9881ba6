"""The PostgreSQL TLS settings reach every connection: the event store's pool and direct ones.

Against a server with TLS the connection is encrypted; against one without, a required
TLS connection fails instead of quietly going in the clear. Either way the setting took.
"""

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from eventsourcing.utils import Environment

from gateways import runtime
from gateways.eventstore.environment import TlsPostgresFactory, postgres_env, with_tls
from services.settings import Settings


def encrypted_or_refused(connect: Callable[[], Any]) -> str:
    try:
        with connect() as conn:
            row = conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            return "encrypted" if row.fetchone()[0] else "in the clear"
    except psycopg.OperationalError as error:
        return "refused" if "SSL" in str(error) else f"failed otherwise: {type(error).__name__}"


def test_sslmode_reaches_direct_connections_and_the_event_store_pool(database_url: str):
    required = Settings(_env_file=None, database_url=database_url, database_sslmode="require")
    cleartext = Settings(_env_file=None, database_url=database_url, database_sslmode="disable")

    direct = encrypted_or_refused(lambda: psycopg.connect(runtime.database_url(required)))
    assert direct in ("encrypted", "refused")
    assert encrypted_or_refused(lambda: psycopg.connect(runtime.database_url(cleartext))) == (
        "in the clear"
    )

    factory = TlsPostgresFactory(Environment(env=postgres_env(database_url, required)))
    arguments = {
        key: value
        for key, value in factory.datastore.pool.kwargs.items()  # type: ignore[union-attr]
        if key != "row_factory"
    }

    def pooled() -> Any:
        return psycopg.connect(**arguments)

    assert encrypted_or_refused(pooled) == direct


def test_a_setting_overrides_the_urls_own_tls_parameters_and_keeps_the_others():
    settings = Settings(
        _env_file=None, database_sslmode="verify-full", database_sslrootcert="/etc/ca.crt"
    )

    url = with_tls("postgresql://u:p@db:5432/simpul?sslmode=disable&application_name=x", settings)

    assert url == (
        "postgresql://u:p@db:5432/simpul?application_name=x&sslmode=verify-full"
        "&sslrootcert=%2Fetc%2Fca.crt"
    )
    env = postgres_env(url, settings)
    assert (env["POSTGRES_SSLMODE"], env["POSTGRES_SSLROOTCERT"]) == ("verify-full", "/etc/ca.crt")
    assert with_tls("postgresql://db/simpul", Settings(_env_file=None)) == "postgresql://db/simpul"


@pytest.mark.parametrize(
    ("url", "sslmode", "accepted"),
    [
        ("postgresql://u:p@db/simpul", None, False),
        ("postgresql://u:p@db/simpul", "require", False),
        ("postgresql://u:p@db/simpul", "verify-full", True),
        ("postgresql://u:p@db/simpul?sslmode=verify-ca", None, True),
        ("postgresql://u:p@localhost/simpul?host=/var/run/postgresql", None, True),
    ],
)
def test_production_accepts_only_verified_tls_or_a_local_socket(
    url: str, sslmode: str | None, accepted: bool
):
    def settings() -> Settings:
        return Settings(
            _env_file=None,
            environment="production",
            database_url=url,
            database_sslmode=sslmode,
            kafka_bootstrap_servers="kafka:9093",
            kafka_security_protocol="SASL_SSL",
        )

    if accepted:
        settings()
    else:
        with pytest.raises(ValueError, match="SIMPUL_DATABASE_SSLMODE"):
            settings()
