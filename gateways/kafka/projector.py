"""An agency projector: consumes the agency's topic into the agency's PostgreSQL schema.

One consumer per agency, assigned every partition of the agency's topic (its
commits go to the group ``<prefix>-<agency>-projector``, for tools). Each poll's
records are applied partition by partition (keeping each partition's order),
a partition's records in one transaction together with their message ids and
the partition's next offset. Kafka's committed offsets are only a hint: when
partitions are assigned, the consumer seeks to the offsets stored in
PostgreSQL, so a crash between the database commit and the Kafka commit
neither loses nor repeats work; a message redelivered anyway is skipped by id.
The partitions are assigned, not balanced by the group coordinator: one
projector reads an agency's topic (a second would only repeat its work,
serialised by the agency's lock), and the embedded broker loses its groups on a
restart, after which a rejoining kafka-python consumer kept being assigned no
partitions at all.

A message that is not JSON, is not signed by a key the projector was given
(gateways/kafka/signing.py: a forged message, even one written with a leaked
broker credential), has an unknown type, fails its schema or cannot be
applied (a value the database refuses) goes to ``<topic>.dlq`` (with the
reason in a header) and is recorded as a dead letter in the same transaction
as the offset that passes it: it never blocks its partition.

Outages of the broker or of PostgreSQL are waited out: the projector retries,
going back to the offsets stored in PostgreSQL first.

Stored offsets hold only for the topic they were read from. The projector
looks the topic up (asking for every topic, which creates none) at start,
every ``METADATA_MAX_AGE_MS`` and after a broker error; when it appeared or
changed it assigns its partitions and compares the topic's id and partition
count with those stored beside the offsets; a topic recreated (the embedded
broker starts empty after a restart; on Kafka, a topic deleted and made again)
or repartitioned is read again from the beginning, and so is a partition the
broker moved back to an earlier offset (truncated): every message applied
before is skipped by id, none is lost. Until the relay created the topic, the
projector waits.

Between polls, at most every ``purge_interval`` seconds, the projector removes
from the agency's schema the personal data whose retention period has passed
(the inbox never serves it meanwhile: reads remove it too).
"""

import dataclasses
import json
import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

import psycopg
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from prometheus_client import CollectorRegistry, Counter, Gauge
from psycopg.rows import dict_row

from gateways.kafka.contract import MessageValidator
from gateways.kafka.messages import agency_topic, dead_letter_topic
from gateways.kafka.security import PLAINTEXT, KafkaSecurity
from gateways.kafka.signing import MessageVerifier
from gateways.kafka.topics import TopicShape, describe_topics, within
from gateways.readmodels.agency import AgencyStore, Applied, ConsumedMessage
from services.sharing import AgencyRetention

log = logging.getLogger("simpul.projector")

SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 1000
PURGE_INTERVAL_SECONDS = 60.0
# How soon a topic that appears, disappears or changes is noticed (Kafka's default: 5 min).
METADATA_MAX_AGE_MS = 5000
# How long a topic lookup may take before the broker counts as away (and is asked again).
ADMIN_TIMEOUT_SECONDS = 15.0
# What a message itself can cause when applied (bad values the schema lets through);
# an OperationalError (the database away) is not among them: that batch is retried.
UNAPPLICABLE = (psycopg.DataError, psycopg.IntegrityError, LookupError, TypeError, ValueError)


def group_id(prefix: str, agency: str) -> str:
    return f"{prefix}-{agency}-projector"


