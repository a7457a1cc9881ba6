"""Cases driven through the case service (no HTTP): referred, delivered, declined, handed over."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from services.case_commands import (
    AcceptReferral,
    AssignCaseWorker,
    Classify,
    DeclineReferral,
    HandOver,
    RecordAssessment,
    RecordConsent,
    RecordServiceDelivery,
    Refer,
    ReportCase,
    Terminate,
    referral_id_for,
)
from services.cases import Cases

DISTRICT = "luwu-utara"
INTAKE = Actor("siti.intake", Role.INTAKE_OFFICER, Agency.UPTD_PPA, DISTRICT)
COORDINATOR = Actor("andi.koordinator", Role.COORDINATOR, Agency.UPTD_PPA, DISTRICT)
CASE_WORKER = Actor("rina.pendamping", Role.CASE_WORKER, Agency.UPTD_PPA, DISTRICT)


def officer(agency: str) -> Actor:
    return Actor(f"officer.{agency}", Role.AGENCY_OFFICER, Agency(agency), DISTRICT)


def report(cases: Cases, **overrides: Any) -> UUID:
    body: dict[str, Any] = {
        "channel": "walk_in",
        "arrived_at": datetime.now(UTC) - timedelta(minutes=5),
        "chronology": "The mother reports bruises on her daughter's arms.",
        "victim": {
            "name": "Mawar",
            "sex": "female",
            "age": 12,
            "nik": "7322011201140001",
            "education": "SMP 1 Masamba",
        },
        "reporter": {"name": "Melati", "relationship_to_victim": "mother"},
        "reported_person": {"relationship_to_victim": "neighbour"},
        "incident": {"place_type": "household", "village": "Baebunta"},
        "needs": "Medical examination and safety",
    }
    return cases.report_case(INTAKE, ReportCase(**body | overrides)).case_id


def consented_case(cases: Cases, *, emergency: bool = False) -> UUID:
    case_id = report(cases)
    cases.execute(
        INTAKE,
        case_id,
        Classify(
            case_type="KTA",
            risk_level="high",
            jurisdiction="district",
            emergency=emergency,
            forms_of_violence=["physical"],
        ),
    )
    cases.execute(COORDINATOR, case_id, AssignCaseWorker(case_worker_id=CASE_WORKER.user_id))
    cases.execute(
        CASE_WORKER, case_id, RecordConsent(given=True, given_by="parent", document_ref="IC-1")
    )
    cases.execute(
        CASE_WORKER,
        case_id,
        RecordAssessment(
            kind="further",
            domain="physical",
            assessing_agency="uptd_ppa",
            findings="fractured left wrist",
        ),
    )
    cases.execute(
        CASE_WORKER,
        case_id,
        RecordAssessment(
            kind="further",
            domain="legal",
            assessing_agency="uptd_ppa",
            findings="the neighbour is suspected",
        ),
    )
    return case_id


def refer(cases: Cases, case_id: UUID, agency: str, service: str, **kw: Any) -> str:
    result = cases.execute(CASE_WORKER, case_id, Refer(service_type=service, agency=agency, **kw))
    return referral_id_for(case_id, result.version)


def deliver(cases: Cases, case_id: UUID, referral_id: str, agency: str) -> None:
    cases.execute(officer(agency), case_id, AcceptReferral(referral_id=referral_id))
    cases.execute(
        officer(agency),
        case_id,
        RecordServiceDelivery(
            referral_id=referral_id, outcome="completed", delivered_on="2026-03-02", summary="done"
        ),
    )


def busy_case(cases: Cases) -> UUID:
    """One case touching most agency message kinds: emergency referral, referrals, a decline,
    a delivery, a re-referral, fact updates after referral, and termination with open referrals."""
    case_id = report(cases)
    cases.execute(
        INTAKE,
        case_id,
        Classify(
            case_type="KTA",
            risk_level="high",
            jurisdiction="district",
            emergency=True,
            forms_of_violence=["physical"],
        ),
    )
    medical = refer(cases, case_id, "health", "medical_examination", emergency=True)
    cases.execute(COORDINATOR, case_id, AssignCaseWorker(case_worker_id=CASE_WORKER.user_id))
    cases.execute(
        CASE_WORKER, case_id, RecordConsent(given=True, given_by="parent", document_ref="IC-1")
    )
    deliver(cases, case_id, medical, "health")
    legal = refer(cases, case_id, "police", "legal_process")
    school = refer(cases, case_id, "education", "return_to_school")
    cases.execute(
        CASE_WORKER,
        case_id,
        RecordAssessment(
            kind="further",
            domain="legal",
            assessing_agency="police",
            findings="the neighbour is suspected",
        ),
    )
    cases.execute(officer("education"), case_id, DeclineReferral(referral_id=school, reason="full"))
    refer(cases, case_id, "education", "non_formal_education")
    cases.execute(officer("police"), case_id, AcceptReferral(referral_id=legal))
    refer(cases, case_id, "social", "temporary_shelter")
    cases.execute(COORDINATOR, case_id, Terminate(kind="unilateral", reason="whereabouts_unknown"))
    return case_id


def handed_over_case(cases: Cases) -> UUID:
    case_id = report(cases)
    cases.execute(
        INTAKE,
        case_id,
        Classify(case_type="KTA", risk_level="low", jurisdiction="village", emergency=False),
    )
    cases.execute(COORDINATOR, case_id, HandOver(target="patbm", receiving_unit="PATBM Baebunta"))
    return case_id
