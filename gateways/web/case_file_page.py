"""The case file page: what is known, what is due and by when, the steps its reader may
take now, its documents and letters, and the timeline; read like GET /api/v1/cases/{id},
so the view is logged."""

import re
import secrets
from dataclasses import dataclass
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from domain.actors import Actor
from domain.case import Case
from domain.documents import DocumentKind
from domain.letters import LETTER_SPECS, LetterKind
from domain.time_standards import TimeStandardProfile
from gateways.web.forms import VOCABULARY_WORDS, Choice
from gateways.web.i18n import N_
from gateways.web.pages import SessionDep, not_found, page
from gateways.web.sessions import BrowserSession
from gateways.web.steps import BY_OPERATION, steps_for
from projections.case_file import CaseFile, case_file_as_of
from projections.due_steps import due_steps
from projections.timeline import case_timeline
from services.access import AccessDenied, Who
from services.access_log import CaseRead
from services.accounts import Accounts
from services.case_commands import Step
from services.cases import CaseNotFound, Cases

STEP_CODE = re.compile(r"^[A-Z]+(-[A-Z]+)?\d+(\.\d+)*[a-z]?")
# The states of a due step shown under "what is due": the others are done or closed.
OWED = frozenset({"upcoming", "due", "overdue"})

# What the notice after a form names: the step just recorded (an operation in the URL).
RECORDED: dict[str, Step] = {
    operation: command.step for operation, command in BY_OPERATION.items()
} | {
    "report_case": Step("intake", "L1.1-L1.2", N_("Record a report"), Who.OFFICE_LEADS),
    "attach_document": Step("documents", "P7", N_("Attach a document"), Who.CASE_TEAM),
    "issue_letter": Step("letters", "", N_("Issue a letter"), Who.CASE_TEAM),
}

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class ShownDocument:
    """A row of the documents section: what the document is, never what it holds."""

    document_id: UUID
    kind: DocumentKind | str
    step: str | None
    media_type: str
    size: int
    letter: str | None


@dataclass(frozen=True)
class ShownLetter:
    letter_id: str
    title: str
    number: str
    step: str


@dataclass(frozen=True)
class Papers:
    """The documents and letters sections: what the case holds, and the forms its reader
    may send (none for an auditor, an agency or a closed case)."""

    documents: list[ShownDocument]
    letters: list[ShownLetter]
    may_attach: bool
    kinds: tuple[Choice, ...]
    step_codes: tuple[str, ...]
    case_letters: tuple[Choice, ...]
    # The letters the district issues, about the case and about one of its referrals.
    case_letter_kinds: tuple[Choice, ...]
    referral_letter_kinds: tuple[Choice, ...]
    form_key: str


def _kind(kind: str) -> DocumentKind | str:
    try:
        return DocumentKind(kind)
    except ValueError:
        return kind


def _title(kind: str) -> str:
    try:
        return LETTER_SPECS[LetterKind(kind)].title
    except ValueError:
        return kind


def papers_of(
    cases: Cases,
    actor: Actor,
    case: Case,
    case_file: CaseFile,
    profile: TimeStandardProfile,
    *,
    documents_kept: bool,
) -> Papers:
    titles = {
        letter.letter_id: f"{_title(letter.kind)} {letter.number}" for letter in case_file.letters
    }
    may_act = documents_kept and not case.is_closed
    try:
        cases.access.require_may_act(actor, case, Who.CASE_TEAM)
    except AccessDenied:
        may_act = False
    words = VOCABULARY_WORDS.get(DocumentKind, {})
    issued = profile.letterhead.kinds if profile.letterhead is not None and may_act else ()
    return Papers(
        documents=[
            ShownDocument(
                document.document_id,
                _kind(document.kind),
                document.step,
                document.media_type,
                document.size,
                titles.get(document.letter_id or document.signed_copy_of or ""),
            )
            for document in case_file.documents
        ],
        letters=[
            ShownLetter(letter.letter_id, _title(letter.kind), letter.number, letter.step)
            for letter in case_file.letters
        ],
        may_attach=may_act,
        kinds=tuple(Choice(kind, words.get(kind)) for kind in sorted(profile.documents.kinds)),
        step_codes=tuple(standard.code for standard in profile.steps),
        case_letters=tuple(Choice(letter_id, (t, t)) for letter_id, t in titles.items()),
        case_letter_kinds=tuple(
            Choice(kind.value, (LETTER_SPECS[kind].title,) * 2)
            for kind in issued
            if not LETTER_SPECS[kind].about_referral
        ),
        referral_letter_kinds=tuple(
            Choice(kind.value, (LETTER_SPECS[kind].title,) * 2)
            for kind in issued
            if LETTER_SPECS[kind].about_referral
        ),
        form_key=secrets.token_urlsafe(16),
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_file_page(
    request: Request, case_id: UUID, session: SessionDep, recorded: str | None = None
) -> Response:
    return case_file_response(request, session, case_id, recorded=recorded)


def case_file_response(
    request: Request,
    session: BrowserSession,
    case_id: UUID,
    *,
    status: int = 200,
    recorded: str | None = None,
    document_errors: dict[str, str] | None = None,
    refusal: str | None = None,
) -> Response:
    """The case file, read and logged; after a refused document or letter form, with its
    errors (already in the user's language) next to the fields and ``status``."""
    cases: Cases = request.app.state.cases
    try:
        case, events = cases.read_case(session.actor, case_id, CaseRead(view="case_file_page"))
    except (CaseNotFound, AccessDenied):
        return not_found(request)
    profile = cases.district_profile(events[0])
    now = cases.clock()
    schedule = due_steps(events, profile, now=now)
    due = [step for step in schedule.steps if step.state in OWED]
    steps = steps_for(cases, session.actor, case)
    owed = {step.code for step in due}
    case_file = case_file_as_of(events)
    return page(
        request,
        "case_file.html",
        status=status,
        title=N_("Case file"),
        case=case_file,
        case_worker=_display_name(request, case_file.case_worker.user_id)
        if case_file.case_worker
        else None,
        due=due,
        documents_missing=schedule.documents_missing,
        next_steps=[link for link in steps if owed & step_codes(link.sop_step)],
        other_steps=[link for link in steps if not owed & step_codes(link.sop_step)],
        recorded=RECORDED.get(recorded or ""),
        timeline=case_timeline(events, profile, now=now).entries,
        timezone=profile.timezone,
        papers=papers_of(
            cases,
            session.actor,
            case,
            case_file,
            profile,
            documents_kept=request.app.state.documents is not None,
        ),
        back_path=f"/cases/{case_id}",
        document_errors=document_errors or {},
        refusal=refusal,
    )


def step_codes(sop_step: str) -> set[str]:
    """The due-step codes a command's SOP step names: "L1.9-10" is L1.9, "L3.3 / L5.3" both,
    "K-C7" itself (a range's end is dropped, a district's prefix kept)."""
    return {
        found.group(0)
        for part in sop_step.split("/")
        if (found := STEP_CODE.match(part.strip())) is not None
    }


def _display_name(request: Request, user_id: str) -> str:
    """The colleague's name from the staff directory; the id where it keeps none."""
    accounts: Accounts | None = request.app.state.accounts
    member = accounts.directory.member(user_id) if accounts is not None else None
    return member.display_name if member is not None else user_id
