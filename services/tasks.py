"""What is due for one person (issue 13): steps, referrals and approvals waiting on them.

Whose a task is follows who may act on it (services/access.py):

- a case worker owes the steps of the cases assigned to them (L1.8 first contact,
  L1.9 consent, L2.1 home visit, ...);
- an intake officer owes the steps of cases nobody is assigned to yet: the
  report's first steps (L1.2, L1.3, L1.5 classification, L1.6 emergency), the
  assignment itself (L1.7) and a hand-over's acknowledgement (L1.5-ack);
- a coordinator owes every step the office owes, answers referrals made to the
  office's own services (L3.2) and approves recommendations (K-C8), like a
  supervisor in an office without a supervisor account;
- a supervisor approves or returns the case workers' recommendations (K-C7-C8),
  except their own (four eyes); the office's steps are on the dashboard;
- an agency officer answers (accepts or declines) referrals to their agency.

Auditors, data officers and office administrators act on no case, so their list is
empty rather than refused: every signed-in page may show the counts.

Steps owed by a referred agency (L4.1 for the police's service) are the agency's,
not the office's, so they are left out of the office's lists. A district's approval
step (Kutai Timur's K-C8) is listed once per recommendation as an approval rather
than as a step, since its step clock follows the case's first proposal only.

A task holds no personal data (no name, no free text, not even the proposer's user
id): the list is shown in navigation counts and will be sent by e-mail. The
functions here are pure over the read models' rows; the caller reads the rows,
records the read and passes the clock.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol
from uuid import UUID

from pydantic import BaseModel, Field

from domain.actors import Actor
from domain.time_standards import StepStandard, TimeStandardProfile
from domain.vocabulary import Agency, Role
from services.access import CROSS_DISTRICT_AGENCIES
from services.profiles import REQUIRED_STEPS

# The step a referral belongs to: its service is due by this step's time standard.
REFERRAL_STEP = REQUIRED_STEPS[0]
# A referral waits on an answer no SOP gives a time for (luwu-utara.toml): the task
# names the answer, and its due time is the referral's own.
ANSWER_TITLE_ID = "Jawab rujukan: terima atau tolak"
ANSWER_TITLE_EN = "Answer the referral: accept or decline"
APPROVAL_TITLE_ID = "Setujui atau kembalikan usulan rujukan"
APPROVAL_TITLE_EN = "Approve or return the referral recommendation"


class TaskKind(StrEnum):
    STEP = "step"
    REFERRAL = "referral"
    APPROVAL = "approval"


class StepScope(StrEnum):
    """Which of the office's due steps are the person's."""

    NONE = "none"
    ASSIGNED = "assigned"  # the cases assigned to them
    BEFORE_ASSIGNMENT = "before_assignment"  # the cases nobody is assigned to yet
    OFFICE = "office"  # every step the office owes


@dataclass(frozen=True)
class TaskScope:
    """What one person's task list is made of."""

    steps: StepScope = StepScope.NONE
    office_referrals: bool = False  # referrals to the coordinating office's own services
    agency_referrals: bool = False  # referrals in the person's agency's inbox
    approvals: bool = False

    @property
    def reads_office_views(self) -> bool:
        return self.steps != StepScope.NONE or self.office_referrals or self.approvals

    @property
    def is_empty(self) -> bool:
        return not (self.reads_office_views or self.agency_referrals)


NOTHING = TaskScope()


def task_scope(actor: Actor, coordinating_agency: Agency) -> TaskScope:
    """Whose tasks ``actor`` has, given the agency coordinating their district's cases."""
    if actor.role == Role.AGENCY_OFFICER:
        return TaskScope(agency_referrals=True)
    if actor.agency != coordinating_agency:
        return NOTHING  # office roles count only in the district's coordinating office
    return {
        Role.CASE_WORKER: TaskScope(steps=StepScope.ASSIGNED),
        Role.INTAKE_OFFICER: TaskScope(steps=StepScope.BEFORE_ASSIGNMENT),
        Role.COORDINATOR: TaskScope(steps=StepScope.OFFICE, office_referrals=True, approvals=True),
        Role.SUPERVISOR: TaskScope(approvals=True),
    }.get(actor.role, NOTHING)


