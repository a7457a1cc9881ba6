"""Time standards: which SOP steps are due, met, late, overdue or closed (shared/domain.md).

Every case here is driven through the real Case aggregate on a fixed clock;
T0 is when the report arrived (L1.1), in Luwu Utara's time zone.
"""

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from domain.actors import Actor, acting_as
from domain.case import Case
from domain.errors import ProcessNotRun
from domain.time_standards import (
    KNOWN_CONDITIONS,
    KNOWN_MILESTONES,
    PROCESS_OF_MILESTONE,
    REFERRAL_MILESTONES,
    ProfileError,
    StepState,
    StepStatus,
    TimeStandardProfile,
    case_milestones,
    open_steps,
    overdue,
    parse_duration,
    parse_profile,
    step_schedule,
)
from domain.vocabulary import Agency, Process, Role
from services.profiles import load_profiles
from tests.support.builders import RECEIVING_AGENCIES

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=ZoneInfo("Asia/Makassar"))
COORDINATOR = Actor("coordinator-1", Role.COORDINATOR, Agency.UPTD_PPA, "luwu-utara")
CASE_WORKER = Actor("case-worker-1", Role.CASE_WORKER, Agency.UPTD_PPA, "luwu-utara")
PROFILES = load_profiles()
LUWU_UTARA = PROFILES.profile("luwu-utara")
KOTA_BATU = PROFILES.profile("kota-batu")
RECORDING_DELAY = timedelta(minutes=5)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def days(n: float) -> timedelta:
    return timedelta(days=n)


class Scenario:
    """One case, its events kept as recorded; each command runs at an explicit time after T0."""

    def __init__(self, *, recorded_after: timedelta = RECORDING_DELAY, **report: Any) -> None:
        with acting_as(COORDINATOR, T0 + recorded_after):
            self.case = Case.receive_report(
                case_id=uuid4(),
                district="luwu-utara",
                register_number="LUTRA/2024/0001",
                channel="phone",
                arrived_at=T0,
                chronology="a neighbour heard a child crying for help",
                victim={"name": "A"},
                **report,
            )
        self.events: list[object] = list(self.case.collect_events())

    def do(
        self, after: timedelta, command: str, *, by: Actor = COORDINATOR, **arguments: Any
    ) -> "Scenario":
        if command in ("refer", "hand_over", "recommend_referral", "approve_recommendation"):
            # What the case service passes: where a referral or hand-over can go.
            arguments.setdefault("receiving_agencies", RECEIVING_AGENCIES)
        with acting_as(by, T0 + after):
            getattr(self.case, command)(**arguments)
        self.events.extend(self.case.collect_events())
        return self

    def schedule(
        self, now_after: timedelta, profile: TimeStandardProfile = LUWU_UTARA
    ) -> list[StepStatus]:
        return step_schedule(profile, case_milestones(self.events), T0 + now_after)

    def step(
        self,
        code: str,
        now_after: timedelta,
        profile: TimeStandardProfile = LUWU_UTARA,
        referral_id: str | None = None,
    ) -> StepStatus:
        matches = [
            status
            for status in self.schedule(now_after, profile)
            if status.code == code and status.referral_id == referral_id
        ]
        assert len(matches) == 1, f"{code} is listed {len(matches)} times"
        return matches[0]

    def codes(self, now_after: timedelta) -> list[str]:
        return [status.code for status in self.schedule(now_after)]

    # Steps that recur across scenarios, each at the time given.

    def classify(
        self,
        after: timedelta,
        *,
        emergency: bool = False,
        risk_level: str = "high",
        jurisdiction: str = "district",
    ) -> "Scenario":
        return self.do(
            after,
            "classify",
            case_type="KTA",
            risk_level=risk_level,
            jurisdiction=jurisdiction,
            emergency=emergency,
        )

    def through_consent(self, after: timedelta) -> "Scenario":
        """Classified for district handling, case worker, contact and consent, a minute apart."""
        self.classify(after)
        self.do(after + minutes(1), "assign_case_worker", case_worker_id="cw-1")
        self.do(after + minutes(2), "record_contact", mode="home_visit")
        return self.do(
            after + minutes(3),
            "record_consent",
            given=True,
            given_by="parent",
            document_ref="IC-1",
        )

    def assess(self, after: timedelta) -> "Scenario":
        return self.do(
            after,
            "record_assessment",
            kind="initial_home_visit",
            domain="social_spiritual",
            assessing_agency="uptd_ppa",
            findings="the child is afraid to go home",
        )

    def conclude(self, after: timedelta) -> "Scenario":
        return self.do(
            after,
            "conclude_case_report",
            summary="needs counselling",
            needs=["psychological_counselling"],
        )

    def agree_plan(self, after: timedelta) -> "Scenario":
        return self.do(
            after,
            "agree_intervention_plan",
            goals=["psychological recovery"],
            services=[{"service_type": "psychological_counselling", "agency": "province"}],
            agreed_with=["parent"],
        )

    def refer(self, after: timedelta, referral_id: str, due_after: timedelta) -> "Scenario":
        return self.do(
            after,
            "refer",
            referral_id=referral_id,
            service_type="medical_examination",
            agency="health",
            due_at=T0 + due_after,
        )

    def visit(self, after: timedelta, *, recovered: bool) -> "Scenario":
        return self.do(
            after,
            "record_monitoring_visit",
            mode="home_visit",
            findings="attends school again" if recovered else "still afraid",
            services_on_track=True,
            recovered=recovered,
        )


def planned_case() -> Scenario:
    """Consent on day 0, assessed, concluded and planned by day 2."""
    scenario = Scenario().through_consent(minutes(30))
    scenario.assess(minutes(120)).conclude(minutes(150))
    return scenario.agree_plan(days(2))


# ---- 1. Identification -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recorded_after", "state"),
    [(minutes(10), StepState.MET), (minutes(15), StepState.MET), (minutes(20), StepState.LATE)],
)
def test_l1_2_report_must_be_recorded_within_15_minutes_of_arrival(recorded_after, state):
    scenario = Scenario(recorded_after=recorded_after)

    status = scenario.step("L1.2", now_after=minutes(30))

    assert status.started_at == T0
    assert status.due_at == T0 + minutes(15)
    assert status.done_at == T0 + recorded_after
    assert status.state == state


def test_l1_5_classification_is_due_60_minutes_after_recording_then_overdue():
    scenario = Scenario(recorded_after=minutes(5))
    recorded = minutes(5)

    due = scenario.step("L1.5", now_after=recorded + minutes(59))
    late = scenario.step("L1.5", now_after=recorded + minutes(61))

    assert due.due_at == T0 + recorded + minutes(60)
    assert due.state == StepState.DUE and due.done_at is None
    assert late.state == StepState.OVERDUE
    assert [status.code for status in overdue(scenario.schedule(recorded + minutes(61)))] == [
        "L1.5"
    ]


def test_l1_5_classification_on_time_is_met():
    scenario = Scenario().classify(minutes(40))

    assert scenario.step("L1.5", now_after=days(1)).state == StepState.MET


def test_l1_3_psychological_first_aid_is_listed_only_when_the_report_says_it_is_needed():
    needed = Scenario(psychological_first_aid_needed=True)
    not_needed = Scenario()

    assert needed.step("L1.3", now_after=minutes(30)).due_at == T0 + minutes(65)
    assert "L1.3" not in not_needed.codes(minutes(30))


def test_l1_6_emergency_services_are_listed_only_for_emergency_classifications():
    emergency = Scenario().classify(minutes(20), emergency=True)
    ordinary = Scenario().classify(minutes(20))

    status = emergency.step("L1.6", now_after=minutes(30))

    assert status.started_at == T0 + minutes(20)
    assert status.due_at == T0 + minutes(20) + days(1)
    assert status.state == StepState.DUE
    assert "L1.6" not in ordinary.codes(minutes(30))


