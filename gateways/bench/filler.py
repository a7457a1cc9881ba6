"""Fill an event store quickly with realistic, replayable cases, through the real recorder.

A few template cases are made by the real domain and mapped to stored events
once; each filler case reuses a template's stored events under a new case id
(stored state does not contain the id). Rows go through the real recorder in
large batches, so every row carries real hashes and every case replays.
"""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from eventsourcing.persistence import StoredEvent

from tqdm import tqdm

from domain.actors import acting_as
from domain.case import Case
from gateways.bench.workload import COORDINATOR, DISTRICT
from services.cases import Cases

EVENTS_PER_CASE = 20
BATCH_EVENTS = 2_000


def _one_case(number: int, at: datetime) -> Case:
    with acting_as(COORDINATOR, at):
        case = Case.receive_report(
            case_id=uuid4(),
            district=DISTRICT,
            register_number=f"FILL/{number:07d}",
            channel="hotline",
            arrived_at=at - timedelta(minutes=10),
            chronology=f"Filler report {number}: shouting and crying heard from a house.",
            victim={"sex": "female", "age": 6 + number % 11, "village": "Baebunta"},
            reporter={"relationship_to_victim": "neighbour"},
        )
        case.classify(case_type="KTA", risk_level="medium", jurisdiction="district", emergency=False)
        case.record_consent(given=True, given_by="parent", document_ref=f"IC-{number}")
        for session in range(EVENTS_PER_CASE - 3):
            case.record_accompaniment(activity=f"Session {session}", notes="Mother present.")
    return case


TEMPLATES = 16


def fill(cases: Cases, total_events: int, *, progress: bool = True) -> int:
    """Record about ``total_events`` events; returns how many were recorded."""
    start = datetime.now(UTC) - timedelta(days=365)
    templates = [
        [cases.mapper.to_stored_event(event) for event in _one_case(n, start).collect_events()]
        for n in range(TEMPLATES)
    ]
    recorded = 0
    batch: list[StoredEvent] = []
    with tqdm(total=total_events, unit="event", disable=not progress, desc="filling") as bar:
        for number in range(total_events // EVENTS_PER_CASE):
            case_id = uuid4()
            batch.extend(
                StoredEvent(case_id, stored.originator_version, stored.topic, stored.state)
                for stored in templates[number % TEMPLATES]
            )
            if len(batch) >= BATCH_EVENTS:
                cases.recorder.insert_events(batch)
                recorded += len(batch)
                bar.update(len(batch))
                batch = []
        if batch:
            cases.recorder.insert_events(batch)
            recorded += len(batch)
            bar.update(len(batch))
    return recorded
