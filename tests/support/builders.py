"""Builders shared by the domain, service and API tests.

- Standard actors of Luwu Utara: the UPTD PPA's intake officer, coordinator and
  case worker, officers of the police, health, social and education offices,
  an auditor, and a coordinator of another district.
- A fake clock that only moves when a test moves it.
- Valid arguments for every case command (``a_report``, ``a_classification``,
  ...), each taking keyword overrides, and ``COMMAND_ARGUMENTS`` naming them
  by command.
- The standard journey along the SOP, and drivers that walk a case along it
  to a stage: ``a_case_at`` for the aggregate, ``advance_reported_case`` for
  the ``Cases`` service.
- The steps that take a pending referral to any status: ``referral_history``,
  applied with ``move_referral_to`` (aggregate) or ``take_service_steps`` (service).

Everything here is fictional; no builder holds real personal data.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from domain.actors import Actor, acting_as
from domain.case import Case
from domain.vocabulary import Agency, ReferralStatus, Role, Stage
from services.case_commands import (
    CASE_STEPS,
    AcceptReferral,
    AgreeInterventionPlan,
    AssignCaseWorker,
    CancelReferral,
    CaseCommand,
    Classify,
    ConcludeCaseReport,
    DeclineReferral,
    RecordAssessment,
    RecordConsent,
    RecordContact,
    RecordMonitoringVisit,
    RecordServiceDelivery,
    ReportCase,
    Terminate,
)
from services.cases import Cases, CommandResult
from services.documents import AttachDocument
from services.profiles import ProfileBook, load_profiles
from services.sharing import load_matrix

DISTRICT = "luwu-utara"
REGISTER_CODE = "LUTRA"
OTHER_DISTRICT = "kota-batu"
OTHER_REGISTER_CODE = "BATU"

# 09:00 on a Monday in Luwu Utara (WITA, UTC+8).
FIXED_TIME = datetime(2024, 3, 4, 1, 0, tzinfo=UTC)
REPORT_ARRIVED_AT = FIXED_TIME - timedelta(minutes=20)
REFERRAL_ID = "referral-1"

# The agencies the SOPs name for one service of their own, each with that service (L3.2d
# legal aid; Tanjungpinang T4b Jamkesda, T4c prosecutor, T4e Baznas; the civil registry,
# Kemenag, Kejaksaan and Pengadilan among Kutai Timur's PKSAI members, Pasal 14(2)).
AGENCY_SERVICES = [
    ("baznas", "repatriation"),
    ("bpjs", "health_insurance"),
    ("prosecutor", "legal_process"),
    ("court", "legal_process"),
    ("legal_aid", "legal_aid"),
    ("civil_registry", "civil_documents"),
    ("religious_affairs", "religious_guidance"),
]
# Where a referral or hand-over can go with the bundled matrix: its rows and the
# coordinating UPTD PPA (what the case service passes ``Case.refer``).
RECEIVING_AGENCIES = frozenset({*load_matrix().agencies, Agency.UPTD_PPA.value})
BUNDLED_MATRIX = resources.files("domain.sop") / "sharing.toml"


def a_matrix_without(folder: Path, *agencies: str) -> Path:
    """The bundled sharing matrix less these agencies' rows, written into ``folder`` as a
    deployment names it in SIMPUL_SHARING_MATRIX: those agencies have no inbox there."""
    bundled = load_matrix().agencies
    assert set(agencies) <= set(bundled), "only a row of the bundled matrix can be left out"
    dropped = {f"[agencies.{agency}]" for agency in agencies}
    kept, dropping = [], False
    for line in BUNDLED_MATRIX.read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            dropping = line.strip() in dropped
        if not dropping:
            kept.append(line)
    path = folder / "sharing.toml"
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    assert load_matrix(path).agencies == tuple(a for a in bundled if a not in agencies)
    return path


# ---- Actors --------------------------------------------------------------------


def an_actor(
    role: Role,
    *,
    agency: Agency = Agency.UPTD_PPA,
    district: str = DISTRICT,
    user_id: str | None = None,
) -> Actor:
    """Any actor; the user id defaults to a fresh one so actors never collide by accident."""
    return Actor(
        user_id=user_id or f"{agency.value}-{role.value}-{uuid4().hex[:8]}",
        role=role,
        agency=agency,
        district=district,
    )


INTAKE_OFFICER = an_actor(Role.INTAKE_OFFICER, user_id="intake-officer-1")
COORDINATOR = an_actor(Role.COORDINATOR, user_id="coordinator-1")
CASE_WORKER = an_actor(Role.CASE_WORKER, user_id="case-worker-1")
SECOND_CASE_WORKER = an_actor(Role.CASE_WORKER, user_id="case-worker-2")
POLICE_OFFICER = an_actor(Role.AGENCY_OFFICER, agency=Agency.POLICE, user_id="police-officer-1")
HEALTH_OFFICER = an_actor(Role.AGENCY_OFFICER, agency=Agency.HEALTH, user_id="health-officer-1")
SOCIAL_OFFICER = an_actor(Role.AGENCY_OFFICER, agency=Agency.SOCIAL, user_id="social-officer-1")
EDUCATION_OFFICER = an_actor(
    Role.AGENCY_OFFICER, agency=Agency.EDUCATION, user_id="education-officer-1"
)
AUDITOR = an_actor(Role.AUDITOR, user_id="auditor-1")
OTHER_DISTRICT_COORDINATOR = an_actor(
    Role.COORDINATOR, district=OTHER_DISTRICT, user_id="coordinator-kota-batu-1"
)


# ---- Time ----------------------------------------------------------------------


class FakeClock:
    """A clock that stands still until the test moves it: ``clock()`` reads it."""

    def __init__(self, start: datetime = FIXED_TIME) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta = timedelta(minutes=10)) -> datetime:
        self.now += by
        return self.now


# ---- District profiles ---------------------------------------------------------


def two_district_profiles() -> ProfileBook:
    """The bundled Luwu Utara profile plus Kota Batu with the same time standards."""
    luwu_utara = load_profiles().profile(DISTRICT)
    kota_batu = replace(
        luwu_utara, district=OTHER_DISTRICT, name="Kota Batu", register_code=OTHER_REGISTER_CODE
    )
    return ProfileBook([luwu_utara, kota_batu])


# ---- Valid command arguments ---------------------------------------------------


def a_report(**overrides: Any) -> dict[str, Any]:
    """Keyword arguments for ``Cases.report_case`` (L1.1-L1.2).

    ``Case.receive_report`` also needs ``case_id``, ``district`` and ``register_number``;
    ``a_new_case`` adds them. The report arrived 20 minutes before ``FIXED_TIME``.
    """
    return {
        "channel": "hotline",
        "arrived_at": REPORT_ARRIVED_AT,
        "chronology": "Tetangga mendengar anak menangis dan melihat memar di lengannya.",
        "victim": {"name": "Anak Contoh", "sex": "female", "age": 12, "village": "Desa Contoh"},
        "reporter": {"name": "Pelapor Contoh", "relationship_to_victim": "neighbour"},
        "reported_person": {"relationship_to_victim": "step_parent"},
        "incident": {"place_type": "household", "occurred_on": "2024-03-02"},
        "needs": "pemeriksaan kesehatan dan pendampingan",
        "psychological_first_aid_needed": True,
        "documents": ["family_card"],
        **overrides,
    }


def a_psychological_first_aid(**overrides: Any) -> dict[str, Any]:
    return {"notes": "Korban ditenangkan dan didengarkan.", **overrides}


def an_outreach_origin(**overrides: Any) -> dict[str, Any]:
    """K-R1: the outreach a case opened from outreach names."""
    return {"outreach_id": UUID("0b1e0c5a-6d3f-4b8e-9a61-2f7d8c4e1a01"), **overrides}


def a_fact_correction(**overrides: Any) -> dict[str, Any]:
    """B4 / K-O2: the home visit found the victim's birth date and completed her village."""
    return {
        "corrections": [
            {"group": "victim", "key": "birth_date", "value": "2012-01-09"},
            {"group": "incident", "key": "village", "value": "Desa Baru"},
        ],
        "reason": "Kunjungan rumah: akta kelahiran diperiksa, desa kejadian dilengkapi.",
        "sop_step": "B4",
        **overrides,
    }


