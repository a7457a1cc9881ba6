"""Notices of what became due or overdue (issue 13): a digest e-mail per person, and
escalations to the district's supervisors.

A notifier run (`simpul notify`) builds every active staff member's task list as
services/tasks.py does for their home page, from the same read-model rows, and compares
it with the notices already kept: a task is noticed once when it is due and once when it
is overdue, never again. Whoever has something new gets one e-mail for all of it.
A step of the coordinating office overdue by more than its district's period
(``TimeStandardProfile.escalate_after``) is noticed, once, to the district's
supervisors of that office, or to its coordinators where it has no supervisor account;
so is a referral an agency has left unanswered (L4.1) that long past its answer's due
time, since the office that referred follows it up with the agency. The mail names the
agency (an institution, not a person) and counts its late answers.

Every notice is kept, mailed or not, so the web application can show what is new since
a visit (``notifications_for``); without an SMTP server nothing is mailed and the notices
are kept all the same.

No e-mail holds personal data: no names, no free text, no register number and no case
id, only counts, the SOP's step codes and titles (the district profile's words) and a
link to the login page. A mail shows nothing of any case, so a run records no case
read in the access log; the person reads their cases after logging in, where each read
is recorded. The notices kept name the case (a task's key), for the web application.
"""

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence, Set
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

from domain.vocabulary import Agency, Role
from projections.labels import AGENCY, words
from services.accounts import StaffRecord
from services.profiles import ProfileBook
from services.tasks import (
    AwaitingApproval,
    MyTasks,
    OfficeStepDue,
    StepScope,
    Task,
    TaskCounts,
    TaskKind,
    TaskRows,
    TaskScope,
    UnansweredReferral,
    referral_task,
    task_scope,
    tasks_from,
)

log = logging.getLogger("simpul.notifications")


class NoticeKind(StrEnum):
    DUE = "due"  # the task fell due
    OVERDUE = "overdue"  # its due time passed
    ESCALATED = "escalated"  # overdue past the district's period, told to a supervisor


@dataclass(frozen=True)
class Notice:
    """One task noticed to one person, once per kind; the in-app record of a mail."""

    user_id: str
    task_key: str
    kind: NoticeKind
    task_kind: TaskKind
    case_id: UUID
    code: str | None
    noticed_at: datetime
    mailed: bool


@dataclass(frozen=True)
class MailMessage:
    to: str
    subject: str
    body: str


class MailNotSent(Exception):
    """The SMTP server did not accept a message; the message says why, without its content."""


class Mailer(Protocol):
    """Sends one message (gateways/mail/smtp.py); raises MailNotSent if it was not accepted."""

    def send(self, message: MailMessage) -> None: ...


class NoticeStore(Protocol):
    """The notices kept (gateways/mail/notices.py)."""

    def noticed(self, user_id: str) -> Set[tuple[str, NoticeKind]]:
        """The (task key, kind) pairs noticed to the person so far."""

    def claim(self, notices: Sequence[Notice]) -> AbstractContextManager[list[Notice]]:
        """Those of ``notices`` nobody recorded yet, recorded as this block's; they are kept
        only if the block ends without an exception, so a mail that was not sent is tried
        again next run, and two notifiers never both mail one notice."""

    def notices_for(self, user_id: str, since: datetime) -> list[Notice]: ...


class StaffList(Protocol):
    """services.accounts.StaffDirectory, as far as notices need it."""

    def members(
        self,
        *,
        district: str,
        role: Role | None = None,
        agency: Agency | None = None,
        active_only: bool = True,
    ) -> list[StaffRecord]: ...


# ---- Which notices are new: pure ------------------------------------------------------------


def task_key(task: Task) -> str:
    """What names one task across runs: its kind, case, step, referral or recommendation and
    due time (a step that falls due again, in a new assessment cycle, is a new task)."""
    due = task.due_at.astimezone(UTC).isoformat() if task.due_at is not None else ""
    subject = task.referral_id or task.recommendation_id or ""
    return f"{task.kind.value}:{task.case_id}:{task.code or ''}:{subject}:{due}"


@dataclass(frozen=True)
class NewTask:
    """A task and the notice it is owed."""

    task: Task
    notice: Notice


def new_notices(
    user_id: str,
    tasks: Iterable[Task],
    noticed: Set[tuple[str, NoticeKind]],
    *,
    now: datetime,
    mailed: bool,
) -> list[NewTask]:
    """The tasks whose present state (due or overdue) was not noticed to the person yet.

    A task first seen overdue is noticed as overdue only: nobody needs to hear it was due."""
    fresh = []
    for task in tasks:
        kind = NoticeKind(task.state)
        key = task_key(task)
        if (key, kind) not in noticed:
            fresh.append(NewTask(task, _notice(user_id, task, key, kind, now, mailed)))
    return fresh


