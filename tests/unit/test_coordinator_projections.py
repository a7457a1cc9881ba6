"""The coordinator's rows: the open-case fold and the time-standard dashboard, from Case events."""

from dataclasses import asdict, fields
from typing import Any

import pytest

from domain.case import Case
from domain.time_standards import StepState, case_milestones, step_schedule
from projections.case_file import CaseFile
from projections.open_cases import CASE_TOPICS, OpenCase, open_case_rows
from projections.time_standards_dashboard import step_rows
from services.profiles import load_profiles
from tests.support.builders import (
    CASE_WORKER,
    COORDINATOR,
    HEALTH_OFFICER,
    POLICE_OFFICER,
    RECEIVING_AGENCIES,
    after,
    record,
    report,
)

LUWU_UTARA = load_profiles().profile("luwu-utara")


class History:
    """One case driven through real commands; ``events`` keeps everything it recorded."""

    def __init__(self, **overrides: Any) -> None:
        self.case = report(after(), **overrides)
        self.events: list[Any] = list(self.case.collect_events())

    def do(self, when: Any, command: str, *, by: Any = COORDINATOR, **arguments: Any) -> "History":
        if command in ("refer", "hand_over"):
            # What the case service passes: where a referral or hand-over can go.
            arguments.setdefault("receiving_agencies", RECEIVING_AGENCIES)
        with record(self.case, when, by=by) as recorded:
            getattr(self.case, command)(**arguments)
        self.events.extend(recorded)
        return self

    def last_referral_id(self) -> str:
        return [e for e in self.events if isinstance(e, Case.Referred)][-1].referral_id

    def through_consent(self) -> "History":
        self.do(
            after(minutes=30),
            "classify",
            case_type="KTA",
            risk_level="high",
            jurisdiction="district",
            emergency=False,
        )
        self.do(after(hours=1), "assign_case_worker", case_worker_id=CASE_WORKER.user_id)
        self.do(after(hours=3), "record_contact", mode="home_visit", by=CASE_WORKER)
        self.do(
            after(hours=4),
            "record_consent",
            given=True,
            given_by="parent",
            document_ref="IC-1",
            by=CASE_WORKER,
        )
        return self

    def refer(self, agency: str, service_type: str, when: Any) -> str:
        self.do(
            when,
            "refer",
            referral_id=f"ref-{len(self.events)}",
            service_type=service_type,
            agency=agency,
            due_at=when + (after(days=7) - after()),
        )
        return self.last_referral_id()


def test_a_new_report_is_an_open_case_in_identification_without_personal_data():
    history = History()

    row = open_case_rows(history.events).case

    assert (row.stage, row.status, row.version) == ("identification", "open", 1)
    assert row.register_number == "LUTRA/2025/00031"
    assert row.case_type is None and row.case_worker_id is None
    assert row.reported_at == after()
    personal = {"victim", "reporter", "reported_person", "chronology", "incident", "needs"}
    assert not personal & {f.name for f in fields(OpenCase)}
    assert "Anak A" not in repr(asdict(row))


def test_classification_and_case_worker_fill_the_triage_columns():
    history = History().through_consent()

    row = open_case_rows(history.events).case

    assert (row.case_type, row.risk_level, row.jurisdiction) == ("KTA", "high", "district")
    assert row.case_worker_id == CASE_WORKER.user_id
    assert row.stage == "assessment"
    assert row.version == 5 and row.updated_at == after(hours=4)


def test_open_referrals_name_their_agencies_until_settled():
    history = History().through_consent()
    medical = history.refer("health", "medical_examination", after(hours=5))
    legal = history.refer("police", "legal_process", after(hours=6))
    history.do(after(hours=7), "accept_referral", referral_id=medical, by=HEALTH_OFFICER)

    rows = open_case_rows(history.events)
    assert rows.case.open_referral_agencies == ("health", "police")
    assert {r.referral_id: r.status for r in rows.referrals} == {
        medical: "accepted",
        legal: "pending",
    }

    history.do(
        after(hours=8),
        "record_service_delivery",
        referral_id=medical,
        outcome="completed",
        delivered_on="2025-03-03",
        summary="examined",
        by=HEALTH_OFFICER,
    )
    history.do(
        after(hours=9),
        "decline_referral",
        referral_id=legal,
        reason="no jurisdiction",
        by=POLICE_OFFICER,
    )

    rows = open_case_rows(history.events)
    assert rows.case.open_referral_agencies == ()
    by_id = {r.referral_id: r for r in rows.referrals}
    assert by_id[medical].status == "completed" and by_id[medical].settled_at == after(hours=8)
    assert by_id[legal].answered_at == after(hours=9) == by_id[legal].settled_at


