"""Letter numbers run per district and year without gaps or repeats, however many office
staff issue letters at once: the LetterRegister is saved with the case, in PostgreSQL."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from uuid import UUID

import pytest

from domain.case import Case
from domain.errors import RuleViolated
from domain.letters import LetterKind, LetterRegister
from gateways.eventstore.environment import postgres_env
from gateways.letter_pdf import render_letter
from services.access_log import CaseRead
from services.case_commands import Classify
from services.cases import Cases
from services.letters import Letters
from services.profiles import ProfileBook, load_profiles
from services.settings import Settings
from tests.support.builders import COORDINATOR, INTAKE_OFFICER, a_classification, report_a_case

CASES = 4
LETTERS_PER_CASE = 4


def classified_cases(cases: Cases) -> list[UUID]:
    case_ids = []
    for _ in range(CASES):
        case_id = report_a_case(cases).case_id
        cases.execute(INTAKE_OFFICER, case_id, Classify(**a_classification()))
        case_ids.append(case_id)
    return case_ids


def test_concurrent_issues_take_every_number_once_and_leave_no_gap(pg_cases: Cases):
    letters = Letters(pg_cases, render_letter)
    case_ids = classified_cases(pg_cases)
    work = [case_id for case_id in case_ids for _ in range(LETTERS_PER_CASE)]

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(
            pool.map(
                lambda case_id: letters.issue(COORDINATOR, case_id, LetterKind.CONSENT_FORM),
                work,
            )
        )

    issued = [
        event
        for case_id in case_ids
        for event in pg_cases.history(case_id)
        if isinstance(event, Case.LetterIssued)
    ]
    sequences = sorted(int(event.number.split("/")[0]) for event in issued)
    assert sequences == list(range(1, len(work) + 1))
    assert len({event.verification_code for event in issued}) == len(work)
    assert all(result.recorded == ("LetterIssued",) for result in results)
    year = int(issued[0].number.rsplit("/", 1)[1])
    register = pg_cases.repository.get(LetterRegister.register_id("luwu-utara", year))
    assert register.last_seq == len(work)


def test_each_letter_verifies_by_its_code_after_a_restart_of_the_service(
    pg_cases: Cases, database_url: str, test_settings: Settings
):
    letters = Letters(pg_cases, render_letter)
    (case_id, *_) = classified_cases(pg_cases)
    letters.issue(COORDINATOR, case_id, LetterKind.CONSENT_FORM)
    (issued,) = [e for e in pg_cases.history(case_id) if isinstance(e, Case.LetterIssued)]

    restarted = Cases(env=postgres_env(database_url, test_settings))
    try:
        found = Letters(restarted, render_letter).verify(
            COORDINATOR, issued.verification_code, CaseRead(view="verify_letter")
        )
        letter = Letters(restarted, render_letter).read(
            COORDINATOR, case_id, issued.letter_id, CaseRead(view="read_letter")
        )
    finally:
        restarted.close()

    assert (found.number, found.sha256) == (issued.number, issued.sha256)
    assert letter.number == issued.number


def test_a_letter_that_no_longer_renders_to_its_hash_is_a_409_naming_the_rule(
    pg_cases: Cases, database_url: str, test_settings: Settings
):
    """A letterhead edited after issue would change the bytes: the record says so, plainly."""
    (case_id, *_) = classified_cases(pg_cases)
    Letters(pg_cases, render_letter).issue(COORDINATOR, case_id, LetterKind.CONSENT_FORM)
    (issued,) = [e for e in pg_cases.history(case_id) if isinstance(e, Case.LetterIssued)]
    profiles = load_profiles()
    luwu = profiles.profile("luwu-utara")
    assert luwu.letterhead is not None
    moved = replace(luwu, letterhead=replace(luwu.letterhead, address="Jl. Baru No. 1, Masamba"))
    edited = ProfileBook(
        [moved, *(profiles.profile(d) for d in profiles.districts() if d != "luwu-utara")]
    )

    restarted = Cases(env=postgres_env(database_url, test_settings), profiles=edited)
    try:
        with pytest.raises(RuleViolated) as caught:
            Letters(restarted, render_letter).read(
                COORDINATOR, case_id, issued.letter_id, CaseRead(view="read_letter")
            )
    finally:
        restarted.close()

    assert (caught.value.rule, caught.value.step) == ("letter_differs_from_issued", "L1.9-10")
