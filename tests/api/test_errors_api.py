"""Bad input gets a clear 4xx naming the field or rule; nothing is recorded; no value is echoed."""

from collections.abc import Callable
from pathlib import Path
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from services.case_commands import CASE_STEPS, ReferralCommand
from tests.support.builders import AGENCY_SERVICES, a_matrix_without
from tests.support.lifecycle import Headers, a_report_body, open_referred_case

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
        ({"unexpected": 1}, "body"),
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


def test_an_idempotency_key_reused_for_another_request_is_a_conflict(
    client: TestClient, auth: Headers
):
    headers = auth("intake_officer", **{"Idempotency-Key": "one-key-two-reports"})
    client.post("/api/v1/cases", json=a_report_body(), headers=headers)

    response = client.post(
        "/api/v1/cases", json=a_report_body(chronology="another"), headers=headers
    )

    assert response.status_code == 409
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
    pytest.param(b'{"unexpected": 1}', "body", id="an unknown field"),
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


# ---- Errors never repeat what was sent -----------------------------------------------------


def test_an_unknown_field_is_named_by_where_it_is_never_by_its_key(
    client: TestClient, auth: Headers
):
    body = a_report_body(victim={"sex": "female", SECRET_NAME: "adik"})

    response = client.post("/api/v1/cases", json=body, headers=auth("intake_officer"))

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "body.victim",
            "message": "has a field this request does not accept",
            "type": "extra_forbidden",
        }
    ]
    assert SECRET_NAME not in response.text


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/profiles/kembang-sepatu",
        "/api/v1/cases/6d9c3a5e-1f0b-4c7e-9a55-0b7d2f4e8c11",
        "/api/v1/cases/6d9c3a5e-1f0b-4c7e-9a55-0b7d2f4e8c11/timeline",
    ],
)
def test_a_404_never_repeats_what_the_path_named(client: TestClient, auth: Headers, url: str):
    response = client.get(url, headers=auth("auditor", agency="province"))

    assert response.status_code == 404
    assert "kembang" not in response.text and "6d9c3a5e" not in response.text


def test_an_unknown_referral_is_404_without_repeating_its_id(client: TestClient, auth: Headers):
    case_id = _report(client, auth)
    referral = "5e0c0b9e-7a41-4d6b-8f3e-2b7c9d1a0f55"

    response = client.post(
        f"/api/v1/cases/{case_id}/referrals/{referral}/cancellation",
        json={"reason": "x"},
        headers=auth("coordinator"),
    )

    assert response.status_code == 404
    assert referral not in response.text and case_id not in response.text


def test_a_bad_uuid_is_refused_without_quoting_its_characters(client: TestClient, auth: Headers):
    response = client.get("/api/v1/cases/Kembang-Sepatu", headers=auth("coordinator"))

    assert response.status_code == 422
    assert response.json()["errors"][0]["message"] == "must be a UUID"
    assert "Kembang" not in response.text and "`" not in response.text


# ---- Moments, days and numbers as JSON spells them -----------------------------------------


@pytest.mark.parametrize(
    "route", ["", "/timeline", "/timeline.json", "/timeline.html"], ids=lambda r: r or "case file"
)
@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_a_moment_no_time_zone_can_show_is_refused_naming_as_of_not_a_500(
    client: TestClient, auth: Headers, route: str, moment: str
):
    case_id = _report(client, auth)

    response = client.get(
        f"/api/v1/cases/{case_id}{route}",
        params={"as_of": moment},
        headers=auth("auditor", agency="province"),
    )

    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == ["query.as_of"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"arrived_at": "0001-01-01T00:30:00+01:00"}, "body.arrived_at"),
        ({"arrived_at": 1772323200}, "body.arrived_at"),
        ({"arrived_at": "2026-03-01 08:00:00+08:00"}, "body.arrived_at"),
        ({"victim": {"age": "12"}}, "body.victim.age"),
        ({"victim": {"age": True}}, "body.victim.age"),
        ({"victim": {"birth_date": 1772323200}}, "body.victim.birth_date"),
        ({"victim": {"nik": "\u0661" * 16}}, "body.victim.nik"),
        ({"psychological_first_aid_needed": "yes"}, "body.psychological_first_aid_needed"),
    ],
)
def test_values_json_does_not_spell_as_the_document_says_are_refused(
    client: TestClient, auth: Headers, change: dict, field: str
):
    response = client.post(
        "/api/v1/cases", json=a_report_body(**change), headers=auth("intake_officer")
    )

    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == [field]


