"""Time standards ("Mutu Baku - Waktu"): how long each SOP step may take.

Each district sets its own numbers (shared/domain.md, "Other SOPs' time
standards"), so the standards are data: a profile per district, parsed here
from a plain mapping (the service layer reads it from a TOML file).

A step's clock starts at one milestone of the case and stops at another.
``case_milestones`` reads the milestones off a case's events and
``step_schedule`` turns a profile and the milestones into the steps that are
due, met, late or overdue at a given moment. Both are pure: the caller passes
the events and the clock.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.case import CASE_EVENT_TYPES, Case, referral_status_after
from domain.documents import DocumentRules, DocumentRulesError, parse_document_rules
from domain.errors import ProcessNotRun
from domain.letters import Letterhead, LetterheadError, parse_letterhead
from domain.vocabulary import (
    ANSWERED_REFERRAL_STATUSES,
    HANDOVER_AGENCY,
    SETTLED_REFERRAL_STATUSES,
    Agency,
    ComplaintKind,
    Process,
    RiskLevel,
    ServiceType,
)

# Milestones of the case as a whole, each the time of one recorded event
# (see CaseMilestones for which event).
CASE_MILESTONES = frozenset(
    {
        "report_arrived",
        "report_recorded",
        "emergency_classified",
        "routed_to_district",
        "handed_over_to_agency",
    }
    | {event.first_marks for event in CASE_EVENT_TYPES if event.first_marks}
)
# Milestones of the current assessment cycle (AssessmentCycle): a re-assessment
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
# Milestones of one referral (ReferralMilestones); only per-referral steps use them.
REFERRAL_MILESTONES = frozenset({"referred", "referral_answered", "referral_settled"})
KNOWN_MILESTONES = CASE_MILESTONES | CYCLE_MILESTONES | REFERRAL_MILESTONES
# The milestones only an optional process records: a profile whose steps start or end at
# one must run the process, or the step's clock would wait for an event its district's
# cases can never record. (A shelter stay and outreach mark no milestone.)
PROCESS_OF_MILESTONE: Mapping[str, Process] = MappingProxyType(
    {
        "mediation_held": Process.MEDIATION,
        "reunified": Process.REINTEGRATION,
        "reintegration_evaluated": Process.REINTEGRATION,
        "referral_recommended": Process.SUPERVISOR_APPROVAL,
        "recommendation_approved": Process.SUPERVISOR_APPROVAL,
    }
)
# Facts that decide whether a step applies to a case (a step's ``when``).
KNOWN_CONDITIONS = frozenset({"psychological_first_aid_needed", "emergency", "district_handling"})

# How long an agency's inbox keeps a case's personal data once its part in the case closed,
# where a district's profile does not say. The SOPs are silent; UU 27/2022 (PDP) wants
# personal data kept no longer than its purpose needs. The longest follow-up after a
# service that any SOP sets is three months (Luwu Utara's accompaniment during the
# intervention, "1-3 bulan"; Kutai Timur's monitoring of social reintegration,
# "3 bulan"): the office may come back to the agency about its service until then, and
# afterwards a new referral sends what the agency needs again.
DEFAULT_AGENCY_RETENTION_DAYS = 90
MAX_AGENCY_RETENTION_DAYS = 3660
# How long a step may stay overdue before the district's supervisors are told
# (services/notifications.py), where a profile's [notifications] does not say. No SOP
# sets an escalation period: it is each deployment's choice. A day past the due time is
# the time Luwu Utara gives the first contact (L1.8, "1 hari"): a supervisor hears of a
# missed step about when the next one would be missed too.
DEFAULT_ESCALATE_AFTER_HOURS = 24
MAX_ESCALATE_AFTER_HOURS = 30 * 24

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


# What a recurring window counts (WindowStandard.activity): each event of the type is one.
RECURRING_ACTIVITIES: Mapping[str, type[Case.Event]] = MappingProxyType(
    {
        "accompaniment": Case.AccompanimentRecorded,
        "monitoring_visit": Case.MonitoringVisitRecorded,
        "reintegration_visit": Case.ReintegrationVisitRecorded,
    }
)
# More periods than this in one window is a profile mistake (a cadence in minutes).
MAX_WINDOW_PERIODS = 52


@dataclass(frozen=True)
class WindowStandard:
    """A recurring step: an ``activity`` owed at least once every ``every``, for ``length``.

    The window opens at ``starts`` and is cut into periods of ``every`` (the last one
    ends with the window). Each period is a step of its own, coded ``<code>-<n>``:
    upcoming until it begins, due during it, met by the first activity in it, overdue
    once it ended without one (L4.4 accompaniment "1-3 bulan").
    """

    code: str
    stage: str
    title_id: str
    title_en: str
    starts: str
    activity: str
    every: timedelta
    length: timedelta

    def periods(self) -> list[tuple[timedelta, timedelta]]:
        """Each period's start and end, counted from the window's opening."""
        bounds = []
        start = timedelta(0)
        while start < self.length:
            bounds.append((start, min(start + self.every, self.length)))
            start += self.every
        return bounds


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
    # The start of a range the SOP gives ("3-7 hari", Tanjungpinang T4): the step falls
    # due this long after it starts and is overdue only after ``limit``, the range's end.
    due_from: timedelta | None = None
    # Limits that replace ``limit`` for one service (a per-referral step: Luwu Utara's
    # referral for a specialist assessment, L2.3, is owed in 2 days, not L4.1's 7) or
    # for one risk level of the case's latest classification. Where both name a
    # limit, the shorter holds: a high-risk case never waits longer for its service.
    limit_by_service: Mapping[str, timedelta] = field(default_factory=dict)
    limit_by_risk: Mapping[str, timedelta] = field(default_factory=dict)

    def limit_for(
        self, *, service_type: str | None = None, risk_level: str | None = None
    ) -> timedelta:
        """The step's limit for a referral of ``service_type`` on a case of ``risk_level``."""
        limits = [
            self.limit_by_service.get(service_type or ""),
            self.limit_by_risk.get(risk_level or ""),
        ]
        named = [limit for limit in limits if limit is not None]
        return min(named) if named else self.limit


