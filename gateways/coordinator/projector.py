"""The coordinator projection: the open-case list and the time-standard dashboard, per batch.

It follows the event store directly rather than the Kafka topics. The
coordinating office owns the store, so there is no hop to add, no broker for
the office's own work to depend on, and the view is as fresh as a read of the
store can make it.

Each batch is grouped by case. A touched case is refolded from its whole
history (the time standards need all of it), which comes from a bounded cache
of the histories this process has seen, extended by the batch's events, or
from the store when the cache does not hold the case. That is one history
read per case per batch, not one per event.
"""

from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Tracking

from gateways.coordinator.store import CaseChange, CoordinatorStore
from projections.open_cases import CASE_TOPICS, open_case_rows
from projections.time_standards_dashboard import step_rows
from services.profiles import ProfileBook


class CaseHistories:
    """Whole case histories, oldest first: recently seen ones in memory, the rest from the store."""

    def __init__(self, application: Application[Any], *, max_cases: int = 2000) -> None:
        self.application = application
        self.max_cases = max_cases
        self._cache: OrderedDict[UUID, list[Any]] = OrderedDict()
        self.loads_from_store = 0

    def extended(self, case_id: UUID, new_events: Sequence[Any]) -> list[Any]:
        """The case's history up to the last of ``new_events`` (consecutive versions)."""
        first_new = new_events[0].originator_version
        cached = self._cache.get(case_id)
        if first_new == 1:
            history = list(new_events)
        elif cached is not None and len(cached) >= first_new - 1:
            # Versions are 1, 2, 3, ... so the first (first_new - 1) are the prefix.
            history = cached[: first_new - 1] + list(new_events)
        else:
            self.loads_from_store += 1
            history = list(
                self.application.events.get(case_id, lte=new_events[-1].originator_version)
            )
        self._cache[case_id] = history
        self._cache.move_to_end(case_id)
        while len(self._cache) > self.max_cases:
            self._cache.popitem(last=False)
        return history


class CoordinatorProjection:
    """The coordinating office's views of all its cases, one transaction per batch."""

    name = "coordinator"
    topics = CASE_TOPICS

    def __init__(
        self,
        store: CoordinatorStore,
        histories: CaseHistories,
        profiles: ProfileBook,
    ) -> None:
        self.store = store
        self.histories = histories
        self.profiles = profiles

    def position(self, application_name: str) -> int:
        return self.store.position(application_name)

    def process_batch(
        self, events: Sequence[Any], tracking: Tracking, *, after: int
    ) -> None:
        by_case: dict[UUID, list[Any]] = defaultdict(list)
        for event in events:
            by_case[event.originator_id].append(event)
        changes = [self.change(case_id, new_events) for case_id, new_events in by_case.items()]
        self.store.write(
            changes, tracking.application_name, after=after, to=tracking.notification_id
        )

    def change(self, case_id: UUID, new_events: Sequence[Any]) -> CaseChange:
        history = self.histories.extended(case_id, new_events)
        rows = open_case_rows(history)
        district = rows.case.district
        steps = step_rows(self.profiles.profile(district), history) if district in self.profiles else []
        return CaseChange(rows=rows, steps=steps)
