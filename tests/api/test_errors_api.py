"""Bad input gets a clear 4xx naming the field or rule; nothing is recorded; no value is echoed."""

from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from services.case_commands import CASE_STEPS, ReferralCommand
from tests.support.lifecycle import Headers, a_report_body

SECRET_NAME = "Kembang Sepatu"
SECRET_NIK = "12345678901234X6"


def _report(client: TestClient, auth: Headers) -> str:
    return client.post(
        "/api/v1/cases", json=a_report_body(), headers=auth("intake_officer")
    ).json()["case_id"]


def _version(client: TestClient, auth: Headers, case_id: str) -> int:
    return client.get(f"/api/v1/cases/{case_id}", headers=auth("coordinator")).json()["version"]


def test_an_invalid_field_is_named_and_its_value_not_echoed(client: TestClient, auth: Headers):
    body = a_report_body(victim={"name": SECRET_NAME, "nik": SECRET_NIK})

    response = client.post("/api/v1/cases", json=body, headers=auth("intake_officer"))

    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "urn:simpul:problem:invalid-request"
    assert [error["field"] for error in problem["errors"]] == ["body.victim.nik"]
    assert SECRET_NIK not in response.text
    assert SECRET_NAME not in response.text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channel": "pigeon"}, "body.channel"),
        ({"arrived_at": "2026-03-01T08:00:00"}, "body.arrived_at"),
        ({"chronology": ""}, "body.chronology"),
        ({"unexpected": 1}, "body.unexpected"),
        ({"victim": {"age": 200}}, "body.victim.age"),
    ],
)
def test_each_kind_of_bad_report_is_refused_naming_its_field(
    client: TestClient, auth: Headers, change: dict, field: str
):
    response = client.post(
        "/api/v1/cases", json=a_report_body(**change), headers=auth("intake_officer")
    )

    assert response.status_code == 422
    assert field in [error["field"] for error in response.json()["errors"]]


