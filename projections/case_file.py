"""The case file: everything recorded about one case, folded from its events.

The file is a pure function of the case's history, with no I/O and no clock,
so the same events always give the same file. Authorised readers get the
whole history folded. An auditor's as-of view folds a prefix of it. The models
are also the API's response models, so their descriptions become the OpenAPI
documentation.

Stage, status and referral statuses follow the transitions in the Case
aggregate's event bodies (domain/case.py), not its command rules. History is
folded as it was recorded, even if the rules have changed since.
Vocabulary fields use the domain's enums so OpenAPI lists the allowed values.
A rename in domain/vocabulary.py therefore needs an upcaster, as the style
guide already requires for replay.
"""

from collections.abc import Iterable
from datetime import date, datetime
from functools import singledispatchmethod
from itertools import pairwise, takewhile
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, TypeAdapter

from domain import vocabulary as vocab
from domain.case import Case, referral_status_after, stage_after
from domain.events import recorded_fields

# L1.5's rules, and "served": a complaint that is no violence case but whose kind the
# district serves (Kota Batu's complaint kinds 10-14), kept with the district.
RoutingRule = Literal["a", "b", "c", "d", "e", "f", "served"]


class UnknownCaseEvent(TypeError):
    """The case file has no handler for an event type, so folding stops instead of dropping it."""


# ---- Building blocks -------------------------------------------------------------------------


class ActorRef(BaseModel):
    """Who acted: the user, their role and agency, as stamped on the event."""

    user_id: str = Field(description="The acting user's id.")
    role: vocab.Role = Field(description="The role the user acted in.")
    agency: vocab.Agency = Field(description="The agency the user acted for.")
    district: str = Field(description="The district the user works in.")


class RecordedStep(BaseModel):
    """Something recorded on the case, with when and by whom."""

    at: datetime = Field(description="When it was recorded (the event's timestamp).")
    by: ActorRef = Field(description="Who recorded it.")


# ---- 1. Identification -----------------------------------------------------------------------


class Report(BaseModel):
    """L1.1-L1.2: the report of violence as it arrived and was recorded."""

    channel: vocab.Channel = Field(description="The complaint channel it arrived through (L1.1).")
    arrived_at: datetime = Field(description="When the report arrived.")
    recorded_at: datetime = Field(description="When it was recorded (L1.2).")
    recorded_by: ActorRef = Field(
        description="Who recorded it; their agency is the receiving agency (L1.2, L1.4)."
    )
    chronology: str = Field(description="What happened, as told (kronologi).")
    victim: dict[str, Any] = Field(description="What is known about the victim.")
    reporter: dict[str, Any] = Field(description="What is known about the reporter.")
    reported_person: dict[str, Any] = Field(
        description="What is known about the reported person (terlapor)."
    )
    incident: dict[str, Any] = Field(description="Place, date and circumstances of the incident.")
    needs: str = Field(description="Needs and expectations stated at intake.")
    psychological_first_aid_needed: bool = Field(
        description="Whether initial psychological support was judged necessary (L1.3)."
    )
    documents: list[str] = Field(description="Documents brought with the report.")


class CorrectedFact(BaseModel):
    """One fact a correction changed, named as the report names it, with both its values.

    Whoever reads the case file may read the case's personal data (the case team and
    auditors), so the value before is shown beside the new one, as the history has it.
    """

    group: Literal["victim", "reporter", "reported_person", "incident", "report"] = Field(
        description="The part of the report: a person, the incident, or the report itself."
    )
    key: str = Field(description="The fact, e.g. name, birth_date, village, chronology.")
    value: Any = Field(description="The value the correction gave it.")
    previous: Any = Field(
        description="Its value before the correction; null where nothing was recorded."
    )


class FactCorrection(RecordedStep):
    """B4 / K-O2: facts of the intake corrected or completed; ``report`` shows the new values.

    The event records the new values only; the values before come from the history (the
    report's event and earlier corrections), as this file as of the version before
    ``version`` shows them.
    """

    version: int = Field(description="The version of the correction's event.")
    facts: list[CorrectedFact] = Field(description="The facts it changed.")
    reason: str = Field(description="Why they changed, e.g. what the home visit found.")
    sop_step: str = Field(description="The SOP step it came from (B4, K-O2), if given.")


class PsychologicalFirstAid(RecordedStep):
    """L1.3: initial psychological support given."""

    notes: str = Field(description="What support was given.")


class Classification(RecordedStep):
    """L1.5: case type, risk and jurisdiction, and the routing rules they gave."""

    case_type: vocab.CaseType = Field(description="KTP, KTA, ABH, AMPK or other.")
    risk_level: vocab.RiskLevel = Field(description="Low, medium or high.")
    jurisdiction: vocab.Jurisdiction = Field(description="Whose authority the case falls under.")
    emergency: bool = Field(description="Whether emergency outreach is needed (rule e).")
    forms_of_violence: list[vocab.FormOfViolence] = Field(description="Forms of violence or harm.")
    ampk_categories: list[vocab.AmpkCategory] = Field(
        description="Categories of children needing special protection."
    )
    routing_rules: list[RoutingRule] = Field(description="The L1.5 routing rules that apply.")
    handover_to: vocab.HandoverTarget | None = Field(
        description="Where routing sends the case away from district handling, if anywhere."
    )
    rationale: str = Field(description="Why the case was classified so.")


class HandoverAcknowledgement(RecordedStep):
    """L1.5 b-d: the receiving agency confirmed it took the case."""

    receiving_unit: str = Field(description="The unit now handling the case, if named.")
    taken_by: str = Field(description="The officer now handling the case, if named.")
    notes: str = Field(description="Notes on the acknowledgement.")


class HandBack(RecordedStep):
    """L1.5: the receiving agency returned the case, which came back for reclassification."""

    reason: str = Field(description="Why the receiver returned the case.")


class Handover(RecordedStep):
    """Routing b, c, d, f: the case left district handling."""

    target: vocab.HandoverTarget = Field(description="Where the case was handed over to.")
    receiving_unit: str = Field(description="The unit that received it.")
    notes: str = Field(description="Notes on the handover.")
    receiving_agency: vocab.Agency | None = Field(
        default=None, description="The agency that receives the case; none for rule f."
    )
    state: Literal["awaiting_acknowledgement", "acknowledged", "handed_back"] | None = Field(
        default=None,
        description="Whether the receiver has acknowledged the case or handed it back; "
        "none for rule f (information only), which goes to nobody.",
    )
    acknowledgement: HandoverAcknowledgement | None = Field(
        default=None, description="The receiver's acknowledgement, once given."
    )
    handed_back: HandBack | None = Field(
        default=None, description="The receiver's return of the case, if it returned it."
    )


