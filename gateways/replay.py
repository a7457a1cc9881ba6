"""`simpul replay`: rebuild every projection from the event store.

Each projection that can be rebuilt registers one line in ``REBUILDS``: its
name and the ``module:function`` of its rebuild. A rebuild is a function

    def rebuild(context: ReplayContext, progress: Progress) -> int

that replays the store into its projection, calls ``progress.expect(total)``
once it knows how much there is and ``progress.advance(n)`` as it goes, and
returns how many events it replayed. Functions are named by topic and loaded
only when run, so adding one never changes what this module imports.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import resolve_topic
from psycopg.rows import tuple_row
from psycopg.sql import SQL

from domain.time_standards import case_milestones
from gateways.eventstore.verify import CASES_TABLES
from gateways.runtime import build_cases
from projections.case_file import CaseFile
from projections.timeline import summaries
from services.cases import Cases
from services.settings import Settings

REBUILDS: dict[str, str] = {
    "case_files": "gateways.replay:rebuild_case_files",
    "coordinator": "gateways.coordinator.running:replay",
    "agencies": "gateways.kafka.commands:replay_agencies",
}


class Progress(Protocol):
    def expect(self, total: int) -> None: ...

    def advance(self, count: int) -> None: ...


@dataclass
class ReplayContext:
    settings: Settings
    database_url: str

    @cached_property
    def cases(self) -> Cases:
        return build_cases(self.settings, self.database_url)

    def close(self) -> None:
        if "cases" in self.__dict__:
            self.cases.close()


def rebuild(name: str, context: ReplayContext, progress: Progress) -> int:
    function: Any = resolve_topic(REBUILDS[name])
    count: int = function(context, progress)
    return count


CASE_TOPIC_PREFIX = "domain.case:Case."
BATCH_SIZE = 2000


def _case_histories(conn: psycopg.Connection[Any]) -> Iterator[list[StoredEvent]]:
    """Every case's stored events, one case at a time, from a server-side cursor."""
    query = SQL(
        "SELECT originator_id, originator_version, topic, state FROM {events} "
        "WHERE topic LIKE %s ORDER BY originator_id, originator_version"
    ).format(events=CASES_TABLES.identifier(CASES_TABLES.events))
    history: list[StoredEvent] = []
    with conn.transaction(), conn.cursor(
        name="simpul_replay_cases", binary=True, row_factory=tuple_row
    ) as cursor:
        cursor.execute(query, (CASE_TOPIC_PREFIX + "%",))
        while rows := cursor.fetchmany(BATCH_SIZE):
            for originator_id, version, topic, state in rows:
                if history and history[0].originator_id != originator_id:
                    yield history
                    history = []
                history.append(StoredEvent(originator_id, version, topic, bytes(state)))
    if history:
        yield history


def rebuild_case_files(context: ReplayContext, progress: Progress) -> int:
    """Fold every case's history into its case file, timeline and milestones.

    The case file and timeline are computed on read, so nothing is written:
    this proves every recorded history still folds with the code deployed,
    the check to run before a change to a fold or an event goes live.
    """
    cases = context.cases
    with psycopg.connect(context.database_url) as conn:
        total = conn.execute(
            SQL("SELECT count(*) FROM {events} WHERE topic LIKE %s").format(
                events=CASES_TABLES.identifier(CASES_TABLES.events)
            ),
            (CASE_TOPIC_PREFIX + "%",),
        ).fetchone()
        progress.expect(int(total[0]) if total else 0)
        replayed = 0
        for stored in _case_histories(conn):
            events: Iterable[Any] = [cases.mapper.to_domain_event(event) for event in stored]
            history = list(events)
            CaseFile.from_events(history)
            summaries(history)
            case_milestones(history)
            replayed += len(history)
            progress.advance(len(history))
    return replayed
