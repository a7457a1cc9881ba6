"""Cases to benchmark with: realistic commands on open, consented cases."""

import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

import psycopg

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from services.case_commands import Classify, RecordAccompaniment, RecordConsent, ReportCase
from services.cases import Cases

DISTRICT = "luwu-utara"
COORDINATOR = Actor("bench.coordinator", Role.COORDINATOR, Agency.UPTD_PPA, DISTRICT)


def open_cases(cases: Cases, count: int) -> list[UUID]:
    """Cases reported, classified and consented: they accept accompaniment notes."""
    case_ids = []
    for number in range(count):
        reported = cases.report_case(
            COORDINATOR,
            ReportCase(
                channel="hotline",
                arrived_at=datetime.now(UTC) - timedelta(minutes=5),
                chronology=f"Benchmark report {number}: a neighbour heard shouting and crying.",
                victim={"sex": "female", "age": 9 + number % 8, "village": "Baebunta"},
                reporter={"relationship_to_victim": "neighbour"},
            ),
        )
        cases.execute(
            COORDINATOR,
            reported.case_id,
            Classify(
                case_type="KTA", risk_level="medium", jurisdiction="district", emergency=False
            ),
        )
        cases.execute(
            COORDINATOR,
            reported.case_id,
            RecordConsent(given=True, given_by="parent", document_ref="IC-bench"),
        )
        case_ids.append(reported.case_id)
    return case_ids


def accompany(cases: Cases, case_id: UUID, number: int) -> None:
    cases.execute(
        COORDINATOR,
        case_id,
        RecordAccompaniment(
            activity=f"Accompanied the beneficiary to counselling session {number}",
            notes="The child talked more openly than last week; mother present.",
        ),
    )


RAW_TABLE = (
    "CREATE TABLE IF NOT EXISTS raw_events ("
    "originator_id uuid NOT NULL, originator_version bigint NOT NULL, topic text, state bytea, "
    "notification_id bigserial, PRIMARY KEY (originator_id, originator_version))"
)
RAW_INSERT = (
    "INSERT INTO raw_events (originator_id, originator_version, topic, state) "
    "VALUES (%s, %s, %s, %s)"
)


def stored_event_shape(database_url: str) -> tuple[str, int]:
    """The topic and average state size of accompaniment events, for a like-for-like baseline."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT topic, avg(length(state))::int FROM cases_events "
            "WHERE topic LIKE %s GROUP BY topic",
            ("%AccompanimentRecorded",),
        ).fetchone()
    assert row is not None, "no accompaniment events recorded yet"
    return row[0], row[1]


def raw_insert_loop(conn: psycopg.Connection, topic: str, state: bytes, count: int) -> None:
    originator = uuid.uuid4()
    for version in range(1, count + 1):
        conn.execute(RAW_INSERT, (originator, version, topic, state), prepare=True)
