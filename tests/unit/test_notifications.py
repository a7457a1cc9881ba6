"""Which notices are new, which steps escalate and what the mails say (services/notifications.py),
and the district profile's escalation period."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

from domain.time_standards import ProfileError, parse_profile
from domain.vocabulary import Agency, Role
from gateways.mail.smtp import SmtpMailer
from services.accounts import StaffRecord
from services.notifications import (
    LateAnswers,
    NewTask,
    NoticeKind,
    compose_digest,
    compose_escalation,
    digest_subject,
    escalated_tasks,
    escalation_recipients,
    login_url,
    new_escalations,
    new_notices,
    task_key,
)
from services.profiles import load_profiles
from services.settings import Settings
from services.tasks import MyTasks, Task, TaskCounts, TaskKind
from tests.unit.test_time_standards import profile_data

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
URL = "https://simpul.dinas.example.go.id/"


def a_task(
    code: str = "L1.8",
    *,
    due_at: datetime | None = NOW + HOUR,
    kind: TaskKind = TaskKind.STEP,
    title_id: str = "Kunjungan atau kontak pertama",
    title_en: str = "First visit or contact",
) -> Task:
    return Task(
        kind=kind,
        case_id=uuid4(),
        register_number="LUTRA/2026/0001",
        code=code,
        title_id=title_id,
        title_en=title_en,
        due_at=due_at,
        state="overdue" if due_at is not None and due_at < NOW else "due",
    )


def listing(tasks: list[Task]) -> MyTasks:
    overdue = sum(task.state == "overdue" for task in tasks)
    steps = sum(task.kind == TaskKind.STEP for task in tasks)
    referrals = sum(task.kind == TaskKind.REFERRAL for task in tasks)
    counts = TaskCounts(
        steps=steps,
        referrals=referrals,
        approvals=len(tasks) - steps - referrals,
        overdue=overdue,
        total=len(tasks),
    )
    return MyTasks(now=NOW, counts=counts, tasks=tasks)


def member(role: Role, user_id: str = "") -> StaffRecord:
    return StaffRecord(
        user_id=user_id or str(uuid4()),
        email=f"{role.value}@uptd.example",
        display_name="Siti",
        role=role,
        agency=Agency.UPTD_PPA,
        district="luwu-utara",
        active=True,
        second_factor=True,
    )


# ---- New notices -------------------------------------------------------------------------


def test_a_due_task_is_noticed_once_as_due_then_once_as_overdue():
    task = a_task(due_at=NOW + HOUR)
    first = new_notices("rina", [task], set(), now=NOW, mailed=True)
    noticed = {(item.notice.task_key, item.notice.kind) for item in first}
    overdue = task.model_copy(update={"state": "overdue"})

    again = new_notices("rina", [task], noticed, now=NOW, mailed=True)
    later = new_notices("rina", [overdue], noticed, now=NOW + 2 * HOUR, mailed=True)

    assert [item.notice.kind for item in first] == [NoticeKind.DUE]
    assert again == []
    assert [item.notice.kind for item in later] == [NoticeKind.OVERDUE]


def test_a_task_first_seen_overdue_is_noticed_as_overdue_only():
    (item,) = new_notices("rina", [a_task(due_at=NOW - HOUR)], set(), now=NOW, mailed=False)

    assert item.notice.kind == NoticeKind.OVERDUE
    assert item.notice.mailed is False and item.notice.user_id == "rina"


def test_a_step_due_again_at_another_time_is_another_task():
    """A re-assessment (L5.5) starts the cycle's steps afresh: the same code on the same case."""
    task = a_task()
    again = task.model_copy(update={"due_at": NOW + 30 * HOUR})

    assert task_key(task) != task_key(again)
    assert task_key(task) == task_key(task.model_copy())


# ---- Escalation --------------------------------------------------------------------------


def test_steps_and_unanswered_referrals_overdue_by_more_than_the_period_escalate():
    just_late = a_task(due_at=NOW - 23 * HOUR)
    long_late = a_task(due_at=NOW - 25 * HOUR)
    late_referral = a_task("L4.1", due_at=NOW - 48 * HOUR, kind=TaskKind.REFERRAL)
    late_approval = a_task("K-C8", due_at=NOW - 48 * HOUR, kind=TaskKind.APPROVAL)

    late = escalated_tasks(
        [just_late, long_late, late_referral, late_approval], now=NOW, after=timedelta(hours=24)
    )

    # The approval is the supervisor's own task, already on their list.
    assert late == [long_late, late_referral]


def test_an_escalation_is_noticed_once_to_each_supervisor():
    late = [a_task(due_at=NOW - 30 * HOUR)]
    first = new_escalations("sup-1", late, set(), now=NOW, mailed=True)
    noticed = {(item.notice.task_key, item.notice.kind) for item in first}

    assert [item.notice.kind for item in first] == [NoticeKind.ESCALATED]
    assert new_escalations("sup-1", late, noticed, now=NOW, mailed=True) == []
    # The person's own overdue notice is not the supervisor's escalation.
    own = {(task_key(late[0]), NoticeKind.OVERDUE)}
    assert len(new_escalations("sup-1", late, own, now=NOW, mailed=True)) == 1


