"""The data-sharing policy: which agency hears what of a case, and when it stops hearing."""

from datetime import datetime
from typing import Any
from uuid import uuid4

import pytest

from domain.actors import acting_as
from domain.case import Case
from domain.sharing_matrix import MatrixError, parse_matrix
from domain.vocabulary import AGENCIES_FOR_SERVICE, HANDOVER_AGENCY, Agency
from services.sharing import SharingPolicy, load_matrix
from tests.support.builders import (
    CASE_WORKER,
    COORDINATOR,
    EDUCATION_OFFICER,
    INTAKE_OFFICER,
    POLICE_OFFICER,
    RECEIVING_AGENCIES,
    a_beneficiary,
    a_beneficiary_consent,
    a_document_attachment,
    a_letter,
    after,
    record,
    report,
    report_details,
)

MATRIX = load_matrix()
CASE_ID = uuid4()


def recorded(event_class: type[Case.Event], version: int, at: datetime, **fields: Any) -> Any:
    """An event of case CASE_ID as the store would hand it over, whatever the rules say now."""
    with acting_as(COORDINATOR, at):
        return event_class(
            originator_id=CASE_ID, originator_version=version, timestamp=at, **fields
        )


class Story:
    """A real Case driven by its commands, its events run through the sharing policy."""

    def __init__(self, matrix=MATRIX, **report_overrides: Any) -> None:
        self.case = report(after(), **report_overrides)
        self.policy = SharingPolicy(matrix)
        self.state = self.policy.new_case(str(self.case.id))
        self.minutes = 0
        self.messages: list[tuple[str, str, dict[str, Any]]] = []
        self._share(self.case.collect_events())

    def act(self, command: str, *, by=COORDINATOR, **arguments: Any) -> list[tuple[str, str, dict]]:
        if command in ("refer", "hand_over"):
            # What the case service passes: where a referral or hand-over can go.
            arguments.setdefault("receiving_agencies", RECEIVING_AGENCIES)
        self.minutes += 5
        with record(self.case, after(minutes=self.minutes), by=by) as events:
            getattr(self.case, command)(**arguments)
        return self._share(events)

    def _share(self, events: list[Case.Event]) -> list[tuple[str, str, dict]]:
        new = [
            (message.agency, message.kind, message.data)
            for event in events
            for message in self.policy.share(self.state, event)
        ]
        self.messages.extend(new)
        return new

    def to(self, agency: str) -> list[tuple[str, dict]]:
        return [(kind, data) for who, kind, data in self.messages if who == agency]

    # ---- Steps of the SOP, as the tests need them ----

    def classify(
        self,
        *,
        emergency: bool = False,
        risk: str = "high",
        jurisdiction: str = "district",
        case_type: str = "KTA",
    ):
        return self.act(
            "classify",
            by=INTAKE_OFFICER,
            case_type=case_type,
            risk_level=risk,
            jurisdiction=jurisdiction,
            emergency=emergency,
            forms_of_violence=["physical"],
        )

    def consent(self, given: bool = True):
        self.act("assign_case_worker", case_worker_id=CASE_WORKER.user_id)
        return self.act(
            "record_consent",
            by=CASE_WORKER,
            given=given,
            given_by="parent",
            document_ref="IC-1" if given else "",
        )

    def refer(
        self,
        referral_id: str,
        agency: str,
        service: str,
        *,
        emergency: bool = False,
        notes: str = "",
        record_ref: str = "",
    ):
        return self.act(
            "refer",
            by=CASE_WORKER,
            referral_id=referral_id,
            service_type=service,
            agency=agency,
            due_at=after(days=7),
            emergency=emergency,
            notes=notes,
            referral_record_ref=record_ref,
        )

    def assess(self, domain: str, findings: str, *, by=CASE_WORKER, agency: str = "uptd_ppa"):
        return self.act(
            "record_assessment",
            by=by,
            kind="further",
            domain=domain,
            assessing_agency=agency,
            findings=findings,
        )

    def deliver(
        self,
        referral_id: str,
        *,
        by,
        outcome: str = "completed",
        acceptance_notes: str = "",
        summary: str = "done",
    ):
        self.act("accept_referral", by=by, referral_id=referral_id, notes=acceptance_notes)
        return self.act(
            "record_service_delivery",
            by=by,
            referral_id=referral_id,
            outcome=outcome,
            delivered_on="2025-03-05",
            summary=summary,
        )


def kinds(messages: list[tuple[str, dict]]) -> list[str]:
    return [kind for kind, _ in messages]


def a_consented_case(matrix=MATRIX) -> Story:
    story = Story(matrix)
    story.classify()
    story.consent()
    return story


# ---- Who hears of a case ----------------------------------------------------------------------


def test_no_agency_hears_of_a_case_before_it_is_referred_or_handed_over_to_it():
    story = a_consented_case()
    story.assess("physical", "bruises on both arms")

    assert story.messages == []


def test_a_referred_agency_first_gets_the_case_facts_then_its_referral():
    story = a_consented_case()

    story.refer("r-police", "police", "legal_process")

    assert kinds(story.to("police")) == ["case.opened", "referral.received"]
    opened, referral = (data for _, data in story.to("police"))
    assert opened["case_id"] == str(story.case.id)
    assert opened["facts"]["victim"]["name"] == "Anak A"
    assert opened["facts"]["classification"]["case_type"] == "KTA"
    assert referral["referral_id"] == "r-police"
    assert referral["service_type"] == "legal_process"
    assert story.to("health") == [] and story.to("education") == []


