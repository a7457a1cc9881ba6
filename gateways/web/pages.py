"""The pages, each over the same services as the API routes (reads through CaseRead).

A page answers with the pages' Content-Security-Policy (only this host's styles and
images, no script, no framing) and ``no-store``; the session comes from its cookie.
"""

import re
from datetime import datetime, timedelta
from enum import Enum
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from babel.support import Translations
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from domain.actors import Actor
from domain.vocabulary import Role
from gateways.api.routes.tasks import tasks_of
from gateways.web.cookies import CSRF_FIELD, form_is_ours
from gateways.web.field_messages import field_message_text
from gateways.web.forms import VOCABULARY_WORDS, PostedForm, label_of
from gateways.web.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGE_COOKIE,
    LANGUAGES,
    N_,
    TRANSLATIONS,
    chosen_language,
)
from gateways.web.sessions import COOKIE_NAME, BrowserSession, SessionStore
from services.access import CASE_OFFICE_ROLES, may_administer_staff, may_report
from services.access_log import CaseRead
from services.cases import utc_now
from services.tasks import TaskCounts

PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
STATIC = Path(__file__).parent / "static"
# A step's form with long texts (a chronology, findings) stays well within this.
MAX_FORM_BYTES = 256 * 1024
ENVIRONMENT = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
)
ENVIRONMENT.filters["label"] = label_of


def language_of(request: Request) -> str:
    return chosen_language(
        request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")
    )


def said(request: Request, message: str, **values: object) -> str:
    """The msgid ``message`` in the request's language, its %-placeholders filled."""
    text = TRANSLATIONS[language_of(request)].gettext(message)
    return text % values if values else text


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    language = language_of(request)
    translations = TRANSLATIONS[language]
    context["title"] = translations.gettext(context["title"])
    session: BrowserSession | None = getattr(request.state, "session", None)
    context.setdefault("navigation", navigation(session.actor) if session else [])
    if session is not None and "counts" not in context:
        shown = context.get("tasks")
        context["counts"] = (
            COUNTS.keep(session.session_id, shown.counts, now=utc_now())
            if shown is not None
            else task_counts(request, session)
        )
    context.setdefault("csrf", session.csrf_token if session else "")
    zone = context.pop("timezone", None)
    # A page shown in answer to a form names the page to go back to (the POST's own path
    # may have no page).
    back_path = context.pop("back_path", request.url.path)
    html = ENVIRONMENT.get_template(template).render(
        language=language,
        _=translations.gettext,
        say=partial(words_for, language, translations),
        field_message=partial(field_message_text, language),
        local=partial(local_time, zone),
        now_local=utc_now().astimezone(zone).strftime("%Y-%m-%dT%H:%M") if zone else "",
        back_path=back_path,
        **context,
    )
    return HTMLResponse(
        html,
        status_code=status,
        headers={"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-store"},
    )


class RecentCounts:
    """Each session's task counts for a short while, so that the navigation does not read
    the task list again on every page of a burst of work (each form is two pages); the
    home page always reads it afresh and refreshes the count."""

    def __init__(self, lifetime: timedelta = timedelta(seconds=30)) -> None:
        self.lifetime = lifetime
        self._counts: dict[str, tuple[datetime, TaskCounts | None]] = {}

    def recent(self, session_id: str, *, now: datetime) -> tuple[bool, TaskCounts | None]:
        kept = self._counts.get(session_id)
        if kept is None or now - kept[0] > self.lifetime:
            return False, None
        return True, kept[1]

    def keep(
        self, session_id: str, counts: TaskCounts | None, *, now: datetime
    ) -> TaskCounts | None:
        self._counts = {
            sid: kept for sid, kept in self._counts.items() if now - kept[0] <= self.lifetime
        }
        self._counts[session_id] = (now, counts)
        return counts


COUNTS = RecentCounts()


def task_counts(request: Request, session: BrowserSession) -> TaskCounts | None:
    """What is due for the person, counted for the navigation: the same list as the home
    page and GET /api/v1/my-tasks, and read (recorded) like them, at most every
    ``COUNTS.lifetime``."""
    now = utc_now()
    known, counts = COUNTS.recent(session.session_id, now=now)
    if known:
        return counts
    try:
        tasks = tasks_of(
            request, session.actor, request.app.state.cases, CaseRead(view="navigation_counts")
        )
    except HTTPException:
        return COUNTS.keep(session.session_id, None, now=now)  # no office views here
    return COUNTS.keep(session.session_id, tasks.counts, now=now)


