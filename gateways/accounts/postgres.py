"""The staff directory and the credential store, in their own schema (``accounts``).

The directory (``staff``) is what offices and notifications look people up by, written
from each staff member's aggregate after it is saved (services/accounts.py). The
credentials (``credentials``) hold what a login checks: the e-mail address (unique, so
two accounts can never share one), the argon2id hash of the password, the hash of an
open invitation's code, the failures in a row and the lockout, and the TOTP key
encrypted with AES-GCM under the account key (SIMPUL_ACCOUNT_KEY, the API's alone).
Deactivation empties the row of everything but the address.
"""

import os
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import IntegrityError
from psycopg import errors

from domain.vocabulary import Agency, Role
from gateways.schema_tables import Connect, SchemaTables
from services.accounts import EmailTaken, LoginRecord, StaffRecord

DEFAULT_SCHEMA = "accounts"
KEY_BYTES = 32
NONCE_BYTES = 12
_DDL_LOCK = 0x53494D50554C41  # "SIMPULA"

_DDL = (
    "CREATE SCHEMA IF NOT EXISTS {schema}",
    """CREATE TABLE IF NOT EXISTS {schema}.staff (
        user_id text PRIMARY KEY,
        email text NOT NULL,
        display_name text NOT NULL,
        role text NOT NULL,
        agency text NOT NULL,
        district text NOT NULL,
        active boolean NOT NULL,
        second_factor boolean NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS staff_by_district ON {schema}.staff (district, role)",
    """CREATE TABLE IF NOT EXISTS {schema}.credentials (
        user_id text PRIMARY KEY,
        email text NOT NULL UNIQUE,
        password_hash text,
        invitation_hash text UNIQUE,
        invitation_expires_at timestamptz,
        totp_nonce bytea,
        totp_secret bytea,
        totp_confirmed boolean NOT NULL DEFAULT false,
        last_code_step bigint,
        failures integer NOT NULL DEFAULT 0,
        locked_until timestamptz)""",
)


class PostgresAccounts(SchemaTables):
    """services.accounts.StaffDirectory and CredentialStore over the event store's pool."""

    DDL = _DDL
    DDL_LOCK = _DDL_LOCK

    def __init__(self, connect: Connect, account_key: bytes, *, schema: str = DEFAULT_SCHEMA):
        if len(account_key) != KEY_BYTES:
            raise ValueError("the account key must be 32 bytes (AES-256)")
        super().__init__(connect, schema=schema)
        self._key = AESGCM(account_key)

    # ---- The directory -----------------------------------------------------------------

    def put(self, record: StaffRecord) -> None:
        self._execute(
            "INSERT INTO {schema}.staff (user_id, email, display_name, role, agency, district, "
            "active, second_factor) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, "
            "display_name = EXCLUDED.display_name, role = EXCLUDED.role, "
            "agency = EXCLUDED.agency, district = EXCLUDED.district, active = EXCLUDED.active, "
            "second_factor = EXCLUDED.second_factor",
            (
                record.user_id,
                record.email,
                record.display_name,
                record.role.value,
                record.agency.value,
                record.district,
                record.active,
                record.second_factor,
            ),
        )

    def member(self, user_id: str) -> StaffRecord | None:
        rows = self._execute(
            "SELECT user_id, email, display_name, role, agency, district, active, second_factor "
            "FROM {schema}.staff WHERE user_id = %s",
            (user_id,),
        )
        return _record(rows[0]) if rows else None

    def members(
        self,
        *,
        district: str,
        role: Role | None = None,
        agency: Agency | None = None,
        active_only: bool = True,
    ) -> list[StaffRecord]:
        rows = self._execute(
            "SELECT user_id, email, display_name, role, agency, district, active, second_factor "
            "FROM {schema}.staff WHERE district = %s AND (%s::text IS NULL OR role = %s) "
            "AND (%s::text IS NULL OR agency = %s) AND (active OR NOT %s) "
            "ORDER BY display_name, user_id",
            (
                district,
                role and role.value,
                role and role.value,
                agency and agency.value,
                agency and agency.value,
                active_only,
            ),
        )
        return [_record(row) for row in rows]

    # ---- Credentials -------------------------------------------------------------------

    def claim_email(self, email: str, user_id: str) -> None:
        try:
            self._execute(
                "INSERT INTO {schema}.credentials (user_id, email) VALUES (%s, %s)",
                (user_id, email),
            )
        except (errors.UniqueViolation, IntegrityError):
            # The event store's pool reports a unique violation as its own IntegrityError.
            raise EmailTaken() from None

    def release(self, user_id: str) -> None:
        self._execute("DELETE FROM {schema}.credentials WHERE user_id = %s", (user_id,))

    def set_invitation(self, user_id: str, code_hash: str, expires_at: datetime) -> None:
        self._execute(
            "UPDATE {schema}.credentials SET invitation_hash = %s, invitation_expires_at = %s "
            "WHERE user_id = %s",
            (code_hash, expires_at, user_id),
        )

    def invited_user(self, code_hash: str, now: datetime) -> str | None:
        rows = self._execute(
            "SELECT user_id FROM {schema}.credentials WHERE invitation_hash = %s "
            "AND invitation_expires_at > %s",
            (code_hash, now),
        )
        return str(_field(rows[0], "user_id", 0)) if rows else None

    def set_password(self, user_id: str, password_hash: str, second_factor_secret: str) -> None:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._key.encrypt(nonce, second_factor_secret.encode(), user_id.encode())
        self._execute(
            "UPDATE {schema}.credentials SET password_hash = %s, invitation_hash = NULL, "
            "invitation_expires_at = NULL, totp_nonce = %s, totp_secret = %s, "
            "totp_confirmed = false, last_code_step = NULL, failures = 0, locked_until = NULL "
            "WHERE user_id = %s",
            (password_hash, nonce, sealed, user_id),
        )

    def login_record(self, email: str) -> LoginRecord | None:
        rows = self._execute(
            "SELECT user_id, password_hash, totp_nonce, totp_secret, totp_confirmed, "
            "last_code_step, failures, locked_until FROM {schema}.credentials WHERE email = %s",
            (email,),
        )
        if not rows:
            return None
        row = rows[0]
        user_id = str(_field(row, "user_id", 0))
        return LoginRecord(
            user_id=user_id,
            password_hash=_field(row, "password_hash", 1),
            second_factor_secret=self._opened(
                user_id, _field(row, "totp_nonce", 2), _field(row, "totp_secret", 3)
            ),
            second_factor_confirmed=bool(_field(row, "totp_confirmed", 4)),
            last_code_step=_field(row, "last_code_step", 5),
            failures=int(_field(row, "failures", 6)),
            locked_until=_field(row, "locked_until", 7),
        )

    def _opened(self, user_id: str, nonce: bytes | None, sealed: bytes | None) -> str | None:
        if nonce is None or sealed is None:
            return None
        try:
            return self._key.decrypt(bytes(nonce), bytes(sealed), user_id.encode()).decode()
        except InvalidTag:
            # Another deployment's key, or damage: no second factor can be proved with it.
            return None

    def record_failure(self, user_id: str, locked_until: datetime | None) -> None:
        self._execute(
            "UPDATE {schema}.credentials SET failures = failures + 1, "
            "locked_until = coalesce(%s, locked_until) WHERE user_id = %s",
            (locked_until, user_id),
        )

    def record_success(self, user_id: str, code_step: int | None) -> None:
        self._execute(
            "UPDATE {schema}.credentials SET failures = 0, locked_until = NULL, "
            "totp_confirmed = totp_confirmed OR %s::bigint IS NOT NULL, "
            "last_code_step = coalesce(%s, last_code_step) WHERE user_id = %s",
            (code_step, code_step, user_id),
        )

    def forget_credentials(self, user_id: str) -> None:
        self._execute(
            "UPDATE {schema}.credentials SET password_hash = NULL, invitation_hash = NULL, "
            "invitation_expires_at = NULL, totp_nonce = NULL, totp_secret = NULL, "
            "totp_confirmed = false, last_code_step = NULL WHERE user_id = %s",
            (user_id,),
        )


def _field(row: Any, name: str, index: int) -> Any:
    # The event store's pool gives dict rows; a plain connection gives tuples.
    return row[name] if isinstance(row, dict) else row[index]


def _record(row: Any) -> StaffRecord:
    return StaffRecord(
        user_id=str(_field(row, "user_id", 0)),
        email=str(_field(row, "email", 1)),
        display_name=str(_field(row, "display_name", 2)),
        role=Role(_field(row, "role", 3)),
        agency=Agency(_field(row, "agency", 4)),
        district=str(_field(row, "district", 5)),
        active=bool(_field(row, "active", 6)),
        second_factor=bool(_field(row, "second_factor", 7)),
    )
