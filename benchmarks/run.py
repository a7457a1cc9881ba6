"""`simpul bench`: every speed figure, each as a ratio to a raw baseline measured in the same run.

Runs on an embedded durable PostgreSQL and the embedded broker, or on the
configured ones (SIMPUL_DATABASE_URL names a server where scratch databases
may be created; SIMPUL_KAFKA_BOOTSTRAP_SERVERS the brokers). Prints a table
and writes bench-results.json with every figure and the machine's core count.
"""

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks import (
    command_rate,
    growth,
    http_load,
    memory_figure,
    propagation_figure,
    rebuild_figure,
    search_figure,
    timeline_figure,
    upload_figure,
)
from benchmarks.harness import BenchDatabases, Figure, table, write_results
from gateways.embedded.kafka import EmbeddedKafka
from services.settings import Settings


@dataclass(frozen=True)
class Sizes:
    commands: int
    http_seconds: float
    propagation_events: int
    rebuild_events: int
    timeline_events: int
    growth_small: int
    growth_large: int
    growth_commands: int
    search_cases: int = 100_000
    uploads: int = 200


FULL = Sizes(1500, 8.0, 1000, 20_000, 1000, 10_000, 1_000_000, 2000, 100_000, 200)
QUICK = Sizes(200, 2.0, 60, 1_000, 200, 2_000, 20_000, 200, 5_000, 30)


def run_all(settings: Settings, sizes: Sizes, results: Path) -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="simpul-bench-") as scratch:
        work = Path(scratch)
        admin_url = str(settings.database_url) if settings.database_url else None
        databases = BenchDatabases(work, admin_url)
        broker = None
        servers = settings.kafka_bootstrap_servers
        if servers is None:
            broker = EmbeddedKafka(work / "kafka").start()
            servers = broker.bootstrap_servers
        started = time.perf_counter()
        try:

            def step(name: str, measure: Callable[[], list[Figure]]) -> None:
                print(f"measuring {name} ...", flush=True)
                figures.extend(measure())

            def in_fresh(
                label: str, measure: Callable[[str], Figure | list[Figure]]
            ) -> list[Figure]:
                with databases.fresh(label) as url:
                    measured = measure(url)
                return measured if isinstance(measured, list) else [measured]

            step(
                "command rate",
                lambda: in_fresh(
                    "commands", lambda url: command_rate.measure(url, commands=sizes.commands)
                ),
            )
            step(
                "32 concurrent HTTP clients",
                lambda: in_fresh(
                    "http", lambda url: http_load.measure(url, seconds=sizes.http_seconds)
                ),
            )
            step(
                "propagation",
                lambda: in_fresh(
                    "propagation",
                    lambda url: propagation_figure.measure(
                        databases.admin_url, url, servers, events=sizes.propagation_events
                    ),
                ),
            )
            step(
                "projection rebuild",
                lambda: in_fresh(
                    "rebuild", lambda url: rebuild_figure.measure(url, events=sizes.rebuild_events)
                ),
            )
            step(
                "timeline",
                lambda: in_fresh(
                    "timeline",
                    lambda url: timeline_figure.measure(url, events=sizes.timeline_events),
                ),
            )
            step(
                "document uploads",
                lambda: in_fresh(
                    "uploads", lambda url: upload_figure.measure(url, uploads=sizes.uploads)
                ),
            )

            step(
                "office search",
                lambda: in_fresh(
                    "search", lambda url: search_figure.measure(url, cases=sizes.search_cases)
                ),
            )

            def growth_and_memory() -> list[Figure]:
                with databases.fresh("small") as small, databases.fresh("large") as large:
                    return [
                        growth.measure(
                            small,
                            large,
                            small_events=sizes.growth_small,
                            large_events=sizes.growth_large,
                            commands=sizes.growth_commands,
                        ),
                        memory_figure.measure(large, sizes.growth_large),
                    ]

            step("growth and rebuild memory", growth_and_memory)
        finally:
            if broker is not None:
                broker.stop()
            databases.close()
        write_results(
            results,
            figures,
            {
                "sizes": sizes.__dict__,
                "seconds": round(time.perf_counter() - started, 1),
                "postgres": "configured" if admin_url else "embedded, durable",
                "broker": "configured" if broker is None else "embedded Tansu",
            },
        )
    return figures


def main(*, quick: bool = False, results: Path = Path("bench-results.json")) -> int:
    figures = run_all(Settings(), QUICK if quick else FULL, results)
    print()
    print(table(figures))
    missed = [figure.name for figure in figures if figure.met is False]
    print(f"\nwritten to {results}; targets missed: {', '.join(missed) or 'none'}")
    return 0
