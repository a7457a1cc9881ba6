"""Response bodies the API shares across routes; request bodies are the commands themselves.

Commands (services/case_commands.py) are the request bodies of the case steps,
so what a client may send is declared once, next to how it is applied.
"""

from uuid import UUID

from fastapi import Response
from pydantic import BaseModel, Field

from services.case_commands import recommendation_id_for, referral_id_for
from services.cases import CommandResult


class CommandAccepted(BaseModel):
    """What a command recorded. Retrying with the same Idempotency-Key returns the same body."""

    case_id: UUID
    register_number: str
    version: int = Field(description="The case's version after the command; send it as If-Match")
    recorded: list[str] = Field(description="Event types recorded by this command, in order")
    replayed: bool = Field(description="True when this answers a retry of an earlier request")
    referral_id: UUID | None = Field(
        default=None, description="The new referral's id, when the command made a referral"
    )
    recommendation_id: UUID | None = Field(
        default=None,
        description="The new recommendation's id, when the command proposed a referral (K-C7)",
    )


def accepted(response: Response, result: CommandResult) -> CommandAccepted:
    """The answer to a command: the case's new version as its ETag, and what was recorded."""
    response.headers["ETag"] = f'"{result.version}"'
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return CommandAccepted(
        case_id=result.case_id,
        register_number=result.register_number,
        version=result.version,
        recorded=list(result.recorded),
        replayed=result.replayed,
        referral_id=(
            UUID(referral_id_for(result.case_id, result.version))
            if "Referred" in result.recorded
            else None
        ),
        recommendation_id=(
            UUID(recommendation_id_for(result.case_id, result.version))
            if "ReferralRecommended" in result.recorded
            else None
        ),
    )
