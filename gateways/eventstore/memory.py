"""In-memory event store with the command log and access log, for unit tests and throwaway demos."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, IntegrityError, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory

from services.access_log import AccessEntry, AccessRecord
from services.cases import CommandRecord


class MemoryRecorder(POPOApplicationRecorder):
    def __init__(self) -> None:
        super().__init__()
        self._commands: dict[str, CommandRecord] = {}
        self._access: list[AccessRecord] = []

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        command: CommandRecord | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        with self._database_lock:
            if command is not None and command.key_hash in self._commands:
                raise IntegrityError("idempotency key already recorded")
            notification_ids = super().insert_events(stored_events, **kwargs)
            if command is not None:
                self._commands[command.key_hash] = command
            return notification_ids

    def find_command(self, key_hash: str) -> CommandRecord | None:
        return self._commands.get(key_hash)

    def record_access(self, record: AccessRecord) -> None:
        with self._database_lock:
            self._access.append(record)

    def select_events_recording_access(
        self, originator_id: UUID, record: AccessRecord, *, lte: int | None = None
    ) -> Sequence[StoredEvent]:
        with self._database_lock:
            self._access.append(record)
            return self.select_events(originator_id, lte=lte)

    def select_access(
        self,
        *,
        case_id: UUID | None = None,
        user_id: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[AccessEntry]:
        with self._database_lock:
            entries = [
                AccessEntry(position, record)
                for position, record in enumerate(self._access, start=1)
                if position > after
                and (case_id is None or record.case_id == case_id)
                and (user_id is None or record.user_id == user_id)
            ]
        return entries[:limit]


class MemoryFactory(POPOFactory):
    def application_recorder(self) -> ApplicationRecorder:
        return MemoryRecorder()
