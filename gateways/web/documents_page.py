"""The case file's documents and letters: attach a document, issue a letter, download them.

Each goes through the same service call as its API route (gateways/api/routes/
documents.py and letters.py): ``Documents.attach`` and ``Letters.issue`` check who may,
what the district accepts and the content before anything is stored; a download is
``Documents.download`` or ``Letters.read``, which record the read in the access log
before the content is sent. A download is never cached, is always an attachment, and is
named by the document's or the letter's id: an uploaded file's own name may name the
person, so it is never kept. A refused form shows the case file again with the field
named in the user's language, nothing stored, and nothing of what was sent repeated.
"""

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from domain.errors import InvalidValue, ReferralNotFound, RuleViolated
from domain.letters import LetterKind
from gateways.letter_pdf import render_letter
from gateways.web.case_file_page import case_file_response
from gateways.web.cookies import CSRF_FIELD, form_is_ours
from gateways.web.forms import PostedForm
from gateways.web.i18n import N_
from gateways.web.multipart import MalformedForm, UploadedFile, parse_multipart
from gateways.web.pages import (
    SessionDep,
    csrf_refused,
    language_of,
    not_found,
    posted_form,
    refused,
    said,
    session_form,
)
from gateways.web.rule_messages import refusal_text
from services.access import AccessDenied
from services.access_log import CaseRead
from services.cases import CaseNotFound, Cases, IdempotencyKeyReused, VersionConflict
from services.document_content import UNDECLARED, ContentRefused
from services.documents import (
    ContentUnavailable,
    DocumentNotFound,
    Documents,
    DocumentTooLarge,
    Download,
)
from services.letters import LetterNotFound, Letters

FILE_FIELD = "file"
FORM_KEY_FIELD = "form_key"
# The form's other fields and the multipart framing, beyond the file itself.
FORM_OVERHEAD_BYTES = 64 * 1024

CHOOSE_A_FILE = N_("Choose a file.")
TOO_LARGE = N_("The file is larger than the limit of %(megabytes)s MB (rule document_too_large).")
FORM_TOO_LARGE = N_("The file is larger than the document limit (rule document_too_large).")
NOT_KEPT = N_(
    "The office keeps only PDF, JPEG, PNG, MP3, M4A, WAV and Ogg files, whole and undamaged; "
    "this one is refused"
)
NOT_OFFERED = N_("Choose one of the options the form offers.")
SHREDDED = N_(
    "The case's documents were destroyed: nothing can be stored on it (rule documents_shredded)."
)
UNREADABLE = N_(
    "The form could not be read: open the case file and send it again (rule malformed_form)."
)
SENT_TWICE = N_(
    "This form was already sent with other values: open the case file again (rule form_sent_twice)."
)
NOT_YOURS = N_("This is not yours to do on this case (rule not_permitted).")
DIFFERS = N_(
    "The letter no longer matches the one issued; ask the office's administrator "
    "(rule letter_differs_from_issued)."
)

router = APIRouter(include_in_schema=False)


