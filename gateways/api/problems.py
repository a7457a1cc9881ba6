"""Errors as RFC 9457 problem details: a 4xx naming the field or rule, never a 500 for bad input.

No message here echoes a submitted value, not even a key or a path segment:
request bodies carry personal data, and error responses end up in client logs.
Every error leaves the app as ``application/problem+json`` and the server's log
gets the error's type only (``ProblemGuard``): never a traceback, whose frames
would show the values being handled.

A refusal of an identified caller (403, and 404 for a case they may not see)
is recorded in the access log before it is answered: who, the view, the case
id and the rule, nothing else of the request (401s are recorded where the
token is checked, in deps.current_actor).
"""

import logging
import re
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.actors import Actor
from domain.documents import DocumentRequired
from domain.errors import (
    AgencyNotConnected,
    InvalidValue,
    LinkRefused,
    NothingCorrected,
    ReferralNotFound,
    RuleViolated,
)
from gateways.api.views import view_of
from projections.case_file import NothingRecordedThen
from services.access import AccessDenied
from services.access_log import MAX_REQUEST_ID_LENGTH, AccessNotRecorded, Outcome, Refusal
from services.accounts import EmailTaken, LoginRefused, StaffNotFound
from services.cases import CaseNotFound, IdempotencyKeyReused, VersionConflict
from services.documents import DocumentNotFound
from services.outreach import OutreachChanged, OutreachNotFound
from services.same_person import LinkedCaseNotFound
from services.service_accounts import ServiceAccountNotFound

log = logging.getLogger("simpul.api")
MEDIA_TYPE = "application/problem+json"


class FieldError(BaseModel):
    field: str = Field(description="Where the problem is, e.g. body.victim.nik or header.If-Match")
    message: str
    type: str = Field(description="A machine-readable kind, e.g. missing, string_too_long")


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(description="A URN naming the kind of problem")
    title: str
    status: int
    detail: str
    rule: str | None = Field(default=None, description="The domain rule refused, if any")
    step: str | None = Field(default=None, description="The SOP step the rule comes from")
    errors: list[FieldError] = Field(default_factory=list)


# What each kind of route documents it may answer besides success. Answers every route
# may give (429, 500, and 408/413 for a body) are added to the document in openapi.py.
COMMAND_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No valid bearer token"},
    403: {"model": Problem, "description": "The caller may see the case but not do this"},
    404: {"model": Problem, "description": "No such case visible to the caller"},
    409: {
        "model": Problem,
        "description": "A rule of the SOP refuses it now, If-Match is stale, or the "
        "Idempotency-Key was used for another request",
    },
    422: {
        "model": Problem,
        "description": "A field is invalid, names an agency Simpul cannot deliver to "
        "(rule agency_not_connected), or corrects a fact to the value it has (rule "
        "correction_changes_nothing); the problem names it",
    },
    503: {"model": Problem, "description": "The case store is unreachable; nothing was recorded"},
}
READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No valid bearer token"},
    403: {
        "model": Problem,
        "description": "Agency officers read cases through their agency's referrals inbox",
    },
    404: {"model": Problem, "description": "No such case visible to the caller"},
    422: {"model": Problem, "description": "A query parameter is invalid"},
    503: {
        "model": Problem,
        "description": "The case store is unreachable, or the read could not be recorded in "
        "the access log; no case data was returned",
    },
}


def problem_body(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    rule: str | None = None,
    step: str | None = None,
    errors: list[FieldError] | None = None,
) -> dict[str, Any]:
    return Problem(
        type=f"urn:simpul:problem:{code}",
        title=title,
        status=status,
        detail=detail,
        rule=rule,
        step=step,
        errors=errors or [],
    ).model_dump(exclude_none=True)


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    rule: str | None = None,
    step: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, code, title, detail, rule=rule, step=step, errors=errors),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


