"""Every form a page posts is refused without its session's CSRF token, and records nothing.

The routes are enumerated from the application, so a new page's form is checked too."""

from datetime import UTC, datetime

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from domain.actors import Actor
from gateways.web.sessions import COOKIE_NAME, SessionStore
from services.cases import Cases
from tests.support.lifecycle import Headers, open_referred_case

pytestmark = pytest.mark.integration

# Forms posted before any session exists carry a token paired with a cookie instead
# (gateways/web/login.py: pre_session_form_is_ours).
BEFORE_A_SESSION = {"/login", "/invitation"}


def test_every_page_form_without_the_csrf_token_is_refused(
    client: TestClient, auth: Headers, pg_cases: Cases
) -> None:
    case_id = open_referred_case(client, auth("coordinator"), {"police": "legal_process"})
    referral_id = client.get(f"/api/v1/cases/{case_id}", headers=auth("coordinator")).json()[
        "referrals"
    ][0]["referral_id"]
    forms = sorted(
        str(route.path)
        for route in iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
        if "POST" in (route.methods or ()) and not str(route.path).startswith("/api/")
    )
    assert {
        "/intake",
        "/logout",
        "/staff",
        "/cases/{case_id}/steps/{operation}",
        "/cases/{case_id}/documents",
        "/cases/{case_id}/letters",
    } <= set(forms)
    store: SessionStore = client.app.state.web_sessions  # type: ignore[attr-defined]
    coordinator = Actor("coordinator.csrf", "coordinator", "uptd_ppa", "luwu-utara")
    before = pg_cases.head_position()
    for path in forms:
        session = store.open(coordinator, now=datetime.now(UTC))
        client.cookies.set(COOKIE_NAME, session.session_id)
        target = path.format(
            case_id=case_id,
            referral_id=referral_id,
            operation="accept_referral" if "referrals" in path else "record_contact",
            user_id="00000000-0000-0000-0000-000000000000",
            change="deactivation",
            account_id="00000000-0000-0000-0000-000000000000",
        )
        for token in ({}, {"csrf_token": "forged"}):
            refused = client.post(target, data={"mode": "phone", **token}, follow_redirects=False)
            assert refused.status_code == 403, (path, token, refused.status_code)
        if path != "/logout":
            assert store.resume(session.session_id, now=datetime.now(UTC)) is not None, path
    assert pg_cases.head_position() == before
    assert set(forms) >= BEFORE_A_SESSION
