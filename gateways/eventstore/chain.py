"""The hash chain that makes the event store tamper-evident.

Each stored event gets ``event_hash``, a SHA-256 over the previous event's hash
in the same case and over exactly the bytes stored (id, version, topic, state),
so later encryption or erasure of personal data inside ``state`` is a change of
*what is stored* only if someone rewrites the row, never by design. The whole
store is also chained in notification order: ``chain_hash`` covers the
previous row's ``chain_hash`` and this row's ``event_hash``. The head of that
chain (last notification id, its chain hash, the event count) is kept
separately, so deleting the newest rows is detected too.

The head lives in the same database, so whoever can rewrite events can rewrite
the head as well, and recompute every hash: the functions are public. A key
held by the application (an HMAC over the head) would not change that for
long: the API process must hold it to sign every write, and in a district
office the same people run the application and the database. What they cannot
rewrite is a root that has left the server. `simpul audit verify` prints the
root (``ChainRoot``); printed in an inspection report or sent to the ministry,
every later state of an untampered chain passes through it, so a rewrite or a
rollback of anything before it is caught when verifying against it.

The access log is chained the same way, in its own single chain in id order
(``access_entry_hash``): each entry's hash covers the previous entry's hash and
every column of the entry, and a head (last id, hash, count) sits beside it.
Its root (``AccessLogRoot``) is printed and anchored next to the events' root,
on a line of its own, so roots published before the access log was chained
keep their form and still verify.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

GENESIS = bytes(32)
_EVENT_DOMAIN = b"simpul/event/v1"
_CHAIN_DOMAIN = b"simpul/chain/v1"
_ACCESS_DOMAIN = b"simpul/access/v1"
_ABSENT = (-1).to_bytes(4, "big", signed=True)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def event_hash(
    previous: bytes, originator_id: UUID, originator_version: int, topic: str, state: bytes
) -> bytes:
    return event_digest(previous, originator_id.bytes, originator_version, topic, state)


def event_digest(
    previous: bytes, originator_id: bytes, originator_version: int, topic: str, state: bytes
) -> bytes:
    """``event_hash`` over the originator id's 16 bytes, for verifiers that read raw UUIDs."""
    topic_bytes = topic.encode("utf-8")
    return hashlib.sha256(
        b"".join(
            (
                _EVENT_DOMAIN,
                previous,
                originator_id,
                originator_version.to_bytes(8, "big", signed=True),
                len(topic_bytes).to_bytes(4, "big"),
                topic_bytes,
                state,
            )
        )
    ).digest()


def chain_hash(previous: bytes, notification_id: int, this_event_hash: bytes) -> bytes:
    return hashlib.sha256(
        b"".join(
            (
                _CHAIN_DOMAIN,
                previous,
                notification_id.to_bytes(8, "big", signed=True),
                this_event_hash,
            )
        )
    ).digest()


def _field(value: bytes | None) -> bytes:
    return _ABSENT if value is None else len(value).to_bytes(4, "big") + value


def _text(value: str | None) -> bytes:
    return _field(None if value is None else value.encode("utf-8"))


def access_entry_hash(
    previous: bytes,
    entry_id: int,
    accessed_at: datetime,
    user_id: str | None,
    role: str | None,
    agency: str | None,
    district: str | None,
    case_id: UUID | None,
    view: str,
    purpose: str | None,
    request_id: str | None,
    outcome: str,
    reason: str | None,
) -> bytes:
    """An access log entry's link: every column, each length-prefixed (absent: length -1).

    The time counts in microseconds since 1970 (PostgreSQL's resolution), so the
    database's trigger and this function hash the same integer.
    """
    micros = (accessed_at - _EPOCH) // timedelta(microseconds=1)
    return hashlib.sha256(
        b"".join(
            (
                _ACCESS_DOMAIN,
                previous,
                entry_id.to_bytes(8, "big", signed=True),
                micros.to_bytes(8, "big", signed=True),
                _text(user_id),
                _text(role),
                _text(agency),
                _text(district),
                _field(None if case_id is None else case_id.bytes),
                _text(view),
                _text(purpose),
                _text(request_id),
                _text(outcome),
                _text(reason),
            )
        )
    ).digest()


ROOT_PREFIX = "simpul-root:v1"
ACCESS_ROOT_PREFIX = "simpul-access-root:v1"


class MalformedRoot(ValueError):
    """A published chain root does not have the form ``simpul-root:v1:<id>:<count>:<hex>``."""


@dataclass(frozen=True)
class ChainRoot:
    """Where the store-wide chain stood after one event: a value to publish outside the database.

    The hashes alone stop no one who can rewrite the whole database: they can
    recompute every hash and the head. A root printed by `simpul audit verify`
    and kept elsewhere (the inspectorate's report, a letter to the ministry)
    cannot be rewritten with it, and every later state of an untampered store
    passes through it. Verifying against it proves the history up to it.
    """

    notification_id: int
    event_count: int
    chain_hash: bytes

    def __str__(self) -> str:
        return f"{ROOT_PREFIX}:{self.notification_id}:{self.event_count}:{self.chain_hash.hex()}"

    @classmethod
    def parse(cls, text: str) -> "ChainRoot":
        parts = text.strip().rsplit(":", 3)
        if len(parts) != 4 or parts[0] != ROOT_PREFIX:
            raise MalformedRoot(f"a chain root looks like {ROOT_PREFIX}:<id>:<count>:<sha256 hex>")
        _, notification_id, event_count, hex_hash = parts
        try:
            root = cls(int(notification_id), int(event_count), bytes.fromhex(hex_hash))
        except ValueError:
            raise MalformedRoot("a chain root's id and count are integers, its hash hex") from None
        if len(root.chain_hash) != 32 or root.notification_id < 1 or root.event_count < 1:
            raise MalformedRoot("a chain root names a positive id and count and a 32-byte hash")
        return root


@dataclass(frozen=True)
class AccessLogRoot:
    """Where the access log's chain stood after one entry: published beside the events' root."""

    entry_id: int
    entry_count: int
    chain_hash: bytes

    def __str__(self) -> str:
        return f"{ACCESS_ROOT_PREFIX}:{self.entry_id}:{self.entry_count}:{self.chain_hash.hex()}"

    @classmethod
    def parse(cls, text: str) -> "AccessLogRoot":
        parts = text.strip().rsplit(":", 3)
        if len(parts) != 4 or parts[0] != ACCESS_ROOT_PREFIX:
            raise MalformedRoot(
                f"an access-log root looks like {ACCESS_ROOT_PREFIX}:<id>:<count>:<sha256 hex>"
            )
        _, entry_id, entry_count, hex_hash = parts
        try:
            root = cls(int(entry_id), int(entry_count), bytes.fromhex(hex_hash))
        except ValueError:
            raise MalformedRoot("a root's id and count are integers, its hash hex") from None
        if len(root.chain_hash) != 32 or root.entry_id < 1 or root.entry_count < 1:
            raise MalformedRoot("a root names a positive id and count and a 32-byte hash")
        return root


def parse_root(text: str) -> ChainRoot | AccessLogRoot:
    """Either kind of published root, told apart by its prefix."""
    if text.strip().startswith(ACCESS_ROOT_PREFIX + ":"):
        return AccessLogRoot.parse(text)
    return ChainRoot.parse(text)
