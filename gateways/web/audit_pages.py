"""The auditor's pages: the case's timeline as it stood at a version or a moment, with
the time standards met or missed, the hash chain's verification and who read the case.

Each is the same read as its API route (GET /api/v1/cases/{id}/timeline, /verification,
/access-log), through the same access checks, and is itself recorded in the access log.
The as-of cut travels in the query (a version number or a moment): never personal data.
"""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from gateways.api.routes.audit import chain_check
from gateways.web.i18n import N_
from gateways.web.pages import SessionDep, not_found, page
from projections.case_file import NothingRecordedThen
from projections.timeline import case_timeline
from services.access import AccessDenied
from services.access_log import CaseRead
from services.cases import CaseNotFound, Cases

ACCESS_LOG_PAGE = 200

router = APIRouter(include_in_schema=False)


@router.get("/cases/{case_id}/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    case_id: UUID,
    session: SessionDep,
    version: Annotated[int | None, Query(ge=1)] = None,
    as_of: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """The timeline (as of a version or a local moment of the district) and the chain."""
    cases: Cases = request.app.state.cases
    actor = session.actor
    try:
        case, events = cases.read_case(
            actor, case_id, CaseRead(view="audit_page"), upto_version=version
        )
        profile = cases.district_profile(events[0])
        moment = _local_moment(as_of, profile.timezone) if as_of else None
        timeline = case_timeline(events, profile, now=cases.clock(), version=version, as_of=moment)
    except (CaseNotFound, AccessDenied):
        return not_found(request)
    except (NothingRecordedThen, ValueError):
        return page(
            request,
            "refused.html",
            status=422,
            title=N_("Nothing recorded then"),
            message=N_("The case had nothing recorded at that version or time."),
        )
    checker = request.app.state.chain_checker
    verification = None
    if checker is not None and cases.access.may_verify(actor, case):
        cases.authorize_case_read(
            actor, case_id, CaseRead(view="verification_page"), permitted=cases.access.may_verify
        )
        verification = chain_check(checker.verify_case(case_id))
    return page(
        request,
        "audit.html",
        title=N_("Case timeline"),
        timeline=timeline,
        verification=verification,
        version=version,
        as_of=as_of or "",
        timezone=profile.timezone,
    )


def _local_moment(text: str, zone: object) -> datetime:
    """A ``datetime-local`` value, read on the district's clocks."""
    return datetime.fromisoformat(text).replace(tzinfo=zone)  # type: ignore[arg-type]


@router.get("/cases/{case_id}/access-log", response_class=HTMLResponse)
def access_log_page(request: Request, case_id: UUID, session: SessionDep) -> Response:
    """Who read the case, and who was refused: auditors and the office's coordinator."""
    cases: Cases = request.app.state.cases
    try:
        entries = cases.access_log_of_case(
            session.actor, case_id, CaseRead(view="access_log_page"), limit=ACCESS_LOG_PAGE
        )
        case = cases.visible_case(session.actor, case_id)
    except (CaseNotFound, AccessDenied):
        return not_found(request)
    profile = cases.profiles.profile(case.district)
    return page(
        request,
        "access_log.html",
        title=N_("Who read the case"),
        case_id=case_id,
        register_number=case.register_number,
        entries=[entry.record for entry in entries],
        timezone=profile.timezone,
    )
