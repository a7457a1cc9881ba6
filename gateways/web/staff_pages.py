"""Staff administration and invitations in the browser, over the same ``Accounts`` as
the API's /staff routes: every change of a person's rights is an event of their account.

An office administrator invites people of their district (the invitation code is shown
once, to be handed over in person or by phone, never mailed with the address), changes
roles, deactivates (the person's sessions and tokens die within the revocation cache's
refresh) and reactivates. The invited person accepts on /invitation, before any session
exists: they choose a password and are given their second-factor key.
"""

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from domain.errors import InvalidValue, RuleViolated
from domain.vocabulary import Agency, Role
from gateways.api.routes.accounts import Deactivation, NewStaffMember, RoleChange
from gateways.api.routes.service_accounts import NewServiceAccount
from gateways.web.forms import PostedForm, field_errors, items_of, posted_value
from gateways.web.i18n import N_
from gateways.web.login import MAX_LOGIN_FORM_BYTES, pre_session_form_is_ours, pre_session_page
from gateways.web.pages import (
    SessionDep,
    csrf_refused,
    language_of,
    page,
    posted_form,
    refused,
    session_form,
)
from gateways.web.rule_messages import change_refusal_text
from services.access import AccessDenied, may_administer_staff
from services.accounts import Accounts, EmailTaken, Invitation, StaffNotFound
from services.passwords import MAX_LENGTH, MIN_LENGTH
from services.service_accounts import IssuedKey, ServiceAccountNotFound, ServiceAccounts

INVITE_ITEMS = items_of(NewStaffMember)
DEACTIVATION_ITEMS = items_of(Deactivation)
SYSTEM_ITEMS = items_of(NewServiceAccount)
ROLE_ITEMS = items_of(RoleChange)
NOT_ADMINISTRATOR = N_("Only an office administrator of the district administers its staff.")

router = APIRouter(include_in_schema=False)


def _accounts(request: Request) -> Accounts | None:
    accounts: Accounts | None = request.app.state.accounts
    return accounts


def _staff_page(
    request: Request,
    session: SessionDep,
    accounts: Accounts,
    *,
    status: int = 200,
    invitation: Invitation | None = None,
    values: PostedForm | None = None,
    errors: dict[str, str] | None = None,
    issued_key: IssuedKey | None = None,
) -> Response:
    systems: ServiceAccounts | None = getattr(request.app.state, "service_accounts", None)
    return page(
        request,
        "staff.html",
        status=status,
        title=N_("Staff"),
        staff=sorted(accounts.staff_of(session.actor), key=lambda m: m.display_name),
        invite_items=INVITE_ITEMS,
        roles=list(Role),
        agencies=list(Agency),
        deactivation_items=DEACTIVATION_ITEMS,
        invitation=invitation,
        values=values or PostedForm({}),
        errors=errors or {},
        actor_id=session.actor.user_id,
        systems=systems.accounts_of(session.actor) if systems is not None else None,
        system_items=SYSTEM_ITEMS,
        issued_key=issued_key,
    )


def _change_refused(request: Request, rule: RuleViolated) -> Response:
    """A change the account's state does not allow now (deactivating one already
    deactivated, giving a role the person has): the rule, said in the user's language."""
    return page(
        request,
        "refused.html",
        status=409,
        title=N_("Not allowed"),
        message=change_refusal_text(language_of(request), rule),
    )


def _administrator(request: Request, session: SessionDep) -> Accounts | None:
    accounts = _accounts(request)
    if accounts is None or not may_administer_staff(session.actor, session.actor.district):
        return None
    return accounts


@router.get("/staff", response_class=HTMLResponse)
def staff_list(request: Request, session: SessionDep) -> Response:
    accounts = _administrator(request, session)
    if accounts is None:
        return refused(request, 403, N_("Not allowed"), NOT_ADMINISTRATOR)
    return _staff_page(request, session, accounts)


@router.post("/staff", response_class=HTMLResponse)
async def invite(request: Request, session: SessionDep) -> Response:
    form = await session_form(request, session)
    accounts = _administrator(request, session)
    if form is None:
        return csrf_refused(request)
    if accounts is None:
        return refused(request, 403, N_("Not allowed"), NOT_ADMINISTRATOR)
    try:
        wanted = NewStaffMember.model_validate(posted_value(INVITE_ITEMS, form, zone=None))
        invitation = accounts.invite(
            session.actor,
            email=wanted.email,
            display_name=wanted.display_name,
            role=wanted.role,
            agency=wanted.agency,
        )
    except ValidationError as invalid:
        errors = field_errors(invalid)
        return _staff_page(request, session, accounts, status=422, values=form, errors=errors)
    except InvalidValue as invalid:
        errors = field_errors(invalid)
        return _staff_page(request, session, accounts, status=422, values=form, errors=errors)
    except EmailTaken:
        errors = {"email": N_("Another account has this e-mail address.")}
        return _staff_page(request, session, accounts, status=409, values=form, errors=errors)
    except AccessDenied:
        return refused(request, 403, N_("Not allowed"), NOT_ADMINISTRATOR)
    return _staff_page(request, session, accounts, status=201, invitation=invitation)


