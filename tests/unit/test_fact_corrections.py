"""Corrections as history (B4, Kota Batu's activity 3, K-O2): the intake's facts corrected.

Kota Batu verifies by home visit "untuk melengkapi data" (activity 3; B4 screens with
"verifikasi dan home visit"), Kutai Timur verifies the initial data (K-O2). A correction
states the new values only; the case file shows them, the earlier events keep the old,
and exactly the agencies holding a corrected fact hear of it.
"""

from copy import deepcopy
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from domain.actors import acting_as
from domain.case import Case
from domain.errors import CaseClosed, InvalidValue, NothingCorrected
from projections.case_file import CaseFile, case_file_as_of, history_entry
from projections.open_cases import open_case_rows
from projections.timeline import case_timeline
from services.case_commands import CorrectFacts
from services.profiles import load_profiles
from services.sharing import SharingPolicy
from tests.support.builders import (
    CASE_WORKER,
    COORDINATOR,
    FIXED_TIME,
    a_classification,
    a_consent_refusal,
    a_fact_correction,
    a_fact_correction_request,
    a_new_case,
)
from tests.unit.test_sharing import MATRIX, Story, a_consented_case, recorded

LATER = FIXED_TIME + timedelta(hours=1)


def a_reported_case() -> Case:
    """A new case whose report was recorded (its event collected, as the store would)."""
    case = a_new_case()
    case.collect_events()
    return case


def corrected(case: Case, **overrides: Any) -> list[Case.Event]:
    with acting_as(CASE_WORKER, LATER):
        case.correct_facts(**a_fact_correction(**overrides))
    return list(case.collect_events())


def refused_unchanged(case: Case, error: type[Exception], **overrides: Any) -> Any:
    state = deepcopy(vars(case))
    with acting_as(CASE_WORKER, LATER), pytest.raises(error) as caught:
        case.correct_facts(**a_fact_correction(**overrides))
    assert vars(case) == state
    return caught.value


# ---- The aggregate -------------------------------------------------------------------------


def test_a_correction_records_each_new_value_with_its_reason_and_step():
    case = a_reported_case()

    (event,) = corrected(case)

    assert isinstance(event, Case.FactsCorrected)
    assert event.corrections == [
        {"group": "victim", "key": "birth_date", "value": "2012-01-09"},
        {"group": "incident", "key": "village", "value": "Desa Baru"},
    ]
    assert event.reason.startswith("Kunjungan rumah")
    assert event.sop_step == "B4"
    assert event.actor["user_id"] == CASE_WORKER.user_id


def test_a_correction_to_the_value_already_recorded_is_refused_naming_the_fact():
    case = a_new_case()  # the victim's name at intake: "Anak Contoh"

    error = refused_unchanged(
        case,
        NothingCorrected,
        corrections=[{"group": "victim", "key": "name", "value": "Anak Contoh"}],
    )

    assert (error.rule, error.field) == ("correction_changes_nothing", "victim.name")
    assert "Anak Contoh" not in str(error)


def test_a_later_correction_compares_with_the_corrected_value_not_the_intakes():
    case = a_reported_case()
    corrected(case, corrections=[{"group": "victim", "key": "name", "value": "Anak Contah"}])

    refused_unchanged(
        case,
        NothingCorrected,
        corrections=[{"group": "victim", "key": "name", "value": "Anak Contah"}],
    )
    (back,) = corrected(
        case, corrections=[{"group": "victim", "key": "name", "value": "Anak Contoh"}]
    )
    assert back.corrections[0]["value"] == "Anak Contoh"


def test_the_chronology_and_needs_are_correctable_and_the_chronology_never_blank():
    case = a_reported_case()

    (event,) = corrected(
        case,
        corrections=[
            {"group": "report", "key": "chronology", "value": "Kronologi setelah verifikasi."},
            {"group": "report", "key": "needs", "value": ""},
        ],
    )
    assert [c["key"] for c in event.corrections] == ["chronology", "needs"]

    error = refused_unchanged(
        case, InvalidValue, corrections=[{"group": "report", "key": "chronology", "value": " "}]
    )
    assert error.field == "chronology"


