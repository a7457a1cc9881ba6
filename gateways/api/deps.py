"""What routes declare they need: the calling actor, the case service, command headers."""

import logging
import re
from typing import Annotated, Protocol
from uuid import UUID, uuid4

from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import Depends, Header, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import StringConstraints

from domain.actors import Actor
from domain.service_accounts import names_service_account
from domain.vocabulary import Agency
from gateways.api.limits import RequestGuard
from gateways.api.views import view_of
from gateways.eventstore.verify import CaseVerification
from gateways.readmodels.agency import AgencyStore
from gateways.readmodels.coordinator import CoordinatorStore
from gateways.tokens import InvalidToken, TokenService
from services.access import AccessDenied
from services.access_log import (
    MAX_PURPOSE_LENGTH,
    MAX_REQUEST_ID_LENGTH,
    AccessNotRecorded,
    CaseRead,
)
from services.accounts import Accounts
from services.case_commands import SINGLE_LINE
from services.cases import Cases
from services.outreach import OutreachRecords
from services.service_accounts import KeyRefused, ServiceAccounts, is_api_key, require_scope


class ChainChecker(Protocol):
    def verify_case(self, case_id: UUID) -> CaseVerification: ...


log = logging.getLogger("simpul.api")
# gateways/api/app.py mounts the API here (it imports this module, so not from there).
API_PREFIX = "/api/v1"
_bearer = HTTPBearer(
    auto_error=False,
    description="A token from POST /api/v1/login (or `simpul token` in development), or an "
    "agency system's API key (`simpul_sk_<key id>_<secret>`, from POST "
    "/api/v1/service-accounts), which may call only the routes its scopes open",
)
# A case version as an ETag: "3", W/"3" or a bare 3.
ETAG_PATTERN = r'^(W/)?("[0-9]{1,18}"|[0-9]{1,18})$'


def get_cases(request: Request) -> Cases:
    cases: Cases = request.app.state.cases
    return cases


def get_outreach(request: Request) -> OutreachRecords:
    records: OutreachRecords = request.app.state.outreach
    return records


def get_tokens(request: Request) -> TokenService:
    tokens: TokenService = request.app.state.tokens
    return tokens


def _unavailable(what: str) -> HTTPException:
    return HTTPException(503, f"{what} need the PostgreSQL event store")


def get_coordinator_views(request: Request) -> CoordinatorStore:
    views: CoordinatorStore | None = request.app.state.coordinator_views
    if views is None:
        raise _unavailable("the coordinator's views")
    return views


def agency_inbox(agency: Agency, request: Request) -> AgencyStore:
    """The inbox of the agency the path names; 404 for an agency with no inbox."""
    if agency.value not in request.app.state.projected_agencies:
        raise HTTPException(404, "there is no inbox for this agency")
    inbox: AgencyStore | None = request.app.state.agency_inboxes.get(agency.value)
    if inbox is None:
        raise _unavailable("the agency inboxes")
    return inbox


def get_chain_checker(request: Request) -> ChainChecker:
    checker: ChainChecker | None = request.app.state.chain_checker
    if checker is None:
        raise _unavailable("chain checks")
    return checker


