"""Several beneficiaries in one case over HTTP: three siblings, each referred apart (L4.1).

Tanjungpinang's SOP counts families and groups among the victims and Kutai Timur's PKSAI
targets (Pasal 3) include families, groups and communities. The report's victim is
beneficiary 1; POST /cases/{id}/beneficiaries adds 2, 3, ...; each consents on its own
(POST /cases/{id}/beneficiary-consent, L1.9-10); a referral names whom it is for.
"""

from typing import Any

from fastapi.testclient import TestClient

from tests.support.lifecycle import Headers, a_report_body

SIBLINGS = ({"name": "Sari", "age": 9}, {"name": "Bima", "age": 7})


def a_case_with_three_consented_siblings(client: TestClient, auth: Headers) -> str:
    def post(path: str, body: dict[str, Any], role: str = "coordinator", **who: str) -> None:
        response = client.post(f"/api/v1{path}", json=body, headers=auth(role, **who))
        assert response.status_code in (200, 201), response.text

    created = client.post("/api/v1/cases", json=a_report_body(), headers=auth("intake_officer"))
    case_id: str = created.json()["case_id"]
    for person in SIBLINGS:
        post(
            f"/cases/{case_id}/beneficiaries",
            {"person": person, "relationship": "sibling", "child": True},
            "intake_officer",
        )
    post(
        f"/cases/{case_id}/classification",
        {"case_type": "KTA", "risk_level": "high", "jurisdiction": "district", "emergency": False},
    )
    post(f"/cases/{case_id}/case-worker", {"case_worker_id": "rina"})
    consent = {"given": True, "given_by": "parent", "document_ref": "IC"}
    post(f"/cases/{case_id}/consent", consent, "case_worker", user="rina")
    for beneficiary_id in ("2", "3"):
        post(
            f"/cases/{case_id}/beneficiary-consent",
            {**consent, "beneficiary_id": beneficiary_id},
            "case_worker",
            user="rina",
        )
    return case_id


def test_three_siblings_each_consented_are_referred_separately_to_different_agencies(
    client: TestClient, auth: Headers
):
    case_id = a_case_with_three_consented_siblings(client, auth)
    worker = auth("case_worker", user="rina")
    for service, agency, whom in (
        ("medical_examination", "health", ["1"]),
        ("medical_examination", "health", ["2"]),
        ("return_to_school", "education", ["3"]),
    ):
        response = client.post(
            f"/api/v1/cases/{case_id}/referrals",
            json={"service_type": service, "agency": agency, "beneficiary_ids": whom},
            headers=worker,
        )
        assert response.status_code == 200, response.text

    file = client.get(f"/api/v1/cases/{case_id}", headers=worker).json()

    assert [(r["agency"], r["beneficiary_ids"]) for r in file["referrals"]] == [
        ("health", ["1"]),
        ("health", ["2"]),
        ("education", ["3"]),
    ]
    beneficiaries = {b["beneficiary_id"]: b for b in file["beneficiaries"]}
    assert [beneficiaries[i]["person"] for i in ("2", "3")] == list(SIBLINGS)
    assert all(b["consent"]["given"] for b in beneficiaries.values())
    by_referral = {r["referral_id"]: r["agency"] for r in file["referrals"]}
    assert [
        [by_referral[r] for r in beneficiaries[i]["referral_ids"]] for i in ("1", "2", "3")
    ] == [["health"], ["health"], ["education"]]
    timeline = client.get(f"/api/v1/cases/{case_id}/timeline", headers=worker).json()
    said = [entry["summary_en"] for entry in timeline["entries"]]
    assert "Beneficiary 3 (a child) added to the case" in said
    assert "The referral that follows is for beneficiaries 3" in said


def test_a_referral_for_an_unknown_beneficiary_is_422_naming_the_field(
    client: TestClient, auth: Headers
):
    case_id = a_case_with_three_consented_siblings(client, auth)

    response = client.post(
        f"/api/v1/cases/{case_id}/referrals",
        json={"service_type": "return_to_school", "agency": "education", "beneficiary_ids": ["9"]},
        headers=auth("case_worker", user="rina"),
    )

    assert response.status_code == 422, response.text
    assert "beneficiary_ids" in response.text
    version = client.get(f"/api/v1/cases/{case_id}", headers=auth("coordinator")).json()
    assert version["referrals"] == []
