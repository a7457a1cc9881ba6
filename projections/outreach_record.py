"""The outreach record: one outreach's map, verification, visits, grade and outcome.

A pure fold of the outreach's events, one handler per event type, like the
case file: the API folds what it has just read (and recorded in the access
log) from the store, so the record is never behind its history and no second
copy of the observations' personal data is kept in a table. The list form
(``OutreachSummary``) carries no free text: the kelurahan, counts, where the
outreach stands and its case, for the office's overview of the district.
"""

from collections.abc import Sequence
from datetime import datetime
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from domain.outreach import Outreach, step_of


class VisitEntry(BaseModel):
    """K-O4: one home visit, its observation (personal data)."""

    visited_at: datetime
    visitors: list[str]
    observation: str
    recorded_by: str
    recorded_at: datetime


class InformationEntry(BaseModel):
    """K-O3: information from another institution, the media, etc."""

    source: str
    summary: str
    recorded_at: datetime


class OutreachSummary(BaseModel):
    """An outreach in the district's list: no names, no observations."""

    outreach_id: UUID
    district: str
    kelurahan: str
    data_source: str
    data_as_of: str
    poor_families: int
    vulnerable_children: int
    status: str = Field(description="mapped, verified, observed, graded, became_case or closed")
    last_step: str = Field(description="The SOP step last recorded (K-O1 ... K-O5, K-R1)")
    verification: str | None = None
    risk: str | None = None
    visits: int = 0
    case_id: UUID | None = None
    register_number: str | None = None
    closing_reason: str | None = None
    version: int
    mapped_at: datetime
    updated_at: datetime


class OutreachRecord(OutreachSummary):
    """The whole record of one outreach, for its office and auditors."""

    verification_note: str = ""
    risk_reason: str = ""
    closing_note: str = ""
    information: list[InformationEntry] = Field(default_factory=list)
    home_visits: list[VisitEntry] = Field(default_factory=list)


class _Fold:
    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.information: list[InformationEntry] = []
        self.visits: list[VisitEntry] = []

    def apply(self, recorded: Outreach.Event) -> None:
        if not self.fields and not isinstance(recorded, Outreach.VulnerabilityMapped):
            raise ValueError("an outreach's history starts with its VulnerabilityMapped event")
        self.on(recorded)
        self.fields["version"] = recorded.originator_version
        self.fields["updated_at"] = recorded.timestamp
        self.fields["last_step"] = step_of(recorded)

    @singledispatchmethod
    def on(self, recorded: Outreach.Event) -> None:
        raise TypeError(f"no fold for {type(recorded).__name__}")

    @on.register
    def _mapped(self, recorded: Outreach.VulnerabilityMapped) -> None:
        self.fields.update(
            outreach_id=recorded.originator_id,
            district=recorded.district,
            kelurahan=recorded.kelurahan,
            data_source=recorded.data_source,
            data_as_of=recorded.data_as_of,
            poor_families=recorded.poor_families,
            vulnerable_children=recorded.vulnerable_children,
            status="mapped",
            mapped_at=recorded.timestamp,
        )

    @on.register
    def _verified(self, recorded: Outreach.InitialDataVerified) -> None:
        self.fields.update(
            verification=recorded.finding, verification_note=recorded.note, status="verified"
        )

    @on.register
    def _information(self, recorded: Outreach.InformationReceived) -> None:
        self.information.append(
            InformationEntry(
                source=recorded.source, summary=recorded.summary, recorded_at=recorded.timestamp
            )
        )

    @on.register
    def _visited(self, recorded: Outreach.HomeVisitObserved) -> None:
        self.visits.append(
            VisitEntry(
                visited_at=recorded.visited_at,
                visitors=list(recorded.visitors),
                observation=recorded.observation,
                recorded_by=recorded.actor.get("user_id", ""),
                recorded_at=recorded.timestamp,
            )
        )
        self.fields["visits"] = len(self.visits)
        if self.fields["status"] == "verified":
            self.fields["status"] = "observed"

    @on.register
    def _graded(self, recorded: Outreach.RiskGraded) -> None:
        self.fields.update(risk=recorded.risk, risk_reason=recorded.reason, status="graded")

    @on.register
    def _became_case(self, recorded: Outreach.BecameCase) -> None:
        self.fields.update(
            case_id=recorded.case_id,
            register_number=recorded.register_number,
            status="became_case",
        )

    @on.register
    def _closed(self, recorded: Outreach.ClosedWithoutCase) -> None:
        self.fields.update(
            closing_reason=recorded.reason, closing_note=recorded.note, status="closed"
        )


def _folded(events: Sequence[Outreach.Event]) -> _Fold:
    fold = _Fold()
    for recorded in events:
        fold.apply(recorded)
    if not fold.fields:
        raise ValueError("an outreach's history starts with its VulnerabilityMapped event")
    return fold


def outreach_record(events: Sequence[Outreach.Event]) -> OutreachRecord:
    fold = _folded(events)
    return OutreachRecord(**fold.fields, information=fold.information, home_visits=fold.visits)


def outreach_summary(events: Sequence[Outreach.Event]) -> OutreachSummary:
    fields = _folded(events).fields
    return OutreachSummary(**{name: fields[name] for name in fields if name in _SUMMARY_FIELDS})


_SUMMARY_FIELDS = frozenset(OutreachSummary.model_fields)
