"""The case timeline: every event of a case, in order, as an auditor reads it.

Each entry says who acted (user, role, agency), when it was recorded, which
SOP step it belongs to, what happened in one sentence in Bahasa Indonesia and
in English, and which time standards the event completed, met or late. The
timeline can be cut at a version or a moment; it then carries the case file
as it stood then, and judges open steps at that moment.

Summaries state facts from the SOP vocabulary (who was referred where, for
what, with which result). They never quote free text recorded on the case
(chronology, findings, notes), so a summary cannot carry more personal data
than the fact that the step happened. Like the case file, the timeline is a
pure function of the events, the district's profile and the moment given.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import singledispatchmethod
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from domain.case import Case
from domain.letters import LETTER_SPECS, LetterKind
from domain.time_standards import (
    StepStatus,
    TimeStandardProfile,
    case_milestones,
    step_schedule,
)
from domain.vocabulary import (
    REINTEGRATION_STEP,
    HandoverTarget,
    TerminationKind,
    TerminationReason,
)
from projections import labels
from projections.case_file import (
    ActorRef,
    CaseFile,
    UnknownCaseEvent,
    history_as_of,
)

LETTER_KINDS = frozenset(kind.value for kind in LetterKind)

StepState = Literal["met", "late", "upcoming", "due", "overdue", "closed"]


class StepCheck(BaseModel):
    """One SOP step measured against its time standard."""

    code: str = Field(description="SOP step, e.g. L1.5.")
    stage: str = Field(description="The SOP stage the step belongs to.")
    title_id: str = Field(description="The step's name in Bahasa Indonesia.")
    title_en: str = Field(description="The step's name in English.")
    started_at: datetime = Field(description="When the step's clock started.")
    due_at: datetime = Field(description="When the time standard said it was due.")
    due_from: datetime | None = Field(
        default=None,
        description="Where the SOP gives a range (3-7 hari): when the step fell due; it is "
        "overdue only after due_at.",
    )
    done_at: datetime | None = Field(description="When it was done, if it was.")
    state: StepState = Field(
        description="met or late when done; due, overdue or closed (never done, case closed) "
        "otherwise, judged at the timeline's evaluation time."
    )
    referral_id: str | None = Field(
        default=None, description="The referral, for per-referral steps."
    )


class TimelineEntry(BaseModel):
    """One recorded event, as an auditor reads it."""

    version: int = Field(description="The event's version within the case.")
    type: str = Field(description="The event type, e.g. Referred.")
    sop_step: str | None = Field(description="The SOP step the event records, e.g. L4.1.")
    recorded_at: datetime = Field(description="When the event was recorded.")
    actor: ActorRef = Field(description="Who caused the event.")
    summary_id: str = Field(description="What happened, in Bahasa Indonesia.")
    summary_en: str = Field(description="What happened, in English.")
    time_standards: list[StepCheck] = Field(
        default_factory=list,
        description="The steps this event completed, each met or late against its standard.",
    )


class Timeline(BaseModel):
    """A case's events in order, with the case file and step schedule as they stood then."""

    case_id: UUID
    register_number: str
    district: str
    version: int = Field(description="The last version the timeline includes.")
    requested_version: int | None = Field(description="The version asked for, if any.")
    as_of: datetime | None = Field(description="The moment asked for, if any.")
    evaluated_at: datetime = Field(
        description="The moment open steps are judged at: as_of, else the time of the last "
        "included event when a version was asked for, else now."
    )
    entries: list[TimelineEntry]
    steps: list[StepCheck] = Field(description="Every step whose clock had started, by due time.")
    state: CaseFile = Field(description="The case file as it stood at the timeline's end.")


@dataclass(frozen=True)
class Summary:
    sop_step: str | None
    id: str
    en: str


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


