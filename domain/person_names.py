"""Keys for Indonesian names, villages and NIKs: one key for the spellings of one name.

A name reaches the office spelt however the reporter, the KTP or the school
wrote it. The same child is "Nurhajati" on an old family card and "Nurhayati"
on her school report; her grandfather "Soekarno" or "Sukarno". The search key
folds those variants together, so that the office's search (issue 12 item 5)
finds the earlier case whichever spelling was recorded; trigram similarity
over the keys (gateways/readmodels/case_search.py) absorbs the typos left.

What is folded, in this order, word by word:

- titles and forms of address: Hj., H., Sdr., Ny., Tn., Bpk., Ibu, Alm., ...;
- the Muhammad family of spellings and abbreviations (Mohammad, Mochamad,
  Moh., Muh., M.) to one word;
- the 1947/1972 spelling reforms (Ejaan Van Ophuijsen and Republik to EYD):
  oe -> u, dj -> j, tj -> c, sj -> sy, nj -> ny, ch -> kh, and the old j that
  is now y. An old j cannot be told from a new j (Djoko is Joko, Jahja is
  Yahya), so j and y fold to one letter, and y with i (Suryani, Suriani);
- sy -> s (Syamsul, Samsul) and q -> k (Qomariah, Komariah);
- an h after the first letter (Fatimah, Fatima; Rahmat, Ramat);
- doubled letters (Muhammad, Muhamad; Hassan, Hasan);
- the spaces between words (Nur Hayati, Nurhayati).

``bin`` and ``binti`` join a person's own name to the father's: the father's
name stays in the key (it tells two Ahmads apart), and ``given_name_key``
gives the person's own part, which a search matches within the whole key.

The same keys find the same person again (services/person_fingerprints.py): a
folded name with the same birth date, or the same NIK (its 16 digits, whatever
separators were typed), is a candidate the office looks at and decides on
(``Case.link_to_case``); the keys are compared only as keyed fingerprints there,
never in clear.
"""

import re
import unicodedata
from datetime import date

TITLES = frozenset(
    {
        "h",
        "hj",
        "haji",
        "hajjah",
        "hajah",
        "sdr",
        "sdri",
        "saudara",
        "saudari",
        "ny",
        "nyonya",
        "tn",
        "tuan",
        "nn",
        "nona",
        "bpk",
        "bapak",
        "pak",
        "ibu",
        "bu",
        "alm",
        "almh",
        "almarhum",
        "almarhumah",
        "dr",
        "drs",
        "dra",
        "ir",
        "prof",
        "kh",
        "ust",
        "ustadz",
        "ustazah",
        "an",  # "An." (atas nama) before a child's name on a report form
    }
)
PATRONYMIC_JOINS = frozenset({"bin", "binti", "bt", "bte"})
MUHAMMAD = frozenset(
    {
        "m",
        "md",
        "mhd",
        "moh",
        "mohd",
        "moch",
        "much",
        "muh",
        "muhd",
        "mochamad",
        "mochammad",
        "mohamad",
        "mohammad",
        "mohamed",
        "muhamad",
        "muhammad",
        "muchamad",
        "muchammad",
        "mukhamad",
        "mukhammad",
    }
)
VILLAGE_PREFIXES = frozenset({"desa", "ds", "kelurahan", "kel", "kampung", "kp", "dusun", "dsn"})

# Old spellings first, longest first, so that dj never becomes d + j -> y.
_OLD_SPELLINGS = (("oe", "u"), ("dj", "j"), ("tj", "c"), ("sj", "sy"), ("nj", "ny"), ("ch", "kh"))
_FOLDED_LETTERS = (("sy", "s"), ("q", "k"), ("j", "y"), ("y", "i"))
_DOUBLED = re.compile(r"(.)\1+")
_NOT_LETTER = re.compile(r"[^a-z]+")


def _words(text: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return [word for word in _NOT_LETTER.split(plain.lower()) if word]


def _spelling(word: str) -> str:
    if word in MUHAMMAD:
        return "muhammad"
    for old, new in (*_OLD_SPELLINGS, *_FOLDED_LETTERS):
        word = word.replace(old, new)
    return word


def _key(words: list[str]) -> str:
    # The h and the doubled letters are folded across the words joined, so that a space
    # never decides (Nur Hayati, Nurhayati; Abdul Lathif, Abdulatif).
    joined = "".join(_spelling(word) for word in words)
    return _DOUBLED.sub(r"\1", joined[:1] + joined[1:].replace("h", ""))


def _name_words(name: str) -> list[str]:
    words = _words(name)
    # Titles lead a name; the same word later in it is a name (a girl may be called Nona).
    while words and words[0] in TITLES and len(words) > 1:
        words = words[1:]
    return words


def name_key(name: str) -> str:
    """The search key of a whole name, father's name after bin/binti included."""
    return _key([word for word in _name_words(name) if word not in PATRONYMIC_JOINS])


def given_name_key(name: str) -> str:
    """The search key of the person's own name: what comes before bin/binti."""
    own: list[str] = []
    for word in _name_words(name):
        if word in PATRONYMIC_JOINS:
            break
        own.append(word)
    return _key(own)


def village_key(village: str) -> str:
    """A village's key: Desa/Kelurahan/Dusun dropped, spelt as names are."""
    words = _words(village)
    while words and words[0] in VILLAGE_PREFIXES and len(words) > 1:
        words = words[1:]
    return _key(words)


def normal_nik(nik: str) -> str | None:
    """The NIK's 16 digits, whatever separators were typed; None if it is not 16 digits."""
    digits = re.sub(r"[\s.\-]", "", nik)
    return digits if re.fullmatch(r"[0-9]{16}", digits) else None


def name_and_birth_date_key(name: str, birth_date: str | date) -> str | None:
    """The whole name's key with the ISO birth date; None without a name or a valid date."""
    folded = name_key(name)
    try:
        day = birth_date if isinstance(birth_date, date) else date.fromisoformat(birth_date)
    except ValueError:
        return None
    return f"{folded}|{day.isoformat()}" if folded else None
