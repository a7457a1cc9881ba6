"""The office's search over the real PostgreSQL: each key finds its case, and is logged.

Cases are reported through the real service, projected by the real coordinator
projector into the search index, and searched as the API does it: first the
search is recorded in the access log (sealed terms), then the index is queried.
"""

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.actors import Actor
from domain.person_names import given_name_key, name_key, village_key
from domain.vocabulary import Agency, Role
from gateways.projectors.coordinator import coordinator_runner
from gateways.readmodels.case_search import IndexKeys
from gateways.readmodels.coordinator import CaseFilters, CoordinatorStore
from gateways.runtime import coordinator_store
from gateways.search_keys import search_keys
from services.access import AccessDenied
from services.access_log import AccessQuery, CaseRead
from services.case_commands import AddBeneficiary, ReportCase
from services.case_search import SEARCH_VIEW, SearchKeys, SearchTerms
from services.cases import Cases
from services.settings import Settings
from tests.support.coordinator import classify, office, report_arguments

COORDINATOR = office()["coordinator"]
NOW = datetime.now(UTC)


@pytest.fixture
def keys(test_settings: Settings) -> SearchKeys:
    return search_keys(test_settings)


@pytest.fixture
def store(pg_cases: Cases) -> CoordinatorStore:
    return coordinator_store(pg_cases)


def report(cases: Cases, district: str = "luwu-utara", **overrides: Any) -> UUID:
    intake = office(district)["intake"]
    return cases.report_case(intake, ReportCase(**report_arguments(**overrides))).case_id


@pytest.fixture
def recorded(pg_cases: Cases, store: CoordinatorStore, test_settings: Settings) -> dict[str, UUID]:
    """Three cases of Luwu Utara and one of Kota Batu with the same child's name, projected."""
    cases = {
        "soekarno": report(
            pg_cases,
            arrived_at=NOW - timedelta(days=40),
            victim={
                "name": "Soekarno bin Djojo",
                "nik": "7322011201140001",
                "birth_date": "2014-01-12",
                "village": "Desa Baebunta",
            },
            reporter={"name": "Hj. Nurhajati"},
        ),
        "cahyono": report(
            pg_cases,
            arrived_at=NOW - timedelta(days=3),
            victim={"name": "Tjahjono", "birth_date": "2016-05-02", "village": "Masamba"},
            incident={"village": "Kelurahan Sabbang"},
        ),
        "muhammad": report(
            pg_cases,
            arrived_at=NOW - timedelta(days=1),
            victim={"name": "Mochammad Rizki", "nik": "7322010101150001"},
        ),
        "elsewhere": report(
            pg_cases, district="kota-batu", victim={"name": "Sukarno", "village": "Baebunta"}
        ),
    }
    classify(
        pg_cases,
        cases["cahyono"],
        "luwu-utara",
        case_type="KTA",
        risk_level="high",
        jurisdiction="district",
        emergency=False,
    )
    coordinator_runner(pg_cases, test_settings, store).catch_up()
    return cases


def search(
    cases: Cases,
    store: CoordinatorStore,
    keys: SearchKeys,
    terms: SearchTerms,
    filters: CaseFilters | None = None,
    actor: Actor = COORDINATOR,
) -> list[dict[str, Any]]:
    """As the route does it: record, then search."""
    cases.record_search(actor, terms, CaseRead(SEARCH_VIEW, "new report K-12"), keys)
    tz = cases.profiles.profile(actor.district).timezone
    index = IndexKeys(
        register_number=terms.register_number,
        name_key=name_key(terms.name) if terms.name else None,
        given_name_key=given_name_key(terms.name) if terms.name else None,
        nik_digest=keys.nik_digest(terms.nik) if terms.nik else None,
        birth_date=terms.birth_date,
        village_key=village_key(terms.village) if terms.village else None,
        arrived_from=(
            datetime.combine(terms.reported_from, datetime.min.time(), tz)
            if terms.reported_from
            else None
        ),
        arrived_before=(
            datetime.combine(terms.reported_to + timedelta(days=1), datetime.min.time(), tz)
            if terms.reported_to
            else None
        ),
    )
    return store.search(
        actor.district, index, filters or CaseFilters(status=None), now=NOW, limit=20
    )


def found(rows: list[dict[str, Any]]) -> list[UUID]:
    return [row["case_id"] for row in rows]


