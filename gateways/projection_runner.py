"""Follow an application's event store in batches, applying each batch exactly once.

The library's ProjectionRunner commits one event per transaction, which caps
a projection far below the rate the store can be read at. This runner reads
the notifications after the projection's tracked position in batches, decodes
them with the application's mapper, and hands each batch to the projection,
which applies it and moves its tracked position from the old value to the new
one in a single transaction. A batch is therefore applied entirely or not at
all, and a batch whose starting position is no longer the tracked one (it was
applied already, by this process before a crash or by another) is refused by
the projection, never applied twice.

Events reach the projection in notification order, which within one aggregate
is version order, so per-aggregate order holds however large the batches.

When it has caught up, the runner waits for the store's NOTIFY (sent by every
insert) or, at the latest, the poll interval, and reads again.
"""

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Tracking
from prometheus_client import CollectorRegistry, Counter, Gauge
from psycopg.sql import SQL, Identifier

log = logging.getLogger("simpul.projections")


class PositionMoved(Exception):
    """The projection's tracked position is not the one the batch was read after."""

    def __init__(self, expected: int, actual: int | None = None) -> None:
        super().__init__(
            f"the batch was read after position {expected}, "
            f"but the projection is at {actual if actual is not None else 'another position'}"
        )
        self.expected = expected
        self.actual = actual


class BatchProjection(Protocol):
    """What the runner needs of a projection (see the module docstring)."""

    name: str
    topics: Sequence[str]

    def position(self, application_name: str) -> int:
        """The last notification id applied (0 before any)."""
        ...

    def process_batch(
        self,
        events: Sequence[DomainEventProtocol[Any]],
        tracking: Tracking,
        *,
        after: int,
    ) -> None:
        """Apply ``events`` and move the tracked position from ``after`` to ``tracking``'s
        notification id in one transaction; raise PositionMoved if it is not at ``after``."""
        ...


@dataclass(frozen=True)
class Lag:
    head: int
    position: int
    seconds_behind: float

    @property
    def events_behind(self) -> int:
        return max(self.head - self.position, 0)


