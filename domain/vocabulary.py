"""The words of the SOPs (shared/domain.md, "Vocabulary"), as closed sets.

Events store the plain string values, never the enum objects, so stored
history stays readable by any JSON consumer and survives a rename here.
"""

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class Agency(StrEnum):
    UPTD_PPA = "uptd_ppa"
    POLICE = "police"
    HEALTH = "health"
    SOCIAL = "social"
    EDUCATION = "education"
    PATBM = "patbm"
    PROVINCE = "province"
    LEGAL_AID = "legal_aid"
    PROSECUTOR = "prosecutor"
    COURT = "court"
    CIVIL_REGISTRY = "civil_registry"
    RELIGIOUS_AFFAIRS = "religious_affairs"
    BAZNAS = "baznas"
    BPJS = "bpjs"


class Role(StrEnum):
    INTAKE_OFFICER = "intake_officer"
    CASE_WORKER = "case_worker"
    AGENCY_OFFICER = "agency_officer"
    COORDINATOR = "coordinator"
    AUDITOR = "auditor"
    DATA_OFFICER = "data_officer"
    # The SOPs' approvers (Kasi, Kabid, Ketua Pelaksana Harian): the office's supervisors.
    SUPERVISOR = "supervisor"
    # Invites, changes and deactivates the staff of their own office; reads no case.
    OFFICE_ADMINISTRATOR = "office_administrator"


class Channel(StrEnum):
    """L1.1: any complaint channel is accepted."""

    WALK_IN = "walk_in"
    PHONE = "phone"
    HOTLINE = "hotline"
    SMS = "sms"
    WEB = "web"
    REFERRAL_LETTER = "referral_letter"
    OUTREACH = "outreach"


class CaseType(StrEnum):
    KTP = "KTP"  # kekerasan terhadap perempuan
    KTA = "KTA"  # kekerasan terhadap anak
    ABH = "ABH"  # anak berhadapan dengan hukum
    AMPK = "AMPK"  # other children needing special protection
    OTHER = "other"  # neither KTP/KTA nor ABH: information only (routing f)


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Jurisdiction(StrEnum):
    VILLAGE = "village"
    DISTRICT = "district"
    PROVINCE = "province"
    NATIONAL = "national"


class FormOfViolence(StrEnum):
    PHYSICAL = "physical"
    PSYCHOLOGICAL = "psychological"
    SEXUAL = "sexual"
    NEGLECT = "neglect"
    ECONOMIC_EXPLOITATION = "economic_exploitation"
    SEXUAL_EXPLOITATION = "sexual_exploitation"
    TRAFFICKING = "trafficking"
    DISCRIMINATION = "discrimination"
    LEFT_IN_DANGER = "left_in_danger"


class AmpkCategory(StrEnum):
    """The 15 categories of children needing special protection (L Pasal 1.17)."""

    EMERGENCY_SITUATION = "emergency_situation"
    CONFLICT_WITH_LAW = "conflict_with_law"
    MINORITY_OR_ISOLATED = "minority_or_isolated"
    ECONOMIC_OR_SEXUAL_EXPLOITATION = "economic_or_sexual_exploitation"
    ADDICTIVE_SUBSTANCES = "addictive_substances"
    PORNOGRAPHY = "pornography"
    HIV_AIDS = "hiv_aids"
    ABDUCTION_SALE_TRAFFICKING = "abduction_sale_trafficking"
    PHYSICAL_OR_PSYCHOLOGICAL_VIOLENCE = "physical_or_psychological_violence"
    SEXUAL_CRIME = "sexual_crime"
    TERRORISM_NETWORK = "terrorism_network"
    DISABILITY = "disability"
    MISTREATMENT_AND_NEGLECT = "mistreatment_and_neglect"
    DEVIANT_SOCIAL_BEHAVIOUR = "deviant_social_behaviour"
    PARENTAL_CONDITION_STIGMA = "parental_condition_stigma"