class ProjectorMetrics:
    """Per-agency gauges and counters of the agency projectors (simpul_projector_*)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def per_agency(kind: type[Gauge] | type[Counter], name: str, text: str) -> Any:
            return kind(f"simpul_projector_{name}", text, ["agency"], registry=registry)

        self.lag_messages = per_agency(
            Gauge, "lag_messages", "Messages on the agency topic not yet applied"
        )
        self.lag_seconds = per_agency(
            Gauge,
            "lag_seconds",
            "Age of the case event behind the last applied message, while behind",
        )
        self.applied = per_agency(Counter, "applied", "Messages applied")
        self.duplicates = per_agency(Counter, "duplicates", "Redelivered messages skipped by id")
        self.dead_letters = per_agency(
            Counter, "dead_letters", "Messages sent to the dead-letter topic"
        )
        self.topic_restarts = per_agency(
            Counter,
            "topic_restarts",
            "Partitions read again from the beginning: their topic was recreated, "
            "repartitioned or truncated",
        )


TopicIdentity = tuple[str | None, int]


@dataclasses.dataclass(frozen=True)
class TopicChange:
    """What the topic on the broker means for the offsets stored: read it all again
    (why), or record its identity beside them, or neither."""

    read_again: str | None = None
    record: bool = False


def topic_change(
    known: TopicIdentity | None, stored: dict[int, int], shape: TopicIdentity
) -> TopicChange:
    """Compare the topic's identity stored with the offsets (``known``; None: never
    recorded, ``stored`` the offsets then) with the broker's ``shape`` now."""
    topic_id, partitions = shape
    if known is None:
        if stored and max(stored) >= partitions:
            return TopicChange(read_again=f"has {partitions} partitions, fewer than before")
        return TopicChange(record=True)
    if known[1] != partitions:
        return TopicChange(read_again=f"has {partitions} partitions, not {known[1]}")
    if known[0] and topic_id and known[0] != topic_id:
        return TopicChange(read_again="was recreated (another topic id)")
    # Offsets stored before the broker gave topic ids adopt the id. The reverse (an id,
    # then none) is a broker not saying, which proves nothing: the id stays, to tell a
    # recreated topic when the broker says again.
    return TopicChange(record=known[0] is None and topic_id is not None)


def parse(
    record: Any, validator: MessageValidator, verifier: MessageVerifier
) -> tuple[dict[str, Any] | None, str | None]:
    """The record's CloudEvent, or why it is refused: its signature is checked before
    anything else is believed, then its schema."""
    try:
        cloud_event = json.loads(record.value)
    except (TypeError, ValueError, UnicodeDecodeError):
        return None, "not JSON"
    refusal = verifier.refusal(record.value, cloud_event)
    if refusal is not None:
        return None, refusal
    errors = validator.errors(cloud_event)
    if errors:
        return None, "; ".join(errors[:3])[:500]
    if ".agency." not in cloud_event["type"]:
        return None, f"{cloud_event['type']} does not belong on an agency topic"
    return cloud_event, None