def test_each_agency_gets_only_the_fields_of_its_matrix_row():
    story = a_consented_case()
    story.assess("physical", "bruises on both arms")
    story.assess("legal", "the neighbour is the suspect")

    story.refer("r-police", "police", "legal_process")
    story.refer("r-health", "health", "medical_care")
    story.refer("r-school", "education", "return_to_school")

    police = story.to("police")[0][1]["facts"]
    health = story.to("health")[0][1]["facts"]
    school = story.to("education")[0][1]["facts"]
    assert set(police["assessments"]) == {"legal"}
    assert set(health["assessments"]) == {"physical"}
    assert "assessments" not in school
    assert "chronology" not in school.get("report", {})
    assert "reported_person" not in school
    assert set(school["victim"]) <= {"name", "sex", "age", "education", "school"}
    assert "reported_person" not in health
    assert "bruises" not in str(story.to("police")) + str(story.to("education"))


def test_the_school_never_receives_the_medical_assessment():
    story = a_consented_case()
    story.refer("r-school", "education", "return_to_school")

    story.assess("physical", "fractured wrist, healing")

    assert "fractured" not in str(story.to("education"))
    assert kinds(story.to("education")) == ["case.opened", "referral.received"]


def test_a_fact_change_inside_an_agencys_row_is_sent_as_an_updated_snapshot():
    story = a_consented_case()
    story.refer("r-police", "police", "legal_process")

    story.assess("legal", "the neighbour has a prior conviction")

    kind, data = story.to("police")[-1]
    assert kind == "case.updated"
    assert (
        data["facts"]["assessments"]["legal"][0]["findings"]
        == "the neighbour has a prior conviction"
    )
    assert data["facts"]["victim"]["name"] == "Anak A"


def test_every_further_assessment_in_an_agencys_row_is_sent_and_sent_messages_never_change():
    story = a_consented_case()
    story.refer("r-police", "police", "legal_process")
    story.assess("legal", "first statement")
    first = story.to("police")[-1]
    snapshot = repr(first)

    story.assess("legal", "second statement")
    story.assess("legal", "third statement")

    updates = [data for kind, data in story.to("police") if kind == "case.updated"]
    assert [len(data["facts"]["assessments"]["legal"]) for data in updates] == [1, 2, 3]
    assert repr(first) == snapshot, "a message already made is not changed by later events"


# ---- Consent ----------------------------------------------------------------------------------


def test_an_emergency_referral_before_consent_carries_the_victims_identity():
    story = Story()
    story.classify(emergency=True)

    story.refer("r-health", "health", "medical_examination", emergency=True)

    opened = story.to("health")[0][1]
    assert opened["facts"]["victim"]["name"] == "Anak A"
    assert opened["facts"]["report"]["chronology"].startswith("A teacher")


def test_a_handover_before_consent_carries_no_personal_data():
    story = Story()
    story.classify(risk="high", jurisdiction="province")

    story.act("hand_over", target="province", receiving_unit="UPTD PPA Provinsi")

    assert kinds(story.to("province")) == ["case.opened", "case.handed_over"]
    facts = story.to("province")[0][1]["facts"]
    assert facts == {
        "classification": facts["classification"],
        "report": {
            "channel": "hotline",
            "arrived_at": facts["report"]["arrived_at"],
            "psychological_first_aid_needed": True,
        },
    }
    assert "Anak A" not in str(story.to("province"))


def test_consent_releases_the_withheld_personal_facts_to_an_open_agency():
    policy = SharingPolicy(MATRIX)
    state = policy.new_case(str(CASE_ID))
    at = after()
    events = [
        recorded(
            Case.ReportReceived,
            1,
            at,
            originator_topic="domain.case:Case",
            district="luwu-utara",
            register_number="R/1",
            channel="walk_in",
            arrived_at=at,
            chronology="what happened",
            needs="",
            documents=[],
            psychological_first_aid_needed=False,
            victim={"name": "Anak B", "age": 9},
            reporter={},
            reported_person={},
            incident={},
        ),
        # A referral recorded before consent without the emergency flag: history the
        # current rules refuse, which the policy must still handle safely.
        recorded(
            Case.Referred,
            2,
            at,
            referral_id="r-1",
            service_type="legal_process",
            agency="police",
            due_at=at,
            emergency=False,
            notes="",
            referral_record_ref="",
        ),
    ]
    before = [m for event in events for m in policy.share(state, event)]

    after_consent = policy.share(
        state,
        recorded(
            Case.ConsentRecorded, 3, at, given=True, given_by="parent", document_ref="IC", notes=""
        ),
    )

    assert "Anak B" not in str([m.data for m in before])
    assert [m.kind for m in after_consent] == ["case.updated"]
    assert after_consent[0].data["facts"]["victim"] == {"name": "Anak B", "age": 9}


# ---- Closing ----------------------------------------------------------------------------------


def test_an_agency_whose_last_referral_settles_gets_a_closing_message_and_nothing_more():
    story = a_consented_case()
    story.refer("r-police", "police", "legal_process")

    story.deliver("r-police", by=POLICE_OFFICER)
    story.assess("legal", "the suspect was charged")
    story.act("record_accompaniment", by=CASE_WORKER, activity="to court")

    assert kinds(story.to("police")) == [
        "case.opened",
        "referral.received",
        "referral.updated",
        "referral.updated",
        "case.closed",
    ]
    closed = story.to("police")[-1][1]
    assert closed["reason"] == "referrals_settled"
    assert closed["referrals"] == [{"referral_id": "r-police", "status": "completed"}]


