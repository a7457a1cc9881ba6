"""The case service: reads that are checked and recorded, and commands run one way.

Every command (services/case_commands.py) runs as an actor (who, in which
role and agency) at the service clock's time, may carry an expected version
(a stale write is refused, never lost) and an idempotency key (a retried
request never appends twice): load -> check who may -> decide -> save.
"""

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain.actors import Actor, acting_as
from domain.case import Case
from domain.documents import kinds_by_step
from domain.errors import InvalidValue, RuleViolated
from domain.register import CaseRegister
from domain.time_standards import TimeStandardProfile, steps_completed_by
from services.access import (
    AccessDenied,
    AccessRules,
    may_read_actor_access_log,
    require_may_read_case_file,
    require_may_report,
)
from services.access_log import (
    AccessEntry,
    AccessLog,
    AccessQuery,
    AccessRecord,
    CaseRead,
    FailedAuthentication,
    Refusal,
)
from services.case_commands import CaseCommand, CommandContext, ReportCase, StaffLookup
from services.case_search import SearchKeys, SearchTerms, search_record
from services.profiles import ProfileBook, UnknownDistrict, load_profiles
from services.sharing import load_matrix

MAX_CONFLICT_RETRIES = 5


class CaseNotFound(LookupError):
    """No such case, or not one the actor may see: both look the same from outside."""

    def __init__(self, case_id: UUID) -> None:
        super().__init__(f"case {case_id} not found")
        self.case_id = case_id


class VersionConflict(Exception):
    """The case changed since the version the client based its command on."""

    def __init__(self, case_id: UUID, expected: int | None, actual: int) -> None:
        super().__init__(
            f"case {case_id} is at version {actual}, the command expected {expected}"
            if expected is not None
            else f"case {case_id} was changed concurrently; retry"
        )
        self.case_id = case_id
        self.expected = expected
        self.actual = actual


class IdempotencyKeyReused(Exception):
    """The idempotency key was already used for a different request."""

    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was already used for a different request")


@dataclass(frozen=True)
class CommandResult:
    case_id: UUID
    version: int
    register_number: str
    recorded: tuple[str, ...]
    replayed: bool = False


@dataclass(frozen=True)
class CommandRecord:
    """What the event store keeps about an idempotent command, in the same transaction."""

    key_hash: str
    request_hash: str
    case_id: UUID
    version: int
    register_number: str
    recorded: tuple[str, ...]

    def result(self) -> CommandResult:
        return CommandResult(
            case_id=self.case_id,
            version=self.version,
            register_number=self.register_number,
            recorded=self.recorded,
            replayed=True,
        )


class CommandLog(Protocol):
    def find_command(self, key_hash: str) -> CommandRecord | None: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


def request_fingerprint(command: str, subject_id: UUID | None, arguments: dict[str, Any]) -> str:
    """What an idempotent request asked for: the command, the aggregate it names, its body."""
    body = json.dumps(
        {
            "command": command,
            "case_id": str(subject_id) if subject_id else None,
            "arguments": arguments,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _key_hash(actor: Actor, idempotency_key: str) -> str:
    # Keys are scoped to the caller that chose them, by the whole identity (a replay answers
    # before any access check), and stored only as a digest.
    caller = "\x00".join((actor.user_id, actor.role.value, actor.agency.value, actor.district))
    return hashlib.sha256(f"{caller}\x00{idempotency_key}".encode()).hexdigest()


class Cases(Application[UUID]):
    """The event-sourced case store and its commands."""

    name = "Cases"
    env: ClassVar[dict[str, str]] = {"AGGREGATE_CACHE_MAXSIZE": "1000"}

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        profiles: ProfileBook | None = None,
        agencies_with_inbox: Iterable[str] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """``agencies_with_inbox``: the rows of the data-sharing matrix in use (the
        bundled one's by default); a referral or hand-over reaches only these."""
        super().__init__(env)
        self.profiles = profiles or load_profiles()
        self.access = AccessRules(self.profiles)
        self.agencies_with_inbox = frozenset(
            load_matrix().agencies if agencies_with_inbox is None else agencies_with_inbox
        )
        self.clock = clock
        # The staff directory (services/accounts.py), where the deployment keeps accounts.
        self.staff: StaffLookup | None = None

    # ---- Reading ---------------------------------------------------------------

    def visible_case(self, actor: Actor, case_id: UUID) -> Case:
        case = self._load(case_id)
        if not self.access.may_read(actor, case):
            raise CaseNotFound(case_id)
        return case

    def read_case_events(
        self, actor: Actor, case_id: UUID, read: CaseRead, *, upto_version: int | None = None
    ) -> list[Case.Event]:
        """The case's recorded events, oldest first; the read is recorded first, or refused."""
        return self.read_case(actor, case_id, read, upto_version=upto_version)[1]

    def read_case(
        self, actor: Actor, case_id: UUID, read: CaseRead, *, upto_version: int | None = None
    ) -> tuple[Case, list[Case.Event]]:
        """The case as it is now and its recorded events (``read_case_events``), for a reader
        who also asks the case what may be done next: loaded once, read once."""
        case = self.visible_case(actor, case_id)
        require_may_read_case_file(actor, case)
        record = AccessRecord.of(actor, case_id, read, self.clock())
        stored = self._access_log.select_events_recording_access(case_id, record, lte=upto_version)
        return case, [_case_event(self.mapper.to_domain_event(event)) for event in stored]

    def history(self, case_id: UUID, *, lte: int | None = None) -> list[Case.Event]:
        """A case's events, oldest first, for Simpul's own processes (no reader, no access log)."""
        return [_case_event(event) for event in self.events.get(case_id, lte=lte)]

    def authorize_case_read(
        self,
        actor: Actor,
        case_id: UUID,
        read: CaseRead,
        *,
        permitted: Callable[[Actor, Case], bool] | None = None,
    ) -> Case:
        """For reads about a case other than its events: check who may (``permitted``, by
        default whoever may read the case), then record the read."""
        case = self.visible_case(actor, case_id)
        permitted = permitted or self.access.may_read
        if not permitted(actor, case):
            raise AccessDenied(
                "not_permitted", f"this view of the case is not open to the {actor.role} role"
            )
        self._access_log.record_access(AccessRecord.of(actor, case_id, read, self.clock()))
        return case

    def access_log_of_case(
        self, actor: Actor, case_id: UUID, read: CaseRead, *, after: int = 0, limit: int = 100
    ) -> list[AccessEntry]:
        """Who read the case, oldest first. Reading it is itself recorded."""
        self.authorize_case_read(actor, case_id, read, permitted=self.access.may_read_access_log)
        return self._access_log.select_access(
            AccessQuery(case_id=case_id, after=after, limit=limit)
        )

    def access_log_of_user(
        self, actor: Actor, user_id: str, read: CaseRead, *, after: int = 0, limit: int = 100
    ) -> list[AccessEntry]:
        """What one person read, oldest first: auditors only, and recorded too."""
        if not may_read_actor_access_log(actor):
            raise AccessDenied("not_permitted", "only auditors may list what a person accessed")
        self._access_log.record_access(AccessRecord.of(actor, None, read, self.clock()))
        return self._access_log.select_access(
            AccessQuery(user_id=user_id, after=after, limit=limit)
        )

    def record_inbox_read(self, actor: Actor, case_ids: Iterable[UUID], read: CaseRead) -> None:
        """An agency's inbox shows what it may know of these cases: each read is recorded.

        An empty inbox is recorded too (with no case), so every look is attributable.
        """
        at = self.clock()
        shown: list[UUID | None] = [*dict.fromkeys(case_ids)] or [None]
        for case_id in shown:
            self._access_log.record_access(AccessRecord.of(actor, case_id, read, at))

    def record_office_view_read(self, actor: Actor, read: CaseRead) -> None:
        """A read across the district's cases (the office's lists): attributable, no case id."""
        self._access_log.record_access(AccessRecord.of(actor, None, read, self.clock()))

    def require_may_search(self, actor: Actor) -> None:
        if not self.access.may_search_cases(actor):
            raise AccessDenied(
                "case_search_office_only",
                "only the staff of the district's coordinating office search its cases",
            )

    def record_search(
        self, actor: Actor, terms: SearchTerms, read: CaseRead, keys: SearchKeys
    ) -> None:
        """Issue 12 item 5: who searched the office's index, when, why and for what (sealed).

        Only the office searches; the record is written before the search runs, and if it
        cannot be written nothing is searched."""
        self.require_may_search(actor)
        if not read.purpose:
            raise AccessDenied("case_search_purpose", "a search states its purpose")
        record = search_record(actor, read.purpose, read.request_id, self.clock())
        self._access_log.record_search(record, keys.seal(terms, record))

    def record_refusal(self, actor: Actor, refused: Refusal) -> None:
        """An identified caller was refused (403, or 404 for a case they may not see)."""
        self._access_log.record_access(AccessRecord.refusal(actor, refused, self.clock()))

    def record_failed_authentication(self, view: str, reason: str) -> None:
        """A request without a valid token: the view and the reason, nothing of the token."""
        attempt = FailedAuthentication(attempted_at=self.clock(), view=view, reason=reason)
        self._access_log.record_failed_authentication(attempt)

    def head_position(self) -> int:
        """The position of the newest event in the store (0 when empty); fails if unreachable."""
        head: int | None = self.recorder.max_notification_id()
        return head or 0

    def district_profile(self, report: Case.Event) -> TimeStandardProfile:
        """The SOP profile of the district whose office coordinates the case this report opened."""
        if not isinstance(report, Case.ReportReceived):
            raise TypeError("a case's district is named by its ReportReceived event")
        return self.profiles.profile(report.district)

    def receiving_agencies(self, case: Case) -> frozenset[str]:
        """Where a referral or hand-over of ``case`` can go: an agency with an inbox, or
        the case's coordinating office (its own services, L3.2), which sees every referral
        in its views and answers for it."""
        return self.agencies_with_inbox | {self.access.coordinating_agency(case.district).value}

    @property
    def _access_log(self) -> AccessLog:
        log: AccessLog = self.recorder.access_log  # type: ignore[attr-defined]  # the recorder is ours (gateways/eventstore)
        return log

    # ---- Commands ----------------------------------------------------------------

    def report_case(
        self,
        actor: Actor,
        report: ReportCase,
        *,
        idempotency_key: str | None = None,
        case_id: UUID | None = None,
        together: Callable[[Case], Aggregate] | None = None,
    ) -> CommandResult:
        """L1.1-L1.2: record a report; the case is coordinated by the reporter's district.

        ``together`` records what the new case causes on another aggregate (an outreach
        that became this case, K-R1): it is decided afresh on each attempt and saved in
        the same transaction as the case, so neither is ever stored without the other.
        """
        require_may_report(actor)
        try:
            profile = self.profiles.profile(actor.district)
        except UnknownDistrict:
            raise InvalidValue("district", "the caller's district has no profile") from None
        request_hash = request_fingerprint("report_case", None, report.model_dump(mode="json"))
        replay = self.replayed(actor, idempotency_key, request_hash)
        if replay is not None:
            return replay
        case_id = case_id or uuid4()
        for _attempt in range(MAX_CONFLICT_RETRIES):
            now = self.clock()
            year = now.astimezone(profile.timezone).year
            register = self._register(actor.district, year, profile.register_code)
            with acting_as(actor, now):
                if register is None:
                    register = CaseRegister.open(actor.district, year, profile.register_code)
                number = register.issue_number(case_id)
                case = report.open_case(
                    case_id=case_id, district=actor.district, register_number=number
                )
                companions = [together(case)] if together is not None else []
            recorded = tuple(type(event).__name__ for event in case.pending_events)
            record = self.command_record(
                actor,
                idempotency_key,
                request_hash,
                case,
                recorded,
                register_number=case.register_number,
            )
            try:
                self.save(register, case, *companions, command=record)
            except IntegrityError:
                replay = self.replayed(actor, idempotency_key, request_hash)
                if replay is not None:
                    return replay
                continue  # another report took the register's next number first
            return CommandResult(case.id, case.version, case.register_number, recorded)
        raise VersionConflict(case_id, None, 0)

    def execute(
        self,
        actor: Actor,
        case_id: UUID,
        command: CaseCommand,
        *,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """Run one command on a case: load, check who may, decide, save (retrying a race).

        ``expected_version`` refuses a command based on a stale case; a repeated
        ``idempotency_key`` with the same command returns the first answer. A command
        of an optional process the case's district does not run (its profile's
        ``processes``) is refused, after the check of who may act.
        """
        request_hash = request_fingerprint(
            command.operation(), case_id, command.model_dump(mode="json")
        )
        replay = self.replayed(actor, idempotency_key, request_hash)
        if replay is not None:
            return replay
        for _attempt in range(MAX_CONFLICT_RETRIES):
            case = self.visible_case(actor, case_id)
            if expected_version is not None and case.version != expected_version:
                raise VersionConflict(case_id, expected_version, case.version)
            acted_on = command.referral_id_acted_on
            referral_agency = case.referral(acted_on).agency if acted_on is not None else None
            self.access.require_may_act(
                actor, case, command.step.who, referral_agency=referral_agency
            )
            profile = self.profiles.profile(case.district)
            now = self.clock()
            try:
                if command.process is not None:
                    profile.require_runs(command.process, step=command.step.sop_step)
                context = CommandContext(
                    actor, now, profile, self.receiving_agencies(case), staff=self.staff
                )
                with acting_as(actor, now):
                    command.apply(case, context)
                self._require_documents(case, profile)
            except RuleViolated as refusal:
                # The refusal names the step as the district's own SOP numbers it.
                refusal.step = profile.own_step(refusal.step)
                raise
            recorded = tuple(type(event).__name__ for event in case.pending_events)
            record = self.command_record(
                actor,
                idempotency_key,
                request_hash,
                case,
                recorded,
                register_number=case.register_number,
            )
            try:
                self.save(case, command=record)
            except IntegrityError:
                replay = self.replayed(actor, idempotency_key, request_hash)
                if replay is not None:
                    return replay
                if expected_version is not None:
                    raise VersionConflict(
                        case_id, expected_version, self._load(case_id).version
                    ) from None
                continue  # someone else wrote first; decide again on the new state
            return CommandResult(case.id, case.version, case.register_number, recorded)
        raise VersionConflict(case_id, None, self._load(case_id).version)

    def _require_documents(self, case: Case, profile: TimeStandardProfile) -> None:
        """A district may require documents before a step completes (its profile's
        ``[documents] required``): the command that would complete the step is refused."""
        if not profile.documents.required or not case.pending_events:
            return
        events = [*self.history(case.id), *case.pending_events]
        attached = kinds_by_step((d.step, d.kind) for d in case.documents.values())
        first = case.pending_events[0].originator_version
        for step in steps_completed_by(profile, events, first):
            profile.documents.require_before(step, attached)

    def replayed(
        self, actor: Actor, idempotency_key: str | None, request_hash: str
    ) -> CommandResult | None:
        """The first answer to a retried request (None if the key is new or absent)."""
        if idempotency_key is None:
            return None
        log: CommandLog = self.recorder  # type: ignore[assignment]  # the recorder is ours (gateways/eventstore)
        record = log.find_command(_key_hash(actor, idempotency_key))
        if record is None:
            return None
        if record.request_hash != request_hash:
            raise IdempotencyKeyReused()
        return record.result()

    @staticmethod
    def command_record(
        actor: Actor,
        idempotency_key: str | None,
        request_hash: str,
        aggregate: Aggregate,
        recorded: Sequence[str],
        *,
        register_number: str,
    ) -> CommandRecord | None:
        """What the store keeps, with the events, to answer a retry (None without a key).

        ``aggregate`` is the case, or the outreach, the command recorded its events on."""
        if idempotency_key is None:
            return None
        return CommandRecord(
            key_hash=_key_hash(actor, idempotency_key),
            request_hash=request_hash,
            case_id=aggregate.id,
            version=aggregate.version,
            register_number=register_number,
            recorded=tuple(recorded),
        )

    def _load(self, case_id: UUID) -> Case:
        try:
            case: object = self.repository.get(case_id)
        except AggregateNotFoundError:
            raise CaseNotFound(case_id) from None
        if not isinstance(case, Case):
            raise CaseNotFound(case_id)
        return case

    def _register(self, district: str, year: int, code: str) -> CaseRegister | None:
        try:
            register: object = self.repository.get(CaseRegister.register_id(district, year))
        except AggregateNotFoundError:
            return None
        assert isinstance(register, CaseRegister)
        return register


def _case_event(event: object) -> Case.Event:
    if not isinstance(event, Case.Event):
        raise TypeError("a case's history holds case events only")
    return event
