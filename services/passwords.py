"""Passwords: the rules a new one must meet, and argon2id to keep and check it.

ASVS 5.0 (V6.2) asks for at least 8 characters, recommends 15, allows at least 64,
forbids composition rules and periodic changes, and asks that a password be checked
against a list of the most common or breached ones. Offices share computers and
passwords travel by word of mouth, so Simpul asks for 12; the list of refused
passwords is bundled (the most common ones, and the words of this service and its
offices that a user would reach for first).
"""

from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from domain.errors import InvalidValue

MIN_LENGTH = 12
MAX_LENGTH = 128
# OWASP's argon2id parameters (m=19 MiB, t=2, p=1): about 20 ms here, per login.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Checked against when the e-mail is unknown, so a login takes as long either way.
_DECOY = _HASHER.hash("simpul-decoy-password-never-matches")


def _common_passwords() -> frozenset[str]:
    text = resources.files("services").joinpath("common_passwords.txt").read_text("utf-8")
    lines = (line.strip().lower() for line in text.splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


COMMON_PASSWORDS = _common_passwords()


def require_acceptable(password: str) -> None:
    """Refuse a new password that is too short, too long, or among the common ones.

    The error names the rule, never the password."""
    if len(password) < MIN_LENGTH:
        raise InvalidValue("password", f"must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidValue("password", f"must be at most {MAX_LENGTH} characters")
    folded = password.strip().lower()
    if folded in COMMON_PASSWORDS or len(set(folded)) < 4:
        raise InvalidValue("password", "is too common or too easy to guess")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(stored_hash: str | None, password: str) -> bool:
    """Whether the password is the one hashed; with no hash, the same work and False."""
    try:
        return _HASHER.verify(stored_hash or _DECOY, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