def test_the_supervisors_are_told_and_the_coordinators_only_where_there_is_no_supervisor():
    supervisors = [member(Role.SUPERVISOR)]
    coordinators = [member(Role.COORDINATOR)]

    assert escalation_recipients(supervisors, coordinators) == supervisors
    assert escalation_recipients([], coordinators) == coordinators
    assert escalation_recipients([], []) == []


# ---- The mails -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overdue", "due", "subject"),
    [
        (1, 3, "Simpul: 3 tugas jatuh tempo, 1 terlambat"),
        (0, 2, "Simpul: 2 tugas jatuh tempo"),
        (2, 0, "Simpul: 2 terlambat"),
    ],
)
def test_the_subject_counts_what_is_due_and_what_is_overdue(overdue, due, subject):
    counts = TaskCounts(
        steps=due + overdue, referrals=0, approvals=0, overdue=overdue, total=due + overdue
    )

    assert digest_subject(counts) == subject


def test_a_digest_gives_counts_step_codes_and_only_the_login_link_in_both_languages():
    tasks = [a_task(), a_task(), a_task("L1.9", due_at=NOW - HOUR, title_en="Written consent")]
    new = new_notices("rina", tasks, set(), now=NOW, mailed=True)

    mail = compose_digest("rina@uptd.example", listing(tasks), new, URL)

    assert mail.to == "rina@uptd.example"
    assert mail.subject == "Simpul: 2 tugas jatuh tempo, 1 terlambat"
    assert "  L1.8 Kunjungan atau kontak pertama: 2" in mail.body
    assert "  L1.8 First visit or contact: 2" in mail.body
    assert "Terlambat:\n  L1.9" in mail.body and "Overdue:\n  L1.9 Written consent: 1" in mail.body
    # Indonesian first, then English.
    assert mail.body.index("Masuk untuk melihatnya") < mail.body.index("Log in to see them")
    assert _links(mail.body) == [URL, URL]


def test_a_digest_names_no_case_and_no_register_number():
    tasks = [a_task(), a_task("L4.1", kind=TaskKind.REFERRAL)]
    new = new_notices("rina", tasks, set(), now=NOW, mailed=True)

    mail = compose_digest("rina@uptd.example", listing(tasks), new, URL)

    for task in tasks:
        assert str(task.case_id) not in mail.body + mail.subject
        assert task.register_number not in mail.body + mail.subject


def test_an_escalation_says_how_many_steps_are_late_past_the_period_and_links_to_login():
    late = [a_task(due_at=NOW - 30 * HOUR), a_task("L1.9", due_at=NOW - 26 * HOUR)]
    new: list[NewTask] = new_escalations("sup-1", late[:1], set(), now=NOW, mailed=True)

    mail = compose_escalation(
        "sup@uptd.example",
        district_name="Kabupaten Luwu Utara",
        after=timedelta(hours=24),
        escalated=late,
        new=new,
        url=URL,
    )

    assert mail.subject == "Simpul: eskalasi, 1 langkah terlambat lebih dari 24 jam"
    assert "2 langkah SOP kantor di Kabupaten Luwu Utara terlambat lebih dari 24 jam" in mail.body
    assert "2 SOP steps of the office in Kabupaten Luwu Utara are more than 24 hours overdue" in (
        mail.body
    )
    assert "  L1.8 First visit or contact: 1" in mail.body
    assert all(str(task.case_id) not in mail.body for task in late)
    assert _links(mail.body) == [URL, URL]


def test_an_escalation_names_the_agencies_whose_answers_are_late_and_no_case():
    step = a_task(due_at=NOW - 30 * HOUR)
    police = [
        a_task("L4.1", due_at=NOW - 40 * HOUR, kind=TaskKind.REFERRAL),
        a_task("L4.1", due_at=NOW - 26 * HOUR, kind=TaskKind.REFERRAL),
    ]
    health = [a_task("L4.1", due_at=NOW - 50 * HOUR, kind=TaskKind.REFERRAL)]
    answers = [LateAnswers(Agency.POLICE, police), LateAnswers(Agency.HEALTH, health)]
    new = new_escalations("sup-1", [step, police[0], *health], set(), now=NOW, mailed=True)

    mail = compose_escalation(
        "sup@uptd.example",
        district_name="Kabupaten Luwu Utara",
        after=timedelta(hours=24),
        escalated=[step],
        new=new,
        url=URL,
        late_answers=answers,
    )

    assert mail.subject == "Simpul: eskalasi, 3 langkah terlambat lebih dari 24 jam"
    assert "3 rujukan dari kantor belum dijawab lembaga tujuan lebih dari 24 jam" in mail.body
    assert "Rujukan yang baru melewati batas eskalasi:\n" in mail.body
    assert "  Kepolisian: 1\n" in mail.body and "  fasilitas kesehatan: 1\n" in mail.body
    assert "  the police: 1\n" in mail.body and "  the health facility: 1\n" in mail.body
    assert "  L1.8 First visit or contact: 1" in mail.body
    assert "L4.1" not in mail.body  # the answers are counted by agency, not as office steps
    for task in [step, *police, *health]:
        assert str(task.case_id) not in mail.body and task.register_number not in mail.body


