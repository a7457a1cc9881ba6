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
"""

import hashlib
from dataclasses import dataclass
from uuid import UUID

GENESIS = bytes(32)
_EVENT_DOMAIN = b"simpul/event/v1"
_CHAIN_DOMAIN = b"simpul/chain/v1"


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


ROOT_PREFIX = "simpul-root:v1"


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
