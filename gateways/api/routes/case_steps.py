"""One command endpoint per SOP step: POST /cases/{case_id}/<step>, from the step table.

The table is ``services.case_commands.CASE_STEPS``: each command class is its
own request body and names its path, SOP step and summary, so a new step gets
its endpoint, headers, errors and OpenAPI treatment without a line here.
Commands on a referral take the referral from the path, never from the body.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, create_model

from domain.actors import Actor
from gateways.api.deps import ActorDep, CasesDep, ExpectedVersion, IdempotencyKey
from gateways.api.problems import COMMAND_ERRORS
from gateways.api.schemas import CommandAccepted, accepted
from services.case_commands import CASE_STEPS, CaseCommand, CommandModel, ReferralCommand
from services.cases import Cases


def _body_without_referral(command: type[ReferralCommand]) -> type[BaseModel]:
    """The command's fields but the referral, which the path names."""
    fields: dict[str, Any] = {
        name: (info.annotation, info)
        for name, info in command.model_fields.items()
        if name != "referral_id"
    }
    return create_model(command.__name__, __base__=CommandModel, __doc__=command.__doc__, **fields)


@dataclass(frozen=True)
class Issuer:
    """Who issues a step's command, and how: the case service, the caller and the headers."""

    cases: Cases
    actor: Actor
    expected_version: int | None
    idempotency_key: str | None

    def issue(self, response: Response, case_id: UUID, command: CaseCommand) -> CommandAccepted:
        result = self.cases.execute(
            self.actor,
            case_id,
            command,
            expected_version=self.expected_version,
            idempotency_key=self.idempotency_key,
        )
        return accepted(response, result)


def issuer(
    cases: CasesDep,
    actor: ActorDep,
    version: ExpectedVersion,
    idempotency_key: IdempotencyKey = None,
) -> Issuer:
    return Issuer(cases, actor, version, idempotency_key)


IssuerDep = Annotated[Issuer, Depends(issuer)]


def _on_referral(command: type[ReferralCommand]) -> Callable[..., CommandAccepted]:
    body_model = _body_without_referral(command)

    def endpoint(
        case_id: UUID,
        referral_id: UUID,
        body: body_model,  # type: ignore[valid-type]  # a model made for this step
        response: Response,
        by: IssuerDep,
    ) -> CommandAccepted:
        sent: BaseModel = body
        issued = command.model_validate({**sent.model_dump(), "referral_id": str(referral_id)})
        return by.issue(response, case_id, issued)

    return endpoint


def _on_case(command: type[CaseCommand]) -> Callable[..., CommandAccepted]:
    def endpoint(
        case_id: UUID,
        body: command,  # type: ignore[valid-type]  # the step's own command class
        response: Response,
        by: IssuerDep,
    ) -> CommandAccepted:
        return by.issue(response, case_id, body)

    return endpoint


def _process_note(command: type[CaseCommand]) -> str:
    if command.process is None:
        return ""
    return (
        f" Part of the optional {command.process.value} process: refused (409, rule "
        "process_not_run) where the case's district does not run it (its profile's processes)."
    )


def build_router() -> APIRouter:
    router = APIRouter(prefix="/cases/{case_id}", tags=["case steps"])
    for command in CASE_STEPS:
        step = command.step
        if issubclass(command, ReferralCommand):
            path, endpoint = f"/referrals/{{referral_id}}/{step.path}", _on_referral(command)
        else:
            path, endpoint = f"/{step.path}", _on_case(command)
        router.add_api_route(
            path,
            endpoint,
            methods=["POST"],
            response_model=CommandAccepted,
            summary=f"{step.sop_step}: {step.summary}",
            description=f"SOP step {step.sop_step} (shared/domain.md). {step.summary}."
            + _process_note(command),
            operation_id=command.operation(),
            responses=COMMAND_ERRORS,
        )
    return router
