"""Case.attach_document: the district's kinds and steps, each content once.

A closed case refuses it like every command (test_case_rules.py's closed-case test).
"""

from copy import deepcopy

import pytest

from domain.actors import acting_as
from domain.case import Case, DocumentState
from domain.errors import InvalidValue, RuleViolated
from domain.vocabulary import Stage
from tests.support.builders import CASE_WORKER, FIXED_TIME, a_case_at, a_document_attachment

PERSONAL_VALUE = "Siti Aminah 7371234567890001"


def attach(case: Case, **overrides: object) -> None:
    with acting_as(CASE_WORKER, FIXED_TIME):
        case.attach_document(**a_document_attachment(**overrides))


def test_an_attachment_records_what_the_document_is_and_where_its_content_is():
    case = a_case_at(Stage.IDENTIFICATION)

    attach(case, step="L1.8", step_codes={"L1.8"})

    [event] = [e for e in case.collect_events() if isinstance(e, Case.DocumentAttached)]
    assert (event.kind, event.step, event.sha256, event.size) == (
        "documentation_photo",
        "L1.8",
        "ab" * 32,
        2048,
    )
    assert case.documents[event.document_id] == DocumentState(
        "documentation_photo", "L1.8", "ab" * 32, "image/jpeg"
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": PERSONAL_VALUE}, "kind"),
        ({"kind": "visum_et_repertum"}, "kind"),  # a kind this district does not accept
        ({"step": PERSONAL_VALUE}, "step"),
        ({"step": "L9.9", "step_codes": {"L1.8"}}, "step"),
    ],
)
def test_a_kind_or_step_the_district_has_not_is_refused_naming_the_field(overrides, field):
    case = a_case_at(Stage.IDENTIFICATION)
    state = deepcopy(vars(case))

    with pytest.raises(InvalidValue) as refused:
        attach(case, **overrides)

    assert refused.value.field == field
    assert PERSONAL_VALUE not in str(refused.value)
    assert vars(case) == state


def test_the_same_content_is_attached_once():
    case = a_case_at(Stage.IDENTIFICATION)
    attach(case)

    with pytest.raises(RuleViolated) as refused:
        attach(case)

    assert refused.value.rule == "document_already_attached"