def test_an_agency_with_another_open_referral_is_not_closed_yet():
    story = a_consented_case()
    story.refer("r-legal", "police", "legal_process")
    story.refer("r-aid", "police", "legal_aid")

    story.deliver("r-legal", by=POLICE_OFFICER)

    assert "case.closed" not in kinds(story.to("police"))


def test_a_new_referral_after_closing_opens_the_case_to_the_agency_again():
    story = a_consented_case()
    story.refer("r-1", "police", "legal_process")
    story.act("decline_referral", by=POLICE_OFFICER, referral_id="r-1", reason="not our district")

    story.refer("r-2", "police", "legal_process")

    assert kinds(story.to("police")) == [
        "case.opened",
        "referral.received",
        "referral.updated",
        "case.closed",
        "case.opened",
        "referral.received",
    ]


def test_termination_closes_every_open_agency_with_its_referrals_cancelled():
    story = a_consented_case()
    story.refer("r-police", "police", "legal_process")
    story.refer("r-school", "education", "return_to_school")
    story.deliver("r-school", by=EDUCATION_OFFICER)

    story.act("terminate", by=COORDINATOR, kind="unilateral", reason="whereabouts_unknown")

    closed = story.to("police")[-1]
    assert closed[0] == "case.closed"
    assert closed[1]["reason"] == "case_terminated"
    assert closed[1]["referrals"] == [{"referral_id": "r-police", "status": "cancelled"}]
    assert kinds(story.to("education")).count("case.closed") == 1


def test_a_handover_closes_other_agencies_and_hands_the_case_to_the_receiver():
    story = Story()
    story.classify(emergency=True, risk="low", jurisdiction="village")
    story.refer("r-health", "health", "medical_examination", emergency=True)

    story.act("hand_over", target="patbm", receiving_unit="PATBM Desa Baebunta")

    health_closed = story.to("health")[-1]
    assert health_closed[0] == "case.closed"
    assert health_closed[1]["reason"] == "case_handed_over"
    assert health_closed[1]["referrals"] == [{"referral_id": "r-health", "status": "cancelled"}]
    assert kinds(story.to("patbm")) == ["case.opened", "case.handed_over"]
    # Before consent: the unit's name tells the village the child lives in.
    assert story.to("patbm")[-1][1]["receiving_unit"] == ""


def test_a_consent_refusal_closes_an_emergency_referral():
    story = Story()
    story.classify(emergency=True)
    story.refer("r-health", "health", "medical_examination", emergency=True)

    story.consent(given=False)

    assert kinds(story.to("health"))[-1] == "case.closed"


# ---- Free text: personal data until proven otherwise ----------------------------------------

HANDOVER_NOTE = "Anak A tinggal di Jl. Melati 4, Desa Baebunta, bersama pamannya"


def texts_of(messages: list[tuple[str, dict]], *fields: str) -> list[str]:
    """The given fields of the messages that carry recorded text (not case.closed's reason)."""
    return [
        data[name]
        for kind, data in messages
        if kind.startswith("referral.") or kind == "case.handed_over"
        for name in fields
        if name in data
    ]


def test_a_handover_note_written_before_consent_does_not_reach_the_receiving_agency():
    story = Story()
    story.classify(case_type="ABH")

    story.act(
        "hand_over", target="social", receiving_unit="Bidang Rehsos, Pak D", notes=HANDOVER_NOTE
    )

    handed_over = story.to("social")[-1]
    assert handed_over[0] == "case.handed_over"
    assert handed_over[1]["notes"] == ""
    assert handed_over[1]["receiving_unit"] == ""
    assert "Melati" not in str(story.to("social"))
    assert "Pak D" not in str(story.to("social"))


def test_a_handover_note_after_consent_reaches_a_receiver_whose_row_lists_it():
    story = Story()
    story.classify(case_type="ABH")
    story.consent()

    story.act("hand_over", target="social", receiving_unit="Bidang Rehsos", notes=HANDOVER_NOTE)

    handed_over = story.to("social")[-1][1]
    assert handed_over["notes"] == HANDOVER_NOTE
    assert handed_over["receiving_unit"] == "Bidang Rehsos"


def a_matrix_where_only_police_lists_referral_texts():
    return parse_matrix(
        {
            "consent": {"gated": ["victim"]},
            "agencies": {
                "police": {"facts": ["victim.*", "referral.*"]},
                "health": {"facts": ["victim.*"]},
            },
        }
    )


def test_each_referral_text_reaches_exactly_the_agencies_whose_row_lists_it():
    story = a_consented_case(a_matrix_where_only_police_lists_referral_texts())
    for agency, service in (("police", "legal_process"), ("health", "medical_care")):
        story.refer(
            f"r-{agency}", agency, service, notes=f"bring {agency} file", record_ref=f"BA-{agency}"
        )
        story.deliver(
            f"r-{agency}", by=COORDINATOR, acceptance_notes="seen today", summary="visum done"
        )
    for agency, service in (("police", "legal_aid"), ("health", "psychological_counselling")):
        story.refer(f"d-{agency}", agency, service)
        story.act("decline_referral", referral_id=f"d-{agency}", reason="mother refuses")
    story.refer("c-police", "police", "legal_process")
    story.refer("c-health", "health", "medical_care")
    for agency in ("police", "health"):
        story.act("cancel_referral", referral_id=f"c-{agency}", reason="moved to her aunt")

    texts = ("notes", "referral_record_ref", "reason", "summary")
    police, health = texts_of(story.to("police"), *texts), texts_of(story.to("health"), *texts)
    assert {"bring police file", "BA-police", "seen today", "visum done"} <= set(police)
    assert {"mother refuses", "moved to her aunt"} <= set(police)
    assert health and set(health) == {""}, "withheld text is an empty string, never absent"


