"""Agency inboxes: the referrals each agency's projection holds, for that agency's officers only."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from domain.actors import Actor
from domain.vocabulary import Agency, ReferralStatus, Role, ServiceType
from gateways.api.deps import ActorDep, AgencyInboxDep, CaseReadDep, CasesDep
from gateways.api.problems import Problem
from gateways.kafka.messages import CaseFacts
from services.access import CROSS_DISTRICT_AGENCIES
from services.case_commands import Identifier

router = APIRouter(prefix="/agencies", tags=["agencies"])

ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "No valid bearer token"},
    403: {"model": Problem, "description": "Only officers of this agency read its inbox"},
    404: {"model": Problem, "description": "No such agency inbox or referral"},
    422: {"model": Problem, "description": "A path or query parameter is invalid"},
    503: {"model": Problem, "description": "The agency projection is unreachable"},
}


class AgencyReferral(BaseModel):
    """A referral in the agency's inbox, with what the agency may know of its case."""

    referral_id: str
    case_id: UUID
    register_number: str = Field(description="The case's number in the district's register.")
    district: str
    service_type: ServiceType
    emergency: bool = Field(description="An emergency referral (routing rule e).")
    status: ReferralStatus
    due_at: datetime = Field(
        description="When the service is due, by the district's time standard."
    )
    overdue: bool = Field(description="Still open after its due time.")
    referred_at: datetime
    status_changed_at: datetime
    notes: str = Field(
        description="The referral's notes; empty where the data-sharing matrix or the consent "
        "gate withheld them, or once its retention passed."
    )
    referral_record_ref: str = Field(
        description="The referral record's number; empty like the notes."
    )
    details: dict[str, Any] = Field(
        description="What the last status changes said; their free text (notes, reason, "
        "summary) is empty where withheld, and gone once the retention passed."
    )
    case_status: Literal["open", "closed", "handed_over"] = Field(
        description="Whether the case is still open to this agency."
    )
    closing_reason: str | None = None
    personal_data_until: datetime | None = Field(
        default=None,
        description="When this inbox removes the referral's free text, and the case's "
        "personal facts unless the case is open to the agency again: the district's "
        "retention period after the agency's part in the case closed. Absent while open.",
    )
    facts: CaseFacts = Field(
        description="The case facts the data-sharing matrix allows this agency; "
        "what it may not see is absent, and so are the personal ones once the retention "
        "passed (see personal_data_until)."
    )


def _inbox_district(agency: Agency, actor: Actor) -> str | None:
    """The district whose referrals the caller reads: theirs, or all for cross-district ones."""
    if actor.role != Role.AGENCY_OFFICER or actor.agency != agency:
        raise HTTPException(403, "only officers of this agency read its inbox")
    return None if agency in CROSS_DISTRICT_AGENCIES else actor.district


def _referral(row: dict[str, Any]) -> AgencyReferral:
    return AgencyReferral.model_validate(row)


@router.get(
    "/{agency}/referrals",
    response_model=list[AgencyReferral],
    summary="The agency's referrals inbox, soonest due first",
    responses=ERRORS,
    response_model_exclude_none=True,
)
def list_referrals(
    agency: Agency,
    inbox: AgencyInboxDep,
    actor: ActorDep,
    read: CaseReadDep,
    cases: CasesDep,
    status: Annotated[
        ReferralStatus | None, Query(description="Only referrals in this status")
    ] = None,
    overdue: Annotated[
        bool | None, Query(description="Only overdue (true) or not overdue (false)")
    ] = None,
) -> list[AgencyReferral]:
    """Referrals to the caller's agency in the caller's district, from the agency's projection."""
    district = _inbox_district(agency, actor)
    rows = inbox.referrals(
        district=district,
        status=status.value if status else None,
        overdue=overdue,
        now=cases.clock(),
    )
    referrals = [_referral(row) for row in rows]
    cases.record_inbox_read(actor, (referral.case_id for referral in referrals), read)
    return referrals


@router.get(
    "/{agency}/referrals/{referral_id}",
    response_model=AgencyReferral,
    summary="One referral in the agency's inbox",
    responses=ERRORS,
    response_model_exclude_none=True,
)
def read_referral(
    agency: Agency,
    referral_id: Identifier,
    inbox: AgencyInboxDep,
    actor: ActorDep,
    read: CaseReadDep,
    cases: CasesDep,
) -> AgencyReferral:
    """A referral to the caller's agency, with what the agency may know of the case."""
    district = _inbox_district(agency, actor)
    rows = inbox.referrals(district=district, referral_id=referral_id, now=cases.clock())
    if not rows:
        raise HTTPException(404, "no such referral in this agency's inbox")
    referral = _referral(rows[0])
    cases.record_inbox_read(actor, [referral.case_id], read)
    return referral
