"""The agency inbox fold: messages from an agency's topic into its cases and referrals."""

import pytest

from gateways.eventstore.environment import memory_env
from gateways.kafka.messages import agency_topic
from gateways.kafka.publication import Publication
from projections.agency_referrals import (
    AgencyReferralsProjection,
    UnknownMessageType,
)
from services.case_commands import AcknowledgeHandover, DeclineReferral
from services.cases import Cases
from services.sharing import SharingPolicy, load_matrix
from tests.support.memory_inbox import MemoryReferralsView
from tests.support.referred_case import (
    busy_case,
    consented_case,
    deliver,
    handed_over_case,
    officer,
    refer,
)


@pytest.fixture
def cases() -> Cases:
    return Cases(env=memory_env())


def inbox(cases: Cases, agency: str) -> MemoryReferralsView:
    publication = Publication(cases, SharingPolicy(load_matrix()), "simpul")
    view = MemoryReferralsView()
    projection = AgencyReferralsProjection()
    for notification in cases.recorder.select_notifications(0, 10_000, inclusive_of_start=False):
        for message in publication.messages(
            notification.id, cases.mapper.to_domain_event(notification)
        ):
            if message.topic == agency_topic("simpul", agency):
                projection.process(message.cloud_event, view)
    return view


def test_a_new_referral_is_pending_in_the_agencys_inbox_with_its_due_time(cases: Cases):
    case_id = consented_case(cases)
    referral_id = refer(cases, case_id, "police", "legal_process")

    view = inbox(cases, "police")

    referral = view.referrals[referral_id]
    assert referral["status"] == "pending"
    assert referral["service_type"] == "legal_process"
    assert referral["due_at"] > referral["referred_at"]
    assert view.cases[str(case_id)]["status"] == "open"
    assert view.cases[str(case_id)]["facts"]["victim"]["name"] == "Mawar"
    assert view.cases[str(case_id)]["message_count"] == 2


def test_a_delivered_referral_closes_the_case_in_the_agencys_inbox(cases: Cases):
    case_id = consented_case(cases)
    referral_id = refer(cases, case_id, "police", "legal_process")
    deliver(cases, case_id, referral_id, "police")

    view = inbox(cases, "police")

    assert view.referrals[referral_id]["status"] == "completed"
    assert view.referrals[referral_id]["details"]["summary"] == "done"
    assert view.cases[str(case_id)]["status"] == "closed"
    assert view.cases[str(case_id)]["closing_reason"] == "referrals_settled"


def test_termination_leaves_every_referral_settled_and_every_case_closed(cases: Cases):
    busy_case(cases)

    for agency in ("police", "health", "education", "social"):
        view = inbox(cases, agency)
        assert {case["status"] for case in view.cases.values()} == {"closed"}, agency
        assert all(
            r["status"] in {"completed", "declined", "cancelled"} for r in view.referrals.values()
        ), agency


def test_a_re_referred_case_is_open_again(cases: Cases):
    case_id = consented_case(cases)
    first = refer(cases, case_id, "education", "return_to_school")
    cases.execute(officer("education"), case_id, DeclineReferral(referral_id=first, reason="full"))
    second = refer(cases, case_id, "education", "non_formal_education")

    view = inbox(cases, "education")

    assert view.cases[str(case_id)]["status"] == "open"
    assert view.referrals[first]["status"] == "declined"
    assert view.referrals[second]["status"] == "pending"


def test_a_closing_dates_the_end_of_its_parts_referrals_once_and_for_all(cases: Cases):
    # Retention counts from the part's closing, even after the case is referred again.
    case_id = consented_case(cases)
    first = refer(cases, case_id, "education", "return_to_school")
    cases.execute(officer("education"), case_id, DeclineReferral(referral_id=first, reason="full"))
    second = refer(cases, case_id, "education", "non_formal_education")
    closed_once = inbox(cases, "education")
    cases.execute(officer("education"), case_id, DeclineReferral(referral_id=second, reason="no"))

    view = inbox(cases, "education")

    first_closed_at = closed_once.referrals[first]["part_closed_at"]
    assert first_closed_at is not None
    assert closed_once.referrals[second]["part_closed_at"] is None
    assert view.referrals[first]["part_closed_at"] == first_closed_at
    assert view.referrals[second]["part_closed_at"] == view.cases[str(case_id)]["closed_at"]
    assert view.referrals[second]["part_closed_at"] > first_closed_at


def test_a_handed_over_case_shows_as_handed_over_to_the_receiving_agency(cases: Cases):
    case_id = handed_over_case(cases)

    view = inbox(cases, "patbm")

    assert view.cases[str(case_id)]["status"] == "handed_over"
    assert view.referrals == {}


def test_the_school_inbox_never_holds_the_medical_assessment(cases: Cases):
    case_id = consented_case(cases)
    refer(cases, case_id, "education", "return_to_school")

    facts = inbox(cases, "education").cases[str(case_id)]["facts"]

    assert "assessments" not in facts
    assert "fractured" not in str(facts)


def test_an_unknown_message_type_is_refused_not_dropped():
    with pytest.raises(UnknownMessageType):
        AgencyReferralsProjection().process(
            {"type": "id.simpul.agency.gossip.v1", "data": {}}, MemoryReferralsView()
        )


def test_the_village_groups_acknowledgement_of_a_handover_shows_in_its_inbox(cases: Cases):
    """L1.5 b: the handed-over case stays handed over, now acknowledged."""
    case_id = handed_over_case(cases)
    cases.execute(officer("patbm"), case_id, AcknowledgeHandover(taken_by="Ketua PATBM"))

    view = inbox(cases, "patbm")

    case = view.cases[str(case_id)]
    assert case["status"] == "handed_over"
    assert case["handover_answer"]["status"] == "acknowledged"
    assert "Ketua PATBM" not in str(case)
