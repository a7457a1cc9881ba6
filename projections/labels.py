"""The SOP vocabulary in words, in Bahasa Indonesia and English, for what people read.

One (Indonesian, English) pair per value of every vocabulary enum that case
summaries mention; a unit test checks that no value lacks its words.
"""

from enum import StrEnum

from domain.documents import DocumentKind
from domain.service_accounts import Scope
from domain.vocabulary import (
    Agency,
    AssessmentDomain,
    AssessmentKind,
    CaseType,
    Channel,
    ComplaintKind,
    ConsentGiver,
    ContactMode,
    DeliveryOutcome,
    HandoverTarget,
    Jurisdiction,
    ReferralStatus,
    ReintegrationActivity,
    ReunifiedWith,
    ReviewOutcome,
    RiskLevel,
    Role,
    ServiceType,
    Shelter,
    ShelterDestination,
    Stage,
    TerminationKind,
    TerminationReason,
)

Words = tuple[str, str]

AGENCY: dict[str, Words] = {
    Agency.UPTD_PPA: ("UPTD PPA", "the UPTD PPA"),
    Agency.POLICE: ("Kepolisian", "the police"),
    Agency.HEALTH: ("fasilitas kesehatan", "the health facility"),
    Agency.SOCIAL: ("Dinas Sosial", "the social affairs office"),
    Agency.EDUCATION: ("satuan pendidikan", "the school"),
    Agency.PATBM: ("PATBM", "the village child-protection group (PATBM)"),
    Agency.PROVINCE: ("UPTD PPA Provinsi", "the provincial UPTD PPA"),
    Agency.LEGAL_AID: ("LBH", "legal aid (LBH)"),
    Agency.PROSECUTOR: ("Kejaksaan", "the prosecutor"),
    Agency.COURT: ("Pengadilan", "the court"),
    Agency.CIVIL_REGISTRY: ("Dukcapil", "the civil registry"),
    Agency.RELIGIOUS_AFFAIRS: ("Kementerian Agama", "religious affairs"),
    Agency.BAZNAS: ("Baznas", "Baznas"),
    Agency.BPJS: ("BPJS", "BPJS"),
}

ROLE: dict[str, Words] = {
    Role.INTAKE_OFFICER: ("petugas penerima pengaduan", "intake officer"),
    Role.CASE_WORKER: ("pendamping kasus", "case worker"),
    Role.AGENCY_OFFICER: ("petugas instansi", "agency officer"),
    Role.COORDINATOR: ("koordinator", "coordinator"),
    Role.AUDITOR: ("auditor", "auditor"),
    Role.DATA_OFFICER: ("petugas data", "data officer"),
    Role.SUPERVISOR: ("atasan (Kasi/Kabid/Ketua Pelaksana Harian)", "supervisor"),
    Role.OFFICE_ADMINISTRATOR: ("administrator kantor", "office administrator"),
}

CHANNEL: dict[str, Words] = {
    Channel.WALK_IN: ("datang langsung", "walk-in"),
    Channel.PHONE: ("telepon", "phone"),
    Channel.HOTLINE: ("hotline", "hotline"),
    Channel.SMS: ("SMS", "SMS"),
    Channel.WEB: ("situs web", "the web"),
    Channel.REFERRAL_LETTER: ("surat rujukan", "a referral letter"),
    Channel.OUTREACH: ("penjangkauan", "outreach"),
}

CASE_TYPE: dict[str, Words] = {
    CaseType.KTP: ("KTP (kekerasan terhadap perempuan)", "KTP (violence against a woman)"),
    CaseType.KTA: ("KTA (kekerasan terhadap anak)", "KTA (violence against a child)"),
    CaseType.ABH: ("ABH (anak berhadapan dengan hukum)", "ABH (child in conflict with the law)"),
    CaseType.AMPK: (
        "AMPK (anak memerlukan perlindungan khusus)",
        "AMPK (child needing special protection)",
    ),
    CaseType.OTHER: ("bukan KTP/KTA", "neither KTP/KTA nor ABH"),
}

RISK: dict[str, Words] = {
    RiskLevel.LOW: ("rendah", "low"),
    RiskLevel.MEDIUM: ("sedang", "medium"),
    RiskLevel.HIGH: ("tinggi", "high"),
}

