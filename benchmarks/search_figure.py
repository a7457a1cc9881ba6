"""Figure: the office's search over 100,000 cases, against a raw btree lookup on its table.

The index rows (the victim and the reporter of every case, and the case's
open-case row) are filled directly by COPY, as the projector would write them,
with three-part names drawn from common Indonesian names, the given name in its
old or new spelling (about 29,000 names, each recurring a few times); the
searcher types the new spelling.
Then, in the same run, on the same table and connection:

- ours: the search as the API runs it (``CoordinatorStore.search``), by a name
  in another spelling (trigram word similarity over the name keys, joined to the
  case rows, best match first), and by a NIK's keyed hash;
- raw, for the NIK: ``SELECT case_id FROM case_search WHERE nik_digest = $1`` (btree
  equality);
- raw, for the name: the bare trigram lookup the search stands on,
  ``SELECT case_id FROM case_search WHERE district = $1 AND $2 <% name_key LIMIT 20``
  at the search's threshold (the GIN index alone: no ranking, no join to the cases). A
  similarity search cannot be as cheap as a btree equality; what is ours is the ranking
  and the join, and that is what the ratio shows. The name's p99 against the btree is in
  the figure's detail too.

Recording the search in the access log is measured by the audit figures, not here.
"""

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import psycopg
from psycopg.rows import dict_row

from benchmarks.harness import Figure, percentile
from domain.person_names import given_name_key, name_key, village_key
from gateways.readmodels import case_search
from gateways.readmodels.case_search import IndexKeys
from gateways.readmodels.coordinator import CaseFilters, CoordinatorStore
from services.case_search import SearchKeys

DISTRICT = "luwu-utara"
SEARCHES = 300
WARM_UP = 20
# Given names with the spellings offices meet; the first is the one searched for.
GIVEN_NAMES = [
    ("Sukarno", "Soekarno"),
    ("Joko", "Djoko"),
    ("Cahyono", "Tjahjono"),
    ("Nurhayati", "Nurhajati"),
    ("Muhammad", "Mochammad", "Moh."),
    ("Yusuf", "Jusuf"),
    ("Syahrir", "Sjahrir"),
    ("Khairul", "Chairul"),
    ("Siti", "Sitti"),
    ("Aminah", "Aminah"),
    ("Fatimah", "Fatima"),
    ("Rahmat", "Rachmat"),
    ("Suryani", "Soeryani"),
    ("Wahyuni", "Wahjoeni"),
    ("Hasan", "Hassan"),
    ("Putri", "Poetri"),
    ("Dewi", "Dewi"),
    ("Agus", "Agoes"),
    ("Budi", "Boedi"),
    ("Rina", "Rina"),
    ("Yanti", "Janti"),
    ("Nyoman", "Njoman"),
    ("Kurniawan", "Koerniawan"),
    ("Sri", "Sri"),
]
FAMILY_NAMES = [
    "Wibowo",
    "Santoso",
    "Saputra",
    "Hidayat",
    "Lestari",
    "Kusuma",
    "Pratama",
    "Setiawan",
    "Rahayu",
    "Nugroho",
    "Susanti",
    "Purnama",
    "Halim",
    "Sulaiman",
    "Baso",
    "Daeng",
    "Andi",
    "Massalinri",
    "Tandiarrang",
    "Paewa",
]
# Second names, so that one full name recurs a few times in 100,000 cases (as in a
# district's register) rather than hundreds of times.
MIDDLE_NAMES = [
    "Ayu",
    "Indah",
    "Dwi",
    "Tri",
    "Eka",
    "Nur",
    "Wulan",
    "Sari",
    "Adi",
    "Bayu",
    "Dian",
    "Fitri",
    "Galih",
    "Intan",
    "Kartika",
    "Lina",
    "Maya",
    "Nanda",
    "Okta",
    "Pandu",
    "Ratna",
    "Sinta",
    "Teguh",
    "Umi",
    "Vina",
    "Wati",
    "Yoga",
    "Zahra",
    "Arif",
    "Bagus",
]
VILLAGES = [f"Desa {name}" for name in ("Baebunta", "Sabbang", "Masamba", "Malangke", "Rampi")]


