"""The case file, folded from the events of a real Case driven command by command."""

import inspect
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from itertools import count, groupby
from typing import Any
from uuid import UUID, uuid4

import jsonschema
import pytest
from pydantic import BaseModel

from domain.actors import Actor, acting_as
from domain.case import Case
from gateways.eventstore.environment import memory_env
from projections import case_file as case_file_module
from projections.case_file import (
    CaseFile,
    HistoryEntry,
    UnknownCaseEvent,
    case_file_as_of,
    history_entry,
)
from services.access_log import CaseRead
from services.case_commands import AssignCaseWorker, Classify, RecordConsent, Refer, ReportCase
from services.cases import Cases
from tests.support.builders import (
    AUDITOR,
    CASE_WORKER,
    COORDINATOR,
    DISTRICT,
    EDUCATION_OFFICER,
    HEALTH_OFFICER,
    INTAKE_OFFICER,
    LEGAL_AID_OFFICER,
    POLICE_OFFICER,
    PROVINCE_OFFICER,
    RECEIVING_AGENCIES,
    SOCIAL_OFFICER,
    START,
    a_fact_correction,
    after,
    record,
    report,
    report_details,
)

# ---- A case driven command by command --------------------------------------------------------


class CaseStory:
    """A real Case and every event it recorded, oldest first.

    After each command, the case file folded up to each new event must agree
    with the aggregate replayed to the same version on stage, status, version
    and referral statuses. Commands that record two events (a consent refusal
    also terminates) are thus checked between their events too.
    """

    def __init__(self, **report_overrides: Any) -> None:
        self.details = report_details(**report_overrides)
        self.case = report(START, **self.details)
        self.events: list[Case.Event] = []
        self.stages: list[str] = []
        self._add(self.case.collect_events())

    @contextmanager
    def step(self, when: datetime, *, by: Actor = COORDINATOR) -> Iterator[Case]:
        with record(self.case, when, by=by) as recorded:
            yield self.case
        self._add(recorded)

    @property
    def file(self) -> CaseFile:
        return CaseFile.from_events(self.events)

    def _add(self, recorded: Sequence[Case.Event]) -> None:
        for event in recorded:
            self.events.append(event)
            self._check_the_file_agrees_with(replayed(self.events))
        assert replayed(self.events).stage == self.case.stage

    def _check_the_file_agrees_with(self, case: Case) -> None:
        file = self.file
        assert file.stage == case.stage
        assert file.status == ("closed" if case.is_closed else "open")
        assert file.version == case.version
        assert {referral.referral_id: referral.status for referral in file.referrals} == {
            referral_id: referral.status for referral_id, referral in case.referrals.items()
        }
        self.stages.append(file.stage)


def replayed(events: Sequence[Case.Event]) -> Case:
    """The aggregate as the event store rebuilds it: each event's body applied in turn."""
    case = None
    for event in events:
        case = event.mutate(case)
    assert isinstance(case, Case)
    return case


def stamp(when: datetime, by: Actor) -> dict[str, Any]:
    return {"at": when, "by": by.as_record()}


def dumps(models: Sequence[BaseModel]) -> list[dict[str, Any]]:
    return [model.model_dump() for model in models]


def without_repeats(values: Sequence[str]) -> list[str]:
    return [value for value, _run in groupby(values)]


# ---- The whole story: report to agreed termination, with one re-assessment loop --------------

FIRST_AID_NOTES = "Stayed with the child through the interview and calmed her."
CLASSIFICATION = {
    "case_type": "KTA",
    "risk_level": "high",
    "jurisdiction": "district",
    "emergency": True,
    "forms_of_violence": ["sexual", "psychological"],
    "ampk_categories": ["sexual_crime"],
    "rationale": "The neighbour who abused her still lives next door.",
}
ASSIGNMENT_LETTER = "ST/UPTD-PPA/2025/031"
EMERGENCY_RESPONSE = {
    "actions": ["moved the child to her aunt's house", "took her to the health centre"],
    "notes": "The aunt agreed to host her.",
}
MEDICAL_REFERRAL = {
    "referral_id": "medical-examination",
    "service_type": "medical_examination",
    "agency": "health",
    "due_at": after(days=1),
    "emergency": True,
    "notes": "Visum et repertum requested by the police.",
    "referral_record_ref": "BA-RUJ/2025/011",
}
CONTACT = {"mode": "home_visit", "notes": "Met the mother and the aunt."}
CONSENT = {"given": True, "given_by": "parent", "document_ref": "IC/2025/031", "notes": "Signed."}
HOME_VISIT_ASSESSMENT = {
    "kind": "initial_home_visit",
    "domain": "social_spiritual",
    "assessing_agency": "uptd_ppa",
    "findings": "Lives with her mother; the family is frightened of the neighbour.",
    "recommended_services": ["psychological_counselling", "legal_process"],
}
PHYSICAL_ASSESSMENT = {
    "kind": "further",
    "domain": "physical",
    "assessing_agency": "health",
    "findings": "Healing bruises on both arms.",
    "recommended_services": ["medical_care"],
}
MEDICAL_DELIVERY = {
    "outcome": "completed",
    "delivered_on": "2025-03-04",
    "summary": "Examined; the visum report went to the police.",
}
FIRST_CASE_REPORT = {
    "summary": "Sexual abuse by a neighbour; the child is frightened and out of school.",
    "needs": ["psychological_counselling", "legal_process", "return_to_school"],
}
CASE_CONFERENCE = {
    "held_on": "2025-03-05",
    "participating_agencies": ["uptd_ppa", "police", "education", "province"],
    "decisions": ["the police investigate", "the school readmits her"],
}
FAMILY_MEETING = {
    "held_on": "2025-03-05",
    "participants": ["mother", "aunt", "the child"],
    "agreements": ["she stays with her aunt until the investigation ends"],
}
FIRST_PLAN = {
    "goals": ["psychological recovery", "the abuser answers to the law", "back at school"],
    "services": [
        {"service_type": "psychological_counselling", "agency": "province"},
        {"service_type": "legal_process", "agency": "police"},
        {"service_type": "return_to_school", "agency": "education"},
    ],
    "agreed_with": ["victim", "parent"],
    "plan_document_ref": "RI/2025/031",
}
COUNSELLING_REFERRAL = {
    "referral_id": "counselling",
    "service_type": "psychological_counselling",
    "agency": "province",
    "due_at": after(days=10),
    "notes": "Trauma counselling by the provincial psychologist.",
    "referral_record_ref": "BA-RUJ/2025/012",
}
LEGAL_PROCESS_REFERRAL = {
    "referral_id": "legal-process",
    "service_type": "legal_process",
    "agency": "police",
    "due_at": after(days=10),
    "notes": "The family reported the abuse at Polres on 3 March.",
    "referral_record_ref": "BA-RUJ/2025/013",
}
SCHOOL_REFERRAL = {
    "referral_id": "return-to-school",
    "service_type": "return_to_school",
    "agency": "education",
    "due_at": after(days=10),
    "notes": "",
    "referral_record_ref": "BA-RUJ/2025/014",
}
PARTIAL_COUNSELLING = {
    "outcome": "partially_delivered",
    "delivered_on": "2025-03-11",
    "summary": "Two of four sessions held.",
}
COMPLETED_COUNSELLING = {
    "outcome": "completed",
    "delivered_on": "2025-03-15",
    "summary": "All four sessions held.",
}
SCHOOL_NOT_NEEDED = "The school readmitted her before the referral was acted on."
POLICE_DECLINE = "The family withdrew the complaint, so no investigation can proceed."
ACCOMPANIMENT = {"activity": "accompanied her to the first counselling session", "notes": ""}
FIRST_MONITORING = {
    "mode": "home_visit",
    "findings": "Nightmares persist; she avoids leaving the house.",
    "services_on_track": False,
    "recovered": False,
}
REASSESSMENT_REASON = "She still needs help: a specialist psychological assessment."
SPECIALIST_ASSESSMENT = {
    "kind": "specialist",
    "domain": "psychological",
    "assessing_agency": "province",
    "findings": "Post-traumatic stress; improving with support.",
    "recommended_services": ["psychological_counselling", "legal_aid"],
}
SECOND_CASE_REPORT = {
    "summary": "Recovering; the family wants legal advice on reopening the complaint.",
    "needs": ["legal_aid"],
}
SECOND_PLAN = {
    "goals": ["the family knows its legal options"],
    "services": [{"service_type": "legal_aid", "agency": "legal_aid"}],
    "agreed_with": ["parent"],
    "plan_document_ref": "RI/2025/031-2",
}
LEGAL_AID_REFERRAL = {
    "referral_id": "legal-aid",
    "service_type": "legal_aid",
    "agency": "legal_aid",
    "due_at": after(days=31),
    "notes": "",
    "referral_record_ref": "BA-RUJ/2025/019",
}
LEGAL_AID_DELIVERY = {
    "outcome": "completed",
    "delivered_on": "2025-04-12",
    "summary": "Advised the family; they chose not to reopen the complaint.",
}
FINAL_MONITORING = {
    "mode": "office_visit",
    "findings": "Back at school, sleeping well.",
    "services_on_track": True,
    "recovered": True,
}
AGREED_TERMINATION = {
    "kind": "agreed",
    "reason": "recovered",
    "beneficiary_feedback": {"satisfaction": "satisfied", "comment": "Thank you for staying."},
    "termination_form_ref": "TERM/2025/031",
    "notes": "Signed with the mother and the child.",
}


