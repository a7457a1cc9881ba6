"""Figure: commit -> visible in an agency projection, against raw broker and database latency.

Ours comes from ``measure_propagation`` (real relay and projector processes).
The baseline, on the same broker and server in the same run, is what the
path cannot avoid: one produce -> consume round trip (a consumer with the
projector's fetch settings) plus one raw INSERT + COMMIT.
"""

import threading
import time
import uuid

import psycopg
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from benchmarks.harness import Figure, percentile, summary
from benchmarks.propagation import measure_propagation
from benchmarks.workload import RAW_INSERT, RAW_TABLE
from services.settings import Settings


def broker_round_trips(servers: str, count: int, rate: float) -> list[float]:
    topic = f"bench-roundtrip-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=servers)
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.close()
    producer = KafkaProducer(
        bootstrap_servers=servers, acks="all", enable_idempotence=True, linger_ms=2
    )
    consumer = KafkaConsumer(
        bootstrap_servers=servers, fetch_max_wait_ms=50, enable_auto_commit=False
    )
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    consumer.seek_to_end(partition)
    sent: dict[bytes, float] = {}
    received: dict[bytes, float] = {}
    done = threading.Event()

    def consume() -> None:
        while not done.is_set():
            for records in consumer.poll(timeout_ms=100).values():
                now = time.perf_counter()
                for record in records:
                    received.setdefault(record.key, now)

    thread = threading.Thread(target=consume)
    thread.start()
    try:
        for number in range(count):
            key = str(number).encode()
            sent[key] = time.perf_counter()
            producer.send(topic, key=key, value=b"x" * 400)
            producer.flush()
            time.sleep(1 / rate)
        deadline = time.monotonic() + 60
        while len(received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        done.set()
        thread.join()
        producer.close()
        consumer.close()
    return [received[key] - sent[key] for key in sent if key in received]


def insert_latencies(database_url: str, count: int) -> list[float]:
    latencies = []
    originator = uuid.uuid4()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(RAW_TABLE)
        for version in range(1, count + 1):
            started = time.perf_counter()
            conn.execute(RAW_INSERT, (originator, version, "bench", b"x" * 400), prepare=True)
            latencies.append(time.perf_counter() - started)
    return latencies


def measure(
    admin_url: str, database_url: str, servers: str, *, events: int = 1000, rate: float = 50.0
) -> Figure:
    settings = Settings(database_url=admin_url, kafka_bootstrap_servers=servers, _env_file=None)
    ours = measure_propagation(settings, events=events, rate=rate, agency="police")
    trips = broker_round_trips(servers, events, rate)
    inserts = insert_latencies(database_url, events)
    baseline_p99 = percentile(trips, 0.99) + percentile(inserts, 0.99)
    ours_summary = ours.summary()
    return Figure.at_most(
        f"propagation p99, {events} events at {rate:g}/s",
        ours_summary["p99_ms"],
        baseline_p99 * 1000,
        "ms",
        3.0,
        ours_p50_ms=ours_summary["median_ms"],
        broker_round_trip_ms={k: v * 1000 for k, v in summary(trips).items() if k != "count"},
        insert_ms={k: v * 1000 for k, v in summary(inserts).items() if k != "count"},
    )