def a_fact_correction_request(**overrides: Any) -> dict[str, Any]:
    """The same correction as the API's CorrectFacts takes it, in the intake's shape."""
    return {
        "victim": {"birth_date": "2012-01-09"},
        "incident": {"village": "Desa Baru"},
        "reason": "Kunjungan rumah: akta kelahiran diperiksa, desa kejadian dilengkapi.",
        "sop_step": "B4",
        **overrides,
    }


def a_classification(**overrides: Any) -> dict[str, Any]:
    """L1.5, routed by rule a: a high-risk KTA case the district handles, not an emergency."""
    return {
        "case_type": "KTA",
        "risk_level": "high",
        "jurisdiction": "district",
        "emergency": False,
        "forms_of_violence": ["physical", "psychological"],
        "ampk_categories": ["physical_or_psychological_violence"],
        "rationale": "Kekerasan fisik berulang oleh orang tua tiri.",
        **overrides,
    }


def an_emergency_classification(**overrides: Any) -> dict[str, Any]:
    """L1.5, routed by rules a and e."""
    return a_classification(**{"emergency": True, **overrides})


def a_handover(**overrides: Any) -> dict[str, Any]:
    return {"target": "patbm", "receiving_unit": "PATBM Desa Contoh", "notes": "", **overrides}