def tell_the_whole_story() -> CaseStory:
    story = CaseStory()
    # Identification (L1): first aid, emergency classification, emergency outreach, consent.
    with story.step(after(minutes=20), by=CASE_WORKER) as case:
        case.give_psychological_first_aid(notes=FIRST_AID_NOTES)
    with story.step(after(minutes=50)) as case:
        case.classify(**CLASSIFICATION)
    with story.step(after(hours=2)) as case:
        case.assign_case_worker(
            case_worker_id=CASE_WORKER.user_id, assignment_letter_ref=ASSIGNMENT_LETTER
        )
    with story.step(after(hours=3), by=CASE_WORKER) as case:
        case.record_emergency_response(**EMERGENCY_RESPONSE)
    with story.step(after(hours=3, minutes=30), by=CASE_WORKER) as case:
        case.refer(**MEDICAL_REFERRAL, receiving_agencies=RECEIVING_AGENCIES)
    with story.step(after(hours=5), by=CASE_WORKER) as case:
        case.record_contact(**CONTACT)
    with story.step(after(hours=5, minutes=30), by=CASE_WORKER) as case:
        case.record_consent(**CONSENT)
    with story.step(after(hours=6), by=HEALTH_OFFICER) as case:
        case.accept_referral(referral_id="medical-examination", notes="Doctor on duty.")
    # Assessment (L2).
    with story.step(after(days=1), by=CASE_WORKER) as case:
        case.record_assessment(**HOME_VISIT_ASSESSMENT)
    with story.step(after(days=1, hours=1), by=HEALTH_OFFICER) as case:
        case.record_assessment(**PHYSICAL_ASSESSMENT)
    with story.step(after(days=1, hours=2), by=HEALTH_OFFICER) as case:
        case.record_service_delivery(referral_id="medical-examination", **MEDICAL_DELIVERY)
    with story.step(after(days=1, hours=4), by=CASE_WORKER) as case:
        case.conclude_case_report(**FIRST_CASE_REPORT)
    # Planning (L3).
    with story.step(after(days=2)) as case:
        case.hold_case_conference(**CASE_CONFERENCE)
    with story.step(after(days=2, hours=3), by=CASE_WORKER) as case:
        case.hold_family_meeting(**FAMILY_MEETING)
    with story.step(after(days=3), by=CASE_WORKER) as case:
        case.agree_intervention_plan(**FIRST_PLAN)
    # Intervention (L4): one referral completed in two deliveries, one declined, one withdrawn.
    with story.step(after(days=3, hours=1), by=CASE_WORKER) as case:
        case.refer(**COUNSELLING_REFERRAL, receiving_agencies=RECEIVING_AGENCIES)
    with story.step(after(days=3, hours=2), by=CASE_WORKER) as case:
        case.refer(**LEGAL_PROCESS_REFERRAL, receiving_agencies=RECEIVING_AGENCIES)
    with story.step(after(days=3, hours=3), by=CASE_WORKER) as case:
        case.refer(**SCHOOL_REFERRAL, receiving_agencies=RECEIVING_AGENCIES)
    with story.step(after(days=4), by=PROVINCE_OFFICER) as case:
        case.accept_referral(referral_id="counselling")
    with story.step(after(days=4, hours=1), by=POLICE_OFFICER) as case:
        case.accept_referral(referral_id="legal-process", notes="Assigned to Unit PPA.")
    with story.step(after(days=5)) as case:
        case.cancel_referral(referral_id="return-to-school", reason=SCHOOL_NOT_NEEDED)
    with story.step(after(days=8), by=PROVINCE_OFFICER) as case:
        case.record_service_delivery(referral_id="counselling", **PARTIAL_COUNSELLING)
    with story.step(after(days=9), by=POLICE_OFFICER) as case:
        case.decline_referral(referral_id="legal-process", reason=POLICE_DECLINE)
    with story.step(after(days=10), by=CASE_WORKER) as case:
        case.record_accompaniment(**ACCOMPANIMENT)
    with story.step(after(days=12), by=PROVINCE_OFFICER) as case:
        case.record_service_delivery(referral_id="counselling", **COMPLETED_COUNSELLING)
    # Monitoring (L5) finds she still needs help: back to assessment, a second cycle.
    with story.step(after(days=20), by=CASE_WORKER) as case:
        case.record_monitoring_visit(**FIRST_MONITORING)
    with story.step(after(days=20, hours=1), by=CASE_WORKER) as case:
        case.start_reassessment(reason=REASSESSMENT_REASON)
    with story.step(after(days=22), by=PROVINCE_OFFICER) as case:
        case.record_assessment(**SPECIALIST_ASSESSMENT)
    with story.step(after(days=23), by=CASE_WORKER) as case:
        case.conclude_case_report(**SECOND_CASE_REPORT)
    with story.step(after(days=24), by=CASE_WORKER) as case:
        case.agree_intervention_plan(**SECOND_PLAN)
    with story.step(after(days=24, hours=1), by=CASE_WORKER) as case:
        # The bundled matrix gives LBH no inbox; this deployment's matrix adds its row.
        case.refer(**LEGAL_AID_REFERRAL, receiving_agencies=RECEIVING_AGENCIES | {"legal_aid"})
    with story.step(after(days=25), by=LEGAL_AID_OFFICER) as case:
        case.accept_referral(referral_id="legal-aid")
    with story.step(after(days=40), by=LEGAL_AID_OFFICER) as case:
        case.record_service_delivery(referral_id="legal-aid", **LEGAL_AID_DELIVERY)
    with story.step(after(days=60), by=CASE_WORKER) as case:
        case.record_monitoring_visit(**FINAL_MONITORING)
    # Termination (L6), agreed with the family.
    with story.step(after(days=61), by=CASE_WORKER) as case:
        case.terminate(**AGREED_TERMINATION)
    return story


