"""Fill an event store quickly with realistic, replayable cases, through the real recorder.

A few template cases (``benchmarks.audit.build_case``: report, classification,
assignment, consent, accompaniment) are mapped to stored events once; each
filler case reuses a template's stored events under a new case id (stored state
does not contain the id). Rows go through the real recorder in large batches,
so every row carries real hashes and every case replays.
"""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from eventsourcing.persistence import StoredEvent
from tqdm import tqdm

from benchmarks.audit import build_case
from services.cases import Cases

EVENTS_PER_CASE = 20
BATCH_EVENTS = 2_000
TEMPLATES = 16


def fill(cases: Cases, total_events: int, *, progress: bool = True) -> int:
    """Record about ``total_events`` events; returns how many were recorded."""
    start = datetime.now(UTC) - timedelta(days=365)
    templates = [
        [
            cases.mapper.to_stored_event(event)
            for event in build_case(uuid4(), n, EVENTS_PER_CASE, start).collect_events()
        ]
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
