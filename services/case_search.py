"""The office's search (issue 12 item 5): the keys it holds, and what a search asked for.

The search index (projections/case_search.py) holds personal data, so two keys
protect it, both from one secret in the settings (``SIMPUL_SEARCH_KEY``),
held only by the API and the coordinator projector:

- a NIK is indexed only as a keyed hash (HMAC-SHA-256): the index can answer
  "which case names this NIK?" but never says a NIK, and without the key a
  guess cannot be checked against it;
- what a search looked for is recorded in the access log sealed
  (AES-256-GCM), bound to who searched, when and why, so an auditor (through
  the API that holds the key) reads the terms and the database alone does not.
"""

import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.actors import Actor
from domain.person_names import normal_nik
from services.access_log import AccessRecord

SEARCH_KEY_BYTES = 32
SEARCH_VIEW = "case_search"
SEARCH_RESULT_VIEW = "case_search_result"
_SEALED_VERSION = b"\x01"
_NONCE_BYTES = 12


class TermsUnreadable(Exception):
    """Sealed search terms that this key cannot open (another key, or altered)."""


@dataclass(frozen=True)
class SearchTerms:
    """What one search asked for: the keys and the list's filters, as given."""

    register_number: str | None = None
    name: str | None = None
    nik: str | None = None
    birth_date: date | None = None
    village: str | None = None
    reported_from: date | None = None
    reported_to: date | None = None
    filters: dict[str, str] = field(default_factory=dict)

    def given(self) -> dict[str, Any]:
        """The terms set, JSON-safe: what an auditor is shown."""
        terms = {
            name: value.isoformat() if isinstance(value, date) else value
            for name, value in asdict(self).items()
            if value not in (None, {})
        }
        return terms

    def has_key(self) -> bool:
        return any(
            value is not None
            for value in (
                self.register_number,
                self.name,
                self.nik,
                self.birth_date,
                self.village,
                self.reported_from,
                self.reported_to,
            )
        )


class SearchKeys:
    """The NIK digest and the sealing of search terms, from one secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != SEARCH_KEY_BYTES:
            raise ValueError(f"the search key is {SEARCH_KEY_BYTES} bytes")
        self._nik_key = hmac.digest(secret, b"simpul/search/nik/v1", "sha256")
        self._terms = AESGCM(hmac.digest(secret, b"simpul/search/terms/v1", "sha256"))

    @classmethod
    def generate(cls) -> "SearchKeys":
        return cls(os.urandom(SEARCH_KEY_BYTES))

    def nik_digest(self, nik: str) -> bytes:
        # The 16 digits whatever separators were typed, as the same-person match reads them.
        digits = normal_nik(nik) or nik.strip()
        return hmac.digest(self._nik_key, digits.encode(), hashlib.sha256)

    def seal(self, terms: SearchTerms, record: AccessRecord) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        plain = json.dumps(terms.given(), sort_keys=True, ensure_ascii=False).encode()
        return _SEALED_VERSION + nonce + self._terms.encrypt(nonce, plain, _bound_to(record))

    def open(self, sealed: bytes, record: AccessRecord) -> dict[str, Any]:
        """The terms sealed with ``record``; TermsUnreadable if not sealed so with this key."""
        if not sealed.startswith(_SEALED_VERSION) or len(sealed) < 1 + _NONCE_BYTES:
            raise TermsUnreadable()
        nonce, ciphertext = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            plain = self._terms.decrypt(nonce, ciphertext, _bound_to(record))
        except Exception as error:  # cryptography's InvalidTag: altered, moved or another key
            raise TermsUnreadable() from error
        opened: dict[str, Any] = json.loads(plain)
        return opened


def _bound_to(record: AccessRecord) -> bytes:
    # Terms moved onto another entry (another searcher, time or purpose) do not open.
    return json.dumps(
        [
            record.user_id,
            record.role,
            record.agency,
            record.district,
            record.accessed_at.astimezone(UTC).isoformat(),
            record.view,
            record.purpose,
        ]
    ).encode()


def search_record(actor: Actor, purpose: str, request_id: str | None, at: datetime) -> AccessRecord:
    """The access-log entry of one search: no case, the purpose given."""
    return AccessRecord(
        accessed_at=at,
        user_id=actor.user_id,
        role=actor.role.value,
        agency=actor.agency.value,
        district=actor.district,
        case_id=None,
        view=SEARCH_VIEW,
        purpose=purpose,
        request_id=request_id,
    )
