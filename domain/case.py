"""The case aggregate: one report of violence, handled along the SOP's six stages.

Each event is a class declared on the aggregate, right above the method that
causes it, with its fields typed: that class is the one place an event's
fields are stated (the published message schemas are generated from it).
Public methods are the commands. Each checks the rules that apply in the
case's current state and then calls a private ``@event`` method, whose body
only mutates state. Replay re-runs the private bodies, never the checks, so
the rules may change without making recorded history unreadable.

Events store plain strings for vocabulary values (never enum objects), so
stored history stays readable by any JSON consumer and survives a rename in
domain/vocabulary.py.

The write model holds only what decisions need: stage, consent, emergency
flag, routing, case worker, referral statuses. Everything else recorded in the
events (who the victim is, what happened, findings) is for projections.
Two facts the projections need too are stated here once: how each event moves
the case's stage (``stage_after``) and a referral's status
(``referral_status_after``). Step numbers (L1.5, L4.1, ...) refer to
shared/domain.md.
"""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from typing_extensions import TypedDict

from domain.actors import current_actor_record, current_time
from domain.checks import iso_day, one_of, required_text, text_items, value_of, values_of
from domain.errors import (
    AgencyNotConnected,
    CaseClosed,
    InvalidValue,
    LinkRefused,
    NothingCorrected,
    ReferralNotFound,
    RuleViolated,
)
from domain.events import ActedEvent
from domain.letters import LETTER_SPECS, LetterKind, LetterSpec
from domain.routing import route
from domain.vocabulary import (
    AGENCIES_FOR_SERVICE,
    HANDOVER_AGENCY,
    PROGRESSING_REFERRAL_STATUSES,
    REFERRAL_STATUS_AFTER_DELIVERY,
    REINTEGRATION_STEP,
    SETTLED_REFERRAL_STATUSES,
    UNILATERAL_REASONS,
    Agency,
    AmpkCategory,
    AssessmentDomain,
    AssessmentKind,
    CaseType,
    Channel,
    ComplaintKind,
    ConsentGiver,
    ContactMode,
    DeliveryOutcome,
    FormOfViolence,
    HandoverTarget,
    Jurisdiction,
    LinkBasis,
    RecommendationStatus,
    ReferralStatus,
    ReintegrationActivity,
    ReunifiedWith,
    ReviewOutcome,
    RiskLevel,
    ServiceType,
    Shelter,
    ShelterDestination,
    Stage,
    TerminationKind,
    TerminationReason,
)

STAGES_AFTER_PLANNING = frozenset({Stage.INTERVENTION, Stage.MONITORING})
# UU 12/2022 (TPKS) Pasal 23: a sexual-violence case may not be settled outside the
# judicial process, except where the perpetrator is a child (Pasal 4 lists the forms,
# child pornography and sexual exploitation among them).
SEXUAL_VIOLENCE_FORMS = frozenset({FormOfViolence.SEXUAL, FormOfViolence.SEXUAL_EXPLOITATION})
SEXUAL_VIOLENCE_CATEGORIES = frozenset(
    {
        AmpkCategory.SEXUAL_CRIME,
        AmpkCategory.ECONOMIC_OR_SEXUAL_EXPLOITATION,
        AmpkCategory.PORNOGRAPHY,
    }
)

# A referral that ended without its service serves no shelter stay (T4d).
ENDED_REFERRAL_STATUSES = frozenset(
    {ReferralStatus.DECLINED, ReferralStatus.CANCELLED, ReferralStatus.NOT_DELIVERED}
)
# K-I4's requirement is the counselling record: preparation and both counsellings first.
REUNIFICATION_PREREQUISITES = (
    ReintegrationActivity.PREPARATION,
    ReintegrationActivity.CHILD_COUNSELLING,
    ReintegrationActivity.CAREGIVER_COUNSELLING,
)


@dataclass(frozen=True)
class ReferralState:
    agency: str
    service_type: str
    status: str
    emergency: bool

    @property
    def is_settled(self) -> bool:
        return self.status in SETTLED_REFERRAL_STATUSES


FIRST_VICTIM = "1"
# L1.9-10: a child's consent is given by a parent or guardian.
CHILD_CONSENT_GIVERS = frozenset({ConsentGiver.PARENT, ConsentGiver.GUARDIAN})


@dataclass(frozen=True)
class BeneficiaryState:
    """What rules about an added beneficiary need: who consents, and whether they did."""

    child: bool
    consent: str | None


@dataclass(frozen=True)
class DocumentState:
    """What deciding who may fetch a document needs: its kind, and where its content is."""

    kind: str
    step: str
    sha256: str
    media_type: str


@dataclass(frozen=True)
class RecommendationState:
    service_type: str
    agency: str
    proposed_by: str
    status: str


class CorrectedFact(TypedDict):
    """One fact of the intake a correction changes (B4, K-O2), and its new value."""

    group: str
    key: str
    value: Any


