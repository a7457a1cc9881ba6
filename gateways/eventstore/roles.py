"""Database roles: the owner who sets the store up, and the service role every process runs as.

The owner (the role `simpul db setup` connects as) creates and migrates the
event store's tables and owns them. No Simpul process holds its credentials.
The service role (``SIMPUL_DATABASE_SERVICE_ROLE``, by default
``simpul_service``) is what the API, the relay and the projectors connect as.
It may:

- read the events and append them (through the append function, which also
  moves the chain head and records commands);
- read the access log and insert into it, and nothing else: no UPDATE,
  DELETE or TRUNCATE, and, not being the owner, no ALTER TABLE (so no
  disabling of its triggers); the chain trigger runs with the owner's rights,
  so the service role cannot choose an entry's id or hash either;
- read and add token revocations (never take one back);
- create schemas of its own (the agency inboxes, the coordinator's views, the
  relay's position), which it owns, rebuilds and swaps.

A read-model schema created before the roles were separated belongs to the
owner; set-up hands each to the service role, so its projector can go on.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.sql import SQL, Composed, Identifier

from gateways.eventstore.access_log import INSERTED_COLUMNS, search_terms_table
from gateways.eventstore.postgres import ChainedPostgresRecorder

SYSTEM_SCHEMAS = ("information_schema", "pg_catalog", "pg_toast")


class RoleSetupRefused(Exception):
    """The service role would be able to do what it must not, or cannot be made as asked."""


@dataclass(frozen=True)
class StoreTables:
    schema: str
    events: str
    hashes: str
    head: str
    commands: str
    access_log: str
    access_log_head: str
    revocations: str

    @classmethod
    def of(cls, recorder: ChainedPostgresRecorder) -> "StoreTables":
        return cls(
            schema=recorder.datastore.schema,
            events=recorder.events_table_name,
            hashes=recorder.hashes_table_name,
            head=recorder.chain_head_table_name,
            commands=recorder.commands_table_name,
            access_log=recorder.access_log.table_name,
            access_log_head=recorder.access_log.head_table_name,
            revocations=recorder.revocations.table_name,
        )

    def qualified(self, table: str) -> Identifier:
        return Identifier(self.schema, table)


@dataclass(frozen=True)
class RoleSetup:
    role: str
    created: bool
    schemas_handed_over: tuple[str, ...]


def may_set_up(conn: psycopg.Connection[Any], schema: str, events_table: str) -> bool:
    """Whether the connected role may create or migrate the store: its owner (or a
    superuser), or, where there is no store yet, a role that may create tables there."""
    row = conn.execute(
        "SELECT CASE WHEN c.oid IS NULL THEN has_schema_privilege(%(schema)s, 'CREATE') "
        "ELSE pg_has_role(current_user, c.relowner, 'USAGE') "
        "OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) END "
        "FROM (SELECT to_regclass(%(events)s) AS oid) e LEFT JOIN pg_class c ON c.oid = e.oid",
        {"schema": schema, "events": f'"{schema}"."{events_table}"'},
    ).fetchone()
    return bool(row and row[0])


def is_set_up(conn: psycopg.Connection[Any], tables: StoreTables) -> bool:
    """Whether the owner's set-up of this version ran: the access log is chained and has
    the table for searches' terms."""
    row = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL",
        (
            f'"{tables.schema}"."{tables.access_log_head}"',
            f'"{tables.schema}"."{search_terms_table(tables.access_log)}"',
        ),
    ).fetchone()
    return bool(row and row[0])


def set_up_service_role(conn: psycopg.Connection[Any], tables: StoreTables, role: str) -> RoleSetup:
    """Create the service role if it is missing (needs CREATEROLE), and give it exactly its
    privileges on the store, taking away any others it had there. One transaction."""
    with conn.transaction():
        created = _ensure_role(conn, role)
        _refuse_powerful(conn, role, tables)
        for statement in _grants(conn, tables, role):
            conn.execute(statement)
        handed_over = _hand_over_read_models(conn, tables, role)
    return RoleSetup(role, created, handed_over)


