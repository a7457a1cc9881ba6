"""Letter numbers run per district and year without gaps or repeats, however many office
staff issue letters at once: the LetterRegister is saved with the case, in PostgreSQL.
Each letter's PDF is stored, encrypted, as a document of its case in the same save, and
read back from there however the letterhead changes later."""

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from uuid import UUID

import psycopg
import pytest

from domain.actors import acting_as
from domain.case import Case
from domain.errors import RuleViolated
from domain.letters import LETTER_SPECS, LetterKind, LetterRegister, LetterSeal
from gateways.documents.postgres import PostgresDocumentStore
from gateways.eventstore.environment import postgres_env
from gateways.letter_pdf import render_letter
from services.access_log import CaseRead
from services.case_commands import Classify
from services.cases import Cases
from services.documents import Documents
from services.letters import LetterIssue, Letters, letter_id_for, verification_code_of
from services.profiles import ProfileBook, load_profiles
from services.settings import Settings
from services.sharing import load_matrix
from tests.support.builders import COORDINATOR, INTAKE_OFFICER, a_classification, report_a_case

CASES = 4
LETTERS_PER_CASE = 4
MASTER_KEY = os.urandom(32)


def letters_over(cases: Cases, database_url: str) -> Letters:
    """The letters service as the API composes it, its PDFs in the PostgreSQL document store."""
    store = PostgresDocumentStore(lambda: psycopg.connect(database_url), MASTER_KEY)
    store.create_tables()
    return Letters(cases, render_letter, Documents(cases, store, load_matrix(), max_bytes=1 << 20))


def classified_cases(cases: Cases) -> list[UUID]:
    case_ids = []
    for _ in range(CASES):
        case_id = report_a_case(cases).case_id
        cases.execute(INTAKE_OFFICER, case_id, Classify(**a_classification()))
        case_ids.append(case_id)
    return case_ids


def test_concurrent_issues_take_every_number_once_and_leave_no_gap(
    pg_cases: Cases, database_url: str
):
    letters = letters_over(pg_cases, database_url)
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
    assert all(result.recorded == ("LetterIssued", "DocumentAttached") for result in results)
    stored = [
        event
        for case_id in case_ids
        for event in pg_cases.history(case_id)
        if isinstance(event, Case.DocumentAttached)
    ]
    assert sorted(event.sha256 for event in stored) == sorted(event.sha256 for event in issued)
    year = int(issued[0].number.rsplit("/", 1)[1])
    register = pg_cases.repository.get(LetterRegister.register_id("luwu-utara", year))
    assert register.last_seq == len(work)


def test_each_letter_verifies_by_its_code_after_a_restart_of_the_service(
    pg_cases: Cases, database_url: str, test_settings: Settings
):
    letters = letters_over(pg_cases, database_url)
    (case_id, *_) = classified_cases(pg_cases)
    letters.issue(COORDINATOR, case_id, LetterKind.CONSENT_FORM)
    (issued,) = [e for e in pg_cases.history(case_id) if isinstance(e, Case.LetterIssued)]

    restarted = Cases(env=postgres_env(database_url, test_settings))
    try:
        found = letters_over(restarted, database_url).verify(
            COORDINATOR, issued.verification_code, CaseRead(view="verify_letter")
        )
        letter = letters_over(restarted, database_url).read(
            COORDINATOR, case_id, issued.letter_id, CaseRead(view="read_letter")
        )
    finally:
        restarted.close()

    assert (found.number, found.sha256) == (issued.number, issued.sha256)
    assert letter.number == issued.number


def moved_letterhead() -> ProfileBook:
    """The profiles with Luwu Utara's office moved after its letters were issued."""
    profiles = load_profiles()
    luwu = profiles.profile("luwu-utara")
    assert luwu.letterhead is not None
    moved = replace(luwu, letterhead=replace(luwu.letterhead, address="Jl. Baru No. 1, Masamba"))
    return ProfileBook(
        [moved, *(profiles.profile(d) for d in profiles.districts() if d != "luwu-utara")]
    )


