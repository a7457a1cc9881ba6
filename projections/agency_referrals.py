"""One agency's referrals inbox, folded from the messages on its own topic.

An agency never sees the case's own events: its projection is built from the
CloudEvents the sharing policy (services/sharing.py) allows onto its topic.
Each message updates the cases it knows (the facts it may see, open or
closed) and its referrals (status, due time from the district's time
standard). The fold writes through a view, so the same projection fills an
in-memory view in tests and the agency's PostgreSQL schema in production;
the caller applies a message and records it as applied in one transaction.

A closing message also dates the end of the referrals it settles: their part
in the case closed then, and the retention of their personal data (see
services.sharing.AgencyRetention) runs from that moment, even if the case is
opened to the agency again later.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

OPEN = "open"
CLOSED = "closed"
HANDED_OVER = "handed_over"

OPENED = "id.simpul.agency.case.opened.v1"
UPDATED = "id.simpul.agency.case.updated.v1"
REFERRAL_RECEIVED = "id.simpul.agency.referral.received.v1"
REFERRAL_UPDATED = "id.simpul.agency.referral.updated.v1"
CASE_HANDED_OVER = "id.simpul.agency.case.handed_over.v1"
CASE_CLOSED = "id.simpul.agency.case.closed.v1"
HANDOVER_UPDATED = "id.simpul.agency.handover.updated.v1"
DOCUMENT_SHARED = "id.simpul.agency.document.shared.v1"
BENEFICIARY_SHARED = "id.simpul.agency.beneficiary.shared.v1"

REFERRAL_DETAIL_FIELDS = ("notes", "reason", "outcome", "delivered_on", "summary")


class UnknownMessageType(ValueError):
    """A message type this projection cannot fold; the runner dead-letters it."""


@dataclass(frozen=True)
class CaseSnapshot:
    """What the agency now knows of a case (``case.opened`` / ``case.updated``)."""

    case_id: str
    district: str
    register_number: str
    facts: dict[str, Any]
    status: str
    at: str
    sequence: int


@dataclass(frozen=True)
class SharedDocument:
    """A document of the case the agency may fetch (``document.shared``): what it is, never
    what it holds (the agency fetches the content from the API)."""

    document_id: str
    kind: str
    step: str
    media_type: str
    size: int
    sha256: str
    attached_at: str


@dataclass(frozen=True)
class SharedBeneficiary:
    """A beneficiary added to the case whom the agency's referrals are for
    (``beneficiary.shared``): what it may know of them, replacing what it held."""

    beneficiary_id: str
    referral_ids: list[str]
    child: bool
    relationship: str
    person: dict[str, Any]


@dataclass(frozen=True)
class NewReferral:
    """A referral the agency received (``referral.received``), pending."""

    referral_id: str
    case_id: str
    district: str
    service_type: str
    emergency: bool
    due_at: str
    referred_at: str
    notes: str
    referral_record_ref: str


class ReferralsView(ABC):
    """Where the projection writes: one agency's cases and referrals."""

    @abstractmethod
    def put_case(self, case: CaseSnapshot) -> None:
        """Insert the case, or replace its facts and status if known."""

    @abstractmethod
    def close_case(self, case_id: str, *, status: str, reason: str, at: str, sequence: int) -> None:
        """Mark the case closed (or handed over) for this agency, and date the end of the
        part its referrals not yet closed belong to (``part_closed_at``)."""

    @abstractmethod
    def put_referral(self, referral: NewReferral) -> None:
        """Insert a new referral (pending)."""

    @abstractmethod
    def set_referral_status(
        self, referral_id: str, *, status: str, at: str, details: dict[str, Any]
    ) -> None:
        """Change a known referral's status, merging the details of the change."""

    @abstractmethod
    def set_handover_answer(self, case_id: str, answer: dict[str, str] | None) -> None:
        """Record the agency's answer to a case handed over to it: its ``status``
        (acknowledged, handed_back) and ``at``; None while it awaits one.

        Only the status and time: the answer's texts are the agency's own, on its topic,
        and the inbox keeps no free text it would have to remove at retention.
        """

    @abstractmethod
    def add_document(self, case_id: str, document: SharedDocument) -> None:
        """List a document of the case the agency may fetch (once, however often told)."""

    @abstractmethod
    def put_beneficiary(self, case_id: str, beneficiary: SharedBeneficiary) -> None:
        """Hold what the agency may know of one beneficiary of the case, replacing the last."""

    @abstractmethod
    def count_message(self, case_id: str) -> None:
        """One more message applied for the case (a repeat would show in this count)."""


