"""The SOP steps as pages: one form per step of the step table, issued like the API's.

The case file lists the steps its reader may take now (the step's ``who`` and the
district's processes, as ``Cases.execute`` checks them); each opens a form generated
from the command's model (gateways/web/forms.py). The post goes through the same
``Cases.execute`` as ``POST /api/v1/cases/{id}/<step>``, with the case version the
form was opened at (a stale form is refused, never silently applied) and the form's
own idempotency key (a second click records nothing twice). A refused command shows
the form again with the field or rule named; what was typed stays in the fields so
nothing is lost, and no message repeats it.
"""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from domain.actors import Actor
from domain.case import Case
from domain.errors import InvalidValue, NothingCorrected, ReferralNotFound, RuleViolated
from domain.vocabulary import Role
from gateways.web.forms import (
    Choice,
    FormField,
    FormItem,
    PostedForm,
    field_errors,
    items_of,
    posted_value,
)
from gateways.web.i18n import N_
from gateways.web.pages import (
    SessionDep,
    csrf_refused,
    language_of,
    not_found,
    page,
    said,
    session_form,
)
from gateways.web.rule_messages import refusal_text, rule_message
from services.access import AccessDenied
from services.access_log import CaseRead
from services.accounts import Accounts, StaffRecord
from services.case_commands import CASE_STEPS, CaseCommand, ReferralCommand
from services.cases import CaseNotFound, Cases, IdempotencyKeyReused, VersionConflict

FORM_KEY_FIELD = "form_key"
VERSION_FIELD = "case_version"
BY_OPERATION: dict[str, type[CaseCommand]] = {
    command.operation(): command for command in CASE_STEPS
}


@dataclass(frozen=True)
class StepLink:
    """A step its reader may take now, as a link to its form."""

    operation: str
    sop_step: str
    summary: str
    href: str


def _may_act(cases: Cases, actor: Actor, case: Case, command: type[CaseCommand], **on: Any) -> bool:
    """Whether the step is the actor's to take on this case (its ``who``)."""
    try:
        cases.access.require_may_act(actor, case, command.step.who, **on)
    except AccessDenied:
        return False
    return True


def _may_take(
    cases: Cases, actor: Actor, case: Case, command: type[CaseCommand], **on: Any
) -> bool:
    """The actor's step, of a process the case's district runs: one the case file offers."""
    process = command.process
    return _may_act(cases, actor, case, command, **on) and (
        process is None or cases.profiles.profile(case.district).runs(process)
    )


def steps_for(cases: Cases, actor: Actor, case: Case) -> list[StepLink]:
    """The case's steps its reader may take, those on each open referral after them."""
    if case.is_closed:
        return []
    links = [
        StepLink(
            command.operation(),
            command.step.sop_step,
            command.step.summary,
            f"/cases/{case.id}/steps/{command.operation()}",
        )
        for command in CASE_STEPS
        if not issubclass(command, ReferralCommand) and _may_take(cases, actor, case, command)
    ]
    for referral_id, referral in case.referrals.items():
        if referral.is_settled:
            continue
        links.extend(
            StepLink(
                command.operation(),
                command.step.sop_step,
                command.step.summary,
                f"/cases/{case.id}/referrals/{referral_id}/steps/{command.operation()}",
            )
            for command in CASE_STEPS
            if issubclass(command, ReferralCommand)
            and _may_take(cases, actor, case, command, referral_agency=referral.agency)
        )
    return links


def _case_choices(item: FormItem, case: Case, colleagues: Sequence[StaffRecord]) -> FormItem:
    """Fields that name something of this case offer what the case holds, and the case
    worker is chosen from the office's active case workers where accounts are kept."""
    if not isinstance(item, FormField):
        return item
    held: Sequence[str] = ()
    if item.name == "case_worker_id" and colleagues:
        return replace(
            item,
            widget="select",
            choices=tuple(Choice(m.user_id, (m.display_name, m.display_name)) for m in colleagues),
        )
    if item.name == "recommendation_id":
        held = [rid for rid, r in case.recommendations.items() if r.status == "proposed"]
    elif item.name == "beneficiary_id":
        held = list(case.beneficiaries)
    elif item.name == "beneficiary_ids":
        held = ["1", *case.beneficiaries]
        return FormField(
            item.name,
            item.label,
            "checkboxes",
            False,
            item.description,
            tuple(Choice(value, None) for value in held),
        )
    elif item.name == "referral_id":
        held = [rid for rid, r in case.referrals.items() if not r.is_settled]
    else:
        return item
    return FormField(
        item.name,
        item.label,
        "select",
        item.required,
        item.description,
        tuple(Choice(value, None) for value in held),
    )


def form_items(
    command: type[CaseCommand], case: Case, colleagues: Sequence[StaffRecord] = ()
) -> tuple[FormItem, ...]:
    leave_out = ("referral_id",) if issubclass(command, ReferralCommand) else ()
    return tuple(
        _case_choices(item, case, colleagues) for item in items_of(command, leave_out=leave_out)
    )


def case_workers(request: Request, case: Case) -> list[StaffRecord]:
    """The active case workers of the case's office, where the deployment keeps accounts."""
    accounts: Accounts | None = request.app.state.accounts
    if accounts is None:
        return []
    cases: Cases = request.app.state.cases
    office = cases.access.coordinating_agency(case.district)
    return accounts.directory.members(district=case.district, role=Role.CASE_WORKER, agency=office)


def _command(operation: str, *, on_referral: bool) -> type[CaseCommand] | None:
    command = BY_OPERATION.get(operation)
    if command is None or issubclass(command, ReferralCommand) != on_referral:
        return None
    return command


