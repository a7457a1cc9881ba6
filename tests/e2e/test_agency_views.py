"""A case referred to police and health reaches exactly those agencies, with just their fields."""

from collections.abc import Callable
from typing import Any
from uuid import UUID

import httpx
from fastapi.testclient import TestClient

from gateways.kafka.contract import MessageValidator
from gateways.kafka.messages import agency_topic, cases_topic
from gateways.kafka.security import KafkaSecurity
from services.cases import Cases
from services.settings import Settings
from services.sharing import load_matrix
from tests.e2e.conftest import ServiceProcess, read_topic, wait_until
from tests.support.lifecycle import a_report_body

Headers = Callable[..., dict[str, str]]
MATRIX = load_matrix()


def post(
    client: TestClient,
    auth: Headers,
    path: str,
    body: dict[str, Any],
    role: str = "coordinator",
    **who: str,
) -> dict[str, Any]:
    response = client.post(f"/api/v1{path}", json=body, headers=auth(role, **who))
    assert response.status_code in (200, 201), (path, response.text)
    return dict(response.json())


def a_consented_case(client: TestClient, auth: Headers) -> str:
    case_id = post(client, auth, "/cases", a_report_body(), "intake_officer")["case_id"]
    post(
        client,
        auth,
        f"/cases/{case_id}/classification",
        {
            "case_type": "KTA",
            "risk_level": "high",
            "jurisdiction": "district",
            "emergency": False,
            "forms_of_violence": ["physical"],
        },
    )
    post(client, auth, f"/cases/{case_id}/case-worker", {"case_worker_id": "rina"})
    post(
        client,
        auth,
        f"/cases/{case_id}/consent",
        {"given": True, "given_by": "parent", "document_ref": "IC-1"},
        "case_worker",
        user="rina",
    )
    post(
        client,
        auth,
        f"/cases/{case_id}/assessments",
        {
            "kind": "further",
            "domain": "physical",
            "assessing_agency": "uptd_ppa",
            "findings": "fractured left wrist",
        },
        "case_worker",
        user="rina",
    )
    return case_id


def refer(client: TestClient, auth: Headers, case_id: str, agency: str, service: str) -> str:
    return post(
        client,
        auth,
        f"/cases/{case_id}/referrals",
        {"service_type": service, "agency": agency},
        "case_worker",
        user="rina",
    )["referral_id"]


def inbox(client: TestClient, auth: Headers, agency: str) -> list[dict[str, Any]]:
    response = client.get(
        f"/api/v1/agencies/{agency}/referrals", headers=auth("agency_officer", agency=agency)
    )
    assert response.status_code == 200, response.text
    return list(response.json())


def facts_within_row(agency: str, facts: dict[str, Any]) -> list[str]:
    row = MATRIX.rows[agency]
    return [
        f"{group}.{key}"
        for group, values in facts.items()
        for key in values
        if not row.allows(group, key)
    ]


def test_each_agency_sees_its_own_referrals_and_nothing_else(
    client: TestClient,
    auth: Headers,
    pg_cases: Cases,
    kafka_settings: Settings,
    services: Callable[..., ServiceProcess],
):
    # Given a case referred to police and health, and another referred to police only
    both = a_consented_case(client, auth)
    police_referral = refer(client, auth, both, "police", "legal_process")
    health_referral = refer(client, auth, both, "health", "medical_care")
    police_only = a_consented_case(client, auth)
    refer(client, auth, police_only, "police", "legal_process")

    # When the relay and the projectors run
    relay = services("relay")
    projectors = services("project", "--all-agencies")

    # Then each agency's inbox shows its own referrals within seconds
    police = wait_until(
        lambda: len(inbox(client, auth, "police")) == 2 and inbox(client, auth, "police"),
        what="police referrals",
    )
    health = wait_until(lambda: inbox(client, auth, "health"), what="the health referral")
    assert {r["referral_id"] for r in police} >= {police_referral}
    assert [r["referral_id"] for r in health] == [health_referral]
    assert health[0]["facts"]["assessments"]["physical"][0]["findings"] == "fractured left wrist"
    assert "assessments" not in police[0]["facts"]
    assert health[0]["facts"]["victim"]["name"] == "Mawar"
    assert "reported_person" not in health[0]["facts"]
    assert all(r["status"] == "pending" and not r["overdue"] for r in police + health)
    # and the school, referred nothing, sees nothing
    assert inbox(client, auth, "education") == []

    # and each agency topic, read with a plain Kafka consumer, holds only its cases and fields
    servers = str(kafka_settings.kafka_bootstrap_servers)
    security = KafkaSecurity.from_settings(kafka_settings)
    prefix = kafka_settings.kafka_topic_prefix
    validator = MessageValidator()
    police_topic = read_topic(
        servers, agency_topic(prefix, "police"), at_least=4, security=security
    )
    health_topic = read_topic(
        servers, agency_topic(prefix, "health"), at_least=2, security=security
    )
    education_topic = read_topic(servers, agency_topic(prefix, "education"), security=security)
    internal = read_topic(servers, cases_topic(prefix), at_least=13, security=security)
    assert education_topic == []
    assert {m["event"]["subject"] for m in police_topic} == {both, police_only}
    assert {m["event"]["subject"] for m in health_topic} == {both}
    for agency, messages in (("police", police_topic), ("health", health_topic)):
        for message in messages:
            event = message["event"]
            assert validator.errors(event) == [], event["type"]
            assert message["key"] == event["subject"].encode()
            assert message["headers"]["content-type"] == b"application/cloudevents+json"
            assert event["source"] == f"/simpul/agencies/{agency}"
            assert facts_within_row(agency, event["data"].get("facts", {})) == []
    assert "fractured" not in str([m["raw"] for m in police_topic])
    # and the internal topic holds every stored case event, whole and valid
    stored = [e for case in (both, police_only) for e in pg_cases.events.get(UUID(case))]
    assert sorted(m["event"]["id"] for m in internal) == sorted(
        f"{e.originator_id}:{e.originator_version}" for e in stored
    )
    assert all(validator.errors(m["event"]) == [] for m in internal)
    relay.stop()
    projectors.stop()
    assert "published" in relay.output()


def test_the_relay_and_projectors_expose_their_lag_as_prometheus_metrics(
    client: TestClient,
    auth: Headers,
    service_env: dict[str, str],
    services: Callable[..., ServiceProcess],
):
    case_id = a_consented_case(client, auth)
    refer(client, auth, case_id, "police", "legal_process")
    services("relay")
    services("project", "--agency", "police")

    def metrics(port_variable: str) -> str:
        try:
            return httpx.get(f"http://127.0.0.1:{service_env[port_variable]}/metrics").text
        except httpx.HTTPError:
            return ""

    relay_metrics = wait_until(
        lambda: (
            "simpul_relay_events_total 6.0" in (text := metrics("SIMPUL_RELAY_METRICS_PORT"))
            and text
        ),
        what="the relay to publish and report it",
    )
    # The lag gauges are set after the batch they measure is applied: wait for both, so a
    # scrape between the two (a busy machine) is not taken for a missing gauge.
    projector_metrics = wait_until(
        lambda: (
            'simpul_projector_applied_total{agency="police"} 2.0'
            in (text := metrics("SIMPUL_PROJECTOR_METRICS_PORT"))
            and 'simpul_projector_lag_messages{agency="police"}' in text
            and text
        ),
        what="the projector to apply and report it, with its lag",
    )
    assert "simpul_relay_lag_events 0.0" in relay_metrics
    assert "simpul_relay_lag_seconds" in relay_metrics
    assert 'simpul_projector_lag_seconds{agency="police"}' in projector_metrics
