"""The Case aggregate's rules, one behaviour per test, each tied to its SOP step.

Every refused command must leave the case exactly as it was: ``refused``
checks the error and that no event was recorded.
"""

import inspect
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from copy import deepcopy
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application

from domain.actors import Actor, NoActorError, acting_as
from domain.case import Case
from domain.errors import (
    AgencyNotConnected,
    CaseClosed,
    InvalidValue,
    ReferralNotFound,
    RuleViolated,
)
from domain.vocabulary import ReferralStatus, Stage
from gateways.eventstore.environment import memory_env
from tests.support.builders import (
    AGENCY_SERVICES,
    CASE_WORKER,
    COMMAND_ARGUMENTS,
    COORDINATOR,
    FIXED_TIME,
    HEALTH_OFFICER,
    INTAKE_OFFICER,
    RECEIVING_AGENCIES,
    REFERRAL_ID,
    REGISTER_COMMAND_ARGUMENTS,
    FakeClock,
    a_case_at,
    a_case_report,
    a_case_worker_assignment,
    a_classification,
    a_complaint_kind,
    a_consent,
    a_consent_refusal,
    a_contact,
    a_direct_handover,
    a_direct_referral,
    a_family_decision,
    a_handback,
    a_handover_acknowledgement,
    a_mediation,
    a_monitoring_visit,
    a_new_case,
    a_progress_note,
    a_reassessment,
    a_recommendation,
    a_recommendation_approval,
    a_recommendation_return,
    a_referral_acceptance,
    a_referral_cancellation,
    a_referral_decline,
    a_reintegration_evaluation,
    a_reintegration_step,
    a_reintegration_visit,
    a_reunification,
    a_service_delivery,
    a_shelter_admission,
    a_shelter_discharge,
    a_unilateral_termination,
    advance_case,
    an_agreed_termination,
    an_assessment,
    an_assessment_review,
    an_emergency_classification,
    an_intervention_plan,
    move_referral_to,
)

# A value that is personal data if an error message ever echoes it.
PERSONAL_VALUE = "Siti Aminah 7371234567890001"

# Public methods of Case that are no commands on an existing case.
NOT_COMMANDS = frozenset(
    {
        "receive_report",
        "referral",
        "recommendation",
        "open_referral_agencies",
        "require_letter_issuable",
        "document_is_for",
        "serves_only_added_beneficiaries",
    }
)


@contextmanager
def refused(case: Case, error: type[Exception], *, rule: str | None = None) -> Iterator[Any]:
    """Expect the command in the block to be refused and to change nothing."""
    state = deepcopy(vars(case))
    with pytest.raises(error) as caught:
        yield caught
    if rule is not None:
        assert caught.value.rule == rule
    assert vars(case) == state


def acting(actor: Actor = CASE_WORKER) -> AbstractContextManager[None]:
    return acting_as(actor, FIXED_TIME)


def referred_case(*, status: str = ReferralStatus.PENDING) -> Case:
    """A case in intervention with one referral, REFERRAL_ID to the health office, in ``status``."""
    case = a_case_at(Stage.INTERVENTION)
    with acting():
        case.refer(**a_direct_referral())
    move_referral_to(case, status)
    assert case.referral(REFERRAL_ID).status == status
    return case


# ---- Consent and referrals (L1.9-10, L4.1, routing rule e) ----------------------


def test_referral_before_consent_is_refused():
    """L1.9: handling continues only after written informed consent."""
    case = a_new_case()
    with acting():
        case.classify(**a_classification())

    with acting(), refused(case, RuleViolated, rule="consent_required") as caught:
        case.refer(**a_direct_referral())

    assert caught.value.step == "L1.9"


@pytest.mark.parametrize(("agency", "service_type"), AGENCY_SERVICES)
def test_a_referral_to_an_agency_without_an_inbox_is_refused(agency, service_type):
    """L4.1: a referral nobody receives would leave the beneficiary waiting for nothing."""
    case = a_case_at(Stage.INTERVENTION)
    # What the case service passes under a matrix (SIMPUL_SHARING_MATRIX) without the row.
    without_a_row = RECEIVING_AGENCIES - {agency}

    with (
        acting(),
        refused(case, AgencyNotConnected, rule="agency_not_connected") as caught,
    ):
        case.refer(
            **a_direct_referral(
                agency=agency, service_type=service_type, receiving_agencies=without_a_row
            )
        )

    assert caught.value.step == "L4.1"
    assert caught.value.field == "agency"
    assert agency in caught.value.message


@pytest.mark.parametrize(("agency", "service_type"), AGENCY_SERVICES)
def test_a_referral_reaches_each_agency_the_bundled_matrix_connects(agency, service_type):
    """L3.2d, Tanjungpinang T4b/c/e, Kutai Timur Pasal 14(2): each has an inbox."""
    case = a_case_at(Stage.INTERVENTION)

    with acting():
        case.refer(**a_direct_referral(agency=agency, service_type=service_type))

    assert case.referral(REFERRAL_ID).agency == agency


def test_routing_c_keeps_the_case_where_the_social_office_coordinates_it():
    """Rule c hands an ABH case to Dinas Sosial; in Tanjungpinang Dinas Sosial has it already."""
    case = a_new_case()

    with acting(INTAKE_OFFICER):
        case.classify(**a_classification(case_type="ABH", coordinating_agency="social"))

    assert case.handover_to is None
    with acting(COORDINATOR), refused(case, RuleViolated, rule="handover_not_routed"):
        case.hand_over(**a_direct_handover(target="social"))


def test_routing_c_hands_the_case_to_the_social_office_where_the_uptd_ppa_coordinates():
    case = a_new_case()

    with acting(INTAKE_OFFICER):
        case.classify(**a_classification(case_type="ABH", coordinating_agency="uptd_ppa"))

    assert case.handover_to == "social"


def test_a_handover_to_an_agency_without_an_inbox_is_refused():
    """L1.5 rule b: a matrix without a PATBM row leaves the village group unreachable."""
    case = a_new_case()
    with acting(INTAKE_OFFICER):
        case.classify(**a_classification(risk_level="low", jurisdiction="village"))

    with (
        acting(COORDINATOR),
        refused(case, AgencyNotConnected, rule="agency_not_connected") as caught,
    ):
        case.hand_over(**a_direct_handover(receiving_agencies=RECEIVING_AGENCIES - {"patbm"}))

    assert caught.value.step == "L1.5"
    assert caught.value.field == "target"


def test_information_only_needs_no_receiving_agency():
    """L1.5 rule f: information about services goes to nobody, so nothing must be reachable."""
    case = a_new_case()
    with acting(INTAKE_OFFICER):
        case.classify(**a_classification(case_type="other"))

    with acting(COORDINATOR):
        case.hand_over(**a_direct_handover(target="information_only", receiving_agencies=()))

    assert case.closure == "handed_over:information_only"


def test_a_district_that_assesses_first_refuses_classification_before_an_assessment():
    """Kota Batu B2 before B3: the first classification needs an assessment recorded."""
    case = a_new_case()

    with (
        acting(INTAKE_OFFICER),
        refused(case, RuleViolated, rule="assessment_before_classification") as caught,
    ):
        case.classify(**a_classification(assessment_first="B2"))

    assert caught.value.step == "B2"


def test_a_district_that_assesses_first_assesses_before_consent_then_classifies():
    """Kota Batu B2: the office assesses the unclassified case; consent still gates referrals."""
    case = a_new_case()

    with acting():
        case.record_assessment(**an_assessment(before_classification=True))
    with acting(INTAKE_OFFICER):
        case.classify(**a_classification(assessment_first="B2"))
        # A reclassification needs no second assessment.
        case.classify(**a_classification(assessment_first="B2", risk_level="medium"))

    assert case.classified
    assert case.stage == Stage.IDENTIFICATION
    with acting(), refused(case, RuleViolated, rule="consent_required"):
        case.refer(**a_direct_referral())


def test_where_classification_comes_first_an_assessment_still_needs_consent():
    """Luwu Utara L1.5 before L2.1: an unclassified case is not assessed before consent."""
    case = a_new_case()

    with acting(), refused(case, RuleViolated, rule="consent_required"):
        case.record_assessment(**an_assessment())


def test_an_assessment_before_classification_is_no_longer_allowed_once_classified():
    """The exception covers B2/P2 only: after classification, L2 assessment needs consent."""
    case = a_new_case()
    with acting():
        case.record_assessment(**an_assessment(before_classification=True))
    with acting(INTAKE_OFFICER):
        case.classify(**a_classification(assessment_first="P2"))

    with acting(), refused(case, RuleViolated, rule="consent_required"):
        case.record_assessment(**an_assessment(before_classification=True))


def test_emergency_referral_before_consent_is_allowed_on_an_emergency_case():
    """Rule e, L1.6: emergency services come first, consent after."""
    case = a_new_case()
    with acting():
        case.classify(**an_emergency_classification())

        case.refer(**a_direct_referral(service_type="emergency_support", emergency=True))

    assert case.referral(REFERRAL_ID).emergency is True
    assert case.referral(REFERRAL_ID).status == ReferralStatus.PENDING