def a_direct_handover(**overrides: Any) -> dict[str, Any]:
    """Routing b, as ``Case.hand_over`` takes it: ``a_handover`` and the agencies it can reach."""
    return a_handover(**{"receiving_agencies": RECEIVING_AGENCIES, **overrides})


def a_handover_acknowledgement(**overrides: Any) -> dict[str, Any]:
    """L1.5 b-d: the receiver takes the handed-over case."""
    return {
        "receiving_unit": "PATBM Desa Contoh",
        "taken_by": "Ketua PATBM",
        "notes": "",
        **overrides,
    }


def a_handback(**overrides: Any) -> dict[str, Any]:
    """L1.5: the receiver returns the case."""
    return {"reason": "Bukan kewenangan kami: risiko tinggi.", **overrides}


def an_emergency_response(**overrides: Any) -> dict[str, Any]:
    return {"actions": ["Korban dijemput dan dibawa ke rumah aman."], "notes": "", **overrides}


def a_case_worker_assignment(**overrides: Any) -> dict[str, Any]:
    return {
        "case_worker_id": CASE_WORKER.user_id,
        "assignment_letter_ref": "ST/UPTD-PPA/2024/017",
        **overrides,
    }


def a_contact(**overrides: Any) -> dict[str, Any]:
    return {"mode": "home_visit", "notes": "Bertemu korban dan ibunya.", **overrides}


def a_document_attachment(**overrides: Any) -> dict[str, Any]:
    """Purwakarta P7: a documentation photo, as the store addressed its content."""
    return {
        "document_id": "7d3c0a5e-2f4b-5c7e-9a1d-3b5f7e9a1c3d",
        "kind": "documentation_photo",
        "step": "",
        "sha256": "ab" * 32,
        "size": 2048,
        "media_type": "image/jpeg",
        "district_kinds": {"documentation_photo"},
        "step_codes": set(),
        **overrides,
    }


def a_beneficiary(**overrides: Any) -> dict[str, Any]:
    """A sibling of the first victim, a child, added to the case (fictional)."""
    return {
        "person": {"name": "Sari Lestari", "sex": "female", "age": 9},
        "relationship": "sibling",
        "child": True,
        **overrides,
    }


def a_beneficiary_consent(**overrides: Any) -> dict[str, Any]:
    """L1.9-10: consent for beneficiary "2", given by the parent."""
    return {**a_consent(), "beneficiary_id": "2", **overrides}


def a_consent(**overrides: Any) -> dict[str, Any]:
    """L1.9-10: written consent given by the parent."""
    return {
        "given": True,
        "given_by": "parent",
        "document_ref": "IC/2024/017",
        "notes": "",
        **overrides,
    }


def a_consent_refusal(**overrides: Any) -> dict[str, Any]:
    return a_consent(
        **{"given": False, "document_ref": "", "notes": "Keluarga menolak.", **overrides}
    )


def an_assessment(**overrides: Any) -> dict[str, Any]:
    return {
        "kind": "initial_home_visit",
        "domain": "psychological",
        "assessing_agency": "uptd_ppa",
        "findings": "Korban takut pulang ke rumah.",
        "recommended_services": ["psychological_counselling", "medical_examination"],
        **overrides,
    }


def a_case_report(**overrides: Any) -> dict[str, Any]:
    return {
        "summary": "Korban membutuhkan pemeriksaan medis, proses hukum dan konseling.",
        "needs": ["medical_examination", "legal_process", "psychological_counselling"],
        **overrides,
    }