class AgencyReferralsProjection:
    """The referrals inbox of one agency: its cases, their facts, its referrals' statuses."""

    def __init__(self) -> None:
        self._handlers: dict[str, Callable[[dict[str, Any], ReferralsView], None]] = {
            OPENED: self._case_snapshot,
            UPDATED: self._case_snapshot,
            REFERRAL_RECEIVED: self._referral_received,
            REFERRAL_UPDATED: self._referral_updated,
            CASE_HANDED_OVER: self._case_handed_over,
            CASE_CLOSED: self._case_closed,
            HANDOVER_UPDATED: self._handover_updated,
            DOCUMENT_SHARED: self._document_shared,
            BENEFICIARY_SHARED: self._beneficiary_shared,
        }

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(self._handlers)

    def process(self, message: dict[str, Any], view: ReferralsView) -> None:
        handler = self._handlers.get(message.get("type", ""))
        if handler is None:
            raise UnknownMessageType(message.get("type"))
        handler(message, view)
        view.count_message(message["data"]["case_id"])

    def _case_snapshot(self, message: dict[str, Any], view: ReferralsView) -> None:
        data = message["data"]
        view.put_case(
            CaseSnapshot(
                case_id=data["case_id"],
                district=data["district"],
                register_number=data["register_number"],
                facts=data["facts"],
                status=OPEN,
                at=message["time"],
                sequence=message["simpulsequence"],
            )
        )

    def _referral_received(self, message: dict[str, Any], view: ReferralsView) -> None:
        data = message["data"]
        fields = {name: data[name] for name in NewReferral.__dataclass_fields__}
        view.put_referral(NewReferral(**fields))

    def _referral_updated(self, message: dict[str, Any], view: ReferralsView) -> None:
        data = message["data"]
        details = {key: data[key] for key in REFERRAL_DETAIL_FIELDS if data.get(key) is not None}
        view.set_referral_status(
            data["referral_id"], status=data["status"], at=data["at"], details=details
        )

    def _final_statuses(self, data: dict[str, Any], view: ReferralsView) -> None:
        for referral in data["referrals"]:
            view.set_referral_status(
                referral["referral_id"], status=referral["status"], at=data["at"], details={}
            )

    def _case_handed_over(self, message: dict[str, Any], view: ReferralsView) -> None:
        data = message["data"]
        self._final_statuses(data, view)
        view.close_case(
            data["case_id"],
            status=HANDED_OVER,
            reason=f"handed_over:{data['target']}",
            at=data["at"],
            sequence=message["simpulsequence"],
        )
        # A case handed over again after a hand-back awaits a new answer.
        view.set_handover_answer(data["case_id"], None)

    def _case_closed(self, message: dict[str, Any], view: ReferralsView) -> None:
        data = message["data"]
        self._final_statuses(data, view)
        view.close_case(
            data["case_id"],
            status=CLOSED,
            reason=data["reason"],
            at=data["at"],
            sequence=message["simpulsequence"],
        )

    def _handover_updated(self, message: dict[str, Any], view: ReferralsView) -> None:
        data = message["data"]
        view.set_handover_answer(data["case_id"], {"status": data["status"], "at": data["at"]})

    def _document_shared(self, message: dict[str, Any], view: ReferralsView) -> None:
        data = message["data"]
        fields = {name: data[name] for name in SharedDocument.__dataclass_fields__}
        view.add_document(data["case_id"], SharedDocument(**fields))

    def _beneficiary_shared(self, message: dict[str, Any], view: ReferralsView) -> None:
        data = message["data"]
        fields = {name: data[name] for name in SharedBeneficiary.__dataclass_fields__}
        view.put_beneficiary(data["case_id"], SharedBeneficiary(**fields))
