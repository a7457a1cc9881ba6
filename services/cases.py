"""The case service: one method per SOP step, each load -> decide -> save.

Every command runs as an actor (who, in which role and agency) at the
service clock's time, may carry an expected version (a stale write is refused,
never lost) and an idempotency key (a retried request never appends twice).
"""

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol
from uuid import UUID, uuid4, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from domain.actors import Actor, acting_as
from domain.case import Case
from domain.errors import InvalidValue
from domain.register import CaseRegister
from services.access import (
    AccessDenied,
    Who,
    may_read,
    may_read_access_log,
    may_read_actor_access_log,
    require_may_act,
    require_may_read_case_file,
    require_may_report,
)
from services.access_log import AccessEntry, AccessLog, AccessRecord, CaseRead
from services.profiles import ProfileBook, UnknownDistrict, load_profiles

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


def referral_id_for(case_id: UUID, referred_at_version: int) -> str:
    """Referral ids derive from the case and the version of their Referred event.

    A retried referral command therefore names the same referral, and a client
    learns the id from the command's result (case id and version) alone.
    """
    return str(uuid5(case_id, f"referral/{referred_at_version}"))


def utc_now() -> datetime:
    return datetime.now(UTC)


def _fingerprint(command: str, case_id: UUID | None, arguments: dict[str, Any]) -> str:
    body = json.dumps(
        {"command": command, "case_id": str(case_id) if case_id else None, "arguments": arguments},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _key_hash(actor: Actor, idempotency_key: str) -> str:
    # Keys are scoped to the client that chose them and stored only as a digest.
    return hashlib.sha256(f"{actor.user_id}\x00{idempotency_key}".encode()).hexdigest()


class Cases(Application[UUID]):
    """The event-sourced case store and its commands."""

    name = "Cases"
    env: ClassVar[dict[str, str]] = {"AGGREGATE_CACHE_MAXSIZE": "1000"}

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        profiles: ProfileBook | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(env)
        self.profiles = profiles or load_profiles()
        self.clock = clock

    # ---- Reading ---------------------------------------------------------------

    def visible_case(self, actor: Actor, case_id: UUID) -> Case:
        case = self._load(case_id)
        if not may_read(actor, case):
            raise CaseNotFound(case_id)
        return case

    def read_case_events(
        self, actor: Actor, case_id: UUID, read: CaseRead, *, upto_version: int | None = None
    ) -> list[Case.Event]:
        """The case's recorded events, oldest first; the read is recorded first, or refused."""
        require_may_read_case_file(actor, self.visible_case(actor, case_id))
        record = AccessRecord.of(actor, case_id, read, self.clock())
        stored = self._access_log.select_events_recording_access(
            case_id, record, lte=upto_version
        )
        return [self.mapper.to_domain_event(event) for event in stored]

    def authorize_case_read(
        self,
        actor: Actor,
        case_id: UUID,
        read: CaseRead,
        *,
        permitted: Callable[[Actor, Case], bool] = may_read,
    ) -> Case:
        """For reads about a case other than its events: check who may, then record the read."""
        case = self.visible_case(actor, case_id)
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
        self.authorize_case_read(actor, case_id, read, permitted=may_read_access_log)
        return self._access_log.select_access(case_id=case_id, after=after, limit=limit)

    def access_log_of_user(
        self, actor: Actor, user_id: str, read: CaseRead, *, after: int = 0, limit: int = 100
    ) -> list[AccessEntry]:
        """What one person read, oldest first: auditors only, and recorded too."""
        if not may_read_actor_access_log(actor):
            raise AccessDenied("not_permitted", "only auditors may list what a person accessed")
        self._access_log.record_access(AccessRecord.of(actor, None, read, self.clock()))
        return self._access_log.select_access(user_id=user_id, after=after, limit=limit)

    def record_inbox_read(self, actor: Actor, case_ids: Iterable[UUID], read: CaseRead) -> None:
        """An agency's inbox shows what it may know of these cases: each read is recorded.

        An empty inbox is recorded too (with no case), so every look is attributable.
        """
        at = self.clock()
        shown = list(dict.fromkeys(case_ids)) or [None]
        for case_id in shown:
            self._access_log.record_access(AccessRecord.of(actor, case_id, read, at))

    def record_office_view_read(self, actor: Actor, read: CaseRead) -> None:
        """A read across the district's cases (the office's lists): attributable, no case id."""
        self._access_log.record_access(AccessRecord.of(actor, None, read, self.clock()))

    @property
    def _access_log(self) -> AccessLog:
        log: AccessLog = self.recorder  # type: ignore[assignment]
        return log

    # ---- 1. Identification -------------------------------------------------------

    def report_case(
        self, actor: Actor, *, idempotency_key: str | None = None, **report: Any
    ) -> CommandResult:
        """L1.1-L1.2: record a report; the case is coordinated by the reporter's district."""
        require_may_report(actor)
        try:
            profile = self.profiles.profile(actor.district)
        except UnknownDistrict:
            raise InvalidValue("district", "the caller's district has no profile") from None
        request_hash = _fingerprint("report_case", None, report)
        replay = self._replay(actor, idempotency_key, request_hash)
        if replay is not None:
            return replay
        case_id = uuid4()
        for _attempt in range(MAX_CONFLICT_RETRIES):
            now = self.clock()
            year = now.astimezone(profile.timezone).year
            register = self._register(actor.district, year, profile.register_code)
            with acting_as(actor, now):
                if register is None:
                    register = CaseRegister.open(actor.district, year, profile.register_code)
                number = register.issue_number(case_id)
                case = Case.receive_report(
                    case_id=case_id, district=actor.district, register_number=number, **report
                )
            recorded = tuple(type(event).__name__ for event in case.pending_events)
            record = self._command_record(actor, idempotency_key, request_hash, case, recorded)
            try:
                self.save(register, case, command=record)
            except IntegrityError:
                replay = self._replay(actor, idempotency_key, request_hash)
                if replay is not None:
                    return replay
                continue  # another report took the register's next number first
            return CommandResult(case.id, case.version, case.register_number, recorded)
        raise VersionConflict(case_id, None, 0)

    def give_psychological_first_aid(self, actor: Actor, case_id: UUID, **kw: Any) -> CommandResult:
        return self._execute(actor, case_id, "give_psychological_first_aid", Who.CASE_TEAM, kw)

    def classify(self, actor: Actor, case_id: UUID, **kw: Any) -> CommandResult:
        return self._execute(actor, case_id, "classify", Who.CASE_TEAM, kw)

    def hand_over(self, actor: Actor, case_id: UUID, **kw: Any) -> CommandResult:
        return self._execute(actor, case_id, "hand_over", Who.OFFICE_LEADS, kw)

    def record_emergency_response(self, actor: Actor, case_id: UUID, **kw: Any) -> CommandResult:
        return self._execute(actor, case_id, "record_emergency_response", Who.CASE_TEAM, kw)

    def assign_case_worker(self, actor: Actor, case_id: UUID, **kw: Any) -> CommandResult:
        return self._execute(actor, case_id, "assign_case_worker", Who.OFFICE_LEADS, kw)

    def record_contact(self, actor: Actor, case_id: UUID, **kw: Any) -> CommandResult:
        return self._execute(actor, case_id, "record_contact", Who.CASE_TEAM, kw)

    def record_consent(self, actor: Actor, case_id: UUID, **kw: Any) -> CommandResult:
        return self._execute(actor, case_id, "record_consent", Who.CASE_TEAM, kw)

    # ---- 2. Assessment -------------------------------------------------------------

    def record_assessment(self, actor: Actor, case_id: UUID, **kw: Any) -> CommandResult:
        return self._execute(
            actor, case_id, "record_assessment", Who.CASE_TEAM_OR_ASSESSING_AGENCY, kw
        )

    def conclude_case_report(self, actor: Actor, case_id: UUID, **kw: Any) -> CommandResult:
        return self._execute(actor, case_id, "conclude_case_report", Who.CASE_TEAM, kw)

    # ---- 3. Planning -----------------------------------------------------------------

    def hold_case_conference(self, actor: Actor, case_id: UUID, **kw: Any) -> CommandResult:
        return self._execute(actor, case_id, "hold_case_conference", Who.CASE_TEAM, kw)

    def hold_family_meeting(self, actor: Actor, case_id: UUID, **kw: Any) -> CommandResult:
        return self._execute(actor, case_id, "hold_family_meeting", Who.CASE_TEAM, kw)

    def agree_intervention_plan(self, actor: Actor, case_id: UUID, **kw: Any) -> CommandResult:
        return self._execute(actor, case_id, "agree_intervention_plan", Who.CASE_TEAM, kw)

    # ---- 4. Intervention ---------------------------------------------------------------

    def refer(self, actor: Actor, case_id: UUID, **kw: Any) -> CommandResult:
        """L4.1: the referral's due time comes from the district's time standard."""

        def with_id_and_due_time(case: Case, now: datetime, arguments: dict[str, Any]) -> None:
            limit = self.profiles.profile(case.district).step("L4.1").limit
            # Named after the fingerprint is taken, so a retry replays; callers inside
            # Simpul may name the referral themselves.
            arguments.setdefault("referral_id", referral_id_for(case.id, case.version + 1))
            case.refer(due_at=now + limit, **arguments)

        return self._execute(
            actor, case_id, "refer", Who.CASE_TEAM, kw, decide=with_id_and_due_time
        )

    def accept_referral(self, actor: Actor, case_id: UUID, **kw: Any) -> CommandResult:
        return self._execute(actor, case_id, "accept_referral", Who.RECEIVING_AGENCY, kw)

    def decline_referral(self, actor: Actor, case_id: UUID, **kw: Any) -> CommandResult:
        return self._execute(actor, case_id, "decline_referral", Who.RECEIVING_AGENCY, kw)

    def record_service_delivery(self, actor: Actor, case_id: UUID, **kw: Any) -> CommandResult:
        return self._execute(actor, case_id, "record_service_delivery", Who.RECEIVING_AGENCY, kw)

    def cancel_referral(self, actor: Actor, case_id: UUID, **kw: Any) -> CommandResult:
        return self._execute(actor, case_id, "cancel_referral", Who.OFFICE_LEADS, kw)

    def record_accompaniment(self, actor: Actor, case_id: UUID, **kw: Any) -> CommandResult:
        return self._execute(actor, case_id, "record_accompaniment", Who.CASE_TEAM, kw)

    # ---- 5. Monitoring -------------------------------------------------------------------

    def record_monitoring_visit(self, actor: Actor, case_id: UUID, **kw: Any) -> CommandResult:
        return self._execute(actor, case_id, "record_monitoring_visit", Who.CASE_TEAM, kw)

    def start_reassessment(self, actor: Actor, case_id: UUID, **kw: Any) -> CommandResult:
        return self._execute(actor, case_id, "start_reassessment", Who.CASE_TEAM, kw)

    # ---- 6. Termination --------------------------------------------------------------------

    def terminate(self, actor: Actor, case_id: UUID, **kw: Any) -> CommandResult:
        return self._execute(actor, case_id, "terminate", Who.CASE_WORKER_OR_COORDINATOR, kw)

    # ---- The one way every case command runs -------------------------------------------------

    def _execute(
        self,
        actor: Actor,
        case_id: UUID,
        command: str,
        who: Who,
        arguments: dict[str, Any],
        *,
        decide: Callable[[Case, datetime, dict[str, Any]], None] | None = None,
    ) -> CommandResult:
        expected_version: int | None = arguments.pop("expected_version", None)
        idempotency_key: str | None = arguments.pop("idempotency_key", None)
        request_hash = _fingerprint(command, case_id, arguments)
        replay = self._replay(actor, idempotency_key, request_hash)
        if replay is not None:
            return replay
        for _attempt in range(MAX_CONFLICT_RETRIES):
            case = self.visible_case(actor, case_id)
            if expected_version is not None and case.version != expected_version:
                raise VersionConflict(case_id, expected_version, case.version)
            referral_agency = None
            if who is Who.RECEIVING_AGENCY:
                referral_agency = case.referral(arguments["referral_id"]).agency
            require_may_act(actor, case, who, referral_agency=referral_agency)
            now = self.clock()
            with acting_as(actor, now):
                if decide is None:
                    getattr(case, command)(**arguments)
                else:
                    decide(case, now, arguments)
            recorded = tuple(type(event).__name__ for event in case.pending_events)
            record = self._command_record(actor, idempotency_key, request_hash, case, recorded)
            try:
                self.save(case, command=record)
            except IntegrityError:
                replay = self._replay(actor, idempotency_key, request_hash)
                if replay is not None:
                    return replay
                if expected_version is not None:
                    raise VersionConflict(
                        case_id, expected_version, self._load(case_id).version
                    ) from None
                continue  # someone else wrote first; decide again on the new state
            return CommandResult(case.id, case.version, case.register_number, recorded)
        raise VersionConflict(case_id, None, self._load(case_id).version)

    def _replay(
        self, actor: Actor, idempotency_key: str | None, request_hash: str
    ) -> CommandResult | None:
        if idempotency_key is None:
            return None
        log: CommandLog = self.recorder  # type: ignore[assignment]
        record = log.find_command(_key_hash(actor, idempotency_key))
        if record is None:
            return None
        if record.request_hash != request_hash:
            raise IdempotencyKeyReused()
        return record.result()

    @staticmethod
    def _command_record(
        actor: Actor,
        idempotency_key: str | None,
        request_hash: str,
        case: Case,
        recorded: Sequence[str],
    ) -> CommandRecord | None:
        if idempotency_key is None:
            return None
        return CommandRecord(
            key_hash=_key_hash(actor, idempotency_key),
            request_hash=request_hash,
            case_id=case.id,
            version=case.version,
            register_number=case.register_number,
            recorded=tuple(recorded),
        )

    def _load(self, case_id: UUID) -> Case:
        try:
            case = self.repository.get(case_id)
        except AggregateNotFoundError:
            raise CaseNotFound(case_id) from None
        if not isinstance(case, Case):
            raise CaseNotFound(case_id)
        return case

    def _register(self, district: str, year: int, code: str) -> CaseRegister | None:
        try:
            register = self.repository.get(CaseRegister.register_id(district, year))
        except AggregateNotFoundError:
            return None
        assert isinstance(register, CaseRegister)
        return register
