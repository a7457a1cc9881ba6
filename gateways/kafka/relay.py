"""The relay: follows the event store and publishes every case event to Kafka.

It is a follower on the store's runner (gateways/projectors/runner.py). Each
batch of stored events is mapped to its messages (gateways/kafka/publication.py:
the whole event on ``<prefix>.cases.v1``; what the sharing policy allows on
``<prefix>.agency.<agency>.v1``), sent with the idempotent producer
(``acks=all``), and only once the broker has acknowledged every one does the
relay move its tracked position (in its own schema, ``<prefix>_relay``). A
crash anywhere before that republishes the batch; nothing is ever skipped. A case
with an event that cannot be decoded or turned into messages is held (``<prefix>_relay.held``):
its events wait, every other case goes on, and each start publishes, in order, the held
events of the cases that can be published by then.
Republished messages are byte-identical, so consumers drop them by id.
Each message is signed with the relay's key (gateways/kafka/signing.py) as it
is sent.

The event store is the source of truth, the topics are derived from it. The
relay records, in the same transaction as its position, what it published to:
each topic's id and partition count as the broker reported them, and the last
offset acknowledged on each partition. Before publishing (at start, after any
failed batch, and at least every ``check_interval`` seconds) it compares that
with what the broker holds now. A topic missing, recreated (another topic id)
or with another partition count, or a partition it published to that is empty,
means the broker lost what was published (the embedded broker keeps topics in
memory, so a restart starts it empty; on Kafka, someone deleted a topic): the
relay recreates the missing topics and publishes the whole store again from
position 0. The messages are the same bytes with the same ids, so consumers
apply only what they had not. End offsets are never compared otherwise: the
embedded broker reports a partition's end offset as one past the first message
of its last write, short by all but one of that write's messages.
"""

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from kafka import KafkaAdminClient, KafkaProducer, TopicPartition
from kafka.admin import NewTopic, OffsetSpec
from kafka.errors import KafkaTimeoutError, TopicAlreadyExistsError
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from psycopg.sql import SQL, Composed, Identifier

from gateways.kafka.messages import CONTENT_TYPE, agency_topic, cases_topic, dead_letter_topic
from gateways.kafka.publication import Outgoing, Publication
from gateways.kafka.security import PLAINTEXT, KafkaSecurity
from gateways.kafka.signing import MessageSigner
from gateways.kafka.topics import TopicShape, admin_like, describe_topics, within
from gateways.projectors.quarantine import SetAside, is_outage, reason_for
from gateways.projectors.runner import Batch, Lag, PositionMoved, Runner
from gateways.projectors.tracking import Tracking, create_statement
from projections.open_cases import CASE_TOPICS
from services.cases import Cases
from services.sharing import SharingPolicy

log = logging.getLogger("simpul.relay")

HEADERS = [("content-type", CONTENT_TYPE.encode())]


def relay_schema(prefix: str) -> str:
    return f"{prefix}_relay"


def recorded_position(database_url: str, prefix: str, application_name: str = "Cases") -> int:
    """Where the relay of ``prefix`` has published up to, as it recorded it."""
    with psycopg.connect(database_url) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (f"{relay_schema(prefix)}.tracking",))
        row = exists.fetchone()
        if row is None or row[0] is None:
            return 0
        return Tracking(relay_schema(prefix), application_name).position(conn)


def producer_for(
    bootstrap_servers: str, client_id: str, security: KafkaSecurity = PLAINTEXT
) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        max_in_flight_requests_per_connection=5,
        # Topics are made by ensure_topics only, with the configured partition count.
        allow_auto_create_topics=False,
        # A send to a topic that is not there fails this soon (and the relay then finds
        # out why) instead of waiting a minute for it to appear.
        max_block_ms=15_000,
        **security.options(),
    )


# How long a send, a flush or a comparison of topics may take before the batch fails.
SEND_TIMEOUT_SECONDS = 30.0

