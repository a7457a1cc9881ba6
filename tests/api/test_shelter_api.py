"""Tanjungpinang T4d over HTTP: a temporary shelter stay at the RSTS Dinsos or P2TP2A,
admitted and discharged by Dinas Sosial's case team, its length of stay in the case file."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.lifecycle import Headers, a_report_body

TANJUNGPINANG = {"agency": "social", "district": "tanjungpinang"}
CASE_WORKER = "peksos.tpi"
ADMISSION = {"shelter": "rsts_dinsos", "admitted_on": "2026-03-02"}
DISCHARGE = {
    "discharged_on": "2026-03-09",
    "destination": "substitute_family",
    "reason": "Her aunt takes her in while the family is counselled.",
}


def _office(auth: Headers, role: str = "coordinator", **extra: Any) -> dict[str, str]:
    return auth(role, **TANJUNGPINANG, **extra)


def _case(client: TestClient, auth: Headers, *, emergency: bool, consent: bool) -> str:
    """T1-T3: received, assessed and classified by Dinas Sosial, a Peksos assigned."""
    reported = client.post("/api/v1/cases", json=a_report_body(), headers=_office(auth))
    assert reported.status_code == 201, reported.text
    case_id: str = reported.json()["case_id"]
    steps: list[tuple[str, dict[str, Any]]] = [
        (
            "classification",
            {
                "case_type": "KTA",
                "risk_level": "high",
                "jurisdiction": "district",
                "emergency": emergency,
            },
        ),
        ("case-worker", {"case_worker_id": CASE_WORKER}),
    ]
    if consent:
        steps.append(("consent", {"given": True, "given_by": "parent", "document_ref": "IC-9"}))
    for path, body in steps:
        response = client.post(f"/api/v1/cases/{case_id}/{path}", json=body, headers=_office(auth))
        assert response.status_code == 200, response.text
    return case_id


def test_the_case_worker_shelters_and_discharges_and_the_file_counts_the_stay(
    client: TestClient, auth: Headers
):
    case_id = _case(client, auth, emergency=False, consent=True)
    peksos = _office(auth, "case_worker", user=CASE_WORKER)

    admitted = client.post(
        f"/api/v1/cases/{case_id}/shelter-admissions", json=ADMISSION, headers=peksos
    )
    discharged = client.post(
        f"/api/v1/cases/{case_id}/shelter-discharges", json=DISCHARGE, headers=peksos
    )

    assert admitted.status_code == 200, admitted.text
    assert admitted.json()["recorded"] == ["ShelterAdmitted"]
    assert discharged.status_code == 200, discharged.text
    (stay,) = client.get(f"/api/v1/cases/{case_id}", headers=_office(auth)).json()["shelter_stays"]
    assert (stay["shelter"], stay["discharge"]["destination"]) == (
        "rsts_dinsos",
        "substitute_family",
    )
    assert stay["length_of_stay_days"] == 7


def test_an_emergency_case_is_sheltered_before_consent(client: TestClient, auth: Headers):
    """Routing rule e: emergency services come before consent, a shelter among them."""
    case_id = _case(client, auth, emergency=True, consent=False)

    response = client.post(
        f"/api/v1/cases/{case_id}/shelter-admissions",
        json={**ADMISSION, "shelter": "p2tp2a", "emergency": True},
        headers=_office(auth),
    )

    assert response.status_code == 200, response.text


def test_a_stay_before_consent_is_refused_naming_the_rule_and_step(
    client: TestClient, auth: Headers
):
    case_id = _case(client, auth, emergency=False, consent=False)

    response = client.post(
        f"/api/v1/cases/{case_id}/shelter-admissions", json=ADMISSION, headers=_office(auth)
    )

    assert response.status_code == 409
    assert (response.json()["rule"], response.json()["step"]) == ("consent_required", "L1.9")


def test_a_second_admission_and_a_discharge_without_a_stay_are_refused(
    client: TestClient, auth: Headers
):
    case_id = _case(client, auth, emergency=False, consent=True)
    url = f"/api/v1/cases/{case_id}"

    never_admitted = client.post(f"{url}/shelter-discharges", json=DISCHARGE, headers=_office(auth))
    client.post(f"{url}/shelter-admissions", json=ADMISSION, headers=_office(auth))
    again = client.post(f"{url}/shelter-admissions", json=ADMISSION, headers=_office(auth))

    assert never_admitted.status_code == 409
    assert (never_admitted.json()["rule"], never_admitted.json()["step"]) == (
        "not_in_shelter",
        "T4d",
    )
    assert again.status_code == 409
    assert (again.json()["rule"], again.json()["step"]) == ("already_in_shelter", "T4d")


def test_an_unknown_shelter_is_a_422_naming_the_field(client: TestClient, auth: Headers):
    case_id = _case(client, auth, emergency=False, consent=True)

    response = client.post(
        f"/api/v1/cases/{case_id}/shelter-admissions",
        json={**ADMISSION, "shelter": "rumah tetangga"},
        headers=_office(auth),
    )

    assert response.status_code == 422
    assert "body.shelter" in [error["field"] for error in response.json()["errors"]]
    assert "rumah tetangga" not in response.text


@pytest.mark.parametrize(
    ("district", "agency"),
    [
        ("kota-batu", "uptd_ppa"),
        ("luwu-utara", "uptd_ppa"),
        ("purwakarta", "uptd_ppa"),
        ("kutai-timur", "social"),
    ],
)
def test_a_district_that_runs_no_shelter_refuses_a_stay_naming_the_rule_and_records_nothing(
    client: TestClient, auth: Headers, district: str, agency: str
):
    """Only Tanjungpinang's SOP places victims in a shelter (T4d)."""
    office = auth("coordinator", agency=agency, district=district)
    case_id = client.post("/api/v1/cases", json=a_report_body(), headers=office).json()["case_id"]
    url = f"/api/v1/cases/{case_id}"
    before = client.get(url, headers=office).json()["version"]

    admitted = client.post(f"{url}/shelter-admissions", json=ADMISSION, headers=office)
    discharged = client.post(f"{url}/shelter-discharges", json=DISCHARGE, headers=office)

    for refused in (admitted, discharged):
        assert refused.status_code == 409
        assert (refused.json()["rule"], refused.json()["step"]) == ("process_not_run", "T4d")
        assert f"({district}) does not run the shelter process" in refused.json()["detail"]
    assert "aunt" not in discharged.text
    assert client.get(url, headers=office).json()["version"] == before
