"""The relay: follows the event store's notification log and publishes every case event to Kafka.

Each loop reads the next batch of stored events after the recorded position,
maps each to its messages (the whole event on ``<prefix>.cases.v1``; what the
sharing policy allows on ``<prefix>.agency.<agency>.v1``), sends them all
with the idempotent producer (``acks=all``), waits until the broker has
acknowledged every one, and only then records the new position in
PostgreSQL. A crash anywhere before that record republishes the batch;
nothing is ever skipped. Republished messages are byte-identical (ids and
contents derive from the stored events alone), so consumers drop them by id.

The sharing state of a case is not stored: it is the sharing policy folded
over the case's earlier events, kept in memory while the relay runs and
re-read from the event store for a case it has not seen since starting. That
keeps a second copy of personal data out of the relay's tables, and makes a
restart produce exactly what an uninterrupted run would have.
"""

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import Notification
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from domain.case import Case
from gateways.kafka.messages import (
    CONTENT_TYPE,
    agency_cloud_event,
    agency_topic,
    cases_topic,
    dead_letter_topic,
    encode,
    internal_cloud_event,
)
from services.cases import Cases
from services.sharing import CaseSharing, SharingPolicy

log = logging.getLogger("simpul.relay")

HEADERS = [("content-type", CONTENT_TYPE.encode())]
STATE_CACHE_SIZE = 10_000
POSITION_DDL = (
    "CREATE TABLE IF NOT EXISTS kafka_relay_position ("
    "relay text PRIMARY KEY, notification_id bigint NOT NULL, "
    "updated_at timestamptz NOT NULL DEFAULT now())"
)


@dataclass(frozen=True)
class Outgoing:
    """One message to publish: its topic, key (the case id) and CloudEvent."""

    topic: str
    key: bytes
    cloud_event: dict[str, Any]

    @property
    def value(self) -> bytes:
        return encode(self.cloud_event)


def producer_for(bootstrap_servers: str, client_id: str) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        max_in_flight_requests_per_connection=5,
    )


def ensure_topics(
    bootstrap_servers: str, prefix: str, agencies: Sequence[str], *, partitions: int,
    replication_factor: int,
) -> list[str]:
    """Create the internal, agency and dead-letter topics that do not exist yet."""
    main = [cases_topic(prefix)] + [agency_topic(prefix, agency) for agency in agencies]
    wanted = main + [dead_letter_topic(agency_topic(prefix, agency)) for agency in agencies]
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id=f"{prefix}-admin")
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name, partitions if name in main else 1, replication_factor)
            for name in wanted
            if name not in existing
        ]
        for topic in missing:
            try:
                admin.create_topics([topic])
            except TopicAlreadyExistsError:
                pass  # another relay created it meanwhile
    finally:
        admin.close()
    return wanted


class CaseMapper:
    """Stored events, in notification order, to the messages they cause. Deterministic."""

    def __init__(self, cases: Cases, policy: SharingPolicy, prefix: str) -> None:
        self.cases = cases
        self.policy = policy
        self.prefix = prefix
        self._states: OrderedDict[str, CaseSharing] = OrderedDict()

    def forget(self) -> None:
        """Drop the cached sharing states (after a failed batch they may run ahead)."""
        self._states.clear()

    def _state_before(self, case_id: UUID, version: int) -> CaseSharing:
        key = str(case_id)
        state = self._states.pop(key, None)
        if state is None or state.version != version - 1:
            earlier = self.cases.events.get(case_id, lte=version - 1) if version > 1 else []
            state = self.policy.replay(key, earlier)
        self._states[key] = state
        if len(self._states) > STATE_CACHE_SIZE:
            self._states.popitem(last=False)
        return state

    def map(self, notification: Notification) -> tuple[list[Outgoing], datetime | None]:
        domain_event = self.cases.mapper.to_domain_event(notification)
        if not isinstance(domain_event, Case.Event):
            return [], None  # the case register's numbering: store bookkeeping, not a case event
        event = domain_event
        state = self._state_before(notification.originator_id, event.originator_version)
        key = str(event.originator_id).encode()
        outgoing = [Outgoing(cases_topic(self.prefix), key,
                             internal_cloud_event(event, notification.id))]
        counts: dict[str, int] = {}
        for message in self.policy.share(state, event):
            index = counts.get(message.agency, 0)
            counts[message.agency] = index + 1
            outgoing.append(
                Outgoing(agency_topic(self.prefix, message.agency), key,
                         agency_cloud_event(message, event, index, notification.id))
            )
        return outgoing, event.timestamp


class RelayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.lag_events = Gauge("simpul_relay_lag_events",
                                "Stored events not yet published", registry=registry)
        self.lag_seconds = Gauge("simpul_relay_lag_seconds",
                                 "Age of the oldest stored event not yet published",
                                 registry=registry)
        self.position = Gauge("simpul_relay_position",
                              "Notification id of the last published event", registry=registry)
        self.events = Counter("simpul_relay_events", "Stored events published",
                              registry=registry)
        self.messages = Counter("simpul_relay_messages", "Kafka messages acknowledged",
                                ["topic"], registry=registry)


class Relay:
    """Publishes the event store to Kafka, recording its position after each acknowledged batch."""

    def __init__(
        self,
        *,
        cases: Cases,
        database_url: str,
        producer: KafkaProducer,
        policy: SharingPolicy,
        prefix: str,
        batch_size: int = 500,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.cases = cases
        self.database_url = database_url
        self.producer = producer
        self.prefix = prefix
        self.batch_size = batch_size
        self.mapper = CaseMapper(cases, policy, prefix)
        self.metrics = RelayMetrics(registry or CollectorRegistry())
        self.clock = clock
        self.published_events = 0
        self.published_messages = 0
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(POSITION_DDL)

    def position(self) -> int:
        with psycopg.connect(self.database_url) as conn:
            row = conn.execute(
                "SELECT notification_id FROM kafka_relay_position WHERE relay = %s",
                (self.prefix,),
            ).fetchone()
        return int(row[0]) if row else 0

    def _record_position(self, notification_id: int) -> None:
        with psycopg.connect(self.database_url) as conn:
            conn.execute(
                "INSERT INTO kafka_relay_position (relay, notification_id) VALUES (%s, %s) "
                "ON CONFLICT (relay) DO UPDATE SET notification_id = EXCLUDED.notification_id, "
                "updated_at = now()",
                (self.prefix, notification_id),
            )

    def publish_batch(self, position: int) -> int:
        """Publish the batch after ``position``; return the new position (same if none)."""
        notifications = self.cases.recorder.select_notifications(
            start=position, limit=self.batch_size, inclusive_of_start=False
        )
        head = self.cases.recorder.max_notification_id() or 0
        self.metrics.lag_events.set(max(head - position, 0))
        if not notifications:
            self.metrics.lag_seconds.set(0)
            return position
        try:
            outgoing: list[Outgoing] = []
            oldest: datetime | None = None
            events = 0
            for notification in notifications:
                messages, at = self.mapper.map(notification)
                if at is not None:
                    events += 1
                    oldest = oldest or at
                outgoing.extend(messages)
            if oldest is not None:
                self.metrics.lag_seconds.set(max((self.clock() - oldest).total_seconds(), 0))
            futures = [
                self.producer.send(m.topic, key=m.key, value=m.value, headers=HEADERS)
                for m in outgoing
            ]
            self.producer.flush()
            for future in futures:
                future.get(timeout=30)  # raises if the broker refused any message
        except Exception:
            self.mapper.forget()
            raise
        new_position = notifications[-1].id
        self._record_position(new_position)
        self.published_events += events
        self.published_messages += len(outgoing)
        self.metrics.events.inc(events)
        for message in outgoing:
            self.metrics.messages.labels(message.topic).inc()
        self.metrics.position.set(new_position)
        self.metrics.lag_events.set(max(head - new_position, 0))
        log.info("published %d events as %d messages; position %d (totals: %d events, %d "
                 "messages)", events, len(outgoing), new_position, self.published_events,
                 self.published_messages)
        return new_position

    def watch_lag(self, stop: threading.Event, *, every: float = 1.0) -> None:
        """Keep the lag gauges true while publishing is stuck, until ``stop`` is set.

        ``publish_batch`` sets them, but while the broker is away it waits in
        ``flush`` (up to the producer's delivery timeout), and the gauges would
        show the lag of before the outage. This reads the store's head and the
        recorded position instead, every ``every`` seconds.
        """
        while not stop.wait(every):
            try:
                position = self.position()
                head = self.cases.recorder.max_notification_id() or 0
                self.metrics.lag_events.set(max(head - position, 0))
                waiting = self.cases.recorder.select_notifications(
                    start=position, limit=1, inclusive_of_start=False)
                oldest = (getattr(self.cases.mapper.to_domain_event(waiting[0]), "timestamp",
                                  None) if waiting else None)
                if oldest is None:
                    self.metrics.lag_seconds.set(0)
                else:
                    self.metrics.lag_seconds.set(
                        max((self.clock() - oldest).total_seconds(), 0))
            except Exception as error:  # noqa: BLE001 - the database may be away too
                log.debug("lag not measured (%s)", type(error).__name__)

    def run(self, stop: threading.Event, *, idle_wait: float = 1.0) -> None:
        """Publish until ``stop`` is set, waking on the store's NOTIFY or every ``idle_wait``.

        Outlasts outages of the broker and of PostgreSQL: after any failure it
        reconnects and goes on from the position recorded in the database.
        """
        threading.Thread(target=self.watch_lag, args=(stop,), name="relay-lag",
                         daemon=True).start()
        while not stop.is_set():
            try:
                self._follow(stop, idle_wait)
            except Exception as error:  # noqa: BLE001 - e.g. the database restarting
                log.warning("relay interrupted (%s); resuming from the recorded position",
                            type(error).__name__)
                self.mapper.forget()
                stop.wait(1.0)

    def _follow(self, stop: threading.Event, idle_wait: float) -> None:
        channel = self.cases.recorder.channel_name  # type: ignore[attr-defined]
        position = self.position()
        with psycopg.connect(self.database_url, autocommit=True) as listener:
            listener.execute(f'LISTEN "{channel}"')
            while not stop.is_set():
                try:
                    new_position = self.publish_batch(position)
                except Exception as error:  # noqa: BLE001 - retry from the recorded position
                    log.warning("publishing failed (%s); retrying from position %d",
                                type(error).__name__, position)
                    stop.wait(1.0)
                    position = self.position()
                    continue
                if new_position - position >= self.batch_size or (
                    new_position != position and self._more_after(new_position)
                ):
                    position = new_position
                    continue
                position = new_position
                for _ in listener.notifies(timeout=idle_wait, stop_after=1):
                    pass

    def _more_after(self, position: int) -> bool:
        return (self.cases.recorder.max_notification_id() or 0) > position


def serve_metrics(registry: CollectorRegistry, port: int) -> None:
    if port:
        start_http_server(port, addr="0.0.0.0", registry=registry)


def derived_agency_events(
    cases: Cases, policy: SharingPolicy, prefix: str, agency: str, *, batch_size: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Every CloudEvent the relay publishes (or will) on one agency's topic, in order.

    A rebuild folds these: the event store is the source of truth, so a rebuild
    needs neither the broker's retention nor the relay's progress.
    """
    mapper = CaseMapper(cases, policy, prefix)
    topic = agency_topic(prefix, agency)
    head = cases.recorder.max_notification_id() or 0
    position = 0
    while position < head:
        notifications = cases.recorder.select_notifications(
            start=position, limit=batch_size, stop=head, inclusive_of_start=False
        )
        if not notifications:
            break
        for notification in notifications:
            for message in mapper.map(notification)[0]:
                if message.topic == topic:
                    yield message.cloud_event
        position = notifications[-1].id
        if progress is not None:
            progress(position, head)
