"""Liveness, readiness, the caller's identity and the district profiles."""

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from domain.letters import Letterhead
from gateways.api.deps import ActorDep, CasesDep
from gateways.api.problems import Problem, problem_response
from services.profiles import UnknownDistrict

health = APIRouter(tags=["service"])
meta = APIRouter(
    tags=["service"],
    responses={401: {"model": Problem, "description": "No valid bearer token"}},
)


@health.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@health.get(
    "/readyz",
    summary="The service can reach its event store",
    responses={503: {"model": Problem, "description": "The event store is unreachable"}},
)
def readyz(cases: CasesDep) -> JSONResponse:
    try:
        cases.head_position()
    except Exception as error:  # noqa: BLE001 - any failure means not ready
        return problem_response(
            503,
            "unavailable",
            "Not ready",
            f"the event store cannot be reached ({type(error).__name__})",
            headers={"Retry-After": "2"},
        )
    return JSONResponse({"status": "ready"})


class Me(BaseModel):
    user_id: str
    role: str
    agency: str
    district: str


@meta.get("/me", response_model=Me, summary="Who the bearer token says you are")
def me(actor: ActorDep) -> Me:
    return Me(**actor.as_record())


DISTRICT_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class WindowOut(BaseModel):
    code: str = Field(description="Each period is a step coded <code>-<n>")
    stage: str
    title_id: str
    title_en: str
    starts: str = Field(description="The milestone that opens the window")
    activity: str = Field(description="What each period needs at least once")
    every_minutes: int = Field(description="The length of one period")
    length_minutes: int = Field(description="The length of the whole window")


class StepStandardOut(BaseModel):
    code: str
    stage: str
    title_id: str
    title_en: str
    limit_minutes: int = Field(description="Overdue after this many minutes")
    due_from_minutes: int | None = Field(
        default=None,
        description="Where the SOP gives a range (3-7 hari): due from this many minutes",
    )
    limit_by_service_minutes: dict[str, int] = Field(
        default_factory=dict, description="Limits that replace limit_minutes for one service"
    )
    limit_by_risk_minutes: dict[str, int] = Field(
        default_factory=dict,
        description="Limits for one risk level of the case's classification; the shorter wins",
    )
    starts: str = Field(description="The milestone that starts the clock")
    ends: str = Field(description="The milestone that stops it")
    when: str | None = Field(description="The condition under which the step applies")
    per_referral: bool


class LetterheadOut(BaseModel):
    """The office's letterhead, letter numbering and the letters it issues."""

    government: str
    office: str
    address: str
    city: str = Field(description="Where letters are signed")
    signatory: str
    numbering: str = Field(description="e.g. {seq}/{code}/UPTD-PPA/{roman_month}/{year}")
    kinds: list[str] = Field(description="The letters the office issues")


class ProfileOut(BaseModel):
    district: str
    name: str
    timezone: str
    register_code: str
    source: str
    coordinating_agency: str = Field(
        description="The agency whose officers are the district's case office"
    )
    coordinating_body: str = Field(description="The SOP's name for that office")
    assessment_before_classification: str | None = Field(
        default=None,
        description="The SOP step at which the district assesses before it classifies",
    )
    referral_approval: str | None = Field(
        default=None,
        description="The SOP step at which a supervisor approves every referral (K-C8)",
    )
    complaint_kinds: list[str] = Field(
        default_factory=list, description="The kinds of complaint the district's SOP lists"
    )
    served_complaint_kinds: list[str] = Field(
        default_factory=list,
        description="Kinds served though no violence case (Kota Batu 10-14), not rule f",
    )
    processes: list[str] = Field(
        default_factory=list,
        description="The optional processes the district runs (mediation, outreach, "
        "reintegration, shelter, supervisor_approval); commands of others are refused",
    )
    step_numbers: dict[str, str] = Field(
        default_factory=dict,
        description="Simpul's step labels as this district's SOP numbers them (Kota Batu's "
        "mediation P5 is its B5); refusals and the timeline use the district's numbers",
    )
    steps: list[StepStandardOut]
    windows: list[WindowOut] = Field(
        default_factory=list,
        description="Recurring steps: an activity owed in each period (L4.4 accompaniment)",
    )
    letterhead: LetterheadOut | None = Field(
        default=None, description="The office's letters; none where the profile has no letterhead"
    )


def _letterhead(letterhead: Letterhead | None) -> LetterheadOut | None:
    if letterhead is None:
        return None
    return LetterheadOut(
        government=letterhead.government,
        office=letterhead.office,
        address=letterhead.address,
        city=letterhead.city,
        signatory=letterhead.signatory,
        numbering=letterhead.numbering,
        kinds=[kind.value for kind in letterhead.kinds],
    )


def _minutes(limits: Mapping[str, timedelta]) -> dict[str, int]:
    return {key: int(limit.total_seconds() // 60) for key, limit in limits.items()}


@meta.get(
    "/profiles/{district}",
    response_model=ProfileOut,
    summary="A district's time standards (Mutu Baku - Waktu)",
    responses={404: {"model": Problem, "description": "No profile for this district"}},
)
def district_profile(
    district: Annotated[str, Path(pattern=DISTRICT_PATTERN, description="e.g. luwu-utara")],
    cases: CasesDep,
    _: ActorDep,
) -> ProfileOut:
    try:
        profile = cases.profiles.profile(district)
    except UnknownDistrict:
        # Not the district's name: the answer never repeats what was asked.
        raise HTTPException(404, "no profile is configured for this district") from None
    return ProfileOut(
        district=profile.district,
        name=profile.name,
        timezone=str(profile.timezone),
        register_code=profile.register_code,
        source=profile.source,
        coordinating_agency=profile.coordinating_agency.value,
        coordinating_body=profile.coordinating_body,
        assessment_before_classification=profile.assessment_before_classification,
        referral_approval=profile.referral_approval,
        complaint_kinds=list(profile.complaint_kinds),
        served_complaint_kinds=sorted(profile.served_complaint_kinds),
        processes=sorted(process.value for process in profile.processes),
        step_numbers=dict(profile.step_numbers),
        letterhead=_letterhead(profile.letterhead),
        steps=[
            StepStandardOut(
                code=step.code,
                stage=step.stage,
                title_id=step.title_id,
                title_en=step.title_en,
                limit_minutes=int(step.limit.total_seconds() // 60),
                due_from_minutes=(
                    int(step.due_from.total_seconds() // 60) if step.due_from is not None else None
                ),
                limit_by_service_minutes=_minutes(step.limit_by_service),
                limit_by_risk_minutes=_minutes(step.limit_by_risk),
                starts=step.starts,
                ends=step.ends,
                when=step.when,
                per_referral=step.per_referral,
            )
            for step in profile.steps
        ],
        windows=[
            WindowOut(
                code=window.code,
                stage=window.stage,
                title_id=window.title_id,
                title_en=window.title_en,
                starts=window.starts,
                activity=window.activity,
                every_minutes=int(window.every.total_seconds() // 60),
                length_minutes=int(window.length.total_seconds() // 60),
            )
            for window in profile.windows
        ],
    )
