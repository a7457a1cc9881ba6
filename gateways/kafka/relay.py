"""The relay: follows the event store and publishes every case event to Kafka.

It is a follower on the store's runner (gateways/projectors/runner.py). Each
batch of stored events is mapped to its messages (gateways/kafka/publication.py:
the whole event on ``<prefix>.cases.v1``; what the sharing policy allows on
``<prefix>.agency.<agency>.v1``), sent with the idempotent producer
(``acks=all``), and only once the broker has acknowledged every one does the
relay move its tracked position (in its own schema, ``<prefix>_relay``). A
crash anywhere before that republishes the batch; nothing is ever skipped.
Republished messages are byte-identical, so consumers drop them by id.
Each message is signed with the relay's key (gateways/kafka/signing.py) as it
is sent.
"""

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import psycopg
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from psycopg.sql import SQL, Identifier

from gateways.kafka.messages import CONTENT_TYPE, agency_topic, cases_topic, dead_letter_topic
from gateways.kafka.publication import Outgoing, Publication
from gateways.kafka.security import PLAINTEXT, KafkaSecurity
from gateways.kafka.signing import MessageSigner
from gateways.projectors.quarantine import SetAside
from gateways.projectors.runner import Batch, Lag, Runner
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
        **security.options(),
    )


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
    main = [cases_topic(prefix)] + [agency_topic(prefix, agency) for agency in agencies]
    wanted = main + [dead_letter_topic(agency_topic(prefix, agency)) for agency in agencies]
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id=f"{prefix}-admin", **security.options()
    )
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name, partitions if name in main else 1, replication_factor)
            for name in wanted
            if name not in existing
        ]
        for topic in missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another relay made it meanwhile
                admin.create_topics([topic])
    finally:
        admin.close()
    return wanted


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
    ) -> None:
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
        self.published_events = 0
        self.published_messages = 0
        self._create_tracking()

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

    def position(self) -> int:
        with psycopg.connect(self.database_url) as conn:
            return self.tracking.position(conn)

    def apply(self, batch: Batch) -> None:
        """Publish the batch, wait until the broker acknowledged all of it, then move on."""
        if batch.undecodable:
            raise UndecodableEvents(batch.undecodable)
        try:
            outgoing: list[Outgoing] = []
            for item in batch.recorded:
                outgoing.extend(self.publication.messages(item.position, item.event))
            if batch.recorded:
                oldest = batch.recorded[0].event.timestamp
                self.metrics.lag_seconds.set(max((self.clock() - oldest).total_seconds(), 0))
            futures = [
                self.producer.send(
                    m.topic,
                    key=m.key,
                    value=self.signer.signed_value(m.cloud_event),
                    headers=HEADERS,
                )
                for m in outgoing
            ]
            self.producer.flush()
            for future in futures:
                future.get(timeout=30)  # raises if the broker refused any message
        except Exception:
            self.publication.forget()
            raise
        with psycopg.connect(self.database_url) as conn, conn.cursor() as cursor:
            self.tracking.move(cursor, after=batch.after, to=batch.to)
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
        self.runner(idle_wait=idle_wait).run(stop)


class UndecodableEvents(Exception):
    """Stored events the relay cannot decode: agencies must not miss them, so it waits."""

    def __init__(self, undecodable: Sequence[SetAside]) -> None:
        first = undecodable[0]
        super().__init__(
            f"{len(undecodable)} stored events cannot be decoded, the first of case "
            f"{first.case_id} at position {first.position} ({first.reason})"
        )


def serve_metrics(registry: CollectorRegistry, port: int, host: str) -> None:
    """Prometheus /metrics on ``host:port`` (port 0: none)."""
    if port:
        start_http_server(port, addr=host, registry=registry)
