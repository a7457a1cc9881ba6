"""What is due for the caller: GET /my-tasks, over the office's views and the agency inboxes.

The lists come from the read models the coordinator's views and the agency inboxes
already keep (gateways/readmodels/), not from replaying cases, so they are eventually
consistent like those views. Whose each task is decides services/tasks.py.
"""

from fastapi import APIRouter, HTTPException, Request

from domain.actors import Actor
from gateways.api.deps import ActorDep, CaseReadDep, CasesDep
from gateways.api.problems import Problem
from gateways.readmodels.agency import AgencyStore
from gateways.readmodels.coordinator import CoordinatorStore
from gateways.readmodels.task_rows import ReadModelTaskRows
from services.access_log import CaseRead
from services.cases import Cases
from services.tasks import MyTasks, TaskKind, task_scope, tasks_from

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
    """The caller's tasks, for this route and the web application's pages. The office's
    lists are recorded as read before they are read, the inbox's cases once shown."""
    office = cases.access.coordinating_agency(actor.district)
    scope = task_scope(actor, office)
    views: CoordinatorStore | None = request.app.state.coordinator_views
    inboxes: dict[str, AgencyStore] = request.app.state.agency_inboxes
    if scope.reads_office_views:
        if views is None:
            raise HTTPException(503, "the office's task lists need the PostgreSQL event store")
        cases.record_office_view_read(actor, read)
    projected = actor.agency.value in request.app.state.projected_agencies
    if scope.agency_referrals and projected and actor.agency.value not in inboxes:
        raise HTTPException(503, "the agency inboxes need the PostgreSQL event store")
    tasks = tasks_from(
        actor,
        scope,
        ReadModelTaskRows(views, inboxes if projected else {}),
        office=office,
        now=cases.clock(),
        profiles=cases.profiles,
    )
    if scope.agency_referrals:
        shown = [task.case_id for task in tasks.tasks if task.kind == TaskKind.REFERRAL]
        cases.record_inbox_read(actor, shown, read)
    return tasks
