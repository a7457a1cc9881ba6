"""The access log table, next to the events it is about, hash-chained like them.

Reads of a case's events append their access record in the same statement
that selects the events (a data-modifying CTE): one round trip, and no events
come back unless the record went in.

The table is guarded three ways:

- triggers refuse UPDATE, DELETE and TRUNCATE, so no slip of application code
  removes a trace;
- a BEFORE INSERT trigger chains every entry (``chain.access_entry_hash``): it
  takes the log's lock, numbers the entry, hashes it over the previous entry's
  hash and moves the head, so `simpul audit verify` finds any entry changed,
  removed or added behind the trigger's back, and an anchored root finds a
  rewrite of the whole chain;
- the service's database role can only insert into it and read it (see
  ``roles.py``): disabling the triggers takes the owner, whose credentials no
  Simpul process holds. The chain trigger runs with the owner's rights
  (SECURITY DEFINER), so the service role needs none on the head or the id
  sequence, and cannot choose an entry's id or hash.
"""

import hashlib
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
from psycopg.sql import SQL, Composed, Identifier, Literal

from services.access_log import (
    AccessEntry,
    AccessNotRecorded,
    AccessQuery,
    AccessRecord,
    FailedAuthentication,
    Outcome,
)

MAX_VERSION = 2**63 - 1
# What an inserting role may write; id and entry_hash are the chain trigger's.
INSERTED_COLUMNS = (
    "accessed_at",
    "user_id",
    "role",
    "agency",
    "district",
    "case_id",
    "view",
    "purpose",
    "request_id",
    "outcome",
    "reason",
)
_COLUMNS = ", ".join(INSERTED_COLUMNS)
_INSERT_VALUES = "VALUES (" + ", ".join(f"%({column})s" for column in INSERTED_COLUMNS) + ")"


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
        "outcome": record.outcome.value,
        "reason": record.reason,
    }


def _failed_authentication_values(attempt: FailedAuthentication) -> dict[str, Any]:
    return dict.fromkeys(INSERTED_COLUMNS) | {
        "accessed_at": attempt.attempted_at,
        "view": attempt.view,
        "outcome": Outcome.UNAUTHENTICATED.value,
        "reason": attempt.reason,
    }


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class PostgresAccessLog:
    def __init__(self, datastore: PostgresDatastore, table_name: str, events_table_name: str):
        self.datastore = datastore
        self.table_name = table_name
        self.head_table_name = f"{table_name}_chain_head"
        self.search_terms_table_name = search_terms_table(table_name)
        self.sequence_name = f"{table_name}_id_seq"
        schema_name = datastore.schema
        names = {
            "schema": Identifier(schema_name),
            "table": Identifier(table_name),
            "head": Identifier(self.head_table_name),
            "guard": Identifier(f"{table_name}_append_only"),
            "no_rewrite": Identifier(f"{table_name}_no_rewrite"),
            "no_truncate": Identifier(f"{table_name}_no_truncate"),
            "field": Identifier(f"{table_name}_field"),
            "entry_hash": Identifier(f"{table_name}_entry_hash"),
            "chain": Identifier(f"{table_name}_chain"),
            "chain_trigger": Identifier(f"{table_name}_chained"),
            "schema_literal": Literal(schema_name),
            "table_literal": Literal(table_name),
            "sequence_literal": Literal(f'"{schema_name}"."{self.sequence_name}"'),
            "lock_key": Literal(_lock_key(f"{schema_name}.{table_name}")),
            "case_index": Identifier(f"{table_name}_case_idx"),
            "user_index": Identifier(f"{table_name}_user_idx"),
            "terms": Identifier(self.search_terms_table_name),
            "terms_no_rewrite": Identifier(f"{self.search_terms_table_name}_no_rewrite"),
            "terms_no_truncate": Identifier(f"{self.search_terms_table_name}_no_truncate"),
        }
        self.create_statements: list[Composed] = [
            SQL(statement).format(**names)
            for statement in (
                CREATE_TABLE,
                CREATE_HEAD,
                "CREATE INDEX IF NOT EXISTS {case_index} ON {schema}.{table} (case_id, id)",
                "CREATE INDEX IF NOT EXISTS {user_index} ON {schema}.{table} (user_id, id)",
                GUARD_FUNCTION,
                "CREATE OR REPLACE TRIGGER {no_rewrite} BEFORE UPDATE OR DELETE ON "
                "{schema}.{table} FOR EACH ROW EXECUTE FUNCTION {schema}.{guard}()",
                "CREATE OR REPLACE TRIGGER {no_truncate} BEFORE TRUNCATE ON "
                "{schema}.{table} FOR EACH STATEMENT EXECUTE FUNCTION {schema}.{guard}()",
                FIELD_FUNCTION,
                ENTRY_HASH_FUNCTION,
                MIGRATE_TO_CHAINED,
                CHAIN_FUNCTION,
                "CREATE OR REPLACE TRIGGER {chain_trigger} BEFORE INSERT ON "
                "{schema}.{table} FOR EACH ROW EXECUTE FUNCTION {schema}.{chain}()",
                CREATE_SEARCH_TERMS,
                "CREATE OR REPLACE TRIGGER {terms_no_rewrite} BEFORE UPDATE OR DELETE ON "
                "{schema}.{terms} FOR EACH ROW EXECUTE FUNCTION {schema}.{guard}()",
                "CREATE OR REPLACE TRIGGER {terms_no_truncate} BEFORE TRUNCATE ON "
                "{schema}.{terms} FOR EACH STATEMENT EXECUTE FUNCTION {schema}.{guard}()",
            )
        ]
        schema = names["schema"]
        table = names["table"]
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
        # The entry and its terms in one statement: both are written or neither.
        self.insert_search_statement = SQL(
            "WITH recorded AS (INSERT INTO {schema}.{table} ("
            + _COLUMNS
            + ") "
            + _INSERT_VALUES
            + " RETURNING id) "
            "INSERT INTO {schema}.{terms} (entry_id, sealed_terms) "
            "SELECT id, %(sealed_terms)s FROM recorded"
        ).format(schema=schema, table=table, terms=names["terms"])
        self.select_statement = SQL(
            "SELECT l.id, " + ", ".join(f"l.{column}" for column in INSERTED_COLUMNS) + ", "
            "t.sealed_terms FROM {schema}.{table} l "
            "LEFT JOIN {schema}.{terms} t ON t.entry_id = l.id "
            "WHERE l.user_id IS NOT NULL "
            "AND (%(case_id)s::uuid IS NULL OR l.case_id = %(case_id)s) "
            "AND (%(user_id)s::text IS NULL OR l.user_id = %(user_id)s) "
            "AND l.id > %(after)s ORDER BY l.id LIMIT %(limit)s"
        ).format(schema=schema, table=table, terms=names["terms"])

    def record_access(self, record: AccessRecord) -> None:
        self._insert(_values(record))

    def record_failed_authentication(self, attempt: FailedAuthentication) -> None:
        self._insert(_failed_authentication_values(attempt))

    def record_search(self, record: AccessRecord, sealed_terms: bytes) -> None:
        self._insert(_values(record) | {"sealed_terms": sealed_terms}, self.insert_search_statement)

    def _insert(self, values: dict[str, Any], statement: Composed | None = None) -> None:
        try:
            with self.datastore.get_connection() as conn:
                conn.execute(statement or self.insert_statement, values, prepare=True)
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
                    outcome=Outcome(row["outcome"]),
                    reason=row["reason"],
                ),
                sealed_search_terms=(
                    bytes(row["sealed_terms"]) if row["sealed_terms"] is not None else None
                ),
            )
            for row in rows
        ]


