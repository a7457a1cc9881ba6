"""What auditors read: a case's timeline and its exports, its chain check, and who read it.

Every route here reads case data and takes ``CaseReadDep``, so its read is
recorded in the access log (or refused) before anything is returned.
"""

import json
import re
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from gateways.api.case_review import render_case_review
from gateways.api.deps import ActorDep, CaseReadDep, CasesDep, ChainCheckerDep
from gateways.api.problems import READ_ERRORS, Problem
from gateways.eventstore.verify import CaseVerification
from projections.timeline import Timeline, case_timeline
from services.access_log import AccessEntry
from services.case_commands import Moment, UserId
from services.case_search import SearchKeys, TermsUnreadable

router = APIRouter(tags=["audit"])

AUDIT_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    403: {"model": Problem, "description": "The caller may see the case but not this view of it"},
}
VersionQuery = Annotated[int | None, Query(ge=1, description="Cut the timeline at this version")]
AsOfQuery = Annotated[
    Moment | None, Query(description="Cut the timeline at this moment (with time zone)")
]


class ChainProblemOut(BaseModel):
    kind: str = Field(
        description="changed, missing, inserted, reordered, head_mismatch or anchor_mismatch"
    )
    detail: str
    case_id: UUID | None = Field(description="The case (event originator) where it was found")
    version: int | None
    notification_id: int | None = Field(description="The event's position in the whole store")


class ChainCheck(BaseModel):
    """Whether a case's stored events are exactly the ones that were recorded."""

    case_id: UUID
    intact: bool
    events: int = Field(description="Events verified before the first problem, if any")
    last_event_hash: str | None = Field(
        description="SHA-256 (hex) ending the case's own chain: changes if any event changes"
    )
    problem: ChainProblemOut | None


def chain_check(verification: CaseVerification) -> ChainCheck:
    problem = verification.problem
    return ChainCheck(
        case_id=verification.case_id,
        intact=verification.intact,
        events=verification.events,
        last_event_hash=(
            verification.last_event_hash.hex() if verification.last_event_hash else None
        ),
        problem=(
            ChainProblemOut(
                kind=problem.kind.value,
                detail=problem.detail,
                case_id=problem.case_id,
                version=problem.version,
                notification_id=problem.notification_id,
            )
            if problem
            else None
        ),
    )


class TimelineExport(BaseModel):
    """A timeline as exported: who exported it, when, why, and whether the chain verified."""

    exported_at: datetime
    exported_by: dict[str, str]
    purpose: str | None
    verification: ChainCheck
    timeline: Timeline


def timeline_of_case(
    case_id: UUID,
    cases: CasesDep,
    actor: ActorDep,
    read: CaseReadDep,
    version: VersionQuery = None,
    as_of: AsOfQuery = None,
) -> Timeline:
    """The case's timeline, cut at a version and/or a moment; the read is recorded first."""
    events = cases.read_case_events(actor, case_id, read, upto_version=version)
    return case_timeline(
        events, cases.district_profile(events[0]), now=cases.clock(), version=version, as_of=as_of
    )


TimelineDep = Annotated[Timeline, Depends(timeline_of_case)]


def _file_name(timeline: Timeline, extension: str) -> str:
    register = re.sub(r"[^A-Za-z0-9]+", "-", timeline.register_number).strip("-")
    return f"kasus-{register}-v{timeline.version}.{extension}"


@router.get(
    "/cases/{case_id}/timeline",
    response_model=Timeline,
    summary="The case's timeline: every event with actor, SOP step, summary and time standard",
    responses=READ_ERRORS,
)
def read_timeline(timeline: TimelineDep) -> Timeline:
    """Every event in order; cut at a version or moment, with the case file as it stood then."""
    return timeline


@router.get(
    "/cases/{case_id}/timeline.json",
    response_model=TimelineExport,
    summary="Download the timeline as JSON, with who exported it and the chain check",
    responses=READ_ERRORS,
)
def export_timeline_json(
    case_id: UUID,
    timeline: TimelineDep,
    cases: CasesDep,
    actor: ActorDep,
    read: CaseReadDep,
    checker: ChainCheckerDep,
) -> Response:
    """The timeline as a JSON file to keep: the same content as /timeline, plus provenance."""
    export = TimelineExport(
        exported_at=cases.clock(),
        exported_by=actor.as_record(),
        purpose=read.purpose,
        verification=chain_check(checker.verify_case(case_id)),
        timeline=timeline,
    )
    body = json.dumps(export.model_dump(mode="json"), ensure_ascii=False, indent=2)
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{_file_name(timeline, "json")}"',
            "X-Request-ID": read.request_id or "",
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/cases/{case_id}/timeline.html",
    response_class=HTMLResponse,
    summary="The printable case review (HTML, self-contained) for inspections and courts",
    responses=READ_ERRORS,
)
def export_timeline_html(
    case_id: UUID,
    timeline: TimelineDep,
    cases: CasesDep,
    actor: ActorDep,
    read: CaseReadDep,
    checker: ChainCheckerDep,
) -> HTMLResponse:
    """One page to print: provenance, chain check, timeline and time standards."""
    page = render_case_review(
        timeline,
        timezone=cases.profiles.profile(timeline.district).timezone,
        exported_at=cases.clock(),
        exported_by=actor.as_record(),
        purpose=read.purpose,
        verification=checker.verify_case(case_id),
    )
    return HTMLResponse(
        page,
        headers={
            "Content-Disposition": f'inline; filename="{_file_name(timeline, "html")}"',
            "X-Request-ID": read.request_id or "",
            "Cache-Control": "no-store",
            # A page with case data: nothing loads, nothing frames it, no link tells its address.
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            "Referrer-Policy": "no-referrer",
        },
    )


