"""Stores beside the event store whose tables live in one PostgreSQL schema of their own.

Their statements name the schema as ``{schema}``; creating the tables takes an advisory
lock, so processes starting together (the API, the notifier, the projectors) do not race
on the same CREATE statements.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from psycopg import Connection
from psycopg.sql import SQL, Composed, Identifier

Connect = Callable[[], AbstractContextManager[Connection[Any]]]


class SchemaTables:
    """A store's schema, its statements (``DDL``) and the lock they are run under."""

    DDL: ClassVar[tuple[str, ...]]
    DDL_LOCK: ClassVar[int]

    def __init__(self, connect: Connect, *, schema: str) -> None:
        self.connect = connect
        self._schema = Identifier(schema)

    def _sql(self, text: str) -> Composed:
        return SQL(text).format(schema=self._schema)

    def create_tables(self) -> None:
        with self.connect() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self.DDL_LOCK,))
            for statement in self.DDL:
                conn.execute(self._sql(statement))

    def _execute(self, text: str, params: tuple[Any, ...]) -> list[Any]:
        with self.connect() as conn:
            cursor = conn.execute(self._sql(text), params)
            return list(cursor.fetchall()) if cursor.description else []
