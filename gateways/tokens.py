"""Bearer tokens naming who is calling: user, role, agency and district.

Tokens are EdDSA (Ed25519) JWTs. The process that mints them holds the
private key (`simpul token` today; the login of the accounts issue later is
given one through ``TokenService.minting``); every API process holds only the
public key, so whoever reads an API process's memory or environment can check
tokens but never make one, and relay and projector processes hold no key at all.

Verification checks, beyond the signature:

- the header's ``typ`` is ``at+jwt`` (an access token, RFC 9068), so any other
  kind of token signed with the same key (a refresh or ID token) is refused;
- ``iss`` and ``aud`` name this deployment's issuer and the API;
- the lifetime ``exp - iat`` is at most the deployment's maximum, whatever the
  minting process chose, and ``iat`` is not in the future;
- the token is not revoked: neither its ``jti`` nor every token of its user
  issued up to a moment (``Revocations``, read through a cache of seconds).
"""

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from domain.actors import Actor
from domain.errors import InvalidValue
from domain.vocabulary import Agency, Role

ALGORITHM = "EdDSA"
TOKEN_TYPE = "at+jwt"
AUDIENCE = "simpul-api"
REQUIRED_CLAIMS = ("sub", "role", "agency", "district", "exp", "iat", "iss", "aud", "jti")
# Clocks of the minting machine and the API differ a little; this much is tolerated.
CLOCK_SKEW = timedelta(seconds=30)
DEFAULT_TTL = timedelta(hours=12)
DEFAULT_MAX_LIFETIME = timedelta(hours=12)


class InvalidToken(Exception):
    """The token is missing, malformed, expired, revoked, or not this deployment's.

    ``reason`` is a code for the access log (never the token or its claims).
    """

    def __init__(self, message: str, reason: str = "token_invalid") -> None:
        super().__init__(message)
        self.reason = reason


class TokenLifetimeTooLong(ValueError):
    """A token was asked for that would live longer than the deployment's maximum."""


class CannotMint(RuntimeError):
    """This process holds only the public key: it verifies tokens and cannot mint them."""