# Identity columns are empty only for a failed authentication. ``id`` has no default:
# the chain trigger numbers entries under the log's lock, so ids follow the chain.
CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS {schema}.{table} (
    id bigserial PRIMARY KEY,
    accessed_at timestamptz NOT NULL,
    user_id text,
    role text,
    agency text,
    district text,
    case_id uuid,
    view text NOT NULL,
    purpose text,
    request_id text,
    outcome text NOT NULL DEFAULT 'granted',
    reason text,
    entry_hash bytea)
"""


def search_terms_table(access_log_table: str) -> str:
    return f"{access_log_table}_search_terms"


# What a search looked for (services/case_search.py), sealed with the search key: the
# database never holds the terms in clear. Append-only, like the entries they belong to;
# the seal binds the terms to their entry's who, when and why, so terms moved to another
# entry do not open. One statement writes an entry and its terms; no foreign key ties the
# tables, so the log stays one table to guard, migrate and verify as before.
CREATE_SEARCH_TERMS = """
CREATE TABLE IF NOT EXISTS {schema}.{terms} (
    entry_id bigint PRIMARY KEY,
    sealed_terms bytea NOT NULL)
"""

CREATE_HEAD = """
CREATE TABLE IF NOT EXISTS {schema}.{head} (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    entry_id bigint NOT NULL,
    chain_hash bytea NOT NULL,
    entry_count bigint NOT NULL)