def _download(content: bytes, media_type: str, name: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


def _extension(media_type: str) -> str:
    return media_type.rsplit("/", 1)[-1].replace("mpeg", "mp3")


class FormTooLarge(ValueError):
    """The body is larger than a document and the form's fields can be."""


async def _attach_form(request: Request, max_bytes: int) -> tuple[PostedForm, UploadedFile | None]:
    """The posted fields and file (``MalformedForm``, ``FormTooLarge`` if it cannot be
    read). A form posted without a file (or the CSRF check's plain form) has fields only."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/"):
        return await posted_form(request), None
    limit = max_bytes + FORM_OVERHEAD_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FormTooLarge()
    body = await request.body()
    if len(body) > limit:
        raise FormTooLarge()
    parsed = parse_multipart(body, content_type)
    return parsed.fields, parsed.files.get(FILE_FIELD)


@router.post("/cases/{case_id}/documents")
async def attach_document(request: Request, case_id: UUID, session: SessionDep) -> Response:
    documents: Documents | None = request.app.state.documents
    try:
        form, upload = await _attach_form(request, documents.max_bytes if documents else 0)
    except FormTooLarge:
        # Refused unread: its CSRF token cannot be told, so no case data is shown.
        return refused(request, 413, N_("Not allowed"), FORM_TOO_LARGE)
    except MalformedForm:
        return refused(request, 400, N_("Not allowed"), UNREADABLE)
    if not form_is_ours(session, {CSRF_FIELD: form.first(CSRF_FIELD)}):
        return csrf_refused(request)
    if documents is None:
        return not_found(request)
    errors: dict[str, str] = {}
    if not form.first("kind"):
        errors["kind"] = said(request, "This field is required.")
    if upload is None or not upload.content:
        errors[FILE_FIELD] = said(request, CHOOSE_A_FILE)
    if errors or upload is None:
        return case_file_response(request, session, case_id, status=422, document_errors=errors)
    form_key = form.first(FORM_KEY_FIELD)
    status, refusal = 303, None
    try:
        documents.attach(
            session.actor,
            case_id,
            upload.content,
            declared_type=upload.content_type or UNDECLARED,
            kind=form.first("kind"),
            step=form.first("step"),
            letter_id=form.first("letter_id"),
            idempotency_key=f"web:{form_key}" if form_key else None,
        )
    except DocumentTooLarge as too_large:
        status = 413
        errors[FILE_FIELD] = said(request, TOO_LARGE, megabytes=too_large.limit // (1024 * 1024))
    except ContentRefused as content:
        status, errors[FILE_FIELD] = 415, f"{said(request, NOT_KEPT)} (rule {content.rule})."
    except InvalidValue as invalid:
        status, errors[invalid.field or "kind"] = 422, said(request, NOT_OFFERED)
    except RuleViolated as rule:
        status, refusal = 409, refusal_text(language_of(request), rule)
    except ContentUnavailable:
        status, refusal = 409, said(request, SHREDDED)
    except (IdempotencyKeyReused, VersionConflict):
        status, refusal = 409, said(request, SENT_TWICE)
    except (AccessDenied, CaseNotFound):
        return not_found(request)
    if status != 303:
        return case_file_response(
            request, session, case_id, status=status, document_errors=errors, refusal=refusal
        )
    return RedirectResponse(
        f"/cases/{case_id}?recorded=attach_document#documents-heading", status_code=303
    )


@router.get("/cases/{case_id}/documents/{document_id}")
def download_document(
    request: Request, case_id: UUID, document_id: UUID, session: SessionDep
) -> Response:
    """The API's download (recorded in the access log first), as an attachment."""
    documents: Documents | None = request.app.state.documents
    if documents is None:
        return not_found(request)
    try:
        download: Download = documents.download(
            session.actor, case_id, document_id, CaseRead(view="document_download_page")
        )
    except (CaseNotFound, AccessDenied, DocumentNotFound):
        return not_found(request)
    return _download(
        download.content,
        download.media_type,
        f"{download.kind}-{document_id}.{_extension(download.media_type)}",
    )


def _letters(request: Request) -> Letters | None:
    documents: Documents | None = request.app.state.documents
    if documents is None:
        return None
    cases: Cases = request.app.state.cases
    return Letters(cases, render_letter, documents)


@router.post("/cases/{case_id}/letters")
async def issue_letter(request: Request, case_id: UUID, session: SessionDep) -> Response:
    form = await session_form(request, session)
    if form is None:
        return csrf_refused(request)
    letters = _letters(request)
    if letters is None:
        return not_found(request)
    try:
        kind = LetterKind(form.first("kind"))
    except ValueError:
        return case_file_response(
            request, session, case_id, status=422, refusal=said(request, NOT_OFFERED)
        )
    form_key = form.first(FORM_KEY_FIELD)
    try:
        letters.issue(
            session.actor,
            case_id,
            kind,
            referral_id=form.first("referral_id"),
            idempotency_key=f"web:{form_key}" if form_key else None,
        )
    except RuleViolated as rule:
        refusal = refusal_text(language_of(request), rule)
    except (InvalidValue, ReferralNotFound):
        # The referral comes from the row the form was on: only a forged form names another.
        return case_file_response(
            request, session, case_id, status=422, refusal=said(request, NOT_OFFERED)
        )
    except ContentUnavailable:
        refusal = said(request, SHREDDED)
    except (IdempotencyKeyReused, VersionConflict):
        refusal = said(request, SENT_TWICE)
    except CaseNotFound:
        return not_found(request)
    except AccessDenied:
        return case_file_response(
            request, session, case_id, status=403, refusal=said(request, NOT_YOURS)
        )
    else:
        return RedirectResponse(
            f"/cases/{case_id}?recorded=issue_letter#letters-heading", status_code=303
        )
    return case_file_response(request, session, case_id, status=409, refusal=refusal)


@router.get("/cases/{case_id}/letters/{letter_id}")
def download_letter(
    request: Request, case_id: UUID, letter_id: UUID, session: SessionDep
) -> Response:
    """The API's read of the letter's PDF (recorded in the access log first)."""
    letters = _letters(request)
    if letters is None:
        return not_found(request)
    try:
        letter = letters.read(session.actor, case_id, str(letter_id), CaseRead(view="letter_page"))
    except (CaseNotFound, AccessDenied, LetterNotFound):
        return not_found(request)
    except RuleViolated:
        return refused(request, 409, N_("Not allowed"), DIFFERS)
    return _download(letter.pdf, "application/pdf", f"surat-{letter.letter_id}.pdf")
