"""Cases: report one, read its file, its history and its due steps."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from gateways.api.deps import ActorDep, CaseReadDep, CasesDep, IdempotencyKey
from gateways.api.problems import COMMAND_ERRORS, READ_ERRORS
from gateways.api.schemas import CommandAccepted, accepted
from projections.case_file import (
    CaseFile,
    HistoryEntry,
    case_file_as_of,
    history_as_of,
    history_entry,
)
from projections.document_checklist import missing_documents
from projections.due_steps import DueSteps, due_steps
from services.case_commands import Moment, ReportCase

router = APIRouter(prefix="/cases", tags=["cases"])


@router.post(
    "",
    status_code=201,
    response_model=CommandAccepted,
    summary="L1.1-L1.2: Record a report; opens a case with a register number",
    responses=COMMAND_ERRORS,
)
def report_case(
    report: ReportCase,
    response: Response,
    cases: CasesDep,
    actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> CommandAccepted:
    """Record a report of violence. The caller's district coordinates the new case."""
    result = cases.report_case(actor, report, idempotency_key=idempotency_key)
    response.headers["Location"] = f"/api/v1/cases/{result.case_id}"
    # Where the office sees the earlier cases naming the same person (services/same_person.py).
    response.headers["Link"] = f'</api/v1/cases/{result.case_id}/same-person>; rel="same-person"'
    return accepted(response, result)


@router.get(
    "/{case_id}",
    response_model=CaseFile,
    summary="The case file: current state, or as it was at a version or time",
    responses=READ_ERRORS,
)
def read_case(
    case_id: UUID,
    response: Response,
    cases: CasesDep,
    actor: ActorDep,
    read: CaseReadDep,
    version: Annotated[int | None, Query(ge=1, description="State as of this version")] = None,
    as_of: Annotated[Moment | None, Query(description="State as of this time")] = None,
) -> CaseFile:
    """The case file of a case the caller may see; its ETag is the case version."""
    events = cases.read_case_events(actor, case_id, read, upto_version=version)
    case_file = case_file_as_of(events, version=version, as_of=as_of)
    shown = history_as_of(events, version=version, as_of=as_of)
    case_file.documents_missing = missing_documents(shown, cases.district_profile(events[0]))
    response.headers["ETag"] = f'"{case_file.version}"'
    return case_file


@router.get(
    "/{case_id}/events",
    response_model=list[HistoryEntry],
    summary="The case's recorded events, oldest first",
    responses=READ_ERRORS,
)
def read_history(
    case_id: UUID, cases: CasesDep, actor: ActorDep, read: CaseReadDep
) -> list[HistoryEntry]:
    """Every event recorded on the case, with who recorded it and when."""
    return [history_entry(event) for event in cases.read_case_events(actor, case_id, read)]


@router.get(
    "/{case_id}/due-steps",
    response_model=DueSteps,
    summary="Which SOP steps are due, when, and which are overdue (time standards)",
    responses=READ_ERRORS,
)
def read_due_steps(case_id: UUID, cases: CasesDep, actor: ActorDep, read: CaseReadDep) -> DueSteps:
    """The district's time standards applied to this case at the current time."""
    events = cases.read_case_events(actor, case_id, read)
    return due_steps(events, cases.district_profile(events[0]), now=cases.clock())