def test_l1_6_clock_starts_when_a_reclassification_makes_the_case_an_emergency():
    scenario = Scenario().classify(minutes(20)).classify(days(3), emergency=True)

    status = scenario.step("L1.6", now_after=days(3) + minutes(10))

    assert status.started_at == T0 + days(3)
    assert status.state == StepState.DUE


def test_l1_6_clock_restarts_when_the_case_becomes_an_emergency_again():
    # Given an emergency, reclassified as none, then as an emergency again
    scenario = Scenario().classify(minutes(20), emergency=True)
    scenario.classify(days(1))
    assert "L1.6" not in scenario.codes(days(2))
    scenario.classify(days(3), emergency=True)

    # Then emergency services are owed from the latest emergency classification
    status = scenario.step("L1.6", now_after=days(3) + minutes(10))
    assert status.started_at == T0 + days(3)


def test_l1_6_met_when_the_emergency_response_is_recorded_in_time():
    scenario = Scenario().classify(minutes(20), emergency=True)
    scenario.do(minutes(20) + timedelta(hours=5), "record_emergency_response", actions=["shelter"])

    assert scenario.step("L1.6", now_after=days(2)).state == StepState.MET


def test_l1_7_to_l1_9_are_listed_for_district_handling_with_their_own_clocks():
    scenario = Scenario().classify(minutes(20))
    scenario.do(minutes(90), "assign_case_worker", case_worker_id="cw-1")
    scenario.do(days(1), "record_contact", mode="home_visit")

    assert scenario.step("L1.7", days(1)).state == StepState.MET
    assert scenario.step("L1.8", days(1)).state == StepState.MET
    consent = scenario.step("L1.9", days(1))
    assert consent.started_at == T0 + days(1)
    assert consent.due_at == T0 + days(2)
    assert consent.state == StepState.DUE


def test_l1_7_to_l1_9_are_not_listed_after_a_routing_b_classification():
    # Given a low-risk child case the village can manage: routing b, to PATBM
    scenario = Scenario().classify(minutes(20), risk_level="low", jurisdiction="village")

    # Then no case worker is owed by the district, before or after the handover
    assert not {"L1.7", "L1.8", "L1.9"} & set(scenario.codes(days(1)))
    scenario.do(minutes(40), "hand_over", target="patbm")
    assert not {"L1.7", "L1.8", "L1.9"} & set(scenario.codes(days(1)))


def test_l1_7_clock_starts_when_a_reclassification_keeps_the_case_with_the_district():
    scenario = Scenario().classify(minutes(20), risk_level="low", jurisdiction="village")
    scenario.classify(days(2))

    status = scenario.step("L1.7", now_after=days(2) + minutes(30))

    assert status.started_at == T0 + days(2)
    assert status.state == StepState.DUE


# ---- 2-3. Assessment and planning --------------------------------------------------------


def test_l2_1_home_visit_is_due_120_minutes_after_consent():
    scenario = Scenario().through_consent(minutes(30))
    consent = minutes(33)

    status = scenario.step("L2.1", now_after=consent + minutes(121))

    assert status.started_at == T0 + consent
    assert status.due_at == T0 + consent + minutes(120)
    assert status.state == StepState.OVERDUE


def test_l2_7_case_report_is_due_60_minutes_after_the_latest_assessment():
    # Given an initial assessment and, two days later, a further one (L2.2)
    scenario = Scenario().through_consent(minutes(30)).assess(minutes(60))
    scenario.assess(days(2))

    status = scenario.step("L2.7", now_after=days(2) + minutes(30))

    # Then the 60 minutes run from the further assessment, not the first
    assert status.started_at == T0 + days(2)
    assert status.state == StepState.DUE


def test_l3_5_plan_is_due_3_days_1_hour_after_the_case_report():
    scenario = Scenario().through_consent(minutes(30)).assess(minutes(60)).conclude(minutes(90))

    status = scenario.step("L3.5", now_after=days(1))

    assert status.due_at == T0 + minutes(90) + days(3) + timedelta(hours=1)
    assert status.state == StepState.DUE


# ---- 4. Intervention: one L4.1 clock per referral ----------------------------------------


def test_l4_1_is_due_at_the_referrals_recorded_due_time_and_met_by_a_completed_delivery():
    scenario = planned_case().refer(days(2), "r1", due_after=days(5))
    scenario.do(days(3), "accept_referral", referral_id="r1")
    scenario.do(
        days(4),
        "record_service_delivery",
        referral_id="r1",
        outcome="completed",
        delivered_on="2024-03-08",
        summary="examined",
    )

    status = scenario.step("L4.1", now_after=days(6), referral_id="r1")

    assert status.started_at == T0 + days(2)
    assert status.due_at == T0 + days(5)
    assert status.limit == days(3)
    assert status.done_at == T0 + days(4)
    assert status.state == StepState.MET


def test_l4_1_partial_delivery_leaves_the_referral_open_and_it_goes_overdue():
    scenario = planned_case().refer(days(2), "r1", due_after=days(9))
    scenario.do(days(3), "accept_referral", referral_id="r1")
    scenario.do(
        days(4),
        "record_service_delivery",
        referral_id="r1",
        outcome="partially_delivered",
        delivered_on="2024-03-08",
        summary="first session",
    )

    assert scenario.step("L4.1", days(8), referral_id="r1").state == StepState.DUE
    assert scenario.step("L4.1", days(10), referral_id="r1").state == StepState.OVERDUE


@pytest.mark.parametrize(
    ("command", "arguments"),
    [
        ("decline_referral", {"reason": "no psychologist available"}),
        ("cancel_referral", {"reason": "no longer needed"}),
    ],
)
def test_l4_1_referral_is_settled_by_a_decline_or_a_cancellation(command, arguments):
    scenario = planned_case().refer(days(2), "r1", due_after=days(9))
    scenario.do(days(3), command, referral_id="r1", **arguments)

    status = scenario.step("L4.1", now_after=days(20), referral_id="r1")

    assert status.done_at == T0 + days(3)
    assert status.state == StepState.MET


def test_l4_1_each_referral_has_its_own_status():
    scenario = planned_case().refer(days(2), "r1", due_after=days(9))
    scenario.do(
        days(2) + minutes(5),
        "refer",
        referral_id="r2",
        service_type="legal_process",
        agency="police",
        due_at=T0 + days(4),
    )
    scenario.do(days(3), "decline_referral", referral_id="r2", reason="outside jurisdiction")

    l4_1 = [s for s in scenario.schedule(days(10)) if s.code == "L4.1"]

    assert [(s.referral_id, s.state) for s in l4_1] == [
        ("r2", StepState.MET),
        ("r1", StepState.OVERDUE),
    ]


def test_l4_1_falls_back_to_the_profile_limit_for_a_referral_recorded_without_a_due_time():
    scenario = planned_case().refer(days(2), "r1", due_after=days(5))
    recorded = case_milestones(scenario.events)
    milestones = replace(recorded, referrals=(replace(recorded.referrals[0], due_at=None),))

    [status] = [s for s in step_schedule(LUWU_UTARA, milestones, T0 + days(3)) if s.code == "L4.1"]

    assert status.due_at == T0 + days(2) + days(7)
    assert status.limit == days(7)


def test_a_referral_answer_step_runs_when_a_district_profile_sets_one():
    profile = parse_profile(
        profile_data(
            steps=[
                step_data(
                    code="R1",
                    limit="1d",
                    starts="referred",
                    ends="referral_answered",
                    per_referral=True,
                )
            ]
        )
    )
    scenario = planned_case().refer(days(2), "r1", due_after=days(9))
    scenario.do(days(2) + timedelta(hours=20), "accept_referral", referral_id="r1")

    [status] = scenario.schedule(days(4), profile)

    assert status.referral_id == "r1"
    assert status.done_at == T0 + days(2) + timedelta(hours=20)
    assert status.state == StepState.MET


# ---- 5. Monitoring and the re-assessment loop --------------------------------------------


def test_l5_2_monitoring_visit_is_due_8_days_30_minutes_after_the_plan():
    scenario = planned_case()

    status = scenario.step("L5.2", now_after=days(3))

    assert status.due_at == T0 + days(2) + days(8) + minutes(30)
    assert status.state == StepState.DUE


