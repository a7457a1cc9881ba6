"""The access log is hash-chained like the events: erasing a trace, even as the table's
owner with its triggers disabled, is caught by `simpul audit verify`, and its root is
anchored beside the events' root."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import StringIO
from itertools import count
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest

from gateways.cli.audit import read_anchors, verify_event_store
from gateways.eventstore.chain import (
    GENESIS,
    AccessLogRoot,
    ChainRoot,
    access_entry_hash,
    parse_root,
)
from gateways.eventstore.environment import postgres_env
from gateways.eventstore.verify import (
    AccessLogVerification,
    ProblemKind,
    verify_access_log,
)
from services.access_log import CaseRead, Outcome, Refusal
from services.case_commands import ReportCase
from services.cases import Cases
from services.settings import Settings
from tests.support.builders import AUDITOR, COORDINATOR, INTAKE_OFFICER, report_details

REPORT = {
    name: value
    for name, value in report_details().items()
    if name not in ("case_id", "district", "register_number")
}
T0 = datetime(2025, 3, 3, 1, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def cases(database_url: str, test_settings: Settings) -> Iterator[Cases]:
    seconds = count()
    app = Cases(
        env=postgres_env(database_url, test_settings),
        clock=lambda: T0 + timedelta(seconds=next(seconds)),
    )
    yield app
    app.close()


def sql(url: str, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def verify(url: str, anchors: tuple[AccessLogRoot, ...] = ()) -> AccessLogVerification:
    with psycopg.connect(url, autocommit=True) as conn:
        return verify_access_log(conn, anchors=anchors, batch_size=3)


def some_reads(cases: Cases, reads: int = 6) -> UUID:
    case_id = cases.report_case(INTAKE_OFFICER, ReportCase(**REPORT)).case_id
    for number in range(reads):
        cases.read_case_events(
            COORDINATOR, case_id, CaseRead(view="read_case", request_id=f"req-{number}")
        )
    cases.record_refusal(
        AUDITOR, Refusal(view="read_case", outcome=Outcome.DENIED, reason="not_permitted")
    )
    cases.record_failed_authentication("read_case", "token_expired")
    return case_id


def test_the_database_chains_each_entry_exactly_as_the_verifier_recomputes_it(
    cases: Cases, database_url: str
) -> None:
    some_reads(cases, reads=2)
    rows = sql(
        database_url,
        "SELECT id, accessed_at, user_id, role, agency, district, case_id, view, purpose, "
        "request_id, outcome, reason, entry_hash FROM cases_access_log ORDER BY id",
    )

    previous = GENESIS
    for *columns, stored in rows:
        previous = access_entry_hash(previous, *columns)
        assert bytes(stored) == previous
    assert [row[-3] for row in rows] == ["granted", "granted", "denied", "unauthenticated"]
    head = sql(
        database_url, "SELECT entry_id, chain_hash, entry_count FROM cases_access_log_chain_head"
    )
    assert head == [(rows[-1][0], previous, 4)]


def test_an_intact_access_log_verifies_and_names_its_root(cases: Cases, database_url: str) -> None:
    some_reads(cases)

    result = verify(database_url)

    assert result.intact, result.problem
    assert result.entries == 8
    assert result.root is not None
    assert parse_root(str(result.root)) == result.root


def test_the_attack_of_the_review_is_caught_deleting_a_read_with_the_triggers_disabled(
    cases: Cases, database_url: str
) -> None:
    """As the table's owner: ALTER TABLE ... DISABLE TRIGGER USER; DELETE ...; ENABLE."""
    some_reads(cases)
    victim_read = sql(database_url, "SELECT id FROM cases_access_log ORDER BY id")[3][0]
    sql(database_url, "ALTER TABLE cases_access_log DISABLE TRIGGER USER")
    sql(database_url, "DELETE FROM cases_access_log WHERE id = %s", victim_read)
    sql(database_url, "ALTER TABLE cases_access_log ENABLE TRIGGER USER")

    result = verify(database_url)

    assert result.problem is not None
    assert result.problem.kind is ProblemKind.CHANGED
    assert result.problem.access_entry_id == victim_read + 1
    assert result.entries == 3


@pytest.mark.parametrize(
    "tampering",
    [
        "UPDATE cases_access_log SET user_id = 'someone-else' WHERE id = (SELECT min(id) + 1 "
        "FROM cases_access_log)",
        "UPDATE cases_access_log SET case_id = NULL WHERE outcome = 'granted'",
        "UPDATE cases_access_log SET accessed_at = accessed_at + interval '1 microsecond'",
    ],
    ids=["who", "which case", "when, by a microsecond"],
)
def test_a_rewritten_entry_is_caught(cases: Cases, database_url: str, tampering: str) -> None:
    some_reads(cases)
    sql(database_url, "ALTER TABLE cases_access_log DISABLE TRIGGER USER")
    sql(database_url, tampering)

    assert verify(database_url).problem.kind is ProblemKind.CHANGED  # type: ignore[union-attr]


def test_entries_removed_from_the_end_are_caught_by_the_head(
    cases: Cases, database_url: str
) -> None:
    some_reads(cases)
    sql(database_url, "ALTER TABLE cases_access_log DISABLE TRIGGER USER")
    sql(
        database_url,
        "DELETE FROM cases_access_log WHERE id > (SELECT min(id) + 4 FROM cases_access_log)",
    )

    problem = verify(database_url).problem

    assert problem is not None
    assert problem.kind is ProblemKind.MISSING
    assert "removed from the end" in problem.detail