PUBLISHED_DDL = """CREATE TABLE IF NOT EXISTS {schema}.published (
    topic text PRIMARY KEY,
    topic_id text,
    partitions integer NOT NULL,
    last_offsets bigint[] NOT NULL)"""

# Cases whose events are held back (gateways/projectors/quarantine.py): the reason is an
# error type, never the event's data.
HELD_DDL = """CREATE TABLE IF NOT EXISTS {schema}.held (
    case_id uuid PRIMARY KEY,
    position bigint NOT NULL,
    event_topic text NOT NULL,
    reason text NOT NULL,
    held_at timestamptz NOT NULL DEFAULT now())"""


def producer_like(producer: KafkaProducer) -> KafkaProducer:
    """A new producer configured as ``producer`` (its config also holds derived values)."""
    options = {k: v for k, v in producer.config.items() if k in KafkaProducer.DEFAULT_CONFIG}
    return KafkaProducer(**options)


def create_missing_topics(
    admin: KafkaAdminClient,
    prefix: str,
    agencies: Sequence[str],
    *,
    partitions: int,
    replication_factor: int,
) -> list[str]:
    """Create the internal, agency and dead-letter topics that do not exist yet."""
    main = [cases_topic(prefix)] + [agency_topic(prefix, agency) for agency in agencies]
    wanted = main + [dead_letter_topic(agency_topic(prefix, agency)) for agency in agencies]
    existing = set(admin.list_topics())
    missing = [
        NewTopic(name, partitions if name in main else 1, replication_factor)
        for name in wanted
        if name not in existing
    ]
    for topic in missing:
        with contextlib.suppress(TopicAlreadyExistsError):  # another relay made it meanwhile
            admin.create_topics([topic])
    return wanted


def ensure_topics(
    bootstrap_servers: str,
    prefix: str,
    agencies: Sequence[str],
    *,
    partitions: int,
    replication_factor: int,
    security: KafkaSecurity = PLAINTEXT,
) -> list[str]:
    """Create the internal, agency and dead-letter topics that do not exist yet."""
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id=f"{prefix}-admin", **security.options()
    )
    try:
        return create_missing_topics(
            admin, prefix, agencies, partitions=partitions, replication_factor=replication_factor
        )
    finally:
        admin.close()


class RelayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.lag_events = Gauge(
            "simpul_relay_lag_events", "Stored events not yet published", registry=registry
        )
        self.lag_seconds = Gauge(
            "simpul_relay_lag_seconds",
            "Age of the oldest stored event not yet published",
            registry=registry,
        )
        self.position = Gauge(
            "simpul_relay_position",
            "Notification id of the last published event",
            registry=registry,
        )
        self.events = Counter("simpul_relay_events", "Stored events published", registry=registry)
        self.messages = Counter(
            "simpul_relay_messages", "Kafka messages acknowledged", ["topic"], registry=registry
        )
        self.republications = Counter(
            "simpul_relay_republications",
            "Times the broker had lost what was published, and the store was published again",
            registry=registry,
        )
        self.held = Counter(
            "simpul_relay_cases_held",
            "Cases held back because an event of theirs could not be published (alert on any)",
            registry=registry,
        )

    def observe(self, lag: Lag) -> None:
        self.lag_events.set(lag.events_behind)
        self.lag_seconds.set(lag.seconds_behind)
        self.position.set(lag.position)

    def applied(self, events: int) -> None:
        self.events.inc(events)


