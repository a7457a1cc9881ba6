"""The base of every event Simpul records: it carries who acted, and when.

``recorded_fields`` separates what an event says from the stamp every event
carries (its aggregate, version, time, actor), for projections and the
published contract alike.
"""

from dataclasses import field
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from domain.actors import current_actor_record, current_time

# The fields every stored event has besides its own.
STAMP_FIELDS = frozenset(
    {"originator_id", "originator_version", "timestamp", "actor", "originator_topic"}
)


class ActedEvent(Aggregate.Event):
    actor: dict[str, str] = field(default_factory=current_actor_record, init=False)

    @staticmethod
    def create_timestamp() -> datetime:
        return current_time()


def recorded_fields(event: object) -> dict[str, Any]:
    """The event's own fields, by name, without the stamp."""
    return {name: value for name, value in vars(event).items() if name not in STAMP_FIELDS}
