"""The session cookie's attributes and the CSRF check of posted forms."""

from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie

import pytest

from domain.actors import Actor
from gateways.web.cookies import CSRF_FIELD, cleared_cookie, form_is_ours, session_cookie
from gateways.web.sessions import COOKIE_NAME, BrowserSession

pytestmark = pytest.mark.unit

SESSION = BrowserSession(
    session_id="s" * 43,
    actor=Actor(user_id="cw-1", role="case_worker", agency="uptd_ppa", district="3171"),
    opened_at=datetime(2026, 12, 3, tzinfo=UTC),
    csrf_token="t" * 43,
)


def test_the_session_cookie_is_host_only_secure_httponly_and_samesite() -> None:
    header = session_cookie(SESSION, absolute=timedelta(hours=12))
    cookie = SimpleCookie(header)[COOKIE_NAME]
    assert COOKIE_NAME.startswith("__Host-")
    assert cookie.value == SESSION.session_id
    assert cookie["path"] == "/" and not cookie["domain"]
    assert cookie["secure"] and cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert cookie["max-age"] == str(12 * 3600)


def test_logout_clears_the_cookie() -> None:
    cookie = SimpleCookie(cleared_cookie())[COOKIE_NAME]
    assert cookie.value == "" and cookie["max-age"] == "0"


def test_a_form_without_or_with_a_wrong_csrf_token_is_not_ours() -> None:
    assert form_is_ours(SESSION, {CSRF_FIELD: SESSION.csrf_token})
    assert not form_is_ours(SESSION, {})
    assert not form_is_ours(SESSION, {CSRF_FIELD: "t" * 42 + "u"})
    assert not form_is_ours(None, {CSRF_FIELD: SESSION.csrf_token})
