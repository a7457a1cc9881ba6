"""Outreach (penjangkauan): Kutai Timur's prevention work before any case exists.

The SOP Penjangkauan PKSAI Kabupaten Kutai Timur (shared/seeds/004_…) starts
from data, not from a report: child vulnerability is mapped per kelurahan from
the poor-family data (K-O1), the initial data is verified (K-O2), information
from other institutions or the media may add to it (K-O3), a home visit
observes the child (K-O4), and the result is graded low / medium / high
(K-O5). An outreach that finds a child needing handling becomes a case: the
referral SOP's first step receives the outreach team's recommendation with a
case record (K-R1). Otherwise the outreach is closed without a case.

Each event is declared on the aggregate above the method that causes it and
quotes its step. Public methods check the rules; the private ``@event``
bodies only mutate state, so replay never re-runs a check. The write model
holds what the rules need: the district, which steps were done, the grade,
and whether the outreach is settled. The map's counts, the observations and
the notes are for the read model (projections/outreach_record.py).
"""

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.actors import current_time
from domain.checks import iso_day, required_text, text_items, value_of
from domain.errors import InvalidValue, RuleViolated
from domain.events import ActedEvent
from domain.vocabulary import RiskLevel


class VulnerabilityDataSource(StrEnum):
    """K-O1: where the poor-family data the map is drawn from comes from."""

    DTKS = "dtks"  # Data Terpadu Kesejahteraan Sosial, the social ministry's register
    PKH = "pkh"  # Program Keluarga Harapan participants
    TKPKD = "tkpkd"  # the district's poverty-reduction coordination team (Pasal 15)
    DUKCAPIL = "dukcapil"  # civil registry
    OTHER = "other"


class VerificationFinding(StrEnum):
    """K-O2's output: vulnerability information, and case findings if any."""

    VULNERABILITY_CONFIRMED = "vulnerability_confirmed"
    CASE_FOUND = "case_found"
    NOT_CONFIRMED = "not_confirmed"


class InformationSource(StrEnum):
    """K-O3: information obtained from other institutions, the media, and so on."""

    INSTITUTION = "institution"
    MEDIA = "media"
    COMMUNITY = "community"
    OTHER = "other"


class ClosingReason(StrEnum):
    """Why an outreach ends without a case."""

    NOT_CONFIRMED_AT_VERIFICATION = "not_confirmed_at_verification"  # after K-O2
    NO_RISK_FOUND = "no_risk_found"  # after K-O5
    SERVED_WITHOUT_CASE = "served_without_case"  # K-O6-K-O9: services, no case handling


# Each closing reason needs the step whose result it states.
CLOSING_NEEDS = {
    ClosingReason.NOT_CONFIRMED_AT_VERIFICATION: "K-O2",
    ClosingReason.NO_RISK_FOUND: "K-O5",
    ClosingReason.SERVED_WITHOUT_CASE: "K-O5",
}