class AgencyProjector:
    """Keeps one agency's read model up to date from its topic."""

    def __init__(
        self,
        agency: str,
        *,
        database_url: str,
        bootstrap_servers: str,
        prefix: str,
        verifier: MessageVerifier,
        security: KafkaSecurity = PLAINTEXT,
        registry: CollectorRegistry | None = None,
        metrics: ProjectorMetrics | None = None,
        validator: MessageValidator | None = None,
        retention: AgencyRetention | None = None,
        purge_interval: float = PURGE_INTERVAL_SECONDS,
    ) -> None:
        self.agency = agency
        self.topic = agency_topic(prefix, agency)
        self.store = AgencyStore(database_url, agency, retention=retention)
        self.purge_interval = purge_interval
        self._next_purge = 0.0
        self.store.ensure_schema()
        self.validator = validator or MessageValidator()
        self.verifier = verifier
        self.security = security
        self.metrics = metrics or ProjectorMetrics(registry or CollectorRegistry())
        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id(prefix, agency)
        self.client_id = f"{prefix}-{agency}-projector"
        self.consumer = self._new_consumer()
        # The topic's (id, partitions) when its partitions were last assigned.
        self._assigned_shape: tuple[str | None, int] | None = None
        self._next_lookup = 0.0
        self._admin: KafkaAdminClient | None = None
        # Per partition, the offset the next record should have (a smaller one: truncated).
        self._expected: dict[int, int] = {}
        self.topic_restarts = 0
        self._dead_letter_producer: KafkaProducer | None = None
        self._conn: psycopg.Connection[Any] | None = None
        self.consumed = self.applied = self.duplicates = self.dead_letters = 0

    def _new_consumer(self) -> KafkaConsumer:
        return KafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group_id,
            client_id=self.client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
            max_poll_records=500,
            # The embedded broker answers a fetch only when this wait ends, even with data
            # ready; it bounds the added latency (Apache Kafka answers as soon as data is there).
            fetch_max_wait_ms=50,
            # The relay makes the topics; a consumer that made one would give it the
            # broker's default partition count (the embedded broker's front stops it anyway).
            allow_auto_create_topics=False,
            metadata_max_age_ms=METADATA_MAX_AGE_MS,
            **self.security.options(),
        )

    def _topic_shape(self) -> tuple[str | None, int] | None:
        """The topic's (id, partitions) on the broker now, None if it has none; a lookup
        (with the admin client's start) that does not end in time is a broker error."""
        known_admin = self._admin

        def look() -> tuple[KafkaAdminClient, dict[str, TopicShape]]:
            admin = known_admin or KafkaAdminClient(
                bootstrap_servers=self.bootstrap_servers,
                client_id=f"{self.client_id}-admin",
                **self.security.options(),
            )
            return admin, describe_topics(admin)

        try:
            self._admin, shapes = within(ADMIN_TIMEOUT_SECONDS, look, "a topic lookup")
        except KafkaError:
            self._admin = None
            if known_admin is not None:
                threading.Thread(target=known_admin.close, daemon=True).start()
            raise
        shape = shapes.get(self.topic)
        return None if shape is None else (shape.topic_id, shape.partitions)

    def _restart(
        self, partitions: list[int] | None, why: str, shape: tuple[str | None, int]
    ) -> None:
        """Forget the stored offsets of ``partitions`` (None: all), counted and logged."""
        self.store.restart_topic(self.topic, shape[0], shape[1], forget=partitions)
        count = shape[1] if partitions is None else len(partitions)
        self.topic_restarts += count
        self.metrics.topic_restarts.labels(self.agency).inc(count)
        log.warning(
            "%s: %s %s; reading %s again from the beginning (applied messages are skipped by id)",
            self.agency,
            self.topic,
            why,
            "all its partitions" if partitions is None else f"partitions {partitions}",
        )

    def check_topic(self) -> bool:
        """Forget the stored offsets if the topic is not the one they were stored for
        (whether it was not)."""
        shape = self._topic_shape()
        if shape is None:
            return False  # gone again; checked on the next assignment
        known = self.store.topic_identity(self.topic)
        stored = self.store.stored_offsets(self.topic) if known is None else {}
        change = topic_change(known, stored, shape)
        if change.read_again is not None:
            self._restart(None, change.read_again, shape)
            return True
        if change.record:
            self.store.restart_topic(self.topic, shape[0], shape[1], forget=[])
        return False

    def follow_topic(self, *, again: bool = False) -> None:
        """Assign the topic's partitions if it appeared or changed since the last look
        (``again``: in any case, seeking to the offsets stored)."""
        self._next_lookup = time.monotonic() + METADATA_MAX_AGE_MS / 1000
        shape = self._topic_shape()
        if shape == self._assigned_shape and not again:
            return
        self._assigned_shape = shape
        if shape is None:
            log.info("%s: waiting for the relay to create %s", self.agency, self.topic)
            self.consumer.assign([])
            return
        partitions = [TopicPartition(self.topic, number) for number in range(shape[1])]
        self.consumer.assign(partitions)
        self.seek_to_stored(partitions)

    def seek_to_stored(self, assigned: Any) -> None:
        self.check_topic()
        stored = self.store.stored_offsets(self.topic)
        for partition in assigned:
            if partition.partition in stored:
                self.consumer.seek(partition, stored[partition.partition])
                self._expected[partition.partition] = stored[partition.partition]
            else:
                self.consumer.seek_to_beginning(partition)
                self._expected[partition.partition] = 0
        log.info(
            "%s: assigned partitions %s, resuming at %s",
            self.agency,
            sorted(p.partition for p in assigned),
            stored,
        )

    def _dead_letter(self, record: Any, reason: str) -> None:
        if self._dead_letter_producer is None:
            self._dead_letter_producer = KafkaProducer(
                bootstrap_servers=self.bootstrap_servers,
                enable_idempotence=True,
                acks="all",
                **self.security.options(),
            )
        self._dead_letter_producer.send(
            dead_letter_topic(self.topic),
            key=record.key,
            value=record.value,
            headers=[
                ("simpul-error", reason.encode()),
                ("simpul-origin", f"{record.topic}/{record.partition}/{record.offset}".encode()),
            ],
        ).get(timeout=30)

    def apply_records(self, records: list[Any]) -> None:
        """Apply one partition's records in one transaction, dead-lettering poison first."""
        messages = []
        for record in records:
            cloud_event, error = parse(record, self.validator, self.verifier)
            if error is not None:
                self._dead_letter(record, error)
                log.warning(
                    "%s: dead-lettered %s/%d/%d: %s",
                    self.agency,
                    record.topic,
                    record.partition,
                    record.offset,
                    error,
                )
            messages.append(
                ConsumedMessage(record.topic, record.partition, record.offset, cloud_event, error)
            )
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.store.database_url, row_factory=dict_row)
        try:
            with self._conn.transaction():
                result = self.store.apply(self._conn, messages)
        except UNAPPLICABLE as error:
            log.warning(
                "%s: a batch of %d could not be applied (%s); applying one by one",
                self.agency,
                len(messages),
                type(error).__name__,
            )
            result = self._apply_one_by_one(records, messages)
        self.consumed += len(records)
        self.applied += result.applied
        self.duplicates += result.duplicates
        self.dead_letters += result.dead_letters
        self.metrics.applied.labels(self.agency).inc(result.applied)
        self.metrics.duplicates.labels(self.agency).inc(result.duplicates)
        self.metrics.dead_letters.labels(self.agency).inc(result.dead_letters)
        newest = max((m.cloud_event["time"] for m in messages if m.cloud_event), default=None)
        if newest is not None:
            behind = datetime.now(UTC) - datetime.fromisoformat(newest)
            self.metrics.lag_seconds.labels(self.agency).set(max(behind.total_seconds(), 0))
        log.info(
            "%s: consumed %d, applied %d, duplicates skipped %d, dead letters %d "
            "(totals: %d consumed, %d applied, %d duplicates, %d dead letters)",
            self.agency,
            len(records),
            result.applied,
            result.duplicates,
            result.dead_letters,
            self.consumed,
            self.applied,
            self.duplicates,
            self.dead_letters,
        )

    def _apply_one_by_one(self, records: list[Any], messages: list[ConsumedMessage]) -> Applied:
        """Apply each message under a savepoint; dead-letter those that cannot be applied.

        A message can pass its schema and still fail in the database (a sequence
        beyond 64 bits, say). Were the whole batch retried, it would fail forever
        and block its partition; here only that message is set aside.
        """
        assert self._conn is not None
        applied = duplicates = dead = 0
        with self._conn.transaction():
            for record, message in zip(records, messages, strict=True):
                try:
                    with self._conn.transaction():
                        result = self.store.apply(self._conn, [message])
                except UNAPPLICABLE as error:
                    # The error's class only: its text may quote the message's data.
                    reason = f"could not be applied: {type(error).__name__}"
                    self._dead_letter(record, reason)
                    log.warning(
                        "%s: dead-lettered %s/%d/%d: %s",
                        self.agency,
                        record.topic,
                        record.partition,
                        record.offset,
                        reason,
                    )
                    result = self.store.apply(
                        self._conn, [dataclasses.replace(message, cloud_event=None, error=reason)]
                    )
                applied += result.applied
                duplicates += result.duplicates
                dead += result.dead_letters
        return Applied(applied, duplicates, dead)

    def poll_once(self, timeout_ms: int = 500) -> int:
        batches = self.consumer.poll(timeout_ms=timeout_ms)
        if not batches:
            self.metrics.lag_seconds.labels(self.agency).set(0)
            self._update_lag()
            return 0
        offsets = {}
        count = 0
        for partition, records in sorted(batches.items(), key=lambda item: item[0].partition):
            expected = self._expected.get(partition.partition, 0)
            if records[0].offset < expected:
                # The broker reset the position (the offset was out of range): truncated.
                shape = self._topic_shape() or (None, len(self._expected))
                self._restart([partition.partition], "was truncated", shape)
            self.apply_records(records)
            self._expected[partition.partition] = records[-1].offset + 1
            offsets[partition] = OffsetAndMetadata(records[-1].offset + 1, "", -1)
            count += len(records)
        # A hint for tools, PostgreSQL holds the truth: never waited for, since a commit
        # waits for the group's coordinator, which a restarted broker may take long to be.
        try:
            self.consumer.commit_async(offsets, callback=self._committed)
        except Exception as error:  # noqa: BLE001 - e.g. a rebalance; the database decides
            self._committed(offsets, error)
        self._update_lag()
        return count

    def _committed(self, _offsets: Any, outcome: Any) -> None:
        if isinstance(outcome, BaseException):
            log.info("%s: Kafka offset commit skipped (%s)", self.agency, type(outcome).__name__)

    def lag(self) -> int:
        """Messages known to be on the topic and not applied yet.

        From the high-water marks of the last fetches, which the embedded broker
        reports short (one past the first message of a partition's last write), so
        this can show less lag than there is, never more, and never below 0. Whether
        everything arrived is decided by the messages applied, never by this figure.
        """
        behind = 0
        for partition in self.consumer.assignment():
            highwater = self.consumer.highwater(partition)
            if highwater is not None:
                behind += max(highwater - self.consumer.position(partition), 0)
        return behind

    def _update_lag(self) -> None:
        self.metrics.lag_messages.labels(self.agency).set(self.lag())

    def subscribe(self) -> None:
        """Start reading the topic (or waiting for it), from the offsets stored."""
        self.follow_topic()

    def purge_when_due(self) -> None:
        """Remove the personal data past its retention, at most once per ``purge_interval``."""
        if time.monotonic() < self._next_purge:
            return
        purged = self.store.purge(datetime.now(UTC))
        self._next_purge = time.monotonic() + self.purge_interval
        if purged.cases or purged.referrals:
            log.info(
                "%s: retention passed: personal data removed from %d cases and %d referrals",
                self.agency,
                purged.cases,
                purged.referrals,
            )

    def run(self, stop: threading.Event) -> None:
        """Poll and apply until ``stop``, outlasting outages of the database and the broker.

        After a failure the consumer may have fetched past what was committed to
        PostgreSQL, so it goes back to the stored offsets before polling again.
        """
        self.subscribe()
        rewind = False
        try:
            while not stop.is_set():
                try:
                    if rewind or time.monotonic() >= self._next_lookup:
                        self.follow_topic(again=rewind)
                        rewind = False
                    if not self.consumer.assignment():
                        stop.wait(0.5)  # the topic is not there (yet)
                        continue
                    self.poll_once()
                    self.purge_when_due()
                except psycopg.OperationalError as error:
                    log.warning(
                        "%s: database unavailable (%s); retrying", self.agency, type(error).__name__
                    )
                    self._close_connection()
                    rewind = True
                    stop.wait(1.0)
                except KafkaError as error:
                    log.warning(
                        "%s: broker unavailable (%s); retrying", self.agency, type(error).__name__
                    )
                    rewind = True
                    stop.wait(1.0)
        finally:
            self.close()

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        self._close_connection()
        self.consumer.close()
        if self._admin is not None:
            self._admin.close()
        if self._dead_letter_producer is not None:
            self._dead_letter_producer.close()


