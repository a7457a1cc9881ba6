"""Tampering with the stored rows in PostgreSQL is caught, and the place is named."""

from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from gateways.cli.audit import verify_event_store
from gateways.eventstore.chain import GENESIS, ChainRoot, chain_hash, event_hash
from gateways.eventstore.verify import ProblemKind, StoreVerification, verify_case, verify_store
from services.case_commands import AssignCaseWorker, Classify, RecordContact, ReportCase
from services.cases import Cases
from tests.support.builders import CASE_WORKER, COORDINATOR, INTAKE_OFFICER, report_details

REPORT = {
    name: value
    for name, value in report_details().items()
    if name not in ("case_id", "district", "register_number")
}


@dataclass(frozen=True)
class Row:
    notification_id: int
    case_id: UUID
    version: int


@dataclass
class Store:
    url: str
    cases: list[UUID]

    def sql(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def rows(self) -> list[Row]:
        return [
            Row(*row)
            for row in self.sql(
                "SELECT notification_id, originator_id, originator_version "
                "FROM cases_events ORDER BY notification_id"
            )
        ]

    def row(self, case_id: UUID, version: int) -> Row:
        return next(r for r in self.rows() if (r.case_id, r.version) == (case_id, version))

    def verify(self, anchors: tuple[ChainRoot, ...] = ()) -> StoreVerification:
        with psycopg.connect(self.url, autocommit=True) as conn:
            return verify_store(conn, anchors=anchors, batch_size=7)

    def rehash(self) -> None:
        """What an attacker with only database access does: recompute every hash and the head."""
        with psycopg.connect(self.url, autocommit=True) as conn, conn.transaction():
            rows = conn.execute(
                "SELECT notification_id, originator_id, originator_version, topic, state "
                "FROM cases_events ORDER BY notification_id"
            ).fetchall()
            conn.execute("DELETE FROM cases_events_hashes")
            previous: dict[UUID, bytes] = {}
            chained = GENESIS
            for position, case_id, version, topic, state in rows:
                hashed = event_hash(previous.get(case_id, GENESIS), case_id, version, topic, state)
                previous[case_id] = hashed
                chained = chain_hash(chained, position, hashed)
                conn.execute(
                    "INSERT INTO cases_events_hashes VALUES (%s, %s, %s, %s, %s)",
                    (position, case_id, version, hashed, chained),
                )
            conn.execute(
                "UPDATE cases_events_chain_head SET notification_id = %s, chain_hash = %s, "
                "event_count = %s",
                (rows[-1][0], chained, len(rows)),
            )


@pytest.fixture
def store(pg_cases: Cases, database_url: str) -> Iterator[Store]:
    """Three cases of four events each, their commands interleaved, plus the register's events."""
    case_ids = [
        pg_cases.report_case(INTAKE_OFFICER, ReportCase(**REPORT)).case_id for _ in range(3)
    ]
    for case_id in case_ids:
        pg_cases.execute(
            COORDINATOR,
            case_id,
            Classify(case_type="KTA", risk_level="high", jurisdiction="district", emergency=False),
        )
    for case_id in case_ids:
        pg_cases.execute(COORDINATOR, case_id, AssignCaseWorker(case_worker_id=CASE_WORKER.user_id))
        pg_cases.execute(CASE_WORKER, case_id, RecordContact(mode="home_visit"))
    yield Store(database_url, case_ids)


def _assert_problem(
    result: StoreVerification, kind: ProblemKind, row: Row | None = None, **where: Any
) -> None:
    assert not result.intact
    problem = result.problem
    assert problem is not None
    assert problem.kind == kind, problem.describe()
    if row is not None:
        where = {
            "case_id": row.case_id,
            "version": row.version,
            "notification_id": row.notification_id,
        } | where
    for name, value in where.items():
        assert getattr(problem, name) == value, (name, problem.describe())


def test_an_untouched_store_verifies_and_its_root_is_the_head(store: Store) -> None:
    result = store.verify()

    assert result.intact, result.problem
    assert result.events == len(store.rows()) == 3 * 4 + 4
    head = store.sql("SELECT notification_id, event_count, chain_hash FROM cases_events_chain_head")
    assert result.root == ChainRoot(head[0][0], head[0][1], bytes(head[0][2]))
    assert ChainRoot.parse(str(result.root)) == result.root


def _lower_the_risk(store: Store, target: Row) -> None:
    store.sql(
        "UPDATE cases_events SET state = "
        "convert_to(replace(convert_from(state, 'UTF8'), '\"high\"', '\"low\"'), 'UTF8') "
        "WHERE notification_id = %s",
        target.notification_id,
    )
    (state,) = store.sql(
        "SELECT convert_from(state, 'UTF8') FROM cases_events WHERE notification_id = %s",
        target.notification_id,
    )[0]
    assert '"low"' in state and '"high"' not in state


def test_a_changed_event_is_named(store: Store) -> None:
    target = store.row(store.cases[1], 2)
    _lower_the_risk(store, target)

    _assert_problem(store.verify(), ProblemKind.CHANGED, target)


def test_an_event_deleted_from_the_middle_is_named(store: Store) -> None:
    target = store.row(store.cases[0], 2)
    store.sql("DELETE FROM cases_events WHERE notification_id = %s", target.notification_id)

    _assert_problem(store.verify(), ProblemKind.MISSING, target)


def test_an_event_deleted_from_the_end_is_named(store: Store) -> None:
    target = store.rows()[-1]
    store.sql("DELETE FROM cases_events WHERE notification_id = %s", target.notification_id)

    _assert_problem(store.verify(), ProblemKind.MISSING, target)


def test_an_event_deleted_with_its_hash_row_is_named(store: Store) -> None:
    target = store.row(store.cases[0], 3)
    for table in ("cases_events", "cases_events_hashes"):
        store.sql(f"DELETE FROM {table} WHERE notification_id = %s", target.notification_id)

    result = store.verify()

    _assert_problem(result, ProblemKind.MISSING)
    assert result.problem is not None
    assert result.problem.notification_id == target.notification_id + 1


def test_the_newest_events_deleted_with_their_hash_rows_are_noticed_at_the_head(
    store: Store,
) -> None:
    last = store.rows()[-1]
    for table in ("cases_events", "cases_events_hashes"):
        store.sql(f"DELETE FROM {table} WHERE notification_id >= %s", last.notification_id - 1)

    _assert_problem(store.verify(), ProblemKind.MISSING, notification_id=last.notification_id)


def test_two_events_swapping_places_are_named(store: Store) -> None:
    first, second = store.row(store.cases[0], 2), store.row(store.cases[2], 2)
    store.sql(
        "UPDATE cases_events SET notification_id = CASE notification_id "
        "WHEN %s THEN -1 WHEN %s THEN -2 END WHERE notification_id IN (%s, %s)",
        first.notification_id,
        second.notification_id,
        first.notification_id,
        second.notification_id,
    )
    store.sql(
        "UPDATE cases_events SET notification_id = %s WHERE notification_id = -2",
        first.notification_id,
    )
    store.sql(
        "UPDATE cases_events SET notification_id = %s WHERE notification_id = -1",
        second.notification_id,
    )

    _assert_problem(
        store.verify(),
        ProblemKind.REORDERED,
        case_id=second.case_id,
        version=second.version,
        notification_id=first.notification_id,
    )


def test_a_case_whose_events_swap_places_with_their_hash_rows_is_named(store: Store) -> None:
    earlier, later = store.row(store.cases[1], 2), store.row(store.cases[1], 3)
    for table in ("cases_events", "cases_events_hashes"):
        store.sql(
            f"UPDATE {table} SET notification_id = -notification_id "
            "WHERE notification_id IN (%s, %s)",
            earlier.notification_id,
            later.notification_id,
        )
        store.sql(
            f"UPDATE {table} SET notification_id = CASE notification_id WHEN %s THEN %s "
            "ELSE %s END WHERE notification_id < 0",
            -earlier.notification_id,
            later.notification_id,
            earlier.notification_id,
        )

    _assert_problem(
        store.verify(),
        ProblemKind.REORDERED,
        case_id=later.case_id,
        version=later.version,
        notification_id=earlier.notification_id,
    )


def test_a_forged_event_inserted_without_a_hash_is_named(store: Store) -> None:
    template = store.row(store.cases[2], 4)
    store.sql(
        "INSERT INTO cases_events (originator_id, originator_version, topic, state) "
        "SELECT originator_id, 5, topic, state FROM cases_events WHERE notification_id = %s",
        template.notification_id,
    )
    forged = store.row(store.cases[2], 5)

    _assert_problem(store.verify(), ProblemKind.INSERTED, forged)


def test_a_forged_event_appended_with_a_plausible_hash_row_is_named(store: Store) -> None:
    template = store.row(store.cases[2], 4)
    store.sql(
        "INSERT INTO cases_events (originator_id, originator_version, topic, state) "
        "SELECT originator_id, 5, topic, state FROM cases_events WHERE notification_id = %s",
        template.notification_id,
    )
    forged = store.row(store.cases[2], 5)
    store.sql(
        "INSERT INTO cases_events_hashes SELECT %s, originator_id, 5, event_hash, chain_hash "
        "FROM cases_events_hashes WHERE notification_id = %s",
        forged.notification_id,
        template.notification_id,
    )

    _assert_problem(store.verify(), ProblemKind.INSERTED, forged)


@pytest.mark.parametrize("column", ["event_hash", "chain_hash"])
def test_an_edited_hash_row_is_named(store: Store, column: str) -> None:
    target = store.row(store.cases[0], 3)
    store.sql(
        f"UPDATE cases_events_hashes SET {column} = sha256({column}) WHERE notification_id = %s",
        target.notification_id,
    )

    _assert_problem(store.verify(), ProblemKind.CHANGED, target)


@pytest.mark.parametrize(
    "edit",
    ["chain_hash = sha256(chain_hash)", "event_count = event_count - 1"],
)
def test_an_edited_head_is_named(store: Store, edit: str) -> None:
    store.sql(f"UPDATE cases_events_chain_head SET {edit}")

    _assert_problem(store.verify(), ProblemKind.HEAD_MISMATCH)


def test_a_consistent_rewrite_is_caught_by_a_root_published_before_it(store: Store) -> None:
    published = store.verify().root
    assert published is not None
    _lower_the_risk(store, store.row(store.cases[1], 2))

    store.rehash()

    assert store.verify().intact  # the hashes alone cannot tell
    _assert_problem(
        store.verify(anchors=(published,)),
        ProblemKind.ANCHOR_MISMATCH,
        notification_id=published.notification_id,
    )


def test_a_store_rolled_back_to_an_earlier_head_is_caught_by_a_later_root(store: Store) -> None:
    earlier_head = store.sql("SELECT * FROM cases_events_chain_head")[0]
    published = store.verify().root
    assert published is not None
    store.sql("UPDATE cases_events_chain_head SET notification_id = %s", published.notification_id)
    last = store.rows()[-1]
    for table in ("cases_events", "cases_events_hashes"):
        store.sql(f"DELETE FROM {table} WHERE notification_id = %s", last.notification_id)
    store.sql(
        "UPDATE cases_events_chain_head SET notification_id = %s, chain_hash = %s, "
        "event_count = %s",
        last.notification_id - 1,
        bytes(
            store.sql(
                "SELECT chain_hash FROM cases_events_hashes ORDER BY notification_id DESC LIMIT 1"
            )[0][0]
        ),
        earlier_head[3] - 1,
    )

    assert store.verify().intact
    _assert_problem(
        store.verify(anchors=(published,)),
        ProblemKind.MISSING,
        notification_id=published.notification_id,
    )


def test_one_case_is_checked_on_its_own(store: Store) -> None:
    intact = [_verify_case(store, case_id) for case_id in store.cases]
    target = store.row(store.cases[1], 3)
    store.sql(
        "UPDATE cases_events SET state = state || '\\x20'::bytea WHERE notification_id = %s",
        target.notification_id,
    )

    assert all(check.intact and check.events == 4 for check in intact)
    assert _verify_case(store, store.cases[0]).intact
    broken = _verify_case(store, store.cases[1])
    assert broken.problem is not None
    assert (broken.problem.kind, broken.problem.version) == (ProblemKind.CHANGED, 3)
    assert broken.events == 2


def test_one_case_names_a_deleted_and_a_displaced_event(store: Store) -> None:
    deleted = store.row(store.cases[0], 4)
    store.sql("DELETE FROM cases_events WHERE notification_id = %s", deleted.notification_id)
    moved = store.row(store.cases[2], 2)
    store.sql(
        "UPDATE cases_events SET notification_id = 100000 WHERE notification_id = %s",
        moved.notification_id,
    )

    first = _verify_case(store, store.cases[0]).problem
    second = _verify_case(store, store.cases[2]).problem

    assert first is not None and (first.kind, first.version) == (ProblemKind.MISSING, 4)
    assert second is not None and (second.kind, second.version) == (ProblemKind.REORDERED, 2)


def test_a_case_that_was_never_recorded_has_nothing_to_verify(store: Store) -> None:
    check = _verify_case(store, uuid4())

    assert check.intact and check.events == 0 and check.last_event_hash is None


def _verify_case(store: Store, case_id: UUID) -> Any:
    with psycopg.connect(store.url, autocommit=True) as conn:
        return verify_case(conn, case_id)


def test_the_command_keeps_published_roots_and_exits_non_zero_on_tampering(
    store: Store, tmp_path: Path
) -> None:
    roots = tmp_path / "roots.txt"
    out = StringIO()

    first = verify_event_store(store.url, out, anchors_file=roots, show_progress=False)
    kept = roots.read_text()
    again = verify_event_store(store.url, StringIO(), anchors_file=roots, show_progress=False)
    target = store.row(store.cases[0], 2)
    store.sql("DELETE FROM cases_events WHERE notification_id = %s", target.notification_id)
    tampered_out = StringIO()
    tampered = verify_event_store(store.url, tampered_out, anchors_file=roots, show_progress=False)

    assert (first, again, tampered) == (0, 0, 1)
    assert "the hash chain is intact" in out.getvalue()
    assert kept.startswith("simpul-root:v1:") and len(roots.read_text().splitlines()) == 2
    report = tampered_out.getvalue()
    assert "TAMPERING DETECTED" in report
    assert f"missing: case {target.case_id}, version 2, notification id " in report