@pytest.mark.parametrize(
    ("corrections", "field"),
    [
        ([], "corrections"),
        ([{"group": "classification", "key": "risk_level", "value": "low"}], "corrections"),
        ([{"group": "report", "key": "channel", "value": "walk_in"}], "corrections"),
        ([{"group": "victim", "key": "name"}], "corrections"),
        ([{"group": "victim", "key": "name", "value": None}], "victim.name"),
        (
            [
                {"group": "victim", "key": "name", "value": "Anak B"},
                {"group": "victim", "key": "name", "value": "Anak C"},
            ],
            "victim.name",
        ),
    ],
    ids=["none", "unknown-group", "report-channel", "no-value", "null", "twice"],
)
def test_a_correction_naming_no_correctable_fact_is_refused(corrections, field):
    case = a_new_case()

    error = refused_unchanged(case, InvalidValue, corrections=corrections)

    assert error.field == field


def test_a_correction_needs_a_reason():
    error = refused_unchanged(a_new_case(), InvalidValue, reason="  ")

    assert error.field == "reason"


def test_a_closed_case_accepts_no_correction():
    """L6.5: a consent refused (L1.10) closed the case; its record stays as it was."""
    case = a_new_case()
    with acting_as(COORDINATOR, FIXED_TIME):
        case.classify(**a_classification())
        case.record_consent(**a_consent_refusal())
    assert case.is_closed

    error = refused_unchanged(case, CaseClosed)

    assert (error.rule, error.step) == ("case_closed", "L6.5")


def test_the_replayed_case_holds_the_corrected_facts_as_the_live_one_does():
    case = a_new_case()
    events = [*case.collect_events(), *corrected(case)]

    replayed = None
    for event in events:
        replayed = event.mutate(replayed)

    assert isinstance(replayed, Case)
    assert replayed.intake_facts == case.intake_facts
    assert case.intake_facts["victim"]["birth_date"] == "2012-01-09"


# ---- The command (what the API takes) ------------------------------------------------------


def test_the_command_takes_the_intakes_shape_and_records_group_key_and_value():
    command = CorrectFacts(**a_fact_correction_request(chronology="Kronologi lengkap."))

    assert command.corrections() == [
        {"group": "victim", "key": "birth_date", "value": "2012-01-09"},
        {"group": "incident", "key": "village", "value": "Desa Baru"},
        {"group": "report", "key": "chronology", "value": "Kronologi lengkap."},
    ]


@pytest.mark.parametrize(
    ("body", "where", "kind"),
    [
        ({"victim": {"nama": "Anak B"}}, ("victim", "nama"), "extra_forbidden"),
        ({"witness": {"name": "Saksi"}}, ("witness",), "extra_forbidden"),
        ({"victim": {"name": "Anak\x00B"}}, ("victim", "name"), "control_character"),
        ({"incident": {"occurred_on": "kemarin"}}, ("incident", "occurred_on"), "format"),
        (
            {"victim": {"name": "Anak B"}, "sop_step": "b 4"},
            ("sop_step",),
            "string_pattern_mismatch",
        ),
    ],
    ids=["unknown-key", "unknown-group", "control-character", "bad-date", "step"],
)
def test_the_command_refuses_what_the_intake_would_refuse_naming_the_field(body, where, kind):
    with pytest.raises(ValidationError) as caught:
        CorrectFacts(**{"reason": "Verifikasi data awal (K-O2).", **body})

    (error,) = caught.value.errors()
    assert (error["loc"][: len(where)], error["type"]) == (where, kind)


def test_a_correction_naming_no_fact_is_refused_naming_the_request_as_a_whole():
    command = CorrectFacts(victim={}, reason="Verifikasi data awal (K-O2).")  # type: ignore[arg-type]
    case = a_new_case()

    with pytest.raises(InvalidValue) as caught:
        command.apply(case, None)  # type: ignore[arg-type]  # the command needs no context here

    assert (caught.value.field, caught.value.kind) == ("", "nothing_to_correct")
    assert case.pending_events[-1].originator_version == 1


