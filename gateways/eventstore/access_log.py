"""The access log table, next to the events it is about.

Reads of a case's events append their access record in the same statement
that selects the events (a data-modifying CTE): one round trip, and no events
come back unless the record went in. The table is append-only: triggers refuse
UPDATE, DELETE and TRUNCATE, so removing a trace of a read takes deliberate
DDL by a database owner, not a slip of application code or an ordinary role.
"""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    InterfaceError,
    OperationalError,
    PersistenceError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresDatastore
from psycopg.sql import SQL, Composed, Identifier

from services.access_log import AccessEntry, AccessNotRecorded, AccessQuery, AccessRecord

MAX_VERSION = 2**63 - 1
_COLUMNS = "accessed_at, user_id, role, agency, district, case_id, view, purpose, request_id"


def _values(record: AccessRecord) -> dict[str, Any]:
    return {
        "accessed_at": record.accessed_at,
        "user_id": record.user_id,
        "role": record.role,
        "agency": record.agency,
        "district": record.district,
        "case_id": record.case_id,
        "view": record.view,
        "purpose": record.purpose,
        "request_id": record.request_id,
    }


_INSERT_VALUES = (
    "VALUES (%(accessed_at)s, %(user_id)s, %(role)s, %(agency)s, %(district)s, "
    "%(case_id)s, %(view)s, %(purpose)s, %(request_id)s)"
)


class PostgresAccessLog:
    def __init__(self, datastore: PostgresDatastore, table_name: str, events_table_name: str):
        self.datastore = datastore
        self.table_name = table_name
        schema = Identifier(datastore.schema)
        table = Identifier(table_name)
        guard = Identifier(f"{table_name}_append_only")
        self.create_statements: list[Composed] = [
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{table} ("
                "id bigserial PRIMARY KEY, "
                "accessed_at timestamptz NOT NULL, "
                "user_id text NOT NULL, "
                "role text NOT NULL, "
                "agency text NOT NULL, "
                "district text NOT NULL, "
                "case_id uuid, "
                "view text NOT NULL, "
                "purpose text, "
                "request_id text)"
            ).format(schema=schema, table=table),
            SQL("CREATE INDEX IF NOT EXISTS {index} ON {schema}.{table} (case_id, id)").format(
                index=Identifier(f"{table_name}_case_idx"), schema=schema, table=table
            ),
            SQL("CREATE INDEX IF NOT EXISTS {index} ON {schema}.{table} (user_id, id)").format(
                index=Identifier(f"{table_name}_user_idx"), schema=schema, table=table
            ),
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{guard}() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN "
                "RAISE EXCEPTION 'the access log is append-only'; END $$"
            ).format(schema=schema, guard=guard),
            SQL(
                "CREATE OR REPLACE TRIGGER {trigger} BEFORE UPDATE OR DELETE ON "
                "{schema}.{table} FOR EACH ROW EXECUTE FUNCTION {schema}.{guard}()"
            ).format(
                trigger=Identifier(f"{table_name}_no_rewrite"),
                schema=schema,
                table=table,
                guard=guard,
            ),
            SQL(
                "CREATE OR REPLACE TRIGGER {trigger} BEFORE TRUNCATE ON "
                "{schema}.{table} FOR EACH STATEMENT EXECUTE FUNCTION {schema}.{guard}()"
            ).format(
                trigger=Identifier(f"{table_name}_no_truncate"),
                schema=schema,
                table=table,
                guard=guard,
            ),
        ]
        self.insert_statement = SQL(
            "INSERT INTO {schema}.{table} (" + _COLUMNS + ") " + _INSERT_VALUES
        ).format(schema=schema, table=table)
        self.select_events_statement = SQL(
            "WITH recorded AS (INSERT INTO {schema}.{table} ("
            + _COLUMNS
            + ") "
            + _INSERT_VALUES
            + " RETURNING id) "
            "SELECT originator_id, originator_version, topic, state FROM {schema}.{events} "
            "WHERE originator_id = %(originator_id)s AND originator_version <= %(lte)s "
            "AND EXISTS (SELECT FROM recorded) ORDER BY originator_version"
        ).format(schema=schema, table=table, events=Identifier(events_table_name))
        self.select_statement = SQL(
            "SELECT id, " + _COLUMNS + " FROM {schema}.{table} "
            "WHERE (%(case_id)s::uuid IS NULL OR case_id = %(case_id)s) "
            "AND (%(user_id)s::text IS NULL OR user_id = %(user_id)s) "
            "AND id > %(after)s ORDER BY id LIMIT %(limit)s"
        ).format(schema=schema, table=table)

    def record_access(self, record: AccessRecord) -> None:
        try:
            with self.datastore.get_connection() as conn:
                conn.execute(self.insert_statement, _values(record), prepare=True)
        except (OperationalError, InterfaceError):
            raise
        except PersistenceError as error:
            raise AccessNotRecorded() from error

    def select_events_recording_access(
        self, originator_id: UUID, record: AccessRecord, *, lte: int | None = None
    ) -> Sequence[StoredEvent]:
        parameters = _values(record) | {
            "originator_id": originator_id,
            "lte": MAX_VERSION if lte is None else lte,
        }
        try:
            with self.datastore.get_connection() as conn:
                rows = conn.execute(self.select_events_statement, parameters, prepare=True)
                return [
                    StoredEvent(
                        originator_id=row["originator_id"],
                        originator_version=row["originator_version"],
                        topic=row["topic"],
                        state=bytes(row["state"]),
                    )
                    for row in rows.fetchall()
                ]
        except (OperationalError, InterfaceError):
            raise
        except PersistenceError as error:
            raise AccessNotRecorded() from error

    def select_access(self, query: AccessQuery) -> list[AccessEntry]:
        parameters = {
            "case_id": query.case_id,
            "user_id": query.user_id,
            "after": query.after,
            "limit": query.limit,
        }
        with self.datastore.get_connection() as conn:
            rows = conn.execute(self.select_statement, parameters, prepare=True).fetchall()
        return [
            AccessEntry(
                id=row["id"],
                record=AccessRecord(
                    accessed_at=row["accessed_at"],
                    user_id=row["user_id"],
                    role=row["role"],
                    agency=row["agency"],
                    district=row["district"],
                    case_id=row["case_id"],
                    view=row["view"],
                    purpose=row["purpose"],
                    request_id=row["request_id"],
                ),
            )
            for row in rows
        ]