def test_emergency_referral_needs_an_emergency_classification():
    """Rule e, L1.6: only a case classified as an emergency may skip consent."""
    case = a_new_case()
    with acting():
        case.classify(**a_classification(emergency=False))

    with acting(), refused(case, RuleViolated, rule="not_an_emergency") as caught:
        case.refer(**a_direct_referral(service_type="emergency_support", emergency=True))

    assert caught.value.step == "L1.6"


def test_emergency_referral_on_an_unclassified_case_is_refused():
    """L1.5 before L1.6: an unclassified case is no emergency yet."""
    case = a_new_case()

    with acting(), refused(case, RuleViolated, rule="not_an_emergency"):
        case.refer(**a_direct_referral(service_type="emergency_support", emergency=True))


def test_referral_to_an_agency_that_cannot_provide_the_service_is_refused():
    """L3.2: a legal process is for the police, prosecutor or court, not the health office."""
    case = a_case_at(Stage.INTERVENTION)

    with acting(), refused(case, RuleViolated, rule="agency_cannot_provide_service") as caught:
        case.refer(**a_direct_referral(service_type="legal_process", agency="health"))

    assert caught.value.step == "L3.2"


def test_second_open_referral_to_the_same_agency_for_the_same_service_is_refused():
    """L4.1: one open referral per agency and service."""
    case = referred_case(status=ReferralStatus.ACCEPTED)

    with acting(), refused(case, RuleViolated, rule="referral_already_open"):
        case.refer(**a_direct_referral(referral_id="referral-2"))


def test_agency_may_be_referred_again_for_a_service_once_the_first_referral_is_settled():
    """L5.5: a re-assessed need may go back to the same agency."""
    case = referred_case(status=ReferralStatus.COMPLETED)

    with acting():
        case.refer(**a_direct_referral(referral_id="referral-2"))

    assert case.referral("referral-2").status == ReferralStatus.PENDING


def test_the_same_agency_may_hold_open_referrals_for_different_services():
    """L3.2: the health office may examine and also counsel."""
    case = referred_case()

    with acting():
        case.refer(
            **a_direct_referral(referral_id="referral-2", service_type="psychological_counselling")
        )

    assert case.open_referral_agencies() == frozenset({"health"})
    assert len(case.referrals) == 2


def test_a_referral_id_is_used_only_once():
    """L4.1: each referral record has its own id."""
    case = referred_case(status=ReferralStatus.COMPLETED)

    with acting(), refused(case, RuleViolated, rule="referral_id_taken"):
        case.refer(**a_direct_referral(service_type="psychological_counselling"))


def test_a_referral_due_time_must_include_a_timezone():
    """L4.1: the 7-day limit is measured on an unambiguous clock."""
    case = a_case_at(Stage.INTERVENTION)

    with acting(), refused(case, InvalidValue) as caught:
        case.refer(**a_direct_referral(due_at=FIXED_TIME.replace(tzinfo=None)))

    assert caught.value.field == "due_at"


# ---- A closed case accepts no command (L6.5) -----------------------------------


def terminated_case() -> Case:
    case = a_case_at(Stage.INTERVENTION)
    with acting():
        case.refer(**a_direct_referral())
        case.terminate(**a_unilateral_termination())
    return case


def consent_refused_case() -> Case:
    case = a_case_at(Stage.IDENTIFICATION)
    with acting():
        case.classify(**a_classification())
        case.record_consent(**a_consent_refusal())
    return case


def handed_over_case() -> Case:
    case = a_new_case()
    with acting():
        case.classify(**a_classification(risk_level="low", jurisdiction="village"))
    with acting(COORDINATOR):
        case.hand_over(**a_direct_handover(target="patbm"))
    return case


CLOSED_CASES = {
    "terminated": terminated_case,
    "consent_refused": consent_refused_case,
    "handed_over": handed_over_case,
}


def public_commands() -> set[str]:
    return {
        name
        for name, member in vars(Case).items()
        if not name.startswith("_") and inspect.isfunction(member) and name not in NOT_COMMANDS
    }


def test_the_command_catalogue_names_every_public_command_of_the_case():
    """Guards the closed-case and vocabulary tests against a command added later."""
    assert set(COMMAND_ARGUMENTS) | set(REGISTER_COMMAND_ARGUMENTS) == public_commands()


# L1.5 b-d: the receiver's answers to a hand-over, the one thing a handed-over case accepts.
HANDOVER_ANSWERS = frozenset({"acknowledge_handover", "hand_back"})


@pytest.mark.parametrize(
    ("closed_case", "command"),
    [
        (closed_case, command)
        for name, closed_case in CLOSED_CASES.items()
        for command in sorted(COMMAND_ARGUMENTS)
        if not (name == "handed_over" and command in HANDOVER_ANSWERS)
    ],
)
def test_a_closed_case_accepts_no_command(closed_case, command):
    """L6.5: once terminated, refused at consent or handed over, the case is closed; a case
    handed over to an agency accepts only that agency's answer (tested below)."""
    case = closed_case()
    assert case.stage == Stage.CLOSED

    with acting(COORDINATOR), refused(case, CaseClosed, rule="case_closed") as caught:
        getattr(case, command)(**COMMAND_ARGUMENTS[command]())

    assert caught.value.step == "L6.5"


# ---- Termination (L5.5, L6.1-L6.5) ----------------------------------------------


def test_agreed_termination_closes_a_recovered_case():
    """L6.1-L6.3, L6.5: signed form, feedback, and the case status becomes closed."""
    case = referred_case(status=ReferralStatus.COMPLETED)
    with acting():
        case.record_monitoring_visit(**a_monitoring_visit(recovered=True))

        case.terminate(**an_agreed_termination())

    assert case.is_closed
    assert case.stage == Stage.CLOSED
    assert case.closure == "terminated:recovered"


@pytest.mark.parametrize(
    "status", [ReferralStatus.PENDING, ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS]
)
def test_agreed_termination_is_refused_while_a_referral_is_unsettled(status):
    """L5.5: terminate only when all services are delivered (or settled otherwise)."""
    case = referred_case(status=status)
    with acting():
        case.record_monitoring_visit(**a_monitoring_visit())

    with acting(), refused(case, RuleViolated, rule="referrals_unsettled") as caught:
        case.terminate(**an_agreed_termination())

    assert caught.value.step == "L5.5"


@pytest.mark.parametrize(
    "status",
    [
        ReferralStatus.COMPLETED,
        ReferralStatus.DECLINED,
        ReferralStatus.CANCELLED,
        ReferralStatus.NOT_DELIVERED,
    ],
)
def test_agreed_termination_accepts_every_kind_of_settled_referral(status):
    """L5.5: completed, declined, cancelled or not delivered all count as settled."""
    case = referred_case(status=status)
    with acting():
        case.record_monitoring_visit(**a_monitoring_visit())

        case.terminate(**an_agreed_termination())

    assert case.is_closed


def test_agreed_termination_needs_a_monitoring_visit():
    """L5.2-L5.5: recovery is found at a monitoring visit before termination is planned."""
    case = a_case_at(Stage.INTERVENTION)

    with acting(), refused(case, RuleViolated, rule="recovery_not_found") as caught:
        case.terminate(**an_agreed_termination())

    assert caught.value.step == "L5.5"


def test_agreed_termination_needs_the_last_monitoring_visit_to_find_the_beneficiary_recovered():
    """L5.5: a beneficiary who still needs services is re-assessed, not terminated."""
    case = a_case_at(Stage.INTERVENTION)
    with acting():
        case.record_monitoring_visit(**a_monitoring_visit(recovered=True))
        case.record_monitoring_visit(**a_monitoring_visit(recovered=False))

    with acting(), refused(case, RuleViolated, rule="recovery_not_found"):
        case.terminate(**an_agreed_termination())


def test_agreed_termination_reason_must_be_recovered():
    """L6.1: an agreed termination is for rights fulfilled and recovered."""
    case = a_case_at(Stage.MONITORING)

    with acting(), refused(case, InvalidValue) as caught:
        case.terminate(**an_agreed_termination(reason="child_died"))

    assert caught.value.field == "reason"


def test_agreed_termination_needs_the_signed_termination_form():
    """L6.2: the termination form is signed by both sides."""
    case = a_case_at(Stage.MONITORING)

    with acting(), refused(case, InvalidValue) as caught:
        case.terminate(**an_agreed_termination(termination_form_ref="  "))

    assert caught.value.field == "termination_form_ref"


@pytest.mark.parametrize("reason", ["child_died", "whereabouts_unknown", "refused_accompaniment"])
def test_unilateral_termination_closes_the_case_for_the_l6_4_reasons(reason):
    """L6.4: the child died, whereabouts unknown, or the beneficiary refuses accompaniment."""
    case = a_case_at(Stage.ASSESSMENT)

    with acting():
        case.terminate(**a_unilateral_termination(reason=reason))

    assert case.stage == Stage.CLOSED
    assert case.closure == f"terminated:{reason}"


