"""Service accounts over HTTP: an office administrator gives an agency's system its keys.

The key is in the answer of the creation and of each rotation, once: it is kept only
as a hash, so no later answer can show it again. The system sends it as
``Authorization: Bearer simpul_sk_<key id>_<secret>`` and acts as an officer of its
agency within its scopes (services/service_accounts.py says which routes each opens).
"""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from pydantic import BaseModel, Field, StringConstraints

from domain.service_accounts import MAX_NAME_LENGTH, MAX_REASON_LENGTH, Scope
from domain.vocabulary import Agency
from gateways.api.deps import ActorDep
from gateways.api.problems import Problem
from services.case_commands import REQUIRED_LINE, SINGLE_LINE, CommandModel, Distinct
from services.service_accounts import (
    KEY_ID_PATTERN,
    IssuedKey,
    ServiceAccountRecord,
    ServiceAccounts,
)

router = APIRouter(prefix="/service-accounts", tags=["service accounts"])

NO_STORE = {"Cache-Control": "no-store"}
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No valid bearer token"},
    403: {"model": Problem, "description": "Only the district's office administrators"},
    404: {"model": Problem, "description": "No such service account or key in the district"},
    409: {
        "model": Problem,
        "description": "The account is deactivated (rule account_inactive) or the key revoked "
        "already (rule key_not_live)",
    },
    422: {"model": Problem, "description": "A field is missing or malformed"},
    503: {"model": Problem, "description": "The store is unreachable; nothing was recorded"},
}
KeyId = Annotated[str, Path(pattern=KEY_ID_PATTERN, description="The key's id (16 hex digits)")]


def get_service_accounts(request: Request) -> ServiceAccounts:
    service: ServiceAccounts | None = getattr(request.app.state, "service_accounts", None)
    if service is None:
        raise HTTPException(503, "service accounts need the PostgreSQL event store")
    return service


ServiceAccountsDep = Annotated[ServiceAccounts, Depends(get_service_accounts)]


class NewServiceAccount(CommandModel):
    name: Annotated[
        str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH), REQUIRED_LINE
    ] = Field(description="What the system is, e.g. the police's case system")
    agency: Agency = Field(description="The agency it acts for; it must have an inbox")
    scopes: Distinct[Scope] = Field(
        min_length=1,
        max_length=len(Scope),
        description="inbox:read reads the agency's inbox, its referrals, hand-overs and their "
        "documents; referrals:answer accepts, declines, delivers and notes progress on its "
        "referrals, and acknowledges or hands back its hand-overs",
    )


class ServiceAccountView(BaseModel):
    account_id: str
    user_id: str = Field(description="How events and the access log name it when it acts")
    name: str
    agency: Agency
    district: str
    scopes: list[Scope]
    active: bool
    created_by: str
    created_at: datetime
    key_ids: list[str] = Field(description="Its live keys, by id (never a secret)")

    @classmethod
    def of(cls, record: ServiceAccountRecord) -> "ServiceAccountView":
        return cls(
            account_id=record.account_id,
            user_id=record.actor.user_id,
            name=record.name,
            agency=record.agency,
            district=record.district,
            scopes=sorted(record.scopes),
            active=record.active,
            created_by=record.created_by,
            created_at=record.created_at,
            key_ids=list(record.key_ids),
        )


class IssuedKeyView(BaseModel):
    account: ServiceAccountView
    key_id: str
    api_key: str = Field(
        description="Shown once: give it to the agency's system, which sends it as "
        "`Authorization: Bearer <api_key>`. Only its hash is kept."
    )

    @classmethod
    def of(cls, issued: IssuedKey) -> "IssuedKeyView":
        return cls(
            account=ServiceAccountView.of(issued.account),
            key_id=issued.key.key_id,
            api_key=issued.key.text,
        )


class Deactivation(CommandModel):
    reason: Annotated[str, StringConstraints(max_length=MAX_REASON_LENGTH), SINGLE_LINE] = ""


@router.post(
    "",
    response_model=IssuedKeyView,
    status_code=201,
    summary="Create a service account for an agency's system, with its first API key",
    responses=ERRORS,
)
def create_service_account(
    body: NewServiceAccount, actor: ActorDep, service: ServiceAccountsDep, response: Response
) -> IssuedKeyView:
    issued = service.create(actor, name=body.name, agency=body.agency, scopes=body.scopes)
    response.headers.update(NO_STORE)
    return IssuedKeyView.of(issued)


@router.get(
    "",
    response_model=list[ServiceAccountView],
    summary="The service accounts of the administrator's district (no secrets)",
    responses=ERRORS,
)
def list_service_accounts(
    actor: ActorDep, service: ServiceAccountsDep, response: Response
) -> list[ServiceAccountView]:
    response.headers.update(NO_STORE)
    return [ServiceAccountView.of(record) for record in service.accounts_of(actor)]


@router.post(
    "/{account_id}/keys",
    response_model=IssuedKeyView,
    status_code=201,
    summary="Issue a new API key (rotation); the old keys work until revoked",
    responses=ERRORS,
)
def rotate_key(
    account_id: UUID, actor: ActorDep, service: ServiceAccountsDep, response: Response
) -> IssuedKeyView:
    issued = service.rotate(actor, account_id)
    response.headers.update(NO_STORE)
    return IssuedKeyView.of(issued)


@router.post(
    "/{account_id}/keys/{key_id}/revocation",
    response_model=ServiceAccountView,
    summary="Revoke one API key: it is refused within seconds",
    responses=ERRORS,
)
def revoke_key(
    account_id: UUID, key_id: KeyId, actor: ActorDep, service: ServiceAccountsDep
) -> ServiceAccountView:
    return ServiceAccountView.of(service.revoke_key(actor, account_id, key_id))


@router.post(
    "/{account_id}/deactivation",
    response_model=ServiceAccountView,
    summary="Deactivate a service account: every key of it is refused within seconds",
    responses=ERRORS,
)
def deactivate_service_account(
    account_id: UUID, body: Deactivation, actor: ActorDep, service: ServiceAccountsDep
) -> ServiceAccountView:
    return ServiceAccountView.of(service.deactivate(actor, account_id, reason=body.reason))
