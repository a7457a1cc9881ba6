"""E-mail notices through a real SMTP server (aiosmtpd on a free port), on the real PostgreSQL.

Cases are recorded over HTTP as the office records them; a real coordinator projector
keeps the views the notifier reads (``caught_up``); staff are real accounts of the
directory. Time moves by the case service's clock, which the notifier judges by.
"""

import email
import os
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from fastapi.testclient import TestClient
from pydantic import SecretStr

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from gateways import runtime
from gateways.cli.notify import notifier
from gateways.cli.projections import rebuild_agencies
from gateways.embedded.kafka import _ensure_certificates
from gateways.embedded.ports import free_port
from gateways.mail.smtp import SmtpMailer
from services.accounts import Accounts
from services.cases import Cases
from services.notifications import NoticeKind, notifications_for
from services.settings import Settings
from tests.support.lifecycle import Headers, a_report_body

pytestmark = pytest.mark.integration

PUBLIC_URL = "https://simpul.dinas.example.go.id"
LOGIN = PUBLIC_URL + "/"
DISTRICT = "luwu-utara"
ADMIN = Actor("admin-1", Role.OFFICE_ADMINISTRATOR, Agency.UPTD_PPA, DISTRICT)
REPORT = a_report_body()
# What the report says of the people in it, none of which any mail may carry.
PERSONAL = [
    REPORT["victim"]["name"],
    REPORT["victim"]["nik"],
    REPORT["reporter"]["name"],
    REPORT["chronology"],
    REPORT["needs"],
    REPORT["incident"]["village"],
]
SMTP_USER, SMTP_PASSWORD = "simpul-notifier", "kata sandi surel"


@dataclass
class Inbox:
    """What the SMTP server accepted; ``refuse`` makes it answer 550 to every message."""

    received: list[tuple[list[str], Message]] = field(default_factory=list)
    refuse: bool = False

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.refuse:
            return "550 mailbox unavailable"
        content = envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        self.received.append((list(envelope.rcpt_tos), email.message_from_bytes(raw)))
        return "250 OK"

    def take(self) -> list[tuple[list[str], Message]]:
        taken, self.received = self.received, []
        return taken


@dataclass
class SmtpServer:
    inbox: Inbox
    port: int
    ca_file: Path | None = None


