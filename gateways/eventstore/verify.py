"""Verification of the hash chain: is the event store exactly what was written?

The store is walked in notification order from one consistent snapshot, with
server-side cursors over the events table and the hash table side by side, so
memory stays bounded by one batch plus the last hash of each case. Both chains
are recomputed from the stored bytes (see ``chain.py``) and compared with the
hash rows, then with the chain head and with any published roots.

The first problem found is reported, named precisely: which kind, which case
(originator) and version, which notification id. Kinds:

- ``changed``: an event's content, or its hash row, differs from what was chained;
- ``missing``: an event that was chained is gone (its row, or a whole stretch);
- ``inserted``: an event that was never chained, or whose hash row was removed;
- ``reordered``: events sit at other positions than the ones they were chained at;
- ``head_mismatch``: the chain head does not describe the chain;
- ``anchor_mismatch``: the chain does not pass through a root published earlier.

The access log is walked the same way (``verify_access_log``), its single
chain in id order recomputed from every column and compared with each entry's
hash, its head and its published roots.
"""

import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

import psycopg
from psycopg import IsolationLevel
from psycopg.adapt import Buffer, Loader
from psycopg.pq import Format
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from gateways.eventstore.chain import (
    GENESIS,
    AccessLogRoot,
    ChainRoot,
    access_entry_hash,
    chain_hash,
    event_digest,
    event_hash,
)

DEFAULT_BATCH_SIZE = 5000
BEYOND_ANY_POSITION = 2**63
_NEW_CASE = (0, GENESIS)


class ProblemKind(StrEnum):
    CHANGED = "changed"
    MISSING = "missing"
    INSERTED = "inserted"
    REORDERED = "reordered"
    HEAD_MISMATCH = "head_mismatch"
    ANCHOR_MISMATCH = "anchor_mismatch"


@dataclass(frozen=True)
class ChainProblem:
    kind: ProblemKind
    detail: str
    case_id: UUID | None = None
    version: int | None = None
    notification_id: int | None = None
    access_entry_id: int | None = None  # for a problem in the access log

    def describe(self) -> str:
        where = ", ".join(
            part
            for part in (
                f"case {self.case_id}" if self.case_id else "",
                f"version {self.version}" if self.version is not None else "",
                f"notification id {self.notification_id}" if self.notification_id else "",
                f"access log entry {self.access_entry_id}" if self.access_entry_id else "",
            )
            if part
        )
        return (
            f"{self.kind.value}: {where}: {self.detail}"
            if where
            else (f"{self.kind.value}: {self.detail}")
        )


@dataclass(frozen=True)
class ChainTables:
    """The tables of one application's chained event store."""

    events: str
    hashes: str
    head: str
    schema: str = "public"

    @classmethod
    def of_application(cls, name: str, schema: str = "public") -> "ChainTables":
        events = f"{name.lower()}_events"
        return cls(events, f"{events}_hashes", f"{events}_chain_head", schema)

    def identifier(self, table: str) -> Identifier:
        return Identifier(self.schema, table)


CASES_TABLES = ChainTables.of_application("Cases")


