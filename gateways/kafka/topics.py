"""What the broker holds of a topic, asked without ever creating one."""

from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient

CONNECTION_OPTIONS = (
    "bootstrap_servers",
    "security_protocol",
    "sasl_mechanism",
    "sasl_plain_username",
    "sasl_plain_password",
    "ssl_check_hostname",
    "ssl_cafile",
    "ssl_certfile",
    "ssl_keyfile",
)


def admin_like(client_config: dict[str, Any], client_id: str) -> KafkaAdminClient:
    """An admin client reaching the broker as the client with ``client_config`` does."""
    options = {key: client_config[key] for key in CONNECTION_OPTIONS if key in client_config}
    return KafkaAdminClient(client_id=client_id, **options)


@dataclass(frozen=True)
class TopicShape:
    """A topic as the broker describes it: its id (None before Kafka 2.8) and partitions."""

    topic_id: str | None
    partitions: int
    replicas: int


NO_TOPIC_ID = "00000000-0000-0000-0000-000000000000"


def describe_topics(admin: KafkaAdminClient) -> dict[str, TopicShape]:
    """Every topic on the broker. Asks for all of them: naming one would make the embedded
    broker create it (unless its front stops that), and a Kafka with auto-creation on too."""
    shapes = {}
    for topic in admin.describe_topics():
        if topic.get("error_code", 0) != 0:
            continue
        topic_id = str(topic.get("topic_id") or "") or None
        partitions = topic["partitions"]
        shapes[topic["name"]] = TopicShape(
            topic_id=None if topic_id == NO_TOPIC_ID else topic_id,
            partitions=len(partitions),
            replicas=len(partitions[0]["replica_nodes"]) if partitions else 1,
        )
    return shapes