class Case(Aggregate):
    """A case of violence against a woman or child, from report to termination."""

    class Event(ActedEvent):
        """Every case event: who acted (user, role, agency, district) and when."""

        # The case milestone that the first event of this type reaches, if any: a
        # district's time standards start and stop their clocks at milestones.
        first_marks: ClassVar[str | None] = None

        def apply(self, aggregate: Any) -> None:
            # Runs after the event's own body. Stage and referral status follow the
            # two functions every projection folds with, so they are stated once.
            moved = referral_status_after(self)
            if moved is not None and moved[0] in aggregate.referrals:
                aggregate._set_referral_status(*moved)
            aggregate.stage = stage_after(aggregate.stage, self)

    # ---- 1. Identification ---------------------------------------------------

    class ReportReceived(Aggregate.Created, Event):
        """L1.1-L1.2: a report arrived through a complaint channel and was recorded."""

        district: str
        register_number: str
        channel: str
        arrived_at: datetime
        chronology: str
        victim: dict[str, Any]
        reporter: dict[str, Any]
        reported_person: dict[str, Any]
        incident: dict[str, Any]
        needs: str
        psychological_first_aid_needed: bool
        documents: list[str]

    @classmethod
    def receive_report(
        cls,
        *,
        case_id: UUID,
        district: str,
        register_number: str,
        channel: str,
        arrived_at: datetime,
        chronology: str,
        victim: dict[str, Any],
        reporter: dict[str, Any] | None = None,
        reported_person: dict[str, Any] | None = None,
        incident: dict[str, Any] | None = None,
        needs: str = "",
        psychological_first_aid_needed: bool = False,
        documents: list[str] | None = None,
    ) -> "Case":
        """L1.1-L1.2: a report arrives through any channel and is recorded."""
        if arrived_at.tzinfo is None:
            raise InvalidValue("arrived_at", "must include a timezone")
        if arrived_at > current_time():
            raise InvalidValue("arrived_at", "must not be in the future")
        if not isinstance(victim, dict):
            raise InvalidValue("victim", "must be an object")
        return cls(
            id=case_id,
            district=required_text("district", district),
            register_number=required_text("register_number", register_number),
            channel=value_of(Channel, "channel", channel),
            arrived_at=arrived_at,
            chronology=required_text("chronology", chronology),
            victim=dict(victim),
            reporter=dict(reporter or {}),
            reported_person=dict(reported_person or {}),
            incident=dict(incident or {}),
            needs=needs,
            psychological_first_aid_needed=bool(psychological_first_aid_needed),
            documents=list(documents or []),
        )

    @event(ReportReceived)
    def __init__(
        self,
        id: UUID,
        district: str,
        register_number: str,
        channel: str,
        arrived_at: datetime,
        chronology: str,
        victim: dict[str, Any],
        reporter: dict[str, Any],
        reported_person: dict[str, Any],
        incident: dict[str, Any],
        needs: str,
        psychological_first_aid_needed: bool,
        documents: list[str],
    ) -> None:
        self.district = district
        self.register_number = register_number
        self.stage = Stage.IDENTIFICATION
        # What a correction (B4, K-O2) compares its new values with.
        self.intake_facts: dict[str, dict[str, Any]] = intake_facts(
            victim, reporter, reported_person, incident, chronology=chronology, needs=needs
        )
        self.closure: str | None = None
        self.classified = False
        # A district may give a referral less time where the risk is higher.
        self.risk_level: str | None = None
        self.sexual_violence = False
        self.emergency = False
        self.handover_to: str | None = None
        self.complaint_kind: str | None = None
        self.case_worker_id: str | None = None
        self.consent: str | None = None
        self.assessments_in_cycle = 0
        self.assessments_recorded = 0
        self.last_visit_found_recovery = False
        self.referrals: dict[str, ReferralState] = {}
        self.recommendations: dict[str, RecommendationState] = {}
        self.handed_over_to_agency: str | None = None
        self.handover_acknowledged = False
        self.shelter_admitted_on: str | None = None
        self.reintegration_steps_done: set[str] = set()
        self.reunified = False
        self.reintegration_visits = 0
        self.reintegration_evaluated = False
        self.linked_case_ids: set[UUID] = set()
        self.documents: dict[str, DocumentState] = {}
        self.letter_ids: set[str] = set()
        # The PDFs of letters about one referral (a surat rekomendasi, a Berita Acara
        # Rujukan), by content hash: they are that referral's agency's, not every agency's.
        self.referral_letters: dict[str, str] = {}
        # Beneficiaries added after the first victim ("1"), and whom referrals are for.
        self.beneficiaries: dict[str, BeneficiaryState] = {}
        self.referral_beneficiaries: dict[str, frozenset[str]] = {}

    class OpenedFromOutreach(Event):
        """K-R1: the case was opened on the outreach team's recommendation (which outreach)."""

        outreach_id: UUID

    def record_outreach_origin(self, *, outreach_id: UUID) -> None:
        """K-R1: stated with the report that opens the case, never later."""
        self._require_open()
        if self.version != 1:
            raise RuleViolated(
                "outreach_origin_at_opening",
                "a case records the outreach it came from when it is opened",
                step="K-R1",
            )
        self._opened_from_outreach(outreach_id=outreach_id)

    @event(OpenedFromOutreach)
    def _opened_from_outreach(self, outreach_id: UUID) -> None:
        pass

    class FactsCorrected(Event):
        """B4, Kota Batu's activity 3, K-O2: facts recorded at intake corrected or completed.

        Verification (Kota Batu's home visit "untuk melengkapi data", B4's screening
        with "verifikasi dan home visit"; Kutai Timur's "verifikasi data awal", K-O2)
        finds a misspelled name, a wrong birth date, a village not yet known. Each
        correction names one fact of the report by its group (victim, reporter,
        reported_person, incident, report) and key, and states the new value only:
        the old value stays in the earlier events (the ReportReceived, or an earlier
        FactsCorrected), so the history keeps both and nothing recorded is rewritten.
        ``sop_step`` is the step the correction comes from, if given (e.g. B4, K-O2).
        """

        corrections: list[CorrectedFact]
        reason: str
        sop_step: str

    def correct_facts(
        self, *, corrections: Sequence[Mapping[str, Any]], reason: str, sop_step: str = ""
    ) -> None:
        """B4 / K-O2: correct or complete facts of the intake, field by field, with a reason.

        Each correction is ``{"group", "key", "value"}``; a fact given the value it has
        already, or named twice, is refused: the history records changes only.
        """
        self._require_open()
        reason = required_text("reason", reason)
        if not isinstance(sop_step, str):
            raise InvalidValue("sop_step", "must be an SOP step number, e.g. B4 or K-O2")
        if not isinstance(corrections, Sequence) or not corrections:
            raise InvalidValue("corrections", "must name at least one fact to correct")
        recorded: list[CorrectedFact] = []
        named: set[tuple[str, str]] = set()
        for correction in corrections:
            group, key, value = _correction(correction)
            field = correction_field(group, key)
            if (group, key) in named:
                raise InvalidValue(field, "is corrected twice in one correction")
            named.add((group, key))
            if self.intake_facts[group].get(key) == value:
                raise NothingCorrected(field)
            recorded.append({"group": group, "key": key, "value": value})
        self._facts_corrected(corrections=recorded, reason=reason, sop_step=sop_step)

    @event(FactsCorrected)
    def _facts_corrected(
        self, corrections: list[CorrectedFact], reason: str, sop_step: str
    ) -> None:
        for correction in corrections:
            self.intake_facts[correction["group"]][correction["key"]] = correction["value"]

    class PsychologicalFirstAidGiven(Event):
        """L1.3: initial psychological support was given."""

        first_marks = "psychological_first_aid_given"

        notes: str

    def give_psychological_first_aid(self, *, notes: str) -> None:
        """L1.3: initial psychological support, if needed."""
        self._require_open()
        self._psychological_first_aid_given(notes=required_text("notes", notes))

    @event(PsychologicalFirstAidGiven)
    def _psychological_first_aid_given(self, notes: str) -> None:
        pass

    class ComplaintKindRecorded(Event):
        """Kota Batu's complaint kinds (B-K1-K15): which of them the report is."""

        kind: str

    def record_complaint_kind(self, *, kind: str, district_kinds: Collection[str]) -> None:
        """Which of the district's complaint kinds the report is; routing reads it (L1.5 f).

        ``district_kinds``: the kinds the district's profile lists; a district that
        lists none records no kind.
        """
        self._require_open()
        kind_value = value_of(ComplaintKind, "kind", kind)
        if kind_value not in district_kinds:
            raise RuleViolated(
                "complaint_kind_not_in_profile",
                "this district's SOP does not list this kind of complaint",
                step="B-K",
            )
        self._complaint_kind_recorded(kind=kind_value)

    @event(ComplaintKindRecorded)
    def _complaint_kind_recorded(self, kind: str) -> None:
        self.complaint_kind = kind

    class RiskClassified(Event):
        """L1.5: case type, risk and jurisdiction, and the routing rules (a-f) they gave."""

        first_marks = "classified"

        case_type: str
        risk_level: str
        jurisdiction: str
        emergency: bool
        forms_of_violence: list[str]
        ampk_categories: list[str]
        routing: list[str]
        handover_to: str | None
        rationale: str

    def classify(
        self,
        *,
        case_type: str,
        risk_level: str,
        jurisdiction: str,
        emergency: bool,
        forms_of_violence: list[str] | None = None,
        ampk_categories: list[str] | None = None,
        rationale: str = "",
        assessment_first: str | None = None,
        coordinating_agency: str | None = None,
        served_complaint_kinds: Collection[str] = (),
    ) -> None:
        """L1.5: classify case type, risk and jurisdiction, which routes the case (a-f).

        ``assessment_first``: the SOP step of a district that assesses before it
        classifies (Kota Batu B2, Purwakarta P2); its first classification then needs
        an assessment recorded. ``coordinating_agency``: the district's coordinating
        office; a rule handing the case to that same office (c, where Dinas Sosial
        coordinates, as in Tanjungpinang) keeps it with the district.
        ``served_complaint_kinds``: complaint kinds the district serves though they are
        no violence case (Kota Batu 10-14); such a complaint, classified "other", stays
        with the district instead of getting information only (rule f).
        """
        self._require_open()
        if assessment_first is not None and not self.classified and not self.assessments_recorded:
            raise RuleViolated(
                "assessment_before_classification",
                "this district assesses a case before it classifies it: record the "
                "assessment first",
                step=assessment_first,
            )
        case_type_value = one_of(CaseType, "case_type", case_type)
        risk_value = one_of(RiskLevel, "risk_level", risk_level)
        jurisdiction_value = one_of(Jurisdiction, "jurisdiction", jurisdiction)
        decision = route(
            case_type_value,
            risk_value,
            jurisdiction_value,
            bool(emergency),
            served_complaint=self.complaint_kind in served_complaint_kinds,
        )
        handover_to = decision.handover_to
        if handover_to is not None and coordinating_agency is not None:
            receiver = HANDOVER_AGENCY.get(handover_to)
            if receiver is not None and receiver.value == coordinating_agency:
                handover_to = None
        self._risk_classified(
            case_type=case_type_value.value,
            risk_level=risk_value.value,
            jurisdiction=jurisdiction_value.value,
            emergency=bool(emergency),
            forms_of_violence=values_of(
                FormOfViolence, "forms_of_violence", forms_of_violence or []
            ),
            ampk_categories=values_of(AmpkCategory, "ampk_categories", ampk_categories or []),
            routing=list(decision.rules),
            handover_to=handover_to.value if handover_to else None,
            rationale=rationale,
        )

    @event(RiskClassified)
    def _risk_classified(
        self,
        case_type: str,
        risk_level: str,
        jurisdiction: str,
        emergency: bool,
        forms_of_violence: list[str],
        ampk_categories: list[str],
        routing: list[str],
        handover_to: str | None,
        rationale: str,
    ) -> None:
        self.classified = True
        self.risk_level = risk_level
        self.sexual_violence = bool(
            SEXUAL_VIOLENCE_FORMS & set(forms_of_violence)
            or SEXUAL_VIOLENCE_CATEGORIES & set(ampk_categories)
        )
        self.emergency = emergency
        self.handover_to = handover_to

    class HandedOver(Event):
        """Routing b, c, d, f: the case left district handling, as classification routed it."""

        first_marks = "terminated"

        target: str
        receiving_unit: str
        notes: str

    def hand_over(
        self,
        *,
        target: str,
        receiving_agencies: Collection[str],
        receiving_unit: str = "",
        notes: str = "",
    ) -> None:
        """Routing b, c, d, f: the case leaves district handling, as classification routed it.

        ``receiving_agencies``: the agencies Simpul can deliver a case to (those with an
        inbox); the agency the target names must be one of them.
        """
        self._require_open()
        self._require_classified()
        target_value = value_of(HandoverTarget, "target", target)
        if self.handover_to != target_value:
            raise RuleViolated(
                "handover_not_routed",
                "the case's classification does not route it to this target "
                "(routing rules b, c, d, f at L1.5); reclassify first",
                step="L1.5",
            )
        receiver = HANDOVER_AGENCY.get(HandoverTarget(target_value))
        if receiver is not None:
            _require_agency_reachable(
                receiver.value, receiving_agencies, "hand the case over", "target", step="L1.5"
            )
        self._handed_over(target=target_value, receiving_unit=receiving_unit, notes=notes)

    @event(HandedOver)
    def _handed_over(self, target: str, receiving_unit: str, notes: str) -> None:
        agency = HANDOVER_AGENCY.get(HandoverTarget(target))
        self.handed_over_to_agency = agency.value if agency else None
        self.handover_acknowledged = False
        self._close(f"handed_over:{target}")

    # L1.5 b-d say "bantu akseskan": help the case reach the receiver, and the flowchart
    # ends the district's process there. The hand-over ends district handling (the case
    # stays closed, as recorded), but the office learns whether the case arrived: the
    # receiver acknowledges it, or hands it back. Only these two follow a hand-over.

    class HandoverAcknowledged(Event):
        """L1.5 b-d: the receiving agency confirmed it has taken the handed-over case."""

        first_marks = "handover_acknowledged"

        receiving_unit: str
        taken_by: str
        notes: str

    def acknowledge_handover(
        self, *, receiving_unit: str = "", taken_by: str = "", notes: str = ""
    ) -> None:
        """L1.5 b-d: the receiver (or a coordinator on its behalf) confirms it took the case.

        ``receiving_unit`` / ``taken_by``: the unit and person now handling it, if named.
        """
        self._require_handed_over_to_agency()
        if self.handover_acknowledged:
            raise RuleViolated(
                "handover_already_acknowledged",
                "the receiving agency has already acknowledged this hand-over",
                step="L1.5",
            )
        self._handover_acknowledged(receiving_unit=receiving_unit, taken_by=taken_by, notes=notes)

    @event(HandoverAcknowledged)
    def _handover_acknowledged(self, receiving_unit: str, taken_by: str, notes: str) -> None:
        self.handover_acknowledged = True

    class HandedBack(Event):
        """L1.5: the receiver returned the case, saying why; it must be classified again."""

        first_marks = "handed_back"

        reason: str

    def hand_back(self, *, reason: str) -> None:
        """L1.5: the receiver returns a handed-over case, acknowledged or not, saying why.

        The case comes back to district handling in the identification stage, and its
        classification no longer stands: the office classifies it again (L1.5), which
        routes it anew.
        """
        self._require_handed_over_to_agency()
        self._handed_back(reason=required_text("reason", reason))

    @event(HandedBack)
    def _handed_back(self, reason: str) -> None:
        self.closure = None
        self.classified = False
        self.handover_to = None
        # The receiver gave the case back: it no longer sees what the office records next.
        self.handed_over_to_agency = None
        self.handover_acknowledged = False

    def _require_handed_over_to_agency(self) -> None:
        # A terminated case, or one given information only (rule f, no receiver), stays
        # closed to everything; an open case was not handed over.
        if self.closure is None:
            raise RuleViolated(
                "not_handed_over",
                "only a case handed over to an agency (routing rules b, c, d) is "
                "acknowledged or handed back",
                step="L1.5",
            )
        if self.handed_over_to_agency is None or not self.closure.startswith("handed_over:"):
            raise CaseClosed()

    class EmergencyResponseRecorded(Event):
        """L1.6: outreach and emergency services for a case classified as an emergency."""

        first_marks = "emergency_response_recorded"

        actions: list[str]
        notes: str

    def record_emergency_response(self, *, actions: list[str], notes: str = "") -> None:
        """L1.6: outreach and emergency services, for cases classified as emergencies (rule e)."""
        self._require_open()
        self._require_classified()
        if not self.emergency:
            raise RuleViolated(
                "not_an_emergency",
                "emergency services are recorded only for cases classified as emergencies "
                "(routing rule e)",
                step="L1.6",
            )
        self._emergency_response_recorded(actions=text_items("actions", actions), notes=notes)

    @event(EmergencyResponseRecorded)
    def _emergency_response_recorded(self, actions: list[str], notes: str) -> None:
        pass

    class CaseWorkerAssigned(Event):
        """L1.7: a case worker was assigned, by assignment letter."""

        first_marks = "case_worker_assigned"

        case_worker_id: str
        assignment_letter_ref: str

    def assign_case_worker(self, *, case_worker_id: str, assignment_letter_ref: str = "") -> None:
        """L1.7: a case worker is assigned, by assignment letter."""
        self._require_open()
        self._require_classified()
        case_worker_id = required_text("case_worker_id", case_worker_id)
        if case_worker_id == self.case_worker_id:
            raise RuleViolated(
                "case_worker_already_assigned",
                "this case worker is already assigned to the case",
                step="L1.7",
            )
        self._case_worker_assigned(
            case_worker_id=case_worker_id, assignment_letter_ref=assignment_letter_ref
        )

    @event(CaseWorkerAssigned)
    def _case_worker_assigned(self, case_worker_id: str, assignment_letter_ref: str) -> None:
        self.case_worker_id = case_worker_id

    class BeneficiaryContacted(Event):
        """L1.8: a first visit or contact with the beneficiary and family."""

        first_marks = "beneficiary_contacted"

        mode: str
        notes: str

    def record_contact(self, *, mode: str, notes: str = "") -> None:
        """L1.8: first visit or contact with the beneficiary and family."""
        self._require_open()
        if self.case_worker_id is None:
            raise RuleViolated(
                "case_worker_required",
                "a case worker must be assigned before contact with the beneficiary",
                step="L1.7",
            )
        self._beneficiary_contacted(mode=value_of(ContactMode, "mode", mode), notes=notes)

    @event(BeneficiaryContacted)
    def _beneficiary_contacted(self, mode: str, notes: str) -> None:
        pass

    class ConsentRecorded(Event):
        """L1.9-10: written informed consent, given or refused."""

        first_marks = "consent_recorded"

        given: bool
        given_by: str
        document_ref: str
        notes: str

    def record_consent(
        self, *, given: bool, given_by: str, document_ref: str = "", notes: str = ""
    ) -> None:
        """L1.9-10: written informed consent; a refusal ends the case."""
        self._require_open()
        self._require_classified()
        if self.consent is not None:
            raise RuleViolated(
                "consent_already_recorded",
                "consent has already been recorded for this case; a later refusal of "
                "accompaniment is a unilateral termination (L6.4)",
                step="L1.9",
            )
        given_by_value = value_of(ConsentGiver, "given_by", given_by)
        if given and not document_ref.strip():
            raise InvalidValue("document_ref", "a given consent needs the signed form's reference")
        self._consent_recorded(
            given=bool(given), given_by=given_by_value, document_ref=document_ref, notes=notes
        )
        if not given:
            self._terminated(
                kind=TerminationKind.UNILATERAL.value,
                reason=TerminationReason.CONSENT_REFUSED.value,
                beneficiary_feedback={},
                termination_form_ref="",
                notes="informed consent refused (L1.10)",
            )

    @event(ConsentRecorded)
    def _consent_recorded(self, given: bool, given_by: str, document_ref: str, notes: str) -> None:
        self.consent = "given" if given else "refused"

    # Several beneficiaries in one case: Tanjungpinang's SOP defines a victim of violence as
    # "orang baik individu, keluarga, kelompok maupun kesatuan Masyarakat tertentu" and Kutai
    # Timur's PKSAI targets (Pasal 3) are "a. Anak; b. keluarga; c. kelompok; d. masyarakat":
    # siblings abused by the same person are one case. The victim recorded at intake is
    # beneficiary "1" implicitly (so cases recorded before beneficiaries existed need no
    # migration), and the case-level consent (L1.9-10) stays that victim's.

    class BeneficiaryAdded(Event):
        """A further beneficiary of the case (a sibling, a family member, one of a group).

        ``person`` holds the same facts as the report's victim; ``relationship`` is how
        the beneficiary relates to the first victim (e.g. sibling); ``child`` decides
        who may consent for them (L1.9-10: a parent or guardian for a child).
        """

        beneficiary_id: str
        person: dict[str, Any]
        relationship: str
        child: bool

    def add_beneficiary(self, *, person: dict[str, Any], relationship: str, child: bool) -> str:
        """Add a beneficiary, at intake or later (a sibling found at the home visit, L1.8).

        Returns the new beneficiary's id: "2", "3", ... in the order they are added.
        """
        self._require_open()
        if not isinstance(person, dict):
            raise InvalidValue("person", "must be an object")
        beneficiary_id = str(len(self.beneficiaries) + 2)
        self._beneficiary_added(
            beneficiary_id=beneficiary_id,
            person=dict(person),
            relationship=required_text("relationship", relationship),
            child=bool(child),
        )
        return beneficiary_id

    @event(BeneficiaryAdded)
    def _beneficiary_added(
        self, beneficiary_id: str, person: dict[str, Any], relationship: str, child: bool
    ) -> None:
        self.beneficiaries[beneficiary_id] = BeneficiaryState(child=child, consent=None)

    class BeneficiaryConsentRecorded(Event):
        """L1.9-10: written informed consent of one added beneficiary, given or refused.

        A refusal ends nothing but that beneficiary's services: the others' go on.
        """

        beneficiary_id: str
        given: bool
        given_by: str
        document_ref: str
        notes: str

    def record_beneficiary_consent(
        self,
        *,
        beneficiary_id: str,
        given: bool,
        given_by: str,
        document_ref: str = "",
        notes: str = "",
    ) -> None:
        """L1.9-10 for one added beneficiary; the first victim's is ``record_consent``."""
        self._require_open()
        self._require_classified()
        if beneficiary_id == FIRST_VICTIM:
            raise RuleViolated(
                "first_victim_consent_is_case_consent",
                "the first victim's consent is the case's consent: record it at /consent",
                step="L1.9",
            )
        beneficiary = self._beneficiary("beneficiary_id", beneficiary_id)
        if beneficiary.consent is not None:
            raise RuleViolated(
                "consent_already_recorded",
                "consent has already been recorded for this beneficiary",
                step="L1.9",
            )
        given_by_value = value_of(ConsentGiver, "given_by", given_by)
        if beneficiary.child and given_by_value not in CHILD_CONSENT_GIVERS:
            raise RuleViolated(
                "child_consent_by_parent_or_guardian",
                "a child's consent is given by a parent or guardian",
                step="L1.9",
            )
        if given and not document_ref.strip():
            raise InvalidValue("document_ref", "a given consent needs the signed form's reference")
        self._beneficiary_consent_recorded(
            beneficiary_id=beneficiary_id,
            given=bool(given),
            given_by=given_by_value,
            document_ref=document_ref,
            notes=notes,
        )

    @event(BeneficiaryConsentRecorded)
    def _beneficiary_consent_recorded(
        self, beneficiary_id: str, given: bool, given_by: str, document_ref: str, notes: str
    ) -> None:
        self.beneficiaries[beneficiary_id] = replace(
            self.beneficiaries[beneficiary_id], consent="given" if given else "refused"
        )

    def _beneficiary(self, field: str, beneficiary_id: str) -> "BeneficiaryState":
        beneficiary = self.beneficiaries.get(beneficiary_id)
        if beneficiary is None:
            raise InvalidValue(field, "names no beneficiary of this case")
        return beneficiary

    def _require_beneficiary_consent(self, field: str, beneficiary_ids: Sequence[str]) -> None:
        """A referral for a beneficiary needs that beneficiary's consent (L1.9)."""
        for beneficiary_id in beneficiary_ids:
            if beneficiary_id == FIRST_VICTIM:
                self._require_consent("a referral for the first victim")
            elif self._beneficiary(field, beneficiary_id).consent != "given":
                raise RuleViolated(
                    "consent_required",
                    "a referral for a beneficiary needs that beneficiary's written "
                    "informed consent first",
                    step="L1.9",
                )
        self._require_classified()

    class ReferralBeneficiariesNamed(Event):
        """L4.1: whom the referral recorded next (same command, same id) is for.

        Recorded just before its ``Referred`` so that the ``Referred`` of v1 stays as
        published; a referral without it is for the first victim ("1").
        """

        referral_id: str
        beneficiary_ids: list[str]

    @event(ReferralBeneficiariesNamed)
    def _referral_beneficiaries_named(self, referral_id: str, beneficiary_ids: list[str]) -> None:
        self.referral_beneficiaries[referral_id] = frozenset(beneficiary_ids)

    class FamilyDecisionRecorded(Event):
        """K-C3: the services identified were offered to the family, and what it decided."""

        first_marks = "family_decision_recorded"

        offered_services: list[str]
        accepted_services: list[str]
        decided_by: str
        notes: str

    def record_family_decision(
        self,
        *,
        offered_services: list[str],
        accepted_services: list[str],
        decided_by: str,
        notes: str = "",
    ) -> None:
        """K-C3: "jenis layanan ... ditawarkan ke pengadu/keluarga anak": their decision.

        The family may accept some of the services offered, or none; a refusal of
        them all is recorded as such, and ending the case is then the office's own
        decision (a unilateral termination, L6.4), not a consequence of this event.
        """
        self._require_open()
        self._require_classified()
        offered = values_of(ServiceType, "offered_services", offered_services)
        if not offered:
            raise InvalidValue("offered_services", "must list at least 1 item(s)")
        accepted = values_of(ServiceType, "accepted_services", accepted_services)
        if not set(accepted) <= set(offered):
            raise InvalidValue(
                "accepted_services", "must list only services that were offered (K-C3)"
            )
        self._family_decision_recorded(
            offered_services=offered,
            accepted_services=accepted,
            decided_by=value_of(ConsentGiver, "decided_by", decided_by),
            notes=notes,
        )

    @event(FamilyDecisionRecorded)
    def _family_decision_recorded(
        self,
        offered_services: list[str],
        accepted_services: list[str],
        decided_by: str,
        notes: str,
    ) -> None:
        pass

    # ---- 2. Assessment -------------------------------------------------------

    class AssessmentRecorded(Event):
        """L2.1-L2.3: an assessment of one condition, by the agency that did it."""

        kind: str
        domain: str
        assessing_agency: str
        findings: str
        recommended_services: list[str]

    def record_assessment(
        self,
        *,
        kind: str,
        domain: str,
        assessing_agency: str,
        findings: str,
        recommended_services: list[str] | None = None,
        before_classification: bool = False,
    ) -> None:
        """L2.1-L2.3: home visit, further and specialist assessment, by the agency that did it.

        ``before_classification``: the district assesses before it classifies (Kota Batu
        B2, Purwakarta P2), so an unclassified case may be assessed before consent. The
        findings stay the office's: they are personal data, which no agency receives
        before consent (the sharing matrix's gate), and referring still needs consent.
        """
        self._require_open()
        if not (before_classification and not self.classified):
            self._require_consent("assessment")
        self._assessment_recorded(
            kind=value_of(AssessmentKind, "kind", kind),
            domain=value_of(AssessmentDomain, "domain", domain),
            assessing_agency=value_of(Agency, "assessing_agency", assessing_agency),
            findings=required_text("findings", findings),
            recommended_services=values_of(
                ServiceType, "recommended_services", recommended_services or []
            ),
        )

    @event(AssessmentRecorded)
    def _assessment_recorded(
        self,
        kind: str,
        domain: str,
        assessing_agency: str,
        findings: str,
        recommended_services: list[str],
    ) -> None:
        self.assessments_recorded += 1
        if self.stage == Stage.ASSESSMENT:
            self.assessments_in_cycle += 1

    class AssessmentReviewed(Event):
        """T3 / P2-P4: a supervisor reviewed the assessment's results with the case worker."""

        first_marks = "assessment_reviewed"

        outcome: str
        notes: str

    def review_assessment(self, *, outcome: str, notes: str = "") -> None:
        """T3 "koordinasi dengan atasan tentang hasil assessment"; Purwakarta's Kasi (P2, P4).

        Only an assessment already recorded can be reviewed; "further assessment
        needed" sends the case worker back to assess before the case report.
        """
        self._require_open()
        if self.assessments_recorded == 0:
            raise RuleViolated(
                "assessment_required",
                "an assessment must be recorded before a supervisor reviews it",
                step="T3",
            )
        self._assessment_reviewed(outcome=value_of(ReviewOutcome, "outcome", outcome), notes=notes)

    @event(AssessmentReviewed)
    def _assessment_reviewed(self, outcome: str, notes: str) -> None:
        pass

    class CaseReportConcluded(Event):
        """L2.7: the assessment was concluded into the case report."""

        summary: str
        needs: list[str]

    def conclude_case_report(self, *, summary: str, needs: list[str]) -> None:
        """L2.7: conclude the assessment into the case report."""
        self._require_open()
        self._require_stage(Stage.ASSESSMENT, "case_report", "L2.7")
        if self.assessments_in_cycle == 0:
            raise RuleViolated(
                "assessment_required",
                "at least one assessment must be recorded before the case report is concluded",
                step="L2.7",
            )
        self._case_report_concluded(
            summary=required_text("summary", summary),
            needs=values_of(ServiceType, "needs", needs),
        )

    @event(CaseReportConcluded)
    def _case_report_concluded(self, summary: str, needs: list[str]) -> None:
        pass

    # ---- 3. Intervention planning -------------------------------------------

    class CaseConferenceHeld(Event):
        """L3.3 / L5.3: a multi-agency case conference and its decisions."""

        # K-C5 and K-O7 set a week for the first case conference.
        first_marks = "case_conference_held"

        held_on: str
        participating_agencies: list[str]
        decisions: list[str]

    def hold_case_conference(
        self, *, held_on: str, participating_agencies: list[str], decisions: list[str]
    ) -> None:
        """L3.3 / L5.3: a multi-agency case conference and its decisions."""
        self._require_open()
        self._require_consent("case_conference")
        agencies = values_of(Agency, "participating_agencies", participating_agencies)
        if not agencies:
            raise InvalidValue("participating_agencies", "must list at least 1 item(s)")
        self._case_conference_held(
            held_on=required_text("held_on", held_on),
            participating_agencies=agencies,
            decisions=text_items("decisions", decisions),
        )

    @event(CaseConferenceHeld)
    def _case_conference_held(
        self, held_on: str, participating_agencies: list[str], decisions: list[str]
    ) -> None:
        pass

    class FamilyMeetingHeld(Event):
        """L3.4 / L5.4: a meeting with the beneficiary's family and what it agreed."""

        held_on: str
        participants: list[str]
        agreements: list[str]

    def hold_family_meeting(
        self, *, held_on: str, participants: list[str], agreements: list[str]
    ) -> None:
        """L3.4 / L5.4: a meeting with the beneficiary's family."""
        self._require_open()
        self._require_consent("family_meeting")
        self._family_meeting_held(
            held_on=required_text("held_on", held_on),
            participants=text_items("participants", participants),
            agreements=text_items("agreements", agreements),
        )

    @event(FamilyMeetingHeld)
    def _family_meeting_held(
        self, held_on: str, participants: list[str], agreements: list[str]
    ) -> None:
        pass

    class InterventionPlanAgreed(Event):
        """L3.1-L3.5: goals and services, each mapped to an agency, agreed with the family."""

        goals: list[str]
        services: list[dict[str, str]]
        agreed_with: list[str]
        plan_document_ref: str

    def agree_intervention_plan(
        self,
        *,
        goals: list[str],
        services: list[dict[str, str]],
        agreed_with: list[str],
        plan_document_ref: str = "",
    ) -> None:
        """L3.1-L3.5: goals and services, each mapped to an agency, agreed with the beneficiary."""
        self._require_open()
        self._require_stage(Stage.PLANNING, "intervention_plan", "L3.5")
        if not isinstance(services, (list, tuple)) or not services:
            raise InvalidValue("services", "must list at least 1 item(s)")
        if not agreed_with:
            raise InvalidValue("agreed_with", "must name who agreed to the plan (L3.5)")
        planned = []
        for index, service in enumerate(services):
            if not isinstance(service, dict):
                raise InvalidValue(f"services[{index}]", "must be an object")
            service_type = value_of(
                ServiceType, f"services[{index}].service_type", service.get("service_type")
            )
            agency = value_of(Agency, f"services[{index}].agency", service.get("agency"))
            _require_agency_provides(agency, service_type)
            planned.append({"service_type": service_type, "agency": agency})
        self._intervention_plan_agreed(
            goals=text_items("goals", goals),
            services=planned,
            agreed_with=values_of(ConsentGiver, "agreed_with", agreed_with),
            plan_document_ref=plan_document_ref,
        )

    @event(InterventionPlanAgreed)
    def _intervention_plan_agreed(
        self,
        goals: list[str],
        services: list[dict[str, str]],
        agreed_with: list[str],
        plan_document_ref: str,
    ) -> None:
        pass

    # ---- 4. Intervention -----------------------------------------------------

    class Referred(Event):
        """L4.1: the beneficiary was referred to an agency for a service, due by a time."""

        referral_id: str
        service_type: str
        agency: str
        due_at: datetime
        emergency: bool
        notes: str
        referral_record_ref: str

    def refer(
        self,
        *,
        referral_id: str,
        service_type: str,
        agency: str,
        due_at: datetime,
        receiving_agencies: Collection[str],
        emergency: bool = False,
        notes: str = "",
        referral_record_ref: str = "",
        approval_required: str | None = None,
        beneficiary_ids: Sequence[str] = (),
    ) -> None:
        """L4.1: refer the beneficiary to an agency for a service (with a referral record).

        ``beneficiary_ids``: whom the referral is for, when not (only) the first victim;
        each needs their own consent, except in an emergency (routing rule e).

        ``receiving_agencies``: the agencies a referral can reach (those with an inbox,
        and the coordinating office itself); the service layer knows them.
        ``approval_required``: the SOP step of a district whose supervisor approves every
        referral (Kutai Timur K-C8); such a district refers through
        ``approve_recommendation``, except in an emergency (routing rule e).
        """
        self._require_open()
        if approval_required is not None and not emergency:
            raise RuleViolated(
                "referral_needs_approval",
                "this district refers only on a supervisor's approval of a recommendation: "
                "recommend the referral, and a supervisor approves it",
                step=approval_required,
            )
        named = list(dict.fromkeys(beneficiary_ids))
        for beneficiary_id in named:
            if beneficiary_id != FIRST_VICTIM:
                self._beneficiary("beneficiary_ids", beneficiary_id)
        if named and not emergency:
            self._require_beneficiary_consent("beneficiary_ids", named)
        checked = self._checked_referral(
            referral_id=referral_id,
            service_type=service_type,
            agency=agency,
            due_at=due_at,
            receiving_agencies=receiving_agencies,
            emergency=emergency,
            notes=notes,
            referral_record_ref=referral_record_ref,
            step="L4.1",
            beneficiary_ids=named,
        )
        if named:
            self._referral_beneficiaries_named(referral_id=referral_id, beneficiary_ids=named)
        self._referred(**checked)

    def _checked_referral(
        self,
        *,
        referral_id: str,
        service_type: str,
        agency: str,
        due_at: datetime,
        receiving_agencies: Collection[str],
        emergency: bool,
        notes: str,
        referral_record_ref: str,
        step: str,
        beneficiary_ids: Sequence[str] = (),
    ) -> dict[str, Any]:
        """The ``_referred`` event's arguments, once every rule of a referral holds.

        ``beneficiary_ids`` whose consent the caller checked; none means the first victim.
        """
        service_value = value_of(ServiceType, "service_type", service_type)
        agency_value = value_of(Agency, "agency", agency)
        _require_agency_provides(agency_value, service_value)
        _require_agency_reachable(agency_value, receiving_agencies, "refer", "agency", step=step)
        if emergency and not self.emergency:
            raise RuleViolated(
                "not_an_emergency",
                "an emergency referral needs a case classified as an emergency (routing rule e)",
                step="L1.6",
            )
        if not emergency and not beneficiary_ids:
            self._require_consent("referral")
        if referral_id in self.referrals:
            raise RuleViolated("referral_id_taken", "a referral with this id already exists")
        # The same agency and service may serve different beneficiaries, each referred apart.
        referred_for = frozenset(beneficiary_ids or (FIRST_VICTIM,))
        for existing_id, existing in self.referrals.items():
            if (
                existing.agency == agency_value
                and existing.service_type == service_value
                and not existing.is_settled
                and referred_for & self.referral_beneficiaries.get(existing_id, {FIRST_VICTIM})
            ):
                raise RuleViolated(
                    "referral_already_open",
                    "this agency already has an open referral for this service for the "
                    "same beneficiary on the case",
                    step=step,
                )
        if due_at.tzinfo is None:
            raise InvalidValue("due_at", "must include a timezone")
        return {
            "referral_id": referral_id,
            "service_type": service_value,
            "agency": agency_value,
            "due_at": due_at,
            "emergency": bool(emergency),
            "notes": notes,
            "referral_record_ref": referral_record_ref,
        }

    @event(Referred)
    def _referred(
        self,
        referral_id: str,
        service_type: str,
        agency: str,
        due_at: datetime,
        emergency: bool,
        notes: str,
        referral_record_ref: str,
    ) -> None:
        self.referrals[referral_id] = ReferralState(
            agency=agency,
            service_type=service_type,
            status=ReferralStatus.PENDING.value,
            emergency=emergency,
        )

    class ReferralAccepted(Event):
        """L4.1: the receiving agency accepted the referral."""

        referral_id: str
        notes: str

    def accept_referral(self, *, referral_id: str, notes: str = "") -> None:
        """The receiving agency accepts the referral."""
        self._require_open()
        referral = self._referral(referral_id)
        if referral.status != ReferralStatus.PENDING.value:
            raise RuleViolated(
                "referral_not_pending", "only a pending referral can be accepted", step="L4.1"
            )
        self._referral_accepted(referral_id=referral_id, notes=notes)

    @event(ReferralAccepted)
    def _referral_accepted(self, referral_id: str, notes: str) -> None:
        pass

    class ReferralDeclined(Event):
        """L4.1: the receiving agency declined the referral, saying why."""

        referral_id: str
        reason: str

    def decline_referral(self, *, referral_id: str, reason: str) -> None:
        """The receiving agency declines the referral, saying why."""
        self._require_open()
        referral = self._referral(referral_id)
        if referral.status not in (ReferralStatus.PENDING.value, ReferralStatus.ACCEPTED.value):
            raise RuleViolated(
                "referral_not_open",
                "only a pending or accepted referral can be declined",
                step="L4.1",
            )
        self._referral_declined(referral_id=referral_id, reason=required_text("reason", reason))

    @event(ReferralDeclined)
    def _referral_declined(self, referral_id: str, reason: str) -> None:
        pass

    class ServiceDelivered(Event):
        """L4.2-4.3: the agency reported what it delivered, and with which outcome."""

        referral_id: str
        outcome: str
        delivered_on: str
        summary: str

    def record_service_delivery(
        self, *, referral_id: str, outcome: str, delivered_on: str, summary: str
    ) -> None:
        """L4.2-4.3: the agency reports what it delivered."""
        self._require_open()
        referral = self._referral(referral_id)
        if referral.status not in (
            ReferralStatus.ACCEPTED.value,
            ReferralStatus.IN_PROGRESS.value,
        ):
            raise RuleViolated(
                "referral_not_accepted",
                "a service can be reported only on an accepted referral",
                step="L4.2",
            )
        self._service_delivered(
            referral_id=referral_id,
            outcome=value_of(DeliveryOutcome, "outcome", outcome),
            delivered_on=required_text("delivered_on", delivered_on),
            summary=required_text("summary", summary),
        )

    @event(ServiceDelivered)
    def _service_delivered(
        self, referral_id: str, outcome: str, delivered_on: str, summary: str
    ) -> None:
        pass

    class ReferralCancelled(Event):
        """L4.1: the coordinating office withdrew a referral that was no longer needed."""

        referral_id: str
        reason: str

    def cancel_referral(self, *, referral_id: str, reason: str) -> None:
        """The coordinating office withdraws a referral that is no longer needed."""
        self._require_open()
        if self._referral(referral_id).is_settled:
            raise RuleViolated(
                "referral_settled", "the referral is already settled and cannot be cancelled"
            )
        self._referral_cancelled(referral_id=referral_id, reason=required_text("reason", reason))

    @event(ReferralCancelled)
    def _referral_cancelled(self, referral_id: str, reason: str) -> None:
        pass

    class ReferralRecommended(Event):
        """K-C7: the social worker proposed a referral, for a supervisor to approve (K-C8)."""

        first_marks = "referral_recommended"

        recommendation_id: str
        service_type: str
        agency: str
        rationale: str

    def recommend_referral(
        self,
        *,
        recommendation_id: str,
        service_type: str,
        agency: str,
        receiving_agencies: Collection[str],
        rationale: str,
    ) -> None:
        """K-C7: "membuat usulan rekomendasi ke layanan lain atau layanan lanjutan/rujukan"."""
        self._require_open()
        self._require_consent("a referral")
        service_value = value_of(ServiceType, "service_type", service_type)
        agency_value = value_of(Agency, "agency", agency)
        _require_agency_provides(agency_value, service_value)
        _require_agency_reachable(
            agency_value, receiving_agencies, "recommend a referral", "agency", step="K-C7"
        )
        if recommendation_id in self.recommendations:
            raise RuleViolated(
                "recommendation_exists", "a recommendation with this id exists", step="K-C7"
            )
        self._referral_recommended(
            recommendation_id=recommendation_id,
            service_type=service_value,
            agency=agency_value,
            rationale=required_text("rationale", rationale),
        )

    @event(ReferralRecommended)
    def _referral_recommended(
        self,
        recommendation_id: str,
        service_type: str,
        agency: str,
        rationale: str,
        actor: Mapping[str, str] | None = None,
    ) -> None:
        # ``actor`` is the event's own stamp (the library passes the event's fields a
        # body names); the four-eyes rule of K-C8 needs to know who proposed.
        self.recommendations[recommendation_id] = RecommendationState(
            service_type=service_type,
            agency=agency,
            proposed_by=(actor or {}).get("user_id", ""),
            status=RecommendationStatus.PROPOSED.value,
        )

    class RecommendationApproved(Event):
        """K-C8: a supervisor approved a recommendation; the referral it made follows."""

        first_marks = "recommendation_approved"

        recommendation_id: str
        referral_id: str
        recommendation_letter_ref: str
        referral_record_ref: str

    def approve_recommendation(
        self,
        *,
        recommendation_id: str,
        referral_id: str,
        due_at: datetime,
        receiving_agencies: Collection[str],
        recommendation_letter_ref: str,
        referral_record_ref: str,
        notes: str = "",
    ) -> None:
        """K-C8: the Ketua Pelaksana Harian approves and refers, with the surat rekomendasi
        and the Berita Acara Rujukan: the approval and the referral are recorded together.

        Someone other than the proposer approves: a recommendation its own author
        approves has had no supervision.
        """
        self._require_open()
        recommendation = self._pending_recommendation(recommendation_id)
        if recommendation.proposed_by == current_actor_record()["user_id"]:
            raise RuleViolated(
                "approval_by_proposer",
                "a recommendation is approved by a supervisor other than the person who "
                "proposed it",
                step="K-C8",
            )
        letter_ref = required_text("recommendation_letter_ref", recommendation_letter_ref)
        record_ref = required_text("referral_record_ref", referral_record_ref)
        # Both events or neither: the referral's rules are checked before the approval
        # is recorded, so a refused referral leaves the recommendation pending.
        referral = self._checked_referral(
            referral_id=referral_id,
            service_type=recommendation.service_type,
            agency=recommendation.agency,
            due_at=due_at,
            receiving_agencies=receiving_agencies,
            emergency=False,
            notes=notes,
            referral_record_ref=referral_record_ref,
            step="K-C8",
        )
        self._recommendation_approved(
            recommendation_id=recommendation_id,
            referral_id=referral_id,
            recommendation_letter_ref=letter_ref,
            referral_record_ref=record_ref,
        )
        self._referred(**referral)

    @event(RecommendationApproved)
    def _recommendation_approved(
        self,
        recommendation_id: str,
        referral_id: str,
        recommendation_letter_ref: str,
        referral_record_ref: str,
    ) -> None:
        self._set_recommendation_status(recommendation_id, RecommendationStatus.APPROVED)

    class RecommendationReturned(Event):
        """K-C8: a supervisor returned a recommendation to the social worker, saying why."""

        recommendation_id: str
        reason: str

    def return_recommendation(self, *, recommendation_id: str, reason: str) -> None:
        """K-C8: the supervisor does not approve the recommendation and says why."""
        self._require_open()
        self._pending_recommendation(recommendation_id)
        self._recommendation_returned(
            recommendation_id=recommendation_id, reason=required_text("reason", reason)
        )

    @event(RecommendationReturned)
    def _recommendation_returned(self, recommendation_id: str, reason: str) -> None:
        self._set_recommendation_status(recommendation_id, RecommendationStatus.RETURNED)

    class ReferralProgressNoted(Event):
        """K-R5: how the referred agency's handling of the client is progressing."""

        referral_id: str
        noted_on: str
        progress: str

    def note_referral_progress(self, *, referral_id: str, noted_on: str, progress: str) -> None:
        """K-R5 "pemantauan perkembangan penanganan klien dari lembaga yang dirujuk",
        "selama kasus berlangsung": progress without an outcome, as often as needed."""
        self._require_open()
        referral = self._referral(referral_id)
        if referral.status not in PROGRESSING_REFERRAL_STATUSES:
            raise RuleViolated(
                "referral_not_in_progress",
                "progress is noted on a referral the agency has accepted and not yet settled",
                step="K-R5",
            )
        self._referral_progress_noted(
            referral_id=referral_id,
            noted_on=required_text("noted_on", noted_on),
            progress=required_text("progress", progress),
        )

    @event(ReferralProgressNoted)
    def _referral_progress_noted(self, referral_id: str, noted_on: str, progress: str) -> None:
        pass

    class MediationHeld(Event):
        """P5 / B5: a mediation between the victim and the other party, and what it agreed."""

        first_marks = "mediation_held"

        held_on: str
        parties: list[str]
        perpetrator_is_child: bool
        agreement_reached: bool
        agreements: list[str]

    def hold_mediation(
        self,
        *,
        held_on: str,
        parties: list[str],
        perpetrator_is_child: bool,
        agreement_reached: bool,
        agreements: list[str],
    ) -> None:
        """P5 / B5: mediate between victim and perpetrator; never a sexual-violence case."""
        self._require_open()
        self._require_classified()
        self._require_consent("mediation")
        if self.sexual_violence and not perpetrator_is_child:
            raise RuleViolated(
                "mediation_not_allowed",
                "a sexual-violence case may not be settled outside the judicial process "
                "unless the perpetrator is a child (UU 12/2022 on TPKS, Pasal 23)",
                step="P5",
            )
        if agreement_reached and not agreements:
            raise InvalidValue("agreements", "an agreement reached must say what was agreed")
        self._mediation_held(
            held_on=required_text("held_on", held_on),
            parties=text_items("parties", parties, at_least=2),
            perpetrator_is_child=bool(perpetrator_is_child),
            agreement_reached=bool(agreement_reached),
            agreements=[required_text("agreements", item) for item in agreements],
        )

    @event(MediationHeld)
    def _mediation_held(
        self,
        held_on: str,
        parties: list[str],
        perpetrator_is_child: bool,
        agreement_reached: bool,
        agreements: list[str],
    ) -> None:
        pass

    # ---- Temporary shelter (Tanjungpinang T4d) ----------------------------------

    class ShelterAdmitted(Event):
        """T4d: the beneficiary was placed in a temporary shelter (RSTS Dinsos, P2TP2A)."""

        shelter: str
        shelter_name: str
        admitted_on: str
        referral_id: str | None
        emergency: bool
        notes: str

    def admit_to_shelter(
        self,
        *,
        shelter: str,
        admitted_on: str,
        shelter_name: str = "",
        referral_id: str | None = None,
        emergency: bool = False,
        notes: str = "",
    ) -> None:
        """T4d: "penitipan sementara di shelter RSTS Dinsos/shelter P2TP2A".

        Like any service it needs consent, except in an emergency (routing rule e),
        as an emergency referral does. ``referral_id``: the shelter referral the stay
        serves, if the stay was referred.
        """
        self._require_open()
        self._require_classified()
        if emergency and not self.emergency:
            raise RuleViolated(
                "not_an_emergency",
                "an emergency admission needs a case classified as an emergency (routing rule e)",
                step="L1.6",
            )
        if not emergency:
            self._require_consent("a shelter stay")
        if self.shelter_admitted_on is not None:
            raise RuleViolated(
                "already_in_shelter",
                "the beneficiary is in a shelter already; record the discharge first",
                step="T4d",
            )
        shelter_value = value_of(Shelter, "shelter", shelter)
        if shelter_value == Shelter.OTHER and not shelter_name.strip():
            raise InvalidValue("shelter_name", "a shelter other than RSTS or P2TP2A needs a name")
        if referral_id is not None:
            referral = self._referral(referral_id)
            if referral.service_type != ServiceType.TEMPORARY_SHELTER:
                raise RuleViolated(
                    "referral_not_for_shelter",
                    "the referral is not for temporary shelter",
                    step="T4d",
                )
            if referral.status in ENDED_REFERRAL_STATUSES:
                raise RuleViolated(
                    "referral_ended",
                    "the referral was declined, cancelled or not delivered: it serves no stay",
                    step="T4d",
                )
        admitted = iso_day("admitted_on", admitted_on)
        self._shelter_admitted(
            shelter=shelter_value,
            shelter_name=shelter_name,
            admitted_on=admitted.isoformat(),
            referral_id=referral_id,
            emergency=bool(emergency),
            notes=notes,
        )

    @event(ShelterAdmitted)
    def _shelter_admitted(
        self,
        shelter: str,
        shelter_name: str,
        admitted_on: str,
        referral_id: str | None,
        emergency: bool,
        notes: str,
    ) -> None:
        self.shelter_admitted_on = admitted_on

    class ShelterDischarged(Event):
        """T4d: the beneficiary left the shelter, and where she went."""

        discharged_on: str
        destination: str
        reason: str
        notes: str

    def discharge_from_shelter(
        self, *, discharged_on: str, destination: str, reason: str, notes: str = ""
    ) -> None:
        """T4d: the stay ends; the length of stay counts from admission to this day."""
        self._require_open()
        if self.shelter_admitted_on is None:
            raise RuleViolated("not_in_shelter", "the beneficiary is not in a shelter", step="T4d")
        discharged = iso_day("discharged_on", discharged_on)
        if discharged < iso_day("admitted_on", self.shelter_admitted_on):
            raise InvalidValue("discharged_on", "must not be before the day of admission")
        self._shelter_discharged(
            discharged_on=discharged.isoformat(),
            destination=value_of(ShelterDestination, "destination", destination),
            reason=required_text("reason", reason),
            notes=notes,
        )

    @event(ShelterDischarged)
    def _shelter_discharged(
        self, discharged_on: str, destination: str, reason: str, notes: str
    ) -> None:
        self.shelter_admitted_on = None

    # ---- Social reintegration (Kutai Timur K-I1-K-I8) ------------------------------

    class ReintegrationStepRecorded(Event):
        """K-I1-I3, K-I5, K-I8: a step of the social reintegration was done."""

        activity: str
        done_on: str
        notes: str

    def record_reintegration_step(self, *, activity: str, done_on: str, notes: str = "") -> None:
        """K-I1-I3 prepare and counsel, K-I5 introduce to the community, K-I8 report."""
        self._require_open()
        self._require_consent("social reintegration")
        activity_value = ReintegrationActivity(
            value_of(ReintegrationActivity, "activity", activity)
        )
        step = REINTEGRATION_STEP[activity_value]
        if activity_value == ReintegrationActivity.COMMUNITY_INTRODUCTION and not self.reunified:
            raise RuleViolated(
                "not_reunified",
                "the community is introduced to a child who has been reunified (K-I4)",
                step=step,
            )
        if activity_value == ReintegrationActivity.REPORT and not self.reintegration_evaluated:
            raise RuleViolated(
                "reintegration_not_evaluated",
                "the reintegration is reported once it has been evaluated (K-I7)",
                step=step,
            )
        self._reintegration_step_recorded(
            activity=activity_value.value,
            done_on=iso_day("done_on", done_on).isoformat(),
            notes=notes,
        )

    @event(ReintegrationStepRecorded)
    def _reintegration_step_recorded(self, activity: str, done_on: str, notes: str) -> None:
        self.reintegration_steps_done.add(activity)

    class ChildReunified(Event):
        """K-I4: the child went back to the family or a substitute family."""

        first_marks = "reunified"

        reunified_on: str
        reunified_with: str
        notes: str

    def reunify_child(self, *, reunified_on: str, reunified_with: str, notes: str = "") -> None:
        """K-I4: "Melaksanakan reunifikasi kepada keluarga atau keluarga pengganti".

        Its requirement is the counselling record ("catatan hasil konseling"), so the
        family is prepared (K-I1) and child and caregivers counselled (K-I2, K-I3) first.
        """
        self._require_open()
        self._require_consent("social reintegration")
        if self.reunified:
            raise RuleViolated(
                "already_reunified", "the child has been reunified already", step="K-I4"
            )
        missing = [
            REINTEGRATION_STEP[activity]
            for activity in REUNIFICATION_PREREQUISITES
            if activity.value not in self.reintegration_steps_done
        ]
        if missing:
            raise RuleViolated(
                "reintegration_not_prepared",
                f"reunification follows preparation and counselling; not yet recorded: "
                f"{', '.join(missing)}",
                step="K-I4",
            )
        if self.shelter_admitted_on is not None:
            raise RuleViolated(
                "still_in_shelter",
                "the child is in a shelter: record the discharge (T4d) before reunification",
                step="K-I4",
            )
        self._child_reunified(
            reunified_on=iso_day("reunified_on", reunified_on).isoformat(),
            reunified_with=value_of(ReunifiedWith, "reunified_with", reunified_with),
            notes=notes,
        )

    @event(ChildReunified)
    def _child_reunified(self, reunified_on: str, reunified_with: str, notes: str) -> None:
        self.reunified = True

    class ReintegrationVisitRecorded(Event):
        """K-I6: a monitoring visit in the three months after reunification."""

        visited_on: str
        mode: str
        findings: str

    def record_reintegration_visit(self, *, visited_on: str, mode: str, findings: str) -> None:
        """K-I6: "Pemantauan integrasi sosial dan perkembangan" for 3 bulan after K-I4."""
        self._require_open()
        self._require_consent("social reintegration")
        if not self.reunified:
            raise RuleViolated(
                "not_reunified",
                "reintegration is monitored once the child has been reunified (K-I4)",
                step="K-I6",
            )
        if self.reintegration_evaluated:
            raise RuleViolated(
                "reintegration_already_evaluated",
                "the reintegration has been evaluated, which ends its monitoring (K-I7)",
                step="K-I6",
            )
        self._reintegration_visit_recorded(
            visited_on=iso_day("visited_on", visited_on).isoformat(),
            mode=value_of(ContactMode, "mode", mode),
            findings=required_text("findings", findings),
        )

    @event(ReintegrationVisitRecorded)
    def _reintegration_visit_recorded(self, visited_on: str, mode: str, findings: str) -> None:
        self.reintegration_visits += 1

    class ReintegrationEvaluated(Event):
        """K-I7: the monitoring's results were evaluated: is the child reintegrated?"""

        first_marks = "reintegration_evaluated"

        evaluated_on: str
        reintegrated: bool
        findings: str

    def evaluate_reintegration(
        self, *, evaluated_on: str, reintegrated: bool, findings: str
    ) -> None:
        """K-I7: "Melakukan evaluasi terhadap hasil pemantauan", which ends the monitoring."""
        self._require_open()
        self._require_consent("social reintegration")
        if not self.reunified:
            raise RuleViolated(
                "not_reunified",
                "a reintegration is evaluated after the child's reunification (K-I4)",
                step="K-I7",
            )
        if self.reintegration_evaluated:
            raise RuleViolated(
                "reintegration_already_evaluated",
                "the reintegration has been evaluated already",
                step="K-I7",
            )
        if self.reintegration_visits == 0:
            raise RuleViolated(
                "monitoring_required",
                "the evaluation weighs the monitoring's results: record a monitoring "
                "visit (K-I6) first",
                step="K-I7",
            )
        self._reintegration_evaluated(
            evaluated_on=iso_day("evaluated_on", evaluated_on).isoformat(),
            reintegrated=bool(reintegrated),
            findings=required_text("findings", findings),
        )

    @event(ReintegrationEvaluated)
    def _reintegration_evaluated(
        self, evaluated_on: str, reintegrated: bool, findings: str
    ) -> None:
        self.reintegration_evaluated = True

    class AccompanimentRecorded(Event):
        """L4.4-4.6: the case worker accompanied the beneficiary."""

        activity: str
        notes: str

    def record_accompaniment(self, *, activity: str, notes: str = "") -> None:
        """L4.4-4.6: the case worker accompanies the beneficiary and reports it."""
        self._require_open()
        self._require_consent("accompaniment")
        self._accompaniment_recorded(activity=required_text("activity", activity), notes=notes)

    @event(AccompanimentRecorded)
    def _accompaniment_recorded(self, activity: str, notes: str) -> None:
        pass

    # ---- 5. Monitoring and evaluation ----------------------------------------

    class MonitoringVisitRecorded(Event):
        """L5.2: services and results were checked with the beneficiary."""

        mode: str
        findings: str
        services_on_track: bool
        recovered: bool

    def record_monitoring_visit(
        self, *, mode: str, findings: str, services_on_track: bool, recovered: bool
    ) -> None:
        """L5.2: check services and results with the beneficiary."""
        self._require_open()
        if self.stage not in STAGES_AFTER_PLANNING:
            raise RuleViolated(
                "plan_required",
                "monitoring starts once an intervention plan is agreed",
                step="L5.2",
            )
        self._monitoring_visit_recorded(
            mode=value_of(ContactMode, "mode", mode),
            findings=required_text("findings", findings),
            services_on_track=bool(services_on_track),
            recovered=bool(recovered),
        )

    @event(MonitoringVisitRecorded)
    def _monitoring_visit_recorded(
        self, mode: str, findings: str, services_on_track: bool, recovered: bool
    ) -> None:
        self.last_visit_found_recovery = recovered

    class ReassessmentStarted(Event):
        """L5.5: the beneficiary still needs services, so the case went back to assessment."""

        reason: str

    def start_reassessment(self, *, reason: str) -> None:
        """L5.5: the beneficiary still needs services, so the case loops back to assessment."""
        self._require_open()
        if self.stage not in STAGES_AFTER_PLANNING:
            raise RuleViolated(
                "plan_required",
                "re-assessment follows intervention and monitoring",
                step="L5.5",
            )
        self._reassessment_started(reason=required_text("reason", reason))

    @event(ReassessmentStarted)
    def _reassessment_started(self, reason: str) -> None:
        self.assessments_in_cycle = 0
        self.last_visit_found_recovery = False

    # ---- 6. Termination ------------------------------------------------------

    class Terminated(Event):
        """L6.1-L6.5: the case ended, agreed after recovery or unilaterally; it is closed."""

        first_marks = "terminated"

        kind: str
        reason: str
        beneficiary_feedback: dict[str, Any]
        termination_form_ref: str
        notes: str

    def terminate(
        self,
        *,
        kind: str,
        reason: str,
        beneficiary_feedback: dict[str, Any] | None = None,
        termination_form_ref: str = "",
        notes: str = "",
    ) -> None:
        """L6.1-L6.5: agreed termination after recovery, or unilateral (L6.4); status closed."""
        self._require_open()
        kind_value = value_of(TerminationKind, "kind", kind)
        reason_value = value_of(TerminationReason, "reason", reason)
        if kind_value == TerminationKind.AGREED.value:
            if reason_value != TerminationReason.RECOVERED.value:
                raise InvalidValue("reason", "an agreed termination's reason must be 'recovered'")
            if not self.last_visit_found_recovery:
                raise RuleViolated(
                    "recovery_not_found",
                    "an agreed termination follows a monitoring visit that found the "
                    "beneficiary recovered",
                    step="L5.5",
                )
            if self.shelter_admitted_on is not None:
                raise RuleViolated(
                    "still_in_shelter",
                    "the beneficiary is still in a shelter: record where she went when "
                    "discharged (T4d) before an agreed termination",
                    step="L6.1",
                )
            unsettled = [r for r in self.referrals.values() if not r.is_settled]
            if unsettled:
                raise RuleViolated(
                    "referrals_unsettled",
                    f"{len(unsettled)} referral(s) are not settled; every referral must be "
                    "completed, declined, not delivered or cancelled before agreed termination",
                    step="L5.5",
                )
            if not termination_form_ref.strip():
                raise InvalidValue(
                    "termination_form_ref", "an agreed termination needs the signed form (L6.2)"
                )
        elif reason_value not in UNILATERAL_REASONS:
            allowed = ", ".join(sorted(r.value for r in UNILATERAL_REASONS))
            raise InvalidValue(
                "reason", f"a unilateral termination's reason must be one of: {allowed}"
            )
        self._terminated(
            kind=kind_value,
            reason=reason_value,
            beneficiary_feedback=dict(beneficiary_feedback or {}),
            termination_form_ref=termination_form_ref,
            notes=notes,
        )

    @event(Terminated)
    def _terminated(
        self,
        kind: str,
        reason: str,
        beneficiary_feedback: dict[str, Any],
        termination_form_ref: str,
        notes: str,
    ) -> None:
        self._close(f"terminated:{reason}")

    # ---- The same person again: links and reopening -------------------------
    #
    # A link is the register's record that two cases name the same person, not a
    # step of handling, so a closed case takes it too: L6.5 closes the handling, and
    # the register keeps the case to be found again.

    class LinkedToCase(Event):
        """Another case names the same person: which one, and on what basis it was found."""

        other_case_id: UUID
        basis: str
        reason: str

    def link_to_case(self, *, other_case_id: UUID, basis: str, reason: str = "") -> bool:
        """Link this case to another naming the same person; False if already linked.

        ``basis``: nik or name_and_birth_date where the keyed fingerprints matched,
        officer where the office knows it otherwise (a reopening names it so).
        """
        if other_case_id == self.id:
            raise LinkRefused(
                "link_to_itself", "other_case_id", "a case cannot be linked to itself"
            )
        basis_value = value_of(LinkBasis, "basis", basis)
        if other_case_id in self.linked_case_ids:
            return False
        self._linked_to_case(other_case_id=other_case_id, basis=basis_value, reason=reason)
        return True

    @event(LinkedToCase)
    def _linked_to_case(self, other_case_id: UUID, basis: str, reason: str) -> None:
        self.linked_case_ids.add(other_case_id)

    class Reopened(Event):
        """A closed case's person came back: the matter continues as a new, linked case.

        The case stays closed: its steps, its termination (L6.1-L6.5, signed by both
        sides) and its clocks stay as they were; the new case starts at L1.1.
        """

        new_case_id: UUID
        reason: str

    def reopen_as(self, *, new_case_id: UUID, reason: str) -> None:
        """A new report on this closed case: it continues as ``new_case_id``, linked both ways.

        An open case is not reopened: its own loop back is re-assessment (L5.5-5.6).
        """
        if not self.is_closed:
            raise RuleViolated(
                "case_not_closed",
                "an open case is continued, not reopened: record the new report on it, or "
                "loop back to assessment (L5.5)",
                step="L5.5",
            )
        if new_case_id == self.id:
            raise LinkRefused("link_to_itself", "new_case_id", "a case cannot reopen itself")
        self._reopened(new_case_id=new_case_id, reason=required_text("reason", reason))

    @event(Reopened)
    def _reopened(self, new_case_id: UUID, reason: str) -> None:
        self.linked_case_ids.add(new_case_id)

    # ---- Documents, photos and recordings, on the case or on a step ----------

    class DocumentAttached(Event):
        """A document, photo or recording was attached (Purwakarta's "harus ada berkas dan
        dokumen/foto", P7; Kota Batu's client documents, B1; Luwu Utara's L4.3 camera).

        The content's SHA-256 is here, so the hash chain covers what was attached; the
        content itself and its file name (personal data, often) never are.
        """

        document_id: str
        kind: str
        step: str
        sha256: str
        size: int
        media_type: str

    def attach_document(
        self,
        *,
        document_id: str,
        kind: str,
        step: str,
        sha256: str,
        size: int,
        media_type: str,
        district_kinds: Collection[str],
        step_codes: Collection[str],
    ) -> None:
        """Attach stored content as a document of ``kind``, at the profile's ``step`` if any."""
        self._require_open()
        if kind not in district_kinds:
            raise InvalidValue("kind", "is not a document kind the district's profile accepts")
        if step and step not in step_codes:
            raise InvalidValue("step", "is not a step of the district's profile")
        if document_id in self.documents:
            raise RuleViolated(
                "document_already_attached", "this content is already attached to the case"
            )
        self._document_attached(
            document_id=document_id,
            kind=kind,
            step=step,
            sha256=sha256,
            size=size,
            media_type=media_type,
        )

    @event(DocumentAttached)
    def _document_attached(
        self, document_id: str, kind: str, step: str, sha256: str, size: int, media_type: str
    ) -> None:
        self.documents[document_id] = DocumentState(kind, step, sha256, media_type)

    class SignedCopyAttached(Event):
        """The signed scan of a letter the office issued was attached back (the consent
        form signed at L1.9-10, the termination form signed by both sides at L6.2, ...).

        Recorded beside the scan's ``DocumentAttached``, in the same save: it states only
        which letter the document is the signed copy of.
        """

        document_id: str
        letter_id: str

    def attach_signed_copy(self, *, document_id: str, letter_id: str) -> None:
        """Name the letter an attached document is the signed copy of."""
        self._require_open()
        if letter_id not in self.letter_ids:
            raise InvalidValue("letter_id", "is not a letter issued on this case")
        if document_id not in self.documents:
            raise InvalidValue("document_id", "is not a document attached to this case")
        self._signed_copy_attached(document_id=document_id, letter_id=letter_id)

    @event(SignedCopyAttached)
    def _signed_copy_attached(self, document_id: str, letter_id: str) -> None:
        pass

    # ---- The office's letters (issue 12) ---------------------------------------
    # Since the PDFs are stored, a letter's LetterIssued is followed in its save by the
    # DocumentAttached of its PDF (same sha256); earlier letters are rendered again.

    class LetterIssued(Event):
        """The office issued a letter (surat tugas, laporan kasus, ...): its number, kind,
        SOP step and the sha256 and verification code of its PDF.

        The PDF is rendered from the case's history before this event, the district's
        letterhead and this event's number, time and actor, so it can be regenerated
        and checked against ``sha256``. ``referral_id`` names the referral a
        recommendation or referral record is about ("" for other letters).
        """

        letter_id: str
        kind: str
        number: str
        step: str
        referral_id: str
        sha256: str
        verification_code: str

    def issue_letter(
        self,
        *,
        letter_id: str,
        kind: str,
        number: str,
        sha256: str,
        verification_code: str,
        district_kinds: Collection[str],
        referral_id: str = "",
    ) -> None:
        """Issue a letter the district's profile lists, once the case holds what it states."""
        spec = self.require_letter_issuable(
            kind=kind, district_kinds=district_kinds, referral_id=referral_id
        )
        self._letter_issued(
            letter_id=required_text("letter_id", letter_id),
            kind=value_of(LetterKind, "kind", kind),
            number=required_text("number", number),
            step=spec.step,
            referral_id=referral_id,
            sha256=required_text("sha256", sha256),
            verification_code=required_text("verification_code", verification_code),
        )

    def require_letter_issuable(
        self, *, kind: str, district_kinds: Collection[str], referral_id: str = ""
    ) -> LetterSpec:
        """The rules for issuing a letter, checked before it is rendered (and again on issue)."""
        self._require_open()
        kind_value = LetterKind(value_of(LetterKind, "kind", kind))
        spec = LETTER_SPECS[kind_value]
        if kind_value.value not in district_kinds:
            raise RuleViolated(
                "letter_not_in_profile",
                "this district's profile does not list this kind of letter",
                step=spec.step,
            )
        if spec.about_referral:
            self._referral(required_text("referral_id", referral_id))
        elif referral_id:
            raise InvalidValue("referral_id", "only a letter about a referral names one")
        self._require_letter_content(kind_value, spec.step)
        return spec

    def _require_letter_content(self, kind: LetterKind, step: str) -> None:
        missing = {
            LetterKind.ASSIGNMENT: (
                self.case_worker_id is None,
                "a surat tugas names the case worker: assign one first (L1.7)",
            ),
            LetterKind.CONSENT_FORM: (
                not self.classified,
                "the consent form follows the classification (L1.5)",
            ),
            LetterKind.CASE_REPORT: (
                self.stage in (Stage.IDENTIFICATION, Stage.ASSESSMENT),
                "the laporan kasus states the case report's conclusion: conclude it first",
            ),
            LetterKind.SOCIAL_REPORT: (
                self.assessments_recorded == 0,
                "the laporan sosial states the assessment: record one first",
            ),
            LetterKind.TERMINATION_FORM: (
                not self.last_visit_found_recovery,
                "the termination form follows a monitoring visit that found the "
                "beneficiary recovered (L5.5)",
            ),
        }.get(kind, (False, ""))
        if missing[0]:
            raise RuleViolated("letter_content_missing", missing[1], step=step)

    @event(LetterIssued)
    def _letter_issued(
        self,
        letter_id: str,
        kind: str,
        number: str,
        step: str,
        referral_id: str,
        sha256: str,
        verification_code: str,
    ) -> None:
        self.letter_ids.add(letter_id)
        if referral_id:
            self.referral_letters[sha256] = referral_id

    # ---- Queries the service layer needs -------------------------------------

    @property
    def is_closed(self) -> bool:
        return self.closure is not None

    def document_is_for(self, agency: str, sha256: str) -> bool:
        """Whether a document of the case may concern ``agency`` at all: a letter about one
        referral concerns that referral's agency alone."""
        referral_id = self.referral_letters.get(sha256)
        return referral_id is None or self.referrals[referral_id].agency == agency

    def serves_only_added_beneficiaries(self, agency: str) -> bool:
        """Referred to ``agency`` only for beneficiaries added after the report's victim: what
        is the case's own (the victim's facts, its documents) is not that agency's."""
        return serves_only_added_beneficiaries(
            agency,
            {rid: referral.agency for rid, referral in self.referrals.items()},
            self.referral_beneficiaries,
        )

    @property
    def referred_agencies(self) -> frozenset[str]:
        """Agencies this case was referred or handed over to: they may see it."""
        agencies = {referral.agency for referral in self.referrals.values()}
        if self.handed_over_to_agency:
            agencies.add(self.handed_over_to_agency)
        return frozenset(agencies)

    def open_referral_agencies(self) -> frozenset[str]:
        return frozenset(r.agency for r in self.referrals.values() if not r.is_settled)

    def referral(self, referral_id: str) -> ReferralState:
        return self._referral(referral_id)

    def recommendation(self, recommendation_id: str) -> RecommendationState:
        recommendation = self.recommendations.get(recommendation_id)
        if recommendation is None:
            raise RuleViolated(
                "recommendation_not_found",
                "no recommendation with this id exists on this case",
                step="K-C8",
            )
        return recommendation

    # ---- Rules shared by commands ---------------------------------------------

    def _close(self, closure: str) -> None:
        # Open referrals end with the case, however it closes (terminated or handed
        # over); agencies are told by the case's closing.
        for referral_id, referral in list(self.referrals.items()):
            if not referral.is_settled:
                self.referrals[referral_id] = replace(
                    referral, status=ReferralStatus.CANCELLED.value
                )
        self.closure = closure

    def _pending_recommendation(self, recommendation_id: str) -> RecommendationState:
        recommendation = self.recommendation(recommendation_id)
        if recommendation.status != RecommendationStatus.PROPOSED.value:
            raise RuleViolated(
                "recommendation_settled",
                "the recommendation was already approved or returned",
                step="K-C8",
            )
        return recommendation

    def _set_recommendation_status(
        self, recommendation_id: str, status: RecommendationStatus
    ) -> None:
        self.recommendations[recommendation_id] = replace(
            self.recommendations[recommendation_id], status=status.value
        )

    def _set_referral_status(self, referral_id: str, status: ReferralStatus) -> None:
        self.referrals[referral_id] = replace(self.referrals[referral_id], status=status.value)

    def _referral(self, referral_id: str) -> ReferralState:
        try:
            return self.referrals[referral_id]
        except KeyError:
            raise ReferralNotFound(referral_id) from None

    def _require_open(self) -> None:
        if self.is_closed:
            raise CaseClosed()

    def _require_classified(self) -> None:
        if not self.classified:
            raise RuleViolated(
                "classification_required",
                "the case must be classified (case type, risk, jurisdiction) first",
                step="L1.5",
            )

    def _require_consent(self, what: str) -> None:
        """Written consent, on a case classified now: the work of district handling.

        A handed-back case keeps its consent but not its classification, and is
        classified again (L1.5) before anything else is done on it.
        """
        if self.consent != "given":
            raise RuleViolated(
                "consent_required",
                f"{what} needs the beneficiary's written informed consent first",
                step="L1.9",
            )
        self._require_classified()

    def _require_stage(self, stage: Stage, what: str, step: str) -> None:
        if self.stage != stage:
            raise RuleViolated(
                "wrong_stage",
                f"{what.replace('_', ' ')} belongs to the {stage.value} stage; "
                f"the case is in the {self.stage} stage",
                step=step,
            )