@dataclass(frozen=True)
class TimeStandardProfile:
    district: str
    name: str
    timezone: ZoneInfo
    register_code: str
    source: str
    steps: tuple[StepStandard, ...]
    # Days an agency's inbox keeps a case's personal data after its part in the case closed.
    agency_personal_data_retention_days: int = DEFAULT_AGENCY_RETENTION_DAYS
    # The agency whose office receives, classifies and coordinates the district's cases
    # (its intake officers, case workers and coordinators are the case office), and the
    # name the SOP gives that body. Luwu Utara's and Kota Batu's is the UPTD PPA.
    coordinating_agency: Agency = Agency.UPTD_PPA
    coordinating_body: str = ""
    # The order of steps, where the district's differs from Luwu Utara's: the SOP step
    # at which the district assesses before it classifies (Kota Batu B2, Purwakarta P2),
    # or None where classification comes first (L1.5 before L2).
    assessment_before_classification: str | None = None
    # The SOP step at which the district's supervisor approves each referral (Kutai Timur
    # K-C8), or None where the case team refers directly (L4.1).
    referral_approval: str | None = None
    # The kinds of complaint the district's SOP lists (Kota Batu's 15), and those of
    # them it serves though they are no violence case (10-14): classified "other",
    # they stay with the district instead of getting information only (L1.5 f).
    complaint_kinds: tuple[str, ...] = ()
    served_complaint_kinds: frozenset[str] = frozenset()
    # The optional processes the district's SOP runs besides the case flow every district
    # runs; a command of any other process is refused (``require_runs``).
    processes: frozenset[Process] = frozenset()
    # Simpul's labels for SOP steps (Luwu Utara's numbers, or the seed's whose process it
    # is: P5 mediation, T3 review, K-C5 conference) as this district numbers them, where
    # its own SOP has the step under another number (Kota Batu's mediation is B5).
    step_numbers: Mapping[str, str] = field(default_factory=dict)
    # Recurring steps (L4.4 accompaniment): an activity owed once per period of a window.
    windows: tuple[WindowStandard, ...] = ()
    # The document kinds the district accepts, and those its steps need (domain/documents.py).
    documents: DocumentRules = field(default_factory=DocumentRules)
    # The office's letterhead, letter numbering and the letters it issues; a profile
    # without one issues no letters.
    letterhead: Letterhead | None = None
    # How long past its due time a step of the office may stay undone before the
    # district's supervisors get an escalation ([notifications] escalate_after_hours).
    escalate_after: timedelta = timedelta(hours=DEFAULT_ESCALATE_AFTER_HOURS)

    def own_step(self, step: str | None) -> str | None:
        """The district's number for a step Simpul labels ``step`` (refusals, timeline)."""
        return self.step_numbers.get(step, step) if step is not None else None

    def step(self, code: str) -> StepStandard:
        for step in self.steps:
            if step.code == code:
                return step
        raise KeyError(code)

    def runs(self, process: Process) -> bool:
        return process in self.processes

    def require_runs(self, process: Process, *, step: str | None = None) -> None:
        """Refuse a command of ``process`` (at SOP ``step``) unless the district runs it."""
        if not self.runs(process):
            raise ProcessNotRun(process.value, f"{self.name} ({self.district})", step=step)


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


