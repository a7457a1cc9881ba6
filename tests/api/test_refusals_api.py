"""Refusals are in the access log: failed authentication (401) and denied authorization
(403, and 404 for a case the caller may not see), without personal data."""

from datetime import timedelta
from typing import Any
from uuid import UUID

import jwt
import psycopg
from fastapi.testclient import TestClient

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from gateways.tokens import TokenService
from tests.support.lifecycle import Headers, a_report_body

COLUMNS = "user_id, role, agency, district, case_id, view, purpose, request_id, outcome, reason"


def _log(database_url: str) -> list[dict[str, Any]]:
    with psycopg.connect(database_url) as conn:
        cursor = conn.execute(f"SELECT {COLUMNS} FROM cases_access_log ORDER BY id")
        names = [column.name for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _report(client: TestClient, auth: Headers) -> str:
    response = client.post("/api/v1/cases", json=a_report_body(), headers=auth("intake_officer"))
    return str(response.json()["case_id"])


def _unauthenticated(view: str, reason: str) -> dict[str, Any]:
    return {
        "user_id": None,
        "role": None,
        "agency": None,
        "district": None,
        "case_id": None,
        "view": view,
        "purpose": None,
        "request_id": None,
        "outcome": "unauthenticated",
        "reason": reason,
    }


def test_a_refused_token_is_recorded_by_view_and_reason_with_nothing_of_the_token_or_path(
    client: TestClient, auth: Headers, tokens: TokenService, database_url: str
) -> None:
    case_id = _report(client, auth)
    # A token claiming a name, as a forger would write one.
    forged = jwt.encode(
        {"sub": "Mawar Binti Melati", "role": "auditor"}, "x" * 32, algorithm="HS256"
    )
    expired = tokens.mint(
        Actor("siti", Role.INTAKE_OFFICER, Agency.UPTD_PPA, "luwu-utara"),
        ttl=timedelta(seconds=-1),
    )
    purpose = {"X-Access-Purpose": "Mawar's file", "X-Request-ID": "probe-1"}

    answers = [
        client.get(f"/api/v1/cases/{case_id}", headers=purpose).status_code,
        client.get(
            f"/api/v1/cases/{case_id}", headers={"Authorization": f"Bearer {forged}", **purpose}
        ).status_code,
        client.get(
            f"/api/v1/cases/{case_id}/timeline",
            headers={"Authorization": f"Bearer {expired}", **purpose},
        ).status_code,
    ]

    assert answers == [401, 401, 401]
    assert _log(database_url) == [
        _unauthenticated("read_case", "token_missing"),
        _unauthenticated("read_case", "token_invalid"),
        _unauthenticated("read_timeline", "token_expired"),
    ]


def test_a_case_of_another_district_is_recorded_as_not_found_with_the_caller_and_case(
    client: TestClient, auth: Headers, database_url: str
) -> None:
    case_id = _report(client, auth)

    response = client.get(
        f"/api/v1/cases/{case_id}",
        headers=auth(
            "coordinator",
            user="koordinator.batu",
            district="kota-batu",
            **{"X-Request-ID": "req-7", "X-Access-Purpose": "Mawar's file"},
        ),
    )

    assert response.status_code == 404
    assert _log(database_url) == [
        {
            "user_id": "koordinator.batu",
            "role": "coordinator",
            "agency": "uptd_ppa",
            "district": "kota-batu",
            "case_id": UUID(case_id),
            "view": "read_case",
            "purpose": None,
            "request_id": "req-7",
            "outcome": "not_found",
            "reason": "case_not_visible",
        }
    ]


def test_denied_commands_reads_and_views_are_recorded_with_their_rule(
    client: TestClient, auth: Headers, database_url: str
) -> None:
    case_id = _report(client, auth)
    auditor = auth("auditor", agency="province", user="inspektorat.01")

    answers = [
        client.post(
            f"/api/v1/cases/{case_id}/psychological-first-aid",
            json={"notes": "x"},
            headers=auditor,
        ).status_code,
        client.get("/api/v1/workload", headers=auth("agency_officer", agency="police")).status_code,
        client.get(
            "/api/v1/agencies/police/referrals", headers=auth("agency_officer", agency="health")
        ).status_code,
    ]

    assert answers == [403, 403, 403]
    refusals = [
        (row["user_id"], row["case_id"] is not None, row["view"], row["outcome"], row["reason"])
        for row in _log(database_url)
    ]
    assert refusals == [
        ("inspektorat.01", True, "give_psychological_first_aid", "denied", "auditors_read_only"),
        ("agency_officer.police", False, "workload", "denied", "coordinator_views"),
        ("agency_officer.health", False, "list_referrals", "denied", "not_permitted"),
    ]


def test_an_auditor_sees_a_cases_refusals_among_its_reads(
    client: TestClient, auth: Headers
) -> None:
    case_id = _report(client, auth)
    client.get(f"/api/v1/cases/{case_id}", headers=auth("agency_officer", agency="police"))
    client.get(f"/api/v1/cases/{case_id}", headers=auth("intake_officer"))

    entries = client.get(
        f"/api/v1/cases/{case_id}/access-log", headers=auth("auditor", agency="province")
    ).json()["entries"]

    assert [(e["user_id"], e["outcome"], e["reason"]) for e in entries] == [
        ("agency_officer.police", "not_found", "case_not_visible"),
        ("intake_officer.uptd_ppa", "granted", None),
        ("auditor.province", "granted", None),
    ]
