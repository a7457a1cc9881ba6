"""Accounts: the staff directory, invitations, login with a second factor, lockout.

Who may do what is the staff member's history (domain/staff.py); what a login checks
that is secret lives in the credential store (a gateway), which this service alone
reads. A login proves the password, then the one-time code where the role needs one
(or where the person enrolled one), and names the Actor a token or a browser session is
then issued for. Deactivation forgets the person's credentials and revokes every token
issued to them; API processes honour that within their revocation cache's refresh.
"""

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from domain.actors import Actor, acting_as
from domain.errors import InvalidValue
from domain.staff import StaffMember, normal_email
from domain.vocabulary import Agency, Role
from services.access import AccessDenied, may_administer_staff
from services.passwords import hash_password, password_matches, require_acceptable
from services.second_factor import matching_step, new_secret, provisioning_uri

INVITATION_LIFETIME = timedelta(days=7)
# After this many failures in a row an account waits, longer each time (ASVS 5.0 V6.3.1).
FAILURES_BEFORE_LOCKOUT = 5
FIRST_LOCKOUT = timedelta(seconds=30)
LONGEST_LOCKOUT = timedelta(minutes=15)
# Who made the first office administrator of a deployment: the set-up, not a person.
SETUP_USER = "simpul-setup"


@dataclass(frozen=True)
class StaffRecord:
    """One person of the directory as offices and notifications look them up."""

    user_id: str
    email: str
    display_name: str
    role: Role
    agency: Agency
    district: str
    active: bool
    second_factor: bool

    @classmethod
    def of(cls, member: StaffMember) -> "StaffRecord":
        return cls(
            user_id=member.user_id,
            email=member.email,
            display_name=member.display_name,
            role=member.role,
            agency=member.agency,
            district=member.district,
            active=member.active,
            second_factor=member.second_factor,
        )

    @property
    def actor(self) -> Actor:
        return Actor(self.user_id, self.role, self.agency, self.district)


@dataclass(frozen=True)
class LoginRecord:
    """What the credential store holds for one e-mail address."""

    user_id: str
    password_hash: str | None
    second_factor_secret: str | None
    second_factor_confirmed: bool
    last_code_step: int | None
    failures: int
    locked_until: datetime | None


class EmailTaken(Exception):
    """Another account already has this e-mail address."""


class StaffDirectory(Protocol):
    def member(self, user_id: str) -> StaffRecord | None: ...

    def members(
        self,
        *,
        district: str,
        role: Role | None = None,
        agency: Agency | None = None,
        active_only: bool = True,
    ) -> list[StaffRecord]: ...

    def put(self, record: StaffRecord) -> None: ...


class CredentialStore(Protocol):
    def claim_email(self, email: str, user_id: str) -> None:
        """Raises EmailTaken if another account holds the address."""

    def release(self, user_id: str) -> None:
        """Forget the account's credentials and address (an invitation that failed)."""

    def set_invitation(self, user_id: str, code_hash: str, expires_at: datetime) -> None: ...

    def invited_user(self, code_hash: str, now: datetime) -> str | None: ...

    def set_password(self, user_id: str, password_hash: str, second_factor_secret: str) -> None:
        """The password chosen, the invitation used up, a second-factor key offered."""

    def login_record(self, email: str) -> LoginRecord | None: ...

    def record_failure(self, user_id: str, locked_until: datetime | None) -> None: ...

    def record_success(self, user_id: str, code_step: int | None) -> None: ...

    def forget_credentials(self, user_id: str) -> None:
        """Password, second factor and invitation gone: the account cannot log in."""


class UserRevocations(Protocol):
    def revoke_user(self, user_id: str, max_lifetime: timedelta) -> object: ...


