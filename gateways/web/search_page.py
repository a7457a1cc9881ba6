"""The office's case search as a page: the same POST /api/v1/case-search, terms in the form.

A search names people, so its terms travel in the posted form, never in the URL; it states
its purpose, and it is recorded (sealed) in the access log before anything is searched,
each case found as read by the searcher, exactly as the API's search records it.
"""

import secrets

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from domain.errors import InvalidValue
from gateways.api.routes.case_search import CaseSearch, search_cases
from gateways.web.forms import PostedForm, field_errors, items_of, posted_value
from gateways.web.i18n import N_
from gateways.web.pages import SessionDep, csrf_refused, page, refused, session_form
from services.access import AccessDenied
from services.access_log import CaseRead
from services.cases import Cases

# The search's keys and its one filter a person types at the desk; the API has the rest.
SEARCH_ITEMS = items_of(
    CaseSearch,
    leave_out=(
        "stage",
        "risk_level",
        "case_type",
        "agency",
        "case_worker",
        "overdue_step",
        "limit",
    ),
)
NOT_THE_OFFICE = N_("Only the staff of the district's coordinating office search its cases.")

router = APIRouter(include_in_schema=False)


def _search_page(
    request: Request,
    session: SessionDep,
    *,
    status: int = 200,
    values: PostedForm | None = None,
    errors: dict[str, str] | None = None,
    found: object = None,
) -> Response:
    cases: Cases = request.app.state.cases
    return page(
        request,
        "search.html",
        status=status,
        title=N_("Search cases"),
        items=SEARCH_ITEMS,
        values=values or PostedForm({}),
        errors=errors or {},
        found=found,
        form_key=secrets.token_urlsafe(8),
        timezone=cases.profiles.profile(session.actor.district).timezone,
    )


@router.get("/search", response_class=HTMLResponse)
def search_form(request: Request, session: SessionDep) -> Response:
    cases: Cases = request.app.state.cases
    if not cases.access.may_search_cases(session.actor):
        return refused(request, 403, N_("Not allowed"), NOT_THE_OFFICE)
    return _search_page(request, session)


@router.post("/search", response_class=HTMLResponse)
async def search(request: Request, session: SessionDep) -> Response:
    form = await session_form(request, session)
    if form is None:
        return csrf_refused(request)
    cases: Cases = request.app.state.cases
    store = request.app.state.coordinator_views
    if store is None or not cases.access.may_search_cases(session.actor):
        return refused(request, 403, N_("Not allowed"), NOT_THE_OFFICE)
    zone = cases.profiles.profile(session.actor.district).timezone
    try:
        wanted = CaseSearch.model_validate(posted_value(SEARCH_ITEMS, form, zone))
        found = search_cases(
            wanted, request, session.actor, CaseRead(view="search_page"), cases, store
        )
    except ValidationError as invalid:
        return _search_page(request, session, status=422, values=form, errors=field_errors(invalid))
    except InvalidValue as invalid:
        errors = field_errors(invalid)
        return _search_page(request, session, status=422, values=form, errors=errors)
    except AccessDenied:
        return refused(request, 403, N_("Not allowed"), NOT_THE_OFFICE)
    except HTTPException:
        return refused(
            request,
            503,
            N_("Not available"),
            N_("The search needs the deployment's search key."),
        )
    return _search_page(request, session, values=form, found=found)
