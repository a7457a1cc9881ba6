"""Agency inboxes: the referrals each agency's projection holds, for that agency's officers only."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from domain.actors import Actor
from domain.vocabulary import Agency, HandoverTarget, ReferralStatus, Role, ServiceType
from gateways.api.deps import ActorDep, AgencyInboxDep, CaseReadDep, CasesDep
from gateways.api.problems import Problem
from gateways.kafka.messages import CaseFacts
from services.access import CROSS_DISTRICT_AGENCIES
from services.case_commands import Identifier
from services.cases import Cases

router = APIRouter(prefix="/agencies", tags=["agencies"])

ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "No valid bearer token"},
    403: {"model": Problem, "description": "Only officers of this agency read its inbox"},
    404: {"model": Problem, "description": "No such agency inbox or referral"},
    422: {"model": Problem, "description": "A path or query parameter is invalid"},
    503: {"model": Problem, "description": "The agency projection is unreachable"},
}


class AgencyDocument(BaseModel):
    """A document of the case this agency may fetch (its row of the sharing matrix lists the
    kind): GET /api/v1/agencies/{agency}/cases/{case_id}/documents/{document_id}."""

    document_id: UUID
    kind: str
    step: str = Field(description="The SOP step it was attached at; empty for the case.")
    media_type: str
    size: int
    sha256: str = Field(description="SHA-256 of the content: check what you fetch.")
    attached_at: datetime


class AgencyBeneficiary(BaseModel):
    """A beneficiary added to the case (a sibling, one of a family or group) whom the
    referral is for, as far as the matrix and that beneficiary's consent allow."""

    beneficiary_id: str = Field(description="Their number in the case: 2, 3, ...")
    child: bool
    relationship: str = Field(
        description="How they relate to the report's victim; empty where withheld."
    )
    person: dict[str, Any] = Field(
        description="Who they are, through this agency's victim paths; empty before their consent."
    )


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
    documents: list[AgencyDocument] = Field(
        default_factory=list,
        description="Documents of the case this agency may fetch, as its topic announced them.",
    )
    beneficiaries: list[AgencyBeneficiary] = Field(
        default_factory=list,
        description="The beneficiaries added to the case whom this referral is for; empty for "
        "a referral for the report's victim (see facts.victim).",
    )


class ContactThrough(BaseModel):
    """Whom to ask about the case: the office that handed it over, by its register number."""

    office: Agency = Field(description="The agency of the district's coordinating office.")
    coordinating_body: str = Field(
        description="The office's name in the district's SOP, e.g. UPTD PPA Kabupaten Luwu Utara."
    )
    district: str
    register_number: str = Field(description="Quote it: the case's number in its register.")


class AgencyHandover(BaseModel):
    """A case handed over to the agency (L1.5 b-d), with its answer and whom to contact."""

    case_id: UUID
    register_number: str
    district: str
    target: HandoverTarget
    handed_over_at: datetime
    state: Literal["awaiting_acknowledgement", "acknowledged", "handed_back"] = Field(
        description="Whether the agency has acknowledged the case, or handed it back."
    )
    answered_at: datetime | None = Field(
        default=None, description="When it acknowledged the case or handed it back."
    )
    identity_withheld: bool = Field(
        description="No identity of the victim reached the agency: informed consent (L1.9-10) "
        "was not recorded before the hand-over. Contact the office (contact_through) to make "
        "contact with the beneficiary."
    )
    contact_through: ContactThrough
    personal_data_until: datetime = Field(
        description="When this inbox removes the case's personal facts: the district's "
        "retention period after the hand-over."
    )
    facts: CaseFacts = Field(
        description="The case facts the data-sharing matrix allows this agency, as at the "
        "hand-over; personal ones are absent before consent and once the retention passed."
    )
    documents: list[AgencyDocument] = Field(
        default_factory=list,
        description="Documents of the case this agency may fetch, as its topic announced them.",
    )


def _inbox_district(agency: Agency, actor: Actor) -> str | None:
    """The district whose referrals the caller reads: theirs, or all for cross-district ones."""
    if actor.role != Role.AGENCY_OFFICER or actor.agency != agency:
        raise HTTPException(403, "only officers of this agency read its inbox")
    return None if agency in CROSS_DISTRICT_AGENCIES else actor.district


def _referral(row: dict[str, Any]) -> AgencyReferral:
    held: dict[str, dict[str, Any]] = row.pop("beneficiaries", None) or {}
    for_this = [
        {"beneficiary_id": beneficiary_id, **beneficiary}
        for beneficiary_id, beneficiary in sorted(held.items(), key=lambda item: int(item[0]))
        if row["referral_id"] in beneficiary["referral_ids"]
    ]
    return AgencyReferral.model_validate({**row, "beneficiaries": for_this})


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


def _handover(row: dict[str, Any], cases: Cases) -> AgencyHandover:
    answer = row["handover_answer"] or {}
    district = row["district"]
    profiles = cases.profiles
    coordinating_body = (
        profiles.profile(district).coordinating_body if district in profiles.districts() else ""
    )
    return AgencyHandover(
        case_id=row["case_id"],
        register_number=row["register_number"],
        district=district,
        target=row["closing_reason"].removeprefix("handed_over:"),
        handed_over_at=row["closed_at"],
        state=answer.get("status", "awaiting_acknowledgement"),
        answered_at=answer.get("at"),
        identity_withheld=not row["facts"].get("victim"),
        contact_through=ContactThrough(
            office=profiles.coordinating_agency(district),
            coordinating_body=coordinating_body,
            district=district,
            register_number=row["register_number"],
        ),
        personal_data_until=row["personal_data_until"],
        facts=row["facts"],
        documents=row.get("documents") or [],
    )


@router.get(
    "/{agency}/handovers",
    response_model=list[AgencyHandover],
    summary="Cases handed over to the agency (L1.5 b-d), newest first, with its answer",
    responses=ERRORS,
    response_model_exclude_none=True,
)
def list_handovers(
    agency: Agency,
    inbox: AgencyInboxDep,
    actor: ActorDep,
    read: CaseReadDep,
    cases: CasesDep,
) -> list[AgencyHandover]:
    """Cases handed over to the caller's agency; acknowledge one at
    ``POST /cases/{case_id}/handover-acknowledgement``, return it at ``.../handback``."""
    district = _inbox_district(agency, actor)
    handovers = [
        _handover(row, cases) for row in inbox.handovers(district=district, now=cases.clock())
    ]
    cases.record_inbox_read(actor, (handover.case_id for handover in handovers), read)
    return handovers
