"""The notices kept (services.notifications.NoticeStore), in their own schema.

``notifications.sent`` has one row per task noticed to a person, per kind (due,
overdue, escalated): the primary key is what makes a notice once-only, and a row is
written in the same transaction that is open while its e-mail is handed to the SMTP
server, so a mail the server refused leaves no row and is tried again next run. The
rows hold no personal data: user ids, task keys (kind, case id, SOP step, referral or
recommendation id, due time), the step code and whether it went by mail.
"""

from collections.abc import Iterator, Sequence, Set
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from gateways.schema_tables import Connect, SchemaTables
from services.notifications import Notice, NoticeKind
from services.tasks import TaskKind

DEFAULT_SCHEMA = "notifications"
_DDL_LOCK = 0x53494D50554C4E  # "SIMPULN"

_DDL = (
    "CREATE SCHEMA IF NOT EXISTS {schema}",
    """CREATE TABLE IF NOT EXISTS {schema}.sent (
        user_id text NOT NULL,
        task_key text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('due', 'overdue', 'escalated')),
        task_kind text NOT NULL,
        case_id uuid NOT NULL,
        code text,
        sent_at timestamptz NOT NULL,
        mailed boolean NOT NULL,
        PRIMARY KEY (user_id, task_key, kind))""",
    "CREATE INDEX IF NOT EXISTS sent_by_user_time ON {schema}.sent (user_id, sent_at)",
)
_COLUMNS = "user_id, task_key, kind, task_kind, case_id, code, sent_at, mailed"


class PostgresNotices(SchemaTables):
    """services.notifications.NoticeStore over the event store's pool."""

    DDL = _DDL
    DDL_LOCK = _DDL_LOCK

    def __init__(self, connect: Connect, *, schema: str = DEFAULT_SCHEMA) -> None:
        super().__init__(connect, schema=schema)

    def noticed(self, user_id: str) -> Set[tuple[str, NoticeKind]]:
        with self.connect() as conn:
            rows = conn.execute(
                self._sql("SELECT task_key, kind FROM {schema}.sent WHERE user_id = %s"),
                (user_id,),
            ).fetchall()
        return {(_field(row, "task_key", 0), NoticeKind(_field(row, "kind", 1))) for row in rows}

    @contextmanager
    def claim(self, notices: Sequence[Notice]) -> Iterator[list[Notice]]:
        """Insert what is not there yet; a concurrent run inserting the same rows waits on
        this transaction and then finds them taken."""
        with self.connect() as conn, conn.transaction():
            claimed = []
            for notice in notices:
                row = conn.execute(
                    self._sql(
                        f"INSERT INTO {{schema}}.sent ({_COLUMNS}) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT (user_id, task_key, kind) DO NOTHING RETURNING user_id"
                    ),
                    (
                        notice.user_id,
                        notice.task_key,
                        notice.kind.value,
                        notice.task_kind.value,
                        notice.case_id,
                        notice.code,
                        notice.noticed_at,
                        notice.mailed,
                    ),
                ).fetchone()
                if row is not None:
                    claimed.append(notice)
            yield claimed

    def notices_for(self, user_id: str, since: datetime) -> list[Notice]:
        with self.connect() as conn:
            rows = conn.execute(
                self._sql(
                    f"SELECT {_COLUMNS} FROM {{schema}}.sent WHERE user_id = %s AND sent_at > %s "
                    "ORDER BY sent_at, task_key, kind"
                ),
                (user_id, since),
            ).fetchall()
        return [_notice(row) for row in rows]


def _field(row: Any, name: str, index: int) -> Any:
    return row[name] if isinstance(row, dict) else row[index]


def _notice(row: Any) -> Notice:
    values = [_field(row, name, index) for index, name in enumerate(_COLUMNS.split(", "))]
    user_id, task_key, kind, task_kind, case_id, code, sent_at, mailed = values
    return Notice(
        user_id=user_id,
        task_key=task_key,
        kind=NoticeKind(kind),
        task_kind=TaskKind(task_kind),
        case_id=case_id,
        code=code,
        noticed_at=sent_at,
        mailed=mailed,
    )
