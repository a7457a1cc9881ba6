"""The pages a day starts from: intake of a report, the office's case list, an agency's inbox.

Each reads through the same services as its API route (``Cases.report_case``, the
coordinator views' store, the agency's projection) with the same access checks and
the same access log entries; none puts case data in a URL.
"""

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from domain.errors import InvalidValue, RuleViolated
from domain.vocabulary import Role
from gateways.api.routes.agencies import list_referrals
from gateways.api.routes.coordinator import list_cases
from gateways.web.forms import PostedForm, field_errors, items_of, posted_value
from gateways.web.i18n import N_
from gateways.web.office_views import NOT_THE_OFFICE, office_views
from gateways.web.pages import (
    SessionDep,
    csrf_refused,
    language_of,
    page,
    refused,
    said,
    session_form,
)
from gateways.web.rule_messages import refusal_text
from gateways.web.steps import BY_OPERATION, FORM_KEY_FIELD, SENT_TWICE
from services.access import AccessDenied, may_report
from services.access_log import CaseRead
from services.case_commands import (
    AcceptReferral,
    CaseCommand,
    DeclineReferral,
    NoteReferralProgress,
    RecordServiceDelivery,
    ReportCase,
)
from services.cases import Cases, IdempotencyKeyReused

INTAKE_ITEMS = items_of(ReportCase)
# What an agency does with a referral in its inbox, by the referral's status.
INBOX_STEPS: dict[str, tuple[type[CaseCommand], ...]] = {
    "pending": (AcceptReferral, DeclineReferral),
    "accepted": (NoteReferralProgress, RecordServiceDelivery),
    "in_progress": (NoteReferralProgress, RecordServiceDelivery),
}
CASE_LIST_LIMIT = 100

router = APIRouter(include_in_schema=False)


def _intake_page(
    request: Request,
    session: SessionDep,
    *,
    status: int = 200,
    values: PostedForm | None = None,
    errors: dict[str, str] | None = None,
    refusal: str | None = None,
    form_key: str | None = None,
) -> Response:
    cases: Cases = request.app.state.cases
    return page(
        request,
        "intake.html",
        status=status,
        title=N_("Record a report"),
        items=INTAKE_ITEMS,
        csrf=session.csrf_token,
        form_key=form_key or secrets.token_urlsafe(16),
        values=values or PostedForm({}),
        errors=errors or {},
        refusal=refusal,
        timezone=cases.profiles.profile(session.actor.district).timezone,
    )


@router.get("/intake", response_class=HTMLResponse)
def intake_form(request: Request, session: SessionDep) -> Response:
    """L1.1-L1.2: a report from any channel, with victim, reporter, reported person."""
    if not may_report(session.actor):
        return refused(
            request,
            403,
            N_("Not allowed"),
            N_("Only the office's staff record reports (rule not_permitted)."),
        )
    return _intake_page(request, session)


@router.post("/intake", response_class=HTMLResponse)
async def record_report(request: Request, session: SessionDep) -> Response:
    form = await session_form(request, session)
    if form is None:
        return csrf_refused(request)
    cases: Cases = request.app.state.cases
    zone = cases.profiles.profile(session.actor.district).timezone
    form_key = form.first(FORM_KEY_FIELD)
    try:
        report = ReportCase.model_validate(posted_value(INTAKE_ITEMS, form, zone))
        result = cases.report_case(
            session.actor, report, idempotency_key=f"web:{form_key}" if form_key else None
        )
    except (ValidationError, InvalidValue) as invalid:
        return _intake_page(
            request,
            session,
            status=422,
            values=form,
            errors=field_errors(invalid),
            form_key=form_key,
        )
    except RuleViolated as rule:
        return _intake_page(
            request,
            session,
            status=409,
            values=form,
            refusal=refusal_text(language_of(request), rule),
            form_key=form_key,
        )
    except IdempotencyKeyReused:
        # Another report was recorded with this form: a new key, so the next send is new.
        return _intake_page(
            request,
            session,
            status=409,
            values=form,
            refusal=said(request, SENT_TWICE),
        )
    except AccessDenied:
        return refused(
            request,
            403,
            N_("Not allowed"),
            N_("Only the office's staff record reports (rule not_permitted)."),
        )
    return RedirectResponse(f"/cases/{result.case_id}?recorded=report_case", status_code=303)


@router.get("/cases", response_class=HTMLResponse)
def case_list(request: Request, session: SessionDep, mine: bool | None = None) -> Response:
    """The office's open cases, newest first; a case worker's own by default."""
    cases: Cases = request.app.state.cases
    actor = session.actor
    if office_views(request, session, "case_list_page") is None:
        return refused(request, 403, N_("Not allowed"), NOT_THE_OFFICE)
    only_mine = mine if mine is not None else actor.role == Role.CASE_WORKER
    listed = list_cases(
        actor,
        request.app.state.coordinator_views,
        cases,
        case_worker=actor.user_id if only_mine else None,
        limit=CASE_LIST_LIMIT,
    )
    return page(
        request,
        "case_list.html",
        title=N_("Cases"),
        items=listed.items,
        only_mine=only_mine,
        timezone=cases.profiles.profile(actor.district).timezone,
    )


@router.get("/inbox", response_class=HTMLResponse)
def agency_inbox(request: Request, session: SessionDep, recorded: str | None = None) -> Response:
    """The referrals to the officer's agency, soonest due first, with what to do next."""
    cases: Cases = request.app.state.cases
    actor = session.actor
    inbox = request.app.state.agency_inboxes.get(actor.agency.value)
    if actor.role != Role.AGENCY_OFFICER or inbox is None:
        return refused(
            request,
            403,
            N_("Not allowed"),
            N_("Only an agency's officers read its inbox (rule agency_inbox)."),
        )
    # The API's own inbox read: its district rule (a provincial office reads every
    # district's) and its access-log record of each case shown.
    referrals = list_referrals(actor.agency, inbox, actor, CaseRead(view="inbox_page"), cases)
    return page(
        request,
        "inbox.html",
        title=N_("Referrals inbox"),
        referrals=referrals,
        recorded=BY_OPERATION[recorded].step if recorded in BY_OPERATION else None,
        steps={
            status: [(c.operation(), c.step.sop_step, c.step.summary) for c in commands]
            for status, commands in INBOX_STEPS.items()
        },
        timezone=cases.profiles.profile(actor.district).timezone,
    )
