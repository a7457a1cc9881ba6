"""Service accounts: agencies' systems calling the API with scoped, revocable keys.

An office administrator creates a service account for an agency of their district
(domain/service_accounts.py); it acts as an officer of that agency
(``Role.AGENCY_OFFICER``), named ``service:<account id>``, so every access rule that
applies to the agency's people applies to it, and no office step is open to it. Its
scopes narrow that further: each route a key may call needs one (``required_scope``).

A key is ``simpul_sk_<key id>_<secret>``: the prefix tells it from a login's JWT in
the same ``Authorization: Bearer`` header (and lets secret scanners recognise a leaked
one), the key id finds its row without a search, and the secret is 256 random bits.
Only the secret's SHA-256 is kept. A slow password hash (argon2id) is there to make
guessing a low-entropy password expensive; nobody can guess 256 random bits, fast hash
or not, and a fast one keeps checking a key on every request cheap. The secret is shown
once, to the administrator who creates the account or rotates its key.

Revoking a key or deactivating the account ends it in this process at once and in
every other API process within ``refresh_every`` (SIMPUL_TOKEN_REVOCATION_REFRESH_SECONDS),
the time a checked key is trusted before its row is read again.
"""

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from domain.actors import Actor, acting_as
from domain.errors import InvalidValue
from domain.service_accounts import Scope, ServiceAccount, service_user_id
from domain.vocabulary import Agency, Role
from services.access import AccessDenied, may_administer_staff

KEY_PREFIX = "simpul_sk_"
KEY_ID_HEX = 16
SECRET_BYTES = 32
KEY_ID_PATTERN = rf"^[0-9a-f]{{{KEY_ID_HEX}}}$"
# base64url without padding: 32 bytes are 43 characters.
_KEY = re.compile(rf"^{KEY_PREFIX}([0-9a-f]{{{KEY_ID_HEX}}})_([A-Za-z0-9_-]{{43}})$")


