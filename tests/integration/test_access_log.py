"""Every read of a case is recorded in PostgreSQL first; no record, no read."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count

import psycopg
import pytest

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from gateways.eventstore.environment import postgres_env
from projections.case_file import CaseFile
from services.access import AccessDenied
from services.access_log import AccessNotRecorded, CaseRead
from services.case_commands import AssignCaseWorker, Classify, ReportCase
from services.cases import CaseNotFound, Cases
from services.settings import Settings
from tests.support.builders import (
    AUDITOR,
    CASE_WORKER,
    COORDINATOR,
    HEALTH_OFFICER,
    INTAKE_OFFICER,
    report_details,
)

REPORT = {
    name: value
    for name, value in report_details().items()
    if name not in ("case_id", "district", "register_number")
}
T0 = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
OTHER_COORDINATOR = Actor("koordinator-batu", Role.COORDINATOR, Agency.UPTD_PPA, "kota-batu")


@pytest.fixture
def cases(database_url: str, test_settings: Settings) -> Iterator[Cases]:
    minutes = count()
    app = Cases(
        env=postgres_env(database_url, test_settings),
        clock=lambda: T0 + timedelta(minutes=next(minutes)),
    )
    yield app
    app.close()


def _log_rows(database_url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT accessed_at, user_id, role, agency, district, case_id, view, purpose, "
            "request_id FROM cases_access_log ORDER BY id"
        ).fetchall()


def test_a_read_is_recorded_with_who_when_which_case_view_and_purpose(
    cases: Cases, database_url: str
) -> None:
    case_id = cases.report_case(INTAKE_OFFICER, ReportCase(**REPORT)).case_id
    read = CaseRead(view="read_case", purpose="Pemeriksaan 700/12", request_id="req-1")

    events = cases.read_case_events(AUDITOR, case_id, read)

    assert CaseFile.from_events(events).case_id == case_id
    ((accessed_at, *rest),) = _log_rows(database_url)
    assert rest == [
        AUDITOR.user_id,
        "auditor",
        AUDITOR.agency.value,
        AUDITOR.district,
        case_id,
        "read_case",
        "Pemeriksaan 700/12",
        "req-1",
    ]
    assert T0 < accessed_at < T0 + timedelta(hours=1)


def test_a_refused_read_records_nothing(cases: Cases, database_url: str) -> None:
    case_id = cases.report_case(INTAKE_OFFICER, ReportCase(**REPORT)).case_id

    with pytest.raises(CaseNotFound):
        cases.read_case_events(HEALTH_OFFICER, case_id, CaseRead(view="read_case"))

    assert _log_rows(database_url) == []


def test_without_the_access_log_a_read_fails_and_returns_nothing(
    cases: Cases, database_url: str
) -> None:
    case_id = cases.report_case(INTAKE_OFFICER, ReportCase(**REPORT)).case_id
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE cases_access_log")

    with pytest.raises(AccessNotRecorded):
        cases.read_case_events(COORDINATOR, case_id, CaseRead(view="read_case"))
    with pytest.raises(AccessNotRecorded):
        cases.authorize_case_read(AUDITOR, case_id, CaseRead(view="read_verification"))


def test_a_read_whose_record_is_refused_by_the_database_fails(
    cases: Cases, database_url: str
) -> None:
    case_id = cases.report_case(INTAKE_OFFICER, ReportCase(**REPORT)).case_id
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE cases_access_log ADD CONSTRAINT reads_refused CHECK (false) NOT VALID"
        )

    with pytest.raises(AccessNotRecorded):
        cases.read_case_events(COORDINATOR, case_id, CaseRead(view="read_case"))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE cases_access_log SET user_id = 'someone-else'",
        "DELETE FROM cases_access_log",
        "TRUNCATE cases_access_log",
    ],
)
def test_the_access_log_cannot_be_rewritten(
    cases: Cases, database_url: str, statement: str
) -> None:
    case_id = cases.report_case(INTAKE_OFFICER, ReportCase(**REPORT)).case_id
    cases.read_case_events(COORDINATOR, case_id, CaseRead(view="read_case"))

    with (
        psycopg.connect(database_url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.RaiseException, match="append-only"),
    ):
        conn.execute(statement)

    assert len(_log_rows(database_url)) == 1


def test_who_read_a_case_is_listed_for_auditors_and_the_office_coordinator(
    cases: Cases,
) -> None:
    case_id = cases.report_case(INTAKE_OFFICER, ReportCase(**REPORT)).case_id
    cases.execute(
        COORDINATOR,
        case_id,
        Classify(case_type="KTA", risk_level="high", jurisdiction="district", emergency=False),
    )
    cases.execute(COORDINATOR, case_id, AssignCaseWorker(case_worker_id=CASE_WORKER.user_id))
    cases.read_case_events(CASE_WORKER, case_id, CaseRead(view="read_case", purpose="visit"))
    log = CaseRead(view="read_case_access_log")

    by_auditor = cases.access_log_of_case(AUDITOR, case_id, log)
    by_coordinator = cases.access_log_of_case(COORDINATOR, case_id, log)

    assert [(e.record.user_id, e.record.view) for e in by_auditor] == [
        (CASE_WORKER.user_id, "read_case"),
        (AUDITOR.user_id, "read_case_access_log"),
    ]
    assert [e.record.user_id for e in by_coordinator][-1] == COORDINATOR.user_id
    with pytest.raises(AccessDenied):
        cases.access_log_of_case(CASE_WORKER, case_id, log)
    with pytest.raises(CaseNotFound):
        cases.access_log_of_case(OTHER_COORDINATOR, case_id, log)


def test_what_one_person_read_is_listed_for_auditors_only(cases: Cases) -> None:
    first = cases.report_case(INTAKE_OFFICER, ReportCase(**REPORT)).case_id
    second = cases.report_case(INTAKE_OFFICER, ReportCase(**REPORT)).case_id
    for case_id in (first, second, first):
        cases.read_case_events(COORDINATOR, case_id, CaseRead(view="read_case"))
    listing = CaseRead(view="read_actor_access_log")

    entries = cases.access_log_of_user(AUDITOR, COORDINATOR.user_id, listing)
    page = cases.access_log_of_user(AUDITOR, COORDINATOR.user_id, listing, limit=2)
    rest = cases.access_log_of_user(AUDITOR, COORDINATOR.user_id, listing, after=page[-1].id)
    own = cases.access_log_of_user(AUDITOR, AUDITOR.user_id, listing)

    assert [e.record.case_id for e in entries] == [first, second, first]
    assert [e.record.case_id for e in page + rest] == [first, second, first]
    assert [(e.record.case_id, e.record.view) for e in own] == [(None, "read_actor_access_log")] * 4
    with pytest.raises(AccessDenied):
        cases.access_log_of_user(COORDINATOR, CASE_WORKER.user_id, listing)
