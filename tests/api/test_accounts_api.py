"""Accounts over HTTP on the real PostgreSQL: an administrator invites, the person accepts
with a password and a second factor, logs in; lockout, deactivation, and who may administer."""

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from fastapi.testclient import TestClient

from domain.vocabulary import Agency
from gateways import runtime
from services.accounts import Accounts
from services.cases import Cases
from services.second_factor import code_at, step_at
from services.settings import Settings
from tests.support.lifecycle import Headers, a_report_body

PASSWORD = "Gunung Bromo pagi hari"


@pytest.fixture
def accounts(pg_cases: Cases, test_settings: Settings) -> Accounts:
    return runtime.accounts(pg_cases, test_settings)


def an_email(name: str = "rina") -> str:
    return f"{name}.{uuid4().hex[:10]}@uptd.example"


@pytest.fixture
def admin(client: TestClient, accounts: Accounts) -> dict[str, Any]:
    """A district's first office administrator, logged in with a second factor."""
    email = an_email("admin")
    invitation = accounts.create_first_administrator(
        email=email, display_name="Admin", district="luwu-utara", agency=Agency.UPTD_PPA
    )
    secret = accept(client, invitation.code)["secret"]
    token = log_in(client, email, PASSWORD, code_now(secret)).json()["access_token"]
    return {"email": email, "headers": {"Authorization": f"Bearer {token}"}}