def test_the_bundled_matrix_tells_the_school_its_referral_but_not_why_the_office_cancelled_it():
    story = a_consented_case()
    story.refer("r-school", "education", "return_to_school", notes="enrol at SMP 2")

    story.act("cancel_referral", referral_id="r-school", reason="the family moved to Palopo")

    received, updated = (data for kind, data in story.to("education") if kind.startswith("ref"))
    assert received["notes"] == "enrol at SMP 2"
    assert updated["status"] == "cancelled" and updated["reason"] == ""
    assert "Palopo" not in str(story.to("education"))


def test_the_texts_of_an_emergency_referral_reach_its_agency_before_consent():
    story = Story()
    story.classify(emergency=True)
    story.refer("r-health", "health", "medical_examination", emergency=True, notes="bleeding")

    story.act("decline_referral", referral_id="r-health", reason="no doctor on duty tonight")

    assert texts_of(story.to("health"), "notes", "reason") == [
        "bleeding",
        "no doctor on duty tonight",
    ]


def test_referral_notes_recorded_before_consent_without_an_emergency_are_withheld():
    policy = SharingPolicy(MATRIX)
    state = policy.new_case(str(CASE_ID))
    at = after()
    report_event = recorded(
        Case.ReportReceived,
        1,
        at,
        originator_topic="domain.case:Case",
        district="luwu-utara",
        register_number="R/1",
        channel="walk_in",
        arrived_at=at,
        chronology="what happened",
        needs="",
        documents=[],
        psychological_first_aid_needed=False,
        victim={"name": "Anak B"},
        reporter={},
        reported_person={},
        incident={},
    )
    referred = recorded(
        Case.Referred,
        2,
        at,
        referral_id="r-1",
        service_type="legal_process",
        agency="police",
        due_at=at,
        emergency=False,
        notes="Anak B hides at the neighbour's",
        referral_record_ref="BA-7",
    )

    messages = [m for event in (report_event, referred) for m in policy.share(state, event)]

    received = [m.data for m in messages if m.kind == "referral.received"]
    assert received[0]["notes"] == "" and received[0]["referral_record_ref"] == ""


SECRET = "RAHASIA"


def secret(field: str) -> str:
    return f"{SECRET}-{field}"


def a_story_writing_secrets_in_every_text(matrix, *, consent: bool, case_type: str = "KTA"):
    """Every free-text input a case can carry to an agency holds a marker naming it."""
    story = Story(matrix)
    story.case = report(
        after(),
        chronology=secret("chronology"),
        needs=secret("needs"),
        documents=[secret("documents")],
        victim={"name": secret("victim"), "village": secret("village")},
        reporter={"name": secret("reporter")},
        reported_person={"name": secret("reported_person")},
        incident={"village": secret("incident")},
    )
    story.state = story.policy.new_case(str(story.case.id))
    story.messages = []
    story._share(story.case.collect_events())
    story.classify(emergency=not consent, case_type=case_type)
    if consent:
        story.consent()
    return story


def everything_listed(gated: list[str]) -> Any:
    every_path = [
        "report.*",
        "victim.*",
        "reporter.*",
        "reported_person.*",
        "incident.*",
        "classification.*",
        "consent.*",
        "case_worker.*",
        "assessments.*",
        "case_report.*",
        "intervention_plan.*",
        "referral.*",
        "handover.*",
    ]
    return parse_matrix(
        {"consent": {"gated": gated}, "agencies": {a: {"facts": every_path} for a in MATRIX.rows}}
    )


def test_no_matrix_releases_free_text_before_consent_even_with_nothing_gated():
    story = a_story_writing_secrets_in_every_text(
        everything_listed([]), consent=False, case_type="ABH"
    )
    story.refer("r-police", "police", "legal_process", emergency=True)
    story.act("hand_over", target="social", receiving_unit=secret("unit"), notes=secret("note"))

    assert SECRET not in str(story.to("social"))
    assert SECRET in str(story.to("police")), "an emergency referral does carry personal data"


def test_no_recorded_text_reaches_an_agency_whose_row_lists_none():
    matrix = parse_matrix(
        {
            "consent": {"gated": []},
            "agencies": {a: {"facts": ["classification.*"]} for a in MATRIX.rows},
        }
    )
    story = a_story_writing_secrets_in_every_text(matrix, consent=True)
    story.assess("legal", secret("findings"))
    story.refer("r-1", "police", "legal_process", notes=secret("notes"), record_ref=secret("ref"))
    story.deliver("r-1", by=POLICE_OFFICER, acceptance_notes=secret("acc"), summary=secret("sum"))
    story.refer("r-2", "health", "medical_care")
    story.act("decline_referral", referral_id="r-2", reason=secret("decline"))
    story.refer("r-3", "education", "return_to_school")
    story.act("cancel_referral", referral_id="r-3", reason=secret("cancel"))
    handed = a_story_writing_secrets_in_every_text(matrix, consent=True, case_type="ABH")
    handed.act("hand_over", target="social", receiving_unit=secret("unit"), notes=secret("note"))

    assert story.messages and handed.messages
    assert SECRET not in str(story.messages + handed.messages)