def test_reassessment_restarts_the_assessment_cycle_steps_l2_1_to_l5_2():
    # Given a first cycle met through its monitoring visit
    scenario = planned_case().visit(days(5), recovered=False)
    first_cycle = {s.code: s.state for s in scenario.schedule(days(6))}
    assert first_cycle["L2.1"] == first_cycle["L2.7"] == first_cycle["L3.5"] == StepState.MET
    assert first_cycle["L5.2"] == StepState.MET

    # When the beneficiary still needs services (L5.5) and re-assessment starts
    scenario.do(days(6), "start_reassessment", reason="needs legal aid")

    # Then L2.1 runs again from the re-assessment, and the later steps wait for it
    schedule = scenario.schedule(days(6) + timedelta(hours=3))
    cycle_steps = {s.code: s for s in schedule if s.stage != "identification"}
    assert set(cycle_steps) == {"L2.1"}
    assert cycle_steps["L2.1"].started_at == T0 + days(6)
    assert cycle_steps["L2.1"].state == StepState.OVERDUE
    # And the first cycle's milestones stay in the history
    milestones = case_milestones(scenario.events)
    assert [cycle.number for cycle in milestones.cycles] == [1, 2]
    assert milestones.cycles[0].monitoring_visit_recorded == T0 + days(5)
    assert milestones.current_cycle.assessment_started == T0 + days(6)


def test_reassessment_cycle_steps_are_met_against_the_new_cycle():
    scenario = planned_case().visit(days(5), recovered=False)
    scenario.do(days(6), "start_reassessment", reason="needs legal aid")
    scenario.assess(days(6) + minutes(60)).conclude(days(6) + minutes(100))

    states = {s.code: s.state for s in scenario.schedule(days(7))}

    assert states["L2.1"] == states["L2.7"] == StepState.MET
    assert states["L3.5"] == StepState.DUE
    assert "L5.2" not in states


def test_an_assessment_after_the_case_report_does_not_move_the_cycle_clocks():
    scenario = planned_case().assess(days(3))

    cycle = case_milestones(scenario.events).current_cycle

    assert cycle.latest_assessment_recorded == T0 + minutes(120)


# ---- 6. Termination and closed cases -----------------------------------------------------


def test_l6_5_termination_is_due_4_days_4_hours_after_recovery_is_found():
    scenario = planned_case().visit(days(5), recovered=True).visit(days(6), recovered=True)

    status = scenario.step("L6.5", now_after=days(7))

    assert status.started_at == T0 + days(5)
    assert status.due_at == T0 + days(9) + timedelta(hours=4)


def test_l6_5_is_withdrawn_when_a_later_visit_finds_the_beneficiary_not_recovered():
    scenario = planned_case().visit(days(5), recovered=True).visit(days(6), recovered=False)

    assert "L6.5" not in scenario.codes(days(20))


def test_l6_5_met_by_an_agreed_termination():
    scenario = planned_case().visit(days(5), recovered=True)
    scenario.do(
        days(7),
        "terminate",
        kind="agreed",
        reason="recovered",
        termination_form_ref="TF-1",
    )

    assert scenario.step("L6.5", days(30)).state == StepState.MET


def test_a_closed_case_shows_undone_steps_as_closed_not_overdue():
    # Given a case whose case report (L2.7) and referral (L4.1) were still open
    scenario = Scenario().through_consent(minutes(30)).assess(minutes(60))
    scenario.refer(minutes(70), "r1", due_after=days(7))
    # When the case is terminated unilaterally (L6.4), long after both were due
    scenario.do(days(10), "terminate", kind="unilateral", reason="whereabouts_unknown")

    schedule = scenario.schedule(days(30))
    states = {(s.code, s.referral_id): s for s in schedule}

    # Then they are closed, never done, and nothing is overdue
    for key in [("L2.7", None), ("L4.1", "r1")]:
        assert states[key].state == StepState.CLOSED
        assert states[key].done_at is None
    assert states[("L2.1", None)].state == StepState.MET
    assert overdue(schedule) == [] and open_steps(schedule) == []


def handed_over_to_patbm() -> Scenario:
    """Classified low risk at the village level (routing b) and handed over to PATBM."""
    scenario = Scenario().classify(minutes(20), risk_level="low", jurisdiction="village")
    return scenario.do(minutes(30), "hand_over", target="patbm", receiving_unit="PATBM Desa")


def test_l1_5_b_a_hand_over_is_owed_its_acknowledgement_within_a_day_though_the_case_closed():
    scenario = handed_over_to_patbm()

    at_the_limit = scenario.step("L1.5-ack", minutes(30) + days(1))
    past_it = scenario.step("L1.5-ack", minutes(31) + days(1))

    assert at_the_limit.started_at == T0 + minutes(30)
    assert at_the_limit.limit == days(1)
    assert at_the_limit.state == StepState.DUE
    assert past_it.state == StepState.OVERDUE
    # What was owed before the hand-over is not: the case left the office's handling.
    assert [s.code for s in open_steps(scenario.schedule(days(3)))] == ["L1.5-ack"]


def test_l1_5_b_the_receivers_acknowledgement_meets_the_hand_over_clock():
    scenario = handed_over_to_patbm().do(
        hours(5), "acknowledge_handover", receiving_unit="PATBM Desa", taken_by="Ibu Ketua"
    )

    step = scenario.step("L1.5-ack", days(5))

    assert step.state == StepState.MET
    assert step.done_at == T0 + hours(5)


def test_information_only_owes_no_acknowledgement():
    scenario = Scenario().do(
        minutes(25),
        "classify",
        case_type="other",
        risk_level="low",
        jurisdiction="district",
        emergency=False,
    )
    scenario.do(minutes(30), "hand_over", target="information_only")

    assert "L1.5-ack" not in scenario.codes(days(3))


def test_a_handed_back_case_owes_its_steps_again_and_a_new_hand_over_its_own_clock():
    # Given a hand-over the receiver returned after two days (L1.5: not the village's to handle)
    scenario = handed_over_to_patbm()
    scenario.do(days(2), "hand_back", reason="Risiko tinggi, bukan kewenangan desa.")
    # When the office classifies it again for district handling
    scenario.classify(days(2) + minutes(10))

    # Then the case is open again: assignment of a case worker (L1.7) runs and goes overdue
    assert scenario.step("L1.7", days(2) + hours(1)).state == StepState.DUE
    assert scenario.step("L1.7", days(3)).state == StepState.OVERDUE
    assert "L1.5-ack" not in scenario.codes(days(3))


def test_refused_consent_meets_l1_9_and_closes_the_case():
    scenario = Scenario().classify(minutes(20))
    scenario.do(minutes(40), "assign_case_worker", case_worker_id="cw-1")
    scenario.do(minutes(50), "record_contact", mode="home_visit")
    scenario.do(minutes(60), "record_consent", given=False, given_by="parent")

    schedule = scenario.schedule(days(10))

    assert {s.code: s.state for s in schedule}["L1.9"] == StepState.MET
    assert not any(s.stage == "assessment" for s in schedule)
    assert open_steps(schedule) == []


# ---- The schedule as a whole -------------------------------------------------------------


def test_schedule_is_sorted_by_due_time_then_code():
    scenario = Scenario(psychological_first_aid_needed=True, recorded_after=minutes(5))

    schedule = scenario.schedule(minutes(30))

    # L1.3 and L1.5 are both due 60 minutes after recording
    assert [(s.code, s.due_at - T0) for s in schedule] == [
        ("L1.2", minutes(15)),
        ("L1.3", minutes(65)),
        ("L1.5", minutes(65)),
    ]


def test_codes_with_the_same_due_time_sort_by_their_numbers():
    steps = [
        step_data(code="L1.10", starts="report_recorded", ends="consent_recorded"),
        step_data(code="L1.9", starts="report_recorded", ends="beneficiary_contacted"),
    ]
    profile = parse_profile(profile_data(steps=steps))

    assert [s.code for s in Scenario().schedule(minutes(10), profile)] == ["L1.9", "L1.10"]