def serves_only_added_beneficiaries(
    agency: str,
    referral_agencies: Mapping[str, str],
    referral_beneficiaries: Mapping[str, frozenset[str]],
) -> bool:
    """Whether every referral to ``agency`` (referral id -> agency) is for beneficiaries
    added after the report's victim; a referral naming no one is for her ("1"). The case
    and the sharing policy decide what an agency may receive by this one rule."""
    referred = [rid for rid, to in referral_agencies.items() if to == agency]
    return bool(referred) and all(
        FIRST_VICTIM not in referral_beneficiaries.get(rid, frozenset({FIRST_VICTIM}))
        for rid in referred
    )


def _require_agency_provides(agency: str, service_type: str) -> None:
    allowed = AGENCIES_FOR_SERVICE[ServiceType(service_type)]
    if Agency(agency) not in allowed:
        names = ", ".join(sorted(a.value for a in allowed))
        raise RuleViolated(
            "agency_cannot_provide_service",
            f"service {service_type} is provided by: {names} (L3.2)",
            step="L3.2",
        )


def _require_agency_reachable(
    agency: str, receiving_agencies: Collection[str], what: str, field: str, *, step: str
) -> None:
    # A referral or hand-over recorded for an agency nobody reads (Baznas, the
    # prosecutor, the court... have no topic or inbox) would look sent and reach
    # nobody: the beneficiary would wait for a service no one was asked for.
    if agency not in receiving_agencies:
        names = ", ".join(sorted(receiving_agencies))
        raise AgencyNotConnected(
            field,
            f"cannot {what} to {agency}: it has no inbox in Simpul, so nobody there would "
            f"receive it; agencies connected: {names}. Refer through a connected agency "
            "(the social office writes to Baznas, the police to the prosecutor) or by letter "
            "outside Simpul",
            step=step,
        )


