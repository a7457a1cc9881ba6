"""Documents, photos and recordings of a case: upload, list, download; and agencies' downloads.

The upload's body is the file itself (its Content-Type as the client knows it); the
kind and the step are query parameters (vocabulary words, never personal data).
Nothing here names or echoes a file: a download's Content-Disposition names the
document by its id, and every answer carrying content says ``Cache-Control:
no-store``.
"""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from domain.actors import Actor
from domain.documents import DocumentKind
from domain.errors import InvalidValue
from domain.vocabulary import Agency, Role
from gateways.api.deps import ActorDep, CaseReadDep, CasesDep, ExpectedVersion, IdempotencyKey
from gateways.api.problems import (
    COMMAND_ERRORS,
    READ_ERRORS,
    FieldError,
    Problem,
    problem_response,
)
from gateways.api.schemas import CommandAccepted, accepted
from projections.case_file import AttachedDocument, case_file_as_of
from services.document_content import ACCEPTED_TYPES, UNDECLARED, ContentRefused
from services.documents import ContentUnavailable, Documents, DocumentTooLarge, Download

router = APIRouter(tags=["documents"])

STEP_PATTERN = r"^[A-Za-z0-9.-]{1,32}$"
_BINARY = {"schema": {"type": "string", "format": "binary"}}
UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    **COMMAND_ERRORS,
    413: {"model": Problem, "description": "The file is larger than the document limit"},
    415: {
        "model": Problem,
        "description": "The file's content is none of the accepted types, is a program, is "
        "malformed, or is not what its Content-Type says; the rule names which",
    },
}
DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    200: {
        "description": "The document's content, as stored",
        "content": dict.fromkeys(ACCEPTED_TYPES, _BINARY),
    },
}
_BINARY_BODY = {
    "requestBody": {
        "required": True,
        "description": "The file itself; its Content-Type is checked against its content "
        f"({UNDECLARED} when unknown).",
        "content": dict.fromkeys((*ACCEPTED_TYPES, UNDECLARED), _BINARY),
    }
}


class DocumentAccepted(CommandAccepted):
    document_id: UUID = Field(description="The document's id: it names its content in the case")


def get_documents(request: Request) -> Documents:
    documents: Documents | None = request.app.state.documents
    if documents is None:
        raise HTTPException(503, "documents need the PostgreSQL event store")
    return documents


DocumentsDep = Annotated[Documents, Depends(get_documents)]


async def _body(request: Request) -> bytes:
    return await request.body()


Body = Annotated[bytes, Depends(_body)]
Kind = Annotated[
    DocumentKind,
    Query(description="What the document is; the district's profile lists the kinds it accepts"),
]
AtStep = Annotated[
    str | None,
    Query(pattern=STEP_PATTERN, description="The profile's step code it belongs to, e.g. L1.2"),
]
SignedCopyOf = Annotated[
    UUID | None,
    Query(
        description="The letter of the case (its letter_id) this document is the signed "
        "copy of, e.g. the consent form signed at L1.9-10 or the termination form at L6.2"
    ),
]