JURISDICTION: dict[str, Words] = {
    Jurisdiction.VILLAGE: ("desa", "village"),
    Jurisdiction.DISTRICT: ("kabupaten/kota", "district"),
    Jurisdiction.PROVINCE: ("provinsi", "provincial"),
    Jurisdiction.NATIONAL: ("nasional", "national"),
}

HANDOVER: dict[str, Words] = {
    HandoverTarget.PATBM: ("PATBM desa", "the village PATBM"),
    HandoverTarget.SOCIAL: ("Dinas Sosial", "the social affairs office"),
    HandoverTarget.PROVINCE: (
        "UPTD PPA Provinsi / Kementerian PPPA",
        "the provincial unit / ministry",
    ),
    HandoverTarget.INFORMATION_ONLY: ("pemberian informasi layanan", "information about services"),
}

CONSENT_GIVER: dict[str, Words] = {
    ConsentGiver.VICTIM: ("korban", "the victim"),
    ConsentGiver.PARENT: ("orang tua", "a parent"),
    ConsentGiver.GUARDIAN: ("wali", "the guardian"),
    ConsentGiver.FAMILY: ("keluarga", "the family"),
}

CONTACT_MODE: dict[str, Words] = {
    ContactMode.HOME_VISIT: ("kunjungan rumah", "home visit"),
    ContactMode.OFFICE_VISIT: ("kunjungan ke kantor", "office visit"),
    ContactMode.PHONE: ("telepon", "phone"),
    ContactMode.VIDEO_CALL: ("panggilan video", "video call"),
}

ASSESSMENT_DOMAIN: dict[str, Words] = {
    AssessmentDomain.PHYSICAL: ("fisik", "physical"),
    AssessmentDomain.PSYCHOLOGICAL: ("psikologis", "psychological"),
    AssessmentDomain.SOCIAL_SPIRITUAL: ("sosial dan spiritual", "social and spiritual"),
    AssessmentDomain.LEGAL: ("hukum", "legal"),
}

ASSESSMENT_KIND: dict[str, Words] = {
    AssessmentKind.INITIAL_HOME_VISIT: (
        "Asesmen awal (kunjungan rumah)",
        "Initial home-visit assessment",
    ),
    AssessmentKind.FURTHER: ("Asesmen lanjutan", "Further assessment"),
    AssessmentKind.SPECIALIST: ("Asesmen spesialis", "Specialist assessment"),
}

SERVICE: dict[str, Words] = {
    ServiceType.MEDICAL_CARE: ("perawatan medis", "medical care"),
    ServiceType.MEDICAL_EXAMINATION: ("pemeriksaan medis", "a medical examination"),
    ServiceType.PSYCHOLOGICAL_COUNSELLING: ("konseling psikologis", "psychological counselling"),
    ServiceType.SPECIALIST_ASSESSMENT: ("asesmen spesialis", "a specialist assessment"),
    ServiceType.HEALTH_INSURANCE: ("jaminan kesehatan", "health insurance"),
    ServiceType.SOCIAL_REHABILITATION: ("rehabilitasi sosial", "social rehabilitation"),
    ServiceType.TEMPORARY_SHELTER: ("rumah aman sementara", "temporary shelter"),
    ServiceType.SOCIAL_SECURITY_ENROLMENT: (
        "pendaftaran jaminan sosial",
        "social-security enrolment",
    ),
    ServiceType.REPATRIATION: ("pemulangan", "repatriation"),
    ServiceType.SOCIAL_REINTEGRATION: ("reintegrasi sosial", "social reintegration"),
    ServiceType.LEGAL_PROCESS: ("proses hukum", "legal process"),
    ServiceType.LEGAL_AID: ("bantuan hukum", "legal aid"),
    ServiceType.RETURN_TO_SCHOOL: ("kembali bersekolah", "return to school"),
    ServiceType.NON_FORMAL_EDUCATION: ("pendidikan nonformal", "non-formal education"),
    ServiceType.COMMUNITY_ACCOMPANIMENT: ("pendampingan masyarakat", "community accompaniment"),
    ServiceType.CIVIL_DOCUMENTS: ("dokumen kependudukan", "civil documents"),
    ServiceType.RELIGIOUS_GUIDANCE: ("bimbingan rohani", "religious guidance"),
    ServiceType.EMERGENCY_SUPPORT: ("dukungan darurat", "emergency support"),
}