@dataclass(frozen=True)
class StoreVerification:
    events: int
    root: ChainRoot | None  # where the recomputed chain ends; None for an empty store
    problem: ChainProblem | None
    seconds: float
    anchors_checked: int

    @property
    def intact(self) -> bool:
        return self.problem is None

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class CaseVerification:
    case_id: UUID
    events: int
    last_event_hash: bytes | None  # the case's own chain ends here
    problem: ChainProblem | None

    @property
    def intact(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class _Event:
    notification_id: int
    originator_id: UUID
    version: int
    topic: str | None
    state: bytes | None


@dataclass(frozen=True)
class _HashRow:
    notification_id: int
    originator_id: UUID
    version: int
    event_hash: bytes
    chain_hash: bytes


def _recomputed_event_hash(previous: bytes, event: _Event) -> bytes | None:
    if event.topic is None or event.state is None:
        return None
    return event_hash(previous, event.originator_id, event.version, event.topic, event.state)


class Interrupted(Exception):
    """Raised inside the walk to stop at the first problem."""

    def __init__(self, problem: ChainProblem) -> None:
        super().__init__(problem.describe())
        self.problem = problem


class _StoreWalk:
    def __init__(
        self,
        conn: psycopg.Connection[Any],
        tables: ChainTables,
        anchors: Sequence[ChainRoot],
        head: tuple[int, bytes, int] | None,
    ) -> None:
        self.conn = conn
        self.tables = tables
        self.anchors = sorted(anchors, key=lambda anchor: anchor.notification_id)
        self.head = head
        self.head_position = head[0] if head is not None else BEYOND_ANY_POSITION
        self.next_anchor = 0
        # Keyed by the originator id's 16 bytes: the walk reads UUIDs raw, for speed.
        self.cases: dict[bytes, tuple[int, bytes]] = {}
        self.chain = GENESIS
        self.count = 0
        self.last_position = 0

    @property
    def next_anchor_position(self) -> int:
        if self.next_anchor < len(self.anchors):
            return self.anchors[self.next_anchor].notification_id
        return BEYOND_ANY_POSITION

    def visit_pair(self, event_row: tuple[Any, ...], hash_row: tuple[Any, ...]) -> None:
        """An event and the hash row at its position: the common case, checked quickly.

        Anything unusual (and every anchor) goes to ``visit``, which checks it
        again slowly and names the problem.
        """
        position, originator_id, version, topic, state = event_row
        _, hashed_id, hashed_version, stored_event_hash, stored_chain_hash = hash_row
        previous_version, previous_hash = self.cases.get(originator_id, _NEW_CASE)
        if (
            position > self.head_position
            or position >= self.next_anchor_position
            or originator_id != hashed_id
            or version != hashed_version
            or version != previous_version + 1
            or topic is None
            or state is None
        ):
            self.visit(position, _event(event_row), _hash_row(hash_row))
            return
        computed = event_digest(previous_hash, originator_id, version, topic, state)
        chained = chain_hash(self.chain, position, computed)
        if computed != stored_event_hash or chained != stored_chain_hash:
            self.visit(position, _event(event_row), _hash_row(hash_row))
            return
        self.cases[originator_id] = (version, computed)
        self.chain = chained
        self.count += 1
        self.last_position = position

    def visit(self, position: int, event: _Event | None, hashed: _HashRow | None) -> None:
        self._pass_anchors_before(position)
        if self.head is not None and position > self.head[0]:
            who = event or hashed
            assert who is not None
            raise Interrupted(
                ChainProblem(
                    ProblemKind.INSERTED,
                    f"it lies after the chain head (notification id {self.head[0]}): "
                    "appended outside the event store",
                    who.originator_id,
                    who.version,
                    position,
                )
            )
        if hashed is None:
            assert event is not None
            raise Interrupted(
                ChainProblem(
                    ProblemKind.INSERTED,
                    "the event has no hash row: it was inserted outside the event store, "
                    "or its hash row was deleted",
                    event.originator_id,
                    event.version,
                    position,
                )
            )
        if event is None:
            raise Interrupted(
                ChainProblem(
                    ProblemKind.MISSING,
                    "the event was deleted; its hash row remains",
                    hashed.originator_id,
                    hashed.version,
                    position,
                )
            )
        if (event.originator_id, event.version) != (hashed.originator_id, hashed.version):
            raise Interrupted(
                ChainProblem(
                    ProblemKind.REORDERED,
                    f"this position was chained for case {hashed.originator_id} version "
                    f"{hashed.version}, but holds another event",
                    event.originator_id,
                    event.version,
                    position,
                )
            )
        previous_version, previous_hash = self.cases.get(event.originator_id.bytes, _NEW_CASE)
        if event.version != previous_version + 1:
            raise Interrupted(self._out_of_sequence(event, previous_version))
        computed = _recomputed_event_hash(previous_hash, event)
        if computed != hashed.event_hash:
            raise Interrupted(
                ChainProblem(
                    ProblemKind.CHANGED,
                    "the event's stored content or its event hash differs from what was chained",
                    event.originator_id,
                    event.version,
                    position,
                )
            )
        chained = chain_hash(self.chain, position, computed)
        if chained != hashed.chain_hash:
            raise Interrupted(self._broken_link(event, position))
        self.cases[event.originator_id.bytes] = (event.version, computed)
        self.chain = chained
        self.count += 1
        self.last_position = position
        self._check_anchor_at(position, event)

    def finish(self) -> None:
        self._pass_anchors_before(None)
        if self.head is None:
            if self.count:
                raise Interrupted(
                    ChainProblem(
                        ProblemKind.HEAD_MISMATCH,
                        f"the store holds {self.count} events but has no chain head",
                    )
                )
            return
        head_position, head_hash, head_count = self.head
        if head_position > self.last_position:
            raise Interrupted(
                ChainProblem(
                    ProblemKind.MISSING,
                    f"the chain head records events up to notification id {head_position} "
                    f"({head_count} events); the store ends at {self.last_position} "
                    f"({self.count} events): events were removed from the end",
                    notification_id=head_position,
                )
            )
        if head_hash != self.chain or head_count != self.count:
            raise Interrupted(
                ChainProblem(
                    ProblemKind.HEAD_MISMATCH,
                    "the chain head's hash or event count differs from the recomputed chain",
                    notification_id=head_position,
                )
            )

    def _out_of_sequence(self, event: _Event, previous_version: int) -> ChainProblem:
        expected = previous_version + 1
        if event.version < expected:
            return ChainProblem(
                ProblemKind.REORDERED,
                f"version {event.version} comes after version {previous_version} of the case",
                event.originator_id,
                event.version,
                event.notification_id,
            )
        later = self._position_of(event.originator_id, expected)
        if later is not None:
            return ChainProblem(
                ProblemKind.REORDERED,
                f"version {expected} of the case comes later, at notification id {later}",
                event.originator_id,
                event.version,
                event.notification_id,
            )
        missing = (
            f"version {expected}"
            if expected == event.version - 1
            else f"versions {expected} to {event.version - 1}"
        )
        return ChainProblem(
            ProblemKind.MISSING,
            f"{missing} of the case is gone (event and hash rows)",
            event.originator_id,
            expected,
            event.notification_id,
        )

    def _broken_link(self, event: _Event, position: int) -> ChainProblem:
        if position != self.last_position + 1:
            return ChainProblem(
                ProblemKind.MISSING,
                f"the store-wide chain breaks between notification ids {self.last_position} "
                f"and {position}: chained events were removed there",
                event.originator_id,
                event.version,
                position,
            )
        return ChainProblem(
            ProblemKind.CHANGED,
            "the event's chain hash differs from the recomputed chain: its hash row was edited",
            event.originator_id,
            event.version,
            position,
        )

    def _position_of(self, originator_id: UUID, version: int) -> int | None:
        row = (
            _tuples(self.conn)
            .execute(
                SQL(
                    "SELECT notification_id FROM {events} "
                    "WHERE originator_id = %s AND originator_version = %s"
                ).format(events=self.tables.identifier(self.tables.events)),
                (originator_id, version),
            )
            .fetchone()
        )
        return None if row is None else int(row[0])

    def _pass_anchors_before(self, position: int | None) -> None:
        while self.next_anchor < len(self.anchors):
            anchor = self.anchors[self.next_anchor]
            if position is not None and anchor.notification_id >= position:
                return
            raise Interrupted(
                ChainProblem(
                    ProblemKind.MISSING,
                    f"the published root {anchor} names notification id "
                    f"{anchor.notification_id}, which the store no longer holds",
                    notification_id=anchor.notification_id,
                )
            )

    def _check_anchor_at(self, position: int, event: _Event) -> None:
        while (
            self.next_anchor < len(self.anchors)
            and self.anchors[self.next_anchor].notification_id == position
        ):
            anchor = self.anchors[self.next_anchor]
            if anchor.chain_hash != self.chain or anchor.event_count != self.count:
                raise Interrupted(
                    ChainProblem(
                        ProblemKind.ANCHOR_MISMATCH,
                        f"the chain no longer passes through the published root {anchor}: "
                        "history up to it was rewritten",
                        event.originator_id,
                        event.version,
                        position,
                    )
                )
            self.next_anchor += 1


def _tuples(conn: psycopg.Connection[Any]) -> psycopg.Cursor[tuple[Any, ...]]:
    return conn.cursor(row_factory=tuple_row)


class _UUIDBytesLoader(Loader):
    """Load a binary uuid as its 16 bytes: the walk hashes them and never needs a UUID."""

    format = Format.BINARY

    def load(self, data: Buffer) -> bytes:
        return bytes(data)


def _event(row: tuple[Any, ...]) -> _Event:
    return _Event(row[0], UUID(bytes=row[1]), row[2], row[3], row[4])


def _hash_row(row: tuple[Any, ...]) -> _HashRow:
    return _HashRow(row[0], UUID(bytes=row[1]), row[2], bytes(row[3]), bytes(row[4]))


def _rows(
    conn: psycopg.Connection[Any], name: str, query: Composed, batch_size: int
) -> Generator[tuple[Any, ...], None, None]:
    with conn.cursor(name=name, binary=True, row_factory=tuple_row) as cursor:
        cursor.adapters.register_loader("uuid", _UUIDBytesLoader)
        cursor.itersize = batch_size
        cursor.execute(query)
        while batch := cursor.fetchmany(batch_size):
            yield from batch


def _walk(
    walk: _StoreWalk,
    events: Iterator[tuple[Any, ...]],
    hashes: Iterator[tuple[Any, ...]],
    progress: Callable[[int], object] | None,
    every: int,
) -> None:
    """Both tables' rows side by side by notification id, either side absent where it has none."""
    event_row = next(events, None)
    hash_row = next(hashes, None)
    since_report = 0
    while event_row is not None or hash_row is not None:
        if event_row is not None and hash_row is not None and event_row[0] == hash_row[0]:
            walk.visit_pair(event_row, hash_row)
            event_row = next(events, None)
            hash_row = next(hashes, None)
        elif hash_row is None or (event_row is not None and event_row[0] < hash_row[0]):
            assert event_row is not None
            walk.visit(event_row[0], _event(event_row), None)
            event_row = next(events, None)
        else:
            walk.visit(hash_row[0], None, _hash_row(hash_row))
            hash_row = next(hashes, None)
        since_report += 1
        if progress is not None and since_report >= every:
            progress(since_report)
            since_report = 0
    if progress is not None and since_report:
        progress(since_report)


def verify_store(
    conn: psycopg.Connection[Any],
    tables: ChainTables = CASES_TABLES,
    *,
    anchors: Iterable[ChainRoot] = (),
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int], object] | None = None,
) -> StoreVerification:
    """Walk the whole store from one snapshot; stop at the first problem.

    ``conn`` must be idle (not inside a transaction): the walk runs in a
    read-only REPEATABLE READ transaction of its own, so writes may go on.
    """
    started = time.perf_counter()
    anchor_list = list(anchors)
    conn.isolation_level = IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    with conn.transaction():
        head_row = (
            _tuples(conn)
            .execute(
                SQL("SELECT notification_id, chain_hash, event_count FROM {head}").format(
                    head=tables.identifier(tables.head)
                )
            )
            .fetchone()
        )
        head = (int(head_row[0]), bytes(head_row[1]), int(head_row[2])) if head_row else None
        walk = _StoreWalk(conn, tables, anchor_list, head)
        events = _rows(
            conn,
            "simpul_verify_events",
            SQL(
                "SELECT notification_id, originator_id, originator_version, topic, state "
                "FROM {events} ORDER BY notification_id"
            ).format(events=tables.identifier(tables.events)),
            batch_size,
        )
        hashes = _rows(
            conn,
            "simpul_verify_hashes",
            SQL(
                "SELECT notification_id, originator_id, originator_version, event_hash, "
                "chain_hash FROM {hashes} ORDER BY notification_id"
            ).format(hashes=tables.identifier(tables.hashes)),
            batch_size,
        )
        problem = None
        try:
            _walk(walk, events, hashes, progress, batch_size)
            walk.finish()
        except Interrupted as interrupted:
            problem = interrupted.problem
        finally:
            events.close()
            hashes.close()
    root = ChainRoot(walk.last_position, walk.count, walk.chain) if walk.count else None
    return StoreVerification(
        events=walk.count,
        root=root,
        problem=problem,
        seconds=time.perf_counter() - started,
        anchors_checked=walk.next_anchor,
    )


