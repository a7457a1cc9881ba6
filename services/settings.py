"""The one settings object: every knob Simpul has, typed, read from SIMPUL_* variables."""

from pathlib import Path
from typing import Literal

from pydantic import Field, PostgresDsn, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SIMPUL_",
        env_file=".env",
        env_ignore_empty=True,
        extra="ignore",
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

    kafka_bootstrap_servers: str | None = Field(
        default=None,
        description="Comma-separated Kafka brokers. Unset: an embedded Kafka-protocol broker.",
    )
    kafka_topic_prefix: str = Field(default="simpul", pattern=r"^[a-z][a-z0-9_-]{0,40}$")

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
    # Metrics name topics, agencies and lag: only this machine by default.
    relay_metrics_host: str = "127.0.0.1"
    projector_metrics_host: str = "127.0.0.1"

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

    @property
    def serves_api_docs(self) -> bool:
        return self.api_docs if self.api_docs is not None else self.environment != "production"

    @model_validator(mode="after")
    def _production_needs_real_services(self) -> "Settings":
        if self.environment == "production":
            missing = [
                name
                for name, value in (
                    ("SIMPUL_DATABASE_URL", self.database_url),
                    ("SIMPUL_KAFKA_BOOTSTRAP_SERVERS", self.kafka_bootstrap_servers),
                    ("SIMPUL_TOKEN_SECRET", self.token_secret),
                )
                if value is None
            ]
            if missing:
                raise ValueError(f"production needs {', '.join(missing)}")
            secret = self.token_secret.get_secret_value() if self.token_secret else ""
            if len(secret) < 32:
                raise ValueError("SIMPUL_TOKEN_SECRET must be at least 32 characters")
        return self