DELIVERY_OUTCOME: dict[str, Words] = {
    DeliveryOutcome.COMPLETED: ("selesai", "completed"),
    DeliveryOutcome.PARTIALLY_DELIVERED: ("sebagian", "partially delivered"),
    DeliveryOutcome.NOT_DELIVERED: ("tidak terlaksana", "not delivered"),
}

TERMINATION_KIND: dict[str, Words] = {
    TerminationKind.AGREED: ("terminasi dengan kesepakatan", "agreed termination"),
    TerminationKind.UNILATERAL: ("terminasi sepihak", "unilateral termination"),
}

TERMINATION_REASON: dict[str, Words] = {
    TerminationReason.RECOVERED: ("hak terpenuhi dan pulih", "rights fulfilled and recovered"),
    TerminationReason.CHILD_DIED: ("anak meninggal dunia", "the child died"),
    TerminationReason.WHEREABOUTS_UNKNOWN: ("keberadaan tidak diketahui", "whereabouts unknown"),
    TerminationReason.REFUSED_ACCOMPANIMENT: (
        "penerima manfaat menolak pendampingan",
        "the beneficiary refused accompaniment",
    ),
    TerminationReason.CONSENT_REFUSED: ("persetujuan ditolak", "consent refused"),
}

COMPLAINT_KIND: dict[str, Words] = {
    ComplaintKind.EMERGENCY: ("korban dalam situasi darurat", "a victim in an emergency"),
    ComplaintKind.VIOLENCE: ("korban kekerasan", "a victim of violence"),
    ComplaintKind.EXPLOITATION: (
        "korban eksploitasi ekonomi dan seksual",
        "a victim of economic or sexual exploitation",
    ),
    ComplaintKind.MINORITY_OR_ISOLATED: (
        "korban dari kelompok minoritas dan terisolasi",
        "a victim from a minority or isolated group",
    ),
    ComplaintKind.MISTREATMENT_OR_NEGLECT: (
        "korban perlakuan salah dan penelantaran",
        "a victim of mistreatment or neglect",
    ),
    ComplaintKind.TRAFFICKING: ("korban trafiking", "a victim of trafficking"),
    ComplaintKind.IN_CONFLICT_WITH_LAW: (
        "korban berhadapan dengan hukum",
        "a victim in conflict with the law",
    ),
    ComplaintKind.SUBSTANCE_ABUSE: ("korban penyalahgunaan NAPZA", "a victim of substance abuse"),
    ComplaintKind.DISABILITY: ("korban penyandang disabilitas", "a victim with a disability"),
    ComplaintKind.EDUCATION_SERVICE: (
        "masalah dengan layanan pendidikan",
        "a problem with education services",
    ),
    ComplaintKind.HEALTH_SERVICE: (
        "masalah dengan layanan kesehatan",
        "a problem with health services",
    ),
    ComplaintKind.CIVIL_REGISTRATION_SERVICE: (
        "masalah dengan layanan administrasi kependudukan",
        "a problem with civil registration services",
    ),
    ComplaintKind.SOCIAL_WELFARE_SERVICE: (
        "masalah dengan layanan kesejahteraan sosial",
        "a problem with social welfare services",
    ),
    ComplaintKind.OTHER_CHILD_RIGHTS_SERVICE: (
        "masalah dengan layanan pemenuhan hak anak lainnya",
        "a problem with other child-rights services",
    ),
    ComplaintKind.RIGHTS_CONSULTATION: (
        "konsultasi tentang haknya",
        "a consultation about the victim's rights",
    ),
}

REVIEW_OUTCOME: dict[str, Words] = {
    ReviewOutcome.AGREED: ("hasil asesmen disetujui", "assessment agreed"),
    ReviewOutcome.FURTHER_ASSESSMENT_NEEDED: (
        "perlu asesmen lanjutan",
        "further assessment needed",
    ),
}

SHELTER: dict[str, Words] = {
    Shelter.RSTS_DINSOS: ("RSTS Dinas Sosial", "the social office's shelter (RSTS)"),
    Shelter.P2TP2A: ("shelter P2TP2A", "the P2TP2A shelter"),
    Shelter.OTHER: ("shelter lain", "another shelter"),
}