def count_events(conn: psycopg.Connection[Any], tables: ChainTables = CASES_TABLES) -> int:
    row = (
        _tuples(conn)
        .execute(
            SQL("SELECT count(*) FROM {events}").format(events=tables.identifier(tables.events))
        )
        .fetchone()
    )
    return int(row[0]) if row else 0


def verify_case(
    conn: psycopg.Connection[Any], case_id: UUID, tables: ChainTables = CASES_TABLES
) -> CaseVerification:
    """Check one case's own chain, and its links into the store-wide chain.

    A link that fails may be the fault of a neighbouring event of another
    case; the problem then says so, and `simpul audit verify` finds it.
    """
    rows = (
        _tuples(conn)
        .execute(
            SQL(
                "SELECT e.notification_id, e.originator_version, e.topic, e.state, "
                "h.notification_id, h.originator_version, h.event_hash, h.chain_hash, "
                "p.notification_id, p.chain_hash "
                "FROM (SELECT * FROM {events} WHERE originator_id = %(case)s) e "
                "FULL OUTER JOIN (SELECT * FROM {hashes} WHERE originator_id = %(case)s) h "
                "ON h.originator_version = e.originator_version "
                "LEFT JOIN LATERAL (SELECT notification_id, chain_hash FROM {hashes} q "
                "WHERE q.notification_id < h.notification_id "
                "ORDER BY q.notification_id DESC LIMIT 1) p ON true "
                "ORDER BY COALESCE(e.originator_version, h.originator_version)"
            ).format(
                events=tables.identifier(tables.events), hashes=tables.identifier(tables.hashes)
            ),
            {"case": case_id},
            prepare=True,
        )
        .fetchall()
    )
    previous_version, previous_hash = 0, GENESIS
    for row in rows:
        problem = _case_row_problem(case_id, row, previous_version, previous_hash)
        if problem is not None:
            return CaseVerification(case_id, previous_version, previous_hash, problem)
        previous_version, previous_hash = row[1], bytes(row[6])
    return CaseVerification(
        case_id, previous_version, previous_hash if previous_version else None, None
    )