# The facts of the intake a correction may change (B4, K-O2): the people and the incident
# by any key the intake records, and the report's own texts.
PERSON_GROUPS = ("victim", "reporter", "reported_person")
CORRECTABLE_GROUPS = (*PERSON_GROUPS, "incident", "report")
CORRECTABLE_REPORT_KEYS = frozenset({"chronology", "needs"})


def intake_facts(
    victim: Mapping[str, Any],
    reporter: Mapping[str, Any],
    reported_person: Mapping[str, Any],
    incident: Mapping[str, Any],
    *,
    chronology: str,
    needs: str,
) -> dict[str, dict[str, Any]]:
    """The correctable facts of a report, by group, as a ReportReceived recorded them."""
    return {
        "victim": dict(victim),
        "reporter": dict(reporter),
        "reported_person": dict(reported_person),
        "incident": dict(incident),
        "report": {"chronology": chronology, "needs": needs},
    }


def correction_field(group: str, key: str) -> str:
    """How a request names a corrected fact: ``victim.name``, or ``chronology`` for the report's."""
    return key if group == "report" else f"{group}.{key}"


def _correction(correction: object) -> tuple[str, str, Any]:
    if not isinstance(correction, Mapping) or set(correction) != {"group", "key", "value"}:
        raise InvalidValue("corrections", "each correction is an object of group, key and value")
    group, key, value = correction["group"], correction["key"], correction["value"]
    if group not in CORRECTABLE_GROUPS:
        raise InvalidValue("corrections", f"group must be one of: {', '.join(CORRECTABLE_GROUPS)}")
    if not isinstance(key, str) or not key.strip():
        raise InvalidValue("corrections", "key must name a fact")
    field = correction_field(group, key)
    if group == "report":
        if key not in CORRECTABLE_REPORT_KEYS:
            raise InvalidValue("corrections", "the report's correctable facts: chronology, needs")
        value = required_text(field, value) if key == "chronology" else value
        if not isinstance(value, str):
            raise InvalidValue(field, "must be text")
    elif value is None:
        raise InvalidValue(field, "a correction gives a new value")
    return group, key, value