def test_termination_closes_the_case_and_cancels_its_open_referrals():
    history = History().through_consent()
    medical = history.refer("health", "medical_examination", after(hours=5))
    history.do(
        after(days=1), "terminate", kind="unilateral", reason="whereabouts_unknown", by=COORDINATOR
    )

    rows = open_case_rows(history.events)

    assert (rows.case.status, rows.case.stage) == ("closed", "closed")
    assert rows.case.closure == "terminated:whereabouts_unknown"
    assert rows.case.closed_at == after(days=1)
    assert [(r.referral_id, r.status) for r in rows.referrals] == [(medical, "cancelled")]
    assert rows.case.open_referral_agencies == ()


def test_recommendations_wait_for_a_supervisor_until_approved_returned_or_the_case_closes():
    """K-C7 proposals stay pending until K-C8 answers them; a closed case has none left."""
    history = History().through_consent()
    for number, service_type, agency in (
        (1, "medical_examination", "health"),
        (2, "legal_process", "police"),
    ):
        history.do(
            after(hours=4 + number),
            "recommend_referral",
            recommendation_id=f"rec-{number}",
            service_type=service_type,
            agency=agency,
            receiving_agencies=RECEIVING_AGENCIES,
            rationale="Visum et repertum needed.",
            by=CASE_WORKER,
        )
    history.do(after(hours=7), "return_recommendation", recommendation_id="rec-1", reason="Why?")

    (pending,) = open_case_rows(history.events).pending_recommendations

    assert (pending.recommendation_id, pending.agency) == ("rec-2", "police")
    assert (pending.proposed_by, pending.proposed_at) == (CASE_WORKER.user_id, after(hours=6))
    history.do(
        after(days=1), "terminate", kind="unilateral", reason="whereabouts_unknown", by=COORDINATOR
    )
    assert open_case_rows(history.events).pending_recommendations == ()


def test_a_handover_closes_the_case():
    history = History()
    history.do(
        after(minutes=30),
        "classify",
        case_type="KTA",
        risk_level="low",
        jurisdiction="village",
        emergency=False,
    )
    history.do(after(hours=1), "hand_over", target="patbm")

    row = open_case_rows(history.events).case

    assert (row.status, row.closure) == ("closed", "handed_over:patbm")


def test_the_open_case_row_agrees_with_the_case_file_through_every_stage():
    history = History().through_consent()
    history.do(
        after(days=1),
        "record_assessment",
        kind="initial_home_visit",
        domain="psychological",
        assessing_agency="uptd_ppa",
        findings="anxious",
        by=CASE_WORKER,
    )
    history.do(
        after(days=2),
        "conclude_case_report",
        summary="abuse",
        needs=["legal_process"],
        by=CASE_WORKER,
    )
    history.do(
        after(days=3),
        "agree_intervention_plan",
        goals=["safe"],
        services=[{"service_type": "legal_process", "agency": "police"}],
        agreed_with=["parent"],
        by=CASE_WORKER,
    )
    legal = history.refer("police", "legal_process", after(days=3, hours=1))
    history.do(
        after(days=4),
        "record_monitoring_visit",
        mode="home_visit",
        findings="ok",
        services_on_track=True,
        recovered=False,
        by=CASE_WORKER,
    )

    for length in range(1, len(history.events) + 1):
        prefix = history.events[:length]
        rows = open_case_rows(prefix)
        case_file = CaseFile.from_events(prefix)
        assert rows.case.stage == case_file.stage.value
        assert rows.case.status == case_file.status
        assert rows.case.version == case_file.version
        assert {r.referral_id: r.status for r in rows.referrals} == {
            r.referral_id: r.status.value for r in case_file.referrals
        }
    assert rows.case.stage == "monitoring" and rows.case.open_referral_agencies == ("police",)
    assert legal in {r.referral_id for r in rows.referrals}


