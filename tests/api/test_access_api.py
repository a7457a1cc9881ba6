"""Who is calling, and what they may see and do."""

from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from gateways.tokens import TokenService
from tests.support.lifecycle import Headers, a_report_body


def _report(client: TestClient, auth: Headers) -> str:
    return client.post(
        "/api/v1/cases", json=a_report_body(), headers=auth("intake_officer")
    ).json()["case_id"]


def test_a_request_without_a_token_gets_401(client: TestClient):
    response = client.get("/api/v1/me")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_token_signed_with_another_deployments_key_gets_401(client: TestClient):
    foreign = TokenService.minting(Ed25519PrivateKey.generate())
    token = foreign.mint(Actor("mallory", Role.COORDINATOR, Agency.UPTD_PPA, "luwu-utara"))

    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401


def test_an_expired_token_gets_401(client: TestClient, tokens: TokenService):
    token = tokens.mint(
        Actor("siti", Role.INTAKE_OFFICER, Agency.UPTD_PPA, "luwu-utara"), ttl=timedelta(seconds=-1)
    )

    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_me_names_the_caller(client: TestClient, auth: Headers):
    response = client.get("/api/v1/me", headers=auth("case_worker", user="rina"))

    assert response.json() == {
        "user_id": "rina",
        "role": "case_worker",
        "agency": "uptd_ppa",
        "district": "luwu-utara",
    }


def test_an_agency_the_case_was_not_referred_to_is_told_it_does_not_exist(
    client: TestClient, auth: Headers
):
    case_id = _report(client, auth)

    response = client.get(
        f"/api/v1/cases/{case_id}", headers=auth("agency_officer", agency="police")
    )

    assert response.status_code == 404


def test_another_districts_office_is_told_the_case_does_not_exist(
    client: TestClient, auth: Headers
):
    case_id = _report(client, auth)

    response = client.get(
        f"/api/v1/cases/{case_id}", headers=auth("coordinator", district="kota-batu")
    )

    assert response.status_code == 404


def test_a_referred_agency_reads_neither_the_whole_case_file_nor_may_classify_it(
    client: TestClient, auth: Headers
):
    case_id = _report(client, auth)
    client.post(
        f"/api/v1/cases/{case_id}/classification",
        json={
            "case_type": "KTA",
            "risk_level": "high",
            "jurisdiction": "district",
            "emergency": True,
        },
        headers=auth("intake_officer"),
    )
    client.post(
        f"/api/v1/cases/{case_id}/referrals",
        json={"service_type": "medical_care", "agency": "health", "emergency": True},
        headers=auth("intake_officer"),
    )
    health = auth("agency_officer", agency="health")

    read = client.get(f"/api/v1/cases/{case_id}", headers=health)
    classify = client.post(
        f"/api/v1/cases/{case_id}/classification",
        json={
            "case_type": "KTA",
            "risk_level": "low",
            "jurisdiction": "district",
            "emergency": False,
        },
        headers=health,
    )

    assert read.status_code == 403
    assert read.json()["rule"] == "agency_view_only"
    assert classify.status_code == 403
    assert classify.json()["rule"] == "not_permitted"


def test_an_auditor_reads_any_case_but_cannot_issue_commands(client: TestClient, auth: Headers):
    case_id = _report(client, auth)
    auditor = auth("auditor", agency="province", district="sulawesi-selatan")

    read = client.get(f"/api/v1/cases/{case_id}/events", headers=auditor)
    command = client.post(
        f"/api/v1/cases/{case_id}/psychological-first-aid", json={"notes": "x"}, headers=auditor
    )

    assert read.status_code == 200
    assert command.status_code == 403
    assert command.json()["rule"] == "auditors_read_only"


def test_an_auditor_cannot_record_a_report(client: TestClient, auth: Headers):
    response = client.post("/api/v1/cases", json=a_report_body(), headers=auth("auditor"))

    assert response.status_code == 403


def test_a_token_with_the_case_workers_user_id_but_another_role_agency_or_district_is_refused(
    client: TestClient, auth: Headers
):
    case_id = _report(client, auth)
    client.post(
        f"/api/v1/cases/{case_id}/classification",
        json={
            "case_type": "KTA",
            "risk_level": "high",
            "jurisdiction": "district",
            "emergency": False,
        },
        headers=auth("intake_officer"),
    )
    assigned = client.post(
        f"/api/v1/cases/{case_id}/case-worker",
        json={"case_worker_id": "rina.pendamping"},
        headers=auth("coordinator"),
    )
    assert assigned.status_code == 200, assigned.text
    impostor = auth("data_officer", agency="police", district="kota-batu", user="rina.pendamping")

    case_file = client.get(f"/api/v1/cases/{case_id}", headers=impostor)
    export = client.get(f"/api/v1/cases/{case_id}/timeline.json", headers=impostor)
    termination = client.post(
        f"/api/v1/cases/{case_id}/termination",
        json={"kind": "agreed", "reason": "recovered", "termination_form_ref": "T-1"},
        headers=impostor,
    )

    assert [case_file.status_code, export.status_code, termination.status_code] == [404] * 3
    assert (
        client.get(
            f"/api/v1/cases/{case_id}", headers=auth("case_worker", user="rina.pendamping")
        ).status_code
        == 200
    )