class EmergencyResponse(RecordedStep):
    """L1.6: outreach and emergency services for an emergency case."""

    actions: list[str] = Field(description="What was done.")
    notes: str = Field(description="Notes on the response.")


class CaseWorker(BaseModel):
    """L1.7: the case worker currently assigned."""

    user_id: str = Field(description="The case worker's user id.")
    assignment_letter_ref: str = Field(description="Reference of the assignment letter.")
    assigned_at: datetime = Field(description="When the case worker was assigned.")
    assigned_by: ActorRef = Field(description="Who assigned the case worker.")


class Contact(RecordedStep):
    """L1.8: a visit or contact with the beneficiary and family."""

    mode: vocab.ContactMode = Field(description="How the contact was made.")
    notes: str = Field(description="Notes on the contact.")


class Consent(RecordedStep):
    """L1.9-10: written informed consent, given or refused."""

    given: bool = Field(description="Whether consent was given; a refusal closes the case.")
    given_by: vocab.ConsentGiver = Field(description="Who gave or refused consent.")
    document_ref: str = Field(description="Reference of the signed consent form.")
    notes: str = Field(description="Notes on the consent.")


class BeneficiaryConsent(Consent):
    """L1.9-10: one added beneficiary's consent (a child's, by a parent or guardian)."""


class Beneficiary(BaseModel):
    """One beneficiary of the case: "1" is the report's victim, "2", "3", ... were added."""

    beneficiary_id: str = Field(description="1 for the report's victim, then 2, 3, ...")
    person: dict[str, Any] | None = Field(
        description="What is known of an added beneficiary; None for 1 (see report.victim)."
    )
    relationship: str = Field(description="How they relate to the first victim, e.g. sibling.")
    child: bool | None = Field(description="Whether a child; None where not stated (for 1).")
    added: RecordedStep | None = Field(description="When and by whom added; None for 1.")
    consent: Consent | None = Field(
        description="Their consent (L1.9-10); for 1 the case's consent, once recorded."
    )
    referral_ids: list[str] = Field(description="The referrals made for them, in order.")


# ---- 2. Assessment ---------------------------------------------------------------------------


class Assessment(RecordedStep):
    """L2.1-L2.3: an assessment of one of the beneficiary's conditions."""

    kind: vocab.AssessmentKind = Field(description="Initial home visit, further or specialist.")
    domain: vocab.AssessmentDomain = Field(description="The condition assessed.")
    assessing_agency: vocab.Agency = Field(description="The agency that assessed.")
    findings: str = Field(description="What the assessment found.")
    recommended_services: list[vocab.ServiceType] = Field(description="Services it recommends.")


class CaseReport(RecordedStep):
    """L2.7: the assessment concluded into the case report."""

    summary: str = Field(description="The case report's conclusion.")
    needs: list[vocab.ServiceType] = Field(description="The services the beneficiary needs.")


# ---- 3. Intervention planning ----------------------------------------------------------------


class CaseConference(RecordedStep):
    """L3.3 / L5.3: a multi-agency case conference."""

    kind: Literal[vocab.MeetingKind.CASE_CONFERENCE] = Field(
        default=vocab.MeetingKind.CASE_CONFERENCE, description="Always case_conference."
    )
    held_on: str = Field(description="The date the conference was held.")
    participating_agencies: list[vocab.Agency] = Field(description="The agencies that took part.")
    decisions: list[str] = Field(description="What the conference decided.")


class FamilyMeeting(RecordedStep):
    """L3.4 / L5.4: a meeting with the beneficiary's family."""

    kind: Literal[vocab.MeetingKind.FAMILY_MEETING] = Field(
        default=vocab.MeetingKind.FAMILY_MEETING, description="Always family_meeting."
    )
    held_on: str = Field(description="The date the meeting was held.")
    participants: list[str] = Field(description="Who took part.")
    agreements: list[str] = Field(description="What was agreed.")


Meeting = Annotated[CaseConference | FamilyMeeting, Field(discriminator="kind")]


class PlannedService(BaseModel):
    """A service the plan maps to the agency that provides it (L3.2)."""

    service_type: vocab.ServiceType = Field(description="The service.")
    agency: vocab.Agency = Field(description="The agency that provides it.")


class InterventionPlan(RecordedStep):
    """L3.1-L3.5: goals and services, agreed with the beneficiary and family."""

    goals: list[str] = Field(description="The goals of the intervention.")
    services: list[PlannedService] = Field(description="The planned services and their agencies.")
    agreed_with: list[vocab.ConsentGiver] = Field(description="Who agreed to the plan (L3.5).")
    plan_document_ref: str = Field(description="Reference of the intervention plan document.")


# ---- 4. Intervention -------------------------------------------------------------------------


class FamilyDecision(RecordedStep):
    """K-C3: the services offered to the complainant or family, and their decision."""

    offered_services: list[vocab.ServiceType] = Field(description="The services offered.")
    accepted_services: list[vocab.ServiceType] = Field(
        description="Those the family accepted; none if it refused them all."
    )
    decided_by: vocab.ConsentGiver = Field(description="Who decided for the beneficiary.")
    notes: str = Field(description="Notes on the decision.")


class AssessmentReview(RecordedStep):
    """T3 / P2-P4: a supervisor's review of the assessment's results."""

    outcome: vocab.ReviewOutcome = Field(description="Agreed, or further assessment needed.")
    notes: str = Field(description="What the supervisor said.")


class RecommendationApproval(RecordedStep):
    """K-C8: the approval, the letters it was given with, and the referral it made."""

    referral_id: str = Field(description="The referral the approval made.")
    recommendation_letter_ref: str = Field(description="The surat rekomendasi's number.")
    referral_record_ref: str = Field(description="The Berita Acara Rujukan's number.")


class RecommendationReturn(RecordedStep):
    """K-C8: why the supervisor did not approve the recommendation."""

    reason: str = Field(description="Why it was returned.")


class Recommendation(BaseModel):
    """K-C7-C8: a referral the social worker proposed, and the supervisor's answer."""

    recommendation_id: str = Field(description="The recommendation's id, unique within the case.")
    service_type: vocab.ServiceType = Field(description="The service proposed.")
    agency: vocab.Agency = Field(description="The agency proposed.")
    rationale: str = Field(description="Why the social worker proposes it (K-C7).")
    status: vocab.RecommendationStatus = Field(description="Proposed, approved or returned.")
    proposed_at: datetime = Field(description="When it was proposed.")
    proposed_by: ActorRef = Field(description="Who proposed it.")
    approved: RecommendationApproval | None = Field(
        default=None, description="The approval (K-C8), if approved."
    )
    returned: RecommendationReturn | None = Field(
        default=None, description="The return to the social worker, if returned."
    )


class ProgressNote(RecordedStep):
    """K-R5: how the referred agency's handling was progressing on a day."""

    noted_on: str = Field(description="The date the progress was observed.")
    progress: str = Field(description="What was observed.")