def accept(client: TestClient, code: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post(
        "/api/v1/invitations/acceptance", json={"invitation_code": code, "password": password}
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


def log_in(client: TestClient, email: str, password: str, code: str | None = None) -> Any:
    body = {"email": email, "password": password}
    if code is not None:
        body["one_time_code"] = code
    return client.post("/api/v1/login", json=body)


def code_now(secret: str, offset: int = 0) -> str:
    return code_at(secret, step_at(datetime.now(UTC)) + offset)


def invite(
    client: TestClient, admin: dict[str, Any], role: str = "case_worker", **extra: str
) -> tuple[str, dict[str, Any]]:
    email = an_email()
    response = client.post(
        "/api/v1/staff",
        json={"email": email, "display_name": "Rina", "role": role, "agency": "uptd_ppa", **extra},
        headers=admin["headers"],
    )
    assert response.status_code == 201, response.text
    return email, response.json()


def test_an_invited_case_worker_accepts_logs_in_and_acts_with_the_token(
    client: TestClient, admin: dict[str, Any]
):
    email, invitation = invite(client, admin)
    offer = accept(client, invitation["invitation_code"])

    response = log_in(client, email, PASSWORD)

    assert offer["required"] is False and offer["otpauth_uri"].startswith("otpauth://totp/")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["role"], answer["district"], answer["user_id"]) == (
        "case_worker",
        "luwu-utara",
        invitation["user_id"],
    )
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {answer['access_token']}"})
    assert me.status_code == 200 and me.json()["user_id"] == invitation["user_id"]


def test_a_coordinator_cannot_log_in_without_the_one_time_code(
    client: TestClient, admin: dict[str, Any]
):
    email, invitation = invite(client, admin, role="coordinator")
    secret = accept(client, invitation["invitation_code"])["secret"]

    without = log_in(client, email, PASSWORD)
    wrong = log_in(client, email, PASSWORD, "000000" if code_now(secret) != "000000" else "111111")
    right = log_in(client, email, PASSWORD, code_now(secret))
    replayed = log_in(client, email, PASSWORD, code_now(secret))

    assert (without.status_code, without.json()["rule"]) == (401, "second_factor_required")
    assert (wrong.status_code, wrong.json()["rule"]) == (401, "bad_second_factor")
    assert right.status_code == 200
    assert (replayed.status_code, replayed.json()["rule"]) == (401, "bad_second_factor")


def test_a_wrong_password_and_an_unknown_address_are_refused_alike(
    client: TestClient, admin: dict[str, Any]
):
    email, invitation = invite(client, admin)
    accept(client, invitation["invitation_code"])

    wrong = log_in(client, email, "not the password at all")
    unknown = log_in(client, an_email("nobody"), PASSWORD)

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert email not in wrong.text


def test_five_failures_lock_the_account_out_even_with_the_right_password(
    client: TestClient, admin: dict[str, Any]
):
    email, invitation = invite(client, admin)
    accept(client, invitation["invitation_code"])

    for _ in range(5):
        assert log_in(client, email, "not the password at all").status_code == 401
    locked = log_in(client, email, PASSWORD)

    assert locked.status_code == 429
    assert locked.json()["rule"] == "locked_out"
    assert int(locked.headers["retry-after"]) >= 1


def test_an_invitation_is_used_once(client: TestClient, admin: dict[str, Any]):
    _, invitation = invite(client, admin)
    accept(client, invitation["invitation_code"])

    again = client.post(
        "/api/v1/invitations/acceptance",
        json={"invitation_code": invitation["invitation_code"], "password": PASSWORD + "!"},
    )

    assert again.status_code == 422
    assert again.json()["errors"][0]["field"] == "body.invitation_code"


def test_a_common_password_is_refused_naming_the_field_not_the_password(
    client: TestClient, admin: dict[str, Any]
):
    _, invitation = invite(client, admin)

    refused = client.post(
        "/api/v1/invitations/acceptance",
        json={"invitation_code": invitation["invitation_code"], "password": "passwordpassword"},
    )

    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "body.password"
    assert "passwordpassword" not in refused.text


def test_a_deactivated_persons_token_is_refused_at_once_and_they_cannot_log_in(
    client: TestClient, admin: dict[str, Any]
):
    email, invitation = invite(client, admin)
    accept(client, invitation["invitation_code"])
    token = log_in(client, email, PASSWORD).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200

    deactivated = client.post(
        f"/api/v1/staff/{invitation['user_id']}/deactivation",
        json={"reason": "left the office"},
        headers=admin["headers"],
    )

    assert deactivated.status_code == 200 and deactivated.json()["active"] is False
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert log_in(client, email, PASSWORD).status_code == 401


def test_a_role_change_ends_the_tokens_issued_for_the_old_role(
    client: TestClient, admin: dict[str, Any]
):
    email, invitation = invite(client, admin)
    accept(client, invitation["invitation_code"])
    token = log_in(client, email, PASSWORD).json()["access_token"]

    changed = client.post(
        f"/api/v1/staff/{invitation['user_id']}/role",
        json={"role": "intake_officer", "agency": "uptd_ppa"},
        headers=admin["headers"],
    )

    assert changed.status_code == 200 and changed.json()["role"] == "intake_officer"
    stale = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert stale.status_code == 401


def test_only_the_districts_office_administrator_administers_its_staff(
    client: TestClient, admin: dict[str, Any], auth: Headers
):
    _, invitation = invite(client, admin)
    elsewhere = auth("office_administrator", district="kota-batu")
    coordinator = auth("coordinator")

    listed = client.get("/api/v1/staff", headers=admin["headers"])
    by_coordinator = client.post(
        "/api/v1/staff",
        json={"email": an_email(), "display_name": "X", "role": "auditor", "agency": "uptd_ppa"},
        headers=coordinator,
    )
    from_elsewhere = client.post(
        f"/api/v1/staff/{invitation['user_id']}/deactivation", json={}, headers=elsewhere
    )

    assert invitation["user_id"] in [member["user_id"] for member in listed.json()]
    assert (by_coordinator.status_code, by_coordinator.json()["rule"]) == (
        403,
        "office_administrators_only",
    )
    assert from_elsewhere.status_code == 404


def test_an_address_taken_is_refused_and_nothing_is_recorded(
    client: TestClient, admin: dict[str, Any], pg_cases: Cases
):
    email, _ = invite(client, admin)
    head = pg_cases.recorder.max_notification_id()

    again = client.post(
        "/api/v1/staff",
        json={
            "email": email.upper(),
            "display_name": "Rina",
            "role": "case_worker",
            "agency": "uptd_ppa",
        },
        headers=admin["headers"],
    )

    assert (again.status_code, again.json()["rule"]) == (409, "email_taken")
    assert email not in again.text
    assert pg_cases.recorder.max_notification_id() == head


def test_office_administrators_read_no_case_and_record_no_report(
    client: TestClient, admin: dict[str, Any]
):
    listed = client.get("/api/v1/cases", headers=admin["headers"])
    reported = client.post("/api/v1/cases", json={}, headers=admin["headers"])

    assert listed.status_code == 403
    assert reported.status_code in (403, 422)


def test_the_directory_keeps_no_password_and_no_second_factor_key_in_clear(
    client: TestClient, admin: dict[str, Any], database_url: str, pg_cases: Cases
):
    _, invitation = invite(client, admin)
    secret = accept(client, invitation["invitation_code"])["secret"]

    with psycopg.connect(database_url) as conn:
        stored = repr(conn.execute("SELECT * FROM accounts.credentials").fetchall())
    notifications = pg_cases.recorder.select_notifications(
        start=0, limit=100_000, inclusive_of_start=False
    )
    events = repr([notification.state for notification in notifications])

    assert PASSWORD not in stored and secret not in stored and "$argon2id$" in stored
    assert PASSWORD not in events and secret not in events


def _classified_case(client: TestClient, auth: Headers) -> str:
    case_id: str = client.post(
        "/api/v1/cases", json=a_report_body(), headers=auth("intake_officer")
    ).json()["case_id"]
    classified = client.post(
        f"/api/v1/cases/{case_id}/classification",
        json={
            "case_type": "KTA",
            "risk_level": "high",
            "jurisdiction": "district",
            "emergency": False,
        },
        headers=auth("intake_officer"),
    )
    assert classified.status_code == 200, classified.text
    return case_id


def test_the_assigned_case_worker_must_be_an_active_case_worker_of_the_office(
    client: TestClient, admin: dict[str, Any], auth: Headers
):
    _, worker = invite(client, admin)
    _, intake = invite(client, admin, role="intake_officer")
    _, gone = invite(client, admin)
    client.post(f"/api/v1/staff/{gone['user_id']}/deactivation", json={}, headers=admin["headers"])
    case_id = _classified_case(client, auth)

    def assign(user_id: str) -> Any:
        return client.post(
            f"/api/v1/cases/{case_id}/case-worker",
            json={"case_worker_id": user_id},
            headers=auth("coordinator"),
        )

    not_a_worker, deactivated = assign(intake["user_id"]), assign(gone["user_id"])
    assigned = assign(worker["user_id"])

    for refused in (not_a_worker, deactivated):
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "body.case_worker_id"
    assert assigned.status_code == 200, assigned.text
