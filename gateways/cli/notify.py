"""`simpul notify`: e-mail each person what became due or overdue for them, and escalate
steps late past their district's period to its supervisors (services/notifications.py).

`simpul notify --once` runs once (a cron job's way); `simpul notify` runs every
SIMPUL_NOTIFY_INTERVAL_MINUTES until stopped. Without SIMPUL_SMTP_HOST it mails nothing
and keeps the notices for the web application only. It reads the coordinator's views
and the agency inboxes, so it runs beside their projectors; only this process is given
the SMTP password.
"""

import argparse
import logging
import sys
import threading
from collections.abc import Callable
from datetime import datetime

import psycopg
from eventsourcing.persistence import PersistenceError

from gateways import runtime
from gateways.cli.commands import Commands
from gateways.mail.smtp import SmtpMailer
from gateways.readmodels.task_rows import ReadModelTaskRows
from services.cases import Cases
from services.notifications import Mailer, Notifier
from services.settings import Settings

log = logging.getLogger("simpul.notify")


def notifier(
    cases: Cases,
    settings: Settings,
    *,
    mailer: Mailer | None,
    clock: Callable[[], datetime] | None = None,
) -> Notifier:
    """A notifier over the read models beside the case service's store."""
    matrix = runtime.sharing_matrix(settings)
    rows = ReadModelTaskRows(
        runtime.coordinator_store(cases),
        {agency: runtime.agency_store(cases, agency, matrix) for agency in matrix.agencies},
    )
    return Notifier(
        staff=runtime.staff_directory(cases),
        rows=rows,
        notices=runtime.notice_store(cases),
        mailer=mailer,
        profiles=cases.profiles,
        public_url=settings.public_url,
        clock=clock or _clock_of(cases),
    )


def _clock_of(cases: Cases) -> Callable[[], datetime]:
    """The case service's clock, looked up at each run: a test replaces it after start."""

    def now() -> datetime:
        return cases.clock()

    return now


def notify(args: argparse.Namespace) -> int:
    """E-mail each person what became due or overdue, and escalate late steps to supervisors."""
    settings = Settings()
    database = runtime.database_url(settings)
    if database is None:
        print("simpul notify needs SIMPUL_DATABASE_URL, or `simpul run` first", file=sys.stderr)
        return 2
    mailer = SmtpMailer.from_settings(settings)
    if mailer is None:
        log.info("notify: mail is off (SIMPUL_SMTP_HOST unset); notices are kept in-app only")
    cases = runtime.open_cases(settings, database)
    try:
        running = notifier(cases, settings, mailer=mailer)
        if args.once:
            log.info("notify: %s", running.run_once())
            return 0
        return _every(running, settings.notify_interval_minutes * 60.0, threading.Event())
    finally:
        cases.close()


def _every(running: Notifier, seconds: float, stop: threading.Event) -> int:
    log.info("notify: every %g minutes", seconds / 60)
    while True:
        try:
            log.info("notify: %s", running.run_once())
        except (psycopg.Error, PersistenceError) as error:
            # The database is back by the next run, most likely; the notices wait for it.
            log.warning(
                "notify: run failed (%s); next in %g minutes", type(error).__name__, seconds / 60
            )
        if stop.wait(seconds):
            return 0


def add_commands(commands: Commands) -> None:
    parser = commands.add("notify", notify)
    parser.add_argument(
        "--once", action="store_true", help="one run, then exit (default: every interval)"
    )
