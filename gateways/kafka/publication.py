"""What Simpul publishes for each stored case event: the internal message and each agency's.

Deterministic: the same stored events give byte-identical messages (ids and
contents derive from the stored events alone), so a relay republishing after a
crash sends repeats that consumers drop by id, and a rebuild derives exactly
what the agencies' topics carry.

The sharing state of a case is not stored: it is the sharing policy folded
over the case's earlier events, kept in memory (a bounded cache) and re-read
from the event store for a case not seen recently. That keeps a second copy
of personal data out of the database, and makes a restart produce exactly
what an uninterrupted run would have.
"""

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.case import Case
from gateways.kafka.messages import (
    agency_cloud_event,
    agency_topic,
    cases_topic,
    internal_cloud_event,
)
from services.cases import Cases
from services.sharing import CaseSharing, SharingPolicy

STATE_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class Outgoing:
    """One message to publish: its topic, key (the case id) and CloudEvent, not yet signed
    (the relay signs it as it sends it: gateways/kafka/signing.py)."""

    topic: str
    key: bytes
    cloud_event: dict[str, Any]


class Publication:
    """Stored case events, in notification order, to the messages they cause."""

    def __init__(self, cases: Cases, policy: SharingPolicy, prefix: str) -> None:
        self.cases = cases
        self.policy = policy
        self.prefix = prefix
        self._states: OrderedDict[str, CaseSharing] = OrderedDict()

    def forget(self) -> None:
        """Drop the cached sharing states (after a failed batch they may run ahead)."""
        self._states.clear()

    def _state_before(self, case_id: UUID, version: int) -> CaseSharing:
        key = str(case_id)
        state = self._states.pop(key, None)
        if state is None or state.version != version - 1:
            earlier = self.cases.history(case_id, lte=version - 1) if version > 1 else []
            state = self.policy.replay(key, earlier)
        self._states[key] = state
        if len(self._states) > STATE_CACHE_SIZE:
            self._states.popitem(last=False)
        return state

    def messages(self, position: int, event: object) -> list[Outgoing]:
        """The messages of the event stored at ``position``: none for the register's numbers."""
        if not isinstance(event, Case.Event):
            return []
        state = self._state_before(event.originator_id, event.originator_version)
        key = str(event.originator_id).encode()
        outgoing = [Outgoing(cases_topic(self.prefix), key, internal_cloud_event(event, position))]
        counts: dict[str, int] = {}
        for message in self.policy.share(state, event):
            index = counts.get(message.agency, 0)
            counts[message.agency] = index + 1
            outgoing.append(
                Outgoing(
                    agency_topic(self.prefix, message.agency),
                    key,
                    agency_cloud_event(message, event, index, position),
                )
            )
        return outgoing