@pytest.fixture
def whole_story() -> CaseStory:
    return tell_the_whole_story()


def test_case_file_opens_with_the_report_as_recorded(whole_story: CaseStory) -> None:
    file = whole_story.file
    details = whole_story.details

    assert file.case_id == whole_story.case.id == details["case_id"]
    assert file.register_number == details["register_number"]
    assert file.district == DISTRICT
    assert file.created_at == START
    assert file.report.model_dump() == {
        "channel": details["channel"],
        "arrived_at": details["arrived_at"],
        "recorded_at": START,
        "recorded_by": INTAKE_OFFICER.as_record(),
        "chronology": details["chronology"],
        "victim": details["victim"],
        "reporter": details["reporter"],
        "reported_person": details["reported_person"],
        "incident": details["incident"],
        "needs": details["needs"],
        "psychological_first_aid_needed": True,
        "documents": details["documents"],
    }


def test_identification_steps_are_filed_with_who_did_them_and_when(whole_story: CaseStory) -> None:
    file = whole_story.file

    assert dumps(file.psychological_first_aid) == [
        {"notes": FIRST_AID_NOTES, **stamp(after(minutes=20), CASE_WORKER)}
    ]
    assert file.classification is not None
    assert file.classification.model_dump() == {
        **CLASSIFICATION,
        "routing_rules": ["a", "e"],
        "handover_to": None,
        **stamp(after(minutes=50), COORDINATOR),
    }
    assert file.classification_history == [file.classification]
    assert dumps(file.emergency_responses) == [
        {**EMERGENCY_RESPONSE, **stamp(after(hours=3), CASE_WORKER)}
    ]
    assert file.case_worker is not None
    assert file.case_worker.model_dump() == {
        "user_id": CASE_WORKER.user_id,
        "assignment_letter_ref": ASSIGNMENT_LETTER,
        "assigned_at": after(hours=2),
        "assigned_by": COORDINATOR.as_record(),
    }
    assert dumps(file.contacts) == [{**CONTACT, **stamp(after(hours=5), CASE_WORKER)}]
    assert file.consent is not None
    assert file.consent.model_dump() == {
        **CONSENT,
        **stamp(after(hours=5, minutes=30), CASE_WORKER),
    }


def test_assessments_of_every_cycle_are_filed_and_the_latest_case_report_stands(
    whole_story: CaseStory,
) -> None:
    file = whole_story.file

    assert dumps(file.assessments) == [
        {**HOME_VISIT_ASSESSMENT, **stamp(after(days=1), CASE_WORKER)},
        {**PHYSICAL_ASSESSMENT, **stamp(after(days=1, hours=1), HEALTH_OFFICER)},
        {**SPECIALIST_ASSESSMENT, **stamp(after(days=22), PROVINCE_OFFICER)},
    ]
    assert file.case_report is not None
    assert file.case_report.model_dump() == {
        **SECOND_CASE_REPORT,
        **stamp(after(days=23), CASE_WORKER),
    }


def test_meetings_are_filed_and_the_latest_intervention_plan_stands(
    whole_story: CaseStory,
) -> None:
    file = whole_story.file

    assert dumps(file.meetings) == [
        {"kind": "case_conference", **CASE_CONFERENCE, **stamp(after(days=2), COORDINATOR)},
        {
            "kind": "family_meeting",
            **FAMILY_MEETING,
            **stamp(after(days=2, hours=3), CASE_WORKER),
        },
    ]
    assert file.intervention_plan is not None
    assert file.intervention_plan.model_dump() == {
        **SECOND_PLAN,
        **stamp(after(days=24), CASE_WORKER),
    }


def test_referrals_are_filed_in_order_with_their_whole_course(whole_story: CaseStory) -> None:
    not_accepted = {"accepted_at": None, "accepted_by": None, "acceptance_notes": ""}
    unsettled_parts = {"declined": None, "cancelled": None, "progress_notes": []}

    assert dumps(whole_story.file.referrals) == [
        {
            **MEDICAL_REFERRAL,
            "beneficiary_ids": ["1"],
            "status": "completed",
            "referred_at": after(hours=3, minutes=30),
            "referred_by": CASE_WORKER.as_record(),
            "accepted_at": after(hours=6),
            "accepted_by": HEALTH_OFFICER.as_record(),
            "acceptance_notes": "Doctor on duty.",
            "deliveries": [{**MEDICAL_DELIVERY, **stamp(after(days=1, hours=2), HEALTH_OFFICER)}],
            **unsettled_parts,
        },
        {
            **COUNSELLING_REFERRAL,
            "beneficiary_ids": ["1"],
            "status": "completed",
            "emergency": False,
            "referred_at": after(days=3, hours=1),
            "referred_by": CASE_WORKER.as_record(),
            "accepted_at": after(days=4),
            "accepted_by": PROVINCE_OFFICER.as_record(),
            "acceptance_notes": "",
            "deliveries": [
                {**PARTIAL_COUNSELLING, **stamp(after(days=8), PROVINCE_OFFICER)},
                {**COMPLETED_COUNSELLING, **stamp(after(days=12), PROVINCE_OFFICER)},
            ],
            **unsettled_parts,
        },
        {
            **LEGAL_PROCESS_REFERRAL,
            "beneficiary_ids": ["1"],
            "status": "declined",
            "emergency": False,
            "referred_at": after(days=3, hours=2),
            "referred_by": CASE_WORKER.as_record(),
            "accepted_at": after(days=4, hours=1),
            "accepted_by": POLICE_OFFICER.as_record(),
            "acceptance_notes": "Assigned to Unit PPA.",
            "declined": {"reason": POLICE_DECLINE, **stamp(after(days=9), POLICE_OFFICER)},
            "deliveries": [],
            "cancelled": None,
            "progress_notes": [],
        },
        {
            **SCHOOL_REFERRAL,
            "beneficiary_ids": ["1"],
            "status": "cancelled",
            "emergency": False,
            "referred_at": after(days=3, hours=3),
            "referred_by": CASE_WORKER.as_record(),
            **not_accepted,
            "declined": None,
            "deliveries": [],
            "cancelled": {
                "cause": "withdrawn",
                "reason": SCHOOL_NOT_NEEDED,
                **stamp(after(days=5), COORDINATOR),
            },
            "progress_notes": [],
        },
        {
            **LEGAL_AID_REFERRAL,
            "beneficiary_ids": ["1"],
            "status": "completed",
            "emergency": False,
            "referred_at": after(days=24, hours=1),
            "referred_by": CASE_WORKER.as_record(),
            "accepted_at": after(days=25),
            "accepted_by": LEGAL_AID_OFFICER.as_record(),
            "acceptance_notes": "",
            "deliveries": [{**LEGAL_AID_DELIVERY, **stamp(after(days=40), LEGAL_AID_OFFICER)}],
            **unsettled_parts,
        },
    ]