def _case_row_problem(
    case_id: UUID, row: tuple[Any, ...], previous_version: int, previous_hash: bytes
) -> ChainProblem | None:
    (
        position,
        version,
        topic,
        state,
        hashed_at,
        hashed_version,
        stored_event_hash,
        stored_chain_hash,
        link_at,
        link_hash,
    ) = row
    if hashed_at is None:
        return ChainProblem(
            ProblemKind.INSERTED,
            "the event has no hash row: it was inserted outside the event store, "
            "or its hash row was deleted",
            case_id,
            version,
            position,
        )
    if position is None:
        return ChainProblem(
            ProblemKind.MISSING,
            "the event was deleted; its hash row remains",
            case_id,
            hashed_version,
            hashed_at,
        )
    if position != hashed_at:
        return ChainProblem(
            ProblemKind.REORDERED,
            f"the event was chained at notification id {hashed_at} but sits at {position}",
            case_id,
            version,
            position,
        )
    if version != previous_version + 1:
        return ChainProblem(
            ProblemKind.MISSING,
            f"version {previous_version + 1} of the case is gone (event and hash rows)",
            case_id,
            previous_version + 1,
            position,
        )
    event = _Event(position, case_id, version, topic, bytes(state) if state is not None else None)
    computed = _recomputed_event_hash(previous_hash, event)
    if computed is None or computed != bytes(stored_event_hash):
        return ChainProblem(
            ProblemKind.CHANGED,
            "the event's stored content or its event hash differs from what was chained",
            case_id,
            version,
            position,
        )
    link = bytes(link_hash) if link_hash is not None else GENESIS
    if chain_hash(link, position, computed) != bytes(stored_chain_hash):
        removed = link_at is not None and link_at != position - 1
        return ChainProblem(
            ProblemKind.MISSING if removed else ProblemKind.CHANGED,
            "the store-wide chain breaks just before this event "
            + (
                f"(after notification id {link_at}): events were removed there"
                if removed
                else "(its chain hash was edited, or the event before it)"
            )
            + "; `simpul audit verify` names the first break",
            case_id,
            version,
            position,
        )
    return None


