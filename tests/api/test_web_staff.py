"""The office administrator's staff page, accepting an invitation in the browser, and the
home page's "what is due for me", over the real account store and event store."""

import re
import time
from collections.abc import Callable
from datetime import datetime
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from gateways import runtime
from gateways.tokens import TokenService
from gateways.web.sessions import COOKIE_NAME, BrowserSession, SessionStore
from services.accounts import Accounts, StaffRecord
from services.cases import Cases
from services.notifications import Notice, NoticeKind
from services.second_factor import code_at, step_at
from services.tasks import TaskKind
from tests.support.lifecycle import a_report_body

pytestmark = pytest.mark.integration

PASSWORD = "Pantai Losari senja hari"


def _accounts(browser: TestClient) -> Accounts:
    found: Accounts = browser.app.state.accounts  # type: ignore[attr-defined]
    return found


def _hidden(page: str, name: str = "csrf_token") -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', page)
    assert found is not None, name
    return found.group(1)


def _as_administrator(browser: TestClient) -> str:
    """A fresh district administrator's session; returns the session's CSRF token."""
    accounts = _accounts(browser)
    invitation = accounts.create_first_administrator(
        email=f"admin.{uuid4().hex[:8]}@uptd.example",
        display_name="Admin",
        district="luwu-utara",
        agency=Agency.UPTD_PPA,
    )
    admin = accounts.directory.member(invitation.user_id)
    assert admin is not None
    store: SessionStore = browser.app.state.web_sessions  # type: ignore[attr-defined]
    session = store.open(admin.actor, now=_now(browser))
    browser.cookies.set(COOKIE_NAME, session.session_id)
    return session.csrf_token


def _now(browser: TestClient) -> datetime:
    cases: Cases = browser.app.state.cases  # type: ignore[attr-defined]
    return cases.clock()


def _invite(browser: TestClient, csrf: str, email: str, role: str) -> str:
    invited = browser.post(
        "/staff",
        data={
            "csrf_token": csrf,
            "email": email,
            "display_name": "Rina Pendamping",
            "role": role,
            "agency": "uptd_ppa",
        },
    )
    assert invited.status_code == 201, invited.text
    code = re.search(r'<code id="invitation-code">([^<]+)</code>', invited.text)
    assert code is not None
    return code.group(1)


