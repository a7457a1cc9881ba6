"""Helpers for the fault-injection tests: a steady command load, what the store implies
for each topic, and the checks of a topic's contents (no gap, per-case order, repeats)."""

import random
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self
from uuid import UUID

from gateways.kafka.publication import Publication
from services.cases import Cases, CommandResult
from services.sharing import SharingPolicy, load_matrix
from tests.support.referred_case import busy_case, consented_case, deliver, handed_over_case, refer


class AcknowledgedCommands:
    """The case service, counting every command that returned (was acknowledged) and the
    case version it answered with. Stands in for ``Cases`` in the scenario helpers."""

    def __init__(self, cases: Cases) -> None:
        self._cases = cases
        self._lock = threading.Lock()
        self.count = 0
        self.versions: dict[UUID, int] = {}

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._cases, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            if isinstance(result, CommandResult):
                with self._lock:
                    self.count += 1
                    known = self.versions.get(result.case_id, 0)
                    self.versions[result.case_id] = max(known, result.version)
            return result

        return call


def referred_case(cases: Any, rng: random.Random) -> None:
    case_id = consented_case(cases)
    police = refer(cases, case_id, "police", "legal_process")
    refer(cases, case_id, "health", "medical_care")
    if rng.random() < 0.5:
        deliver(cases, case_id, police, "police")


SCENARIOS: list[tuple[Callable[[Any, random.Random], Any], int]] = [
    (referred_case, 6),
    (lambda cases, _rng: busy_case(cases), 2),
    (lambda cases, _rng: handed_over_case(cases), 1),
]


@dataclass
class SteadyLoad:
    """Commands in a background thread until stopped: whole case scenarios, one after another,
    with a pause between them; every acknowledged command is counted."""

    cases: Cases
    seed: int = 7
    pause: float = 0.1
    acknowledged: AcknowledgedCommands = field(init=False)
    failures: list[BaseException] = field(default_factory=list)
    scenarios: int = 0

    def __post_init__(self) -> None:
        self.acknowledged = AcknowledgedCommands(self.cases)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="steady-load", daemon=True)

    def _run(self) -> None:
        rng = random.Random(self.seed)
        functions, weights = zip(*SCENARIOS, strict=True)
        try:
            while not self._stop.wait(self.pause):
                rng.choices(functions, weights)[0](self.acknowledged, rng)
                self.scenarios += 1
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.failures.append(error)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=120)

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def derived_messages(cases: Cases, prefix: str) -> dict[str, list[dict[str, Any]]]:
    """Every CloudEvent the store implies, by topic, in store order (one pass over the store)."""
    publication = Publication(cases, SharingPolicy(load_matrix()), prefix)
    by_topic: dict[str, list[dict[str, Any]]] = defaultdict(list)
    position = 0
    while True:
        notifications = cases.recorder.select_notifications(
            position, 1000, inclusive_of_start=False
        )
        if not notifications:
            return dict(by_topic)
        for notification in notifications:
            for message in publication.messages(
                notification.id, cases.mapper.to_domain_event(notification)
            ):
                by_topic[message.topic].append(message.cloud_event)
        position = notifications[-1].id


@dataclass(frozen=True)
class TopicCheck:
    """What a topic held, compared with what the store implies for it."""

    messages: int
    distinct: int
    repeats: int
    missing: list[str]
    unexpected: list[str]
    order_problems: list[str]
    repeat_problems: list[str]
    cases: int

    @property
    def problems(self) -> list[str]:
        return (
            [f"missing {i}" for i in self.missing[:5]]
            + [f"unexpected {i}" for i in self.unexpected[:5]]
            + self.order_problems[:5]
            + self.repeat_problems[:5]
        )


def check_topic(read: list[dict[str, Any]], expected: list[dict[str, Any]]) -> TopicCheck:
    """Compare a topic's messages (as ``read_topic`` returns them) with the store's.

    - no gap: every expected id is on the topic, and nothing else is;
    - repeats (at-least-once: a relay killed before recording its position sends
      the batch again) are byte-identical, so a consumer drops them by id;
    - per-case order: all of a case's messages are in one partition, and with
      repeats dropped their (case version, index) strictly ascend in offset order.
    """
    expected_ids = {message["id"] for message in expected}
    first: dict[str, bytes] = {}
    repeats = 0
    repeat_problems = []
    by_case: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message in sorted(read, key=lambda m: (m["partition"], m["offset"])):
        event = message["event"]
        if not isinstance(event, dict) or "id" not in event:
            repeat_problems.append(
                f"an undecodable message at {message['partition']}/{message['offset']}"
            )
            continue
        if event["id"] in first:
            repeats += 1
            if first[event["id"]] != message["raw"]:
                repeat_problems.append(f"{event['id']} repeated with other content")
            continue
        first[event["id"]] = message["raw"]
        by_case[event["subject"]].append(message)
    order_problems = []
    for case_id, messages in by_case.items():
        partitions = {m["partition"] for m in messages}
        if len(partitions) > 1:
            order_problems.append(f"case {case_id} spread over partitions {sorted(partitions)}")
        positions = [_position_in_case(m["event"]["id"]) for m in messages]
        if positions != sorted(positions) or len(set(positions)) != len(positions):
            order_problems.append(f"case {case_id} out of order: {positions[:20]}")
    return TopicCheck(
        messages=len(read),
        distinct=len(first),
        repeats=repeats,
        missing=sorted(expected_ids - first.keys()),
        unexpected=sorted(first.keys() - expected_ids),
        order_problems=order_problems,
        repeat_problems=repeat_problems,
        cases=len(by_case),
    )


def _position_in_case(message_id: str) -> tuple[int, int]:
    # "<case>:<version>" on the internal topic, "<case>:<version>:<agency>:<n>" on an agency's.
    parts = message_id.split(":")
    return int(parts[1]), int(parts[3]) if len(parts) > 3 else 0
