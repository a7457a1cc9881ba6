"""The one runner that follows the event store, for the relay, the projections and rebuilds.

A follower keeps its own position: the notification id of the last stored
event it applied. The runner reads the notifications after the lowest
position among its followers, in batches, decodes each once with the
application's mapper, and hands every follower the events after its own
position as one ``Batch``. The follower applies the batch and moves its
position from ``batch.after`` to ``batch.to`` in the same transaction (or, for
the relay, only once the broker acknowledged everything), so a batch is
applied entirely or not at all; a follower whose stored position is no longer
``batch.after`` (another process moved it) raises ``PositionMoved`` and is
re-read, never applied twice.

Events reach followers in notification order, which within one case is
version order, however large the batches. A rebuild gives the runner every
projection it rebuilds, so the store is read and decoded once for all of them.
When caught up, ``run`` waits for the store's NOTIFY (sent by every insert)
or, at the latest, the poll interval.

A stored event today's code cannot decode does not stop the runner: it
reaches each follower as ``batch.undecodable`` (its case, place and the
error's type), and the follower sets that case aside
(gateways/projectors/quarantine.py) or raises. Only an outage of the database
makes a batch be retried.
"""

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from eventsourcing.application import Application
from prometheus_client import CollectorRegistry, Counter, Gauge
from psycopg.sql import SQL, Identifier

from gateways.projectors.quarantine import SetAside, is_outage, reason_for

log = logging.getLogger("simpul.projections")


class PositionMoved(Exception):
    """The follower's tracked position is not the one the batch was read after."""

    def __init__(self, expected: int, actual: int | None = None) -> None:
        super().__init__(
            f"the batch was read after position {expected}, "
            f"but the follower is at {actual if actual is not None else 'another position'}"
        )
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class Recorded:
    """One stored event, decoded, with its place in the store."""

    position: int
    topic: str
    event: Any


@dataclass(frozen=True)
class Batch:
    """The events after ``after`` up to ``to`` that a follower follows (possibly none)."""

    after: int
    to: int
    recorded: Sequence[Recorded]
    undecodable: Sequence[SetAside] = ()

    @property
    def events(self) -> list[Any]:
        return [item.event for item in self.recorded]


class Follower(Protocol):
    """What the runner needs of anything that follows the store."""

    @property
    def name(self) -> str: ...

    @property
    def topics(self) -> Sequence[str]:
        """The stored event topics it follows; the runner reads only these."""
        ...

    def position(self) -> int:
        """The last notification id applied (0 before any)."""
        ...

    def apply(self, batch: Batch) -> None:
        """Apply the batch and move the position from ``batch.after`` to ``batch.to``
        atomically; raise PositionMoved if the position is not ``batch.after``.

        The cases of ``batch.undecodable`` are set aside, or the follower raises."""
        ...


@dataclass(frozen=True)
class Lag:
    head: int
    position: int
    seconds_behind: float

    @property
    def events_behind(self) -> int:
        return max(self.head - self.position, 0)


class LagObserver(Protocol):
    def observe(self, lag: Lag) -> None: ...

    def applied(self, events: int) -> None: ...


