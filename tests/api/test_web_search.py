"""The office's search as a page: terms in the posted form, recorded before anything is found."""

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from domain.actors import Actor
from gateways.web.sessions import COOKIE_NAME, SessionStore
from services.access_log import CaseRead
from services.case_search import SEARCH_RESULT_VIEW
from services.cases import Cases
from tests.support.lifecycle import Headers, a_report_body

pytestmark = pytest.mark.integration

DISTRICT = "luwu-utara"
INTAKE = Actor("intake_officer.search", "intake_officer", "uptd_ppa", DISTRICT)
AUDITOR = Actor("auditor.search", "auditor", "uptd_ppa", DISTRICT)


def _log_in(client: TestClient, actor: Actor) -> str:
    store: SessionStore = client.app.state.web_sessions  # type: ignore[attr-defined]
    session = store.open(actor, now=datetime.now(UTC))
    client.cookies.set(COOKIE_NAME, session.session_id)
    return session.csrf_token


def test_the_office_finds_a_case_by_a_name_in_another_spelling(
    client: TestClient, auth: Headers, pg_cases: Cases, caught_up: Callable[[], int]
) -> None:
    victim = {"name": "Siti Soetjipto", "sex": "female", "age": 9}
    reported = client.post(
        "/api/v1/cases", json=a_report_body(victim=victim), headers=auth("intake_officer")
    ).json()
    caught_up()
    csrf = _log_in(client, INTAKE)
    assert 'name="purpose"' in client.get("/search").text
    found = client.post(
        "/search",
        data={"csrf_token": csrf, "purpose": "Laporan baru", "name": "Siti Sucipto"},
    )
    assert found.status_code == 200
    assert reported["register_number"] in found.text and "Siti Soetjipto" in found.text
    log = pg_cases.access_log_of_user(AUDITOR, INTAKE.user_id, CaseRead(view="test"))
    searched = [entry.record for entry in log if entry.record.purpose == "Laporan baru"]
    assert searched[0].case_id is None  # the search itself, its terms sealed
    assert any(
        record.view == SEARCH_RESULT_VIEW and str(record.case_id) == reported["case_id"]
        for record in searched
    )


def test_a_search_without_a_key_or_a_purpose_names_what_is_missing(
    client: TestClient, pg_cases: Cases
) -> None:
    csrf = _log_in(client, INTAKE)
    before = len(pg_cases.access_log_of_user(AUDITOR, INTAKE.user_id, CaseRead(view="t")))
    no_key = client.post("/search", data={"csrf_token": csrf, "purpose": "Cek"})
    assert no_key.status_code == 422 and "paling sedikit salah satu dari" in no_key.text
    no_purpose = client.post("/search", data={"csrf_token": csrf, "name": "Mawar Melati"})
    assert no_purpose.status_code == 422 and 'href="#purpose"' in no_purpose.text
    assert "Mawar Melati" not in no_purpose.text.split('role="alert"')[1].split("</div>")[0]
    after = pg_cases.access_log_of_user(AUDITOR, INTAKE.user_id, CaseRead(view="t"))
    assert [e for e in after[before:] if e.record.purpose] == []


def test_an_agency_officer_cannot_search(client: TestClient) -> None:
    csrf = _log_in(client, Actor("agency_officer.police", "agency_officer", "police", DISTRICT))
    assert client.get("/search").status_code == 403
    posted = client.post("/search", data={"csrf_token": csrf, "purpose": "x", "name": "Mawar"})
    assert posted.status_code == 403
