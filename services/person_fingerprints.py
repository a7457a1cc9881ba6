"""Keyed fingerprints of the person a case names: matching without identities in clear.

A fingerprint is HMAC-SHA256 over a basis and a normal form (domain/person_names.py),
under a key that only the process computing fingerprints holds (the API process,
``SIMPUL_PERSON_MATCH_KEY``; services/settings.py). Every district's cases are
fingerprinted with the same deployment key, so the same person has the same
fingerprint across districts and a match across districts needs no name, NIK or
birth date to leave its district. Without the key a fingerprint cannot be checked
against a guessed NIK (NIKs are few enough to enumerate, so a plain hash would not do).
"""

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.person_names import name_and_birth_date_key, normal_nik
from domain.vocabulary import LinkBasis

MINIMUM_KEY_BYTES = 32


@dataclass(frozen=True)
class Fingerprint:
    basis: str
    digest: str


class PersonFingerprinter:
    """Computes the fingerprints of a person's facts as intake recorded them (Person)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MINIMUM_KEY_BYTES:
            raise ValueError(f"the person-match key needs at least {MINIMUM_KEY_BYTES} bytes")
        self._key = key

    def __repr__(self) -> str:
        return "PersonFingerprinter(key=<hidden>)"

    def _digest(self, basis: LinkBasis, normal: str) -> Fingerprint:
        message = f"{basis.value}\x00{normal}".encode()
        return Fingerprint(basis.value, hmac.new(self._key, message, hashlib.sha256).hexdigest())

    def fingerprints(self, person: Mapping[str, Any]) -> list[Fingerprint]:
        """Of a NIK (16 digits) and of the name with the birth date, as far as known."""
        found: list[Fingerprint] = []
        nik = person.get("nik")
        if isinstance(nik, str) and (normal := normal_nik(nik)) is not None:
            found.append(self._digest(LinkBasis.NIK, normal))
        name, birth_date = person.get("name"), person.get("birth_date")
        if isinstance(name, str) and isinstance(birth_date, str):
            combined = name_and_birth_date_key(name, birth_date)
            if combined is not None:
                found.append(self._digest(LinkBasis.NAME_AND_BIRTH_DATE, combined))
        return found