def _name(rng: random.Random) -> tuple[str, str]:
    """A recorded name (some spelling) and the spelling a searcher types."""
    given = rng.choice(GIVEN_NAMES)
    middle = rng.choice(MIDDLE_NAMES)
    family = rng.choice(FAMILY_NAMES)
    return f"{rng.choice(given)} {middle} {family}", f"{given[0]} {middle} {family}"


def _rows(
    count: int, keys: SearchKeys, rng: random.Random
) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]], str, str]]:
    """Per case: its open-case row, its index rows, a name to search, its victim's NIK."""
    start = datetime.now(UTC) - timedelta(days=3 * 365)
    for number in range(count):
        case_id = uuid4()
        arrived = start + timedelta(minutes=15 * number)
        case_row: tuple[Any, ...] = (
            case_id,
            f"{number + 1:05d}/LU/{arrived.year}",
            DISTRICT,
            "identification",
            "open" if number % 3 else "closed",
            None,
            None,
            None,
            False,
            None,
            None,
            arrived,
            arrived,
            None,
            1,
            [],
        )
        victim, searched = _name(rng)
        reporter, _ = _name(rng)
        nik = f"7322{number:012d}"
        village = rng.choice(VILLAGES)
        people = [
            (
                case_id,
                "victim",
                DISTRICT,
                case_row[1],
                arrived,
                victim,
                name_key(victim),
                keys.nik_digest(nik),
                date(2008, 1, 1) + timedelta(days=rng.randrange(5000)),
                village,
                village_key(village),
                village,
                village_key(village),
            ),
            (
                case_id,
                "reporter",
                DISTRICT,
                case_row[1],
                arrived,
                reporter,
                name_key(reporter),
                None,
                None,
                village,
                village_key(village),
                village,
                village_key(village),
            ),
        ]
        yield case_row, people, searched, nik


def _connection(url: str) -> Callable[[], Any]:
    conn = psycopg.connect(url, autocommit=True, row_factory=dict_row)

    @contextmanager
    def connect() -> Iterator[psycopg.Connection[Any]]:
        yield conn

    connect.close = conn.close  # type: ignore[attr-defined]
    return connect


def fill(store: CoordinatorStore, count: int, keys: SearchKeys) -> tuple[list[str], list[str]]:
    """COPY ``count`` cases' rows into the store's tables; names to search and NIKs."""
    rng = random.Random(12)
    names: list[str] = []
    niks: list[str] = []
    schema = store.schema
    case_columns = (
        "case_id, register_number, district, stage, status, case_type, risk_level, "
        "jurisdiction, emergency, case_worker_id, closure, reported_at, updated_at, closed_at, "
        "version, open_referral_agencies"
    )
    with store.connect() as conn, conn.cursor() as curs:
        with curs.copy(f'COPY "{schema}".open_cases ({case_columns}) FROM STDIN') as cases:
            people: list[tuple[Any, ...]] = []
            for case_row, rows, searched, nik in _rows(count, keys, rng):
                cases.write_row(case_row)
                people.extend(rows)
                if len(names) < 5000:
                    names.append(searched)
                    niks.append(nik)
        columns = ", ".join(case_search.COPY_COLUMNS)
        with curs.copy(f'COPY "{schema}".{case_search.TABLE} ({columns}) FROM STDIN') as copy:
            for row in people:
                copy.write_row(row)
        curs.execute(f'ANALYZE "{schema}".open_cases')
        curs.execute(f'ANALYZE "{schema}".{case_search.TABLE}')
    return names, niks


def _timed(function: Callable[[int], object], runs: int) -> list[float]:
    samples: list[float] = []
    for run in range(runs + WARM_UP):
        started = time.perf_counter()
        function(run)
        if run >= WARM_UP:
            samples.append(time.perf_counter() - started)
    return samples