def _window(raw: Any, index: int) -> WindowStandard:
    where = f"windows[{index}]"
    if not isinstance(raw, Mapping):
        raise ProfileError(f"{where}: must be a table")
    code = _text(raw, "code", where)
    where = f"{where} ({code})"
    durations: dict[str, timedelta] = {}
    for key in ("every", "length"):
        try:
            durations[key] = parse_duration(_required(raw, key, where))
        except ProfileError as error:
            raise ProfileError(f"{where}: '{key}': {error}") from None
    every, length = durations["every"], durations["length"]
    if length < every:
        raise ProfileError(f"{where}: 'length' must be at least 'every'")
    if length / every > MAX_WINDOW_PERIODS:
        raise ProfileError(
            f"{where}: 'every' cuts 'length' into more than {MAX_WINDOW_PERIODS} periods"
        )
    activity = _text(raw, "activity", where)
    if activity not in RECURRING_ACTIVITIES:
        known = ", ".join(sorted(RECURRING_ACTIVITIES))
        raise ProfileError(
            f"{where}: 'activity' names unknown activity {activity!r}; known: {known}"
        )
    return WindowStandard(
        code=code,
        stage=_text(raw, "stage", where),
        title_id=_text(raw, "title_id", where),
        title_en=_text(raw, "title_en", where),
        starts=_milestone(raw, "starts", where, per_referral=False),
        activity=activity,
        every=every,
        length=length,
    )


def _windows(data: Mapping[str, Any], steps: Sequence[StepStandard]) -> tuple[WindowStandard, ...]:
    raw_windows = data.get("windows", [])
    if not isinstance(raw_windows, list):
        raise ProfileError("windows: must be a list of tables ([[windows]])")
    windows = [_window(raw, index) for index, raw in enumerate(raw_windows)]
    codes = {step.code for step in steps}
    for index, window in enumerate(windows):
        if window.code in codes:
            raise ProfileError(f"windows[{index}]: 'code' {window.code!r} repeats a step's code")
        codes.add(window.code)
    return tuple(windows)


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
    due_from = None
    if "due_from" in raw:
        try:
            due_from = parse_duration(raw["due_from"])
        except ProfileError as error:
            raise ProfileError(f"{where}: 'due_from': {error}") from None
        if due_from >= limit:
            raise ProfileError(
                f"{where}: 'due_from' must be shorter than 'limit' "
                '(a range such as 3-7 days is due_from = "3d", limit = "7d")'
            )
    limit_by_service = _limits_by(raw, "limit_by_service", ServiceType, where)
    if limit_by_service and not per_referral:
        raise ProfileError(
            f"{where}: 'limit_by_service' needs per_referral = true (a service is a referral's)"
        )
    limit_by_risk = _limits_by(raw, "limit_by_risk", RiskLevel, where)
    if due_from is not None:
        for key, other in {**limit_by_service, **limit_by_risk}.items():
            if due_from >= other:
                raise ProfileError(
                    f"{where}: 'due_from' must be shorter than the limit for {key!r}"
                )
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
        due_from=due_from,
        limit_by_service=limit_by_service,
        limit_by_risk=limit_by_risk,
    )


def _limits_by(
    raw: Mapping[str, Any], key: str, vocabulary: type[StrEnum], where: str
) -> dict[str, timedelta]:
    table = raw.get(key, {})
    if not isinstance(table, Mapping):
        raise ProfileError(f"{where}: '{key}' must be a table of durations")
    limits: dict[str, timedelta] = {}
    for name, text in table.items():
        if name not in {member.value for member in vocabulary}:
            known = ", ".join(member.value for member in vocabulary)
            raise ProfileError(f"{where}: '{key}' names unknown {name!r}; known: {known}")
        try:
            limits[name] = parse_duration(text)
        except ProfileError as error:
            raise ProfileError(f"{where}: '{key}.{name}': {error}") from None
    return limits


