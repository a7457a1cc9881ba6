"""In-memory event store with the command log, for unit tests and throwaway demos."""

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, IntegrityError, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory

from services.cases import CommandRecord


class MemoryRecorder(POPOApplicationRecorder):
    def __init__(self) -> None:
        super().__init__()
        self._commands: dict[str, CommandRecord] = {}

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


class MemoryFactory(POPOFactory):
    def application_recorder(self) -> ApplicationRecorder:
        return MemoryRecorder()
