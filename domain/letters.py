"""The office's letters: their kinds, the district's letterhead and numbering, and the
two small aggregates that number letters and find them again by their verification code.

A letter is rendered from the case's history up to the version it was issued at, the
district's letterhead and the number and moment its ``Case.LetterIssued`` event
records; the event keeps the PDF's sha256. The PDF is stored as a document of the case
(of its spec's ``document_kind``), attached in the same save, and read back from the
store; letters issued before that are rendered again and checked against the hash.

Letter numbers run per district and calendar year without gaps or repeats, as the
register's case numbers do (domain/register.py): the ``LetterRegister`` is saved in
the same transaction as the case, so two concurrent issues conflict on its version and
one retries. A ``LetterSeal`` per verification code, saved in that transaction too,
lets a printed letter be checked by its code alone.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.documents import DocumentKind
from domain.events import ActedEvent


class LetterKind(StrEnum):
    ASSIGNMENT = "surat_tugas"  # L1.6/L1.7
    CONSENT_FORM = "formulir_persetujuan"  # L1.9-10
    CASE_REPORT = "laporan_kasus"  # L2.7
    SOCIAL_REPORT = "laporan_sosial"  # Tanjungpinang T2
    RECOMMENDATION = "surat_rekomendasi"  # Tanjungpinang T4, Kutai Timur K-C8
    REFERRAL_RECORD = "berita_acara_rujukan"  # Kutai Timur K-C8
    TERMINATION_FORM = "formulir_terminasi"  # L6.2


@dataclass(frozen=True)
class LetterSpec:
    """What a kind of letter is: its title, the SOP step it serves, its code in numbers."""

    title: str
    step: str
    code: str
    # The kind of document its PDF, and the signed scan of it, are on the case.
    document_kind: DocumentKind
    # A recommendation and a referral record are about one referral of the case.
    about_referral: bool = False


LETTER_SPECS: dict[LetterKind, LetterSpec] = {
    LetterKind.ASSIGNMENT: LetterSpec("SURAT TUGAS", "L1.7", "ST", DocumentKind.ASSIGNMENT_LETTER),
    LetterKind.CONSENT_FORM: LetterSpec(
        "FORMULIR PERNYATAAN PERSETUJUAN (INFORMED CONSENT)",
        "L1.9-10",
        "IC",
        DocumentKind.CONSENT_FORM,
    ),
    LetterKind.CASE_REPORT: LetterSpec("LAPORAN KASUS", "L2.7", "LK", DocumentKind.CASE_REPORT),
    LetterKind.SOCIAL_REPORT: LetterSpec("LAPORAN SOSIAL", "T2", "LS", DocumentKind.SOCIAL_REPORT),
    LetterKind.RECOMMENDATION: LetterSpec(
        "SURAT REKOMENDASI",
        "T4",
        "REK",
        DocumentKind.RECOMMENDATION_LETTER,
        about_referral=True,
    ),
    LetterKind.REFERRAL_RECORD: LetterSpec(
        "BERITA ACARA RUJUKAN", "K-C8", "BAR", DocumentKind.REFERRAL_RECORD, about_referral=True
    ),
    LetterKind.TERMINATION_FORM: LetterSpec(
        "FORMULIR PENGAKHIRAN LAYANAN (TERMINASI)", "L6.2", "TRM", DocumentKind.TERMINATION_FORM
    ),
}

_ROMAN_MONTHS = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
NUMBERING_FIELDS = frozenset({"seq", "code", "roman_month", "month", "year"})


class LetterheadError(ValueError):
    """A profile's [letterhead] is malformed; the message names the field."""


