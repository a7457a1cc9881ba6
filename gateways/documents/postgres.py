"""Documents' content in PostgreSQL, encrypted with a key per case (AES-256-GCM).

Two tables in their own schema (``documents``) of the event store's database,
created idempotently, so `make run` needs nothing more:

- ``case_keys``: one data key per case, wrapped (encrypted) by the deployment's master
  key (SIMPUL_DOCUMENT_MASTER_KEY), which lives only in the API processes' settings,
  never in the database. Destroying a case's key (``shred_case``) destroys every copy
  of its documents at once, backups included: crypto-shredding, so erasure can later
  destroy one case's data without rewriting history. The row stays as a tombstone, so
  the case never silently gets a new key.
- ``contents``: the ciphertext, addressed by (case, SHA-256 of the plaintext). The
  associated data binds each ciphertext to its case and hash, so a row copied to
  another case or hash does not decrypt.
"""

import hashlib
import os
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateways.schema_tables import Connect, SchemaTables
from services.documents import ContentUnavailable

DEFAULT_SCHEMA = "documents"
KEY_BYTES = 32
NONCE_BYTES = 12
# Creating the tables holds this advisory lock, so processes starting together do not
# race on CREATE ... IF NOT EXISTS.
_DDL_LOCK = 0x53494D50554C44  # "SIMPULD"

_DDL = (
    "CREATE SCHEMA IF NOT EXISTS {schema}",
    """CREATE TABLE IF NOT EXISTS {schema}.case_keys (
        case_id uuid PRIMARY KEY,
        master_key_id text,
        nonce bytea,
        wrapped_key bytea,
        created_at timestamptz NOT NULL DEFAULT now(),
        shredded_at timestamptz,
        CHECK ((wrapped_key IS NULL) = (shredded_at IS NOT NULL)))""",
    """CREATE TABLE IF NOT EXISTS {schema}.contents (
        case_id uuid NOT NULL,
        sha256 text NOT NULL,
        media_type text NOT NULL,
        size bigint NOT NULL,
        nonce bytea NOT NULL,
        ciphertext bytea NOT NULL,
        stored_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (case_id, sha256))""",
)


class CaseKeyShredded(ContentUnavailable):
    """The case's key was destroyed: its documents cannot be read, nor new ones stored."""


class MasterKeyMismatch(RuntimeError):
    """A case key was wrapped by another master key than the one this process holds."""


def master_key_id(master_key: bytes) -> str:
    """Names the master key without revealing it, so a wrong one is told apart from damage."""
    return hashlib.sha256(b"simpul-document-master-key\x00" + master_key).hexdigest()[:16]


class PostgresDocumentStore(SchemaTables):
    """services.documents.DocumentStore over the event store's connection pool."""

    DDL = _DDL
    DDL_LOCK = _DDL_LOCK

    def __init__(
        self, connect: Connect, master_key: bytes, *, schema: str = DEFAULT_SCHEMA
    ) -> None:
        if len(master_key) != KEY_BYTES:
            raise ValueError("the document master key must be 32 bytes (AES-256)")
        super().__init__(connect, schema=schema)
        self._master = AESGCM(master_key)
        self._master_key_id = master_key_id(master_key)

    # ---- The seam ---------------------------------------------------------------------------

    def put(self, case_id: UUID, content: bytes, media_type: str) -> str:
        sha256 = hashlib.sha256(content).hexdigest()
        data_key = self._case_key(case_id, create=True)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(data_key).encrypt(nonce, content, _content_aad(case_id, sha256))
        with self.connect() as conn:
            conn.execute(
                self._sql(
                    "INSERT INTO {schema}.contents "
                    "(case_id, sha256, media_type, size, nonce, ciphertext) "
                    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
                ),
                (case_id, sha256, media_type, len(content), nonce, ciphertext),
            )
        return sha256

    def get(self, case_id: UUID, sha256: str) -> bytes:
        data_key = self._case_key(case_id, create=False)
        with self.connect() as conn:
            row = conn.execute(
                self._sql(
                    "SELECT nonce, ciphertext FROM {schema}.contents "
                    "WHERE case_id = %s AND sha256 = %s"
                ),
                (case_id, sha256),
            ).fetchone()
        if row is None:
            raise ContentUnavailable("no such content is stored for the case")
        try:
            content = AESGCM(data_key).decrypt(
                _value(row, "nonce", 0), _value(row, "ciphertext", 1), _content_aad(case_id, sha256)
            )
        except InvalidTag:
            raise ContentUnavailable("the stored content fails its authentication") from None
        if hashlib.sha256(content).hexdigest() != sha256:
            raise ContentUnavailable("the stored content does not match its hash")
        return content

    def shred_case(self, case_id: UUID) -> None:
        with self.connect() as conn, conn.transaction():
            conn.execute(
                self._sql(
                    "INSERT INTO {schema}.case_keys (case_id, shredded_at) VALUES (%s, now()) "
                    "ON CONFLICT (case_id) DO UPDATE SET master_key_id = NULL, nonce = NULL, "
                    "wrapped_key = NULL, shredded_at = coalesce("
                    "{schema}.case_keys.shredded_at, now())"
                ),
                (case_id,),
            )
            # Unreadable without the key; removed so the space and the rows' sizes go too.
            conn.execute(self._sql("DELETE FROM {schema}.contents WHERE case_id = %s"), (case_id,))

    # ---- Keys ---------------------------------------------------------------------------------

    def _case_key(self, case_id: UUID, *, create: bool) -> bytes:
        row = self._key_row(case_id)
        if row is None:
            if not create:
                raise ContentUnavailable("the case has no documents")
            data_key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
            nonce = os.urandom(NONCE_BYTES)
            wrapped = self._master.encrypt(nonce, data_key, _key_aad(case_id))
            with self.connect() as conn:
                conn.execute(
                    self._sql(
                        "INSERT INTO {schema}.case_keys (case_id, master_key_id, nonce, "
                        "wrapped_key) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING"
                    ),
                    (case_id, self._master_key_id, nonce, wrapped),
                )
            # Another process may have made the case's key first: use the one stored.
            row = self._key_row(case_id)
            assert row is not None
        wrapped_key = _value(row, "wrapped_key", 2)
        if wrapped_key is None:
            raise CaseKeyShredded("the case's documents were destroyed")
        if _value(row, "master_key_id", 0) != self._master_key_id:
            raise MasterKeyMismatch("the case key was wrapped by another master key")
        return self._master.decrypt(_value(row, "nonce", 1), wrapped_key, _key_aad(case_id))

    def _key_row(self, case_id: UUID) -> Any:
        with self.connect() as conn:
            return conn.execute(
                self._sql(
                    "SELECT master_key_id, nonce, wrapped_key FROM {schema}.case_keys "
                    "WHERE case_id = %s"
                ),
                (case_id,),
            ).fetchone()


def _key_aad(case_id: UUID) -> bytes:
    return b"simpul-case-key\x00" + case_id.bytes


def _content_aad(case_id: UUID, sha256: str) -> bytes:
    return b"simpul-document\x00" + case_id.bytes + bytes.fromhex(sha256)


def _value(row: Any, name: str, index: int) -> Any:
    # The event store's pool gives dict rows; a plain connection gives tuples.
    return row[name] if isinstance(row, dict) else row[index]
