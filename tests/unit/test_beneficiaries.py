"""Several beneficiaries in one case: siblings, a family, a group.

Tanjungpinang's SOP counts "individu, keluarga, kelompok maupun kesatuan Masyarakat" among
the victims; Kutai Timur's PKSAI targets (Pasal 3) are children, families, groups and
communities. The report's victim is beneficiary "1"; each added one has their own consent
(L1.9-10, a child's by a parent or guardian) and referrals name whom they are for (L4.1).
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from copy import deepcopy
from typing import Any
from uuid import UUID

import pytest

from domain.actors import acting_as
from domain.case import Case
from domain.errors import InvalidValue, RuleViolated
from domain.vocabulary import Stage
from gateways.eventstore.environment import memory_env
from gateways.kafka.messages import agency_topic
from gateways.kafka.publication import Publication
from projections.agency_referrals import AgencyReferralsProjection
from projections.case_file import CaseFile
from projections.timeline import summaries
from services.case_commands import AddBeneficiary, RecordBeneficiaryConsent
from services.cases import Cases
from services.sharing import SharingPolicy, load_matrix
from tests.support.builders import (
    CASE_WORKER,
    FIXED_TIME,
    a_beneficiary,
    a_beneficiary_consent,
    a_case_at,
    a_direct_referral,
    a_new_case,
)
from tests.support.memory_inbox import MemoryReferralsView
from tests.support.referred_case import CASE_WORKER as SERVICE_CASE_WORKER
from tests.support.referred_case import consented_case, refer


def acting() -> Any:
    return acting_as(CASE_WORKER, FIXED_TIME)


@contextmanager
def refused(case: Case, error: type[Exception], *, rule: str = "") -> Iterator[Any]:
    state = deepcopy(vars(case))
    with pytest.raises(error) as caught:
        yield caught
    if rule:
        assert caught.value.rule == rule  # type: ignore[attr-defined]
    assert vars(case) == state


def a_case_with_a_consented_sibling() -> Case:
    case = a_case_at(Stage.INTERVENTION)
    with acting():
        case.add_beneficiary(**a_beneficiary())
        case.record_beneficiary_consent(**a_beneficiary_consent())
    return case


# ---- The aggregate's rules ---------------------------------------------------------------


def test_added_beneficiaries_are_numbered_after_the_reports_victim():
    case = a_new_case()
    with acting():
        first = case.add_beneficiary(**a_beneficiary())
        second = case.add_beneficiary(**a_beneficiary(relationship="cousin", child=False))

    assert (first, second) == ("2", "3")


def test_a_childs_consent_given_by_the_child_is_refused():
    """L1.9-10: for a child, consent is given by the parent or guardian."""
    case = a_case_at(Stage.ASSESSMENT)
    with acting():
        case.add_beneficiary(**a_beneficiary(child=True))

    with acting(), refused(case, RuleViolated, rule="child_consent_by_parent_or_guardian"):
        case.record_beneficiary_consent(**a_beneficiary_consent(given_by="victim"))


def test_consent_for_an_unknown_beneficiary_names_the_field():
    case = a_case_at(Stage.ASSESSMENT)

    with acting(), refused(case, InvalidValue) as caught:
        case.record_beneficiary_consent(**a_beneficiary_consent(beneficiary_id="7"))

    assert caught.value.field == "beneficiary_id"


def test_the_first_victims_consent_stays_the_cases_consent():
    case = a_case_at(Stage.ASSESSMENT)

    with acting(), refused(case, RuleViolated, rule="first_victim_consent_is_case_consent"):
        case.record_beneficiary_consent(**a_beneficiary_consent(beneficiary_id="1"))


def test_a_referral_for_a_beneficiary_without_their_consent_is_refused():
    """L1.9: the first victim's consent does not stand for her sibling's."""
    case = a_case_at(Stage.INTERVENTION)
    with acting():
        case.add_beneficiary(**a_beneficiary())

    with acting(), refused(case, RuleViolated, rule="consent_required") as caught:
        case.refer(**a_direct_referral(beneficiary_ids=["2"]))

    assert caught.value.step == "L1.9"


def test_a_referral_for_an_unknown_beneficiary_names_the_field():
    case = a_case_with_a_consented_sibling()

    with acting(), refused(case, InvalidValue) as caught:
        case.refer(**a_direct_referral(beneficiary_ids=["2", "9"]))

    assert caught.value.field == "beneficiary_ids"


def test_the_same_agency_and_service_may_be_referred_separately_for_each_sibling():
    """L4.1: one open referral per agency, service and beneficiary."""
    case = a_case_with_a_consented_sibling()
    with acting():
        case.refer(**a_direct_referral(referral_id="for-1"))
        case.refer(**a_direct_referral(referral_id="for-2", beneficiary_ids=["2"]))

    with acting(), refused(case, RuleViolated, rule="referral_already_open"):
        case.refer(**a_direct_referral(referral_id="again", beneficiary_ids=["1", "2"]))


def test_a_beneficiarys_refusal_leaves_the_case_open():
    case = a_case_at(Stage.ASSESSMENT)
    with acting():
        case.add_beneficiary(**a_beneficiary())
        case.record_beneficiary_consent(**a_beneficiary_consent(given=False, document_ref=""))

    assert case.stage == Stage.ASSESSMENT
    with acting(), refused(case, RuleViolated, rule="consent_required"):
        case.refer(**a_direct_referral(beneficiary_ids=["2"]))


# ---- Case file and timeline --------------------------------------------------------------


def test_the_case_file_lists_each_beneficiary_with_their_consent_and_referrals():
    case = a_case_with_a_consented_sibling()
    with acting():
        case.refer(**a_direct_referral(referral_id="for-2", beneficiary_ids=["2"]))
        case.refer(
            **a_direct_referral(referral_id="for-1", service_type="psychological_counselling")
        )
    events = case.collect_events()
    file = CaseFile.from_events(events)

    first, sibling = file.beneficiaries
    assert (first.beneficiary_id, first.consent is not None, first.referral_ids) == (
        "1",
        True,
        ["for-1"],
    )
    assert sibling.person == a_beneficiary()["person"]
    assert (sibling.relationship, sibling.child) == ("sibling", True)
    assert sibling.consent is not None and sibling.consent.given_by == "parent"
    assert sibling.referral_ids == ["for-2"]
    by_id = {referral.referral_id: referral.beneficiary_ids for referral in file.referrals}
    assert by_id == {"for-2": ["2"], "for-1": ["1"]}


def test_the_timeline_states_the_beneficiary_events_without_their_free_text():
    case = a_case_with_a_consented_sibling()
    with acting():
        case.refer(**a_direct_referral(referral_id="for-2", beneficiary_ids=["2"]))
    events = case.collect_events()

    said = [summary.en for summary in summaries(events)]

    assert "Beneficiary 2 (a child) added to the case" in said
    assert "Written informed consent for beneficiary 2 given by a parent" in said
    assert "The referral that follows is for beneficiaries 2" in said
    assert not any("Sari" in summary or "sibling" in summary for summary in said)


# ---- Sharing: one sibling's facts never reach another's agency ---------------------------


def three_siblings(cases: Cases) -> tuple[UUID, str, str]:
    case_id = consented_case(cases)
    for name in ("Sari Lestari", "Bima Lestari"):
        cases.execute(
            SERVICE_CASE_WORKER,
            case_id,
            AddBeneficiary(person={"name": name, "age": 9}, relationship="sibling", child=True),
        )
    for beneficiary_id in ("2", "3"):
        cases.execute(
            SERVICE_CASE_WORKER,
            case_id,
            RecordBeneficiaryConsent(
                beneficiary_id=beneficiary_id, given=True, given_by="parent", document_ref="IC-2"
            ),
        )
    health = refer(cases, case_id, "health", "medical_care", beneficiary_ids=["2"])
    school = refer(cases, case_id, "education", "return_to_school", beneficiary_ids=["3"])
    return case_id, health, school


def agency_messages(cases: Cases) -> dict[str, list[str]]:
    publication = Publication(cases, SharingPolicy(load_matrix()), "simpul")
    notifications = cases.recorder.select_notifications(
        start=0, limit=10_000, inclusive_of_start=False
    )
    by_topic: dict[str, list[str]] = {}
    for n in notifications:
        for message in publication.messages(n.id, cases.mapper.to_domain_event(n)):
            if ".agency." in message.topic:
                text = json.dumps(message.cloud_event, default=str)
                by_topic.setdefault(message.topic, []).append(text)
    return by_topic


def test_each_added_beneficiarys_facts_reach_only_the_agency_serving_them():
    """beneficiary.shared: Sari reaches the health office referred for her, Bima the school."""
    cases = Cases(env=memory_env())
    three_siblings(cases)

    messages = agency_messages(cases)

    assert set(messages) == {"simpul.agency.health.v1", "simpul.agency.education.v1"}
    health = " ".join(messages["simpul.agency.health.v1"])
    school = " ".join(messages["simpul.agency.education.v1"])
    assert "Sari" in health and "Bima" not in health
    assert "Bima" in school and "Sari" not in school
    assert "id.simpul.agency.beneficiary.shared.v1" in health


def test_an_agency_referred_only_for_a_sibling_learns_nothing_of_the_first_victim():
    """The first victim's identity (Mawar, NIK) and assessments reach only her agencies."""
    cases = Cases(env=memory_env())
    case_id, _, _ = three_siblings(cases)
    refer(cases, case_id, "police", "legal_process")

    messages = agency_messages(cases)

    for topic in ("simpul.agency.health.v1", "simpul.agency.education.v1"):
        assert messages[topic], topic
        assert not any("Mawar" in t or "fractured" in t for t in messages[topic]), topic
    assert any("Mawar" in text for text in messages["simpul.agency.police.v1"])


def test_each_agencys_inbox_holds_only_the_referral_for_its_sibling():
    cases = Cases(env=memory_env())
    case_id, health, school = three_siblings(cases)
    publication = Publication(cases, SharingPolicy(load_matrix()), "simpul")
    views = {agency: MemoryReferralsView() for agency in ("health", "education")}
    projection = AgencyReferralsProjection()
    for n in cases.recorder.select_notifications(0, 10_000, inclusive_of_start=False):
        for message in publication.messages(n.id, cases.mapper.to_domain_event(n)):
            for agency, view in views.items():
                if message.topic == agency_topic("simpul", agency):
                    projection.process(message.cloud_event, view)

    assert list(views["health"].referrals) == [health]
    assert list(views["education"].referrals) == [school]
    for view in views.values():
        facts = view.cases[str(case_id)]["facts"]
        assert "victim" not in facts and "assessments" not in facts