# ---- The case file and the timeline --------------------------------------------------------


def test_the_case_file_shows_the_current_value_and_as_of_the_earlier_version_the_old():
    case = a_new_case()
    events = [*case.collect_events(), *corrected(case)]

    now = CaseFile.from_events(events)
    before = case_file_as_of(events, version=1)

    assert now.report.victim["birth_date"] == "2012-01-09"
    assert now.report.incident == {
        "place_type": "household",
        "occurred_on": "2024-03-02",
        "village": "Desa Baru",
    }
    assert "birth_date" not in before.report.victim and "village" not in before.report.incident
    assert now.report.victim["name"] == before.report.victim["name"] == "Anak Contoh"
    (correction,) = now.corrections
    assert correction.version == 2
    assert [(f.group, f.key, f.value, f.previous) for f in correction.facts] == [
        ("victim", "birth_date", "2012-01-09", None),
        ("incident", "village", "Desa Baru", None),
    ]
    assert (correction.sop_step, correction.by.user_id) == ("B4", CASE_WORKER.user_id)
    assert correction.reason.startswith("Kunjungan rumah") and before.corrections == []


def test_the_history_keeps_the_old_value_in_the_report_and_the_new_in_the_correction():
    case = a_new_case()
    events = [
        *case.collect_events(),
        *corrected(case, corrections=[{"group": "victim", "key": "name", "value": "Anak Contah"}]),
    ]

    report, correction = (history_entry(event) for event in events)

    assert report.data["victim"]["name"] == "Anak Contoh"
    assert correction.type == "FactsCorrected"
    assert correction.data["corrections"] == [
        {"group": "victim", "key": "name", "value": "Anak Contah"}
    ]
    assert correction.data["reason"].startswith("Kunjungan rumah")
    (fact,) = CaseFile.from_events(events).corrections[0].facts
    assert (fact.previous, fact.value) == ("Anak Contoh", "Anak Contah")


def test_the_timeline_names_the_corrected_facts_and_step_but_no_value():
    case = a_new_case()
    events = [*case.collect_events(), *corrected(case)]

    timeline = case_timeline(events, load_profiles().profile("kota-batu"), now=LATER)

    entry = timeline.entries[-1]
    assert (entry.type, entry.sop_step, entry.actor.user_id) == (
        "FactsCorrected",
        "B4",
        CASE_WORKER.user_id,
    )
    assert entry.summary_id == (
        "Data laporan dikoreksi atau dilengkapi (korban: tanggal lahir; kejadian: desa/kelurahan)"
    )
    assert entry.summary_en == (
        "Facts of the report corrected or completed (victim: birth date; incident: village)"
    )
    assert "2012" not in entry.summary_en + entry.summary_id
    assert timeline.state.corrections[0].reason.startswith("Kunjungan rumah")


# ---- Agencies: exactly those holding a corrected fact ---------------------------------------


def correct(story: Story, *corrections: tuple[str, str, Any]) -> list[tuple[str, str, dict]]:
    return story.act(
        "correct_facts",
        by=CASE_WORKER,
        corrections=[{"group": g, "key": k, "value": v} for g, k, v in corrections],
        reason="Verifikasi dengan kunjungan rumah (B4).",
        sop_step="B4",
    )


def referred_to_police_health_and_school() -> Story:
    story = a_consented_case()
    story.refer("r-police", "police", "legal_process")
    story.refer("r-health", "health", "medical_care")
    story.refer("r-school", "education", "return_to_school")
    return story


def test_a_corrected_victim_nik_reaches_the_agencies_whose_row_lists_it_and_no_other():
    story = referred_to_police_health_and_school()

    sent = correct(story, ("victim", "nik", "7322010101120001"))

    assert sorted((agency, kind) for agency, kind, _ in sent) == [
        ("health", "case.updated"),
        ("police", "case.updated"),
    ]
    for _, _, data in sent:
        assert data["facts"]["victim"]["nik"] == "7322010101120001"
        assert data["facts"]["victim"]["name"] == "Anak A"


