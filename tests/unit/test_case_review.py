"""The printable case review: self-contained, escaped, and honest about the chain."""

import re
from uuid import uuid4
from zoneinfo import ZoneInfo

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from gateways.api.case_review import render_case_review
from gateways.eventstore.verify import CaseVerification, ChainProblem, ProblemKind
from projections.timeline import Timeline, case_timeline
from services.profiles import load_profiles
from tests.support.builders import CASE_WORKER, DISTRICT, after
from tests.unit.test_case_file import CaseStory, classified_story, tell_the_whole_story

PROFILE = load_profiles().profile(DISTRICT)
WITA = ZoneInfo("Asia/Makassar")
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
AUDITOR = {
    "user_id": "inspektorat-01",
    "role": "auditor",
    "agency": "province",
    "district": "sulawesi-selatan",
}


def _timeline(story: CaseStory) -> Timeline:
    return case_timeline(story.events, PROFILE, now=after(days=90))


def _render(timeline: Timeline, **overrides: object) -> str:
    arguments: dict[str, object] = {
        "timezone": WITA,
        "exported_at": after(days=90),
        "exported_by": AUDITOR,
        "purpose": "Pemeriksaan Inspektorat 700/12",
        "verification": CaseVerification(timeline.case_id, timeline.version, bytes(32), None),
    }
    arguments.update(overrides)
    return render_case_review(timeline, **arguments)  # type: ignore[arg-type]


def test_the_review_carries_the_timeline_its_provenance_and_the_chain_check() -> None:
    timeline = _timeline(tell_the_whole_story())

    page = _render(timeline)

    assert page.startswith("<!DOCTYPE html>")
    assert timeline.register_number in page
    assert "Dirujuk ke Kepolisian untuk proses hukum" in page
    assert "Referred to the police for legal process" in page
    assert "Pemeriksaan Inspektorat 700/12" in page
    assert "inspektorat-01" in page
    assert "intact" in page
    assert page.count("<tr>") >= len(timeline.entries) + len(timeline.steps)
    assert "terlambat" in page  # a late step is shown as such


def test_the_review_loads_nothing_from_elsewhere_and_prints_cleanly() -> None:
    page = _render(_timeline(tell_the_whole_story()))

    for external in ("http://", "https://", "src=", "<link", "<script", "@import", "url("):
        assert external not in page, external
    assert "@media print" in page
    assert "@page" in page


def test_every_recorded_value_is_escaped() -> None:
    story = classified_story(rationale=HOSTILE)
    with story.step(after(hours=1)) as case:
        case.assign_case_worker(case_worker_id=HOSTILE, assignment_letter_ref=HOSTILE)
    timeline = _timeline(story)
    hostile_actor = {**AUDITOR, "user_id": HOSTILE, "district": HOSTILE}

    page = _render(timeline, exported_by=hostile_actor, purpose=HOSTILE)

    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_an_actor_with_markup_in_the_token_is_escaped_in_the_timeline() -> None:
    story = classified_story()
    hostile = Actor(HOSTILE, Role.CASE_WORKER, Agency.UPTD_PPA, DISTRICT)
    with story.step(after(hours=1), by=hostile) as case:
        case.assign_case_worker(case_worker_id=CASE_WORKER.user_id)

    page = _render(_timeline(story))

    assert "<script" not in page and "<img" not in page


def test_a_broken_chain_is_stated_on_the_review() -> None:
    timeline = _timeline(classified_story())
    problem = ChainProblem(
        ProblemKind.CHANGED, "the event's stored content differs", uuid4(), 2, 17
    )

    page = _render(timeline, verification=CaseVerification(timeline.case_id, 1, None, problem))

    assert re.search(r"HASH CHAIN BROKEN: changed, versi / version 2, notification id 17", page)


def test_a_cut_review_says_where_it_was_cut() -> None:
    story = tell_the_whole_story()
    timeline = case_timeline(story.events, PROFILE, now=after(days=90), version=5)

    page = _render(timeline)

    assert "versi 1&ndash;5 (versi / version 5)" in page