# ---- The access log ------------------------------------------------------------------


@dataclass(frozen=True)
class AccessLogTables:
    """The access log of one application's store, and its chain head."""

    log: str
    head: str
    schema: str = "public"

    @classmethod
    def of_application(cls, name: str, schema: str = "public") -> "AccessLogTables":
        log = f"{name.lower()}_access_log"
        return cls(log, f"{log}_chain_head", schema)

    def identifier(self, table: str) -> Identifier:
        return Identifier(self.schema, table)


CASES_ACCESS_LOG = AccessLogTables.of_application("Cases")


@dataclass(frozen=True)
class AccessLogVerification:
    entries: int
    root: AccessLogRoot | None  # where the recomputed chain ends; None for an empty log
    problem: ChainProblem | None
    seconds: float
    anchors_checked: int

    @property
    def intact(self) -> bool:
        return self.problem is None


class _AccessLogWalk:
    def __init__(self, anchors: Sequence[AccessLogRoot], head: tuple[int, bytes, int] | None):
        self.anchors = sorted(anchors, key=lambda anchor: anchor.entry_id)
        self.head = head
        self.next_anchor = 0
        self.chain = GENESIS
        self.count = 0
        self.last_id = 0

    def visit(self, row: tuple[Any, ...]) -> None:
        entry_id = row[0]
        self._pass_anchors_before(entry_id)
        if self.head is not None and entry_id > self.head[0]:
            raise Interrupted(
                _access_problem(
                    ProblemKind.INSERTED,
                    f"it lies after the chain head (entry {self.head[0]}): appended "
                    "behind the chain trigger's back",
                    entry_id,
                )
            )
        stored = row[-1]
        if stored is None:
            raise Interrupted(
                _access_problem(
                    ProblemKind.INSERTED,
                    "the entry has no hash: it was inserted with the chain trigger disabled",
                    entry_id,
                )
            )
        computed = access_entry_hash(self.chain, *row[:-1])
        if computed != bytes(stored):
            raise Interrupted(
                _access_problem(
                    ProblemKind.CHANGED,
                    "the entry's content or hash differs from what was chained, or entries "
                    f"between it and entry {self.last_id or 'the first'} were removed",
                    entry_id,
                )
            )
        self.chain = computed
        self.count += 1
        self.last_id = entry_id
        self._check_anchor_at(entry_id)

    def finish(self) -> None:
        self._pass_anchors_before(None)
        if self.head is None:
            if self.count:
                raise Interrupted(
                    _access_problem(
                        ProblemKind.HEAD_MISMATCH,
                        f"the access log holds {self.count} entries but has no chain head",
                    )
                )
            return
        head_id, head_hash, head_count = self.head
        if head_id > self.last_id:
            raise Interrupted(
                _access_problem(
                    ProblemKind.MISSING,
                    f"the chain head records entries up to {head_id} ({head_count} entries); "
                    f"the log ends at {self.last_id} ({self.count} entries): entries were "
                    "removed from the end",
                    head_id,
                )
            )
        if head_hash != self.chain or head_count != self.count:
            raise Interrupted(
                _access_problem(
                    ProblemKind.HEAD_MISMATCH,
                    "the chain head's hash or entry count differs from the recomputed chain",
                    head_id,
                )
            )

    def _pass_anchors_before(self, entry_id: int | None) -> None:
        if self.next_anchor < len(self.anchors):
            anchor = self.anchors[self.next_anchor]
            if entry_id is not None and anchor.entry_id >= entry_id:
                return
            raise Interrupted(
                _access_problem(
                    ProblemKind.MISSING,
                    f"the published root {anchor} names entry {anchor.entry_id}, which the "
                    "access log no longer holds",
                    anchor.entry_id,
                )
            )

    def _check_anchor_at(self, entry_id: int) -> None:
        while (
            self.next_anchor < len(self.anchors)
            and self.anchors[self.next_anchor].entry_id == entry_id
        ):
            anchor = self.anchors[self.next_anchor]
            if anchor.chain_hash != self.chain or anchor.entry_count != self.count:
                raise Interrupted(
                    _access_problem(
                        ProblemKind.ANCHOR_MISMATCH,
                        f"the access log no longer passes through the published root {anchor}: "
                        "entries up to it were rewritten",
                        entry_id,
                    )
                )
            self.next_anchor += 1