# ---- The read models' rows -------------------------------------------------------------------


@dataclass(frozen=True)
class OfficeStepDue:
    """A step the coordinating office owes, due or overdue (not upcoming) at the read's time."""

    case_id: UUID
    register_number: str
    case_worker_id: str | None
    code: str
    title_id: str
    title_en: str
    referral_id: str | None
    due_at: datetime


@dataclass(frozen=True)
class UnansweredReferral:
    """A referral its agency has neither accepted nor declined."""

    case_id: UUID
    register_number: str
    referral_id: str
    district: str
    due_at: datetime | None


@dataclass(frozen=True)
class AwaitingApproval:
    """A recommendation (K-C7) no supervisor has approved or returned (K-C8)."""

    case_id: UUID
    register_number: str
    recommendation_id: str
    district: str
    proposed_by: str
    proposed_at: datetime


class Profiles(Protocol):
    """The district profiles (services.profiles.ProfileBook)."""

    def __contains__(self, district: str) -> bool: ...

    def profile(self, district: str) -> TimeStandardProfile: ...


# ---- The answer -------------------------------------------------------------------------------


class Task(BaseModel):
    """One thing due: no personal data, only what says which case and what is owed."""

    kind: TaskKind
    case_id: UUID
    register_number: str = Field(description="The case's number in the district's register")
    code: str | None = Field(description="The SOP step, e.g. L1.9, L4.1, K-C8")
    title_id: str
    title_en: str
    due_at: datetime | None = Field(
        description="Overdue after this time; null where the SOP sets no time"
    )
    state: Literal["due", "overdue"]
    referral_id: str | None = None
    recommendation_id: str | None = None


class TaskCounts(BaseModel):
    steps: int
    referrals: int
    approvals: int
    overdue: int = Field(description="Tasks of any kind past their due time")
    total: int


class MyTasks(BaseModel):
    now: datetime = Field(description="The time due and overdue were judged at")
    counts: TaskCounts
    tasks: list[Task] = Field(description="Soonest due first; tasks without a due time last")


def my_tasks(
    actor: Actor,
    scope: TaskScope,
    *,
    now: datetime,
    profiles: Profiles,
    steps: Iterable[OfficeStepDue] = (),
    referrals: Iterable[UnansweredReferral] = (),
    approvals: Iterable[AwaitingApproval] = (),
) -> MyTasks:
    """The actor's tasks at ``now`` from the rows read for ``scope``.

    Steps and approvals outside the scope are left out, so a caller may pass the
    district's rows whole. Referrals are taken as read for the actor: those of their
    agency's inbox, or for a coordinator those made to the office's own services."""
    approval_code = _approval_code(profiles, actor.district)
    tasks = [
        *(
            _step_task(step, now)
            for step in steps
            if _owes_step(actor, scope.steps, step) and step.code != approval_code
        ),
        *(
            referral_task(referral, now)
            for referral in referrals
            if scope.office_referrals or scope.agency_referrals
        ),
        *(
            _approval_task(approval, now, profiles)
            for approval in approvals
            # The four-eyes rule of K-C8: nobody approves their own recommendation.
            if scope.approvals and approval.proposed_by != actor.user_id
        ),
    ]
    tasks.sort(
        key=lambda task: (
            task.due_at is None,
            task.due_at or now,
            task.register_number,
            task.code or "",
        )
    )
    return MyTasks(now=now, counts=_counts(tasks), tasks=tasks)


def _owes_step(actor: Actor, scope: StepScope, step: OfficeStepDue) -> bool:
    if scope == StepScope.ASSIGNED:
        return step.case_worker_id == actor.user_id
    if scope == StepScope.BEFORE_ASSIGNMENT:
        return step.case_worker_id is None
    return scope == StepScope.OFFICE


def _state(due_at: datetime | None, now: datetime) -> Literal["due", "overdue"]:
    # As the dashboard judges a step (gateways/readmodels/coordinator.py): overdue once
    # its due time has passed.
    return "overdue" if due_at is not None and due_at < now else "due"


