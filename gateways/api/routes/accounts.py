"""Accounts over HTTP: login, accepting an invitation, and the office's staff.

A login answers a bearer token for the Actor the account is (the API process serving
it holds the token signing key: SIMPUL_TOKEN_PRIVATE_KEY). Staff administration is the
office administrator's, for their own district. Nothing here echoes an e-mail address
or a password back in an error, and no refusal says whether an address has an account.
"""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field, StringConstraints

from domain.vocabulary import Agency, Role
from gateways.api.deps import ActorDep
from gateways.api.problems import Problem
from gateways.tokens import TokenService
from services.accounts import Accounts, StaffRecord
from services.case_commands import REQUIRED_LINE, SINGLE_LINE, TextRule
from services.identity import PasswordAndCode, PasswordProof

router = APIRouter(tags=["accounts"])

# Passwords are kept as typed (no stripping), but never with control characters.
PASSWORD_TEXT = TextRule(multiline=False, required=True, strip=False)
Email = Annotated[str, StringConstraints(min_length=3, max_length=254), REQUIRED_LINE]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024), PASSWORD_TEXT]
Reason = Annotated[str, StringConstraints(max_length=500), SINGLE_LINE]
NO_STORE = {"Cache-Control": "no-store"}

LOGIN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {
        "model": Problem,
        "description": "Refused (rule bad_credentials, second_factor_required, "
        "bad_second_factor or second_factor_enrolment_required)",
    },
    422: {"model": Problem, "description": "A field is missing or malformed"},
    503: {
        "model": Problem,
        "description": "This process cannot issue tokens, or the store is unreachable",
    },
}
STAFF_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No valid bearer token"},
    403: {"model": Problem, "description": "Only the district's office administrators"},
    404: {"model": Problem, "description": "No such staff member in the district"},
    409: {"model": Problem, "description": "The change is not possible now (rule named)"},
    422: {"model": Problem, "description": "A field is missing or malformed"},
    503: {"model": Problem, "description": "The store is unreachable; nothing was recorded"},
}


def get_accounts(request: Request) -> Accounts:
    accounts: Accounts | None = request.app.state.accounts
    if accounts is None:
        raise HTTPException(503, "accounts need the PostgreSQL event store")
    return accounts


def get_login_tokens(request: Request) -> TokenService:
    tokens: TokenService | None = request.app.state.login_tokens
    if tokens is None or not tokens.can_mint:
        raise HTTPException(503, "this process holds no token signing key: it cannot log in")
    return tokens


AccountsDep = Annotated[Accounts, Depends(get_accounts)]
LoginTokensDep = Annotated[TokenService, Depends(get_login_tokens)]


class LoginRequest(BaseModel):
    email: Email
    password: Password
    one_time_code: Annotated[str, StringConstraints(max_length=16), SINGLE_LINE] | None = Field(
        default=None,
        description="The 6 digits of the authenticator app; required for coordinators, "
        "supervisors, auditors and office administrators, and for anyone who enrolled one.",
    )


