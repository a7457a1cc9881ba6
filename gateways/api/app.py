"""The HTTP API: one FastAPI app per process, around services the composition root made.

gateways/runtime.py builds the case service, the token service and the read
models once and hands them in; routes reach them only through gateways/api/deps.py.
"""

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from domain.sharing_matrix import SharingMatrix
from gateways.api import problems
from gateways.api.deps import ChainChecker
from gateways.api.docs import install_docs
from gateways.api.headers import SecurityHeaders
from gateways.api.limits import (
    HttpLimits,
    RequestGuard,
    RequestLimits,
    TooManyRequests,
    too_many_requests,
)
from gateways.api.openapi import install_contract
from gateways.api.routes import accounts as account_routes
from gateways.api.routes import agencies as agency_routes
from gateways.api.routes import audit, case_steps, service
from gateways.api.routes import case_search as case_search_routes
from gateways.api.routes import cases as case_routes
from gateways.api.routes import coordinator as coordinator_routes
from gateways.api.routes import documents as document_routes
from gateways.api.routes import letters as letter_routes
from gateways.api.routes import outreach as outreach_routes
from gateways.api.routes import same_person as same_person_routes
from gateways.api.routes import service_accounts as service_account_routes
from gateways.api.routes import tasks as task_routes
from gateways.kafka.contract import asyncapi_document
from gateways.kafka.signing import MessageVerifier
from gateways.readmodels.agency import AgencyStore
from gateways.readmodels.coordinator import CoordinatorStore
from gateways.tokens import TokenService
from gateways.web import (
    audit_pages,
    case_file_page,
    documents_page,
    login,
    office_pages,
    office_views,
    pages,
    search_page,
    staff_pages,
    steps,
)
from gateways.web.sessions import SessionStore
from services.accounts import Accounts
from services.case_search import SearchKeys
from services.cases import Cases
from services.documents import Documents
from services.notifications import NoticeStore
from services.outreach import OutreachRecords
from services.same_person import SamePerson
from services.sharing import load_matrix

API_PREFIX = "/api/v1"

DESCRIPTION = """
Simpul coordinates the handling of violence against women and children across
agencies: the women & child protection office (UPTD PPA) records reports and
coordinates; police, prosecutors, courts, legal aid, health, social affairs, schools,
village groups, the civil registry, religious affairs, Baznas and BPJS receive
referrals. Every command records an immutable event; every read is scoped to the
caller. Errors are RFC 9457 problem documents that name the field or SOP rule.

Commands accept `Idempotency-Key` (a retry never records twice) and `If-Match`
(the case version the command is based on; a stale one gets 409).
"""


def create_app(
    *,
    cases: Cases,
    tokens: TokenService,
    sharing: SharingMatrix | None = None,
    coordinator_views: CoordinatorStore | None = None,
    agency_inboxes: Mapping[str, AgencyStore] | None = None,
    chain_checker: ChainChecker | None = None,
    message_verifier: MessageVerifier | None = None,
    limits: HttpLimits | None = None,
    docs: bool = True,
    outreach: OutreachRecords | None = None,
    same_person: SamePerson | None = None,
    search_keys: SearchKeys | None = None,
    documents: Documents | None = None,
    accounts: Accounts | None = None,
    login_tokens: TokenService | None = None,
    web_sessions: SessionStore | None = None,
    notices: NoticeStore | None = None,
) -> FastAPI:
    """The app; read models left out (an in-memory store has none) answer 503.

    ``limits`` (body size and time, rates, lockout) come from the settings through the
    composition root; without them nothing is limited. ``docs`` serves the interactive
    documentation (self-hosted); the OpenAPI document is always served. With
    ``web_sessions`` the pages (gateways/web/) are served beside the API.
    """
    app = FastAPI(
        title="Simpul",
        version="1.0.0",
        summary="Event-sourced multi-agency coordination for protecting women and children",
        description=DESCRIPTION,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    sharing = sharing or load_matrix()
    app.state.cases = cases
    # Outreach is kept in the case store (services/outreach.py), so it is served over it.
    app.state.outreach = outreach or OutreachRecords(cases)
    app.state.tokens = tokens
    app.state.coordinator_views = coordinator_views
    app.state.agency_inboxes = dict(agency_inboxes or {})
    app.state.projected_agencies = sharing.agencies
    app.state.chain_checker = chain_checker
    app.state.same_person = same_person
    # The office's search (routes/case_search.py): without its key it answers 503.
    app.state.search_keys = search_keys
    app.state.documents = documents
    # Accounts and login (routes/accounts.py): login needs a token service that mints.
    app.state.accounts = accounts
    app.state.login_tokens = login_tokens
    problems.install(app)

    def _too_many_requests(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, TooManyRequests)
        return too_many_requests(error)

    app.add_exception_handler(TooManyRequests, _too_many_requests)
    # Outermost last: headers on every answer, then no error escapes, then the limits,
    # which measure and time a body before anything parses it.
    if limits is not None:
        app.state.guard = RequestGuard(limits)
        app.add_middleware(RequestLimits, guard=app.state.guard)
    else:
        app.state.guard = None
    app.add_middleware(problems.ProblemGuard)
    app.add_middleware(SecurityHeaders)
    install_contract(app)
    if docs:
        install_docs(app, API_PREFIX)
    api = APIRouter(prefix=API_PREFIX)
    api.include_router(case_routes.router)
    api.include_router(case_steps.build_router())
    api.include_router(audit.router)
    api.include_router(service.meta)
    api.include_router(coordinator_routes.router)
    api.include_router(case_search_routes.router)
    api.include_router(agency_routes.router)
    api.include_router(outreach_routes.router)
    api.include_router(same_person_routes.router)
    api.include_router(document_routes.router)
    api.include_router(letter_routes.router)
    api.include_router(account_routes.router)
    api.include_router(service_account_routes.router)
    api.include_router(task_routes.router)
    app.include_router(api)
    app.include_router(service.health)
    app.state.notices = notices
    if web_sessions is not None:
        app.state.web_sessions = web_sessions
        app.add_exception_handler(pages.NoSession, pages.no_session)
        app.include_router(pages.router)
        app.include_router(case_file_page.router)
        app.include_router(documents_page.router)
        app.include_router(steps.router)
        app.include_router(office_pages.router)
        app.include_router(staff_pages.router)
        app.include_router(audit_pages.router)
        app.include_router(office_views.router)
        app.include_router(search_page.router)
        app.include_router(login.router)
    # With the deployment's public keys, so agencies can verify what they receive.
    asyncapi = asyncapi_document(matrix=sharing, profiles=cases.profiles, verifier=message_verifier)

    @app.get("/asyncapi.json", tags=["service"], summary="The Kafka message contract (AsyncAPI 3)")
    def published_contract() -> dict[str, Any]:
        return asyncapi

    return app
