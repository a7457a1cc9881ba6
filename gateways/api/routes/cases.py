"""Cases: report one, read its file, its history and its due steps."""

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime, BaseModel, Field

from domain.time_standards import case_milestones, step_schedule
from gateways.api.deps import ActorDep, CaseReadDep, CasesDep, IdempotencyKey
from gateways.api.problems import COMMAND_ERRORS, READ_ERRORS
from gateways.api.schemas import CommandAccepted, accepted
from projections.case_file import CaseFile, HistoryEntry, case_file_as_of, history_entry
from services.case_commands import ReportCase

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
    as_of: Annotated[AwareDatetime | None, Query(description="State as of this time")] = None,
) -> CaseFile:
    """The case file of a case the caller may see; its ETag is the case version."""
    events = cases.read_case_events(actor, case_id, read, upto_version=version)
    case_file = case_file_as_of(events, version=version, as_of=as_of)
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


class DueStep(BaseModel):
    code: str = Field(description="SOP step, e.g. L1.5")
    stage: str
    title_id: str
    title_en: str
    limit_minutes: int = Field(description="The time standard for this step")
    started_at: datetime
    due_at: datetime
    done_at: datetime | None
    state: Literal["met", "late", "due", "overdue", "closed"]
    referral_id: str | None = None


class DueSteps(BaseModel):
    case_id: UUID
    district: str
    now: datetime
    steps: list[DueStep]
    overdue: list[str] = Field(description="Codes of the steps now overdue")


@router.get(
    "/{case_id}/due-steps",
    response_model=DueSteps,
    summary="Which SOP steps are due, when, and which are overdue (time standards)",
    responses=READ_ERRORS,
)
def read_due_steps(
    case_id: UUID, cases: CasesDep, actor: ActorDep, read: CaseReadDep
) -> DueSteps:
    """The district's time standards applied to this case at the current time."""
    events = cases.read_case_events(actor, case_id, read)
    report: Any = events[0]  # a case's history opens with its report
    district: str = report.district
    now = cases.clock()
    statuses = step_schedule(cases.profiles.profile(district), case_milestones(events), now)
    steps = [
        DueStep(
            code=status.code,
            stage=status.stage,
            title_id=status.title_id,
            title_en=status.title_en,
            limit_minutes=int(status.limit / timedelta(minutes=1)),
            started_at=status.started_at,
            due_at=status.due_at,
            done_at=status.done_at,
            state=status.state,
            referral_id=status.referral_id,
        )
        for status in statuses
    ]
    return DueSteps(
        case_id=case_id,
        district=district,
        now=now,
        steps=steps,
        overdue=[step.code for step in steps if step.state == "overdue"],
    )