@dataclass
class _Narrator:
    """Says what each event means, remembering what earlier events established."""

    referrals: dict[str, tuple[str, str]] = field(default_factory=dict)
    recommendations: dict[str, tuple[str, str]] = field(default_factory=dict)
    plan_agreed: bool = False
    # The letters issued, by id: (name, number); the one just issued, whose PDF's
    # DocumentAttached follows it in its save: ((version, sha256, moment), name, number).
    letters: dict[str, tuple[str, str]] = field(default_factory=dict)
    letter_just_issued: tuple[tuple[int, str, datetime], str, str] | None = None

    @singledispatchmethod
    def summarize(self, event: object) -> Summary:
        raise UnknownCaseEvent(
            f"the timeline has no summary for {type(event).__qualname__}; add one"
        )

    @summarize.register(Case.ReportReceived)
    def _report_received(self, event: Case.ReportReceived) -> Summary:
        channel_id, channel_en = labels.words(labels.CHANNEL, event.channel)
        return Summary(
            "L1.2",
            f"Laporan diterima melalui {channel_id} dan dicatat dengan nomor register "
            f"{event.register_number}",
            f"Report received by {channel_en} and recorded as register number "
            f"{event.register_number}",
        )

    @summarize.register(Case.OpenedFromOutreach)
    def _opened_from_outreach(self, event: Case.OpenedFromOutreach) -> Summary:
        return Summary(
            "K-R1",
            "Kasus dibuka atas rekomendasi tim penjangkauan",
            "Case opened on the outreach team's recommendation",
        )

    @summarize.register(Case.FactsCorrected)
    def _facts_corrected(self, event: Case.FactsCorrected) -> Summary:
        # Which facts changed, never their values: the case file (``state``) holds the
        # values and the reason, the history holds the values before.
        by_group: dict[str, list[str]] = {}
        for correction in event.corrections:
            by_group.setdefault(correction["group"], []).append(correction["key"])
        indonesian, english = [], []
        for group, keys in by_group.items():
            group_id, group_en = labels.words(labels.FACT_GROUP, group)
            keys_id, keys_en = labels.listed(labels.FACT_KEY, keys)
            indonesian.append(f"{group_id}: {keys_id}")
            english.append(f"{group_en}: {keys_en}")
        return Summary(
            event.sop_step or "L1.2",
            f"Data laporan dikoreksi atau dilengkapi ({'; '.join(indonesian)})",
            f"Facts of the report corrected or completed ({'; '.join(english)})",
        )

    @summarize.register(Case.PsychologicalFirstAidGiven)
    def _psychological_first_aid_given(self, event: Case.PsychologicalFirstAidGiven) -> Summary:
        return Summary(
            "L1.3", "Dukungan psikologis awal diberikan", "Initial psychological support given"
        )

    @summarize.register(Case.ComplaintKindRecorded)
    def _complaint_kind_recorded(self, event: Case.ComplaintKindRecorded) -> Summary:
        kind_id, kind_en = labels.words(labels.COMPLAINT_KIND, event.kind)
        return Summary(
            "B-K", f"Jenis pengaduan dicatat: {kind_id}", f"Complaint kind recorded: {kind_en}"
        )

    @summarize.register(Case.RiskClassified)
    def _risk_classified(self, event: Case.RiskClassified) -> Summary:
        type_id, type_en = labels.words(labels.CASE_TYPE, event.case_type)
        risk_id, risk_en = labels.words(labels.RISK, event.risk_level)
        where_id, where_en = labels.words(labels.JURISDICTION, event.jurisdiction)
        rules = ", ".join(event.routing)
        return Summary(
            "L1.5",
            f"Kasus diklasifikasikan: {type_id}, risiko {risk_id}, kewenangan {where_id}"
            f"{', darurat' if event.emergency else ''}; aturan rujukan {rules}",
            f"Case classified: {type_en}, {risk_en} risk, {where_en} authority"
            f"{', emergency' if event.emergency else ''}; routing rule(s) {rules}",
        )

    @summarize.register(Case.HandedOver)
    def _handed_over(self, event: Case.HandedOver) -> Summary:
        if event.target == HandoverTarget.INFORMATION_ONLY:
            return Summary(
                "L1.5",
                "Kasus ditutup dengan pemberian informasi layanan (aturan f)",
                "Case closed with information about services (rule f)",
            )
        target_id, target_en = labels.words(labels.HANDOVER, event.target)
        return Summary(
            "L1.5", f"Kasus diserahkan ke {target_id}", f"Case handed over to {target_en}"
        )

    @summarize.register(Case.HandoverAcknowledged)
    def _handover_acknowledged(self, event: Case.HandoverAcknowledged) -> Summary:
        return Summary(
            "L1.5",
            "Penerima serah terima kasus menyatakan telah menerima kasus",
            "The receiving agency acknowledged the hand-over",
        )

    @summarize.register(Case.HandedBack)
    def _handed_back(self, event: Case.HandedBack) -> Summary:
        return Summary(
            "L1.5",
            "Kasus dikembalikan oleh penerima; kasus perlu diklasifikasikan ulang",
            "The receiving agency handed the case back; it must be classified again",
        )

    @summarize.register(Case.EmergencyResponseRecorded)
    def _emergency_response_recorded(self, event: Case.EmergencyResponseRecorded) -> Summary:
        count = len(event.actions)
        return Summary(
            "L1.6",
            f"Penjangkauan dan layanan darurat dicatat ({count} tindakan)",
            f"Outreach and emergency services recorded ({count} action(s))",
        )

    @summarize.register(Case.CaseWorkerAssigned)
    def _case_worker_assigned(self, event: Case.CaseWorkerAssigned) -> Summary:
        return Summary(
            "L1.7",
            f"Pendamping kasus ditugaskan: {event.case_worker_id}",
            f"Case worker assigned: {event.case_worker_id}",
        )

    @summarize.register(Case.DocumentAttached)
    def _document_attached(self, event: Case.DocumentAttached) -> Summary:
        kind_id, kind_en = labels.words(labels.DOCUMENT_KIND, event.kind)
        letter = self.letter_just_issued
        pdf_of_letter = (event.originator_version - 1, event.sha256, event.timestamp)
        if letter is not None and letter[0] == pdf_of_letter:
            _, name, number = letter
            return Summary(
                event.step or None,
                f"PDF {name} nomor {number} disimpan sebagai dokumen: {kind_id}",
                f"The PDF of letter number {number} stored as a document: {kind_en}",
            )
        return Summary(
            event.step or None,
            f"Dokumen dilampirkan: {kind_id}",
            f"Document attached: {kind_en}",
        )

    @summarize.register(Case.BeneficiaryContacted)
    def _beneficiary_contacted(self, event: Case.BeneficiaryContacted) -> Summary:
        mode_id, mode_en = labels.words(labels.CONTACT_MODE, event.mode)
        return Summary(
            "L1.8",
            f"Kontak dengan penerima manfaat dan keluarga ({mode_id})",
            f"Contact with the beneficiary and family ({mode_en})",
        )

    @summarize.register(Case.ConsentRecorded)
    def _consent_recorded(self, event: Case.ConsentRecorded) -> Summary:
        giver_id, giver_en = labels.words(labels.CONSENT_GIVER, event.given_by)
        if event.given:
            return Summary(
                "L1.9-10",
                f"Persetujuan tertulis diberikan oleh {giver_id}",
                f"Written informed consent given by {giver_en}",
            )
        return Summary(
            "L1.9-10",
            f"Persetujuan ditolak oleh {giver_id}; penanganan tidak dapat dilanjutkan",
            f"Consent refused by {giver_en}; handling cannot continue",
        )

    @summarize.register(Case.BeneficiaryAdded)
    def _beneficiary_added(self, event: Case.BeneficiaryAdded) -> Summary:
        # The relationship is free text: the summary states only the id and childhood.
        if event.child:
            return Summary(
                "L1.8",
                f"Penerima manfaat {event.beneficiary_id} (anak) ditambahkan pada kasus",
                f"Beneficiary {event.beneficiary_id} (a child) added to the case",
            )
        return Summary(
            "L1.8",
            f"Penerima manfaat {event.beneficiary_id} ditambahkan pada kasus",
            f"Beneficiary {event.beneficiary_id} added to the case",
        )

    @summarize.register(Case.BeneficiaryConsentRecorded)
    def _beneficiary_consent_recorded(self, event: Case.BeneficiaryConsentRecorded) -> Summary:
        giver_id, giver_en = labels.words(labels.CONSENT_GIVER, event.given_by)
        who = event.beneficiary_id
        if event.given:
            return Summary(
                "L1.9-10",
                f"Persetujuan tertulis untuk penerima manfaat {who} diberikan oleh {giver_id}",
                f"Written informed consent for beneficiary {who} given by {giver_en}",
            )
        return Summary(
            "L1.9-10",
            f"Persetujuan untuk penerima manfaat {who} ditolak oleh {giver_id}",
            f"Consent for beneficiary {who} refused by {giver_en}",
        )

    @summarize.register(Case.ReferralBeneficiariesNamed)
    def _referral_beneficiaries_named(self, event: Case.ReferralBeneficiariesNamed) -> Summary:
        whom = ", ".join(event.beneficiary_ids)
        return Summary(
            "L4.1",
            f"Rujukan berikut untuk penerima manfaat {whom}",
            f"The referral that follows is for beneficiaries {whom}",
        )

    @summarize.register(Case.FamilyDecisionRecorded)
    def _family_decision_recorded(self, event: Case.FamilyDecisionRecorded) -> Summary:
        offered, accepted = len(event.offered_services), len(event.accepted_services)
        return Summary(
            "K-C3",
            f"Layanan ditawarkan kepada keluarga: {accepted} dari {offered} diterima",
            f"Services offered to the family: {accepted} of {offered} accepted",
        )

    @summarize.register(Case.AssessmentReviewed)
    def _assessment_reviewed(self, event: Case.AssessmentReviewed) -> Summary:
        outcome_id, outcome_en = labels.words(labels.REVIEW_OUTCOME, event.outcome)
        return Summary(
            "T3",
            f"Hasil asesmen dikoordinasikan dengan atasan: {outcome_id}",
            f"Assessment reviewed with the supervisor: {outcome_en}",
        )

    @summarize.register(Case.AssessmentRecorded)
    def _assessment_recorded(self, event: Case.AssessmentRecorded) -> Summary:
        kind_id, kind_en = labels.words(labels.ASSESSMENT_KIND, event.kind)
        domain_id, domain_en = labels.words(labels.ASSESSMENT_DOMAIN, event.domain)
        agency_id, agency_en = labels.words(labels.AGENCY, event.assessing_agency)
        step = {"initial_home_visit": "L2.1", "further": "L2.2", "specialist": "L2.3"}
        return Summary(
            step.get(event.kind, "L2.2"),
            f"{kind_id} kondisi {domain_id} oleh {agency_id}",
            f"{kind_en} of the {domain_en} condition by {agency_en}",
        )

    @summarize.register(Case.CaseReportConcluded)
    def _case_report_concluded(self, event: Case.CaseReportConcluded) -> Summary:
        needs_id, needs_en = labels.listed(labels.SERVICE, event.needs)
        return Summary(
            "L2.7",
            f"Laporan kasus disimpulkan; kebutuhan: {needs_id}",
            f"Case report concluded; needs: {needs_en}",
        )

    @summarize.register(Case.CaseConferenceHeld)
    def _case_conference_held(self, event: Case.CaseConferenceHeld) -> Summary:
        agencies_id, agencies_en = labels.listed(labels.AGENCY, event.participating_agencies)
        count = len(event.decisions)
        return Summary(
            "L5.3" if self.plan_agreed else "L3.3",
            f"Konferensi kasus dengan {agencies_id}; {count} keputusan",
            f"Case conference with {agencies_en}; {count} decision(s)",
        )

    @summarize.register(Case.FamilyMeetingHeld)
    def _family_meeting_held(self, event: Case.FamilyMeetingHeld) -> Summary:
        count = len(event.agreements)
        return Summary(
            "L5.4" if self.plan_agreed else "L3.4",
            f"Pertemuan keluarga; {count} kesepakatan",
            f"Family meeting; {count} agreement(s)",
        )

    @summarize.register(Case.InterventionPlanAgreed)
    def _intervention_plan_agreed(self, event: Case.InterventionPlanAgreed) -> Summary:
        self.plan_agreed = True
        agreed_id, agreed_en = labels.listed(labels.CONSENT_GIVER, event.agreed_with)
        services_id = "; ".join(
            f"{labels.words(labels.SERVICE, s['service_type'])[0]} oleh "
            f"{labels.words(labels.AGENCY, s['agency'])[0]}"
            for s in event.services
        )
        services_en = "; ".join(
            f"{labels.words(labels.SERVICE, s['service_type'])[1]} by "
            f"{labels.words(labels.AGENCY, s['agency'])[1]}"
            for s in event.services
        )
        return Summary(
            "L3.5",
            f"Rencana intervensi disepakati dengan {agreed_id}: {services_id}",
            f"Intervention plan agreed with {agreed_en}: {services_en}",
        )

    @summarize.register(Case.Referred)
    def _referred(self, event: Case.Referred) -> Summary:
        self.referrals[event.referral_id] = (event.agency, event.service_type)
        agency_id, agency_en = labels.words(labels.AGENCY, event.agency)
        service_id, service_en = labels.words(labels.SERVICE, event.service_type)
        return Summary(
            "L4.1",
            f"Dirujuk ke {agency_id} untuk {service_id}{' (darurat)' if event.emergency else ''}",
            f"Referred to {agency_en} for {service_en}{' (emergency)' if event.emergency else ''}",
        )

    def _referral_words(self, referral_id: str) -> tuple[str, str, str, str]:
        agency, service = self.referrals.get(referral_id, ("", ""))
        agency_id, agency_en = (
            labels.words(labels.AGENCY, agency)
            if agency
            else ("instansi rujukan", "the receiving agency")
        )
        service_id, service_en = (
            labels.words(labels.SERVICE, service) if service else ("layanan", "the service")
        )
        return agency_id, agency_en, service_id, service_en

    @summarize.register(Case.ReferralAccepted)
    def _referral_accepted(self, event: Case.ReferralAccepted) -> Summary:
        agency_id, agency_en, service_id, service_en = self._referral_words(event.referral_id)
        return Summary(
            "L4.1",
            f"{_capitalised(agency_id)} menerima rujukan untuk {service_id}",
            f"{_capitalised(agency_en)} accepted the referral for {service_en}",
        )

    @summarize.register(Case.ReferralDeclined)
    def _referral_declined(self, event: Case.ReferralDeclined) -> Summary:
        agency_id, agency_en, service_id, service_en = self._referral_words(event.referral_id)
        return Summary(
            "L4.1",
            f"{_capitalised(agency_id)} menolak rujukan untuk {service_id}",
            f"{_capitalised(agency_en)} declined the referral for {service_en}",
        )

    @summarize.register(Case.ServiceDelivered)
    def _service_delivered(self, event: Case.ServiceDelivered) -> Summary:
        agency_id, agency_en, service_id, service_en = self._referral_words(event.referral_id)
        outcome_id, outcome_en = labels.words(labels.DELIVERY_OUTCOME, event.outcome)
        return Summary(
            "L4.2",
            f"{_capitalised(agency_id)} melaporkan layanan {service_id}: {outcome_id}",
            f"{_capitalised(agency_en)} reported {service_en}: {outcome_en}",
        )

    @summarize.register(Case.ReferralCancelled)
    def _referral_cancelled(self, event: Case.ReferralCancelled) -> Summary:
        agency_id, agency_en, service_id, service_en = self._referral_words(event.referral_id)
        return Summary(
            "L4.1",
            f"Rujukan ke {agency_id} untuk {service_id} dibatalkan",
            f"Referral to {agency_en} for {service_en} withdrawn",
        )

    @summarize.register(Case.ReferralRecommended)
    def _referral_recommended(self, event: Case.ReferralRecommended) -> Summary:
        self.recommendations[event.recommendation_id] = (event.agency, event.service_type)
        agency_id, agency_en = labels.words(labels.AGENCY, event.agency)
        service_id, service_en = labels.words(labels.SERVICE, event.service_type)
        return Summary(
            "K-C7",
            f"Usulan rekomendasi rujukan ke {agency_id} untuk {service_id}",
            f"Referral to {agency_en} for {service_en} proposed for approval",
        )

    @summarize.register(Case.RecommendationApproved)
    def _recommendation_approved(self, event: Case.RecommendationApproved) -> Summary:
        agency, service = self.recommendations.get(event.recommendation_id, ("", ""))
        agency_id, agency_en = labels.words(labels.AGENCY, agency)
        service_id, service_en = labels.words(labels.SERVICE, service)
        return Summary(
            "K-C8",
            f"Rekomendasi rujukan ke {agency_id} untuk {service_id} disetujui "
            "(surat rekomendasi dan berita acara rujukan)",
            f"Referral to {agency_en} for {service_en} approved "
            "(recommendation letter and referral record)",
        )

    @summarize.register(Case.RecommendationReturned)
    def _recommendation_returned(self, event: Case.RecommendationReturned) -> Summary:
        agency, service = self.recommendations.get(event.recommendation_id, ("", ""))
        agency_id, agency_en = labels.words(labels.AGENCY, agency)
        service_id, service_en = labels.words(labels.SERVICE, service)
        return Summary(
            "K-C8",
            f"Rekomendasi rujukan ke {agency_id} untuk {service_id} dikembalikan",
            f"Recommended referral to {agency_en} for {service_en} returned",
        )

    @summarize.register(Case.ReferralProgressNoted)
    def _referral_progress_noted(self, event: Case.ReferralProgressNoted) -> Summary:
        agency_id, agency_en, service_id, service_en = self._referral_words(event.referral_id)
        return Summary(
            "K-R5",
            f"Perkembangan penanganan {service_id} oleh {agency_id} dicatat",
            f"Progress of {agency_en}'s handling of {service_en} noted",
        )

    @summarize.register(Case.MediationHeld)
    def _mediation_held(self, event: Case.MediationHeld) -> Summary:
        parties = len(event.parties)
        if event.agreement_reached:
            return Summary(
                "P5",
                f"Mediasi dengan {parties} pihak; kesepakatan tercapai",
                f"Mediation between {parties} parties; an agreement was reached",
            )
        return Summary(
            "P5",
            f"Mediasi dengan {parties} pihak; kesepakatan tidak tercapai",
            f"Mediation between {parties} parties; no agreement was reached",
        )

    @summarize.register(Case.ShelterAdmitted)
    def _shelter_admitted(self, event: Case.ShelterAdmitted) -> Summary:
        shelter_id, shelter_en = labels.words(labels.SHELTER, event.shelter)
        return Summary(
            "T4d",
            f"Penerima manfaat dititipkan sementara di {shelter_id}"
            f"{' (darurat)' if event.emergency else ''}",
            f"Beneficiary admitted to {shelter_en}{' (emergency)' if event.emergency else ''}",
        )

    @summarize.register(Case.ShelterDischarged)
    def _shelter_discharged(self, event: Case.ShelterDischarged) -> Summary:
        where_id, where_en = labels.words(labels.SHELTER_DESTINATION, event.destination)
        return Summary(
            "T4d",
            f"Penerima manfaat keluar dari shelter: {where_id}",
            f"Beneficiary discharged from the shelter: {where_en}",
        )

    @summarize.register(Case.ReintegrationStepRecorded)
    def _reintegration_step_recorded(self, event: Case.ReintegrationStepRecorded) -> Summary:
        activity_id, activity_en = labels.words(labels.REINTEGRATION_ACTIVITY, event.activity)
        return Summary(
            REINTEGRATION_STEP.get(event.activity),
            f"Reintegrasi sosial: {activity_id}",
            f"Reintegration: {activity_en}",
        )

    @summarize.register(Case.ChildReunified)
    def _child_reunified(self, event: Case.ChildReunified) -> Summary:
        with_id, with_en = labels.words(labels.REUNIFIED_WITH, event.reunified_with)
        return Summary(
            "K-I4",
            f"Anak dikembalikan kepada {with_id}; pemantauan 3 bulan dimulai",
            f"Child reunified with {with_en}; 3 months of monitoring begin",
        )

    @summarize.register(Case.ReintegrationVisitRecorded)
    def _reintegration_visit_recorded(self, event: Case.ReintegrationVisitRecorded) -> Summary:
        mode_id, mode_en = labels.words(labels.CONTACT_MODE, event.mode)
        return Summary(
            "K-I6",
            f"Pemantauan reintegrasi sosial ({mode_id})",
            f"Reintegration monitored ({mode_en})",
        )

    @summarize.register(Case.ReintegrationEvaluated)
    def _reintegration_evaluated(self, event: Case.ReintegrationEvaluated) -> Summary:
        if event.reintegrated:
            return Summary(
                "K-I7",
                "Evaluasi reintegrasi: anak telah terintegrasi kembali",
                "Reintegration evaluated: the child is reintegrated",
            )
        return Summary(
            "K-I7",
            "Evaluasi reintegrasi: anak belum terintegrasi kembali",
            "Reintegration evaluated: the child is not yet reintegrated",
        )

    @summarize.register(Case.AccompanimentRecorded)
    def _accompaniment_recorded(self, event: Case.AccompanimentRecorded) -> Summary:
        return Summary(
            "L4.4",
            "Pendampingan penerima manfaat dicatat",
            "Accompaniment of the beneficiary recorded",
        )

    @summarize.register(Case.MonitoringVisitRecorded)
    def _monitoring_visit_recorded(self, event: Case.MonitoringVisitRecorded) -> Summary:
        mode_id, mode_en = labels.words(labels.CONTACT_MODE, event.mode)
        return Summary(
            "L5.2",
            f"Monitoring ({mode_id}): layanan "
            f"{'sesuai rencana' if event.services_on_track else 'tidak sesuai rencana'}; "
            f"penerima manfaat {'telah pulih' if event.recovered else 'belum pulih'}",
            f"Monitoring ({mode_en}): services "
            f"{'on track' if event.services_on_track else 'not on track'}; the beneficiary "
            f"{'has recovered' if event.recovered else 'has not yet recovered'}",
        )

    @summarize.register(Case.ReassessmentStarted)
    def _reassessment_started(self, event: Case.ReassessmentStarted) -> Summary:
        self.plan_agreed = False
        return Summary(
            "L5.5",
            "Asesmen ulang dimulai: penerima manfaat masih membutuhkan layanan",
            "Re-assessment started: the beneficiary still needs services",
        )

    @summarize.register(Case.LetterIssued)
    def _letter_issued(self, event: Case.LetterIssued) -> Summary:
        title = LETTER_SPECS[LetterKind(event.kind)].title if event.kind in LETTER_KINDS else ""
        name = title.title() if title else event.kind
        self.letters[event.letter_id] = (name, event.number)
        self.letter_just_issued = (
            (event.originator_version, event.sha256, event.timestamp),
            name,
            event.number,
        )
        return Summary(
            event.step,
            f"{name} diterbitkan dengan nomor {event.number}",
            f"Letter {event.kind} issued as number {event.number}",
        )

    @summarize.register(Case.SignedCopyAttached)
    def _signed_copy_attached(self, event: Case.SignedCopyAttached) -> Summary:
        name, number = self.letters.get(event.letter_id, ("Surat", "?"))
        return Summary(
            None,
            f"Salinan bertanda tangan {name} nomor {number} dilampirkan",
            f"The signed copy of letter number {number} attached",
        )

    @summarize.register(Case.Terminated)
    def _terminated(self, event: Case.Terminated) -> Summary:
        kind_id, kind_en = labels.words(labels.TERMINATION_KIND, event.kind)
        reason_id, reason_en = labels.words(labels.TERMINATION_REASON, event.reason)
        if event.reason == TerminationReason.CONSENT_REFUSED:
            step = "L1.10"
        elif event.kind == TerminationKind.UNILATERAL:
            step = "L6.4"
        else:
            step = "L6.5"
        return Summary(
            step,
            f"Kasus ditutup: {kind_id}, alasan: {reason_id}",
            f"Case closed: {kind_en}, reason: {reason_en}",
        )

    @summarize.register(Case.LinkedToCase)
    def _linked_to_case(self, event: Case.LinkedToCase) -> Summary:
        basis_id, basis_en = {
            "nik": ("NIK yang sama", "the same NIK"),
            "name_and_birth_date": (
                "nama dan tanggal lahir yang sama",
                "the same name and birth date",
            ),
            "officer": ("keterangan petugas", "the officer's knowledge"),
        }[event.basis]
        return Summary(
            "L1.2",
            f"Dikaitkan dengan kasus {event.other_case_id} atas orang yang sama ({basis_id})",
            f"Linked to case {event.other_case_id} naming the same person ({basis_en})",
        )

    @summarize.register(Case.Reopened)
    def _reopened(self, event: Case.Reopened) -> Summary:
        return Summary(
            "L1.1",
            f"Laporan baru atas kasus yang telah ditutup: dilanjutkan sebagai kasus "
            f"{event.new_case_id}; kasus ini tetap ditutup",
            f"A new report on this closed case: continued as case {event.new_case_id}; this "
            "case stays closed",
        )


