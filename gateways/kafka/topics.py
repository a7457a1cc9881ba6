"""What the broker holds of a topic, asked without ever creating one, within a bounded time."""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from kafka import KafkaAdminClient
from kafka.errors import KafkaTimeoutError

T = TypeVar("T")

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


def within(seconds: float, call: Callable[[], T], what: str) -> T:
    """``call()``'s result, run in a thread of its own for at most ``seconds``.

    An admin client's request to a broker that restarted can wait far longer than
    its request timeout (kafka-python keeps retrying the lost connection), and a
    relay or projector waiting on it stops for everyone. A call that does not end in
    time raises KafkaTimeoutError, which both treat as the broker being away: the
    caller drops that client (left to finish or fail on its own thread) and retries.
    """
    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
            outcome.append((False, error))

    worker = threading.Thread(target=run, name="kafka-admin", daemon=True)
    worker.start()
    worker.join(seconds)
    if not outcome:
        raise KafkaTimeoutError(f"{what} with the broker took over {seconds:g} s")
    succeeded, value = outcome[0]
    if not succeeded:
        raise value
    return value  # type: ignore[no-any-return]