SHELTER_DESTINATION: dict[str, Words] = {
    ShelterDestination.HOME_FAMILY: ("pulang ke keluarga", "home to the family"),
    ShelterDestination.SUBSTITUTE_FAMILY: ("ke keluarga pengganti", "to a substitute family"),
    ShelterDestination.OTHER_INSTITUTION: ("ke lembaga lain", "to another institution"),
}

REINTEGRATION_ACTIVITY: dict[str, Words] = {
    ReintegrationActivity.PREPARATION: (
        "Penyiapan keluarga/keluarga pengganti/sekolah/lingkungan",
        "Family, substitute family, school and community prepared",
    ),
    ReintegrationActivity.CHILD_COUNSELLING: ("Konseling anak", "Child counselled"),
    ReintegrationActivity.CAREGIVER_COUNSELLING: (
        "Konseling orang tua/keluarga pengasuh",
        "Parents or caregivers counselled",
    ),
    ReintegrationActivity.COMMUNITY_INTRODUCTION: (
        "Sosialisasi kepada masyarakat/lingkungan anak",
        "Child's community introduced to the reintegration",
    ),
    ReintegrationActivity.REPORT: ("Pelaporan reintegrasi", "Reintegration reported"),
}

REUNIFIED_WITH: dict[str, Words] = {
    ReunifiedWith.FAMILY: ("keluarga", "the family"),
    ReunifiedWith.SUBSTITUTE_FAMILY: ("keluarga pengganti", "a substitute family"),
}

# The facts of the intake a correction names (B4, K-O2): the report's parts, and their keys.
FACT_GROUP: dict[str, Words] = {
    "victim": ("korban", "victim"),
    "reporter": ("pelapor", "reporter"),
    "reported_person": ("terlapor", "reported person"),
    "incident": ("kejadian", "incident"),
    "report": ("laporan", "report"),
}
FACT_KEY: dict[str, Words] = {
    "name": ("nama", "name"),
    "sex": ("jenis kelamin", "sex"),
    "birth_place": ("tempat lahir", "birth place"),
    "birth_date": ("tanggal lahir", "birth date"),
    "age": ("usia", "age"),
    "nik": ("NIK", "NIK"),
    "address": ("alamat", "address"),
    "village": ("desa/kelurahan", "village"),
    "subdistrict": ("kecamatan", "subdistrict"),
    "phone": ("telepon", "phone"),
    "education": ("pendidikan", "education"),
    "occupation": ("pekerjaan", "occupation"),
    "disability": ("disabilitas", "disability"),
    "relationship_to_victim": ("hubungan dengan korban", "relationship to the victim"),
    "occurred_on": ("tanggal kejadian", "date"),
    "place_type": ("tempat kejadian", "place"),
    "chronology": ("kronologi", "chronology"),
    "needs": ("kebutuhan dan harapan", "needs and expectations"),
}
DOCUMENT_KIND: dict[str, Words] = {
    DocumentKind.IDENTITY_CARD: ("KTP", "identity card (KTP)"),
    DocumentKind.FAMILY_CARD: ("Kartu Keluarga", "family card"),
    DocumentKind.BIRTH_CERTIFICATE: ("akta kelahiran", "birth certificate"),
    DocumentKind.SOCIAL_ASSISTANCE_CARD: (
        "kartu bantuan sosial (SKTM, KIP, KKS)",
        "social assistance card (SKTM, KIP, KKS)",
    ),
    DocumentKind.HEALTH_INSURANCE_CARD: (
        "kartu jaminan kesehatan (KIS, Jamkesda)",
        "health insurance card (KIS, Jamkesda)",
    ),
    DocumentKind.REFERRAL_LETTER: ("surat dari lembaga perujuk", "referring institution's letter"),
    DocumentKind.PHOTO: ("pas foto", "photo"),
    DocumentKind.DOCUMENTATION_PHOTO: ("dokumentasi/foto", "documentation photo"),
    DocumentKind.AUDIO_RECORDING: ("rekaman suara", "audio recording"),
    DocumentKind.CONSENT_FORM: ("formulir persetujuan", "consent form"),
    DocumentKind.ASSESSMENT: ("hasil asesmen", "assessment"),
    DocumentKind.CASE_REPORT: ("laporan kasus", "case report"),
    DocumentKind.INTERVENTION_PLAN: ("rencana intervensi", "intervention plan"),
    DocumentKind.ASSIGNMENT_LETTER: ("surat tugas", "assignment letter"),
    DocumentKind.RECOMMENDATION_LETTER: ("surat rekomendasi", "recommendation letter"),
    DocumentKind.REFERRAL_RECORD: ("Berita Acara Rujukan", "referral record"),
    DocumentKind.SOCIAL_REPORT: ("laporan sosial", "social report"),
    DocumentKind.TERMINATION_FORM: ("formulir terminasi", "termination form"),
    DocumentKind.VISUM_ET_REPERTUM: ("visum et repertum", "visum et repertum"),
    DocumentKind.MEDICAL_RECORD: ("rekam medis", "medical record"),
    DocumentKind.POLICE_REPORT: ("laporan polisi", "police report"),
    DocumentKind.OTHER: ("dokumen lain", "other document"),
}

