"""Figure: rebuilding every projection from the store in one pass, against reading the rows raw.

The store holds realistic case lifecycles (reports, referrals to several
agencies, deliveries, monitoring, termination), so every projection has work.
The rebuild feeds the coordinator's views and every agency's inbox from one
read of the store, as `simpul replay` does.
"""

from benchmarks.harness import Figure
from benchmarks.lifecycles import fill as fill_lifecycles
from benchmarks.lifecycles import raw_read_rate
from gateways import runtime
from gateways.cli.projections import Rebuilding
from gateways.projectors.rebuild import rebuild
from services.settings import Settings


def measure(database_url: str, *, events: int = 20_000) -> Figure:
    settings = Settings(_env_file=None)
    cases = runtime.open_cases(settings, database_url)
    try:
        stored = fill_lifecycles(cases, events)
        raw_read_rate(database_url, settings.projection_rebuild_batch_size)
        _, raw_rate = raw_read_rate(database_url, settings.projection_rebuild_batch_size)
        rebuilding = Rebuilding(settings, cases)
        targets = [rebuilding.coordinator(), rebuilding.agencies()]
        agencies = len(runtime.sharing_matrix(settings).agencies)
        result = rebuild(cases, targets, batch_size=settings.projection_rebuild_batch_size)
    finally:
        cases.close()
    return Figure.at_least(
        f"projection rebuild, coordinator + {agencies} agencies in one pass, {stored:,} events",
        stored / result.seconds,
        raw_rate,
        "events/s",
        0.5,
        seconds=result.seconds,
        built=list(result.built),
    )
