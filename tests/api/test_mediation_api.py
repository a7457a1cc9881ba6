"""P5 / B5 mediation over HTTP: recorded for the case team, refused for sexual violence."""

from fastapi.testclient import TestClient

from tests.support.lifecycle import Headers, a_report_body

MEDIATION = {
    "held_on": "2026-03-03",
    "parties": ["the mother", "the neighbour"],
    "perpetrator_is_child": False,
    "agreement_reached": True,
    "agreements": ["The neighbour stays away from the house."],
}


def _consented_case(client: TestClient, auth: Headers, forms: list[str]) -> str:
    office = auth("coordinator")
    case_id: str = client.post("/api/v1/cases", json=a_report_body(), headers=office).json()[
        "case_id"
    ]
    steps = [
        (
            "classification",
            {
                "case_type": "KTA",
                "risk_level": "medium",
                "jurisdiction": "district",
                "emergency": False,
                "forms_of_violence": forms,
            },
        ),
        ("case-worker", {"case_worker_id": "rina.pendamping"}),
        ("consent", {"given": True, "given_by": "parent", "document_ref": "IC-7"}),
    ]
    for path, body in steps:
        response = client.post(f"/api/v1/cases/{case_id}/{path}", json=body, headers=office)
        assert response.status_code == 200, response.text
    return case_id


def test_the_case_team_records_a_mediation_and_the_case_file_shows_it(
    client: TestClient, auth: Headers
):
    case_id = _consented_case(client, auth, ["physical"])

    response = client.post(
        f"/api/v1/cases/{case_id}/mediations", json=MEDIATION, headers=auth("coordinator")
    )

    assert response.status_code == 200, response.text
    assert response.json()["recorded"] == ["MediationHeld"]
    file = client.get(f"/api/v1/cases/{case_id}", headers=auth("coordinator")).json()
    assert file["mediations"][0]["agreements"] == MEDIATION["agreements"]


def test_a_sexual_violence_case_is_refused_mediation_naming_the_rule_and_step(
    client: TestClient, auth: Headers
):
    case_id = _consented_case(client, auth, ["sexual"])

    response = client.post(
        f"/api/v1/cases/{case_id}/mediations", json=MEDIATION, headers=auth("coordinator")
    )

    assert response.status_code == 409
    assert (response.json()["rule"], response.json()["step"]) == ("mediation_not_allowed", "P5")