# Every event a case records, in the order the SOP meets them. Projections, the
# published contract and the tests take the list from here.
CASE_EVENT_TYPES: tuple[type[Case.Event], ...] = (
    Case.ReportReceived,
    Case.OpenedFromOutreach,
    Case.FactsCorrected,
    Case.PsychologicalFirstAidGiven,
    Case.ComplaintKindRecorded,
    Case.RiskClassified,
    Case.HandedOver,
    Case.HandoverAcknowledged,
    Case.HandedBack,
    Case.EmergencyResponseRecorded,
    Case.CaseWorkerAssigned,
    Case.BeneficiaryContacted,
    Case.ConsentRecorded,
    Case.BeneficiaryAdded,
    Case.BeneficiaryConsentRecorded,
    Case.FamilyDecisionRecorded,
    Case.AssessmentRecorded,
    Case.AssessmentReviewed,
    Case.CaseReportConcluded,
    Case.CaseConferenceHeld,
    Case.FamilyMeetingHeld,
    Case.InterventionPlanAgreed,
    Case.ReferralBeneficiariesNamed,
    Case.Referred,
    Case.ReferralAccepted,
    Case.ReferralDeclined,
    Case.ServiceDelivered,
    Case.ReferralCancelled,
    Case.ReferralRecommended,
    Case.RecommendationApproved,
    Case.RecommendationReturned,
    Case.ReferralProgressNoted,
    Case.MediationHeld,
    Case.ShelterAdmitted,
    Case.ShelterDischarged,
    Case.ReintegrationStepRecorded,
    Case.ChildReunified,
    Case.ReintegrationVisitRecorded,
    Case.ReintegrationEvaluated,
    Case.AccompanimentRecorded,
    Case.MonitoringVisitRecorded,
    Case.ReassessmentStarted,
    Case.Terminated,
    Case.LinkedToCase,
    Case.Reopened,
    Case.DocumentAttached,
    Case.LetterIssued,
    Case.SignedCopyAttached,
)


