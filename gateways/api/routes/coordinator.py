"""The coordinating office's views: the open-case list, workload and the time-standard dashboard.

Read by the UPTD PPA of the caller's district (intake officers, case workers,
coordinators) and by auditors, always scoped to the caller's district. The
views follow the event store, so they are eventually consistent: a command's
effect shows within the projector's lag, normally well under a second; every
answer carries the event ``position`` it includes. No personal data is listed
here; the case file is where it is read, attributably.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from domain.actors import Actor
from domain.vocabulary import Agency, CaseType, Jurisdiction, RiskLevel, Stage
from gateways.api.deps import ActorDep, CaseReadDep, CasesDep, CoordinatorViewsDep
from gateways.api.problems import Problem
from gateways.readmodels.coordinator import CaseFilters, StepFilters
from projections.workload import AgencyLoad, CaseWorkerLoad, Workload
from services.access import AccessDenied
from services.case_commands import UserId

router = APIRouter(tags=["coordinator"])

VIEW_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "No valid bearer token"},
    403: {"model": Problem, "description": "Not the district's coordinating office or an auditor"},
    422: {"model": Problem, "description": "A query parameter is invalid; the problem names it"},
    503: {"model": Problem, "description": "The store behind the views is unreachable"},
}
# A profile's step code: Luwu Utara's L1.5, L1.5-ack or L4.4-2 (a window's second period),
# Tanjungpinang's T3, Kutai Timur's K-C8.
STEP_CODE = r"^[A-Z]{1,3}(-[A-Z]{1,3})?\d+(\.\d+)*(-[a-z]+|-\d+)?$"
DashboardState = Literal["upcoming", "due", "overdue", "met", "late", "closed"]


def office_reader(actor: ActorDep, read: CaseReadDep, cases: CasesDep) -> Actor:
    """The caller, if the office's views are theirs to read; the read is recorded first."""
    if not cases.access.may_read_coordinator_views(actor):
        raise AccessDenied(
            "coordinator_views",
            "only the district's coordinating office (its profile's coordinating agency, "
            "the UPTD PPA unless it says otherwise) and auditors read these views",
        )
    cases.record_office_view_read(actor, read)
    return actor


OfficeReader = Annotated[Actor, Depends(office_reader)]
Limit = Annotated[int, Query(ge=1, le=200, description="Most items in one page")]
# A page position: the sort key in microseconds since 1800 (UTC) and the case id. Any
# string of this form is a position (17 digits stay within the year 4900), so the
# pattern says exactly what is accepted.
CURSOR_PATTERN = "^[0-9]{1,17}_[0-9a-f]{32}$"
EPOCH = datetime(1800, 1, 1, tzinfo=UTC)
Cursor = Annotated[
    str | None,
    Query(pattern=CURSOR_PATTERN, description="The `next_cursor` of the previous page"),
]


def _encode_cursor(key: datetime, case_id: UUID) -> str:
    return f"{(key - EPOCH) // timedelta(microseconds=1)}_{case_id.hex}"


def _decode_cursor(cursor: str | None) -> tuple[datetime, UUID] | None:
    if cursor is None:
        return None
    micros, case_id = cursor.split("_")
    return EPOCH + timedelta(microseconds=int(micros)), UUID(hex=case_id)


# ---- The open-case list ------------------------------------------------------------------


class CaseListItem(BaseModel):
    case_id: UUID
    register_number: str
    stage: Stage
    status: Literal["open", "closed"]
    case_type: CaseType | None
    risk_level: RiskLevel | None
    jurisdiction: Jurisdiction | None
    emergency: bool
    case_worker_id: str | None
    open_referral_agencies: list[Agency] = Field(description="Agencies with an open referral")
    next_step: str | None = Field(description="The open SOP step due first")
    next_due_at: datetime | None
    overdue_steps: list[str] = Field(description="Codes of the steps overdue at `now`")
    reported_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    closure: str | None
    version: int = Field(description="The case version the row reflects")


class ViewAnswer(BaseModel):
    """What every answer of the office's views starts with: whose, when, and how fresh."""

    district: str
    now: datetime
    position: int = Field(description="Events up to at least this position are included")


class CaseList(ViewAnswer):
    items: list[CaseListItem]
    next_cursor: str | None


