"""Stored events today's projections cannot apply, written as older code or a faulty write could.

The API refuses control characters now, but events stored before it did stay
in the store forever; these helpers put such events there through the real
service (or the recorder), so the projections meet them as they would in
production.
"""

from dataclasses import dataclass
from uuid import UUID, uuid4

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from domain.case import Case
from services.case_commands import AssignCaseWorker, ReportCase
from services.cases import Cases
from tests.support.coordinator import classify, office, report_arguments

# What the review stored: a NUL inside a case worker's id. PostgreSQL cannot store it.
NUL_WORKER = "rina\x00pendamping"


@dataclass(frozen=True)
class Poisoned:
    case_id: UUID
    kind: str


def case_with_a_nul(cases: Cases, district: str = "kota-batu") -> Poisoned:
    """A reported, classified case whose case worker's id holds a NUL, as stored before the
    API refused control characters (the command built without its validation)."""
    actors = office(district)
    case_id = cases.report_case(actors["intake"], ReportCase(**report_arguments())).case_id
    classify(
        cases,
        case_id,
        district,
        case_type="KTA",
        risk_level="high",
        jurisdiction="district",
        emergency=False,
    )
    cases.execute(
        actors["coordinator"],
        case_id,
        AssignCaseWorker.model_construct(case_worker_id=NUL_WORKER, assignment_letter_ref=""),
    )
    return Poisoned(case_id, "nul")


UNREADABLE_TOPIC = get_topic(Case.RiskClassified)


def case_with_an_unreadable_event(cases: Cases, district: str = "luwu-utara") -> Poisoned:
    """A reported case whose next stored event cannot be decoded (its state is not what the
    mapper wrote: a faulty write, a lost key, a change of codec without an upcaster)."""
    actors = office(district)
    case_id = cases.report_case(actors["intake"], ReportCase(**report_arguments())).case_id
    version = cases.repository.get(case_id).version
    cases.recorder.insert_events(
        [
            StoredEvent(
                originator_id=case_id,
                originator_version=version + 1,
                topic=UNREADABLE_TOPIC,
                state=b"\x00not what the mapper wrote",
            )
        ]
    )
    return Poisoned(case_id, "unreadable")


def case_the_fold_cannot_read(cases: Cases, district: str = "luwu-utara") -> Poisoned:
    """A history that starts with a classification and has no report: decodable, unfoldable."""
    actors = office(district)
    source = cases.report_case(actors["intake"], ReportCase(**report_arguments())).case_id
    classify(
        cases,
        source,
        district,
        case_type="KTA",
        risk_level="low",
        jurisdiction="district",
        emergency=False,
    )
    classified = next(
        stored
        for stored in cases.recorder.select_events(source)
        if stored.topic == get_topic(Case.RiskClassified)
    )
    orphan = uuid4()
    cases.recorder.insert_events([StoredEvent(orphan, 1, classified.topic, classified.state)])
    return Poisoned(orphan, "unfoldable")