class RunnerMetrics:
    """Prometheus gauges for one follower, in a registry of their own (serve it with
    ``prometheus_client.start_http_server(port, registry=metrics.registry)``)."""

    def __init__(self, projection_name: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        labels = {"projection": projection_name}

        def gauge(name: str, documentation: str) -> Any:
            return Gauge(name, documentation, ["projection"], registry=self.registry).labels(
                **labels
            )

        def counter(name: str, documentation: str) -> Any:
            return Counter(name, documentation, ["projection"], registry=self.registry).labels(
                **labels
            )

        self._position = gauge(
            "simpul_projection_position", "Last event notification id applied by the projection"
        )
        self._head = gauge(
            "simpul_projection_head", "Highest event notification id in the store when last read"
        )
        self._events_behind = gauge(
            "simpul_projection_events_behind",
            "Events in the store the projection has not applied yet",
        )
        self._seconds_behind = gauge(
            "simpul_projection_seconds_behind",
            "Age of the oldest event not yet applied (0 when caught up)",
        )
        self._applied = counter(
            "simpul_projection_events_applied",
            "Events applied by the projection since the process started",
        )
        self._batches = counter(
            "simpul_projection_batches",
            "Batches committed by the projection since the process started",
        )
        self._set_aside = counter(
            "simpul_projection_cases_set_aside",
            "Cases set aside because an event of theirs could not be applied (alert on any)",
        )

    def observe(self, lag: Lag) -> None:
        self._position.set(lag.position)
        self._head.set(lag.head)
        self._events_behind.set(lag.events_behind)
        self._seconds_behind.set(lag.seconds_behind)

    def applied(self, events: int) -> None:
        self._applied.inc(events)
        self._batches.inc()

    def set_aside(self, cases: int) -> None:
        self._set_aside.inc(cases)


def _age_seconds(event: Any, now: datetime) -> float:
    timestamp = getattr(event, "timestamp", None)
    if not isinstance(timestamp, datetime) or timestamp.tzinfo is None:
        return 0.0
    return max((now - timestamp).total_seconds(), 0.0)


class Runner:
    """Follows an application's event store on behalf of one or more followers."""

    def __init__(
        self,
        application: Application[Any],
        followers: Sequence[Follower],
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        metrics: LagObserver | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not followers:
            raise ValueError("a runner needs at least one follower")
        self.application = application
        self.followers = list(followers)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.metrics = metrics
        self.recorder: Any = application.recorder
        wanted = [set(follower.topics) for follower in self.followers]
        # Topics read for all followers at once; empty follows every topic.
        self.topics = sorted(set().union(*wanted)) if all(wanted) else []
        self._filter = len({frozenset(topics) for topics in wanted}) > 1
        self._positions: dict[int, int] = {}
        self.lag = Lag(head=0, position=0, seconds_behind=0.0)

    @property
    def name(self) -> str:
        return "+".join(follower.name for follower in self.followers)

    def position(self) -> int:
        """The lowest position among the followers."""
        return min(self._position_of(index) for index in range(len(self.followers)))

    def _position_of(self, index: int) -> int:
        if index not in self._positions:
            self._positions[index] = self.followers[index].position()
        return self._positions[index]

    def step(self) -> int:
        """Read and apply one batch; the notifications the slowest follower moved past."""
        after = self.position()
        # Read the head first: the store commits in notification order, so once a read
        # returns fewer rows than asked for, nothing up to this head is left for these
        # topics, and the positions may move to it.
        head: int = self.recorder.max_notification_id() or 0
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
        to: int
        if notifications:
            to = notifications[-1].id
            if len(notifications) < self.batch_size:
                to = max(to, head)
        elif head > after:
            to = head
        else:
            self._observe(head, after, 0.0)
            return 0
        recorded, undecodable = self._decode(notifications)
        seconds_behind = _age_seconds(recorded[0].event, datetime.now(UTC)) if recorded else 0.0
        self._observe(head, after, seconds_behind)
        moved_all = True
        for index, follower in enumerate(self.followers):
            mine = self._position_of(index)
            if mine >= to:
                continue
            wanted = set(follower.topics)
            items = [
                item
                for item in recorded
                if item.position > mine and (not self._filter or item.topic in wanted)
            ]
            unreadable = [
                item
                for item in undecodable
                if item.position > mine and (not self._filter or item.event_topic in wanted)
            ]
            try:
                follower.apply(Batch(after=mine, to=to, recorded=items, undecodable=unreadable))
            except PositionMoved as moved:
                log.info("%s: %s; reading on from its tracked position", follower.name, moved)
                del self._positions[index]
                moved_all = False
                continue
            except Exception:
                self._positions.pop(index, None)
                raise
            self._positions[index] = to
            if self.metrics is not None:
                self.metrics.applied(len(items))
        if not moved_all:
            return 0
        self._observe(head, to, 0.0 if to >= head else seconds_behind)
        return to - after

    def _decode(self, notifications: Sequence[Any]) -> tuple[list[Recorded], list[SetAside]]:
        mapper = self.application.mapper
        recorded: list[Recorded] = []
        undecodable: list[SetAside] = []
        for notification in notifications:
            try:
                event = mapper.to_domain_event(notification)
            except Exception as error:
                if is_outage(error):
                    raise
                undecodable.append(
                    SetAside(
                        notification.originator_id,
                        notification.id,
                        notification.topic,
                        reason_for(error),
                    )
                )
                continue
            recorded.append(Recorded(notification.id, notification.topic, event))
        return recorded, undecodable

    def catch_up(self, progress: Callable[[int], object] | None = None) -> int:
        """Apply batches until the store has nothing newer; the notifications moved past."""
        total = 0
        while True:
            moved = self.step()
            if moved == 0 and len(self._positions) == len(self.followers):
                return total
            total += moved
            if progress is not None and moved:
                progress(moved)

    def run(self, stop: threading.Event) -> None:
        """Follow the store until ``stop`` is set: catch up, then wait for NOTIFY or the poll.

        Outlasts a restart of PostgreSQL and a follower's failure (the broker away,
        say): it waits the poll interval, connects again if it must, and reads on
        from each follower's tracked position.
        """
        while not stop.is_set():
            try:
                self._follow(stop)
            except Exception as error:  # noqa: BLE001 - e.g. the database restarting
                log.error(
                    "%s: lost the database (%s); reconnecting", self.name, type(error).__name__
                )
                self._positions.clear()
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
                    log.error("%s: batch failed (%s); retrying", self.name, type(error).__name__)
                    self._positions.clear()
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