ESCALATING = (TaskKind.STEP, TaskKind.REFERRAL)


def escalated_tasks(tasks: Iterable[Task], *, now: datetime, after: timedelta) -> list[Task]:
    """The steps and unanswered referrals overdue by more than ``after`` at ``now`` (an
    approval is the supervisor's own task: escalating it would tell them of it twice)."""
    return [
        task
        for task in tasks
        if task.kind in ESCALATING and task.due_at is not None and now - task.due_at > after
    ]


@dataclass(frozen=True)
class LateAnswers:
    """The referrals one agency left unanswered past the escalation period."""

    agency: Agency
    tasks: Sequence[Task]


def new_escalations(
    user_id: str,
    tasks: Iterable[Task],
    noticed: Set[tuple[str, NoticeKind]],
    *,
    now: datetime,
    mailed: bool,
) -> list[NewTask]:
    """The escalated steps not escalated to this person yet."""
    return [
        NewTask(task, _notice(user_id, task, key, NoticeKind.ESCALATED, now, mailed))
        for task in tasks
        if ((key := task_key(task)), NoticeKind.ESCALATED) not in noticed
    ]


def escalation_recipients(
    supervisors: Sequence[StaffRecord], coordinators: Sequence[StaffRecord]
) -> Sequence[StaffRecord]:
    """The office's supervisors; its coordinators approve in their stead where it has none
    (services/tasks.py), and so hear of its late steps."""
    return supervisors or coordinators


def _notice(
    user_id: str, task: Task, key: str, kind: NoticeKind, now: datetime, mailed: bool
) -> Notice:
    return Notice(
        user_id=user_id,
        task_key=key,
        kind=kind,
        task_kind=task.kind,
        case_id=task.case_id,
        code=task.code,
        noticed_at=now,
        mailed=mailed,
    )


# ---- The mails: pure -------------------------------------------------------------------------

NO_PERSONAL_DATA_ID = (
    "Surel ini tidak memuat data pribadi. Rincian kasus hanya dapat dilihat setelah masuk."
)
NO_PERSONAL_DATA_EN = "This e-mail holds no personal data. Case details are shown only after login."


def login_url(public_url: str) -> str:
    """The only link a mail carries: the start page, which asks to log in."""
    return public_url.rstrip("/") + "/"


def digest_subject(counts: TaskCounts) -> str:
    """E.g. "Simpul: 3 tugas jatuh tempo, 1 terlambat" (due means not yet overdue)."""
    due = counts.total - counts.overdue
    parts = [f"{due} tugas jatuh tempo"] if due else []
    if counts.overdue:
        parts.append(f"{counts.overdue} terlambat")
    return "Simpul: " + ", ".join(parts or ["tidak ada tugas"])


def compose_digest(to: str, tasks: MyTasks, new: Sequence[NewTask], url: str) -> MailMessage:
    """One person's digest: their counts now, what is new since the last notice, the link."""
    counts = tasks.counts
    due = counts.total - counts.overdue
    newly_due = [item.task for item in new if item.notice.kind == NoticeKind.DUE]
    newly_overdue = [item.task for item in new if item.notice.kind == NoticeKind.OVERDUE]
    lines = [
        "Simpul: pemberitahuan tugas",
        "",
        f"Anda memiliki {due} tugas jatuh tempo dan {counts.overdue} tugas terlambat "
        f"({counts.steps} langkah SOP, {counts.referrals} rujukan untuk dijawab, "
        f"{counts.approvals} usulan untuk disetujui).",
        "",
        "Baru sejak pemberitahuan terakhir:",
        *_section("Jatuh tempo", newly_due, english=False),
        *_section("Terlambat", newly_overdue, english=False),
        "",
        f"Masuk untuk melihatnya: {url}",
        NO_PERSONAL_DATA_ID,
        "",
        "-----",
        "",
        "Simpul: task notice",
        "",
        f"You have {due} tasks due and {counts.overdue} overdue ({counts.steps} SOP steps, "
        f"{counts.referrals} referrals to answer, {counts.approvals} recommendations to "
        "approve).",
        "",
        "New since the last notice:",
        *_section("Due", newly_due, english=True),
        *_section("Overdue", newly_overdue, english=True),
        "",
        f"Log in to see them: {url}",
        NO_PERSONAL_DATA_EN,
    ]
    return MailMessage(to=to, subject=digest_subject(counts), body="\n".join(lines) + "\n")