class UnusableKey(ValueError):
    """A configured key is not an Ed25519 key in PEM form, or the two keys are not a pair."""


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token establishes."""

    actor: Actor
    token_id: str
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class RevocationSet:
    """The revocations in force: single tokens, and every token of a user issued up to a time."""

    token_ids: frozenset[str] = frozenset()
    users_revoked_at: Mapping[str, datetime] = field(default_factory=dict)

    def revokes(self, claims: TokenClaims) -> bool:
        if claims.token_id in self.token_ids:
            return True
        revoked_at = self.users_revoked_at.get(claims.actor.user_id)
        # The minting machine's clock may run ahead of the database's: a token stamped up to
        # CLOCK_SKEW after the revocation may still have been minted before it.
        return revoked_at is not None and claims.issued_at <= revoked_at + CLOCK_SKEW


class RevocationSource(Protocol):
    def live_revocations(self) -> RevocationSet:
        """Every revocation whose tokens may not have expired yet."""


class Revocations(Protocol):
    def is_revoked(self, claims: TokenClaims) -> bool: ...


class NoRevocations:
    """For a deployment without a revocation store (the in-memory event store of unit tests)."""

    def is_revoked(self, claims: TokenClaims) -> bool:
        return False


class CachedRevocations:
    """Revocations read from their store at most every ``refresh_every``, so a revocation is
    honoured by every API process within that time without a query per request.

    If the store cannot be read when the cache is due, the error propagates: the
    request fails (503) rather than accepting a token that may have been revoked.
    """

    def __init__(
        self,
        source: RevocationSource,
        refresh_every: timedelta,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.refresh_every = refresh_every.total_seconds()
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._loaded: RevocationSet | None = None
        self._loaded_at = 0.0

    def is_revoked(self, claims: TokenClaims) -> bool:
        return self._current().revokes(claims)

    def _current(self) -> RevocationSet:
        loaded = self._loaded
        if loaded is not None and self.monotonic() - self._loaded_at < self.refresh_every:
            return loaded
        with self._lock:
            if self._loaded is None or self.monotonic() - self._loaded_at >= self.refresh_every:
                self._loaded = self.source.live_revocations()
                self._loaded_at = self.monotonic()
            return self._loaded


def _now() -> datetime:
    return datetime.now(UTC)


class TokenService:
    """Verifies access tokens; mints them too when given the private key (``minting``)."""

    def __init__(
        self,
        verifying_key: Ed25519PublicKey,
        *,
        signing_key: Ed25519PrivateKey | None = None,
        issuer: str = "simpul",
        audience: str = AUDIENCE,
        ttl: timedelta = DEFAULT_TTL,
        max_lifetime: timedelta = DEFAULT_MAX_LIFETIME,
        revocations: Revocations | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        if ttl > max_lifetime:
            raise TokenLifetimeTooLong("the default token lifetime exceeds the maximum")
        if signing_key is not None and not _same_key(signing_key.public_key(), verifying_key):
            raise UnusableKey("the private and public token keys are not a pair")
        self.verifying_key = verifying_key
        self.signing_key = signing_key
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl
        self.max_lifetime = max_lifetime
        self.revocations: Revocations = revocations or NoRevocations()
        self.clock = clock

    @classmethod
    def minting(cls, signing_key: Ed25519PrivateKey, **options: Any) -> "TokenService":
        """A service that mints (and verifies) with this private key."""
        return cls(signing_key.public_key(), signing_key=signing_key, **options)

    @property
    def can_mint(self) -> bool:
        return self.signing_key is not None

    def mint(
        self, actor: Actor, *, ttl: timedelta | None = None, now: datetime | None = None
    ) -> str:
        if self.signing_key is None:
            raise CannotMint("this process holds no token signing key")
        lifetime = self.ttl if ttl is None else ttl
        if lifetime > self.max_lifetime:
            hours = self.max_lifetime / timedelta(hours=1)
            raise TokenLifetimeTooLong(f"a token may live at most {hours:g} hours")
        issued = now or self.clock()
        claims = {
            "sub": actor.user_id,
            "role": actor.role.value,
            "agency": actor.agency.value,
            "district": actor.district,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": int(issued.timestamp()),
            "exp": int((issued + lifetime).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(
            claims, self.signing_key, algorithm=ALGORITHM, headers={"typ": TOKEN_TYPE}
        )

    def verify(self, token: str) -> Actor:
        return self.verify_claims(token).actor

    def verify_claims(self, token: str) -> TokenClaims:
        claims = self.inspect(token, check_expiry=True)
        if self.revocations.is_revoked(claims):
            raise InvalidToken("the token has been revoked", "token_revoked")
        return claims

    def inspect(self, token: str, *, check_expiry: bool = True) -> TokenClaims:
        """Signature, type, issuer, audience and lifetime; expiry too unless told not to
        (revoking a token names it even if it has expired). Revocation is not consulted."""
        try:
            decoded = jwt.decode_complete(
                token,
                self.verifying_key,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                audience=self.audience,
                # iat is checked below, against CLOCK_SKEW; exp is kept exactly.
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_exp": check_expiry,
                    "verify_iat": False,
                },
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the token has expired", "token_expired") from None
        except jwt.PyJWTError:
            raise InvalidToken("the token is not valid for this deployment") from None
        if decoded["header"].get("typ") != TOKEN_TYPE:
            raise InvalidToken("the token is not an access token", "token_wrong_type")
        return self._claims(decoded["payload"])

    def _claims(self, payload: dict[str, Any]) -> TokenClaims:
        names = ("sub", "role", "agency", "district", "jti")
        if not all(isinstance(payload[name], str) for name in names):
            raise InvalidToken("the token's claims are not of the expected types")
        try:
            issued_at = datetime.fromtimestamp(payload["iat"], UTC)
            expires_at = datetime.fromtimestamp(payload["exp"], UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            raise InvalidToken("the token's times are not valid") from None
        if issued_at > self.clock() + CLOCK_SKEW:
            raise InvalidToken("the token was issued in the future", "token_not_yet_valid")
        if expires_at - issued_at > self.max_lifetime:
            raise InvalidToken(
                "the token lives longer than this deployment allows", "token_lifetime_exceeded"
            )
        try:
            actor = Actor(
                user_id=payload["sub"],
                role=Role(payload["role"]),
                agency=Agency(payload["agency"]),
                district=payload["district"],
            )
        except (ValueError, InvalidValue):
            raise InvalidToken("the token names an unknown role or agency") from None
        return TokenClaims(actor, payload["jti"], issued_at, expires_at)


def _same_key(first: Ed25519PublicKey, second: Ed25519PublicKey) -> bool:
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    return first.public_bytes(*raw) == second.public_bytes(*raw)


def _pem(text: str) -> bytes:
    # Environment variables often carry a PEM on one line with literal "\n".
    return text.strip().replace("\\n", "\n").encode()


def load_private_key(pem: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(_pem(pem), password=None)
    except (ValueError, TypeError):
        raise UnusableKey("the token private key is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UnusableKey("the token private key is not an Ed25519 key")
    return key


def load_public_key(pem: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(_pem(pem))
    except (ValueError, TypeError):
        raise UnusableKey("the token public key is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise UnusableKey("the token public key is not an Ed25519 key")
    return key


def private_key_pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


DEVELOPMENT_PRIVATE_KEY = "token-signing-key.pem"
DEVELOPMENT_PUBLIC_KEY = "token-verifying-key.pem"


def development_key_files(data_dir: Path) -> tuple[Path, Path]:
    """A key pair kept in the data folder, so development tokens survive restarts.

    Returns the private and public key files, creating both on first use; the
    API of `simpul run` reads only the public one.
    """
    private_path = data_dir / DEVELOPMENT_PRIVATE_KEY
    public_path = data_dir / DEVELOPMENT_PUBLIC_KEY
    if not private_path.exists() or not public_path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        private_path.touch(mode=0o600)
        private_path.chmod(0o600)
        private_path.write_text(private_key_pem(key))
        public_path.write_text(public_key_pem(key.public_key()))
        # Earlier versions kept a shared HMAC secret here, which minted and verified alike.
        (data_dir / "token-secret").unlink(missing_ok=True)
    return private_path, public_path
