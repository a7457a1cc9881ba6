"""Rebuilding projections: one pass over the store feeds every projection being rebuilt.

Each target is a follower that builds beside the live projection and, once
the runner has caught up, ``finish``es: swaps its rebuilt tables in (or keeps
them for comparison) and says what it built. The store is read and decoded
once, however many projections are rebuilt.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from gateways.projectors.runner import Follower, Runner
from services.cases import Cases


class RebuildTarget(Follower, Protocol):
    @property
    def set_aside_count(self) -> int:
        """Cases it could not build (gateways/projectors/quarantine.py); the others are built."""
        ...

    def finish(self) -> str:
        """Put the rebuilt projection in place; one line on what was built."""
        ...


@dataclass(frozen=True)
class RebuildResult:
    events: int
    seconds: float
    built: tuple[str, ...]
    set_aside: int = 0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def rebuild(
    cases: Cases,
    targets: Sequence[RebuildTarget],
    *,
    batch_size: int,
    on_start: Callable[[int], object] | None = None,
    progress: Callable[[int], object] | None = None,
) -> RebuildResult:
    """Feed every stored event to every target in one pass, then finish each."""
    runner = Runner(cases, targets, batch_size=batch_size)
    if on_start is not None:
        on_start(cases.recorder.max_notification_id() or 0)
    started = time.perf_counter()
    events = runner.catch_up(progress)
    seconds = time.perf_counter() - started
    built = tuple(target.finish() for target in targets)
    set_aside = sum(target.set_aside_count for target in targets)
    return RebuildResult(events=events, seconds=seconds, built=built, set_aside=set_aside)
