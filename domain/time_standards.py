"""Time standards ("Mutu Baku - Waktu"): how long each SOP step may take.

Each district sets its own numbers (shared/domain.md, "Other SOPs' time
standards"), so the standards are data: a profile per district, parsed here
from a plain mapping (the service layer reads it from a TOML file).
"""

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_DURATION = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


class ProfileError(ValueError):
    """A district profile is malformed; the message names the field."""


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ProfileError(f"duration {text!r} must look like 15m, 2h or 7d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@dataclass(frozen=True)
class StepStandard:
    code: str
    stage: str
    title_id: str
    title_en: str
    limit: timedelta
    starts: str
    ends: str
    when: str | None = None
    per_referral: bool = False


@dataclass(frozen=True)
class TimeStandardProfile:
    district: str
    name: str
    timezone: ZoneInfo
    register_code: str
    source: str
    steps: tuple[StepStandard, ...]

    def step(self, code: str) -> StepStandard:
        for step in self.steps:
            if step.code == code:
                return step
        raise KeyError(code)


def parse_profile(data: dict[str, Any]) -> TimeStandardProfile:
    def required(mapping: dict[str, Any], key: str, where: str) -> Any:
        if key not in mapping:
            raise ProfileError(f"{where}: '{key}' is missing")
        return mapping[key]

    try:
        timezone = ZoneInfo(required(data, "timezone", "profile"))
    except ZoneInfoNotFoundError:
        raise ProfileError("profile: 'timezone' is not a known IANA time zone") from None
    steps = []
    for index, raw in enumerate(required(data, "steps", "profile")):
        where = f"steps[{index}]"
        steps.append(
            StepStandard(
                code=required(raw, "code", where),
                stage=required(raw, "stage", where),
                title_id=required(raw, "title_id", where),
                title_en=required(raw, "title_en", where),
                limit=parse_duration(required(raw, "limit", where)),
                starts=required(raw, "starts", where),
                ends=required(raw, "ends", where),
                when=raw.get("when"),
                per_referral=bool(raw.get("per_referral", False)),
            )
        )
    codes = [step.code for step in steps]
    if len(set(codes)) != len(codes):
        raise ProfileError("profile: step codes must be unique")
    return TimeStandardProfile(
        district=required(data, "district", "profile"),
        name=required(data, "name", "profile"),
        timezone=timezone,
        register_code=required(data, "register_code", "profile"),
        source=data.get("source", ""),
        steps=tuple(steps),
    )