def test_accompaniment_monitoring_and_reassessment_are_filed(whole_story: CaseStory) -> None:
    file = whole_story.file

    assert dumps(file.accompaniment) == [{**ACCOMPANIMENT, **stamp(after(days=10), CASE_WORKER)}]
    assert dumps(file.monitoring_visits) == [
        {**FIRST_MONITORING, **stamp(after(days=20), CASE_WORKER)},
        {**FINAL_MONITORING, **stamp(after(days=60), CASE_WORKER)},
    ]
    assert dumps(file.reassessments) == [
        {"reason": REASSESSMENT_REASON, **stamp(after(days=20, hours=1), CASE_WORKER)}
    ]


def test_agreed_termination_closes_the_case_file(whole_story: CaseStory) -> None:
    file = whole_story.file

    assert file.stage == "closed"
    assert file.status == "closed"
    assert file.version == len(whole_story.events) == 36
    assert file.updated_at == after(days=61)
    assert file.termination is not None
    assert file.termination.model_dump() == {
        **AGREED_TERMINATION,
        **stamp(after(days=61), CASE_WORKER),
    }
    assert file.closure is not None
    assert file.closure.model_dump() == {
        "kind": "terminated",
        "reason": "recovered",
        "target": None,
        "at": after(days=61),
    }
    assert file.handover is None


def test_case_file_stage_follows_the_aggregate_after_every_command(whole_story: CaseStory) -> None:
    # CaseStory compared stage, status, version and referral statuses at every version;
    # here the stages it passed through show the whole SOP, re-assessment loop included.
    assert without_repeats(whole_story.stages) == [
        "identification",
        "assessment",
        "planning",
        "intervention",
        "monitoring",
        "assessment",
        "planning",
        "intervention",
        "monitoring",
        "closed",
    ]


# ---- Shorter stories -------------------------------------------------------------------------


def classified_story(**classification: Any) -> CaseStory:
    story = CaseStory()
    with story.step(after(minutes=30)) as case:
        case.classify(
            **{
                "case_type": "KTA",
                "risk_level": "medium",
                "jurisdiction": "district",
                "emergency": False,
                **classification,
            }
        )
    return story


MEDIATION = {
    "held_on": "2025-03-06",
    "parties": ["the mother", "the neighbour who struck her"],
    "perpetrator_is_child": False,
    "agreement_reached": True,
    "agreements": ["The neighbour stays away from the house."],
}


def mediated_story() -> CaseStory:
    """Physical violence (not sexual): the office mediates (P5) once consent is given."""
    story = classified_story(forms_of_violence=["physical"])
    with story.step(after(hours=1)) as case:
        case.assign_case_worker(case_worker_id=CASE_WORKER.user_id)
    with story.step(after(hours=2), by=CASE_WORKER) as case:
        case.record_consent(given=True, given_by="parent", document_ref="IC/2025/041")
    with story.step(after(days=1), by=CASE_WORKER) as case:
        case.hold_mediation(**MEDIATION)
    return story


def test_a_mediation_is_filed_with_its_parties_and_agreements() -> None:
    story = mediated_story()

    file = CaseFile.from_events(story.events)

    assert [m.model_dump(exclude={"at", "by"}) for m in file.mediations] == [MEDIATION]
    assert file.mediations[0].by.user_id == CASE_WORKER.user_id


def supervised_referral_story() -> CaseStory:
    """Kutai Timur's complaint SOP: the family decides on the services offered (K-C3), a
    supervisor reviews the assessment (T3), one recommendation is returned and one
    approved into a referral (K-C7-C8), whose progress is noted (K-R5). The complaint's
    kind is recorded first, as Kota Batu's SOP lists them (B-K2)."""
    story = CaseStory()
    with story.step(after(minutes=20)) as case:
        case.record_complaint_kind(kind="violence", district_kinds=["violence"])
    with story.step(after(minutes=30)) as case:
        case.classify(
            case_type="KTA", risk_level="medium", jurisdiction="district", emergency=False
        )
    with story.step(after(minutes=40), by=CASE_WORKER) as case:
        case.record_family_decision(
            offered_services=["medical_care", "psychological_counselling"],
            accepted_services=["medical_care"],
            decided_by="parent",
        )
    with story.step(after(hours=1)) as case:
        case.assign_case_worker(case_worker_id=CASE_WORKER.user_id)
    with story.step(after(hours=2), by=CASE_WORKER) as case:
        case.record_consent(given=True, given_by="parent", document_ref="IC/2025/042")
    with story.step(after(days=1), by=CASE_WORKER) as case:
        case.record_assessment(**HOME_VISIT_ASSESSMENT)
    with story.step(after(days=1, hours=1)) as case:
        case.review_assessment(outcome="agreed", notes="Proceed to the case conference.")
    for number, when in ((1, after(days=2)), (2, after(days=3))):
        with story.step(when, by=CASE_WORKER) as case:
            case.recommend_referral(
                recommendation_id=f"rec-{number}",
                service_type="medical_care",
                agency="health",
                receiving_agencies=RECEIVING_AGENCIES,
                rationale="Injuries need a doctor.",
            )
        if number == 1:
            with story.step(after(days=2, hours=4)) as case:
                case.return_recommendation(recommendation_id="rec-1", reason="Name the clinic.")
    with story.step(after(days=4)) as case:
        case.approve_recommendation(
            recommendation_id="rec-2",
            referral_id="approved-referral",
            due_at=after(days=11),
            receiving_agencies=RECEIVING_AGENCIES,
            recommendation_letter_ref="REK/2025/007",
            referral_record_ref="BAR/2025/007",
        )
    with story.step(after(days=5), by=HEALTH_OFFICER) as case:
        case.accept_referral(referral_id="approved-referral")
    with story.step(after(days=9), by=CASE_WORKER) as case:
        case.note_referral_progress(
            referral_id="approved-referral", noted_on="2025-03-12", progress="Second visit done."
        )
    return story


def test_a_supervised_referral_is_filed_from_recommendation_to_progress() -> None:
    file = supervised_referral_story().file

    assert file.complaint_kind == "violence"
    assert [d.accepted_services for d in file.family_decisions] == [["medical_care"]]
    assert [r.outcome for r in file.assessment_reviews] == ["agreed"]
    assert [(r.recommendation_id, r.status) for r in file.recommendations] == [
        ("rec-1", "returned"),
        ("rec-2", "approved"),
    ]
    returned, approved = file.recommendations
    assert returned.returned is not None and returned.returned.reason == "Name the clinic."
    assert approved.approved is not None
    assert approved.approved.referral_id == "approved-referral"
    assert approved.approved.referral_record_ref == "BAR/2025/007"
    (referral,) = file.referrals
    assert referral.referral_record_ref == "BAR/2025/007"
    assert referral.status == "accepted"
    assert [note.progress for note in referral.progress_notes] == ["Second visit done."]


def consented_story(**classification: Any) -> CaseStory:
    story = classified_story(**classification)
    with story.step(after(hours=1)) as case:
        case.assign_case_worker(case_worker_id=CASE_WORKER.user_id)
    with story.step(after(hours=2), by=CASE_WORKER) as case:
        case.record_consent(given=True, given_by="parent", document_ref="IC/2025/042")
    return story


