"""Where a follower keeps its position: one table shape, in the follower's own schema.

Every follower of the event store (the coordinator's views, the relay) keeps
``<schema>.tracking``: one row per followed application, the notification id
of the last event applied. Moving it is a compare-and-set from the position a
batch was read after, inside the transaction that applies the batch, so a
batch is applied once: a second process reading the same batch waits on the
row lock, then finds the position moved and applies nothing. Keeping the
table in the follower's schema lets a rebuilt schema be swapped in together
with its position.
"""

from typing import Any

from psycopg.sql import SQL, Composed, Identifier

from gateways.projectors.runner import PositionMoved

DDL = """CREATE TABLE IF NOT EXISTS {schema}.tracking (
    application_name text PRIMARY KEY,
    notification_id bigint NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now())"""


def create_statement(schema: str) -> Composed:
    """The tracking table of a follower's schema (the schema must exist)."""
    return SQL(DDL).format(schema=Identifier(schema))


class Tracking:
    """The tracked position of one follower of one application."""

    def __init__(self, schema: str, application_name: str) -> None:
        self.schema = schema
        self.application_name = application_name

    def _sql(self, text: str) -> Composed:
        return SQL(text).format(schema=Identifier(self.schema))

    def position(self, conn: Any) -> int:
        row = conn.execute(
            self._sql("SELECT notification_id FROM {schema}.tracking WHERE application_name = %s"),
            (self.application_name,),
        ).fetchone()
        if row is None:
            return 0
        return int(row["notification_id"] if isinstance(row, dict) else row[0])

    def move(self, cursor: Any, *, after: int, to: int) -> None:
        """Move the position from ``after`` to ``to`` in the caller's transaction."""
        if after == 0:
            cursor.execute(
                self._sql(
                    "INSERT INTO {schema}.tracking (application_name, notification_id) "
                    "VALUES (%s, %s) ON CONFLICT (application_name) DO UPDATE "
                    "SET notification_id = EXCLUDED.notification_id, applied_at = now() "
                    "WHERE tracking.notification_id = 0"
                ),
                (self.application_name, to),
            )
        else:
            cursor.execute(
                self._sql(
                    "UPDATE {schema}.tracking SET notification_id = %s, applied_at = now() "
                    "WHERE application_name = %s AND notification_id = %s"
                ),
                (to, self.application_name, after),
            )
        if cursor.rowcount != 1:
            raise PositionMoved(after)