# Messages for validation errors whose library text quotes part of the input.
_QUOTING_ERRORS = {
    "uuid_parsing": "must be a UUID",
    "uuid_type": "must be a UUID",
    "url_parsing": "must be a URL",
    "url_type": "must be a URL",
}


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _field_error(error: dict[str, Any]) -> FieldError:
    kind = error["type"]
    if kind == "json_invalid":
        # FastAPI puts the character offset where a field would be; the field is the body.
        body, *offset = error["loc"]
        where = f" at character {offset[0]}" if offset else ""
        return FieldError(field=body, message=f"not valid JSON{where}", type="json_invalid")
    if kind == "extra_forbidden":
        # The last part of the location is the unknown key itself, which may be a name.
        return FieldError(
            field=_location(error["loc"][:-1]),
            message="has a field this request does not accept",
            type=kind,
        )
    return FieldError(
        field=_location(error["loc"]), message=_QUOTING_ERRORS.get(kind, error["msg"]), type=kind
    )


def invalid_request(errors: list[FieldError]) -> JSONResponse:
    fields = ", ".join(sorted({e.field for e in errors}))
    return problem_response(
        422, "invalid-request", "Invalid request", f"invalid fields: {fields}", errors=errors
    )


def _validation_problem(_: Request, error: RequestValidationError) -> JSONResponse:
    return invalid_request([_field_error(e) for e in error.errors()])


def _invalid_value(_: Request, error: InvalidValue) -> JSONResponse:
    return problem_response(
        422,
        "invalid-value",
        "Invalid value",
        str(error),
        errors=[
            FieldError(
                field=f"body.{error.field}" if error.field else "body",
                message=error.message,
                type=error.kind,
            )
        ],
    )


def _rule_violated(_: Request, error: RuleViolated) -> JSONResponse:
    return problem_response(
        409, "rule-violated", "Not allowed now", error.message, rule=error.rule, step=error.step
    )


def _document_required(_: Request, error: DocumentRequired) -> JSONResponse:
    # 422, as for a missing field: the command lacks what the district requires with it.
    return problem_response(
        422,
        "document-required",
        "Document required",
        error.message,
        rule=error.rule,
        step=error.step,
        errors=[
            FieldError(
                field="document.kind",
                message=f"a document of kind {error.kind} must be attached first",
                type="document_required",
            )
        ],
    )


def _agency_not_connected(_: Request, error: AgencyNotConnected) -> JSONResponse:
    # 422, not 409: no later state of the case makes the agency reachable.
    return problem_response(
        422,
        "agency-not-connected",
        "Agency not connected",
        error.message,
        rule=error.rule,
        step=error.step,
        errors=[
            FieldError(
                field=f"body.{error.field}",
                message="names an agency without an inbox in Simpul",
                type="agency_not_connected",
            )
        ],
    )


def _link_refused(_: Request, error: LinkRefused) -> JSONResponse:
    # 422, not 409: no later state of the case makes a case its own other case.
    return problem_response(
        422,
        "link-refused",
        "Link refused",
        error.message,
        rule=error.rule,
        errors=[FieldError(field=f"body.{error.field}", message=error.message, type=error.rule)],
    )


def _linked_case_not_found(_: Request, error: LinkedCaseNotFound) -> JSONResponse:
    return problem_response(
        404,
        "not-found",
        "Not found",
        "no case to link: the other case does not exist, or is another district's case "
        "that names a different person",
        rule=error.rule,
    )


def _nothing_corrected(_: Request, error: NothingCorrected) -> JSONResponse:
    # 422, not 409: the request would record no change in any state of the case.
    return problem_response(
        422,
        "nothing-corrected",
        "Nothing corrected",
        error.message,
        rule=error.rule,
        step=error.step,
        errors=[
            FieldError(
                field=f"body.{error.field}",
                message="already has this value",
                type="correction_changes_nothing",
            )
        ],
    )


_REQUEST_ID = re.compile(rf"^[A-Za-z0-9._:-]{{1,{MAX_REQUEST_ID_LENGTH}}}$")


