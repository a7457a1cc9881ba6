"""The outreach service: Kutai Timur's penjangkauan (K-O1-K-O5) and its becoming a case (K-R1).

Outreach records live in the case store, beside the cases and the register
(one event store, one notification log): that is what lets an outreach become a
case in one transaction. The new case (its ReportReceived, channel outreach,
and its OpenedFromOutreach naming the outreach), its register number and the
outreach's BecameCase naming the case are saved together, so no outreach is
ever marked as a case that does not exist, and no case from outreach exists
without its outreach naming it. The case's id derives from the outreach's, so
a retried request names the same case and is answered with it instead of
opening a second one.

Outreach events are not case events: the relay publishes case events only
(gateways/kafka/publication.py), so nothing of an outreach reaches an agency's
topic or the internal one, and the case projectors follow case topics only.

Every read is recorded in the access log before data leaves the store, under
the outreach's id (a list, with no id), as case reads are.
"""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar
from uuid import UUID, uuid4, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic
from pydantic import Field

from domain import vocabulary as vocab
from domain.actors import Actor, acting_as
from domain.case import Case
from domain.outreach import (
    OUTREACH_EVENT_TYPES,
    ClosingReason,
    InformationSource,
    Outreach,
    VerificationFinding,
    VulnerabilityDataSource,
)
from services.access import AccessDenied
from services.access_log import AccessRecord, CaseRead
from services.case_commands import (
    CommandModel,
    Day,
    Identifier,
    LongText,
    Moment,
    Note,
    Person,
    ReportCase,
    UserId,
)
from services.cases import MAX_CONFLICT_RETRIES, Cases, CommandResult, request_fingerprint

OUTREACH_TOPICS: tuple[str, ...] = tuple(get_topic(cls) for cls in OUTREACH_EVENT_TYPES)
# How many notifications one page of the district list reads from the store.
LIST_PAGE = 1_000


class OutreachNotFound(LookupError):
    """No such outreach, or not one the actor may see: both look the same from outside."""

    def __init__(self, outreach_id: UUID) -> None:
        super().__init__(f"outreach {outreach_id} not found")
        self.outreach_id = outreach_id


class OutreachChanged(Exception):
    """The outreach changed since the version the client based its command on."""

    def __init__(self, outreach_id: UUID, actual: int) -> None:
        super().__init__(f"outreach {outreach_id} is at version {actual}")
        self.outreach_id = outreach_id
        self.actual = actual


@dataclass(frozen=True)
class OutreachResult:
    outreach_id: UUID
    version: int
    recorded: tuple[str, ...]
    case_id: UUID | None = None
    register_number: str | None = None
    replayed: bool = False


def case_id_for(outreach_id: UUID) -> UUID:
    """The case an outreach becomes: one per outreach, the same on every retry."""
    return uuid5(outreach_id, "case")


# ---- What a caller may send ---------------------------------------------------------------


class MapVulnerability(CommandModel):
    """K-O1: child vulnerability in one kelurahan, from the poor-family data (counts only)."""

    kelurahan: Identifier = Field(description="The kelurahan (or desa) the map covers")
    data_source: VulnerabilityDataSource
    data_as_of: Day = Field(description="The date of the imported poor-family data")
    poor_families: int = Field(ge=0, le=1_000_000)
    vulnerable_children: int = Field(ge=0, le=1_000_000)


class OutreachCommand(CommandModel, ABC):
    """A step on an existing outreach. Subclasses declare their ``step`` and ``apply``."""

    step: ClassVar[str]
    path: ClassVar[str]
    title: ClassVar[str]

    @abstractmethod
    def apply(self, outreach: Outreach) -> None:
        """Call the aggregate's step method; it checks the rules and records the events."""


class VerifyInitialData(OutreachCommand):
    """K-O2: verify the initial data; vulnerability information and case findings, if any."""

    step = "K-O2"
    path = "verification"
    title = "Verify the initial data"
    finding: VerificationFinding
    note: Note = ""

    def apply(self, outreach: Outreach) -> None:
        outreach.verify_initial_data(finding=self.finding, note=self.note)


class ReceiveInformation(OutreachCommand):
    """K-O3: information obtained from other institutions, the media, and so on."""

    step = "K-O3"
    path = "information"
    title = "Record information from another institution or the media"
    source: InformationSource
    summary: LongText = Field(description="What the information says: personal data")

    def apply(self, outreach: Outreach) -> None:
        outreach.receive_information(source=self.source, summary=self.summary)


class ObserveHomeVisit(OutreachCommand):
    """K-O4: an assessment by home visit to the child's home (observation)."""

    step = "K-O4"
    path = "home-visits"
    title = "Record a home-visit observation"
    visited_at: Moment
    visitors: list[UserId] = Field(min_length=1, max_length=10)
    observation: LongText = Field(description="What was observed: personal data")

    def apply(self, outreach: Outreach) -> None:
        outreach.observe_home_visit(
            visited_at=self.visited_at, visitors=list(self.visitors), observation=self.observation
        )