def issue_as_earlier_code_did(cases: Cases, case_id: UUID, kind: LetterKind) -> None:
    """A letter issued before PDFs were stored: its LetterIssued, register and seal, and no
    DocumentAttached (as services/letters.py saved them until issue 12's stored PDFs)."""
    case = cases.visible_case(COORDINATOR, case_id)
    profile = cases.profiles.profile(case.district)
    letterhead = profile.letterhead
    assert letterhead is not None
    now = cases.clock()
    letter_id = letter_id_for(case.id, case.version + 1)
    history = cases.history(case_id, lte=case.version)
    with acting_as(COORDINATOR, now):
        register = LetterRegister.open(case.district, now.astimezone(profile.timezone).year)
        seq = register.issue_sequence(case.id, letter_id)
        issue = LetterIssue(
            letter_id=letter_id,
            kind=kind,
            number=letterhead.number(seq, kind, now.astimezone(profile.timezone)),
            issued_at=now,
            issued_by=COORDINATOR.as_record(),
            referral_id="",
            verification_code=None,
        )
        code = verification_code_of(render_letter(history, profile, letterhead, issue))
        pdf = render_letter(history, profile, letterhead, replace(issue, verification_code=code))
        case.issue_letter(
            letter_id=letter_id,
            kind=kind.value,
            number=issue.number,
            sha256=hashlib.sha256(pdf).hexdigest(),
            verification_code=code,
            district_kinds=[k.value for k in letterhead.kinds],
        )
        seal = LetterSeal.seal(code, case.id, letter_id)
    cases.save(register, case, seal)


def test_a_stored_letter_reads_back_as_issued_after_its_letterhead_changed(
    pg_cases: Cases, database_url: str, test_settings: Settings
):
    """L1.9-10: the consent form printed and signed last month is the one served today."""
    (case_id, *_) = classified_cases(pg_cases)
    letters_over(pg_cases, database_url).issue(COORDINATOR, case_id, LetterKind.CONSENT_FORM)
    (issued,) = [e for e in pg_cases.history(case_id) if isinstance(e, Case.LetterIssued)]
    (attached,) = [e for e in pg_cases.history(case_id) if isinstance(e, Case.DocumentAttached)]

    restarted = Cases(env=postgres_env(database_url, test_settings), profiles=moved_letterhead())
    try:
        letter = letters_over(restarted, database_url).read(
            COORDINATOR, case_id, issued.letter_id, CaseRead(view="read_letter")
        )
    finally:
        restarted.close()

    assert hashlib.sha256(letter.pdf).hexdigest() == issued.sha256 == attached.sha256
    assert b"Jl. Baru No. 1" not in letter.pdf
    assert (attached.kind, attached.step, attached.media_type) == (
        LETTER_SPECS[LetterKind.CONSENT_FORM].document_kind,
        "L1.9",  # the first step of the letter's L1.9-10
        "application/pdf",
    )
    assert attached.originator_version == issued.originator_version + 1
    with psycopg.connect(database_url) as conn:
        (ciphertext,) = conn.execute(
            "SELECT ciphertext FROM documents.contents WHERE case_id = %s AND sha256 = %s",
            (case_id, issued.sha256),
        ).fetchone()
    assert b"FORMULIR" not in bytes(ciphertext)


def test_a_letter_issued_before_pdfs_were_stored_that_no_longer_renders_to_its_hash_is_a_409(
    pg_cases: Cases, database_url: str, test_settings: Settings
):
    """A letterhead edited after an old-style issue changes the bytes: the record says so."""
    (case_id, *_) = classified_cases(pg_cases)
    issue_as_earlier_code_did(pg_cases, case_id, LetterKind.CONSENT_FORM)
    (issued,) = [e for e in pg_cases.history(case_id) if isinstance(e, Case.LetterIssued)]
    unchanged = letters_over(pg_cases, database_url).read(
        COORDINATOR, case_id, issued.letter_id, CaseRead(view="read_letter")
    )

    restarted = Cases(env=postgres_env(database_url, test_settings), profiles=moved_letterhead())
    try:
        with pytest.raises(RuleViolated) as caught:
            letters_over(restarted, database_url).read(
                COORDINATOR, case_id, issued.letter_id, CaseRead(view="read_letter")
            )
    finally:
        restarted.close()

    assert hashlib.sha256(unchanged.pdf).hexdigest() == issued.sha256
    assert (caught.value.rule, caught.value.step) == ("letter_differs_from_issued", "L1.9-10")