# ---- Keys --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiKey:
    """A key as the caller holds it. ``repr`` never shows the secret."""

    key_id: str
    secret: str

    @classmethod
    def generate(cls) -> "ApiKey":
        return cls(secrets.token_hex(KEY_ID_HEX // 2), secrets.token_urlsafe(SECRET_BYTES))

    @property
    def text(self) -> str:
        return f"{KEY_PREFIX}{self.key_id}_{self.secret}"

    @property
    def secret_hash(self) -> str:
        return secret_hash(self.secret)

    def __repr__(self) -> str:
        return f"ApiKey(key_id={self.key_id!r})"


def is_api_key(credential: str) -> bool:
    """Whether a bearer credential is meant as an API key (rather than a login's token)."""
    return credential.startswith(KEY_PREFIX)


def parse_key(credential: str) -> ApiKey | None:
    """The key a credential spells, or None if it is not one of the right shape."""
    match = _KEY.fullmatch(credential)
    return ApiKey(match.group(1), match.group(2)) if match else None


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# ---- Which routes a key may call ---------------------------------------------------------

INBOX_PREFIX = "/agencies/{agency}/"
# The agency's answers to what was sent to it: the commands Who.RECEIVING_AGENCY and
# Who.HANDOVER_RECEIVER open to its officers (services/access.py), and nothing else.
ANSWERS = frozenset(
    {
        "/cases/{case_id}/referrals/{referral_id}/acceptance",
        "/cases/{case_id}/referrals/{referral_id}/decline",
        "/cases/{case_id}/referrals/{referral_id}/deliveries",
        "/cases/{case_id}/referrals/{referral_id}/progress-notes",
        "/cases/{case_id}/handover-acknowledgement",
        "/cases/{case_id}/handback",
    }
)


def required_scope(method: str, route_path: str) -> Scope | None:
    """The scope a key needs for a route (its path template under /api/v1, e.g.
    ``/agencies/{agency}/referrals``); None where no scope opens it to a key.

    Reads of the agency's inbox (referrals, hand-overs, their documents) need
    ``inbox:read``; the agency's answers to its referrals and hand-overs need
    ``referrals:answer``. Everything else (office steps, the office's views,
    accounts) is closed to keys whatever their scopes: deny by default, so a new
    route is never opened to agencies' systems by accident.
    """
    if method == "GET" and route_path.startswith(INBOX_PREFIX):
        return Scope.INBOX_READ
    if method == "POST" and route_path in ANSWERS:
        return Scope.REFERRALS_ANSWER
    return None


def require_scope(caller: "ServiceCaller", method: str, route_path: str) -> None:
    scope = required_scope(method, route_path)
    if scope is None:
        raise AccessDenied(
            "not_for_service_accounts",
            "a service account's key may read its agency's inbox and answer its referrals only",
        )
    if scope not in caller.scopes:
        raise AccessDenied("scope_required", f"this key's account lacks the scope {scope.value}")


# ---- The service -------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceAccountRecord:
    """A service account as the directory lists it: never a secret, nor a key's hash."""

    account_id: str
    name: str
    agency: Agency
    district: str
    scopes: frozenset[Scope]
    active: bool
    created_by: str
    created_at: datetime
    key_ids: tuple[str, ...]

    @property
    def actor(self) -> Actor:
        return Actor(
            service_user_id(self.account_id), Role.AGENCY_OFFICER, self.agency, self.district
        )


@dataclass(frozen=True)
class KeyRecord:
    """A key's row with its account's: what a request with the key is checked against."""

    key_id: str
    secret_hash: str
    revoked: bool
    account: ServiceAccountRecord


@dataclass(frozen=True)
class ServiceCaller:
    """Who a verified key is: the agency officer the account acts as, within its scopes."""

    actor: Actor
    scopes: frozenset[Scope]
    key_id: str


@dataclass(frozen=True)
class IssuedKey:
    """Shown once: the key's text is given to the agency's system and never again."""

    account: ServiceAccountRecord
    key: ApiKey


class ServiceAccountStore(Protocol):
    def put(self, record: ServiceAccountRecord) -> None: ...

    def accounts(self, district: str) -> list[ServiceAccountRecord]: ...

    def add_key(self, account_id: str, key_id: str, secret_hash: str, at: datetime) -> None: ...

    def revoke_key(self, key_id: str, at: datetime) -> None: ...

    def key(self, key_id: str) -> KeyRecord | None: ...


class KeyRefused(Exception):
    """The key does not authenticate anyone; ``reason`` is a code for the access log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ServiceAccountNotFound(LookupError):
    """No such service account (or key of it) in the administrator's district."""

    def __init__(self) -> None:
        super().__init__("no such service account in this district")


class ServiceAccounts:
    """Creating, listing, rotating, revoking and deactivating; checking a key per request."""

    def __init__(
        self,
        store: Application[UUID],
        directory: ServiceAccountStore,
        *,
        agencies_with_inbox: Iterable[str],
        clock: Callable[[], datetime],
        refresh_every: timedelta,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.directory = directory
        self.agencies_with_inbox = frozenset(agencies_with_inbox)
        self.clock = clock
        self.refresh_every = refresh_every.total_seconds()
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._checked: dict[str, tuple[float, KeyRecord]] = {}

    # ---- Administration ----------------------------------------------------------------

    def create(self, admin: Actor, *, name: str, agency: Agency, scopes: list[Scope]) -> IssuedKey:
        """An office administrator creates an account for an agency of their district, with
        its first key."""
        self._require_administers(admin)
        if Agency(agency).value not in self.agencies_with_inbox:
            raise InvalidValue("agency", "has no inbox in Simpul: its system would read nothing")
        key = ApiKey.generate()
        now = self.clock()
        with acting_as(admin, now):
            account = ServiceAccount.create(
                name=name, agency=agency, district=admin.district, scopes=scopes
            )
            account.issue_key(key.key_id)
        self.store.save(account)
        record = self._published(account)
        self.directory.add_key(record.account_id, key.key_id, key.secret_hash, now)
        return IssuedKey(record, key)

    def accounts_of(self, admin: Actor) -> list[ServiceAccountRecord]:
        self._require_administers(admin)
        return self.directory.accounts(admin.district)

    def rotate(self, admin: Actor, account_id: UUID) -> IssuedKey:
        """A new key; the old ones stay live until revoked, so the system can switch over."""
        account = self._administered(admin, account_id)
        key = ApiKey.generate()
        now = self.clock()
        with acting_as(admin, now):
            account.issue_key(key.key_id)
        self.store.save(account)
        self.directory.add_key(str(account.id), key.key_id, key.secret_hash, now)
        return IssuedKey(self._published(account), key)

    def revoke_key(self, admin: Actor, account_id: UUID, key_id: str) -> ServiceAccountRecord:
        account = self._administered(admin, account_id)
        if key_id not in account.issued_keys:
            raise ServiceAccountNotFound()
        now = self.clock()
        with acting_as(admin, now):
            account.revoke_key(key_id)
        # The key's row first: should saving the event fail, the key is refused anyway.
        self.directory.revoke_key(key_id, now)
        self._forget(key_id)
        self.store.save(account)
        return self._published(account)

    def deactivate(self, admin: Actor, account_id: UUID, *, reason: str) -> ServiceAccountRecord:
        account = self._administered(admin, account_id)
        live = set(account.live_keys)
        now = self.clock()
        with acting_as(admin, now):
            account.deactivate(reason=reason)
        # The keys' rows first: should saving the event fail, the keys are refused anyway.
        for key_id in live:
            self.directory.revoke_key(key_id, now)
            self._forget(key_id)
        self.store.save(account)
        return self._published(account)

    def _administered(self, admin: Actor, account_id: UUID) -> ServiceAccount:
        self._require_administers(admin)
        try:
            account: object = self.store.repository.get(account_id)
        except AggregateNotFoundError:
            raise ServiceAccountNotFound() from None
        if not isinstance(account, ServiceAccount) or account.district != admin.district:
            raise ServiceAccountNotFound()
        return account

    def _require_administers(self, admin: Actor) -> None:
        if not may_administer_staff(admin, admin.district):
            raise AccessDenied(
                "office_administrators_only",
                "only an office administrator of the district administers its service accounts",
            )

    def _published(self, account: ServiceAccount) -> ServiceAccountRecord:
        record = _record_of(account, self._created_by(account.id))
        self.directory.put(record)
        return record

    def _created_by(self, account_id: UUID) -> str:
        """Who created the account, as its first event says (the directory lists it)."""
        first = next(iter(self.store.events.get(account_id, lte=1)))
        assert isinstance(first, ServiceAccount.Created)
        return first.actor["user_id"]

    # ---- Checking a key ------------------------------------------------------------------

    def authenticate(self, credential: str) -> ServiceCaller:
        """The caller a key names; KeyRefused (a reason, never the key) otherwise."""
        key = parse_key(credential)
        if key is None:
            raise KeyRefused("api_key_malformed")
        record = self._key_record(key.key_id)
        # Compared in constant time, so the answer's timing tells nothing of the hash.
        if record is None or not hmac.compare_digest(record.secret_hash, key.secret_hash):
            raise KeyRefused("api_key_unknown")
        # Deactivation revokes every key too; the access log says why, which is the account.
        if not record.account.active:
            raise KeyRefused("service_account_inactive")
        if record.revoked:
            raise KeyRefused("api_key_revoked")
        return ServiceCaller(record.account.actor, record.account.scopes, key.key_id)

    def _key_record(self, key_id: str) -> KeyRecord | None:
        now = self.monotonic()
        with self._lock:
            cached = self._checked.get(key_id)
        if cached is not None and now - cached[0] < self.refresh_every:
            return cached[1]
        record = self.directory.key(key_id)
        # Only keys that exist are kept: unknown ids, which anyone can make up, fill nothing.
        with self._lock:
            if record is None:
                self._checked.pop(key_id, None)
            else:
                self._checked[key_id] = (now, record)
        return record

    def _forget(self, key_id: str) -> None:
        with self._lock:
            self._checked.pop(key_id, None)


def _record_of(account: ServiceAccount, created_by: str) -> ServiceAccountRecord:
    return ServiceAccountRecord(
        account_id=str(account.id),
        name=account.name,
        agency=account.agency,
        district=account.district,
        scopes=account.scopes,
        active=account.active,
        created_by=created_by,
        created_at=account.created_on,
        key_ids=tuple(sorted(account.live_keys)),
    )