@router.get(
    "/cases",
    response_model=CaseList,
    summary="The district's cases for triage: by stage, risk, type, agency, worker, overdue step",
    responses=VIEW_ERRORS,
)
def list_cases(
    actor: OfficeReader,
    store: CoordinatorViewsDep,
    cases: CasesDep,
    status: Literal["open", "closed", "all"] = "open",
    stage: Stage | None = None,
    risk_level: RiskLevel | None = None,
    case_type: CaseType | None = None,
    agency: Annotated[Agency | None, Query(description="Has an open referral to it")] = None,
    case_worker: Annotated[UserId | None, Query()] = None,
    overdue_step: Annotated[
        str | None,
        Query(
            pattern=f"^any$|{STEP_CODE}",
            description="A step code such as L1.5, or `any`: cases with it overdue now",
        ),
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> CaseList:
    """Newest reports first; no personal data (read the case file for that)."""
    after = _decode_cursor(cursor)
    now = cases.clock()
    filters = CaseFilters(
        status=None if status == "all" else status,
        stage=stage.value if stage else None,
        risk_level=risk_level.value if risk_level else None,
        case_type=case_type.value if case_type else None,
        agency=agency.value if agency else None,
        case_worker=case_worker,
        overdue_step=overdue_step,
    )
    position = store.position(cases.name)
    rows = store.list_cases(actor.district, filters, now=now, limit=limit + 1, after=after)
    page = rows[:limit]
    more = len(rows) > limit
    return CaseList(
        district=actor.district,
        now=now,
        position=position,
        items=[CaseListItem.model_validate(row) for row in page],
        next_cursor=_encode_cursor(page[-1]["reported_at"], page[-1]["case_id"]) if more else None,
    )


# ---- Workload ------------------------------------------------------------------------------


@router.get(
    "/workload",
    response_model=Workload,
    summary="Open cases per case worker and open referrals per agency, with overdue counts",
    responses=VIEW_ERRORS,
)
def workload(actor: OfficeReader, store: CoordinatorViewsDep, cases: CasesDep) -> Workload:
    """Counts for the caller's district, overdue as of now."""
    now = cases.clock()
    position = store.position(cases.name)
    load = store.workload(actor.district, now=now)
    case_workers = [CaseWorkerLoad.model_validate(row) for row in load["case_workers"]]
    return Workload(
        district=actor.district,
        now=now,
        position=position,
        open_cases=sum(worker.open_cases for worker in case_workers),
        case_workers=case_workers,
        agencies=[AgencyLoad.model_validate(row) for row in load["agencies"]],
    )


# ---- The time-standard dashboard -----------------------------------------------------------


class StepCounts(BaseModel):
    upcoming: int = Field(description="Steps whose range (T4 3-7 hari) has not started")
    due: int
    overdue: int
    met: int
    late: int
    closed: int


class DashboardStep(BaseModel):
    code: str
    stage: str
    title_en: str
    agency: Agency = Field(description="Who owes the step")
    referral_id: str | None
    limit_minutes: int
    started_at: datetime
    due_at: datetime
    done_at: datetime | None
    state: DashboardState


class CaseSteps(StepCounts):
    case_id: UUID
    register_number: str
    stage: Stage
    status: Literal["open", "closed"]
    risk_level: RiskLevel | None
    case_worker_id: str | None
    first_due_at: datetime = Field(description="Due time of the case's first listed step")
    steps: list[DashboardStep] = Field(description="The case's steps in the requested states")


class AgencySteps(StepCounts):
    agency: Agency


class TimeStandardsDashboard(ViewAnswer):
    agencies: list[AgencySteps] = Field(description="Step counts per agency that owes them")
    cases: list[CaseSteps] = Field(
        description="Cases with steps in the requested states, most urgent first"
    )
    next_cursor: str | None


@router.get(
    "/dashboard/time-standards",
    response_model=TimeStandardsDashboard,
    summary="Time standards: steps due and overdue, per case and per agency",
    responses=VIEW_ERRORS,
)
def time_standards_dashboard(
    actor: OfficeReader,
    store: CoordinatorViewsDep,
    cases: CasesDep,
    state: Annotated[
        list[DashboardState] | None,
        Query(description="Step states to list per case; default due and overdue"),
    ] = None,
    code: Annotated[str | None, Query(pattern=STEP_CODE, description="Only this step")] = None,
    agency: Annotated[Agency | None, Query(description="Only steps this agency owes")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> TimeStandardsDashboard:
    """The district's time standards applied at the current time."""
    after = _decode_cursor(cursor)
    now = cases.clock()
    filters = StepFilters(
        states=tuple(state) if state else ("due", "overdue"),
        code=code,
        agency=agency.value if agency else None,
    )
    position = store.position(cases.name)
    dashboard = store.step_dashboard(actor.district, filters, now=now, limit=limit + 1, after=after)
    rows = dashboard["cases"]
    page = rows[:limit]
    more = len(rows) > limit
    return TimeStandardsDashboard(
        district=actor.district,
        now=now,
        position=position,
        agencies=[AgencySteps.model_validate(row) for row in dashboard["agencies"]],
        cases=[CaseSteps.model_validate({**row, "first_due_at": row["first_due"]}) for row in page],
        next_cursor=_encode_cursor(page[-1]["first_due"], page[-1]["case_id"]) if more else None,
    )
