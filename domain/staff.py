"""The people who work in Simpul: one aggregate per staff member, every change of their
rights an event stamped with who made it and when (issue 13: accounts as history).

What a login checks that is secret (the password's hash, the second factor's key, the
count of failed attempts) is not here: an event is kept forever, and a secret kept
forever outlives the password it protects. The credentials live in their own store
(services/accounts.py); the history says only that a password or a second factor was set.
"""

from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidValue, RuleViolated
from domain.events import ActedEvent
from domain.vocabulary import Agency, Role

# ASVS 5.0 V6.4.x / V6.3: the roles that see most, or grant rights, must prove a second
# factor; everyone else is offered one.
SECOND_FACTOR_ROLES = frozenset(
    {Role.COORDINATOR, Role.SUPERVISOR, Role.AUDITOR, Role.OFFICE_ADMINISTRATOR}
)
MAX_NAME_LENGTH = 200
MAX_EMAIL_LENGTH = 254


def normal_email(email: str) -> str:
    """The address as the directory compares it: trimmed, lower case, one @ with text around."""
    folded = email.strip().lower()
    local, at, domain = folded.partition("@")
    if not at or not local or "." not in domain or len(folded) > MAX_EMAIL_LENGTH:
        raise InvalidValue("email", "must be an e-mail address")
    if any(character.isspace() for character in folded):
        raise InvalidValue("email", "must be an e-mail address")
    return folded


def _display_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidValue("display_name", f"must be 1 to {MAX_NAME_LENGTH} characters")
    return cleaned


class StaffMember(Aggregate):
    """A person with an account: their role, agency and district, and whether active."""

    class Event(ActedEvent):
        pass

    class Invited(Aggregate.Created, Event):
        """An office administrator invited the person (or the first administrator was made)."""

        email: str
        display_name: str
        role: str
        agency: str
        district: str

    @classmethod
    def invite(
        cls, *, email: str, display_name: str, role: Role, agency: Agency, district: str
    ) -> "StaffMember":
        if not district:
            raise InvalidValue("district", "is required")
        return cls(
            id=uuid4(),
            email=normal_email(email),
            display_name=_display_name(display_name),
            role=Role(role).value,
            agency=Agency(agency).value,
            district=district,
        )

    @event(Invited)
    def __init__(
        self, id: UUID, email: str, display_name: str, role: str, agency: str, district: str
    ) -> None:
        self.email = email
        self.display_name = display_name
        self.role = Role(role)
        self.agency = Agency(agency)
        self.district = district
        self.active = True
        self.has_password = False
        self.second_factor = False

    @property
    def user_id(self) -> str:
        """The id every event, token and access-log row names them by (never the e-mail)."""
        return str(self.id)

    @property
    def needs_second_factor(self) -> bool:
        return self.role in SECOND_FACTOR_ROLES

    class RoleChanged(Event):
        """The person's role or agency changed: what they may do changes with it."""

        role: str
        agency: str

    def change_role(self, *, role: Role, agency: Agency) -> None:
        self._require_active()
        if Role(role) == self.role and Agency(agency) == self.agency:
            raise RuleViolated("role_unchanged", "the person already has this role and agency")
        self._role_changed(role=Role(role).value, agency=Agency(agency).value)

    @event(RoleChanged)
    def _role_changed(self, role: str, agency: str) -> None:
        self.role = Role(role)
        self.agency = Agency(agency)

    class PasswordSet(Event):
        """The person chose a password (its hash is kept with the credentials, not here)."""

    def set_password(self) -> None:
        self._require_active()
        self._password_set()

    @event(PasswordSet)
    def _password_set(self) -> None:
        self.has_password = True

    class SecondFactorEnrolled(Event):
        """The person proved a one-time code from their authenticator app (TOTP)."""

    def enrol_second_factor(self) -> None:
        self._require_active()
        self._second_factor_enrolled()

    @event(SecondFactorEnrolled)
    def _second_factor_enrolled(self) -> None:
        self.second_factor = True

    class Deactivated(Event):
        """The person may no longer log in; their sessions and tokens end."""

        reason: str

    def deactivate(self, *, reason: str) -> None:
        self._require_active()
        self._deactivated(reason=" ".join(reason.split())[:500])

    @event(Deactivated)
    def _deactivated(self, reason: str) -> None:
        self.active = False

    class Reactivated(Event):
        """The person may log in again (with a new invitation: old credentials are gone)."""

    def reactivate(self) -> None:
        if self.active:
            raise RuleViolated("already_active", "the person's account is active")
        self._reactivated()

    @event(Reactivated)
    def _reactivated(self) -> None:
        self.active = True
        self.has_password = False
        self.second_factor = False

    def _require_active(self) -> None:
        if not self.active:
            raise RuleViolated("account_inactive", "the account is deactivated")


STAFF_EVENT_TYPES: tuple[type[StaffMember.Event], ...] = (
    StaffMember.Invited,
    StaffMember.RoleChanged,
    StaffMember.PasswordSet,
    StaffMember.SecondFactorEnrolled,
    StaffMember.Deactivated,
    StaffMember.Reactivated,
)
