"""Signed messages: the relay signs every CloudEvent it publishes, consumers verify it.

Broker ACLs say who may write a topic; a leaked credential, a misconfigured
ACL or a broker without ACLs (the embedded one) would still let anyone write
one. So every message carries an Ed25519 signature, made with a key only the
relay holds, in two CloudEvents extension attributes:

- ``simpulkeyid``: which key signed it (several are valid during a rotation);
- ``simpulsignature``: the signature, base64url without padding, over the
  message's canonical bytes without ``simpulsignature`` (``simpulkeyid``
  included, so a signature cannot be passed off under another key).

The canonical bytes are the JSON text ``messages.encode`` writes: keys sorted,
no whitespace, UTF-8 unescaped. A message is accepted only if its bytes on the
wire are exactly that encoding (so what was verified is what a consumer
parses: no duplicate keys, no padding) and the signature verifies under the
public key its key id names. Ed25519 is deterministic: a republished message is
byte-identical, as consumers' de-duplication by id expects.
"""

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from gateways.kafka.messages import encode
from services.settings import KEY_ID_PATTERN

ALGORITHM = "Ed25519"
KEY_ID_ATTRIBUTE = "simpulkeyid"
SIGNATURE_ATTRIBUTE = "simpulsignature"
SIGNATURE_PATTERN = r"^[A-Za-z0-9_-]{86}$"  # 64 bytes, base64url, no padding
KEY_BYTES = 32


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text: str) -> bytes:
    """Strict base64url without padding: anything else is refused, not repaired."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def signed_bytes(cloud_event: Mapping[str, Any]) -> bytes:
    """What the signature covers: the canonical message without its signature."""
    return encode({key: value for key, value in cloud_event.items() if key != SIGNATURE_ATTRIBUTE})


def public_key_text(public_key: Ed25519PublicKey) -> str:
    return b64url(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def _key_id(key_id: str) -> str:
    if not re.fullmatch(KEY_ID_PATTERN, key_id):
        raise ValueError("a key id is 1-64 letters, digits, '.', '_' or '-'")
    return key_id


class MessageSigner:
    """The relay's key: signs each message it publishes."""

    def __init__(self, key_id: str, private_key: Ed25519PrivateKey) -> None:
        self.key_id = _key_id(key_id)
        self._private_key = private_key

    @classmethod
    def from_text(cls, key_id: str, private_key: str) -> "MessageSigner":
        """From the 32-byte private key in base64url (SIMPUL_MESSAGE_SIGNING_KEY)."""
        try:
            seed = from_b64url(private_key.strip())
        except ValueError:
            seed = b""
        if len(seed) != KEY_BYTES:
            raise ValueError("a signing key is 32 bytes in base64url")
        return cls(key_id, Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def generate(cls, key_id: str) -> "MessageSigner":
        return cls(key_id, Ed25519PrivateKey.generate())

    def private_key_text(self) -> str:
        raw = self._private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return b64url(raw)

    def public_key(self) -> str:
        return public_key_text(self._private_key.public_key())

    def sign(self, cloud_event: Mapping[str, Any]) -> dict[str, Any]:
        """The message with its key id and signature."""
        unsigned = {key: value for key, value in cloud_event.items() if key != SIGNATURE_ATTRIBUTE}
        unsigned[KEY_ID_ATTRIBUTE] = self.key_id
        signature = self._private_key.sign(signed_bytes(unsigned))
        return {**unsigned, SIGNATURE_ATTRIBUTE: b64url(signature)}

    def signed_value(self, cloud_event: Mapping[str, Any]) -> bytes:
        """The message as it goes on the wire."""
        return encode(self.sign(cloud_event))


class MessageVerifier:
    """The public keys messages may be signed with, by key id; refuses what they did not sign."""

    def __init__(self, public_keys: Mapping[str, str]) -> None:
        keys = {}
        for key_id, text in public_keys.items():
            try:
                raw = from_b64url(text.strip())
            except ValueError:
                raw = b""
            if len(raw) != KEY_BYTES:
                raise ValueError(f"verify key {key_id!r} is not 32 bytes in base64url")
            keys[_key_id(key_id)] = Ed25519PublicKey.from_public_bytes(raw)
        if not keys:
            raise ValueError("no key to verify messages with")
        self._keys = keys

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def public_keys(self) -> dict[str, str]:
        return {key_id: public_key_text(key) for key_id, key in sorted(self._keys.items())}

    def refusal(self, value: bytes, cloud_event: Any) -> str | None:
        """Why the message ``value`` (parsed: ``cloud_event``) is refused; None if it is genuine.

        The reasons name what is wrong, never a value from the message.
        """
        if not isinstance(cloud_event, dict):
            return "not a signed message: not a JSON object"
        key_id = cloud_event.get(KEY_ID_ATTRIBUTE)
        signature_text = cloud_event.get(SIGNATURE_ATTRIBUTE)
        if not isinstance(signature_text, str) or not isinstance(key_id, str):
            return f"not signed: {KEY_ID_ATTRIBUTE} and {SIGNATURE_ATTRIBUTE} are required"
        public_key = self._keys.get(key_id)
        if public_key is None:
            return f"signed with an unknown key id (known: {', '.join(self.key_ids)})"
        if not re.fullmatch(SIGNATURE_PATTERN, signature_text):
            return f"{SIGNATURE_ATTRIBUTE} is not a base64url Ed25519 signature"
        if encode(cloud_event) != value:
            return "not in canonical form: the bytes differ from what was signed"
        try:
            public_key.verify(from_b64url(signature_text), signed_bytes(cloud_event))
        except InvalidSignature:
            return "the signature does not verify"
        return None

    def verified(self, value: bytes) -> dict[str, Any]:
        """The message parsed, if genuine; raises ValueError (with the reason) if not."""
        try:
            cloud_event = json.loads(value)
        except (TypeError, ValueError):
            raise ValueError("not JSON") from None
        reason = self.refusal(value, cloud_event)
        if reason is not None:
            raise ValueError(reason)
        result: dict[str, Any] = cloud_event
        return result

    def jwks(self) -> dict[str, Any]:
        """The keys as a JSON Web Key Set (RFC 7517, OKP keys of RFC 8037)."""
        return {
            "keys": [
                {"kty": "OKP", "crv": ALGORITHM, "alg": "EdDSA", "use": "sig", "kid": kid, "x": x}
                for kid, x in self.public_keys().items()
            ]
        }
