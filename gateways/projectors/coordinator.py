"""The coordinator projection: the open-case list and the time-standard dashboard, per batch.

It follows the event store directly rather than the Kafka topics. The
coordinating office owns the store, so there is no hop to add, no broker for
the office's own work to depend on, and the view is as fresh as a read of the
store can make it.

Each batch is grouped by case. A touched case is refolded from its whole
history (the time standards need all of it), from ``CaseHistories``.
Freshness: the projector is woken by the store's NOTIFY on every insert, so on
an idle system the list reflects a command within a few tens of milliseconds
and, if a notification is missed, within the poll interval
(``SIMPUL_PROJECTION_POLL_SECONDS``, 1 s). Under load the lag is what the
``simpul_projection_seconds_behind`` gauge on ``/metrics`` shows.
"""

import threading
import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from prometheus_client import start_http_server

from gateways.projectors.histories import CaseHistories, by_case
from gateways.projectors.runner import Batch, Runner, RunnerMetrics
from gateways.readmodels.coordinator import CaseChange, CoordinatorStore
from projections.open_cases import CASE_TOPICS, open_case_rows
from projections.time_standards_dashboard import step_rows
from services.cases import Cases
from services.profiles import ProfileBook
from services.settings import Settings


class CoordinatorProjection:
    """The coordinating office's views of all its cases, one transaction per batch."""

    name = "coordinator"
    topics = CASE_TOPICS

    def __init__(
        self,
        store: CoordinatorStore,
        histories: CaseHistories,
        profiles: ProfileBook,
        application_name: str,
    ) -> None:
        self.store = store
        self.histories = histories
        self.profiles = profiles
        self.application_name = application_name

    def position(self) -> int:
        return self.store.position(self.application_name)

    def apply(self, batch: Batch) -> None:
        changes = [
            self.change(case_id, new_events)
            for case_id, new_events in by_case(batch.events).items()
        ]
        self.store.write(changes, self.application_name, after=batch.after, to=batch.to)

    def change(self, case_id: UUID, new_events: Sequence[Any]) -> CaseChange:
        history = self.histories.extended(case_id, new_events)
        rows = open_case_rows(history)
        district = rows.case.district
        steps = (
            step_rows(self.profiles.profile(district), history) if district in self.profiles else []
        )
        return CaseChange(rows=rows, steps=steps)


def coordinator_projection(
    cases: Cases, settings: Settings, store: CoordinatorStore
) -> CoordinatorProjection:
    store.create_tables()
    return CoordinatorProjection(
        store,
        CaseHistories(cases, max_cases=settings.projection_history_cache_cases),
        cases.profiles,
        cases.name,
    )


def coordinator_runner(
    cases: Cases,
    settings: Settings,
    store: CoordinatorStore,
    *,
    metrics: RunnerMetrics | None = None,
    batch_size: int | None = None,
) -> Runner:
    return Runner(
        cases,
        [coordinator_projection(cases, settings, store)],
        batch_size=batch_size or settings.projection_batch_size,
        poll_interval=settings.projection_poll_seconds,
        metrics=metrics,
    )


def follow(
    cases: Cases, settings: Settings, store: CoordinatorStore, stop: threading.Event
) -> None:
    """`simpul project --coordinator`: apply new events until ``stop``; lag on /metrics."""
    metrics = RunnerMetrics(CoordinatorProjection.name)
    if settings.projection_metrics_port:
        start_http_server(
            settings.projection_metrics_port,
            addr=settings.projection_metrics_host,
            registry=metrics.registry,
        )
    coordinator_runner(cases, settings, store, metrics=metrics).run(stop)


class CoordinatorRebuild:
    """A rebuild of the coordinator's views: fresh tables beside the live ones, swapped in.

    The live tables keep serving until the swap, and a projector following
    them reads on from the rebuilt position afterwards.
    """

    def __init__(self, cases: Cases, settings: Settings, live: CoordinatorStore) -> None:
        self.live = live
        self.staging = CoordinatorStore(live.connect, schema=f"{live.schema}_rebuild")
        self.staging.drop()
        self.projection = coordinator_projection(cases, settings, self.staging)
        self.name = self.projection.name
        self.topics = self.projection.topics

    def position(self) -> int:
        return self.projection.position()

    def apply(self, batch: Batch) -> None:
        self.projection.apply(batch)

    def finish(self) -> str:
        target = self.live.schema
        self.staging.replace(target)
        return f"coordinator: {self.staging.case_count()} cases"


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
