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