@dataclass(frozen=True)
class Letterhead:
    """The district office's letterhead, how it numbers letters, and which it issues.

    ``numbering`` is a pattern over ``{seq}`` (the district-year sequence), ``{code}``
    (the kind's code, ST, LK, ...), ``{roman_month}``, ``{month}`` and ``{year}``.
    """

    government: str
    office: str
    address: str
    city: str
    signatory: str
    numbering: str
    kinds: tuple[LetterKind, ...]

    def number(self, seq: int, kind: LetterKind, issued_at: datetime) -> str:
        values = {
            "seq": f"{seq:03d}",
            "code": LETTER_SPECS[kind].code,
            "roman_month": _ROMAN_MONTHS[issued_at.month - 1],
            "month": f"{issued_at.month:02d}",
            "year": str(issued_at.year),
        }
        return _PLACEHOLDER.sub(lambda match: values[match.group(1)], self.numbering)


def parse_letterhead(data: Any) -> Letterhead:
    """A profile's [letterhead] table; every field is required."""
    if not isinstance(data, dict):
        raise LetterheadError("letterhead: must be a table")
    fields = {}
    for name in ("government", "office", "address", "city", "signatory", "numbering"):
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            raise LetterheadError(f"letterhead.{name}: must be a non-empty string")
        fields[name] = value.strip()
    used = set(_PLACEHOLDER.findall(fields["numbering"]))
    if not used <= NUMBERING_FIELDS or "{" in _PLACEHOLDER.sub("", fields["numbering"]):
        allowed = ", ".join(sorted(NUMBERING_FIELDS))
        raise LetterheadError(f"letterhead.numbering: placeholders must be among {allowed}")
    if not {"seq", "year"} <= used:
        raise LetterheadError("letterhead.numbering: must contain {seq} and {year}")
    kinds = data.get("kinds")
    if not isinstance(kinds, list) or not kinds:
        raise LetterheadError("letterhead.kinds: must list the letters the office issues")
    try:
        parsed = tuple(LetterKind(kind) for kind in kinds)
    except ValueError:
        allowed = ", ".join(kind.value for kind in LetterKind)
        raise LetterheadError(f"letterhead.kinds: each must be one of {allowed}") from None
    if len(set(parsed)) != len(parsed):
        raise LetterheadError("letterhead.kinds: must not repeat a kind")
    return Letterhead(**fields, kinds=parsed)


class LetterRegister(Aggregate):
    """The running letter numbers of one district for one calendar year."""

    class Event(ActedEvent):
        pass

    @staticmethod
    def register_id(district: str, year: int) -> UUID:
        return uuid5(NAMESPACE_URL, f"/simpul/letter-registers/{district}/{year}")

    class Opened(Aggregate.Created, Event):
        """The district's letter register for a year was opened."""

        district: str
        year: int

    @classmethod
    def open(cls, district: str, year: int) -> "LetterRegister":
        return cls(id=cls.register_id(district, year), district=district, year=year)

    @event(Opened)
    def __init__(self, id: UUID, district: str, year: int) -> None:
        self.district = district
        self.year = year
        self.last_seq = 0

    class SequenceIssued(Event):
        """The register's next sequence number was given to a letter of a case."""

        seq: int
        case_id: UUID
        letter_id: str

    def issue_sequence(self, case_id: UUID, letter_id: str) -> int:
        self._sequence_issued(seq=self.last_seq + 1, case_id=case_id, letter_id=letter_id)
        return self.last_seq

    @event(SequenceIssued)
    def _sequence_issued(self, seq: int, case_id: UUID, letter_id: str) -> None:
        self.last_seq = seq


class LetterSeal(Aggregate):
    """Which case's letter a verification code belongs to: its id is the code's."""

    class Event(ActedEvent):
        pass

    @staticmethod
    def seal_id(verification_code: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/simpul/letters/{verification_code}")

    class Sealed(Aggregate.Created, Event):
        """A letter was issued under this verification code."""

        case_id: UUID
        letter_id: str

    @classmethod
    def seal(cls, verification_code: str, case_id: UUID, letter_id: str) -> "LetterSeal":
        return cls(id=cls.seal_id(verification_code), case_id=case_id, letter_id=letter_id)

    @event(Sealed)
    def __init__(self, id: UUID, case_id: UUID, letter_id: str) -> None:
        self.case_id = case_id
        self.letter_id = letter_id