def _authenticate(
    server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    fits = isinstance(auth_data, LoginPassword) and (
        auth_data.login.decode(),
        auth_data.password.decode(),
    ) == (SMTP_USER, SMTP_PASSWORD)
    return AuthResult(success=fits)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A plain SMTP server on a free port, as a relay inside the office's network."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpServer(inbox, controller.port)
    finally:
        controller.stop()


@contextmanager
def _tls_server(directory: Path, context_as: str, **options: Any) -> Iterator[SmtpServer]:
    """An SMTP server with a certificate of its own (its CA beside it) and a login;
    ``context_as``: aiosmtpd's option the TLS context goes in (tls_context: STARTTLS,
    ssl_context: TLS from the first byte)."""
    certificate, key = _ensure_certificates(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=_authenticate,
        auth_required=True,
        **{context_as: context},
        **options,
    )
    controller.start()
    try:
        yield SmtpServer(inbox, controller.port, certificate.parent / "ca.crt")
    finally:
        controller.stop()


@pytest.fixture
def smtp_over_tls(tmp_path: Path) -> Iterator[SmtpServer]:
    """An SMTP server that takes mail only after STARTTLS and a login, as production's."""
    with _tls_server(tmp_path / "smtp-tls", "tls_context", require_starttls=True) as server:
        yield server


@pytest.fixture
def smtps(tmp_path: Path) -> Iterator[SmtpServer]:
    """An SMTP server speaking TLS from the first byte (SMTPS, port 465 in the wild)."""
    with _tls_server(tmp_path / "smtps", "ssl_context", auth_require_tls=False) as server:
        yield server


@pytest.fixture
def accounts(client: TestClient, pg_cases: Cases, test_settings: Settings) -> Accounts:
    # The API (``client``) made the directory; the case service checks assignments against it.
    return runtime.accounts(pg_cases, test_settings)


@pytest.fixture
def settings(test_settings: Settings) -> Settings:
    return test_settings.model_copy(update={"public_url": PUBLIC_URL})


def a_mailer(server: SmtpServer) -> SmtpMailer:
    return SmtpMailer("127.0.0.1", server.port, sender="simpul@dinas.example.go.id", starttls=False)


@pytest.fixture
def run(pg_cases: Cases, settings: Settings, smtp: SmtpServer) -> Callable[[], Any]:
    """One notifier run, mailing through ``smtp``."""
    running = notifier(pg_cases, settings, mailer=a_mailer(smtp))
    return running.run_once


class Office:
    """Luwu Utara's office: its staff (real accounts) and its commands over HTTP."""

    def __init__(self, client: TestClient, auth: Headers, accounts: Accounts) -> None:
        self.client, self.auth, self.accounts = client, auth, accounts
        self.register_numbers: dict[str, str] = {}

    def hire(self, role: Role, name: str, agency: Agency = Agency.UPTD_PPA) -> tuple[str, str]:
        """A new member of staff: their user id and e-mail address."""
        address = f"{name}.{os.urandom(4).hex()}@{agency.value}.example"
        invitation = self.accounts.invite(
            ADMIN, email=address, display_name=name.title(), role=role, agency=agency
        )
        return invitation.user_id, address

    def post(self, path: str, body: dict[str, Any], role: str = "coordinator") -> dict[str, Any]:
        response = self.client.post(
            f"/api/v1{path}", json=body, headers=self.auth(role, district=DISTRICT)
        )
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    def assigned_case(self, case_worker: str) -> str:
        """A reported, classified case assigned to ``case_worker``: L1.8 is due in 1 hari."""
        reported = self.post("/cases", REPORT, "intake_officer")
        case_id = str(reported["case_id"])
        self.register_numbers[case_id] = str(reported["register_number"])
        self.post(
            f"/cases/{case_id}/classification",
            {
                "case_type": "KTA",
                "risk_level": "high",
                "jurisdiction": "district",
                "emergency": False,
            },
        )
        self.post(f"/cases/{case_id}/case-worker", {"case_worker_id": case_worker})
        return case_id

    def referred_case(self, agency: str, service_type: str) -> str:
        """A reported, classified, consented case referred to ``agency`` (L4.1)."""
        reported = self.post("/cases", REPORT, "intake_officer")
        case_id = str(reported["case_id"])
        self.register_numbers[case_id] = str(reported["register_number"])
        self.post(
            f"/cases/{case_id}/classification",
            {
                "case_type": "KTA",
                "risk_level": "high",
                "jurisdiction": "district",
                "emergency": False,
            },
        )
        self.post(
            f"/cases/{case_id}/consent",
            {"given": True, "given_by": "parent", "document_ref": "IC/01"},
        )
        self.post(f"/cases/{case_id}/referrals", {"service_type": service_type, "agency": agency})
        return case_id


@pytest.fixture
def office(client: TestClient, auth: Headers, accounts: Accounts) -> Office:
    return Office(client, auth, accounts)


def later(pg_cases: Cases, by: timedelta) -> datetime:
    moment = datetime.now(UTC) + by
    pg_cases.clock = lambda: moment
    return moment


def assert_no_personal_data(mail: Message, *case_ids: str) -> None:
    text, body = mail.as_string(), body_of(mail)
    for secret in [*PERSONAL, *case_ids]:
        assert secret not in text and secret not in body, secret


def body_of(mail: Message) -> str:
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes)
    # SMTP carries lines ending in CRLF.
    return payload.decode(mail.get_content_charset() or "utf-8").replace("\r\n", "\n")


# ---- Digests ---------------------------------------------------------------------------------


def test_a_case_worker_gets_one_digest_with_counts_step_codes_and_the_login_link_only(
    office: Office,
    pg_cases: Cases,
    caught_up: Callable[[], int],
    run: Callable[[], Any],
    smtp: SmtpServer,
):
    rina, address = office.hire(Role.CASE_WORKER, "rina")
    case_id = office.assigned_case(rina)
    caught_up()

    run()

    ((recipients, mail),) = smtp.inbox.take()
    body = body_of(mail)
    assert recipients == [address] and mail["To"] == address
    assert mail["Subject"] == "Simpul: 1 tugas jatuh tempo"
    assert mail["From"] == "simpul@dinas.example.go.id"
    assert "Anda memiliki 1 tugas jatuh tempo dan 0 tugas terlambat" in body
    assert "You have 1 tasks due and 0 overdue" in body
    assert "Jatuh tempo:\n  L1.8 " in body and "Due:\n  L1.8 First visit or contact: 1" in body
    assert [word for word in body.split() if "://" in word] == [LOGIN, LOGIN]
    assert_no_personal_data(mail, case_id, office.register_numbers[case_id])