def logged_terms(cases: Cases, keys: SearchKeys) -> dict[str, Any]:
    """The terms of the searcher's newest search entry, as an auditor is shown them."""
    entries = cases._access_log.select_access(AccessQuery(user_id=COORDINATOR.user_id))
    [*_, newest] = [entry for entry in entries if entry.record.view == SEARCH_VIEW]
    assert newest.record.purpose == "new report K-12"
    assert newest.sealed_search_terms is not None
    return keys.open(newest.sealed_search_terms, newest.record)


def register_number_of(cases: Cases, case_id: UUID) -> str:
    return str(cases.history(case_id)[0].register_number)


def test_a_register_number_finds_its_case_without_naming_anyone(
    pg_cases: Cases, store: CoordinatorStore, keys: SearchKeys, recorded: dict[str, UUID]
):
    number = register_number_of(pg_cases, recorded["cahyono"])

    rows = search(pg_cases, store, keys, SearchTerms(register_number=number))

    assert found(rows) == [recorded["cahyono"]]
    assert rows[0]["people"] == []
    assert logged_terms(pg_cases, keys) == {"register_number": number}


@pytest.mark.parametrize(
    ("spelling", "case"),
    [
        ("Sukarno", "soekarno"),
        ("Soekarno bin Djojo", "soekarno"),
        ("Sdr. Soekarno", "soekarno"),
        ("Cahyono", "cahyono"),
        ("Muhamad Rizky", "muhammad"),
        ("Moh. Rizki", "muhammad"),
    ],
)
def test_a_name_finds_its_case_in_another_spelling(
    pg_cases: Cases,
    store: CoordinatorStore,
    keys: SearchKeys,
    recorded: dict[str, UUID],
    spelling: str,
    case: str,
):
    rows = search(pg_cases, store, keys, SearchTerms(name=spelling))

    assert found(rows)[0] == recorded[case]
    assert recorded["elsewhere"] not in found(rows)  # Kota Batu's Sukarno is not this office's
    assert logged_terms(pg_cases, keys) == {"name": spelling}


def test_the_reporters_name_finds_the_case_and_says_whom_it_matched(
    pg_cases: Cases, store: CoordinatorStore, keys: SearchKeys, recorded: dict[str, UUID]
):
    rows = search(pg_cases, store, keys, SearchTerms(name="Nurhayati"))

    assert found(rows) == [recorded["soekarno"]]
    assert [person["person"] for person in rows[0]["people"]] == ["reporter"]
    assert rows[0]["people"][0]["name"] == "Hj. Nurhajati"


def test_a_nik_finds_its_case_and_the_index_never_holds_it(
    pg_cases: Cases, store: CoordinatorStore, keys: SearchKeys, recorded: dict[str, UUID]
):
    rows = search(pg_cases, store, keys, SearchTerms(nik="7322011201140001"))

    assert found(rows) == [recorded["soekarno"]]
    assert "7322011201140001" not in str(rows)
    assert logged_terms(pg_cases, keys) == {"nik": "7322011201140001"}
    with store.connect() as conn:
        stored = conn.execute("SELECT * FROM coordinator.case_search").fetchall()
    assert stored and "7322011201140001" not in str(stored)


def test_a_birth_date_finds_its_case(
    pg_cases: Cases, store: CoordinatorStore, keys: SearchKeys, recorded: dict[str, UUID]
):
    rows = search(pg_cases, store, keys, SearchTerms(birth_date=date(2016, 5, 2)))

    assert found(rows) == [recorded["cahyono"]]
    assert logged_terms(pg_cases, keys) == {"birth_date": "2016-05-02"}


@pytest.mark.parametrize(
    ("village", "case"),
    [("Baebunta", "soekarno"), ("Desa Baeboenta", "soekarno"), ("Sabbang", "cahyono")],
)
def test_a_village_finds_the_case_by_the_persons_or_the_incidents_village(
    pg_cases: Cases,
    store: CoordinatorStore,
    keys: SearchKeys,
    recorded: dict[str, UUID],
    village: str,
    case: str,
):
    rows = search(pg_cases, store, keys, SearchTerms(village=village))

    assert found(rows) == [recorded[case]]
    assert logged_terms(pg_cases, keys) == {"village": village}


def test_a_report_date_range_finds_the_reports_that_arrived_within_it(
    pg_cases: Cases, store: CoordinatorStore, keys: SearchKeys, recorded: dict[str, UUID]
):
    terms = SearchTerms(
        reported_from=(NOW - timedelta(days=10)).date(), reported_to=NOW.date() + timedelta(days=1)
    )

    rows = search(pg_cases, store, keys, terms)

    assert set(found(rows)) == {recorded["cahyono"], recorded["muhammad"]}
    assert set(logged_terms(pg_cases, keys)) == {"reported_from", "reported_to"}