_summary_handler = vars(_Narrator)["summarize"].dispatcher.dispatch


def summarized_event_types() -> frozenset[type]:
    registry = vars(_Narrator)["summarize"].dispatcher.registry
    return frozenset(registry) - {object}


def summaries(events: Iterable[Case.Event]) -> list[Summary]:
    """One summary per event, in order; earlier events give later ones their context."""
    narrator = _Narrator()
    dispatch = _summary_handler
    return [dispatch(type(event))(narrator, event) for event in events]


def _check(status: StepStatus) -> StepCheck:
    return StepCheck(
        code=status.code,
        stage=status.stage,
        title_id=status.title_id,
        title_en=status.title_en,
        started_at=status.started_at,
        due_at=status.due_at,
        due_from=status.due_from,
        done_at=status.done_at,
        state=status.state.value,
        referral_id=status.referral_id,
    )


def case_timeline(
    events: Sequence[Case.Event],
    profile: TimeStandardProfile,
    *,
    now: datetime,
    version: int | None = None,
    as_of: datetime | None = None,
) -> Timeline:
    """The timeline of a case's events, cut at a version and/or a moment if given."""
    history = history_as_of(events, version=version, as_of=as_of)
    last = history[-1]
    if as_of is not None:
        evaluated_at = as_of
    elif version is not None:
        evaluated_at = last.timestamp
    else:
        evaluated_at = now
    entries = [
        TimelineEntry(
            version=event.originator_version,
            type=type(event).__name__,
            sop_step=profile.own_step(summary.sop_step),
            recorded_at=event.timestamp,
            actor=ActorRef.model_validate(event.actor),
            summary_id=summary.id,
            summary_en=summary.en,
        )
        for event, summary in zip(history, summaries(history), strict=True)
    ]
    entry_of_version = {entry.version: entry for entry in entries}
    statuses = step_schedule(profile, case_milestones(history), evaluated_at)
    for status in statuses:
        # The event that did the step shows whether its time standard was met.
        completing = entry_of_version.get(status.done_version or 0)
        if completing is not None:
            completing.time_standards.append(_check(status))
    state = CaseFile.from_events(history)
    return Timeline(
        case_id=state.case_id,
        register_number=state.register_number,
        district=state.district,
        version=state.version,
        requested_version=version,
        as_of=as_of,
        evaluated_at=evaluated_at,
        entries=entries,
        steps=[_check(status) for status in statuses],
        state=state,
    )
