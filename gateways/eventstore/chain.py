"""The hash chain that makes the event store tamper-evident.

Each stored event gets ``event_hash``, a SHA-256 over the previous event's hash
in the same case and over exactly the bytes stored (id, version, topic, state),
so later encryption or erasure of personal data inside ``state`` is a change of
*what is stored* only if someone rewrites the row, never by design. The whole
store is also chained in notification order: ``chain_hash`` covers the
previous row's ``chain_hash`` and this row's ``event_hash``. The head of that
chain (last notification id, its chain hash, the event count) is kept
separately, so deleting the newest rows is detected too.
"""

import hashlib
from uuid import UUID

GENESIS = bytes(32)
_EVENT_DOMAIN = b"simpul/event/v1"
_CHAIN_DOMAIN = b"simpul/chain/v1"


def event_hash(
    previous: bytes, originator_id: UUID, originator_version: int, topic: str, state: bytes
) -> bytes:
    topic_bytes = topic.encode("utf-8")
    digest = hashlib.sha256(_EVENT_DOMAIN)
    digest.update(previous)
    digest.update(originator_id.bytes)
    digest.update(originator_version.to_bytes(8, "big", signed=True))
    digest.update(len(topic_bytes).to_bytes(4, "big"))
    digest.update(topic_bytes)
    digest.update(state)
    return digest.digest()


def chain_hash(previous: bytes, notification_id: int, this_event_hash: bytes) -> bytes:
    digest = hashlib.sha256(_CHAIN_DOMAIN)
    digest.update(previous)
    digest.update(notification_id.to_bytes(8, "big", signed=True))
    digest.update(this_event_hash)
    return digest.digest()