class GradeRisk(OutreachCommand):
    """K-O5: the assessment's result graded low, medium or high risk."""

    step = "K-O5"
    path = "risk-grade"
    title = "Grade the risk (low, medium, high)"
    risk: vocab.RiskLevel
    reason: Note = ""

    def apply(self, outreach: Outreach) -> None:
        outreach.grade_risk(risk=self.risk, reason=self.reason)


class CloseWithoutCase(OutreachCommand):
    """End the outreach without a case: not confirmed (K-O2), or no case needed (K-O5)."""

    step = "K-O5"
    path = "closing"
    title = "Close the outreach without a case"
    reason: ClosingReason
    note: Note = ""

    def apply(self, outreach: Outreach) -> None:
        outreach.close_without_case(reason=self.reason, note=self.note)


OUTREACH_STEPS: tuple[type[OutreachCommand], ...] = (
    VerifyInitialData,
    ReceiveInformation,
    ObserveHomeVisit,
    GradeRisk,
    CloseWithoutCase,
)


class BecomeCase(CommandModel):
    """K-R1: the outreach's recommendation received as a case; opens it (channel outreach)."""

    chronology: LongText = Field(description="What the outreach found, as the case's chronology")
    victim: Person
    reporter: Person | None = None
    needs: Note = ""

    def report(self, arrived_at: datetime) -> ReportCase:
        return ReportCase(
            channel=vocab.Channel.OUTREACH,
            arrived_at=arrived_at,
            chronology=self.chronology,
            victim=self.victim,
            reporter=self.reporter,
            needs=self.needs,
        )


# ---- The service ----------------------------------------------------------------------------


