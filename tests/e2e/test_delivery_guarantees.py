"""Nothing lost, nothing applied twice: redelivery, poison messages, rebuild.

(SIGKILLs under load: test_fault_sigkill_under_load.py.)
"""

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from kafka import KafkaProducer
from prometheus_client import CollectorRegistry

from gateways.cli.projections import projection_differences
from gateways.kafka.contract import asyncapi_document
from gateways.kafka.messages import agency_topic, dead_letter_topic, encode
from gateways.kafka.projector import AgencyProjector
from gateways.kafka.relay import Relay, ensure_topics, producer_for
from gateways.kafka.security import KafkaSecurity
from gateways.kafka.signing import MessageSigner, MessageVerifier
from gateways.projectors.agencies import derived_agency_events
from gateways.readmodels.agency import AgencyStore
from services.cases import Cases
from services.settings import Settings
from services.sharing import SharingPolicy, load_matrix
from tests.e2e.conftest import read_topic, subscriber_security, wait_until
from tests.support.referred_case import consented_case, deliver, refer

REPOSITORY = Path(__file__).resolve().parents[2]
MATRIX = load_matrix()
RELAY_KEY = MessageSigner.generate("test-relay")


def a_referred_case(cases: Cases, *, deliver_police: bool = False) -> None:
    case_id = consented_case(cases)
    police = refer(cases, case_id, "police", "legal_process")
    refer(cases, case_id, "health", "medical_care")
    if deliver_police:
        deliver(cases, case_id, police, "police")


@pytest.fixture
def in_process(kafka_settings: Settings, pg_cases: Cases) -> Iterator[Callable[..., object]]:
    """A relay and agency projectors in this process, stepped by the test."""
    servers = str(kafka_settings.kafka_bootstrap_servers)
    prefix = kafka_settings.kafka_topic_prefix
    security = KafkaSecurity.from_settings(kafka_settings)
    ensure_topics(
        servers, prefix, MATRIX.agencies, partitions=3, replication_factor=1, security=security
    )
    producer = producer_for(servers, "test-relay", security)
    relay = Relay(
        cases=pg_cases,
        database_url=str(kafka_settings.database_url),
        producer=producer,
        policy=SharingPolicy(MATRIX),
        prefix=prefix,
        signer=RELAY_KEY,
        batch_size=50,
    )
    projectors: list[AgencyProjector] = []

    def projector(agency: str) -> AgencyProjector:
        made = AgencyProjector(
            agency,
            database_url=str(kafka_settings.database_url),
            bootstrap_servers=servers,
            prefix=prefix,
            verifier=MessageVerifier({RELAY_KEY.key_id: RELAY_KEY.public_key()}),
            security=security,
            registry=CollectorRegistry(),
        )
        made.subscribe()
        projectors.append(made)
        return made

    def publish_all() -> None:
        relay.catch_up()

    yield {"relay": relay, "projector": projector, "publish_all": publish_all}  # type: ignore[misc]
    for made in projectors:
        made.close()
    producer.close()


def test_redelivering_a_whole_topic_leaves_the_projection_unchanged(
    pg_cases: Cases,
    kafka_settings: Settings,
    in_process: dict,
):
    for deliver_police in (False, True, False):
        a_referred_case(pg_cases, deliver_police=deliver_police)
    in_process["publish_all"]()
    police = in_process["projector"]("police")
    topic = agency_topic(kafka_settings.kafka_topic_prefix, "police")
    servers = str(kafka_settings.kafka_bootstrap_servers)
    expected = len(
        derived_agency_events(
            pg_cases, SharingPolicy(MATRIX), kafka_settings.kafka_topic_prefix, "police"
        )
    )
    wait_until(
        lambda: police.poll_once() >= 0 and police.applied == expected,
        timeout=90,
        what="the first delivery to be applied",
    )
    before = police.store.snapshot()

    # When every message on the topic is delivered again
    security = KafkaSecurity.from_settings(kafka_settings)
    messages = read_topic(servers, topic, at_least=expected, security=security)
    producer = KafkaProducer(bootstrap_servers=servers, acks="all", **security.options())
    for message in messages:
        producer.send(topic, key=message["key"], value=message["raw"])
    producer.flush()
    producer.close()
    wait_until(
        lambda: police.poll_once() >= 0 and police.duplicates == expected,
        timeout=90,
        what="the redelivered messages to be consumed",
    )

    # Then nothing changed, and it still equals a rebuild from scratch
    assert police.applied == expected
    assert police.store.snapshot() == before
    assert projection_differences(kafka_settings, str(kafka_settings.database_url), "police") == []


