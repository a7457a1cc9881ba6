"""Whose task each due step, unanswered referral and pending recommendation is (issue 13)."""

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from services.profiles import load_profiles
from services.tasks import (
    NOTHING,
    AwaitingApproval,
    OfficeStepDue,
    StepScope,
    Task,
    TaskScope,
    UnansweredReferral,
    my_tasks,
    task_scope,
)

pytestmark = pytest.mark.unit

PROFILES = load_profiles()
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def office(role: Role, user: str = "", district: str = "luwu-utara") -> Actor:
    agency = PROFILES.coordinating_agency(district)
    return Actor(user or f"{role.value}-1", role, agency, district)


def step(
    code: str = "L1.9",
    *,
    case_worker_id: str | None = None,
    due_at: datetime = NOW + HOUR,
    register_number: str = "LUTRA/2026/0001",
) -> OfficeStepDue:
    return OfficeStepDue(
        case_id=uuid4(),
        register_number=register_number,
        case_worker_id=case_worker_id,
        code=code,
        title_id="Persetujuan tertulis",
        title_en="Written informed consent",
        referral_id=None,
        due_at=due_at,
    )


def referral(due_at: datetime | None = NOW + HOUR) -> UnansweredReferral:
    return UnansweredReferral(
        case_id=uuid4(),
        register_number="LUTRA/2026/0002",
        referral_id=str(uuid4()),
        district="luwu-utara",
        due_at=due_at,
    )


def approval(proposed_by: str, *, proposed_at: datetime = NOW - HOUR) -> AwaitingApproval:
    return AwaitingApproval(
        case_id=uuid4(),
        register_number="KUTIM/2026/0001",
        recommendation_id=str(uuid4()),
        district="kutai-timur",
        proposed_by=proposed_by,
        proposed_at=proposed_at,
    )


def tasks_of(actor: Actor, **rows: object) -> list[Task]:
    scope = task_scope(actor, PROFILES.coordinating_agency(actor.district))
    return my_tasks(actor, scope, now=NOW, profiles=PROFILES, **rows).tasks  # type: ignore[arg-type]


def case_ids(tasks: list[Task]) -> list[UUID]:
    return [task.case_id for task in tasks]


def test_a_case_worker_owes_the_consent_step_of_their_case_and_not_a_colleagues():
    rina = office(Role.CASE_WORKER, "rina")
    mine = step("L1.9", case_worker_id="rina")
    colleagues = step("L1.9", case_worker_id="budi")
    unassigned = step("L1.7")

    tasks = tasks_of(rina, steps=[mine, colleagues, unassigned])

    assert case_ids(tasks) == [mine.case_id]
    assert (tasks[0].kind, tasks[0].code, tasks[0].state) == ("step", "L1.9", "due")


def test_an_intake_officer_owes_the_steps_of_cases_nobody_is_assigned_to_yet():
    """L1.5 classification and L1.7 assignment come before a case worker is named."""
    classification = step("L1.5")
    assignment = step("L1.7", due_at=NOW + 2 * HOUR)
    assigned = step("L1.8", case_worker_id="rina")

    tasks = tasks_of(office(Role.INTAKE_OFFICER), steps=[classification, assignment, assigned])

    assert [task.code for task in tasks] == ["L1.5", "L1.7"]


def test_a_coordinator_owes_every_office_step_and_answers_the_offices_own_referrals():
    steps = [step("L1.9", case_worker_id="rina"), step("L1.7")]
    to_the_office = referral()

    tasks = tasks_of(office(Role.COORDINATOR), steps=steps, referrals=[to_the_office])

    assert sorted(task.kind for task in tasks) == ["referral", "step", "step"]
    (answer,) = [task for task in tasks if task.kind == "referral"]
    assert (answer.referral_id, answer.code) == (to_the_office.referral_id, "L4.1")


def test_a_step_past_its_due_time_is_overdue_and_counted():
    late = step("L1.9", case_worker_id="rina", due_at=NOW - timedelta(minutes=1))
    on_time = step("L2.1", case_worker_id="rina", due_at=NOW + HOUR)
    rina = office(Role.CASE_WORKER, "rina")

    answer = my_tasks(
        rina,
        task_scope(rina, Agency.UPTD_PPA),
        now=NOW,
        profiles=PROFILES,
        steps=[on_time, late],
    )

    assert [(task.code, task.state) for task in answer.tasks] == [
        ("L1.9", "overdue"),
        ("L2.1", "due"),
    ]
    assert (answer.counts.steps, answer.counts.overdue, answer.counts.total) == (2, 1, 2)