class ComplaintKind(StrEnum):
    """Kota Batu's "Pengaduan yang mendapatkan Layanan": the 15 kinds of complaint it serves,
    in its numbering (B-K1 ... B-K15)."""

    EMERGENCY = "emergency"  # 1 korban dalam situasi darurat
    VIOLENCE = "violence"  # 2 kekerasan fisik, psikis dan seksual
    EXPLOITATION = "exploitation"  # 3 eksploitasi ekonomi dan seksual
    MINORITY_OR_ISOLATED = "minority_or_isolated"  # 4
    MISTREATMENT_OR_NEGLECT = "mistreatment_or_neglect"  # 5 perlakuan salah, penelantaran
    TRAFFICKING = "trafficking"  # 6
    IN_CONFLICT_WITH_LAW = "in_conflict_with_law"  # 7 berhadapan dengan hukum
    SUBSTANCE_ABUSE = "substance_abuse"  # 8 NAPZA
    DISABILITY = "disability"  # 9
    EDUCATION_SERVICE = "education_service"  # 10 masalah dengan layanan pendidikan
    HEALTH_SERVICE = "health_service"  # 11 masalah dengan layanan kesehatan
    CIVIL_REGISTRATION_SERVICE = "civil_registration_service"  # 12 administrasi kependudukan
    SOCIAL_WELFARE_SERVICE = "social_welfare_service"  # 13 layanan kesejahteraan sosial
    OTHER_CHILD_RIGHTS_SERVICE = "other_child_rights_service"  # 14 pemenuhan hak anak lainnya
    RIGHTS_CONSULTATION = "rights_consultation"  # 15 konsultasi tentang haknya


class HandoverTarget(StrEnum):
    """Where routing b, c, d and f send a case away from district handling."""

    PATBM = "patbm"
    SOCIAL = "social"
    PROVINCE = "province"
    INFORMATION_ONLY = "information_only"


# The agency that receives a case handed over by routing b, c or d; information
# only (rule f) goes to nobody.
HANDOVER_AGENCY: Mapping[HandoverTarget, Agency] = MappingProxyType(
    {
        HandoverTarget.PATBM: Agency.PATBM,
        HandoverTarget.SOCIAL: Agency.SOCIAL,
        HandoverTarget.PROVINCE: Agency.PROVINCE,
    }
)


class ConsentGiver(StrEnum):
    VICTIM = "victim"
    PARENT = "parent"
    GUARDIAN = "guardian"
    FAMILY = "family"


class ContactMode(StrEnum):
    HOME_VISIT = "home_visit"
    OFFICE_VISIT = "office_visit"
    PHONE = "phone"
    VIDEO_CALL = "video_call"


class AssessmentDomain(StrEnum):
    """L2.2: the four conditions assessed."""

    PHYSICAL = "physical"
    PSYCHOLOGICAL = "psychological"
    SOCIAL_SPIRITUAL = "social_spiritual"
    LEGAL = "legal"


class AssessmentKind(StrEnum):
    INITIAL_HOME_VISIT = "initial_home_visit"  # L2.1
    FURTHER = "further"  # L2.2
    SPECIALIST = "specialist"  # L2.3


class ServiceType(StrEnum):
    """Services an intervention plan maps to agencies (L3.2, T4, B)."""

    MEDICAL_CARE = "medical_care"
    MEDICAL_EXAMINATION = "medical_examination"
    PSYCHOLOGICAL_COUNSELLING = "psychological_counselling"
    SPECIALIST_ASSESSMENT = "specialist_assessment"
    HEALTH_INSURANCE = "health_insurance"
    SOCIAL_REHABILITATION = "social_rehabilitation"
    TEMPORARY_SHELTER = "temporary_shelter"
    SOCIAL_SECURITY_ENROLMENT = "social_security_enrolment"
    REPATRIATION = "repatriation"
    SOCIAL_REINTEGRATION = "social_reintegration"
    LEGAL_PROCESS = "legal_process"
    LEGAL_AID = "legal_aid"
    RETURN_TO_SCHOOL = "return_to_school"
    NON_FORMAL_EDUCATION = "non_formal_education"
    COMMUNITY_ACCOMPANIMENT = "community_accompaniment"
    CIVIL_DOCUMENTS = "civil_documents"
    RELIGIOUS_GUIDANCE = "religious_guidance"
    EMERGENCY_SUPPORT = "emergency_support"


class DeliveryOutcome(StrEnum):
    """L4.2-4.3: what an agency reports back about a referred service."""

    COMPLETED = "completed"
    PARTIALLY_DELIVERED = "partially_delivered"
    NOT_DELIVERED = "not_delivered"


class ReferralStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    NOT_DELIVERED = "not_delivered"
    DECLINED = "declined"
    CANCELLED = "cancelled"


SETTLED_REFERRAL_STATUSES = frozenset(
    {
        ReferralStatus.COMPLETED,
        ReferralStatus.NOT_DELIVERED,
        ReferralStatus.DECLINED,
        ReferralStatus.CANCELLED,
    }
)

# A referral whose agency is handling it: its progress can be noted (K-R5).
PROGRESSING_REFERRAL_STATUSES = frozenset({ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS})

# The receiving agency has answered a referral once it accepted or declined it (L4.1).
ANSWERED_REFERRAL_STATUSES = frozenset({ReferralStatus.ACCEPTED, ReferralStatus.DECLINED})

# L4.2-4.3: where a referral stands after the agency reports a delivery.
REFERRAL_STATUS_AFTER_DELIVERY: Mapping[DeliveryOutcome, ReferralStatus] = MappingProxyType(
    {
        DeliveryOutcome.COMPLETED: ReferralStatus.COMPLETED,
        DeliveryOutcome.PARTIALLY_DELIVERED: ReferralStatus.IN_PROGRESS,
        DeliveryOutcome.NOT_DELIVERED: ReferralStatus.NOT_DELIVERED,
    }
)


class RecommendationStatus(StrEnum):
    """K-C7-C8: a social worker's proposed referral, awaiting a supervisor."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    RETURNED = "returned"


class ReviewOutcome(StrEnum):
    """T3: what the supervisor concluded from the assessment's results."""

    AGREED = "agreed"
    FURTHER_ASSESSMENT_NEEDED = "further_assessment_needed"


class Shelter(StrEnum):
    """T4d: the temporary shelters Tanjungpinang's SOP names ("penitipan sementara di
    shelter RSTS Dinsos/shelter P2TP2A"), and any other the office places a victim in."""

    RSTS_DINSOS = "rsts_dinsos"  # Rumah Singgah / RSTS of Dinas Sosial
    P2TP2A = "p2tp2a"  # the P2TP2A's shelter, run by the UPTD PPA where it replaced P2TP2A
    OTHER = "other"


class ShelterDestination(StrEnum):
    """T4d: where a victim went when she left the shelter."""

    HOME_FAMILY = "home_family"  # home, to her own family (also after repatriation, T4e)
    SUBSTITUTE_FAMILY = "substitute_family"
    OTHER_INSTITUTION = "other_institution"


class ReintegrationActivity(StrEnum):
    """Kutai Timur's SOP Reintegrasi Sosial: the steps recorded as done, with their notes.

    Reunification (K-I4), monitoring (K-I6) and evaluation (K-I7) are facts of their own
    (ChildReunified, ReintegrationVisitRecorded, ReintegrationEvaluated).
    """

    PREPARATION = "preparation"  # K-I1 family / substitute family / school / community
    CHILD_COUNSELLING = "child_counselling"  # K-I2
    CAREGIVER_COUNSELLING = "caregiver_counselling"  # K-I3
    COMMUNITY_INTRODUCTION = "community_introduction"  # K-I5
    REPORT = "report"  # K-I8


# The K-I number of each activity (keyed by the stored value), for rules and timelines.
REINTEGRATION_STEP: Mapping[str, str] = MappingProxyType(
    {
        ReintegrationActivity.PREPARATION: "K-I1",
        ReintegrationActivity.CHILD_COUNSELLING: "K-I2",
        ReintegrationActivity.CAREGIVER_COUNSELLING: "K-I3",
        ReintegrationActivity.COMMUNITY_INTRODUCTION: "K-I5",
        ReintegrationActivity.REPORT: "K-I8",
    }
)


class ReunifiedWith(StrEnum):
    """K-I4: "reunifikasi kepada keluarga atau keluarga pengganti"."""

    FAMILY = "family"
    SUBSTITUTE_FAMILY = "substitute_family"


class MeetingKind(StrEnum):
    CASE_CONFERENCE = "case_conference"  # L3.3, L5.3
    FAMILY_MEETING = "family_meeting"  # L3.4, L5.4


class TerminationKind(StrEnum):
    AGREED = "agreed"  # L6.1-6.3
    UNILATERAL = "unilateral"  # L6.4