def _access_problem(kind: ProblemKind, detail: str, entry_id: int | None = None) -> ChainProblem:
    return ChainProblem(kind, detail, access_entry_id=entry_id)


def _exists(conn: psycopg.Connection[Any], tables: AccessLogTables, table: str) -> bool:
    row = (
        _tuples(conn)
        .execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{tables.schema}"."{table}"',))
        .fetchone()
    )
    return bool(row and row[0])


def count_access_entries(
    conn: psycopg.Connection[Any], tables: AccessLogTables = CASES_ACCESS_LOG
) -> int:
    if not _exists(conn, tables, tables.log):
        return 0
    row = (
        _tuples(conn)
        .execute(SQL("SELECT count(*) FROM {log}").format(log=tables.identifier(tables.log)))
        .fetchone()
    )
    return int(row[0]) if row else 0


def verify_access_log(
    conn: psycopg.Connection[Any],
    tables: AccessLogTables = CASES_ACCESS_LOG,
    *,
    anchors: Iterable[AccessLogRoot] = (),
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int], object] | None = None,
) -> AccessLogVerification:
    """Walk the whole access log from one snapshot; stop at the first problem.

    ``conn`` must be idle: the walk runs in a read-only REPEATABLE READ
    transaction of its own, so reads (and their entries) may go on.
    """
    started = time.perf_counter()
    anchor_list = list(anchors)
    conn.isolation_level = IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    walk = _AccessLogWalk(anchor_list, None)
    problem = None
    with conn.transaction():
        if not _exists(conn, tables, tables.log) or not _exists(conn, tables, tables.head):
            problem = _access_problem(
                ProblemKind.MISSING,
                "the access log or its chain head is gone (or was never set up: `simpul db setup`)",
            )
        else:
            head_row = (
                _tuples(conn)
                .execute(
                    SQL("SELECT entry_id, chain_hash, entry_count FROM {head}").format(
                        head=tables.identifier(tables.head)
                    )
                )
                .fetchone()
            )
            walk.head = (
                (int(head_row[0]), bytes(head_row[1]), int(head_row[2])) if head_row else None
            )
            problem = _walk_access_log(conn, tables, walk, batch_size, progress)
    root = AccessLogRoot(walk.last_id, walk.count, walk.chain) if walk.count else None
    return AccessLogVerification(
        entries=walk.count,
        root=root,
        problem=problem,
        seconds=time.perf_counter() - started,
        anchors_checked=walk.next_anchor,
    )


def _walk_access_log(
    conn: psycopg.Connection[Any],
    tables: AccessLogTables,
    walk: _AccessLogWalk,
    batch_size: int,
    progress: Callable[[int], object] | None,
) -> ChainProblem | None:
    query = SQL(
        "SELECT id, accessed_at, user_id, role, agency, district, case_id, view, purpose, "
        "request_id, outcome, reason, entry_hash FROM {log} ORDER BY id"
    ).format(log=tables.identifier(tables.log))
    try:
        with conn.cursor(name="simpul_verify_access_log", row_factory=tuple_row) as cursor:
            cursor.itersize = batch_size
            cursor.execute(query)
            while batch := cursor.fetchmany(batch_size):
                for row in batch:
                    walk.visit(row)
                if progress is not None:
                    progress(len(batch))
        walk.finish()
    except Interrupted as interrupted:
        return interrupted.problem
    return None