def test_steps_whose_clock_has_not_started_are_not_listed():
    assert Scenario().codes(minutes(30)) == ["L1.2", "L1.5"]


def test_schedule_times_are_in_the_district_time_zone():
    scenario = Scenario()

    status = scenario.step("L1.2", now_after=minutes(30), profile=KOTA_BATU)

    assert status.due_at.tzinfo == ZoneInfo("Asia/Jakarta")
    assert status.due_at == T0 + minutes(60)


def test_schedule_needs_an_aware_clock():
    milestones = case_milestones(Scenario().events)

    with pytest.raises(ValueError, match="timezone-aware"):
        step_schedule(LUWU_UTARA, milestones, datetime(2024, 3, 4, 9, 0))


def test_milestones_need_one_case_beginning_with_its_report():
    first, second = Scenario(), Scenario().classify(minutes(20))

    with pytest.raises(ValueError, match="ReportReceived"):
        case_milestones(second.events[1:])
    with pytest.raises(ValueError, match="more than one case"):
        case_milestones(first.events + second.events)


def test_milestones_accept_events_in_any_order():
    scenario = Scenario().classify(minutes(20))

    assert case_milestones(list(reversed(scenario.events))) == case_milestones(scenario.events)


# ---- Profiles: numbers are configuration, not code ---------------------------------------


def test_the_five_seed_districts_load_with_distinct_register_codes():
    assert PROFILES.districts() == [
        "kota-batu",
        "kutai-timur",
        "luwu-utara",
        "purwakarta",
        "tanjungpinang",
    ]
    profiles = [PROFILES.profile(district) for district in PROFILES.districts()]
    assert len({profile.register_code for profile in profiles}) == 5
    assert {p.district: p.timezone.key for p in profiles} == {
        "kota-batu": "Asia/Jakarta",
        "kutai-timur": "Asia/Makassar",  # East Kalimantan, WITA
        "luwu-utara": "Asia/Makassar",
        "purwakarta": "Asia/Jakarta",
        "tanjungpinang": "Asia/Jakarta",  # Riau Islands, WIB
    }
    for profile in profiles:
        assert profile.step("L4.1").per_referral  # the case service reads it when referring
        # Every district runs the same thirteen clocks, so compliance compares; a district
        # adds the clocks of steps of its own after them (Tanjungpinang's T3, K-C3...).
        common = [step.code for step in LUWU_UTARA.steps]
        assert [step.code for step in profile.steps][: len(common)] == common
    assert {p.district: [s.code for s in p.steps[len(LUWU_UTARA.steps) :]] for p in profiles} == {
        "kota-batu": [],
        "kutai-timur": ["K-C3", "K-C5", "K-C8", "K-I6"],
        "luwu-utara": [],
        "purwakarta": [],
        "tanjungpinang": ["T3"],
    }


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


# (district, step) -> (due from, overdue after), and where the number comes from.
SEED_CLOCKS = {
    # Kota Batu (000_): B1, B2 + B3, B4; the rest fall back to Luwu Utara.
    ("kota-batu", "L1.2"): (None, minutes(60)),  # B1 identifikasi korban
    ("kota-batu", "L1.5"): (None, minutes(60 + 30)),  # B2 assessment + B3 classification
    ("kota-batu", "L2.1"): (None, minutes(60)),  # B4 screening, home visit
    ("kota-batu", "L4.1"): (None, days(7)),  # fallback: no time for referred services
    # Purwakarta (001_): P1, P2 + P3, P4, P6.
    ("purwakarta", "L1.2"): (None, minutes(15)),  # P1 pengaduan
    ("purwakarta", "L1.5"): (None, minutes(120 + 15)),  # P2 assessment + P3 classification
    ("purwakarta", "L2.1"): (None, minutes(120)),  # P4 screening
    ("purwakarta", "L5.2"): (None, days(7) + minutes(240)),  # L4.1 fallback + P6 monitoring
    ("purwakarta", "L4.1"): (None, days(7)),  # fallback
    # Tanjungpinang (003_): T1, T2 + T3, T2, T3, T4; ranges are due from their start.
    ("tanjungpinang", "L1.2"): (None, minutes(15)),  # T1
    ("tanjungpinang", "L1.5"): (minutes(30 + 30), minutes(30 + 60)),  # T2 + T3
    ("tanjungpinang", "L2.1"): (None, minutes(30)),  # T2
    ("tanjungpinang", "L2.7"): (minutes(30), minutes(60)),  # T3 30-60 menit
    ("tanjungpinang", "L4.1"): (days(3), days(7)),  # T4 3-7 hari
    ("tanjungpinang", "L1.9"): (None, days(1)),  # fallback: no consent step
    # Kutai Timur (004_): K-C1, K-C2, K-C3, K-C4, K-C9, K-C5 + K-C6, K-O10.
    ("kutai-timur", "L1.2"): (None, minutes(30)),  # K-C1
    ("kutai-timur", "L1.5"): (None, hours(2)),  # K-C2 initial assessment
    ("kutai-timur", "L1.9"): (None, days(1)),  # fallback: no consent step
    ("kutai-timur", "K-C3"): (None, hours(1)),  # services offered, family decides
    ("kutai-timur", "K-C5"): (None, days(7)),  # case conference, 1 minggu
    ("kutai-timur", "K-C8"): (None, days(1)),  # recommendation approved and referred
    ("tanjungpinang", "T3"): (minutes(30), minutes(60)),  # coordination with the superior
    ("kutai-timur", "L2.1"): (None, days(1)),  # K-C4 further assessment
    ("kutai-timur", "L2.7"): (None, hours(1)),  # K-C9 assessment report
    ("kutai-timur", "L3.5"): (None, days(7) + days(1)),  # K-C5 conference + K-C6 plan
    ("kutai-timur", "L4.1"): (None, days(7)),  # fallback: "sesuai kebutuhan" (K-O9)
    ("kutai-timur", "L5.2"): (None, days(7) + days(1)),  # L4.1 fallback + K-O10
    ("kutai-timur", "K-I6"): (None, days(90)),  # Reintegrasi Sosial K-I6 3 bulan, K-I7 ends it
}


@pytest.mark.parametrize(("district", "code"), sorted(SEED_CLOCKS))
def test_each_district_runs_its_own_seeds_clocks(district, code):
    step = PROFILES.profile(district).step(code)

    assert (step.due_from, step.limit) == SEED_CLOCKS[(district, code)]


def test_a_range_falls_due_at_its_start_and_is_overdue_only_after_its_end():
    """Tanjungpinang T4: referral services take 3-7 hari."""
    tanjungpinang = PROFILES.profile("tanjungpinang")
    scenario = planned_case().refer(days(2), "r1", due_after=days(2) + days(7))

    def on(day: float) -> StepStatus:
        (status,) = [s for s in scenario.schedule(days(2 + day), tanjungpinang) if s.code == "L4.1"]
        return status

    on_day_6, on_day_8 = on(6), on(8)

    assert on(3 - 1 / 1440).state == StepState.UPCOMING
    assert on(3).state == StepState.DUE
    assert on(7).state == StepState.DUE
    assert on_day_6.state == StepState.DUE
    assert on_day_6.due_from == (T0 + days(2 + 3)).astimezone(tanjungpinang.timezone)
    assert on_day_8.state == StepState.OVERDUE
    assert [s.due_from for s in scenario.schedule(days(8), LUWU_UTARA) if s.code == "L4.1"] == [
        None
    ]


def test_luwu_utara_limits_follow_perbup_58_2023():
    limits = {step.code: step.limit for step in LUWU_UTARA.steps}

    assert limits == {
        "L1.2": minutes(15),
        "L1.3": minutes(60),
        "L1.5": minutes(60),
        "L1.5-ack": days(1),  # fallback: no time for the receiver; L1.8's 1 hari
        "L1.6": days(1),
        "L1.7": minutes(120),
        "L1.8": days(1),
        "L1.9": days(1),
        "L2.1": minutes(120),
        "L2.7": minutes(60),
        "L3.5": days(3) + minutes(60),
        "L4.1": days(7),
        "L5.2": days(8) + minutes(30),
        "L6.5": days(4) + timedelta(hours=4),
    }


