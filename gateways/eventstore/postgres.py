"""The PostgreSQL event store: the library's recorder, plus the hash chain and command log.

Writes keep the library's guarantee (an EXCLUSIVE table lock makes commit order
equal notification order, so tailing readers never skip an event) and add, in
the same transaction:

- the idempotency record of the command that produced the events, whose
  primary key makes a concurrent retry of the same request fail as a whole;
- one hash row per event and the new chain head (see ``chain.py``).

It also keeps the access log of case reads (``access_log.py``) and checks a
case's chain on request (``verify.py``).
"""

import hashlib
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from gateways.eventstore.access_log import PostgresAccessLog
from gateways.eventstore.chain import GENESIS, chain_hash, event_hash
from gateways.eventstore.verify import CaseVerification, ChainTables, verify_case
from services.access_log import AccessEntry, AccessRecord
from services.cases import CommandRecord


class ChainedPostgresRecorder(PostgresApplicationRecorder):
    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.hashes_table_name = f"{events_table_name}_hashes"
        self.chain_head_table_name = f"{events_table_name}_chain_head"
        self.commands_table_name = f"{events_table_name}_commands"
        for name in (
            self.hashes_table_name,
            self.chain_head_table_name,
            self.commands_table_name,
        ):
            self.check_identifier_length(name)
        schema = Identifier(self.datastore.schema)
        hashes = Identifier(self.hashes_table_name)
        head = Identifier(self.chain_head_table_name)
        commands = Identifier(self.commands_table_name)
        events = Identifier(self.events_table_name)
        self.sql_create_statements.extend(
            [
                SQL(
                    "CREATE TABLE IF NOT EXISTS {schema}.{hashes} ("
                    "notification_id bigint PRIMARY KEY, "
                    "originator_id uuid NOT NULL, "
                    "originator_version bigint NOT NULL, "
                    "event_hash bytea NOT NULL, "
                    "chain_hash bytea NOT NULL, "
                    "UNIQUE (originator_id, originator_version))"
                ).format(schema=schema, hashes=hashes),
                SQL(
                    "CREATE TABLE IF NOT EXISTS {schema}.{head} ("
                    "singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton), "
                    "notification_id bigint NOT NULL, "
                    "chain_hash bytea NOT NULL, "
                    "event_count bigint NOT NULL)"
                ).format(schema=schema, head=head),
                SQL(
                    "CREATE TABLE IF NOT EXISTS {schema}.{commands} ("
                    "key_hash text PRIMARY KEY, "
                    "request_hash text NOT NULL, "
                    "case_id uuid NOT NULL, "
                    "version bigint NOT NULL, "
                    "register_number text NOT NULL, "
                    "recorded text[] NOT NULL, "
                    "recorded_at timestamptz NOT NULL DEFAULT now())"
                ).format(schema=schema, commands=commands),
            ]
        )
        # Inserters serialise on a transaction-scoped advisory lock rather than the
        # library's table lock: the same guarantee (commit order equals notification
        # order, so tailing readers never skip) in a statement that also notifies.
        self.serialise_statement = SQL("SELECT pg_advisory_xact_lock(%s), pg_notify(%s, '')")
        self.insert_lock_key = _lock_key(f"{self.datastore.schema}.{self.events_table_name}")
        self.insert_returning_statement = SQL(
            "INSERT INTO {schema}.{events} "
            "(originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::bytea[]) "
            "RETURNING notification_id, originator_id, originator_version"
        ).format(schema=schema, events=events)
        self.select_chain_ends_statement = SQL(
            "SELECT NULL::uuid AS originator_id, chain_hash AS hash, notification_id, event_count "
            "FROM {schema}.{head} "
            "UNION ALL "
            "SELECT originator_id, event_hash, NULL, NULL FROM {schema}.{hashes} "
            "WHERE (originator_id, originator_version) IN "
            "(SELECT * FROM unnest(%s::uuid[], %s::bigint[]))"
        ).format(schema=schema, head=head, hashes=hashes)
        self.record_hashes_statement = SQL(
            "WITH recorded AS (INSERT INTO {schema}.{hashes} "
            "(notification_id, originator_id, originator_version, event_hash, chain_hash) "
            "SELECT * FROM unnest(%s::bigint[], %s::uuid[], %s::bigint[], %s::bytea[], %s::bytea[])) "
            "INSERT INTO {schema}.{head} (singleton, notification_id, chain_hash, event_count) "
            "VALUES (true, %s, %s, %s) ON CONFLICT (singleton) DO UPDATE SET "
            "notification_id = EXCLUDED.notification_id, chain_hash = EXCLUDED.chain_hash, "
            "event_count = EXCLUDED.event_count"
        ).format(schema=schema, hashes=hashes, head=head)
        self.insert_command_statement = SQL(
            "INSERT INTO {schema}.{commands} "
            "(key_hash, request_hash, case_id, version, register_number, recorded) "
            "VALUES (%s, %s, %s, %s, %s, %s)"
        ).format(schema=schema, commands=commands)
        self.select_command_statement = SQL(
            "SELECT key_hash, request_hash, case_id, version, register_number, recorded "
            "FROM {schema}.{commands} WHERE key_hash = %s"
        ).format(schema=schema, commands=commands)
        self.chain_tables = ChainTables(
            events=self.events_table_name,
            hashes=self.hashes_table_name,
            head=self.chain_head_table_name,
            schema=self.datastore.schema,
        )
        access_log_table_name = f"{events_table_name.removesuffix('_events')}_access_log"
        self.check_identifier_length(f"{access_log_table_name}_append_only")
        self.access_log = PostgresAccessLog(datastore, access_log_table_name, events_table_name)
        self.sql_create_statements.extend(self.access_log.create_statements)

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        command: CommandRecord | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        """Append events, their hashes, the new chain head and the command, atomically.

        Statements are pipelined: everything up to the insert goes in one round
        trip, the hashes (computed here from what came back) and the commit in a
        second.
        """
        if not stored_events:
            return []
        wanted = self._previous_positions(stored_events)
        error: Exception | None = None
        inserted: list[tuple[int, UUID, int]] = []
        with self.datastore.get_connection() as conn:
            with conn.pipeline() as pipeline, conn.transaction():
                with conn.cursor() as curs:
                    curs.execute(
                        self.serialise_statement,
                        (self.insert_lock_key, self.channel_name),
                        prepare=True,
                    )
                    if command is not None:
                        curs.execute(
                            self.insert_command_statement, _command_row(command), prepare=True
                        )
                ends_cursor = conn.cursor()
                ends_cursor.execute(
                    self.select_chain_ends_statement,
                    ([oid for oid, _ in wanted], [version for _, version in wanted]),
                    prepare=True,
                )
                insert_cursor = conn.cursor()
                insert_cursor.execute(
                    self.insert_returning_statement, _event_columns(stored_events), prepare=True
                )
                try:
                    # Sync here, so a duplicate version or idempotency key raises now,
                    # as an IntegrityError, and nothing after it runs.
                    pipeline.sync()
                    inserted = sorted(
                        (row["notification_id"], row["originator_id"], row["originator_version"])
                        for row in insert_cursor.fetchall()
                    )
                    with conn.cursor() as curs:
                        self._chain(curs, stored_events, inserted, ends_cursor.fetchall())
                except Exception as caught:  # noqa: BLE001 - re-raised once the pipeline is closed
                    error = caught
            if error is not None:
                raise error
        return [notification_id for notification_id, _, _ in inserted]

    @staticmethod
    def _previous_positions(stored_events: Sequence[StoredEvent]) -> list[tuple[UUID, int]]:
        """For each case in the batch, the version just before its first new event."""
        first_versions: dict[UUID, int] = {}
        for event in stored_events:
            originator_id = UUID(str(event.originator_id))
            version = event.originator_version
            first_versions[originator_id] = min(version, first_versions.get(originator_id, version))
        return [(oid, version - 1) for oid, version in first_versions.items() if version > 1]

    def _chain(
        self,
        curs: Cursor[DictRow],
        stored_events: Sequence[StoredEvent],
        inserted: list[tuple[int, UUID, int]],
        chain_ends: list[DictRow],
    ) -> None:
        by_position = {
            (UUID(str(e.originator_id)), e.originator_version): e for e in stored_events
        }
        last_chain, count = GENESIS, 0
        previous: dict[UUID, bytes] = {}
        for row in chain_ends:
            if row["originator_id"] is None:
                last_chain, count = bytes(row["hash"]), row["event_count"]
            else:
                previous[row["originator_id"]] = bytes(row["hash"])
        columns: tuple[list[Any], ...] = ([], [], [], [], [])
        for notification_id, originator_id, version in inserted:
            stored = by_position[(originator_id, version)]
            this_hash = event_hash(
                previous.get(originator_id, GENESIS),
                originator_id,
                version,
                stored.topic,
                stored.state,
            )
            previous[originator_id] = this_hash
            last_chain = chain_hash(last_chain, notification_id, this_hash)
            for column, value in zip(
                columns,
                (notification_id, originator_id, version, this_hash, last_chain),
                strict=True,
            ):
                column.append(value)
        curs.execute(
            self.record_hashes_statement,
            (*columns, inserted[-1][0], last_chain, count + len(inserted)),
            prepare=True,
        )

    def find_command(self, key_hash: str) -> CommandRecord | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_command_statement, (key_hash,), prepare=True)
            row = curs.fetchone()
        if row is None:
            return None
        return CommandRecord(
            key_hash=row["key_hash"],
            request_hash=row["request_hash"],
            case_id=row["case_id"],
            version=row["version"],
            register_number=row["register_number"],
            recorded=tuple(row["recorded"]),
        )

    # ---- The access log and chain checks (services.access_log.AccessLog) -----------------

    def record_access(self, record: AccessRecord) -> None:
        self.access_log.record_access(record)

    def select_events_recording_access(
        self, originator_id: UUID, record: AccessRecord, *, lte: int | None = None
    ) -> Sequence[StoredEvent]:
        return self.access_log.select_events_recording_access(originator_id, record, lte=lte)

    def select_access(
        self,
        *,
        case_id: UUID | None = None,
        user_id: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[AccessEntry]:
        return self.access_log.select_access(
            case_id=case_id, user_id=user_id, after=after, limit=limit
        )

    def verify_case(self, case_id: UUID) -> CaseVerification:
        with self.datastore.get_connection() as conn:
            return verify_case(conn, case_id, self.chain_tables)


def _command_row(command: CommandRecord) -> tuple[Any, ...]:
    return (
        command.key_hash,
        command.request_hash,
        command.case_id,
        command.version,
        command.register_number,
        list(command.recorded),
    )


def _event_columns(stored_events: Sequence[StoredEvent]) -> tuple[list[Any], ...]:
    return (
        [event.originator_id for event in stored_events],
        [event.originator_version for event in stored_events],
        [event.topic for event in stored_events],
        [event.state for event in stored_events],
    )


def _lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a table name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
