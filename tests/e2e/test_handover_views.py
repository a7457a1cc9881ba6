"""L1.5 c through the real broker: the ABH case reaches Dinas Sosial, which acknowledges it.

The SOP says "bantu akseskan" (help the case reach them): the social office's
inbox lists the handed-over case with whom to contact, its topic carries the
hand-over and its acknowledgement within its matrix row, and the sending
office's case file shows the acknowledgement.
"""

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from gateways.kafka.contract import MessageValidator
from gateways.kafka.messages import agency_topic
from gateways.kafka.security import KafkaSecurity
from services.settings import Settings
from services.sharing import load_matrix
from tests.e2e.conftest import ServiceProcess, read_topic, wait_until
from tests.support.lifecycle import a_report_body

Headers = Callable[..., dict[str, str]]
MATRIX = load_matrix()


def post(client: TestClient, headers: dict[str, str], path: str, body: dict[str, Any]) -> Any:
    response = client.post(f"/api/v1{path}", json=body, headers=headers)
    assert response.status_code in (200, 201), (path, response.text)
    return response.json()


def handovers(client: TestClient, auth: Headers, agency: str) -> list[dict[str, Any]]:
    response = client.get(
        f"/api/v1/agencies/{agency}/handovers", headers=auth("agency_officer", agency=agency)
    )
    assert response.status_code == 200, response.text
    return list(response.json())


def test_the_social_office_sees_the_handed_over_abh_case_and_acknowledges_it(
    client: TestClient,
    auth: Headers,
    kafka_settings: Settings,
    services: Callable[..., ServiceProcess],
):
    # Given an ABH case the office handed over to Dinas Sosial (routing c), before consent
    office = auth("coordinator")
    case_id = post(client, office, "/cases", a_report_body())["case_id"]
    post(
        client,
        office,
        f"/cases/{case_id}/classification",
        {
            "case_type": "ABH",
            "risk_level": "medium",
            "jurisdiction": "district",
            "emergency": False,
        },
    )
    post(client, office, f"/cases/{case_id}/handover", {"target": "social", "notes": "Pak D"})
    services("relay")
    services("project", "--agency", "social")

    # When the social office finds it in its inbox
    listed = wait_until(lambda: handovers(client, auth, "social"), what="the hand-over")

    # Then it sees the case, no identity, and whom to contact about it
    (handover,) = listed
    assert handover["case_id"] == case_id
    assert handover["state"] == "awaiting_acknowledgement"
    assert handover["identity_withheld"] is True
    assert "victim" not in handover["facts"]
    assert handover["contact_through"]["office"] == "uptd_ppa"
    assert handover["contact_through"]["register_number"] == handover["register_number"]
    assert "Mawar" not in str(listed)
    # and the police, handed nothing, list nothing
    assert handovers(client, auth, "police") == []

    # When it acknowledges the case
    post(
        client,
        auth("agency_officer", agency="social", user="budi.dinsos"),
        f"/cases/{case_id}/handover-acknowledgement",
        {"receiving_unit": "Bidang Rehabilitasi Sosial"},
    )

    # Then its inbox and the office's case file show the acknowledgement
    wait_until(
        lambda: handovers(client, auth, "social")[0]["state"] == "acknowledged",
        what="the acknowledgement in the inbox",
    )
    file = client.get(f"/api/v1/cases/{case_id}", headers=office).json()
    assert file["handover"]["state"] == "acknowledged"
    assert file["handover"]["acknowledgement"]["by"]["user_id"] == "budi.dinsos"

    # and the social topic carries the hand-over and its answer, within its row, valid
    security = KafkaSecurity.from_settings(kafka_settings)
    topic = read_topic(
        str(kafka_settings.kafka_bootstrap_servers),
        agency_topic(kafka_settings.kafka_topic_prefix, "social"),
        at_least=3,
        security=security,
    )
    assert [m["event"]["type"] for m in topic] == [
        "id.simpul.agency.case.opened.v1",
        "id.simpul.agency.case.handed_over.v1",
        "id.simpul.agency.handover.updated.v1",
    ]
    validator = MessageValidator()
    row = MATRIX.rows["social"]
    for message in topic:
        event = message["event"]
        assert validator.errors(event) == [], event["type"]
        facts = event["data"].get("facts", {})
        outside = [
            f"{g}.{k}" for g, values in facts.items() for k in values if not row.allows(g, k)
        ]
        assert outside == []
        assert "victim" not in facts
    answer = topic[-1]["event"]["data"]
    assert answer["status"] == "acknowledged"
    # Before consent its texts are withheld, like the hand-over's own note.
    assert (answer["receiving_unit"], topic[1]["event"]["data"]["notes"]) == ("", "")
