"""Whole case lifecycles for the rebuild figure, and the raw read it is measured against.

``fill`` records whole case lifecycles, saved a few events per case at a time
in interleaved rounds, as a district's cases progress side by side.
``raw_read_rate`` is the baseline: a psycopg SELECT of every event row in
pages, JSON-decoding each state.
"""

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import psycopg

from domain.actors import Actor, acting_as
from domain.case import Case
from domain.vocabulary import Agency, Role
from services.cases import Cases
from services.sharing import load_matrix

DISTRICT = "luwu-utara"
OFFICE = Actor("bench.coordinator", Role.COORDINATOR, Agency.UPTD_PPA, DISTRICT)
WORKER = Actor("bench.worker", Role.CASE_WORKER, Agency.UPTD_PPA, DISTRICT)
HEALTH = Actor("bench.health", Role.AGENCY_OFFICER, Agency.HEALTH, DISTRICT)
POLICE = Actor("bench.police", Role.AGENCY_OFFICER, Agency.POLICE, DISTRICT)
# The agencies a referral can reach, as the case service passes them to Case.refer.
RECEIVING_AGENCIES = frozenset(load_matrix().agencies)
EVENTS_PER_CASE = 20
EVENTS_PER_ROUND = 5


def _lifecycle(case_number: int, start: datetime) -> Iterator[tuple[Actor, Callable[[Case], Any]]]:
    """The commands of one case from report to agreed termination: 20 events."""
    due = start + timedelta(days=7)
    # Referral ids are unique across cases, as the case service makes them.
    legal, medical = str(uuid4()), str(uuid4())
    yield OFFICE, lambda case: case.give_psychological_first_aid(notes="calmed")
    yield (
        OFFICE,
        lambda case: case.classify(
            case_type="KTA",
            risk_level="high",
            jurisdiction="district",
            emergency=False,
            forms_of_violence=["physical"],
        ),
    )
    yield OFFICE, lambda case: case.assign_case_worker(case_worker_id=f"cw-{case_number % 7}")
    yield WORKER, lambda case: case.record_contact(mode="home_visit")
    yield WORKER, lambda case: case.record_consent(given=True, given_by="parent", document_ref="IC")
    yield (
        WORKER,
        lambda case: case.record_assessment(
            kind="initial_home_visit",
            domain="psychological",
            assessing_agency="uptd_ppa",
            findings="anxious",
        ),
    )
    yield WORKER, lambda case: case.conclude_case_report(summary="abuse", needs=["legal_process"])
    yield (
        WORKER,
        lambda case: case.hold_case_conference(
            held_on="2025-03-04", participating_agencies=["uptd_ppa", "police"], decisions=["refer"]
        ),
    )
    yield (
        WORKER,
        lambda case: case.agree_intervention_plan(
            goals=["safe"],
            agreed_with=["parent"],
            services=[
                {"service_type": "legal_process", "agency": "police"},
                {"service_type": "medical_examination", "agency": "health"},
            ],
        ),
    )
    yield (
        WORKER,
        lambda case: case.refer(
            referral_id=legal,
            service_type="legal_process",
            agency="police",
            due_at=due,
            receiving_agencies=RECEIVING_AGENCIES,
        ),
    )
    yield (
        WORKER,
        lambda case: case.refer(
            referral_id=medical,
            service_type="medical_examination",
            agency="health",
            due_at=due,
            receiving_agencies=RECEIVING_AGENCIES,
        ),
    )
    yield POLICE, lambda case: case.accept_referral(referral_id=legal)
    yield HEALTH, lambda case: case.accept_referral(referral_id=medical)
    yield (
        HEALTH,
        lambda case: case.record_service_delivery(
            referral_id=medical, outcome="completed", delivered_on="2025-03-05", summary="examined"
        ),
    )
    yield (
        POLICE,
        lambda case: case.record_service_delivery(
            referral_id=legal, outcome="completed", delivered_on="2025-03-06", summary="filed"
        ),
    )
    yield WORKER, lambda case: case.record_accompaniment(activity="to the police interview")
    yield (
        WORKER,
        lambda case: case.record_monitoring_visit(
            mode="home_visit", findings="better", services_on_track=True, recovered=False
        ),
    )
    yield (
        WORKER,
        lambda case: case.record_monitoring_visit(
            mode="home_visit", findings="well", services_on_track=True, recovered=True
        ),
    )
    yield (
        WORKER,
        lambda case: case.terminate(
            kind="agreed",
            reason="recovered",
            termination_form_ref="T-1",
            beneficiary_feedback={"satisfaction": 5},
        ),
    )


def fill(cases: Cases, events: int) -> int:
    """Record about ``events`` events in whole case lifecycles; the number recorded."""
    start = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
    count = max(events // EVENTS_PER_CASE, 1)
    running: list[tuple[Case, Iterator[tuple[Actor, Callable[[Case], Any]]]]] = []
    for number in range(count):
        with acting_as(OFFICE, start):
            case = Case.receive_report(
                case_id=uuid4(),
                district=DISTRICT,
                register_number=f"BENCH/{number:06d}",
                channel="hotline",
                arrived_at=start - timedelta(minutes=5),
                chronology="A neighbour reports a child crying for help at night.",
                victim={"name": "Anak", "age": 9},
                psychological_first_aid_needed=True,
            )
        running.append((case, _lifecycle(number, start)))
    recorded = 0
    at = start
    while running:
        still_running = []
        for case, commands in running:
            finished = False
            for _ in range(EVENTS_PER_ROUND - (1 if case.version == 0 else 0)):
                step = next(commands, None)
                if step is None:
                    finished = True
                    break
                at += timedelta(seconds=1)
                actor, command = step
                with acting_as(actor, at):
                    command(case)
            recorded += len(case.pending_events)
            cases.save(case)
            if not finished:
                still_running.append((case, commands))
        running = still_running
    return recorded


def raw_read_rate(database_url: str, page: int) -> tuple[int, float]:
    """Events per second for a paged SELECT of every event row plus json.loads of its state."""
    started = time.perf_counter()
    rows = 0
    last = 0
    with psycopg.connect(database_url) as conn:
        while True:
            page_rows = conn.execute(
                "SELECT notification_id, originator_id, originator_version, topic, state "
                "FROM cases_events WHERE notification_id > %s ORDER BY notification_id LIMIT %s",
                (last, page),
            ).fetchall()
            if not page_rows:
                break
            for row in page_rows:
                json.loads(row[4])
            rows += len(page_rows)
            last = page_rows[-1][0]
    return rows, rows / (time.perf_counter() - started)