def poison_for(case_key: bytes, valid: dict) -> list[tuple[str, bytes | None]]:
    """Malformed messages, each with the kind of malformation it stands for. Those meant to
    fail after the signature check (schema, database) are signed with the relay's key."""

    def changed(**changes: object) -> dict:
        return {**valid, "id": f"{case_key.decode()}:poison:{sorted(changes)}", **changes}

    def valid_but(**changes: object) -> bytes:
        return RELAY_KEY.signed_value(changed(**changes))

    return [
        ("not JSON", b"{not json"),
        ("not UTF-8", b"\xff\xfe\x00"),
        ("no value (a tombstone)", None),
        ("JSON, not an object", b"[1, 2, 3]"),
        ("JSON, not a CloudEvent", b'{"hello": "world"}'),
        (
            "a CloudEvent of an unknown type",
            encode({"specversion": "1.0", "id": "x:1", "type": "id.simpul.agency.gossip.v1"}),
        ),
        (
            "a type that is not a string",
            encode(
                {"specversion": "1.0", "id": "x:2", "type": ["id.simpul.agency.case.opened.v1"]}
            ),
        ),
        ("unsigned", encode(changed(simpulversion=1))),
        ("signed by another key", MessageSigner.generate("test-relay").signed_value(changed())),
        (
            "fails its schema",
            RELAY_KEY.signed_value(
                {
                    "specversion": "1.0",
                    "id": "x:3",
                    "source": "/simpul/agencies/health",
                    "type": "id.simpul.agency.case.opened.v1",
                    "subject": case_key.decode(),
                    "time": "2026-03-02T08:00:00+08:00",
                    "datacontenttype": "application/json",
                    "simpulsequence": 1,
                    "simpulversion": 1,
                    "data": {"case_id": "nope"},
                }
            ),
        ),
        ("a time that is no date", valid_but(time="yesterday")),
        ("a sequence beyond 64 bits", valid_but(simpulsequence=2**70)),
    ]


@pytest.mark.fault
def test_poison_messages_go_to_the_dead_letter_topic_and_do_not_block_the_partition(
    pg_cases: Cases,
    kafka_settings: Settings,
    in_process: dict,
    fault_report,
):
    servers = str(kafka_settings.kafka_bootstrap_servers)
    prefix = kafka_settings.kafka_topic_prefix
    topic = agency_topic(prefix, "health")
    policy = SharingPolicy(MATRIX)
    a_referred_case(pg_cases)
    template = derived_agency_events(pg_cases, policy, prefix, "health")[0]
    # The poison goes first, keyed by a case whose valid messages then follow it in
    # the same partition (the relay's producer partitions by the same key).
    case_id = consented_case(pg_cases)
    case_key = str(case_id).encode()
    poison = poison_for(case_key, template)
    security = KafkaSecurity.from_settings(kafka_settings)
    producer = KafkaProducer(bootstrap_servers=servers, acks="all", **security.options())
    for _, value in poison:
        producer.send(topic, key=case_key, value=value)
    producer.flush()
    producer.close()
    refer(pg_cases, case_id, "health", "medical_care")
    in_process["publish_all"]()
    expected = len(derived_agency_events(pg_cases, policy, prefix, "health"))
    health = in_process["projector"]("health")

    wait_until(
        lambda: (
            health.poll_once() >= 0
            and health.applied == expected
            and health.dead_letters == len(poison)
        ),
        timeout=90,
        what="the poison to be dead-lettered and every valid message applied",
    )

    on_topic = read_topic(servers, topic, at_least=expected + len(poison), security=security)
    mine = [m for m in on_topic if m["key"] == case_key]
    partition = mine[0]["partition"]
    poison_values = [value for _, value in poison]
    poison_offsets = [m["offset"] for m in mine if m["raw"] in poison_values]
    valid_offsets = [m["offset"] for m in mine if m["raw"] not in poison_values]
    assert all(m["partition"] == partition for m in mine)
    assert len(poison_offsets) == len(poison) and valid_offsets
    assert max(poison_offsets) < min(valid_offsets), "the valid messages came after the poison"
    dead = read_topic(servers, dead_letter_topic(topic), at_least=len(poison), security=security)
    assert sorted(m["raw"] or b"" for m in dead) == sorted(value or b"" for _, value in poison)
    assert all("simpul-error" in m["headers"] for m in dead)
    with psycopg.connect(str(kafka_settings.database_url)) as conn:
        reasons = [
            row[0]
            for row in conn.execute(
                'SELECT error FROM agency_health.dead_letters ORDER BY "offset"'
            )
        ]
    assert len(reasons) == len(poison)
    assert any("not JSON" in reason for reason in reasons)
    stored = AgencyStore(str(kafka_settings.database_url), "health").stored_offsets(topic)
    assert stored[partition] == max(valid_offsets) + 1, "the partition moved past all of it"
    assert len(AgencyStore(str(kafka_settings.database_url), "health").snapshot()["referrals"]) == 2
    assert projection_differences(kafka_settings, str(kafka_settings.database_url), "health") == []
    fault_report(
        f"{len(poison)} poison messages on partition {partition} of the health topic, one of "
        f"each kind ({'; '.join(kind for kind, _ in poison)}), then {len(valid_offsets)} valid "
        f"messages of the same case behind them: all {len(poison)} dead-lettered (topic and "
        f"table, with reasons), all {expected} valid messages applied, the partition's stored "
        f"offset past the last one, the projection equal to a rebuild"
    )


