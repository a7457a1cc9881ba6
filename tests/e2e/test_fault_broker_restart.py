"""The embedded broker restarted empty (it keeps topics in memory) while cases are being
created and referred: the relay notices what the broker lost and publishes the store again,
the projectors notice their topics were recreated and read them again from the beginning,
and every referral reaches every agency's inbox exactly once."""

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from kafka import KafkaAdminClient

from gateways.cli.projections import projection_differences
from gateways.embedded.kafka import EmbeddedKafka
from gateways.kafka.messages import agency_topic, cases_topic
from gateways.kafka.relay import recorded_position
from gateways.kafka.topics import describe_topics
from gateways.readmodels.agency import schema_name
from projections.agency_referrals import REFERRAL_RECEIVED
from services.cases import Cases
from services.settings import Settings
from services.sharing import load_matrix
from tests.e2e.conftest import ServiceProcess, wait_until
from tests.support.faults import SteadyLoad, derived_messages
from tests.support.infrastructure import TEST_PRINCIPAL

AGENCIES = load_matrix().agencies


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[EmbeddedKafka]:
    """A broker of this test's own, to restart: same ports, passwords and certificate."""
    broker = EmbeddedKafka(
        tmp_path / "kafka", authentication=True, principals=[TEST_PRINCIPAL]
    ).start()
    try:
        yield broker
    finally:
        broker.stop()


def applied_ids(database_url: str, agency: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            f"SELECT message_id FROM {schema_name(agency)}.applied_messages"
        ).fetchall()
    return [row[0] for row in rows]


def inbox(database_url: str, agency: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(f"SELECT referral_id FROM {schema_name(agency)}.referrals").fetchall()
    return [row[0] for row in rows]


def referred(messages: list[dict]) -> list[str]:
    """The referral ids an agency's messages hand it (one message per referral to it)."""
    return [m["data"]["referral_id"] for m in messages if m["type"] == REFERRAL_RECEIVED]


@pytest.mark.fault
def test_a_broker_restarted_empty_under_load_loses_no_referral_and_applies_none_twice(
    pg_cases: Cases,
    kafka_settings: Settings,
    services: Callable[..., ServiceProcess],
    own_broker: EmbeddedKafka,
    rounds: Callable[[int, int], int],
    fault_report,
):
    restarts = rounds(2, 8)
    database_url = str(kafka_settings.database_url)
    prefix = kafka_settings.kafka_topic_prefix
    security = own_broker.security(TEST_PRINCIPAL)
    env = {
        "SIMPUL_KAFKA_BOOTSTRAP_SERVERS": own_broker.bootstrap_servers,
        **security.environment(),
    }
    relay = services("relay", "--batch-size", "20", log_name="relay", env=env)
    projector = services("project", "--all-agencies", log_name="project", env=env)

    def not_arrived() -> list[str]:
        """What is still missing (empty: everything arrived), to say so if it never does."""
        head = pg_cases.recorder.max_notification_id() or 0
        position = recorded_position(database_url, prefix)
        if position != head:
            return [f"the relay is at {position}, the store at {head}"]
        derived = derived_messages(pg_cases, prefix)
        missing = []
        for agency in AGENCIES:
            applied = set(applied_ids(database_url, agency))
            expected = {m["id"] for m in derived.get(agency_topic(prefix, agency), [])}
            if applied != expected:
                missing.append(
                    f"{agency}: {len(expected - applied)} of {len(expected)} not applied, "
                    f"{len(applied - expected)} applied that the store does not derive"
                )
        return missing

    with SteadyLoad(pg_cases, seed=11, pause=0.2) as load:
        wait_until(
            lambda: "published " in relay.output() and "consumed " in projector.output(),
            timeout=120,
            what="the relay and projectors to work",
        )
        for _ in range(restarts):
            time.sleep(4)
            # Given messages on every topic and offsets stored for them,
            # when the broker restarts empty (same address, no topics) under load,
            own_broker.stop()
            own_broker.start()
        time.sleep(4)
    assert not load.failures, load.failures

    # then everything stored arrives in every agency's inbox, exactly once.
    try:
        wait_until(lambda: not not_arrived(), timeout=240, interval=1, what="every message")
    except AssertionError:
        said = [line for line in projector.output().splitlines() if "simpul.projector" in line]
        last_consumed = {
            line.split("INFO ")[1].split(":")[0]: line for line in said if " consumed " in line
        }
        events = [line for line in said if " consumed " not in line][-40:]
        raise AssertionError(
            "; ".join(not_arrived())
            + "\nwhat the projectors said, besides consuming:\n"
            + "\n".join(events)
            + "\nwhat each consumed last:\n"
            + "\n".join(last_consumed.values())
        ) from None
    derived = derived_messages(pg_cases, prefix)
    lines = []
    for agency in AGENCIES:
        ids = applied_ids(database_url, agency)
        assert len(ids) == len(set(ids)), f"{agency}: a message applied twice"
        expected_referrals = referred(derived.get(agency_topic(prefix, agency), []))
        got = inbox(database_url, agency)
        assert len(expected_referrals) == len(set(expected_referrals)), agency
        assert sorted(got) == sorted(expected_referrals), f"{agency}: a referral lost"
        assert projection_differences(kafka_settings, database_url, agency) == [], agency
        lines.append(f"{agency} {len(got)} referrals/{len(ids)} messages")

    # The topics were made again by the relay, with the configured partitions, by no consumer.
    admin = KafkaAdminClient(bootstrap_servers=own_broker.bootstrap_servers, **security.options())
    try:
        shapes = describe_topics(admin)
    finally:
        admin.close()
    for topic in [cases_topic(prefix)] + [agency_topic(prefix, a) for a in AGENCIES]:
        assert shapes[topic].partitions == kafka_settings.kafka_partitions, topic
    republished = relay.output().count("publishing the store again from the start")
    reread = projector.output().count("again from the beginning")
    assert republished >= 1 and reread >= 1
    fault_report(
        f"the broker restarted empty {restarts} times under a steady load: the relay published "
        f"the store again {republished} times, projectors re-read recreated topics {reread} "
        f"times; every agency inbox holds each of its referrals once ({', '.join(lines)}), "
        f"no message applied twice, every projection equals a rebuild, every topic has "
        f"{kafka_settings.kafka_partitions} partitions; {load.acknowledged.count} commands "
        "acknowledged",
        commands=load.acknowledged.count,
    )