@router.post("/staff/{user_id}/{change}", response_class=HTMLResponse)
async def change_member(
    request: Request, user_id: str, change: str, session: SessionDep
) -> Response:
    """A change of role or agency (the person's sessions and tokens end, as the API's), a
    deactivation or a reactivation of one person of the district."""
    form = await session_form(request, session)
    accounts = _administrator(request, session)
    if form is None:
        return csrf_refused(request)
    if accounts is None:
        return refused(request, 403, N_("Not allowed"), NOT_ADMINISTRATOR)
    invitation = None
    try:
        if change == "role":
            wanted = RoleChange.model_validate(posted_value(ROLE_ITEMS, form, zone=None))
            accounts.change_role(session.actor, user_id, role=wanted.role, agency=wanted.agency)
        elif change == "deactivation":
            reason = Deactivation.model_validate(posted_value(DEACTIVATION_ITEMS, form, zone=None))
            accounts.deactivate(session.actor, user_id, reason=reason.reason)
        elif change == "reactivation":
            invitation = accounts.reactivate(session.actor, user_id)
        else:
            return refused(request, 404, N_("Not found"), N_("There is no such page."))
    except ValidationError as invalid:
        errors = field_errors(invalid)
        return _staff_page(request, session, accounts, status=422, errors=errors)
    except (InvalidValue, StaffNotFound, AccessDenied):
        return refused(
            request, 404, N_("Not found"), N_("There is no such person in your district.")
        )
    except RuleViolated as rule:
        return _change_refused(request, rule)
    return _staff_page(request, session, accounts, invitation=invitation)


# ---- Agencies' systems: service accounts and their keys ------------------------------


@router.post("/service-accounts", response_class=HTMLResponse)
async def create_service_account(request: Request, session: SessionDep) -> Response:
    """A service account for an agency's own system; its key is shown once, on this page."""
    form = await session_form(request, session)
    accounts = _administrator(request, session)
    systems: ServiceAccounts | None = getattr(request.app.state, "service_accounts", None)
    if form is None:
        return csrf_refused(request)
    if accounts is None or systems is None:
        return refused(request, 403, N_("Not allowed"), NOT_ADMINISTRATOR)
    try:
        wanted = NewServiceAccount.model_validate(posted_value(SYSTEM_ITEMS, form, zone=None))
        issued = systems.create(
            session.actor, name=wanted.name, agency=wanted.agency, scopes=list(wanted.scopes)
        )
    except ValidationError as invalid:
        errors = field_errors(invalid)
        return _staff_page(request, session, accounts, status=422, values=form, errors=errors)
    except InvalidValue as invalid:
        errors = field_errors(invalid)
        return _staff_page(request, session, accounts, status=422, values=form, errors=errors)
    except AccessDenied:
        return refused(request, 403, N_("Not allowed"), NOT_ADMINISTRATOR)
    return _staff_page(request, session, accounts, status=201, issued_key=issued)


@router.post("/service-accounts/{account_id}/deactivation", response_class=HTMLResponse)
async def deactivate_service_account(
    request: Request, account_id: UUID, session: SessionDep
) -> Response:
    """Every key of the account is refused within the revocation refresh."""
    form = await session_form(request, session)
    accounts = _administrator(request, session)
    systems: ServiceAccounts | None = getattr(request.app.state, "service_accounts", None)
    if form is None:
        return csrf_refused(request)
    if accounts is None or systems is None:
        return refused(request, 403, N_("Not allowed"), NOT_ADMINISTRATOR)
    try:
        reason = Deactivation.model_validate(posted_value(DEACTIVATION_ITEMS, form, zone=None))
        systems.deactivate(session.actor, account_id, reason=reason.reason)
    except ValidationError as invalid:
        return _staff_page(request, session, accounts, status=422, errors=field_errors(invalid))
    except (ServiceAccountNotFound, AccessDenied):
        return refused(request, 404, N_("Not found"), N_("There is no such page."))
    except RuleViolated as rule:
        return _change_refused(request, rule)
    return _staff_page(request, session, accounts)


# ---- Accepting an invitation (no session yet) ---------------------------------------


INVITATION_REFUSED = N_("The invitation code is not valid, or it expired.")
# The password rules (services/passwords.py) as the pages say them.
PASSWORD_REFUSALS = {
    f"must be at least {MIN_LENGTH} characters": N_(
        "The password must be at least 12 characters long."
    ),
    f"must be at most {MAX_LENGTH} characters": N_("The password is too long."),
    "is too common or too easy to guess": N_(
        "This password is too common or too easy to guess: choose another."
    ),
}


@router.get("/invitation", response_class=HTMLResponse)
def invitation_form(request: Request) -> Response:
    return pre_session_page(request, "invitation.html", title=N_("Accept an invitation"))


@router.post("/invitation", response_class=HTMLResponse)
async def accept_invitation(request: Request) -> Response:
    form = await posted_form(request, max_bytes=MAX_LOGIN_FORM_BYTES)
    accounts = _accounts(request)
    if not pre_session_form_is_ours(request, form) or accounts is None:
        return pre_session_page(
            request,
            "invitation.html",
            status=403,
            title=N_("Accept an invitation"),
            refusal=N_("The form expired: please try again."),
        )
    refusal = None
    if form.first("password") != form.first("password_again"):
        refusal = N_("The two passwords are not the same.")
    else:
        try:
            setup = accounts.accept_invitation(
                form.first("invitation_code"), form.first("password")
            )
        except InvalidValue as invalid:
            refusal = (
                INVITATION_REFUSED
                if invalid.field == "invitation_code"
                else PASSWORD_REFUSALS.get(invalid.message, invalid.message)
            )
        else:
            return page(
                request,
                "second_factor.html",
                title=N_("Your second factor"),
                secret=" ".join(setup.secret[i : i + 4] for i in range(0, len(setup.secret), 4)),
                uri=setup.uri,
                required=setup.required,
            )
    return pre_session_page(
        request, "invitation.html", status=422, title=N_("Accept an invitation"), refusal=refusal
    )