def _record_refusal(
    request: Request, outcome: Outcome, reason: str, case_id: UUID | None = None
) -> None:
    actor: Actor | None = getattr(request.state, "actor", None)
    if actor is None:
        return  # refused before the token was checked: no one to attribute it to
    request_id = request.headers.get("X-Request-ID")
    refused = Refusal(
        view=view_of(request),
        outcome=outcome,
        reason=reason,
        case_id=case_id,
        request_id=request_id if request_id and _REQUEST_ID.match(request_id) else None,
    )
    try:
        request.app.state.cases.record_refusal(actor, refused)
    except (AccessNotRecorded, OperationalError, InterfaceError) as error:
        # The caller is refused either way; the operator learns the trace is missing.
        log.error("refusal not recorded: %s", type(error).__name__)


def _case_id_in_path(request: Request) -> UUID | None:
    # An outreach is recorded under its own id where a case's would be (services/outreach.py).
    value = request.path_params.get("case_id", request.path_params.get("outreach_id"))
    if value is None:
        return None
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        return None


def _case_not_found(request: Request, error: CaseNotFound) -> JSONResponse:
    _record_refusal(request, Outcome.NOT_FOUND, "case_not_visible", error.case_id)
    return problem_response(404, "not-found", "Not found", "no such case is visible to you")


def _outreach_not_found(request: Request, error: OutreachNotFound) -> JSONResponse:
    _record_refusal(request, Outcome.NOT_FOUND, "outreach_not_visible", error.outreach_id)
    return problem_response(404, "not-found", "Not found", "no such outreach is visible to you")


def _document_not_found(request: Request, error: DocumentNotFound) -> JSONResponse:
    _record_refusal(request, Outcome.NOT_FOUND, "document_not_visible", error.case_id)
    return problem_response(404, "not-found", "Not found", "no such document is visible to you")


def _referral_not_found(_: Request, __: ReferralNotFound) -> JSONResponse:
    return problem_response(404, "not-found", "Not found", "the case has no such referral")


def _nothing_recorded_then(_: Request, error: NothingRecordedThen) -> JSONResponse:
    return problem_response(404, "not-found", "Not found", str(error))


def _access_denied(request: Request, error: AccessDenied) -> JSONResponse:
    _record_refusal(request, Outcome.DENIED, error.rule, _case_id_in_path(request))
    return problem_response(403, "forbidden", "Forbidden", error.message, rule=error.rule)


def _login_refused(_: Request, error: LoginRefused) -> JSONResponse:
    if error.retry_after is not None:
        return problem_response(
            429,
            "too-many-requests",
            "Too many failed logins",
            "the account waits before it may log in again",
            rule=error.reason,
            headers={"Retry-After": str(error.retry_after)},
        )
    return problem_response(
        401,
        "unauthorized",
        "Login refused",
        LOGIN_REFUSALS.get(error.reason, "the login was refused"),
        rule=error.reason,
    )


LOGIN_REFUSALS = {
    "bad_credentials": "the e-mail address or the password is not right",
    "second_factor_required": "this account needs the one-time code of its authenticator app",
    "bad_second_factor": "the one-time code is not right, or was used already",
    "second_factor_enrolment_required": "this account needs a second factor: ask the office "
    "administrator for a new invitation",
}


def _email_taken(_: Request, __: EmailTaken) -> JSONResponse:
    return problem_response(
        409,
        "rule-violated",
        "Not allowed now",
        "another account already has this e-mail address",
        rule="email_taken",
    )


def _staff_not_found(_: Request, error: StaffNotFound) -> JSONResponse:
    return problem_response(404, "not-found", "Not found", str(error))


def _service_account_not_found(_: Request, error: ServiceAccountNotFound) -> JSONResponse:
    return problem_response(404, "not-found", "Not found", str(error))


def _version_conflict(_: Request, error: VersionConflict) -> JSONResponse:
    return problem_response(
        409,
        "version-conflict",
        "The case has changed",
        f"the case is now at version {error.actual}; reload the case and decide again",
        headers={"ETag": f'"{error.actual}"'} if error.actual else None,
    )


def _outreach_changed(_: Request, error: OutreachChanged) -> JSONResponse:
    return problem_response(
        409,
        "version-conflict",
        "The outreach has changed",
        f"the outreach is now at version {error.actual}; reload it and decide again",
        headers={"ETag": f'"{error.actual}"'},
    )


