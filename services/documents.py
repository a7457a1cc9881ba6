"""Documents, photos and recordings on a case: checked, stored encrypted, attached, fetched.

An upload is judged by its content (services/document_content.py), stored through
the ``DocumentStore`` seam (PostgreSQL by default, gateways/documents/; an object
store can fill it in a larger deployment), then attached to the case by the
``AttachDocument`` command, whose event holds the content's SHA-256, so the hash
chain covers what was attached. Content is addressed by that hash within its case:
the same file attached twice to a case is the same document, stored once.

Who may fetch a document is who may read the case file (the case team, auditors),
and an agency only where the data-sharing matrix lists the document's kind for it,
on a case referred or handed over to it, once the beneficiary consented or while it
holds an open emergency referral. Every fetch is recorded in the access log first.
"""

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Annotated, ClassVar, Protocol
from uuid import UUID, uuid5

from pydantic import Field, StringConstraints

from domain.actors import Actor
from domain.case import Case, DocumentState
from domain.errors import CaseClosed, InvalidValue
from domain.sharing_matrix import SharingMatrix
from domain.vocabulary import Role
from services.access import Who, is_referred_agency
from services.access_log import CaseRead
from services.case_commands import CaseCommand, CommandContext, Step
from services.cases import Cases, CommandResult
from services.document_content import check_content

SHA256_PATTERN = r"^[0-9a-f]{64}$"


