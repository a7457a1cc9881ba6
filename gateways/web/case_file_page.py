"""The case file page: what is known, what is due and by when, the steps its reader may
take now, and the timeline; read like GET /api/v1/cases/{id}, so the view is logged."""

import re
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from gateways.web.i18n import N_
from gateways.web.pages import SessionDep, not_found, page
from gateways.web.steps import BY_OPERATION, steps_for
from projections.case_file import case_file_as_of
from projections.due_steps import due_steps
from projections.timeline import case_timeline
from services.access import AccessDenied, Who
from services.access_log import CaseRead
from services.accounts import Accounts
from services.case_commands import Step
from services.cases import CaseNotFound, Cases

STEP_CODE = re.compile(r"^[A-Z]+(-[A-Z]+)?\d+(\.\d+)*[a-z]?")
# The states of a due step shown under "what is due": the others are done or closed.
OWED = frozenset({"upcoming", "due", "overdue"})

# What the notice after a form names: the step just recorded (an operation in the URL).
RECORDED: dict[str, Step] = {
    operation: command.step for operation, command in BY_OPERATION.items()
} | {"report_case": Step("intake", "L1.1-L1.2", N_("Record a report"), Who.OFFICE_LEADS)}

router = APIRouter(include_in_schema=False)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_file_page(
    request: Request, case_id: UUID, session: SessionDep, recorded: str | None = None
) -> Response:
    cases: Cases = request.app.state.cases
    try:
        case, events = cases.read_case(session.actor, case_id, CaseRead(view="case_file_page"))
    except (CaseNotFound, AccessDenied):
        return not_found(request)
    profile = cases.district_profile(events[0])
    now = cases.clock()
    schedule = due_steps(events, profile, now=now)
    due = [step for step in schedule.steps if step.state in OWED]
    steps = steps_for(cases, session.actor, case)
    owed = {step.code for step in due}
    case_file = case_file_as_of(events)
    return page(
        request,
        "case_file.html",
        title=N_("Case file"),
        case=case_file,
        case_worker=_display_name(request, case_file.case_worker.user_id)
        if case_file.case_worker
        else None,
        due=due,
        documents_missing=schedule.documents_missing,
        next_steps=[link for link in steps if owed & step_codes(link.sop_step)],
        other_steps=[link for link in steps if not owed & step_codes(link.sop_step)],
        recorded=RECORDED.get(recorded or ""),
        timeline=case_timeline(events, profile, now=now).entries,
        timezone=profile.timezone,
    )


def step_codes(sop_step: str) -> set[str]:
    """The due-step codes a command's SOP step names: "L1.9-10" is L1.9, "L3.3 / L5.3" both,
    "K-C7" itself (a range's end is dropped, a district's prefix kept)."""
    return {
        found.group(0)
        for part in sop_step.split("/")
        if (found := STEP_CODE.match(part.strip())) is not None
    }


def _display_name(request: Request, user_id: str) -> str:
    """The colleague's name from the staff directory; the id where it keeps none."""
    accounts: Accounts | None = request.app.state.accounts
    member = accounts.directory.member(user_id) if accounts is not None else None
    return member.display_name if member is not None else user_id