def test_a_history_with_a_gap_is_refused():
    history = History().through_consent()

    with pytest.raises(ValueError, match="consecutive"):
        open_case_rows([history.events[0], *history.events[2:]])
    with pytest.raises(ValueError, match="starts with its ReportReceived"):
        open_case_rows(history.events[1:])


def test_the_coordinator_follows_every_case_event_topic():
    assert "domain.case:Case.Referred" in CASE_TOPICS
    assert "domain.case:Case.Terminated" in CASE_TOPICS
    assert not any(topic.startswith("domain.register") for topic in CASE_TOPICS)


# ---- The time-standard dashboard -----------------------------------------------------------


def test_step_rows_are_the_domain_schedule_with_due_and_overdue_left_open():
    history = History().through_consent()
    history.refer("health", "medical_examination", after(hours=5))

    rows = step_rows(LUWU_UTARA, history.events)
    # Far in the future every open step is overdue; the rows must not have fixed that.
    schedule = step_schedule(LUWU_UTARA, case_milestones(history.events), after(days=365))

    assert [(r.code, r.referral_id, r.due_at) for r in rows] == [
        (s.code, s.referral_id, s.due_at) for s in schedule
    ]
    for row, status in zip(rows, schedule, strict=True):
        expected = "open" if status.state == StepState.OVERDUE else status.state.value
        assert row.state == expected
    assert {r.state for r in rows} >= {"met", "open"}


def test_referral_steps_belong_to_the_referred_agency_and_others_to_the_office():
    history = History().through_consent()
    medical = history.refer("health", "medical_examination", after(hours=5))

    rows = step_rows(LUWU_UTARA, history.events)

    referral_rows = [r for r in rows if r.referral_id is not None]
    assert referral_rows and all(r.agency == "health" for r in referral_rows)
    assert all(r.referral_id == medical for r in referral_rows)
    assert {r.agency for r in rows if r.referral_id is None} == {"uptd_ppa"}
    assert len({r.key for r in rows}) == len(rows)


def test_a_closed_case_owes_no_step():
    history = History().through_consent()
    history.do(after(days=1), "terminate", kind="unilateral", reason="child_died")

    rows = step_rows(LUWU_UTARA, history.events)

    # First aid (L1.3) was needed and never given, the home visit (L2.1) never made:
    # closed, not met, so an auditor still sees them.
    assert "open" not in {r.state for r in rows}
    assert [r.code for r in rows if r.state == "closed"] == ["L1.3", "L2.1"]


def test_a_reopened_case_stays_closed_and_owes_no_step_while_its_successor_starts_at_l1():
    """The same person again: the closed case's row and steps are as its termination left
    them (L6.5); the new case linked to it is a new open case whose clocks start at L1.1."""
    closed = History().through_consent()
    closed.do(after(days=1), "terminate", kind="unilateral", reason="whereabouts_unknown")
    rows_before, steps_before = open_case_rows(closed.events), step_rows(LUWU_UTARA, closed.events)
    successor = History()
    closed.do(after(days=30), "reopen_as", new_case_id=successor.case.id, reason="Laporan baru")
    successor.do(after(days=30), "link_to_case", other_case_id=closed.case.id, basis="officer")

    rows = open_case_rows(closed.events)

    assert rows.case.status == "closed" and rows.case.stage == "closed"
    assert (rows.case.closed_at, rows.referrals) == (
        rows_before.case.closed_at,
        rows_before.referrals,
    )
    assert step_rows(LUWU_UTARA, closed.events) == steps_before
    successor_row = open_case_rows(successor.events).case
    assert (successor_row.status, successor_row.stage) == ("open", "identification")
    classification = next(r for r in step_rows(LUWU_UTARA, successor.events) if r.code == "L1.5")
    assert classification.started_at == successor.events[0].timestamp
    assert classification.state == "open"
