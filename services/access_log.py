"""The access log: who read which case, in which view, when and why; and who was refused.

Every read of a case's data is recorded before the data leaves the store, in
the same database round trip as the read itself where the store can do that.
If the record cannot be written, the read fails: an unattributable read of a
victim's file must not happen (fail closed).

Refusals are recorded too, without personal data: a caller whose token was
refused (401) by the view and the reason only (nothing of the token, no path
value), an identified caller refused a case (403, or 404 for a case they may
not see) by who they are, the view, the case id and the rule.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
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


class Outcome(StrEnum):
    """What became of an access."""

    GRANTED = "granted"  # the data was read
    DENIED = "denied"  # 403: the caller may not do this
    NOT_FOUND = "not_found"  # 404: no such case visible to the caller
    UNAUTHENTICATED = "unauthenticated"  # 401: no valid token


@dataclass(frozen=True)
class AccessRecord:
    """One access by an identified caller. ``case_id`` is None for reads across cases."""

    accessed_at: datetime
    user_id: str
    role: str
    agency: str
    district: str
    case_id: UUID | None
    view: str
    purpose: str | None
    request_id: str | None
    outcome: Outcome = Outcome.GRANTED
    reason: str | None = None  # the rule that refused it, for a refusal

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

    @classmethod
    def refusal(cls, actor: Actor, refused: "Refusal", at: datetime) -> "AccessRecord":
        return cls(
            accessed_at=at,
            user_id=actor.user_id,
            role=actor.role.value,
            agency=actor.agency.value,
            district=actor.district,
            case_id=refused.case_id,
            view=refused.view,
            purpose=None,
            request_id=refused.request_id,
            outcome=refused.outcome,
            reason=refused.reason,
        )


@dataclass(frozen=True)
class Refusal:
    """An identified caller refused: what they asked for (the view, the case if any) and why."""

    view: str
    outcome: Outcome
    reason: str
    case_id: UUID | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class FailedAuthentication:
    """A request whose token was missing or refused: only the view, the reason and the time."""

    attempted_at: datetime
    view: str
    reason: str


@dataclass(frozen=True)
class AccessEntry:
    """A stored access record, with its position in the log."""

    id: int
    record: AccessRecord
    # For a search (services/case_search.py), what it looked for, sealed.
    sealed_search_terms: bytes | None = None


class AccessLog(Protocol):
    """What the case store offers for recording and listing reads."""

    def record_access(self, record: AccessRecord) -> None:
        """Append one record, or raise AccessNotRecorded."""

    def record_failed_authentication(self, attempt: FailedAuthentication) -> None:
        """Append a refused token's trace, or raise AccessNotRecorded."""

    def record_search(self, record: AccessRecord, sealed_terms: bytes) -> None:
        """Append a search's record with its sealed terms, both or neither, or raise
        AccessNotRecorded."""

    def select_events_recording_access(
        self, originator_id: UUID, record: AccessRecord, *, lte: int | None = None
    ) -> Sequence[StoredEvent]:
        """A case's stored events, only if the record was appended with the same statement."""

    def select_access(self, query: "AccessQuery") -> list[AccessEntry]:
        """Records of one case or one user, oldest first, after a position in the log
        (identified callers only: a failed authentication names neither)."""


@dataclass(frozen=True)
class AccessQuery:
    """Which access records to list: one case's or one user's, after a position."""

    case_id: UUID | None = None
    user_id: str | None = None
    after: int = 0
    limit: int = 100
