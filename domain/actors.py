"""Who acts, and when: stamped on every case event.

The service layer opens an ``acting_as`` block around each command, so the
aggregate's event base class can record the actor and the time without every
command method taking them as arguments. Both values are captured when the
event is created and stored with it; replay never consults the context.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from domain.errors import InvalidValue
from domain.vocabulary import Agency, Role


@dataclass(frozen=True)
class Actor:
    user_id: str
    role: Role
    agency: Agency
    district: str

    def __post_init__(self) -> None:
        if not self.user_id or len(self.user_id) > 128:
            raise InvalidValue("user_id", "must be 1 to 128 characters")
        object.__setattr__(self, "role", Role(self.role))
        object.__setattr__(self, "agency", Agency(self.agency))

    def as_record(self) -> dict[str, str]:
        return {
            "user_id": self.user_id,
            "role": self.role.value,
            "agency": self.agency.value,
            "district": self.district,
        }


_acting: ContextVar[tuple[Actor, datetime] | None] = ContextVar("acting", default=None)


class NoActorError(RuntimeError):
    """A case event was created outside an ``acting_as`` block."""


@contextmanager
def acting_as(actor: Actor, at: datetime) -> Iterator[None]:
    if at.tzinfo is None:
        raise ValueError("acting time must be timezone-aware")
    token = _acting.set((actor, at))
    try:
        yield
    finally:
        _acting.reset(token)


def current_actor_record() -> dict[str, str]:
    acting = _acting.get()
    if acting is None:
        raise NoActorError("case events must be created inside acting_as()")
    return acting[0].as_record()


def current_time() -> datetime:
    acting = _acting.get()
    if acting is None:
        raise NoActorError("case events must be created inside acting_as()")
    return acting[1]
