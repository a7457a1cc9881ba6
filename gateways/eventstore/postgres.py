"""The PostgreSQL event store: the library's recorder, plus the hash chain and command log.

Writes keep the library's guarantee (inserters are serialised, so commit order
equals notification order and tailing readers never skip an event) and add, in
the same transaction:

- the idempotency record of the command that produced the events, whose
  primary key makes a concurrent retry of the same request fail as a whole;
- one hash row per event and the new chain head (see ``chain.py``).

It also keeps the access log of case reads (``access_log.py``) and the revoked
tokens (``revocations.py``), and checks a case's chain on request (``verify.py``).
"""

import hashlib
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.sql import SQL, Identifier

from gateways.eventstore.access_log import PostgresAccessLog
from gateways.eventstore.revocations import PostgresRevocations
from gateways.eventstore.verify import CaseVerification, ChainTables, verify_case
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
        # One server-side function appends a batch: it takes the inserters' lock,
        # notifies listeners, records the command, inserts the events and chains
        # them with the same SHA-256 construction as chain.py, in one round trip.
        # The lock is a transaction-scoped advisory lock: the library's guarantee
        # (commit order equals notification order, so tailing readers never skip)
        # held only while the server works, never across a client's scheduling.
        self.append_function = f"{events_table_name}_append"
        self.check_identifier_length(self.append_function)
        self.insert_lock_key = _lock_key(f"{self.datastore.schema}.{self.events_table_name}")
        self.sql_create_statements.append(
            SQL(APPEND_FUNCTION).format(
                schema=schema,
                function=Identifier(self.append_function),
                events=events,
                hashes=hashes,
                head=head,
                commands=commands,
            )
        )
        self.append_statement = SQL(
            "SELECT {schema}.{function}(%s::uuid[], %s::bigint[], %s::text[], %s::bytea[], "
            "%s, %s, %s, %s, %s, %s, %s, %s) AS notification_id"
        ).format(schema=schema, function=Identifier(self.append_function))
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
        prefix = events_table_name.removesuffix("_events")
        access_log_table_name = f"{prefix}_access_log"
        self.check_identifier_length(f"{access_log_table_name}_append_only")
        self.check_identifier_length(f"{access_log_table_name}_search_terms_no_truncate")
        self.access_log = PostgresAccessLog(datastore, access_log_table_name, events_table_name)
        self.sql_create_statements.extend(self.access_log.create_statements)
        revocations_table_name = f"{prefix}_token_revocations"
        self.check_identifier_length(f"{revocations_table_name}_in_force_idx")
        self.revocations = PostgresRevocations(datastore, revocations_table_name)
        self.sql_create_statements.extend(self.revocations.create_statements)

    def _create_table(self, curs: Any) -> None:
        # Processes starting together (API, relay, projectors) would otherwise race on
        # CREATE OR REPLACE FUNCTION ("tuple concurrently updated").
        curs.execute(SQL("SELECT pg_advisory_xact_lock(%s)"), (self.insert_lock_key,))
        super()._create_table(curs)

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        command: CommandRecord | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        """Append events, their hashes, the new chain head and the command, atomically."""
        if not stored_events:
            return []
        command_row = _command_row(command) if command is not None else (None,) * 6
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                self.append_statement,
                (
                    *_event_columns(stored_events),
                    *command_row,
                    self.insert_lock_key,
                    self.channel_name,
                ),
                prepare=True,
            )
            return [row["notification_id"] for row in curs.fetchall()]

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

    # ---- Chain checks ----------------------------------------------------------------

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


# The hash construction must stay byte-for-byte that of chain.event_hash and
# chain.chain_hash, which the verifier recomputes in Python; a known-answer test
# checks the two agree. A missing previous hash (only possible after tampering)
# chains from genesis, as the Python functions do, and verification reports it.
APPEND_FUNCTION = """
CREATE OR REPLACE FUNCTION {schema}.{function}(
    ids uuid[], versions bigint[], topics text[], states bytea[],
    command_key text, command_request text, command_case uuid, command_version bigint,
    command_register text, command_recorded text[], lock_key bigint, channel text)
RETURNS SETOF bigint LANGUAGE plpgsql AS $body$
DECLARE
    genesis constant bytea := decode(repeat('00', 32), 'hex');
    last_chain bytea;
    event_count bigint;
    previous bytea;
    this_hash bytea;
    topic_bytes bytea;
    new_id bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    PERFORM pg_notify(channel, '');
    IF command_key IS NOT NULL THEN
        INSERT INTO {schema}.{commands}
            (key_hash, request_hash, case_id, version, register_number, recorded)
        VALUES (command_key, command_request, command_case, command_version,
                command_register, command_recorded);
    END IF;
    SELECT h.chain_hash, h.event_count INTO last_chain, event_count FROM {schema}.{head} h;
    last_chain := coalesce(last_chain, genesis);
    event_count := coalesce(event_count, 0);
    FOR i IN 1 .. coalesce(array_length(ids, 1), 0) LOOP
        INSERT INTO {schema}.{events} (originator_id, originator_version, topic, state)
        VALUES (ids[i], versions[i], topics[i], states[i])
        RETURNING notification_id INTO new_id;
        previous := NULL;
        IF versions[i] > 1 THEN
            SELECT x.event_hash INTO previous FROM {schema}.{hashes} x
            WHERE x.originator_id = ids[i] AND x.originator_version = versions[i] - 1;
        END IF;
        topic_bytes := convert_to(topics[i], 'UTF8');
        this_hash := sha256(
            convert_to('simpul/event/v1', 'UTF8') || coalesce(previous, genesis)
            || uuid_send(ids[i]) || int8send(versions[i])
            || int4send(octet_length(topic_bytes)) || topic_bytes || states[i]);
        last_chain := sha256(
            convert_to('simpul/chain/v1', 'UTF8') || last_chain || int8send(new_id) || this_hash);
        INSERT INTO {schema}.{hashes}
            (notification_id, originator_id, originator_version, event_hash, chain_hash)
        VALUES (new_id, ids[i], versions[i], this_hash, last_chain);
        event_count := event_count + 1;
        RETURN NEXT new_id;
    END LOOP;
    INSERT INTO {schema}.{head} (singleton, notification_id, chain_hash, event_count)
    VALUES (true, new_id, last_chain, event_count)
    ON CONFLICT (singleton) DO UPDATE SET notification_id = EXCLUDED.notification_id,
        chain_hash = EXCLUDED.chain_hash, event_count = EXCLUDED.event_count;
END
$body$
"""