def _ensure_role(conn: psycopg.Connection[Any], role: str) -> bool:
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
        return False
    may_create = conn.execute(
        "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    if not (may_create and may_create[0]):
        raise RoleSetupRefused(
            f"the role {role} does not exist and this role may not create it: as a database "
            f"administrator, CREATE ROLE {role} LOGIN PASSWORD '...', then run set-up again"
        )
    conn.execute(SQL("CREATE ROLE {} LOGIN").format(Identifier(role)))
    return True


def _refuse_powerful(conn: psycopg.Connection[Any], role: str, tables: StoreTables) -> None:
    row = conn.execute(
        "SELECT r.rolsuper, r.rolbypassrls, pg_has_role(%(role)s, c.relowner, 'MEMBER'), "
        "r.rolname = current_user "
        "FROM pg_roles r, pg_class c WHERE r.rolname = %(role)s AND c.oid = to_regclass(%(log)s)",
        {"role": role, "log": f'"{tables.schema}"."{tables.access_log}"'},
    ).fetchone()
    if row is None:
        raise RoleSetupRefused("the event store's tables are missing: set-up creates them first")
    superuser, bypasses_rls, owner, itself = row
    if itself:
        raise RoleSetupRefused(
            f"set-up runs as the owner; the service role must be another role than {role}"
        )
    if superuser or bypasses_rls:
        raise RoleSetupRefused(
            f"the service role {role} is a superuser or bypasses row security: make it an "
            "ordinary role"
        )
    if owner:
        raise RoleSetupRefused(
            f"the service role {role} owns the event store (or is a member of its owner): "
            "it could disable the access log's triggers"
        )


def _grants(conn: psycopg.Connection[Any], tables: StoreTables, role: str) -> Iterable[Composed]:
    grantee = Identifier(role)
    table = tables.qualified
    everything = [
        table(name)
        for name in (
            tables.events,
            tables.hashes,
            tables.head,
            tables.commands,
            tables.access_log,
            tables.access_log_head,
            search_terms_table(tables.access_log),
            tables.revocations,
        )
    ]
    database = conn.execute("SELECT current_database()").fetchone()
    assert database is not None
    yield SQL("REVOKE ALL ON {} FROM {}").format(SQL(", ").join(everything), grantee)
    yield SQL("GRANT CONNECT, CREATE ON DATABASE {} TO {}").format(Identifier(database[0]), grantee)
    yield SQL("GRANT USAGE ON SCHEMA {} TO {}").format(Identifier(tables.schema), grantee)
    yield SQL("GRANT SELECT, INSERT ON {}, {}, {} TO {}").format(
        table(tables.events), table(tables.hashes), table(tables.commands), grantee
    )
    # The append function (run as the caller) moves the head of the events' chain.
    yield SQL("GRANT SELECT, INSERT, UPDATE ON {} TO {}").format(table(tables.head), grantee)
    yield SQL("GRANT SELECT ON {}, {} TO {}").format(
        table(tables.access_log), table(tables.access_log_head), grantee
    )
    yield SQL("GRANT INSERT ({}) ON {} TO {}").format(
        SQL(", ").join(Identifier(column) for column in INSERTED_COLUMNS),
        table(tables.access_log),
        grantee,
    )
    yield SQL("GRANT SELECT, INSERT ON {} TO {}").format(table(tables.revocations), grantee)
    # A search's sealed terms, beside its access-log entry (services/case_search.py).
    yield SQL("GRANT SELECT, INSERT ON {} TO {}").format(
        table(search_terms_table(tables.access_log)), grantee
    )
    for owned_by in (tables.events, tables.revocations):
        sequence = conn.execute(
            "SELECT pg_get_serial_sequence(%s, %s)",
            (f'"{tables.schema}"."{owned_by}"', _serial_column(tables, owned_by)),
        ).fetchone()
        if sequence is not None and sequence[0] is not None:
            yield SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(SQL(sequence[0]), grantee)
    # Kept by relays before they shared the projection runner's tracking; read once.
    legacy = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL", (f'"{tables.schema}"."kafka_relay_position"',)
    ).fetchone()
    if legacy and legacy[0]:
        yield SQL("GRANT SELECT ON {} TO {}").format(table("kafka_relay_position"), grantee)


def _serial_column(tables: StoreTables, table: str) -> str:
    return "notification_id" if table == tables.events else "id"


def _hand_over_read_models(
    conn: psycopg.Connection[Any], tables: StoreTables, role: str
) -> tuple[str, ...]:
    """Schemas beside the store's, owned by this owner: the processes' read models."""
    rows = conn.execute(
        "SELECT n.nspname FROM pg_namespace n "
        "WHERE n.nspowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) "
        "AND n.nspname <> %s AND n.nspname NOT LIKE 'pg\\_%%' "
        "AND n.nspname <> ALL(%s) ORDER BY n.nspname",
        (tables.schema, list(SYSTEM_SCHEMAS)),
    ).fetchall()
    schemas = tuple(str(row[0]) for row in rows)
    grantee = Identifier(role)
    if schemas and not _may_give_to(conn, role):
        raise RoleSetupRefused(
            f"the read-model schemas {', '.join(schemas)} were made before the roles were "
            f"separated and belong to this role; to hand them to {role}, as an administrator "
            f"GRANT {role} TO {_current_user(conn)}, then run set-up again"
        )
    for schema in schemas:
        conn.execute(SQL("ALTER SCHEMA {} OWNER TO {}").format(Identifier(schema), grantee))
        owned = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r', 'p') "
            "ORDER BY c.relname",
            (schema,),
        ).fetchall()
        for (name,) in owned:
            conn.execute(
                SQL("ALTER TABLE {} OWNER TO {}").format(Identifier(schema, name), grantee)
            )
    return schemas


def _may_give_to(conn: psycopg.Connection[Any], role: str) -> bool:
    """ALTER ... OWNER TO a role needs the privileges of that role (or a superuser)."""
    row = conn.execute(
        "SELECT pg_has_role(current_user, %s, 'USAGE') "
        "OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)",
        (role,),
    ).fetchone()
    return bool(row and row[0])


def _current_user(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("SELECT current_user").fetchone()
    assert row is not None
    return str(row[0])
