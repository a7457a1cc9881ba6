"""Every rule the domain and the services raise has a message for office staff, and the
pages' refusal says it in the user's language with the rule's code and SOP step."""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.errors import RuleViolated
from gateways.web.i18n import TRANSLATIONS
from gateways.web.rule_messages import RULE_MESSAGES, change_refusal_text, refusal_text

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("domain", "services")


def _sources() -> Iterator[tuple[Path, ast.Module]]:
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _rule_classes() -> tuple[dict[str, str], set[str]]:
    """The subclasses of RuleViolated, found by their bases: those that give their own code
    (by class name), and those whose callers pass it as the first argument (``LinkRefused``).
    A subclass without an ``__init__`` of its own raises as its base does."""
    classes = {
        node.name: node
        for _, tree in _sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
    }
    fixed: dict[str, str] = {}
    passed_on = {RuleViolated.__name__}
    grew = True
    while grew:
        grew = False
        for name, node in classes.items():
            bases = {
                base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")
                for base in node.bases
            }
            if name in fixed or name in passed_on or not bases & (set(fixed) | passed_on):
                continue
            grew = True
            init = next(
                (f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"),
                None,
            )
            if init is None:
                inherited = next(iter(bases & (set(fixed) | passed_on)))
                if inherited in fixed:
                    fixed[name] = fixed[inherited]
                else:
                    passed_on.add(name)
            elif [a.arg for a in init.args.args[1:2]] == ["rule"]:
                passed_on.add(name)
            else:
                codes = [_literal_first(c) for c in ast.walk(init) if _called(c) == "__init__"]
                assert len(codes) == 1 and codes[0] is not None, f"{name} names no code"
                fixed[name] = codes[0]
    return fixed, passed_on


def _called(node: ast.AST) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    if isinstance(node.func, ast.Name):
        return node.func.id
    return node.func.attr if isinstance(node.func, ast.Attribute) else None


def _literal_first(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call) and node.args:
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def _raised_codes() -> dict[str, str]:
    """Each rule code raised in domain/ and services/, with where one of them is."""
    fixed, passed_on = _rule_classes()
    assert set(fixed) >= {"AgencyNotConnected", "ProcessNotRun", "CaseClosed"}, fixed
    assert "LinkRefused" in passed_on
    codes: dict[str, str] = {}
    unreadable: list[str] = []
    for path, tree in _sources():
        for node in ast.walk(tree):
            name = _called(node)
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if name in fixed:
                codes.setdefault(fixed[name], where)
            elif name in passed_on:
                code = _literal_first(node)
                if code is None:
                    unreadable.append(where)
                else:
                    codes.setdefault(code, where)
    # A code computed at run time could not be checked here: name it literally.
    assert unreadable == []
    return codes


def test_every_rule_raised_in_the_domain_and_services_has_a_message() -> None:
    codes = _raised_codes()
    assert len(codes) > 50, "the scan found too few rules to be reading the code"
    missing = {code: where for code, where in codes.items() if code not in RULE_MESSAGES}
    assert missing == {}


def test_no_message_is_kept_for_a_rule_nothing_raises() -> None:
    assert set(RULE_MESSAGES) - set(_raised_codes()) == set()


@pytest.mark.parametrize("language", sorted(TRANSLATIONS))
def test_every_rule_message_is_translated_and_fills_its_sentence(language: str) -> None:
    for code in RULE_MESSAGES:
        said = refusal_text(language, RuleViolated(code, "developer wording", step="L1.9"))
        assert "developer wording" not in said and "{" not in said, code
        assert said.endswith(f"{code}, SOP L1.9)"), said


def test_the_indonesian_refusal_is_indonesian_and_names_the_rule_and_step() -> None:
    refusal = RuleViolated("consent_required", "a referral needs consent first", step="B3.2")
    said = refusal_text("id", refusal)
    assert said == (
        "SOP belum mengizinkan langkah ini: Catat persetujuan korban terlebih dahulu. "
        "(aturan consent_required, SOP B3.2)"
    )
    assert "needs" not in said


def test_the_english_refusal_keeps_the_codes_and_a_rule_without_step_names_none() -> None:
    said = refusal_text("en", RuleViolated("link_to_itself", "a case cannot be linked"))
    assert said == (
        "The SOP does not allow this step now: A case cannot be linked to itself. "
        "(rule link_to_itself)"
    )


def test_an_account_change_is_refused_without_naming_the_sop() -> None:
    said = change_refusal_text("id", RuleViolated("role_unchanged", "same role"))
    assert said == (
        "Perubahan ini tidak dapat dilakukan: Orang ini sudah memiliki peran dan lembaga "
        "tersebut. (aturan role_unchanged)"
    )


def test_a_rule_without_a_message_falls_back_to_the_domains_wording() -> None:
    said = refusal_text("id", RuleViolated("unheard_of", "the domain's own words", step="L1.2"))
    assert (
        said
        == "SOP belum mengizinkan langkah ini: the domain's own words (aturan unheard_of, SOP L1.2)"
    )
