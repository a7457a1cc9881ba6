"""Each agency's read model in PostgreSQL, in its own schema (``agency_police``, ...).

The agency projector writes here (a batch of messages, their ids and the next
Kafka offsets, in one transaction); the API reads here. Every write
transaction first takes the agency's advisory lock, so a rebuild can swap in a
freshly built schema between two batches.

Tables per schema: ``cases`` (what the agency knows of each case and whether
its part is open), ``referrals`` (its inbox), ``applied_messages`` (ids of
applied CloudEvents: redelivery is skipped), ``partition_offsets`` (where to
resume each partition: Kafka's committed offsets are only a hint), ``topics``
(the id and partition count of the topic those offsets are in: offsets of a
recreated topic mean nothing) and ``dead_letters`` (messages it could not
apply, also sent to ``<topic>.dlq``).

Retention (services.sharing.AgencyRetention): once the district's retention
period has passed since the agency's part in a case closed, the case's
personal facts and its referrals' free text are removed. ``purge`` removes
them from the tables (the agency projector runs it every minute, a rebuild
before it is swapped in), and every read removes them from what it serves
whether the purge has run yet or not, so an inbox never shows them late.
"""

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.sql import SQL, Composable, Composed, Identifier
from psycopg.types.json import Jsonb

from projections.agency_referrals import (
    AgencyReferralsProjection,
    CaseSnapshot,
    NewReferral,
    ReferralsView,
    SharedBeneficiary,
    SharedDocument,
)
from services.sharing import REFERRAL_TEXT_FIELDS, AgencyRetention, bundled_retention

ACTIVE_STATUSES = ("pending", "accepted", "in_progress")
COMPARED_TABLES = {
    "cases": "case_id",
    "referrals": "referral_id",
    "applied_messages": "message_id",
}