@pytest.mark.parametrize("reason", ["recovered", "consent_refused"])
def test_unilateral_termination_refuses_other_reasons(reason):
    """L6.4 lists three reasons; consent refusal is recorded as consent (L1.10)."""
    case = a_case_at(Stage.ASSESSMENT)

    with acting(), refused(case, InvalidValue) as caught:
        case.terminate(**a_unilateral_termination(reason=reason))

    assert caught.value.field == "reason"


def test_unilateral_termination_cancels_the_open_referrals():
    """L6.4: agencies stop serving a closed case."""
    case = referred_case(status=ReferralStatus.ACCEPTED)

    with acting(COORDINATOR):
        case.terminate(**a_unilateral_termination(reason="refused_accompaniment"))

    assert case.referral(REFERRAL_ID).status == ReferralStatus.CANCELLED
    assert case.open_referral_agencies() == frozenset()


# ---- Consent (L1.9-10) -----------------------------------------------------------


def test_given_consent_moves_the_case_to_assessment():
    """L1.10 -> L2.1: with written consent, assessment begins."""
    case = a_new_case()
    with acting():
        case.classify(**a_classification())

        case.record_consent(**a_consent())

    assert case.consent == "given"
    assert case.stage == Stage.ASSESSMENT


def test_given_consent_needs_the_signed_form_reference():
    """L1.9: consent is written and signed."""
    case = a_new_case()
    with acting():
        case.classify(**a_classification())
    case.collect_events()

    with acting(), refused(case, InvalidValue) as caught:
        case.record_consent(**a_consent(document_ref=""))

    assert caught.value.field == "document_ref"


def test_consent_follows_classification():
    """L1.5 comes before L1.9: the case is classified before consent is sought."""
    case = a_new_case()

    with acting(), refused(case, RuleViolated, rule="classification_required"):
        case.record_consent(**a_consent())


def test_refused_consent_ends_the_case_with_consent_recorded_then_terminated():
    """L1.10: if the victim or family refuses, the case cannot proceed."""
    case = a_new_case()
    with acting():
        case.classify(**a_classification())
    case.collect_events()

    with acting():
        case.record_consent(**a_consent_refusal())

    events = case.collect_events()
    assert [type(event).__name__ for event in events] == ["ConsentRecorded", "Terminated"]
    consent, termination = events
    assert consent.given is False
    assert termination.kind == "unilateral"
    assert termination.reason == "consent_refused"
    assert case.stage == Stage.CLOSED
    assert case.closure == "terminated:consent_refused"


def test_consent_cannot_be_recorded_twice():
    """L1.9: a later refusal of accompaniment is a unilateral termination (L6.4)."""
    case = a_case_at(Stage.ASSESSMENT)

    with acting(), refused(case, RuleViolated, rule="consent_already_recorded") as caught:
        case.record_consent(**a_consent_refusal())

    assert caught.value.step == "L1.9"


# ---- Handover (routing rules b, c, d, f at L1.5) -------------------------------


@pytest.mark.parametrize(
    ("classification", "target", "receiving_agency"),
    [
        ({"risk_level": "low", "jurisdiction": "village"}, "patbm", "patbm"),  # b
        ({"case_type": "ABH"}, "social", "social"),  # c
        ({"jurisdiction": "province"}, "province", "province"),  # d
        ({"case_type": "other"}, "information_only", None),  # f
    ],
    ids=["b-patbm", "c-social", "d-province", "f-information-only"],
)
def test_handover_to_the_routed_target_closes_the_case(classification, target, receiving_agency):
    """L1.5 rules b, c, d, f: the case leaves district handling."""
    case = a_new_case()
    with acting(INTAKE_OFFICER):
        case.classify(**a_classification(**classification))

    with acting(COORDINATOR):
        case.hand_over(**a_direct_handover(target=target))

    assert case.stage == Stage.CLOSED
    assert case.closure == f"handed_over:{target}"
    assert case.handed_over_to_agency == receiving_agency
    if receiving_agency is not None:
        assert receiving_agency in case.referred_agencies


def test_handover_ends_the_open_referrals():
    """Rule e then rule c: an emergency referral made before an ABH case leaves the district."""
    case = a_new_case()
    with acting(INTAKE_OFFICER):
        case.classify(**an_emergency_classification())
    with acting():
        case.refer(**a_direct_referral(service_type="emergency_support", emergency=True))
    with acting(INTAKE_OFFICER):
        case.classify(**an_emergency_classification(case_type="ABH"))

    with acting(COORDINATOR):
        case.hand_over(**a_direct_handover(target="social"))

    assert case.referral(REFERRAL_ID).status == ReferralStatus.CANCELLED
    assert case.open_referral_agencies() == frozenset()


@pytest.mark.parametrize("target", ["patbm", "social", "province", "information_only"])
def test_handover_of_a_case_the_district_handles_is_refused(target):
    """L1.5 rule a: a medium or high risk district case stays with the UPTD PPA."""
    case = a_new_case()
    with acting(INTAKE_OFFICER):
        case.classify(**a_classification())

    with acting(COORDINATOR), refused(case, RuleViolated, rule="handover_not_routed") as caught:
        case.hand_over(**a_direct_handover(target=target))

    assert caught.value.step == "L1.5"


def test_handover_to_a_target_other_than_the_routed_one_is_refused():
    """L1.5 rule c sends an ABH case to the social office, not to PATBM."""
    case = a_new_case()
    with acting(INTAKE_OFFICER):
        case.classify(**a_classification(case_type="ABH"))

    with acting(COORDINATOR), refused(case, RuleViolated, rule="handover_not_routed"):
        case.hand_over(**a_direct_handover(target="patbm"))


def test_handover_follows_the_latest_classification():
    """L1.5: reclassifying re-routes the case."""
    case = a_new_case()
    with acting(INTAKE_OFFICER):
        case.classify(**a_classification(case_type="ABH"))
        case.classify(**a_classification(risk_level="low", jurisdiction="village"))

    with acting(COORDINATOR):
        case.hand_over(**a_direct_handover(target="patbm"))

    assert case.closure == "handed_over:patbm"


def test_handover_needs_a_classification():
    """L1.5: routing comes from classification."""
    case = a_new_case()

    with acting(COORDINATOR), refused(case, RuleViolated, rule="classification_required") as caught:
        case.hand_over(**a_direct_handover())

    assert caught.value.step == "L1.5"


# ---- Answers to a hand-over (L1.5 b-d, "bantu akseskan") -------------------------


def test_an_acknowledged_handover_leaves_the_case_closed_for_the_district():
    """L1.5 b: the flowchart ends district handling; the receiver confirms it took the case."""
    case = handed_over_case()

    with acting(COORDINATOR):
        case.acknowledge_handover(**a_handover_acknowledgement())

    assert case.stage == Stage.CLOSED
    assert case.closure == "handed_over:patbm"
    assert case.handover_acknowledged
    assert case.handed_over_to_agency == "patbm"


def test_a_handover_is_acknowledged_once():
    case = handed_over_case()
    with acting(COORDINATOR):
        case.acknowledge_handover(**a_handover_acknowledgement())

    with acting(COORDINATOR), refused(case, RuleViolated, rule="handover_already_acknowledged"):
        case.acknowledge_handover(**a_handover_acknowledgement())


@pytest.mark.parametrize("command", sorted(HANDOVER_ANSWERS))
def test_an_open_case_has_no_handover_to_answer(command):
    """L1.5: only a case handed over by routing b, c or d is acknowledged or handed back."""
    case = a_new_case()
    with acting(INTAKE_OFFICER):
        case.classify(**a_classification(risk_level="low", jurisdiction="village"))

    with acting(COORDINATOR), refused(case, RuleViolated, rule="not_handed_over") as caught:
        getattr(case, command)(**COMMAND_ARGUMENTS[command]())

    assert caught.value.step == "L1.5"


@pytest.mark.parametrize("command", sorted(HANDOVER_ANSWERS))
def test_a_case_given_information_only_accepts_no_handover_answer(command):
    """L1.5 rule f: information only goes to nobody, so nobody answers it; the case is closed."""
    case = a_new_case()
    with acting(INTAKE_OFFICER):
        case.classify(**a_classification(case_type="other"))
    with acting(COORDINATOR):
        case.hand_over(**a_direct_handover(target="information_only"))

    with acting(COORDINATOR), refused(case, CaseClosed, rule="case_closed"):
        getattr(case, command)(**COMMAND_ARGUMENTS[command]())


