"""The coordinator's tables in PostgreSQL: created idempotently, written per batch, queried.

They live in their own schema (``coordinator``) of the event store's database.
One batch of the projector is one transaction: it first moves the tracked
position (gateways/projectors/tracking.py) from the one the batch was read
after to the new one, then replaces the rows of every case the batch touched.
A rebuild fills a second schema and swaps it in.

Nothing here is personal data (see projections/open_cases.py) but the office's
search index, ``case_search`` (gateways/readmodels/case_search.py), read only
through ``search``, after the search is recorded in the access log.
"""

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any
from uuid import UUID

import psycopg
from psycopg import Connection
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composable, Composed, Identifier

from gateways.projectors.quarantine import SetAside, reason_for
from gateways.projectors.tracking import Tracking
from gateways.projectors.tracking import create_statement as tracking_table
from gateways.readmodels import case_search
from projections.case_search import SearchRow
from projections.open_cases import CaseRows
from projections.time_standards_dashboard import StepRow

DEFAULT_SCHEMA = "coordinator"
Connect = Callable[[], AbstractContextManager[Connection[Any]]]

# Creating, dropping or swapping the tables holds this advisory lock exclusively;
# every batch holds it shared, first thing. So the API and the projector starting
# together do not race on CREATE ... IF NOT EXISTS, and DDL never deadlocks with
# a batch by taking table locks in a different order.
_DDL_LOCK = 0x53494D50554C  # "SIMPUL"
_TABLES = (
    "tracking",
    "open_cases",
    "referrals",
    "case_steps",
    "pending_recommendations",
    "quarantine",
    case_search.TABLE,
)
# The tables holding a case's rows, replaced whole on each of its batches.
_CASE_TABLES = (
    "open_cases",
    "referrals",
    "case_steps",
    "pending_recommendations",
    case_search.TABLE,
)

_DDL = [
    "CREATE SCHEMA IF NOT EXISTS {schema}",
    """CREATE TABLE IF NOT EXISTS {schema}.open_cases (
        case_id uuid PRIMARY KEY,
        register_number text NOT NULL,
        district text NOT NULL,
        stage text NOT NULL,
        status text NOT NULL,
        case_type text,
        risk_level text,
        jurisdiction text,
        emergency boolean NOT NULL,
        case_worker_id text,
        closure text,
        reported_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        closed_at timestamptz,
        version bigint NOT NULL,
        open_referral_agencies text[] NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS open_cases_by_district
        ON {schema}.open_cases (district, status, reported_at DESC, case_id DESC)""",
    """CREATE TABLE IF NOT EXISTS {schema}.referrals (
        case_id uuid NOT NULL,
        referral_id text NOT NULL,
        district text NOT NULL,
        agency text NOT NULL,
        service_type text NOT NULL,
        status text NOT NULL,
        emergency boolean NOT NULL,
        referred_at timestamptz NOT NULL,
        due_at timestamptz,
        answered_at timestamptz,
        settled_at timestamptz,
        PRIMARY KEY (case_id, referral_id))""",
    """CREATE INDEX IF NOT EXISTS open_referrals_by_agency
        ON {schema}.referrals (district, agency) WHERE settled_at IS NULL""",
    """CREATE TABLE IF NOT EXISTS {schema}.case_steps (
        case_id uuid NOT NULL,
        step_key text NOT NULL,
        district text NOT NULL,
        code text NOT NULL,
        stage text NOT NULL,
        title_en text NOT NULL,
        title_id text NOT NULL,
        agency text NOT NULL,
        referral_id text,
        limit_minutes integer NOT NULL,
        started_at timestamptz NOT NULL,
        due_at timestamptz NOT NULL,
        done_at timestamptz,
        state text NOT NULL,
        due_from timestamptz,
        PRIMARY KEY (case_id, step_key))""",
    """CREATE INDEX IF NOT EXISTS case_steps_by_district
        ON {schema}.case_steps (district, state, due_at)""",
    # K-C7 proposals awaiting a supervisor's K-C8 answer. A store made before this table
    # existed creates it empty; `simpul project --rebuild` fills it for earlier proposals.
    """CREATE TABLE IF NOT EXISTS {schema}.pending_recommendations (
        case_id uuid NOT NULL,
        recommendation_id text NOT NULL,
        district text NOT NULL,
        agency text NOT NULL,
        service_type text NOT NULL,
        proposed_by text NOT NULL,
        proposed_at timestamptz NOT NULL,
        PRIMARY KEY (case_id, recommendation_id))""",
    """CREATE INDEX IF NOT EXISTS pending_recommendations_by_district
        ON {schema}.pending_recommendations (district, proposed_at)""",
    # Cases set aside (gateways/projectors/quarantine.py): the reason is an error type.
    """CREATE TABLE IF NOT EXISTS {schema}.quarantine (
        case_id uuid PRIMARY KEY,
        position bigint NOT NULL,
        event_topic text NOT NULL,
        reason text NOT NULL,
        set_aside_at timestamptz NOT NULL DEFAULT now(),
        last_failed_at timestamptz NOT NULL DEFAULT now())""",
    *case_search.DDL,
]

