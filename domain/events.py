"""The base of every event Simpul records: it carries who acted, and when."""

from dataclasses import field
from datetime import datetime

from eventsourcing.domain import Aggregate

from domain.actors import current_actor_record, current_time


class ActedEvent(Aggregate.Event):
    actor: dict[str, str] = field(default_factory=current_actor_record, init=False)

    @staticmethod
    def create_timestamp() -> datetime:
        return current_time()
