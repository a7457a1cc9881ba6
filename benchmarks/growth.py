"""Figure: command latency p99 with 1,000,000 events stored, against 10,000 stored.

Both stores are filled first; then rounds of commands alternate between them,
so drift in the machine's load falls on both sides alike.
"""

import time
from itertools import cycle

from benchmarks.filler import fill
from benchmarks.harness import Figure, percentile
from benchmarks.workload import accompany, open_cases
from gateways.eventstore.environment import postgres_env
from services.cases import Cases
from services.settings import Settings

ROUNDS = 10


def measure(
    small_url: str,
    large_url: str,
    *,
    large_events: int = 1_000_000,
    small_events: int = 10_000,
    commands: int = 2_000,
    case_count: int = 20,
) -> Figure:
    stores = {
        "small": Cases(env=postgres_env(small_url, Settings(database_pool_size=4))),
        "large": Cases(env=postgres_env(large_url, Settings(database_pool_size=4))),
    }
    try:
        fill(stores["small"], small_events)
        fill(stores["large"], large_events)
        targets = {name: cycle(open_cases(cases, case_count)) for name, cases in stores.items()}
        latencies: dict[str, list[float]] = {"small": [], "large": []}
        for name, cases in stores.items():
            for number in range(50):
                accompany(cases, next(targets[name]), number)
        for round_number in range(ROUNDS):
            for name, cases in stores.items():
                for number in range(commands // ROUNDS):
                    started = time.perf_counter()
                    accompany(cases, next(targets[name]), round_number * commands + number)
                    latencies[name].append(time.perf_counter() - started)
    finally:
        for cases in stores.values():
            cases.close()
    return Figure.at_most(
        f"growth: command p99 at {large_events:,} vs {small_events:,} events",
        percentile(latencies["large"], 0.99) * 1000,
        percentile(latencies["small"], 0.99) * 1000,
        "ms",
        1.2,
        p50_large_ms=percentile(latencies["large"], 0.5) * 1000,
        p50_small_ms=percentile(latencies["small"], 0.5) * 1000,
    )