def a_case_conference(**overrides: Any) -> dict[str, Any]:
    return {
        "held_on": "2024-03-06",
        "participating_agencies": ["uptd_ppa", "police", "health"],
        "decisions": ["Visum et repertum di RSUD.", "Laporan polisi dibuat."],
        **overrides,
    }


def a_family_meeting(**overrides: Any) -> dict[str, Any]:
    return {
        "held_on": "2024-03-07",
        "participants": ["ibu korban", "nenek korban"],
        "agreements": ["Korban tinggal sementara bersama nenek."],
        **overrides,
    }


def an_intervention_plan(**overrides: Any) -> dict[str, Any]:
    """L3.1-L3.5: every planned service goes to an agency that provides it."""
    return {
        "goals": ["Korban pulih secara fisik dan psikis.", "Pelaku diproses hukum."],
        "services": [
            {"service_type": "medical_examination", "agency": "health"},
            {"service_type": "legal_process", "agency": "police"},
            {"service_type": "psychological_counselling", "agency": "province"},
        ],
        "agreed_with": ["victim", "parent"],
        "plan_document_ref": "RI/2024/017",
        **overrides,
    }


def a_referral(**overrides: Any) -> dict[str, Any]:
    """L4.1, as ``Cases.refer`` takes it: a medical examination at the health office.

    ``Case.refer`` also needs ``referral_id`` and ``due_at``; the service adds
    both (the due time from the district profile) unless they are given.
    """
    return {
        "service_type": "medical_examination",
        "agency": "health",
        "emergency": False,
        "notes": "Visum et repertum.",
        "referral_record_ref": "BA-RUJUKAN/2024/017",
        **overrides,
    }


def a_direct_referral(**overrides: Any) -> dict[str, Any]:
    """L4.1, as ``Case.refer`` takes it: ``a_referral`` with ``REFERRAL_ID``, due in 7 days."""
    return a_referral(
        **{
            "referral_id": REFERRAL_ID,
            "due_at": FIXED_TIME + timedelta(days=7),
            "receiving_agencies": RECEIVING_AGENCIES,
            **overrides,
        }
    )


def a_referral_acceptance(**overrides: Any) -> dict[str, Any]:
    return {"referral_id": REFERRAL_ID, "notes": "", **overrides}


def a_referral_decline(**overrides: Any) -> dict[str, Any]:
    return {"referral_id": REFERRAL_ID, "reason": "Layanan tidak tersedia bulan ini.", **overrides}


def a_service_delivery(**overrides: Any) -> dict[str, Any]:
    return {
        "referral_id": REFERRAL_ID,
        "outcome": "completed",
        "delivered_on": "2024-03-08",
        "summary": "Pemeriksaan selesai, hasil diserahkan ke penyidik.",
        **overrides,
    }


def a_referral_cancellation(**overrides: Any) -> dict[str, Any]:
    return {"referral_id": REFERRAL_ID, "reason": "Layanan tidak lagi dibutuhkan.", **overrides}


def a_mediation(**overrides: Any) -> dict[str, Any]:
    """P5 / B5: a mediation that reached an agreement (allowed: the violence is not sexual)."""
    return {
        "held_on": "2024-03-07",
        "parties": ["ibu korban", "terlapor"],
        "perpetrator_is_child": False,
        "agreement_reached": True,
        "agreements": ["Terlapor tidak mendekati rumah korban."],
        **overrides,
    }


def a_complaint_kind(**overrides: Any) -> dict[str, Any]:
    return {"kind": "violence", "district_kinds": ("violence", "education_service"), **overrides}


def a_family_decision(**overrides: Any) -> dict[str, Any]:
    return {
        "offered_services": ["medical_care", "psychological_counselling"],
        "accepted_services": ["medical_care"],
        "decided_by": "parent",
        **overrides,
    }


def an_assessment_review(**overrides: Any) -> dict[str, Any]:
    return {"outcome": "agreed", "notes": "", **overrides}


def a_recommendation(**overrides: Any) -> dict[str, Any]:
    return {
        "recommendation_id": "recommendation-1",
        "service_type": "medical_care",
        "agency": "health",
        "receiving_agencies": RECEIVING_AGENCIES,
        "rationale": "Injuries need a doctor.",
        **overrides,
    }


def a_recommendation_approval(**overrides: Any) -> dict[str, Any]:
    return {
        "recommendation_id": "recommendation-1",
        "referral_id": REFERRAL_ID,
        "due_at": FIXED_TIME + timedelta(days=7),
        "receiving_agencies": RECEIVING_AGENCIES,
        "recommendation_letter_ref": "REK/2024/001",
        "referral_record_ref": "BAR/2024/001",
        **overrides,
    }


