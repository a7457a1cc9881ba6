"""Figure: rebuilding every projection from the store, against reading and decoding the rows.

The store holds realistic case lifecycles (reports, referrals to several
agencies, deliveries, monitoring, termination), so every projection has work.
"""

import time

from gateways.bench.harness import Figure
from gateways.coordinator.bench import fill as fill_lifecycles
from gateways.coordinator.bench import raw_read_rate
from gateways.coordinator.running import rebuild as rebuild_coordinator
from gateways.eventstore.environment import postgres_env
from gateways.kafka.commands import rebuild_projection
from services.cases import Cases
from services.settings import Settings
from services.sharing import load_matrix


def measure(database_url: str, *, events: int = 20_000) -> Figure:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    cases = Cases(env=postgres_env(database_url, settings))
    try:
        stored = fill_lifecycles(cases, events)
        raw_read_rate(database_url, settings.projection_rebuild_batch_size)
        _, raw_rate = raw_read_rate(database_url, settings.projection_rebuild_batch_size)
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        rebuild_coordinator(cases, settings)
        seconds["coordinator"] = time.perf_counter() - started
        for agency in load_matrix().agencies:
            started = time.perf_counter()
            rebuild_projection(settings, database_url, agency, show_progress=False)
            seconds[f"agency {agency}"] = time.perf_counter() - started
    finally:
        cases.close()
    total = sum(seconds.values())
    return Figure.at_least(
        f"projection rebuild, all {len(seconds)} projections, {stored:,} events",
        stored / total, raw_rate, "events/s", 0.5,
        per_projection_events_per_second={name: stored / s for name, s in seconds.items()},
    )