# Who finds the dashboard in the navigation: those who steer the office's time standards
# and those who audit them (the API lets all the office's staff read it).
DASHBOARD_READERS = frozenset({Role.COORDINATOR, Role.SUPERVISOR, Role.AUDITOR})


def navigation(actor: Actor) -> list[tuple[str, str]]:
    """The links of the header, as (path, msgid): each role's places to work."""
    links = [("/", N_("Home"))]
    if may_report(actor):
        links.append(("/intake", N_("Record a report")))
    if actor.role in CASE_OFFICE_ROLES:
        links.append(("/cases", N_("Cases")))
        links.append(("/search", N_("Search")))
    if actor.role in DASHBOARD_READERS:
        links.append(("/dashboard", N_("Dashboard")))
    if actor.role == Role.AGENCY_OFFICER:
        links.append(("/inbox", N_("Referrals inbox")))
    if may_administer_staff(actor, actor.district):
        links.append(("/staff", N_("Staff")))
        links.append(("/district", N_("District profile")))
    return links


def words_for(language: str, translations: Translations, value: object) -> str:
    """A vocabulary value in the user's words; other values as their translated label."""
    if isinstance(value, Enum):
        table = VOCABULARY_WORDS.get(type(value))
        if table is not None and value.value in table:
            indonesian, english = table[value.value]
            return str(indonesian if language == "id" else english)
        value = value.value
    if isinstance(value, bool):
        return translations.gettext("yes") if value else translations.gettext("no")
    return translations.gettext(label_of(str(value))) if isinstance(value, str) else str(value)


def local_time(zone: ZoneInfo | None, moment: datetime | None) -> str:
    """A moment as the district's clocks show it (WIB, WITA): staff read local time."""
    if moment is None:
        return ""
    shown = moment.astimezone(zone) if zone is not None else moment
    return shown.strftime("%Y-%m-%d %H:%M %Z")


class NoSession(Exception):
    """The browser brought no live session (none, expired, revoked or forged)."""


def browser_session(request: Request) -> BrowserSession:
    store: SessionStore = request.app.state.web_sessions
    session = store.resume(request.cookies.get(COOKIE_NAME), now=utc_now())
    if session is None:
        raise NoSession()
    request.state.session = session
    return session


SessionDep = Annotated[BrowserSession, Depends(browser_session)]


def refused(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    """A page saying why not, in the user's language: ``title`` and ``message`` are msgids."""
    return page(
        request,
        "refused.html",
        status=status,
        title=title,
        message=said(request, message),
    )


def not_found(request: Request) -> HTMLResponse:
    # A case the user may not see is answered like a missing one: nothing confirms it exists.
    return refused(
        request, 404, N_("Not found"), N_("There is no such case for you (rule case_not_found).")
    )


def csrf_refused(request: Request) -> HTMLResponse:
    return refused(
        request,
        403,
        N_("Not allowed"),
        N_("The form did not come from this page (rule csrf_token)."),
    )


async def posted_form(request: Request, *, max_bytes: int = MAX_FORM_BYTES) -> PostedForm:
    """The posted ``application/x-www-form-urlencoded`` fields, at most ``max_bytes`` read."""
    body = (await request.body())[:max_bytes]
    return PostedForm(parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True))


async def session_form(request: Request, session: BrowserSession | None) -> PostedForm | None:
    """The posted form if it carries the session's CSRF token (rule csrf_token), else None."""
    form = await posted_form(request)
    return form if form_is_ours(session, {CSRF_FIELD: form.first(CSRF_FIELD)}) else None


def no_session(request: Request, _: Exception) -> Response:
    return refused(
        request,
        401,
        N_("Not logged in"),
        N_("Your session has ended or was never opened (rule session_required)."),
    )


router = APIRouter(include_in_schema=False)


# Where the language link may lead back to: one of this site's own paths, never another
# site (an open redirect) and never a query (which could carry anything).
BACK_PATH = re.compile(r"^/(?!/)[A-Za-z0-9/_.-]*$")


@router.get("/language/{language}")
def choose_language(language: str, back: str = "/") -> Response:
    """The user's choice of language, kept in a cookie; back to the page they were on."""
    if language not in LANGUAGES:
        language = DEFAULT_LANGUAGE
    response = RedirectResponse(back if BACK_PATH.match(back) else "/", status_code=303)
    response.set_cookie(
        LANGUAGE_COOKIE, language, max_age=365 * 86400, secure=True, samesite="lax", path="/"
    )
    return response


@router.get("/static/simpul.css")
def stylesheet() -> Response:
    return Response(
        (STATIC / "simpul.css").read_bytes(),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=86400"},
    )
