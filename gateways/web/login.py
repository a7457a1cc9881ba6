"""The login page, the home page at "/" and logout: a browser session from an account.

The form posts the e-mail address, the password and the one-time code to the same
Accounts.login as POST /api/v1/login; a success opens a new session (a new id, so an id
planted before the login is worth nothing) and a failure shows the form again with the
rule, never the address typed. Before any session exists a form cannot carry a session's
CSRF token, so the login form carries a token that must equal a cookie set with it (a
double-submit cookie): another site can neither read the cookie nor set it for this host.
"""

import hmac
import secrets
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateways.api.routes.tasks import tasks_of
from gateways.web.cookies import CSRF_FIELD, cleared_cookie, session_cookie
from gateways.web.forms import PostedForm
from gateways.web.i18n import TRANSLATIONS
from gateways.web.pages import csrf_refused, language_of, page, posted_form, session_form
from gateways.web.sessions import COOKIE_NAME, BrowserSession, SessionStore
from services.access_log import CaseRead
from services.accounts import Accounts, LoginRefused
from services.cases import Cases, utc_now
from services.identity import PasswordAndCode, PasswordProof
from services.notifications import NoticeStore, notifications_for

LOGIN_COOKIE = "__Host-simpul-login"
# The home page's notices: the newest of the last week (each also mailed where mail is on).
NOTICES_SHOWN_FOR = timedelta(days=7)
NOTICES_SHOWN = 20
MAX_LOGIN_FORM_BYTES = 4096
REFUSALS = {
    "bad_credentials": "The e-mail address or the password is not right.",
    "second_factor_required": "Enter the 6-digit code of your authenticator app.",
    "bad_second_factor": "The code is not right, or it was used already.",
    "second_factor_enrolment_required": "Your account needs a second factor: ask your office "
    "administrator for a new invitation.",
    "locked_out": "Too many failed attempts: wait a moment and try again.",
    "login_form_expired": "The form expired: please try again.",
}

router = APIRouter(include_in_schema=False)


def _session(request: Request) -> BrowserSession | None:
    store: SessionStore = request.app.state.web_sessions
    return store.resume(request.cookies.get(COOKIE_NAME), now=utc_now())


SessionOrNone = Annotated[BrowserSession | None, Depends(_session)]


def pre_session_page(
    request: Request, template: str, *, status: int = 200, **context: Any
) -> Response:
    """A page whose form is posted before any session exists (login, an invitation): its
    token goes with a cookie of the same value (``pre_session_form_is_ours``)."""
    token = secrets.token_urlsafe(32)
    response = page(request, template, status=status, token=token, **context)
    response.headers.append(
        "Set-Cookie", f"{LOGIN_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict"
    )
    return response


def pre_session_form_is_ours(request: Request, form: PostedForm) -> bool:
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie, form.first(CSRF_FIELD))


def _login_form(request: Request, *, status: int = 200, refusal: str | None = None) -> Response:
    message = TRANSLATIONS[language_of(request)].gettext(REFUSALS[refusal]) if refusal else None
    return pre_session_page(request, "login.html", status=status, title="Log in", refusal=message)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionOrNone) -> Response:
    """Who is logged in, with logout; the login form for everyone else."""
    if session is None:
        return _login_form(request)
    request.state.session = session
    cases: Cases = request.app.state.cases
    try:
        tasks = tasks_of(request, session.actor, cases, CaseRead(view="home_page"))
    except HTTPException:
        tasks = None  # no office views in this deployment: the page says so
    notices: NoticeStore | None = request.app.state.notices
    recent = (
        notifications_for(notices, session.actor.user_id, utc_now() - NOTICES_SHOWN_FOR)
        if notices is not None
        else []
    )
    return page(
        request,
        "home.html",
        title="Home",
        notices=list(reversed(recent))[:NOTICES_SHOWN],
        actor=session.actor,
        csrf=session.csrf_token,
        tasks=tasks,
        timezone=cases.profiles.profile(session.actor.district).timezone
        if session.actor.district in cases.profiles.districts()
        else None,
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    return _login_form(request)


@router.post("/login", response_class=HTMLResponse)
async def log_in(request: Request) -> Response:
    form = await posted_form(request, max_bytes=MAX_LOGIN_FORM_BYTES)
    if not pre_session_form_is_ours(request, form):
        return _login_form(request, status=403, refusal="login_form_expired")
    accounts: Accounts | None = request.app.state.accounts
    if accounts is None:
        return _login_form(request, status=503, refusal="bad_credentials")
    try:
        proof = PasswordProof(
            form.first("email"), form.first("password"), form.first("one_time_code") or None
        )
        actor = PasswordAndCode(accounts).authenticate(proof)
    except LoginRefused as refused:
        status = 429 if refused.retry_after is not None else 401
        return _login_form(request, status=status, refusal=refused.reason)
    store: SessionStore = request.app.state.web_sessions
    session = store.open(actor, now=utc_now(), replacing=request.cookies.get(COOKIE_NAME))
    response = RedirectResponse("/", status_code=303)
    response.headers.append(
        "Set-Cookie", session_cookie(session, absolute=store.lifetimes.absolute)
    )
    response.headers.append("Set-Cookie", f"{LOGIN_COOKIE}=; Max-Age=0; Path=/; Secure; HttpOnly")
    return response


@router.post("/logout")
async def log_out(request: Request, session: SessionOrNone) -> Response:
    if await session_form(request, session) is None:
        return csrf_refused(request)
    store: SessionStore = request.app.state.web_sessions
    if session is not None:
        store.close(session.session_id)
    response = RedirectResponse("/login", status_code=303)
    response.headers.append("Set-Cookie", cleared_cookie())
    return response
