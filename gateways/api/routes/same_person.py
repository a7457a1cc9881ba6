"""The same person again: earlier cases naming the victim, links, and reopening a closed case.

The link and the reopening are commands, but not entries of the step table
(services/case_commands.CASE_STEPS): a link must check the other case against the
same-person index first, and a reopening opens a new case, so neither fits the
table's one-case endpoint. Both take Idempotency-Key; a link also takes If-Match.
"""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from gateways.api.deps import ActorDep, CaseReadDep, ExpectedVersion, IdempotencyKey
from gateways.api.problems import COMMAND_ERRORS, READ_ERRORS
from gateways.api.schemas import CommandAccepted, accepted
from services.same_person import LinkCase, ReopenCase, SamePerson, SamePersonMatches

router = APIRouter(prefix="/cases/{case_id}", tags=["same person"])


def get_same_person(request: Request) -> SamePerson:
    service: SamePerson | None = request.app.state.same_person
    if service is None:
        raise HTTPException(
            503, "matching the same person needs SIMPUL_PERSON_MATCH_KEY and PostgreSQL"
        )
    return service


SamePersonDep = Annotated[SamePerson, Depends(get_same_person)]


@router.get(
    "/same-person",
    response_model=SamePersonMatches,
    summary="L1.2: Earlier cases naming the same person (NIK, or name and birth date)",
    responses=READ_ERRORS,
)
def read_same_person(
    case_id: UUID, same_person: SamePersonDep, actor: ActorDep, read: CaseReadDep
) -> SamePersonMatches:
    """For the office of the case's district and auditors: other cases whose victim has the
    same keyed fingerprint. Another district's case shows only its district, register
    number and id. The look is recorded in the access log."""
    return same_person.earlier_cases(actor, case_id, read)


@router.post(
    "/links",
    response_model=CommandAccepted,
    summary="L1.2: Link another case naming the same person",
    responses=COMMAND_ERRORS,
)
def link_case(
    case_id: UUID,
    body: LinkCase,
    response: Response,
    same_person: SamePersonDep,
    actor: ActorDep,
    version: ExpectedVersion,
    idempotency_key: IdempotencyKey = None,
) -> CommandAccepted:
    """Records ``LinkedToCase`` on this case (and on the other, if it is this district's);
    linking twice records nothing. Refused: the case itself (422, rule link_to_itself),
    an unknown case or another district's case that does not match (404, rule
    linked_case_not_found)."""
    result = same_person.link(
        actor, case_id, body, expected_version=version, idempotency_key=idempotency_key
    )
    return accepted(response, result)


@router.post(
    "/reopening",
    status_code=201,
    response_model=CommandAccepted,
    summary="L1.1-L1.2 after L6.5: A new report on a closed case opens a new, linked case",
    responses=COMMAND_ERRORS,
)
def reopen_case(
    case_id: UUID,
    body: ReopenCase,
    response: Response,
    same_person: SamePersonDep,
    actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> CommandAccepted:
    """The closed case records ``Reopened`` (the new case, why) and stays closed with its
    history; the new case is reported as any (its time standards start at L1.1) and
    records ``LinkedToCase`` to the closed one. An open case is refused (409,
    rule case_not_closed)."""
    result = same_person.reopen(actor, case_id, body, idempotency_key=idempotency_key)
    response.headers["Location"] = f"/api/v1/cases/{result.case_id}"
    return accepted(response, result)
