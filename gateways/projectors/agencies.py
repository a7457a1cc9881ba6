"""Agencies' inboxes rebuilt from the event store, not from the broker.

The event store is the source of truth: the messages an agency's topic carries
are derived again from the stored events (gateways/kafka/publication.py), so a
rebuild needs neither the broker's retention nor the relay's progress. One
follower derives every rebuilt agency's messages from one pass and folds each
agency's into a fresh schema, swapped in at the end (or kept beside the live
one, to compare).

A stored event whose messages cannot be derived (or that cannot be decoded)
sets its case aside (gateways/projectors/quarantine.py): that case's later
events are held back, never delivered out of order, and every other case is
built; the rebuild names the cases set aside.
"""

import logging
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from gateways.kafka.messages import agency_topic
from gateways.kafka.publication import Publication
from gateways.projectors.quarantine import SetAside, is_outage, reason_for
from gateways.projectors.runner import Batch, Runner
from gateways.readmodels.agency import AgencyRebuild, AgencyStore
from projections.open_cases import CASE_TOPICS
from services.cases import Cases
from services.sharing import SharingPolicy

log = logging.getLogger("simpul.projections")


class AgencyMessages:
    """Follower: every message each of some agencies' topics carries, derived per batch."""

    name = "agencies"
    topics = CASE_TOPICS

    def __init__(
        self, cases: Cases, policy: SharingPolicy, prefix: str, agencies: Sequence[str]
    ) -> None:
        self.publication = Publication(cases, policy, prefix)
        self.agency_of_topic = {agency_topic(prefix, agency): agency for agency in agencies}
        self._position = 0
        self.held: dict[UUID, SetAside] = {}

    @property
    def set_aside_count(self) -> int:
        return len(self.held)

    def position(self) -> int:
        return self._position

    def apply(self, batch: Batch) -> None:
        for unreadable in batch.undecodable:
            self._hold(unreadable)
        derived: dict[str, list[dict[str, Any]]] = {a: [] for a in self.agency_of_topic.values()}
        for item in batch.recorded:
            case_id = item.event.originator_id
            if case_id in self.held:
                continue
            try:
                messages = self.publication.messages(item.position, item.event)
            except Exception as error:
                if is_outage(error):
                    raise
                self._hold(SetAside(case_id, item.position, item.topic, reason_for(error)))
                continue
            for message in messages:
                agency = self.agency_of_topic.get(message.topic)
                if agency is not None:
                    derived[agency].append(message.cloud_event)
        self.receive(derived)
        self._position = batch.to

    def _hold(self, item: SetAside) -> None:
        if item.case_id in self.held:
            return
        self.held[item.case_id] = item
        # The case id and the error's type only: the event may hold personal data.
        log.error(
            "%s: case %s set aside at position %d (%s): %s; its later events are held back",
            self.name,
            item.case_id,
            item.position,
            item.event_topic,
            item.reason,
        )

    def receive(self, derived: dict[str, list[dict[str, Any]]]) -> None:
        """What a batch derived for each agency; subclasses keep it."""


class AgencyInboxesRebuild(AgencyMessages):
    """A rebuild of some agencies' inboxes: each into a fresh schema, swapped in at the end."""

    def __init__(
        self,
        cases: Cases,
        policy: SharingPolicy,
        prefix: str,
        stores: Sequence[AgencyStore],
        *,
        swap: bool = True,
    ) -> None:
        super().__init__(cases, policy, prefix, [store.agency for store in stores])
        self.swap = swap
        suffix = "__rebuild" if swap else "__verify"
        self.rebuilds: dict[str, AgencyRebuild] = {
            store.agency: store.start_rebuild(suffix=suffix) for store in stores
        }
        self.schemas: dict[str, str] = {}

    def receive(self, derived: dict[str, list[dict[str, Any]]]) -> None:
        for agency, cloud_events in derived.items():
            if cloud_events:
                self.rebuilds[agency].add(cloud_events)

    def finish(self) -> str:
        for agency, rebuild in self.rebuilds.items():
            self.schemas[agency] = rebuild.finish(swap=self.swap)
        names = ", ".join(self.schemas.values())
        built = f"agencies: {names}" + ("" if self.swap else " (kept beside the live ones)")
        if self.held:
            built += f"; {len(self.held)} cases set aside: " + ", ".join(
                f"{item.case_id} ({item.reason} at position {item.position})"
                for item in self.held.values()
            )
        return built


class _Collected(AgencyMessages):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.collected: list[dict[str, Any]] = []

    def receive(self, derived: dict[str, list[dict[str, Any]]]) -> None:
        for cloud_events in derived.values():
            self.collected.extend(cloud_events)


def derived_agency_events(
    cases: Cases, policy: SharingPolicy, prefix: str, agency: str, *, batch_size: int = 1000
) -> list[dict[str, Any]]:
    """Every CloudEvent the relay publishes (or will) on one agency's topic, in order."""
    collector = _Collected(cases, policy, prefix, [agency])
    Runner(cases, [collector], batch_size=batch_size).catch_up()
    return collector.collected