def test_a_second_run_sends_nothing_new_and_the_overdue_step_is_mailed_once(
    office: Office,
    pg_cases: Cases,
    caught_up: Callable[[], int],
    run: Callable[[], Any],
    smtp: SmtpServer,
):
    rina, _ = office.hire(Role.CASE_WORKER, "rina")
    office.assigned_case(rina)
    caught_up()
    run()
    assert len(smtp.inbox.take()) == 1

    run()
    assert smtp.inbox.take() == []

    later(pg_cases, timedelta(days=1, minutes=5))  # L1.8's "1 hari" has passed
    run()
    ((_, mail),) = smtp.inbox.take()
    assert mail["Subject"] == "Simpul: 1 terlambat"
    assert "Terlambat:\n  L1.8 " in body_of(mail)

    run()
    assert smtp.inbox.take() == []


def test_a_deactivated_case_worker_gets_nothing(
    office: Office,
    accounts: Accounts,
    caught_up: Callable[[], int],
    run: Callable[[], Any],
    smtp: SmtpServer,
):
    rina, _address = office.hire(Role.CASE_WORKER, "rina")
    office.assigned_case(rina)
    caught_up()
    accounts.deactivate(ADMIN, rina, reason="moved to another office")

    summary = run()

    assert [recipients for recipients, _ in smtp.inbox.take()] == []
    assert summary.notices_kept == 0


def test_each_case_worker_hears_only_of_their_own_cases(
    office: Office, caught_up: Callable[[], int], run: Callable[[], Any], smtp: SmtpServer
):
    rina, rina_address = office.hire(Role.CASE_WORKER, "rina")
    budi, budi_address = office.hire(Role.CASE_WORKER, "budi")
    office.assigned_case(rina)
    office.assigned_case(rina)
    office.assigned_case(budi)
    caught_up()

    run()

    subjects = {tuple(recipients): mail["Subject"] for recipients, mail in smtp.inbox.take()}
    assert subjects == {
        (rina_address,): "Simpul: 2 tugas jatuh tempo",
        (budi_address,): "Simpul: 1 tugas jatuh tempo",
    }


def test_a_police_officer_hears_of_a_referral_waiting_for_the_polices_answer(
    office: Office,
    database_url: str,
    caught_up: Callable[[], int],
    run: Callable[[], Any],
    smtp: SmtpServer,
):
    _, address = office.hire(Role.AGENCY_OFFICER, "bripka", Agency.POLICE)
    case_id = office.referred_case("police", "legal_process")
    caught_up()
    rebuild_agencies(Settings(_env_file=None), database_url, ["police"], show_progress=False)  # type: ignore[call-arg]

    run()

    ((recipients, mail),) = smtp.inbox.take()
    body = body_of(mail)
    assert recipients == [address] and mail["Subject"] == "Simpul: 1 tugas jatuh tempo"
    assert "0 langkah SOP, 1 rujukan untuk dijawab" in body
    assert "Due:\n  L4.1 Answer the referral: accept or decline: 1" in body
    assert_no_personal_data(mail, case_id, office.register_numbers[case_id])


# ---- Escalation ------------------------------------------------------------------------------


def test_a_step_overdue_past_the_districts_period_is_escalated_once_to_the_supervisor(
    office: Office,
    pg_cases: Cases,
    caught_up: Callable[[], int],
    run: Callable[[], Any],
    smtp: SmtpServer,
):
    """Luwu Utara escalates after 24 hours ([notifications] in luwu-utara.toml)."""
    rina, rina_address = office.hire(Role.CASE_WORKER, "rina")
    _, supervisor_address = office.hire(Role.SUPERVISOR, "siti")
    _, coordinator_address = office.hire(Role.COORDINATOR, "andi")
    case_id = office.assigned_case(rina)
    caught_up()
    later(pg_cases, timedelta(days=1, hours=23))  # overdue, by less than 24 hours
    run()
    overdue = smtp.inbox.take()
    assert sorted(r[0] for r, _ in overdue) == sorted([rina_address, coordinator_address])

    later(pg_cases, timedelta(days=2, hours=1))  # L1.8 overdue by more than 24 hours
    run()

    ((recipients, escalation),) = smtp.inbox.take()
    assert recipients == [supervisor_address]
    assert escalation["Subject"] == "Simpul: eskalasi, 1 langkah terlambat lebih dari 24 jam"
    body = body_of(escalation)
    assert "1 langkah SOP kantor di Kabupaten Luwu Utara terlambat lebih dari 24 jam" in body
    assert "Newly past the escalation period:\n  L1.8 First visit or contact: 1" in body
    assert LOGIN in body
    assert_no_personal_data(escalation, case_id, office.register_numbers[case_id])
    # The office has a supervisor: its coordinator heard of the step as overdue, not escalated.
    assert all("eskalasi" not in mail["Subject"] for _, mail in overdue)
    run()
    assert smtp.inbox.take() == []