def a_recommendation_request(**overrides: Any) -> dict[str, Any]:
    """K-C7 as the API takes it: the service numbers the recommendation."""
    return {
        "service_type": "medical_care",
        "agency": "health",
        "rationale": "Injuries need a doctor.",
        **overrides,
    }


def an_approval_request(**overrides: Any) -> dict[str, Any]:
    """K-C8 as the API takes it: the service makes the referral and its due time."""
    return {
        "recommendation_id": "recommendation-1",
        "recommendation_letter_ref": "REK/2024/001",
        "referral_record_ref": "BAR/2024/001",
        **overrides,
    }


def a_recommendation_return(**overrides: Any) -> dict[str, Any]:
    return {"recommendation_id": "recommendation-1", "reason": "Name the clinic.", **overrides}


def a_progress_note(**overrides: Any) -> dict[str, Any]:
    return {
        "referral_id": REFERRAL_ID,
        "noted_on": "2024-03-10",
        "progress": "Second session held.",
        **overrides,
    }


def a_shelter_admission(**overrides: Any) -> dict[str, Any]:
    """T4d: a stay at the social office's shelter, not referred, not an emergency."""
    return {
        "shelter": "rsts_dinsos",
        "admitted_on": "2024-03-05",
        "notes": "Dititipkan sementara sambil menunggu keluarga.",
        **overrides,
    }


def a_shelter_discharge(**overrides: Any) -> dict[str, Any]:
    """T4d: back home to the family, nine days after ``a_shelter_admission``."""
    return {
        "discharged_on": "2024-03-14",
        "destination": "home_family",
        "reason": "Keluarga siap menerima kembali.",
        "notes": "",
        **overrides,
    }


def a_reintegration_step(**overrides: Any) -> dict[str, Any]:
    """K-I1: the family prepared."""
    return {
        "activity": "preparation",
        "done_on": "2024-03-06",
        "notes": "Keluarga siap menerima anak kembali.",
        **overrides,
    }


def a_reunification(**overrides: Any) -> dict[str, Any]:
    """K-I4: the child back with the family."""
    return {"reunified_on": "2024-03-10", "reunified_with": "family", "notes": "", **overrides}


def a_reintegration_visit(**overrides: Any) -> dict[str, Any]:
    """K-I6: a monitoring visit after reunification."""
    return {
        "visited_on": "2024-04-10",
        "mode": "home_visit",
        "findings": "Anak kembali bersekolah dan diterima tetangga.",
        **overrides,
    }


def a_reintegration_evaluation(**overrides: Any) -> dict[str, Any]:
    """K-I7: the child reintegrated."""
    return {
        "evaluated_on": "2024-06-08",
        "reintegrated": True,
        "findings": "Anak terintegrasi kembali di keluarga dan lingkungan.",
        **overrides,
    }


def an_accompaniment(**overrides: Any) -> dict[str, Any]:
    return {"activity": "Mendampingi korban ke Unit PPA Polres.", "notes": "", **overrides}


def a_monitoring_visit(**overrides: Any) -> dict[str, Any]:
    """L5.2: a visit that finds services on track and the beneficiary recovered."""
    return {
        "mode": "home_visit",
        "findings": "Korban kembali bersekolah dan tidur dengan nyenyak.",
        "services_on_track": True,
        "recovered": True,
        **overrides,
    }


def a_reassessment(**overrides: Any) -> dict[str, Any]:
    return {"reason": "Korban masih membutuhkan konseling lanjutan.", **overrides}


def an_agreed_termination(**overrides: Any) -> dict[str, Any]:
    """L6.1-L6.3: recovered, with the signed termination form and the beneficiary's feedback."""
    return {
        "kind": "agreed",
        "reason": "recovered",
        "beneficiary_feedback": {"satisfaction": 5, "comments": "Terima kasih."},
        "termination_form_ref": "TERM/2024/017",
        "notes": "",
        **overrides,
    }


def a_unilateral_termination(**overrides: Any) -> dict[str, Any]:
    """L6.4: the beneficiary's whereabouts are unknown."""
    return {"kind": "unilateral", "reason": "whereabouts_unknown", "notes": "", **overrides}