class DocumentTooLarge(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the document is larger than the limit of {limit} bytes")
        self.limit = limit


class DocumentNotFound(LookupError):
    """No such document on the case, or not one the caller may fetch: both look the same."""

    def __init__(self, case_id: UUID) -> None:
        super().__init__("no such document is visible to you")
        self.case_id = case_id


class ContentUnavailable(LookupError):
    """The content is gone: its case's key was destroyed (crypto-shredded), or never stored."""


class DocumentStore(Protocol):
    """Where documents' content is kept, encrypted with a key of its case."""

    def put(self, case_id: UUID, content: bytes, media_type: str) -> str:
        """Store ``content`` for the case (idempotently); returns its SHA-256 (hex)."""

    def get(self, case_id: UUID, sha256: str) -> bytes:
        """The content, decrypted; ``ContentUnavailable`` if shredded or never stored."""

    def shred_case(self, case_id: UUID) -> None:
        """Destroy the case's key, so none of its documents can be read again, anywhere
        their ciphertext is kept (backups included); later uploads to it are refused."""


def document_id_for(case_id: UUID, sha256: str) -> str:
    """A document's id names its content within its case (content addressing)."""
    return str(uuid5(case_id, f"document/{sha256}"))


class AttachDocument(CaseCommand):
    """Attach stored content to the case as a document of a kind, at a step if any."""

    step: ClassVar[Step] = Step(
        "documents",
        "P7",
        "Attach a document, photo or recording (Purwakarta P7: files and photos are kept)",
        Who.CASE_TEAM,
    )

    document_id: Annotated[str, StringConstraints(max_length=36)]
    kind: Annotated[str, StringConstraints(max_length=64)]
    at_step: Annotated[str, StringConstraints(max_length=32)] = ""
    sha256: Annotated[str, StringConstraints(pattern=SHA256_PATTERN)]
    size: Annotated[int, Field(ge=1)]
    media_type: Annotated[str, StringConstraints(max_length=64)]
    # The letter of the case this document is the signed copy of, if any.
    letter_id: Annotated[str, StringConstraints(max_length=36)] = ""

    def apply(self, case: Case, context: CommandContext) -> None:
        case.attach_document(
            document_id=self.document_id,
            kind=self.kind,
            step=self.at_step,
            sha256=self.sha256,
            size=self.size,
            media_type=self.media_type,
            district_kinds=context.profile.documents.kinds,
            step_codes={step.code for step in context.profile.steps},
        )
        if self.letter_id:
            case.attach_signed_copy(document_id=self.document_id, letter_id=self.letter_id)


@dataclass(frozen=True)
class Attached:
    result: CommandResult
    document_id: str


@dataclass(frozen=True)
class Download:
    content: bytes
    media_type: str
    kind: str
    sha256: str


class Documents:
    """Upload and download of a case's documents, over the case service and a store."""

    def __init__(
        self, cases: Cases, store: DocumentStore, matrix: SharingMatrix, *, max_bytes: int
    ) -> None:
        self.cases = cases
        self.store = store
        self.matrix = matrix
        self.max_bytes = max_bytes

    def attach(
        self,
        actor: Actor,
        case_id: UUID,
        content: bytes,
        *,
        declared_type: str,
        kind: str,
        step: str = "",
        letter_id: str = "",
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Attached:
        """Check the upload, store its content, attach it. What can refuse the command is
        checked before the content is stored; content whose command then fails anyway (a
        race with the case's closing, a stale If-Match) stays stored, encrypted, named by
        no event and served to no one. ``letter_id`` names the letter of the case the
        document is the signed copy of (``Case.SignedCopyAttached``)."""
        if len(content) > self.max_bytes:
            raise DocumentTooLarge(self.max_bytes)
        case = self.cases.visible_case(actor, case_id)
        self.cases.access.require_may_act(actor, case, AttachDocument.step.who)
        if case.is_closed:
            raise CaseClosed()
        rules = self.cases.profiles.profile(case.district)
        if not rules.documents.accepts(kind):
            raise InvalidValue("kind", "is not a document kind the district's profile accepts")
        if step and step not in {standard.code for standard in rules.steps}:
            raise InvalidValue("step", "is not a step of the district's profile")
        if letter_id and letter_id not in case.letter_ids:
            raise InvalidValue("letter_id", "is not a letter issued on this case")
        checked = check_content(content, declared_type)
        sha256 = hashlib.sha256(checked.content).hexdigest()
        command = AttachDocument(
            document_id=document_id_for(case_id, sha256),
            kind=kind,
            at_step=step,
            sha256=sha256,
            size=len(checked.content),
            media_type=checked.media_type,
            letter_id=letter_id,
        )
        self.store.put(case_id, checked.content, checked.media_type)
        result = self.cases.execute(
            actor,
            case_id,
            command,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )
        return Attached(result, command.document_id)

    def attach_to(
        self,
        case: Case,
        content: bytes,
        *,
        kind: str,
        step: str,
        media_type: str,
        district_kinds: Collection[str],
        step_codes: Collection[str],
    ) -> str:
        """Store content the office made itself (a letter's PDF, services/letters.py) and
        attach it to ``case``, which the caller saves with whatever else the command
        changes; returns the document's id. As for an upload, content whose save then
        fails stays stored, encrypted, named by no event and served to no one."""
        sha256 = self.store.put(case.id, content, media_type)
        document_id = document_id_for(case.id, sha256)
        case.attach_document(
            document_id=document_id,
            kind=kind,
            step=step,
            sha256=sha256,
            size=len(content),
            media_type=media_type,
            district_kinds=district_kinds,
            step_codes=step_codes,
        )
        return document_id

    def stored(self, case_id: UUID, sha256: str) -> bytes:
        """The content of one of the case's documents, for a read already authorized and
        recorded in the access log (a letter's PDF); ``ContentUnavailable`` if gone."""
        return self.store.get(case_id, sha256)

    def download(self, actor: Actor, case_id: UUID, document_id: UUID, read: CaseRead) -> Download:
        """A document for the case team or an auditor; the read is recorded first."""
        case = self.cases.authorize_case_read(
            actor, case_id, read, permitted=self._may_read_case_documents
        )
        return self._fetch(case_id, self._document(case, document_id))

    def agency_download(
        self, actor: Actor, case_id: UUID, document_id: UUID, read: CaseRead
    ) -> Download:
        """A document for an agency the case was referred or handed over to, of a kind
        its row of the data-sharing matrix lists, once personal data may reach it."""
        row = self.matrix.row(actor.agency.value)
        case = self.cases.visible_case(actor, case_id)
        document = case.documents.get(str(document_id))
        if (
            row is None
            or document is None
            or document.kind not in row.documents
            or not case.document_is_for(actor.agency.value, document.sha256)
            or not is_referred_agency(actor, case)
            or not _documents_may_reach(actor, case)
        ):
            raise DocumentNotFound(case_id)
        self.cases.authorize_case_read(actor, case_id, read, permitted=is_referred_agency)
        return self._fetch(case_id, document)

    def agency_documents(
        self, actor: Actor, case_id: UUID, read: CaseRead
    ) -> list[tuple[str, DocumentState]]:
        """The documents of a case an agency may fetch (none before personal data may reach
        it), as (document id, state); the read is recorded first."""
        row = self.matrix.row(actor.agency.value)
        case = self.cases.authorize_case_read(actor, case_id, read, permitted=is_referred_agency)
        if row is None or not _documents_may_reach(actor, case):
            return []
        return [
            (document_id, document)
            for document_id, document in case.documents.items()
            if document.kind in row.documents
            and case.document_is_for(actor.agency.value, document.sha256)
        ]

    def _may_read_case_documents(self, actor: Actor, case: Case) -> bool:
        # Agencies fetch through their own route, by the matrix.
        return actor.role != Role.AGENCY_OFFICER and self.cases.access.may_read(actor, case)

    @staticmethod
    def _document(case: Case, document_id: UUID) -> DocumentState:
        document = case.documents.get(str(document_id))
        if document is None:
            raise DocumentNotFound(case.id)
        return document

    def _fetch(self, case_id: UUID, document: DocumentState) -> Download:
        try:
            content = self.store.get(case_id, document.sha256)
        except ContentUnavailable:
            raise DocumentNotFound(case_id) from None
        return Download(content, document.media_type, document.kind, document.sha256)


def _documents_may_reach(actor: Actor, case: Case) -> bool:
    # The case's documents are the report's victim's: an agency serving only beneficiaries
    # added later (siblings, item 7) gets none of them, as it gets none of her facts.
    return _personal_data_may_reach(actor, case) and not case.serves_only_added_beneficiaries(
        actor.agency.value
    )


def _personal_data_may_reach(actor: Actor, case: Case) -> bool:
    """The consent gate of the sharing matrix (L1.9-10), for documents: after consent, or
    for an agency holding an open emergency referral (routing rule e)."""
    if case.consent == "given":
        return True
    return any(
        referral.emergency and not referral.is_settled and referral.agency == actor.agency.value
        for referral in case.referrals.values()
    )
