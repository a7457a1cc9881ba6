"""Logging in through the page: an account's password and code open a browser session;
the form is refused without its own token, a second factor cannot be skipped, and a
deactivated person's session ends."""

import re
import time
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from domain.vocabulary import Agency, Role
from gateways.web.login import LOGIN_COOKIE
from gateways.web.pages import PAGE_POLICY
from gateways.web.sessions import COOKIE_NAME
from services.accounts import Accounts
from services.second_factor import code_at, step_at

pytestmark = pytest.mark.integration

PASSWORD = "Gunung Bromo pagi hari"


@pytest.fixture
def accounts(browser: TestClient) -> Accounts:
    found: Accounts = browser.app.state.accounts  # type: ignore[attr-defined]
    return found


def a_person(accounts: Accounts, role: Role) -> tuple[str, str]:
    """An account of the role with its password chosen: (e-mail, TOTP key)."""
    administrator = accounts.create_first_administrator(
        email=f"admin.{uuid4().hex[:8]}@uptd.example",
        display_name="Admin",
        district="luwu-utara",
        agency=Agency.UPTD_PPA,
    )
    admin = accounts.directory.member(administrator.user_id)
    assert admin is not None
    email = f"person.{uuid4().hex[:8]}@uptd.example"
    invitation = accounts.invite(
        admin.actor, email=email, display_name="Rina", role=role, agency=Agency.UPTD_PPA
    )
    setup = accounts.accept_invitation(invitation.code, PASSWORD)
    return email, setup.secret


def form_token(client: TestClient) -> str:
    page = client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def post_login(client: TestClient, email: str, code: str = "", token: str | None = None):
    return client.post(
        "/login",
        data={
            "csrf_token": token if token is not None else form_token(client),
            "email": email,
            "password": PASSWORD,
            "one_time_code": code,
        },
        follow_redirects=False,
    )


def test_the_root_url_serves_the_login_page_in_indonesian(browser: TestClient):
    response = browser.get("/")

    assert response.status_code == 200
    assert '<html lang="id">' in response.text and "Kata sandi" in response.text
    assert '<label for="email">' in response.text
    assert response.headers["Content-Security-Policy"] == PAGE_POLICY
    assert response.headers["Cache-Control"] == "no-store"


def test_a_case_worker_logs_in_and_gets_a_new_secure_session_cookie(
    browser: TestClient, accounts: Accounts
):
    email, _ = a_person(accounts, Role.CASE_WORKER)
    browser.cookies.set(COOKIE_NAME, "planted-by-someone-else", domain="testserver")

    response = post_login(browser, email)

    assert response.status_code == 303 and response.headers["location"] == "/"
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith(f"{COOKIE_NAME}="))
    assert "Secure" in session and "HttpOnly" in session and "SameSite=Lax" in session
    assert "planted-by-someone-else" not in session
    home = browser.get("/")
    assert "case_worker" in home.text and "Keluar" in home.text
    assert email not in home.text


def test_the_login_form_is_refused_without_its_own_token(browser: TestClient, accounts: Accounts):
    email, _ = a_person(accounts, Role.CASE_WORKER)
    form_token(browser)

    forged = post_login(browser, email, token="made-up-elsewhere")

    assert forged.status_code == 403
    assert not any(c.startswith(COOKIE_NAME) for c in forged.headers.get_list("set-cookie"))


def test_a_coordinator_cannot_skip_the_second_factor(browser: TestClient, accounts: Accounts):
    email, secret = a_person(accounts, Role.COORDINATOR)

    without = post_login(browser, email)
    with_code = post_login(browser, email, code_at(secret, step_at(datetime.now(UTC))))

    assert without.status_code == 401 and 'role="alert"' in without.text
    assert not any(c.startswith(COOKIE_NAME) for c in without.headers.get_list("set-cookie"))
    assert email not in without.text
    assert with_code.status_code == 303


def test_a_wrong_password_shows_the_form_again_naming_no_one(
    browser: TestClient, accounts: Accounts
):
    email, _ = a_person(accounts, Role.CASE_WORKER)

    refused = browser.post(
        "/login",
        data={"csrf_token": form_token(browser), "email": email, "password": "wrong password!"},
        follow_redirects=False,
    )

    assert refused.status_code == 401
    assert "Alamat surel atau kata sandi tidak benar." in refused.text
    assert email not in refused.text


def test_logout_needs_the_sessions_token_and_ends_the_session(
    browser: TestClient, accounts: Accounts
):
    email, _ = a_person(accounts, Role.CASE_WORKER)
    post_login(browser, email)
    home = browser.get("/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert token is not None

    forged = browser.post("/logout", data={"csrf_token": "nope"}, follow_redirects=False)
    out = browser.post("/logout", data={"csrf_token": token.group(1)}, follow_redirects=False)

    assert forged.status_code == 403
    assert out.status_code == 303
    assert "Kata sandi" in browser.get("/").text


def test_the_login_cookie_is_strict_and_for_this_host_only(browser: TestClient):
    response = browser.get("/login")

    cookie = next(c for c in response.headers.get_list("set-cookie") if LOGIN_COOKIE in c)
    assert "SameSite=Strict" in cookie and "Secure" in cookie and "Path=/" in cookie


def test_a_deactivated_persons_browser_session_ends_within_seconds(
    browser: TestClient, accounts: Accounts
):
    email, _ = a_person(accounts, Role.CASE_WORKER)
    post_login(browser, email)
    assert "Keluar" in browser.get("/").text
    record = next(
        member
        for member in accounts.directory.members(district="luwu-utara")
        if member.email == email
    )
    admin = next(
        member
        for member in accounts.directory.members(
            district="luwu-utara", role=Role.OFFICE_ADMINISTRATOR
        )
    )

    accounts.deactivate(admin.actor, record.user_id, reason="left the office")

    deadline = time.monotonic() + 30
    while "Keluar" in browser.get("/").text:
        assert time.monotonic() < deadline, "the session outlived the deactivation"
        time.sleep(0.2)