def test_a_rebuild_from_the_command_line_shows_progress_and_converges_to_the_same_state(
    pg_cases: Cases,
    kafka_settings: Settings,
    in_process: dict,
    service_env: dict[str, str],
):
    for deliver_police in (True, False):
        a_referred_case(pg_cases, deliver_police=deliver_police)
    in_process["publish_all"]()
    police = in_process["projector"]("police")
    wait_until(
        lambda: police.poll_once() >= 0 and police.applied == 7, timeout=90, what="the projection"
    )
    before = police.store.snapshot()

    rebuilt = subprocess.run(
        [sys.executable, "-m", "gateways.cli", "projections", "rebuild", "--agency", "police"],
        env=service_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    verified = subprocess.run(
        [sys.executable, "-m", "gateways.cli", "projections", "verify", "--agency", "police"],
        env=service_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert "rebuild police" in rebuilt.stderr and "event/s" in rebuilt.stderr  # the tqdm bar
    assert police.store.snapshot() == before
    assert verified.returncode == 0, verified.stdout
    assert "equals a rebuild from scratch" in verified.stdout
    # and the live projector carries on from where it was
    a_referred_case(pg_cases)
    in_process["publish_all"]()
    wait_until(
        lambda: police.poll_once() >= 0 and len(police.store.snapshot()["cases"]) == 3,
        timeout=90,
        what="the projector to continue after the rebuild",
    )


def test_the_reference_subscriber_keeps_an_inbox_with_nothing_but_a_kafka_client(
    pg_cases: Cases,
    kafka_settings: Settings,
    in_process: dict,
    tmp_path: Path,
):
    a_referred_case(pg_cases, deliver_police=True)
    a_referred_case(pg_cases)
    in_process["publish_all"]()
    prefix = kafka_settings.kafka_topic_prefix
    genuine = derived_agency_events(pg_cases, SharingPolicy(MATRIX), prefix, "police")[0]
    forged = {**genuine, "id": f"{genuine['id']}:forged", "data": {**genuine["data"]}}
    security = KafkaSecurity.from_settings(kafka_settings)
    forger = KafkaProducer(
        bootstrap_servers=str(kafka_settings.kafka_bootstrap_servers), **security.options()
    )
    forger.send(
        agency_topic(prefix, "police"), key=genuine["subject"].encode(), value=encode(forged)
    )
    forger.flush()
    forger.close()
    inbox = tmp_path / "police.sqlite3"
    keys = tmp_path / "asyncapi.json"  # as the deployment serves it, with the relay's key
    verifier = MessageVerifier({RELAY_KEY.key_id: RELAY_KEY.public_key()})
    keys.write_text(json.dumps(asyncapi_document(verifier=verifier)))

    run = subprocess.run(
        [
            sys.executable,
            str(REPOSITORY / "examples" / "agency_subscriber.py"),
            "--bootstrap",
            str(kafka_settings.kafka_bootstrap_servers),
            "--agency",
            "police",
            "--topic-prefix",
            kafka_settings.kafka_topic_prefix,
            "--db",
            str(inbox),
            "--keys",
            str(keys),
            *subscriber_security(security, tmp_path),
            "--exit-when-idle",
            "15",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )

    assert "applied 7, skipped 0 repeats, refused 1 unsigned or forged" in run.stdout
    with sqlite3.connect(inbox) as db:
        assert [row[0] for row in db.execute("SELECT reason FROM refused")] == [
            "unsigned, or signed with a key not in the deployment's key set"
        ]
        statuses = sorted(row[0] for row in db.execute("SELECT status FROM referrals"))
        open_cases = [row[0] for row in db.execute("SELECT open FROM cases")]
        facts = [json.loads(row[0]) for row in db.execute("SELECT facts FROM cases")]
    assert statuses == ["completed", "pending"]
    assert sorted(open_cases) == [0, 1]
    assert all("physical" not in fact.get("assessments", {}) for fact in facts)