def _idempotency_reused(_: Request, error: IdempotencyKeyReused) -> JSONResponse:
    # 409: the request itself is well formed; it conflicts with what the key already recorded.
    return problem_response(409, "idempotency-key-reused", "Idempotency key reused", str(error))


def _store_unavailable(_: Request, error: Exception) -> JSONResponse:
    log.warning("event store unavailable: %s", type(error).__name__)
    return problem_response(
        503,
        "unavailable",
        "Temporarily unavailable",
        "the case store cannot be reached; nothing was recorded, retry shortly",
        headers={"Retry-After": "2"},
    )


def _access_not_recorded(_: Request, error: AccessNotRecorded) -> JSONResponse:
    # The cause stays in the server's log only by type: its message may quote the query.
    log.error("access record not written, read refused: %s", type(error.__cause__).__name__)
    return problem_response(
        503,
        "access-not-recorded",
        "Temporarily unavailable",
        "the read could not be recorded in the access log, so no case data was returned; "
        "retry shortly",
        headers={"Retry-After": "2"},
    )


def allowed_methods(request: Request, named: str) -> str:
    """Every method served at this path: Starlette names only the first matching route's
    (``named``), the OpenAPI document names them all."""
    methods = {method.strip() for method in named.split(",") if method.strip()}
    for template, operations in request.app.openapi()["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            methods |= {method.upper() for method in operations}
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    if error.status_code == 403:
        _record_refusal(request, Outcome.DENIED, "not_permitted", _case_id_in_path(request))
    if error.status_code == 400 and isinstance(error.__cause__, UnicodeDecodeError):
        # A body that is not UTF-8 is as unreadable as malformed JSON: the same 422.
        return invalid_request(
            [FieldError(field="body", message="not valid JSON: not UTF-8", type="json_invalid")]
        )
    headers = dict(getattr(error, "headers", None) or {})
    if error.status_code == 405:
        headers["Allow"] = allowed_methods(request, headers.get("Allow", ""))
    return problem_response(
        error.status_code,
        "http-" + str(error.status_code),
        str(error.detail),
        str(error.detail),
        headers=headers or None,
    )


class ProblemGuard:
    """The last word on any error the app did not handle: a 500 problem, the type logged.

    Starlette's own error middleware re-raises after answering, and the server then
    logs the traceback, with the values in its frames; this one ends the error here.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:  # noqa: BLE001 - the point: nothing escapes, only its type is told
            # Only the type: the message may quote data the request carried.
            log.error("unexpected error: %s", type(error).__name__)
            if not started:
                response = problem_response(
                    500, "internal", "Internal error", "an unexpected error occurred"
                )
                await response(scope, receive, send)


def install(app: FastAPI) -> None:
    handlers: dict[Any, Any] = {
        RequestValidationError: _validation_problem,
        InvalidValue: _invalid_value,
        RuleViolated: _rule_violated,
        AgencyNotConnected: _agency_not_connected,
        LinkRefused: _link_refused,
        LinkedCaseNotFound: _linked_case_not_found,
        NothingCorrected: _nothing_corrected,
        DocumentRequired: _document_required,
        CaseNotFound: _case_not_found,
        OutreachNotFound: _outreach_not_found,
        ReferralNotFound: _referral_not_found,
        DocumentNotFound: _document_not_found,
        NothingRecordedThen: _nothing_recorded_then,
        AccessDenied: _access_denied,
        LoginRefused: _login_refused,
        EmailTaken: _email_taken,
        StaffNotFound: _staff_not_found,
        ServiceAccountNotFound: _service_account_not_found,
        VersionConflict: _version_conflict,
        OutreachChanged: _outreach_changed,
        IdempotencyKeyReused: _idempotency_reused,
        AccessNotRecorded: _access_not_recorded,
        OperationalError: _store_unavailable,
        InterfaceError: _store_unavailable,
        StarletteHTTPException: _http_error,
    }
    for exception_class, handler in handlers.items():
        app.add_exception_handler(exception_class, handler)
