"""Revoked bearer tokens, in the event store's database so every API process sees them.

One row per revocation: a single token (by its ``jti``), or every token of a
user issued up to the moment of revocation. Each row says until when it
matters (the revoked tokens' latest possible expiry); API processes load the
rows still in force through ``gateways.tokens.CachedRevocations``. Rows are
never updated or deleted by Simpul: a revocation cannot be taken back.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from eventsourcing.postgres import PostgresDatastore
from psycopg.sql import SQL, Composed, Identifier

from gateways.tokens import CLOCK_SKEW, RevocationSet


@dataclass(frozen=True)
class Revoked:
    """What a revocation recorded, to tell the operator."""

    revoked_at: datetime
    in_force_until: datetime


class PostgresRevocations:
    def __init__(self, datastore: PostgresDatastore, table_name: str) -> None:
        self.datastore = datastore
        self.table_name = table_name
        schema = Identifier(datastore.schema)
        table = Identifier(table_name)
        self.create_statements: list[Composed] = [
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{table} ("
                "id bigserial PRIMARY KEY, "
                "token_id text, "
                "user_id text, "
                "revoked_at timestamptz NOT NULL DEFAULT now(), "
                "in_force_until timestamptz NOT NULL, "
                "CHECK ((token_id IS NULL) <> (user_id IS NULL)))"
            ).format(schema=schema, table=table),
            SQL("CREATE INDEX IF NOT EXISTS {index} ON {schema}.{table} (in_force_until)").format(
                index=Identifier(f"{table_name}_in_force_idx"), schema=schema, table=table
            ),
        ]
        self._insert = SQL(
            "INSERT INTO {schema}.{table} (token_id, user_id, in_force_until) "
            "VALUES (%(token_id)s, %(user_id)s, "
            "greatest(now(), %(expires_at)s::timestamptz) + %(skew)s::interval) "
            "RETURNING revoked_at, in_force_until"
        ).format(schema=schema, table=table)
        self._live = SQL(
            "SELECT token_id, user_id, revoked_at FROM {schema}.{table} "
            "WHERE in_force_until > now()"
        ).format(schema=schema, table=table)

    def revoke_token(self, token_id: str, expires_at: datetime) -> Revoked:
        """One token, until it expires (``expires_at``: its ``exp``, or the longest it may live)."""
        return self._revoke(token_id=token_id, user_id=None, expires_at=expires_at)

    def revoke_user(self, user_id: str, max_lifetime: timedelta) -> Revoked:
        """Every token of the user issued up to now; in force until the last of them expires."""
        return self._revoke(token_id=None, user_id=user_id, expires_at=None, extra=max_lifetime)

    def _revoke(
        self,
        *,
        token_id: str | None,
        user_id: str | None,
        expires_at: datetime | None,
        extra: timedelta = timedelta(0),
    ) -> Revoked:
        parameters = {
            "token_id": token_id,
            "user_id": user_id,
            "expires_at": expires_at,
            "skew": CLOCK_SKEW + extra,
        }
        with self.datastore.get_connection() as conn:
            row = conn.execute(self._insert, parameters).fetchone()
        assert row is not None
        return Revoked(row["revoked_at"], row["in_force_until"])

    def live_revocations(self) -> RevocationSet:
        with self.datastore.get_connection() as conn:
            rows = conn.execute(self._live, prepare=True).fetchall()
        token_ids = frozenset(row["token_id"] for row in rows if row["token_id"] is not None)
        users: dict[str, datetime] = {}
        for row in rows:
            user = row["user_id"]
            if user is not None and (user not in users or row["revoked_at"] > users[user]):
                users[user] = row["revoked_at"]
        return RevocationSet(token_ids, users)
