"""Server-side browser sessions in PostgreSQL, each with its CSRF synchronizer token.

The cookie carries only a random 256-bit id; the table keeps its SHA-256, so a
copy of the table opens no session. A session dies when idle too long, when its
absolute lifetime ends, at logout, or when its user is revoked (deactivation):
the revocation is read through the same ``Revocations`` as bearer tokens, so both
die within the cache's refresh. Login opens a new id (``open``), never reuses one
the browser brought (session fixation).
"""

import hashlib
import hmac
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg.rows import tuple_row

from domain.actors import Actor
from gateways.tokens import Revocations, TokenClaims

# The __Host- prefix makes the browser refuse the cookie unless Secure, Path=/ and no Domain.
COOKIE_NAME = "__Host-simpul-session"
TABLE = "web_sessions"

Connector = Callable[[], AbstractContextManager[Any]]


@dataclass(frozen=True)
class Lifetimes:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)


@dataclass(frozen=True)
class BrowserSession:
    session_id: str
    actor: Actor
    opened_at: datetime
    csrf_token: str

    def csrf_matches(self, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(sent, self.csrf_token)


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    def __init__(
        self, connect: Connector, revocations: Revocations, lifetimes: Lifetimes = Lifetimes()
    ) -> None:
        self.connect = connect
        self.revocations = revocations
        self.lifetimes = lifetimes

    def create_table(self) -> None:
        with self.connect() as conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} ("
                " id_digest text PRIMARY KEY, user_id text NOT NULL, role text NOT NULL,"
                " agency text NOT NULL, district text NOT NULL, csrf_token text NOT NULL,"
                " opened_at timestamptz NOT NULL, last_seen timestamptz NOT NULL)"
            )
            conn.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_user ON {TABLE} (user_id)")

    def open(self, actor: Actor, *, now: datetime, replacing: str | None = None) -> BrowserSession:
        """A new session for a login; the one the browser brought before it ends."""
        if replacing is not None:
            self.close(replacing)
        session = BrowserSession(
            session_id=secrets.token_urlsafe(32),
            actor=actor,
            opened_at=now,
            csrf_token=secrets.token_urlsafe(32),
        )
        with self.connect() as conn:
            conn.execute(
                f"INSERT INTO {TABLE} VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    _digest(session.session_id),
                    actor.user_id,
                    actor.role.value,
                    actor.agency.value,
                    actor.district,
                    session.csrf_token,
                    now,
                    now,
                ),
            )
        return session

    def resume(self, session_id: str | None, *, now: datetime) -> BrowserSession | None:
        """The live session with this id, touched; None for unknown, expired or revoked."""
        if not session_id:
            return None
        digest = _digest(session_id)
        with self.connect() as conn:
            # Tuples whatever row factory the pool's connections were given.
            row = (
                conn.cursor(row_factory=tuple_row)
                .execute(
                    f"SELECT user_id, role, agency, district, csrf_token, opened_at, last_seen"
                    f" FROM {TABLE} WHERE id_digest = %s",
                    (digest,),
                )
                .fetchone()
            )
            if row is None:
                return None
            user_id, role, agency, district, csrf_token, opened_at, last_seen = row
            actor = Actor(user_id=user_id, role=role, agency=agency, district=district)
            expired = (
                now - last_seen > self.lifetimes.idle or now - opened_at > self.lifetimes.absolute
            )
            claims = TokenClaims(
                actor=actor,
                token_id=f"session:{digest}",
                issued_at=opened_at,
                expires_at=opened_at + self.lifetimes.absolute,
            )
            if expired or self.revocations.is_revoked(claims):
                conn.execute(f"DELETE FROM {TABLE} WHERE id_digest = %s", (digest,))
                return None
            conn.execute(f"UPDATE {TABLE} SET last_seen = %s WHERE id_digest = %s", (now, digest))
        return BrowserSession(session_id, actor, opened_at, csrf_token)

    def close(self, session_id: str) -> None:
        """Logout: the id opens nothing any more."""
        with self.connect() as conn:
            conn.execute(f"DELETE FROM {TABLE} WHERE id_digest = %s", (_digest(session_id),))