def test_text_recorded_for_the_office_alone_reaches_no_agency_whatever_the_matrix_lists():
    # Siblings of the message texts: what no agency message carries at all.
    story = Story(everything_listed([]))
    story.act(
        "classify",
        by=INTAKE_OFFICER,
        case_type="KTA",
        risk_level="high",
        jurisdiction="district",
        emergency=True,
        rationale=secret("rationale"),
    )
    story.refer("r-police", "police", "legal_process", emergency=True)
    story.act("give_psychological_first_aid", notes=secret("first-aid"))
    story.act("record_emergency_response", actions=[secret("action")], notes=secret("outreach"))
    story.act(
        "assign_case_worker",
        case_worker_id=CASE_WORKER.user_id,
        assignment_letter_ref=secret("letter"),
    )
    story.act("record_contact", by=CASE_WORKER, mode="home_visit", notes=secret("visit"))
    story.act(
        "record_consent",
        by=CASE_WORKER,
        given=True,
        given_by="parent",
        document_ref=secret("form"),
        notes=secret("consent"),
    )
    story.act("record_accompaniment", by=CASE_WORKER, activity=secret("court"), notes=secret("acc"))
    story.act(
        "terminate",
        kind="unilateral",
        reason="whereabouts_unknown",
        termination_form_ref=secret("termination"),
        notes=secret("end"),
    )

    assert kinds(story.to("police"))[-1] == "case.closed"
    assert SECRET not in str(story.messages)


def test_a_shelter_stay_and_a_reintegration_send_the_social_office_no_message():
    """T4d, K-I1-K-I8: where a victim shelters is the office's to know. The social office
    serving a shelter referral hears of the referral and its delivery (L4.1-L4.3); the
    stay's days, destination and notes reach no agency topic, whatever the matrix lists."""
    story = Story(everything_listed([]))
    story.classify()
    story.consent()
    story.refer("r-shelter", "social", "temporary_shelter", notes="Shelter needed.")
    before = len(story.messages)

    story.act(
        "admit_to_shelter",
        by=CASE_WORKER,
        shelter="other",
        shelter_name=secret("shelter"),
        admitted_on="2025-03-04",
        referral_id="r-shelter",
        notes=secret("admission"),
    )
    story.act(
        "discharge_from_shelter",
        by=CASE_WORKER,
        discharged_on="2025-03-10",
        destination="substitute_family",
        reason=secret("discharge"),
    )
    for activity in ("preparation", "child_counselling", "caregiver_counselling"):
        story.act(
            "record_reintegration_step",
            by=CASE_WORKER,
            activity=activity,
            done_on="2025-03-11",
            notes=secret(activity),
        )
    story.act(
        "reunify_child",
        by=CASE_WORKER,
        reunified_on="2025-03-12",
        reunified_with="family",
        notes=secret("reunified"),
    )

    assert story.messages[before:] == []
    assert SECRET not in str(story.messages)


def test_the_matrix_names_an_unknown_text_of_a_message():
    with pytest.raises(MatrixError, match=r"referral\.note"):
        parse_matrix(
            {"consent": {"gated": []}, "agencies": {"police": {"facts": ["referral.note"]}}}
        )


# ---- Determinism and the matrix ----------------------------------------------------------------


def test_replaying_the_same_events_gives_the_same_messages():
    story = a_consented_case()
    story.refer("r-police", "police", "legal_process")
    story.deliver("r-police", by=POLICE_OFFICER)
    replayed = Story()
    replayed.classify()
    replayed.consent()
    replayed.refer("r-police", "police", "legal_process")
    replayed.deliver("r-police", by=POLICE_OFFICER)

    def without_case_id(messages):
        return [
            (a, k, {key: v for key, v in d.items() if key != "case_id"}) for a, k, d in messages
        ]

    assert without_case_id(story.messages) == without_case_id(replayed.messages)


def test_the_policy_refuses_an_event_out_of_order():
    policy = SharingPolicy(MATRIX)
    state = policy.new_case(str(CASE_ID))

    with pytest.raises(ValueError, match="does not follow"):
        policy.share(
            state, recorded(Case.ReferralAccepted, 2, after(), referral_id="r-1", notes="")
        )


def test_the_matrix_names_an_unknown_fact_path():
    with pytest.raises(MatrixError, match="victim_medical"):
        parse_matrix(
            {"consent": {"gated": []}, "agencies": {"police": {"facts": ["victim_medical.*"]}}}
        )


def test_the_matrix_refuses_a_row_without_closing_messages():
    with pytest.raises(MatrixError, match=r"case\.closed"):
        parse_matrix(
            {
                "consent": {"gated": []},
                "agencies": {
                    "police": {
                        "facts": [],
                        "messages": ["case.opened", "referral.received", "case.handed_over"],
                    }
                },
            }
        )


def test_an_agency_without_a_matrix_row_receives_nothing():
    matrix = parse_matrix(
        {"consent": {"gated": ["victim"]}, "agencies": {"health": {"facts": ["victim.*"]}}}
    )
    story = a_consented_case(matrix)

    story.refer("r-police", "police", "legal_process")
    story.refer("r-health", "health", "medical_care")

    assert story.to("police") == []
    assert kinds(story.to("health")) == ["case.opened", "referral.received"]


