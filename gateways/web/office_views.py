"""The coordinator's dashboard and the district's SOP as configured, as pages.

The dashboard is the API's time-standards dashboard and workload (GET
/api/v1/dashboard/time-standards, /workload) over the same coordinator read model, read
by the same people (the district's coordinating office and auditors) and recorded in the
access log the same way; its filters travel in the query (a step code, an agency, the
states), never personal data. The district page is GET /api/v1/profiles/{district}: the
steps and clocks of the profile in use, read-only.
"""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from domain.vocabulary import Agency
from gateways.api.routes.coordinator import (
    STEP_CODE,
    DashboardState,
    office_reader,
    time_standards_dashboard,
    workload,
)
from gateways.api.routes.service import district_profile
from gateways.readmodels.coordinator import CoordinatorStore
from gateways.web.i18n import N_
from gateways.web.pages import SessionDep, page, refused
from services.access import AccessDenied
from services.access_log import CaseRead
from services.accounts import Accounts
from services.cases import Cases

DASHBOARD_LIMIT = 100
STATES: tuple[DashboardState, ...] = ("due", "overdue", "met", "late")

NOT_THE_OFFICE = N_("The case list is the coordinating office's (rule coordinator_views).")

router = APIRouter(include_in_schema=False)


def office_views(request: Request, session: SessionDep, view: str) -> CoordinatorStore | None:
    """The office's views, if this deployment keeps them and they are the reader's (as
    GET /api/v1/cases and the dashboard decide: office_reader); the read recorded first."""
    store: CoordinatorStore | None = request.app.state.coordinator_views
    if store is None:
        return None
    try:
        office_reader(session.actor, CaseRead(view=view), request.app.state.cases)
    except AccessDenied:
        return None
    return store


def duration(minutes: int) -> tuple[int, str]:
    """A time standard as the SOPs write it: (3, "days"), (1, "hours"), (30, "minutes")."""
    if minutes % 1440 == 0:
        return minutes // 1440, N_("days")
    if minutes % 60 == 0:
        return minutes // 60, N_("hours")
    return minutes, N_("minutes")


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(
    request: Request,
    session: SessionDep,
    code: Annotated[str | None, Query(pattern=f"^$|{STEP_CODE}")] = None,
    agency: Annotated[Agency | None, Query()] = None,
    state: Annotated[list[DashboardState] | None, Query()] = None,
) -> Response:
    """Steps due and overdue per case and per agency, and the workload per worker."""
    cases: Cases = request.app.state.cases
    actor = session.actor
    store = office_views(request, session, "dashboard_page")
    if store is None:
        return refused(request, 403, N_("Not allowed"), NOT_THE_OFFICE)
    steps = time_standards_dashboard(
        actor,
        store,
        cases,
        state=state or None,
        code=code or None,
        agency=agency,
        limit=DASHBOARD_LIMIT,
        cursor=None,
    )
    load = workload(actor, store, cases)
    accounts: Accounts | None = request.app.state.accounts
    names = {
        member.user_id: member.display_name
        for member in (
            accounts.directory.members(district=actor.district, active_only=False)
            if accounts is not None
            else []
        )
    }
    profile = cases.profiles.profile(actor.district)
    return page(
        request,
        "dashboard.html",
        title=N_("Dashboard"),
        steps=steps,
        load=load,
        names=names,
        codes=sorted({step.code for step in profile.steps}),
        agencies=list(Agency),
        states=STATES,
        chosen={
            "code": code or "",
            "agency": agency.value if agency else "",
            "states": state or [],
        },
        audit=actor.role.value == "auditor",
        timezone=profile.timezone,
    )


@router.get("/district", response_class=HTMLResponse)
def district_page(request: Request, session: SessionDep) -> Response:
    """The SOP profile of the reader's district: its steps, their clocks and processes."""
    cases: Cases = request.app.state.cases
    if session.actor.district not in cases.profiles.districts():
        return refused(request, 404, N_("Not found"), N_("There is no such page."))
    profile = district_profile(session.actor.district, cases, session.actor)
    return page(
        request,
        "district.html",
        title=N_("District profile"),
        profile=profile,
        duration=duration,
    )