def test_a_referral_the_police_leave_unanswered_past_the_period_is_escalated_to_the_supervisor(
    office: Office,
    pg_cases: Cases,
    database_url: str,
    caught_up: Callable[[], int],
    run: Callable[[], Any],
    smtp: SmtpServer,
):
    _, police_address = office.hire(Role.AGENCY_OFFICER, "bripka", Agency.POLICE)
    _, supervisor_address = office.hire(Role.SUPERVISOR, "siti")
    case_id = office.referred_case("police", "legal_process")
    caught_up()
    rebuild_agencies(Settings(_env_file=None), database_url, ["police"], show_progress=False)  # type: ignore[call-arg]
    later(pg_cases, timedelta(days=30))  # the police's answer (L4.1) long overdue

    run()

    mails = smtp.inbox.take()
    (escalation,) = [mail for recipients, mail in mails if recipients == [supervisor_address]]
    body = body_of(escalation)
    assert "1 rujukan dari kantor belum dijawab lembaga tujuan lebih dari 24 jam" in body
    assert "Rujukan yang baru melewati batas eskalasi:\n  Kepolisian: 1" in body
    assert "Referrals newly past the escalation period:\n  the police: 1" in body
    assert_no_personal_data(escalation, case_id, office.register_numbers[case_id])
    # The police officer heard of their own overdue answer, which is no escalation.
    (own,) = [mail for recipients, mail in mails if recipients == [police_address]]
    assert "eskalasi" not in own["Subject"]
    run()
    assert smtp.inbox.take() == []


def test_without_a_supervisor_the_coordinators_get_the_escalation(
    office: Office,
    pg_cases: Cases,
    caught_up: Callable[[], int],
    run: Callable[[], Any],
    smtp: SmtpServer,
):
    rina, _ = office.hire(Role.CASE_WORKER, "rina")
    _coordinator, coordinator_address = office.hire(Role.COORDINATOR, "andi")
    office.assigned_case(rina)
    caught_up()
    later(pg_cases, timedelta(days=2, hours=1))

    run()

    subjects = [m["Subject"] for r, m in smtp.inbox.take() if r == [coordinator_address]]
    assert sorted(subjects) == [
        "Simpul: 1 terlambat",
        "Simpul: eskalasi, 1 langkah terlambat lebih dari 24 jam",
    ]


# ---- In-app notices, and mail that does not go out ------------------------------------------


def test_every_notice_is_kept_for_the_web_application_mailed_or_not(
    office: Office,
    pg_cases: Cases,
    settings: Settings,
    caught_up: Callable[[], int],
    smtp: SmtpServer,
):
    rina, _ = office.hire(Role.CASE_WORKER, "rina")
    case_id = office.assigned_case(rina)
    caught_up()
    before = datetime.now(UTC) - timedelta(seconds=1)
    without_mail = notifier(pg_cases, settings, mailer=None)

    without_mail.run_once()

    assert smtp.inbox.take() == []
    (notice,) = notifications_for(without_mail.notices, rina, before)
    assert (notice.kind, notice.code, str(notice.case_id), notice.mailed) == (
        NoticeKind.DUE,
        "L1.8",
        case_id,
        False,
    )
    assert notifications_for(without_mail.notices, rina, notice.noticed_at) == []
    # Noticed in-app is noticed: a notifier with mail later does not mail it again.
    notifier(pg_cases, settings, mailer=a_mailer(smtp)).run_once()
    assert smtp.inbox.take() == []


def test_a_mail_the_server_refused_is_sent_by_the_next_run(
    office: Office, caught_up: Callable[[], int], run: Callable[[], Any], smtp: SmtpServer
):
    rina, address = office.hire(Role.CASE_WORKER, "rina")
    office.assigned_case(rina)
    caught_up()
    smtp.inbox.refuse = True

    refused = run()
    smtp.inbox.refuse = False
    sent = run()

    assert (refused.not_sent, refused.notices_kept) == (1, 0)
    assert (sent.people_mailed, sent.notices_kept) == (1, 1)
    assert [recipients for recipients, _ in smtp.inbox.take()] == [[address]]


