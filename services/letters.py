"""Issuing the office's letters, reading them back and verifying a printed one.

Issuing a letter (``Letters.issue``) renders it from the case's history as it stands,
the district's letterhead and the next number of the district's letter register, and
records ``Case.LetterIssued`` with the PDF's sha256 and verification code. The
register and the code's seal are saved in the same transaction as the case: a number
is never given twice nor skipped, and a code always leads back to its letter.

The PDF is stored as a document of the case (services/documents.py, encrypted with
the case's key) and its ``Case.DocumentAttached`` recorded in that same save, so there
is never a letter without its stored PDF nor the reverse; reading a letter serves
those bytes, checked against the hash. A letter issued before the PDFs were stored
(its ``LetterIssued`` followed by no ``DocumentAttached`` of the same hash) is rendered
again from the history before its event and checked the same way, so a later change
of the renderer or the letterhead only ever affects those. The renderer is given by
the composition root (gateways), which owns the PDF format.
"""

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from domain.actors import Actor, acting_as
from domain.case import Case
from domain.errors import RuleViolated
from domain.letters import LETTER_SPECS, Letterhead, LetterKind, LetterRegister, LetterSeal
from domain.time_standards import TimeStandardProfile
from services.access import Who
from services.access_log import CaseRead, Outcome, Refusal
from services.cases import CaseNotFound, Cases, CommandResult, VersionConflict, request_fingerprint
from services.documents import ContentUnavailable, Documents

VERIFICATION_PATH = "/api/v1/letters/verify/"
PDF = "application/pdf"
# Every letter of a district in a year takes the next number of one register, so
# concurrent issues on different cases conflict there and retry; more tries than a
# case's own commands need.
LETTER_CONFLICT_RETRIES = 30


@dataclass(frozen=True)
class LetterIssue:
    """What a letter says besides the case's history: which letter, when, by whom."""

    letter_id: str
    kind: LetterKind
    number: str
    issued_at: datetime
    issued_by: dict[str, str]
    referral_id: str
    # None while the code is being derived (from the letter rendered without it).
    verification_code: str | None


class LetterRenderer(Protocol):
    def __call__(
        self,
        history: Sequence[Case.Event],
        profile: TimeStandardProfile,
        letterhead: Letterhead,
        issue: LetterIssue,
    ) -> bytes: ...


class LetterNotFound(LookupError):
    """No such letter, or not one the caller may see: both look the same from outside."""


@dataclass(frozen=True)
class IssuedLetter:
    """A letter read back: its PDF, regenerated and checked, and what the event says."""

    letter_id: str
    kind: str
    number: str
    issued_at: datetime
    pdf: bytes


@dataclass(frozen=True)
class Verification:
    """What a verification code says of the letter it belongs to (no personal data)."""

    register_number: str
    district: str
    kind: str
    number: str
    step: str
    issued_at: datetime
    sha256: str


def letter_id_for(case_id: UUID, issued_at_version: int) -> str:
    """Letter ids derive from the case and their event's version, as referral ids do."""
    return str(uuid5(case_id, f"letter/{issued_at_version}"))


def issued_letter_id(result: CommandResult) -> str:
    """The id of the letter an issue (or its replay) recorded: its LetterIssued is the
    first event the issue recorded, the PDF's DocumentAttached the next."""
    return letter_id_for(result.case_id, result.version - len(result.recorded) + 1)


def verification_code_of(pdf_without_code: bytes) -> str:
    """The first 16 hex digits of the sha256 of the letter rendered without its code."""
    return hashlib.sha256(pdf_without_code).hexdigest()[:16]


# Who issues each letter: the surat tugas assigns, so the office's leads sign it.
_ISSUERS = {LetterKind.ASSIGNMENT: Who.OFFICE_LEADS}