def test_the_login_link_is_the_public_urls_start_page():
    assert login_url("https://simpul.example") == "https://simpul.example/"
    assert login_url("https://example.go.id/simpul/") == "https://example.go.id/simpul/"


def _links(body: str) -> list[str]:
    return [word for word in body.split() if "://" in word]


# ---- The district's escalation period --------------------------------------------------------


def test_every_bundled_district_escalates_after_a_day():
    profiles = load_profiles()

    assert {profiles.profile(d).escalate_after for d in profiles.districts()} == {
        timedelta(hours=24)
    }


def test_a_profile_without_notifications_escalates_after_the_default_day():
    assert parse_profile(profile_data()).escalate_after == timedelta(hours=24)


def test_a_profile_sets_its_own_escalation_period():
    data = profile_data(notifications={"escalate_after_hours": 72})

    assert parse_profile(data).escalate_after == timedelta(hours=72)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"escalate_after_hours": "24"}, "whole number of hours"),
        ({"escalate_after_hours": 1.5}, "whole number of hours"),
        ({"escalate_after_hours": True}, "whole number of hours"),
        ({"escalate_after_hours": -1}, "between 0 and 720 hours"),
        ({"escalate_after_hours": 721}, "between 0 and 720 hours"),
        ("24h", r"notifications: must be a table"),
    ],
)
def test_a_bad_escalation_period_is_rejected_naming_the_field(table: Any, message: str):
    with pytest.raises(ProfileError, match=message):
        parse_profile(profile_data(notifications=table))


def test_a_bad_escalation_period_in_a_profile_file_names_the_file(tmp_path: Path):
    bundled = (Path(__file__).parents[2] / "domain/sop/profiles/luwu-utara.toml").read_text()
    (tmp_path / "luwu-utara.toml").write_text(
        bundled.replace("escalate_after_hours = 24", "escalate_after_hours = -3")
    )

    with pytest.raises(ProfileError, match=r"luwu-utara.toml: notifications.escalate_after_hours"):
        load_profiles(tmp_path)


# ---- The SMTP settings ---------------------------------------------------------------------

PRODUCTION = {
    "environment": "production",
    "database_url": "postgresql://simpul_service@postgres/simpul?sslmode=verify-full",
    "kafka_bootstrap_servers": "kafka:9093",
    "kafka_security_protocol": "SASL_SSL",
}


def test_without_an_smtp_host_nothing_is_mailed():
    assert SmtpMailer.from_settings(Settings(_env_file=None)) is None  # type: ignore[call-arg]


def test_the_mailer_takes_the_smtp_settings():
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        smtp_host="smtp.dinas.example.go.id",
        smtp_port=2525,
        smtp_username="simpul-notifier",
        smtp_password="rahasia",
        mail_from="simpul@dinas.example.go.id",
    )

    mailer = SmtpMailer.from_settings(settings)

    assert mailer is not None
    assert (mailer.host, mailer.port, mailer.starttls) == ("smtp.dinas.example.go.id", 2525, True)
    assert (mailer.username, mailer.password) == ("simpul-notifier", "rahasia")
    assert mailer.sender == "simpul@dinas.example.go.id"
    assert "rahasia" not in repr(settings)


def test_production_mails_only_over_starttls_or_implicit_tls():
    Settings(_env_file=None, **PRODUCTION, smtp_host="smtp.example.go.id")  # type: ignore[call-arg]
    Settings(  # type: ignore[call-arg]
        _env_file=None,
        **PRODUCTION,
        smtp_host="smtp.example.go.id",
        smtp_starttls=False,
        smtp_implicit_tls=True,
    )
    with pytest.raises(ValidationError, match="SIMPUL_SMTP_STARTTLS"):
        Settings(_env_file=None, **PRODUCTION, smtp_host="smtp.example.go.id", smtp_starttls=False)  # type: ignore[call-arg]


def test_implicit_tls_replaces_starttls_on_the_same_connection():
    mailer = SmtpMailer("smtp.example.go.id", 465, sender="simpul@x.go.id", implicit_tls=True)
    assert (mailer.implicit_tls, mailer.starttls) == (True, False)


def test_an_smtp_username_goes_with_a_password():
    with pytest.raises(ValidationError, match="SIMPUL_SMTP_USERNAME and SIMPUL_SMTP_PASSWORD"):
        Settings(_env_file=None, smtp_username="simpul-notifier")  # type: ignore[call-arg]


@pytest.mark.parametrize("url", ["simpul.example.go.id", "https://", "https://x/ y", "ftp://x"])
def test_the_public_url_is_an_http_address(url: str):
    with pytest.raises(ValidationError, match="public_url"):
        Settings(_env_file=None, public_url=url)  # type: ignore[call-arg]