STAGE: dict[str, Words] = {
    Stage.IDENTIFICATION: ("identifikasi", "identification"),
    Stage.ASSESSMENT: ("asesmen", "assessment"),
    Stage.PLANNING: ("perencanaan intervensi", "intervention planning"),
    Stage.INTERVENTION: ("pelaksanaan intervensi", "intervention"),
    Stage.MONITORING: ("pemantauan dan evaluasi", "monitoring and evaluation"),
    Stage.CLOSED: ("ditutup", "closed"),
}
REFERRAL_STATUS: dict[str, Words] = {
    ReferralStatus.PENDING: ("menunggu jawaban", "waiting for an answer"),
    ReferralStatus.ACCEPTED: ("diterima", "accepted"),
    ReferralStatus.IN_PROGRESS: ("sedang berjalan", "in progress"),
    ReferralStatus.COMPLETED: ("selesai", "completed"),
    ReferralStatus.NOT_DELIVERED: ("tidak terlaksana", "not delivered"),
    ReferralStatus.DECLINED: ("ditolak", "declined"),
    ReferralStatus.CANCELLED: ("dibatalkan", "cancelled"),
}

SCOPE: dict[str, Words] = {
    Scope.INBOX_READ: ("membaca kotak masuk lembaga", "read the agency's inbox"),
    Scope.REFERRALS_ANSWER: ("menjawab rujukan", "answer referrals"),
}

# Which vocabulary each table covers, for the completeness test.
TABLES: dict[type[StrEnum], dict[str, Words]] = {
    Stage: STAGE,
    Scope: SCOPE,
    ReferralStatus: REFERRAL_STATUS,
    Agency: AGENCY,
    Role: ROLE,
    Channel: CHANNEL,
    CaseType: CASE_TYPE,
    RiskLevel: RISK,
    Jurisdiction: JURISDICTION,
    HandoverTarget: HANDOVER,
    ConsentGiver: CONSENT_GIVER,
    ContactMode: CONTACT_MODE,
    AssessmentDomain: ASSESSMENT_DOMAIN,
    AssessmentKind: ASSESSMENT_KIND,
    ServiceType: SERVICE,
    DeliveryOutcome: DELIVERY_OUTCOME,
    TerminationKind: TERMINATION_KIND,
    TerminationReason: TERMINATION_REASON,
    Shelter: SHELTER,
    ShelterDestination: SHELTER_DESTINATION,
    ReintegrationActivity: REINTEGRATION_ACTIVITY,
    ReunifiedWith: REUNIFIED_WITH,
    ReviewOutcome: REVIEW_OUTCOME,
    ComplaintKind: COMPLAINT_KIND,
    DocumentKind: DOCUMENT_KIND,
}


def words(table: dict[str, Words], value: str) -> Words:
    """The words for a value; a value recorded under an older vocabulary is shown as stored."""
    return table.get(value, (value, value))


def listed(table: dict[str, Words], values: list[str]) -> Words:
    indonesian = ", ".join(words(table, value)[0] for value in values)
    english = ", ".join(words(table, value)[1] for value in values)
    return indonesian, english
