"""Service accounts over HTTP on the real PostgreSQL: an office administrator gives the
police's case system a key; it reads the police inbox and answers its referrals as the
service account, is refused everything else, and is refused within seconds once its key
is revoked or its account deactivated."""

import logging
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

import psycopg
import pytest
from fastapi.testclient import TestClient

from domain.vocabulary import Agency
from gateways import runtime
from gateways.tokens import TokenService
from services.cases import Cases
from services.settings import Settings
from tests.api.test_accounts_api import accept, an_email, code_now, log_in
from tests.support.inboxes import project_inbox
from tests.support.lifecycle import Headers, open_referred_case

pytestmark = pytest.mark.integration

PASSWORD = "Gunung Bromo pagi hari"
POLICE_SYSTEM = {
    "name": "Sistem perkara Polres Luwu Utara",
    "agency": "police",
    "scopes": ["inbox:read", "referrals:answer"],
}


@pytest.fixture
def admin(client: TestClient) -> dict[str, str]:
    """The district's office administrator from the directory, logged in with a second factor."""
    email = an_email("admin")
    invitation = client.app.state.accounts.create_first_administrator(  # type: ignore[attr-defined]
        email=email, display_name="Admin", district="luwu-utara", agency=Agency.UPTD_PPA
    )
    secret = accept(client, invitation.code)["secret"]
    token = log_in(client, email, PASSWORD, code_now(secret)).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def create(client: TestClient, admin: dict[str, str], **changes: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/service-accounts", json={**POLICE_SYSTEM, **changes}, headers=admin
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


def secret_of(key: str) -> str:
    """The secret of simpul_sk_<16 hex digits>_<secret> (which may itself hold a "_")."""
    return key[len("simpul_sk_") + 17 :]


def bearer(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


def police_inbox(client: TestClient, key: str, **extra: str) -> Any:
    return client.get("/api/v1/agencies/police/referrals", headers=bearer(key, **extra))


def a_referral_to_the_police(client: TestClient, auth: Headers, cases: Cases) -> tuple[str, str]:
    case_id = open_referred_case(client, auth("coordinator"), {"police": "legal_process"})
    project_inbox(cases, "police")
    officer = client.get(
        "/api/v1/agencies/police/referrals", headers=auth("agency_officer", agency="police")
    )
    [referral] = officer.json()
    return case_id, str(referral["referral_id"])


def access_log(database_url: str) -> list[dict[str, Any]]:
    with psycopg.connect(database_url) as conn:
        cursor = conn.execute(
            "SELECT user_id, role, agency, case_id, view, outcome, reason "
            "FROM cases_access_log ORDER BY id"
        )
        names = [column.name for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def refused_within(seconds: float, call: Callable[[], Any]) -> Any:
    """Poll until the call is refused (401), as another process honours a revocation."""
    deadline = time.monotonic() + seconds
    while True:
        response = call()
        if response.status_code == 401 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_an_administrator_creates_a_police_system_and_sees_its_key_once(
    client: TestClient, admin: dict[str, str], pg_cases: Cases
):
    created = create(client, admin)
    listed = client.get("/api/v1/service-accounts", headers=admin)

    key = created["api_key"]
    account = created["account"]
    assert key.startswith(f"simpul_sk_{created['key_id']}_") and len(key) == 10 + 16 + 1 + 43
    assert (account["agency"], account["district"], account["active"]) == (
        "police",
        "luwu-utara",
        True,
    )
    assert account["scopes"] == ["inbox:read", "referrals:answer"]
    assert account["user_id"] == f"service:{account['account_id']}"
    assert listed.status_code == 200 and listed.headers["cache-control"] == "no-store"
    assert listed.json() == [account]
    assert secret_of(key) not in listed.text
    # The history names who created it, its scopes and its key by id: never the secret.
    events = list(pg_cases.events.get(UUID(account["account_id"])))
    assert [type(event).__name__ for event in events] == ["Created", "KeyIssued"]
    assert events[0].actor["user_id"] == account["created_by"]  # type: ignore[attr-defined]
    assert events[0].actor["role"] == "office_administrator"  # type: ignore[attr-defined]
    assert events[1].key_id == created["key_id"]  # type: ignore[attr-defined]
    assert all(secret_of(key) not in repr(vars(event)) for event in events)


def test_the_key_reads_the_police_inbox_and_accepts_a_referral_as_the_service_account(
    client: TestClient, admin: dict[str, str], auth: Headers, pg_cases: Cases, database_url: str
):
    case_id, referral_id = a_referral_to_the_police(client, auth, pg_cases)
    created = create(client, admin)
    key, user_id = created["api_key"], created["account"]["user_id"]

    inbox = police_inbox(client, key, **{"X-Request-ID": "police-sync-1"})
    accepted = client.post(
        f"/api/v1/cases/{case_id}/referrals/{referral_id}/acceptance",
        json={"notes": "diterima oleh sistem Polres"},
        headers=bearer(key),
    )

    assert inbox.status_code == 200, inbox.text
    assert [referral["referral_id"] for referral in inbox.json()] == [referral_id]
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["recorded"] == ["ReferralAccepted"]
    last = list(pg_cases.events.get(UUID(case_id)))[-1]
    assert last.actor == {  # type: ignore[attr-defined]
        "user_id": user_id,
        "role": "agency_officer",
        "agency": "police",
        "district": "luwu-utara",
    }
    reads = [row for row in access_log(database_url) if row["user_id"] == user_id]
    assert reads == [
        {
            "user_id": user_id,
            "role": "agency_officer",
            "agency": "police",
            "case_id": UUID(case_id),
            "view": "list_referrals",
            "outcome": "granted",
            "reason": None,
        }
    ]


def test_the_key_is_refused_office_steps_other_inboxes_and_what_its_scopes_do_not_open(
    client: TestClient, admin: dict[str, str], auth: Headers, pg_cases: Cases, database_url: str
):
    case_id, referral_id = a_referral_to_the_police(client, auth, pg_cases)
    police = create(client, admin)["api_key"]
    reader = create(client, admin, name="Dasbor Polres", scopes=["inbox:read"])
    user_id = reader["account"]["user_id"]

    office_step = client.post(
        f"/api/v1/cases/{case_id}/classification",
        json={
            "case_type": "KTA",
            "risk_level": "low",
            "jurisdiction": "district",
            "emergency": False,
        },
        headers=bearer(police),
    )
    cancellation = client.post(
        f"/api/v1/cases/{case_id}/referrals/{referral_id}/cancellation",
        json={"reason": "tidak perlu"},
        headers=bearer(police),
    )
    case_file = client.get(f"/api/v1/cases/{case_id}", headers=bearer(police))
    health_inbox = client.get("/api/v1/agencies/health/referrals", headers=bearer(police))
    administration = client.get("/api/v1/service-accounts", headers=bearer(police))
    answer_without_scope = client.post(
        f"/api/v1/cases/{case_id}/referrals/{referral_id}/acceptance",
        json={},
        headers=bearer(reader["api_key"]),
    )

    for refused in (office_step, cancellation, case_file, administration):
        assert refused.status_code == 403, refused.text
        assert refused.json()["rule"] == "not_for_service_accounts"
    assert health_inbox.status_code == 403
    assert answer_without_scope.status_code == 403
    assert answer_without_scope.json()["rule"] == "scope_required"
    assert "referrals:answer" in answer_without_scope.json()["detail"]
    assert police_inbox(client, reader["api_key"]).status_code == 200
    # The refusal is attributed to the service account, naming the rule.
    reader_rows = [row for row in access_log(database_url) if row["user_id"] == user_id]
    assert [(row["view"], row["outcome"], row["reason"]) for row in reader_rows] == [
        ("accept_referral", "denied", "scope_required"),
        ("list_referrals", "granted", None),
    ]
    assert [type(event).__name__ for event in pg_cases.events.get(UUID(case_id))][-1] == (
        "Referred"
    )


@pytest.fixture
def another_api_process(pg_cases: Cases, tokens: TokenService, test_settings: Settings) -> Any:
    """A second API process over the same database, with its own cache of checked keys."""
    with TestClient(runtime.api(pg_cases, tokens, settings=test_settings)) as other:
        yield other


def test_a_revoked_key_and_a_deactivated_account_are_refused_within_seconds(
    client: TestClient,
    admin: dict[str, str],
    another_api_process: TestClient,
    database_url: str,
):
    created = create(client, admin)
    account_id, first = created["account"]["account_id"], created["api_key"]
    rotated = client.post(f"/api/v1/service-accounts/{account_id}/keys", headers=admin)
    second = rotated.json()["api_key"]
    # Both processes have checked both keys: each trusts them for a while.
    for process in (client, another_api_process):
        assert police_inbox(process, first).status_code == 200
        assert police_inbox(process, second).status_code == 200

    revoked = client.post(
        f"/api/v1/service-accounts/{account_id}/keys/{created['key_id']}/revocation",
        headers=admin,
    )

    assert rotated.status_code == 201 and rotated.json()["key_id"] != created["key_id"]
    assert revoked.status_code == 200
    assert revoked.json()["key_ids"] == [rotated.json()["key_id"]]
    assert police_inbox(client, first).status_code == 401
    elsewhere = refused_within(30, lambda: police_inbox(another_api_process, first))
    assert elsewhere.status_code == 401 and elsewhere.json()["detail"] == (
        "the API key has been revoked"
    )
    assert police_inbox(another_api_process, second).status_code == 200

    deactivated = client.post(
        f"/api/v1/service-accounts/{account_id}/deactivation",
        json={"reason": "sistem diganti"},
        headers=admin,
    )

    assert deactivated.status_code == 200 and deactivated.json()["active"] is False
    assert police_inbox(client, second).status_code == 401
    assert refused_within(30, lambda: police_inbox(another_api_process, second)).status_code == 401
    again = client.post(f"/api/v1/service-accounts/{account_id}/keys", headers=admin)
    assert (again.status_code, again.json()["rule"]) == (409, "account_inactive")
    reasons = {
        row["reason"] for row in access_log(database_url) if row["outcome"] == "unauthenticated"
    }
    assert reasons == {"api_key_revoked", "service_account_inactive"}


def test_another_districts_administrator_and_other_staff_cannot_manage_it(
    client: TestClient, admin: dict[str, str], auth: Headers
):
    created = create(client, admin)
    account_id, key_id = created["account"]["account_id"], created["key_id"]
    batu = auth("office_administrator", user="admin.batu", district="kota-batu")
    coordinator = auth("coordinator")
    paths = [
        f"/api/v1/service-accounts/{account_id}/keys",
        f"/api/v1/service-accounts/{account_id}/keys/{key_id}/revocation",
        f"/api/v1/service-accounts/{account_id}/deactivation",
    ]

    from_batu = [client.post(path, json={}, headers=batu) for path in paths]
    from_coordinator = [client.post(path, json={}, headers=coordinator) for path in paths]
    batu_list = client.get("/api/v1/service-accounts", headers=batu)
    coordinator_creates = client.post(
        "/api/v1/service-accounts", json=POLICE_SYSTEM, headers=coordinator
    )

    assert [response.status_code for response in from_batu] == [404, 404, 404]
    assert [response.status_code for response in from_coordinator] == [403, 403, 403]
    assert batu_list.status_code == 200 and batu_list.json() == []
    assert coordinator_creates.status_code == 403
    assert coordinator_creates.json()["rule"] == "office_administrators_only"
    assert police_inbox(client, created["api_key"]).status_code == 200


def test_an_agency_without_an_inbox_and_an_unknown_scope_are_refused_naming_the_field(
    client: TestClient, admin: dict[str, str]
):
    office = client.post(
        "/api/v1/service-accounts", json={**POLICE_SYSTEM, "agency": "uptd_ppa"}, headers=admin
    )
    scope = client.post(
        "/api/v1/service-accounts", json={**POLICE_SYSTEM, "scopes": ["cases:write"]}, headers=admin
    )
    repeated = client.post(
        "/api/v1/service-accounts",
        json={**POLICE_SYSTEM, "scopes": ["inbox:read", "inbox:read"]},
        headers=admin,
    )

    assert office.status_code == 422 and office.json()["errors"][0]["field"] == "body.agency"
    assert scope.status_code == 422 and scope.json()["errors"][0]["field"] == "body.scopes.0"
    assert repeated.status_code == 422 and repeated.json()["errors"][0]["field"] == "body.scopes"


def test_a_bad_key_is_refused_recorded_by_reason_and_never_echoed(
    client: TestClient,
    admin: dict[str, str],
    database_url: str,
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.DEBUG)
    created = create(client, admin)
    key, key_id = created["api_key"], created["key_id"]
    secret = secret_of(key)
    wrong_secret = f"simpul_sk_{key_id}_{'A' * 43}"
    unknown = f"simpul_sk_{'0' * 16}_{secret}"
    malformed = f"simpul_sk_{secret}"

    answers = [
        police_inbox(client, credential) for credential in (wrong_secret, unknown, malformed)
    ]

    assert [answer.status_code for answer in answers] == [401, 401, 401]
    for answer in answers:
        assert secret not in answer.text and "A" * 43 not in answer.text
        assert answer.headers["www-authenticate"] == "Bearer"
    failures = [row for row in access_log(database_url) if row["outcome"] == "unauthenticated"]
    assert [(row["user_id"], row["view"], row["reason"]) for row in failures] == [
        (None, "list_referrals", "api_key_unknown"),
        (None, "list_referrals", "api_key_unknown"),
        (None, "list_referrals", "api_key_malformed"),
    ]
    assert secret not in caplog.text and key_id not in caplog.text


def test_the_document_says_how_to_send_a_key_and_which_scope_each_operation_needs(
    client: TestClient,
):
    document = client.get("/api/v1/openapi.json").json()
    paths = document["paths"]

    scheme = document["components"]["securitySchemes"]["HTTPBearer"]
    assert scheme["scheme"] == "bearer" and "simpul_sk_" in scheme["description"]
    acceptance = paths["/api/v1/cases/{case_id}/referrals/{referral_id}/acceptance"]["post"]
    assert acceptance["x-simpul-key-scope"] == "referrals:answer"
    assert paths["/api/v1/agencies/{agency}/referrals"]["get"]["x-simpul-key-scope"] == "inbox:read"
    assert "x-simpul-key-scope" not in paths["/api/v1/cases/{case_id}/classification"]["post"]
    assert "x-simpul-key-scope" not in paths["/api/v1/service-accounts"]["post"]


def test_a_token_naming_a_service_account_is_refused_it_acts_through_its_keys_alone(
    client: TestClient, admin: dict[str, str], auth: Headers, database_url: str
):
    user_id = create(client, admin)["account"]["user_id"]

    response = client.get(
        "/api/v1/agencies/police/referrals",
        headers=auth("agency_officer", agency="police", user=user_id),
    )

    assert response.status_code == 401
    assert [row["reason"] for row in access_log(database_url) if row["reason"]] == [
        "token_names_service_account"
    ]