def sheltered_story() -> CaseStory:
    """T4d: a stay at the RSTS Dinsos, from the 6th to the 15th, then home to the family."""
    story = consented_story()
    with story.step(after(days=1), by=CASE_WORKER) as case:
        case.admit_to_shelter(shelter="rsts_dinsos", admitted_on="2025-03-06")
    with story.step(after(days=10), by=CASE_WORKER) as case:
        case.discharge_from_shelter(
            discharged_on="2025-03-15", destination="home_family", reason="The family is ready."
        )
    return story


def test_a_shelter_stay_is_filed_with_its_length_counted_from_admission_to_discharge() -> None:
    """T4d: the length of stay is read off the two recorded days, not recorded itself."""
    file = sheltered_story().file

    (stay,) = file.shelter_stays
    assert (stay.shelter, stay.admitted_on, stay.emergency) == ("rsts_dinsos", "2025-03-06", False)
    assert stay.discharge is not None and stay.discharge.destination == "home_family"
    assert stay.length_of_stay_days == 9


def test_a_stay_that_goes_on_has_no_length_yet() -> None:
    story = consented_story()
    with story.step(after(days=1), by=CASE_WORKER) as case:
        case.admit_to_shelter(shelter="p2tp2a", admitted_on="2025-03-06")

    (stay,) = story.file.shelter_stays
    assert (stay.discharge, stay.length_of_stay_days) == (None, None)


OUTREACH_ID = UUID("5d0c2a8e-3f41-4e67-b9d2-7a1c6e0f4b93")


def outreach_story() -> CaseStory:
    """Kutai Timur's K-R1: a case opened on the outreach team's recommendation."""
    story = CaseStory(channel="outreach")
    with story.step(after(minutes=1)) as case:
        case.record_outreach_origin(outreach_id=OUTREACH_ID)
    return story


EARLIER_CASE_ID = UUID("0b5e7a1c-8d2f-4c3a-9e61-5f0a2b7c9d14")
NEW_CASE_ID = UUID("5d1c9e2a-7b3f-4a8e-b6c0-2e9f4a1d7c35")


def reopened_story() -> CaseStory:
    """The same person again: linked to an earlier case, terminated (L6.4), then a new
    report continued the matter as a new case; the closed case keeps its history."""
    story = classified_story()
    with story.step(after(hours=1)) as case:
        case.link_to_case(other_case_id=EARLIER_CASE_ID, basis="nik")
    with story.step(after(days=2)) as case:
        case.terminate(kind="unilateral", reason="whereabouts_unknown")
    with story.step(after(days=90)) as case:
        case.reopen_as(new_case_id=NEW_CASE_ID, reason="Laporan baru dari sekolah.")
    return story


def test_a_reopened_case_shows_its_links_and_stays_closed_with_its_termination() -> None:
    case_file = reopened_story().file

    assert [(link.other_case_id, link.basis) for link in case_file.links] == [
        (EARLIER_CASE_ID, "nik")
    ]
    assert [(r.new_case_id, r.reason) for r in case_file.reopenings] == [
        (NEW_CASE_ID, "Laporan baru dari sekolah.")
    ]
    assert case_file.status == "closed"
    assert case_file.termination is not None
    assert case_file.reopenings[0].at == after(days=90)


def siblings_story() -> CaseStory:
    """Tanjungpinang, Kutai Timur: the victim's sibling added, consented and referred (L4.1)."""
    story = consented_story()
    with story.step(after(days=1), by=CASE_WORKER) as case:
        case.add_beneficiary(person={"name": "Sari"}, relationship="sibling", child=True)
    with story.step(after(days=1, hours=1), by=CASE_WORKER) as case:
        case.record_beneficiary_consent(
            beneficiary_id="2", given=True, given_by="parent", document_ref="IC/2025/002"
        )
    with story.step(after(days=1, hours=2), by=CASE_WORKER) as case:
        case.refer(
            referral_id="for-sibling",
            service_type="return_to_school",
            agency="education",
            due_at=after(days=8),
            receiving_agencies=RECEIVING_AGENCIES,
            beneficiary_ids=["2"],
        )
    return story


def corrected_story() -> CaseStory:
    """Kota Batu's B4: the home visit verified the intake and completed the data."""
    story = CaseStory()
    with story.step(after(days=1), by=CASE_WORKER) as case:
        case.correct_facts(**a_fact_correction())
    return story


def reintegrated_story() -> CaseStory:
    """Kutai Timur's SOP Reintegrasi Sosial, K-I1 to K-I8, over three months."""
    story = consented_story()
    for day, activity in enumerate(["preparation", "child_counselling", "caregiver_counselling"]):
        with story.step(after(days=1 + day), by=CASE_WORKER) as case:
            case.record_reintegration_step(activity=activity, done_on="2025-03-06")
    with story.step(after(days=4), by=CASE_WORKER) as case:
        case.reunify_child(reunified_on="2025-03-09", reunified_with="substitute_family")
    with story.step(after(days=5), by=CASE_WORKER) as case:
        case.record_reintegration_step(activity="community_introduction", done_on="2025-03-10")
    with story.step(after(days=40), by=CASE_WORKER) as case:
        case.record_reintegration_visit(
            visited_on="2025-04-14", mode="home_visit", findings="Settled at school."
        )
    with story.step(after(days=85), by=CASE_WORKER) as case:
        case.evaluate_reintegration(
            evaluated_on="2025-05-29", reintegrated=True, findings="Reintegrated."
        )
    with story.step(after(days=85, hours=2), by=CASE_WORKER) as case:
        case.record_reintegration_step(activity="report", done_on="2025-05-29")
    return story


def test_a_reintegration_is_filed_step_by_step_with_its_sop_numbers() -> None:
    reintegration = reintegrated_story().file.reintegration

    assert reintegration is not None
    assert [(s.sop_step, s.activity) for s in reintegration.steps] == [
        ("K-I1", "preparation"),
        ("K-I2", "child_counselling"),
        ("K-I3", "caregiver_counselling"),
        ("K-I5", "community_introduction"),
        ("K-I8", "report"),
    ]
    assert reintegration.reunification is not None
    assert reintegration.reunification.reunified_with == "substitute_family"
    assert [v.visited_on for v in reintegration.monitoring_visits] == ["2025-04-14"]
    assert reintegration.evaluation is not None and reintegration.evaluation.reintegrated


def test_a_case_without_reintegration_has_none_in_its_file() -> None:
    assert mediated_story().file.reintegration is None


def planned_story() -> CaseStory:
    """A non-emergency case with consent, one assessment and an agreed plan: in intervention."""
    story = classified_story()
    with story.step(after(hours=1)) as case:
        case.assign_case_worker(case_worker_id=CASE_WORKER.user_id)
    with story.step(after(hours=2), by=CASE_WORKER) as case:
        case.record_consent(given=True, given_by="victim", document_ref="IC/2025/040")
    with story.step(after(days=1), by=CASE_WORKER) as case:
        case.record_assessment(**HOME_VISIT_ASSESSMENT)
    with story.step(after(days=1, hours=2), by=CASE_WORKER) as case:
        case.conclude_case_report(**FIRST_CASE_REPORT)
    with story.step(after(days=2), by=CASE_WORKER) as case:
        case.agree_intervention_plan(**FIRST_PLAN)
    return story


def test_consent_refusal_closes_the_case_file() -> None:
    story = classified_story()
    with story.step(after(hours=1)) as case:
        case.assign_case_worker(case_worker_id=CASE_WORKER.user_id)
    with story.step(after(hours=4), by=CASE_WORKER) as case:
        case.record_contact(mode="home_visit")

    with story.step(after(hours=5), by=CASE_WORKER) as case:
        case.record_consent(given=False, given_by="parent", notes="The father refused any help.")

    file = story.file
    assert file.stage == "closed"
    assert file.status == "closed"
    assert file.consent is not None
    assert file.consent.model_dump() == {
        "given": False,
        "given_by": "parent",
        "document_ref": "",
        "notes": "The father refused any help.",
        **stamp(after(hours=5), CASE_WORKER),
    }
    assert file.termination is not None
    assert file.termination.model_dump() == {
        "kind": "unilateral",
        "reason": "consent_refused",
        "beneficiary_feedback": {},
        "termination_form_ref": "",
        "notes": "informed consent refused (L1.10)",
        **stamp(after(hours=5), CASE_WORKER),
    }
    assert file.closure is not None
    assert file.closure.model_dump() == {
        "kind": "terminated",
        "reason": "consent_refused",
        "target": None,
        "at": after(hours=5),
    }


def test_handover_closes_the_case_file() -> None:
    story = classified_story(risk_level="low", jurisdiction="village")

    with story.step(after(hours=1)) as case:
        case.hand_over(
            target="patbm",
            receiving_agencies=RECEIVING_AGENCIES,
            receiving_unit="PATBM Desa Baebunta",
            notes="The village group knows the family.",
        )

    file = story.file
    assert file.classification is not None
    assert file.classification.routing_rules == ["b"]
    assert file.classification.handover_to == "patbm"
    assert file.stage == "closed"
    assert file.status == "closed"
    assert file.handover is not None
    assert file.handover.model_dump() == {
        "target": "patbm",
        "receiving_unit": "PATBM Desa Baebunta",
        "notes": "The village group knows the family.",
        "receiving_agency": "patbm",
        "state": "awaiting_acknowledgement",
        "acknowledgement": None,
        "handed_back": None,
        **stamp(after(hours=1), COORDINATOR),
    }
    assert file.closure is not None
    assert file.closure.model_dump() == {
        "kind": "handed_over",
        "reason": None,
        "target": "patbm",
        "at": after(hours=1),
    }
    assert file.termination is None


def test_reclassification_shows_the_latest_and_keeps_every_classification() -> None:
    story = classified_story(risk_level="low", jurisdiction="village")

    with story.step(after(hours=3)) as case:
        case.classify(
            case_type="KTA",
            risk_level="high",
            jurisdiction="district",
            emergency=False,
            rationale="The home visit found the abuse continuing.",
        )

    file = story.file
    assert [c.routing_rules for c in file.classification_history] == [["b"], ["a"]]
    assert [c.at for c in file.classification_history] == [after(minutes=30), after(hours=3)]
    assert file.classification == file.classification_history[-1]
    assert file.stage == "identification"


def test_reassessment_returns_the_case_file_to_assessment() -> None:
    story = planned_story()
    with story.step(after(days=10), by=CASE_WORKER) as case:
        case.record_monitoring_visit(
            mode="phone", findings="Still afraid.", services_on_track=True, recovered=False
        )
    assert story.file.stage == "monitoring"

    with story.step(after(days=10, hours=1), by=CASE_WORKER) as case:
        case.start_reassessment(reason="Fear has not eased.")

    file = story.file
    assert file.stage == "assessment"
    assert dumps(file.reassessments) == [
        {"reason": "Fear has not eased.", **stamp(after(days=10, hours=1), CASE_WORKER)}
    ]
    # The previous cycle's report and plan stay on file until the new cycle replaces them.
    assert file.case_report is not None
    assert file.case_report.summary == FIRST_CASE_REPORT["summary"]
    assert file.intervention_plan is not None

    with story.step(after(days=12), by=PROVINCE_OFFICER) as case:
        case.record_assessment(**SPECIALIST_ASSESSMENT)
    with story.step(after(days=13), by=CASE_WORKER) as case:
        case.conclude_case_report(**SECOND_CASE_REPORT)

    file = story.file
    assert file.stage == "planning"
    assert file.case_report is not None
    assert file.case_report.summary == SECOND_CASE_REPORT["summary"]


def test_termination_cancels_the_referrals_still_unsettled() -> None:
    story = planned_story()
    referrals = {
        "shelter": ("temporary_shelter", "social", SOCIAL_OFFICER),
        "medical-care": ("medical_care", "health", HEALTH_OFFICER),
        "legal-process": ("legal_process", "police", POLICE_OFFICER),
        "counselling": ("psychological_counselling", "province", PROVINCE_OFFICER),
        "return-to-school": ("return_to_school", "education", EDUCATION_OFFICER),
    }
    for hour, (referral_id, (service_type, agency, _officer)) in enumerate(referrals.items()):
        with story.step(after(days=3, hours=hour), by=CASE_WORKER) as case:
            case.refer(
                referral_id=referral_id,
                service_type=service_type,
                agency=agency,
                due_at=after(days=10),
                receiving_agencies=RECEIVING_AGENCIES,
            )
    with story.step(after(days=4), by=SOCIAL_OFFICER) as case:
        case.decline_referral(referral_id="shelter", reason="The shelter is full.")
    for referral_id in ("legal-process", "counselling", "return-to-school"):
        with story.step(after(days=4, hours=1), by=referrals[referral_id][2]) as case:
            case.accept_referral(referral_id=referral_id)
    with story.step(after(days=5), by=PROVINCE_OFFICER) as case:
        case.record_service_delivery(
            referral_id="counselling",
            outcome="partially_delivered",
            delivered_on="2025-03-08",
            summary="One session held.",
        )
    with story.step(after(days=6), by=EDUCATION_OFFICER) as case:
        case.record_service_delivery(
            referral_id="return-to-school",
            outcome="completed",
            delivered_on="2025-03-09",
            summary="Back in class.",
        )

    with story.step(after(days=7)) as case:
        case.terminate(kind="unilateral", reason="whereabouts_unknown", notes="Family moved away.")

    by_id = {referral.referral_id: referral for referral in story.file.referrals}
    assert {referral_id: referral.status for referral_id, referral in by_id.items()} == {
        "shelter": "declined",
        "medical-care": "cancelled",
        "legal-process": "cancelled",
        "counselling": "cancelled",
        "return-to-school": "completed",
    }
    ended_with_the_case = {
        "cause": "case_terminated",
        "reason": "whereabouts_unknown",
        **stamp(after(days=7), COORDINATOR),
    }
    for referral_id in ("medical-care", "legal-process", "counselling"):
        cancelled = by_id[referral_id].cancelled
        assert cancelled is not None
        assert cancelled.model_dump() == ended_with_the_case
    assert by_id["shelter"].cancelled is None
    assert by_id["return-to-school"].cancelled is None


def lettered_story() -> CaseStory:
    """L1.9-10: the office prints the consent form for the family to sign."""
    story = classified_story()
    with story.step(after(hours=1)) as case:
        case.issue_letter(
            letter_id="letter-1",
            kind="formulir_persetujuan",
            number="001/IC/UPTD-PPA/III/2025",
            sha256="ab" * 32,
            verification_code="0123456789abcdef",
            district_kinds=["formulir_persetujuan"],
        )
    return story