def _from(function: Callable[[int], object], offset: int) -> Callable[[int], object]:
    return lambda run: function(run + offset)


def measure(database_url: str, *, cases: int = 100_000, searches: int = SEARCHES) -> list[Figure]:
    connect = _connection(database_url)
    keys = SearchKeys.generate()
    store = CoordinatorStore(connect)
    try:
        store.create_tables()
        names, niks = fill(store, cases, keys)
        now = datetime.now(UTC)
        everything = CaseFilters(status=None)

        def by_name(run: int) -> object:
            name = names[run % len(names)]
            found = IndexKeys(name_key=name_key(name), given_name_key=given_name_key(name))
            return store.search(DISTRICT, found, everything, now=now, limit=20)

        def by_nik(run: int) -> object:
            found = IndexKeys(nik_digest=keys.nik_digest(niks[run % len(niks)]))
            return store.search(DISTRICT, found, everything, now=now, limit=20)

        with connect() as conn:

            def raw(run: int) -> object:
                return conn.execute(
                    f'SELECT case_id FROM "{store.schema}".{case_search.TABLE} '
                    "WHERE nik_digest = %s",
                    (keys.nik_digest(niks[run % len(niks)]),),
                    prepare=True,
                ).fetchall()

            trgm = store.trigram_schema or "public"

            def raw_trigrams(run: int) -> object:
                name = names[run % len(names)]
                with conn.transaction():
                    conn.execute(case_search.WORD_SIMILARITY_SETTING)
                    return conn.execute(
                        f'SELECT case_id FROM "{store.schema}".{case_search.TABLE} '
                        f'WHERE district = %s AND %s OPERATOR("{trgm}".<%%) name_key LIMIT 20',
                        (DISTRICT, given_name_key(name)),
                        prepare=True,
                    ).fetchall()

            # Interleaved, so that all see the same moments of a noisy machine.
            name_samples: list[float] = []
            nik_samples: list[float] = []
            raw_samples: list[float] = []
            raw_name_samples: list[float] = []
            per_chunk = max(1, searches // 10)
            for chunk in range(10):
                offset = chunk * per_chunk
                measured: list[tuple[Callable[[int], object], list[float]]] = [
                    (raw, raw_samples),
                    (raw_trigrams, raw_name_samples),
                    (by_name, name_samples),
                    (by_nik, nik_samples),
                ]
                for function, samples in measured:
                    samples.extend(_timed(_from(function, offset), per_chunk))
        trigrams = store.trigram_schema is not None
    finally:
        connect.close()  # type: ignore[attr-defined]
    raw_p50, raw_p99 = percentile(raw_samples, 0.5) * 1000, percentile(raw_samples, 0.99) * 1000
    detail = {"cases": cases, "index_rows": 2 * cases, "searches": len(name_samples)}
    name_p99 = percentile(name_samples, 0.99) * 1000
    return [
        Figure.at_most(
            f"office search by name, {cases:,} cases (p99, vs a raw trigram lookup)",
            name_p99,
            percentile(raw_name_samples, 0.99) * 1000,
            "ms",
            10.0,
            ours_p50_ms=percentile(name_samples, 0.5) * 1000,
            raw_p50_ms=percentile(raw_name_samples, 0.5) * 1000,
            btree_p99_ms=raw_p99,
            ratio_to_btree=name_p99 / raw_p99 if raw_p99 else None,
            pg_trgm=trigrams,
            **detail,
        ),
        Figure.at_most(
            f"office search by NIK, {cases:,} cases (p99)",
            percentile(nik_samples, 0.99) * 1000,
            raw_p99,
            "ms",
            10.0,
            ours_p50_ms=percentile(nik_samples, 0.5) * 1000,
            raw_p50_ms=raw_p50,
            **detail,
        ),
    ]