def retention_days(value: object, where: str) -> int:
    """A number of days personal data is kept: a whole number from 0 (removed at closing)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProfileError(f"{where} must be a whole number of days")
    if not 0 <= value <= MAX_AGENCY_RETENTION_DAYS:
        raise ProfileError(f"{where} must be between 0 and {MAX_AGENCY_RETENTION_DAYS} days")
    return value


# Offices that may coordinate a district's cases. The province serves several districts
# (it sees its referrals wherever they come from), so it cannot be one district's office.
COORDINATING_AGENCIES = frozenset(Agency) - {Agency.PROVINCE}


def _coordinating_agency(data: Mapping[str, Any]) -> Agency:
    value = data.get("coordinating_agency", Agency.UPTD_PPA.value)
    if not isinstance(value, str) or value not in COORDINATING_AGENCIES:
        known = ", ".join(sorted(agency.value for agency in COORDINATING_AGENCIES))
        raise ProfileError(f"profile: 'coordinating_agency' must be one of: {known}")
    return Agency(value)


ORDER_SETTINGS = frozenset({"assessment_before_classification", "referral_approval"})


def _order(data: Mapping[str, Any]) -> Mapping[str, Any]:
    order = data.get("order", {})
    if not isinstance(order, Mapping):
        raise ProfileError("order: must be a table")
    unknown = sorted(set(order) - ORDER_SETTINGS)
    if unknown:
        known = ", ".join(sorted(ORDER_SETTINGS))
        raise ProfileError(f"order: unknown settings {unknown}; known: {known}")
    for setting in ORDER_SETTINGS & set(order):
        _text(order, setting, "order")
    return order


def _complaints(data: Mapping[str, Any]) -> tuple[tuple[str, ...], frozenset[str]]:
    complaints = data.get("complaints", {})
    if not isinstance(complaints, Mapping):
        raise ProfileError("complaints: must be a table")
    unknown_settings = sorted(set(complaints) - {"kinds", "served_without_violence"})
    if unknown_settings:
        raise ProfileError(
            f"complaints: unknown settings {unknown_settings}; "
            "known: kinds, served_without_violence"
        )
    known = {kind.value for kind in ComplaintKind}
    lists: dict[str, list[str]] = {}
    for key in ("kinds", "served_without_violence"):
        values = complaints.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ProfileError(f"complaints: '{key}' must be a list of complaint kinds")
        for value in values:
            if value not in known:
                names = ", ".join(kind.value for kind in ComplaintKind)
                raise ProfileError(
                    f"complaints: '{key}' names unknown kind {value!r}; known: {names}"
                )
        lists[key] = values
    if not set(lists["served_without_violence"]) <= set(lists["kinds"]):
        raise ProfileError("complaints: 'served_without_violence' must list only kinds in 'kinds'")
    return tuple(lists["kinds"]), frozenset(lists["served_without_violence"])


def _processes(data: Mapping[str, Any]) -> frozenset[Process]:
    values = data.get("processes", [])
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise ProfileError("profile: 'processes' must be a list of process names")
    known = {process.value for process in Process}
    for value in values:
        if value not in known:
            names = ", ".join(process.value for process in Process)
            raise ProfileError(
                f"profile: 'processes' names unknown process {value!r}; known: {names}"
            )
    if len(set(values)) != len(values):
        raise ProfileError("profile: 'processes' must not repeat a process")
    return frozenset(Process(value) for value in values)


def _require_processes_run(
    steps: Sequence[StepStandard], order: Mapping[str, Any], processes: frozenset[Process]
) -> None:
    """Steps and order settings may name only what the profile's processes record."""
    for index, step in enumerate(steps):
        for key in ("starts", "ends"):
            milestone = getattr(step, key)
            process = PROCESS_OF_MILESTONE.get(milestone)
            if process is not None and process not in processes:
                raise ProfileError(
                    f"steps[{index}] ({step.code}): '{key}' is the milestone {milestone!r} of "
                    f"the {process.value} process, which 'processes' does not list"
                )
    if "referral_approval" in order and Process.SUPERVISOR_APPROVAL not in processes:
        raise ProfileError(
            "order: 'referral_approval' needs the supervisor_approval process, "
            "which 'processes' does not list"
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
    order = _order(data)
    processes = _processes(data)
    _require_processes_run(steps, order, processes)
    return TimeStandardProfile(
        district=_text(data, "district", "profile"),
        name=_text(data, "name", "profile"),
        timezone=timezone,
        register_code=_text(data, "register_code", "profile"),
        source=data.get("source", ""),
        steps=tuple(steps),
        agency_personal_data_retention_days=retention_days(
            data.get("agency_personal_data_retention_days", DEFAULT_AGENCY_RETENTION_DAYS),
            "profile: 'agency_personal_data_retention_days'",
        ),
        coordinating_agency=_coordinating_agency(data),
        coordinating_body=data.get("coordinating_body", ""),
        assessment_before_classification=order.get("assessment_before_classification"),
        referral_approval=order.get("referral_approval"),
        complaint_kinds=_complaints(data)[0],
        served_complaint_kinds=_complaints(data)[1],
        processes=processes,
        step_numbers=_step_numbers(data),
        windows=_windows(data, steps),
        documents=_documents(data, steps),
        letterhead=_letterhead(data),
        escalate_after=_escalate_after(data),
    )


def _escalate_after(data: Mapping[str, Any]) -> timedelta:
    table = data.get("notifications", {})
    if not isinstance(table, Mapping):
        raise ProfileError("notifications: must be a table ([notifications])")
    hours = table.get("escalate_after_hours", DEFAULT_ESCALATE_AFTER_HOURS)
    if isinstance(hours, bool) or not isinstance(hours, int):
        raise ProfileError("notifications.escalate_after_hours must be a whole number of hours")
    if not 0 <= hours <= MAX_ESCALATE_AFTER_HOURS:
        raise ProfileError(
            f"notifications.escalate_after_hours must be between 0 and "
            f"{MAX_ESCALATE_AFTER_HOURS} hours"
        )
    return timedelta(hours=hours)


def _documents(data: Mapping[str, Any], steps: Sequence[StepStandard]) -> DocumentRules:
    try:
        return parse_document_rules(data.get("documents"), frozenset(s.code for s in steps))
    except DocumentRulesError as error:
        raise ProfileError(str(error)) from None


def _letterhead(data: Mapping[str, Any]) -> Letterhead | None:
    if "letterhead" not in data:
        return None
    try:
        return parse_letterhead(data["letterhead"])
    except LetterheadError as error:
        raise ProfileError(str(error)) from None


_STEP_LABEL = re.compile(r"[A-Z]{1,3}(-[A-Z]{1,3})?\d+[a-z]?(\.\d+)*(-\d+)?")


def _step_numbers(data: Mapping[str, Any]) -> dict[str, str]:
    table = data.get("step_numbers", {})
    if not isinstance(table, Mapping):
        raise ProfileError("step_numbers: must be a table of step labels")
    numbers: dict[str, str] = {}
    for label, own in table.items():
        for name, value in (
            (f"step_numbers: key {label!r}", label),
            (f"step_numbers.{label}", own),
        ):
            if not isinstance(value, str) or not _STEP_LABEL.fullmatch(value):
                raise ProfileError(f"{name}: must be a step number such as B5 or K-C5")
        numbers[label] = own
    return numbers


# ---- Milestones: when things happened, read off a case's events -------------------------


@dataclass(frozen=True)
class AssessmentCycle:
    """One pass through assessment, planning and monitoring (stages 2, 3 and 5).

    The first cycle starts when consent is given; each re-assessment (L5.5,
    "still needs services") starts another, and the steps of those stages
    then run against the new cycle. Earlier cycles stay as they were, so the
    history of what was met in them is kept.
    """

    number: int
    assessment_started: datetime
    # Assessments recorded after the case report (during intervention, say)
    # belong to no assessment step, so these two stop at the case report.
    first_assessment_recorded: datetime | None = None
    latest_assessment_recorded: datetime | None = None
    case_report_concluded: datetime | None = None
    intervention_plan_agreed: datetime | None = None
    monitoring_visit_recorded: datetime | None = None
    recovery_found: datetime | None = None
    # The version of the event that set each milestone above, by name.
    versions: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ReferralMilestones:
    referral_id: str
    agency: str
    service_type: str
    referred: datetime
    # The due time the service computed when it referred, recorded on the event.
    due_at: datetime | None
    # Accepted or declined, whichever came first.
    referral_answered: datetime | None = None
    # Completed, not delivered, declined or cancelled. A case closed over an
    # open referral does not settle it: the schedule shows such a referral as
    # closed, so an auditor can tell a delivered service from an abandoned one.
    referral_settled: datetime | None = None
    versions: Mapping[str, int] = field(default_factory=dict)

    def at(self, milestone: str) -> datetime | None:
        if milestone not in REFERRAL_MILESTONES:
            raise KeyError(milestone)
        value: datetime | None = getattr(self, milestone)
        return value


@dataclass(frozen=True)
class CaseMilestones:
    """When each milestone of one case happened, and which steps apply.

    First occurrences count unless said otherwise: reassigning a case worker
    does not restart the clock of the first visit (L1.8). Most case milestones
    are the first event of a type (its class's ``first_marks``); the two below
    that follow runs of classifications are not:

    - ``emergency_classified``: the classification from which the case has been
      an emergency without a break; a case reclassified as an emergency owes
      emergency services (L1.6) from then, not from its first classification;
    - ``routed_to_district``: likewise the classification from which routing has
      kept the case with the district (rule a), which starts the assignment of a
      case worker (L1.7).
    """

    report_arrived: datetime  # ReportReceived.arrived_at
    psychological_first_aid_needed: bool
    # The case milestones reached so far, by name (report_recorded always).
    reached: Mapping[str, datetime]
    emergency: bool = False  # as the latest classification says
    risk_level: str | None = None  # as the latest classification says
    district_handling: bool = False  # classified, and routed to no handover
    cycles: tuple[AssessmentCycle, ...] = ()  # oldest first; the last is current
    # Each recurring activity's events (RECURRING_ACTIVITIES), as (time, version), in order.
    activities: Mapping[str, tuple[tuple[datetime, int], ...]] = field(default_factory=dict)
    referrals: tuple[ReferralMilestones, ...] = ()  # in the order referred
    # The version of the event that set each case milestone, by name.
    versions: Mapping[str, int] = field(default_factory=dict)

    @property
    def current_cycle(self) -> AssessmentCycle | None:
        return self.cycles[-1] if self.cycles else None

    @property
    def is_closed(self) -> bool:
        return "terminated" in self.reached

    def at(self, milestone: str) -> datetime | None:
        """The time of a case or current-cycle milestone; referral milestones need a referral."""
        if milestone in CYCLE_MILESTONES:
            cycle = self.current_cycle
            return getattr(cycle, milestone) if cycle is not None else None
        if milestone == "report_arrived":
            return self.report_arrived
        if milestone in CASE_MILESTONES:
            return self.reached.get(milestone)
        raise KeyError(milestone)

    def version_of(self, milestone: str) -> int | None:
        """The version of the event that set a case or current-cycle milestone, if set."""
        if milestone in CYCLE_MILESTONES:
            cycle = self.current_cycle
            return cycle.versions.get(milestone) if cycle is not None else None
        if milestone in CASE_MILESTONES:
            return self.versions.get(milestone)
        raise KeyError(milestone)

    def holds(self, condition: str) -> bool:
        if condition not in KNOWN_CONDITIONS:
            raise KeyError(condition)
        return bool(getattr(self, condition))


def case_milestones(events: Sequence[object]) -> CaseMilestones:
    """Fold one case's events into its milestones; objects that are not case events are ignored."""
    case_events = sorted(
        (event for event in events if isinstance(event, Case.Event)),
        key=lambda event: event.originator_version,
    )
    if len({event.originator_id for event in case_events}) > 1:
        raise ValueError("the events belong to more than one case")
    if not case_events or not isinstance(case_events[0], Case.ReportReceived):
        raise ValueError("a case's events begin with its ReportReceived")
    report = case_events[0]
    fold = _MilestoneFold(report)
    for event in case_events[1:]:
        fold.apply(event)
    return fold.milestones()


class _MilestoneFold:
    """When each milestone was reached, and by which event, as a case's events are applied."""

    def __init__(self, report: Case.ReportReceived) -> None:
        self.report = report
        self.times: dict[str, datetime] = {"report_recorded": report.timestamp}
        self.versions: dict[str, int] = {"report_recorded": 1}
        self.emergency = False
        self.risk_level: str | None = None
        self.district_handling = False
        self.cycles: list[AssessmentCycle] = []
        self.referrals: dict[str, ReferralMilestones] = {}
        self.activities: dict[str, list[tuple[datetime, int]]] = {}

    def apply(self, event: Case.Event) -> None:
        at, version = event.timestamp, event.originator_version
        for activity, event_type in RECURRING_ACTIVITIES.items():
            if isinstance(event, event_type):
                self.activities.setdefault(activity, []).append((at, version))
        cycle = self.cycles[-1] if self.cycles else None
        if event.first_marks is not None:
            self._first(event.first_marks, event)
        match event:
            case Case.RiskClassified():
                self._follow_run("emergency_classified", event.emergency, event)
                self._follow_run("routed_to_district", event.handover_to is None, event)
                self.emergency = event.emergency
                self.risk_level = event.risk_level
                self.district_handling = event.handover_to is None
            case Case.HandedOver() if event.target in HANDOVER_AGENCY:
                self._first("handed_over_to_agency", event)
            case Case.HandedBack():
                # The case is the office's again, to be classified anew (L1.5): it is
                # no longer closed, and a later hand-over starts its own clock.
                for milestone in ("terminated", "handed_over_to_agency", "handover_acknowledged"):
                    self.times.pop(milestone, None)
                    self.versions.pop(milestone, None)
            case Case.ConsentRecorded() if event.given:
                self._new_cycle(event)
            case Case.ReassessmentStarted():
                self._new_cycle(event)
            case Case.AssessmentRecorded() if cycle and cycle.case_report_concluded is None:
                if cycle.first_assessment_recorded is None:
                    self._update_cycle(first_assessment_recorded=event)
                self._update_cycle(latest_assessment_recorded=event)
            case Case.CaseReportConcluded() if cycle and cycle.case_report_concluded is None:
                self._update_cycle(case_report_concluded=event)
            case Case.InterventionPlanAgreed() if cycle and cycle.intervention_plan_agreed is None:
                self._update_cycle(intervention_plan_agreed=event)
            case Case.MonitoringVisitRecorded() if cycle and cycle.intervention_plan_agreed:
                # A visit that finds the beneficiary not recovered withdraws an
                # earlier finding, and one that confirms it keeps the first time:
                # termination (L6.5) is owed from when recovery was first found
                # and has not been contradicted since.
                if cycle.monitoring_visit_recorded is None:
                    self._update_cycle(monitoring_visit_recorded=event)
                if not event.recovered:
                    self._update_cycle(recovery_found=None)
                elif cycle.recovery_found is None:
                    self._update_cycle(recovery_found=event)
            case Case.Referred():
                self.referrals[event.referral_id] = ReferralMilestones(
                    referral_id=event.referral_id,
                    agency=event.agency,
                    service_type=event.service_type,
                    referred=at,
                    due_at=event.due_at,
                    versions={"referred": version},
                )
        moved = referral_status_after(event)
        if moved is not None and not isinstance(event, Case.Referred):
            referral_id, status = moved
            if status in ANSWERED_REFERRAL_STATUSES:
                self._referral_reached(referral_id, "referral_answered", event)
            if status in SETTLED_REFERRAL_STATUSES:
                self._referral_reached(referral_id, "referral_settled", event)

    def _first(self, milestone: str, event: Case.Event) -> None:
        if milestone not in self.times:
            self.times[milestone] = event.timestamp
            self.versions[milestone] = event.originator_version

    def _follow_run(self, milestone: str, holds: bool, event: Case.Event) -> None:
        """Keep ``milestone`` at the first of the latest unbroken run of classifications holding."""
        if not holds:
            self.times.pop(milestone, None)
            self.versions.pop(milestone, None)
        else:
            self._first(milestone, event)

    def _new_cycle(self, event: Case.Event) -> None:
        self.cycles.append(
            AssessmentCycle(
                number=len(self.cycles) + 1,
                assessment_started=event.timestamp,
                versions={"assessment_started": event.originator_version},
            )
        )

    def _update_cycle(self, **reached: Case.Event | None) -> None:
        cycle = self.cycles[-1]
        versions = dict(cycle.versions)
        changes: dict[str, Any] = {}
        for milestone, event in reached.items():
            changes[milestone] = event.timestamp if event is not None else None
            if event is not None:
                versions[milestone] = event.originator_version
            else:
                versions.pop(milestone, None)
        self.cycles[-1] = replace(cycle, **changes, versions=versions)

    def _referral_reached(self, referral_id: str, milestone: str, event: Case.Event) -> None:
        referral = self.referrals.get(referral_id)
        if referral is not None and getattr(referral, milestone) is None:
            versions = {**referral.versions, milestone: event.originator_version}
            changes: dict[str, Any] = {milestone: event.timestamp, "versions": versions}
            self.referrals[referral_id] = replace(referral, **changes)

    def milestones(self) -> CaseMilestones:
        report = self.report
        return CaseMilestones(
            report_arrived=report.arrived_at,
            psychological_first_aid_needed=bool(report.psychological_first_aid_needed),
            reached=dict(self.times),
            emergency=self.emergency,
            risk_level=self.risk_level,
            district_handling=self.district_handling,
            cycles=tuple(self.cycles),
            referrals=tuple(self.referrals.values()),
            activities={name: tuple(times) for name, times in self.activities.items()},
            versions=dict(self.versions),
        )


# ---- Schedule: which steps are due, when, and which are overdue --------------------------


class StepState(StrEnum):
    MET = "met"  # done by its due time
    LATE = "late"  # done after its due time
    # Not done, and not due yet: the SOP gives a range ("3-7 hari") whose start has not come.
    UPCOMING = "upcoming"
    DUE = "due"  # not done, due time not passed
    OVERDUE = "overdue"  # not done, due time passed, case open
    # Not done when the case closed. A closed case owes nothing more of what was
    # owed before it closed, so the step is no longer overdue; it is not "met"
    # either, so an auditor still sees it was never done. A step whose clock the
    # closing itself started (the receiver taking a handed-over case, L1.5 b-d)
    # is still owed.
    CLOSED = "closed"


OPEN_STATES = frozenset({StepState.UPCOMING, StepState.DUE, StepState.OVERDUE})


@dataclass(frozen=True)
class StepStatus:
    code: str
    stage: str
    title_id: str
    title_en: str
    # The time the step was given: the profile's limit, except for a referral
    # whose recorded due time says otherwise (see step_schedule).
    limit: timedelta
    started_at: datetime
    due_at: datetime
    done_at: datetime | None
    state: StepState
    referral_id: str | None = None
    # The version of the event that did the step, if done: the timeline shows the
    # step's time standard on that event.
    done_version: int | None = None
    # When the step falls due, where the SOP gives a range (StepStandard.due_from);
    # it is overdue only after ``due_at``.
    due_from: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


def step_schedule(
    profile: TimeStandardProfile, milestones: CaseMilestones, now: datetime
) -> list[StepStatus]:
    """Every applicable step whose clock has started, sorted by due time, then code.

    A step applies when its ``when`` condition holds now (a step met under a
    condition that a reclassification withdrew drops out; its events remain).
    Steps of stages 2, 3 and 5 run against the current assessment cycle only.
    Per-referral steps get one status per referral. Durations are elapsed
    time, not working hours: the SOPs count "1 hari" from the moment the
    step starts. Times are given in the district's time zone.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    statuses: list[StepStatus] = []
    for step in profile.steps:
        if step.when is not None and not milestones.holds(step.when):
            continue
        referrals: Iterable[ReferralMilestones | None] = (
            milestones.referrals if step.per_referral else (None,)
        )
        for referral in referrals:
            status = _status(step, milestones, referral, now, profile.timezone)
            if status is not None:
                statuses.append(status)
    for window in profile.windows:
        statuses.extend(_window_statuses(window, milestones, now, profile.timezone))
    return sorted(statuses, key=lambda s: (s.due_at, _code_order(s.code), s.referral_id or ""))


def _status(
    step: StepStandard,
    milestones: CaseMilestones,
    referral: ReferralMilestones | None,
    now: datetime,
    timezone: ZoneInfo,
) -> StepStatus | None:
    def time_of(milestone: str) -> datetime | None:
        if referral is not None and milestone in REFERRAL_MILESTONES:
            return referral.at(milestone)
        return milestones.at(milestone)

    def version_of(milestone: str) -> int | None:
        if referral is not None and milestone in REFERRAL_MILESTONES:
            return referral.versions.get(milestone)
        return milestones.version_of(milestone)

    started_at = time_of(step.starts)
    if started_at is None:
        return None
    due_at = started_at + step.limit_for(
        service_type=referral.service_type if referral is not None else None,
        risk_level=milestones.risk_level,
    )
    # The service computed the referral's due time from this same step when it
    # referred, and told the receiving agency; that recorded promise is the
    # one to hold the agency to, even if the profile changes afterwards.
    if referral is not None and step.ends == "referral_settled" and referral.due_at is not None:
        due_at = referral.due_at
    done_at = time_of(step.ends)
    if done_at is not None:
        state = StepState.MET if done_at <= due_at else StepState.LATE
    elif milestones.is_closed and _owed_before_closing(version_of(step.starts), milestones):
        state = StepState.CLOSED
    elif step.due_from is not None and now < started_at + step.due_from:
        state = StepState.UPCOMING
    else:
        state = StepState.DUE if now <= due_at else StepState.OVERDUE
    return StepStatus(
        code=step.code,
        stage=step.stage,
        title_id=step.title_id,
        title_en=step.title_en,
        limit=due_at - started_at,
        started_at=started_at.astimezone(timezone),
        due_at=due_at.astimezone(timezone),
        done_at=done_at.astimezone(timezone) if done_at is not None else None,
        state=state,
        referral_id=referral.referral_id if referral is not None else None,
        done_version=version_of(step.ends) if done_at is not None else None,
        due_from=(
            (started_at + step.due_from).astimezone(timezone) if step.due_from is not None else None
        ),
    )


def _window_statuses(
    window: WindowStandard, milestones: CaseMilestones, now: datetime, timezone: ZoneInfo
) -> list[StepStatus]:
    """One status per period of an opened window; all of them from its opening.

    Every period is listed as soon as the window opens, later ones upcoming, so the
    views (which judge open steps by their own clock) see each fall due in turn.
    """
    opened = milestones.at(window.starts)
    if opened is None:
        return []
    activities = milestones.activities.get(window.activity, ())
    closed_before = milestones.is_closed and _owed_before_closing(
        milestones.version_of(window.starts), milestones
    )
    periods = window.periods()
    statuses = []
    for number, (begins, ends) in enumerate(periods, start=1):
        period_start, period_end = opened + begins, opened + ends
        last = number == len(periods)
        done = next(
            (
                (at, version)
                for at, version in activities
                if period_start <= at and (at < period_end or (last and at == period_end))
            ),
            None,
        )
        if done is not None:
            state = StepState.MET
        elif closed_before:
            state = StepState.CLOSED
        elif now < period_start:
            state = StepState.UPCOMING
        else:
            state = StepState.DUE if now <= period_end else StepState.OVERDUE
        statuses.append(
            StepStatus(
                code=f"{window.code}-{number}",
                stage=window.stage,
                title_id=f"{window.title_id} ({number}/{len(periods)})",
                title_en=f"{window.title_en} ({number}/{len(periods)})",
                limit=period_end - opened,
                started_at=opened.astimezone(timezone),
                due_at=period_end.astimezone(timezone),
                done_at=done[0].astimezone(timezone) if done is not None else None,
                state=state,
                done_version=done[1] if done is not None else None,
                due_from=period_start.astimezone(timezone) if number > 1 else None,
            )
        )
    return statuses


def _owed_before_closing(started_by: int | None, milestones: CaseMilestones) -> bool:
    """Whether the event that started a step came before the one that closed the case.

    Versions, not times: events recorded in the same instant keep their order.
    """
    closed_by = milestones.versions.get("terminated", 0)
    return started_by is None or started_by < closed_by


# A profile has a few dozen codes, and a projection rebuild sorts every case's steps.
@lru_cache(maxsize=1024)
def _code_order(code: str) -> tuple[Any, ...]:
    """Sort L1.9 before L1.10: compare the numbers in a code as numbers."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", code))


def steps_completed_by(
    profile: TimeStandardProfile, events: Sequence[object], first_version: int
) -> list[str]:
    """The profile's case steps (not per referral) whose end an event from ``first_version``
    on reached: what a command about to record those events completes."""
    milestones = case_milestones(events)
    completed = []
    for step in profile.steps:
        if step.per_referral:
            continue
        version = milestones.version_of(step.ends)
        if version is not None and version >= first_version:
            completed.append(step.code)
    return completed


def overdue(statuses: Iterable[StepStatus]) -> list[StepStatus]:
    return [status for status in statuses if status.state == StepState.OVERDUE]


def open_steps(statuses: Iterable[StepStatus]) -> list[StepStatus]:
    """Steps still owed: due or overdue."""
    return [status for status in statuses if status.is_open]