# Columns added since the tables were first created, for tables an earlier version made.
# Rows written before have them empty until the next rebuild (`simpul project --rebuild`):
# a ranged step written so shows as due from its start rather than upcoming.
_ADDED_COLUMNS = (("case_steps", "due_from", "timestamptz"),)

# What the database refuses because of one case's values; anything else fails the batch.
_UNWRITABLE = (psycopg.DataError, psycopg.IntegrityError, ValueError, TypeError, OverflowError)


def _copy_columns(declared: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Column names and their COPY types, from "name type, name type, ..."."""
    pairs = [column.split() for column in declared.split(",")]
    return tuple(name for name, _ in pairs), tuple(kind for _, kind in pairs)


# Column orders for COPY, with types: each getter reads a row's values in that order.
_CASE_COLUMNS, _CASE_TYPES = _copy_columns(
    "case_id uuid, register_number text, district text, stage text, status text, "
    "case_type text, risk_level text, jurisdiction text, emergency bool, case_worker_id text, "
    "closure text, reported_at timestamptz, updated_at timestamptz, closed_at timestamptz, "
    "version int8, open_referral_agencies text[]"
)
_REFERRAL_COLUMNS, _REFERRAL_TYPES = _copy_columns(
    "case_id uuid, referral_id text, district text, agency text, service_type text, "
    "status text, emergency bool, referred_at timestamptz, due_at timestamptz, "
    "answered_at timestamptz, settled_at timestamptz"
)
_STEP_COLUMNS, _STEP_TYPES = _copy_columns(
    "case_id uuid, key text, district text, code text, stage text, title_en text, "
    "title_id text, agency text, referral_id text, limit_minutes int4, started_at timestamptz, "
    "due_at timestamptz, done_at timestamptz, state text, due_from timestamptz"
)
_RECOMMENDATION_COLUMNS, _RECOMMENDATION_TYPES = _copy_columns(
    "case_id uuid, recommendation_id text, district text, agency text, service_type text, "
    "proposed_by text, proposed_at timestamptz"
)
_case_scalars = attrgetter(*_CASE_COLUMNS[:-1])
_recommendation_values = attrgetter(*_RECOMMENDATION_COLUMNS)
_referral_values = attrgetter(*_REFERRAL_COLUMNS)
_step_values = attrgetter(*_STEP_COLUMNS)
_STEP_TABLE_COLUMNS = tuple("step_key" if name == "key" else name for name in _STEP_COLUMNS)


def _case_values(case: Any) -> tuple[Any, ...]:
    return (*_case_scalars(case), list(case.open_referral_agencies))  # a list dumps as an array


# The state an open step has at a given moment; the query's clock decides, not the projector.
_STATE_NOW = SQL(
    "CASE WHEN s.state = 'open' AND s.due_at < %(now)s THEN 'overdue' "
    "WHEN s.state = 'open' AND s.due_from > %(now)s THEN 'upcoming' "
    "WHEN s.state = 'open' THEN 'due' ELSE s.state END"
)


@dataclass(frozen=True)
class CaseChange:
    """Everything the projection says about one case after a batch: its rows, replaced whole."""

    rows: CaseRows
    steps: Sequence[StepRow] = field(default=())
    search: Sequence[SearchRow] = field(default=())
    # The newest event the rows include: where the case is set aside if they cannot be written.
    position: int = 0
    event_topic: str = ""


@dataclass(frozen=True)
class CaseFilters:
    status: str | None = "open"
    stage: str | None = None
    risk_level: str | None = None
    case_type: str | None = None
    agency: str | None = None
    case_worker: str | None = None
    overdue_step: str | None = None  # a step code, or "any"


@dataclass(frozen=True)
class StepFilters:
    states: tuple[str, ...] = ("due", "overdue")
    code: str | None = None
    agency: str | None = None


class CoordinatorStore:
    def __init__(self, connect: Connect, *, schema: str = DEFAULT_SCHEMA) -> None:
        self.connect = connect
        self.schema = schema
        self._schema_id = Identifier(schema)
        self._tables_ready = False
        self.trigram_schema: str | None = None

    def _sql(self, text: str) -> Composed:
        return SQL(text).format(schema=self._schema_id)

    # ---- Tables -------------------------------------------------------------------------------

    def tracking(self, application_name: str) -> Tracking:
        return Tracking(self.schema, application_name)

    def create_tables(self) -> None:
        if not self._tables_exist():
            with self.connect() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
                for statement in _DDL:
                    conn.execute(self._sql(statement))
                conn.execute(tracking_table(self.schema))
        self._add_missing_columns()
        self._add_name_trigrams()
        self._tables_ready = True

    def _add_name_trigrams(self) -> None:
        """Trigram matching of names where the database has pg_trgm or lets us add it."""
        with self.connect() as conn:
            found = case_search.trigram_schema(conn)
            if found is not None:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
                    case_search.create_trigram_index(conn, self._schema_id, found)
        self.trigram_schema = found

    def _add_missing_columns(self) -> None:
        with self.connect() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = %s",
                (self.schema,),
            )
            present = {(str(table), str(column)) for table, column in curs.fetchall()}
        missing = [added for added in _ADDED_COLUMNS if added[:2] not in present]
        if not missing:
            return
        with self.connect() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
            for table, column, kind in missing:
                conn.execute(
                    SQL(
                        "ALTER TABLE {schema}.{table} ADD COLUMN IF NOT EXISTS {column} {kind}"
                    ).format(
                        schema=self._schema_id,
                        table=Identifier(table),
                        column=Identifier(column),
                        kind=SQL(kind),
                    )
                )

    def _tables_exist(self) -> bool:
        with self.connect() as conn:
            row = conn.execute(
                "SELECT count(to_regclass(format('%%I.%%I', %s::text, name))) AS n "
                "FROM unnest(%s::text[]) AS name",
                (self.schema, list(_TABLES)),
            ).fetchone()
        return int(_value(row, "n")) == len(_TABLES) if row else False

    def ensure_tables(self) -> None:
        if not self._tables_ready:
            self.create_tables()

    def drop(self) -> None:
        with self.connect() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
            conn.execute(self._sql("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        self._tables_ready = False

    def replace(self, target_schema: str) -> None:
        """Swap this schema in for ``target_schema`` in one transaction, dropping the old one.

        A projector following ``target_schema`` meanwhile finds the tracked
        position moved on its next batch and reads on from the new one.
        """
        previous = Identifier(f"{target_schema}_previous")
        target = Identifier(target_schema)
        with self.connect() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
            conn.execute(SQL("DROP SCHEMA IF EXISTS {0} CASCADE").format(previous))
            exists = conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (target_schema,)
            ).fetchone()
            if exists:
                conn.execute(SQL("ALTER SCHEMA {0} RENAME TO {1}").format(target, previous))
            conn.execute(SQL("ALTER SCHEMA {0} RENAME TO {1}").format(self._schema_id, target))
            conn.execute(SQL("DROP SCHEMA IF EXISTS {0} CASCADE").format(previous))
        self.schema = target_schema
        self._schema_id = target

    # ---- Tracking -----------------------------------------------------------------------------

    def position(self, application_name: str) -> int:
        self.ensure_tables()
        with self.connect() as conn:
            return self.tracking(application_name).position(conn)

    # ---- Writing one batch --------------------------------------------------------------------

    def write(
        self,
        changes: Sequence[CaseChange],
        application_name: str,
        *,
        after: int | None,
        to: int,
        set_aside: Sequence[SetAside] = (),
    ) -> list[SetAside]:
        """Replace the touched cases' rows and move tracking from ``after`` to ``to``, atomically.

        Rows are replaced by delete and COPY, the fastest way into PostgreSQL
        from Python; a case's old and new rows never both survive the commit.
        A case whose rows the database refuses keeps its earlier rows and is set
        aside with the others in ``set_aside``; every other case is written. The
        cases written leave the quarantine. ``after=None`` writes without moving
        tracking (a retry of cases set aside). Returns the cases the database refused.
        """
        self.ensure_tables()
        with self.connect() as conn, conn.transaction(), conn.cursor() as curs:
            curs.execute("SELECT pg_advisory_xact_lock_shared(%s)", (_DDL_LOCK,))
            if after is not None:
                self.tracking(application_name).move(curs, after=after, to=to)
            refused = self._replace_each_writable(conn, curs, changes)
            refused_ids = {item.case_id for item in refused}
            written = [
                c.rows.case.case_id for c in changes if c.rows.case.case_id not in refused_ids
            ]
            if written:
                curs.execute(
                    SQL("DELETE FROM {0}.quarantine WHERE case_id = ANY(%s)").format(
                        self._schema_id
                    ),
                    (written,),
                )
            for item in [*set_aside, *refused]:
                curs.execute(
                    SQL(
                        "INSERT INTO {0}.quarantine (case_id, position, event_topic, reason) "
                        "VALUES (%s, %s, %s, %s) ON CONFLICT (case_id) DO UPDATE SET "
                        "position = EXCLUDED.position, event_topic = EXCLUDED.event_topic, "
                        "reason = EXCLUDED.reason, last_failed_at = now()"
                    ).format(self._schema_id),
                    (item.case_id, item.position, item.event_topic, item.reason),
                )
        return refused

    def _replace_each_writable(
        self, conn: Connection[Any], curs: Any, changes: Sequence[CaseChange]
    ) -> list[SetAside]:
        """Replace all the cases' rows at once or, if the database refuses, case by case."""
        if not changes:
            return []
        try:
            with conn.transaction():
                self._replace(curs, changes)
            return []
        except _UNWRITABLE:
            pass
        refused: list[SetAside] = []
        for change in changes:
            try:
                with conn.transaction():
                    self._replace(curs, [change])
            except _UNWRITABLE as error:
                case_id = change.rows.case.case_id
                refused.append(
                    SetAside(case_id, change.position, change.event_topic, reason_for(error))
                )
        return refused

    def _replace(self, curs: Any, changes: Sequence[CaseChange]) -> None:
        case_ids = [change.rows.case.case_id for change in changes]
        for table in _CASE_TABLES:
            curs.execute(
                SQL("DELETE FROM {0}.{1} WHERE case_id = ANY(%s)").format(
                    self._schema_id, Identifier(table)
                ),
                (case_ids,),
            )
        self._copy(
            curs,
            "open_cases",
            _CASE_COLUMNS,
            _CASE_TYPES,
            (_case_values(change.rows.case) for change in changes),
        )
        self._copy(
            curs,
            "referrals",
            _REFERRAL_COLUMNS,
            _REFERRAL_TYPES,
            (
                _referral_values(referral)
                for change in changes
                for referral in change.rows.referrals
            ),
        )
        self._copy(
            curs,
            "case_steps",
            _STEP_TABLE_COLUMNS,
            _STEP_TYPES,
            (_step_values(step) for change in changes for step in change.steps),
        )
        self._copy(
            curs,
            "pending_recommendations",
            _RECOMMENDATION_COLUMNS,
            _RECOMMENDATION_TYPES,
            (
                _recommendation_values(recommendation)
                for change in changes
                for recommendation in change.rows.pending_recommendations
            ),
        )
        self._copy(
            curs,
            case_search.TABLE,
            case_search.COPY_COLUMNS,
            case_search.COPY_TYPES,
            (case_search.row_values(row) for change in changes for row in change.search),
        )

    def quarantined(self) -> list[SetAside]:
        """The cases set aside, oldest first."""
        self.ensure_tables()
        with self.connect() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(
                self._sql(
                    "SELECT case_id, position, event_topic, reason FROM {schema}.quarantine "
                    "ORDER BY set_aside_at, case_id"
                )
            )
            return [SetAside(*row) for row in curs.fetchall()]

    def _copy(
        self,
        curs: Any,
        table: str,
        columns: Sequence[str],
        types: Sequence[str],
        rows: Iterable[tuple[Any, ...]],
    ) -> None:
        # Binary COPY with the types declared up front: no per-value type lookup.
        statement = SQL("COPY {0}.{1} ({2}) FROM STDIN (FORMAT BINARY)").format(
            self._schema_id,
            Identifier(table),
            SQL(", ").join(Identifier(name) for name in columns),
        )
        with curs.copy(statement) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)

    # ---- Reading ------------------------------------------------------------------------------

    def list_cases(
        self,
        district: str,
        filters: CaseFilters,
        *,
        now: datetime,
        limit: int,
        after: tuple[datetime, UUID] | None = None,
    ) -> list[dict[str, Any]]:
        """The district's cases, newest report first; ``limit`` rows after the keyset ``after``."""
        self.ensure_tables()
        conditions: list[Composable] = [SQL("c.district = %(district)s")]
        params: dict[str, Any] = {"district": district, "now": now, "limit": limit}
        conditions.extend(case_search.filter_conditions(self._schema_id, filters, params))
        if after is not None:
            conditions.append(SQL("(c.reported_at, c.case_id) < (%(after_at)s, %(after_id)s)"))
            params["after_at"], params["after_id"] = after
        query = SQL(
            "SELECT c.*, next.code AS next_step, next.due_at AS next_due_at, "
            "ARRAY(SELECT DISTINCT s.code FROM {schema}.case_steps s WHERE s.case_id = c.case_id "
            "      AND s.state = 'open' AND s.due_at < %(now)s ORDER BY s.code) AS overdue_steps "
            "FROM {schema}.open_cases c "
            "LEFT JOIN LATERAL (SELECT s.code, s.due_at FROM {schema}.case_steps s "
            "    WHERE s.case_id = c.case_id AND s.state = 'open' "
            "    ORDER BY s.due_at, s.code LIMIT 1) next ON true "
            "WHERE {conditions} "
            "ORDER BY c.reported_at DESC, c.case_id DESC LIMIT %(limit)s"
        ).format(schema=self._schema_id, conditions=SQL(" AND ").join(conditions))
        with self.connect() as conn:
            return [dict(row) for row in conn.execute(query, params).fetchall()]

    def search(
        self,
        district: str,
        keys: case_search.IndexKeys,
        filters: CaseFilters,
        *,
        now: datetime,
        limit: int,
    ) -> list[dict[str, Any]]:
        """The district's cases whose people match ``keys``, best match first (personal data:
        the caller records the search in the access log first)."""
        self.ensure_tables()
        query, params = case_search.search_query(
            self._schema_id,
            district,
            keys,
            filters,
            now=now,
            limit=limit,
            trgm=self.trigram_schema,
        )
        with self.connect() as conn, conn.transaction():
            if self.trigram_schema is not None:
                conn.execute(case_search.WORD_SIMILARITY_SETTING)
            return [dict(row) for row in conn.execute(query, params).fetchall()]

    def workload(self, district: str, *, now: datetime) -> dict[str, Any]:
        self.ensure_tables()
        params = {"district": district, "now": now}
        with self.connect() as conn:
            case_workers = conn.execute(
                self._sql(
                    "SELECT c.case_worker_id, count(*) AS open_cases, "
                    "count(*) FILTER (WHERE o.overdue > 0) AS cases_with_overdue_steps, "
                    "coalesce(sum(o.overdue), 0)::bigint AS overdue_steps "
                    "FROM {schema}.open_cases c "
                    "CROSS JOIN LATERAL (SELECT count(*) AS overdue FROM {schema}.case_steps s "
                    "    WHERE s.case_id = c.case_id AND s.state = 'open' "
                    "    AND s.due_at < %(now)s) o "
                    "WHERE c.district = %(district)s AND c.status = 'open' "
                    "GROUP BY c.case_worker_id ORDER BY c.case_worker_id NULLS FIRST"
                ),
                params,
            ).fetchall()
            agencies = conn.execute(
                self._sql(
                    "SELECT agency, count(*) AS open_referrals, "
                    "count(*) FILTER (WHERE status = 'pending') AS pending, "
                    "count(*) FILTER (WHERE status = 'accepted') AS accepted, "
                    "count(*) FILTER (WHERE status = 'in_progress') AS in_progress, "
                    "count(*) FILTER (WHERE due_at < %(now)s) AS overdue_referrals "
                    "FROM {schema}.referrals "
                    "WHERE district = %(district)s AND settled_at IS NULL "
                    "GROUP BY agency ORDER BY agency"
                ),
                params,
            ).fetchall()
        return {
            "case_workers": [dict(row) for row in case_workers],
            "agencies": [dict(row) for row in agencies],
        }

    def step_dashboard(
        self,
        district: str,
        filters: StepFilters,
        *,
        now: datetime,
        limit: int,
        after: tuple[datetime, UUID] | None = None,
    ) -> dict[str, Any]:
        """Steps by case (most urgent first) and counts by agency, states as of ``now``."""
        self.ensure_tables()
        params: dict[str, Any] = {
            "district": district,
            "now": now,
            "limit": limit,
            "states": list(filters.states),
        }
        conditions: list[Composable] = [SQL("s.district = %(district)s")]
        if filters.code is not None:
            conditions.append(SQL("s.code = %(code)s"))
            params["code"] = filters.code
        if filters.agency is not None:
            conditions.append(SQL("s.agency = %(agency)s"))
            params["agency"] = filters.agency
        where = SQL(" AND ").join(conditions)
        steps_now = SQL(
            "SELECT s.*, {state} AS state_now FROM {schema}.case_steps s WHERE {where}"
        ).format(state=_STATE_NOW, schema=self._schema_id, where=where)
        keyset = (
            SQL("WHERE (m.first_due, m.case_id) > (%(after_due)s, %(after_id)s)")
            if after is not None
            else SQL("")
        )
        if after is not None:
            params["after_due"], params["after_id"] = after
        cases_query = SQL(
            "WITH steps AS ({steps_now}), "
            "matching AS (SELECT case_id, min(due_at) AS first_due FROM steps "
            "    WHERE state_now = ANY(%(states)s) GROUP BY case_id), "
            "page AS (SELECT m.* FROM matching m {keyset} "
            "    ORDER BY m.first_due, m.case_id LIMIT %(limit)s) "
            "SELECT p.case_id, p.first_due, c.register_number, c.stage, c.status, "
            "    c.case_worker_id, c.risk_level, "
            "    count(*) FILTER (WHERE st.state_now = 'upcoming') AS upcoming, "
            "    count(*) FILTER (WHERE st.state_now = 'due') AS due, "
            "    count(*) FILTER (WHERE st.state_now = 'overdue') AS overdue, "
            "    count(*) FILTER (WHERE st.state_now = 'met') AS met, "
            "    count(*) FILTER (WHERE st.state_now = 'late') AS late, "
            "    count(*) FILTER (WHERE st.state_now = 'closed') AS closed, "
            "    jsonb_agg(jsonb_build_object("
            "        'code', st.code, 'stage', st.stage, 'title_en', st.title_en, "
            "        'agency', st.agency, 'referral_id', st.referral_id, "
            "        'limit_minutes', st.limit_minutes, 'started_at', st.started_at, "
            "        'due_at', st.due_at, 'done_at', st.done_at, 'state', st.state_now) "
            "        ORDER BY st.due_at, st.step_key) "
            "        FILTER (WHERE st.state_now = ANY(%(states)s)) AS steps "
            "FROM page p JOIN {schema}.open_cases c ON c.case_id = p.case_id "
            "JOIN steps st ON st.case_id = p.case_id "
            "GROUP BY p.case_id, p.first_due, c.register_number, c.stage, c.status, "
            "    c.case_worker_id, c.risk_level "
            "ORDER BY p.first_due, p.case_id"
        ).format(steps_now=steps_now, keyset=keyset, schema=self._schema_id)
        agencies_query = SQL(
            "WITH steps AS ({steps_now}) "
            "SELECT agency, "
            "    count(*) FILTER (WHERE state_now = 'upcoming') AS upcoming, "
            "    count(*) FILTER (WHERE state_now = 'due') AS due, "
            "    count(*) FILTER (WHERE state_now = 'overdue') AS overdue, "
            "    count(*) FILTER (WHERE state_now = 'met') AS met, "
            "    count(*) FILTER (WHERE state_now = 'late') AS late, "
            "    count(*) FILTER (WHERE state_now = 'closed') AS closed "
            "FROM steps GROUP BY agency ORDER BY agency"
        ).format(steps_now=steps_now)
        with self.connect() as conn:
            cases = [dict(row) for row in conn.execute(cases_query, params).fetchall()]
            agencies = [dict(row) for row in conn.execute(agencies_query, params).fetchall()]
        return {"cases": cases, "agencies": agencies}

    # ---- What is due for whom (services/tasks.py decides whose each row is) ------------------

    def due_office_steps(
        self, district: str, agency: str, *, now: datetime
    ) -> list[dict[str, Any]]:
        """The district's steps owed by ``agency`` (its coordinating office) and due or
        overdue at ``now`` (not upcoming), with the case's register number and case worker,
        soonest first. Which are overdue the caller judges, as ``_STATE_NOW`` does."""
        self.ensure_tables()
        query = SQL(
            "SELECT s.case_id, c.register_number, c.case_worker_id, s.code, s.title_id, "
            "    s.title_en, s.referral_id, s.due_at "
            "FROM {schema}.case_steps s JOIN {schema}.open_cases c ON c.case_id = s.case_id "
            "WHERE s.district = %(district)s AND s.agency = %(agency)s AND s.state = 'open' "
            "    AND (s.due_from IS NULL OR s.due_from <= %(now)s) "
            "ORDER BY s.due_at, s.case_id, s.step_key"
        ).format(schema=self._schema_id)
        params = {"district": district, "agency": agency, "now": now}
        with self.connect() as conn:
            return [dict(row) for row in conn.execute(query, params).fetchall()]

    def unanswered_referrals(self, district: str, agency: str) -> list[dict[str, Any]]:
        """Referrals of the district's cases to ``agency`` that it has not accepted or
        declined yet, soonest due first."""
        self.ensure_tables()
        query = self._sql(
            "SELECT r.case_id, c.register_number, r.referral_id, r.district, r.due_at "
            "FROM {schema}.referrals r JOIN {schema}.open_cases c ON c.case_id = r.case_id "
            "WHERE r.district = %(district)s AND r.agency = %(agency)s "
            "    AND r.status = 'pending' AND r.settled_at IS NULL "
            "ORDER BY r.due_at NULLS LAST, r.case_id, r.referral_id"
        )
        with self.connect() as conn:
            rows = conn.execute(query, {"district": district, "agency": agency}).fetchall()
        return [dict(row) for row in rows]

    def pending_recommendations(self, district: str) -> list[dict[str, Any]]:
        """K-C7 proposals of the district's cases awaiting a supervisor (K-C8), oldest first."""
        self.ensure_tables()
        query = self._sql(
            "SELECT p.case_id, c.register_number, p.recommendation_id, p.district, "
            "    p.proposed_by, p.proposed_at "
            "FROM {schema}.pending_recommendations p "
            "JOIN {schema}.open_cases c ON c.case_id = p.case_id "
            "WHERE p.district = %(district)s "
            "ORDER BY p.proposed_at, p.case_id, p.recommendation_id"
        )
        with self.connect() as conn:
            return [dict(row) for row in conn.execute(query, {"district": district}).fetchall()]

    def case_count(self) -> int:
        self.ensure_tables()
        with self.connect() as conn:
            row = conn.execute(
                self._sql("SELECT count(*) AS n FROM {schema}.open_cases")
            ).fetchone()
        return int(_value(row, "n")) if row else 0

    def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, sorted, for comparing two schemas' contents."""
        self.ensure_tables()
        tables = {
            "open_cases": "case_id",
            "referrals": "case_id, referral_id",
            "case_steps": "case_id, step_key",
            "pending_recommendations": "case_id, recommendation_id",
            case_search.TABLE: "case_id, person",
        }
        result: dict[str, list[tuple[Any, ...]]] = {}
        with self.connect() as conn, conn.cursor() as curs:
            for table, order in tables.items():
                curs.execute(
                    SQL("SELECT * FROM {0}.{1} ORDER BY {2}").format(
                        self._schema_id, Identifier(table), SQL(order)
                    )
                )
                result[table] = [tuple(_values(row)) for row in curs.fetchall()]
        return result


def _value(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, dict) else row[0]


def _values(row: Any) -> Iterable[Any]:
    return row.values() if isinstance(row, dict) else row