def run_projectors(
    agencies: list[str],
    *,
    database_url: str,
    bootstrap_servers: str,
    prefix: str,
    stop: threading.Event,
    registry: CollectorRegistry,
    verifier: MessageVerifier,
    security: KafkaSecurity = PLAINTEXT,
    retention: AgencyRetention | None = None,
    purge_interval: float = PURGE_INTERVAL_SECONDS,
) -> None:
    """One projector thread per agency, until ``stop`` is set or one of them fails."""
    metrics = ProjectorMetrics(registry)
    validator = MessageValidator()
    failures: dict[str, BaseException] = {}

    def run_one(agency: str) -> None:
        try:
            AgencyProjector(
                agency,
                database_url=database_url,
                bootstrap_servers=bootstrap_servers,
                prefix=prefix,
                verifier=verifier,
                security=security,
                metrics=metrics,
                validator=validator,
                retention=retention,
                purge_interval=purge_interval,
            ).run(stop)
        except BaseException as error:  # noqa: BLE001 - reported, then the process stops
            failures[agency] = error
            log.error("%s projector stopped: %s", agency, type(error).__name__)
            stop.set()

    threads = [
        threading.Thread(target=run_one, args=(agency,), name=f"projector-{agency}")
        for agency in agencies
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except KeyboardInterrupt:
        stop.set()
        for thread in threads:
            thread.join()
    if failures:
        raise RuntimeError(f"projectors failed: {sorted(failures)}")