def test_an_agency_officer_answers_the_referrals_of_their_inbox():
    police = Actor("bripka-andi", Role.AGENCY_OFFICER, Agency.POLICE, "luwu-utara")
    waiting = referral(due_at=NOW - HOUR)

    (task,) = tasks_of(police, referrals=[waiting], steps=[step("L1.7")])

    assert (task.kind, task.referral_id, task.state) == ("referral", waiting.referral_id, "overdue")


def test_a_supervisor_approves_recommendations_but_not_their_own():
    """K-C8: a recommendation is approved by someone other than who proposed it."""
    ketua = office(Role.SUPERVISOR, "ketua", district="kutai-timur")
    by_peksos = approval("peksos-1")
    by_ketua = approval("ketua")

    tasks = tasks_of(ketua, approvals=[by_peksos, by_ketua], steps=[step("L1.7")])

    assert case_ids(tasks) == [by_peksos.case_id]
    assert tasks[0].recommendation_id == by_peksos.recommendation_id


def test_an_approval_is_due_by_the_districts_k_c8_time_standard():
    """Kutai Timur's K-C8: 1 hari from the Peksos's proposal (K-C7)."""
    ketua = office(Role.COORDINATOR, "ketua", district="kutai-timur")
    proposed_at = NOW - timedelta(days=1, minutes=1)

    (task,) = tasks_of(ketua, approvals=[approval("peksos-1", proposed_at=proposed_at)])

    assert (task.code, task.due_at, task.state) == (
        "K-C8",
        proposed_at + timedelta(days=1),
        "overdue",
    )


def test_the_approval_step_is_listed_per_recommendation_not_as_a_step():
    ketua = office(Role.COORDINATOR, "ketua", district="kutai-timur")

    tasks = tasks_of(ketua, steps=[step("K-C8"), step("L1.7")], approvals=[approval("peksos-1")])

    assert sorted((task.kind, task.code) for task in tasks) == [
        ("approval", "K-C8"),
        ("step", "L1.7"),
    ]


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.DATA_OFFICER, Role.OFFICE_ADMINISTRATOR])
def test_who_acts_on_no_case_has_no_tasks(role: Role):
    actor = office(role)

    assert task_scope(actor, Agency.UPTD_PPA) == NOTHING
    assert tasks_of(actor, steps=[step()], referrals=[referral()], approvals=[approval("x")]) == []


def test_an_office_role_outside_the_coordinating_office_has_no_tasks():
    """Tanjungpinang's cases are coordinated by Dinas Sosial, not the UPTD PPA."""
    elsewhere = Actor("coordinator-1", Role.COORDINATOR, Agency.UPTD_PPA, "tanjungpinang")

    assert task_scope(elsewhere, PROFILES.coordinating_agency("tanjungpinang")) == NOTHING


def test_the_scopes_follow_the_roles():
    assert task_scope(office(Role.CASE_WORKER), Agency.UPTD_PPA) == TaskScope(
        steps=StepScope.ASSIGNED
    )
    assert task_scope(office(Role.SUPERVISOR), Agency.UPTD_PPA) == TaskScope(approvals=True)


def test_tasks_come_soonest_due_first_and_those_without_a_time_last():
    coordinator = office(Role.COORDINATOR)
    undated = referral(due_at=None)
    later = step("L1.7", due_at=NOW + 3 * HOUR)
    sooner = referral(due_at=NOW + HOUR)

    tasks = tasks_of(coordinator, steps=[later], referrals=[undated, sooner])

    assert case_ids(tasks) == [sooner.case_id, later.case_id, undated.case_id]
    assert tasks[-1].due_at is None and tasks[-1].state == "due"


def test_a_task_holds_no_personal_data_nor_who_proposed_it():
    """Shown in navigation counts and sent by e-mail: which case, what step, by when."""
    assert set(Task.model_fields) == {
        "kind",
        "case_id",
        "register_number",
        "code",
        "title_id",
        "title_en",
        "due_at",
        "state",
        "referral_id",
        "recommendation_id",
    }
