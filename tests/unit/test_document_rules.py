"""A district's document rules and an agency's document kinds, as the TOML states them."""

import pytest

from domain.documents import (
    DocumentKind,
    DocumentRequired,
    DocumentRules,
    DocumentRulesError,
    parse_document_rules,
)
from domain.sharing_matrix import MatrixError, parse_matrix
from services.profiles import load_profiles
from services.sharing import load_matrix

STEPS = frozenset({"L1.2", "L2.1"})


def test_a_profile_without_documents_accepts_every_kind_and_needs_none():
    rules = parse_document_rules(None, STEPS)

    assert rules.kinds == frozenset(DocumentKind)
    assert rules.missing({}) == {}


def test_a_document_attached_to_no_step_counts_for_every_step():
    rules = DocumentRules(needed={"L1.2": ("photo", "identity_card")})

    assert rules.missing({"": ["photo"]}) == {"L1.2": ("identity_card",)}
    assert rules.missing({"L2.1": ["identity_card"], "": ["photo"]}) == {"L1.2": ("identity_card",)}


def test_only_a_required_kind_refuses_completing_its_step():
    rules = DocumentRules(
        needed={"L2.1": ("documentation_photo", "assessment")},
        required={"L2.1": ("documentation_photo",)},
    )

    rules.require_before("L2.1", {"L2.1": ["documentation_photo"]})  # the assessment may wait
    with pytest.raises(DocumentRequired) as refused:
        rules.require_before("L2.1", {"L2.1": ["assessment"]})

    assert (refused.value.rule, refused.value.kind, refused.value.step) == (
        "document_required",
        "documentation_photo",
        "L2.1",
    )


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ({"kinds": ["passport"]}, "documents.kinds"),
        ({"kinds": ["photo"], "needed": {"L1.2": ["identity_card"]}}, "documents.needed.L1.2"),
        ({"needed": {"Z9": ["photo"]}}, "documents.needed"),
        ({"required": {"L1.2": ["photo"]}}, "documents.required.L1.2"),
        ({"needed": {"L1.2": ["photo", "photo"]}}, "documents.needed.L1.2"),
        ({"checklist": {}}, "documents"),
    ],
)
def test_a_malformed_documents_table_is_refused_naming_the_entry(raw, names):
    with pytest.raises(DocumentRulesError, match=names.replace(".", r"\.")):
        parse_document_rules(raw, STEPS)


def test_the_bundled_profiles_need_the_seeds_documents():
    profiles = load_profiles()

    assert profiles.profile("kota-batu").documents.needed["L1.2"] == (
        "identity_card",
        "family_card",
        "birth_certificate",
        "social_assistance_card",
        "referral_letter",
        "photo",
    )
    assert profiles.profile("purwakarta").documents.needed["L2.1"] == ("documentation_photo",)


def test_the_matrix_gives_the_police_the_visum_and_the_school_no_medical_record():
    matrix = load_matrix()

    assert "visum_et_repertum" in matrix.rows["police"].documents
    assert not {"medical_record", "visum_et_repertum"} & matrix.rows["education"].documents


def test_a_matrix_naming_an_unknown_document_kind_is_refused():
    raw = {
        "consent": {"gated": ["victim"]},
        "agencies": {"police": {"facts": [], "documents": ["diary"]}},
    }

    with pytest.raises(MatrixError, match=r"agencies\.police\.documents"):
        parse_matrix(raw)