class ServiceDelivery(RecordedStep):
    """L4.2-4.3: what the agency reported it delivered."""

    outcome: vocab.DeliveryOutcome = Field(description="Completed, partially or not delivered.")
    delivered_on: str = Field(description="The date the service was delivered.")
    summary: str = Field(description="What was delivered.")


class ReferralDecline(RecordedStep):
    """The receiving agency declined the referral."""

    reason: str = Field(description="Why the agency declined.")


class ReferralCancellation(RecordedStep):
    """The referral was withdrawn, or ended unsettled when the case was terminated."""

    cause: Literal["withdrawn", "case_terminated"] = Field(
        description="withdrawn by the coordinating office, or ended by the case's termination."
    )
    reason: str = Field(
        description="The office's reason when withdrawn; the termination reason otherwise."
    )


class Referral(BaseModel):
    """L4.1: a referral of the beneficiary to an agency for one service."""

    referral_id: str = Field(description="The referral's id, unique within the case.")
    service_type: vocab.ServiceType = Field(description="The service referred for.")
    agency: vocab.Agency = Field(description="The agency referred to.")
    status: vocab.ReferralStatus = Field(description="Where the referral stands now.")
    emergency: bool = Field(description="Whether it is an emergency referral (rule e).")
    due_at: datetime = Field(description="When the service is due, by the time standard.")
    referred_at: datetime = Field(description="When the referral was made.")
    referred_by: ActorRef = Field(description="Who made the referral.")
    notes: str = Field(description="Notes for the receiving agency.")
    referral_record_ref: str = Field(description="Reference of the referral record.")
    beneficiary_ids: list[str] = Field(
        default_factory=lambda: ["1"], description="Whom the referral is for (1: the victim)."
    )
    accepted_at: datetime | None = Field(
        default=None, description="When the agency accepted, if it did."
    )
    accepted_by: ActorRef | None = Field(default=None, description="Who accepted, if anyone.")
    acceptance_notes: str = Field(default="", description="Notes given on acceptance.")
    declined: ReferralDecline | None = Field(
        default=None, description="The agency's decline, if it declined."
    )
    deliveries: list[ServiceDelivery] = Field(
        default_factory=list, description="Service deliveries the agency reported, in order."
    )
    progress_notes: list[ProgressNote] = Field(
        default_factory=list, description="Progress of the agency's handling, in order (K-R5)."
    )
    cancelled: ReferralCancellation | None = Field(
        default=None, description="The cancellation, if the referral was cancelled."
    )


class Mediation(RecordedStep):
    """P5 / B5: a mediation between the victim and the other party."""

    held_on: str = Field(description="The date of the mediation.")
    parties: list[str] = Field(description="Who took part, as the office names them.")
    perpetrator_is_child: bool = Field(description="Whether the perpetrator is a child.")
    agreement_reached: bool = Field(description="Whether the parties reached an agreement.")
    agreements: list[str] = Field(description="What was agreed, if anything.")


class ShelterDischarge(RecordedStep):
    """T4d: the end of a shelter stay."""

    discharged_on: str = Field(description="The day the beneficiary left the shelter.")
    destination: vocab.ShelterDestination = Field(description="Where she went.")
    reason: str = Field(description="Why the stay ended.")
    notes: str = Field(description="Notes on the discharge.")


class ShelterStay(RecordedStep):
    """T4d: a stay in a temporary shelter; ``at`` and ``by`` are the admission's."""

    shelter: vocab.Shelter = Field(description="RSTS Dinas Sosial, the P2TP2A shelter or other.")
    shelter_name: str = Field(description="The shelter's name, for a shelter 'other'.")
    admitted_on: str = Field(description="The day of admission.")
    referral_id: str | None = Field(description="The shelter referral the stay serves, if any.")
    emergency: bool = Field(description="Whether it was an emergency admission (rule e).")
    notes: str = Field(description="Notes on the admission.")
    discharge: ShelterDischarge | None = Field(
        default=None, description="The discharge, once the stay has ended."
    )
    length_of_stay_days: int | None = Field(
        default=None,
        description="Days from admission to discharge (admitted and left the same day: 0), "
        "counted from the two recorded days; none while the stay goes on.",
    )


class ReintegrationStep(RecordedStep):
    """K-I1-I3, K-I5, K-I8: a step of the social reintegration done."""

    activity: vocab.ReintegrationActivity = Field(description="Which step.")
    sop_step: str = Field(description="Its number in the SOP Reintegrasi Sosial (K-I...).")
    done_on: str = Field(description="The day it was done.")
    notes: str = Field(description="Notes on it.")


class Reunification(RecordedStep):
    """K-I4: the child's return to the family or a substitute family."""

    reunified_on: str = Field(description="The day of the reunification.")
    reunified_with: vocab.ReunifiedWith = Field(description="Family or substitute family.")
    notes: str = Field(description="Notes on it.")


class ReintegrationVisit(RecordedStep):
    """K-I6: a monitoring visit after reunification."""

    visited_on: str = Field(description="The day of the visit.")
    mode: vocab.ContactMode = Field(description="How the visit or contact was made.")
    findings: str = Field(description="What the visit found.")


class ReintegrationEvaluation(RecordedStep):
    """K-I7: the evaluation of the monitoring's results."""

    evaluated_on: str = Field(description="The day of the evaluation.")
    reintegrated: bool = Field(description="Whether the child is reintegrated.")
    findings: str = Field(description="What the evaluation found.")


class Reintegration(BaseModel):
    """Kutai Timur's social reintegration (SOP Reintegrasi Sosial, K-I1-K-I8)."""

    steps: list[ReintegrationStep] = Field(
        default_factory=list, description="Preparation, counselling, introduction, report."
    )
    reunification: Reunification | None = Field(
        default=None, description="The reunification (K-I4), once recorded."
    )
    monitoring_visits: list[ReintegrationVisit] = Field(
        default_factory=list, description="Monitoring visits after reunification (K-I6)."
    )
    evaluation: ReintegrationEvaluation | None = Field(
        default=None, description="The evaluation (K-I7), once recorded."
    )


class Accompaniment(RecordedStep):
    """L4.4-4.6: the case worker accompanied the beneficiary."""

    activity: str = Field(description="What the accompaniment was.")
    notes: str = Field(description="Notes on it.")


# ---- 5. Monitoring ---------------------------------------------------------------------------


class MonitoringVisit(RecordedStep):
    """L5.2: a check on services and results with the beneficiary."""

    mode: vocab.ContactMode = Field(description="How the visit or contact was made.")
    findings: str = Field(description="What the visit found.")
    services_on_track: bool = Field(description="Whether services are being delivered as planned.")
    recovered: bool = Field(description="Whether the beneficiary has recovered.")


