"""Builders for tests that drive a real Case: one district's actors, a fixed clock, a report."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

from domain.actors import Actor, acting_as
from domain.case import Case
from domain.vocabulary import Agency, Role

DISTRICT = "luwu-utara"
WITA = timezone(timedelta(hours=8), "WITA")
# A Monday morning in Luwu Utara; every test time is an offset from it, so runs repeat exactly.
START = datetime(2025, 3, 3, 8, 0, tzinfo=WITA)

INTAKE_OFFICER = Actor("intake-01", Role.INTAKE_OFFICER, Agency.UPTD_PPA, DISTRICT)
COORDINATOR = Actor("coordinator-01", Role.COORDINATOR, Agency.UPTD_PPA, DISTRICT)
CASE_WORKER = Actor("peksos-01", Role.CASE_WORKER, Agency.UPTD_PPA, DISTRICT)
HEALTH_OFFICER = Actor("rsud-01", Role.AGENCY_OFFICER, Agency.HEALTH, DISTRICT)
POLICE_OFFICER = Actor("polres-ppa-01", Role.AGENCY_OFFICER, Agency.POLICE, DISTRICT)
EDUCATION_OFFICER = Actor("disdik-01", Role.AGENCY_OFFICER, Agency.EDUCATION, DISTRICT)
SOCIAL_OFFICER = Actor("dinsos-01", Role.AGENCY_OFFICER, Agency.SOCIAL, DISTRICT)
LEGAL_AID_OFFICER = Actor("lbh-01", Role.AGENCY_OFFICER, Agency.LEGAL_AID, DISTRICT)
PROVINCE_OFFICER = Actor("uptd-prov-01", Role.AGENCY_OFFICER, Agency.PROVINCE, "sulawesi-selatan")
AUDITOR = Actor("inspektorat-01", Role.AUDITOR, Agency.UPTD_PPA, DISTRICT)


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
        "reporter": {"name": "Ibu Guru R", "relationship": "teacher", "phone": "0812-0000-0000"},
        "reported_person": {"relationship": "neighbour", "sex": "male"},
        "incident": {"place": "home", "date": "2025-03-01", "village": "Desa Baebunta"},
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