# The retention columns come last, added to old schemas and new alike, so that a schema
# created before them and a rebuilt one have their columns in the same order (the
# comparisons and the rebuild's copies go by position).
DDL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.cases (
    case_id uuid PRIMARY KEY,
    district text NOT NULL,
    register_number text NOT NULL,
    facts jsonb NOT NULL,
    status text NOT NULL,
    closing_reason text,
    opened_at timestamptz NOT NULL,
    closed_at timestamptz,
    updated_at timestamptz NOT NULL,
    last_sequence bigint NOT NULL,
    message_count integer NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS {schema}.referrals (
    referral_id text PRIMARY KEY,
    case_id uuid NOT NULL,
    district text NOT NULL,
    service_type text NOT NULL,
    emergency boolean NOT NULL,
    status text NOT NULL,
    due_at timestamptz NOT NULL,
    referred_at timestamptz NOT NULL,
    status_changed_at timestamptz NOT NULL,
    notes text NOT NULL,
    referral_record_ref text NOT NULL,
    details jsonb NOT NULL DEFAULT '{{}}'
);
CREATE INDEX IF NOT EXISTS referrals_by_status ON {schema}.referrals (district, status, due_at);
CREATE TABLE IF NOT EXISTS {schema}.applied_messages (
    message_id text PRIMARY KEY,
    sequence bigint NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE IF NOT EXISTS {schema}.partition_offsets (
    topic text NOT NULL,
    partition integer NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS {schema}.dead_letters (
    topic text NOT NULL,
    partition integer NOT NULL,
    "offset" bigint NOT NULL,
    error text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (topic, partition, "offset")
);
ALTER TABLE {schema}.cases
    ADD COLUMN IF NOT EXISTS personal_data_removed boolean NOT NULL DEFAULT false;
ALTER TABLE {schema}.referrals ADD COLUMN IF NOT EXISTS part_closed_at timestamptz;
ALTER TABLE {schema}.referrals
    ADD COLUMN IF NOT EXISTS personal_data_removed boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS cases_keeping_personal_data ON {schema}.cases (closed_at)
    WHERE status <> 'open' AND NOT personal_data_removed;
CREATE INDEX IF NOT EXISTS referrals_keeping_personal_data ON {schema}.referrals (part_closed_at)
    WHERE part_closed_at IS NOT NULL AND NOT personal_data_removed;
ALTER TABLE {schema}.cases ADD COLUMN IF NOT EXISTS handover_answer jsonb;
ALTER TABLE {schema}.cases ADD COLUMN IF NOT EXISTS documents jsonb NOT NULL DEFAULT '[]';
ALTER TABLE {schema}.cases ADD COLUMN IF NOT EXISTS beneficiaries jsonb NOT NULL DEFAULT '{{}}';
CREATE TABLE IF NOT EXISTS {schema}.topics (
    topic text PRIMARY KEY,
    topic_id text,
    partitions integer NOT NULL
);
"""


def schema_name(agency: str, suffix: str = "") -> str:
    return f"agency_{agency}{suffix}"


@dataclass(frozen=True)
class Applied:
    """What one transaction did: messages applied, repeats skipped, dead letters."""

    applied: int = 0
    duplicates: int = 0
    dead_letters: int = 0


@dataclass(frozen=True)
class Purged:
    """What one purge removed personal data from."""

    cases: int = 0
    referrals: int = 0


class PostgresReferralsView(ReferralsView):
    """The projection's writes, as SQL on one connection inside the caller's transaction."""

    def __init__(self, conn: psycopg.Connection[Any], schema: str) -> None:
        self.conn = conn
        self.schema = Identifier(schema)
        self._composed: dict[str, bytes] = {}

    def _run(self, statement: str, params: dict[str, Any]) -> None:
        # Composed once per statement: every message runs the same few statements.
        query = self._composed.get(statement)
        if query is None:
            query = SQL(statement).format(schema=self.schema).as_bytes(self.conn)
            self._composed[statement] = query
        self.conn.execute(query, params, prepare=True)

    def put_case(self, case: CaseSnapshot) -> None:
        self._run(
            "INSERT INTO {schema}.cases AS c (case_id, district, register_number, facts, status, "
            "opened_at, updated_at, last_sequence) VALUES (%(case_id)s, %(district)s, "
            "%(register_number)s, %(facts)s, %(status)s, %(at)s, %(at)s, %(sequence)s) "
            "ON CONFLICT (case_id) DO UPDATE SET facts = EXCLUDED.facts, status = EXCLUDED.status, "
            "opened_at = CASE WHEN c.status = 'open' THEN c.opened_at ELSE EXCLUDED.opened_at END, "
            "closing_reason = NULL, closed_at = NULL, updated_at = EXCLUDED.updated_at, "
            "last_sequence = EXCLUDED.last_sequence, personal_data_removed = false",
            {**asdict(case), "facts": Jsonb(case.facts)},
        )

    def close_case(self, case_id: str, *, status: str, reason: str, at: str, sequence: int) -> None:
        self._run(
            "UPDATE {schema}.cases SET status = %(status)s, closing_reason = %(reason)s, "
            "closed_at = %(at)s, updated_at = %(at)s, last_sequence = %(sequence)s "
            "WHERE case_id = %(case_id)s",
            {
                "case_id": case_id,
                "status": status,
                "reason": reason,
                "at": at,
                "sequence": sequence,
            },
        )
        self._run(
            "UPDATE {schema}.referrals SET part_closed_at = %(at)s "
            "WHERE case_id = %(case_id)s AND part_closed_at IS NULL",
            {"case_id": case_id, "at": at},
        )

    def put_referral(self, referral: NewReferral) -> None:
        self._run(
            "INSERT INTO {schema}.referrals (referral_id, case_id, district, service_type, "
            "emergency, status, due_at, referred_at, status_changed_at, notes, "
            "referral_record_ref) VALUES (%(referral_id)s, %(case_id)s, %(district)s, "
            "%(service_type)s, %(emergency)s, 'pending', %(due_at)s, %(referred_at)s, "
            "%(referred_at)s, %(notes)s, %(referral_record_ref)s)",
            asdict(referral),
        )

    def set_referral_status(
        self, referral_id: str, *, status: str, at: str, details: dict[str, Any]
    ) -> None:
        self._run(
            "UPDATE {schema}.referrals SET "
            "status_changed_at = CASE WHEN status = %(status)s THEN status_changed_at "
            "ELSE %(at)s END, status = %(status)s, details = details || %(details)s "
            "WHERE referral_id = %(referral_id)s",
            {"referral_id": referral_id, "status": status, "at": at, "details": Jsonb(details)},
        )

    def set_handover_answer(self, case_id: str, answer: dict[str, str] | None) -> None:
        self._run(
            "UPDATE {schema}.cases SET handover_answer = %(answer)s, "
            "updated_at = COALESCE(%(at)s, updated_at) WHERE case_id = %(case_id)s",
            {
                "case_id": case_id,
                "answer": Jsonb(answer) if answer is not None else None,
                "at": answer["at"] if answer is not None else None,
            },
        )

    def add_document(self, case_id: str, document: SharedDocument) -> None:
        self._run(
            "UPDATE {schema}.cases SET documents = documents || %(listed)s "
            "WHERE case_id = %(case_id)s AND NOT documents @> %(listed)s",
            {"case_id": case_id, "listed": Jsonb([asdict(document)])},
        )

    def put_beneficiary(self, case_id: str, beneficiary: SharedBeneficiary) -> None:
        held = asdict(beneficiary)
        del held["beneficiary_id"]
        self._run(
            "UPDATE {schema}.cases SET beneficiaries = beneficiaries || "
            "jsonb_build_object(%(beneficiary_id)s::text, %(held)s::jsonb) "
            "WHERE case_id = %(case_id)s",
            {
                "case_id": case_id,
                "beneficiary_id": beneficiary.beneficiary_id,
                "held": Jsonb(held),
            },
        )

    def count_message(self, case_id: str) -> None:
        self._run(
            "UPDATE {schema}.cases SET message_count = message_count + 1 "
            "WHERE case_id = %(case_id)s",
            {"case_id": case_id},
        )


@dataclass(frozen=True)
class ConsumedMessage:
    """A record from the agency topic: where it was, and its parsed CloudEvent (or why not)."""

    topic: str
    partition: int
    offset: int
    cloud_event: dict[str, Any] | None
    error: str | None = None


class AgencyStore:
    """One agency's schema: applying messages, resuming offsets, reading the inbox."""

    def __init__(
        self,
        database_url: str,
        agency: str,
        *,
        schema: str | None = None,
        connector: Callable[[], AbstractContextManager[psycopg.Connection[Any]]] | None = None,
        retention: AgencyRetention | None = None,
    ) -> None:
        self.database_url = database_url
        self.agency = agency
        self.schema = schema or schema_name(agency)
        self.projection = AgencyReferralsProjection()
        self._connector = connector
        self.retention = retention or bundled_retention()

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        """A connection of its own, or one from the connector (the API shares its pool)."""
        if self._connector is not None:
            with self._connector() as conn:
                yield conn
            return
        with psycopg.connect(self.database_url, row_factory=dict_row) as conn:
            yield conn

    def _sql(self, statement: str, schema: str | None = None) -> Composed:
        return SQL(statement).format(schema=Identifier(schema or self.schema))

    def create(self, conn: psycopg.Connection[Any], schema: str | None = None) -> None:
        for statement in DDL.split(";"):
            if statement.strip():
                conn.execute(self._sql(statement, schema))

    def ensure_schema(self) -> None:
        with self.connect() as conn, conn.transaction():
            self._lock(conn)
            self.create(conn)

    def _lock(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"simpul:{self.schema}",))

    def stored_offsets(self, topic: str) -> dict[int, int]:
        with self.connect() as conn:
            rows = conn.execute(
                self._sql(
                    "SELECT partition, next_offset FROM {schema}.partition_offsets WHERE topic = %s"
                ),
                (topic,),
            ).fetchall()
        return {row["partition"]: row["next_offset"] for row in rows}

    def topic_identity(self, topic: str) -> tuple[str | None, int] | None:
        """The id and partition count of ``topic`` when its offsets were stored."""
        with self.connect() as conn:
            row = conn.execute(
                self._sql("SELECT topic_id, partitions FROM {schema}.topics WHERE topic = %s"),
                (topic,),
            ).fetchone()
        return None if row is None else (row["topic_id"], row["partitions"])

    def restart_topic(
        self, topic: str, topic_id: str | None, partitions: int, *, forget: Sequence[int] | None
    ) -> None:
        """Record the topic's identity, forgetting the offsets of the ``forget`` partitions
        (None: all) so that they are read again from the beginning (what was applied stays,
        and is skipped by id)."""
        with self.connect() as conn, conn.transaction():
            self._lock(conn)
            if forget is None:
                conn.execute(
                    self._sql("DELETE FROM {schema}.partition_offsets WHERE topic = %s"), (topic,)
                )
            elif forget:
                conn.execute(
                    self._sql(
                        "DELETE FROM {schema}.partition_offsets "
                        "WHERE topic = %s AND partition = ANY(%s)"
                    ),
                    (topic, list(forget)),
                )
            conn.execute(
                self._sql(
                    "INSERT INTO {schema}.topics (topic, topic_id, partitions) VALUES (%s, %s, %s) "
                    "ON CONFLICT (topic) DO UPDATE SET topic_id = EXCLUDED.topic_id, "
                    "partitions = EXCLUDED.partitions"
                ),
                (topic, topic_id, partitions),
            )

    def apply(self, conn: psycopg.Connection[Any], messages: Iterable[ConsumedMessage]) -> Applied:
        """Apply messages in order, skipping ids already applied, in the caller's transaction.

        Which ids were applied before is asked once per batch; the writes that follow
        need no answers, so they are pipelined instead of waiting on each one.
        """
        self._lock(conn)
        batch = list(messages)
        ids = [m.cloud_event["id"] for m in batch if m.cloud_event is not None]
        seen = (
            {
                row["message_id"]
                for row in conn.execute(
                    self._sql(
                        "SELECT message_id FROM {schema}.applied_messages "
                        "WHERE message_id = ANY(%s)"
                    ),
                    (ids,),
                ).fetchall()
            }
            if ids
            else set()
        )
        view = PostgresReferralsView(conn, self.schema)
        applied: list[dict[str, Any]] = []
        duplicates = dead = 0
        next_offsets: dict[tuple[str, int], int] = {}
        with conn.pipeline():
            for message in batch:
                next_offsets[(message.topic, message.partition)] = message.offset + 1
                if message.cloud_event is None:
                    conn.execute(
                        self._sql(
                            'INSERT INTO {schema}.dead_letters (topic, partition, "offset", '
                            "error) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING"
                        ),
                        (
                            message.topic,
                            message.partition,
                            message.offset,
                            message.error or "invalid",
                        ),
                    )
                    dead += 1
                    continue
                event = message.cloud_event
                if event["id"] in seen:
                    duplicates += 1
                    continue
                seen.add(event["id"])
                self.projection.process(event, view)
                applied.append(event)
            if applied:
                conn.execute(
                    self._sql(
                        "INSERT INTO {schema}.applied_messages (message_id, sequence) "
                        "SELECT * FROM unnest(%s::text[], %s::bigint[])"
                    ),
                    ([e["id"] for e in applied], [e["simpulsequence"] for e in applied]),
                )
            for (topic, partition), offset in next_offsets.items():
                conn.execute(
                    self._sql(
                        "INSERT INTO {schema}.partition_offsets (topic, partition, "
                        "next_offset) VALUES (%s, %s, %s) ON CONFLICT (topic, partition) "
                        "DO UPDATE SET next_offset = GREATEST("
                        "{schema}.partition_offsets.next_offset, EXCLUDED.next_offset)"
                    ),
                    (topic, partition, offset),
                )
        return Applied(len(applied), duplicates, dead)

    # ---- Retention: personal data removed once the agency's part closed long enough ago ----

    def purge(self, now: datetime) -> Purged:
        """Remove the personal data whose retention period has passed by ``now``."""
        with self.connect() as conn, conn.transaction():
            self._lock(conn)
            return self.purge_in(conn, now)

    def purge_in(self, conn: psycopg.Connection[Any], now: datetime) -> Purged:
        """``purge`` in the caller's transaction (which holds the agency's lock)."""
        retention = self.retention
        shortest = min([retention.default_days, *retention.days_by_district.values()])
        # Nothing closed after this can be due in any district: the indexes do the rest.
        latest = now - timedelta(days=shortest)
        cases = [
            (Jsonb(retention.impersonal_facts(row["facts"])), row["case_id"])
            for row in conn.execute(
                self._sql(
                    "SELECT case_id, district, facts, closed_at FROM {schema}.cases "
                    "WHERE status <> 'open' AND NOT personal_data_removed AND closed_at <= %s"
                ),
                (latest,),
            ).fetchall()
            if retention.is_due(row["district"], row["closed_at"], now)
        ]
        referrals = [
            (Jsonb(retention.impersonal_details(row["details"])), row["referral_id"])
            for row in conn.execute(
                self._sql(
                    "SELECT referral_id, district, details, part_closed_at FROM "
                    "{schema}.referrals WHERE part_closed_at IS NOT NULL "
                    "AND NOT personal_data_removed AND part_closed_at <= %s"
                ),
                (latest,),
            ).fetchall()
            if retention.is_due(row["district"], row["part_closed_at"], now)
        ]
        with conn.cursor() as cursor:
            if cases:
                cursor.executemany(
                    self._sql(
                        "UPDATE {schema}.cases SET facts = %s, beneficiaries = '{{}}', "
                        "personal_data_removed = true WHERE case_id = %s"
                    ),
                    cases,
                )
            if referrals:
                blanked = SQL(", ").join(
                    SQL("{} = ''").format(Identifier(name)) for name in REFERRAL_TEXT_FIELDS
                )
                cursor.executemany(
                    SQL(
                        "UPDATE {schema}.referrals SET {blanked}, details = %s, "
                        "personal_data_removed = true WHERE referral_id = %s"
                    ).format(schema=Identifier(self.schema), blanked=blanked),
                    referrals,
                )
        return Purged(len(cases), len(referrals))

    def _served(self, row: dict[str, Any], now: datetime) -> dict[str, Any]:
        """A row of the inbox as it may be served at ``now``: due personal data removed."""
        retention = self.retention
        district = row["district"]
        case_closed_at = row.pop("case_closed_at")
        if row["case_status"] != "open" and retention.is_due(district, case_closed_at, now):
            row["facts"] = retention.impersonal_facts(row["facts"])
            row["beneficiaries"] = {}
        part_closed_at = row["part_closed_at"]
        if retention.is_due(district, part_closed_at, now):
            for name in REFERRAL_TEXT_FIELDS:
                row[name] = ""
            row["details"] = retention.impersonal_details(row["details"])
        row["personal_data_until"] = (
            retention.personal_data_until(district, part_closed_at)
            if part_closed_at is not None
            else None
        )
        return row

    # ---- Rebuild: a fresh schema from derived messages, swapped in between two batches ----

    def start_rebuild(self, *, suffix: str = "__rebuild") -> "AgencyRebuild":
        """A fresh schema beside the live one, to fold messages derived from the store into."""
        return AgencyRebuild(self, self.schema + suffix)

    def rebuild(
        self,
        cloud_events: Iterable[dict[str, Any]],
        *,
        suffix: str = "__rebuild",
        swap: bool = True,
        now: datetime | None = None,
    ) -> str:
        """Fold ``cloud_events`` into a new schema, purged to ``now``; with ``swap``, replace
        the live one with it."""
        rebuild = self.start_rebuild(suffix=suffix)
        rebuild.add(list(cloud_events))
        return rebuild.finish(swap=swap, now=now)

    def differences(self, other_schema: str, *, now: datetime | None = None) -> list[str]:
        """How this schema's read model differs from another's (empty: the same state).

        Both are first purged to ``now`` (default: the current time), so a purge that
        one of them has not run yet is no difference.
        """
        now = now or datetime.now(UTC)
        other = AgencyStore(
            self.database_url,
            self.agency,
            schema=other_schema,
            connector=self._connector,
            retention=self.retention,
        )
        self.purge(now)
        other.purge(now)
        problems = []
        with self.connect() as conn:
            for table, key in COMPARED_TABLES.items():
                columns = "message_id" if table == "applied_messages" else "*"
                for left, right in ((self.schema, other_schema), (other_schema, self.schema)):
                    rows = conn.execute(
                        SQL(
                            "SELECT {key} FROM (SELECT {cols} FROM {l}.{t} EXCEPT "
                            "SELECT {cols} FROM {r}.{t}) d ORDER BY 1 LIMIT 5"
                        ).format(
                            key=Identifier(key),
                            cols=SQL(columns),
                            l=Identifier(left),
                            r=Identifier(right),
                            t=Identifier(table),
                        )
                    ).fetchall()
                    for row in rows:
                        problems.append(f"{table} {row[key]}: in {left} differs from {right}")
        return problems

    def drop(self, schema: str) -> None:
        with self.connect() as conn:
            conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(schema)))

    # ---- Reading the inbox (the API) ----------------------------------------------------------

    def referrals(
        self,
        *,
        district: str | None,
        status: str | None = None,
        overdue: bool | None = None,
        now: datetime,
        referral_id: str | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        conditions: list[Composable] = [SQL("TRUE")]
        params: dict[str, Any] = {"now": now, "active": list(ACTIVE_STATUSES), "limit": limit}
        if district is not None:
            conditions.append(SQL("r.district = %(district)s"))
            params["district"] = district
        if status is not None:
            conditions.append(SQL("r.status = %(status)s"))
            params["status"] = status
        if overdue is not None:
            late = SQL("(r.status = ANY(%(active)s) AND r.due_at < %(now)s)")
            conditions.append(late if overdue else SQL("NOT ") + late)
        if referral_id is not None:
            conditions.append(SQL("r.referral_id = %(referral_id)s"))
            params["referral_id"] = referral_id
        statement = SQL(
            "SELECT r.*, (r.status = ANY(%(active)s) AND r.due_at < %(now)s) AS overdue, "
            "c.register_number, c.facts, c.documents, c.beneficiaries, c.status AS case_status, "
            "c.closing_reason, "
            "c.closed_at AS case_closed_at "
            "FROM {schema}.referrals r JOIN {schema}.cases c USING (case_id) "
            "WHERE {conditions} ORDER BY r.due_at, r.referral_id LIMIT %(limit)s"
        ).format(schema=Identifier(self.schema), conditions=SQL(" AND ").join(conditions))
        with self.connect() as conn:
            if not self._exists(conn):
                return []
            rows = conn.execute(statement, params).fetchall()
        return [self._served(row, now) for row in rows]

    def handovers(
        self,
        *,
        district: str | None,
        now: datetime,
        case_id: str | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """Cases handed over to the agency (L1.5 b-d), newest first, with its answer."""
        # A handed-back case stays handed over here: nothing reopens it for this agency.
        conditions: list[Composable] = [SQL("status = 'handed_over'")]
        params: dict[str, Any] = {"limit": limit}
        if district is not None:
            conditions.append(SQL("district = %(district)s"))
            params["district"] = district
        if case_id is not None:
            conditions.append(SQL("case_id = %(case_id)s"))
            params["case_id"] = case_id
        statement = SQL(
            "SELECT case_id, district, register_number, facts, documents, closing_reason, "
            "closed_at, handover_answer FROM {schema}.cases WHERE {conditions} "
            "ORDER BY closed_at DESC, case_id LIMIT %(limit)s"
        ).format(schema=Identifier(self.schema), conditions=SQL(" AND ").join(conditions))
        with self.connect() as conn:
            if not self._exists(conn):
                return []
            rows = conn.execute(statement, params).fetchall()
        retention = self.retention
        for row in rows:
            if retention.is_due(row["district"], row["closed_at"], now):
                row["facts"] = retention.impersonal_facts(row["facts"])
            row["personal_data_until"] = retention.personal_data_until(
                row["district"], row["closed_at"]
            )
        return rows

    def _exists(self, conn: psycopg.Connection[Any]) -> bool:
        row = conn.execute(
            "SELECT 1 AS found FROM pg_namespace WHERE nspname = %s", (self.schema,)
        ).fetchone()
        return row is not None

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of the read model, for comparisons and diagnostics."""
        with self.connect() as conn:
            return {
                table: [
                    json.loads(json.dumps(row, default=str))
                    for row in conn.execute(
                        SQL("SELECT * FROM {}.{} ORDER BY 1").format(
                            Identifier(self.schema), Identifier(table)
                        )
                    ).fetchall()
                ]
                for table in ("cases", "referrals")
            }


class AgencyRebuild:
    """One agency's schema being rebuilt: messages are added in batches, then it is swapped in.

    The live schema's offsets and dead letters carry over on the swap, so the
    running projector resumes where it was and skips, by id, whatever the
    rebuild already applied.
    """

    BATCH = 500

    def __init__(self, live: AgencyStore, target: str) -> None:
        self.live = live
        self.target = target
        self.builder = AgencyStore(
            live.database_url,
            live.agency,
            schema=target,
            connector=live._connector,
            retention=live.retention,
        )
        with live.connect() as conn, conn.transaction():
            conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(target)))
            live.create(conn, target)

    def add(self, cloud_events: Sequence[dict[str, Any]]) -> None:
        with self.live.connect() as conn:
            for start in range(0, len(cloud_events), self.BATCH):
                chunk = cloud_events[start : start + self.BATCH]
                with conn.transaction():
                    self.builder.apply(
                        conn,
                        [
                            ConsumedMessage("rebuild", 0, offset, cloud_event)
                            for offset, cloud_event in enumerate(chunk)
                        ],
                    )

    def finish(self, *, swap: bool = True, now: datetime | None = None) -> str:
        """Swap the rebuilt schema in for the live one (the name it now has), or keep it beside.

        The rebuilt schema is purged to ``now`` (default: the current time) first: a
        rebuild must not bring back personal data the live one has already removed.
        """
        live = self.live
        self.builder.purge(now or datetime.now(UTC))
        with live.connect() as conn, conn.transaction():
            conn.execute(live._sql("DELETE FROM {schema}.partition_offsets", self.target))
            if not swap:
                return self.target
            live._lock(conn)
            live.create(conn)
            for table in ("partition_offsets", "topics", "dead_letters"):
                conn.execute(
                    SQL("INSERT INTO {target}.{table} SELECT * FROM {live}.{table}").format(
                        target=Identifier(self.target),
                        table=Identifier(table),
                        live=Identifier(live.schema),
                    )
                )
            conn.execute(SQL("DROP SCHEMA {} CASCADE").format(Identifier(live.schema)))
            conn.execute(
                SQL("ALTER SCHEMA {} RENAME TO {}").format(
                    Identifier(self.target), Identifier(live.schema)
                )
            )
        return live.schema
