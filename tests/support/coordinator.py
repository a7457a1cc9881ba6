"""Cases recorded through the real service, in the shapes the coordinator's views tell apart."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from services.case_commands import (
    AcceptReferral,
    AssignCaseWorker,
    Classify,
    HandOver,
    RecordAssessment,
    RecordConsent,
    RecordContact,
    Refer,
    ReportCase,
    Terminate,
    referral_id_for,
)
from services.cases import Cases


def office(district: str = "luwu-utara") -> dict[str, Actor]:
    return {
        "intake": Actor(f"intake.{district}", Role.INTAKE_OFFICER, Agency.UPTD_PPA, district),
        "coordinator": Actor(f"coord.{district}", Role.COORDINATOR, Agency.UPTD_PPA, district),
        "health": Actor(f"rsud.{district}", Role.AGENCY_OFFICER, Agency.HEALTH, district),
        "police": Actor(f"polres.{district}", Role.AGENCY_OFFICER, Agency.POLICE, district),
    }


def classify(cases: Cases, case_id: UUID, district: str, **classification: Any) -> None:
    """L1.5 as the district's office does it: after an assessment where its SOP assesses
    first (Kota Batu B2, Purwakarta P2)."""
    actors = office(district)
    if cases.profiles.profile(district).assessment_before_classification is not None:
        cases.execute(
            actors["intake"],
            case_id,
            RecordAssessment(
                kind="initial_home_visit", domain="social_spiritual", findings="Verified at home."
            ),
        )
    cases.execute(actors["intake"], case_id, Classify(**classification))


def report_arguments(**overrides: Any) -> dict[str, Any]:
    return {
        "channel": "hotline",
        "arrived_at": datetime.now(UTC) - timedelta(minutes=5),
        "chronology": "A neighbour reports a child crying for help at night.",
        "victim": {"name": "Anak B", "age": 9, "nik": "7322010101150001"},
        "psychological_first_aid_needed": False,
        **overrides,
    }


@dataclass
class RecordedCase:
    case_id: UUID
    shape: str


def record_case(
    cases: Cases, shape: str, *, district: str = "luwu-utara", worker: str = "cw-1"
) -> RecordedCase:
    """One case of a given shape.

    reported: only the report. classified: KTA high risk, medium for ``classified_medium``.
    referred: classified, case worker, consent, a referral to health and one to police
    (police accepted). closed: referred, then terminated unilaterally. handed_over: low
    risk, village, handed to PATBM.
    """
    actors = office(district)
    case_id = cases.report_case(actors["intake"], ReportCase(**report_arguments())).case_id
    if shape == "reported":
        return RecordedCase(case_id, shape)
    if shape == "handed_over":
        classify(
            cases,
            case_id,
            district,
            case_type="KTA",
            risk_level="low",
            jurisdiction="village",
            emergency=False,
        )
        cases.execute(actors["coordinator"], case_id, HandOver(target="patbm"))
        return RecordedCase(case_id, shape)
    risk = "medium" if shape == "classified_medium" else "high"
    classify(
        cases,
        case_id,
        district,
        case_type="KTA",
        risk_level=risk,
        jurisdiction="district",
        emergency=False,
    )
    if shape.startswith("classified"):
        return RecordedCase(case_id, shape)
    case_worker = Actor(worker, Role.CASE_WORKER, Agency.UPTD_PPA, district)
    cases.execute(actors["coordinator"], case_id, AssignCaseWorker(case_worker_id=worker))
    cases.execute(case_worker, case_id, RecordContact(mode="home_visit"))
    cases.execute(
        case_worker, case_id, RecordConsent(given=True, given_by="parent", document_ref="IC")
    )
    cases.execute(case_worker, case_id, Refer(service_type="medical_examination", agency="health"))
    legal = cases.execute(
        case_worker, case_id, Refer(service_type="legal_process", agency="police")
    )
    cases.execute(
        actors["police"],
        case_id,
        AcceptReferral(referral_id=referral_id_for(case_id, legal.version)),
    )
    if shape == "closed":
        cases.execute(
            actors["coordinator"],
            case_id,
            Terminate(kind="unilateral", reason="whereabouts_unknown"),
        )
    return RecordedCase(case_id, shape)


SHAPES = ("reported", "classified", "classified_medium", "referred", "closed", "handed_over")


def record_mix(cases: Cases, count: int, *, district: str = "luwu-utara") -> list[RecordedCase]:
    return [
        record_case(cases, SHAPES[i % len(SHAPES)], district=district, worker=f"cw-{i % 3}")
        for i in range(count)
    ]
