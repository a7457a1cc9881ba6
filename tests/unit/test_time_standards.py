"""Time standards: district profiles are parsed strictly, naming the bad field."""

from datetime import timedelta
from typing import Any

import pytest

from domain.time_standards import (
    KNOWN_CONDITIONS,
    KNOWN_MILESTONES,
    ProfileError,
    parse_duration,
    parse_profile,
)
from services.profiles import load_profiles

LUWU_UTARA = load_profiles().profile("luwu-utara")


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def days(n: float) -> timedelta:
    return timedelta(days=n)


def step_data(**overrides: Any) -> dict[str, Any]:
    step = {
        "code": "L1.2",
        "stage": "identification",
        "title_id": "Laporan diterima dan dicatat",
        "title_en": "Report received and recorded",
        "limit": "15m",
        "starts": "report_arrived",
        "ends": "report_recorded",
    }
    step.update(overrides)
    return step


def profile_data(**overrides: Any) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "district": "contoh",
        "name": "Kabupaten Contoh",
        "timezone": "Asia/Jayapura",
        "register_code": "CTH",
        "steps": [step_data()],
    }
    profile.update(overrides)
    return profile


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", minutes(15)),
        ("2h", timedelta(hours=2)),
        ("7d", days(7)),
        ("3d 1h", days(3) + timedelta(hours=1)),
        ("8d30m", days(8) + minutes(30)),
    ],
)
def test_durations_are_minutes_hours_days_or_their_sum(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "15", "15 min", "1h 3d", "0m", "-5m", "1w", 15])
def test_bad_durations_are_rejected(text):
    with pytest.raises(ProfileError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (step_data(starts="clasified"), r"steps\[0\] \(L1.2\): 'starts' names unknown milestone"),
        (step_data(ends="case_closed"), r"steps\[0\] \(L1.2\): 'ends' names unknown milestone"),
        (step_data(when="urgent"), r"steps\[0\] \(L1.2\): 'when' names unknown condition"),
        (step_data(limit="15 minutes"), r"steps\[0\] \(L1.2\): 'limit': duration"),
        (step_data(limit="0m"), r"steps\[0\] \(L1.2\): 'limit': duration .* longer than zero"),
        (step_data(ends="referral_settled"), r"'ends' is the referral milestone"),
        (step_data(per_referral="yes"), r"'per_referral' must be true or false"),
        (step_data(per_referral=True), r"'per_referral' needs 'starts' or 'ends'"),
        (step_data(ends="report_arrived"), r"'starts' and 'ends' must be different"),
        ({k: v for k, v in step_data().items() if k != "limit"}, r"'limit' is missing"),
        (step_data(code=""), r"steps\[0\]: 'code' must be non-empty text"),
    ],
)
def test_profile_steps_with_bad_fields_are_rejected_naming_the_field(step, message):
    with pytest.raises(ProfileError, match=message):
        parse_profile(profile_data(steps=[step]))


def test_profile_with_duplicate_step_codes_is_rejected():
    steps = [step_data(), step_data(limit="30m")]

    with pytest.raises(ProfileError, match=r"steps\[1\]: 'code' 'L1.2' repeats steps\[0\]"):
        parse_profile(profile_data(steps=steps))


@pytest.mark.parametrize("timezone", ["Asia/Makasar", "WITA", ""])
def test_profile_with_an_unknown_time_zone_is_rejected(timezone):
    with pytest.raises(ProfileError, match="'timezone'"):
        parse_profile(profile_data(timezone=timezone))


def test_profile_without_steps_is_rejected():
    with pytest.raises(ProfileError, match="'steps'"):
        parse_profile(profile_data(steps=[]))


def test_every_known_milestone_and_condition_is_accepted():
    steps = [
        step_data(
            code=f"S{index}",
            starts="referred" if milestone != "referred" else "report_recorded",
            ends=milestone,
            per_referral=True,
            when=sorted(KNOWN_CONDITIONS)[index % len(KNOWN_CONDITIONS)],
        )
        for index, milestone in enumerate(sorted(KNOWN_MILESTONES))
    ]

    profile = parse_profile(profile_data(steps=steps))

    assert {step.ends for step in profile.steps} == KNOWN_MILESTONES


def test_luwu_utara_limits_follow_perbup_58_2023():
    limits = {step.code: step.limit for step in LUWU_UTARA.steps}

    assert limits == {
        "L1.2": minutes(15),
        "L1.3": minutes(60),
        "L1.5": minutes(60),
        "L1.6": days(1),
        "L1.7": minutes(120),
        "L1.8": days(1),
        "L1.9": days(1),
        "L2.1": minutes(120),
        "L2.7": minutes(60),
        "L3.5": days(3) + minutes(60),
        "L4.1": days(7),
        "L5.2": days(8) + minutes(30),
        "L6.5": days(4) + timedelta(hours=4),
    }