def test_the_bundled_matrix_gives_a_row_to_every_agency_a_referral_can_name():
    """Every agency L3.2 and the other SOPs refer to has a topic and an inbox; the
    coordinating UPTD PPA answers its own referrals in the office's views."""
    named = {agency for agencies in AGENCIES_FOR_SERVICE.values() for agency in agencies}

    assert set(MATRIX.agencies) == {agency.value for agency in Agency} - {"uptd_ppa"}
    assert named - {Agency.UPTD_PPA} <= set(MATRIX.agencies)


def test_only_the_agencies_a_case_can_be_handed_over_to_get_the_handovers_texts():
    """Routing b, c, d: PATBM, the social office and the province take a case over."""
    with_handover_texts = {
        row.agency for row in MATRIX.rows.values() if row.allows("handover", "notes")
    }

    assert with_handover_texts == {agency.value for agency in HANDOVER_AGENCY.values()}


# ---- The agencies one SOP names for one service ------------------------------------------------

A_FULL_IDENTITY = {
    "name": "Anak A",
    "sex": "female",
    "age": 12,
    "birth_place": "Masamba",
    "birth_date": "2012-11-12",
    "nik": "7322011211120001",
    "address": "Jl. Contoh 1",
    "village": "Desa Baebunta",
    "phone": "0812-1111-1111",
    "education": "SD kelas 6",
}


def a_case_referred_to(agency: str, service: str) -> dict[str, Any]:
    """The facts ``agency`` received of a consented case with every assessment on file."""
    story = Story(victim=A_FULL_IDENTITY)
    story.classify()
    story.consent()
    for domain in ("physical", "psychological", "social_spiritual", "legal"):
        story.assess(domain, f"{domain} findings")
    story.refer(f"r-{agency}", agency, service)
    opened = [data for kind, data in story.to(agency) if kind == "case.opened"]
    return dict(opened[0]["facts"])


def test_baznas_learns_whom_to_send_home_and_where_never_what_happened():
    """Tanjungpinang T4e: repatriation funded by Baznas needs the person and her home."""
    facts = a_case_referred_to("baznas", "repatriation")

    assert facts["victim"] == {
        "name": "Anak A",
        "sex": "female",
        "age": 12,
        "address": "Jl. Contoh 1",
        "village": "Desa Baebunta",
    }
    assert set(facts) == {"victim", "consent", "case_worker"}


def test_bpjs_learns_the_identity_an_enrolment_needs_and_no_chronology():
    """Tanjungpinang T4b (Jamkesda), Kota Batu kegiatan 6: NIK, birth date, address."""
    facts = a_case_referred_to("bpjs", "health_insurance")

    assert set(facts["victim"]) == {"name", "sex", "birth_place", "birth_date", "nik", "address"}
    assert facts["report"] == {"documents": ["birth_certificate", "family_card"]}
    assert not {"reporter", "reported_person", "incident", "assessments"} & set(facts)


def test_the_civil_registry_learns_what_a_birth_certificate_or_family_card_needs():
    """Kutai Timur Pasal 14(2) d, 15(1) d: Disdukcapil issues the civil documents."""
    facts = a_case_referred_to("civil_registry", "civil_documents")

    assert set(facts["victim"]) == {
        "name",
        "sex",
        "birth_place",
        "birth_date",
        "nik",
        "address",
        "village",
    }
    assert facts["report"] == {"documents": ["birth_certificate", "family_card"]}
    assert not {"reporter", "reported_person", "incident", "assessments"} & set(facts)


def test_religious_affairs_learns_whom_to_visit_and_the_kind_of_case_only():
    """Kota Batu and Kutai Timur (Pasal 14(2) g) name Kemenag for religious guidance."""
    facts = a_case_referred_to("religious_affairs", "religious_guidance")

    assert facts["victim"] == {
        "name": "Anak A",
        "sex": "female",
        "age": 12,
        "village": "Desa Baebunta",
    }
    assert facts["classification"] == {"case_type": "KTA"}
    assert set(facts) == {"victim", "classification", "consent", "case_worker"}


@pytest.mark.parametrize("agency", ["prosecutor", "court", "legal_aid"])
def test_the_legal_agencies_learn_the_legal_view_and_only_the_legal_assessment(agency):
    """Tanjungpinang T4c (police/prosecutor), Kutai Timur Pasal 14(2) l-m, L3.2d (LBH)."""
    service = "legal_aid" if agency == "legal_aid" else "legal_process"
    facts = a_case_referred_to(agency, service)

    assert facts["report"]["chronology"] == report_details()["chronology"]
    assert facts["reported_person"] == report_details()["reported_person"]
    assert facts["incident"] == report_details()["incident"]
    assert facts["victim"] == A_FULL_IDENTITY
    assert set(facts["assessments"]) == {"legal"}
    assert not {"case_report", "intervention_plan"} & set(facts)


def test_legal_aid_does_not_learn_who_reported_the_case():
    """The LBH represents the victim; the reporter is the police's and prosecutor's witness."""
    assert "reporter" not in a_case_referred_to("legal_aid", "legal_aid")
    assert "reporter" in a_case_referred_to("prosecutor", "legal_process")


