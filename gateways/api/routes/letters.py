"""The office's letters: issue one on a case, read its PDF back, verify a printed one.

Issuing is ``Case.LetterIssued`` (services/letters.py), with the PDF stored as a
document of the case (``Case.DocumentAttached``) in the same save; a read serves the
stored PDF, checked against the event's hash (letters issued before PDFs were stored
are rendered again from the history). Reads take ``CaseReadDep``, so each is recorded
in the access log first.
"""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Path, Response
from pydantic import BaseModel, Field

from domain.letters import LetterKind
from gateways.api.deps import ActorDep, CaseReadDep, CasesDep, ExpectedVersion, IdempotencyKey
from gateways.api.problems import COMMAND_ERRORS, READ_ERRORS, Problem, problem_response
from gateways.api.routes.documents import DocumentsDep
from gateways.api.schemas import CommandAccepted, accepted
from gateways.letter_pdf import render_letter
from services.case_commands import CommandModel, Identifier
from services.documents import ContentUnavailable
from services.letters import LetterNotFound, Letters, issued_letter_id

router = APIRouter(tags=["letters"])

CODE_PATTERN = r"^[0-9a-f]{16}$"
LETTER_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    404: {"model": Problem, "description": "No such case or letter visible to the caller"},
    409: {
        "model": Problem,
        "description": "The letter (one issued before PDFs were stored, rendered again) "
        "differs from the hash recorded at issue (rule letter_differs_from_issued)",
    },
}


def get_letters(cases: CasesDep, documents: DocumentsDep) -> Letters:
    return Letters(cases, render_letter, documents)


LettersDep = Annotated[Letters, Depends(get_letters)]


class IssueLetter(CommandModel):
    """Which letter to issue; a recommendation or referral record names its referral."""

    kind: LetterKind = Field(
        description="surat_tugas (L1.7), formulir_persetujuan (L1.9-10), laporan_kasus "
        "(L2.7), laporan_sosial (Tanjungpinang T2), surat_rekomendasi (T4, K-C8), "
        "berita_acara_rujukan (K-C8), formulir_terminasi (L6.2); the district's profile "
        "lists those its office issues"
    )
    referral_id: Identifier | None = Field(
        default=None,
        description="The referral a surat_rekomendasi or berita_acara_rujukan is about",
    )


class LetterIssued(CommandAccepted):
    letter_id: UUID = Field(description="The new letter's id: GET .../letters/{letter_id}")


class LetterVerification(BaseModel):
    """The letter a verification code belongs to; nothing of the person it concerns."""

    valid: bool = Field(description="Always true: an unknown code is a 404")
    register_number: str
    district: str
    kind: str
    number: str
    step: str
    issued_at: datetime
    sha256: str = Field(description="The sha256 of the PDF as issued")


@router.post(
    "/cases/{case_id}/letters",
    status_code=201,
    response_model=LetterIssued,
    summary="Issue one of the office's letters on the case (PDF, numbered, verifiable)",
    responses=COMMAND_ERRORS,
)
def issue_letter(
    case_id: UUID,
    body: IssueLetter,
    response: Response,
    letters: LettersDep,
    actor: ActorDep,
    version: ExpectedVersion,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Records Case.LetterIssued with the letter's number, its PDF's sha256 and the
    verification code printed on it, and Case.DocumentAttached for the PDF, stored
    encrypted as a document of the case."""
    try:
        result = letters.issue(
            actor,
            case_id,
            body.kind,
            referral_id=body.referral_id or "",
            expected_version=version,
            idempotency_key=idempotency_key,
        )
    except ContentUnavailable:
        return problem_response(
            409,
            "rule-violated",
            "Not allowed now",
            "the case's documents were destroyed; no letter's PDF can be stored on it",
            rule="documents_shredded",
        )
    answer = accepted(response, result)
    letter_id = issued_letter_id(result)
    response.headers["Location"] = f"/api/v1/cases/{case_id}/letters/{letter_id}"
    return LetterIssued(**answer.model_dump(), letter_id=UUID(letter_id))


@router.get(
    "/cases/{case_id}/letters/{letter_id}",
    response_class=Response,
    summary="The letter's PDF as issued and stored, checked against its recorded hash",
    responses={
        **LETTER_READ_ERRORS,
        200: {"content": {"application/pdf": {}}, "description": "The letter's PDF"},
    },
)
def read_letter(
    case_id: UUID,
    letter_id: UUID,
    letters: LettersDep,
    actor: ActorDep,
    read: CaseReadDep,
) -> Response:
    """The office's letter as PDF; agencies read their referrals through their inbox."""
    try:
        letter = letters.read(actor, case_id, str(letter_id), read)
    except LetterNotFound:
        raise HTTPException(404, "the case has no such letter") from None
    return Response(
        letter.pdf,
        media_type="application/pdf",
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'inline; filename="surat-{letter.letter_id}.pdf"',
            "ETag": f'"{letter.letter_id}"',
        },
    )


@router.get(
    "/letters/verify/{code}",
    response_model=LetterVerification,
    summary="Which issued letter a printed verification code belongs to",
    responses=LETTER_READ_ERRORS,
)
def verify_letter(
    code: Annotated[str, Path(pattern=CODE_PATTERN, description="The 16 hex digits printed")],
    response: Response,
    letters: LettersDep,
    actor: ActorDep,
    read: CaseReadDep,
) -> LetterVerification:
    """For those who may read the letter's case (its office, auditors, an agency it was
    referred to); anyone else gets the same 404 as for an unknown code."""
    try:
        found = letters.verify(actor, code, read)
    except LetterNotFound:
        raise HTTPException(
            404, "no letter with this verification code is visible to you"
        ) from None
    response.headers["Cache-Control"] = "no-store"
    return LetterVerification(
        valid=True,
        register_number=found.register_number,
        district=found.district,
        kind=found.kind,
        number=found.number,
        step=found.step,
        issued_at=found.issued_at,
        sha256=found.sha256,
    )
