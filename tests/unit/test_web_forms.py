"""Forms read off the commands' models: the fields, their kinds, and what a post becomes."""

from zoneinfo import ZoneInfo

import pytest

from gateways.web.case_file_page import step_codes
from gateways.web.forms import FieldGroup, FormField, PostedForm, items_of, label_of, posted_value
from services.case_commands import AgreeInterventionPlan, Classify, ReportCase

pytestmark = pytest.mark.unit

WITA = ZoneInfo("Asia/Makassar")


def _by_name(items: tuple[object, ...]) -> dict[str, object]:
    return {item.name: item for item in items}  # type: ignore[attr-defined]


def test_a_report_form_has_the_models_fields_with_their_kinds() -> None:
    items = _by_name(items_of(ReportCase))
    channel, arrived, chronology = items["channel"], items["arrived_at"], items["chronology"]
    assert isinstance(channel, FormField) and channel.widget == "select" and channel.required
    assert isinstance(arrived, FormField) and arrived.widget == "moment"
    assert isinstance(chronology, FormField) and chronology.widget == "textarea"
    assert chronology.max_length == 20_000
    victim = items["victim"]
    assert isinstance(victim, FieldGroup) and victim.required
    assert "victim.nik" in _by_name(victim.fields)
    documents = items["documents"]
    assert isinstance(documents, FormField) and documents.widget == "checkboxes"


def test_a_post_becomes_the_models_json_with_blank_optional_fields_left_out() -> None:
    form = PostedForm(
        {
            "channel": ["walk_in"],
            "arrived_at": ["2026-12-01T09:30"],
            "chronology": ["Memar di lengan"],
            "victim.name": ["Mawar"],
            "victim.age": ["12"],
            "reporter.name": [""],
            "documents": ["identity_card", "family_card"],
            "needs": [""],
        }
    )
    body = posted_value(items_of(ReportCase), form, WITA)
    assert body == {
        "channel": "walk_in",
        "arrived_at": "2026-12-01T09:30:00+08:00",
        "chronology": "Memar di lengan",
        "victim": {"name": "Mawar", "age": 12},
        "psychological_first_aid_needed": False,
        "documents": ["identity_card", "family_card"],
    }
    ReportCase.model_validate(body)


def test_an_unticked_box_is_false_and_lines_are_a_list() -> None:
    plan = posted_value(
        items_of(AgreeInterventionPlan),
        PostedForm(
            {
                "goals": ["Anak aman\n\n  Kembali sekolah  "],
                "services.0.service_type": ["legal_process"],
                "services.0.agency": ["police"],
                "services.1.service_type": [""],
                "services.1.agency": [""],
            }
        ),
        WITA,
    )
    assert plan["goals"] == ["Anak aman", "Kembali sekolah"]
    assert plan["services"] == [{"service_type": "legal_process", "agency": "police"}]
    classification = posted_value(items_of(Classify), PostedForm({}), WITA)
    assert classification["emergency"] is False


def test_a_field_name_reads_as_its_label() -> None:
    assert label_of("case_worker_id") == "Case worker ID"
    assert label_of("nik") == "NIK"
    assert label_of("ampk_categories") == "AMPK categories"


def test_a_commands_sop_step_names_the_due_steps_it_answers() -> None:
    assert step_codes("L1.9-10") == {"L1.9"}
    assert step_codes("L3.3 / L5.3") == {"L3.3", "L5.3"}
    assert step_codes("K-C7") == {"K-C7"}
    assert step_codes("K-I1-I3 / K-I5 / K-I8") == {"K-I1", "K-I5", "K-I8"}
