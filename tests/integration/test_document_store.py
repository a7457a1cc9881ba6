"""Documents' content in PostgreSQL: encrypted with a key per case, destroyed with that key."""

import hashlib
import os
from collections.abc import Iterator
from uuid import uuid4

import psycopg
import pytest

from gateways.documents.postgres import (
    CaseKeyShredded,
    MasterKeyMismatch,
    PostgresDocumentStore,
)
from services.documents import ContentUnavailable
from tests.support.documents import a_pdf

CONTENT = a_pdf(b"BT (Visum et repertum: luka memar di lengan kiri) Tj ET")


@pytest.fixture
def master_key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def store(database_url: str, master_key: bytes) -> Iterator[PostgresDocumentStore]:
    made = PostgresDocumentStore(lambda: psycopg.connect(database_url), master_key)
    made.create_tables()
    made.create_tables()  # idempotent: every API process makes them at start
    yield made


def rows(database_url: str, query: str, *parameters: object) -> list[tuple[object, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(query, parameters).fetchall()


def test_content_comes_back_as_stored_and_is_addressed_by_its_hash(store):
    case_id = uuid4()

    sha256 = store.put(case_id, CONTENT, "application/pdf")

    assert sha256 == hashlib.sha256(CONTENT).hexdigest()
    assert store.get(case_id, sha256) == CONTENT


def test_the_same_content_twice_is_stored_once(store, database_url):
    case_id = uuid4()

    store.put(case_id, CONTENT, "application/pdf")
    store.put(case_id, CONTENT, "application/pdf")

    assert rows(database_url, "SELECT count(*) FROM documents.contents") == [(1,)]


def test_the_database_holds_neither_the_plaintext_nor_an_unwrapped_key(
    store, database_url, master_key
):
    case_id = uuid4()
    store.put(case_id, CONTENT, "application/pdf")

    [(ciphertext,)] = rows(database_url, "SELECT ciphertext FROM documents.contents")
    [(wrapped,)] = rows(database_url, "SELECT wrapped_key FROM documents.case_keys")

    assert b"Visum" not in bytes(ciphertext) and b"%PDF" not in bytes(ciphertext)
    assert len(bytes(wrapped)) == 32 + 16  # a 256-bit key under AES-GCM's 16-byte tag
    dump = b"".join(
        bytes(value) for (value,) in rows(database_url, "SELECT nonce FROM documents.case_keys")
    )
    assert master_key not in dump


def test_each_case_has_its_own_key(store, database_url):
    first, second = uuid4(), uuid4()
    store.put(first, CONTENT, "application/pdf")
    store.put(second, CONTENT, "application/pdf")

    keys = rows(database_url, "SELECT wrapped_key FROM documents.case_keys")
    ciphertexts = rows(database_url, "SELECT ciphertext FROM documents.contents")

    assert len({bytes(key) for (key,) in keys}) == 2
    assert len({bytes(text) for (text,) in ciphertexts}) == 2


def test_a_ciphertext_moved_to_another_case_does_not_decrypt(store, database_url):
    victim, other = uuid4(), uuid4()
    sha256 = store.put(victim, CONTENT, "application/pdf")
    store.put(other, b"%PDF-1.7 other", "application/pdf")
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO documents.contents (case_id, sha256, media_type, size, nonce, ciphertext) "
            "SELECT %s, sha256, media_type, size, nonce, ciphertext FROM documents.contents "
            "WHERE case_id = %s",
            (other, victim),
        )

    with pytest.raises(ContentUnavailable):
        store.get(other, sha256)


def test_shredding_a_case_destroys_its_documents_and_only_its_own(store, database_url):
    shredded, kept = uuid4(), uuid4()
    sha256 = store.put(shredded, CONTENT, "application/pdf")
    store.put(kept, CONTENT, "application/pdf")
    [(ciphertext_before,)] = rows(
        database_url, "SELECT ciphertext FROM documents.contents WHERE case_id = %s", shredded
    )

    store.shred_case(shredded)

    with pytest.raises(CaseKeyShredded):
        store.get(shredded, sha256)
    assert rows(
        database_url,
        "SELECT wrapped_key, nonce, shredded_at IS NOT NULL FROM documents.case_keys "
        "WHERE case_id = %s",
        shredded,
    ) == [(None, None, True)]
    # A copy of the ciphertext kept elsewhere (a backup) is noise without the key.
    assert CONTENT not in bytes(ciphertext_before)
    assert store.get(kept, sha256) == CONTENT


def test_a_shredded_case_never_gets_a_new_key(store):
    case_id = uuid4()
    store.put(case_id, CONTENT, "application/pdf")
    store.shred_case(case_id)

    with pytest.raises(CaseKeyShredded):
        store.put(case_id, CONTENT, "application/pdf")


def test_a_case_without_documents_can_be_shredded_ahead_of_any_upload(store):
    case_id = uuid4()

    store.shred_case(case_id)

    with pytest.raises(CaseKeyShredded):
        store.put(case_id, CONTENT, "application/pdf")


def test_another_master_key_cannot_read_a_case_key(database_url, store):
    case_id = uuid4()
    sha256 = store.put(case_id, CONTENT, "application/pdf")
    stranger = PostgresDocumentStore(lambda: psycopg.connect(database_url), os.urandom(32))

    with pytest.raises(MasterKeyMismatch):
        stranger.get(case_id, sha256)