def current_actor(
    request: Request,
    tokens: Annotated[TokenService, Depends(get_tokens)],
    cases: Annotated[Cases, Depends(get_cases)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The caller the token names; a missing or refused token is a 401, recorded in the
    access log by the view and the reason only (nothing of the token, no path value)."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        _record_failed_authentication(request, cases, "token_missing")
        raise HTTPException(401, "a bearer token is required", headers=challenge)
    if is_api_key(credentials.credentials):
        return _service_caller(request, cases, credentials.credentials)
    try:
        actor = tokens.verify(credentials.credentials)
    except InvalidToken as error:
        _record_failed_authentication(request, cases, error.reason)
        raise HTTPException(401, str(error), headers=challenge) from None
    if names_service_account(actor.user_id):
        # A system acts through its keys alone, which its revocation and deactivation end:
        # a token naming it (`simpul token` can name anyone) would outlive both.
        _record_failed_authentication(request, cases, "token_names_service_account")
        raise HTTPException(
            401, "a service account authenticates with its API key only", headers=challenge
        )
    accounts: Accounts | None = request.app.state.accounts
    if accounts is not None:
        try:
            accounts.require_active(actor)
        except AccessDenied:
            _record_failed_authentication(request, cases, "account_inactive")
            raise HTTPException(
                401, "the token's account is deactivated or has changed", headers=challenge
            ) from None
    # The problem handlers attribute a refusal (403, 404) to the caller from here.
    request.state.actor = actor
    return actor


KEY_REFUSALS = {
    "api_key_malformed": "the API key is not of the form simpul_sk_<key id>_<secret>",
    "api_key_unknown": "the API key is not valid for this deployment",
    "api_key_revoked": "the API key has been revoked",
    "service_account_inactive": "the API key's service account is deactivated",
}


def _service_caller(request: Request, cases: Cases, key: str) -> Actor:
    """The agency officer a service account's key acts as, if its scopes open this route.

    Nothing of the key reaches an error or the log: the refusal's reason only."""
    service: ServiceAccounts | None = getattr(request.app.state, "service_accounts", None)
    if service is None:
        raise _unavailable("API keys")
    try:
        caller = service.authenticate(key)
    except KeyRefused as refused:
        _record_failed_authentication(request, cases, refused.reason)
        raise HTTPException(
            401, KEY_REFUSALS[refused.reason], headers={"WWW-Authenticate": "Bearer"}
        ) from None
    # Attributed from here: a refusal for scope is recorded with the account's name.
    request.state.actor = caller.actor
    method = "GET" if request.method == "HEAD" else request.method
    # A nested router's route names its path under the API's prefix (FastAPI 0.165);
    # older FastAPI copied routes with the whole path: either way, the path under /api/v1.
    route_path = str(request.scope["route"].path).removeprefix(API_PREFIX)
    require_scope(caller, method, route_path)
    return caller.actor


def _record_failed_authentication(request: Request, cases: Cases, reason: str) -> None:
    try:
        cases.record_failed_authentication(view_of(request), reason)
    except (AccessNotRecorded, OperationalError, InterfaceError) as error:
        # The caller is refused either way; the operator learns the trace is missing.
        log.error("failed authentication not recorded: %s", type(error).__name__)


def admitted_actor(request: Request, actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
    """The caller, within their own request rate (429 beyond it)."""
    guard: RequestGuard | None = request.app.state.guard
    if guard is not None:
        guard.admit_user(actor.user_id)
    return actor


def expected_version(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            pattern=ETAG_PATTERN,
            description='The case version (ETag) the command is based on, e.g. "3"; a stale '
            "one gets 409",
        ),
    ] = None,
) -> int | None:
    if if_match is None:
        return None
    return int(re.sub("[^0-9]", "", if_match))


async def case_read(
    request: Request,
    response: Response,
    purpose: Annotated[
        Annotated[str, StringConstraints(max_length=MAX_PURPOSE_LENGTH), SINGLE_LINE] | None,
        Header(
            alias="X-Access-Purpose",
            description="Why the case is read (e.g. an inspection's letter number); recorded "
            "with the read in the access log. A header, never a query parameter, so it stays "
            "out of URLs and server logs.",
        ),
    ] = None,
    request_id: Annotated[
        str | None,
        Header(
            alias="X-Request-ID",
            max_length=MAX_REQUEST_ID_LENGTH,
            pattern=r"^[A-Za-z0-9._:-]+$",
            description="The caller's id for this request, recorded with the read; "
            "one is made up when absent. Echoed in the response.",
        ),
    ] = None,
) -> CaseRead:
    """The read about to happen, named by the route serving it: every case read route takes it."""
    route = request.scope["route"]
    identifier = request_id or uuid4().hex
    response.headers["X-Request-ID"] = identifier
    return CaseRead(view=route.name, purpose=(purpose or "").strip() or None, request_id=identifier)


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[\x21-\x7e][\x20-\x7e]{6,198}[\x21-\x7e]$",
        description="Any unique string per intended command (8 to 200 printable ASCII "
        "characters); a retry with it never records twice",
    ),
]
CasesDep = Annotated[Cases, Depends(get_cases)]
OutreachDep = Annotated[OutreachRecords, Depends(get_outreach)]
CoordinatorViewsDep = Annotated[CoordinatorStore, Depends(get_coordinator_views)]
AgencyInboxDep = Annotated[AgencyStore, Depends(agency_inbox)]
ChainCheckerDep = Annotated[ChainChecker, Depends(get_chain_checker)]
ActorDep = Annotated[Actor, Depends(admitted_actor)]
ExpectedVersion = Annotated[int | None, Depends(expected_version)]
CaseReadDep = Annotated[CaseRead, Depends(case_read)]