def test_a_districts_own_numbers_change_the_schedule_for_the_same_case():
    # Given a report recorded 30 minutes after it arrived and classified 80 minutes after that
    scenario = Scenario(recorded_after=minutes(30)).classify(minutes(110))

    luwu = {s.code: s.state for s in scenario.schedule(days(1), LUWU_UTARA)}
    batu = {s.code: s.state for s in scenario.schedule(days(1), KOTA_BATU)}

    # Then Luwu Utara (L1.2 15 min, L1.5 60 min) finds both late; Kota Batu (60, 90) does not
    assert (luwu["L1.2"], luwu["L1.5"]) == (StepState.LATE, StepState.LATE)
    assert (batu["L1.2"], batu["L1.5"]) == (StepState.MET, StepState.MET)


def test_a_profile_directory_overrides_a_bundled_district(tmp_path: Path):
    bundled = (Path(__file__).parents[2] / "domain/sop/profiles/luwu-utara.toml").read_text()
    (tmp_path / "luwu-utara.toml").write_text(bundled.replace('limit = "15m"', 'limit = "45m"'))
    scenario = Scenario(recorded_after=minutes(30))

    profile = load_profiles(tmp_path).profile("luwu-utara")

    assert scenario.step("L1.2", minutes(40), profile).state == StepState.MET


# ---- Parsing profiles --------------------------------------------------------------------


def step_data(**overrides: Any) -> dict[str, Any]:
    step = {
        "code": "L1.2",
        "stage": "identification",
        "title_id": "Laporan diterima dan dicatat",
        "title_en": "Report received and recorded",
        "limit": "15m",
        "starts": "report_arrived",
        "ends": "report_recorded",
    }
    step.update(overrides)
    return step


def profile_data(**overrides: Any) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "district": "contoh",
        "name": "Kabupaten Contoh",
        "timezone": "Asia/Jayapura",
        "register_code": "CTH",
        "steps": [step_data()],
    }
    profile.update(overrides)
    return profile


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", minutes(15)),
        ("2h", timedelta(hours=2)),
        ("7d", days(7)),
        ("3d 1h", days(3) + timedelta(hours=1)),
        ("8d30m", days(8) + minutes(30)),
    ],
)
def test_durations_are_minutes_hours_days_or_their_sum(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "15", "15 min", "1h 3d", "0m", "-5m", "1w", 15])
def test_bad_durations_are_rejected(text):
    with pytest.raises(ProfileError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (step_data(starts="clasified"), r"steps\[0\] \(L1.2\): 'starts' names unknown milestone"),
        (step_data(ends="case_closed"), r"steps\[0\] \(L1.2\): 'ends' names unknown milestone"),
        (step_data(when="urgent"), r"steps\[0\] \(L1.2\): 'when' names unknown condition"),
        (step_data(limit="15 minutes"), r"steps\[0\] \(L1.2\): 'limit': duration"),
        (step_data(limit="0m"), r"steps\[0\] \(L1.2\): 'limit': duration .* longer than zero"),
        (step_data(ends="referral_settled"), r"'ends' is the referral milestone"),
        (step_data(per_referral="yes"), r"'per_referral' must be true or false"),
        (step_data(per_referral=True), r"'per_referral' needs 'starts' or 'ends'"),
        (step_data(ends="report_arrived"), r"'starts' and 'ends' must be different"),
        ({k: v for k, v in step_data().items() if k != "limit"}, r"'limit' is missing"),
        (step_data(code=""), r"steps\[0\]: 'code' must be non-empty text"),
    ],
)
def test_profile_steps_with_bad_fields_are_rejected_naming_the_field(step, message):
    with pytest.raises(ProfileError, match=message):
        parse_profile(profile_data(steps=[step]))


@pytest.mark.parametrize(
    ("due_from", "message"),
    [
        ("3 days", r"steps\[0\] \(L1.2\): 'due_from': duration"),
        ("15m", r"steps\[0\] \(L1.2\): 'due_from' must be shorter than 'limit'"),
        ("1h", r"steps\[0\] \(L1.2\): 'due_from' must be shorter than 'limit'"),
    ],
)
def test_a_range_whose_start_is_not_before_its_end_is_rejected(due_from, message):
    with pytest.raises(ProfileError, match=message):
        parse_profile(profile_data(steps=[step_data(due_from=due_from)]))


def test_a_bad_range_in_a_profile_file_names_the_file_step_and_field(tmp_path: Path):
    bundled = (Path(__file__).parents[2] / "domain/sop/profiles/tanjungpinang.toml").read_text()
    (tmp_path / "tanjungpinang.toml").write_text(
        bundled.replace('due_from = "3d"', 'due_from = "8d"')
    )

    with pytest.raises(ProfileError) as caught:
        load_profiles(tmp_path)

    assert str(caught.value).startswith("tanjungpinang.toml: steps[11] (L4.1): 'due_from'")


def test_the_coordinating_agency_is_the_uptd_ppa_unless_a_profile_names_another():
    assert parse_profile(profile_data()).coordinating_agency == Agency.UPTD_PPA
    assert parse_profile(profile_data(coordinating_agency="social")).coordinating_agency == (
        Agency.SOCIAL
    )
    assert {d: PROFILES.coordinating_agency(d) for d in PROFILES.districts()} == {
        "kota-batu": Agency.UPTD_PPA,
        "kutai-timur": Agency.SOCIAL,  # the PKSAI, its Divisi Penanganan led by Dinas Sosial
        "luwu-utara": Agency.UPTD_PPA,
        "purwakarta": Agency.UPTD_PPA,  # the merged Dinsos-P3A office's PPA field
        "tanjungpinang": Agency.SOCIAL,  # Dinas Sosial, Bidang Rehabilitasi Sosial
    }
    assert PROFILES.coordinating_agency("no-such-district") == Agency.UPTD_PPA


@pytest.mark.parametrize("agency", ["dinsos", "province", 7])
def test_a_coordinating_agency_that_cannot_coordinate_a_district_is_rejected(agency):
    """The province serves several districts, so it is no district's coordinating office."""
    with pytest.raises(ProfileError, match="'coordinating_agency' must be one of"):
        parse_profile(profile_data(coordinating_agency=agency))


def test_the_order_of_assessment_and_classification_is_a_profile_setting():
    orders = {d: PROFILES.profile(d).assessment_before_classification for d in PROFILES.districts()}

    assert orders == {
        "kota-batu": "B2",
        "kutai-timur": None,
        "luwu-utara": None,
        "purwakarta": "P2",
        "tanjungpinang": None,
    }


@pytest.mark.parametrize(
    ("order", "message"),
    [
        ("B2", r"order: must be a table"),
        ({"assess_first": "B2"}, r"order: unknown settings \['assess_first'\]"),
        ({"assessment_before_classification": ""}, r"order: 'assessment_before_classification'"),
    ],
)
def test_a_bad_order_setting_is_rejected_naming_it(order, message):
    with pytest.raises(ProfileError, match=message):
        parse_profile(profile_data(order=order))


# ---- Optional processes ---------------------------------------------------------------------


def test_a_profile_runs_only_the_optional_processes_it_lists():
    assert parse_profile(profile_data()).processes == frozenset()
    profile = parse_profile(profile_data(processes=["shelter", "mediation"]))

    assert profile.processes == {Process.SHELTER, Process.MEDIATION}
    assert profile.runs(Process.SHELTER) and not profile.runs(Process.REINTEGRATION)


def test_each_seed_district_runs_the_optional_processes_its_sop_has():
    processes = {d: PROFILES.profile(d).processes for d in PROFILES.districts()}

    assert processes == {
        "kota-batu": {Process.MEDIATION},  # B5
        "kutai-timur": {
            Process.OUTREACH,  # K-O1-O11
            Process.REINTEGRATION,  # K-I1-I8
            Process.SUPERVISOR_APPROVAL,  # K-C7-C8
        },
        "luwu-utara": set(),
        "purwakarta": {Process.MEDIATION},  # P5
        "tanjungpinang": {Process.SHELTER},  # T4d
    }