class Letters:
    """The office's letters of the cases in one case store."""

    def __init__(self, cases: Cases, render: LetterRenderer, documents: Documents) -> None:
        self.cases = cases
        self.render = render
        self.documents = documents

    def issue(
        self,
        actor: Actor,
        case_id: UUID,
        kind: LetterKind,
        *,
        referral_id: str = "",
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """Issue a letter of ``kind`` on the case as it stands (L1.7, L2.7, T4, K-C8, ...).

        A retry with the same ``idempotency_key`` answers as the first issue did and
        takes no second number.
        """
        cases = self.cases
        request_hash = request_fingerprint(
            "issue_letter", case_id, {"kind": kind.value, "referral_id": referral_id}
        )
        replay = cases.replayed(actor, idempotency_key, request_hash)
        if replay is not None:
            return replay
        for _attempt in range(LETTER_CONFLICT_RETRIES):
            case = cases.visible_case(actor, case_id)
            if expected_version is not None and case.version != expected_version:
                raise VersionConflict(case_id, expected_version, case.version)
            cases.access.require_may_act(actor, case, _ISSUERS.get(kind, Who.CASE_TEAM))
            profile = cases.profiles.profile(case.district)
            letterhead = _letterhead(profile, kind)
            now = cases.clock()
            year = now.astimezone(profile.timezone).year
            register = self._register(case.district, year)
            letter_id = letter_id_for(case.id, case.version + 1)
            history = cases.history(case_id, lte=case.version)
            kinds = [k.value for k in letterhead.kinds]
            try:
                # Before a number is taken and the letter rendered from facts it needs.
                case.require_letter_issuable(
                    kind=kind.value, district_kinds=kinds, referral_id=referral_id
                )
            except RuleViolated as refusal:
                refusal.step = profile.own_step(refusal.step)
                raise
            with acting_as(actor, now):
                if register is None:
                    register = LetterRegister.open(case.district, year)
                seq = register.issue_sequence(case.id, letter_id)
                issue = LetterIssue(
                    letter_id=letter_id,
                    kind=kind,
                    number=letterhead.number(seq, kind, now.astimezone(profile.timezone)),
                    issued_at=now,
                    issued_by=actor.as_record(),
                    referral_id=referral_id,
                    verification_code=None,
                )
                code = verification_code_of(self.render(history, profile, letterhead, issue))
                issue = replace(issue, verification_code=code)
                pdf = self.render(history, profile, letterhead, issue)
                case.issue_letter(
                    letter_id=letter_id,
                    kind=kind.value,
                    number=issue.number,
                    sha256=hashlib.sha256(pdf).hexdigest(),
                    verification_code=code,
                    district_kinds=kinds,
                    referral_id=referral_id,
                )
                seal = LetterSeal.seal(code, case.id, letter_id)
                self.documents.attach_to(
                    case,
                    pdf,
                    kind=LETTER_SPECS[kind].document_kind.value,
                    step=_document_step(profile, LETTER_SPECS[kind].step),
                    media_type=PDF,
                    # The office's own letters are documents of every district that issues them.
                    district_kinds=profile.documents.kinds | {LETTER_SPECS[kind].document_kind},
                    step_codes={standard.code for standard in profile.steps},
                )
            recorded = tuple(type(event).__name__ for event in case.pending_events)
            record = cases.command_record(
                actor,
                idempotency_key,
                request_hash,
                case,
                recorded,
                register_number=case.register_number,
            )
            try:
                cases.save(register, case, seal, command=record)
            except IntegrityError:
                replay = cases.replayed(actor, idempotency_key, request_hash)
                if replay is not None:
                    return replay
                if expected_version is not None:
                    raise VersionConflict(
                        case_id, expected_version, cases.visible_case(actor, case_id).version
                    ) from None
                continue  # another letter took the number, or the case moved on
            return CommandResult(case.id, case.version, case.register_number, recorded)
        raise VersionConflict(case_id, None, cases.visible_case(actor, case_id).version)

    def read(self, actor: Actor, case_id: UUID, letter_id: str, read: CaseRead) -> IssuedLetter:
        """The letter's PDF as issued, from the document store (or, for a letter issued
        before PDFs were stored, rendered again from the history), checked against the
        hash its event records; the read is recorded first."""
        events = self.cases.read_case_events(actor, case_id, read)
        for issued in events:
            if isinstance(issued, Case.LetterIssued) and issued.letter_id == letter_id:
                break
        else:
            raise LetterNotFound(letter_id)
        if stored_pdf_of(issued, events) is None:
            pdf = self._rendered_again(events, issued)
        else:
            try:
                pdf = self.documents.stored(case_id, issued.sha256)
            except ContentUnavailable:
                raise LetterNotFound(letter_id) from None
        if hashlib.sha256(pdf).hexdigest() != issued.sha256:
            raise RuleViolated(
                "letter_differs_from_issued",
                "the letter rendered from the case's history no longer matches the hash "
                "recorded when it was issued (the letterhead or the renderer changed); "
                "the issued letter is the one whose hash the event records",
                step=issued.step,
            )
        return IssuedLetter(issued.letter_id, issued.kind, issued.number, issued.timestamp, pdf)

    def _rendered_again(self, events: Sequence[Case.Event], issued: Case.LetterIssued) -> bytes:
        history = events[: issued.originator_version - 1]
        profile = self.cases.district_profile(history[0])
        letterhead = _letterhead(profile, LetterKind(issued.kind))
        issue = LetterIssue(
            letter_id=issued.letter_id,
            kind=LetterKind(issued.kind),
            number=issued.number,
            issued_at=issued.timestamp,
            issued_by=issued.actor,
            referral_id=issued.referral_id,
            verification_code=issued.verification_code,
        )
        return self.render(history, profile, letterhead, issue)

    def verify(self, actor: Actor, verification_code: str, read: CaseRead) -> Verification:
        """Which letter a printed code belongs to, for those who may read its case."""
        try:
            seal: Any = self.cases.repository.get(LetterSeal.seal_id(verification_code))
        except AggregateNotFoundError:
            raise LetterNotFound(verification_code) from None
        try:
            case = self.cases.authorize_case_read(actor, seal.case_id, read)
        except CaseNotFound:
            # The same answer as an unknown code, so a code's existence leaks to nobody;
            # the refusal is still attributed in the access log.
            self.cases.record_refusal(
                actor,
                Refusal(
                    view=read.view,
                    outcome=Outcome.NOT_FOUND,
                    reason="letter_not_visible",
                    case_id=seal.case_id,
                    request_id=read.request_id,
                ),
            )
            raise LetterNotFound(verification_code) from None
        for issued in self.cases.history(case.id):
            if isinstance(issued, Case.LetterIssued) and issued.letter_id == seal.letter_id:
                own_step = self.cases.profiles.profile(case.district).own_step(issued.step)
                return Verification(
                    register_number=case.register_number,
                    district=case.district,
                    kind=issued.kind,
                    number=issued.number,
                    step=own_step or issued.step,
                    issued_at=issued.timestamp,
                    sha256=issued.sha256,
                )
        raise LetterNotFound(verification_code)

    def _register(self, district: str, year: int) -> LetterRegister | None:
        try:
            register: object = self.cases.repository.get(LetterRegister.register_id(district, year))
        except AggregateNotFoundError:
            return None
        assert isinstance(register, LetterRegister)
        return register


def stored_pdf_of(
    issued: Case.LetterIssued, events: Sequence[Case.Event]
) -> Case.DocumentAttached | None:
    """The DocumentAttached that stored the letter's PDF (recorded in its save: the next
    version, the same moment); None for a letter issued before PDFs were stored."""
    for attached in events[issued.originator_version : issued.originator_version + 1]:
        if (
            isinstance(attached, Case.DocumentAttached)
            and attached.sha256 == issued.sha256
            and attached.timestamp == issued.timestamp
        ):
            return attached
    return None


def _document_step(profile: TimeStandardProfile, step: str) -> str:
    """The profile's code of the letter's SOP step (of a range's first step: L1.9-10 is
    attached at L1.9), or "" where its profile has none."""
    codes = {standard.code for standard in profile.steps}
    first_of_range = re.sub(r"-\d+$", "", step)
    for candidate in (
        step,
        profile.own_step(step),
        first_of_range,
        profile.own_step(first_of_range),
    ):
        if candidate in codes:
            return candidate
    return ""


def _letterhead(profile: TimeStandardProfile, kind: LetterKind) -> Letterhead:
    if profile.letterhead is None:
        raise RuleViolated(
            "letter_not_in_profile",
            "this district's profile has no letterhead, so it issues no letters",
            step=LETTER_SPECS[kind].step,
        )
    return profile.letterhead
