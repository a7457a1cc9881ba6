"""The case file page: a session's view of a case, in Indonesian and English, never cached."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from domain.actors import Actor
from gateways.web.i18n import LANGUAGE_COOKIE
from gateways.web.pages import PAGE_POLICY
from gateways.web.sessions import COOKIE_NAME, SessionStore
from services.access_log import CaseRead
from services.cases import Cases
from tests.support.lifecycle import Headers, a_report_body

pytestmark = pytest.mark.integration

INTAKE = Actor("intake_officer.uptd_ppa", "intake_officer", "uptd_ppa", "luwu-utara")
AUDITOR = Actor("auditor.uptd_ppa", "auditor", "uptd_ppa", "luwu-utara")
POLICE = Actor("agency_officer.police", "agency_officer", "police", "luwu-utara")


def _case(client: TestClient, auth: Headers) -> str:
    response = client.post("/api/v1/cases", json=a_report_body(), headers=auth("intake_officer"))
    assert response.status_code == 201
    case_id: str = response.json()["case_id"]
    return case_id


def _logged_in(client: TestClient, actor: Actor) -> str:
    store: SessionStore = client.app.state.web_sessions  # type: ignore[attr-defined]
    session_id = store.open(actor, now=datetime.now(UTC)).session_id
    client.cookies.set(COOKIE_NAME, session_id)
    return session_id


def _get(client: TestClient, path: str, **headers: Any) -> Any:
    return client.get(path, headers=headers)


def test_the_case_file_page_is_indonesian_by_default_and_never_cached(
    client: TestClient, auth: Headers
) -> None:
    case_id = _case(client, auth)
    _logged_in(client, INTAKE)
    response = _get(client, f"/cases/{case_id}")
    assert response.status_code == 200
    assert '<html lang="id">' in response.text
    assert "Berkas kasus" in response.text and "Riwayat" in response.text
    assert "ReportReceived" in response.text
    assert response.headers["Content-Security-Policy"] == PAGE_POLICY
    assert response.headers["Cache-Control"] == "no-store"
    assert "<title>Berkas kasus · Simpul</title>" in response.text


def test_the_page_speaks_english_when_the_browser_or_the_user_asks(
    client: TestClient, auth: Headers
) -> None:
    case_id = _case(client, auth)
    _logged_in(client, INTAKE)
    by_browser = _get(client, f"/cases/{case_id}", **{"Accept-Language": "en-GB,en;q=0.8"})
    assert '<html lang="en">' in by_browser.text and "Case file" in by_browser.text
    client.cookies.set(LANGUAGE_COOKIE, "en")
    by_choice = _get(client, f"/cases/{case_id}", **{"Accept-Language": "id"})
    assert '<html lang="en">' in by_choice.text and "Timeline" in by_choice.text


def test_every_view_of_the_page_is_in_the_access_log(
    client: TestClient, auth: Headers, pg_cases: Cases
) -> None:
    case_id = _case(client, auth)
    _logged_in(client, INTAKE)
    _get(client, f"/cases/{case_id}")
    _get(client, f"/cases/{case_id}")
    entries = pg_cases.access_log_of_case(AUDITOR, UUID(case_id), CaseRead(view="test"))
    views = [entry.record for entry in entries if entry.record.view == "case_file_page"]
    assert len(views) == 2 and all(entry.user_id == INTAKE.user_id for entry in views)


def test_without_a_live_session_the_page_refuses_naming_the_rule(
    client: TestClient, auth: Headers
) -> None:
    case_id = _case(client, auth)
    client.cookies.set(COOKIE_NAME, "forged")
    response = _get(client, f"/cases/{case_id}")
    assert response.status_code == 401
    assert "session_required" in response.text
    assert "ReportReceived" not in response.text


def test_an_agency_officer_opening_a_case_not_referred_to_them_gets_404(
    client: TestClient, auth: Headers
) -> None:
    case_id = _case(client, auth)
    _logged_in(client, POLICE)
    response = _get(client, f"/cases/{case_id}")
    assert response.status_code == 404
    assert "case_not_found" in response.text and "ReportReceived" not in response.text


def test_the_stylesheet_is_served_from_this_host(client: TestClient) -> None:
    response = _get(client, "/static/simpul.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