@pytest.mark.parametrize(
    ("processes", "message"),
    [
        (["mediasi"], r"profile: 'processes' names unknown process 'mediasi'; known: mediation"),
        ("mediation", r"profile: 'processes' must be a list of process names"),
        ([["shelter"]], r"profile: 'processes' must be a list of process names"),
        (["shelter", "shelter"], r"profile: 'processes' must not repeat a process"),
    ],
)
def test_a_bad_processes_setting_is_rejected_naming_the_field(processes, message):
    with pytest.raises(ProfileError, match=message):
        parse_profile(profile_data(processes=processes))


def test_an_unknown_process_in_a_profile_file_names_the_file_and_field(tmp_path: Path):
    bundled = (Path(__file__).parents[2] / "domain/sop/profiles/purwakarta.toml").read_text()
    (tmp_path / "purwakarta.toml").write_text(
        bundled.replace('processes = ["mediation"]', 'processes = ["mediation", "rumah_aman"]')
    )

    with pytest.raises(ProfileError) as caught:
        load_profiles(tmp_path)

    assert str(caught.value).startswith(
        "purwakarta.toml: profile: 'processes' names unknown process 'rumah_aman'"
    )


@pytest.mark.parametrize(
    ("milestone", "process"),
    sorted((milestone, process.value) for milestone, process in PROCESS_OF_MILESTONE.items()),
)
def test_a_step_on_a_milestone_of_a_process_not_run_is_rejected_naming_step_and_field(
    milestone, process
):
    step = step_data(code="X1", starts="report_recorded", ends=milestone)

    with pytest.raises(ProfileError) as caught:
        parse_profile(profile_data(steps=[step_data(), step]))

    assert str(caught.value) == (
        f"steps[1] (X1): 'ends' is the milestone {milestone!r} of the {process} process, "
        "which 'processes' does not list"
    )
    assert parse_profile(profile_data(steps=[step], processes=[process])).step("X1")


def test_a_clock_started_by_a_process_not_run_names_the_file_step_and_field(tmp_path: Path):
    """Kutai Timur's K-I6 runs from the reunification (K-I4): without reintegration, never."""
    bundled = (Path(__file__).parents[2] / "domain/sop/profiles/kutai-timur.toml").read_text()
    (tmp_path / "kutai-timur.toml").write_text(
        bundled.replace(
            'processes = ["outreach", "reintegration", "supervisor_approval"]',
            'processes = ["outreach", "supervisor_approval"]',
        )
    )

    with pytest.raises(ProfileError) as caught:
        load_profiles(tmp_path)

    assert str(caught.value) == (
        "kutai-timur.toml: steps[17] (K-I6): 'starts' is the milestone 'reunified' of the "
        "reintegration process, which 'processes' does not list"
    )


def test_a_referral_approval_without_the_supervisor_approval_process_is_rejected():
    """K-C8 in [order] makes every referral wait for a supervisor's approval, which a
    district without the process could never record."""
    with pytest.raises(ProfileError) as caught:
        parse_profile(profile_data(order={"referral_approval": "K-C8"}))

    assert str(caught.value) == (
        "order: 'referral_approval' needs the supervisor_approval process, "
        "which 'processes' does not list"
    )


def test_the_milestones_of_a_process_are_milestones_a_step_can_name():
    assert set(PROCESS_OF_MILESTONE) <= KNOWN_MILESTONES


def test_a_district_refuses_a_process_it_does_not_run_naming_the_process_and_district():
    kota_batu = PROFILES.profile("kota-batu")
    kota_batu.require_runs(Process.MEDIATION, step="B5")

    with pytest.raises(ProcessNotRun) as caught:
        kota_batu.require_runs(Process.SHELTER, step="T4d")

    assert (caught.value.rule, caught.value.step) == ("process_not_run", "T4d")
    assert str(caught.value) == (
        "the district Kota Batu (kota-batu) does not run the shelter process "
        "(its profile's 'processes' does not list it)"
    )


def test_profile_with_duplicate_step_codes_is_rejected():
    steps = [step_data(), step_data(limit="30m")]

    with pytest.raises(ProfileError, match=r"steps\[1\]: 'code' 'L1.2' repeats steps\[0\]"):
        parse_profile(profile_data(steps=steps))


@pytest.mark.parametrize("timezone", ["Asia/Makasar", "WITA", ""])
def test_profile_with_an_unknown_time_zone_is_rejected(timezone):
    with pytest.raises(ProfileError, match="'timezone'"):
        parse_profile(profile_data(timezone=timezone))


def test_profile_without_steps_is_rejected():
    with pytest.raises(ProfileError, match="'steps'"):
        parse_profile(profile_data(steps=[]))


def test_every_known_milestone_and_condition_is_accepted():
    steps = [
        step_data(
            code=f"S{index}",
            starts="referred" if milestone != "referred" else "report_recorded",
            ends=milestone,
            per_referral=True,
            when=sorted(KNOWN_CONDITIONS)[index % len(KNOWN_CONDITIONS)],
        )
        for index, milestone in enumerate(sorted(KNOWN_MILESTONES))
    ]

    profile = parse_profile(profile_data(steps=steps, processes=[p.value for p in Process]))

    assert {step.ends for step in profile.steps} == KNOWN_MILESTONES


def test_every_known_milestone_is_read_off_a_full_case():
    # Given a case that passes every milestone once
    scenario = Scenario(psychological_first_aid_needed=True)
    scenario.do(minutes(10), "give_psychological_first_aid", notes="calmed")
    # L1.5 b, then handed back by the village group: the office classifies it again.
    scenario.classify(minutes(12), risk_level="low", jurisdiction="village")
    scenario.do(minutes(13), "hand_over", target="patbm")
    scenario.do(minutes(14), "acknowledge_handover")
    # The hand-back withdraws the hand-over's milestones (a later one has its own clock).
    while_handed_over = case_milestones(scenario.events)
    scenario.do(minutes(15), "hand_back", reason="not the village's to handle")
    scenario.classify(minutes(20), emergency=True)
    scenario.do(minutes(25), "record_emergency_response", actions=["safe house"])
    scenario.do(minutes(30), "assign_case_worker", case_worker_id="cw-1")
    scenario.do(minutes(40), "record_contact", mode="home_visit")
    scenario.do(
        minutes(45),
        "record_family_decision",
        offered_services=["medical_care"],
        accepted_services=["medical_care"],
        decided_by="parent",
    )
    scenario.do(minutes(50), "record_consent", given=True, given_by="parent", document_ref="IC")
    scenario.do(
        minutes(52),
        "hold_case_conference",
        held_on="2024-03-04",
        participating_agencies=["health"],
        decisions=["refer"],
    )
    scenario.do(
        minutes(55),
        "hold_mediation",
        held_on="2024-03-04",
        parties=["victim", "neighbour"],
        perpetrator_is_child=False,
        agreement_reached=False,
        agreements=[],
    )
    for activity in ("preparation", "child_counselling", "caregiver_counselling"):
        scenario.do(
            minutes(56), "record_reintegration_step", activity=activity, done_on="2024-03-04"
        )
    scenario.do(minutes(57), "reunify_child", reunified_on="2024-03-04", reunified_with="family")
    scenario.do(
        minutes(58),
        "record_reintegration_visit",
        visited_on="2024-03-04",
        mode="phone",
        findings="ok",
    )
    scenario.do(
        minutes(59),
        "evaluate_reintegration",
        evaluated_on="2024-03-04",
        reintegrated=True,
        findings="ok",
    )
    scenario.assess(minutes(60))
    scenario.do(minutes(65), "review_assessment", outcome="agreed")
    scenario.conclude(minutes(70)).agree_plan(days(1))
    scenario.do(days(1) + minutes(30), "record_accompaniment", activity="to the puskesmas")
    scenario.do(
        days(1),
        "recommend_referral",
        by=CASE_WORKER,
        recommendation_id="rec-1",
        service_type="medical_care",
        agency="health",
        rationale="injuries",
    )
    scenario.do(
        days(1),
        "approve_recommendation",
        recommendation_id="rec-1",
        referral_id="r1",
        due_at=T0 + days(8),
        recommendation_letter_ref="REK/1",
        referral_record_ref="BAR/1",
    )

    scenario.do(days(2), "accept_referral", referral_id="r1")
    scenario.do(
        days(3),
        "record_service_delivery",
        referral_id="r1",
        outcome="completed",
        delivered_on="2024-03-07",
        summary="done",
    )
    scenario.visit(days(4), recovered=True)
    scenario.do(days(5), "terminate", kind="agreed", reason="recovered", termination_form_ref="T")

    milestones = case_milestones(scenario.events)
    referral = milestones.referrals[0]

    # Then each milestone has a time
    handover = {"handed_over_to_agency", "handover_acknowledged"}
    missing = [
        name
        for name in KNOWN_MILESTONES - handover
        if (referral.at(name) if name in REFERRAL_MILESTONES else milestones.at(name)) is None
    ]
    assert missing == []
    assert all(while_handed_over.at(name) is not None for name in handover)
    assert all(milestones.at(name) is None for name in handover)
    assert all(milestones.holds(condition) for condition in KNOWN_CONDITIONS)
    assert milestones.is_closed
    schedule = step_schedule(LUWU_UTARA, milestones, T0 + days(9))
    # The L4.4 window's later months fell after the case closed: owed no more.
    assert {s.code: s.state for s in schedule if s.state != StepState.MET} == {
        "L4.4-2": StepState.CLOSED,
        "L4.4-3": StepState.CLOSED,
    }


