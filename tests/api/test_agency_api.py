"""The agency inbox endpoints and what agency officers may no longer read directly."""

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from tests.support.builders import a_matrix_without
from tests.support.lifecycle import Headers, a_report_body


def a_case_referred_to_the_school_after_a_medical_assessment(
    client: TestClient, auth: Headers
) -> str:
    def post(path: str, body: dict, role: str = "coordinator", **who: str) -> dict:
        response = client.post(f"/api/v1{path}", json=body, headers=auth(role, **who))
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    case_id = post("/cases", a_report_body(), "intake_officer")["case_id"]
    post(
        f"/cases/{case_id}/classification",
        {"case_type": "KTA", "risk_level": "high", "jurisdiction": "district", "emergency": False},
    )
    post(f"/cases/{case_id}/case-worker", {"case_worker_id": "rina"})
    post(
        f"/cases/{case_id}/consent",
        {"given": True, "given_by": "parent", "document_ref": "IC"},
        "case_worker",
        user="rina",
    )
    post(
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
    post(
        f"/cases/{case_id}/referrals",
        {"service_type": "return_to_school", "agency": "education"},
        "case_worker",
        user="rina",
    )
    return case_id


def test_the_school_cannot_read_the_medical_assessment_through_the_case_file(
    client: TestClient, auth: Headers
):
    case_id = a_case_referred_to_the_school_after_a_medical_assessment(client, auth)
    school = auth("agency_officer", agency="education")

    responses = [
        client.get(f"/api/v1/cases/{case_id}{path}", headers=school)
        for path in ("", "/events", "/due-steps")
    ]

    assert [r.status_code for r in responses] == [403, 403, 403]
    assert all(r.json()["rule"] == "agency_view_only" for r in responses)
    assert all("fractured" not in r.text for r in responses)


def test_the_case_team_still_reads_the_whole_file(client: TestClient, auth: Headers):
    case_id = a_case_referred_to_the_school_after_a_medical_assessment(client, auth)

    response = client.get(f"/api/v1/cases/{case_id}", headers=auth("case_worker", user="rina"))

    assert response.status_code == 200
    assert "fractured" in response.text


def test_an_agency_inbox_is_empty_before_its_projector_ran(client: TestClient, auth: Headers):
    response = client.get(
        "/api/v1/agencies/police/referrals", headers=auth("agency_officer", agency="police")
    )

    assert response.status_code == 200
    assert response.json() == []


def test_only_officers_of_the_agency_read_its_inbox(client: TestClient, auth: Headers):
    other_agency = client.get(
        "/api/v1/agencies/police/referrals", headers=auth("agency_officer", agency="health")
    )
    coordinator = client.get("/api/v1/agencies/police/referrals", headers=auth("coordinator"))
    anonymous = client.get("/api/v1/agencies/police/referrals")

    assert other_agency.status_code == 403
    assert coordinator.status_code == 403
    assert anonymous.status_code == 401


def test_an_agency_without_an_inbox_and_an_unknown_referral_get_404(
    client_under_matrix: Callable[[Path], TestClient], auth: Headers, tmp_path: Path
):
    """A deployment whose matrix (SIMPUL_SHARING_MATRIX) has no legal aid row has no inbox."""
    client = client_under_matrix(a_matrix_without(tmp_path, "legal_aid"))
    no_inbox = client.get(
        "/api/v1/agencies/legal_aid/referrals", headers=auth("agency_officer", agency="legal_aid")
    )
    unknown = client.get(
        "/api/v1/agencies/police/referrals/nope", headers=auth("agency_officer", agency="police")
    )

    assert no_inbox.status_code == 404
    assert unknown.status_code == 404


def test_an_invalid_filter_gets_422_naming_it(client: TestClient, auth: Headers):
    response = client.get(
        "/api/v1/agencies/police/referrals?status=lost",
        headers=auth("agency_officer", agency="police"),
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.status"
