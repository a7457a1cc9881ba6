"""The eventsourcing library's environment for a given database, built in one place."""

from urllib.parse import unquote, urlsplit

from services.settings import Settings


def memory_env() -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "gateways.eventstore.memory:MemoryFactory"}


def postgres_env(database_url: str, settings: Settings) -> dict[str, str]:
    """Map a postgresql:// URL (a socket directory may be given as ?host=) to the library's keys."""
    url = urlsplit(database_url)
    query = dict(part.split("=", 1) for part in url.query.split("&") if "=" in part)
    host = unquote(query.get("host", url.hostname or "localhost"))
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
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
    }