def test_a_whole_number_written_with_a_decimal_point_is_a_whole_number(
    client: TestClient, auth: Headers
):
    response = client.post(
        "/api/v1/cases",
        json=a_report_body(victim={"sex": "female", "age": 12.0}),
        headers=auth("intake_officer"),
    )

    assert response.status_code == 201, response.text


# ---- An unexpected error -------------------------------------------------------------------


def test_an_unexpected_error_is_a_500_problem_and_the_log_has_its_type_only(
    pg_cases, tokens, caplog: pytest.LogCaptureFixture
):
    from gateways.runtime import api

    app = api(pg_cases, tokens)

    @app.get("/api/v1/broken")
    def broken() -> None:
        raise RuntimeError(f"cannot show {SECRET_NAME}")

    # raise_server_exceptions: an error escaping the app (which the server would log
    # with its traceback) fails the test instead of becoming a 500.
    with caplog.at_level("DEBUG"), TestClient(app, raise_server_exceptions=True) as client:
        response = client.get("/api/v1/broken")

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:simpul:problem:internal"
    assert "unexpected error: RuntimeError" in caplog.text
    assert SECRET_NAME not in caplog.text
    assert all(record.exc_info is None for record in caplog.records)


@pytest.mark.parametrize("given", ["yes", "true", 1, 0, "1", None])
def test_a_consent_is_recorded_only_from_a_json_boolean(
    client: TestClient, auth: Headers, given: object
):
    case_id = _report(client, auth)

    response = client.post(
        f"/api/v1/cases/{case_id}/consent",
        json={"given": given, "given_by": "parent", "document_ref": "IC-1"},
        headers=auth("case_worker"),
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.given"
    assert _version(client, auth, case_id) == 1


def test_a_repeated_form_of_violence_is_refused_as_the_document_says(
    client: TestClient, auth: Headers
):
    case_id = _report(client, auth)

    response = client.post(
        f"/api/v1/cases/{case_id}/classification",
        json={
            "case_type": "KTA",
            "risk_level": "high",
            "jurisdiction": "district",
            "emergency": False,
            "forms_of_violence": ["physical", "physical"],
        },
        headers=auth("intake_officer"),
    )

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "body.forms_of_violence",
            "message": "must not repeat a value",
            "type": "repeated_value",
        }
    ]


def test_a_body_that_is_not_utf8_gets_the_documented_422(client: TestClient, auth: Headers):
    response = client.post(
        "/api/v1/cases",
        content=b'{"chronology": "\xff\xfe"}',
        headers={**auth("intake_officer"), "Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "body", "message": "not valid JSON: not UTF-8", "type": "json_invalid"}
    ]


@pytest.mark.parametrize(("agency", "service_type"), AGENCY_SERVICES)
def test_a_referral_to_an_agency_without_an_inbox_is_422_naming_the_rule(
    client_under_matrix: Callable[[Path], TestClient],
    auth: Headers,
    tmp_path: Path,
    agency: str,
    service_type: str,
):
    """L4.1: a deployment whose matrix leaves the agency out has no inbox for it, and a
    referral there is refused, not recorded and left unread."""
    client = client_under_matrix(a_matrix_without(tmp_path, agency))
    case_id = open_referred_case(client, auth("coordinator"), {})
    version = _version(client, auth, case_id)

    response = client.post(
        f"/api/v1/cases/{case_id}/referrals",
        json={"service_type": service_type, "agency": agency},
        headers=auth("coordinator"),
    )

    assert response.status_code == 422
    problem = response.json()
    assert problem["rule"] == "agency_not_connected"
    assert problem["step"] == "L4.1"
    assert problem["errors"][0]["field"] == "body.agency"
    assert f"to {agency}:" in problem["detail"]
    assert _version(client, auth, case_id) == version
