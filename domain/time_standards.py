"""Time standards ("Mutu Baku - Waktu"): how long each SOP step may take.

Each district sets its own numbers (shared/domain.md, "Other SOPs' time
standards"), so the standards are data: a profile per district, parsed here
from a plain mapping (the service layer reads it from a TOML file).

A step's clock starts at one milestone of the case and stops at another; a
profile may name only the milestones and conditions listed here.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Milestones of the case as a whole, each the time of one recorded event.
CASE_MILESTONES = frozenset(
    {
        "report_arrived",
        "report_recorded",
        "psychological_first_aid_given",
        "classified",
        "emergency_classified",
        "routed_to_district",
        "emergency_response_recorded",
        "case_worker_assigned",
        "beneficiary_contacted",
        "consent_recorded",
        "terminated",
    }
)
# Milestones of the current assessment cycle: a re-assessment
# (L5.5) starts them afresh.
CYCLE_MILESTONES = frozenset(
    {
        "assessment_started",
        "first_assessment_recorded",
        "latest_assessment_recorded",
        "case_report_concluded",
        "intervention_plan_agreed",
        "monitoring_visit_recorded",
        "recovery_found",
    }
)
# Milestones of one referral; only per-referral steps use them.
REFERRAL_MILESTONES = frozenset({"referred", "referral_answered", "referral_settled"})
KNOWN_MILESTONES = CASE_MILESTONES | CYCLE_MILESTONES | REFERRAL_MILESTONES
# Facts that decide whether a step applies to a case (a step's ``when``).
KNOWN_CONDITIONS = frozenset({"psychological_first_aid_needed", "emergency", "district_handling"})

_DURATION = re.compile(r"(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?")


class ProfileError(ValueError):
    """A district profile is malformed; the message names the field."""


def parse_duration(text: str) -> timedelta:
    """``15m``, ``2h``, ``7d`` or a sum in that order, ``3d 1h``.

    Sums exist because one recorded milestone often closes several SOP rows
    (L3.1-L3.5 end in one agreed plan), and ``3d 1h`` shows the rows it adds
    up where ``4380m`` hides them.
    """
    match = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if not match or not any(match.groups()):
        raise ProfileError(f"duration {text!r} must look like 15m, 2h, 7d or 3d 1h")
    days, hours, minutes = (int(part or 0) for part in match.groups())
    duration = timedelta(days=days, hours=hours, minutes=minutes)
    if duration <= timedelta(0):
        raise ProfileError(f"duration {text!r} must be longer than zero")
    return duration


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


def _required(mapping: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in mapping:
        raise ProfileError(f"{where}: '{key}' is missing")
    return mapping[key]


def _text(mapping: Mapping[str, Any], key: str, where: str) -> str:
    value = _required(mapping, key, where)
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(f"{where}: '{key}' must be non-empty text")
    return value


def _milestone(raw: Mapping[str, Any], key: str, where: str, per_referral: bool) -> str:
    name = _text(raw, key, where)
    if name not in KNOWN_MILESTONES:
        known = ", ".join(sorted(KNOWN_MILESTONES))
        raise ProfileError(f"{where}: '{key}' names unknown milestone {name!r}; known: {known}")
    if name in REFERRAL_MILESTONES and not per_referral:
        raise ProfileError(
            f"{where}: '{key}' is the referral milestone {name!r}; "
            "only a step with per_referral = true can use it"
        )
    return name


def _step(raw: Any, index: int) -> StepStandard:
    where = f"steps[{index}]"
    if not isinstance(raw, Mapping):
        raise ProfileError(f"{where}: must be a table")
    code = _text(raw, "code", where)
    where = f"{where} ({code})"
    per_referral = raw.get("per_referral", False)
    if not isinstance(per_referral, bool):
        raise ProfileError(f"{where}: 'per_referral' must be true or false")
    raw_limit = _required(raw, "limit", where)
    try:
        limit = parse_duration(raw_limit)
    except ProfileError as error:
        raise ProfileError(f"{where}: 'limit': {error}") from None
    starts = _milestone(raw, "starts", where, per_referral)
    ends = _milestone(raw, "ends", where, per_referral)
    if starts == ends:
        raise ProfileError(f"{where}: 'starts' and 'ends' must be different milestones")
    if per_referral and not {starts, ends} & REFERRAL_MILESTONES:
        raise ProfileError(
            f"{where}: 'per_referral' needs 'starts' or 'ends' to be a referral milestone "
            f"({', '.join(sorted(REFERRAL_MILESTONES))})"
        )
    when = raw.get("when")
    if when is not None and (not isinstance(when, str) or when not in KNOWN_CONDITIONS):
        known = ", ".join(sorted(KNOWN_CONDITIONS))
        raise ProfileError(f"{where}: 'when' names unknown condition {when!r}; known: {known}")
    return StepStandard(
        code=code,
        stage=_text(raw, "stage", where),
        title_id=_text(raw, "title_id", where),
        title_en=_text(raw, "title_en", where),
        limit=limit,
        starts=starts,
        ends=ends,
        when=when,
        per_referral=per_referral,
    )


def parse_profile(data: Mapping[str, Any]) -> TimeStandardProfile:
    timezone_name = _text(data, "timezone", "profile")
    try:
        timezone = ZoneInfo(timezone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ProfileError("profile: 'timezone' is not a known IANA time zone") from None
    raw_steps = _required(data, "steps", "profile")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ProfileError("profile: 'steps' must list at least one step")
    steps = [_step(raw, index) for index, raw in enumerate(raw_steps)]
    first_index: dict[str, int] = {}
    for index, step in enumerate(steps):
        if step.code in first_index:
            raise ProfileError(
                f"steps[{index}]: 'code' {step.code!r} repeats steps[{first_index[step.code]}]"
            )
        first_index[step.code] = index
    return TimeStandardProfile(
        district=_text(data, "district", "profile"),
        name=_text(data, "name", "profile"),
        timezone=timezone,
        register_code=_text(data, "register_code", "profile"),
        source=data.get("source", ""),
        steps=tuple(steps),
    )