@pytest.mark.parametrize("acknowledged_first", [False, True], ids=["unacknowledged", "acked"])
def test_a_handed_back_case_returns_to_identification_to_be_classified_again(acknowledged_first):
    """L1.5: the receiver returns the case (not its authority); the office reclassifies it."""
    case = handed_over_case()
    if acknowledged_first:
        with acting(COORDINATOR):
            case.acknowledge_handover(**a_handover_acknowledgement())

    with acting(COORDINATOR):
        case.hand_back(**a_handback())

    assert not case.is_closed
    assert case.stage == Stage.IDENTIFICATION
    assert case.handed_over_to_agency is None
    assert "patbm" not in case.referred_agencies
    with acting(COORDINATOR), refused(case, RuleViolated, rule="classification_required"):
        case.hand_over(**a_direct_handover(target="patbm"))
    with acting(INTAKE_OFFICER):
        case.classify(**a_classification())
    assert case.handover_to is None


@pytest.mark.parametrize(
    ("command", "arguments"),
    [
        ("record_assessment", an_assessment()),
        ("refer", a_direct_referral()),
        ("hold_mediation", a_mediation()),
        ("record_reintegration_step", a_reintegration_step()),
    ],
)
def test_a_handed_back_case_is_classified_again_before_any_other_work(command, arguments):
    """L1.5 before L2-L4: the hand-back undid the classification; the consent stands."""
    case = a_case_at(Stage.ASSESSMENT)
    with acting(COORDINATOR):
        case.classify(**a_classification(risk_level="low", jurisdiction="village"))
        case.hand_over(**a_direct_handover(target="patbm"))
        case.hand_back(**a_handback())

    with acting(), refused(case, RuleViolated, rule="classification_required"):
        getattr(case, command)(**arguments)


def test_a_handed_back_case_may_be_handed_over_again_once_reclassified():
    case = handed_over_case()
    with acting(COORDINATOR):
        case.hand_back(**a_handback())
    with acting(INTAKE_OFFICER):
        case.classify(**a_classification(jurisdiction="province"))

    with acting(COORDINATOR):
        case.hand_over(**a_direct_handover(target="province"))
        case.acknowledge_handover(**a_handover_acknowledgement())

    assert case.closure == "handed_over:province"
    assert case.handed_over_to_agency == "province"


def test_a_handback_needs_a_reason():
    case = handed_over_case()

    with acting(COORDINATOR), refused(case, InvalidValue):
        case.hand_back(reason="  ")


# ---- Case worker and contact (L1.6-L1.8) ------------------------------------------


def test_a_case_worker_is_assigned_only_after_classification():
    """L1.5 before L1.7."""
    case = a_new_case()

    with acting(COORDINATOR), refused(case, RuleViolated, rule="classification_required"):
        case.assign_case_worker(**a_case_worker_assignment())


def test_contact_needs_an_assigned_case_worker():
    """L1.7 before L1.8: the assigned case worker makes the first visit."""
    case = a_new_case()
    with acting(INTAKE_OFFICER):
        case.classify(**a_classification())

    with acting(), refused(case, RuleViolated, rule="case_worker_required") as caught:
        case.record_contact(**a_contact())

    assert caught.value.step == "L1.7"


def test_contact_is_recorded_once_a_case_worker_is_assigned():
    """L1.7 -> L1.8."""
    case = a_new_case()
    with acting(INTAKE_OFFICER):
        case.classify(**a_classification())
    with acting(COORDINATOR):
        case.assign_case_worker(**a_case_worker_assignment())

    with acting():
        case.record_contact(**a_contact())

    assert case.case_worker_id == CASE_WORKER.user_id
    assert type(case.pending_events[-1]).__name__ == "BeneficiaryContacted"


def test_the_same_case_worker_is_not_assigned_twice():
    """L1.7: a repeated assignment letter records nothing new."""
    case = a_case_at(Stage.ASSESSMENT)

    with acting(COORDINATOR), refused(case, RuleViolated, rule="case_worker_already_assigned"):
        case.assign_case_worker(**a_case_worker_assignment())


def test_another_case_worker_may_take_over_the_case():
    """L1.7: a new assignment letter replaces the case worker."""
    case = a_case_at(Stage.ASSESSMENT)

    with acting(COORDINATOR):
        case.assign_case_worker(**a_case_worker_assignment(case_worker_id="case-worker-2"))

    assert case.case_worker_id == "case-worker-2"


def test_emergency_response_is_recorded_only_for_emergency_cases():
    """Rule e, L1.6: outreach and emergency services for emergencies."""
    case = a_new_case()
    with acting(INTAKE_OFFICER):
        case.classify(**a_classification(emergency=False))

    with acting(), refused(case, RuleViolated, rule="not_an_emergency") as caught:
        case.record_emergency_response(actions=["Korban dijemput."])

    assert caught.value.step == "L1.6"


# ---- Assessment (L2.1-L2.7) ------------------------------------------------------


def test_assessment_needs_consent():
    """L1.10 before L2.1."""
    case = a_new_case()
    with acting(INTAKE_OFFICER):
        case.classify(**a_classification())

    with acting(), refused(case, RuleViolated, rule="consent_required") as caught:
        case.record_assessment(**an_assessment())

    assert caught.value.step == "L1.9"


# ---- Mediation (P5 Purwakarta, B5 Kota Batu) -------------------------------------------


def test_a_mediation_is_recorded_once_consent_is_given():
    """P5: "Melakukan Mediasi terhadap korban dan masyarakat", with perpetrator and victim."""
    case = a_case_at(Stage.ASSESSMENT)

    with acting():
        case.hold_mediation(**a_mediation())

    assert [type(e).__name__ for e in case.pending_events][-1] == "MediationHeld"


def test_mediation_needs_consent():
    case = a_new_case()
    with acting(INTAKE_OFFICER):
        case.classify(**a_classification())

    with acting(), refused(case, RuleViolated, rule="consent_required"):
        case.hold_mediation(**a_mediation())


def test_a_sexual_violence_case_is_never_mediated():
    """UU 12/2022 (TPKS) Pasal 23: no settlement outside the judicial process."""
    case = a_case_at(Stage.ASSESSMENT, overrides={"classify": {"forms_of_violence": ["sexual"]}})

    with acting(), refused(case, RuleViolated, rule="mediation_not_allowed") as caught:
        case.hold_mediation(**a_mediation())

    assert caught.value.step == "P5"
    assert "Pasal 23" in caught.value.message


def test_a_case_classified_as_a_sexual_crime_is_not_mediated_either():
    case = a_case_at(
        Stage.ASSESSMENT,
        overrides={"classify": {"forms_of_violence": [], "ampk_categories": ["sexual_crime"]}},
    )

    with acting(), refused(case, RuleViolated, rule="mediation_not_allowed"):
        case.hold_mediation(**a_mediation())


def test_a_sexual_violence_case_with_a_child_perpetrator_may_be_mediated():
    """Pasal 23's exception: a child perpetrator (the juvenile justice system's diversion)."""
    case = a_case_at(Stage.ASSESSMENT, overrides={"classify": {"forms_of_violence": ["sexual"]}})

    with acting():
        case.hold_mediation(**a_mediation(perpetrator_is_child=True))

    assert type(case.pending_events[-1]).__name__ == "MediationHeld"


def test_an_agreement_reached_says_what_was_agreed():
    case = a_case_at(Stage.ASSESSMENT)

    with acting(), refused(case, InvalidValue) as caught:
        case.hold_mediation(**a_mediation(agreements=[]))

    assert caught.value.field == "agreements"


# ---- Temporary shelter (Tanjungpinang T4d) ----------------------------------------------


def sheltered_case() -> Case:
    case = a_case_at(Stage.ASSESSMENT)
    with acting():
        case.admit_to_shelter(**a_shelter_admission())
    return case


def test_a_shelter_stay_is_recorded_once_consent_is_given():
    """T4d: "penitipan sementara di RSTS Dinsos/shelter P2TP2A"."""
    case = a_case_at(Stage.ASSESSMENT)

    with acting():
        case.admit_to_shelter(**a_shelter_admission())

    assert type(case.pending_events[-1]).__name__ == "ShelterAdmitted"


def test_a_shelter_stay_needs_consent():
    """L1.9: consent comes before any service but an emergency one."""
    case = a_new_case()
    with acting():
        case.classify(**a_classification())

    with acting(), refused(case, RuleViolated, rule="consent_required") as caught:
        case.admit_to_shelter(**a_shelter_admission())

    assert caught.value.step == "L1.9"


def test_an_emergency_case_is_sheltered_before_consent():
    """Routing rule e: a victim in danger is sheltered first; consent follows."""
    case = a_new_case()
    with acting():
        case.classify(**an_emergency_classification())

    with acting():
        case.admit_to_shelter(**a_shelter_admission(emergency=True))

    assert case.pending_events[-1].emergency is True


def test_an_emergency_admission_needs_a_case_classified_as_an_emergency():
    case = a_new_case()
    with acting():
        case.classify(**a_classification())

    with acting(), refused(case, RuleViolated, rule="not_an_emergency") as caught:
        case.admit_to_shelter(**a_shelter_admission(emergency=True))

    assert caught.value.step == "L1.6"