class TerminationReason(StrEnum):
    RECOVERED = "recovered"
    CHILD_DIED = "child_died"
    WHEREABOUTS_UNKNOWN = "whereabouts_unknown"
    REFUSED_ACCOMPANIMENT = "refused_accompaniment"
    CONSENT_REFUSED = "consent_refused"


UNILATERAL_REASONS = frozenset(
    {
        TerminationReason.CHILD_DIED,
        TerminationReason.WHEREABOUTS_UNKNOWN,
        TerminationReason.REFUSED_ACCOMPANIMENT,
    }
)


class Process(StrEnum):
    """The optional processes a district runs, as its profile lists them (``processes``).

    Every district runs the case flow of Lampiran II (report to termination, referrals
    included); these are the SOP processes some districts add to it.
    """

    MEDIATION = "mediation"  # Purwakarta P5, Kota Batu B5
    OUTREACH = "outreach"  # Kutai Timur's SOP Penjangkauan, K-O1-O11
    REINTEGRATION = "reintegration"  # Kutai Timur's SOP Reintegrasi Sosial, K-I1-I8
    SHELTER = "shelter"  # Tanjungpinang T4d
    # Kutai Timur K-C7-C8: the Peksos recommends a referral, a supervisor approves or returns it.
    SUPERVISOR_APPROVAL = "supervisor_approval"


class Stage(StrEnum):
    """The six stages of Lampiran II, plus the closed state."""

    IDENTIFICATION = "identification"
    ASSESSMENT = "assessment"
    PLANNING = "planning"
    INTERVENTION = "intervention"
    MONITORING = "monitoring"
    CLOSED = "closed"


# L3.2 maps needed services to agencies; Tanjungpinang (T4) and Kota Batu add
# the rest. A referral to an agency outside this list is refused.
AGENCIES_FOR_SERVICE: dict[ServiceType, frozenset[Agency]] = {
    ServiceType.MEDICAL_CARE: frozenset({Agency.HEALTH}),
    ServiceType.MEDICAL_EXAMINATION: frozenset({Agency.HEALTH}),
    ServiceType.PSYCHOLOGICAL_COUNSELLING: frozenset(
        {Agency.PROVINCE, Agency.HEALTH, Agency.UPTD_PPA}
    ),
    ServiceType.SPECIALIST_ASSESSMENT: frozenset({Agency.PROVINCE, Agency.HEALTH}),
    ServiceType.HEALTH_INSURANCE: frozenset({Agency.HEALTH, Agency.BPJS, Agency.SOCIAL}),
    ServiceType.SOCIAL_REHABILITATION: frozenset({Agency.SOCIAL}),
    ServiceType.TEMPORARY_SHELTER: frozenset({Agency.SOCIAL, Agency.UPTD_PPA}),
    ServiceType.SOCIAL_SECURITY_ENROLMENT: frozenset({Agency.SOCIAL, Agency.BPJS}),
    ServiceType.REPATRIATION: frozenset({Agency.SOCIAL, Agency.BAZNAS}),
    ServiceType.SOCIAL_REINTEGRATION: frozenset({Agency.SOCIAL, Agency.PATBM}),
    ServiceType.LEGAL_PROCESS: frozenset({Agency.POLICE, Agency.PROSECUTOR, Agency.COURT}),
    ServiceType.LEGAL_AID: frozenset({Agency.LEGAL_AID, Agency.POLICE}),
    ServiceType.RETURN_TO_SCHOOL: frozenset({Agency.EDUCATION}),
    ServiceType.NON_FORMAL_EDUCATION: frozenset({Agency.EDUCATION}),
    ServiceType.COMMUNITY_ACCOMPANIMENT: frozenset({Agency.PATBM}),
    ServiceType.CIVIL_DOCUMENTS: frozenset({Agency.CIVIL_REGISTRY}),
    ServiceType.RELIGIOUS_GUIDANCE: frozenset({Agency.RELIGIOUS_AFFAIRS}),
    ServiceType.EMERGENCY_SUPPORT: frozenset(
        {Agency.HEALTH, Agency.POLICE, Agency.SOCIAL, Agency.UPTD_PPA}
    ),
}


class LinkBasis(StrEnum):
    """Why two cases are taken to name the same person (the same person again)."""

    NIK = "nik"
    NAME_AND_BIRTH_DATE = "name_and_birth_date"
    OFFICER = "officer"
