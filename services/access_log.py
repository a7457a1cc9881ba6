"""The access log: who read which case, in which view, when and why.

Every read of a case's data is recorded before the data leaves the store, in
the same database round trip as the read itself where the store can do that.
If the record cannot be written, the read fails: an unattributable read of a
victim's file must not happen (fail closed).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from domain.actors import Actor

MAX_PURPOSE_LENGTH = 200
MAX_REQUEST_ID_LENGTH = 64


class AccessNotRecorded(Exception):
    """The access record could not be written, so the read was refused and returned nothing."""

    def __init__(self) -> None:
        super().__init__("the access could not be recorded, so the case was not read")


@dataclass(frozen=True)
class CaseRead:
    """How a caller reads case data: the view (what they see) and, if given, why."""

    view: str
    purpose: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class AccessRecord:
    """One read, attributed. ``case_id`` is None for reads across cases (an actor's log)."""

    accessed_at: datetime
    user_id: str
    role: str
    agency: str
    district: str
    case_id: UUID | None
    view: str
    purpose: str | None
    request_id: str | None

    @classmethod
    def of(cls, actor: Actor, case_id: UUID | None, read: CaseRead, at: datetime) -> "AccessRecord":
        return cls(
            accessed_at=at,
            user_id=actor.user_id,
            role=actor.role.value,
            agency=actor.agency.value,
            district=actor.district,
            case_id=case_id,
            view=read.view,
            purpose=read.purpose,
            request_id=read.request_id,
        )


@dataclass(frozen=True)
class AccessEntry:
    """A stored access record, with its position in the log."""

    id: int
    record: AccessRecord


class AccessLog(Protocol):
    """What the case store offers for recording and listing reads."""

    def record_access(self, record: AccessRecord) -> None:
        """Append one record, or raise AccessNotRecorded."""

    def select_events_recording_access(
        self, originator_id: UUID, record: AccessRecord, *, lte: int | None = None
    ) -> Sequence[StoredEvent]:
        """A case's stored events, only if the record was appended with the same statement."""

    def select_access(self, query: "AccessQuery") -> list[AccessEntry]:
        """Records of one case or one user, oldest first, after a position in the log."""


@dataclass(frozen=True)
class AccessQuery:
    """Which access records to list: one case's or one user's, after a position."""

    case_id: UUID | None = None
    user_id: str | None = None
    after: int = 0
    limit: int = 100
