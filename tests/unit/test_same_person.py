"""The same person again: folded names, keyed fingerprints, and the aggregate's link and
reopening rules (a closed case's history stays whole, L6.5)."""

from copy import deepcopy
from uuid import uuid4

import pytest

from domain.actors import acting_as
from domain.case import Case
from domain.errors import InvalidValue, LinkRefused, RuleViolated
from domain.person_names import name_and_birth_date_key, name_key, normal_nik
from domain.vocabulary import Stage
from projections.same_person import person_rows
from services.person_fingerprints import PersonFingerprinter
from services.settings import DEVELOPMENT_PERSON_MATCH_KEY, Settings
from tests.support.builders import (
    COORDINATOR,
    FIXED_TIME,
    a_case_at,
    a_new_case,
    a_unilateral_termination,
)

KEY = b"k" * 32
NIK = "7322011201140001"


@pytest.mark.parametrize(
    ("written", "other"),
    [
        ("Soedjono", "Sujono"),
        ("Tjandra", "Candra"),
        ("Sjamsoeddin", "Syamsudin"),
        ("Chairul Anwar", "Khairul Anwar"),
        ("Njoman", "Nyoman"),
        ("Muhammad", "Muhamad"),
        ("  siti  AMINAH ", "Siti Aminah"),
        ("Siti-Aminah", "Siti Aminah"),
        ("Dewi A.", "dewi a"),
        ("Stéfanie", "Stefanie"),
    ],
)
def test_names_that_differ_only_in_spelling_fold_to_one_form(written: str, other: str) -> None:
    assert name_key(written) == name_key(other)


def test_different_names_stay_apart() -> None:
    assert name_key("Siti Aminah") != name_key("Siti Rahmah")
    assert name_key("Budi") != name_key("Budiman")


def test_a_nik_keeps_its_sixteen_digits_and_nothing_else_is_a_nik() -> None:
    assert normal_nik("7322 0112 0114 0001") == NIK
    assert normal_nik("7322.0112.0114.0001") == NIK
    assert normal_nik("732201120114000") is None
    assert normal_nik("73220112011400O1") is None


def test_a_name_without_a_valid_birth_date_gives_no_combined_form() -> None:
    assert name_and_birth_date_key("Anak Contoh", "2013-02-30") is None
    assert name_and_birth_date_key("...", "2013-02-03") is None
    assert name_and_birth_date_key("Anak Contoh", "2013-02-03") == "anakconto|2013-02-03"


def test_fingerprints_are_stable_and_match_spelling_variants() -> None:
    first = PersonFingerprinter(KEY).fingerprints(
        {"name": "Soedjono", "birth_date": "2013-02-03", "nik": NIK}
    )
    again = PersonFingerprinter(KEY).fingerprints(
        {"name": "Sujono", "birth_date": "2013-02-03", "nik": "7322 0112 0114 0001"}
    )

    assert first == again
    assert [found.basis for found in first] == ["nik", "name_and_birth_date"]
    assert all(len(found.digest) == 64 for found in first)


def test_fingerprints_depend_on_the_key_and_hold_no_identifier_in_clear() -> None:
    person = {"name": "Anak Contoh", "birth_date": "2013-02-03", "nik": NIK}
    one = PersonFingerprinter(KEY).fingerprints(person)
    other = PersonFingerprinter(b"x" * 32).fingerprints(person)

    assert {f.digest for f in one}.isdisjoint({f.digest for f in other})
    assert not any(NIK in f.digest or "contoh" in f.digest for f in one)
    assert "k" * 32 not in repr(PersonFingerprinter(KEY))


def test_a_person_without_nik_or_birth_date_has_no_fingerprint() -> None:
    assert PersonFingerprinter(KEY).fingerprints({"name": "Anak Contoh", "age": 12}) == []


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        PersonFingerprinter(b"short")


def test_the_key_comes_from_the_settings_and_production_has_no_default() -> None:
    development = Settings(_env_file=None)  # type: ignore[call-arg]
    configured = Settings(person_match_key="p" * 40, _env_file=None)  # type: ignore[call-arg]
    production = Settings.model_construct(environment="production", person_match_key=None)

    assert development.person_match_key_bytes() == DEVELOPMENT_PERSON_MATCH_KEY
    assert configured.person_match_key_bytes() == b"p" * 40
    with pytest.raises(ValueError, match="SIMPUL_PERSON_MATCH_KEY"):
        production.person_match_key_bytes()
    with pytest.raises(ValueError, match="32 bytes"):
        Settings(person_match_key="short", _env_file=None)  # type: ignore[call-arg]


