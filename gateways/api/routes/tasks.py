"""What is due for the caller: GET /my-tasks, over the office's views and the agency inboxes.

The lists come from the read models the coordinator's views and the agency inboxes
already keep (gateways/readmodels/), not from replaying cases, so they are eventually
consistent like those views. Whose each task is decides services/tasks.py.
"""

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from domain.actors import Actor
from gateways.api.deps import ActorDep, CaseReadDep, CasesDep
from gateways.api.problems import Problem
from gateways.readmodels.agency import AgencyStore
from gateways.readmodels.coordinator import CoordinatorStore
from services.access import CROSS_DISTRICT_AGENCIES
from services.access_log import CaseRead
from services.cases import Cases
from services.tasks import (
    AwaitingApproval,
    MyTasks,
    OfficeStepDue,
    StepScope,
    TaskScope,
    UnansweredReferral,
    my_tasks,
    task_scope,
)

router = APIRouter(tags=["tasks"])

ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "No valid bearer token"},
    503: {"model": Problem, "description": "The store behind the lists is unreachable"},
}


@router.get(
    "/my-tasks",
    response_model=MyTasks,
    summary="What is due for the caller: steps, referrals to answer, recommendations to approve",
    responses=ERRORS,
)
def list_my_tasks(request: Request, actor: ActorDep, read: CaseReadDep, cases: CasesDep) -> MyTasks:
    """Due and overdue at the current time, soonest first; no personal data. Empty for
    auditors, data officers and office administrators, who act on no case."""
    return tasks_of(request, actor, cases, read)


def tasks_of(request: Request, actor: Actor, cases: Cases, read: CaseRead) -> MyTasks:
    """The caller's tasks, for this route and the web application's home page."""
    scope = task_scope(actor, cases.access.coordinating_agency(actor.district))
    now = cases.clock()
    rows: dict[str, Any] = {}
    if scope.reads_office_views:
        rows.update(_office_rows(actor, scope, _coordinator_views(request), cases, read, now))
    if scope.agency_referrals:
        rows["referrals"] = _inbox_referrals(actor, request, cases, read, now)
    return my_tasks(actor, scope, now=now, profiles=cases.profiles, **rows)


def _office_rows(
    actor: Actor,
    scope: TaskScope,
    views: CoordinatorStore,
    cases: Cases,
    read: CaseRead,
    now: datetime,
) -> dict[str, Any]:
    """The office's rows for the scope; recorded first, as every read of the office's lists."""
    cases.record_office_view_read(actor, read)
    office = cases.access.coordinating_agency(actor.district).value
    rows: dict[str, Any] = {}
    if scope.steps != StepScope.NONE:
        rows["steps"] = [
            OfficeStepDue(**row) for row in views.due_office_steps(actor.district, office, now=now)
        ]
    if scope.office_referrals:
        rows["referrals"] = [
            UnansweredReferral(**row) for row in views.unanswered_referrals(actor.district, office)
        ]
    if scope.approvals:
        rows["approvals"] = [
            AwaitingApproval(**row) for row in views.pending_recommendations(actor.district)
        ]
    return rows


def _inbox_referrals(
    actor: Actor, request: Request, cases: Cases, read: CaseRead, now: datetime
) -> list[UnansweredReferral]:
    """Referrals in the actor's agency's inbox still waiting for its answer; each case shown
    is recorded, as the inbox records what it shows. An agency with no inbox has none."""
    if actor.agency.value not in request.app.state.projected_agencies:
        return []
    inbox: AgencyStore | None = request.app.state.agency_inboxes.get(actor.agency.value)
    if inbox is None:
        raise HTTPException(503, "the agency inboxes need the PostgreSQL event store")
    district = None if actor.agency in CROSS_DISTRICT_AGENCIES else actor.district
    referrals = [
        UnansweredReferral(
            case_id=row["case_id"],
            register_number=row["register_number"],
            referral_id=row["referral_id"],
            district=row["district"],
            due_at=row["due_at"],
        )
        for row in inbox.referrals(district=district, status="pending", now=now)
    ]
    cases.record_inbox_read(actor, (referral.case_id for referral in referrals), read)
    return referrals


def _coordinator_views(request: Request) -> CoordinatorStore:
    views: CoordinatorStore | None = request.app.state.coordinator_views
    if views is None:
        raise HTTPException(503, "the office's task lists need the PostgreSQL event store")
    return views