def a_letter(**overrides: Any) -> dict[str, Any]:
    """L1.9-10: the consent form printed for the family to sign (any classified case)."""
    return {
        "letter_id": "letter-1",
        "kind": "formulir_persetujuan",
        "number": "001/IC/UPTD-PPA/I/2024",
        "sha256": "ab" * 32,
        "verification_code": "0123456789abcdef",
        "district_kinds": ["formulir_persetujuan"],
        **overrides,
    }


def a_signed_copy(**overrides: Any) -> dict[str, Any]:
    """L1.9-10: the signed scan of the consent form attached back (on a case with both)."""
    return {"document_id": "document-1", "letter_id": "letter-1", **overrides}


# Valid arguments for every public command of the Case aggregate, by command name.
COMMAND_ARGUMENTS: Mapping[str, Callable[..., dict[str, Any]]] = {
    "give_psychological_first_aid": a_psychological_first_aid,
    "record_outreach_origin": an_outreach_origin,
    "record_complaint_kind": a_complaint_kind,
    "correct_facts": a_fact_correction,
    "classify": a_classification,
    "hand_over": a_direct_handover,
    "acknowledge_handover": a_handover_acknowledgement,
    "hand_back": a_handback,
    "record_emergency_response": an_emergency_response,
    "assign_case_worker": a_case_worker_assignment,
    "record_contact": a_contact,
    "record_consent": a_consent,
    "add_beneficiary": a_beneficiary,
    "record_beneficiary_consent": a_beneficiary_consent,
    "record_family_decision": a_family_decision,
    "record_assessment": an_assessment,
    "review_assessment": an_assessment_review,
    "conclude_case_report": a_case_report,
    "hold_case_conference": a_case_conference,
    "hold_family_meeting": a_family_meeting,
    "agree_intervention_plan": an_intervention_plan,
    "refer": a_direct_referral,
    "accept_referral": a_referral_acceptance,
    "decline_referral": a_referral_decline,
    "record_service_delivery": a_service_delivery,
    "cancel_referral": a_referral_cancellation,
    "recommend_referral": a_recommendation,
    "approve_recommendation": a_recommendation_approval,
    "return_recommendation": a_recommendation_return,
    "note_referral_progress": a_progress_note,
    "hold_mediation": a_mediation,
    "admit_to_shelter": a_shelter_admission,
    "discharge_from_shelter": a_shelter_discharge,
    "record_reintegration_step": a_reintegration_step,
    "reunify_child": a_reunification,
    "record_reintegration_visit": a_reintegration_visit,
    "evaluate_reintegration": a_reintegration_evaluation,
    "record_accompaniment": an_accompaniment,
    "record_monitoring_visit": a_monitoring_visit,
    "start_reassessment": a_reassessment,
    "terminate": an_agreed_termination,
    "attach_document": a_document_attachment,
    "issue_letter": a_letter,
    "attach_signed_copy": a_signed_copy,
}


# Commands on the register rather than on the handling (the same person again): a closed
# case takes them too, so the closed-case and service catalogues above leave them out.
REGISTER_COMMAND_ARGUMENTS: Mapping[str, Callable[..., dict[str, Any]]] = {
    "link_to_case": lambda **overrides: {"other_case_id": uuid4(), "basis": "nik", **overrides},
    "reopen_as": lambda **overrides: {
        "new_case_id": uuid4(),
        "reason": "Laporan baru atas anak yang sama.",
        **overrides,
    },
}


# The service's command for each of those names.
SERVICE_COMMANDS: Mapping[str, type[CaseCommand]] = {
    command.operation(): command for command in (*CASE_STEPS, AttachDocument)
}


# ---- The standard journey along the SOP ---------------------------------------


@dataclass(frozen=True)
class JourneyStep:
    """One step: the aggregate's method, the service's command, their arguments, who acts."""

    method: Callable[..., None]
    command: type[CaseCommand]
    arguments: Callable[..., dict[str, Any]]
    actor: Actor

    @property
    def name(self) -> str:
        return self.command.operation()

    def on_case(self, case: Case, **overrides: Any) -> None:
        self.method(case, **self.arguments(**overrides))

    def through(self, cases: Cases, case_id: UUID, **overrides: Any) -> CommandResult:
        return cases.execute(self.actor, case_id, self.command(**self.arguments(**overrides)))


