"""An office administrator logs in with a password and the second factor, sees the home
page and logs out: in Indonesian (the default), and in English for a browser set to it."""

from collections.abc import Callable

import pytest

from tests.browser.pages import StoryBrowser
from tests.browser.server import SimpulServer
from tests.browser.stories import log_in, session_cookie

pytestmark = pytest.mark.browser


def test_an_administrator_logs_in_sees_the_home_page_and_logs_out(
    simpul_server: SimpulServer, browse: Callable[..., StoryBrowser]
) -> None:
    administrator = simpul_server.administrator()
    web = browse()

    form = web.visit("/", "login form")
    assert form.headers["cache-control"] == "no-store"
    assert web.page.locator("html").get_attribute("lang") == "id"
    assert web.page.locator("h1").inner_text() == "Masuk"
    assert web.page.get_by_label("Kata sandi").is_visible()

    log_in(web, administrator)
    assert web.page.url == f"{simpul_server.base_url}/"
    assert web.page.locator("h1").inner_text() == "Beranda"
    assert "Anda masuk sebagai administrator kantor" in web.page.locator("main").inner_text()
    cookie = session_cookie(web)
    # Secure __Host- cookies over plain HTTP: Chromium keeps them for 127.0.0.1, a
    # potentially trustworthy origin, as it would for the HTTPS deployment.
    assert cookie is not None
    assert (cookie["secure"], cookie["httpOnly"], cookie["sameSite"]) == (True, True, "Lax")

    web.interact("log out", lambda page: page.get_by_role("button", name="Keluar").click())
    assert web.page.url == f"{simpul_server.base_url}/login"
    assert web.page.locator("h1").inner_text() == "Masuk"
    assert session_cookie(web) is None


def test_the_same_story_in_english_for_a_browser_set_to_english(
    simpul_server: SimpulServer, browse: Callable[..., StoryBrowser]
) -> None:
    administrator = simpul_server.administrator()
    web = browse(locale="en-GB")

    form = web.visit("/", "login form")
    assert form.request.all_headers()["accept-language"].startswith("en-GB")
    assert web.page.locator("html").get_attribute("lang") == "en"
    assert web.page.locator("h1").inner_text() == "Log in"
    assert web.page.get_by_label("One-time code (authenticator app)").is_visible()

    log_in(web, administrator)
    assert web.page.locator("h1").inner_text() == "Home"
    assert "You are logged in as office administrator" in web.page.locator("main").inner_text()

    web.interact("log out", lambda page: page.get_by_role("button", name="Log out").click())
    assert web.page.locator("h1").inner_text() == "Log in"
    assert session_cookie(web) is None
