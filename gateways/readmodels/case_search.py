"""The office's search index in PostgreSQL: beside the open-case list, written with it.

The table (``case_search``, in the coordinator's schema) holds the rows of
projections/case_search.py: personal data, read only through
``CaseSearchIndex.search``, which the API calls after the search is recorded in
the access log. It is written by the coordinator projector in the same batch
transaction as the open-case list (gateways/readmodels/coordinator.py), so the
two never disagree on a case, and rebuilt with it.

Names are matched by trigram word similarity (pg_trgm) over their search keys
(domain/person_names.py), with a GIN index. The extension is created if the
database allows (it is a trusted extension: a role that may create in the
database may add it); where it is refused, names match on the key exactly or
by its beginning, through a btree index, and nothing else changes.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import Connection
from psycopg.sql import SQL, Composable, Composed, Identifier

if TYPE_CHECKING:
    from gateways.readmodels.coordinator import CaseFilters

TABLE = "case_search"
COPY_COLUMNS = (
    "case_id",
    "person",
    "district",
    "register_number",
    "arrived_at",
    "name",
    "name_key",
    "nik_digest",
    "birth_date",
    "village",
    "village_key",
    "incident_village",
    "incident_village_key",
)
COPY_TYPES = (
    "uuid",
    "text",
    "text",
    "text",
    "timestamptz",
    "text",
    "text",
    "bytea",
    "date",
    "text",
    "text",
    "text",
    "text",
)

DDL = [
    """CREATE TABLE IF NOT EXISTS {schema}.case_search (
        case_id uuid NOT NULL,
        person text NOT NULL,
        district text NOT NULL,
        register_number text NOT NULL,
        arrived_at timestamptz NOT NULL,
        name text,
        name_key text,
        nik_digest bytea,
        birth_date date,
        village text,
        village_key text,
        incident_village text,
        incident_village_key text,
        PRIMARY KEY (case_id, person))""",
    """CREATE INDEX IF NOT EXISTS case_search_by_nik
        ON {schema}.case_search (nik_digest) WHERE nik_digest IS NOT NULL""",
    """CREATE INDEX IF NOT EXISTS case_search_by_birth_date
        ON {schema}.case_search (district, birth_date)""",
    """CREATE INDEX IF NOT EXISTS case_search_by_village
        ON {schema}.case_search (district, village_key)""",
    """CREATE INDEX IF NOT EXISTS case_search_by_incident_village
        ON {schema}.case_search (district, incident_village_key)""",
    """CREATE INDEX IF NOT EXISTS case_search_by_arrival
        ON {schema}.case_search (district, arrived_at)""",
    """CREATE INDEX IF NOT EXISTS case_search_by_name_key
        ON {schema}.case_search (district, name_key text_pattern_ops)""",
    """CREATE INDEX IF NOT EXISTS case_search_by_register_number
        ON {schema}.case_search (district, register_number)""",
]
_TRIGRAM_INDEX = (
    "CREATE INDEX IF NOT EXISTS case_search_by_name_trigrams "
    "ON {schema}.case_search USING gin (name_key {trgm}.gin_trgm_ops)"
)
# Names are short: one letter wrong in a six-letter key (Cahyno for Cahyono) leaves half
# its trigrams, below pg_trgm's default of 0.6. For this transaction only.
WORD_SIMILARITY_THRESHOLD = 0.5
WORD_SIMILARITY_SETTING = (
    f"SELECT set_config('pg_trgm.word_similarity_threshold', '{WORD_SIMILARITY_THRESHOLD}', true)"
)
# What CREATE EXTENSION raises where the database will not have it.
_EXTENSION_REFUSED = (
    psycopg.errors.InsufficientPrivilege,
    psycopg.errors.FeatureNotSupported,
    psycopg.errors.UndefinedFile,
    psycopg.errors.UndefinedObject,
)


def trigram_schema(conn: Connection[Any]) -> str | None:
    """Where pg_trgm is installed, after creating it if it is missing and allowed."""
    found = _installed_in(conn)
    if found is not None:
        return found
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except _EXTENSION_REFUSED:
        return None
    return _installed_in(conn)


def _installed_in(conn: Connection[Any]) -> str | None:
    row = conn.execute(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_trgm'"
    ).fetchone()
    if row is None:
        return None
    return str(row["nspname"] if isinstance(row, dict) else row[0])


def create_trigram_index(conn: Connection[Any], schema: Identifier, trgm: str) -> None:
    conn.execute(SQL(_TRIGRAM_INDEX).format(schema=schema, trgm=Identifier(trgm)))


@dataclass(frozen=True)
class IndexKeys:
    """What a search matches, already in the index's terms (keys, digests, instants)."""

    register_number: str | None = None
    name_key: str | None = None  # the whole name's key, to rank by
    given_name_key: str | None = None  # the person's own name's key, to match by
    nik_digest: bytes | None = None
    birth_date: date | None = None
    village_key: str | None = None
    arrived_from: datetime | None = None  # inclusive
    arrived_before: datetime | None = None  # exclusive

    @property
    def names_a_person(self) -> bool:
        return any(
            value is not None
            for value in (self.given_name_key, self.nik_digest, self.birth_date, self.village_key)
        )