def test_a_shelter_stay_needs_a_classified_case():
    case = a_new_case()

    with acting(), refused(case, RuleViolated, rule="classification_required"):
        case.admit_to_shelter(**a_shelter_admission(emergency=True))


def test_no_second_admission_while_the_beneficiary_is_in_a_shelter():
    case = sheltered_case()

    with acting(), refused(case, RuleViolated, rule="already_in_shelter") as caught:
        case.admit_to_shelter(**a_shelter_admission(shelter="p2tp2a"))

    assert caught.value.step == "T4d"


def test_a_new_stay_may_follow_a_discharge():
    case = sheltered_case()
    with acting():
        case.discharge_from_shelter(**a_shelter_discharge(destination="other_institution"))

    with acting():
        case.admit_to_shelter(**a_shelter_admission(shelter="p2tp2a", admitted_on="2024-03-20"))

    assert [type(e).__name__ for e in case.pending_events][-2:] == [
        "ShelterDischarged",
        "ShelterAdmitted",
    ]


def test_a_discharge_needs_an_admission():
    case = a_case_at(Stage.ASSESSMENT)

    with acting(), refused(case, RuleViolated, rule="not_in_shelter") as caught:
        case.discharge_from_shelter(**a_shelter_discharge())

    assert caught.value.step == "T4d"


def test_a_beneficiary_is_not_discharged_before_she_was_admitted():
    case = sheltered_case()

    with acting(), refused(case, InvalidValue) as caught:
        case.discharge_from_shelter(**a_shelter_discharge(discharged_on="2024-03-04"))

    assert caught.value.field == "discharged_on"


def test_a_beneficiary_admitted_and_discharged_the_same_day_is_recorded():
    case = sheltered_case()

    with acting():
        case.discharge_from_shelter(**a_shelter_discharge(discharged_on="2024-03-05"))

    assert case.shelter_admitted_on is None


@pytest.mark.parametrize("day", ["5 March 2024", "2024-3-5", "2024-02-30", ""])
def test_a_shelter_day_must_be_a_date(day):
    case = a_case_at(Stage.ASSESSMENT)

    with acting(), refused(case, InvalidValue) as caught:
        case.admit_to_shelter(**a_shelter_admission(admitted_on=day))

    assert caught.value.field == "admitted_on"


def test_a_shelter_other_than_rsts_or_p2tp2a_is_named():
    case = a_case_at(Stage.ASSESSMENT)

    with acting(), refused(case, InvalidValue) as caught:
        case.admit_to_shelter(**a_shelter_admission(shelter="other"))

    assert caught.value.field == "shelter_name"


def shelter_referral_case(status: str = ReferralStatus.ACCEPTED) -> Case:
    case = a_case_at(Stage.INTERVENTION)
    with acting():
        case.refer(**a_direct_referral(service_type="temporary_shelter", agency="social"))
    return move_referral_to(case, status)


def test_a_stay_serves_the_shelter_referral_it_names():
    case = shelter_referral_case()

    with acting():
        case.admit_to_shelter(**a_shelter_admission(referral_id=REFERRAL_ID))

    assert case.pending_events[-1].referral_id == REFERRAL_ID


def test_a_stay_cannot_serve_a_referral_for_another_service():
    case = referred_case(status=ReferralStatus.ACCEPTED)

    with acting(), refused(case, RuleViolated, rule="referral_not_for_shelter"):
        case.admit_to_shelter(**a_shelter_admission(referral_id=REFERRAL_ID))


@pytest.mark.parametrize(
    "status", [ReferralStatus.DECLINED, ReferralStatus.CANCELLED, ReferralStatus.NOT_DELIVERED]
)
def test_a_stay_cannot_serve_a_referral_that_ended_without_its_service(status):
    case = shelter_referral_case(status)

    with acting(), refused(case, RuleViolated, rule="referral_ended"):
        case.admit_to_shelter(**a_shelter_admission(referral_id=REFERRAL_ID))


def test_a_stay_cannot_serve_an_unknown_referral():
    case = a_case_at(Stage.ASSESSMENT)

    with acting(), refused(case, ReferralNotFound):
        case.admit_to_shelter(**a_shelter_admission(referral_id="no-such-referral"))


def test_an_agreed_termination_waits_for_the_discharge_from_the_shelter():
    """L6.1: a recovered beneficiary leaves the shelter for somewhere the file names."""
    case = a_case_at(Stage.MONITORING)
    with acting():
        case.admit_to_shelter(**a_shelter_admission())

    with acting(), refused(case, RuleViolated, rule="still_in_shelter"):
        case.terminate(**an_agreed_termination())


# ---- Social reintegration (Kutai Timur K-I1-K-I8) ---------------------------------------


def prepared_case() -> Case:
    """K-I1-I3 done: the family prepared, child and caregivers counselled."""
    case = a_case_at(Stage.INTERVENTION)
    with acting():
        for activity in ("preparation", "child_counselling", "caregiver_counselling"):
            case.record_reintegration_step(**a_reintegration_step(activity=activity))
    return case


def reunified_case() -> Case:
    case = prepared_case()
    with acting():
        case.reunify_child(**a_reunification())
    return case


def test_k_i4_reunification_follows_preparation_and_counselling():
    case = prepared_case()

    with acting():
        case.reunify_child(**a_reunification())

    assert type(case.pending_events[-1]).__name__ == "ChildReunified"


def test_k_i4_reunification_names_the_steps_not_yet_recorded():
    """K-I4's requirement is "catatan hasil konseling": K-I2 and K-I3 come first."""
    case = a_case_at(Stage.INTERVENTION)
    with acting():
        case.record_reintegration_step(**a_reintegration_step(activity="preparation"))

    with acting(), refused(case, RuleViolated, rule="reintegration_not_prepared") as caught:
        case.reunify_child(**a_reunification())

    assert caught.value.step == "K-I4"
    assert "K-I2, K-I3" in caught.value.message


def test_k_i4_a_child_is_reunified_once():
    case = reunified_case()

    with acting(), refused(case, RuleViolated, rule="already_reunified"):
        case.reunify_child(**a_reunification())


def test_k_i4_a_child_in_a_shelter_is_discharged_before_reunification():
    case = prepared_case()
    with acting():
        case.admit_to_shelter(**a_shelter_admission())

    with acting(), refused(case, RuleViolated, rule="still_in_shelter") as caught:
        case.reunify_child(**a_reunification())

    assert caught.value.step == "K-I4"


def test_reintegration_needs_consent():
    case = a_new_case()
    with acting():
        case.classify(**an_emergency_classification())

    with acting(), refused(case, RuleViolated, rule="consent_required"):
        case.record_reintegration_step(**a_reintegration_step())


def test_k_i5_the_community_is_introduced_after_reunification():
    case = prepared_case()

    with acting(), refused(case, RuleViolated, rule="not_reunified") as caught:
        case.record_reintegration_step(**a_reintegration_step(activity="community_introduction"))

    assert caught.value.step == "K-I5"


def test_k_i6_monitoring_starts_at_reunification():
    case = prepared_case()

    with acting(), refused(case, RuleViolated, rule="not_reunified") as caught:
        case.record_reintegration_visit(**a_reintegration_visit())

    assert caught.value.step == "K-I6"


def test_k_i7_evaluation_weighs_at_least_one_monitoring_visit():
    case = reunified_case()

    with acting(), refused(case, RuleViolated, rule="monitoring_required") as caught:
        case.evaluate_reintegration(**a_reintegration_evaluation())

    assert caught.value.step == "K-I7"


def test_k_i7_evaluation_ends_the_monitoring():
    case = reunified_case()
    with acting():
        case.record_reintegration_visit(**a_reintegration_visit())
        case.evaluate_reintegration(**a_reintegration_evaluation())

    with acting(), refused(case, RuleViolated, rule="reintegration_already_evaluated") as caught:
        case.record_reintegration_visit(**a_reintegration_visit())
    assert caught.value.step == "K-I6"
    with acting(), refused(case, RuleViolated, rule="reintegration_already_evaluated"):
        case.evaluate_reintegration(**a_reintegration_evaluation())


def test_k_i8_the_report_follows_the_evaluation():
    case = reunified_case()
    with acting():
        case.record_reintegration_visit(**a_reintegration_visit())

    with acting(), refused(case, RuleViolated, rule="reintegration_not_evaluated") as caught:
        case.record_reintegration_step(**a_reintegration_step(activity="report"))
    assert caught.value.step == "K-I8"

    with acting():
        case.evaluate_reintegration(**a_reintegration_evaluation())
        case.record_reintegration_step(**a_reintegration_step(activity="report"))
    assert case.pending_events[-1].activity == "report"


def test_an_unknown_reintegration_step_names_the_field_and_does_not_echo_it():
    case = a_case_at(Stage.INTERVENTION)

    with acting(), refused(case, InvalidValue) as caught:
        case.record_reintegration_step(**a_reintegration_step(activity=PERSONAL_VALUE))

    assert caught.value.field == "activity"
    assert PERSONAL_VALUE not in str(caught.value)