# ---- Limits per service and per risk (L2.3, L4.1) ----------------------------------------


def referral_step(**overrides: Any) -> dict[str, Any]:
    return step_data(
        code="L4.1",
        stage="intervention",
        limit="7d",
        starts="referred",
        ends="referral_settled",
        per_referral=True,
        **overrides,
    )


def test_luwu_utara_gives_a_specialist_assessment_referral_two_days_and_others_seven():
    """L2.3 "membantu mengakseskan ... untuk asesmen lanjutan": 2 hari; L4.1: 7 hari."""
    step = LUWU_UTARA.step("L4.1")

    assert step.limit_for(service_type="specialist_assessment") == days(2)
    assert step.limit_for(service_type="medical_care") == days(7)
    assert step.limit_for() == days(7)


def test_a_referral_for_a_specialist_assessment_is_overdue_after_day_two_in_luwu_utara():
    scenario = planned_case().do(
        days(2),
        "refer",
        referral_id="specialist",
        service_type="specialist_assessment",
        agency="province",
        due_at=T0 + days(4),
    )

    on_day_2 = scenario.step("L4.1", days(4), referral_id="specialist")
    after_day_2 = scenario.step("L4.1", days(4) + minutes(1), referral_id="specialist")

    assert on_day_2.state == StepState.DUE
    assert after_day_2.state == StepState.OVERDUE
    assert after_day_2.limit == days(2)


def test_a_limit_per_risk_level_applies_to_the_latest_classification_and_the_shorter_wins():
    profile = parse_profile(
        profile_data(
            steps=[
                step_data(
                    code="L1.7",
                    limit="120m",
                    starts="routed_to_district",
                    ends="case_worker_assigned",
                    limit_by_risk={"high": "30m"},
                ),
                referral_step(
                    limit_by_service={"medical_care": "1d"}, limit_by_risk={"high": "2h"}
                ),
            ]
        )
    )
    referral = profile.step("L4.1")

    assert referral.limit_for(service_type="medical_care", risk_level="high") == timedelta(hours=2)
    assert referral.limit_for(service_type="medical_care", risk_level="low") == days(1)
    assert referral.limit_for(service_type="legal_process", risk_level="medium") == days(7)
    high = Scenario().classify(minutes(10), risk_level="high")
    medium = Scenario().classify(minutes(10), risk_level="medium")
    assert high.step("L1.7", minutes(41), profile).state == StepState.OVERDUE
    assert medium.step("L1.7", minutes(41), profile).state == StepState.DUE


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (referral_step(limit_by_service={"haircut": "1d"}), "'limit_by_service' names unknown"),
        (referral_step(limit_by_risk={"extreme": "1h"}), "'limit_by_risk' names unknown"),
        (referral_step(limit_by_risk={"high": "soon"}), "'limit_by_risk.high'"),
        (step_data(limit_by_service={"medical_care": "1d"}), "needs per_referral = true"),
        (
            referral_step(due_from="3d", limit_by_service={"medical_care": "2d"}),
            "'due_from' must be shorter than the limit for 'medical_care'",
        ),
    ],
)
def test_a_malformed_limit_per_service_or_risk_is_refused_naming_the_step_and_field(step, message):
    with pytest.raises(ProfileError) as caught:
        parse_profile(profile_data(steps=[step]))

    assert message in str(caught.value)
    assert "steps[0]" in str(caught.value)


# ---- Kutai Timur's and Tanjungpinang's own steps (K-C3, K-C5, K-C8, T3) --------------------


def test_kutai_timur_owes_the_family_decision_one_hour_after_classification():
    """K-C3: 1 jam; output "keputusan pengadu/keluarga anak"."""
    kutai_timur = PROFILES.profile("kutai-timur")
    scenario = Scenario().classify(minutes(20))

    assert scenario.step("K-C3", minutes(80), kutai_timur).state == StepState.DUE
    assert scenario.step("K-C3", minutes(81), kutai_timur).state == StepState.OVERDUE
    scenario.do(
        minutes(70),
        "record_family_decision",
        offered_services=["medical_care"],
        accepted_services=[],
        decided_by="parent",
    )
    assert scenario.step("K-C3", minutes(81), kutai_timur).state == StepState.MET


def test_kutai_timur_owes_the_approval_one_day_after_a_recommendation_and_none_before():
    """K-C8: 1 hari from the Peksos's proposal (K-C7) to the approval and referral."""
    kutai_timur = PROFILES.profile("kutai-timur")
    scenario = planned_case()
    assert "K-C8" not in [s.code for s in scenario.schedule(days(3), kutai_timur)]

    scenario.do(
        days(3),
        "recommend_referral",
        by=CASE_WORKER,
        recommendation_id="rec-1",
        service_type="medical_care",
        agency="health",
        rationale="injuries",
    )

    assert scenario.step("K-C8", days(4), kutai_timur).state == StepState.DUE
    assert scenario.step("K-C8", days(4) + minutes(1), kutai_timur).state == StepState.OVERDUE


def test_tanjungpinang_reviews_the_assessment_with_the_superior_in_30_to_60_minutes():
    """T3 "koordinasi dengan atasan tentang hasil assessment": 30 - 60 menit."""
    tanjungpinang = PROFILES.profile("tanjungpinang")
    scenario = Scenario().through_consent(minutes(30)).assess(minutes(120))

    due = scenario.step("T3", minutes(180), tanjungpinang)
    assert (due.state, due.due_from) == (
        StepState.DUE,
        (T0 + minutes(150)).astimezone(tanjungpinang.timezone),
    )
    assert scenario.step("T3", minutes(181), tanjungpinang).state == StepState.OVERDUE
    scenario.do(minutes(170), "review_assessment", outcome="agreed")
    assert scenario.step("T3", minutes(181), tanjungpinang).state == StepState.MET


# ---- Kutai Timur's social reintegration: K-I4 starts 3 months of monitoring (K-I6) -------

KUTAI_TIMUR = PROFILES.profile("kutai-timur")
REUNIFIED_AFTER = days(10)