class RunnerMetrics:
    """Prometheus gauges for one runner, in a registry of their own (serve it with
    ``prometheus_client.start_http_server(port, registry=metrics.registry)``)."""

    def __init__(self, projection_name: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        labels = {"projection": projection_name}
        self._position = Gauge(
            "simpul_projection_position",
            "Last event notification id applied by the projection",
            ["projection"],
            registry=self.registry,
        ).labels(**labels)
        self._head = Gauge(
            "simpul_projection_head",
            "Highest event notification id in the store when last read",
            ["projection"],
            registry=self.registry,
        ).labels(**labels)
        self._events_behind = Gauge(
            "simpul_projection_events_behind",
            "Events in the store the projection has not applied yet",
            ["projection"],
            registry=self.registry,
        ).labels(**labels)
        self._seconds_behind = Gauge(
            "simpul_projection_seconds_behind",
            "Age of the oldest event not yet applied (0 when caught up)",
            ["projection"],
            registry=self.registry,
        ).labels(**labels)
        self._applied = Counter(
            "simpul_projection_events_applied",
            "Events applied by the projection since the process started",
            ["projection"],
            registry=self.registry,
        ).labels(**labels)
        self._batches = Counter(
            "simpul_projection_batches",
            "Batches committed by the projection since the process started",
            ["projection"],
            registry=self.registry,
        ).labels(**labels)

    def observe(self, lag: Lag) -> None:
        self._position.set(lag.position)
        self._head.set(lag.head)
        self._events_behind.set(lag.events_behind)
        self._seconds_behind.set(lag.seconds_behind)

    def applied(self, events: int) -> None:
        self._applied.inc(events)
        self._batches.inc()


def _age_seconds(event: Any, now: datetime) -> float:
    timestamp = getattr(event, "timestamp", None)
    if not isinstance(timestamp, datetime) or timestamp.tzinfo is None:
        return 0.0
    return max((now - timestamp).total_seconds(), 0.0)


class BatchingProjectionRunner:
    def __init__(
        self,
        application: Application[Any],
        projection: BatchProjection,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        metrics: RunnerMetrics | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.application = application
        self.projection = projection
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.metrics = metrics
        self.recorder: Any = application.recorder
        self.topics = list(projection.topics)
        self._position: int | None = None
        self.lag = Lag(head=0, position=0, seconds_behind=0.0)

    @property
    def application_name(self) -> str:
        return self.application.name

    def position(self) -> int:
        if self._position is None:
            self._position = self.projection.position(self.application_name)
        return self._position

    def step(self) -> int:
        """Read and apply one batch; the number of notifications it moved past (0: caught up)."""
        after = self.position()
        # Read the head first: the store commits in notification order, so once
        # a read returns fewer rows than asked for, nothing up to this head is
        # left for the projection's topics, and the position may move to it.
        head = self.recorder.max_notification_id() or 0
        notifications = (
            self.recorder.select_notifications(
                start=after,
                limit=self.batch_size,
                topics=self.topics,
                inclusive_of_start=False,
            )
            if head > after
            else []
        )
        if notifications:
            new_position = notifications[-1].id
            if len(notifications) < self.batch_size:
                new_position = max(new_position, head)
        elif head > after:
            new_position = head
        else:
            self._observe(head, after, 0.0)
            return 0
        mapper = self.application.mapper
        events = [mapper.to_domain_event(notification) for notification in notifications]
        seconds_behind = _age_seconds(events[0], datetime.now(UTC)) if events else 0.0
        self._observe(head, after, seconds_behind)
        try:
            self.projection.process_batch(
                events, Tracking(self.application_name, new_position), after=after
            )
        except PositionMoved as moved:
            log.info("%s: %s; reading on from its tracked position", self.projection.name, moved)
            self._position = None
            return 0
        self._position = new_position
        if self.metrics is not None:
            self.metrics.applied(len(events))
        self._observe(head, new_position, 0.0 if new_position >= head else seconds_behind)
        return new_position - after

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Apply batches until the store has nothing newer; the notifications moved past."""
        total = 0
        while True:
            moved = self.step()
            if moved == 0 and self._position is not None:
                return total
            total += moved
            if progress is not None and moved:
                progress(moved)

    def run(self, stop: threading.Event) -> None:
        """Follow the store until ``stop`` is set: catch up, then wait for NOTIFY or the poll.

        Outlasts a restart of PostgreSQL: when the listening connection breaks, it
        connects again (every poll interval until it can) and reads on from the
        tracked position.
        """
        while not stop.is_set():
            try:
                self._follow(stop)
            except Exception as error:  # noqa: BLE001 - e.g. the database restarting
                log.error("%s: lost the database (%s); reconnecting", self.projection.name,
                          type(error).__name__)
                self._position = None
                stop.wait(self.poll_interval)

    def _follow(self, stop: threading.Event) -> None:
        channel = getattr(self.recorder, "channel_name", None)
        with self.recorder.datastore.get_connection() as listener:
            if channel:
                listener.execute(SQL("LISTEN {0}").format(Identifier(channel)))
            while not stop.is_set():
                try:
                    self.catch_up()
                except Exception as error:  # noqa: BLE001 - keep following; the batch rolled back
                    # Only the type: a message may quote event data.
                    log.error("%s: batch failed (%s); retrying", self.projection.name,
                              type(error).__name__)
                    self._position = None
                    stop.wait(self.poll_interval)
                    continue
                self._wait_for_news(listener, stop)

    def _wait_for_news(self, listener: Any, stop: threading.Event) -> None:
        deadline = time.monotonic() + self.poll_interval
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            # Short waits so that a stop request is noticed promptly.
            for _ in listener.notifies(timeout=min(remaining, 0.2), stop_after=1):
                return

    def _observe(self, head: int, position: int, seconds_behind: float) -> None:
        self.lag = Lag(head=head, position=position, seconds_behind=seconds_behind)
        if self.metrics is not None:
            self.metrics.observe(self.lag)
