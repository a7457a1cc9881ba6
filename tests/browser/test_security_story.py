"""What the pages refuse, seen from a browser: guessed passwords, a forged session cookie,
a case file opened without a session; and that a case file is never kept in a cache."""

import secrets
from collections.abc import Callable

import pytest

from tests.browser.pages import StoryBrowser
from tests.browser.server import SimpulServer
from tests.browser.stories import SESSION_COOKIE, log_in, session_cookie

pytestmark = pytest.mark.browser

# services/accounts.py: five failures in a row lock the account out.
FAILURES_BEFORE_LOCKOUT = 5


def test_wrong_passwords_again_and_again_lock_the_account_out(
    simpul_server: SimpulServer, browse: Callable[..., StoryBrowser]
) -> None:
    administrator = simpul_server.administrator()
    web = browse()
    web.visit("/", "login form")

    for attempt in range(1, FAILURES_BEFORE_LOCKOUT + 1):
        log_in(
            web,
            administrator,
            step=f"wrong password {attempt}",
            password=f"bukan kata sandinya {attempt}",
            status=401,
        )
        assert web.page.get_by_role("alert").inner_text() == (
            "Alamat surel atau kata sandi tidak benar."
        )
        # The form shows the rule, never the address typed.
        assert web.page.locator("#email").input_value() == ""

    # Locked out now: even the right password and code are refused until the wait is over.
    log_in(web, administrator, step="locked out", status=429)
    assert web.page.get_by_role("alert").inner_text() == (
        "Terlalu banyak percobaan gagal: tunggu sebentar lalu coba lagi."
    )
    assert session_cookie(web) is None


def test_a_case_file_needs_a_live_session_and_is_never_cached(
    simpul_server: SimpulServer, browse: Callable[..., StoryBrowser]
) -> None:
    coordinator = simpul_server.invited(simpul_server.administrator(), "coordinator")
    case_id = simpul_server.reported_case()

    # Straight to the case file, without logging in: refused, and nothing of the case shown.
    stranger = browse(name="stranger")
    refused = stranger.visit(f"/cases/{case_id}", "case file without a session", status=401)
    assert refused.headers["cache-control"] == "no-store"
    assert stranger.page.locator("h1").inner_text() == "Belum masuk"
    assert "session_required" in stranger.page.get_by_role("alert").inner_text()

    web = browse()
    web.visit("/", "login form")
    log_in(web, coordinator)
    assert "Anda masuk sebagai koordinator" in web.page.locator("main").inner_text()
    case_file = web.visit(f"/cases/{case_id}", "case file")
    # Personal data must not stay behind in the browser's cache or a shared proxy.
    assert case_file.headers["cache-control"] == "no-store"
    assert web.page.locator("h1").inner_text().startswith("Berkas kasus")
    assert web.page.locator("#case-status").inner_text() == "terbuka"
    web.visit(
        "/cases/00000000-0000-4000-8000-000000000000", "case file of no such case", status=404
    )

    # A forged session id in the session cookie: the same refusal as none at all.
    genuine = session_cookie(web)
    assert genuine is not None
    forged = secrets.token_urlsafe(len(str(genuine["value"])) * 3 // 4)
    web.context.add_cookies(
        [
            {
                "name": SESSION_COOKIE,
                "value": forged,
                # For an IP address Chromium keeps the cookie host-only, as the server set it:
                # this one takes the genuine cookie's place.
                "domain": "127.0.0.1",
                "path": "/",
                "secure": True,
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )
    jar = [c.get("value") for c in web.context.cookies() if c.get("name") == SESSION_COOKIE]
    assert jar == [forged]
    web.visit(f"/cases/{case_id}", "case file with a forged session cookie", status=401)
    assert web.page.locator("h1").inner_text() == "Belum masuk"
    web.visit("/", "home page with a forged session cookie")
    assert web.page.locator("h1").inner_text() == "Masuk"
