"""The same-person index in PostgreSQL: fingerprint -> case, in its own schema.

``same_person.fingerprints`` holds digests, never identities (projections/same_person.py);
``same_person.tracking`` the last event indexed, moved in the transaction that adds the
rows (gateways/projectors/tracking.py), so two API processes catching up at once add
each row once. Rows are only ever added: a case's fingerprints are facts of its history.
"""

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any
from uuid import UUID

from psycopg import Connection
from psycopg.sql import SQL, Composed, Identifier

from gateways.projectors.runner import PositionMoved
from gateways.projectors.tracking import Tracking
from gateways.projectors.tracking import create_statement as tracking_table
from projections.same_person import PersonRow
from services.same_person import IndexedMatch

SCHEMA = "same_person"
APPLICATION = "Cases"
Connect = Callable[[], AbstractContextManager[Connection[Any]]]
_DDL_LOCK = 0x53414D45  # "SAME"

_DDL = [
    "CREATE SCHEMA IF NOT EXISTS {schema}",
    """CREATE TABLE IF NOT EXISTS {schema}.fingerprints (
        fingerprint text NOT NULL,
        basis text NOT NULL,
        case_id uuid NOT NULL,
        district text NOT NULL,
        register_number text NOT NULL,
        reported_at timestamptz NOT NULL,
        PRIMARY KEY (fingerprint, case_id))""",
    "CREATE INDEX IF NOT EXISTS fingerprints_by_case ON {schema}.fingerprints (case_id)",
]


class PostgresPersonIndex:
    def __init__(self, connect: Connect, *, schema: str = SCHEMA) -> None:
        self.connect = connect
        self.schema = schema
        self._tracking = Tracking(schema, APPLICATION)
        self._ready = False

    def _sql(self, text: str) -> Composed:
        return SQL(text).format(schema=Identifier(self.schema))

    def ensure_tables(self) -> None:
        if self._ready:
            return
        with self.connect() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
            for statement in _DDL:
                conn.execute(self._sql(statement))
            conn.execute(tracking_table(self.schema))
        self._ready = True

    def position(self) -> int:
        self.ensure_tables()
        with self.connect() as conn:
            return self._tracking.position(conn)

    def add(self, rows: Sequence[PersonRow], *, after: int | None = None, to: int = 0) -> bool:
        """Add the rows; with ``after``, move the position from it to ``to`` atomically.

        False if another process moved the position first (it added these rows).
        """
        self.ensure_tables()
        try:
            with self.connect() as conn, conn.transaction(), conn.cursor() as curs:
                if after is not None:
                    self._tracking.move(curs, after=after, to=to)
                curs.executemany(
                    self._sql(
                        "INSERT INTO {schema}.fingerprints (fingerprint, basis, case_id, "
                        "district, register_number, reported_at) VALUES (%s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT DO NOTHING"
                    ),
                    [
                        (
                            row.fingerprint,
                            row.basis,
                            row.case_id,
                            row.district,
                            row.register_number,
                            row.reported_at,
                        )
                        for row in rows
                    ],
                )
        except PositionMoved:
            return False
        return True

    def matches(self, case_id: UUID) -> list[IndexedMatch]:
        """The other cases sharing a fingerprint with ``case_id``, oldest report first."""
        self.ensure_tables()
        with self.connect() as conn:
            rows = conn.execute(
                self._sql(
                    "SELECT other.case_id, other.district, other.register_number, "
                    "min(other.reported_at) AS reported_at, "
                    "array_agg(DISTINCT other.basis ORDER BY other.basis) AS bases "
                    "FROM {schema}.fingerprints mine "
                    "JOIN {schema}.fingerprints other ON other.fingerprint = mine.fingerprint "
                    "AND other.basis = mine.basis AND other.case_id <> mine.case_id "
                    "WHERE mine.case_id = %s "
                    "GROUP BY other.case_id, other.district, other.register_number "
                    "ORDER BY min(other.reported_at), other.case_id"
                ),
                (case_id,),
            ).fetchall()
        return [
            IndexedMatch(
                case_id=_get(row, "case_id", 0),
                district=_get(row, "district", 1),
                register_number=_get(row, "register_number", 2),
                reported_at=_get(row, "reported_at", 3),
                bases=tuple(_get(row, "bases", 4)),
            )
            for row in rows
        ]


def _get(row: Any, name: str, index: int) -> Any:
    return row[name] if isinstance(row, dict) else row[index]
