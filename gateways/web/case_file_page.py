"""The case file page: what is known, what is due and by when, the steps its reader may
take now, and the timeline; read like GET /api/v1/cases/{id}, so the view is logged."""

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from gateways.web.i18n import N_
from gateways.web.pages import SessionDep, not_found, page
from gateways.web.steps import BY_OPERATION, steps_for
from projections.case_file import case_file_as_of, history_entry
from projections.due_steps import due_steps
from services.access import AccessDenied, Who
from services.access_log import CaseRead
from services.case_commands import Step
from services.cases import CaseNotFound, Cases

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
        events = cases.read_case_events(session.actor, case_id, CaseRead(view="case_file_page"))
    except (CaseNotFound, AccessDenied):
        return not_found(request)
    profile = cases.district_profile(events[0])
    due = due_steps(events, profile, now=cases.clock())
    done = RECORDED.get(recorded or "")
    return page(
        request,
        "case_file.html",
        title=N_("Case file"),
        case=case_file_as_of(events),
        due=[step for step in due.steps if step.state in OWED],
        documents_missing=due.documents_missing,
        steps=steps_for(cases, session.actor, cases.visible_case(session.actor, case_id)),
        recorded=done,
        history=[history_entry(event) for event in events],
        timezone=profile.timezone,
    )
