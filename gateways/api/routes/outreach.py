"""Outreach (penjangkauan, Kutai Timur K-O1-K-O5): map, verify, observe, grade, become a case.

Open to the staff of the district's coordinating office; auditors read. No
agency sees an outreach: an agency officer is refused (403) and the refusal
recorded. Every read is recorded in the access log before data is returned.
"""

from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from gateways.api.deps import (
    ActorDep,
    CaseReadDep,
    ExpectedVersion,
    IdempotencyKey,
    OutreachDep,
)
from gateways.api.problems import COMMAND_ERRORS, READ_ERRORS
from projections.outreach_record import (
    OutreachRecord,
    OutreachSummary,
    outreach_record,
    outreach_summary,
)
from services.case_commands import Identifier
from services.outreach import (
    OUTREACH_STEPS,
    BecomeCase,
    MapVulnerability,
    OutreachCommand,
    OutreachResult,
)


class OutreachAccepted(BaseModel):
    """What an outreach command recorded."""

    outreach_id: UUID
    version: int = Field(description="The outreach's version after the command; send as If-Match")
    recorded: list[str] = Field(description="Event types recorded by this command, in order")
    replayed: bool = Field(description="True when this answers a retry of an earlier request")
    case_id: UUID | None = Field(default=None, description="The case it became (K-R1)")
    register_number: str | None = None


def _accepted(response: Response, result: OutreachResult) -> OutreachAccepted:
    response.headers["ETag"] = f'"{result.version}"'
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/api/v1/outreach/{result.outreach_id}"
    return OutreachAccepted(
        outreach_id=result.outreach_id,
        version=result.version,
        recorded=list(result.recorded),
        replayed=result.replayed,
        case_id=result.case_id,
        register_number=result.register_number,
    )


router = APIRouter(prefix="/outreach", tags=["outreach"])


@router.post(
    "",
    status_code=201,
    response_model=OutreachAccepted,
    summary="K-O1: Map child vulnerability in a kelurahan from poor-family data",
    responses=COMMAND_ERRORS,
)
def map_vulnerability(
    command: MapVulnerability,
    response: Response,
    outreach: OutreachDep,
    actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> OutreachAccepted:
    """Start an outreach in the caller's district from its vulnerability map (counts only)."""
    result = outreach.map_vulnerability(actor, command, idempotency_key=idempotency_key)
    return _accepted(response, result)


@router.get(
    "",
    response_model=list[OutreachSummary],
    summary="The district's outreach records (no names, no observations)",
    responses=READ_ERRORS,
)
def list_outreach(
    outreach: OutreachDep,
    actor: ActorDep,
    read: CaseReadDep,
    district: Annotated[
        Identifier | None, Query(description="Auditors: the district; others read their own")
    ] = None,
) -> list[OutreachSummary]:
    """Every outreach of the district, oldest first; the read is recorded in the access log."""
    histories = outreach.district_events(actor, district or actor.district, read)
    return [outreach_summary(events) for events in histories]


@router.get(
    "/{outreach_id}",
    response_model=OutreachRecord,
    summary="One outreach record, with its observations",
    responses=READ_ERRORS,
)
def read_outreach(
    outreach_id: UUID, response: Response, outreach: OutreachDep, actor: ActorDep, read: CaseReadDep
) -> OutreachRecord:
    """The record of an outreach; its ETag is the outreach version."""
    record = outreach_record(outreach.read_events(actor, outreach_id, read))
    response.headers["ETag"] = f'"{record.version}"'
    return record


@router.post(
    "/{outreach_id}/case",
    status_code=201,
    response_model=OutreachAccepted,
    summary="K-R1: The outreach becomes a case (opened with channel outreach)",
    responses=COMMAND_ERRORS,
)
def become_case(
    outreach_id: UUID,
    command: BecomeCase,
    response: Response,
    outreach: OutreachDep,
    actor: ActorDep,
) -> OutreachAccepted:
    """Open the case and record it on the outreach in one transaction; a retry answers the
    same case."""
    accepted = _accepted(response, outreach.become_case(actor, outreach_id, command))
    response.headers["Location"] = f"/api/v1/cases/{accepted.case_id}"
    return accepted


def _step_endpoint(command: type[OutreachCommand]) -> Callable[..., OutreachAccepted]:
    def endpoint(
        outreach_id: UUID,
        body: command,  # type: ignore[valid-type]  # the step's own command class
        response: Response,
        outreach: OutreachDep,
        actor: ActorDep,
        version: ExpectedVersion,
        idempotency_key: IdempotencyKey = None,
    ) -> OutreachAccepted:
        result = outreach.execute(
            actor, outreach_id, body, expected_version=version, idempotency_key=idempotency_key
        )
        return _accepted(response, result)

    return endpoint


for _command in OUTREACH_STEPS:
    router.add_api_route(
        f"/{{outreach_id}}/{_command.path}",
        _step_endpoint(_command),
        methods=["POST"],
        response_model=OutreachAccepted,
        summary=f"{_command.step}: {_command.title}",
        description=f"SOP Penjangkauan step {_command.step} (Kutai Timur). {_command.title}.",
        operation_id=f"outreach_{_command.path.replace('-', '_')}",
        responses=COMMAND_ERRORS,
    )