@router.get(
    "/cases/{case_id}/verification",
    response_model=ChainCheck,
    summary="Check the case's hash chain: are its stored events the ones recorded?",
    responses=AUDIT_READ_ERRORS,
)
def read_verification(
    case_id: UUID,
    cases: CasesDep,
    actor: ActorDep,
    read: CaseReadDep,
    checker: ChainCheckerDep,
) -> ChainCheck:
    """Auditors and the case's office: recompute the case's chain from the stored bytes."""
    cases.authorize_case_read(actor, case_id, read, permitted=cases.access.may_verify)
    return chain_check(checker.verify_case(case_id))


class AccessLogEntry(BaseModel):
    """One recorded read, or one refusal of an identified caller."""

    id: int = Field(description="Position in the access log; pass as `after` for the next page")
    accessed_at: datetime
    user_id: str
    role: str
    agency: str
    district: str
    case_id: UUID | None = Field(description="The case read; none for reads across cases")
    view: str = Field(description="What was read: the API operation, e.g. read_case")
    purpose: str | None
    request_id: str | None
    outcome: str = Field(
        description="granted (read), denied (403) or not_found (404: a case the caller may not see)"
    )
    reason: str | None = Field(description="For a refusal, the rule that refused it")
    search_terms: dict[str, Any] | None = Field(
        default=None,
        description="For a search of the office's cases, what it looked for (kept sealed in "
        "the log, opened for the auditor)",
    )
    search_terms_unreadable: bool = Field(
        default=False,
        description="The search's sealed terms do not open with this deployment's search key "
        "(sealed with another key, or altered)",
    )


def _entry(entry: AccessEntry, keys: SearchKeys | None) -> AccessLogEntry:
    shown = AccessLogEntry(id=entry.id, **vars(entry.record))
    if entry.sealed_search_terms is None:
        return shown
    try:
        if keys is None:
            raise TermsUnreadable()
        terms = keys.open(entry.sealed_search_terms, entry.record)
    except TermsUnreadable:
        return shown.model_copy(update={"search_terms_unreadable": True})
    return shown.model_copy(update={"search_terms": terms})


class AccessLogPage(BaseModel):
    entries: list[AccessLogEntry]
    next_after: int | None = Field(description="Pass as `after` for more; none at the end")


def _page(entries: list[AccessEntry], limit: int, request: Request) -> AccessLogPage:
    keys: SearchKeys | None = request.app.state.search_keys
    return AccessLogPage(
        entries=[_entry(entry, keys) for entry in entries],
        next_after=entries[-1].id if len(entries) == limit else None,
    )


AfterQuery = Annotated[int, Query(ge=0, description="Entries after this log position")]
LimitQuery = Annotated[int, Query(ge=1, le=1000, description="At most this many entries")]


@router.get(
    "/cases/{case_id}/access-log",
    response_model=AccessLogPage,
    summary="Who read this case: every recorded read, oldest first",
    responses=AUDIT_READ_ERRORS,
)
def read_case_access_log(
    request: Request,
    case_id: UUID,
    cases: CasesDep,
    actor: ActorDep,
    read: CaseReadDep,
    after: AfterQuery = 0,
    limit: LimitQuery = 100,
) -> AccessLogPage:
    """Auditors, and the coordinator of the case's office; this read is recorded too."""
    entries = cases.access_log_of_case(actor, case_id, read, after=after, limit=limit)
    return _page(entries, limit, request)


@router.get(
    "/access-log",
    response_model=AccessLogPage,
    summary="What one person read: their recorded reads across cases, oldest first",
    responses=AUDIT_READ_ERRORS,
)
def read_actor_access_log(
    request: Request,
    cases: CasesDep,
    actor: ActorDep,
    read: CaseReadDep,
    user_id: Annotated[UserId, Query(description="The reader")],
    after: AfterQuery = 0,
    limit: LimitQuery = 100,
) -> AccessLogPage:
    """Auditors only; this read is recorded too."""
    entries = cases.access_log_of_user(actor, user_id, read, after=after, limit=limit)
    return _page(entries, limit, request)