def test_a_report_from_the_future_is_refused_naming_arrived_at(client: TestClient, auth: Headers):
    response = client.post(
        "/api/v1/cases",
        json=a_report_body(arrived_at="2999-01-01T00:00:00+00:00"),
        headers=auth("intake_officer"),
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.arrived_at"


def test_a_referral_before_consent_is_refused_with_the_rule_and_nothing_recorded(
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

    response = client.post(
        f"/api/v1/cases/{case_id}/referrals",
        json={"service_type": "legal_process", "agency": "police"},
        headers=auth("coordinator"),
    )

    assert response.status_code == 409
    assert response.json()["rule"] == "consent_required"
    assert response.json()["step"] == "L1.9"
    assert _version(client, auth, case_id) == 2


def test_a_stale_if_match_gets_409_and_the_current_etag(client: TestClient, auth: Headers):
    case_id = _report(client, auth)
    client.post(
        f"/api/v1/cases/{case_id}/psychological-first-aid",
        json={"notes": "a"},
        headers=auth("case_worker"),
    )

    response = client.post(
        f"/api/v1/cases/{case_id}/psychological-first-aid",
        json={"notes": "b"},
        headers=auth("case_worker", **{"If-Match": '"1"'}),
    )

    assert response.status_code == 409
    assert response.json()["type"] == "urn:simpul:problem:version-conflict"
    assert response.headers["ETag"] == '"2"'
    assert _version(client, auth, case_id) == 2


def test_a_current_if_match_is_accepted(client: TestClient, auth: Headers):
    case_id = _report(client, auth)

    response = client.post(
        f"/api/v1/cases/{case_id}/psychological-first-aid",
        json={"notes": "a"},
        headers=auth("case_worker", **{"If-Match": '"1"'}),
    )

    assert response.status_code == 200
    assert response.headers["ETag"] == '"2"'


def test_a_malformed_if_match_is_refused_naming_the_header(client: TestClient, auth: Headers):
    case_id = _report(client, auth)

    response = client.post(
        f"/api/v1/cases/{case_id}/psychological-first-aid",
        json={"notes": "a"},
        headers=auth("case_worker", **{"If-Match": "yesterday"}),
    )

    assert response.status_code == 422
    assert "If-Match" in response.json()["detail"]


def test_an_idempotency_key_reused_for_another_request_is_refused(
    client: TestClient, auth: Headers
):
    headers = auth("intake_officer", **{"Idempotency-Key": "one-key-two-reports"})
    client.post("/api/v1/cases", json=a_report_body(), headers=headers)

    response = client.post(
        "/api/v1/cases", json=a_report_body(chronology="another"), headers=headers
    )

    assert response.status_code == 422
    assert response.json()["type"] == "urn:simpul:problem:idempotency-key-reused"


def test_a_retried_report_returns_the_first_answer_and_opens_no_second_case(
    client: TestClient, auth: Headers
):
    headers = auth("intake_officer", **{"Idempotency-Key": "retry-of-one-report"})
    body = a_report_body()

    first = client.post("/api/v1/cases", json=body, headers=headers)
    second = client.post("/api/v1/cases", json=body, headers=headers)

    assert first.status_code == 201 and second.status_code == 201
    assert second.json()["case_id"] == first.json()["case_id"]
    assert second.json()["replayed"] is True
    assert second.headers["Idempotent-Replayed"] == "true"
    next_number = client.post(
        "/api/v1/cases", json=a_report_body(), headers=auth("intake_officer")
    ).json()
    assert int(next_number["register_number"][-5:]) == int(first.json()["register_number"][-5:]) + 1


def test_an_unknown_case_is_404(client: TestClient, auth: Headers):
    response = client.get(
        "/api/v1/cases/00000000-0000-4000-8000-000000000000", headers=auth("coordinator")
    )

    assert response.status_code == 404


def test_an_unknown_referral_is_404(client: TestClient, auth: Headers):
    case_id = _report(client, auth)

    response = client.post(
        f"/api/v1/cases/{case_id}/referrals/00000000-0000-4000-8000-000000000000/cancellation",
        json={"reason": "x"},
        headers=auth("coordinator"),
    )

    assert response.status_code == 404


def test_a_command_on_a_closed_case_is_refused_with_case_closed(client: TestClient, auth: Headers):
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
    client.post(
        f"/api/v1/cases/{case_id}/consent",
        json={"given": False, "given_by": "victim"},
        headers=auth("case_worker"),
    )

    response = client.post(
        f"/api/v1/cases/{case_id}/psychological-first-aid",
        json={"notes": "x"},
        headers=auth("case_worker"),
    )

    assert response.status_code == 409
    assert response.json()["rule"] == "case_closed"


def test_a_malformed_case_id_is_refused_naming_the_path_parameter(
    client: TestClient, auth: Headers
):
    response = client.get("/api/v1/cases/not-a-uuid", headers=auth("coordinator"))

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "path.case_id"


def test_invalid_json_is_a_422_not_a_500(client: TestClient, auth: Headers):
    response = client.post(
        "/api/v1/cases",
        content=b"{not json",
        headers={**auth("intake_officer"), "Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "body", "message": "not valid JSON at character 1", "type": "json_invalid"}
    ]


STEP_PATHS = [
    f"referrals/{{referral_id}}/{command.step.path}"
    if issubclass(command, ReferralCommand)
    else command.step.path
    for command in CASE_STEPS
]
BAD_BODIES = [
    pytest.param(b"[]", "body", id="a JSON array"),
    pytest.param(b'{"unexpected": 1}', "body.unexpected", id="an unknown field"),
    pytest.param(b"{not json", "body", id="not JSON"),
]


@pytest.mark.parametrize("path", STEP_PATHS)
@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
def test_every_step_refuses_a_bad_body_naming_the_field_and_records_nothing(
    client: TestClient, auth: Headers, path: str, body: bytes, field: str
):
    case_id = _report(client, auth)
    before = _version(client, auth, case_id)
    url = f"/api/v1/cases/{case_id}/" + path.format(referral_id=uuid4())

    response = client.post(
        url, content=body, headers={**auth("coordinator"), "Content-Type": "application/json"}
    )

    assert response.status_code == 422, response.text
    assert field in [error["field"] for error in response.json()["errors"]]
    assert _version(client, auth, case_id) == before