def test_case_report_needs_an_assessment_in_the_current_cycle():
    """L2.7: the case report concludes the recorded assessments."""
    case = a_case_at(Stage.ASSESSMENT)

    with acting(), refused(case, RuleViolated, rule="assessment_required") as caught:
        case.conclude_case_report(**a_case_report())

    assert caught.value.step == "L2.7"


def test_case_report_moves_the_case_to_planning():
    """L2.7 -> L3.1."""
    case = a_case_at(Stage.ASSESSMENT)
    with acting():
        case.record_assessment(**an_assessment())

        case.conclude_case_report(**a_case_report())

    assert case.stage == Stage.PLANNING


@pytest.mark.parametrize("stage", [Stage.IDENTIFICATION, Stage.PLANNING, Stage.INTERVENTION])
def test_case_report_belongs_to_the_assessment_stage(stage):
    """L2.7 is the last step of stage 2."""
    case = a_case_at(stage)

    with acting(), refused(case, RuleViolated, rule="wrong_stage") as caught:
        case.conclude_case_report(**a_case_report())

    assert caught.value.step == "L2.7"


def test_an_assessment_outside_the_assessment_stage_does_not_count_for_the_next_cycle():
    """L2.2: an agency may assess later, but a new cycle needs its own assessment."""
    case = a_case_at(Stage.INTERVENTION)
    with acting(HEALTH_OFFICER):
        case.record_assessment(**an_assessment(kind="further", assessing_agency="health"))
    with acting():
        case.start_reassessment(**a_reassessment())

    with acting(), refused(case, RuleViolated, rule="assessment_required"):
        case.conclude_case_report(**a_case_report())


# ---- Intervention planning (L3.1-L3.5) -------------------------------------------


@pytest.mark.parametrize("stage", [Stage.ASSESSMENT, Stage.INTERVENTION, Stage.MONITORING])
def test_intervention_plan_belongs_to_the_planning_stage(stage):
    """L3.5: the plan follows the case report."""
    case = a_case_at(stage)

    with acting(), refused(case, RuleViolated, rule="wrong_stage") as caught:
        case.agree_intervention_plan(**an_intervention_plan())

    assert caught.value.step == "L3.5"


def test_each_planned_service_must_go_to_an_agency_that_provides_it():
    """L3.2: social rehabilitation maps to the social office, not the police."""
    case = a_case_at(Stage.PLANNING)
    services = [
        {"service_type": "medical_examination", "agency": "health"},
        {"service_type": "social_rehabilitation", "agency": "police"},
    ]

    with acting(), refused(case, RuleViolated, rule="agency_cannot_provide_service") as caught:
        case.agree_intervention_plan(**an_intervention_plan(services=services))

    assert caught.value.step == "L3.2"


def test_intervention_plan_needs_at_least_one_service():
    """L3.2: the plan maps needed services to agencies."""
    case = a_case_at(Stage.PLANNING)

    with acting(), refused(case, InvalidValue) as caught:
        case.agree_intervention_plan(**an_intervention_plan(services=[]))

    assert caught.value.field == "services"


def test_each_planned_service_must_name_a_service_and_an_agency():
    """L3.2: each planned service names its agency."""
    case = a_case_at(Stage.PLANNING)

    with acting(), refused(case, InvalidValue) as caught:
        case.agree_intervention_plan(**an_intervention_plan(services=["medical_examination"]))

    assert caught.value.field == "services[0]"


def test_intervention_plan_must_say_who_agreed_to_it():
    """L3.5: the plan is agreed with the beneficiary and family."""
    case = a_case_at(Stage.PLANNING)

    with acting(), refused(case, InvalidValue) as caught:
        case.agree_intervention_plan(**an_intervention_plan(agreed_with=[]))

    assert caught.value.field == "agreed_with"


def test_agreed_intervention_plan_moves_the_case_to_intervention():
    """L3.5 -> L4.1."""
    case = a_case_at(Stage.PLANNING)

    with acting():
        case.agree_intervention_plan(**an_intervention_plan())

    assert case.stage == Stage.INTERVENTION


# ---- Referral status transitions (L4.1-L4.3) ---------------------------------------


def test_a_pending_referral_is_accepted():
    """L4.1: the receiving agency takes the referral on."""
    case = referred_case()

    with acting(HEALTH_OFFICER):
        case.accept_referral(**a_referral_acceptance())

    assert case.referral(REFERRAL_ID).status == ReferralStatus.ACCEPTED


@pytest.mark.parametrize(
    "status",
    [
        ReferralStatus.ACCEPTED,
        ReferralStatus.IN_PROGRESS,
        ReferralStatus.COMPLETED,
        ReferralStatus.DECLINED,
        ReferralStatus.CANCELLED,
    ],
)
def test_only_a_pending_referral_is_accepted(status):
    """L4.1: a referral is answered once."""
    case = referred_case(status=status)

    with acting(HEALTH_OFFICER), refused(case, RuleViolated, rule="referral_not_pending"):
        case.accept_referral(**a_referral_acceptance())


@pytest.mark.parametrize("status", [ReferralStatus.PENDING, ReferralStatus.ACCEPTED])
def test_a_pending_or_accepted_referral_is_declined_with_a_reason(status):
    """L4.1: an agency may decline before it starts delivering."""
    case = referred_case(status=status)

    with acting(HEALTH_OFFICER):
        case.decline_referral(**a_referral_decline())

    assert case.referral(REFERRAL_ID).status == ReferralStatus.DECLINED
    assert case.referral(REFERRAL_ID).is_settled


@pytest.mark.parametrize(
    "status",
    [
        ReferralStatus.IN_PROGRESS,
        ReferralStatus.COMPLETED,
        ReferralStatus.DECLINED,
        ReferralStatus.CANCELLED,
    ],
)
def test_a_referral_under_way_or_settled_is_not_declined(status):
    """L4.2: once delivery is reported, the outcome is reported instead."""
    case = referred_case(status=status)

    with acting(HEALTH_OFFICER), refused(case, RuleViolated, rule="referral_not_open"):
        case.decline_referral(**a_referral_decline())


def test_declining_a_referral_needs_a_reason():
    """L4.1: the coordinating office must know why, to refer elsewhere."""
    case = referred_case()

    with acting(HEALTH_OFFICER), refused(case, InvalidValue) as caught:
        case.decline_referral(**a_referral_decline(reason=" "))

    assert caught.value.field == "reason"


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        ("completed", ReferralStatus.COMPLETED),
        ("partially_delivered", ReferralStatus.IN_PROGRESS),
        ("not_delivered", ReferralStatus.NOT_DELIVERED),
    ],
)
def test_service_delivery_on_an_accepted_referral_sets_its_status(outcome, status):
    """L4.2-4.3: the agency reports what it delivered."""
    case = referred_case(status=ReferralStatus.ACCEPTED)

    with acting(HEALTH_OFFICER):
        case.record_service_delivery(**a_service_delivery(outcome=outcome))

    assert case.referral(REFERRAL_ID).status == status


def test_partial_delivery_keeps_the_referral_open_for_more_deliveries():
    """L4.1: the service continues until delivered."""
    case = referred_case(status=ReferralStatus.IN_PROGRESS)
    assert not case.referral(REFERRAL_ID).is_settled
    assert case.open_referral_agencies() == frozenset({"health"})

    with acting(HEALTH_OFFICER):
        case.record_service_delivery(**a_service_delivery(outcome="completed"))

    assert case.referral(REFERRAL_ID).status == ReferralStatus.COMPLETED


@pytest.mark.parametrize(
    "status",
    [
        ReferralStatus.PENDING,
        ReferralStatus.COMPLETED,
        ReferralStatus.DECLINED,
        ReferralStatus.CANCELLED,
    ],
)
def test_service_delivery_is_reported_only_on_an_accepted_or_in_progress_referral(status):
    """L4.2: an agency reports on a referral it has accepted."""
    case = referred_case(status=status)

    with (
        acting(HEALTH_OFFICER),
        refused(case, RuleViolated, rule="referral_not_accepted") as caught,
    ):
        case.record_service_delivery(**a_service_delivery())

    assert caught.value.step == "L4.2"


@pytest.mark.parametrize(
    "status", [ReferralStatus.PENDING, ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS]
)
def test_an_unsettled_referral_is_cancelled(status):
    """L5.5: a service no longer needed is withdrawn by the coordinating office."""
    case = referred_case(status=status)

    with acting(COORDINATOR):
        case.cancel_referral(**a_referral_cancellation())

    assert case.referral(REFERRAL_ID).status == ReferralStatus.CANCELLED


@pytest.mark.parametrize(
    "status", [ReferralStatus.COMPLETED, ReferralStatus.DECLINED, ReferralStatus.CANCELLED]
)
def test_a_settled_referral_is_not_cancelled(status):
    """L4.3: a documented outcome stays as documented."""
    case = referred_case(status=status)

    with acting(COORDINATOR), refused(case, RuleViolated, rule="referral_settled"):
        case.cancel_referral(**a_referral_cancellation())