class LoginAnswer(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int = Field(description="Seconds the token lives")
    user_id: str
    role: Role
    agency: Agency
    district: str


@router.post(
    "/login",
    response_model=LoginAnswer,
    summary="Log in with an e-mail address, a password and a one-time code",
    responses=LOGIN_ERRORS,
)
def login(
    body: LoginRequest, response: Response, accounts: AccountsDep, tokens: LoginTokensDep
) -> LoginAnswer:
    proof = PasswordProof(body.email, body.password, body.one_time_code)
    actor = PasswordAndCode(accounts).authenticate(proof)
    response.headers.update(NO_STORE)
    return LoginAnswer(
        access_token=tokens.mint(actor),
        expires_in=int(tokens.ttl.total_seconds()),
        user_id=actor.user_id,
        role=actor.role,
        agency=actor.agency,
        district=actor.district,
    )


class InvitationAcceptance(BaseModel):
    invitation_code: Annotated[str, StringConstraints(min_length=1, max_length=64), REQUIRED_LINE]
    password: Password = Field(
        description="At least 12 characters; very common passwords are refused"
    )


class SecondFactorOffer(BaseModel):
    secret: str = Field(description="The TOTP key (base32) to add to an authenticator app")
    otpauth_uri: str = Field(description="The same, as an otpauth:// URI (a QR code's text)")
    required: bool = Field(
        description="The role needs a second factor: the first login must give a code"
    )


@router.post(
    "/invitations/acceptance",
    response_model=SecondFactorOffer,
    summary="Accept an invitation: choose a password, receive a second-factor key",
    responses={422: LOGIN_ERRORS[422], 503: LOGIN_ERRORS[503]},
)
def accept_invitation(
    body: InvitationAcceptance, response: Response, accounts: AccountsDep
) -> SecondFactorOffer:
    setup = accounts.accept_invitation(body.invitation_code, body.password)
    response.headers.update(NO_STORE)
    return SecondFactorOffer(secret=setup.secret, otpauth_uri=setup.uri, required=setup.required)


class StaffMemberView(BaseModel):
    user_id: str
    email: str
    display_name: str
    role: Role
    agency: Agency
    district: str
    active: bool
    second_factor: bool

    @classmethod
    def of(cls, record: StaffRecord) -> "StaffMemberView":
        return cls(
            user_id=record.user_id,
            email=record.email,
            display_name=record.display_name,
            role=record.role,
            agency=record.agency,
            district=record.district,
            active=record.active,
            second_factor=record.second_factor,
        )


class NewStaffMember(BaseModel):
    email: Email
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=200), REQUIRED_LINE]
    role: Role
    agency: Agency


class InvitationView(BaseModel):
    user_id: str
    invitation_code: str = Field(
        description="Shown once: give it to the person, who accepts it with a password"
    )
    expires_at: datetime


class RoleChange(BaseModel):
    role: Role
    agency: Agency


class Deactivation(BaseModel):
    reason: Reason = ""


@router.get(
    "/staff",
    response_model=list[StaffMemberView],
    summary="The staff of the administrator's district, active or not",
    responses=STAFF_ERRORS,
)
def list_staff(actor: ActorDep, accounts: AccountsDep, response: Response) -> list[StaffMemberView]:
    response.headers.update(NO_STORE)
    return [StaffMemberView.of(record) for record in accounts.staff_of(actor)]


@router.post(
    "/staff",
    response_model=InvitationView,
    status_code=201,
    summary="Invite a person to the district's staff",
    responses=STAFF_ERRORS,
)
def invite_staff(
    body: NewStaffMember, actor: ActorDep, accounts: AccountsDep, response: Response
) -> InvitationView:
    invitation = accounts.invite(
        actor, email=body.email, display_name=body.display_name, role=body.role, agency=body.agency
    )
    response.headers.update(NO_STORE)
    return InvitationView(
        user_id=invitation.user_id,
        invitation_code=invitation.code,
        expires_at=invitation.expires_at,
    )


@router.post(
    "/staff/{user_id}/role",
    response_model=StaffMemberView,
    summary="Change a person's role or agency (their tokens are revoked)",
    responses=STAFF_ERRORS,
)
def change_role(
    user_id: UUID, body: RoleChange, actor: ActorDep, accounts: AccountsDep
) -> StaffMemberView:
    record = accounts.change_role(actor, str(user_id), role=body.role, agency=body.agency)
    return StaffMemberView.of(record)


@router.post(
    "/staff/{user_id}/deactivation",
    response_model=StaffMemberView,
    summary="Deactivate a person: their credentials are forgotten, their tokens revoked",
    responses=STAFF_ERRORS,
)
def deactivate(
    user_id: UUID, body: Deactivation, actor: ActorDep, accounts: AccountsDep
) -> StaffMemberView:
    return StaffMemberView.of(accounts.deactivate(actor, str(user_id), reason=body.reason))


@router.post(
    "/staff/{user_id}/reactivation",
    response_model=InvitationView,
    summary="Reactivate a person, with a new invitation",
    responses=STAFF_ERRORS,
)
def reactivate(
    user_id: UUID, actor: ActorDep, accounts: AccountsDep, response: Response
) -> InvitationView:
    invitation = accounts.reactivate(actor, str(user_id))
    response.headers.update(NO_STORE)
    return InvitationView(
        user_id=invitation.user_id,
        invitation_code=invitation.code,
        expires_at=invitation.expires_at,
    )
