"""The one settings object: every knob Simpul has, typed, read from SIMPUL_* variables."""

import json
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import Field, PostgresDsn, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["SCRAM-SHA-256", "SCRAM-SHA-512"]
PostgresSslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
KEY_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
# In production the brokers and PostgreSQL are reached over TLS whose certificate is checked.
PRODUCTION_KAFKA_PROTOCOLS = ("SASL_SSL", "SSL")
PRODUCTION_SSLMODES = ("verify-full", "verify-ca")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SIMPUL_",
        env_file=".env",
        env_ignore_empty=True,
        extra="ignore",
        # A refused setting must not print the others: they hold passwords and keys.
        hide_input_in_errors=True,
    )

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Field(
        default=Path(".simpul"),
        description="Where embedded services keep their data and the development token secret.",
    )

    database_url: PostgresDsn | None = Field(
        default=None,
        description="PostgreSQL for the event store. Unset: an embedded PostgreSQL in data_dir.",
    )
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_connect_timeout: float = Field(default=5.0, gt=0)
    database_sslmode: PostgresSslMode | None = Field(
        default=None,
        description="libpq sslmode for every connection (verify-full in production); unset: "
        "the URL's own sslmode, else libpq's default.",
    )
    database_sslrootcert: Path | None = Field(
        default=None, description="CA certificate(s) to check the PostgreSQL server's against."
    )

    kafka_bootstrap_servers: str | None = Field(
        default=None,
        description="Comma-separated Kafka brokers. Unset: an embedded Kafka-protocol broker.",
    )
    kafka_topic_prefix: str = Field(default="simpul", pattern=r"^[a-z][a-z0-9_-]{0,40}$")

    # ---- Kafka client security: every producer, consumer and admin client uses these ----
    kafka_security_protocol: KafkaSecurityProtocol = Field(
        default="PLAINTEXT",
        description="SASL_SSL in production (or SSL with a client certificate).",
    )
    kafka_sasl_mechanism: KafkaSaslMechanism = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = Field(
        default=None, description="This process's own principal (one per process)."
    )
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="CA certificate(s) for the brokers'; unset: the system's."
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="Client certificate (PEM), for brokers that authenticate by TLS."
    )
    kafka_ssl_keyfile: Path | None = None

    # ---- Signed messages (Ed25519): the relay signs, projectors and agencies verify ----
    message_signing_key: SecretStr | None = Field(
        default=None,
        description="The relay's Ed25519 private key (32 bytes, base64url). Only the relay gets "
        "it; in development one is generated into data_dir.",
    )
    message_signing_key_id: str | None = Field(default=None, pattern=KEY_ID_PATTERN)
    message_verify_keys: dict[str, str] = Field(
        default_factory=dict,
        description="Public keys messages may be signed with, by key id (JSON object of base64url "
        "Ed25519 keys); several during a key rotation.",
    )

    # ---- Kafka publication and agency projections ----
    kafka_partitions: int = Field(default=3, ge=1, le=64, description="Partitions per topic.")
    kafka_replication_factor: int = Field(default=1, ge=1, le=5)
    sharing_matrix: Path | None = Field(
        default=None,
        description="A data-sharing matrix (TOML) replacing the bundled domain/sop/sharing.toml.",
    )
    relay_batch_size: int = Field(default=500, ge=1, le=10_000)
    relay_metrics_port: int = Field(
        default=9464, ge=0, le=65535, description="Prometheus /metrics of the relay; 0: off."
    )
    projector_metrics_port: int = Field(
        default=9465, ge=0, le=65535, description="Prometheus /metrics of the projectors; 0: off."
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Where the relay's and the projectors' /metrics listen (0.0.0.0 only "
        "behind a network policy).",
    )

    token_secret: SecretStr | None = Field(
        default=None,
        description="HMAC key for bearer tokens. Required in production; in development "
        "a random one is kept in data_dir.",
    )
    token_issuer: str = "simpul"
    token_ttl_hours: int = Field(default=12, ge=1, le=24 * 30)

    profiles_dir: Path | None = Field(
        default=None,
        description="Extra district profiles (TOML); bundled ones are always loaded.",
    )
    default_district: str = "luwu-utara"

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)

    aggregate_cache_size: int = Field(default=1000, ge=0)

    # The coordinator projection (`simpul project --coordinator`).
    projection_batch_size: int = Field(
        default=500, ge=1, le=10_000, description="Most events applied in one transaction."
    )
    projection_rebuild_batch_size: int = Field(
        default=10_000, ge=1, le=50_000, description="Most events per transaction in a rebuild."
    )
    projection_poll_seconds: float = Field(
        default=1.0, gt=0, le=60, description="Longest wait for new events without a NOTIFY."
    )
    projection_history_cache_cases: int = Field(
        default=2000, ge=0, description="Case histories the projector keeps in memory."
    )
    projection_metrics_host: str = "127.0.0.1"
    projection_metrics_port: int = Field(
        default=9466, ge=0, le=65535, description="Prometheus /metrics of the projector; 0: off."
    )

    @model_validator(mode="after")
    def _production_needs_real_services(self) -> "Settings":
        if self.environment == "production":
            missing = [
                name
                for name, value in (
                    ("SIMPUL_DATABASE_URL", self.database_url),
                    ("SIMPUL_KAFKA_BOOTSTRAP_SERVERS", self.kafka_bootstrap_servers),
                )
                if value is None
            ]
            if missing:
                raise ValueError(f"production needs {', '.join(missing)}")
            # Only the processes that verify or mint tokens get the secret (the API, `simpul
            # token`): they refuse to start without it (gateways/runtime.py).
            secret = self.token_secret.get_secret_value() if self.token_secret else None
            if secret is not None and len(secret) < 32:
                raise ValueError("SIMPUL_TOKEN_SECRET must be at least 32 characters")
            if self.kafka_security_protocol not in PRODUCTION_KAFKA_PROTOCOLS:
                raise ValueError("production needs SIMPUL_KAFKA_SECURITY_PROTOCOL=SASL_SSL or SSL")
            if self.kafka_security_protocol == "SSL" and self.kafka_ssl_certfile is None:
                raise ValueError("SIMPUL_KAFKA_SECURITY_PROTOCOL=SSL needs a client certificate")
            if not self._database_over_verified_tls():
                raise ValueError(
                    "production needs SIMPUL_DATABASE_SSLMODE=verify-full or verify-ca"
                )
        return self

    @field_validator("message_verify_keys", mode="before")
    @classmethod
    def _keys_from_json(cls, value: Any) -> Any:
        # The environment gives JSON; so may a caller that read it from a file.
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("message_verify_keys")
    @classmethod
    def _key_ids_well_formed(cls, value: dict[str, str]) -> dict[str, str]:
        if not all(re.fullmatch(KEY_ID_PATTERN, key_id) for key_id in value):
            raise ValueError("key ids are 1-64 letters, digits, '.', '_' or '-'")
        return value

    @model_validator(mode="after")
    def _client_certificate_whole(self) -> "Settings":
        if (self.kafka_ssl_certfile is None) != (self.kafka_ssl_keyfile is None):
            raise ValueError("SIMPUL_KAFKA_SSL_CERTFILE and SIMPUL_KAFKA_SSL_KEYFILE go together")
        return self

    def effective_database_sslmode(self) -> str | None:
        """The sslmode connections use: the setting, else the URL's own ``?sslmode=``."""
        if self.database_sslmode is not None:
            return self.database_sslmode
        if self.database_url is None:
            return None
        modes = parse_qs(urlsplit(str(self.database_url)).query).get("sslmode")
        return modes[-1] if modes else None

    def _database_over_verified_tls(self) -> bool:
        if self.database_url is None:
            return False
        url = urlsplit(str(self.database_url))
        query = parse_qs(url.query)
        host = query.get("host", [url.hostname or ""])[-1]
        if host.startswith("/"):
            return True  # a Unix socket on the same machine: no network to protect
        return self.effective_database_sslmode() in PRODUCTION_SSLMODES
