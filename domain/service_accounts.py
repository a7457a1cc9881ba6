"""Accounts of agencies' own systems (issue 13): the police's case system reading its
inbox and answering its referrals, acting as an officer of its agency.

A service account is an aggregate of its own, beside the staff members of
domain/staff.py, so that who granted a system which rights, and when, is history
like any staff change: its creation names the agency and the scopes, every key
issued or revoked and its deactivation are events stamped with the administrator.
The keys' hashes are not here (an event is kept forever): they live in the key
store beside the staff credentials; the history names a key by its id only.
"""

from enum import StrEnum
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidValue, RuleViolated
from domain.events import ActedEvent
from domain.vocabulary import Agency

MAX_NAME_LENGTH = 200
MAX_REASON_LENGTH = 500
# Names every event, access-log row and rate limit give the system: never a person's id.
SERVICE_USER_PREFIX = "service:"


def service_user_id(account_id: object) -> str:
    """How events, the access log and rate limits name the system when it acts."""
    return f"{SERVICE_USER_PREFIX}{account_id}"


def names_service_account(user_id: str) -> bool:
    """Whether a user id is a service account's, which acts only through its keys."""
    return user_id.startswith(SERVICE_USER_PREFIX)


class Scope(StrEnum):
    """What a service account's keys may do, beyond acting as an officer of its agency."""

    INBOX_READ = "inbox:read"
    REFERRALS_ANSWER = "referrals:answer"


def _name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidValue("name", f"must be 1 to {MAX_NAME_LENGTH} characters")
    return cleaned


class ServiceAccount(Aggregate):
    """An agency's system with keys: its agency and district, its scopes, its live keys."""

    class Event(ActedEvent):
        pass

    class Created(Aggregate.Created, Event):
        """An office administrator created the account for an agency of their district."""

        name: str
        agency: str
        district: str
        scopes: list[str]

    @classmethod
    def create(
        cls, *, name: str, agency: Agency, district: str, scopes: list[Scope]
    ) -> "ServiceAccount":
        if not district:
            raise InvalidValue("district", "is required")
        if not scopes:
            raise InvalidValue("scopes", "must name at least one scope")
        return cls(
            id=uuid4(),
            name=_name(name),
            agency=Agency(agency).value,
            district=district,
            scopes=sorted({Scope(scope).value for scope in scopes}),
        )

    @event(Created)
    def __init__(self, id: UUID, name: str, agency: str, district: str, scopes: list[str]) -> None:
        self.name = name
        self.agency = Agency(agency)
        self.district = district
        self.scopes = frozenset(Scope(scope) for scope in scopes)
        self.active = True
        self.live_keys: set[str] = set()
        self.issued_keys: set[str] = set()

    @property
    def user_id(self) -> str:
        return service_user_id(self.id)

    class KeyIssued(Event):
        """A key was issued (at creation or on rotation); its secret was shown once."""

        key_id: str

    def issue_key(self, key_id: str) -> None:
        self._require_active()
        self._key_issued(key_id=key_id)

    @event(KeyIssued)
    def _key_issued(self, key_id: str) -> None:
        self.live_keys.add(key_id)
        self.issued_keys.add(key_id)

    class KeyRevoked(Event):
        """The key no longer authenticates the system."""

        key_id: str

    def revoke_key(self, key_id: str) -> None:
        if key_id not in self.live_keys:
            raise RuleViolated("key_not_live", "the key is revoked already")
        self._key_revoked(key_id=key_id)

    @event(KeyRevoked)
    def _key_revoked(self, key_id: str) -> None:
        self.live_keys.discard(key_id)

    class Deactivated(Event):
        """The system may no longer act; every key it has ends with this."""

        reason: str

    def deactivate(self, *, reason: str) -> None:
        self._require_active()
        self._deactivated(reason=" ".join(reason.split())[:MAX_REASON_LENGTH])

    @event(Deactivated)
    def _deactivated(self, reason: str) -> None:
        self.active = False
        self.live_keys.clear()

    def _require_active(self) -> None:
        if not self.active:
            raise RuleViolated("account_inactive", "the service account is deactivated")


SERVICE_ACCOUNT_EVENT_TYPES: tuple[type[ServiceAccount.Event], ...] = (
    ServiceAccount.Created,
    ServiceAccount.KeyIssued,
    ServiceAccount.KeyRevoked,
    ServiceAccount.Deactivated,
)
