"""How the session id travels: one ``__Host-`` cookie, and how a form proves it is ours.

The cookie is HttpOnly (no script reads it), SameSite=Lax (a link from another site
still opens the page, but no other site's form posts with it), Path=/ and Secure, as
the ``__Host-`` prefix demands. Browsers treat http://localhost as a secure context
and accept Secure cookies there, so development needs no exception to the rule.
A form's CSRF token is the session's synchronizer token, compared in constant time.
"""

from datetime import timedelta

from gateways.web.sessions import COOKIE_NAME, BrowserSession

CSRF_FIELD = "csrf_token"


def session_cookie(session: BrowserSession, *, absolute: timedelta) -> str:
    """The ``Set-Cookie`` value that hands the browser its session id."""
    return (
        f"{COOKIE_NAME}={session.session_id}; Max-Age={int(absolute.total_seconds())}; "
        "Path=/; Secure; HttpOnly; SameSite=Lax"
    )


def cleared_cookie() -> str:
    """The ``Set-Cookie`` value of logout: the browser forgets the id."""
    return f"{COOKIE_NAME}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax"


def form_is_ours(session: BrowserSession | None, form: dict[str, str]) -> bool:
    """Whether a posted form carries its session's CSRF token (rule ``csrf_token``)."""
    return session is not None and session.csrf_matches(form.get(CSRF_FIELD))
