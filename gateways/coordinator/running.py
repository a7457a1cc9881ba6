"""Running the coordinator projection: follow the store, rebuild it, wait for it to catch up.

Freshness: the projector is woken by the store's NOTIFY on every insert, so on
an idle system the list reflects a command within a few tens of milliseconds
and, if a notification is missed, within the poll interval
(``SIMPUL_PROJECTION_POLL_SECONDS``, 1 s). Under load the lag is what the
``simpul_projection_seconds_behind`` gauge on ``/metrics`` shows.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import start_http_server

from gateways.coordinator.projector import CaseHistories, CoordinatorProjection
from gateways.coordinator.store import DEFAULT_SCHEMA, CoordinatorStore
from gateways.projection_runner import BatchingProjectionRunner, RunnerMetrics
from services.cases import Cases
from services.settings import Settings

REBUILD_SCHEMA = f"{DEFAULT_SCHEMA}_rebuild"


def coordinator_store(cases: Cases, schema: str = DEFAULT_SCHEMA) -> CoordinatorStore:
    """The coordinator's tables, reached through the event store's own connection pool."""
    datastore: Any = getattr(cases.recorder, "datastore", None)
    if datastore is None:
        raise RuntimeError("the coordinator's views need the PostgreSQL event store")
    return CoordinatorStore(datastore.get_connection, schema=schema)


def coordinator_runner(
    cases: Cases,
    settings: Settings,
    *,
    schema: str = DEFAULT_SCHEMA,
    metrics: RunnerMetrics | None = None,
    batch_size: int | None = None,
) -> BatchingProjectionRunner:
    store = coordinator_store(cases, schema)
    store.create_tables()
    projection = CoordinatorProjection(
        store,
        CaseHistories(cases, max_cases=settings.projection_history_cache_cases),
        cases.profiles,
    )
    return BatchingProjectionRunner(
        cases,
        projection,
        batch_size=batch_size or settings.projection_batch_size,
        poll_interval=settings.projection_poll_seconds,
        metrics=metrics,
    )


def follow(cases: Cases, settings: Settings, stop: threading.Event) -> None:
    """`simpul project --coordinator`: apply new events until ``stop``; lag on /metrics."""
    metrics = RunnerMetrics(CoordinatorProjection.name)
    if settings.projection_metrics_port:
        start_http_server(
            settings.projection_metrics_port,
            addr=settings.projection_metrics_host,
            registry=metrics.registry,
        )
    coordinator_runner(cases, settings, metrics=metrics).run(stop)


@dataclass(frozen=True)
class RebuildResult:
    events: int
    cases: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def rebuild(
    cases: Cases,
    settings: Settings,
    *,
    on_start: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
    target_schema: str = DEFAULT_SCHEMA,
    batch_size: int | None = None,
) -> RebuildResult:
    """Project every stored event into fresh tables, then swap them in for the live ones.

    The live tables keep serving until the swap, and a projector following
    them reads on from the rebuilt position afterwards.
    """
    staging = coordinator_store(cases, f"{target_schema}_rebuild")
    staging.drop()
    runner = coordinator_runner(
        cases,
        settings,
        schema=staging.schema,
        batch_size=batch_size or settings.projection_rebuild_batch_size,
    )
    if on_start is not None:
        on_start(cases.recorder.max_notification_id() or 0)
    started = time.perf_counter()
    events = runner.catch_up(progress)
    seconds = time.perf_counter() - started
    staging.replace(target_schema)
    return RebuildResult(events=events, cases=staging.case_count(), seconds=seconds)


def wait_until_caught_up(
    cases: Cases, store: CoordinatorStore, *, timeout: float = 30.0, interval: float = 0.05
) -> int:
    """Poll until the projection has applied every event now in the store; its position.

    For tests and scripts that issue a command and then read the coordinator's
    eventually consistent views.
    """
    head = cases.recorder.max_notification_id() or 0
    deadline = time.monotonic() + timeout
    while True:
        position = store.position(cases.name)
        if position >= head:
            return position
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the coordinator projection is at {position}, the store at {head}, "
                f"after {timeout} s"
            )
        time.sleep(interval)


def replay(context: Any, progress: Any) -> int:
    """`simpul replay`'s entry for the coordinator views (see gateways/replay.py)."""
    result = rebuild(
        context.cases, context.settings, on_start=progress.expect, progress=progress.advance
    )
    return result.events