def test_an_administrator_invites_a_case_worker_who_accepts_and_logs_in(
    browser: TestClient,
) -> None:
    csrf = _as_administrator(browser)
    staff = browser.get("/staff")
    assert staff.status_code == 200 and 'name="display_name"' in staff.text
    assert "Undang seseorang" in staff.text
    email = f"rina.{uuid4().hex[:8]}@uptd.example"
    code = _invite(browser, csrf, email, "case_worker")
    assert email in browser.get("/staff").text
    browser.cookies.clear()
    form = browser.get("/invitation")
    accepted = browser.post(
        "/invitation",
        data={
            "csrf_token": _hidden(form.text),
            "invitation_code": code,
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    assert accepted.status_code == 200, accepted.text
    key = re.search(r'<code id="second-factor-key">([^<]+)</code>', accepted.text)
    assert key is not None and accepted.headers["Cache-Control"] == "no-store"
    login = browser.get("/login")
    logged_in = browser.post(
        "/login",
        data={
            "csrf_token": _hidden(login.text),
            "email": email,
            "password": PASSWORD,
            "one_time_code": code_at(key.group(1).replace(" ", ""), step_at(_now(browser))),
        },
        follow_redirects=False,
    )
    assert logged_in.status_code == 303
    home = browser.get("/")
    assert "Tugas saya" in home.text and 'href="/cases"' in home.text


def test_an_invitation_is_refused_with_a_short_password_or_a_wrong_code(
    browser: TestClient,
) -> None:
    csrf = _as_administrator(browser)
    code = _invite(browser, csrf, f"short.{uuid4().hex[:8]}@uptd.example", "intake_officer")
    browser.cookies.clear()
    for sent_code, password, says in (
        (code, "pendek", "paling sedikit 12 karakter"),
        ("not-the-code", PASSWORD, "Kode undangan tidak sah"),
        (code, "123456789012", "terlalu umum"),
    ):
        form = browser.get("/invitation")
        refused = browser.post(
            "/invitation",
            data={
                "csrf_token": _hidden(form.text),
                "invitation_code": sent_code,
                "password": password,
                "password_again": password,
            },
        )
        assert refused.status_code == 422 and says in refused.text, says
        assert password not in refused.text and sent_code not in refused.text
    without_token = browser.post("/invitation", data={"invitation_code": code})
    assert without_token.status_code == 403


def _invited_and_logged_in(
    browser: TestClient, csrf: str, who: str
) -> tuple[StaffRecord, BrowserSession]:
    """An intake officer the administrator invited through the page, with a session."""
    email = f"{who}.{uuid4().hex[:8]}@uptd.example"
    _invite(browser, csrf, email, "intake_officer")
    [member] = [m for m in _accounts(browser).staff_of(_admin_of(browser)) if m.email == email]
    store: SessionStore = browser.app.state.web_sessions  # type: ignore[attr-defined]
    return member, store.open(member.actor, now=_now(browser))


def _until_refused(browser: TestClient, session: BrowserSession, outlived: str) -> None:
    store: SessionStore = browser.app.state.web_sessions  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while store.resume(session.session_id, now=_now(browser)) is not None:
        assert time.monotonic() < deadline, outlived
        time.sleep(0.2)


def test_a_deactivated_persons_session_is_refused(browser: TestClient) -> None:
    csrf = _as_administrator(browser)
    member, their_session = _invited_and_logged_in(browser, csrf, "gone")
    deactivated = browser.post(
        f"/staff/{member.user_id}/deactivation", data={"csrf_token": csrf, "reason": "pindah"}
    )
    assert deactivated.status_code == 200
    # Refused within the revocation cache's refresh, as the API refuses the person's tokens.
    _until_refused(browser, their_session, "the session outlived the deactivation")


def test_a_change_the_account_does_not_allow_now_is_refused_in_the_users_language(
    browser: TestClient,
) -> None:
    csrf = _as_administrator(browser)
    member, _ = _invited_and_logged_in(browser, csrf, "unchanged")
    reactivated = browser.post(f"/staff/{member.user_id}/reactivation", data={"csrf_token": csrf})
    assert reactivated.status_code == 409
    assert reactivated.headers["content-type"].startswith("text/html")
    assert (
        "Perubahan ini tidak dapat dilakukan: Akun orang ini sudah aktif. (aturan already_active)"
    ) in reactivated.text
    same_role = browser.post(
        f"/staff/{member.user_id}/role",
        data={"csrf_token": csrf, "role": "intake_officer", "agency": "uptd_ppa"},
        headers={"Accept-Language": "en"},
    )
    assert same_role.status_code == 409
    assert (
        "This change cannot be made: The person has this role and agency already. "
        "(rule role_unchanged)"
    ) in same_role.text


def _admin_of(browser: TestClient) -> Actor:
    store: SessionStore = browser.app.state.web_sessions  # type: ignore[attr-defined]
    session = store.resume(browser.cookies.get(COOKIE_NAME), now=_now(browser))
    assert session is not None
    return session.actor


def test_only_an_office_administrator_opens_the_staff_page(browser: TestClient) -> None:
    accounts = _accounts(browser)
    _as_administrator(browser)
    admin = _admin_of(browser)
    invitation = accounts.invite(
        admin,
        email=f"c.{uuid4().hex[:8]}@uptd.example",
        display_name="K",
        role=Role.COORDINATOR,
        agency=Agency.UPTD_PPA,
    )
    coordinator = accounts.directory.member(invitation.user_id)
    assert coordinator is not None
    store: SessionStore = browser.app.state.web_sessions  # type: ignore[attr-defined]
    browser.cookies.set(COOKIE_NAME, store.open(coordinator.actor, now=_now(browser)).session_id)
    assert browser.get("/staff").status_code == 403
    posted = browser.post("/staff", data={"csrf_token": "x", "email": "a@b.example"})
    assert posted.status_code == 403


def test_the_home_page_lists_what_is_due_for_the_intake_officer(
    browser: TestClient, tokens: TokenService, caught_up: Callable[[], int]
) -> None:
    intake = Actor("intake_officer.uptd_ppa", "intake_officer", "uptd_ppa", "luwu-utara")
    created = browser.post(
        "/api/v1/cases",
        json=a_report_body(),
        headers={"Authorization": f"Bearer {tokens.mint(intake)}"},
    )
    assert created.status_code == 201
    caught_up()
    sessions: SessionStore = browser.app.state.web_sessions  # type: ignore[attr-defined]
    browser.cookies.set(COOKIE_NAME, sessions.open(intake, now=_now(browser)).session_id)
    home = browser.get("/")
    assert created.json()["register_number"] in home.text
    assert 'id="my-tasks"' in home.text and "L1.5" in home.text
    assert "Mawar" not in home.text
    # The navigation counts them on every page.
    elsewhere = browser.get(f"/cases/{created.json()['case_id']}")
    assert 'id="nav-task-count"' in elsewhere.text and "jatuh tempo" in elsewhere.text


def test_the_home_page_shows_the_notices_of_the_last_week(
    browser: TestClient, pg_cases: Cases
) -> None:
    intake = Actor("intake_officer.notices", "intake_officer", "uptd_ppa", "luwu-utara")
    notices = runtime.notice_store(pg_cases)
    case_id = uuid4()
    notice = Notice(
        user_id=intake.user_id,
        task_key=f"step:{case_id}:L1.5",
        kind=NoticeKind.OVERDUE,
        task_kind=TaskKind.STEP,
        case_id=case_id,
        code="L1.5",
        noticed_at=_now(browser),
        mailed=True,
    )
    with notices.claim([notice]):
        pass
    sessions: SessionStore = browser.app.state.web_sessions  # type: ignore[attr-defined]
    browser.cookies.set(COOKIE_NAME, sessions.open(intake, now=_now(browser)).session_id)
    home = browser.get("/")
    assert 'id="notices"' in home.text and "L1.5 terlambat" in home.text
    assert f'href="/cases/{case_id}"' in home.text


def test_the_language_link_keeps_the_choice_and_returns_to_the_page(
    browser: TestClient,
) -> None:
    chosen = browser.get("/language/en", params={"back": "/login"}, follow_redirects=False)
    assert chosen.status_code == 303 and chosen.headers["location"] == "/login"
    assert "simpul-lang=en" in chosen.headers["set-cookie"]
    assert '<html lang="en">' in browser.get("/login").text
    elsewhere = browser.get(
        "/language/id", params={"back": "//evil.example/x"}, follow_redirects=False
    )
    assert elsewhere.headers["location"] == "/"


def test_an_administrator_changes_a_persons_role_and_their_session_ends(
    browser: TestClient,
) -> None:
    csrf = _as_administrator(browser)
    member, their_session = _invited_and_logged_in(browser, csrf, "moved")
    changed = browser.post(
        f"/staff/{member.user_id}/role",
        data={"csrf_token": csrf, "role": "case_worker", "agency": "uptd_ppa"},
    )
    assert changed.status_code == 200
    moved = _accounts(browser).directory.member(member.user_id)
    assert moved is not None and moved.role == Role.CASE_WORKER
    _until_refused(browser, their_session, "the session outlived the change of role")


def test_an_administrator_gives_the_police_system_a_key_that_reads_the_police_inbox(
    browser: TestClient,
) -> None:
    csrf = _as_administrator(browser)
    created = browser.post(
        "/service-accounts",
        data={
            "csrf_token": csrf,
            "name": "Sistem kasus Polres",
            "agency": "police",
            "scopes": ["inbox:read"],
        },
    )
    assert created.status_code == 201, created.text
    key = re.search(r'<code id="api-key">([^<]+)</code>', created.text)
    assert key is not None
    inbox = browser.get(
        "/api/v1/agencies/police/referrals", headers={"Authorization": f"Bearer {key.group(1)}"}
    )
    assert inbox.status_code == 200
    listed = browser.get("/staff")
    assert "Sistem kasus Polres" in listed.text and key.group(1) not in listed.text
    account = re.search(r'action="/service-accounts/([0-9a-f-]+)/deactivation"', listed.text)
    assert account is not None
    gone = browser.post(
        f"/service-accounts/{account.group(1)}/deactivation",
        data={"csrf_token": csrf, "reason": "sistem diganti"},
    )
    assert gone.status_code == 200
    refused = browser.get(
        "/api/v1/agencies/police/referrals", headers={"Authorization": f"Bearer {key.group(1)}"}
    )
    assert refused.status_code == 401
    again = browser.post(
        f"/service-accounts/{account.group(1)}/deactivation",
        data={"csrf_token": csrf, "reason": "sistem diganti"},
    )
    assert again.status_code == 409
    assert "Akun ini sudah dinonaktifkan. (aturan account_inactive)" in again.text
