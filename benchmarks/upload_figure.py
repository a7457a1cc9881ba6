"""Figure: document uploads per second through the service, against a raw INSERT of the bytes.

Ours: check the content (a JPEG photo, its Exif with GPS stripped), hash it, encrypt
it under its case's key, store it and append DocumentAttached (hash chain, access
checks, profile rules), one client. Baseline: a single-row INSERT + COMMIT of the
same bytes into a bytea table on the same server, in the same run.
"""

import os
import struct
import time
from itertools import cycle

import psycopg

from benchmarks.harness import Figure
from benchmarks.workload import COORDINATOR, open_cases
from gateways.documents.postgres import PostgresDocumentStore
from gateways.eventstore.environment import postgres_env
from services.cases import Cases
from services.documents import Documents
from services.settings import Settings
from services.sharing import load_matrix

ROUNDS = 3
RAW_TABLE = (
    "CREATE TABLE IF NOT EXISTS bench_raw_documents (id bigserial PRIMARY KEY, content bytea)"
)


def a_photo(size: int, number: int) -> bytes:
    """A JPEG of about ``size`` bytes carrying an Exif block, unique per ``number``."""
    exif = b"Exif\x00\x00MM\x00\x2a" + struct.pack(">I", 8) + b"\x00" * 64
    scan_header = bytes((1, 1, 0x00, 0, 63, 0))
    data = (os.urandom(size) + struct.pack(">I", number)).replace(b"\xff", b"\xfe")
    return (
        b"\xff\xd8"
        + b"\xff\xe1"
        + struct.pack(">H", len(exif) + 2)
        + exif
        + b"\xff\xda"
        + struct.pack(">H", len(scan_header) + 2)
        + scan_header
        + data
        + b"\xff\xd9"
    )


def measure(database_url: str, *, uploads: int = 200, size: int = 256 * 1024) -> Figure:
    settings = Settings(database_pool_size=4, _env_file=None)
    cases = Cases(env=postgres_env(database_url, settings))
    try:
        store = PostgresDocumentStore(
            cases.recorder.datastore.get_connection,  # type: ignore[attr-defined]  # the PostgreSQL recorder's pool
            os.urandom(32),
        )
        store.create_tables()
        documents = Documents(cases, store, load_matrix(), max_bytes=settings.document_max_bytes)
        targets = cycle(open_cases(cases, 10))

        def upload(photo: bytes) -> None:
            documents.attach(
                COORDINATOR,
                next(targets),
                photo,
                declared_type="image/jpeg",
                kind="documentation_photo",
            )

        ours, raw = [], []
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(RAW_TABLE)
            for round_number in range(ROUNDS):
                first = round_number * uploads
                contents = [a_photo(size, number) for number in range(first, first + uploads)]
                started = time.perf_counter()
                for content in contents:
                    conn.execute(
                        "INSERT INTO bench_raw_documents (content) VALUES (%s)", (content,)
                    )
                raw.append(uploads / (time.perf_counter() - started))
                started = time.perf_counter()
                for content in contents:
                    upload(content)
                ours.append(uploads / (time.perf_counter() - started))
    finally:
        cases.close()
    return Figure.at_least(
        f"document uploads ({size // 1024} KiB photos), one client",
        sorted(ours)[ROUNDS // 2],
        sorted(raw)[ROUNDS // 2],
        "uploads/s",
        0.25,
        rounds_ours=ours,
        rounds_raw=raw,
        bytes=size,
    )
