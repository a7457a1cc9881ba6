"""Bearer tokens naming who is calling: user, role, agency and district.

HS256 JWTs signed with the deployment's secret. An identity provider (OIDC)
can replace the minting later: verification only needs these four claims.
"""

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt

from domain.actors import Actor
from domain.errors import InvalidValue
from domain.vocabulary import Agency, Role

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("sub", "role", "agency", "district", "exp", "iat", "iss")


class InvalidToken(Exception):
    """The token is missing, malformed, expired, or not signed by this deployment."""


@dataclass(frozen=True)
class TokenService:
    secret: str
    issuer: str = "simpul"
    ttl: timedelta = timedelta(hours=12)

    def mint(
        self, actor: Actor, *, ttl: timedelta | None = None, now: datetime | None = None
    ) -> str:
        issued = now or datetime.now(UTC)
        claims = {
            "sub": actor.user_id,
            "role": actor.role.value,
            "agency": actor.agency.value,
            "district": actor.district,
            "iss": self.issuer,
            "iat": int(issued.timestamp()),
            "exp": int((issued + (ttl or self.ttl)).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Actor:
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the token has expired") from None
        except jwt.PyJWTError:
            raise InvalidToken("the token is not valid for this deployment") from None
        try:
            return Actor(
                user_id=str(claims["sub"]),
                role=Role(claims["role"]),
                agency=Agency(claims["agency"]),
                district=str(claims["district"]),
            )
        except (ValueError, InvalidValue):
            raise InvalidToken("the token names an unknown role or agency") from None


def development_secret(data_dir: Path) -> str:
    """A random secret kept in the data folder, so development tokens survive restarts."""
    path = data_dir / "token-secret"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.write_text(secret)
    path.chmod(0o600)
    return secret
