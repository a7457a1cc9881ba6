"""The coordinator's open-case list: one row per case, one row per referral, for triage.

The coordinating office (UPTD PPA) sorts and filters its cases by stage,
risk, case type, agency, case worker and overdue step. The row holds what that
needs and nothing more: no name, no chronology, no address of anyone. Personal
data is read through the case file, where each read is attributable.

A case's rows are a pure function of its history, folded here one handler per
event type. The runner refolds a case whenever a batch brings new events for
it, so the rows always equal the fold of the history up to the tracked
position: re-applying a batch cannot double-count, and a rebuild converges to
the same rows. Status transitions follow the aggregate's event bodies
(domain/case.py), as the case file does.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.case import CASE_EVENT_TYPES, Case, referral_status_after, stage_after
from domain.vocabulary import (
    ANSWERED_REFERRAL_STATUSES,
    SETTLED_REFERRAL_STATUSES,
    ReferralStatus,
    Stage,
)

# Every case event changes the row (its version and update time at least), so
# the coordinator follows them all; register events in the same table are left out.
CASE_TOPICS: tuple[str, ...] = tuple(get_topic(cls) for cls in CASE_EVENT_TYPES)

_SETTLED = frozenset(status.value for status in SETTLED_REFERRAL_STATUSES)


@dataclass(frozen=True)
class ReferralLine:
    """One referral of the case to an agency (L4.1) and where it stands."""

    case_id: UUID
    referral_id: str
    district: str
    agency: str
    service_type: str
    status: str
    emergency: bool
    referred_at: datetime
    due_at: datetime | None
    answered_at: datetime | None = None
    settled_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status not in _SETTLED


@dataclass(frozen=True)
class PendingRecommendation:
    """A referral the case worker proposed (K-C7) that no supervisor has approved or
    returned yet (K-C8). ``proposed_by`` is a user id, kept so nobody is asked to approve
    their own proposal; the rationale stays in the case file."""

    case_id: UUID
    recommendation_id: str
    district: str
    agency: str
    service_type: str
    proposed_by: str
    proposed_at: datetime


@dataclass(frozen=True)
class OpenCase:
    """The triage row of one case: no personal data, only what the office sorts by."""

    case_id: UUID
    register_number: str
    district: str
    stage: str
    status: str  # open | closed
    reported_at: datetime  # when the report was recorded (L1.2)
    updated_at: datetime
    version: int
    case_type: str | None = None
    risk_level: str | None = None
    jurisdiction: str | None = None
    emergency: bool = False
    case_worker_id: str | None = None
    closure: str | None = None  # e.g. terminated:recovered, handed_over:patbm
    closed_at: datetime | None = None
    open_referral_agencies: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaseRows:
    case: OpenCase
    referrals: tuple[ReferralLine, ...] = field(default=())
    pending_recommendations: tuple[PendingRecommendation, ...] = field(default=())


class _OpenCaseFold:
    """Applies a case's events after its report, one handler per event type.

    Events without a handler still move the row's version and update time:
    every event is activity on the case. The fold works on plain dicts and
    builds the frozen rows once at the end, since a rebuild refolds every case.
    """

    def __init__(self, report: Case.ReportReceived) -> None:
        self.case: dict[str, Any] = {
            "case_id": report.originator_id,
            "register_number": report.register_number,
            "district": report.district,
            "stage": Stage.IDENTIFICATION.value,
            "status": "open",
            "reported_at": report.timestamp,
            "updated_at": report.timestamp,
            "version": report.originator_version,
        }
        self.referrals: dict[str, dict[str, Any]] = {}
        self.pending_recommendations: dict[str, PendingRecommendation] = {}

    @singledispatchmethod
    def apply(self, event: Case.Event) -> None:
        pass

    @apply.register(Case.ReportReceived)
    def _report_received_again(self, event: Case.ReportReceived) -> None:
        raise ValueError("a case has one ReportReceived event, its first")

    @apply.register(Case.RiskClassified)
    def _risk_classified(self, event: Case.RiskClassified) -> None:
        self.case.update(
            case_type=event.case_type,
            risk_level=event.risk_level,
            jurisdiction=event.jurisdiction,
            emergency=bool(event.emergency),
        )

    @apply.register(Case.CaseWorkerAssigned)
    def _case_worker_assigned(self, event: Case.CaseWorkerAssigned) -> None:
        self.case["case_worker_id"] = event.case_worker_id

    @apply.register(Case.Referred)
    def _referred(self, event: Case.Referred) -> None:
        self.referrals[event.referral_id] = {
            "case_id": self.case["case_id"],
            "referral_id": event.referral_id,
            "district": self.case["district"],
            "agency": event.agency,
            "service_type": event.service_type,
            "status": ReferralStatus.PENDING.value,
            "emergency": bool(event.emergency),
            "referred_at": event.timestamp,
            "due_at": event.due_at,
        }

    @apply.register(Case.ReferralRecommended)
    def _referral_recommended(self, event: Case.ReferralRecommended) -> None:
        self.pending_recommendations[event.recommendation_id] = PendingRecommendation(
            case_id=self.case["case_id"],
            recommendation_id=event.recommendation_id,
            district=self.case["district"],
            agency=event.agency,
            service_type=event.service_type,
            proposed_by=event.actor.get("user_id", ""),
            proposed_at=event.timestamp,
        )

    @apply.register(Case.RecommendationApproved)
    def _recommendation_approved(self, event: Case.RecommendationApproved) -> None:
        self.pending_recommendations.pop(event.recommendation_id, None)

    @apply.register(Case.RecommendationReturned)
    def _recommendation_returned(self, event: Case.RecommendationReturned) -> None:
        self.pending_recommendations.pop(event.recommendation_id, None)

    @apply.register(Case.HandedOver)
    def _handed_over(self, event: Case.HandedOver) -> None:
        self._close(f"handed_over:{event.target}", event.timestamp)

    @apply.register(Case.HandedBack)
    def _handed_back(self, event: Case.HandedBack) -> None:
        # Back in the office's triage list, unclassified until classified again (L1.5).
        self.case.update(
            status="open",
            closure=None,
            closed_at=None,
            case_type=None,
            risk_level=None,
            jurisdiction=None,
            emergency=False,
        )

    @apply.register(Case.Terminated)
    def _terminated(self, event: Case.Terminated) -> None:
        self._close(f"terminated:{event.reason}", event.timestamp)

    def moved(self, event: Case.Event) -> None:
        """What every event moves, by the domain's own rules: stage, a referral's status."""
        self.case["stage"] = stage_after(Stage(self.case["stage"]), event).value
        referral_moved = referral_status_after(event)
        if referral_moved is None or isinstance(event, Case.Referred):
            return
        referral_id, status = referral_moved
        referral = self.referrals.get(referral_id)
        if referral is None:
            raise ValueError("an event refers to a referral the case never made")
        referral["status"] = status.value
        if status in ANSWERED_REFERRAL_STATUSES:
            referral.setdefault("answered_at", event.timestamp)
        if status in SETTLED_REFERRAL_STATUSES:
            referral.setdefault("settled_at", event.timestamp)

    def _close(self, closure: str, at: datetime) -> None:
        # The aggregate ends open referrals with the case (Case._end_open_referrals).
        for referral in self.referrals.values():
            if referral["status"] not in _SETTLED:
                referral["status"] = ReferralStatus.CANCELLED.value
                referral["settled_at"] = at
        # Nothing is left to approve on a closed case: the aggregate refuses it (_require_open).
        self.pending_recommendations.clear()
        self.case.update(status="closed", closure=closure, closed_at=at)

    def rows(self) -> CaseRows:
        referrals = tuple(ReferralLine(**referral) for referral in self.referrals.values())
        agencies = sorted({r.agency for r in referrals if r.is_open})
        return CaseRows(
            case=OpenCase(**self.case, open_referral_agencies=tuple(agencies)),
            referrals=referrals,
            pending_recommendations=tuple(self.pending_recommendations.values()),
        )


_dispatch = vars(_OpenCaseFold)["apply"].dispatcher.dispatch


def open_case_rows(history: Iterable[Any]) -> CaseRows:
    """Fold one case's history, oldest first and starting with its report, into its rows."""
    events: Sequence[Any] = history if isinstance(history, Sequence) else list(history)
    if not events or not isinstance(events[0], Case.ReportReceived):
        raise ValueError("a case's history starts with its ReportReceived event")
    fold = _OpenCaseFold(events[0])
    previous = events[0]
    for event in events[1:]:
        if event.originator_version != previous.originator_version + 1:
            raise ValueError(
                f"event versions must be consecutive: version {previous.originator_version} "
                f"is followed by {event.originator_version}"
            )
        # The dispatcher itself: singledispatchmethod builds a new bound wrapper on
        # every attribute access, which a rebuild would pay once per event.
        _dispatch(type(event))(fold, event)
        fold.moved(event)
        previous = event
    fold.case.update(version=previous.originator_version, updated_at=previous.timestamp)
    return fold.rows()