class Outreach(Aggregate):
    """One outreach of the PKSAI's risk-reduction division in one kelurahan, until it
    becomes a case or is closed without one."""

    class Event(ActedEvent):
        """Every outreach event: who acted (user, role, agency, district) and when."""

    class VulnerabilityMapped(Aggregate.Created, Event):
        """K-O1: child vulnerability mapped for a kelurahan from the poor-family data."""

        district: str
        kelurahan: str
        data_source: str
        data_as_of: str
        poor_families: int
        vulnerable_children: int

    @classmethod
    def map_vulnerability(
        cls,
        *,
        outreach_id: UUID,
        district: str,
        kelurahan: str,
        data_source: str,
        data_as_of: str,
        poor_families: int,
        vulnerable_children: int,
    ) -> "Outreach":
        """K-O1: the map counts families and children; it names none of them.

        Whether the district runs outreach at all is its profile's to say
        (``processes``); the service asks it before calling this.
        """
        if iso_day("data_as_of", data_as_of) > current_time().date():
            raise InvalidValue("data_as_of", "must not be in the future")
        for name, count in (
            ("poor_families", poor_families),
            ("vulnerable_children", vulnerable_children),
        ):
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise InvalidValue(name, "must be a whole number, zero or more")
        return cls(
            id=outreach_id,
            district=district,
            kelurahan=required_text("kelurahan", kelurahan),
            data_source=value_of(VulnerabilityDataSource, "data_source", data_source),
            data_as_of=data_as_of,
            poor_families=poor_families,
            vulnerable_children=vulnerable_children,
        )

    @event(VulnerabilityMapped)
    def __init__(
        self,
        *,
        id: UUID,
        district: str,
        kelurahan: str,
        data_source: str,
        data_as_of: str,
        poor_families: int,
        vulnerable_children: int,
    ) -> None:
        self.district = district
        self.verification: str | None = None
        self.visits = 0
        self.risk: str | None = None
        self.case_id: UUID | None = None
        self.closed = False

    # ---- The rules every later step shares -----------------------------------------

    def _require_open(self) -> None:
        if self.case_id is not None:
            raise RuleViolated(
                "outreach_became_case",
                "the outreach became a case; record further steps on the case",
                step="K-R1",
            )
        if self.closed:
            raise RuleViolated(
                "outreach_closed", "the outreach was closed without a case", step="K-O5"
            )

    def _require_verified(self) -> None:
        if self.verification is None:
            raise RuleViolated(
                "verification_required",
                "the initial data must be verified first (K-O2)",
                step="K-O2",
            )

    class InitialDataVerified(Event):
        """K-O2: the mapped data was checked; vulnerability and case findings, if any."""

        finding: str
        note: str

    def verify_initial_data(self, *, finding: str, note: str = "") -> None:
        """K-O2: verified once; a later check is a home visit or information (K-O3/K-O4)."""
        self._require_open()
        if self.verification is not None:
            raise RuleViolated(
                "already_verified", "the initial data was already verified", step="K-O2"
            )
        self._initial_data_verified(
            finding=value_of(VerificationFinding, "finding", finding), note=note
        )

    @event(InitialDataVerified)
    def _initial_data_verified(self, finding: str, note: str) -> None:
        self.verification = finding

    class InformationReceived(Event):
        """K-O3: information about the child from another institution, the media, etc."""

        source: str
        summary: str

    def receive_information(self, *, source: str, summary: str) -> None:
        self._require_open()
        self._information_received(
            source=value_of(InformationSource, "source", source),
            summary=required_text("summary", summary),
        )

    @event(InformationReceived)
    def _information_received(self, source: str, summary: str) -> None:
        pass

    class HomeVisitObserved(Event):
        """K-O4: an assessment by home visit to the child's home (observation)."""

        visited_at: datetime
        visitors: list[str]
        observation: str

    def observe_home_visit(
        self, *, visited_at: datetime, visitors: list[str], observation: str
    ) -> None:
        """K-O4: after the data is verified, and confirmed (a not-confirmed finding closes)."""
        self._require_open()
        self._require_verified()
        if self.verification == VerificationFinding.NOT_CONFIRMED:
            raise RuleViolated(
                "vulnerability_not_confirmed",
                "K-O2 did not confirm the vulnerability; close the outreach instead",
                step="K-O2",
            )
        if visited_at.tzinfo is None:
            raise InvalidValue("visited_at", "must include a timezone")
        if visited_at > current_time():
            raise InvalidValue("visited_at", "must not be in the future")
        self._home_visit_observed(
            visited_at=visited_at,
            visitors=text_items("visitors", visitors),
            observation=required_text("observation", observation),
        )

    @event(HomeVisitObserved)
    def _home_visit_observed(
        self, visited_at: datetime, visitors: list[str], observation: str
    ) -> None:
        self.visits += 1

    class RiskGraded(Event):
        """K-O5: the home visit's assessment graded low, medium or high risk."""

        risk: str
        reason: str

    def grade_risk(self, *, risk: str, reason: str = "") -> None:
        """K-O5: graded from an observation; a further visit may grade it again."""
        self._require_open()
        if self.visits == 0:
            raise RuleViolated(
                "observation_visit_required",
                "the risk is graded from a home-visit observation (K-O4)",
                step="K-O4",
            )
        self._risk_graded(risk=value_of(RiskLevel, "risk", risk), reason=reason)

    @event(RiskGraded)
    def _risk_graded(self, risk: str, reason: str) -> None:
        self.risk = risk

    class BecameCase(Event):
        """K-R1: the outreach team's recommendation was received as a case (the case id)."""

        case_id: UUID
        register_number: str

    def require_may_become_case(self) -> None:
        """K-R1 receives the recommendation with a case record: a graded outreach."""
        self._require_open()
        if self.risk is None:
            raise RuleViolated(
                "risk_grade_required",
                "an outreach becomes a case once its risk is graded (K-O5)",
                step="K-O5",
            )

    def become_case(self, *, case_id: UUID, register_number: str) -> None:
        self.require_may_become_case()
        self._became_case(case_id=case_id, register_number=register_number)

    @event(BecameCase)
    def _became_case(self, case_id: UUID, register_number: str) -> None:
        self.case_id = case_id

    class ClosedWithoutCase(Event):
        """The outreach ended without a case: not confirmed, no risk, or served without one."""

        reason: str
        note: str

    def close_without_case(self, *, reason: str, note: str = "") -> None:
        self._require_open()
        why = ClosingReason(value_of(ClosingReason, "reason", reason))
        needs = CLOSING_NEEDS[why]
        if needs == "K-O2":
            self._require_verified()
        elif self.risk is None:
            raise RuleViolated(
                "risk_grade_required",
                "this reason states the risk grade's result (K-O5)",
                step="K-O5",
            )
        self._closed_without_case(reason=why.value, note=note)

    @event(ClosedWithoutCase)
    def _closed_without_case(self, reason: str, note: str) -> None:
        self.closed = True


# Every event an outreach records, in the order the SOP meets them.
OUTREACH_EVENT_TYPES: tuple[type[Outreach.Event], ...] = (
    Outreach.VulnerabilityMapped,
    Outreach.InitialDataVerified,
    Outreach.InformationReceived,
    Outreach.HomeVisitObserved,
    Outreach.RiskGraded,
    Outreach.BecameCase,
    Outreach.ClosedWithoutCase,
)


def step_of(recorded: Any) -> str:
    """The SOP step an outreach event records (a closing, the step whose result it states)."""
    if isinstance(recorded, Outreach.ClosedWithoutCase):
        return CLOSING_NEEDS[ClosingReason(recorded.reason)]
    steps: dict[type, str] = {
        Outreach.VulnerabilityMapped: "K-O1",
        Outreach.InitialDataVerified: "K-O2",
        Outreach.InformationReceived: "K-O3",
        Outreach.HomeVisitObserved: "K-O4",
        Outreach.RiskGraded: "K-O5",
        Outreach.BecameCase: "K-R1",
    }
    return steps[type(recorded)]