def test_a_key_combines_with_the_case_lists_filters(
    pg_cases: Cases, store: CoordinatorStore, keys: SearchKeys, recorded: dict[str, UUID]
):
    since = (NOW - timedelta(days=60)).date()
    terms = SearchTerms(reported_from=since, filters={"risk_level": "high"})

    high = search(pg_cases, store, keys, terms, CaseFilters(status=None, risk_level="high"))
    unclassified = search(
        pg_cases, store, keys, SearchTerms(name="Sukarno"), CaseFilters(risk_level="high")
    )

    assert found(high) == [recorded["cahyono"]]
    assert unclassified == []
    assert logged_terms(pg_cases, keys)["name"] == "Sukarno"


def test_an_agency_may_not_search_and_its_attempt_leaves_no_search_entry(
    pg_cases: Cases, store: CoordinatorStore, keys: SearchKeys, recorded: dict[str, UUID]
):
    police = office()["police"]
    auditor = Actor("audit.1", Role.AUDITOR, Agency.UPTD_PPA, "luwu-utara")

    for refused in (police, auditor):
        with pytest.raises(AccessDenied):
            search(pg_cases, store, keys, SearchTerms(name="Sukarno"), actor=refused)

    for refused in (police, auditor):
        entries = pg_cases._access_log.select_access(AccessQuery(user_id=refused.user_id))
        assert [entry for entry in entries if entry.record.view == SEARCH_VIEW] == []


def test_sealed_terms_open_only_with_the_key_and_the_entry_they_were_sealed_with(
    pg_cases: Cases, store: CoordinatorStore, keys: SearchKeys, recorded: dict[str, UUID]
):
    search(pg_cases, store, keys, SearchTerms(name="Sukarno"))
    [entry] = [
        entry
        for entry in pg_cases._access_log.select_access(AccessQuery(user_id=COORDINATOR.user_id))
        if entry.record.view == SEARCH_VIEW
    ]
    assert entry.sealed_search_terms is not None
    with store.connect() as conn:
        stored = conn.execute("SELECT sealed_terms FROM public.cases_access_log_search_terms")
        assert b"Sukarno" not in bytes(stored.fetchone()["sealed_terms"])
    from dataclasses import replace

    from services.case_search import TermsUnreadable

    with pytest.raises(TermsUnreadable):
        SearchKeys.generate().open(entry.sealed_search_terms, entry.record)
    with pytest.raises(TermsUnreadable):
        keys.open(entry.sealed_search_terms, replace(entry.record, purpose="something else"))


def test_names_match_by_trigrams_so_a_typo_still_finds_the_case(
    pg_cases: Cases, store: CoordinatorStore, keys: SearchKeys, recorded: dict[str, UUID]
):
    assert store.trigram_schema is not None  # pg_trgm is on PostgreSQL 15 and the embedded one

    rows = search(pg_cases, store, keys, SearchTerms(name="Cahyno"))

    assert found(rows)[:1] == [recorded["cahyono"]]
    assert 0 < rows[0]["score"] < 1


def test_without_pg_trgm_names_match_by_their_key_and_its_beginning(
    pg_cases: Cases, store: CoordinatorStore, keys: SearchKeys, recorded: dict[str, UUID]
):
    store.trigram_schema = None  # as where CREATE EXTENSION was refused

    exact = search(pg_cases, store, keys, SearchTerms(name="Cahyono"))
    own_name = search(pg_cases, store, keys, SearchTerms(name="Sukarno"))
    typo = search(pg_cases, store, keys, SearchTerms(name="Cahyno"))

    assert found(exact) == [recorded["cahyono"]] and exact[0]["score"] == 1
    assert found(own_name) == [recorded["soekarno"]]
    assert typo == []


def test_a_sibling_added_later_finds_the_case_by_name_and_nik(
    pg_cases: Cases,
    store: CoordinatorStore,
    keys: SearchKeys,
    recorded: dict[str, UUID],
    test_settings: Settings,
):
    pg_cases.execute(
        office()["coordinator"],
        recorded["cahyono"],
        AddBeneficiary(
            person={"name": "Soetjipto", "nik": "7322010505170003"},
            relationship="sibling",
            child=True,
        ),
    )
    coordinator_runner(pg_cases, test_settings, store).catch_up()

    by_name = search(pg_cases, store, keys, SearchTerms(name="Sucipto"))
    by_nik = search(pg_cases, store, keys, SearchTerms(nik="7322010505170003"))

    assert found(by_name) == [recorded["cahyono"]] == found(by_nik)
    assert [person["person"] for person in by_name[0]["people"]] == ["beneficiary_2"]
