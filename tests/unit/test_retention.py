"""How long an agency keeps a case's personal data: the district's number, the deployment's
override, and what counts as personal (the same things withheld before consent)."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.sharing_matrix import parse_matrix
from domain.time_standards import DEFAULT_AGENCY_RETENTION_DAYS, ProfileError, parse_profile
from services.profiles import load_profiles
from services.settings import Settings
from services.sharing import AgencyRetention, load_matrix

CLOSED_AT = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def a_profile(**overrides: object) -> dict[str, object]:
    return {
        "district": "kota-contoh",
        "name": "Kota Contoh",
        "timezone": "Asia/Jakarta",
        "register_code": "CONTOH",
        "steps": [
            {
                "code": "L4.1",
                "stage": "intervention",
                "title_id": "Rujukan",
                "title_en": "Referral",
                "limit": "7d",
                "starts": "referred",
                "ends": "referral_settled",
                "per_referral": True,
            }
        ],
        **overrides,
    }


def test_a_profile_that_says_nothing_keeps_personal_data_the_documented_default():
    assert parse_profile(a_profile()).agency_personal_data_retention_days == 90
    assert DEFAULT_AGENCY_RETENTION_DAYS == 90


def test_a_profile_sets_its_districts_retention_in_whole_days_from_zero():
    assert (
        parse_profile(
            a_profile(agency_personal_data_retention_days=0)
        ).agency_personal_data_retention_days
        == 0
    )
    assert (
        parse_profile(
            a_profile(agency_personal_data_retention_days=30)
        ).agency_personal_data_retention_days
        == 30
    )


@pytest.mark.parametrize("days", [-1, 3661, "90", 7.5, True])
def test_a_bad_retention_is_refused_naming_the_field(days):
    with pytest.raises(ProfileError, match="agency_personal_data_retention_days"):
        parse_profile(a_profile(agency_personal_data_retention_days=days))


def test_the_bundled_districts_say_their_retention_and_the_setting_overrides_every_one():
    bundled = load_profiles()
    overridden = load_profiles(agency_retention_days=14)

    assert {
        d: bundled.profile(d).agency_personal_data_retention_days for d in bundled.districts()
    } == {
        "kota-batu": 90,
        "kutai-timur": 90,  # K-I6: reintegration is monitored for 3 bulan
        "luwu-utara": 90,
        "purwakarta": 90,
        "tanjungpinang": 90,
    }
    assert {
        overridden.profile(d).agency_personal_data_retention_days for d in overridden.districts()
    } == {14}
    assert overridden.default_retention_days == 14


def test_a_districts_own_profile_sets_its_number(tmp_path: Path):
    (tmp_path / "contoh.toml").write_text(
        'district = "kota-contoh"\nname = "Kota Contoh"\ntimezone = "Asia/Jakarta"\n'
        'register_code = "CONTOH"\nagency_personal_data_retention_days = 30\n'
        '[[steps]]\ncode = "L4.1"\nstage = "intervention"\ntitle_id = "Rujukan"\n'
        'title_en = "Referral"\nlimit = "7d"\nstarts = "referred"\n'
        'ends = "referral_settled"\nper_referral = true\n'
    )
    retention = AgencyRetention.of(load_matrix(), load_profiles(tmp_path))

    assert retention.days("kota-contoh") == 30
    assert retention.days("luwu-utara") == 90
    assert retention.days("a-district-without-a-profile") == 90
    assert not retention.is_due(
        "kota-contoh", CLOSED_AT, CLOSED_AT + timedelta(days=30, seconds=-1)
    )
    assert retention.is_due("kota-contoh", CLOSED_AT, CLOSED_AT + timedelta(days=30))
    assert not retention.is_due("kota-contoh", None, CLOSED_AT + timedelta(days=3000))


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SIMPUL_AGENCY_RETENTION_DAYS", "45")

    assert Settings(_env_file=None).agency_retention_days == 45  # type: ignore[call-arg]


def test_what_stays_after_retention_is_what_the_consent_gate_would_let_through():
    retention = AgencyRetention.of(load_matrix(), load_profiles())
    facts = {
        "report": {"channel": "walk_in", "chronology": "what happened", "needs": "a shelter"},
        "victim": {"name": "Mawar", "age": 12},
        "incident": {"village": "Baebunta"},
        "classification": {"case_type": "KTA", "risk_level": "high"},
        "consent": {"given": True},
        "assessments": {"physical": [{"findings": "fracture"}]},
        "case_report": {"summary": "the story", "needs": ["medical_care"]},
    }

    assert retention.impersonal_facts(facts) == {
        "report": {"channel": "walk_in"},
        "classification": {"case_type": "KTA", "risk_level": "high"},
        "consent": {"given": True},
    }
    assert retention.impersonal_details(
        {
            "notes": "n",
            "reason": "r",
            "summary": "s",
            "outcome": "completed",
            "delivered_on": "2026-01-05",
        }
    ) == {"outcome": "completed", "delivered_on": "2026-01-05"}


def test_free_text_facts_are_personal_even_in_a_matrix_that_gates_nothing():
    matrix = parse_matrix(
        {"consent": {"gated": []}, "agencies": {"police": {"facts": ["report.*"]}}}
    )
    retention = AgencyRetention(matrix, {}, 90)

    assert retention.impersonal_facts(
        {"report": {"channel": "sms", "chronology": "x"}, "victim": {"name": "M"}}
    ) == {"report": {"channel": "sms"}}