def prepared_case() -> Scenario:
    """Consent, then K-I1-I3 two days after the report."""
    scenario = Scenario().through_consent(minutes(20))
    for hour, activity in enumerate(["preparation", "child_counselling", "caregiver_counselling"]):
        scenario.do(
            days(2) + hours(hour),
            "record_reintegration_step",
            activity=activity,
            done_on="2024-03-06",
        )
    return scenario


def reunified_case() -> Scenario:
    """K-I4 reunification REUNIFIED_AFTER the report, once prepared."""
    return prepared_case().do(
        REUNIFIED_AFTER, "reunify_child", reunified_on="2024-03-14", reunified_with="family"
    )


def test_k_i6_the_evaluation_is_due_through_the_90th_day_after_reunification():
    scenario = reunified_case()

    status = scenario.step("K-I6", REUNIFIED_AFTER + days(90), KUTAI_TIMUR)

    assert status.state == StepState.DUE
    assert status.due_at == (T0 + REUNIFIED_AFTER + days(90)).astimezone(KUTAI_TIMUR.timezone)


def test_k_i6_the_evaluation_is_overdue_on_the_91st_day_after_reunification():
    scenario = reunified_case()

    status = scenario.step("K-I6", REUNIFIED_AFTER + days(91), KUTAI_TIMUR)

    assert status.state == StepState.OVERDUE


def test_k_i6_monitoring_visits_do_not_stop_the_clock_the_evaluation_does():
    scenario = reunified_case()
    scenario.do(
        REUNIFIED_AFTER + days(30),
        "record_reintegration_visit",
        visited_on="2024-04-13",
        mode="home_visit",
        findings="settled",
    )
    assert scenario.step("K-I6", REUNIFIED_AFTER + days(60), KUTAI_TIMUR).state == StepState.DUE

    scenario.do(
        REUNIFIED_AFTER + days(90),
        "evaluate_reintegration",
        evaluated_on="2024-06-12",
        reintegrated=True,
        findings="reintegrated",
    )

    status = scenario.step("K-I6", REUNIFIED_AFTER + days(200), KUTAI_TIMUR)
    assert status.state == StepState.MET
    assert status.done_at == (T0 + REUNIFIED_AFTER + days(90)).astimezone(KUTAI_TIMUR.timezone)


def test_k_i6_an_evaluation_on_the_91st_day_is_late():
    scenario = reunified_case()
    scenario.do(
        REUNIFIED_AFTER + days(30),
        "record_reintegration_visit",
        visited_on="2024-04-13",
        mode="phone",
        findings="settled",
    )
    scenario.do(
        REUNIFIED_AFTER + days(91),
        "evaluate_reintegration",
        evaluated_on="2024-06-13",
        reintegrated=False,
        findings="not yet",
    )

    assert scenario.step("K-I6", REUNIFIED_AFTER + days(92), KUTAI_TIMUR).state == StepState.LATE


def test_k_i6_has_no_clock_before_reunification_nor_in_other_districts():
    assert "K-I6" not in [s.code for s in prepared_case().schedule(days(100), KUTAI_TIMUR)]
    assert "K-I6" not in reunified_case().codes(REUNIFIED_AFTER + days(1))  # Luwu Utara


def test_a_shelter_stay_starts_no_clock_of_its_own_in_tanjungpinang():
    """T4d: the SOP sets no length of stay ("tergantung kasus"); a referred stay runs L4.1."""
    tanjungpinang = PROFILES.profile("tanjungpinang")
    scenario = Scenario().through_consent(minutes(20))
    before = [s.code for s in scenario.schedule(days(1), tanjungpinang)]

    scenario.do(days(1), "admit_to_shelter", shelter="rsts_dinsos", admitted_on="2024-03-05")

    assert [s.code for s in scenario.schedule(days(1), tanjungpinang)] == before


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ("not a table", "step_numbers"),
        ({"P5": "mediation"}, "step_numbers.P5"),
        ({"P5": 5}, "step_numbers.P5"),
        ({"five": "B5"}, "step_numbers: key 'five'"),
    ],
)
def test_a_profiles_step_numbers_must_be_step_numbers(table, field):
    with pytest.raises(ProfileError) as caught:
        parse_profile(profile_data(step_numbers=table))

    assert str(caught.value).startswith(field)


def test_a_district_names_simpuls_steps_by_its_own_numbers():
    assert KOTA_BATU.own_step("P5") == "B5"
    assert KOTA_BATU.own_step("L1.5") == "L1.5"
    assert LUWU_UTARA.own_step("P5") == "P5"
    assert PROFILES.profile("kutai-timur").own_step("L3.3") == "K-C5"
    assert LUWU_UTARA.own_step(None) is None


# ---- Recurring windows (L4.4 accompaniment "1-3 bulan") ---------------------------------


def accompanied(*days_after_plan: float) -> Scenario:
    """A plan agreed on day 2, then an accompaniment on each day given after it."""
    scenario = planned_case()
    for day in days_after_plan:
        scenario.do(days(2 + day), "record_accompaniment", activity="home visit")
    return scenario


def window(scenario: Scenario, now_after_plan: float) -> dict[str, StepStatus]:
    return {
        s.code: s for s in scenario.schedule(days(2 + now_after_plan)) if s.code.startswith("L4.4-")
    }


def test_l4_4_accompaniment_is_owed_once_in_each_30_days_of_the_3_months_after_the_plan():
    periods = window(accompanied(), 10)

    assert list(periods) == ["L4.4-1", "L4.4-2", "L4.4-3"]
    assert [p.state for p in periods.values()] == [
        StepState.DUE,
        StepState.UPCOMING,
        StepState.UPCOMING,
    ]
    assert periods["L4.4-2"].due_from == T0 + days(2 + 30)
    assert periods["L4.4-3"].due_at == T0 + days(2 + 90)


def test_l4_4_a_month_without_accompaniment_is_overdue_and_one_with_it_met():
    scenario = accompanied(5, 65)

    periods = window(scenario, 70)

    assert periods["L4.4-1"].state == StepState.MET
    assert periods["L4.4-1"].done_at == T0 + days(2 + 5)
    assert periods["L4.4-2"].state == StepState.OVERDUE
    assert periods["L4.4-3"].state == StepState.MET


def test_l4_4_a_case_closed_early_owes_the_rest_of_the_window_no_more():
    scenario = accompanied(5)
    scenario.do(days(2 + 20), "terminate", kind="unilateral", reason="whereabouts_unknown")

    periods = window(scenario, 80)

    assert [p.state for p in periods.values()] == [
        StepState.MET,
        StepState.CLOSED,
        StepState.CLOSED,
    ]


def test_only_luwu_utaras_regulation_sets_an_accompaniment_window():
    assert [w.code for w in LUWU_UTARA.windows] == ["L4.4"]
    assert (LUWU_UTARA.windows[0].every, LUWU_UTARA.windows[0].length) == (days(30), days(90))
    assert all(PROFILES.profile(d).windows == () for d in ("kota-batu", "tanjungpinang"))


def window_data(**overrides: Any) -> dict[str, Any]:
    return {
        "code": "W1",
        "stage": "intervention",
        "title_id": "Pendampingan",
        "title_en": "Accompaniment",
        "starts": "intervention_plan_agreed",
        "activity": "accompaniment",
        "every": "30d",
        "length": "90d",
        **overrides,
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"activity": "dancing"}, "windows[0] (W1): 'activity' names unknown activity"),
        ({"starts": "referred"}, "windows[0] (W1): 'starts' is the referral milestone"),
        ({"every": "40d", "length": "30d"}, "windows[0] (W1): 'length' must be at least"),
        ({"every": "1m"}, "windows[0] (W1): 'every' cuts 'length' into more than 52"),
        ({"every": "soon"}, "windows[0] (W1): 'every'"),
        ({"code": "S1"}, "windows[0]: 'code' 'S1' repeats a step's code"),
    ],
)
def test_a_bad_window_names_the_window_and_the_field(overrides, message):
    data = profile_data(steps=[step_data(code="S1")], windows=[window_data(**overrides)])

    with pytest.raises(ProfileError) as caught:
        parse_profile(data)

    assert str(caught.value).startswith(message)