def test_the_index_rows_of_a_report_carry_digests_and_the_register_number_only() -> None:
    case = a_new_case(victim={"name": "Anak Contoh", "birth_date": "2013-02-03", "nik": NIK})
    report = case.collect_events()[0]

    rows = person_rows([report], PersonFingerprinter(KEY).fingerprints)

    assert [(row.basis, row.case_id, row.district) for row in rows] == [
        ("nik", case.id, "luwu-utara"),
        ("name_and_birth_date", case.id, "luwu-utara"),
    ]
    assert rows[0].register_number == case.register_number
    assert NIK not in repr(rows) and "Contoh" not in repr(rows)


def test_a_correction_of_who_the_victim_is_adds_her_new_fingerprints_and_keeps_the_old() -> None:
    case = a_new_case(victim={"name": "Anak Contoh", "birth_date": "2013-02-03", "nik": NIK})
    with acting_as(COORDINATOR, FIXED_TIME):
        case.correct_facts(
            corrections=[{"group": "victim", "key": "birth_date", "value": "2013-03-02"}],
            reason="Akta kelahiran diperiksa (B4)",
        )
        case.correct_facts(
            corrections=[{"group": "incident", "key": "village", "value": "Desa Baru"}],
            reason="Desa kejadian dilengkapi",
        )
    fingerprinter = PersonFingerprinter(KEY)

    rows = person_rows(case.collect_events(), fingerprinter.fingerprints)

    named = {(row.basis, row.fingerprint) for row in rows}
    before = {
        (f.basis, f.digest)
        for f in fingerprinter.fingerprints(
            {"name": "Anak Contoh", "birth_date": "2013-02-03", "nik": NIK}
        )
    }
    after = {
        (f.basis, f.digest)
        for f in fingerprinter.fingerprints(
            {"name": "Anak Contoh", "birth_date": "2013-03-02", "nik": NIK}
        )
    }
    assert named == before | after
    assert len(after - before) == 1  # the name and birth date; the NIK is unchanged


# ---- The aggregate's rules ------------------------------------------------------------------


def closed_case() -> Case:
    case = a_case_at(Stage.ASSESSMENT)
    with acting_as(COORDINATOR, FIXED_TIME):
        case.terminate(**a_unilateral_termination())
    return case


def test_a_link_is_recorded_once_whatever_the_retries() -> None:
    case = a_new_case()
    other = uuid4()
    with acting_as(COORDINATOR, FIXED_TIME):
        assert case.link_to_case(other_case_id=other, basis="nik", reason="NIK sama")
        assert not case.link_to_case(other_case_id=other, basis="officer")

    linked = [e for e in case.collect_events() if isinstance(e, Case.LinkedToCase)]
    assert [(e.other_case_id, e.basis, e.reason) for e in linked] == [(other, "nik", "NIK sama")]


def test_a_case_cannot_be_linked_to_itself_nor_on_an_unknown_basis() -> None:
    case = a_new_case()
    before = deepcopy(vars(case))
    with acting_as(COORDINATOR, FIXED_TIME):
        with pytest.raises(LinkRefused) as caught:
            case.link_to_case(other_case_id=case.id, basis="nik")
        with pytest.raises(InvalidValue):
            case.link_to_case(other_case_id=uuid4(), basis="rumour")

    assert (caught.value.rule, caught.value.field) == ("link_to_itself", "other_case_id")
    assert vars(case) == before


def test_a_closed_case_takes_a_link_and_stays_closed() -> None:
    """L6.5 closes the handling; the register still records who the person is again."""
    case = closed_case()
    with acting_as(COORDINATOR, FIXED_TIME):
        case.link_to_case(other_case_id=uuid4(), basis="name_and_birth_date")

    assert case.is_closed and case.stage == Stage.CLOSED


def test_reopening_a_closed_case_records_the_new_case_and_keeps_the_closure() -> None:
    case = closed_case()
    closure, version = case.closure, case.version
    new_case_id = uuid4()
    with acting_as(COORDINATOR, FIXED_TIME):
        case.reopen_as(new_case_id=new_case_id, reason="Kekerasan berulang.")

    assert case.version == version + 1
    assert case.closure == closure and case.stage == Stage.CLOSED
    assert new_case_id in case.linked_case_ids


def test_an_open_case_is_not_reopened_its_loop_back_is_reassessment() -> None:
    """L5.5-5.6: an open case goes back to assessment; only a closed one is reopened."""
    case = a_case_at(Stage.ASSESSMENT)
    with acting_as(COORDINATOR, FIXED_TIME), pytest.raises(RuleViolated) as caught:
        case.reopen_as(new_case_id=uuid4(), reason="Laporan baru.")

    assert (caught.value.rule, caught.value.step) == ("case_not_closed", "L5.5")


def test_a_reopening_needs_a_reason_and_another_case() -> None:
    case = closed_case()
    with acting_as(COORDINATOR, FIXED_TIME):
        with pytest.raises(InvalidValue):
            case.reopen_as(new_case_id=uuid4(), reason=" ")
        with pytest.raises(LinkRefused):
            case.reopen_as(new_case_id=case.id, reason="Laporan baru.")
