"""A forged message on an agency topic never reaches the agency's inbox.

The review wrote a `referral.received` ("arrest the reporter") to the police
topic with an anonymous client, and the police inbox served it. Broker ACLs
keep anonymous writers out of a deployment; these tests assume the worst
instead: someone can write to the topic (a leaked credential, a broker without
ACLs such as the embedded one), and only the relay's signing key makes a
message believable.
"""

import json
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from kafka import KafkaProducer
from prometheus_client import CollectorRegistry

from gateways.kafka.messages import agency_topic, dead_letter_topic, encode
from gateways.kafka.projector import AgencyProjector
from gateways.kafka.relay import Relay, ensure_topics, producer_for
from gateways.kafka.security import KafkaSecurity
from gateways.kafka.signing import MessageSigner, MessageVerifier
from gateways.projectors.agencies import derived_agency_events
from services.cases import Cases
from services.settings import Settings
from services.sharing import SharingPolicy, load_matrix
from tests.e2e.conftest import read_topic, wait_until
from tests.support.lifecycle import Headers
from tests.support.referred_case import consented_case, refer

MATRIX = load_matrix()
CURRENT = MessageSigner.generate("2026-12")
PREVIOUS = MessageSigner.generate("2026-06")
ACCEPTED = MessageVerifier(
    {CURRENT.key_id: CURRENT.public_key(), PREVIOUS.key_id: PREVIOUS.public_key()}
)


@pytest.fixture
def police_pipeline(
    kafka_settings: Settings, pg_cases: Cases
) -> Iterator[dict[str, Callable[..., Any]]]:
    """The relay (signing with ``CURRENT``) and the police projector, stepped by the test."""
    servers = str(kafka_settings.kafka_bootstrap_servers)
    prefix = kafka_settings.kafka_topic_prefix
    security = KafkaSecurity.from_settings(kafka_settings)
    ensure_topics(
        servers, prefix, MATRIX.agencies, partitions=3, replication_factor=1, security=security
    )
    producer = producer_for(servers, "test-relay", security)
    relays: list[Relay] = []

    def relay(signer: MessageSigner = CURRENT) -> None:
        made = Relay(
            cases=pg_cases,
            database_url=str(kafka_settings.database_url),
            producer=producer,
            policy=SharingPolicy(MATRIX),
            prefix=prefix,
            signer=signer,
        )
        relays.append(made)
        made.catch_up()

    police = AgencyProjector(
        "police",
        database_url=str(kafka_settings.database_url),
        bootstrap_servers=servers,
        prefix=prefix,
        verifier=ACCEPTED,
        security=security,
        registry=CollectorRegistry(),
    )
    police.subscribe()

    def write(values: list[bytes], key: bytes) -> None:
        """What an attacker holding a write credential for the topic can do."""
        forger = KafkaProducer(bootstrap_servers=servers, acks="all", **security.options())
        for value in values:
            forger.send(agency_topic(prefix, "police"), key=key, value=value)
        forger.flush()
        forger.close()

    yield {"relay": relay, "police": lambda: police, "write": write}
    police.close()
    producer.close()


def forgeries(genuine: dict[str, Any]) -> dict[str, bytes]:
    """Three ways to forge the review's message, from a genuine referral of the same case."""
    data = {
        **genuine["data"],
        "referral_id": f"{genuine['subject']}:forged",
        "notes": "arrest the reporter",
        "emergency": True,
    }
    forged = {**genuine, "id": f"{genuine['id']}:forged", "data": data}
    signed_genuinely = json.loads(CURRENT.signed_value(genuine))
    return {
        "unsigned": encode(forged),
        "signed with the attacker's key under the relay's key id": MessageSigner.generate(
            CURRENT.key_id
        ).signed_value(forged),
        "a genuine signature on changed content": encode(
            {
                **forged,
                "simpulkeyid": CURRENT.key_id,
                "simpulsignature": signed_genuinely["simpulsignature"],
            }
        ),
    }


def police_inbox(client: TestClient, auth: Headers) -> list[dict[str, Any]]:
    response = client.get(
        "/api/v1/agencies/police/referrals", headers=auth("agency_officer", agency="police")
    )
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


def test_a_forged_referral_on_the_police_topic_is_dead_lettered_and_never_served(
    pg_cases: Cases,
    kafka_settings: Settings,
    police_pipeline: dict[str, Callable[..., Any]],
    client: TestClient,
    auth: Headers,
):
    prefix = kafka_settings.kafka_topic_prefix
    case_id = consented_case(pg_cases)
    genuine_referral = refer(pg_cases, case_id, "police", "legal_process")
    police_pipeline["relay"]()
    template = next(
        event
        for event in derived_agency_events(pg_cases, SharingPolicy(MATRIX), prefix, "police")
        if event["type"].endswith(".referral.received.v1")
    )
    forged = forgeries(template)
    police_pipeline["write"](list(forged.values()), str(case_id).encode())
    police = police_pipeline["police"]()
    expected = len(derived_agency_events(pg_cases, SharingPolicy(MATRIX), prefix, "police"))

    wait_until(
        lambda: (
            police.poll_once() >= 0
            and police.applied == expected
            and police.dead_letters == len(forged)
        ),
        timeout=90,
        what="the genuine messages applied and every forgery dead-lettered",
    )

    inbox = police_inbox(client, auth)
    assert [referral["referral_id"] for referral in inbox] == [genuine_referral]
    assert "arrest" not in json.dumps(inbox)
    with psycopg.connect(str(kafka_settings.database_url)) as conn:
        reasons = [row[0] for row in conn.execute("SELECT error FROM agency_police.dead_letters")]
    assert sorted(reasons) == sorted(
        [
            "not signed: simpulkeyid and simpulsignature are required",
            "the signature does not verify",
            "the signature does not verify",
        ]
    )
    servers = str(kafka_settings.kafka_bootstrap_servers)
    security = KafkaSecurity.from_settings(kafka_settings)
    dead = read_topic(
        servers,
        dead_letter_topic(agency_topic(prefix, "police")),
        at_least=len(forged),
        security=security,
    )
    assert sorted(m["raw"] for m in dead) == sorted(forged.values())


def test_a_referral_signed_by_the_relay_with_any_key_the_projector_was_given_is_served(
    pg_cases: Cases,
    police_pipeline: dict[str, Callable[..., Any]],
    client: TestClient,
    auth: Headers,
):
    """Both keys of a rotation are accepted: the relay signed the first case's messages
    with the previous key, the second's with the current one."""
    first = consented_case(pg_cases)
    first_referral = refer(pg_cases, first, "police", "legal_process")
    police_pipeline["relay"](PREVIOUS)
    second = consented_case(pg_cases)
    second_referral = refer(pg_cases, second, "police", "legal_process")
    police_pipeline["relay"](CURRENT)
    police = police_pipeline["police"]()

    wait_until(
        lambda: police.poll_once() >= 0 and len(police_inbox(client, auth)) == 2,
        timeout=90,
        what="both referrals in the police inbox",
    )

    assert police.dead_letters == 0
    assert sorted(r["referral_id"] for r in police_inbox(client, auth)) == sorted(
        [first_referral, second_referral]
    )