@router.post(
    "/cases/{case_id}/documents",
    status_code=201,
    response_model=DocumentAccepted,
    summary="P7, B1, L4.3: Attach a document, photo or recording to the case",
    responses=UPLOAD_ERRORS,
    openapi_extra=_BINARY_BODY,
)
def upload_document(
    case_id: UUID,
    request: Request,
    response: Response,
    content: Body,
    kind: Kind,
    documents: DocumentsDep,
    actor: ActorDep,
    version: ExpectedVersion,
    step: AtStep = None,
    letter_id: SignedCopyOf = None,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """The body is the file, judged by its content (PDF, JPEG, PNG, MP3, M4A, WAV, Ogg);
    photos lose their Exif, XMP, IPTC and text metadata (their location) before they are
    stored, encrypted with the case's key. Attaching records DocumentAttached (kind, step,
    SHA-256, size, type; never the content nor a file name), and with ``letter_id``
    Case.SignedCopyAttached: the scan is the signed copy of that letter."""
    try:
        attached = documents.attach(
            actor,
            case_id,
            content,
            declared_type=request.headers.get("content-type", UNDECLARED),
            kind=kind.value,
            step=step or "",
            letter_id=str(letter_id) if letter_id else "",
            expected_version=version,
            idempotency_key=idempotency_key,
        )
    except DocumentTooLarge as too_large:
        return problem_response(
            413, "content-too-large", "Content too large", str(too_large), rule="document_too_large"
        )
    except ContentRefused as refused:
        return problem_response(
            415, "unsupported-content", "Unsupported content", refused.message, rule=refused.rule
        )
    except InvalidValue as invalid:
        return problem_response(
            422,
            "invalid-value",
            "Invalid value",
            str(invalid),
            errors=[
                FieldError(
                    field=f"query.{invalid.field}", message=invalid.message, type="value_error"
                )
            ],
        )
    except ContentUnavailable:
        return problem_response(
            409,
            "rule-violated",
            "Not allowed now",
            "the case's documents were destroyed; no document can be attached to it",
            rule="documents_shredded",
        )
    answer = accepted(response, attached.result)
    response.headers["Location"] = f"/api/v1/cases/{case_id}/documents/{attached.document_id}"
    return DocumentAccepted(**answer.model_dump(), document_id=UUID(attached.document_id))


@router.get(
    "/cases/{case_id}/documents",
    response_model=list[AttachedDocument],
    summary="The documents attached to the case, oldest first (never their content)",
    responses=READ_ERRORS,
)
def list_documents(
    case_id: UUID, cases: CasesDep, actor: ActorDep, read: CaseReadDep
) -> list[AttachedDocument]:
    return case_file_as_of(cases.read_case_events(actor, case_id, read)).documents


def _content(download: Download, document_id: UUID) -> Response:
    extension = download.media_type.rsplit("/", 1)[-1].replace("mpeg", "mp3")
    return Response(
        download.content,
        media_type=download.media_type,
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="{document_id}.{extension}"',
            "ETag": f'"{download.sha256}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(
    "/cases/{case_id}/documents/{document_id}",
    response_class=Response,
    summary="One document's content, for the case team and auditors",
    responses=DOWNLOAD_RESPONSES,
)
def download_document(
    case_id: UUID, document_id: UUID, documents: DocumentsDep, actor: ActorDep, read: CaseReadDep
) -> Response:
    """Recorded in the access log before the content is sent."""
    return _content(documents.download(actor, case_id, document_id, read), document_id)


class AgencyDocument(BaseModel):
    """A document the agency may fetch: what it is, never what it holds."""

    document_id: UUID
    kind: DocumentKind
    step: str | None = Field(description="The profile's step it was attached at, if any")
    media_type: str
    sha256: str = Field(description="SHA-256 of the content, as the case's hash chain holds it")


@router.get(
    "/agencies/{agency}/cases/{case_id}/documents",
    response_model=list[AgencyDocument],
    summary="The documents of a case referred or handed over to the agency that the "
    "data-sharing matrix lets it fetch",
    responses=READ_ERRORS,
)
def agency_list_documents(
    agency: Agency, case_id: UUID, documents: DocumentsDep, actor: ActorDep, read: CaseReadDep
) -> list[AgencyDocument]:
    """Only kinds the agency's row of the matrix lists; none before consent (unless it holds
    an open emergency referral). Recorded in the access log."""
    _require_agency_officer(agency, actor)
    return [
        AgencyDocument(
            document_id=UUID(document_id),
            kind=DocumentKind(document.kind),
            step=document.step or None,
            media_type=document.media_type,
            sha256=document.sha256,
        )
        for document_id, document in documents.agency_documents(actor, case_id, read)
    ]


def _require_agency_officer(agency: Agency, actor: Actor) -> None:
    if actor.role != Role.AGENCY_OFFICER or actor.agency != agency:
        raise HTTPException(403, "only officers of this agency fetch its documents")


@router.get(
    "/agencies/{agency}/cases/{case_id}/documents/{document_id}",
    response_class=Response,
    summary="One document of a case referred or handed over to the agency, as the "
    "data-sharing matrix allows it",
    responses=DOWNLOAD_RESPONSES,
)
def agency_download_document(
    agency: Agency,
    case_id: UUID,
    document_id: UUID,
    documents: DocumentsDep,
    actor: ActorDep,
    read: CaseReadDep,
) -> Response:
    """Only a kind the agency's row of the matrix lists, after consent or on an open
    emergency referral to it; anything else is 404. Recorded in the access log first."""
    _require_agency_officer(agency, actor)
    return _content(documents.agency_download(actor, case_id, document_id, read), document_id)
