"""The relay holds back a case it cannot publish and publishes every other case
(issue 10, defect 2: one event no code could apply stopped the stream for everyone)."""

from collections.abc import Callable, Iterator
from uuid import UUID

import psycopg
import pytest

from gateways.kafka.messages import agency_topic
from gateways.kafka.relay import Relay, ensure_topics, producer_for, relay_schema
from gateways.kafka.security import KafkaSecurity
from gateways.kafka.signing import MessageSigner
from services.cases import Cases
from services.settings import Settings
from services.sharing import SharingPolicy, load_matrix
from tests.e2e.conftest import read_topic
from tests.support.poison import case_with_an_unreadable_event
from tests.support.referred_case import consented_case, refer

MATRIX = load_matrix()
RELAY_KEY = MessageSigner.generate("test-relay")


@pytest.fixture
def new_relay(kafka_settings: Settings, pg_cases: Cases) -> Iterator[Callable[[], Relay]]:
    servers = str(kafka_settings.kafka_bootstrap_servers)
    security = KafkaSecurity.from_settings(kafka_settings)
    ensure_topics(
        servers,
        kafka_settings.kafka_topic_prefix,
        MATRIX.agencies,
        partitions=3,
        replication_factor=1,
        security=security,
    )
    producer = producer_for(servers, "test-relay", security)

    def made() -> Relay:
        return Relay(
            cases=pg_cases,
            database_url=str(kafka_settings.database_url),
            producer=producer,
            policy=SharingPolicy(MATRIX),
            prefix=kafka_settings.kafka_topic_prefix,
            signer=RELAY_KEY,
            batch_size=50,
        )

    yield made
    producer.close()


def police_case_ids(kafka_settings: Settings, at_least: int) -> set[str]:
    messages = read_topic(
        str(kafka_settings.kafka_bootstrap_servers),
        agency_topic(kafka_settings.kafka_topic_prefix, "police"),
        at_least=at_least,
        security=KafkaSecurity.from_settings(kafka_settings),
    )
    return {message["event"]["data"]["case_id"] for message in messages}


def a_police_referral(cases: Cases) -> UUID:
    case_id = consented_case(cases)
    refer(cases, case_id, "police", "legal_process")
    return case_id


def test_a_case_the_relay_cannot_publish_is_held_and_every_later_case_is_published(
    pg_cases: Cases, kafka_settings: Settings, new_relay: Callable[[], Relay]
):
    before = a_police_referral(pg_cases)
    poisoned = case_with_an_unreadable_event(pg_cases).case_id
    after = a_police_referral(pg_cases)
    relay = new_relay()

    relay.catch_up()

    assert relay.position() == pg_cases.recorder.max_notification_id()
    assert list(relay.held) == [poisoned]
    assert relay.metrics.registry.get_sample_value("simpul_relay_cases_held_total") == 1
    assert {str(before), str(after)} <= police_case_ids(kafka_settings, at_least=2)
    # Held across restarts: a new relay process knows the case is held.
    assert list(new_relay().held) == [poisoned]


def test_a_held_case_is_published_in_order_once_it_can_be(
    pg_cases: Cases, kafka_settings: Settings, new_relay: Callable[[], Relay]
):
    other = a_police_referral(pg_cases)
    once_held = a_police_referral(pg_cases)
    new_relay()  # makes the relay's tables
    first = next(
        n.id
        for n in pg_cases.recorder.select_notifications(start=1, limit=1000)
        if n.originator_id == once_held
    )
    # As after a fix is deployed: earlier code held this case at its first event.
    with psycopg.connect(str(kafka_settings.database_url)) as conn:
        conn.execute(
            f"INSERT INTO {relay_schema(kafka_settings.kafka_topic_prefix)}.held "
            "(case_id, position, event_topic, reason) VALUES (%s, %s, 'x', 'TypeError')",
            (once_held, first),
        )
    relay = new_relay()
    relay.catch_up()
    assert police_case_ids(kafka_settings, at_least=1) == {str(other)}

    assert relay.release_held() == 1

    assert relay.held == {}
    assert police_case_ids(kafka_settings, at_least=2) == {str(other), str(once_held)}
    assert new_relay().held == {}