class OutreachRecords:
    """Outreach commands and reads over the case store (see the module's docstring)."""

    def __init__(self, cases: Cases) -> None:
        self.cases = cases
        self.access = cases.access

    # ---- Commands ---------------------------------------------------------------------

    def map_vulnerability(
        self, actor: Actor, command: MapVulnerability, *, idempotency_key: str | None = None
    ) -> OutreachResult:
        """K-O1: starts an outreach in the caller's district; a retry with the same
        ``idempotency_key`` answers the outreach the first request started."""
        request_hash = request_fingerprint(
            "outreach.map_vulnerability", None, command.model_dump(mode="json")
        )
        replay = self.cases.replayed(actor, idempotency_key, request_hash)
        if replay is not None:
            return _replayed(replay)
        self.access.require_may_do_outreach(actor, actor.district, leads=False)
        self.cases.profiles.profile(actor.district).require_runs(
            vocab.Process.OUTREACH, step="K-O1"
        )
        with acting_as(actor, self.cases.clock()):
            outreach = Outreach.map_vulnerability(
                outreach_id=uuid4(),
                district=actor.district,
                kelurahan=command.kelurahan,
                data_source=command.data_source,
                data_as_of=command.data_as_of.isoformat(),
                poor_families=command.poor_families,
                vulnerable_children=command.vulnerable_children,
            )
        try:
            return self._save(outreach, actor, idempotency_key, request_hash)
        except IntegrityError:
            replay = self.cases.replayed(actor, idempotency_key, request_hash)
            if replay is None:
                raise
            return _replayed(replay)

    def execute(
        self,
        actor: Actor,
        outreach_id: UUID,
        command: OutreachCommand,
        *,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> OutreachResult:
        """One step: load, check who may, decide, save (deciding again after a race).

        A repeated ``idempotency_key`` with the same step answers the first request."""
        request_hash = request_fingerprint(
            f"outreach.{command.path}", outreach_id, command.model_dump(mode="json")
        )
        replay = self.cases.replayed(actor, idempotency_key, request_hash)
        if replay is not None:
            return _replayed(replay)
        for _attempt in range(MAX_CONFLICT_RETRIES):
            outreach = self._visible(actor, outreach_id)
            self.access.require_may_do_outreach(actor, outreach.district, leads=False)
            if expected_version is not None and outreach.version != expected_version:
                raise OutreachChanged(outreach_id, outreach.version)
            with acting_as(actor, self.cases.clock()):
                command.apply(outreach)
            try:
                return self._save(outreach, actor, idempotency_key, request_hash)
            except IntegrityError:
                replay = self.cases.replayed(actor, idempotency_key, request_hash)
                if replay is not None:
                    return _replayed(replay)
                if expected_version is not None:
                    raise OutreachChanged(outreach_id, self._load(outreach_id).version) from None
        raise OutreachChanged(outreach_id, self._load(outreach_id).version)

    def become_case(self, actor: Actor, outreach_id: UUID, command: BecomeCase) -> OutreachResult:
        """K-R1: open the case through the case service, and mark the outreach, atomically."""
        outreach = self._visible(actor, outreach_id)
        self.access.require_may_do_outreach(actor, outreach.district, leads=True)
        case_id = case_id_for(outreach_id)
        if outreach.case_id == case_id:
            # A retry of a request that already opened the case: the same answer.
            case = self.cases.visible_case(actor, case_id)
            return OutreachResult(
                outreach_id,
                outreach.version,
                (),
                case_id=case_id,
                register_number=case.register_number,
                replayed=True,
            )
        outreach.require_may_become_case()
        marked: list[Outreach] = []

        def mark_outreach(case: Case) -> Outreach:
            # Decided on a fresh copy on each attempt, inside the case's own acting_as.
            case.record_outreach_origin(outreach_id=outreach_id)
            fresh = self._load(outreach_id)
            fresh.become_case(case_id=case.id, register_number=case.register_number)
            marked[:] = [fresh]
            return fresh

        result = self.cases.report_case(
            actor, command.report(self.cases.clock()), case_id=case_id, together=mark_outreach
        )
        return OutreachResult(
            outreach_id,
            marked[0].version,
            ("BecameCase",),
            case_id=result.case_id,
            register_number=result.register_number,
        )

    # ---- Reads --------------------------------------------------------------------------

    def read_events(self, actor: Actor, outreach_id: UUID, read: CaseRead) -> list[Outreach.Event]:
        """An outreach's events, oldest first; the read is recorded first, or refused."""
        outreach = self._visible(actor, outreach_id)
        if not self.access.may_read_outreach(actor, outreach.district):
            raise AccessDenied(
                "outreach_office_only",
                "outreach is read by the district's coordinating office and auditors",
            )
        record = AccessRecord.of(actor, outreach_id, read, self.cases.clock())
        log = self.cases._access_log
        stored = log.select_events_recording_access(outreach_id, record)
        return [_outreach_event(self.cases.mapper.to_domain_event(event)) for event in stored]

    def district_events(
        self, actor: Actor, district: str, read: CaseRead
    ) -> list[Sequence[Outreach.Event]]:
        """Each outreach of the district, as its events; the look is recorded first."""
        if not self.access.may_read_outreach(actor, district) or (
            actor.role != vocab.Role.AUDITOR and district != actor.district
        ):
            raise AccessDenied(
                "outreach_office_only",
                "outreach is read by the district's coordinating office and auditors",
            )
        self.cases.record_office_view_read(actor, read)
        histories: dict[UUID, list[Outreach.Event]] = {}
        start: int | None = None
        while True:
            page = self.cases.recorder.select_notifications(
                start, LIST_PAGE, topics=OUTREACH_TOPICS, inclusive_of_start=start is None
            )
            for notification in page:
                domain_event = _outreach_event(self.cases.mapper.to_domain_event(notification))
                if isinstance(domain_event, Outreach.VulnerabilityMapped):
                    if domain_event.district != district:
                        continue
                    histories[domain_event.originator_id] = []
                if domain_event.originator_id in histories:
                    histories[domain_event.originator_id].append(domain_event)
            if len(page) < LIST_PAGE:
                return list(histories.values())
            start = page[-1].id

    # ---- Helpers --------------------------------------------------------------------------

    def _visible(self, actor: Actor, outreach_id: UUID) -> Outreach:
        outreach = self._load(outreach_id)
        if actor.role == vocab.Role.AGENCY_OFFICER:
            # An agency is refused outright (as with a case file), whatever the district.
            raise AccessDenied(
                "outreach_office_only",
                "outreach is the coordinating office's work; no agency sees it",
            )
        if actor.role != vocab.Role.AUDITOR and actor.district != outreach.district:
            raise OutreachNotFound(outreach_id)
        return outreach

    def _load(self, outreach_id: UUID) -> Outreach:
        try:
            outreach: object = self.cases.repository.get(outreach_id)
        except AggregateNotFoundError:
            raise OutreachNotFound(outreach_id) from None
        if not isinstance(outreach, Outreach):
            raise OutreachNotFound(outreach_id)
        return outreach

    def _save(
        self,
        outreach: Outreach,
        actor: Actor,
        idempotency_key: str | None,
        request_hash: str,
    ) -> OutreachResult:
        recorded = tuple(type(event).__name__ for event in outreach.pending_events)
        record = self.cases.command_record(
            actor, idempotency_key, request_hash, outreach, recorded, register_number=""
        )
        self.cases.save(outreach, command=record)
        return OutreachResult(outreach.id, outreach.version, recorded)


def _replayed(first: CommandResult) -> OutreachResult:
    # The command log keeps the outreach's id where a case command keeps the case's.
    return OutreachResult(first.case_id, first.version, first.recorded, replayed=True)


def _outreach_event(event: object) -> Outreach.Event:
    if not isinstance(event, Outreach.Event):
        raise TypeError("an outreach's history holds outreach events only")
    return event
