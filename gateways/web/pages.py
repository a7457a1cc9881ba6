"""The pages, each over the same services as the API routes (reads through CaseRead).

A page answers with the pages' Content-Security-Policy (only this host's styles and
images, no script, no framing) and ``no-store``; the session comes from its cookie.
"""

from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from gateways.web.i18n import LANGUAGE_COOKIE, TRANSLATIONS, chosen_language
from gateways.web.sessions import COOKIE_NAME, BrowserSession, SessionStore
from projections.case_file import case_file_as_of, history_entry
from services.access import AccessDenied
from services.access_log import CaseRead
from services.cases import CaseNotFound, Cases, utc_now

PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
STATIC = Path(__file__).parent / "static"
ENVIRONMENT = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
)


def _language(request: Request) -> str:
    return chosen_language(
        request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")
    )


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    language = _language(request)
    translations = TRANSLATIONS[language]
    context["title"] = translations.gettext(context["title"])
    html = ENVIRONMENT.get_template(template).render(
        language=language,
        _=translations.gettext,
        **context,
    )
    return HTMLResponse(
        html,
        status_code=status,
        headers={"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-store"},
    )


class NoSession(Exception):
    """The browser brought no live session (none, expired, revoked or forged)."""


def browser_session(request: Request) -> BrowserSession:
    store: SessionStore = request.app.state.web_sessions
    session = store.resume(request.cookies.get(COOKIE_NAME), now=utc_now())
    if session is None:
        raise NoSession()
    return session


SessionDep = Annotated[BrowserSession, Depends(browser_session)]


def no_session(request: Request, _: Exception) -> Response:
    return page(
        request,
        "refused.html",
        status=401,
        title="Not logged in",
        message=TRANSLATIONS[_language(request)].gettext(
            "Your session has ended or was never opened (rule session_required)."
        ),
    )


router = APIRouter(include_in_schema=False)


@router.get("/static/simpul.css")
def stylesheet() -> Response:
    return Response(
        (STATIC / "simpul.css").read_bytes(),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_file_page(request: Request, case_id: UUID, session: SessionDep) -> Response:
    """The case file: its facts and its timeline, read like GET /api/v1/cases/{id}."""
    cases: Cases = request.app.state.cases
    try:
        events = cases.read_case_events(session.actor, case_id, CaseRead(view="case_file_page"))
    except (CaseNotFound, AccessDenied):
        # A case the user may not see is answered like a missing one: nothing confirms it exists.
        return page(
            request,
            "refused.html",
            status=404,
            title="Not found",
            message=TRANSLATIONS[_language(request)].gettext(
                "There is no such case for you (rule case_not_found)."
            ),
        )
    return page(
        request,
        "case_file.html",
        title="Case file",
        case=case_file_as_of(events),
        history=[history_entry(event) for event in events],
    )