def _readable_case(request: Request, session: SessionDep, case_id: UUID, view: str) -> Case | None:
    cases: Cases = request.app.state.cases
    try:
        return cases.authorize_case_read(session.actor, case_id, CaseRead(view=view))
    except (CaseNotFound, AccessDenied):
        return None


def _form_page(
    request: Request,
    session: SessionDep,
    case: Case,
    command: type[CaseCommand],
    action: str,
    *,
    status: int = 200,
    values: PostedForm | None = None,
    errors: dict[str, str] | None = None,
    refusal: str | None = None,
    version: int | None = None,
    form_key: str | None = None,
    items: tuple[FormItem, ...] | None = None,
) -> Response:
    return page(
        request,
        "step_form.html",
        status=status,
        title=N_("Record a step"),
        case=case,
        command=command,
        items=items
        if items is not None
        else form_items(command, case, case_workers(request, case)),
        action=action,
        csrf=session.csrf_token,
        version=version if version is not None else case.version,
        form_key=form_key or secrets.token_urlsafe(16),
        values=values or PostedForm({}),
        errors=errors or {},
        refusal=refusal,
        timezone=request.app.state.cases.profiles.profile(case.district).timezone,
        back_to_inbox=session.actor.role == Role.AGENCY_OFFICER,
    )


def _show_form(
    request: Request, session: SessionDep, case_id: UUID, operation: str, referral_id: str | None
) -> Response:
    command = _command(operation, on_referral=referral_id is not None)
    case = _readable_case(request, session, case_id, "step_form_page")
    if (
        command is None
        or case is None
        or (referral_id is not None and referral_id not in case.referrals)
    ):
        return not_found(request)
    # A form is shown only to whom the step belongs: another agency's officer, or an
    # office step opened by an agency, finds nothing (as the command would be refused).
    on = {"referral_agency": case.referral(referral_id).agency} if referral_id else {}
    if not _may_act(request.app.state.cases, session.actor, case, command, **on):
        return not_found(request)
    return _form_page(request, session, case, command, request.url.path)


async def _take_step(
    request: Request, session: SessionDep, case_id: UUID, operation: str, referral_id: str | None
) -> Response:
    form = await session_form(request, session)
    if form is None:
        return csrf_refused(request)
    command = _command(operation, on_referral=referral_id is not None)
    case = _readable_case(request, session, case_id, "step_form_post")
    if command is None or case is None:
        return not_found(request)
    cases: Cases = request.app.state.cases
    zone = cases.profiles.profile(case.district).timezone
    items = form_items(command, case, case_workers(request, case))
    body = posted_value(items, form, zone)
    if referral_id is not None:
        body["referral_id"] = referral_id
    version_sent = form.first(VERSION_FIELD)
    expected = int(version_sent) if version_sent.isdigit() else None
    form_key = form.first(FORM_KEY_FIELD)
    status, errors, refusal = 303, {}, None
    try:
        issued = command.model_validate(body)
        cases.execute(
            session.actor,
            case_id,
            issued,
            expected_version=expected,
            idempotency_key=f"web:{form_key}" if form_key else None,
        )
    except ValidationError as invalid:
        status, errors = 422, field_errors(invalid)
    except NothingCorrected as unchanged:
        status, errors = 422, {unchanged.field: rule_message(unchanged)}
    except InvalidValue as invalid:
        status, errors = 422, field_errors(invalid)
    except RuleViolated as rule:
        status, refusal = 409, refusal_text(language_of(request), rule)
    except VersionConflict:
        # Shown with the case's new version: the user reads what changed, then may send again.
        status, refusal, expected = 409, said(request, STALE_FORM), None
    except IdempotencyKeyReused:
        status, refusal, form_key = 409, said(request, SENT_TWICE), ""
    except (AccessDenied, CaseNotFound, ReferralNotFound):
        return not_found(request)
    if status != 303:
        return _form_page(
            request,
            session,
            case,
            command,
            request.url.path,
            status=status,
            values=form,
            errors=errors,
            refusal=refusal,
            version=expected,
            form_key=form_key or None,
            items=items,
        )
    # An agency works from its inbox: the case file is the office's (require_may_read_case_file).
    if session.actor.role == Role.AGENCY_OFFICER:
        return RedirectResponse(f"/inbox?recorded={operation}", status_code=303)
    return RedirectResponse(f"/cases/{case_id}?recorded={operation}", status_code=303)


STALE_FORM = N_(
    "The case changed since this form was opened: read the case file, then send the form "
    "again (rule stale_form)."
)
SENT_TWICE = N_(
    "This form was already sent with other values: open the step again (rule form_sent_twice)."
)


router = APIRouter(include_in_schema=False)


@router.get("/cases/{case_id}/steps/{operation}", response_class=HTMLResponse)
def step_form(request: Request, case_id: UUID, operation: str, session: SessionDep) -> Response:
    return _show_form(request, session, case_id, operation, None)


@router.post("/cases/{case_id}/steps/{operation}", response_class=HTMLResponse)
async def take_step(
    request: Request, case_id: UUID, operation: str, session: SessionDep
) -> Response:
    return await _take_step(request, session, case_id, operation, None)


@router.get(
    "/cases/{case_id}/referrals/{referral_id}/steps/{operation}", response_class=HTMLResponse
)
def referral_step_form(
    request: Request, case_id: UUID, referral_id: UUID, operation: str, session: SessionDep
) -> Response:
    return _show_form(request, session, case_id, operation, str(referral_id))


@router.post(
    "/cases/{case_id}/referrals/{referral_id}/steps/{operation}", response_class=HTMLResponse
)
async def take_referral_step(
    request: Request, case_id: UUID, referral_id: UUID, operation: str, session: SessionDep
) -> Response:
    return await _take_step(request, session, case_id, operation, str(referral_id))
