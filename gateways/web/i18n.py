"""The pages' languages: Bahasa Indonesia first, English second, from Babel catalogs.

The .po files are the only source: they are compiled in memory when this module is
imported, so no compiled .mo can drift from them and nothing needs a build step.
"""

from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"
LANGUAGE_COOKIE = "simpul-lang"


def _compiled(language: str) -> Translations:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


TRANSLATIONS = {language: _compiled(language) for language in LANGUAGES}


def N_(message: str) -> str:
    """Marks a message the code hands to gettext later (a title, a refusal), so that the
    catalog extractor and the catalog test see it."""
    return message


def chosen_language(cookie: str | None, accept_language: str | None) -> str:
    """The user's choice (cookie), else the browser's first known language, else Indonesian."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower().split("-")[0]
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE
