"""The search index's rows from a case's history, and the keys that protect what it holds."""

from dataclasses import replace
from datetime import date

import pytest

from domain.actors import acting_as
from domain.person_names import name_key, village_key
from projections.case_search import search_rows
from services.access_log import AccessRecord
from services.case_search import SearchKeys, SearchTerms, TermsUnreadable
from tests.support.builders import COORDINATOR, START, report

KEYS = SearchKeys(bytes(range(32)))


def rows_of(**overrides):
    case = report(**overrides)
    return search_rows(list(case.collect_events()), KEYS.nik_digest)


def test_each_named_person_has_a_row_with_keys_and_no_nik():
    rows = rows_of(
        victim={
            "name": "Soekarno",
            "nik": "7322011201140001",
            "birth_date": "2014-01-12",
            "village": "Desa Baebunta",
        },
        reporter={"name": "Hj. Nurhajati"},
        reported_person={"relationship_to_victim": "neighbour"},
        incident={"village": "Kelurahan Sabbang"},
    )

    victim, reporter, reported = rows
    assert [row.person for row in rows] == ["victim", "reporter", "reported_person"]
    assert (victim.name, victim.name_key) == ("Soekarno", name_key("Sukarno"))
    assert victim.nik_digest == KEYS.nik_digest("7322011201140001")
    assert victim.birth_date == date(2014, 1, 12)
    assert victim.village_key == village_key("Baebunta")
    assert reporter.name_key == name_key("Nurhayati") and reporter.nik_digest is None
    assert reported.name is None and reported.name_key is None
    assert {row.incident_village_key for row in rows} == {village_key("Sabbang")}
    assert "7322011201140001" not in repr(rows)


def test_the_victim_has_a_row_even_when_nothing_is_known_of_anyone():
    [victim] = rows_of(victim={}, reporter={}, reported_person={}, incident={})

    assert victim.person == "victim" and victim.name is None and victim.district == "luwu-utara"
    assert victim.arrived_at.date() <= START.date()


def test_an_unreadable_birth_date_is_left_out_rather_than_failing_the_case():
    [victim, *_] = rows_of(victim={"name": "Ani", "birth_date": "12-01-2014"})

    assert victim.birth_date is None and victim.name_key == name_key("Ani")


def test_a_history_must_start_with_its_report():
    events = list(report().collect_events())
    with pytest.raises(ValueError, match="starts with its ReportReceived"):
        search_rows(events[1:], KEYS.nik_digest)


def test_the_nik_digest_is_keyed():
    other = SearchKeys(bytes(32))

    assert KEYS.nik_digest("7322011201140001") == KEYS.nik_digest("7322011201140001")
    assert KEYS.nik_digest("7322011201140001") != other.nik_digest("7322011201140001")
    assert len(KEYS.nik_digest("7322011201140001")) == 32


RECORD = AccessRecord(
    accessed_at=START,
    user_id="coord.1",
    role="coordinator",
    agency="uptd_ppa",
    district="luwu-utara",
    case_id=None,
    view="case_search",
    purpose="a new report names the child",
    request_id="r-1",
)


def test_sealed_terms_open_to_what_was_searched_and_only_with_their_entry():
    terms = SearchTerms(name="Sukarno", birth_date=date(2014, 1, 12), filters={"stage": "closure"})

    sealed = KEYS.seal(terms, RECORD)

    assert b"Sukarno" not in sealed
    assert KEYS.open(sealed, RECORD) == {
        "name": "Sukarno",
        "birth_date": "2014-01-12",
        "filters": {"stage": "closure"},
    }
    for moved in (replace(RECORD, user_id="coord.2"), replace(RECORD, purpose="curiosity")):
        with pytest.raises(TermsUnreadable):
            KEYS.open(sealed, moved)
    with pytest.raises(TermsUnreadable):
        SearchKeys(bytes(32)).open(sealed, RECORD)
    with pytest.raises(TermsUnreadable):
        KEYS.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), RECORD)


def test_a_search_key_is_32_bytes():
    with pytest.raises(ValueError, match="32 bytes"):
        SearchKeys(b"short")


def test_filters_alone_are_not_a_search():
    assert not SearchTerms(filters={"stage": "closure"}).has_key()
    assert SearchTerms(reported_to=date(2026, 1, 1)).has_key()


def test_a_correction_is_what_the_office_finds_the_person_by():
    case = report(
        victim={"name": "Sukarni", "village": "Baebunta"}, incident={"village": "Sabbang"}
    )
    with acting_as(COORDINATOR, START):
        case.correct_facts(
            corrections=[
                {"group": "victim", "key": "nik", "value": "7322011201140001"},
                {"group": "victim", "key": "name", "value": "Sukarti"},
                {"group": "incident", "key": "village", "value": "Masamba"},
            ],
            reason="Verifikasi data awal (K-O2)",
            sop_step="K-O2",
        )

    [victim, *_] = search_rows(list(case.collect_events()), KEYS.nik_digest)

    assert (victim.name, victim.name_key) == ("Sukarti", name_key("Sukarti"))
    assert victim.nik_digest == KEYS.nik_digest("7322 0112 0114 0001")
    assert victim.village_key == village_key("Baebunta")
    assert victim.incident_village_key == village_key("Masamba")
