"""The timeline: one factual, bilingual summary per event, its SOP step and time standards."""

from datetime import timedelta
from typing import Any

import pytest

from domain.actors import acting_as
from domain.case import CASE_EVENT_TYPES, Case
from projections import labels
from projections.case_file import NothingRecordedThen, UnknownCaseEvent, case_file_as_of
from projections.timeline import case_timeline, summaries, summarized_event_types
from services.profiles import load_profiles
from tests.support.builders import CASE_WORKER, COORDINATOR, DISTRICT, START, after
from tests.unit.test_case_file import (
    CaseStory,
    classified_story,
    planned_story,
    reintegrated_story,
    sheltered_story,
    tell_the_whole_story,
)

PROFILE = load_profiles().profile(DISTRICT)
LONG_AFTER = after(days=90)


@pytest.fixture(scope="module")
def whole_story() -> CaseStory:
    return tell_the_whole_story()


def test_every_case_event_type_has_a_summary() -> None:
    assert set(CASE_EVENT_TYPES) - summarized_event_types() == set()
    assert len(CASE_EVENT_TYPES) >= 22


def test_every_vocabulary_value_has_indonesian_and_english_words() -> None:
    for enum, table in labels.TABLES.items():
        for member in enum:
            indonesian, english = table[member.value]
            assert indonesian.strip() and english.strip(), (enum.__name__, member)


def test_an_event_without_a_summary_stops_the_timeline() -> None:
    story = CaseStory()
    with acting_as(COORDINATOR, after(minutes=5)):
        unheard = Case.Event(
            originator_id=story.case.id, originator_version=2, timestamp=after(minutes=5)
        )

    with pytest.raises(UnknownCaseEvent, match=r"Case\.Event"):
        summaries([*story.events, unheard])


def test_entries_mirror_the_events_in_order_with_who_and_when(whole_story: CaseStory) -> None:
    timeline = case_timeline(whole_story.events, PROFILE, now=LONG_AFTER)

    assert [entry.version for entry in timeline.entries] == list(
        range(1, len(whole_story.events) + 1)
    )
    for entry, event in zip(timeline.entries, whole_story.events, strict=True):
        assert entry.type == type(event).__name__
        assert entry.recorded_at == event.timestamp
        assert entry.actor.model_dump() == event.actor
    assert timeline.state == case_file_as_of(whole_story.events)


def test_summaries_state_facts_in_both_languages(whole_story: CaseStory) -> None:
    by_type: dict[str, list[Any]] = {}
    for entry in case_timeline(whole_story.events, PROFILE, now=LONG_AFTER).entries:
        by_type.setdefault(entry.type, []).append(entry)

    referral = by_type["Referred"][2]
    assert (referral.summary_id, referral.summary_en) == (
        "Dirujuk ke Kepolisian untuk proses hukum",
        "Referred to the police for legal process",
    )
    assert by_type["Referred"][0].summary_id.endswith("(darurat)")
    assert by_type["ReferralDeclined"][0].summary_en == (
        "The police declined the referral for legal process"
    )
    assert by_type["RiskClassified"][0].summary_id == (
        "Kasus diklasifikasikan: KTA (kekerasan terhadap anak), risiko tinggi, kewenangan "
        "kabupaten/kota, darurat; aturan rujukan a, e"
    )
    assert by_type["Terminated"][0].summary_en == (
        "Case closed: agreed termination, reason: rights fulfilled and recovered"
    )


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, (list, tuple)):
        return [text for item in value for text in _strings(item)]
    return []


FREE_TEXT_FIELDS = (
    "chronology",
    "victim",
    "reporter",
    "reported_person",
    "incident",
    "needs",
    "notes",
    "rationale",
    "actions",
    "findings",
    "summary",
    "decisions",
    "participants",
    "agreements",
    "goals",
    "reason",
    "activity",
    "beneficiary_feedback",
    "receiving_unit",
)


def test_summaries_quote_no_free_text_recorded_on_the_case(whole_story: CaseStory) -> None:
    vocabulary = {member.value for enum in labels.TABLES for member in enum}
    recorded = {
        text
        for event in whole_story.events
        for name in FREE_TEXT_FIELDS
        for text in _strings(getattr(event, name, None))
        if len(text) >= 6 and text not in vocabulary
    }
    assert "Anak A" in recorded  # the victim's name is among what must not show

    for summary in summaries(whole_story.events):
        for text in recorded:
            assert text not in summary.id and text not in summary.en, (text, summary)


def test_sop_steps_follow_the_case_through_its_stages(whole_story: CaseStory) -> None:
    steps = [
        (s.sop_step, type(e).__name__)
        for s, e in zip(summaries(whole_story.events), whole_story.events, strict=True)
    ]

    assert steps[0] == ("L1.2", "ReportReceived")
    assert ("L3.3", "CaseConferenceHeld") in steps
    assert ("L2.3", "AssessmentRecorded") in steps
    assert steps[-1] == ("L6.5", "Terminated")


def test_a_conference_after_the_plan_is_a_monitoring_conference() -> None:
    story = planned_story()
    with story.step(after(days=3)) as case:
        case.hold_case_conference(
            held_on="2025-03-06", participating_agencies=["uptd_ppa"], decisions=["continue"]
        )

    assert summaries(story.events)[-1].sop_step == "L5.3"


