"""How Simpul's Kafka clients reach the brokers: TLS, and whose credentials.

Every producer, consumer and admin client Simpul makes takes its security
options from one ``KafkaSecurity`` (built from the settings in
gateways/runtime.py), so no client can be forgotten when a deployment turns
TLS and SASL on.
"""

from dataclasses import dataclass, field
from typing import Any

from services.settings import KafkaSaslMechanism, KafkaSecurityProtocol, Settings


class KafkaCredentialsMissing(ValueError):
    """SASL is configured but this process was given no principal of its own."""


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: KafkaSecurityProtocol = "PLAINTEXT"
    sasl_mechanism: KafkaSaslMechanism = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None

    def __post_init__(self) -> None:
        if self.protocol.startswith("SASL_") and not (self.username and self.password):
            raise KafkaCredentialsMissing(
                f"SIMPUL_KAFKA_SECURITY_PROTOCOL={self.protocol} needs "
                "SIMPUL_KAFKA_SASL_USERNAME and SIMPUL_KAFKA_SASL_PASSWORD"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> "KafkaSecurity":
        def text(path: object) -> str | None:
            return None if path is None else str(path)

        return cls(
            protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism,
            username=settings.kafka_sasl_username,
            password=(
                settings.kafka_sasl_password.get_secret_value()
                if settings.kafka_sasl_password
                else None
            ),
            cafile=text(settings.kafka_ssl_cafile),
            certfile=text(settings.kafka_ssl_certfile),
            keyfile=text(settings.kafka_ssl_keyfile),
        )

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def options(self) -> dict[str, Any]:
        """The keyword arguments of a kafka-python client (producer, consumer, admin)."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.protocol.startswith("SASL_"):
            options.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.username,
                sasl_plain_password=self.password,
            )
        if self.uses_tls:
            # Hostname and chain are always checked: a broker is trusted by its certificate.
            options["ssl_check_hostname"] = True
            if self.cafile:
                options["ssl_cafile"] = self.cafile
            if self.certfile:
                options.update(ssl_certfile=self.certfile, ssl_keyfile=self.keyfile)
        return options

    def environment(self) -> dict[str, str]:
        """The same, as the SIMPUL_* variables a child process reads."""
        variables: dict[str, str] = {
            "SIMPUL_KAFKA_SECURITY_PROTOCOL": self.protocol,
            "SIMPUL_KAFKA_SASL_MECHANISM": self.sasl_mechanism,
        }
        for name, value in (
            ("SIMPUL_KAFKA_SASL_USERNAME", self.username),
            ("SIMPUL_KAFKA_SASL_PASSWORD", self.password),
            ("SIMPUL_KAFKA_SSL_CAFILE", self.cafile),
            ("SIMPUL_KAFKA_SSL_CERTFILE", self.certfile),
            ("SIMPUL_KAFKA_SSL_KEYFILE", self.keyfile),
        ):
            if value is not None:
                variables[name] = value
        return variables


PLAINTEXT = KafkaSecurity()