@pytest.mark.parametrize(
    "command",
    ["accept_referral", "decline_referral", "record_service_delivery", "cancel_referral"],
)
def test_a_referral_command_on_an_unknown_referral_is_refused(command):
    """L4.1-L4.3 act on a referral the case has."""
    case = referred_case()

    with acting(COORDINATOR), refused(case, ReferralNotFound) as caught:
        getattr(case, command)(**COMMAND_ARGUMENTS[command](referral_id="no-such-referral"))

    assert caught.value.referral_id == "no-such-referral"


# ---- Monitoring and re-assessment (L5.2, L5.5) ------------------------------------


@pytest.mark.parametrize("stage", [Stage.IDENTIFICATION, Stage.ASSESSMENT, Stage.PLANNING])
def test_monitoring_visit_needs_an_agreed_plan(stage):
    """L5.2: monitoring checks the services of an agreed plan."""
    case = a_case_at(stage)

    with acting(), refused(case, RuleViolated, rule="plan_required") as caught:
        case.record_monitoring_visit(**a_monitoring_visit())

    assert caught.value.step == "L5.2"


def test_monitoring_visit_moves_the_case_to_monitoring():
    """L5.2, whatever the visit found."""
    case = a_case_at(Stage.INTERVENTION)

    with acting():
        case.record_monitoring_visit(**a_monitoring_visit(recovered=False))

    assert case.stage == Stage.MONITORING


@pytest.mark.parametrize("stage", [Stage.INTERVENTION, Stage.MONITORING])
def test_reassessment_loops_back_to_assessment(stage):
    """L5.5: still needs services -> re-assess (back to stage 2)."""
    case = a_case_at(stage)

    with acting():
        case.start_reassessment(**a_reassessment())

    assert case.stage == Stage.ASSESSMENT


@pytest.mark.parametrize("stage", [Stage.ASSESSMENT, Stage.PLANNING])
def test_reassessment_needs_an_agreed_plan(stage):
    """L5.5 follows intervention and monitoring."""
    case = a_case_at(stage)

    with acting(), refused(case, RuleViolated, rule="plan_required") as caught:
        case.start_reassessment(**a_reassessment())

    assert caught.value.step == "L5.5"


def test_a_new_cycle_needs_its_own_assessment_before_its_case_report():
    """L5.5 -> L2.7: the previous cycle's assessments do not conclude this one."""
    case = a_case_at(Stage.MONITORING)
    with acting():
        case.start_reassessment(**a_reassessment())

    with acting(), refused(case, RuleViolated, rule="assessment_required"):
        case.conclude_case_report(**a_case_report())


def test_a_new_cycle_needs_its_own_case_report_before_its_plan():
    """L5.5 -> L3.5: the plan follows this cycle's case report."""
    case = a_case_at(Stage.MONITORING)
    with acting():
        case.start_reassessment(**a_reassessment())
        case.record_assessment(**an_assessment())

    with acting(), refused(case, RuleViolated, rule="wrong_stage"):
        case.agree_intervention_plan(**an_intervention_plan())


def test_a_new_cycle_needs_its_own_monitoring_visit_before_agreed_termination():
    """L5.5: recovery found in the previous cycle does not close this one."""
    case = a_case_at(Stage.MONITORING)
    with acting():
        case.start_reassessment(**a_reassessment())
        case.record_assessment(**an_assessment())
        case.conclude_case_report(**a_case_report())
        case.agree_intervention_plan(**an_intervention_plan())

    with acting(), refused(case, RuleViolated, rule="recovery_not_found"):
        case.terminate(**an_agreed_termination())


def test_a_full_second_cycle_reaches_agreed_termination():
    """L5.5 -> L2 -> L3 -> L4 -> L5 -> L6: the continuum of care loops until recovery."""
    case = a_case_at(Stage.MONITORING, overrides={"record_monitoring_visit": {"recovered": False}})
    with acting():
        case.start_reassessment(**a_reassessment())
        case.record_assessment(**an_assessment())
        case.conclude_case_report(**a_case_report())
        case.agree_intervention_plan(**an_intervention_plan())
        case.record_monitoring_visit(**a_monitoring_visit(recovered=True))

        case.terminate(**an_agreed_termination())

    assert case.closure == "terminated:recovered"


# ---- Vocabulary: invalid values name the field and never echo the value ----------


INVALID_VALUES = [
    ("classify", "case_type", {"case_type": PERSONAL_VALUE}),
    ("classify", "risk_level", {"risk_level": PERSONAL_VALUE}),
    ("classify", "jurisdiction", {"jurisdiction": PERSONAL_VALUE}),
    ("classify", "forms_of_violence", {"forms_of_violence": ["physical", PERSONAL_VALUE]}),
    ("classify", "ampk_categories", {"ampk_categories": [PERSONAL_VALUE]}),
    ("hand_over", "target", {"target": PERSONAL_VALUE}),
    ("record_contact", "mode", {"mode": PERSONAL_VALUE}),
    ("record_consent", "given_by", {"given_by": PERSONAL_VALUE}),
    ("record_assessment", "kind", {"kind": PERSONAL_VALUE}),
    ("record_assessment", "domain", {"domain": PERSONAL_VALUE}),
    ("record_assessment", "assessing_agency", {"assessing_agency": PERSONAL_VALUE}),
    ("record_assessment", "recommended_services", {"recommended_services": [PERSONAL_VALUE]}),
    ("conclude_case_report", "needs", {"needs": [PERSONAL_VALUE]}),
    (
        "hold_case_conference",
        "participating_agencies",
        {"participating_agencies": [PERSONAL_VALUE]},
    ),
    (
        "agree_intervention_plan",
        "services[0].service_type",
        {"services": [{"service_type": PERSONAL_VALUE, "agency": "health"}]},
    ),
    (
        "agree_intervention_plan",
        "services[0].agency",
        {"services": [{"service_type": "medical_care", "agency": PERSONAL_VALUE}]},
    ),
    ("agree_intervention_plan", "agreed_with", {"agreed_with": [PERSONAL_VALUE]}),
    ("refer", "service_type", {"service_type": PERSONAL_VALUE}),
    ("refer", "agency", {"agency": PERSONAL_VALUE}),
    ("record_service_delivery", "outcome", {"outcome": PERSONAL_VALUE}),
    ("record_monitoring_visit", "mode", {"mode": PERSONAL_VALUE}),
    ("terminate", "kind", {"kind": PERSONAL_VALUE}),
    ("terminate", "reason", {"reason": PERSONAL_VALUE}),
]


def a_case_that_passes_the_state_checks_of(command: str) -> Case:
    """A case where ``command`` gets past its state checks, so a refusal is the vocabulary's."""
    if command == "record_consent":
        case = a_new_case()
        with acting(INTAKE_OFFICER):
            case.classify(**a_classification())
        return case
    if command == "conclude_case_report":
        case = a_case_at(Stage.ASSESSMENT)
        with acting():
            case.record_assessment(**an_assessment())
        return case
    if command == "agree_intervention_plan":
        return a_case_at(Stage.PLANNING)
    return referred_case(status=ReferralStatus.ACCEPTED)


@pytest.mark.parametrize(
    ("command", "field", "bad_arguments"),
    INVALID_VALUES,
    ids=[f"{command}.{field}" for command, field, _ in INVALID_VALUES],
)
def test_an_invalid_vocabulary_value_names_the_field_and_does_not_echo_the_value(
    command, field, bad_arguments
):
    """Error messages travel to logs and clients; values may be personal data."""
    case = a_case_that_passes_the_state_checks_of(command)

    with acting(), refused(case, InvalidValue) as caught:
        getattr(case, command)(**COMMAND_ARGUMENTS[command](**bad_arguments))

    assert caught.value.field == field
    assert PERSONAL_VALUE not in str(caught.value)
    assert PERSONAL_VALUE not in caught.value.message


def test_an_invalid_report_channel_names_the_field_and_does_not_echo_the_value():
    """L1.1: any complaint channel of the SOP, and only those."""
    with pytest.raises(InvalidValue) as caught:
        a_new_case(channel=PERSONAL_VALUE)

    assert caught.value.field == "channel"
    assert PERSONAL_VALUE not in str(caught.value)


def test_a_report_must_not_arrive_after_it_is_recorded():
    """L1.1 before L1.2."""
    with pytest.raises(InvalidValue) as caught:
        a_new_case(at=FIXED_TIME, arrived_at=FIXED_TIME + timedelta(minutes=1))

    assert caught.value.field == "arrived_at"


# ---- Who and when (accountability, L Pasal 3) -------------------------------------