def test_mail_goes_over_starttls_with_a_login_where_the_server_requires_them(
    office: Office,
    pg_cases: Cases,
    settings: Settings,
    caught_up: Callable[[], int],
    smtp_over_tls: SmtpServer,
):
    rina, address = office.hire(Role.CASE_WORKER, "rina")
    office.assigned_case(rina)
    caught_up()
    assert smtp_over_tls.ca_file is not None
    mailer = SmtpMailer(
        "127.0.0.1",
        smtp_over_tls.port,
        sender="simpul@dinas.example.go.id",
        username=SMTP_USER,
        password=SMTP_PASSWORD,
        starttls=True,
        tls_context=ssl.create_default_context(cafile=str(smtp_over_tls.ca_file)),
    )

    notifier(pg_cases, settings, mailer=mailer).run_once()

    assert [recipients for recipients, _ in smtp_over_tls.inbox.take()] == [[address]]


# aiosmtpd counts only STARTTLS as TLS for AUTH, so its SMTPS server is told not to
# require it, and warns; the connection is TLS from the first byte all the same.
SMTPS_AUTH_WARNING = "ignore:Requiring AUTH while not requiring TLS:UserWarning"


@pytest.mark.filterwarnings(SMTPS_AUTH_WARNING)
def test_mail_goes_over_implicit_tls_to_a_server_that_speaks_only_tls(
    office: Office,
    pg_cases: Cases,
    settings: Settings,
    caught_up: Callable[[], int],
    smtps: SmtpServer,
):
    rina, address = office.hire(Role.CASE_WORKER, "rina")
    office.assigned_case(rina)
    caught_up()
    assert smtps.ca_file is not None
    configured = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtps.port,
            "smtp_implicit_tls": True,
            "smtp_username": SMTP_USER,
            "smtp_password": SecretStr(SMTP_PASSWORD),
        }
    )
    mailer = SmtpMailer.from_settings(configured)
    assert mailer is not None
    mailer.tls_context = ssl.create_default_context(cafile=str(smtps.ca_file))

    notifier(pg_cases, settings, mailer=mailer).run_once()

    assert [recipients for recipients, _ in smtps.inbox.take()] == [[address]]


@pytest.mark.filterwarnings(SMTPS_AUTH_WARNING)
def test_a_server_certificate_not_trusted_stops_the_mail_before_the_login(
    office: Office,
    pg_cases: Cases,
    settings: Settings,
    caught_up: Callable[[], int],
    smtps: SmtpServer,
):
    rina, _address = office.hire(Role.CASE_WORKER, "rina")
    office.assigned_case(rina)
    caught_up()
    mailer = SmtpMailer(
        "127.0.0.1",
        smtps.port,
        sender="simpul@dinas.example.go.id",
        username=SMTP_USER,
        password=SMTP_PASSWORD,
        implicit_tls=True,
    )

    result = notifier(pg_cases, settings, mailer=mailer).run_once()

    assert result.not_sent == 1
    assert smtps.inbox.take() == []


def test_simpul_notify_once_mails_through_the_configured_server(
    office: Office,
    database_url: str,
    caught_up: Callable[[], int],
    smtp: SmtpServer,
    tmp_path: Path,
):
    rina, address = office.hire(Role.CASE_WORKER, "rina")
    office.assigned_case(rina)
    caught_up()
    environment = {
        **os.environ,
        "SIMPUL_DATABASE_URL": database_url,
        "SIMPUL_DATA_DIR": str(tmp_path),
        "SIMPUL_SMTP_HOST": "127.0.0.1",
        "SIMPUL_SMTP_PORT": str(smtp.port),
        "SIMPUL_SMTP_STARTTLS": "false",
        "SIMPUL_MAIL_FROM": "simpul@dinas.example.go.id",
        "SIMPUL_PUBLIC_URL": PUBLIC_URL,
    }

    done = subprocess.run(
        [sys.executable, "-m", "gateways.cli", "notify", "--once"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "1 digests and 0 escalations mailed" in done.stderr
    assert address not in done.stderr + done.stdout  # logs name user ids, never addresses
    ((recipients, mail),) = smtp.inbox.take()
    assert recipients == [address] and LOGIN in body_of(mail)


def test_without_an_smtp_server_simpul_notify_says_mail_is_off_once_and_keeps_notices(
    office: Office, database_url: str, caught_up: Callable[[], int], tmp_path: Path
):
    rina, _ = office.hire(Role.CASE_WORKER, "rina")
    office.assigned_case(rina)
    caught_up()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_SMTP")},
        "SIMPUL_DATABASE_URL": database_url,
        "SIMPUL_DATA_DIR": str(tmp_path),
    }

    done = subprocess.run(
        [sys.executable, "-m", "gateways.cli", "notify", "--once"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stderr.count("mail is off") == 1
    assert "0 digests and 0 escalations mailed, 1 notices kept" in done.stderr