# A case handled by the district from classification to agreed termination.
# Each comment names the stage the step leaves the case in.
STANDARD_JOURNEY: tuple[JourneyStep, ...] = (
    JourneyStep(Case.classify, Classify, a_classification, INTAKE_OFFICER),  # identification
    JourneyStep(  # identification
        Case.assign_case_worker, AssignCaseWorker, a_case_worker_assignment, COORDINATOR
    ),
    JourneyStep(Case.record_contact, RecordContact, a_contact, CASE_WORKER),  # identification
    JourneyStep(Case.record_consent, RecordConsent, a_consent, CASE_WORKER),  # assessment
    JourneyStep(  # assessment
        Case.record_assessment, RecordAssessment, an_assessment, CASE_WORKER
    ),
    JourneyStep(  # planning
        Case.conclude_case_report, ConcludeCaseReport, a_case_report, CASE_WORKER
    ),
    JourneyStep(  # intervention
        Case.agree_intervention_plan, AgreeInterventionPlan, an_intervention_plan, CASE_WORKER
    ),
    JourneyStep(  # monitoring
        Case.record_monitoring_visit, RecordMonitoringVisit, a_monitoring_visit, CASE_WORKER
    ),
    JourneyStep(Case.terminate, Terminate, an_agreed_termination, CASE_WORKER),  # closed
)


class StageNotReached(AssertionError):
    def __init__(self, stage: Stage) -> None:
        super().__init__(f"the standard journey never reached the {stage.value} stage")


def a_new_case(
    *, at: datetime = FIXED_TIME, actor: Actor = INTAKE_OFFICER, **report_overrides: Any
) -> Case:
    """A case aggregate as ``Case.receive_report`` creates it, numbered LUTRA/2024/00001."""
    arguments = {
        "case_id": uuid4(),
        "district": DISTRICT,
        "register_number": f"{REGISTER_CODE}/2024/00001",
        **a_report(),
        **report_overrides,
    }
    with acting_as(actor, at):
        return Case.receive_report(**arguments)