def test_every_event_carries_the_actor_record_and_the_acting_time():
    """Accountability (L Pasal 3): who did what, and when, on every event."""
    clock = FakeClock()
    case = a_new_case(at=clock(), actor=INTAKE_OFFICER)
    classified_at = clock.advance()
    with acting_as(INTAKE_OFFICER, classified_at):
        case.classify(**a_classification())
    assigned_at = clock.advance()
    with acting_as(COORDINATOR, assigned_at):
        case.assign_case_worker(**a_case_worker_assignment())

    reported, classified, assigned = case.collect_events()

    assert reported.actor == INTAKE_OFFICER.as_record()
    assert reported.timestamp == FIXED_TIME
    assert classified.actor == INTAKE_OFFICER.as_record()
    assert classified.timestamp == classified_at
    assert assigned.actor == {
        "user_id": "coordinator-1",
        "role": "coordinator",
        "agency": "uptd_ppa",
        "district": "luwu-utara",
    }
    assert assigned.timestamp == assigned_at
    assert case.modified_on == assigned_at


def test_no_event_is_created_outside_acting_as():
    """Accountability (L Pasal 3): no anonymous event."""
    case = a_new_case()

    with refused(case, NoActorError):
        case.classify(**a_classification())


# ---- Replay ------------------------------------------------------------------------


def test_replaying_the_recorded_events_reconstructs_an_equal_case():
    """An auditor's replay of the timeline gives back exactly the case that was decided on."""
    clock = FakeClock()
    case = a_new_case(at=clock())
    advance_case(case, Stage.INTERVENTION, at=clock.advance())
    with acting_as(CASE_WORKER, clock.advance()):
        case.refer(**a_direct_referral())
        case.refer(
            **a_direct_referral(
                referral_id="referral-2", service_type="legal_process", agency="police"
            )
        )
    with acting_as(HEALTH_OFFICER, clock.advance()):
        case.accept_referral(**a_referral_acceptance())
        case.record_service_delivery(**a_service_delivery(outcome="partially_delivered"))
    with acting_as(CASE_WORKER, clock.advance()):
        case.record_monitoring_visit(**a_monitoring_visit(recovered=False))
    application = Application[UUID](env=memory_env())

    application.save(case)
    replayed = application.repository.get(case.id)

    assert replayed == case
    assert replayed.version == case.version == 13
    assert replayed.referral("referral-1").status == ReferralStatus.IN_PROGRESS
    assert replayed.stage == Stage.MONITORING


# ---- Kutai Timur's complaint SOP: family decision, recommendation, approval (K-C3-C8) ----


def recommended_case() -> Case:
    """A case in intervention with one recommendation proposed by the case worker (K-C7)."""
    case = a_case_at(Stage.INTERVENTION)
    with acting():
        case.recommend_referral(**a_recommendation())
    return case


def test_the_family_may_accept_only_services_that_were_offered():
    case = a_case_at(Stage.ASSESSMENT)

    with acting(), refused(case, InvalidValue) as caught:
        case.record_family_decision(
            **a_family_decision(offered_services=["medical_care"], accepted_services=["legal_aid"])
        )

    assert caught.value.field == "accepted_services"


def test_a_family_decision_needs_a_classified_case():
    case = a_new_case()

    with acting(), refused(case, RuleViolated, rule="classification_required"):
        case.record_family_decision(**a_family_decision())


def test_a_refusal_of_every_service_offered_is_recorded_and_leaves_the_case_open():
    case = a_case_at(Stage.ASSESSMENT)

    with acting():
        case.record_family_decision(**a_family_decision(accepted_services=[]))

    assert not case.is_closed


def test_a_recommendation_needs_consent_like_the_referral_it_proposes():
    case = a_case_at(Stage.IDENTIFICATION)
    with acting(COORDINATOR):
        case.classify(**a_classification())

    with acting(), refused(case, RuleViolated, rule="consent_required"):
        case.recommend_referral(**a_recommendation())


def test_a_recommendation_to_an_agency_that_cannot_provide_the_service_is_refused():
    case = a_case_at(Stage.INTERVENTION)

    with acting(), refused(case, RuleViolated, rule="agency_cannot_provide_service"):
        case.recommend_referral(**a_recommendation(agency="education"))


def test_the_proposer_cannot_approve_their_own_recommendation():
    """K-C8: the Ketua Pelaksana Harian approves what the Peksos proposed (K-C7)."""
    case = recommended_case()

    with acting(CASE_WORKER), refused(case, RuleViolated, rule="approval_by_proposer") as caught:
        case.approve_recommendation(**a_recommendation_approval())

    assert caught.value.step == "K-C8"


def test_an_approval_records_the_referral_with_its_berita_acara_rujukan():
    case = recommended_case()

    with acting(COORDINATOR):
        case.approve_recommendation(**a_recommendation_approval())

    assert [type(event).__name__ for event in case.pending_events][-2:] == [
        "RecommendationApproved",
        "Referred",
    ]
    assert case.referral(REFERRAL_ID).status == ReferralStatus.PENDING
    assert case.recommendation("recommendation-1").status == "approved"


def test_a_settled_recommendation_is_neither_approved_nor_returned_again():
    case = recommended_case()
    with acting(COORDINATOR):
        case.return_recommendation(**a_recommendation_return())

    with acting(COORDINATOR), refused(case, RuleViolated, rule="recommendation_settled"):
        case.approve_recommendation(**a_recommendation_approval())
    with acting(COORDINATOR), refused(case, RuleViolated, rule="recommendation_settled"):
        case.return_recommendation(**a_recommendation_return())


def test_an_approval_whose_referral_is_refused_leaves_the_recommendation_pending():
    """K-C8: the approval and its referral are recorded together, or neither is."""
    case = recommended_case()
    with acting():
        case.refer(**a_direct_referral(referral_id="referral-0", service_type="medical_care"))

    with acting(COORDINATOR), refused(case, RuleViolated, rule="referral_already_open"):
        case.approve_recommendation(**a_recommendation_approval())

    assert case.recommendation("recommendation-1").status == "proposed"


def test_an_approval_needs_a_berita_acara_rujukan():
    case = recommended_case()

    with acting(COORDINATOR), refused(case, InvalidValue) as caught:
        case.approve_recommendation(**a_recommendation_approval(referral_record_ref=" "))

    assert caught.value.field == "referral_record_ref"


def test_where_a_supervisor_approves_referrals_a_direct_referral_is_refused():
    case = a_case_at(Stage.INTERVENTION)

    with acting(), refused(case, RuleViolated, rule="referral_needs_approval") as caught:
        case.refer(**a_direct_referral(), approval_required="K-C8")

    assert caught.value.step == "K-C8"


def test_where_a_supervisor_approves_referrals_an_emergency_referral_still_goes_at_once():
    case = a_new_case()
    with acting():
        case.classify(**an_emergency_classification())

        case.refer(
            **a_direct_referral(service_type="emergency_support", emergency=True),
            approval_required="K-C8",
        )

    assert case.referral(REFERRAL_ID).emergency


# ---- Supervisor review (T3) and progress of a referral (K-R5) ------------------------------


def test_an_assessment_review_needs_an_assessment():
    case = a_case_at(Stage.ASSESSMENT)

    with acting(COORDINATOR), refused(case, RuleViolated, rule="assessment_required") as caught:
        case.review_assessment(**an_assessment_review())

    assert caught.value.step == "T3"


def test_progress_is_noted_only_on_a_referral_the_agency_is_handling():
    pending = referred_case(status=ReferralStatus.PENDING)
    with acting(HEALTH_OFFICER), refused(pending, RuleViolated, rule="referral_not_in_progress"):
        pending.note_referral_progress(**a_progress_note())

    accepted = referred_case(status=ReferralStatus.ACCEPTED)
    with acting(HEALTH_OFFICER):
        accepted.note_referral_progress(**a_progress_note())
    assert accepted.referral(REFERRAL_ID).status == ReferralStatus.ACCEPTED


# ---- Complaint kinds (Kota Batu B-K1-K15) and rule f ----------------------------------------


def test_a_complaint_kind_the_district_does_not_list_is_refused():
    case = a_new_case()

    with acting(), refused(case, RuleViolated, rule="complaint_kind_not_in_profile"):
        case.record_complaint_kind(kind="education_service", district_kinds=())


def test_a_served_complaint_that_is_no_violence_case_stays_with_the_district():
    """Kota Batu serves kinds 10-14 (problems with services): not rule f's information only."""
    case = a_new_case()
    with acting(COORDINATOR):
        case.record_complaint_kind(**a_complaint_kind(kind="education_service"))
        case.classify(
            **a_classification(case_type="other"), served_complaint_kinds={"education_service"}
        )

    assert case.handover_to is None
    assert case.pending_events[-1].routing == ["served"]


def test_an_unserved_complaint_that_is_no_violence_case_gets_information_only():
    case = a_new_case()
    with acting(COORDINATOR):
        case.record_complaint_kind(**a_complaint_kind(kind="education_service"))
        case.classify(**a_classification(case_type="other"), served_complaint_kinds=set())

    assert case.handover_to == "information_only"