def test_a_corrected_victim_name_reaches_the_school_too_whose_row_lists_the_name():
    story = referred_to_police_health_and_school()

    sent = correct(story, ("victim", "name", "Anak Aa"))

    assert sorted(agency for agency, _, _ in sent) == ["education", "health", "police"]
    assert {data["facts"]["victim"]["name"] for _, _, data in sent} == {"Anak Aa"}


def test_a_corrected_incident_or_reported_person_reaches_only_the_police():
    story = referred_to_police_health_and_school()

    sent = correct(
        story, ("incident", "occurred_on", "2025-02-28"), ("reported_person", "name", "Tn. X")
    )

    ((agency, kind, data),) = sent
    assert (agency, kind) == ("police", "case.updated")
    assert data["facts"]["incident"]["occurred_on"] == "2025-02-28"
    assert data["facts"]["reported_person"]["name"] == "Tn. X"


def test_a_correction_of_a_fact_no_open_agency_holds_sends_nothing():
    story = a_consented_case()
    story.refer("r-school", "education", "return_to_school")

    assert correct(story, ("reporter", "phone", "0812-1111-2222")) == []


def test_an_agency_referred_later_gets_the_corrected_value_in_its_opening_snapshot():
    story = a_consented_case()
    correct(story, ("victim", "name", "Anak Aa"))

    story.refer("r-police", "police", "legal_process")

    kind, opened = story.to("police")[0]
    assert (kind, opened["facts"]["victim"]["name"]) == ("case.opened", "Anak Aa")


def test_an_emergency_agency_before_consent_gets_the_corrected_identity():
    story = Story()
    story.classify(emergency=True)
    story.refer("r-health", "health", "medical_examination", emergency=True)

    sent = correct(story, ("victim", "name", "Anak Aa"))

    assert [(agency, kind) for agency, kind, _ in sent] == [("health", "case.updated")]


def test_no_correction_of_personal_data_reaches_an_agency_before_consent():
    """History the current rules refuse (a referral before consent, not an emergency),
    which the policy must still handle safely: the consent gate holds the correction back
    until consent, which then sends the corrected value."""
    policy = SharingPolicy(MATRIX)
    state = policy.new_case("case-before-consent")
    at = FIXED_TIME
    events = [
        recorded(
            Case.ReportReceived,
            1,
            at,
            originator_topic="domain.case:Case",
            district="luwu-utara",
            register_number="LUTRA/2025/00040",
            channel="hotline",
            arrived_at=at,
            chronology="Dilaporkan oleh tetangga.",
            needs="",
            documents=[],
            psychological_first_aid_needed=False,
            victim={"name": "Anak B", "age": 9},
            reporter={},
            reported_person={},
            incident={},
        ),
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
    for event in events:
        policy.share(state, event)

    correction = policy.share(
        state,
        recorded(
            Case.FactsCorrected,
            3,
            at,
            corrections=[{"group": "victim", "key": "name", "value": "Anak Bb"}],
            reason="K-O2",
            sop_step="K-O2",
        ),
    )
    consent = policy.share(
        state,
        recorded(
            Case.ConsentRecorded, 4, at, given=True, given_by="parent", document_ref="IC", notes=""
        ),
    )

    assert correction == []
    assert [m.kind for m in consent] == ["case.updated"]
    assert consent[0].data["facts"]["victim"] == {"name": "Anak Bb", "age": 9}


def test_the_coordinators_row_holds_no_intake_fact_so_a_correction_only_moves_its_version():
    case = a_new_case()
    events = [*case.collect_events(), *corrected(case)]

    rows = open_case_rows(events)

    assert (rows.case.version, rows.case.updated_at, rows.case.stage) == (
        2,
        LATER,
        "identification",
    )
    assert "Desa Baru" not in repr(rows) and "2012-01-09" not in repr(rows)
