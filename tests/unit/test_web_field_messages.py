"""Every message the domain and the request models' validators give a refused field has
a msgid of the pages, so that a page says it in the user's language, and a message built
from values carries only the codes and numbers the domain put there."""

import ast
import itertools
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from domain.errors import InvalidValue
from gateways.web.field_messages import (
    FIELD_MESSAGES,
    PATTERNS,
    field_message_text,
    recognised,
)
from gateways.web.forms import field_errors
from gateways.web.i18n import LANGUAGES, TRANSLATIONS
from services import case_commands
from services.case_commands import Day, Spelled

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
# The search's own refusals are raised by its API route, and its page shows them too.
SCANNED = ("domain", "services", "gateways/api")
VALIDATORS = {"field_validator", "model_validator"}
# What a value built into a message stands for when the scan cannot see it: a limit, or
# a list of vocabulary codes.
SAMPLES = ("12", "low, medium, high")


def _sources() -> Iterator[ast.Module]:
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _called(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    return node.func.attr if isinstance(node.func, ast.Attribute) else None


def _decorators(function: ast.FunctionDef) -> set[str]:
    named = set()
    for decorator in function.decorator_list:
        called = decorator.func if isinstance(decorator, ast.Call) else decorator
        named.add(called.id if isinstance(called, ast.Name) else getattr(called, "attr", ""))
    return named


def _constants(function: ast.FunctionDef | None, name: str) -> tuple[str, ...] | None:
    """The strings a local name is given in ``function`` (``what = "a" if x else "b"``)."""
    if function is None:
        return None
    found: list[str] = []
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in node.targets
        ):
            values = (
                [node.value.body, node.value.orelse]
                if isinstance(node.value, ast.IfExp)
                else [node.value]
            )
            if not all(isinstance(v, ast.Constant) and isinstance(v.value, str) for v in values):
                return None
            found += [v.value for v in values if isinstance(v, ast.Constant)]
    return tuple(found) or None


def _spellings(message: ast.expr, function: ast.FunctionDef | None) -> list[str]:
    """The message as it may read: each value built into an f-string is what the function
    assigns it, where it assigns constants, else each of the samples."""
    if isinstance(message, ast.Constant) and isinstance(message.value, str):
        return [message.value]
    assert isinstance(message, ast.JoinedStr), ast.unparse(message)
    parts: list[tuple[str, ...]] = []
    for part in message.values:
        if isinstance(part, ast.Constant):
            parts.append((str(part.value),))
        else:
            assert isinstance(part, ast.FormattedValue)
            local = (
                _constants(function, part.value.id) if isinstance(part.value, ast.Name) else None
            )
            parts.append(local or SAMPLES)
    return ["".join(chosen) for chosen in itertools.product(*parts)]


def _refusals() -> Iterator[tuple[str, list[str]]]:
    """Each refusal of a field in the scanned code: its source and how it may read.

    ``InvalidValue(field, message)`` anywhere; a ``ValueError`` raised by a validator of a
    request model (the service's settings are configuration, never a form); the message
    of a ``PydanticCustomError`` (a ``Spelled`` rule's message is read off its instances).
    """
    for tree in _sources():
        settings = {
            id(node)
            for cls in ast.walk(tree)
            if isinstance(cls, ast.ClassDef)
            and any(getattr(base, "id", "") == "BaseSettings" for base in cls.bases)
            for node in ast.walk(cls)
        }
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            validator = bool(_decorators(function) & VALIDATORS) and id(function) not in settings
            for call in ast.walk(function):
                if not isinstance(call, ast.Call):
                    continue
                called = _called(call)
                if called == "InvalidValue":
                    message = call.args[1] if len(call.args) > 1 else call.keywords[0].value
                elif called == "ValueError" and validator:
                    message = call.args[0]
                elif called == "PydanticCustomError":
                    message = call.args[1]
                    if isinstance(message, ast.Attribute):
                        continue
                else:
                    continue
                yield ast.unparse(call), _spellings(message, function)
    for rule in vars(case_commands).values():
        if isinstance(rule, Spelled):
            yield f"Spelled({rule.message!r})", [rule.message]


def test_the_scan_finds_the_domains_refusals() -> None:
    # A scan that stopped seeing the calls would pass every test below.
    assert len(list(_refusals())) > 60


def test_every_refusal_of_a_field_has_a_message_of_the_pages() -> None:
    unknown = [
        source
        for source, spellings in _refusals()
        if not any(recognised(spelling) is not None for spelling in spellings)
    ]
    assert unknown == []


def test_no_fixed_message_is_kept_for_a_refusal_nothing_raises() -> None:
    raised = {spelling for _, spellings in _refusals() for spelling in spellings}
    assert set(FIELD_MESSAGES) - raised == set()


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_pattern_fills_the_placeholders_its_translation_names(language: str) -> None:
    for pattern in PATTERNS:
        translated = TRANSLATIONS[language].gettext(pattern.msgid)
        assert _placeholders(translated) == set(pattern.english.groupindex), pattern.msgid
        assert _placeholders(pattern.msgid) == set(pattern.english.groupindex), pattern.msgid


def test_a_message_built_from_the_vocabulary_comes_out_indonesian_with_its_codes() -> None:
    said = field_message_text("id", "must be one of: parent, guardian, victim")
    assert said == "Pilih salah satu dari: parent, guardian, victim."
    assert field_message_text("id", "Value error, must be at least 12 characters") == (
        "Isi paling sedikit 12 karakter."
    )
    assert field_message_text("en", "must list at least 1 item(s)") == "At least 1 needed."


def test_a_domain_refusal_of_a_form_reads_indonesian() -> None:
    refused = InvalidValue("document_ref", "a given consent needs the signed form's reference")
    [(name, message)] = field_errors(refused).items()
    assert name == "document_ref"
    assert field_message_text("id", message) == (
        "Persetujuan yang diberikan memerlukan nomor formulir persetujuan yang ditandatangani."
    )


def test_a_validators_refusal_names_its_years_in_indonesian() -> None:
    with pytest.raises(ValidationError) as invalid:
        TypeAdapter(Day).validate_python("1-12-2026")
    [message] = field_errors(invalid.value).values()
    assert field_message_text("id", message) == (
        "Isi tanggal (YYYY-MM-DD) antara tahun 1900 dan 9998."
    )


def test_a_placeholder_carries_only_codes_and_numbers_never_what_was_typed() -> None:
    assert recognised("must be one of: Bu Kenanga <b>") is None
    assert recognised("must be at least twelve characters") is None


def test_an_unknown_message_falls_back_to_its_english_and_a_msgid_is_translated() -> None:
    assert field_message_text("id", "Value error, must be purple") == "must be purple"
    assert field_message_text("id", "This field is required.") == "Kolom ini wajib diisi."