class LoginRefused(Exception):
    """The login failed; ``reason`` is a rule name, the same whatever the e-mail was."""

    def __init__(self, reason: str, *, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class Invitation:
    """Shown once, to the administrator who invites: the code travels to the person."""

    user_id: str
    code: str
    expires_at: datetime


@dataclass(frozen=True)
class SecondFactorSetup:
    secret: str
    uri: str
    required: bool


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def lockout_after(failures: int, now: datetime) -> datetime | None:
    """When an account that has failed ``failures`` times in a row may try again."""
    if failures < FAILURES_BEFORE_LOCKOUT:
        return None
    wait: timedelta = FIRST_LOCKOUT * 2 ** (failures - FAILURES_BEFORE_LOCKOUT)
    return now + min(wait, LONGEST_LOCKOUT)


class Accounts:
    """Staff administration and login, over the event store and the credential store."""

    def __init__(
        self,
        store: Application[UUID],
        directory: StaffDirectory,
        credentials: CredentialStore,
        revocations: UserRevocations,
        *,
        token_lifetime: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.directory = directory
        self.credentials = credentials
        self.revocations = revocations
        self.token_lifetime = token_lifetime
        self.clock = clock

    # ---- Administration ----------------------------------------------------------------

    def invite(
        self, admin: Actor, *, email: str, display_name: str, role: Role, agency: Agency
    ) -> Invitation:
        """An office administrator invites a person of their own district."""
        self._require_administers(admin, admin.district)
        return self._invite(admin, email=email, display_name=display_name, role=role, agency=agency)

    def create_first_administrator(
        self, *, email: str, display_name: str, district: str, agency: Agency
    ) -> Invitation:
        """The deployment's first office administrator, made by the set-up (`simpul run`,
        `simpul staff first-administrator`)."""
        setup = Actor(SETUP_USER, Role.OFFICE_ADMINISTRATOR, agency, district)
        return self._invite(
            setup,
            email=email,
            display_name=display_name,
            role=Role.OFFICE_ADMINISTRATOR,
            agency=agency,
        )

    def has_administrator(self, district: str) -> bool:
        return bool(self.directory.members(district=district, role=Role.OFFICE_ADMINISTRATOR))

    def _invite(
        self, by: Actor, *, email: str, display_name: str, role: Role, agency: Agency
    ) -> Invitation:
        now = self.clock()
        with acting_as(by, now):
            member = StaffMember.invite(
                email=email,
                display_name=display_name,
                role=role,
                agency=agency,
                district=by.district,
            )
        self.credentials.claim_email(member.email, member.user_id)
        try:
            self.store.save(member)
        except BaseException:
            self.credentials.release(member.user_id)
            raise
        self.directory.put(StaffRecord.of(member))
        return self._new_invitation(member.user_id, now)

    def _new_invitation(self, user_id: str, now: datetime) -> Invitation:
        code = secrets.token_urlsafe(24)
        expires_at = now + INVITATION_LIFETIME
        self.credentials.set_invitation(user_id, _code_hash(code), expires_at)
        return Invitation(user_id=user_id, code=code, expires_at=expires_at)

    def change_role(self, admin: Actor, user_id: str, *, role: Role, agency: Agency) -> StaffRecord:
        member = self._administered(admin, user_id)
        with acting_as(admin, self.clock()):
            member.change_role(role=role, agency=agency)
        self.store.save(member)
        # A token names the role it was issued for: the old ones must not outlive the change.
        self.revocations.revoke_user(member.user_id, self.token_lifetime)
        return self._published(member)

    def deactivate(self, admin: Actor, user_id: str, *, reason: str) -> StaffRecord:
        member = self._administered(admin, user_id)
        if member.user_id == admin.user_id:
            raise AccessDenied(
                "cannot_deactivate_self", "an administrator cannot deactivate themself"
            )
        with acting_as(admin, self.clock()):
            member.deactivate(reason=reason)
        self.store.save(member)
        self.credentials.forget_credentials(member.user_id)
        self.revocations.revoke_user(member.user_id, self.token_lifetime)
        return self._published(member)

    def reactivate(self, admin: Actor, user_id: str) -> Invitation:
        member = self._administered(admin, user_id)
        now = self.clock()
        with acting_as(admin, now):
            member.reactivate()
        self.store.save(member)
        self._published(member)
        return self._new_invitation(member.user_id, now)

    def staff_of(self, admin: Actor) -> list[StaffRecord]:
        self._require_administers(admin, admin.district)
        return self.directory.members(district=admin.district, active_only=False)

    def _administered(self, admin: Actor, user_id: str) -> StaffMember:
        member = self._member(user_id)
        if member is None or member.district != admin.district:
            self._require_administers(admin, admin.district)
            raise StaffNotFound()
        self._require_administers(admin, member.district)
        return member

    def _require_administers(self, admin: Actor, district: str) -> None:
        if not may_administer_staff(admin, district):
            raise AccessDenied(
                "office_administrators_only",
                "only an office administrator of the district administers its staff",
            )

    def _member(self, user_id: str) -> StaffMember | None:
        try:
            member: object = self.store.repository.get(UUID(user_id))
        except (AggregateNotFoundError, ValueError):
            return None
        return member if isinstance(member, StaffMember) else None

    def _published(self, member: StaffMember) -> StaffRecord:
        record = StaffRecord.of(member)
        self.directory.put(record)
        return record

    # ---- Invitations and login -----------------------------------------------------------

    def accept_invitation(self, code: str, password: str) -> SecondFactorSetup:
        """The invited person chooses a password; they are given a second-factor key to add
        to their authenticator app, which their first login with a code confirms."""
        now = self.clock()
        user_id = self.credentials.invited_user(_code_hash(code), now)
        member = self._member(user_id) if user_id is not None else None
        if member is None or not member.active:
            raise InvalidValue("invitation_code", "is not a valid invitation, or it expired")
        require_acceptable(password)
        secret = new_secret()
        with acting_as(member_actor(member), now):
            member.set_password()
        self.store.save(member)
        self.credentials.set_password(member.user_id, hash_password(password), secret)
        self._published(member)
        return SecondFactorSetup(
            secret=secret,
            uri=provisioning_uri(secret, member.email),
            required=member.needs_second_factor,
        )

    def login(self, email: str, password: str, one_time_code: str | None) -> Actor:
        """The Actor the person is, once the password and (where due) the code are proved.

        Every refusal of a wrong e-mail, password, inactive account or code says
        ``bad_credentials`` or ``bad_second_factor``, so nobody learns who has an account."""
        now = self.clock()
        try:
            address = normal_email(email)
        except InvalidValue:
            raise LoginRefused("bad_credentials") from None
        record = self.credentials.login_record(address)
        if record is not None and record.locked_until is not None and record.locked_until > now:
            wait = int((record.locked_until - now).total_seconds()) + 1
            raise LoginRefused("locked_out", retry_after=wait)
        if record is None or not password_matches(record.password_hash, password):
            self._failed(record, now)
            raise LoginRefused("bad_credentials")
        member = self._member(record.user_id)
        if member is None or not member.active:
            raise LoginRefused("bad_credentials")
        step = self._second_factor(member, record, one_time_code, now)
        self.credentials.record_success(record.user_id, step)
        return member_actor(member)

    def _second_factor(
        self, member: StaffMember, record: LoginRecord, code: str | None, now: datetime
    ) -> int | None:
        secret = record.second_factor_secret
        due = member.needs_second_factor or record.second_factor_confirmed
        if not due and not code:
            return None
        if secret is None:
            raise LoginRefused("second_factor_enrolment_required")
        if not code:
            raise LoginRefused("second_factor_required")
        step = matching_step(secret, code, now, after=record.last_code_step)
        if step is None:
            self._failed(record, now)
            raise LoginRefused("bad_second_factor")
        if not record.second_factor_confirmed:
            with acting_as(member_actor(member), now):
                member.enrol_second_factor()
            self.store.save(member)
            self._published(member)
        return step

    def _failed(self, record: LoginRecord | None, now: datetime) -> None:
        if record is not None:
            self.credentials.record_failure(record.user_id, lockout_after(record.failures + 1, now))

    # ---- Who is acting -----------------------------------------------------------------------

    def require_active(self, actor: Actor) -> None:
        """An account's token acts only as what the account is now: active, same role,
        agency and district. Names outside the directory are development tokens, which
        the caller decides about."""
        record = self.directory.member(actor.user_id)
        if record is None:
            return
        if not record.active or record.actor != actor:
            raise AccessDenied("account_inactive", "the account is deactivated or has changed")


class StaffNotFound(LookupError):
    """No such staff member in the administrator's district."""

    def __init__(self) -> None:
        super().__init__("no such staff member in this district")


def member_actor(member: StaffMember) -> Actor:
    return Actor(member.user_id, member.role, member.agency, member.district)
