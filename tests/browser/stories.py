"""Steps several stories take: logging in at the form, as a person types it."""

from playwright.sync_api import Page, Response

from tests.browser.pages import StoryBrowser
from tests.browser.server import StaffAccount

SESSION_COOKIE = "__Host-simpul-session"


def send_login_form(page: Page, account: StaffAccount, password: str | None = None) -> None:
    """Type the e-mail address, the password and the app's current code into the login
    form on ``page``, and send it. With another ``password`` than the account's, no code is
    typed (the form is refused before any code is read, and a code is spent per login)."""
    page.fill("#email", account.email)
    if password is None:
        page.fill("#password", account.password)
        page.fill("#one_time_code", account.one_time_code())
    else:
        page.fill("#password", password)
    page.click("form[action='/login'] button[type=submit]")


def log_in(
    web: StoryBrowser,
    account: StaffAccount,
    *,
    step: str = "log in",
    password: str | None = None,
    status: int = 200,
) -> Response:
    """Send the login form shown on ``web``'s page; the page it leads to is checked."""
    return web.interact(step, lambda page: send_login_form(page, account, password), status=status)


def session_cookie(web: StoryBrowser) -> dict[str, object] | None:
    for cookie in web.context.cookies():
        if cookie.get("name") == SESSION_COOKIE:
            return dict(cookie)
    return None
