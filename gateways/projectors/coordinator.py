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

A case the projection cannot apply is set aside (gateways/projectors/quarantine.py)
and every other case goes on: its rows stay as they were, ``coordinator.quarantine``
says where and why, the error is logged with the case id only and counted
(``simpul_projection_cases_set_aside``), and the case is tried again on its next
event, when the projector starts, and in every rebuild (`simpul projections
quarantine --coordinator` lists them).
"""

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from prometheus_client import start_http_server

from gateways.projectors.histories import CaseHistories
from gateways.projectors.quarantine import SetAside, is_outage, reason_for
from gateways.projectors.runner import Batch, Recorded, Runner, RunnerMetrics
from gateways.readmodels.coordinator import CaseChange, CoordinatorStore
from gateways.search_keys import search_keys
from projections.case_search import NikDigest, search_rows
from projections.open_cases import CASE_TOPICS, open_case_rows
from projections.time_standards_dashboard import step_rows
from services.cases import Cases
from services.profiles import ProfileBook
from services.settings import Settings

log = logging.getLogger("simpul.projections")


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
        *,
        nik_digest: NikDigest,
        on_set_aside: Callable[[int], object] | None = None,
    ) -> None:
        self.nik_digest = nik_digest
        self.store = store
        self.histories = histories
        self.profiles = profiles
        self.application_name = application_name
        self.on_set_aside = on_set_aside
        self.set_aside_count = 0

    def position(self) -> int:
        return self.store.position(self.application_name)

    def apply(self, batch: Batch) -> None:
        unreadable = {item.case_id: item for item in batch.undecodable}
        changes: list[CaseChange] = []
        failed = list(unreadable.values())
        for case_id, recorded in _recorded_by_case(batch.recorded).items():
            if case_id in unreadable:
                continue  # its history has a gap until the unreadable event can be read
            try:
                changes.append(self.change(case_id, [item.event for item in recorded]))
            except Exception as error:
                if is_outage(error):
                    raise
                last = recorded[-1]
                failed.append(SetAside(case_id, last.position, last.topic, reason_for(error)))
                continue
            changes[-1] = _placed(changes[-1], recorded[-1])
        refused = self.store.write(
            changes, self.application_name, after=batch.after, to=batch.to, set_aside=failed
        )
        self._report([*failed, *refused])

    def retry_set_aside(self) -> int:
        """Fold and write again every case set aside; how many applied this time."""
        waiting = self.store.quarantined()
        changes: list[CaseChange] = []
        failed: list[SetAside] = []
        for item in waiting:
            try:
                history = list(self.histories.application.events.get(item.case_id))
                changes.append(_placed(self.change_from(history), item))
            except Exception as error:
                if is_outage(error):
                    raise
                failed.append(
                    SetAside(item.case_id, item.position, item.event_topic, reason_for(error))
                )
        refused = self.store.write(
            changes, self.application_name, after=None, to=0, set_aside=failed
        )
        return len(waiting) - len(failed) - len(refused)

    def change(self, case_id: UUID, new_events: Sequence[Any]) -> CaseChange:
        return self.change_from(self.histories.extended(case_id, new_events))

    def change_from(self, history: Sequence[Any]) -> CaseChange:
        rows = open_case_rows(history)
        district = rows.case.district
        steps = (
            step_rows(self.profiles.profile(district), history) if district in self.profiles else []
        )
        return CaseChange(rows=rows, steps=steps, search=search_rows(history, self.nik_digest))

    def _report(self, set_aside: Sequence[SetAside]) -> None:
        for item in set_aside:
            # The case id and the error's type only: the event may hold personal data.
            log.error(
                "%s: case %s set aside at position %d (%s): %s; every other case goes on",
                self.name,
                item.case_id,
                item.position,
                item.event_topic,
                item.reason,
            )
        self.set_aside_count += len(set_aside)
        if set_aside and self.on_set_aside is not None:
            self.on_set_aside(len(set_aside))


def _recorded_by_case(recorded: Sequence[Recorded]) -> dict[UUID, list[Recorded]]:
    grouped: dict[UUID, list[Recorded]] = {}
    for item in recorded:
        grouped.setdefault(item.event.originator_id, []).append(item)
    return grouped


def _placed(change: CaseChange, newest: Recorded | SetAside) -> CaseChange:
    if isinstance(newest, Recorded):
        return dataclasses.replace(change, position=newest.position, event_topic=newest.topic)
    return dataclasses.replace(change, position=newest.position, event_topic=newest.event_topic)


def coordinator_projection(
    cases: Cases,
    settings: Settings,
    store: CoordinatorStore,
    *,
    metrics: RunnerMetrics | None = None,
) -> CoordinatorProjection:
    store.create_tables()
    return CoordinatorProjection(
        store,
        CaseHistories(cases, max_cases=settings.projection_history_cache_cases),
        cases.profiles,
        cases.name,
        nik_digest=search_keys(settings).nik_digest,
        on_set_aside=metrics.set_aside if metrics is not None else None,
    )


def coordinator_runner(
    cases: Cases,
    settings: Settings,
    store: CoordinatorStore,
    *,
    metrics: RunnerMetrics | None = None,
    batch_size: int | None = None,
) -> Runner:
    projection = coordinator_projection(cases, settings, store, metrics=metrics)
    return _runner(cases, settings, projection, metrics=metrics, batch_size=batch_size)


def _runner(
    cases: Cases,
    settings: Settings,
    projection: CoordinatorProjection,
    *,
    metrics: RunnerMetrics | None,
    batch_size: int | None = None,
) -> Runner:
    return Runner(
        cases,
        [projection],
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
    projection = coordinator_projection(cases, settings, store, metrics=metrics)
    try:
        applied = projection.retry_set_aside()
        if applied:
            log.info("%s: %d cases set aside earlier apply now", projection.name, applied)
    except Exception as error:  # noqa: BLE001 - the runner below waits the database out
        log.error("%s: cases set aside not retried (%s)", projection.name, type(error).__name__)
    _runner(cases, settings, projection, metrics=metrics).run(stop)


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

    @property
    def set_aside_count(self) -> int:
        return self.projection.set_aside_count

    def finish(self) -> str:
        target = self.live.schema
        self.staging.replace(target)
        built = f"coordinator: {self.staging.case_count()} cases"
        if self.set_aside_count:
            built += (
                f", {self.set_aside_count} set aside "
                "(listed by `simpul projections quarantine --coordinator`)"
            )
        return built


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
