"""Cases a store-following projection could not apply, set aside so that every other goes on.

A projection that folds a case and writes its rows can meet an event it
cannot apply: a value the database refuses (a NUL stored by code older than
the API's text rules), a fold that raises on a history today's code does not
expect, or a stored event today's code cannot decode. Retrying the batch
forever would stop every case of every district behind it. Instead the case
is set aside with the reason, its earlier rows stay as they were, an error is
logged and counted, and the projection moves on. The case is tried again
whenever a later event touches it, when its projector starts, and in every
rebuild; it leaves the quarantine once it applies.

The reason is the error's type (and SQLSTATE), never its message: a message
may quote the value, and the value may be a victim's name.
"""

from dataclasses import dataclass
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
    DataError,
    IntegrityError,
    MapperDeserialisationError,
    PersistenceError,
)


@dataclass(frozen=True)
class SetAside:
    """One case set aside: where in the store it failed, on which event, and why."""

    case_id: UUID
    position: int
    event_topic: str
    reason: str


def reason_for(error: BaseException) -> str:
    """The error's type and, for a database refusal, its SQLSTATE; nothing it quotes."""
    sqlstate = getattr(error, "sqlstate", None)
    name = type(error).__name__
    return f"{name} (SQLSTATE {sqlstate})" if sqlstate else name


def is_outage(error: BaseException) -> bool:
    """The database (or the store) away: the batch is retried, no case is set aside."""
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        return True
    return isinstance(error, PersistenceError) and not isinstance(
        error, DataError | IntegrityError | MapperDeserialisationError
    )
