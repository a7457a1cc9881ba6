"""Whole case histories for projections that refold a case from all its events.

A batch brings a case's newest events; the coordinator's time standards (and
the case-file check) need the whole history. Recently seen histories stay in
memory, extended by each batch; the others are read from the store once.
That is one history read per case per batch at most, not one per event.
"""

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import Application


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


def by_case(events: Sequence[Any]) -> dict[UUID, list[Any]]:
    """A batch's events grouped by case, each group in version order."""
    grouped: dict[UUID, list[Any]] = {}
    for event in events:
        grouped.setdefault(event.originator_id, []).append(event)
    return grouped
