"""The eventsourcing library's environment for a given database, built in one place."""

from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from eventsourcing import postgres

from services.settings import Settings

TLS_PARAMETERS = ("sslmode", "sslrootcert")


def memory_env() -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "gateways.eventstore.memory:MemoryFactory"}


def with_tls(database_url: str, settings: Settings) -> str:
    """The URL with the configured TLS (``sslmode``, ``sslrootcert``) as libpq parameters.

    Every connection Simpul opens takes its URL from here (through the composition
    root), so the event store's pool and each direct psycopg connection alike
    check the server's certificate. A setting overrides the URL's own value.
    """
    wanted = {
        "sslmode": settings.database_sslmode,
        "sslrootcert": str(settings.database_sslrootcert)
        if settings.database_sslrootcert
        else None,
    }
    if not any(wanted.values()):
        return database_url
    url = urlsplit(database_url)
    query = [(key, value) for key, value in parse_qsl(url.query) if not wanted.get(key)]
    query += [(key, value) for key, value in wanted.items() if value]
    return urlunsplit(url._replace(query=urlencode(query)))


def postgres_env(database_url: str, settings: Settings) -> dict[str, str]:
    """Map a postgresql:// URL (a socket directory may be given as ?host=) to the library's keys."""
    url = urlsplit(with_tls(database_url, settings))
    query = dict(part.split("=", 1) for part in url.query.split("&") if "=" in part)
    host = unquote(query.get("host", url.hostname or "localhost"))
    return {
        "PERSISTENCE_MODULE": "gateways.eventstore.environment:TlsPostgresFactory",
        "APPLICATION_RECORDER_TOPIC": "gateways.eventstore.postgres:ChainedPostgresRecorder",
        "POSTGRES_DBNAME": unquote(url.path.lstrip("/")) or "postgres",
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(url.port or query.get("port", 5432)),
        "POSTGRES_USER": unquote(url.username or query.get("user", "postgres")),
        "POSTGRES_PASSWORD": unquote(url.password or query.get("password", "")),
        "POSTGRES_POOL_SIZE": str(settings.database_pool_size),
        "POSTGRES_MAX_OVERFLOW": str(settings.database_pool_size),
        "POSTGRES_CONNECT_TIMEOUT": str(int(settings.database_connect_timeout)),
        "POSTGRES_PRE_PING": "y",
        "AGGREGATE_CACHE_MAXSIZE": str(settings.aggregate_cache_size),
        **{
            f"POSTGRES_{name.upper()}": unquote(query[name])
            for name in TLS_PARAMETERS
            if query.get(name)
        },
    }


class TlsPostgresFactory(postgres.PostgresFactory):
    """The library's PostgreSQL persistence, with libpq's TLS parameters on its pool
    (the library itself passes only host, port, database, user and password)."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        connection_arguments = self.datastore.pool.kwargs
        assert isinstance(connection_arguments, dict)  # the library passes a dict
        for name in TLS_PARAMETERS:
            value = self.env.get(f"POSTGRES_{name.upper()}")
            if value:
                connection_arguments[name] = value