def search_query(
    schema: Identifier,
    district: str,
    keys: IndexKeys,
    filters: "CaseFilters",
    *,
    now: datetime,
    limit: int,
    trgm: str | None,
) -> tuple[Composed, dict[str, Any]]:
    """The query: matching people's rows joined to their cases, best match first."""
    params: dict[str, Any] = {"district": district, "now": now, "limit": limit}
    rows: list[Composable] = [SQL("s.district = %(district)s")]
    score: Composable = SQL("1.0")
    if keys.given_name_key is not None:
        params["given"], params["whole"] = keys.given_name_key, keys.name_key
        if trgm is not None:
            t = Identifier(trgm)
            rows.append(SQL("%(given)s OPERATOR({t}.<%%) s.name_key").format(t=t))
            score = SQL("{t}.similarity(s.name_key, %(whole)s)").format(t=t)
        else:
            params["given_prefix"] = _like_prefix(keys.given_name_key)
            rows.append(SQL("s.name_key LIKE %(given_prefix)s"))
            score = SQL("CASE WHEN s.name_key = %(whole)s THEN 1.0 ELSE 0.5 END")
    if keys.nik_digest is not None:
        rows.append(SQL("s.nik_digest = %(nik)s"))
        params["nik"] = keys.nik_digest
    if keys.birth_date is not None:
        rows.append(SQL("s.birth_date = %(birth_date)s"))
        params["birth_date"] = keys.birth_date
    if keys.village_key is not None:
        rows.append(SQL("(s.village_key = %(village)s OR s.incident_village_key = %(village)s)"))
        params["village"] = keys.village_key
    if keys.arrived_from is not None:
        rows.append(SQL("s.arrived_at >= %(arrived_from)s"))
        params["arrived_from"] = keys.arrived_from
    if keys.arrived_before is not None:
        rows.append(SQL("s.arrived_at < %(arrived_before)s"))
        params["arrived_before"] = keys.arrived_before
    if not keys.names_a_person:
        # Found by number or date only: the case is listed, none of its people.
        rows.append(SQL("s.person = 'victim'"))
    if keys.register_number is not None:
        rows.append(SQL("s.register_number = %(register_number)s"))
        params["register_number"] = keys.register_number
    filters_given = filter_conditions(schema, filters, params)
    if filters_given:
        rows.append(
            SQL(
                "EXISTS (SELECT 1 FROM {schema}.open_cases c WHERE c.case_id = s.case_id "
                "AND {filters})"
            ).format(schema=schema, filters=SQL(" AND ").join(filters_given))
        )
    people = (
        SQL(
            "jsonb_agg(jsonb_build_object('person', s.person, 'name', s.name, "
            "'birth_date', s.birth_date, 'village', s.village, "
            "'incident_village', s.incident_village) ORDER BY s.person)"
        )
        if keys.names_a_person
        else SQL("'[]'::jsonb")
    )
    # The best matches first, from the index alone; only they are joined to their cases.
    query = SQL(
        "SELECT c.case_id, c.register_number, c.stage, c.status, c.case_type, c.risk_level, "
        "best.arrived_at, best.score, best.people FROM ("
        "    SELECT s.case_id, min(s.arrived_at) AS arrived_at, max({score}) AS score, "
        "    {people} AS people FROM {schema}.case_search s WHERE {rows} "
        "    GROUP BY s.case_id ORDER BY score DESC, arrived_at DESC, s.case_id DESC "
        "    LIMIT %(limit)s) best "
        "JOIN {schema}.open_cases c ON c.case_id = best.case_id "
        "ORDER BY best.score DESC, best.arrived_at DESC, best.case_id DESC"
    ).format(score=score, people=people, schema=schema, rows=SQL(" AND ").join(rows))
    return query, params


def _like_prefix(key: str) -> str:
    return key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def filter_conditions(
    schema: Identifier, filters: "CaseFilters", params: dict[str, Any]
) -> list[Composable]:
    """The open-case list's filters, on ``open_cases c``: the list's own (list_cases) and
    the search's, which narrows the searched cases by them."""
    conditions: list[Composable] = []
    for column, value in (
        ("status", filters.status),
        ("stage", filters.stage),
        ("risk_level", filters.risk_level),
        ("case_type", filters.case_type),
        ("case_worker_id", filters.case_worker),
    ):
        if value is not None:
            # The column names are this function's own constants, never input.
            conditions.append(SQL(f"c.{column} = %(f_{column})s"))
            params[f"f_{column}"] = value
    if filters.agency is not None:
        conditions.append(SQL("%(f_agency)s = ANY(c.open_referral_agencies)"))
        params["f_agency"] = filters.agency
    if filters.overdue_step is not None:
        code = SQL("") if filters.overdue_step == "any" else SQL("AND st.code = %(f_code)s ")
        conditions.append(
            SQL(
                "EXISTS (SELECT 1 FROM {schema}.case_steps st WHERE st.case_id = c.case_id "
                "AND st.state = 'open' AND st.due_at < %(now)s {code})"
            ).format(schema=schema, code=code)
        )
        params["f_code"] = filters.overdue_step
    return conditions


def row_values(row: Any) -> tuple[Any, ...]:
    return tuple(getattr(row, column) for column in COPY_COLUMNS)
