"""Every page that shows case data records the read first, as the API's routes do: who,
which case (or none for a list), and which page."""

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from domain.actors import Actor
from gateways.web.sessions import COOKIE_NAME, SessionStore
from services.access_log import CaseRead
from services.cases import Cases
from tests.api.test_audit_api import PAGES
from tests.support.documents import a_pdf
from tests.support.inboxes import project_inbox
from tests.support.lifecycle import Headers, open_referred_case

pytestmark = pytest.mark.integration

DISTRICT = "luwu-utara"
# Who opens each page, and the view its access-log row names.
READERS = {
    "/": ("coordinator", "uptd_ppa", "home_page"),
    "/cases": ("coordinator", "uptd_ppa", "case_list_page"),
    "/dashboard": ("auditor", "uptd_ppa", "dashboard_page"),
    "/inbox": ("agency_officer", "police", "inbox_page"),
    "/cases/{case_id}": ("coordinator", "uptd_ppa", "case_file_page"),
    "/cases/{case_id}/steps/{operation}": ("coordinator", "uptd_ppa", "step_form_page"),
    "/cases/{case_id}/referrals/{referral_id}/steps/{operation}": (
        "agency_officer",
        "police",
        "step_form_page",
    ),
    "/cases/{case_id}/audit": ("auditor", "uptd_ppa", "audit_page"),
    "/cases/{case_id}/access-log": ("auditor", "uptd_ppa", "access_log_page"),
    "/cases/{case_id}/documents/{document_id}": ("auditor", "uptd_ppa", "document_download_page"),
    "/cases/{case_id}/letters/{letter_id}": ("coordinator", "uptd_ppa", "letter_page"),
}


def test_every_page_showing_case_data_is_in_the_access_log(
    client: TestClient, auth: Headers, pg_cases: Cases, caught_up: Callable[[], int]
) -> None:
    case_id = open_referred_case(client, auth("coordinator"), {"police": "legal_process"})
    referral_id = client.get(f"/api/v1/cases/{case_id}", headers=auth("coordinator")).json()[
        "referrals"
    ][0]["referral_id"]
    document_id = client.post(
        f"/api/v1/cases/{case_id}/documents",
        params={"kind": "visum_et_repertum"},
        content=a_pdf(),
        headers=auth("coordinator", **{"Content-Type": "application/pdf"}),
    ).json()["document_id"]
    letter_id = client.post(
        f"/api/v1/cases/{case_id}/letters",
        json={"kind": "formulir_persetujuan"},
        headers=auth("coordinator"),
    ).json()["letter_id"]
    caught_up()
    project_inbox(pg_cases, "police")
    pages = {
        str(route.path)
        for route in iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
        if "GET" in (route.methods or ()) and route.path in PAGES
    }
    assert pages == set(READERS) == PAGES
    store: SessionStore = client.app.state.web_sessions  # type: ignore[attr-defined]
    for index, (path, (role, agency, view)) in enumerate(READERS.items()):
        reader = Actor(f"page-reader-{index}", role, agency, DISTRICT)
        client.cookies.set(COOKIE_NAME, store.open(reader, now=datetime.now(UTC)).session_id)
        operation = "accept_referral" if "referrals" in path else "record_contact"
        shown = client.get(
            path.format(
                case_id=case_id,
                referral_id=referral_id,
                operation=operation,
                document_id=document_id,
                letter_id=letter_id,
            )
        )
        assert shown.status_code == 200, (path, shown.status_code)
        log = pg_cases.access_log_of_user(
            Actor("auditor.check", "auditor", "uptd_ppa", DISTRICT),
            reader.user_id,
            CaseRead(view="test"),
        )
        views = [(entry.record.view, entry.record.case_id) for entry in log]
        expected_case = None if path in ("/", "/cases", "/dashboard") else UUID(case_id)
        assert (view, expected_case) in views, (path, views)