class Reassessment(RecordedStep):
    """L5.5: the beneficiary still needed services, so the case went back to assessment."""

    reason: str = Field(description="Why re-assessment was needed.")


# ---- 6. Termination --------------------------------------------------------------------------


class Termination(RecordedStep):
    """L6.1-L6.5: how the case ended."""

    kind: vocab.TerminationKind = Field(description="Agreed (L6.1-6.3) or unilateral (L6.4).")
    reason: vocab.TerminationReason = Field(description="Why the case was terminated.")
    beneficiary_feedback: dict[str, Any] = Field(
        description="The beneficiary's feedback on the service (L6.3)."
    )
    termination_form_ref: str = Field(description="Reference of the signed termination form.")
    notes: str = Field(description="Notes on the termination.")


# ---- The same person again -------------------------------------------------------------------


class CaseLink(RecordedStep):
    """Another case names the same person (services/same_person.py)."""

    other_case_id: UUID = Field(description="The other case's id.")
    basis: vocab.LinkBasis = Field(
        description="NIK or name and birth date (keyed fingerprints matched), or the officer's."
    )
    reason: str = Field(description="Why the office linked them, if it said.")


class Reopening(RecordedStep):
    """After L6.5: a new report on this closed case opened a new case linked to it."""

    new_case_id: UUID = Field(description="The case the matter continues in.")
    reason: str = Field(description="Why the matter was taken up again.")


class Closure(BaseModel):
    """How and when the case was closed."""

    kind: Literal["terminated", "handed_over"] = Field(
        description="Terminated on the case, or handed over to another authority."
    )
    reason: vocab.TerminationReason | None = Field(
        default=None, description="The termination reason, when terminated."
    )
    target: vocab.HandoverTarget | None = Field(
        default=None, description="Where the case went, when handed over."
    )
    at: datetime = Field(description="When the case was closed.")


# ---- The case file ---------------------------------------------------------------------------


class AttachedDocument(RecordedStep):
    """A document, photo or recording attached to the case: what it is, never what it holds."""

    document_id: UUID = Field(description="The document's id; it names its content in the case.")
    kind: str = Field(description="What the document is (domain/documents.py's kinds).")
    step: str | None = Field(description="The profile's step it was attached at, if any.")
    media_type: str = Field(description="Its type, as its content shows.")
    size: int = Field(description="Bytes, as stored (photos without their location data).")
    sha256: str = Field(description="SHA-256 of the stored content; the hash chain covers it.")
    letter_id: str | None = Field(
        default=None, description="The office's letter whose PDF, as issued, this document is."
    )
    signed_copy_of: str | None = Field(
        default=None, description="The office's letter this document is the signed copy of."
    )


class IssuedLetter(RecordedStep):
    """A letter the office issued (surat tugas, laporan kasus, ...); its PDF is read at
    /cases/{case_id}/letters/{letter_id}."""

    letter_id: str = Field(description="The letter's id, unique within the case.")
    kind: str = Field(description="Which letter, e.g. surat_tugas, laporan_kasus.")
    number: str = Field(description="Its number in the district's letter numbering.")
    step: str = Field(description="The SOP step it serves, e.g. L1.7.")
    referral_id: str | None = Field(description="The referral it is about, if any.")
    sha256: str = Field(description="The sha256 of the PDF as issued.")
    verification_code: str = Field(description="The code printed on it for verification.")
    document_id: UUID | None = Field(
        default=None,
        description="The document its PDF is stored as (none for letters issued before "
        "PDFs were stored: those are rendered again when read).",
    )
    signed_copies: list[UUID] = Field(
        default_factory=list, description="The documents attached as its signed copies."
    )


class CaseFile(BaseModel):
    """The current state of one case, folded from its recorded events (oldest first)."""

    case_id: UUID = Field(description="The case's id.")
    register_number: str = Field(description="The number in the district's case register.")
    district: str = Field(description="The district whose office coordinates the case.")
    version: int = Field(description="Version of the last event folded into this file.")
    created_at: datetime = Field(description="When the report was recorded.")
    updated_at: datetime = Field(description="When the last event folded was recorded.")
    stage: vocab.Stage = Field(description="The SOP stage the case is in.")
    status: Literal["open", "closed"] = Field(description="Whether the case is still open.")
    closure: Closure | None = Field(default=None, description="How the case closed, if it has.")
    report: Report = Field(description="The report that opened the case.")
    from_outreach: UUID | None = Field(
        default=None, description="The outreach the case came from (K-R1), if any."
    )
    corrections: list[FactCorrection] = Field(
        default_factory=list,
        description="Corrections of the report's facts, oldest first (B4, K-O2).",
    )
    psychological_first_aid: list[PsychologicalFirstAid] = Field(
        default_factory=list, description="Initial psychological support given (L1.3)."
    )
    complaint_kind: vocab.ComplaintKind | None = Field(
        default=None, description="Which of the district's complaint kinds the report is."
    )
    classification: Classification | None = Field(
        default=None, description="The latest classification (L1.5), if classified."
    )
    classification_history: list[Classification] = Field(
        default_factory=list, description="Every classification, oldest first."
    )
    emergency_responses: list[EmergencyResponse] = Field(
        default_factory=list, description="Emergency outreach and services (L1.6)."
    )
    case_worker: CaseWorker | None = Field(
        default=None, description="The case worker assigned last (L1.7), if any."
    )
    contacts: list[Contact] = Field(
        default_factory=list, description="Visits and contacts with the beneficiary (L1.8)."
    )
    consent: Consent | None = Field(
        default=None, description="Informed consent (L1.9-10), once recorded."
    )
    beneficiaries: list[Beneficiary] = Field(
        default_factory=list,
        description="The report's victim (1) and the beneficiaries added after, in order.",
    )
    family_decisions: list[FamilyDecision] = Field(
        default_factory=list, description="Services offered and the family's decisions (K-C3)."
    )
    assessments: list[Assessment] = Field(
        default_factory=list, description="Every assessment, oldest first (L2.1-L2.3)."
    )
    assessment_reviews: list[AssessmentReview] = Field(
        default_factory=list, description="Supervisors' reviews of the assessment (T3, P2-P4)."
    )
    case_report: CaseReport | None = Field(
        default=None, description="The latest case report (L2.7), if concluded."
    )
    meetings: list[Meeting] = Field(
        default_factory=list, description="Case conferences and family meetings, oldest first."
    )
    intervention_plan: InterventionPlan | None = Field(
        default=None, description="The latest agreed intervention plan (L3.5), if any."
    )
    recommendations: list[Recommendation] = Field(
        default_factory=list,
        description="Proposed referrals awaiting or given a supervisor's answer (K-C7-C8).",
    )
    referrals: list[Referral] = Field(
        default_factory=list, description="Referrals in the order they were made (L4.1)."
    )
    mediations: list[Mediation] = Field(
        default_factory=list, description="Mediations between victim and other party (P5, B5)."
    )
    shelter_stays: list[ShelterStay] = Field(
        default_factory=list, description="Temporary shelter stays, oldest first (T4d)."
    )
    reintegration: Reintegration | None = Field(
        default=None, description="The social reintegration (K-I1-K-I8), once begun."
    )
    accompaniment: list[Accompaniment] = Field(
        default_factory=list, description="Accompaniment by the case worker (L4.4-4.6)."
    )
    monitoring_visits: list[MonitoringVisit] = Field(
        default_factory=list, description="Monitoring visits, oldest first (L5.2)."
    )
    reassessments: list[Reassessment] = Field(
        default_factory=list, description="Returns to assessment from monitoring (L5.5)."
    )
    handover: Handover | None = Field(
        default=None, description="The handover to another authority, if handed over."
    )
    termination: Termination | None = Field(
        default=None, description="The termination (L6), if terminated."
    )
    links: list[CaseLink] = Field(
        default_factory=list, description="Other cases naming the same person, oldest first."
    )
    reopenings: list[Reopening] = Field(
        default_factory=list,
        description="New cases this closed case's matter continued in; the case stays closed.",
    )
    documents: list[AttachedDocument] = Field(
        default_factory=list, description="Documents, photos and recordings, oldest first."
    )
    documents_missing: dict[str, list[str]] = Field(
        default_factory=dict,
        description="By step code, the document kinds the district's profile says the step "
        "needs and no attached document is (projections/document_checklist.py).",
    )
    letters: list[IssuedLetter] = Field(
        default_factory=list, description="The letters the office issued, oldest first."
    )

    @classmethod
    def from_events(cls, events: Iterable[Case.Event]) -> "CaseFile":
        """Fold a whole case history, oldest first, which starts with its report."""
        history = list(events)
        if not history:
            raise ValueError("a case file needs at least the case's ReportReceived event")
        report = history[0]
        if not isinstance(report, Case.ReportReceived) or report.originator_version != 1:
            raise ValueError("a case's history must start with ReportReceived at version 1")
        fold = _CaseFileFold(report)
        dispatch = _apply_handler
        for previous, event in pairwise(history):
            _require_next_event_of_same_case(previous, event)
            # The dispatcher itself: singledispatchmethod builds a new bound wrapper on
            # every attribute access, which a fold would pay once per event.
            dispatch(type(event))(fold, event)
            fold.moved(event)
        return fold.file