def stage_after(stage: Stage, recorded: Case.Event) -> Stage:
    """The SOP stage a case stands in after an event: the aggregate and every fold use this."""
    match recorded:
        case Case.ConsentRecorded(given=True) if stage == Stage.IDENTIFICATION:
            return Stage.ASSESSMENT
        case Case.CaseReportConcluded():
            return Stage.PLANNING
        case Case.InterventionPlanAgreed():
            return Stage.INTERVENTION
        case Case.MonitoringVisitRecorded():
            return Stage.MONITORING
        case Case.ReassessmentStarted():
            return Stage.ASSESSMENT
        case Case.HandedBack():
            return Stage.IDENTIFICATION
        case Case.HandedOver() | Case.Terminated():
            return Stage.CLOSED
    return stage


def referral_status_after(recorded: Case.Event) -> tuple[str, ReferralStatus] | None:
    """The referral an event moves, and the status it moves it to; None for other events.

    A case closing over open referrals ends them too (cancelled), which the folds
    apply when the case closes.
    """
    match recorded:
        case Case.Referred(referral_id=referral_id):
            return referral_id, ReferralStatus.PENDING
        case Case.ReferralAccepted(referral_id=referral_id):
            return referral_id, ReferralStatus.ACCEPTED
        case Case.ReferralDeclined(referral_id=referral_id):
            return referral_id, ReferralStatus.DECLINED
        case Case.ServiceDelivered(referral_id=referral_id, outcome=outcome):
            return referral_id, REFERRAL_STATUS_AFTER_DELIVERY[DeliveryOutcome(outcome)]
        case Case.ReferralCancelled(referral_id=referral_id):
            return referral_id, ReferralStatus.CANCELLED
    return None