class Relay:
    """Publishes the event store to Kafka, moving its position after each acknowledged batch."""

    name = "relay"
    topics = CASE_TOPICS

    def __init__(
        self,
        *,
        cases: Cases,
        database_url: str,
        producer: KafkaProducer,
        policy: SharingPolicy,
        prefix: str,
        signer: MessageSigner,
        batch_size: int = 500,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        admin: Callable[[], KafkaAdminClient] | None = None,
        new_producer: Callable[[], KafkaProducer] | None = None,
        check_interval: float = 5.0,
    ) -> None:
        """``admin``: how to reach the broker to compare its topics with what was published
        (by default as ``producer`` does); ``new_producer``: a producer to replace one that
        failed for good (by default one configured as ``producer``); ``check_interval``: at
        most this many seconds between two comparisons while publishing."""
        self.cases = cases
        self.database_url = database_url
        self.producer = producer
        self.prefix = prefix
        self.signer = signer
        self.batch_size = batch_size
        self.publication = Publication(cases, policy, prefix)
        self.metrics = RelayMetrics(registry or CollectorRegistry())
        self.clock = clock
        self.tracking = Tracking(relay_schema(prefix), cases.name)
        self.agencies = list(policy.matrix.agencies)
        self.published_events = 0
        self.published_messages = 0
        self.republished = 0
        self._admin_factory = admin or (lambda: admin_like(producer.config, f"{prefix}-relay"))
        self._admin: KafkaAdminClient | None = None
        self._new_producer = new_producer or (lambda: producer_like(producer))
        self.check_interval = check_interval
        self._next_check = 0.0  # now: before the first batch
        self._shapes: dict[str, TopicShape] = {}
        self._create_tracking()
        self.held: dict[UUID, SetAside] = self._load_held()

    def _create_tracking(self) -> None:
        schema = relay_schema(self.prefix)
        with psycopg.connect(self.database_url, autocommit=True) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"simpul:{schema}",))
            conn.execute(SQL("CREATE SCHEMA IF NOT EXISTS {0}").format(Identifier(schema)))
            conn.execute(create_statement(schema))
            # Before the relay shared the runner's tracking it kept a table of its own.
            earlier = conn.execute("SELECT to_regclass('public.kafka_relay_position')").fetchone()
            if earlier is not None and earlier[0] is not None and self.tracking.position(conn) == 0:
                row = conn.execute(
                    "SELECT notification_id FROM kafka_relay_position WHERE relay = %s",
                    (self.prefix,),
                ).fetchone()
                if row is not None:
                    self.tracking.move(conn.cursor(), after=0, to=int(row[0]))
            conn.execute(self._sql(PUBLISHED_DDL))
            conn.execute(self._sql(HELD_DDL))

    def _sql(self, text: str) -> Composed:
        return SQL(text).format(schema=Identifier(relay_schema(self.prefix)))

    def _load_held(self) -> dict[UUID, SetAside]:
        with psycopg.connect(self.database_url) as conn:
            rows = conn.execute(
                self._sql(
                    "SELECT case_id, position, event_topic, reason FROM {schema}.held "
                    "ORDER BY position"
                )
            ).fetchall()
        return {row[0]: SetAside(*row) for row in rows}

    def published(self) -> dict[str, tuple[str | None, int, list[int | None]]]:
        """topic -> (topic id, partitions, last offset acknowledged on each partition)."""
        with psycopg.connect(self.database_url) as conn:
            rows = conn.execute(
                self._sql(
                    "SELECT topic, topic_id, partitions, last_offsets FROM {schema}.published"
                )
            ).fetchall()
        return {row[0]: (row[1], int(row[2]), list(row[3])) for row in rows}

    def _broker_topics(self) -> dict[str, TopicShape]:
        if self._admin is None:
            self._admin = self._admin_factory()
        try:
            return describe_topics(self._admin)
        except Exception:
            self._admin.close()
            self._admin = None
            raise

    def _empty_partitions(
        self, published: dict[str, tuple[str | None, int, list[int | None]]]
    ) -> list[TopicPartition]:
        """(topic, partition) published to whose end offset is 0 now. Only 0 is evidence:
        the embedded broker may report any end offset from one past the first message of
        the last write on."""
        wanted = [
            TopicPartition(topic, partition)
            for topic, (_id, _count, offsets) in published.items()
            for partition, offset in enumerate(offsets)
            if offset is not None
        ]
        if not wanted:
            return []
        assert self._admin is not None
        ends = self._admin.list_partition_offsets(dict.fromkeys(wanted, OffsetSpec.LATEST))
        return [tp for tp in wanted if tp in ends and ends[tp].offset == 0]

    def losses(self) -> list[str]:
        """What the broker lost of what the relay published (empty: nothing), and learn
        the shapes of the topics it holds now."""
        shapes = self._broker_topics()
        self._shapes = shapes
        published = self.published()
        lost = []
        for topic, (topic_id, partitions, _offsets) in sorted(published.items()):
            shape = shapes.get(topic)
            if shape is None:
                lost.append(f"{topic} is missing")
            elif shape.partitions != partitions:
                lost.append(f"{topic} has {shape.partitions} partitions, not {partitions}")
            elif topic_id and shape.topic_id and topic_id != shape.topic_id:
                lost.append(f"{topic} was recreated")
        if not lost:
            lost = [
                f"{tp.topic}/{tp.partition} is empty" for tp in self._empty_partitions(published)
            ]
        return lost

    def _republish_if_lost(self, after: int) -> None:
        lost = self.losses()
        if not lost:
            return
        log.warning(
            "the broker lost what was published (%s); publishing the store again from the start",
            "; ".join(lost),
        )
        self.republished += 1
        self.metrics.republications.inc()
        published = self.published()
        expected = max((count for _id, count, _offsets in published.values()), default=1)
        cases_shape = published.get(cases_topic(self.prefix))
        partitions = cases_shape[1] if cases_shape else expected
        replicas = max((shape.replicas for shape in self._shapes.values()), default=1)
        assert self._admin is not None
        create_missing_topics(
            self._admin,
            self.prefix,
            self.agencies,
            partitions=partitions,
            replication_factor=replicas,
        )
        self._shapes = self._broker_topics()
        with psycopg.connect(self.database_url) as conn, conn.transaction():
            conn.execute(self._sql("DELETE FROM {schema}.published"))
            conn.execute(
                self._sql(
                    "UPDATE {schema}.tracking SET notification_id = 0, applied_at = now() "
                    "WHERE application_name = %s"
                ),
                (self.cases.name,),
            )
        self.publication.forget()
        # The broker that lost the topics knows nothing of this producer's id either.
        self._replace_producer()
        raise PositionMoved(after, 0)

    def _replace_producer(self) -> None:
        old, self.producer = self.producer, self._new_producer()
        with contextlib.suppress(Exception):
            old.close(timeout=0)

    def _producer_failed_for_good(self) -> bool:
        # An idempotent producer whose InitProducerId failed (the broker restarting, say)
        # refuses every later send; kafka-python shows it only on its transaction manager.
        manager = getattr(self.producer, "_transaction_manager", None)
        return bool(manager is not None and manager.has_fatal_error())

    def _record_published(self, cursor: Any, acknowledged: Iterable[Any]) -> None:
        last: dict[str, dict[int, int]] = {}
        for metadata in acknowledged:
            partitions = last.setdefault(metadata.topic, {})
            partitions[metadata.partition] = max(
                partitions.get(metadata.partition, -1), metadata.offset
            )
        for topic, offsets in last.items():
            shape = self._shapes.get(topic)
            count = shape.partitions if shape else max(offsets) + 1
            row = [offsets.get(partition) for partition in range(count)]
            cursor.execute(
                self._sql(
                    "INSERT INTO {schema}.published AS p (topic, topic_id, partitions, "
                    "last_offsets) VALUES (%s, %s, %s, %s) ON CONFLICT (topic) DO UPDATE SET "
                    "topic_id = EXCLUDED.topic_id, partitions = EXCLUDED.partitions, "
                    "last_offsets = ARRAY(SELECT GREATEST(a, b) FROM unnest("
                    "CASE WHEN p.partitions = EXCLUDED.partitions THEN p.last_offsets "
                    "ELSE EXCLUDED.last_offsets END, EXCLUDED.last_offsets) AS u(a, b))"
                ),
                (topic, shape.topic_id if shape else None, count, row),
            )

    def position(self) -> int:
        with psycopg.connect(self.database_url) as conn:
            return self.tracking.position(conn)

    def apply(self, batch: Batch) -> None:
        """Publish the batch, wait until the broker acknowledged all of it, then move on.

        A case with an event that cannot be decoded or turned into messages is held:
        that event and the case's later ones are not published (never out of order),
        every other case is, and the hold is recorded with the position move.
        """
        if time.monotonic() >= self._next_check:
            self._within_time(lambda: self._republish_if_lost(batch.after), "comparing topics")
            self._next_check = time.monotonic() + self.check_interval
        holding: dict[UUID, SetAside] = {}
        for unreadable in batch.undecodable:
            if unreadable.case_id not in self.held:
                holding.setdefault(unreadable.case_id, unreadable)
        try:
            outgoing: list[Outgoing] = []
            for item in batch.recorded:
                case_id = item.event.originator_id
                if case_id in self.held or case_id in holding:
                    continue
                try:
                    outgoing.extend(self.publication.messages(item.position, item.event))
                except Exception as error:
                    if is_outage(error):
                        raise
                    holding[case_id] = SetAside(
                        case_id, item.position, item.topic, reason_for(error)
                    )
            if batch.recorded:
                oldest = batch.recorded[0].event.timestamp
                self.metrics.lag_seconds.set(max((self.clock() - oldest).total_seconds(), 0))
            acknowledged = self._send(outgoing)
        except Exception:
            self.publication.forget()
            self._next_check = 0.0  # a topic gone, say: compare before the next try
            if self._producer_failed_for_good():
                log.warning("the producer failed for good; replacing it")
                self._replace_producer()
            raise
        with psycopg.connect(self.database_url) as conn, conn.cursor() as cursor:
            self._record_published(cursor, acknowledged)
            self.tracking.move(cursor, after=batch.after, to=batch.to)
            for hold in holding.values():
                cursor.execute(
                    self._sql(
                        "INSERT INTO {schema}.held (case_id, position, event_topic, reason) "
                        "VALUES (%s, %s, %s, %s) ON CONFLICT (case_id) DO NOTHING"
                    ),
                    (hold.case_id, hold.position, hold.event_topic, hold.reason),
                )
        self._hold(holding.values())
        events = len(batch.recorded)
        self.published_events += events
        self.published_messages += len(outgoing)
        for message in outgoing:
            self.metrics.messages.labels(message.topic).inc()
        if events:
            log.info(
                "published %d events as %d messages; position %d (totals: %d events, %d messages)",
                events,
                len(outgoing),
                batch.to,
                self.published_events,
                self.published_messages,
            )

    def _within_time(self, call: Callable[[], None], what: str) -> None:
        """Run ``call`` (broker admin requests) for at most SEND_TIMEOUT_SECONDS; an admin
        client that did not answer in time is replaced before the next try."""
        try:
            within(SEND_TIMEOUT_SECONDS, call, what)
        except KafkaTimeoutError:
            stuck, self._admin = self._admin, None
            if stuck is not None:
                threading.Thread(target=stuck.close, daemon=True).start()
            raise

    def _send(self, outgoing: Sequence[Outgoing]) -> list[Any]:
        """Send, flush and wait: every message acknowledged, or an exception."""
        futures = [
            self.producer.send(
                m.topic,
                key=m.key,
                value=self.signer.signed_value(m.cloud_event),
                headers=HEADERS,
            )
            for m in outgoing
        ]
        # Bounded: a producer stuck after a broker restart must fail the batch (which is
        # then retried, with a new producer if this one failed for good), not stall the relay.
        self.producer.flush(timeout=SEND_TIMEOUT_SECONDS)
        return [future.get(timeout=SEND_TIMEOUT_SECONDS) for future in futures]

    def _hold(self, holding: Iterable[SetAside]) -> None:
        for item in holding:
            self.held[item.case_id] = item
            self.metrics.held.inc()
            # The case id and the error's type only: the event may hold personal data.
            log.error(
                "case %s held at position %d (%s): %s; its later events wait, every other "
                "case is published",
                item.case_id,
                item.position,
                item.event_topic,
                item.reason,
            )

    def release_held(self) -> int:
        """Publish the held events of every held case that can be published now (after a fix
        is deployed), in order, up to the relay's position; how many cases were released."""
        released = 0
        tracked = self.position()
        for case_id, held in list(self.held.items()):
            try:
                outgoing = [
                    message
                    for position, event in self._held_events(case_id, held.position, tracked)
                    for message in self.publication.messages(position, event)
                ]
            except Exception as error:
                if is_outage(error):
                    raise
                self.publication.forget()
                continue
            acknowledged = self._send(outgoing)
            with psycopg.connect(self.database_url) as conn, conn.cursor() as cursor:
                self._record_published(cursor, acknowledged)
                cursor.execute(
                    self._sql("DELETE FROM {schema}.held WHERE case_id = %s"), (case_id,)
                )
            del self.held[case_id]
            released += 1
            log.info("case %s released: %d held messages published", case_id, len(outgoing))
        return released

    def _held_events(self, case_id: UUID, start: int, stop: int) -> list[tuple[int, Any]]:
        """The case's stored events from ``start`` up to ``stop``, decoded (or an exception)."""
        events: list[tuple[int, Any]] = []
        while start <= stop:
            page = self.cases.recorder.select_notifications(
                start=start, limit=self.batch_size, stop=stop, topics=list(self.topics)
            )
            if not page:
                break
            events.extend(
                (n.id, self.cases.mapper.to_domain_event(n))
                for n in page
                if n.originator_id == case_id
            )
            start = page[-1].id + 1
        return events

    def runner(self, *, idle_wait: float = 1.0) -> Runner:
        return Runner(
            self.cases,
            [self],
            batch_size=self.batch_size,
            poll_interval=idle_wait,
            metrics=self.metrics,
        )

    def catch_up(self) -> int:
        """Publish everything stored so far; the notifications moved past."""
        return self.runner().catch_up()

    def watch_lag(self, stop: threading.Event, *, every: float = 1.0) -> None:
        """Keep the lag gauges true while publishing is stuck, until ``stop`` is set.

        The runner sets them, but while the broker is away the relay waits in
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
                    start=position, limit=1, topics=list(self.topics), inclusive_of_start=False
                )
                oldest = (
                    getattr(self.cases.mapper.to_domain_event(waiting[0]), "timestamp", None)
                    if waiting
                    else None
                )
                if oldest is None:
                    self.metrics.lag_seconds.set(0)
                else:
                    self.metrics.lag_seconds.set(max((self.clock() - oldest).total_seconds(), 0))
            except Exception as error:  # noqa: BLE001 - the database may be away too
                log.debug("lag not measured (%s)", type(error).__name__)

    def run(self, stop: threading.Event, *, idle_wait: float = 1.0) -> None:
        """Publish until ``stop`` is set, waking on the store's NOTIFY or every ``idle_wait``.

        Outlasts outages of the broker and of PostgreSQL: after any failure the
        runner waits, reconnects and goes on from the position recorded in the database.
        """
        threading.Thread(target=self.watch_lag, args=(stop,), name="relay-lag", daemon=True).start()
        if self.held:
            try:
                self.release_held()
            except Exception as error:  # noqa: BLE001 - the runner below waits outages out
                log.error("held cases not retried (%s)", type(error).__name__)
        self.runner(idle_wait=idle_wait).run(stop)


def serve_metrics(registry: CollectorRegistry, port: int, host: str) -> None:
    """Prometheus /metrics on ``host:port`` (port 0: none)."""
    if port:
        start_http_server(port, addr=host, registry=registry)