def _step_task(step: OfficeStepDue, now: datetime) -> Task:
    return Task(
        kind=TaskKind.STEP,
        case_id=step.case_id,
        register_number=step.register_number,
        code=step.code,
        title_id=step.title_id,
        title_en=step.title_en,
        due_at=step.due_at,
        state=_state(step.due_at, now),
        referral_id=step.referral_id,
    )


def referral_task(referral: UnansweredReferral, now: datetime) -> Task:
    """A referral waiting for its agency's answer, as a task (L4.1)."""
    return Task(
        kind=TaskKind.REFERRAL,
        case_id=referral.case_id,
        register_number=referral.register_number,
        code=REFERRAL_STEP,
        title_id=ANSWER_TITLE_ID,
        title_en=ANSWER_TITLE_EN,
        due_at=referral.due_at,
        state=_state(referral.due_at, now),
        referral_id=referral.referral_id,
    )


def _approval_task(approval: AwaitingApproval, now: datetime, profiles: Profiles) -> Task:
    step = _approval_step(profiles, approval.district)
    due_at = approval.proposed_at + step.limit if step is not None else None
    return Task(
        kind=TaskKind.APPROVAL,
        case_id=approval.case_id,
        register_number=approval.register_number,
        code=_approval_code(profiles, approval.district),
        title_id=APPROVAL_TITLE_ID,
        title_en=APPROVAL_TITLE_EN,
        due_at=due_at,
        state=_state(due_at, now),
        recommendation_id=approval.recommendation_id,
    )


def _approval_code(profiles: Profiles, district: str) -> str | None:
    """The district's approval step (Kutai Timur's K-C8), if its SOP has one."""
    return profiles.profile(district).referral_approval if district in profiles else None


def _approval_step(profiles: Profiles, district: str) -> StepStandard | None:
    code = _approval_code(profiles, district)
    if code is None:
        return None
    try:
        return profiles.profile(district).step(code)
    except KeyError:
        return None  # the district approves without a time standard for it


def _counts(tasks: list[Task]) -> TaskCounts:
    def of(kind: TaskKind) -> int:
        return sum(1 for task in tasks if task.kind == kind)

    return TaskCounts(
        steps=of(TaskKind.STEP),
        referrals=of(TaskKind.REFERRAL),
        approvals=of(TaskKind.APPROVAL),
        overdue=sum(1 for task in tasks if task.state == "overdue"),
        total=len(tasks),
    )


class TaskRows(Protocol):
    """The read models' rows task lists are made of (gateways/readmodels/task_rows.py)."""

    def office_steps(self, district: str, office: Agency, now: datetime) -> list[OfficeStepDue]:
        """The district's steps the office owes, due or overdue at ``now``."""

    def office_referrals(self, district: str, office: Agency) -> list[UnansweredReferral]: ...

    def approvals(self, district: str) -> list[AwaitingApproval]: ...

    def inbox_referrals(
        self, agency: Agency, district: str | None, now: datetime
    ) -> list[UnansweredReferral]:
        """Referrals waiting for ``agency``'s answer, of one district or (None) all."""


def tasks_from(
    actor: Actor,
    scope: TaskScope,
    rows: TaskRows,
    *,
    office: Agency,
    now: datetime,
    profiles: Profiles,
) -> MyTasks:
    """The actor's tasks, reading only the rows their ``scope`` needs: what GET /my-tasks,
    the pages and the notifier all list."""
    found: dict[str, list[Any]] = {}
    if scope.steps != StepScope.NONE:
        found["steps"] = rows.office_steps(actor.district, office, now)
    if scope.office_referrals:
        found["referrals"] = rows.office_referrals(actor.district, office)
    if scope.approvals:
        found["approvals"] = rows.approvals(actor.district)
    if scope.agency_referrals:
        district = None if actor.agency in CROSS_DISTRICT_AGENCIES else actor.district
        found["referrals"] = rows.inbox_referrals(actor.agency, district, now)
    return my_tasks(actor, scope, now=now, profiles=profiles, **found)