class NothingRecordedThen(ValueError):
    """The case had no events at or before the requested version and time."""


def history_as_of(
    events: Iterable[Case.Event], *, version: int | None = None, as_of: datetime | None = None
) -> list[Case.Event]:
    """The events recorded by a version and/or a moment, oldest first."""
    if as_of is not None and as_of.tzinfo is None:
        raise ValueError("as_of must include a timezone")

    def recorded_by_then(event: Case.Event) -> bool:
        return (version is None or event.originator_version <= version) and (
            as_of is None or event.timestamp <= as_of
        )

    # A prefix, not a filter: an event stamped earlier than the one before it
    # (a clock set back) must not be folded without the events it followed.
    prefix = list(takewhile(recorded_by_then, events))
    if not prefix:
        raise NothingRecordedThen(
            "the case has no events at or before the requested version and time"
        )
    return prefix


def case_file_as_of(
    events: Iterable[Case.Event], *, version: int | None = None, as_of: datetime | None = None
) -> CaseFile:
    """The case file as it stood at a version and/or a moment: the fold of that prefix."""
    return CaseFile.from_events(history_as_of(events, version=version, as_of=as_of))


def _require_next_event_of_same_case(previous: Case.Event, event: Case.Event) -> None:
    if getattr(event, "originator_id", None) != previous.originator_id:
        raise ValueError("the events belong to more than one case")
    if getattr(event, "originator_version", None) != previous.originator_version + 1:
        raise ValueError(
            f"event versions must be consecutive: version {previous.originator_version} "
            f"is followed by {getattr(event, 'originator_version', None)}"
        )


def _stamp(event: Any) -> dict[str, Any]:
    return {"at": event.timestamp, "by": event.actor}


