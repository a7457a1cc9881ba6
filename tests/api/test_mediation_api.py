"""P5 / B5 mediation over HTTP: recorded where the district's SOP mediates (Purwakarta,
Kota Batu), refused for sexual violence, and refused where the district runs no mediation."""

import pytest
from fastapi.testclient import TestClient

from tests.support.lifecycle import Headers, a_report_body

MEDIATION = {
    "held_on": "2026-03-03",
    "parties": ["the mother", "the neighbour"],
    "perpetrator_is_child": False,
    "agreement_reached": True,
    "agreements": ["The neighbour stays away from the house."],
}
# Purwakarta (P2) and Kota Batu (B2) assess before they classify.
ASSESSES_FIRST = frozenset({"purwakarta", "kota-batu"})


def _consented_case(client: TestClient, auth: Headers, forms: list[str], district: str) -> str:
    office = auth("coordinator", district=district)
    case_id: str = client.post("/api/v1/cases", json=a_report_body(), headers=office).json()[
        "case_id"
    ]
    assessment = {"kind": "initial_home_visit", "domain": "physical", "findings": "Visited."}
    steps = [("assessments", assessment)] if district in ASSESSES_FIRST else []
    steps += [
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


@pytest.mark.parametrize("district", ["purwakarta", "kota-batu"])
def test_the_case_team_records_a_mediation_and_the_case_file_shows_it(
    client: TestClient, auth: Headers, district: str
):
    """P5 (Purwakarta, 240 menit), B5 (Kota Batu, 120 menit)."""
    office = auth("coordinator", district=district)
    case_id = _consented_case(client, auth, ["physical"], district)

    response = client.post(f"/api/v1/cases/{case_id}/mediations", json=MEDIATION, headers=office)

    assert response.status_code == 200, response.text
    assert response.json()["recorded"] == ["MediationHeld"]
    file = client.get(f"/api/v1/cases/{case_id}", headers=office).json()
    assert file["mediations"][0]["agreements"] == MEDIATION["agreements"]


@pytest.mark.parametrize(("district", "own_step"), [("purwakarta", "P5"), ("kota-batu", "B5")])
def test_a_sexual_violence_case_is_refused_mediation_naming_the_rule_and_the_districts_step(
    client: TestClient, auth: Headers, district: str, own_step: str
):
    """UU 12/2022 (TPKS) Pasal 23, at the district's own mediation step."""
    case_id = _consented_case(client, auth, ["sexual"], district)

    response = client.post(
        f"/api/v1/cases/{case_id}/mediations",
        json=MEDIATION,
        headers=auth("coordinator", district=district),
    )

    assert response.status_code == 409
    assert (response.json()["rule"], response.json()["step"]) == (
        "mediation_not_allowed",
        own_step,
    )


@pytest.mark.parametrize("district", ["luwu-utara", "tanjungpinang", "kutai-timur"])
def test_a_district_that_runs_no_mediation_refuses_one_naming_the_rule_and_records_nothing(
    client: TestClient, auth: Headers, district: str
):
    """Luwu Utara's, Tanjungpinang's and Kutai Timur's SOPs have no mediation step."""
    agency = "uptd_ppa" if district == "luwu-utara" else "social"
    office = auth("coordinator", agency=agency, district=district)
    case_id: str = client.post("/api/v1/cases", json=a_report_body(), headers=office).json()[
        "case_id"
    ]
    before = client.get(f"/api/v1/cases/{case_id}", headers=office).json()["version"]

    response = client.post(f"/api/v1/cases/{case_id}/mediations", json=MEDIATION, headers=office)

    assert response.status_code == 409
    problem = response.json()
    assert (problem["rule"], problem["step"]) == ("process_not_run", "P5 / B5")
    assert f"({district}) does not run the mediation process" in problem["detail"]
    assert "neighbour" not in response.text
    assert client.get(f"/api/v1/cases/{case_id}", headers=office).json()["version"] == before


def test_luwu_utara_refuses_mediation_of_a_case_the_rules_would_let_it_mediate(
    client: TestClient, auth: Headers
):
    """Consented and no sexual violence: only the district's SOP stands in the way."""
    case_id = _consented_case(client, auth, ["physical"], "luwu-utara")

    response = client.post(
        f"/api/v1/cases/{case_id}/mediations", json=MEDIATION, headers=auth("coordinator")
    )

    assert response.status_code == 409
    assert response.json()["rule"] == "process_not_run"
    assert "Kabupaten Luwu Utara (luwu-utara)" in response.json()["detail"]
