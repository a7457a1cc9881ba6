"""The pages' catalogs: every message the templates and code use is translated in both."""

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from gateways.web.i18n import LANGUAGES, LOCALE_DIR, chosen_language
from gateways.web.messages import dynamic_messages

pytestmark = pytest.mark.unit

WEB = Path(LOCALE_DIR).parent
# Page titles are handed to gettext as values, so the extractor does not see them.
TITLES = {"Not logged in", "Not found", "Case file", "Log in", "Home", "Not allowed"}


def _catalog(language: str) -> dict[str, str]:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as source:
        return {str(m.id): str(m.string) for m in read_po(source) if m.id}


def _used() -> set[str]:
    methods = [("**.py", "python"), ("templates/**.html", "jinja2")]
    found = {str(message[2]) for message in extract_from_dir(WEB, methods)}
    return (found - {"title"}) | TITLES | dynamic_messages()


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_used_message_is_translated(language: str) -> None:
    catalog = _catalog(language)
    missing = {msgid for msgid in _used() if not catalog.get(msgid)}
    assert missing == set()


def test_indonesian_comes_first_then_the_browser_then_the_cookie() -> None:
    assert chosen_language(None, None) == "id"
    assert chosen_language(None, "fr-FR,en;q=0.5") == "en"
    assert chosen_language("id", "en") == "id"
    assert chosen_language("xx", "de") == "id"