def test_an_issued_letter_is_filed_with_its_number_hash_and_code() -> None:
    (letter,) = lettered_story().file.letters

    assert letter.model_dump() == {
        "letter_id": "letter-1",
        "kind": "formulir_persetujuan",
        "number": "001/IC/UPTD-PPA/III/2025",
        "step": "L1.9-10",
        "referral_id": None,
        "sha256": "ab" * 32,
        "verification_code": "0123456789abcdef",
        "document_id": None,
        "signed_copies": [],
        **stamp(after(hours=1), COORDINATOR),
    }


PDF_ID = str(uuid4())
SCAN_ID = str(uuid4())


def stored_letter_story() -> CaseStory:
    """L1.9-10: the consent form issued with its PDF stored in the same save, then its
    signed scan attached back."""
    story = classified_story()
    with story.step(after(hours=1)) as case:
        case.issue_letter(
            letter_id="letter-1",
            kind="formulir_persetujuan",
            number="001/IC/UPTD-PPA/III/2025",
            sha256="ab" * 32,
            verification_code="0123456789abcdef",
            district_kinds=["formulir_persetujuan"],
        )
        case.attach_document(
            document_id=PDF_ID,
            kind="consent_form",
            step="L1.9",
            sha256="ab" * 32,
            size=2048,
            media_type="application/pdf",
            district_kinds={"consent_form"},
            step_codes={"L1.9"},
        )
    with story.step(after(hours=2)) as case:
        case.attach_document(
            document_id=SCAN_ID,
            kind="consent_form",
            step="L1.9",
            sha256="cd" * 32,
            size=1024,
            media_type="image/jpeg",
            district_kinds={"consent_form"},
            step_codes={"L1.9"},
        )
        case.attach_signed_copy(document_id=SCAN_ID, letter_id="letter-1")
    return story


def test_a_stored_letter_names_its_document_and_its_signed_copies() -> None:
    file = stored_letter_story().file
    (letter,) = file.letters
    pdf, scan = file.documents

    assert (str(letter.document_id), [str(d) for d in letter.signed_copies]) == (PDF_ID, [SCAN_ID])
    assert (pdf.letter_id, pdf.signed_copy_of) == ("letter-1", None)
    assert (scan.letter_id, scan.signed_copy_of) == (None, "letter-1")


def test_a_document_of_the_same_content_attached_later_is_no_letters_pdf() -> None:
    story = lettered_story()
    with story.step(after(hours=2)) as case:
        case.attach_document(
            document_id=PDF_ID,
            kind="consent_form",
            step="",
            sha256="ab" * 32,
            size=2048,
            media_type="application/pdf",
            district_kinds={"consent_form"},
            step_codes=set(),
        )
    (letter,) = story.file.letters

    assert letter.document_id is None
    assert story.file.documents[0].letter_id is None


def test_scenarios_exercise_every_case_event() -> None:
    # The fold refuses unknown events at run time; this makes a new event fail here first.
    # Case.Created is the library's default creation event, never recorded: ReportReceived
    # takes its place.
    never_recorded = {Case.Event, Case.Created}
    case_event_types = {
        name
        for name, value in vars(Case).items()
        if isinstance(value, type) and issubclass(value, Case.Event) and value not in never_recorded
    }
    handed_over = classified_story(risk_level="low", jurisdiction="village")
    with handed_over.step(after(hours=1)) as case:
        case.hand_over(target="patbm", receiving_agencies=RECEIVING_AGENCIES)
    with handed_over.step(after(hours=2)) as case:
        case.acknowledge_handover()
    with handed_over.step(after(hours=3)) as case:
        case.hand_back(reason="Bukan kewenangan desa.")
    documented = classified_story()
    with documented.step(after(hours=1)) as case:
        case.attach_document(
            document_id=str(uuid4()),
            kind="documentation_photo",
            step="L1.8",
            sha256="0" * 64,
            size=1024,
            media_type="image/jpeg",
            district_kinds={"documentation_photo"},
            step_codes={"L1.8"},
        )
    stories = [
        documented,
        tell_the_whole_story(),
        handed_over,
        mediated_story(),
        supervised_referral_story(),
        sheltered_story(),
        reintegrated_story(),
        outreach_story(),
        reopened_story(),
        corrected_story(),
        lettered_story(),
        stored_letter_story(),
        siblings_story(),
    ]

    exercised = {type(event).__name__ for story in stories for event in story.events}

    assert exercised == case_event_types


# ---- As-of views -----------------------------------------------------------------------------


def test_a_case_from_outreach_names_its_outreach_k_r1() -> None:
    assert outreach_story().file.from_outreach == OUTREACH_ID


def test_as_of_a_version_is_the_fold_of_that_prefix(whole_story: CaseStory) -> None:
    events = whole_story.events

    for version in range(1, len(events) + 1):
        assert case_file_as_of(events, version=version) == CaseFile.from_events(events[:version])


def test_as_of_a_time_is_the_fold_of_the_events_recorded_by_then(whole_story: CaseStory) -> None:
    events = whole_story.events

    for index, event in enumerate(events):
        assert case_file_as_of(events, as_of=event.timestamp) == CaseFile.from_events(
            events[: index + 1]
        )
        if index > 0:
            just_before = event.timestamp - timedelta(seconds=1)
            assert case_file_as_of(events, as_of=just_before) == CaseFile.from_events(
                events[:index]
            )


def test_as_of_includes_every_event_recorded_at_the_same_moment() -> None:
    story = classified_story()
    with story.step(after(hours=1), by=CASE_WORKER) as case:
        case.record_consent(given=False, given_by="victim")

    file = case_file_as_of(story.events, as_of=after(hours=1))

    assert file.consent is not None
    assert file.stage == "closed"


def test_as_of_a_version_and_a_time_takes_the_earlier_cut(whole_story: CaseStory) -> None:
    events = whole_story.events

    assert case_file_as_of(events, version=30, as_of=after(days=3)).version == 16
    assert case_file_as_of(events, version=10, as_of=after(days=30)).version == 10


@pytest.mark.parametrize(
    "cut",
    [{"as_of": START - timedelta(minutes=1)}, {"version": 0}],
    ids=["before the report", "version zero"],
)
def test_as_of_before_the_report_is_refused(whole_story: CaseStory, cut: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="no events"):
        case_file_as_of(whole_story.events, **cut)


def test_as_of_without_a_timezone_is_refused(whole_story: CaseStory) -> None:
    with pytest.raises(ValueError, match="timezone"):
        case_file_as_of(whole_story.events, as_of=after(days=3).replace(tzinfo=None))


# ---- What the fold refuses -------------------------------------------------------------------


def test_fold_refuses_an_empty_history() -> None:
    with pytest.raises(ValueError, match="ReportReceived"):
        CaseFile.from_events([])


def test_fold_refuses_a_history_that_does_not_start_with_the_report(
    whole_story: CaseStory,
) -> None:
    with pytest.raises(ValueError, match="start with ReportReceived"):
        CaseFile.from_events(whole_story.events[1:])