def compose_escalation(
    to: str,
    *,
    district_name: str,
    after: timedelta,
    escalated: Sequence[Task],
    new: Sequence[NewTask],
    url: str,
    late_answers: Sequence[LateAnswers] = (),
) -> MailMessage:
    """A supervisor's escalation: how many of the office's steps, and of the agencies'
    answers to its referrals, are late past the district's period, which of them are new
    to this mail, the link."""
    hours = int(after.total_seconds() // 3600)
    agency_of = {task_key(task): late.agency for late in late_answers for task in late.tasks}
    fresh = [item.task for item in new if item.notice.task_key not in agency_of]
    fresh_answers = Counter(
        agency_of[item.notice.task_key] for item in new if item.notice.task_key in agency_of
    )
    answers = sum(len(late.tasks) for late in late_answers)
    lines = [
        "Simpul: eskalasi langkah terlambat",
        "",
        f"{len(escalated)} langkah SOP kantor di {district_name} terlambat lebih dari {hours} jam.",
        *(
            [
                f"{answers} rujukan dari kantor belum dijawab lembaga tujuan lebih dari "
                f"{hours} jam setelah batas waktunya."
            ]
            if answers
            else []
        ),
        "",
        *_section("Baru melewati batas eskalasi", fresh, english=False),
        *_agencies_section("Rujukan yang baru melewati batas eskalasi", fresh_answers, 0),
        "",
        f"Masuk untuk melihat dan menindaklanjutinya: {url}",
        NO_PERSONAL_DATA_ID,
        "",
        "-----",
        "",
        "Simpul: escalation of late steps",
        "",
        f"{len(escalated)} SOP steps of the office in {district_name} are more than "
        f"{hours} hours overdue.",
        *(
            [
                f"{answers} of the office's referrals are unanswered by the receiving agency "
                f"more than {hours} hours past their due time."
            ]
            if answers
            else []
        ),
        "",
        *_section("Newly past the escalation period", fresh, english=True),
        *_agencies_section("Referrals newly past the escalation period", fresh_answers, 1),
        "",
        f"Log in to see them and follow up: {url}",
        NO_PERSONAL_DATA_EN,
    ]
    subject = f"Simpul: eskalasi, {len(new)} langkah terlambat lebih dari {hours} jam"
    return MailMessage(to=to, subject=subject, body="\n".join(lines) + "\n")


def _agencies_section(heading: str, counted: Counter[Agency], language: int) -> list[str]:
    """A heading and one line per agency (its name in the language: 0 Indonesian, 1 English)
    with how many of its answers are late."""
    if not counted:
        return []
    return [f"{heading}:"] + [
        f"  {words(AGENCY, agency)[language]}: {count}" for agency, count in sorted(counted.items())
    ]


def _section(heading: str, tasks: Sequence[Task], *, english: bool) -> list[str]:
    """A heading and one line per SOP step with how many tasks are at it, in step order."""
    if not tasks:
        return []
    counted = Counter(
        (task.code or "-", task.title_en if english else task.title_id) for task in tasks
    )
    return [f"{heading}:"] + [
        f"  {code} {title}: {count}" for (code, title), count in sorted(counted.items())
    ]


# ---- A run --------------------------------------------------------------------------------


@dataclass
class RunSummary:
    """What one run did, by number (its log line)."""

    people_mailed: int = 0
    escalations_mailed: int = 0
    notices_kept: int = 0
    not_sent: int = 0

    def __str__(self) -> str:
        return (
            f"{self.people_mailed} digests and {self.escalations_mailed} escalations mailed, "
            f"{self.notices_kept} notices kept, {self.not_sent} mails not sent"
        )


@dataclass
class _Rows:
    """The rows of one run, each read once however many people need them."""

    source: TaskRows
    now: datetime
    cache: dict[tuple[str, ...], Any] = field(default_factory=dict)

    def _read(self, key: tuple[str, ...], reader: Callable[[], Any]) -> Any:
        if key not in self.cache:
            self.cache[key] = reader()
        return self.cache[key]

    def office_steps(self, district: str, office: Agency, now: datetime) -> list[OfficeStepDue]:
        rows: list[OfficeStepDue] = self._read(
            ("steps", district), lambda: self.source.office_steps(district, office, now)
        )
        return rows

    def office_referrals(self, district: str, office: Agency) -> list[UnansweredReferral]:
        rows: list[UnansweredReferral] = self._read(
            ("referrals", district), lambda: self.source.office_referrals(district, office)
        )
        return rows

    def approvals(self, district: str) -> list[AwaitingApproval]:
        rows: list[AwaitingApproval] = self._read(
            ("approvals", district), lambda: self.source.approvals(district)
        )
        return rows

    def inbox_referrals(
        self, agency: Agency, district: str | None, now: datetime
    ) -> list[UnansweredReferral]:
        rows: list[UnansweredReferral] = self._read(
            ("inbox", agency.value, district or ""),
            lambda: self.source.inbox_referrals(agency, district, now),
        )
        return rows


class Notifier:
    """One run notices every district's staff of what is new for them (see the module)."""

    def __init__(
        self,
        *,
        staff: StaffList,
        rows: TaskRows,
        notices: NoticeStore,
        mailer: Mailer | None,
        profiles: ProfileBook,
        public_url: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.staff = staff
        self.rows = rows
        self.notices = notices
        self.mailer = mailer
        self.profiles = profiles
        self.url = login_url(public_url)
        self.clock = clock

    def run_once(self) -> RunSummary:
        now = self.clock()
        rows = _Rows(self.rows, now)
        summary = RunSummary()
        for district in self.profiles.districts():
            for member in self.staff.members(district=district):
                self._digest(member, rows, now, summary)
            self._escalate(district, rows, now, summary)
        return summary

    def _tasks_of(self, member: StaffRecord, rows: _Rows) -> MyTasks | None:
        """The person's tasks as their home page lists them; None if they have none to do."""
        actor = member.actor
        office = self.profiles.coordinating_agency(actor.district)
        scope = task_scope(actor, office)
        if scope.is_empty:
            return None
        return tasks_from(actor, scope, rows, office=office, now=rows.now, profiles=self.profiles)

    def _digest(self, member: StaffRecord, rows: _Rows, now: datetime, summary: RunSummary) -> None:
        tasks = self._tasks_of(member, rows)
        if tasks is None or not tasks.tasks:
            return
        new = new_notices(
            member.user_id,
            tasks.tasks,
            self.notices.noticed(member.user_id),
            now=now,
            mailed=self.mailer is not None,
        )
        if not new:
            return

        def mail(claimed: Sequence[NewTask]) -> MailMessage:
            return compose_digest(member.email, tasks, claimed, self.url)

        if self._deliver(member, new, mail, summary):
            summary.people_mailed += self.mailer is not None

    def _escalate(self, district: str, rows: _Rows, now: datetime, summary: RunSummary) -> None:
        if district not in self.profiles:
            return
        profile = self.profiles.profile(district)
        office = profile.coordinating_agency
        recipients = escalation_recipients(
            self.staff.members(district=district, role=Role.SUPERVISOR, agency=office),
            self.staff.members(district=district, role=Role.COORDINATOR, agency=office),
        )
        if not recipients:
            return
        # The office's steps as its coordinator lists them (the approval step apart).
        steps = tasks_from(
            recipients[0].actor,
            TaskScope(steps=StepScope.OFFICE),
            rows,
            office=office,
            now=rows.now,
            profiles=self.profiles,
        ).tasks
        late = escalated_tasks(steps, now=now, after=profile.escalate_after)
        answers = self._late_answers(district, office, rows, now, profile.escalate_after)
        if not late and not answers:
            return
        for member in recipients:
            new = new_escalations(
                member.user_id,
                [*late, *(task for late_answers in answers for task in late_answers.tasks)],
                self.notices.noticed(member.user_id),
                now=now,
                mailed=self.mailer is not None,
            )
            if not new:
                continue

            def mail(claimed: Sequence[NewTask], to: str = member.email) -> MailMessage:
                return compose_escalation(
                    to,
                    district_name=profile.name,
                    after=profile.escalate_after,
                    escalated=late,
                    new=claimed,
                    url=self.url,
                    late_answers=answers,
                )

            if self._deliver(member, new, mail, summary):
                summary.escalations_mailed += self.mailer is not None

    def _late_answers(
        self, district: str, office: Agency, rows: _Rows, now: datetime, after: timedelta
    ) -> list[LateAnswers]:
        """Per agency, the district's referrals it left unanswered past the period."""
        found = []
        for agency in Agency:
            if agency == office:
                continue  # the office's own services are its coordinators' steps
            waiting = [referral_task(r, now) for r in rows.inbox_referrals(agency, district, now)]
            late = escalated_tasks(waiting, now=now, after=after)
            if late:
                found.append(LateAnswers(agency, late))
        return found

    def _deliver(
        self,
        member: StaffRecord,
        new: Sequence[NewTask],
        mail: Callable[[Sequence[NewTask]], MailMessage],
        summary: RunSummary,
    ) -> bool:
        """Keep the new notices and mail those this run claimed; False if nothing was sent
        (another run claimed them all, or the server refused and they wait for the next)."""
        by_key = {(item.notice.task_key, item.notice.kind): item for item in new}
        try:
            with self.notices.claim([item.notice for item in new]) as claimed:
                if not claimed:
                    return False
                if self.mailer is not None:
                    self.mailer.send(mail([by_key[(n.task_key, n.kind)] for n in claimed]))
        except MailNotSent as refused:
            # The user id, never the address: logs are kept and shared.
            log.warning("notice to user %s not sent: %s", member.user_id, refused)
            summary.not_sent += 1
            return False
        summary.notices_kept += len(claimed)
        return True


def notifications_for(notices: NoticeStore, user_id: str, since: datetime) -> list[Notice]:
    """The person's notices kept after ``since``, oldest first: the web application's
    "new since your last visit"."""
    return notices.notices_for(user_id, since)
