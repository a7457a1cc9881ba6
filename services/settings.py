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
# Fingerprints made under this key are worth nothing outside a development machine.
DEVELOPMENT_PERSON_MATCH_KEY = b"simpul-development-person-match-key-not-secret"


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
        description="Where embedded services keep their data and the development token keys.",
    )

    database_url: PostgresDsn | None = Field(
        default=None,
        description="PostgreSQL for the event store. Unset: an embedded PostgreSQL in data_dir.",
    )
    database_service_role: str = Field(
        default="simpul_service",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="The database role processes connect as; `simpul db setup`, run as the "
        "owner, gives it only what it needs (see the README's Security section).",
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

    # Bearer tokens are Ed25519-signed: the private key only where tokens are minted
    # (`simpul token`), the public key in every API process, neither anywhere else.
    token_private_key: SecretStr | None = Field(
        default=None,
        description="PEM of the Ed25519 key that signs tokens, only where tokens are minted. "
        "Unset in development: one is kept in data_dir.",
    )
    token_public_key: str | None = Field(
        default=None,
        description="PEM of the Ed25519 public key API processes verify tokens with. Required "
        "by the API in production; in development the one in data_dir.",
    )
    token_issuer: str = Field(default="simpul", min_length=1, max_length=100)
    token_audience: str = Field(default="simpul-api", min_length=1, max_length=100)
    token_ttl_hours: int = Field(
        default=12, ge=1, le=24 * 30, description="Lifetime of a minted token unless asked."
    )
    token_max_hours: int = Field(
        default=12,
        ge=1,
        le=24 * 30,
        description="Longest lifetime (exp - iat) the API accepts and `simpul token` mints.",
    )
    token_revocation_refresh_seconds: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="How often each API process reloads revoked tokens: a revocation is "
        "honoured within this time.",
    )
    web_session_idle_minutes: int = Field(
        default=30,
        ge=1,
        le=24 * 60,
        description="A browser session unused this long ends (gateways/web/sessions.py).",
    )
    web_session_absolute_hours: int = Field(
        default=12,
        ge=1,
        le=7 * 24,
        description="A browser session ends this long after its login, however busy.",
    )

    # Keyed fingerprints of the persons cases name (services/person_fingerprints.py): only
    # the API process, which computes them, gets the key.
    person_match_key: SecretStr | None = Field(
        default=None,
        description="Key (at least 32 characters) of the fingerprints that find the same "
        "person in earlier cases, across districts, without identities in clear; the same "
        "for the whole deployment. Required in production; in development a fixed one.",
    )

    # The office's search (services/case_search.py): NIKs are indexed as keyed hashes and
    # what a search looked for is sealed in the access log, both with this key. Only the API
    # and the coordinator projector need it.
    search_key: SecretStr | None = Field(
        default=None,
        description="32 bytes, base64url: keys the NIK hashes of the search index and seals "
        "search terms in the access log. Unset in development: one is kept in data_dir.",
    )

    profiles_dir: Path | None = Field(
        default=None,
        description="Extra district profiles (TOML); bundled ones are always loaded.",
    )
    default_district: str = "luwu-utara"
    agency_retention_days: int | None = Field(
        default=None,
        ge=0,
        le=3660,
        description="Days an agency's inbox keeps a case's personal data after its part in "
        "the case closed, for every district. Unset: each district profile's "
        "agency_personal_data_retention_days (90 where a profile says nothing).",
    )
    agency_purge_interval_seconds: float = Field(
        default=60.0,
        gt=0,
        le=86_400,
        description="How often an agency projector removes personal data past its retention "
        "from the agency's tables (reads never serve it, purged or not).",
    )

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_docs: bool | None = Field(
        default=None,
        description="Serve the interactive documentation at /api/v1/docs (self-hosted). "
        "Unset: on in development, off in production.",
    )
    api_trusted_proxies: str = Field(
        default="127.0.0.1",
        description="Addresses of reverse proxies whose X-Forwarded-For names the client "
        "(comma-separated, or *); limits count per client address.",
    )
    # Limits on what one client may ask (gateways/api/limits.py); counted per process.
    api_max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    api_body_timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, description="Longest wait for a request's whole body."
    )
    api_header_timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, description="Longest wait for a request's headers."
    )
    api_keep_alive_seconds: int = Field(
        default=5, ge=1, le=300, description="How long an idle connection is kept open."
    )
    api_rate_per_address: float = Field(
        default=100.0, ge=0, description="Requests per second per client address; 0: no limit."
    )
    api_burst_per_address: int = Field(default=1000, ge=1)
    api_rate_per_user: float = Field(
        default=20.0, ge=0, description="Requests per second per authenticated user; 0: no limit."
    )
    api_burst_per_user: int = Field(default=300, ge=1)
    api_auth_failures_before_lockout: int = Field(
        default=10,
        ge=0,
        description="Failed authentications from one address (within the window) that lock "
        "it out; 0: no lockout.",
    )
    api_auth_failure_window_seconds: float = Field(default=300.0, gt=0)
    api_lockout_seconds: float = Field(
        default=60.0, gt=0, description="The first lockout; each further one doubles."
    )
    api_max_lockout_seconds: float = Field(default=3600.0, gt=0)

    aggregate_cache_size: int = Field(default=1000, ge=0)

    # ---- Documents, photos and recordings on cases (services/documents.py) ----
    document_master_key: SecretStr | None = Field(
        default=None,
        description="The key (32 bytes, base64url) that wraps each case's document key; only "
        "API processes get it. Unset in development: one is kept in data_dir.",
    )
    account_key: SecretStr | None = Field(
        default=None,
        description="The key (32 bytes, base64url) that encrypts each account's second-factor "
        "key; only API processes get it. Unset in development: one is kept in data_dir.",
    )
    document_max_bytes: int = Field(
        default=20 * 1_048_576,
        ge=1024,
        le=512 * 1_048_576,
        description="The largest document, photo or recording an upload may carry.",
    )

    # ---- E-mail notices and escalations (`simpul notify`, services/notifications.py) ----
    smtp_host: str | None = Field(
        default=None,
        description="The SMTP server notices are sent through. Unset: no e-mail, the notices "
        "are kept for the web application only.",
    )
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = Field(
        default=None, description="The notifier's account on the SMTP server, if it needs one."
    )
    smtp_password: SecretStr | None = Field(
        default=None, description="Only the notifier process gets it."
    )
    smtp_starttls: bool = Field(
        default=True,
        description="Upgrade the connection with STARTTLS (the server's certificate checked) "
        "before anything is sent; required in production.",
    )
    smtp_implicit_tls: bool = Field(
        default=False,
        description="Speak TLS from the first byte (SMTPS, usually port 465) instead of "
        "upgrading with STARTTLS; the server's certificate is checked the same way.",
    )
    smtp_timeout_seconds: float = Field(
        default=30.0, gt=0, le=300, description="Longest wait for the SMTP server."
    )
    mail_from: str = Field(
        default="simpul@localhost",
        min_length=3,
        max_length=254,
        description="The sender address of notices (From:).",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="Where staff open Simpul; a notice links only to its login page.",
    )
    notify_interval_minutes: int = Field(
        default=15,
        ge=1,
        le=24 * 60,
        description="How often `simpul notify` looks for tasks newly due or overdue.",
    )

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

    def person_match_key_bytes(self) -> bytes:
        """The fingerprint key: the setting, else (development only) a fixed one."""
        if self.person_match_key is not None:
            return self.person_match_key.get_secret_value().encode()
        if self.environment == "production":
            raise ValueError("production needs SIMPUL_PERSON_MATCH_KEY")
        return DEVELOPMENT_PERSON_MATCH_KEY

    @model_validator(mode="after")
    def _person_match_key_long_enough(self) -> "Settings":
        key = self.person_match_key
        if key is not None and len(key.get_secret_value().encode()) < 32:
            raise ValueError("SIMPUL_PERSON_MATCH_KEY needs at least 32 bytes")
        return self

    @property
    def serves_api_docs(self) -> bool:
        return self.api_docs if self.api_docs is not None else self.environment != "production"

    @model_validator(mode="after")
    def _token_lifetime_within_maximum(self) -> "Settings":
        if self.token_ttl_hours > self.token_max_hours:
            raise ValueError("SIMPUL_TOKEN_TTL_HOURS exceeds SIMPUL_TOKEN_MAX_HOURS")
        return self

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
    def _mail_over_tls_in_production(self) -> "Settings":
        # The notifier's password, and the notices, must not cross the network in clear.
        encrypted = self.smtp_starttls or self.smtp_implicit_tls
        if self.environment == "production" and self.smtp_host and not encrypted:
            raise ValueError(
                "production needs SIMPUL_SMTP_STARTTLS=true or SIMPUL_SMTP_IMPLICIT_TLS=true"
            )
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("SIMPUL_SMTP_USERNAME and SIMPUL_SMTP_PASSWORD go together")
        return self

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