class _CaseFileFold:
    """Applies a case's events after its report, one handler per event type.

    Handlers take ``Any`` because the event classes are made at runtime by the
    aggregate's ``@event`` decorators and carry no static field types.
    """

    def __init__(self, report: Any) -> None:
        # The letter just issued, by its event's version: its PDF's DocumentAttached follows
        # in the same save (the next version, the same moment).
        self.letter_issued_at: tuple[int, IssuedLetter] | None = None
        self.file = CaseFile(
            case_id=report.originator_id,
            register_number=report.register_number,
            district=report.district,
            version=report.originator_version,
            created_at=report.timestamp,
            updated_at=report.timestamp,
            stage=vocab.Stage.IDENTIFICATION,
            status="open",
            report=Report(
                channel=report.channel,
                arrived_at=report.arrived_at,
                recorded_at=report.timestamp,
                recorded_by=report.actor,
                chronology=report.chronology,
                victim=report.victim,
                reporter=report.reporter,
                reported_person=report.reported_person,
                incident=report.incident,
                needs=report.needs,
                psychological_first_aid_needed=report.psychological_first_aid_needed,
                documents=report.documents,
            ),
        )
        self.referrals_by_id: dict[str, Referral] = {}
        self.file.beneficiaries.append(
            Beneficiary(
                beneficiary_id="1",
                person=None,
                relationship="",
                child=None,
                added=None,
                consent=None,
                referral_ids=[],
            )
        )
        self.beneficiaries_by_id = {b.beneficiary_id: b for b in self.file.beneficiaries}
        # Whom the next Referred is for, named just before it (ReferralBeneficiariesNamed).
        self.named_for_referral: dict[str, list[str]] = {}

    @singledispatchmethod
    def apply(self, event: object) -> None:
        raise UnknownCaseEvent(
            f"the case file has no handler for {type(event).__qualname__}; "
            "add one so the event is not silently dropped"
        )

    @apply.register(Case.ReportReceived)
    def _report_received_again(self, event: Case.ReportReceived) -> None:
        raise ValueError("a case has one ReportReceived event, its first")

    @apply.register(Case.OpenedFromOutreach)
    def _opened_from_outreach(self, event: Case.OpenedFromOutreach) -> None:
        self.file.from_outreach = event.outreach_id

    @apply.register(Case.FactsCorrected)
    def _facts_corrected(self, event: Case.FactsCorrected) -> None:
        report = self.file.report
        facts: list[CorrectedFact] = []
        for correction in event.corrections:
            group, key, value = correction["group"], correction["key"], correction["value"]
            if group == "report":
                previous = getattr(report, key)
                setattr(report, key, value)
            else:
                previous = getattr(report, group).get(key)
                # A new dict: an as-of file folded earlier must not see a later value.
                setattr(report, group, {**getattr(report, group), key: value})
            facts.append(CorrectedFact(group=group, key=key, value=value, previous=previous))
        self.file.corrections.append(
            FactCorrection(
                version=event.originator_version,
                facts=facts,
                reason=event.reason,
                sop_step=event.sop_step,
                **_stamp(event),
            )
        )

    @apply.register(Case.PsychologicalFirstAidGiven)
    def _psychological_first_aid_given(self, event: Case.PsychologicalFirstAidGiven) -> None:
        self.file.psychological_first_aid.append(
            PsychologicalFirstAid(notes=event.notes, **_stamp(event))
        )

    @apply.register(Case.ComplaintKindRecorded)
    def _complaint_kind_recorded(self, event: Case.ComplaintKindRecorded) -> None:
        self.file.complaint_kind = vocab.ComplaintKind(event.kind)

    @apply.register(Case.RiskClassified)
    def _risk_classified(self, event: Case.RiskClassified) -> None:
        classification = Classification(
            case_type=event.case_type,
            risk_level=event.risk_level,
            jurisdiction=event.jurisdiction,
            emergency=event.emergency,
            forms_of_violence=event.forms_of_violence,
            ampk_categories=event.ampk_categories,
            routing_rules=event.routing,
            handover_to=event.handover_to,
            rationale=event.rationale,
            **_stamp(event),
        )
        self.file.classification = classification
        self.file.classification_history.append(classification)

    @apply.register(Case.HandedOver)
    def _handed_over(self, event: Case.HandedOver) -> None:
        receiver = vocab.HANDOVER_AGENCY.get(vocab.HandoverTarget(event.target))
        self.file.handover = Handover(
            target=event.target,
            receiving_unit=event.receiving_unit,
            notes=event.notes,
            receiving_agency=receiver,
            state="awaiting_acknowledgement" if receiver is not None else None,
            **_stamp(event),
        )
        self._close(Closure(kind="handed_over", target=event.target, at=event.timestamp))

    @apply.register(Case.HandoverAcknowledged)
    def _handover_acknowledged(self, event: Case.HandoverAcknowledged) -> None:
        handover = self._last_handover()
        handover.state = "acknowledged"
        handover.acknowledgement = HandoverAcknowledgement(
            receiving_unit=event.receiving_unit,
            taken_by=event.taken_by,
            notes=event.notes,
            **_stamp(event),
        )

    @apply.register(Case.HandedBack)
    def _handed_back(self, event: Case.HandedBack) -> None:
        handover = self._last_handover()
        handover.state = "handed_back"
        handover.handed_back = HandBack(reason=event.reason, **_stamp(event))
        # Back in district handling: open, and unclassified until the office classifies again.
        self.file.status = "open"
        self.file.closure = None
        self.file.classification = None

    def _last_handover(self) -> Handover:
        if self.file.handover is None:
            raise ValueError("an event answers a hand-over the case never made")
        return self.file.handover

    @apply.register(Case.EmergencyResponseRecorded)
    def _emergency_response_recorded(self, event: Case.EmergencyResponseRecorded) -> None:
        self.file.emergency_responses.append(
            EmergencyResponse(actions=event.actions, notes=event.notes, **_stamp(event))
        )

    @apply.register(Case.CaseWorkerAssigned)
    def _case_worker_assigned(self, event: Case.CaseWorkerAssigned) -> None:
        self.file.case_worker = CaseWorker(
            user_id=event.case_worker_id,
            assignment_letter_ref=event.assignment_letter_ref,
            assigned_at=event.timestamp,
            assigned_by=event.actor,
        )

    @apply.register(Case.DocumentAttached)
    def _document_attached(self, event: Case.DocumentAttached) -> None:
        # A letter's PDF is attached in the letter's own save, right after it.
        letter = None
        if self.letter_issued_at is not None:
            version, issued = self.letter_issued_at
            if (version + 1, issued.sha256, issued.at) == (
                event.originator_version,
                event.sha256,
                event.timestamp,
            ):
                letter = issued
                letter.document_id = UUID(event.document_id)
        self.file.documents.append(
            AttachedDocument(
                document_id=event.document_id,
                kind=event.kind,
                step=event.step or None,
                media_type=event.media_type,
                size=event.size,
                sha256=event.sha256,
                letter_id=letter.letter_id if letter is not None else None,
                **_stamp(event),
            )
        )

    @apply.register(Case.SignedCopyAttached)
    def _signed_copy_attached(self, event: Case.SignedCopyAttached) -> None:
        for document in self.file.documents:
            if str(document.document_id) == event.document_id:
                document.signed_copy_of = event.letter_id
        for letter in self.file.letters:
            if letter.letter_id == event.letter_id:
                letter.signed_copies.append(UUID(event.document_id))

    @apply.register(Case.BeneficiaryContacted)
    def _beneficiary_contacted(self, event: Case.BeneficiaryContacted) -> None:
        self.file.contacts.append(Contact(mode=event.mode, notes=event.notes, **_stamp(event)))

    @apply.register(Case.ConsentRecorded)
    def _consent_recorded(self, event: Case.ConsentRecorded) -> None:
        self.file.consent = Consent(
            given=event.given,
            given_by=event.given_by,
            document_ref=event.document_ref,
            notes=event.notes,
            **_stamp(event),
        )
        self.beneficiaries_by_id["1"].consent = self.file.consent

    @apply.register(Case.BeneficiaryAdded)
    def _beneficiary_added(self, event: Case.BeneficiaryAdded) -> None:
        beneficiary = Beneficiary(
            beneficiary_id=event.beneficiary_id,
            person=dict(event.person),
            relationship=event.relationship,
            child=event.child,
            added=RecordedStep(**_stamp(event)),
            consent=None,
            referral_ids=[],
        )
        self.file.beneficiaries.append(beneficiary)
        self.beneficiaries_by_id[beneficiary.beneficiary_id] = beneficiary

    @apply.register(Case.BeneficiaryConsentRecorded)
    def _beneficiary_consent_recorded(self, event: Case.BeneficiaryConsentRecorded) -> None:
        self.beneficiaries_by_id[event.beneficiary_id].consent = BeneficiaryConsent(
            given=event.given,
            given_by=event.given_by,
            document_ref=event.document_ref,
            notes=event.notes,
            **_stamp(event),
        )

    @apply.register(Case.ReferralBeneficiariesNamed)
    def _referral_beneficiaries_named(self, event: Case.ReferralBeneficiariesNamed) -> None:
        self.named_for_referral[event.referral_id] = list(event.beneficiary_ids)

    @apply.register(Case.FamilyDecisionRecorded)
    def _family_decision_recorded(self, event: Case.FamilyDecisionRecorded) -> None:
        self.file.family_decisions.append(
            FamilyDecision(
                offered_services=event.offered_services,
                accepted_services=event.accepted_services,
                decided_by=event.decided_by,
                notes=event.notes,
                **_stamp(event),
            )
        )

    @apply.register(Case.AssessmentReviewed)
    def _assessment_reviewed(self, event: Case.AssessmentReviewed) -> None:
        self.file.assessment_reviews.append(
            AssessmentReview(outcome=event.outcome, notes=event.notes, **_stamp(event))
        )

    @apply.register(Case.AssessmentRecorded)
    def _assessment_recorded(self, event: Case.AssessmentRecorded) -> None:
        self.file.assessments.append(
            Assessment(
                kind=event.kind,
                domain=event.domain,
                assessing_agency=event.assessing_agency,
                findings=event.findings,
                recommended_services=event.recommended_services,
                **_stamp(event),
            )
        )

    @apply.register(Case.CaseReportConcluded)
    def _case_report_concluded(self, event: Case.CaseReportConcluded) -> None:
        self.file.case_report = CaseReport(
            summary=event.summary, needs=event.needs, **_stamp(event)
        )

    @apply.register(Case.CaseConferenceHeld)
    def _case_conference_held(self, event: Case.CaseConferenceHeld) -> None:
        self.file.meetings.append(
            CaseConference(
                held_on=event.held_on,
                participating_agencies=event.participating_agencies,
                decisions=event.decisions,
                **_stamp(event),
            )
        )

    @apply.register(Case.FamilyMeetingHeld)
    def _family_meeting_held(self, event: Case.FamilyMeetingHeld) -> None:
        self.file.meetings.append(
            FamilyMeeting(
                held_on=event.held_on,
                participants=event.participants,
                agreements=event.agreements,
                **_stamp(event),
            )
        )

    @apply.register(Case.InterventionPlanAgreed)
    def _intervention_plan_agreed(self, event: Case.InterventionPlanAgreed) -> None:
        self.file.intervention_plan = InterventionPlan(
            goals=event.goals,
            services=event.services,
            agreed_with=event.agreed_with,
            plan_document_ref=event.plan_document_ref,
            **_stamp(event),
        )

    @apply.register(Case.Referred)
    def _referred(self, event: Case.Referred) -> None:
        referral = Referral(
            referral_id=event.referral_id,
            service_type=event.service_type,
            agency=event.agency,
            status=vocab.ReferralStatus.PENDING,
            emergency=event.emergency,
            due_at=event.due_at,
            referred_at=event.timestamp,
            referred_by=event.actor,
            notes=event.notes,
            referral_record_ref=event.referral_record_ref,
            beneficiary_ids=self.named_for_referral.pop(event.referral_id, ["1"]),
        )
        self.file.referrals.append(referral)
        self.referrals_by_id[referral.referral_id] = referral
        for beneficiary_id in referral.beneficiary_ids:
            self.beneficiaries_by_id[beneficiary_id].referral_ids.append(referral.referral_id)

    @apply.register(Case.ReferralAccepted)
    def _referral_accepted(self, event: Case.ReferralAccepted) -> None:
        referral = self._referral(event.referral_id)
        referral.accepted_at = event.timestamp
        referral.accepted_by = ActorRef.model_validate(event.actor)
        referral.acceptance_notes = event.notes

    @apply.register(Case.ReferralDeclined)
    def _referral_declined(self, event: Case.ReferralDeclined) -> None:
        referral = self._referral(event.referral_id)
        referral.declined = ReferralDecline(reason=event.reason, **_stamp(event))

    @apply.register(Case.ServiceDelivered)
    def _service_delivered(self, event: Case.ServiceDelivered) -> None:
        referral = self._referral(event.referral_id)
        delivery = ServiceDelivery(
            outcome=event.outcome,
            delivered_on=event.delivered_on,
            summary=event.summary,
            **_stamp(event),
        )
        referral.deliveries.append(delivery)

    @apply.register(Case.ReferralCancelled)
    def _referral_cancelled(self, event: Case.ReferralCancelled) -> None:
        referral = self._referral(event.referral_id)
        referral.cancelled = ReferralCancellation(
            cause="withdrawn", reason=event.reason, **_stamp(event)
        )

    @apply.register(Case.ReferralRecommended)
    def _referral_recommended(self, event: Case.ReferralRecommended) -> None:
        recommendation = Recommendation(
            recommendation_id=event.recommendation_id,
            service_type=event.service_type,
            agency=event.agency,
            rationale=event.rationale,
            status=vocab.RecommendationStatus.PROPOSED,
            proposed_at=event.timestamp,
            proposed_by=event.actor,
        )
        self.file.recommendations.append(recommendation)

    @apply.register(Case.RecommendationApproved)
    def _recommendation_approved(self, event: Case.RecommendationApproved) -> None:
        recommendation = self._recommendation(event.recommendation_id)
        recommendation.status = vocab.RecommendationStatus.APPROVED
        recommendation.approved = RecommendationApproval(
            referral_id=event.referral_id,
            recommendation_letter_ref=event.recommendation_letter_ref,
            referral_record_ref=event.referral_record_ref,
            **_stamp(event),
        )

    @apply.register(Case.RecommendationReturned)
    def _recommendation_returned(self, event: Case.RecommendationReturned) -> None:
        recommendation = self._recommendation(event.recommendation_id)
        recommendation.status = vocab.RecommendationStatus.RETURNED
        recommendation.returned = RecommendationReturn(reason=event.reason, **_stamp(event))

    @apply.register(Case.ReferralProgressNoted)
    def _referral_progress_noted(self, event: Case.ReferralProgressNoted) -> None:
        self._referral(event.referral_id).progress_notes.append(
            ProgressNote(noted_on=event.noted_on, progress=event.progress, **_stamp(event))
        )

    @apply.register(Case.MediationHeld)
    def _mediation_held(self, event: Case.MediationHeld) -> None:
        self.file.mediations.append(
            Mediation(
                held_on=event.held_on,
                parties=event.parties,
                perpetrator_is_child=event.perpetrator_is_child,
                agreement_reached=event.agreement_reached,
                agreements=event.agreements,
                **_stamp(event),
            )
        )

    @apply.register(Case.ShelterAdmitted)
    def _shelter_admitted(self, event: Case.ShelterAdmitted) -> None:
        self.file.shelter_stays.append(
            ShelterStay(
                shelter=event.shelter,
                shelter_name=event.shelter_name,
                admitted_on=event.admitted_on,
                referral_id=event.referral_id,
                emergency=event.emergency,
                notes=event.notes,
                **_stamp(event),
            )
        )

    @apply.register(Case.ShelterDischarged)
    def _shelter_discharged(self, event: Case.ShelterDischarged) -> None:
        stays = self.file.shelter_stays
        if not stays or stays[-1].discharge is not None:
            raise ValueError("a discharge from a shelter stay the case never recorded")
        stay = stays[-1]
        stay.discharge = ShelterDischarge(
            discharged_on=event.discharged_on,
            destination=event.destination,
            reason=event.reason,
            notes=event.notes,
            **_stamp(event),
        )
        stay.length_of_stay_days = (
            date.fromisoformat(event.discharged_on) - date.fromisoformat(stay.admitted_on)
        ).days

    def _reintegration(self) -> Reintegration:
        if self.file.reintegration is None:
            self.file.reintegration = Reintegration()
        return self.file.reintegration

    @apply.register(Case.ReintegrationStepRecorded)
    def _reintegration_step_recorded(self, event: Case.ReintegrationStepRecorded) -> None:
        activity = vocab.ReintegrationActivity(event.activity)
        self._reintegration().steps.append(
            ReintegrationStep(
                activity=activity,
                sop_step=vocab.REINTEGRATION_STEP[activity],
                done_on=event.done_on,
                notes=event.notes,
                **_stamp(event),
            )
        )

    @apply.register(Case.ChildReunified)
    def _child_reunified(self, event: Case.ChildReunified) -> None:
        self._reintegration().reunification = Reunification(
            reunified_on=event.reunified_on,
            reunified_with=event.reunified_with,
            notes=event.notes,
            **_stamp(event),
        )

    @apply.register(Case.ReintegrationVisitRecorded)
    def _reintegration_visit_recorded(self, event: Case.ReintegrationVisitRecorded) -> None:
        self._reintegration().monitoring_visits.append(
            ReintegrationVisit(
                visited_on=event.visited_on,
                mode=event.mode,
                findings=event.findings,
                **_stamp(event),
            )
        )

    @apply.register(Case.ReintegrationEvaluated)
    def _reintegration_evaluated(self, event: Case.ReintegrationEvaluated) -> None:
        self._reintegration().evaluation = ReintegrationEvaluation(
            evaluated_on=event.evaluated_on,
            reintegrated=event.reintegrated,
            findings=event.findings,
            **_stamp(event),
        )

    @apply.register(Case.AccompanimentRecorded)
    def _accompaniment_recorded(self, event: Case.AccompanimentRecorded) -> None:
        self.file.accompaniment.append(
            Accompaniment(activity=event.activity, notes=event.notes, **_stamp(event))
        )

    @apply.register(Case.MonitoringVisitRecorded)
    def _monitoring_visit_recorded(self, event: Case.MonitoringVisitRecorded) -> None:
        self.file.monitoring_visits.append(
            MonitoringVisit(
                mode=event.mode,
                findings=event.findings,
                services_on_track=event.services_on_track,
                recovered=event.recovered,
                **_stamp(event),
            )
        )

    @apply.register(Case.ReassessmentStarted)
    def _reassessment_started(self, event: Case.ReassessmentStarted) -> None:
        self.file.reassessments.append(Reassessment(reason=event.reason, **_stamp(event)))

    @apply.register(Case.Terminated)
    def _terminated(self, event: Case.Terminated) -> None:
        self.file.termination = Termination(
            kind=event.kind,
            reason=event.reason,
            beneficiary_feedback=event.beneficiary_feedback,
            termination_form_ref=event.termination_form_ref,
            notes=event.notes,
            **_stamp(event),
        )
        for referral in self.file.referrals:
            if referral.status not in vocab.SETTLED_REFERRAL_STATUSES:
                referral.status = vocab.ReferralStatus.CANCELLED
                referral.cancelled = ReferralCancellation(
                    cause="case_terminated", reason=event.reason, **_stamp(event)
                )
        self._close(Closure(kind="terminated", reason=event.reason, at=event.timestamp))

    @apply.register(Case.LinkedToCase)
    def _linked_to_case(self, event: Case.LinkedToCase) -> None:
        self.file.links.append(
            CaseLink(
                other_case_id=event.other_case_id,
                basis=event.basis,
                reason=event.reason,
                **_stamp(event),
            )
        )

    @apply.register(Case.Reopened)
    def _reopened(self, event: Case.Reopened) -> None:
        self.file.reopenings.append(
            Reopening(new_case_id=event.new_case_id, reason=event.reason, **_stamp(event))
        )

    def _close(self, closure: Closure) -> None:
        self.file.closure = closure
        self.file.status = "closed"

    @apply.register(Case.LetterIssued)
    def _letter_issued(self, event: Case.LetterIssued) -> None:
        self.file.letters.append(
            letter := IssuedLetter(
                letter_id=event.letter_id,
                kind=event.kind,
                number=event.number,
                step=event.step,
                referral_id=event.referral_id or None,
                sha256=event.sha256,
                verification_code=event.verification_code,
                **_stamp(event),
            )
        )
        self.letter_issued_at = (event.originator_version, letter)

    def moved(self, event: Case.Event) -> None:
        """What every event moves, by the domain's own rules: stage, a referral's status."""
        self.file.version = event.originator_version
        self.file.updated_at = event.timestamp
        self.file.stage = stage_after(self.file.stage, event)
        referral_moved = referral_status_after(event)
        if referral_moved is not None:
            referral_id, status = referral_moved
            self._referral(referral_id).status = status

    def _recommendation(self, recommendation_id: str) -> Recommendation:
        for recommendation in self.file.recommendations:
            if recommendation.recommendation_id == recommendation_id:
                return recommendation
        raise ValueError("an event refers to a recommendation the case never made")

    def _referral(self, referral_id: str) -> Referral:
        try:
            return self.referrals_by_id[referral_id]
        except KeyError:
            raise ValueError("an event refers to a referral the case never made") from None


# ---- The history, event by event -------------------------------------------------------------


class HistoryEntry(BaseModel):
    """One recorded event of a case, for the case's timeline."""

    version: int = Field(description="The event's version within the case.")
    type: str = Field(description="The event type, e.g. RiskClassified.")
    recorded_at: datetime = Field(description="When the event was recorded.")
    actor: ActorRef = Field(description="Who caused the event.")
    data: dict[str, Any] = Field(
        description="The event's own fields, JSON-safe: datetimes as ISO 8601, UUIDs as strings."
    )


_apply_handler = vars(_CaseFileFold)["apply"].dispatcher.dispatch

_JSON_OBJECT = TypeAdapter(dict[str, Any])


def history_entry(event: Case.Event) -> HistoryEntry:
    """One event as a timeline entry, with its data separated from the stamp every event carries."""
    data = recorded_fields(event)
    return HistoryEntry(
        version=event.originator_version,
        type=type(event).__name__,
        recorded_at=event.timestamp,
        actor=ActorRef.model_validate(event.actor),
        data=_JSON_OBJECT.dump_python(data, mode="json"),
    )
