"""The second factor: time-based one-time passwords (TOTP, RFC 6238) from an app.

SHA-1, 6 digits, 30-second steps: what every authenticator app reads from an
``otpauth://`` URI. A code is accepted for the step before and after the current one
(clocks of phones drift), and never twice: the caller keeps the last step used.
"""

import base64
import hashlib
import hmac
import os
import struct
from datetime import datetime
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6
SECRET_BYTES = 20
ISSUER = "Simpul"


def new_secret() -> str:
    """A fresh key, in the base32 form an authenticator app is given."""
    return base64.b32encode(os.urandom(SECRET_BYTES)).decode("ascii").rstrip("=")


def _key(secret: str) -> bytes:
    padded = secret.upper() + "=" * (-len(secret) % 8)
    return base64.b32decode(padded)


def step_at(moment: datetime) -> int:
    return int(moment.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    """RFC 4226 HOTP of the step counter, as RFC 6238 defines TOTP."""
    digest = hmac.new(_key(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def matching_step(secret: str, code: str, moment: datetime, *, after: int | None) -> int | None:
    """The step the code belongs to (now, or one step either side), if it was not used yet.

    ``after``: the last step a code was accepted for; that one and earlier are refused,
    so a code seen over a shoulder cannot be replayed."""
    cleaned = code.replace(" ", "")
    if len(cleaned) != DIGITS or not cleaned.isdigit():
        return None
    now = step_at(moment)
    for step in (now - 1, now, now + 1):
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(code_at(secret, step), cleaned):
            return step
    return None


def provisioning_uri(secret: str, account: str) -> str:
    """The otpauth:// URI an app scans; ``account`` is shown in the app beside the code."""
    label = quote(f"{ISSUER}:{account}")
    query = urlencode(
        {"secret": secret, "issuer": ISSUER, "digits": DIGITS, "period": STEP_SECONDS}
    )
    return f"otpauth://totp/{label}?{query}"