def advance_case(
    case: Case,
    to_stage: Stage,
    *,
    at: datetime = FIXED_TIME,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Case:
    """Walk the aggregate along ``STANDARD_JOURNEY`` until it first stands in ``to_stage``.

    ``overrides`` changes a step's arguments by command name, e.g.
    ``{"classify": {"emergency": True}}``. In the identification stage the
    case is returned as it is (reported, not yet classified).
    """
    overrides = overrides or {}
    for step in STANDARD_JOURNEY:
        if case.stage == to_stage.value:
            return case
        with acting_as(step.actor, at):
            step.on_case(case, **overrides.get(step.name, {}))
    if case.stage != to_stage.value:
        raise StageNotReached(to_stage)
    return case


def a_case_at(
    stage: Stage,
    *,
    at: datetime = FIXED_TIME,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Case:
    """A new case aggregate walked along the standard journey to ``stage``."""
    return advance_case(a_new_case(at=at), stage, at=at, overrides=overrides)


def report_a_case(
    cases: Cases,
    *,
    actor: Actor = INTAKE_OFFICER,
    idempotency_key: str | None = None,
    **report_overrides: Any,
) -> CommandResult:
    """Record a report through the service, as the intake officer by default."""
    report = ReportCase(**a_report(**report_overrides))
    return cases.report_case(actor, report, idempotency_key=idempotency_key)


def advance_reported_case(
    cases: Cases,
    case_id: UUID,
    to_stage: Stage,
    *,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Case:
    """Walk a reported case along ``STANDARD_JOURNEY`` through the service, each step
    issued by the actor the SOP gives it, until it first stands in ``to_stage``."""
    overrides = overrides or {}
    for step in STANDARD_JOURNEY:
        if cases.visible_case(COORDINATOR, case_id).stage == to_stage.value:
            break
        step.through(cases, case_id, **overrides.get(step.name, {}))
    case = cases.visible_case(COORDINATOR, case_id)
    if case.stage != to_stage.value:
        raise StageNotReached(to_stage)
    return case


# ---- Referral histories --------------------------------------------------------


def referral_history(
    status: str,
    *,
    referral_id: str = REFERRAL_ID,
    receiving_officer: Actor = HEALTH_OFFICER,
) -> tuple[JourneyStep, ...]:
    """The steps that take a pending referral to ``status`` (L4.1-L4.3).

    The receiving agency's officer accepts, delivers or declines; the
    coordinator cancels.
    """
    accept = JourneyStep(
        Case.accept_referral,
        AcceptReferral,
        partial(a_referral_acceptance, referral_id=referral_id),
        receiving_officer,
    )

    def deliver(outcome: str) -> JourneyStep:
        arguments = partial(a_service_delivery, referral_id=referral_id, outcome=outcome)
        return JourneyStep(
            Case.record_service_delivery, RecordServiceDelivery, arguments, receiving_officer
        )

    decline = JourneyStep(
        Case.decline_referral,
        DeclineReferral,
        partial(a_referral_decline, referral_id=referral_id),
        receiving_officer,
    )
    cancel = JourneyStep(
        Case.cancel_referral,
        CancelReferral,
        partial(a_referral_cancellation, referral_id=referral_id),
        COORDINATOR,
    )
    return {
        ReferralStatus.PENDING: (),
        ReferralStatus.ACCEPTED: (accept,),
        ReferralStatus.IN_PROGRESS: (accept, deliver("partially_delivered")),
        ReferralStatus.COMPLETED: (accept, deliver("completed")),
        ReferralStatus.NOT_DELIVERED: (accept, deliver("not_delivered")),
        ReferralStatus.DECLINED: (decline,),
        ReferralStatus.CANCELLED: (cancel,),
    }[ReferralStatus(status)]


def take_steps(case: Case, steps: Iterable[JourneyStep], *, at: datetime = FIXED_TIME) -> Case:
    """Apply steps to the aggregate, each as its actor."""
    for step in steps:
        with acting_as(step.actor, at):
            step.on_case(case)
    return case


def take_service_steps(cases: Cases, case_id: UUID, steps: Iterable[JourneyStep]) -> None:
    """Issue steps through the service, each as its actor."""
    for step in steps:
        step.through(cases, case_id)


def move_referral_to(
    case: Case, status: str, *, referral_id: str = REFERRAL_ID, at: datetime = FIXED_TIME
) -> Case:
    """Take a pending referral of the aggregate, made to the health office, to ``status``."""
    return take_steps(case, referral_history(status, referral_id=referral_id), at=at)


# ---- The case-file tests' timeline -----------------------------------------------

WITA = timezone(timedelta(hours=8), "WITA")
# A Monday morning in Luwu Utara; every case-file test time is an offset from it.
START = datetime(2025, 3, 3, 8, 0, tzinfo=WITA)
LEGAL_AID_OFFICER = an_actor(
    Role.AGENCY_OFFICER, agency=Agency.LEGAL_AID, user_id="legal-aid-officer-1"
)
PROVINCE_OFFICER = an_actor(
    Role.AGENCY_OFFICER,
    agency=Agency.PROVINCE,
    district="sulawesi-selatan",
    user_id="province-officer-1",
)


def after(*, days: int = 0, hours: int = 0, minutes: int = 0) -> datetime:
    return START + timedelta(days=days, hours=hours, minutes=minutes)


def report_details(**overrides: Any) -> dict[str, Any]:
    """A complete report as an intake officer records it (L1.1-L1.2); override any part."""
    details: dict[str, Any] = {
        "case_id": uuid4(),
        "district": DISTRICT,
        "register_number": "LUTRA/2025/00031",
        "channel": "hotline",
        "arrived_at": after(minutes=-10),
        "chronology": "A teacher reports that a 12-year-old pupil was abused by a neighbour.",
        "victim": {"name": "Anak A", "age": 12, "sex": "female", "education": "SD kelas 6"},
        "reporter": {
            "name": "Ibu Guru R",
            "relationship_to_victim": "teacher",
            "phone": "0812-0000-0000",
        },
        "reported_person": {"relationship_to_victim": "neighbour", "sex": "male"},
        "incident": {
            "place_type": "household",
            "occurred_on": "2025-03-01",
            "village": "Desa Baebunta",
        },
        "needs": "A safe place to stay and a medical examination.",
        "psychological_first_aid_needed": True,
        "documents": ["birth_certificate", "family_card"],
    }
    return details | overrides


def report(when: datetime = START, *, by: Actor = INTAKE_OFFICER, **overrides: Any) -> Case:
    """A new case whose ReportReceived event is still pending."""
    with acting_as(by, when):
        return Case.receive_report(**report_details(**overrides))


@contextmanager
def record(case: Case, when: datetime, *, by: Actor = COORDINATOR) -> Iterator[list[Case.Event]]:
    """Act on the case as ``by`` at ``when``.

    The yielded list is filled when the block ends, with the events the case
    recorded since they were last collected.
    """
    recorded: list[Case.Event] = []
    with acting_as(by, when):
        yield recorded
    recorded.extend(case.collect_events())
