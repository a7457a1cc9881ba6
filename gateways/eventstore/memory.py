"""In-memory event store with the command log and access log, for unit tests and throwaway demos."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, IntegrityError, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory

from services.access_log import AccessEntry, AccessQuery, AccessRecord, FailedAuthentication
from services.cases import CommandRecord


class MemoryRecorder(POPOApplicationRecorder):
    def __init__(self) -> None:
        super().__init__()
        self._commands: dict[str, CommandRecord] = {}
        self.access_log = MemoryAccessLog(self)

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


class MemoryAccessLog:
    """The access log of an in-memory store, kept under the store's own lock."""

    def __init__(self, recorder: MemoryRecorder) -> None:
        self.recorder = recorder
        self._records: list[AccessRecord] = []
        self.failed_authentications: list[FailedAuthentication] = []
        self._search_terms: dict[int, bytes] = {}

    def record_access(self, record: AccessRecord) -> None:
        with self.recorder._database_lock:
            self._records.append(record)

    def record_failed_authentication(self, attempt: FailedAuthentication) -> None:
        with self.recorder._database_lock:
            self.failed_authentications.append(attempt)

    def record_search(self, record: AccessRecord, sealed_terms: bytes) -> None:
        with self.recorder._database_lock:
            self._records.append(record)
            self._search_terms[len(self._records)] = sealed_terms

    def select_events_recording_access(
        self, originator_id: UUID, record: AccessRecord, *, lte: int | None = None
    ) -> Sequence[StoredEvent]:
        with self.recorder._database_lock:
            self._records.append(record)
            return self.recorder.select_events(originator_id, lte=lte)

    def select_access(self, query: AccessQuery) -> list[AccessEntry]:
        with self.recorder._database_lock:
            entries = [
                AccessEntry(position, record, self._search_terms.get(position))
                for position, record in enumerate(self._records, start=1)
                if position > query.after
                and (query.case_id is None or record.case_id == query.case_id)
                and (query.user_id is None or record.user_id == query.user_id)
            ]
        return entries[: query.limit]


class MemoryFactory(POPOFactory):
    def application_recorder(self) -> ApplicationRecorder:
        return MemoryRecorder()