@pytest.mark.parametrize(
    "rearrange",
    [
        lambda events: events[:5] + events[6:],
        lambda events: [*events[:3], events[4], events[3], *events[5:]],
        lambda events: [*events[:5], events[4], *events[5:]],
    ],
    ids=["a version missing", "two swapped", "one repeated"],
)
def test_fold_refuses_versions_that_are_not_consecutive(whole_story: CaseStory, rearrange) -> None:
    with pytest.raises(ValueError, match="consecutive"):
        CaseFile.from_events(rearrange(whole_story.events))


def test_fold_refuses_events_of_another_case(whole_story: CaseStory) -> None:
    other = tell_the_whole_story()

    with pytest.raises(ValueError, match="more than one case"):
        CaseFile.from_events(whole_story.events[:1] + other.events[1:])


def test_fold_refuses_an_event_it_has_no_handler_for() -> None:
    story = CaseStory()
    with acting_as(COORDINATOR, after(minutes=5)):
        unhandled = Case.Event(
            originator_id=story.case.id, originator_version=2, timestamp=after(minutes=5)
        )

    with pytest.raises(UnknownCaseEvent, match=r"Case\.Event"):
        CaseFile.from_events([*story.events, unhandled])


# ---- The models as API response models -------------------------------------------------------


def test_case_file_json_schema_is_generated() -> None:
    for mode in ("validation", "serialization"):
        schema = CaseFile.model_json_schema(mode=mode)
        assert set(schema["properties"]) == set(CaseFile.model_fields)
        assert HistoryEntry.model_json_schema(mode=mode)["properties"]


def test_every_case_file_model_and_field_is_described() -> None:
    models = [
        model
        for _name, model in inspect.getmembers(case_file_module, inspect.isclass)
        if issubclass(model, BaseModel) and model.__module__ == case_file_module.__name__
    ]

    undescribed = [
        f"{model.__name__}.{name}"
        for model in models
        for name, field in model.model_fields.items()
        if not field.description
    ]

    assert undescribed == []
    assert [model.__name__ for model in models if not model.__doc__] == []


def test_case_file_json_matches_its_own_schema(whole_story: CaseStory) -> None:
    file = whole_story.file
    served = json.loads(file.model_dump_json())

    jsonschema.validate(served, CaseFile.model_json_schema(mode="serialization"))
    assert CaseFile.model_validate(served) == file


# ---- History entries -------------------------------------------------------------------------


def test_history_entry_data_is_json_serialisable(whole_story: CaseStory) -> None:
    entries = [history_entry(event) for event in whole_story.events]

    assert json.loads(json.dumps([entry.data for entry in entries])) == [
        entry.data for entry in entries
    ]
    assert [entry.version for entry in entries] == list(range(1, 37))
    assert [entry.type for entry in entries][:3] == [
        "ReportReceived",
        "PsychologicalFirstAidGiven",
        "RiskClassified",
    ]
    schema = HistoryEntry.model_json_schema(mode="serialization")
    for entry in entries:
        jsonschema.validate(json.loads(entry.model_dump_json()), schema)


def test_history_entry_separates_the_event_data_from_who_and_when(whole_story: CaseStory) -> None:
    details = whole_story.details
    reported, _first_aid, classified = whole_story.events[:3]

    assert history_entry(classified).model_dump() == {
        "version": 3,
        "type": "RiskClassified",
        "recorded_at": after(minutes=50),
        "actor": COORDINATOR.as_record(),
        "data": {**CLASSIFICATION, "routing": ["a", "e"], "handover_to": None},
    }
    assert history_entry(reported).data == {
        "district": DISTRICT,
        "register_number": details["register_number"],
        "channel": details["channel"],
        "arrived_at": details["arrived_at"].isoformat(),
        "chronology": details["chronology"],
        "victim": details["victim"],
        "reporter": details["reporter"],
        "reported_person": details["reported_person"],
        "incident": details["incident"],
        "needs": details["needs"],
        "psychological_first_aid_needed": True,
        "documents": details["documents"],
    }


# ---- Events read back from the case store ----------------------------------------------------


def test_case_file_folds_events_read_back_from_the_case_store() -> None:
    minutes = count()
    cases = Cases(env=memory_env(), clock=lambda: after(minutes=next(minutes)))
    report_fields = {
        name: value
        for name, value in report_details().items()
        if name not in ("case_id", "district", "register_number")
    }
    reported = cases.report_case(INTAKE_OFFICER, ReportCase(**report_fields))
    case_id = reported.case_id
    cases.execute(
        COORDINATOR,
        case_id,
        Classify(case_type="KTP", risk_level="medium", jurisdiction="district", emergency=False),
    )
    cases.execute(COORDINATOR, case_id, AssignCaseWorker(case_worker_id=CASE_WORKER.user_id))
    cases.execute(
        CASE_WORKER,
        case_id,
        RecordConsent(given=True, given_by="victim", document_ref="IC/2025/077"),
    )
    referred = cases.execute(
        CASE_WORKER, case_id, Refer(service_type="medical_examination", agency="health")
    )

    read = CaseRead(view="test")
    events = cases.read_case_events(AUDITOR, case_id, read)
    file = CaseFile.from_events(events)

    stored_case = cases.visible_case(AUDITOR, case_id)
    assert file.version == referred.version == stored_case.version
    assert file.stage == stored_case.stage == "assessment"
    assert file.register_number == reported.register_number
    assert file.report.arrived_at == report_fields["arrived_at"]
    assert file.report.victim == report_fields["victim"]
    time_standard = cases.profiles.profile(DISTRICT).step("L4.1").limit
    assert file.referrals[0].due_at == file.referrals[0].referred_at + time_standard
    assert case_file_as_of(
        cases.read_case_events(AUDITOR, case_id, read, upto_version=2), version=2
    ) == (case_file_as_of(events, version=2))


def test_the_case_file_shows_who_acknowledged_a_handover_and_when() -> None:
    """L1.5 b: the sending office sees that the case reached the village group."""
    story = classified_story(risk_level="low", jurisdiction="village")
    with story.step(after(hours=1)) as case:
        case.hand_over(target="patbm", receiving_agencies=RECEIVING_AGENCIES)

    with story.step(after(hours=3)) as case:
        case.acknowledge_handover(receiving_unit="PATBM Desa Baebunta", taken_by="Ibu Ketua")

    file = story.file
    assert file.status == "closed"
    assert file.handover is not None
    assert file.handover.state == "acknowledged"
    assert file.handover.acknowledgement is not None
    assert file.handover.acknowledgement.model_dump() == {
        "receiving_unit": "PATBM Desa Baebunta",
        "taken_by": "Ibu Ketua",
        "notes": "",
        **stamp(after(hours=3), COORDINATOR),
    }


def test_a_handed_back_case_file_is_open_and_unclassified_again() -> None:
    """L1.5: the receiver returned the case; the office must classify it again."""
    story = classified_story(risk_level="low", jurisdiction="village")
    with story.step(after(hours=1)) as case:
        case.hand_over(target="patbm", receiving_agencies=RECEIVING_AGENCIES)

    with story.step(after(hours=2)) as case:
        case.hand_back(reason="Risiko tinggi, bukan kewenangan desa.")

    file = story.file
    assert (file.status, file.stage, file.closure) == ("open", "identification", None)
    assert file.classification is None
    assert len(file.classification_history) == 1
    assert file.handover is not None
    assert file.handover.state == "handed_back"
    assert file.handover.handed_back is not None
    assert file.handover.handed_back.reason == "Risiko tinggi, bukan kewenangan desa."