@pytest.mark.parametrize(
    ("agency", "service", "told_why"),
    [
        ("prosecutor", "legal_process", True),
        ("court", "legal_process", True),
        ("legal_aid", "legal_aid", True),
        ("baznas", "repatriation", False),
        ("bpjs", "health_insurance", False),
        ("civil_registry", "civil_documents", False),
        ("religious_affairs", "religious_guidance", False),
    ],
)
def test_only_an_agency_whose_duty_a_withdrawal_interrupts_is_told_why(agency, service, told_why):
    story = a_consented_case()
    story.refer("r-1", agency, service, notes="see the case worker", record_ref="BA-1")

    story.act("cancel_referral", referral_id="r-1", reason="the family moved to Palopo")

    received, updated = (data for kind, data in story.to(agency) if kind.startswith("ref"))
    assert (received["notes"], received["referral_record_ref"]) == ("see the case worker", "BA-1")
    assert updated["status"] == "cancelled"
    assert updated["reason"] == ("the family moved to Palopo" if told_why else "")


def test_the_bundled_matrix_names_only_fields_a_report_can_carry():
    """Free-key groups are recorded as the API accepts them; a misspelt key would share nothing."""
    from services.case_commands import Incident, Person

    fields = {
        "victim": set(Person.model_fields),
        "reporter": set(Person.model_fields),
        "reported_person": set(Person.model_fields),
        "incident": set(Incident.model_fields),
    }
    for row in load_matrix().rows.values():
        for path in row.facts:
            if path.group in fields and path.key is not None:
                assert path.key in fields[path.group], (row.agency, path)


def test_the_receiver_hears_its_acknowledgement_and_no_other_agency_does():
    """L1.5 c: Dinas Sosial acknowledges the ABH case; its topic carries the answer."""
    story = Story()
    story.classify(risk="medium", jurisdiction="district", case_type="ABH")
    story.act("hand_over", target="social")

    sent = story.act("acknowledge_handover", receiving_unit="Bidang Rehsos", taken_by="Pak D")

    assert [(agency, kind) for agency, kind, _ in sent] == [("social", "handover.updated")]
    data = sent[0][2]
    assert (data["status"], data["target"]) == ("acknowledged", "social")
    assert data["register_number"] == story.case.register_number
    # Before consent the texts stay withheld, as every text of the case.
    assert (data["receiving_unit"], data["taken_by"], data["notes"]) == ("", "", "")


def test_a_handback_is_the_receivers_last_message_and_reopens_nothing_for_it():
    story = Story()
    story.classify(risk="high", jurisdiction="province")
    story.act("hand_over", target="province")

    story.act("hand_back", reason="Bukan kewenangan provinsi.")
    story.classify(risk="high", jurisdiction="district")

    assert kinds(story.to("province")) == ["case.opened", "case.handed_over", "handover.updated"]
    assert story.to("province")[-1][1]["status"] == "handed_back"


# ---- Documents: announced to the agencies that may fetch them ---------------------------------


def attach(story: Story, kind: str, number: int = 1):
    return story.act(
        "attach_document",
        by=CASE_WORKER,
        **a_document_attachment(
            document_id=f"00000000-0000-5000-8000-{number:012d}",
            kind=kind,
            sha256=f"{number:02x}" * 32,
            district_kinds={kind},
        ),
    )


def test_a_document_is_announced_only_to_open_agencies_whose_row_lists_its_kind():
    story = a_consented_case()
    story.refer("r-police", "police", "legal_process")
    story.refer("r-school", "education", "return_to_school")

    sent = attach(story, "visum_et_repertum")

    assert [(agency, kind) for agency, kind, _ in sent] == [("police", "document.shared")]
    shared = sent[0][2]
    assert shared["case_id"] == str(story.case.id)
    assert (shared["kind"], shared["sha256"], shared["media_type"]) == (
        "visum_et_repertum",
        "01" * 32,
        "image/jpeg",
    )
    assert attach(story, "medical_record", 2) == []  # neither row lists medical records
    assert story.to("health") == []  # never referred


def test_a_document_attached_before_the_referral_is_announced_when_the_agency_may_fetch_it():
    story = Story()
    story.classify()
    attach(story, "visum_et_repertum")
    story.consent()

    story.refer("r-police", "police", "legal_process")

    assert kinds(story.to("police")) == ["case.opened", "referral.received", "document.shared"]
    assert story.to("police")[-1][1]["document_id"] == "00000000-0000-5000-8000-000000000001"


def test_an_emergency_referral_gets_its_documents_before_consent_and_each_once():
    story = Story()
    story.classify(emergency=True)
    story.refer("r-police", "police", "legal_process", emergency=True)

    attach(story, "visum_et_repertum")
    story.consent()
    story.assess("legal", "the neighbour is the suspect")

    assert kinds(story.to("police")).count("document.shared") == 1
    assert kinds(story.to("police"))[2] == "document.shared"


def test_a_letter_about_one_referral_reaches_that_referrals_agency_alone():
    story = a_consented_case()
    story.refer("r-police", "police", "legal_process")
    story.refer("r-school", "education", "return_to_school")
    pdf = "cd" * 32
    story.act(
        "issue_letter",
        **a_letter(
            letter_id="letter-bar-police",
            kind="berita_acara_rujukan",
            sha256=pdf,
            referral_id="r-police",
            district_kinds=["berita_acara_rujukan"],
        ),
    )

    sent = story.act(
        "attach_document",
        **a_document_attachment(
            kind="referral_record", sha256=pdf, district_kinds={"referral_record"}
        ),
    )

    assert [(agency, kind) for agency, kind, _ in sent] == [("police", "document.shared")]


