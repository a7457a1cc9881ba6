"""The embedded broker reports a partition's end offset short after a write of several
messages (one past the first of them); lag and catch-up must not rest on it."""

import time
import uuid

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from prometheus_client import CollectorRegistry

from gateways.kafka.messages import agency_topic, dead_letter_topic
from gateways.kafka.projector import AgencyProjector
from gateways.kafka.security import KafkaSecurity
from gateways.kafka.signing import MessageSigner, MessageVerifier

RELAY_KEY = MessageSigner.generate("test-relay")


def test_lag_falls_to_zero_once_everything_is_consumed_though_the_end_offset_is_short(
    database_url: str, kafka_servers: str, kafka_security: KafkaSecurity
):
    prefix = f"t{uuid.uuid4().hex[:10]}"
    topic = agency_topic(prefix, "police")
    admin = KafkaAdminClient(bootstrap_servers=kafka_servers, **kafka_security.options())
    admin.create_topics([NewTopic(topic, 1, 1), NewTopic(dead_letter_topic(topic), 1, 1)])
    admin.close()
    # Given one write of one message and one of two (a single produce request each),
    producer = KafkaProducer(
        bootstrap_servers=kafka_servers, linger_ms=100, **kafka_security.options()
    )
    producer.send(topic, b"first").get(timeout=10)
    written = [producer.send(topic, value) for value in (b"second", b"third")]
    producer.flush()
    last = max(future.get(timeout=10).offset for future in written)
    producer.close()
    partition = TopicPartition(topic, 0)
    probe = KafkaConsumer(bootstrap_servers=kafka_servers, **kafka_security.options())
    reported_end = probe.end_offsets([partition])[partition]
    probe.close()
    # the broker may report the end short (the embedded one does: 2, not 3), never beyond.
    assert reported_end <= last + 1

    # When a projector has consumed everything (not messages it accepts: dead-lettered),
    projector = AgencyProjector(
        "police",
        database_url=database_url,
        bootstrap_servers=kafka_servers,
        prefix=prefix,
        verifier=MessageVerifier({RELAY_KEY.key_id: RELAY_KEY.public_key()}),
        security=kafka_security,
        registry=CollectorRegistry(),
    )
    try:
        projector.subscribe()
        deadline = time.monotonic() + 30
        while projector.consumed < last + 1 and time.monotonic() < deadline:
            projector.poll_once()
        # then its lag is 0, not negative, whatever the end offset said.
        assert projector.consumed == last + 1
        assert projector.lag() == 0
        assert projector.store.stored_offsets(topic) == {0: last + 1}
    finally:
        projector.close()
