"""Service accounts and their keys, beside the staff directory in the ``accounts`` schema.

``service_accounts`` is the directory, written from each account's aggregate after it is
saved (services/service_accounts.py); ``service_keys`` holds each key's id and the
SHA-256 of its secret, never the secret, and when it was revoked. A request with a key
reads its row joined with its account's (``key``), so revoking one key or deactivating
the account is seen by the next check that reads the row.
"""

from datetime import datetime
from typing import Any

from domain.service_accounts import Scope
from domain.vocabulary import Agency
from gateways.accounts.postgres import DEFAULT_SCHEMA
from gateways.schema_tables import Connect, SchemaTables
from services.service_accounts import KeyRecord, ServiceAccountRecord

_DDL_LOCK = 0x53494D50554C53  # "SIMPULS"
_ACCOUNT_COLUMNS = (
    "a.account_id, a.name, a.agency, a.district, a.scopes, a.active, a.created_by, "
    "a.created_at, a.key_ids"
)

_DDL = (
    "CREATE SCHEMA IF NOT EXISTS {schema}",
    """CREATE TABLE IF NOT EXISTS {schema}.service_accounts (
        account_id text PRIMARY KEY,
        name text NOT NULL,
        agency text NOT NULL,
        district text NOT NULL,
        scopes text[] NOT NULL,
        active boolean NOT NULL,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL,
        key_ids text[] NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS service_accounts_by_district "
    "ON {schema}.service_accounts (district)",
    """CREATE TABLE IF NOT EXISTS {schema}.service_keys (
        key_id text PRIMARY KEY,
        account_id text NOT NULL REFERENCES {schema}.service_accounts (account_id),
        secret_hash text NOT NULL,
        issued_at timestamptz NOT NULL,
        revoked_at timestamptz)""",
)


class PostgresServiceAccounts(SchemaTables):
    """services.service_accounts.ServiceAccountStore over the event store's pool."""

    DDL = _DDL
    DDL_LOCK = _DDL_LOCK

    def __init__(self, connect: Connect, *, schema: str = DEFAULT_SCHEMA) -> None:
        super().__init__(connect, schema=schema)

    def put(self, record: ServiceAccountRecord) -> None:
        self._execute(
            "INSERT INTO {schema}.service_accounts (account_id, name, agency, district, scopes, "
            "active, created_by, created_at, key_ids) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (account_id) DO UPDATE SET name = EXCLUDED.name, "
            "agency = EXCLUDED.agency, district = EXCLUDED.district, scopes = EXCLUDED.scopes, "
            "active = EXCLUDED.active, key_ids = EXCLUDED.key_ids",
            (
                record.account_id,
                record.name,
                record.agency.value,
                record.district,
                sorted(scope.value for scope in record.scopes),
                record.active,
                record.created_by,
                record.created_at,
                list(record.key_ids),
            ),
        )

    def accounts(self, district: str) -> list[ServiceAccountRecord]:
        rows = self._execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM {{schema}}.service_accounts a "
            "WHERE a.district = %s ORDER BY a.name, a.account_id",
            (district,),
        )
        return [_account(row) for row in rows]

    def add_key(self, account_id: str, key_id: str, secret_hash: str, at: datetime) -> None:
        self._execute(
            "INSERT INTO {schema}.service_keys (key_id, account_id, secret_hash, issued_at) "
            "VALUES (%s, %s, %s, %s)",
            (key_id, account_id, secret_hash, at),
        )

    def revoke_key(self, key_id: str, at: datetime) -> None:
        self._execute(
            "UPDATE {schema}.service_keys SET revoked_at = coalesce(revoked_at, %s) "
            "WHERE key_id = %s",
            (at, key_id),
        )

    def key(self, key_id: str) -> KeyRecord | None:
        rows = self._execute(
            f"SELECT {_ACCOUNT_COLUMNS}, k.key_id, k.secret_hash, k.revoked_at IS NOT NULL "
            "AS revoked FROM {schema}.service_keys k JOIN {schema}.service_accounts a "
            "USING (account_id) WHERE k.key_id = %s",
            (key_id,),
        )
        if not rows:
            return None
        row = rows[0]
        return KeyRecord(
            key_id=str(_field(row, "key_id", 9)),
            secret_hash=str(_field(row, "secret_hash", 10)),
            revoked=bool(_field(row, "revoked", 11)),
            account=_account(row),
        )


def _field(row: Any, name: str, index: int) -> Any:
    # The event store's pool gives dict rows; a plain connection gives tuples.
    return row[name] if isinstance(row, dict) else row[index]


def _account(row: Any) -> ServiceAccountRecord:
    return ServiceAccountRecord(
        account_id=str(_field(row, "account_id", 0)),
        name=str(_field(row, "name", 1)),
        agency=Agency(_field(row, "agency", 2)),
        district=str(_field(row, "district", 3)),
        scopes=frozenset(Scope(scope) for scope in _field(row, "scopes", 4)),
        active=bool(_field(row, "active", 5)),
        created_by=str(_field(row, "created_by", 6)),
        created_at=_field(row, "created_at", 7),
        key_ids=tuple(_field(row, "key_ids", 8)),
    )