def test_an_entry_added_behind_the_triggers_back_is_caught(cases: Cases, database_url: str) -> None:
    some_reads(cases)
    sql(database_url, "ALTER TABLE cases_access_log DISABLE TRIGGER USER")
    sql(
        database_url,
        "INSERT INTO cases_access_log (id, accessed_at, view, outcome) "
        "VALUES (1000000, now(), 'read_case', 'granted')",
    )

    assert verify(database_url).problem.kind is ProblemKind.INSERTED  # type: ignore[union-attr]


def test_a_rewrite_of_the_whole_chain_and_its_head_is_caught_by_a_published_root(
    cases: Cases, database_url: str
) -> None:
    some_reads(cases)
    published = verify(database_url).root
    assert published is not None
    rows = sql(
        database_url,
        "SELECT id, accessed_at, user_id, role, agency, district, case_id, view, purpose, "
        "request_id, outcome, reason FROM cases_access_log ORDER BY id",
    )
    # Drop the third entry and re-chain everything after it, head included.
    kept = rows[:2] + rows[3:]
    sql(database_url, "ALTER TABLE cases_access_log DISABLE TRIGGER USER")
    sql(database_url, "DELETE FROM cases_access_log WHERE id = %s", rows[2][0])
    previous = GENESIS
    for row in kept:
        previous = access_entry_hash(previous, *row)
        sql(
            database_url,
            "UPDATE cases_access_log SET entry_hash = %s WHERE id = %s",
            previous,
            row[0],
        )
    sql(
        database_url,
        "UPDATE cases_access_log_chain_head SET chain_hash = %s, entry_count = %s",
        previous,
        len(kept),
    )

    assert verify(database_url).intact
    problem = verify(database_url, anchors=(published,)).problem
    assert problem is not None
    assert problem.kind is ProblemKind.ANCHOR_MISMATCH


def test_audit_verify_checks_both_chains_and_keeps_both_roots_and_old_roots_still_verify(
    cases: Cases, database_url: str, tmp_path: Path
) -> None:
    some_reads(cases)
    roots = tmp_path / "roots.txt"
    # A root kept before the access log was chained: the events' root alone.
    events_only = StringIO()
    assert verify_event_store(database_url, events_only, show_progress=False) == 0
    old_root = next(
        line.split(": ", 1)[1]
        for line in events_only.getvalue().splitlines()
        if line.startswith("Chain root: ")
    )
    roots.write_text(f"{old_root}  # verified before the access log was chained\n")
    out = StringIO()

    first = verify_event_store(database_url, out, anchors_file=roots, show_progress=False)
    cases.read_case_events(COORDINATOR, some_reads(cases, reads=1), CaseRead(view="read_case"))
    again = verify_event_store(database_url, StringIO(), anchors_file=roots, show_progress=False)
    first_entry = sql(database_url, "SELECT min(id) FROM cases_access_log")[0][0]
    sql(database_url, "ALTER TABLE cases_access_log DISABLE TRIGGER USER")
    sql(database_url, "DELETE FROM cases_access_log WHERE id = %s", first_entry)
    tampered_out = StringIO()
    tampered = verify_event_store(
        database_url, tampered_out, anchors_file=roots, show_progress=False
    )

    assert (first, again, tampered) == (0, 0, 1)
    report = out.getvalue()
    assert "the hash chain is intact" in report
    assert "the access log's chain is intact" in report
    assert "Access-log root: simpul-access-root:v1:" in report
    kept = read_anchors(roots)
    assert [type(root) for root in kept] == [ChainRoot] + [ChainRoot, AccessLogRoot] * 2
    assert "ACCESS LOG TAMPERING DETECTED" in tampered_out.getvalue()
    assert "the hash chain is intact" in tampered_out.getvalue()


def test_a_log_written_before_entries_were_chained_is_chained_once_at_set_up(
    database_url: str, test_settings: Settings
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE cases_access_log (id bigserial PRIMARY KEY, "
            "accessed_at timestamptz NOT NULL, user_id text NOT NULL, role text NOT NULL, "
            "agency text NOT NULL, district text NOT NULL, case_id uuid, view text NOT NULL, "
            "purpose text, request_id text)"
        )
        for number in range(3):
            conn.execute(
                "INSERT INTO cases_access_log (accessed_at, user_id, role, agency, district, "
                "view, request_id) VALUES (now(), 'koordinator', 'coordinator', 'uptd_ppa', "
                "'luwu-utara', 'read_case', %s)",
                (f"before-{number}",),
            )

    for _ in range(2):  # a second start must not chain anything again
        Cases(env=postgres_env(database_url, test_settings)).close()
    after = Cases(env=postgres_env(database_url, test_settings))
    try:
        after.record_failed_authentication("read_case", "token_missing")
    finally:
        after.close()

    result = verify(database_url)
    assert result.intact, result.problem
    assert result.entries == 4
    assert [
        row[0] for row in sql(database_url, "SELECT request_id FROM cases_access_log ORDER BY id")
    ][:3] == [
        "before-0",
        "before-1",
        "before-2",
    ]


def test_a_log_whose_head_was_deleted_is_not_quietly_rechained_at_the_next_start(
    cases: Cases, database_url: str, test_settings: Settings
) -> None:
    some_reads(cases)
    sql(database_url, "DELETE FROM cases_access_log_chain_head")

    Cases(env=postgres_env(database_url, test_settings)).close()

    problem = verify(database_url).problem
    assert problem is not None
    assert problem.kind is ProblemKind.HEAD_MISMATCH