def test_an_agency_serving_only_a_sibling_hears_of_none_of_the_cases_documents():
    story = a_consented_case()
    story.act("add_beneficiary", by=CASE_WORKER, **a_beneficiary())
    story.act("record_beneficiary_consent", by=CASE_WORKER, **a_beneficiary_consent())
    story.act(
        "refer",
        by=CASE_WORKER,
        referral_id="r-police-sibling",
        service_type="legal_process",
        agency="police",
        due_at=after(days=7),
        beneficiary_ids=["2"],
    )

    assert attach(story, "visum_et_repertum") == []
    assert kinds(story.to("police")) == ["case.opened", "referral.received", "beneficiary.shared"]


# ---- Several beneficiaries: each agency learns who its own referrals are for ------------------


def three_siblings(story: Story) -> Story:
    """Mawar (the report's victim), Sari (2) and Bima (3), each consented by the parent."""
    for name in ("Sari Lestari", "Bima Saputra"):
        story.act(
            "add_beneficiary", by=CASE_WORKER, **a_beneficiary(person={"name": name, "age": 8})
        )
    for beneficiary_id in ("2", "3"):
        story.act(
            "record_beneficiary_consent",
            by=CASE_WORKER,
            **a_beneficiary_consent(beneficiary_id=beneficiary_id),
        )
    return story


def refer_for(story: Story, agency: str, service_type: str, *beneficiary_ids: str, **extra: Any):
    return story.act(
        "refer",
        by=CASE_WORKER,
        referral_id=f"r-{agency}-{'-'.join(beneficiary_ids) or 'victim'}",
        service_type=service_type,
        agency=agency,
        due_at=after(days=7),
        beneficiary_ids=list(beneficiary_ids),
        **extra,
    )


def beneficiaries_told(story: Story, agency: str) -> dict[str, dict[str, Any]]:
    """What the agency last holds of each beneficiary, as its topic replaced it."""
    held: dict[str, dict[str, Any]] = {}
    for kind, data in story.to(agency):
        if kind == "beneficiary.shared":
            held[data["beneficiary_id"]] = data
    return held


def test_each_agency_is_told_who_only_the_siblings_its_referrals_are_for_are():
    story = three_siblings(a_consented_case())
    refer_for(story, "health", "medical_examination", "1", "2")
    refer_for(story, "education", "return_to_school", "3")
    refer_for(story, "police", "legal_process")

    health = beneficiaries_told(story, "health")
    education = beneficiaries_told(story, "education")
    assert list(health) == ["2"]
    assert health["2"]["person"]["name"] == "Sari Lestari"
    assert health["2"]["referral_ids"] == ["r-health-1-2"]
    assert health["2"]["relationship"] == "sibling"
    assert list(education) == ["3"]
    assert education["3"]["person"] == {"name": "Bima Saputra", "age": 8}
    assert beneficiaries_told(story, "police") == {}
    assert "Sari" not in str(story.to("education")) and "Bima" not in str(story.to("health"))


def test_a_sibling_is_shown_only_through_the_agencys_own_victim_paths():
    story = three_siblings(a_consented_case())
    story.act(
        "add_beneficiary",
        by=CASE_WORKER,
        **a_beneficiary(person={"name": "Dewi", "age": 7, "education": "SD", "phone": "0812"}),
    )
    story.act(
        "record_beneficiary_consent", by=CASE_WORKER, **a_beneficiary_consent(beneficiary_id="4")
    )

    refer_for(story, "education", "return_to_school", "4")

    person = beneficiaries_told(story, "education")["4"]["person"]
    assert all(MATRIX.rows["education"].allows("victim", key) for key in person)
    assert "phone" not in person and person["education"] == "SD"


def test_an_emergency_referral_for_a_sibling_tells_who_they_are_before_their_consent():
    story = Story()
    story.classify(emergency=True)
    story.consent()
    story.act("add_beneficiary", by=CASE_WORKER, **a_beneficiary())
    refer_for(story, "health", "medical_examination", "2", emergency=True)

    held = beneficiaries_told(story, "health")["2"]

    assert held["person"]["name"] == "Sari Lestari"


def test_a_siblings_own_consent_not_the_first_victims_opens_the_case_to_its_agency():
    story = Story()
    story.classify()
    story.act("assign_case_worker", case_worker_id=CASE_WORKER.user_id)
    story.act("add_beneficiary", by=CASE_WORKER, **a_beneficiary())
    story.act("record_beneficiary_consent", by=CASE_WORKER, **a_beneficiary_consent())

    refer_for(story, "police", "legal_process", "2")

    opened = dict(story.to("police"))["case.opened"]
    assert "incident" in opened["facts"] and "victim" not in opened["facts"]
    assert beneficiaries_told(story, "police")["2"]["person"]["name"] == "Sari Lestari"


def test_a_sibling_referred_again_after_the_agency_was_let_go_is_told_afresh():
    story = three_siblings(a_consented_case())
    refer_for(story, "education", "return_to_school", "3")
    story.act("decline_referral", by=EDUCATION_OFFICER, referral_id="r-education-3", reason="full")
    assert kinds(story.to("education"))[-1] == "case.closed"

    story.act(
        "refer",
        by=CASE_WORKER,
        referral_id="r-education-3-again",
        service_type="return_to_school",
        agency="education",
        due_at=after(days=7),
        beneficiary_ids=["3"],
    )

    shared = [data for kind, data in story.to("education") if kind == "beneficiary.shared"]
    assert len(shared) == 2 and shared[-1]["referral_ids"] == [
        "r-education-3",
        "r-education-3-again",
    ]