"""

GUARD_FUNCTION = """
CREATE OR REPLACE FUNCTION {schema}.{guard}() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the access log is append-only'; END $$
"""

# The byte construction must stay that of chain.access_entry_hash, which the verifier
# recomputes in Python; a known-answer test checks that the two agree.
FIELD_FUNCTION = """
CREATE OR REPLACE FUNCTION {schema}.{field}(value bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN value IS NULL THEN int4send(-1)
                ELSE int4send(octet_length(value)) || value END
$$
"""

ENTRY_HASH_FUNCTION = """
CREATE OR REPLACE FUNCTION {schema}.{entry_hash}(
    previous bytea, entry_id bigint, accessed_at timestamptz, user_id text, role text,
    agency text, district text, case_id uuid, view text, purpose text, request_id text,
    outcome text, reason text)
RETURNS bytea LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT sha256(
        convert_to('simpul/access/v1', 'UTF8') || previous || int8send(entry_id)
        || int8send((extract(epoch FROM accessed_at) * 1000000)::bigint)
        || {schema}.{field}(convert_to(user_id, 'UTF8'))
        || {schema}.{field}(convert_to(role, 'UTF8'))
        || {schema}.{field}(convert_to(agency, 'UTF8'))
        || {schema}.{field}(convert_to(district, 'UTF8'))
        || {schema}.{field}(uuid_send(case_id))
        || {schema}.{field}(convert_to(view, 'UTF8'))
        || {schema}.{field}(convert_to(purpose, 'UTF8'))
        || {schema}.{field}(convert_to(request_id, 'UTF8'))
        || {schema}.{field}(convert_to(outcome, 'UTF8'))
        || {schema}.{field}(convert_to(reason, 'UTF8')))
$$
"""

# A log written before entries were chained gets its columns, and its entries are
# chained once, in id order, by the owner at set-up. Never again: a log whose head
# is gone while chained entries remain has been tampered with, and verification
# must say so rather than a migration quietly re-chain it.
MIGRATE_TO_CHAINED = """
DO $migrate$
DECLARE
    entry record;
    previous bytea := decode(repeat('00', 32), 'hex');
    entries bigint := 0;
    last_id bigint;
BEGIN
    IF NOT EXISTS (SELECT FROM information_schema.columns WHERE table_schema = {schema_literal}
                   AND table_name = {table_literal} AND column_name = 'entry_hash') THEN
        ALTER TABLE {schema}.{table}
            ADD COLUMN outcome text NOT NULL DEFAULT 'granted',
            ADD COLUMN reason text,
            ADD COLUMN entry_hash bytea,
            ALTER COLUMN user_id DROP NOT NULL,
            ALTER COLUMN role DROP NOT NULL,
            ALTER COLUMN agency DROP NOT NULL,
            ALTER COLUMN district DROP NOT NULL;
    END IF;
    IF EXISTS (SELECT FROM information_schema.columns WHERE table_schema = {schema_literal}
               AND table_name = {table_literal} AND column_name = 'id'
               AND column_default IS NOT NULL) THEN
        ALTER TABLE {schema}.{table} ALTER COLUMN id DROP DEFAULT;
    END IF;
    IF EXISTS (SELECT FROM {schema}.{head}) THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT FROM {schema}.{table})
       OR EXISTS (SELECT FROM {schema}.{table} WHERE entry_hash IS NOT NULL) THEN
        RETURN;
    END IF;
    LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE;
    ALTER TABLE {schema}.{table} DISABLE TRIGGER {no_rewrite};
    FOR entry IN SELECT * FROM {schema}.{table} ORDER BY id LOOP
        previous := {schema}.{entry_hash}(
            previous, entry.id, entry.accessed_at, entry.user_id, entry.role, entry.agency,
            entry.district, entry.case_id, entry.view, entry.purpose, entry.request_id,
            entry.outcome, entry.reason);
        UPDATE {schema}.{table} SET entry_hash = previous WHERE id = entry.id;
        entries := entries + 1;
        last_id := entry.id;
    END LOOP;
    ALTER TABLE {schema}.{table} ENABLE TRIGGER {no_rewrite};
    IF entries > 0 THEN
        INSERT INTO {schema}.{head} (singleton, entry_id, chain_hash, entry_count)
        VALUES (true, last_id, previous, entries);
    END IF;
END
$migrate$
"""

CHAIN_FUNCTION = """
CREATE OR REPLACE FUNCTION {schema}.{chain}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    previous bytea;
    entries bigint;
BEGIN
    PERFORM pg_advisory_xact_lock({lock_key});
    NEW.id := nextval({sequence_literal}::regclass);
    NEW.outcome := coalesce(NEW.outcome, 'granted');
    SELECT h.chain_hash, h.entry_count INTO previous, entries FROM {schema}.{head} h;
    NEW.entry_hash := {schema}.{entry_hash}(
        coalesce(previous, decode(repeat('00', 32), 'hex')), NEW.id, NEW.accessed_at,
        NEW.user_id, NEW.role, NEW.agency, NEW.district, NEW.case_id, NEW.view, NEW.purpose,
        NEW.request_id, NEW.outcome, NEW.reason);
    INSERT INTO {schema}.{head} (singleton, entry_id, chain_hash, entry_count)
    VALUES (true, NEW.id, NEW.entry_hash, coalesce(entries, 0) + 1)
    ON CONFLICT (singleton) DO UPDATE SET entry_id = EXCLUDED.entry_id,
        chain_hash = EXCLUDED.chain_hash, entry_count = EXCLUDED.entry_count;
    RETURN NEW;
END
$$
"""
