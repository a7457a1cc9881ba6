"""The same person again: earlier cases naming the victim, links between cases, reopening.

Matching. Each case's victim is fingerprinted with a key only this process holds
(services/person_fingerprints.py) into an index (projections/same_person.py, kept
in PostgreSQL by gateways/readmodels/same_person.py). The index follows the event
store: before every look-up and after every report it catches up with the reports
recorded since its position, so a case opened on any path (the API, an outreach
turned into a case, an import) is found. The office of a case's district sees the
earlier cases of its own district by register number and id, and of other districts
only that a match exists there (district, register number, case id, basis): no
personal data leaves a district. Every look is recorded in the access log.

Reopening: a new report on a closed case opens a NEW case linked to the old one;
the old case records ``Case.Reopened`` (which new case, why) and stays closed.
Why, from the SOPs (shared/domain.md):
- L6.2-L6.3 close a case with a termination form signed by the beneficiary, the
  family and the office, and L6.5 sets the status to closed/end with a termination
  report. Reopening that case would put new steps after a signed closure; the
  signed record must stay what it was.
- The SOPs' only loop back is L5.5-L5.6 ("lakukan kembali proses asesmen"), and it
  is taken before termination, on an open case. After L6.5 no step leads back.
- Every complaint is received and recorded (L1.1-L1.2; the berita acara penerimaan
  pengaduan K-R4; "every complaint is accepted") with its own register number, and
  the time standards run from its arrival (L1.1-L1.5; Tanjungpinang receives in 15
  minutes, Kutai Timur's complaints in 30). A recurrence is a new report whose
  clocks start at L1.1, which a new case gives and a reopened old one could not
  (its L1 steps were met, years before).
- Kutai Timur (complaints, step 6): "Ketika kasus selesai, hasil dilaporkan" - a
  finished case is reported, and the data SOP counts cases by month; a recurrence
  counted in the old case's month would vanish from the statistics.
So time standards restart with the new case (its own L1.1 onwards), and the old
case's steps, termination and clocks stay whole. Agencies are told nothing new by
the reopening: the old case's agencies had case.closed, and the new case is shared,
like any case, when it is referred or handed over (services/sharing.py sends no
message for LinkedToCase or Reopened, which name cases an agency may not know).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from pydantic import BaseModel, Field

from domain.actors import Actor
from domain.case import Case
from domain.vocabulary import LinkBasis, Role
from projections.same_person import INDEXED_TOPICS, PersonRow, names_a_person, person_rows
from services.access import Who
from services.access_log import CaseRead
from services.case_commands import (
    CaseCommand,
    CommandContext,
    Note,
    ReportCase,
    RequiredText,
    Step,
)
from services.cases import CaseNotFound, Cases, CommandResult
from services.person_fingerprints import PersonFingerprinter

CATCH_UP_PAGE = 500


class LinkedCaseNotFound(LookupError):
    """The other case of a link does not exist, or is not one the caller may link to."""

    rule = "linked_case_not_found"


@dataclass(frozen=True)
class IndexedMatch:
    case_id: UUID
    district: str
    register_number: str
    reported_at: datetime
    bases: tuple[str, ...]


class PersonIndex(Protocol):
    def position(self) -> int: ...

    def add(self, rows: Sequence[PersonRow], *, after: int | None = None, to: int = 0) -> bool: ...

    def matches(self, case_id: UUID) -> list[IndexedMatch]: ...


# ---- What the office sees -----------------------------------------------------------------


class EarlierCase(BaseModel):
    """Another case naming the same person; of another district, only that it exists there."""

    case_id: UUID = Field(description="The other case's id.")
    district: str = Field(description="The district whose office coordinates it.")
    register_number: str = Field(description="Its number in that district's register.")
    same_district: bool = Field(description="Whether it is a case of this case's district.")
    reported_at: datetime | None = Field(
        description="When it was reported; for a case of this district only."
    )
    bases: list[LinkBasis] = Field(
        description="What matched: the NIK, or the name with the birth date (spelling folded)."
    )
    linked: bool = Field(description="Whether this case already records a link to it.")


class SamePersonMatches(BaseModel):
    case_id: UUID
    earlier_cases: list[EarlierCase] = Field(
        description="Other cases whose victim has the same keyed fingerprint, oldest first."
    )


# ---- Commands -----------------------------------------------------------------------------


class LinkCase(CaseCommand):
    """Record that another case names the same person (the office decides, not the match)."""

    step = Step(
        "links",
        "L1.2",
        "Link an earlier case naming the same person (NIK, name and birth date, or the "
        "officer's knowledge)",
        Who.CASE_TEAM,
    )

    other_case_id: UUID
    basis: LinkBasis
    reason: Note = ""

    def apply(self, case: Case, context: CommandContext) -> None:
        case.link_to_case(other_case_id=self.other_case_id, basis=self.basis, reason=self.reason)


class ReopenCase(ReportCase):
    """A new report on a closed case: a new case (L1.1-L1.2) linked to the closed one."""

    reason: RequiredText = Field(description="Why the closed case's matter is taken up again")
    basis: LinkBasis = Field(
        default=LinkBasis.OFFICER, description="How the office knows it is the same person"
    )


# ---- The service --------------------------------------------------------------------------


class SamePerson:
    def __init__(self, cases: Cases, index: PersonIndex, fingerprinter: PersonFingerprinter):
        self.cases = cases
        self.index = index
        self.fingerprinter = fingerprinter

    def catch_up(self) -> None:
        """Index every report recorded since the index's position."""
        while True:
            position = self.index.position()
            page = self.cases.recorder.select_notifications(
                position, CATCH_UP_PAGE, topics=INDEXED_TOPICS, inclusive_of_start=False
            )
            if not page:
                return
            rows = [
                row
                for notification in page
                for row in self._rows_named_by(
                    _case_event(self.cases.mapper.to_domain_event(notification))
                )
            ]
            self.index.add(rows, after=position, to=page[-1].id)
            if len(page) < CATCH_UP_PAGE:
                return

    def _rows_named_by(self, event: Case.Event) -> list[PersonRow]:
        if isinstance(event, Case.ReportReceived):
            return person_rows([event], self.fingerprinter.fingerprints)
        if not names_a_person(event):
            return []
        # A correction completes the facts the report left: the fingerprint needs them all.
        history = self.cases.history(event.originator_id, lte=event.originator_version)
        return person_rows(history, self.fingerprinter.fingerprints)

    def _index_case(self, case_id: UUID) -> None:
        # The case asked about is indexed from its own history whatever the position says:
        # a report committed after a later one was indexed is still found.
        self.index.add(person_rows(self.cases.history(case_id), self.fingerprinter.fingerprints))

    def earlier_cases(self, actor: Actor, case_id: UUID, read: CaseRead) -> SamePersonMatches:
        """The office of the case's district (and auditors): who else names this person."""
        if actor.role == Role.AGENCY_OFFICER:
            raise CaseNotFound(case_id)  # an agency never learns a case's other cases
        access = self.cases.access
        case = self.cases.authorize_case_read(
            actor,
            case_id,
            read,
            permitted=lambda who, seen: (
                who.role == Role.AUDITOR or access.is_case_office(who, seen)
            ),
        )
        self.catch_up()
        self._index_case(case_id)
        return SamePersonMatches(
            case_id=case_id,
            earlier_cases=[_shown(match, case) for match in self.index.matches(case_id)],
        )

    def link(
        self,
        actor: Actor,
        case_id: UUID,
        command: LinkCase,
        *,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """Link two cases: both record it where both are the district's, else this one only.

        Another district's case can be linked only where the fingerprints match (the
        other office decides about its own case); an unknown case is refused (404).
        """
        case = self.cases.visible_case(actor, case_id)
        self.cases.access.require_may_act(actor, case, command.step.who)
        other = self._other_case(actor, command.other_case_id, case)
        result = self.cases.execute(
            actor,
            case_id,
            command,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )
        if other is not None and other.district == case.district:
            back = LinkCase(other_case_id=case_id, basis=command.basis, reason=command.reason)
            self.cases.execute(actor, other.id, back)  # idempotent: a retry completes it
        return result

    def _other_case(self, actor: Actor, other_case_id: UUID, case: Case) -> Case | None:
        if other_case_id == case.id:
            return None  # the aggregate refuses it, by its rule
        try:
            report = self.cases.history(other_case_id, lte=1)
        except TypeError:  # the id of another aggregate (a register, an outreach)
            raise LinkedCaseNotFound() from None
        if not report or not isinstance(report[0], Case.ReportReceived):
            raise LinkedCaseNotFound()
        if report[0].district != case.district:
            self.catch_up()
            self._index_case(case.id)
            if other_case_id not in {m.case_id for m in self.index.matches(case.id)}:
                raise LinkedCaseNotFound()
            return None
        try:
            return self.cases.visible_case(actor, other_case_id)
        except CaseNotFound:
            raise LinkedCaseNotFound() from None

    def reopen(
        self,
        actor: Actor,
        closed_case_id: UUID,
        request: ReopenCase,
        *,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """A new report on a closed case: a new case, linked, and ``Reopened`` on the old."""
        closed = self.cases.visible_case(actor, closed_case_id)
        self.cases.access.require_may_act(actor, closed, Who.OFFICE_LEADS)

        def reopening(new_case: Case) -> Case:
            old = self.cases.visible_case(actor, closed_case_id)
            old.reopen_as(new_case_id=new_case.id, reason=request.reason)
            new_case.link_to_case(
                other_case_id=closed_case_id, basis=request.basis, reason=request.reason
            )
            return old

        result = self.cases.report_case(
            actor, request, idempotency_key=idempotency_key, together=reopening
        )
        self.catch_up()
        return result


def _shown(match: IndexedMatch, case: Case) -> EarlierCase:
    same = match.district == case.district
    return EarlierCase(
        case_id=match.case_id,
        district=match.district,
        register_number=match.register_number,
        same_district=same,
        reported_at=match.reported_at if same else None,
        bases=[LinkBasis(basis) for basis in match.bases],
        linked=match.case_id in case.linked_case_ids,
    )


def _case_event(event: object) -> Case.Event:
    if not isinstance(event, Case.Event):
        raise TypeError("the same-person index follows case events only")
    return event
