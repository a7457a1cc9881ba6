"""Figure: command latency p99 with 1,000,000 events stored, against 10,000 stored."""

import time
from itertools import cycle

from gateways.bench.filler import fill
from gateways.bench.harness import Figure, percentile
from gateways.bench.workload import accompany, open_cases
from gateways.eventstore.environment import postgres_env
from services.cases import Cases
from services.settings import Settings


def command_p99(cases: Cases, commands: int, case_count: int = 20) -> float:
    targets = cycle(open_cases(cases, case_count))
    for number in range(50):
        accompany(cases, next(targets), number)
    latencies = []
    for number in range(commands):
        started = time.perf_counter()
        accompany(cases, next(targets), number)
        latencies.append(time.perf_counter() - started)
    return percentile(latencies, 0.99)


def measure(small_url: str, large_url: str, *, large_events: int = 1_000_000,
            small_events: int = 10_000, commands: int = 2_000) -> Figure:
    p99s = {}
    for label, url, events in (("small", small_url, small_events), ("large", large_url, large_events)):
        cases = Cases(env=postgres_env(url, Settings(database_pool_size=4)))
        try:
            fill(cases, events)
            p99s[label] = command_p99(cases, commands)
        finally:
            cases.close()
    return Figure.at_most(
        f"growth: command p99 at {large_events:,} vs {small_events:,} events",
        p99s["large"] * 1000, p99s["small"] * 1000, "ms", 1.2,
    )
