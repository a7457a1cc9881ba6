"""How a person's identifiers are spelled before they are compared: the same person again.

A name written by different officers differs in case, spaces, punctuation and the
Indonesian spellings the 1972 reform changed (Soedjono / Sudjono / Sujono; Tjandra /
Candra) or that families kept (Muhammad / Muhamad). The normal form folds those simply
(the old j for y is left alone: it cannot be told from the j that dj became), so that a
match is found by equality of the normal forms (and of their keyed fingerprints,
services/person_fingerprints.py), never by comparing names in clear.

It is deliberately plain: a folded name with the same birth date is a candidate for
the office to look at, and the office decides (``Case.link_to_case``).
"""

import re
import unicodedata
from datetime import date

# Older spellings and their current ones, applied in this order (dj before j, tj before
# the c it becomes, ch before kh); doubled letters fold afterwards.
SPELLING_VARIANTS: tuple[tuple[str, str], ...] = (
    ("oe", "u"),
    ("dj", "j"),
    ("tj", "c"),
    ("sj", "sy"),
    ("ch", "kh"),
    ("nj", "ny"),
)
_DOUBLED = re.compile(r"([a-z])\1+")
_NOT_LETTER = re.compile(r"[^a-z]+")


def normal_name(name: str) -> str:
    """The name folded: letters only, lower case, current spelling, no doubled letters.

    Words stay apart (one space between them) so "Siti Aminah" and "Sitia Minah" differ.
    """
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    words = [word for word in _NOT_LETTER.split(letters) if word]
    return " ".join(_current_spelling(word) for word in words)


def _current_spelling(word: str) -> str:
    for old, new in SPELLING_VARIANTS:
        word = word.replace(old, new)
    return _DOUBLED.sub(r"\1", word)


def normal_nik(nik: str) -> str | None:
    """The NIK's 16 digits, whatever separators were typed; None if it is not 16 digits."""
    digits = re.sub(r"[\s.\-]", "", nik)
    return digits if re.fullmatch(r"[0-9]{16}", digits) else None


def normal_name_and_birth_date(name: str, birth_date: str | date) -> str | None:
    """The folded name with the ISO birth date; None without a name or a valid date."""
    folded = normal_name(name)
    try:
        day = birth_date if isinstance(birth_date, date) else date.fromisoformat(birth_date)
    except ValueError:
        return None
    return f"{folded}|{day.isoformat()}" if folded else None