def test_a_refused_consent_closes_the_case_at_l1_10() -> None:
    story = classified_story()
    with story.step(after(hours=1)) as case:
        case.assign_case_worker(case_worker_id=CASE_WORKER.user_id)
    with story.step(after(hours=2), by=CASE_WORKER) as case:
        case.record_consent(given=False, given_by="parent")

    last_two = summaries(story.events)[-2:]
    assert [summary.sop_step for summary in last_two] == ["L1.9-10", "L1.10"]
    assert last_two[1].en == "Case closed: unilateral termination, reason: consent refused"


def test_each_step_is_judged_on_the_event_that_completed_it(whole_story: CaseStory) -> None:
    timeline = case_timeline(whole_story.events, PROFILE, now=LONG_AFTER)
    checks = {
        (entry.version, check.code): check.state
        for entry in timeline.entries
        for check in entry.time_standards
    }

    classified = next(e for e in timeline.entries if e.type == "RiskClassified")
    assert checks[(classified.version, "L1.5")] == "met"
    assert "late" in checks.values()
    judged = [check for entry in timeline.entries for check in entry.time_standards]
    assert sorted(c.model_dump_json() for c in judged) == sorted(
        s.model_dump_json() for s in timeline.steps if s.done_at is not None
    )


def test_a_version_cut_shows_the_case_as_it_stood_then(whole_story: CaseStory) -> None:
    whole = case_timeline(whole_story.events, PROFILE, now=LONG_AFTER)

    then = case_timeline(whole_story.events, PROFILE, now=LONG_AFTER, version=8)

    assert [e.version for e in then.entries] == list(range(1, 9))
    assert [e.summary_en for e in then.entries] == [e.summary_en for e in whole.entries[:8]]
    assert then.state == case_file_as_of(whole_story.events, version=8)
    assert then.evaluated_at == whole_story.events[7].timestamp
    assert (then.version, then.requested_version) == (8, 8)


def test_a_time_cut_judges_open_steps_at_that_moment() -> None:
    story = classified_story()  # reported at START, classified 30 minutes later

    before_classification = case_timeline(
        story.events, PROFILE, now=LONG_AFTER, as_of=after(minutes=20)
    )
    much_later = case_timeline(story.events, PROFILE, now=LONG_AFTER, as_of=after(hours=5))

    assert [e.type for e in before_classification.entries] == ["ReportReceived"]
    assert before_classification.evaluated_at == after(minutes=20)
    states = {step.code: step.state for step in before_classification.steps}
    assert states["L1.5"] == "due"
    assert {step.code: step.state for step in much_later.steps}["L1.7"] == "overdue"


def test_a_cut_before_the_report_is_refused(whole_story: CaseStory) -> None:
    with pytest.raises(NothingRecordedThen):
        case_timeline(
            whole_story.events, PROFILE, now=LONG_AFTER, as_of=START - timedelta(minutes=1)
        )


def test_the_actor_of_each_entry_is_the_one_who_acted() -> None:
    story = classified_story()
    with story.step(after(hours=1), by=COORDINATOR) as case:
        case.assign_case_worker(case_worker_id=CASE_WORKER.user_id)

    entry = case_timeline(story.events, PROFILE, now=LONG_AFTER).entries[-1]

    assert entry.actor.user_id == COORDINATOR.user_id
    assert entry.actor.role == "coordinator"
    assert entry.summary_en == f"Case worker assigned: {CASE_WORKER.user_id}"


def test_a_shelter_stay_is_told_as_t4d_without_its_reason() -> None:
    story = sheltered_story()

    told = summaries(story.events)[-2:]

    assert [(s.sop_step, s.en) for s in told] == [
        ("T4d", "Beneficiary admitted to the social office's shelter (RSTS)"),
        ("T4d", "Beneficiary discharged from the shelter: home to the family"),
    ]
    assert all("ready" not in s.en for s in told)


def test_a_reintegration_is_told_step_by_step_and_its_evaluation_meets_k_i6() -> None:
    story = reintegrated_story()
    kutai_timur = load_profiles().profile("kutai-timur")

    timeline = case_timeline(story.events, kutai_timur, now=LONG_AFTER)

    reintegration = [e for e in timeline.entries if (e.sop_step or "").startswith("K-I")]
    assert [e.sop_step for e in reintegration] == [
        "K-I1",
        "K-I2",
        "K-I3",
        "K-I4",
        "K-I5",
        "K-I6",
        "K-I7",
        "K-I8",
    ]
    (evaluation,) = [e for e in reintegration if e.type == "ReintegrationEvaluated"]
    assert [(c.code, c.state) for c in evaluation.time_standards] == [("K-I6", "met")]


def test_entries_name_steps_by_the_districts_own_numbers(whole_story: CaseStory) -> None:
    """Kutai Timur's case conference is its K-C5, Luwu Utara's L3.3."""
    kutai_timur = load_profiles().profile("kutai-timur")

    def conference_steps(profile: Any) -> set[str | None]:
        timeline = case_timeline(whole_story.events, profile, now=LONG_AFTER)
        return {e.sop_step for e in timeline.entries if e.type == "CaseConferenceHeld"}

    assert conference_steps(PROFILE) == {"L3.3"}
    assert conference_steps(kutai_timur) == {"K-C5"}
