"""50 concurrent writers on the same and on different cases, with a reader tailing the store
and the relay publishing meanwhile: no gap, no lost update, per-case order on every topic."""

import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from gateways.kafka.messages import agency_topic, cases_topic
from gateways.kafka.relay import recorded_position
from gateways.kafka.security import KafkaSecurity
from gateways.runtime import api
from gateways.tokens import TokenService
from services.cases import Cases
from services.settings import Settings
from tests.e2e.conftest import ServiceProcess, read_topic, wait_until
from tests.support.faults import check_topic, derived_messages
from tests.support.lifecycle import open_referred_case
from tests.support.servers import serving

WRITERS = 50
HOT_WRITERS = 25
COOL_CASES = 5
REFERRED_TO = ("police", "health")
# 50 writers share one token and one address: the request limits (tests/api/test_limits_api.py)
# would answer 429, so they are off here.
UNLIMITED = {"api_rate_per_address": 0, "api_rate_per_user": 0}


@pytest.mark.fault
def test_concurrent_writers_lose_no_update_and_the_store_has_no_gap(
    pg_cases: Cases,
    kafka_settings: Settings,
    services: Callable[..., ServiceProcess],
    rounds: Callable[[int, int], int],
    fault_report,
):
    commands_each = rounds(3, 12)
    relay = services("relay", log_name="relay")
    tokens = TokenService.minting(Ed25519PrivateKey.generate())
    headers = {
        "Authorization": "Bearer "
        + tokens.mint(Actor("coordinator", Role.COORDINATOR, Agency.UPTD_PPA, "luwu-utara"))
    }
    accepted: Counter[str] = Counter()
    assessments: Counter[str] = Counter()
    conflicts = Counter()
    errors: list[str] = []
    tail: list[tuple[int, str, int]] = []
    stop_tail = threading.Event()

    def follow_the_store() -> None:
        position = 0
        while not stop_tail.is_set():
            for n in pg_cases.recorder.select_notifications(
                position, 500, inclusive_of_start=False
            ):
                tail.append((n.id, str(n.originator_id), n.originator_version))
                position = n.id
            time.sleep(0.01)

    settings = Settings(**UNLIMITED, _env_file=None)  # type: ignore[arg-type]
    with (
        serving(api(pg_cases, tokens, settings=settings)) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        referrals = dict(zip(REFERRED_TO, ("legal_process", "medical_care"), strict=True))
        case_ids = [open_referred_case(http, headers, referrals) for _ in range(1 + COOL_CASES)]
        hot, cool = case_ids[0], case_ids[1:]
        start = threading.Barrier(WRITERS)

        def write(case_id: str) -> None:
            with httpx.Client(base_url=url, timeout=60) as client:
                start.wait()
                for number in range(commands_each):
                    # Accompaniment stays in the office; a legal assessment reaches the police.
                    path, body = (
                        ("accompaniment", {"activity": f"note {uuid.uuid4()}"})
                        if (number % 2 == 0)
                        else (
                            "assessments",
                            {"kind": "further", "domain": "legal", "findings": "statement taken"},
                        )
                    )
                    while True:
                        version = client.get(f"/api/v1/cases/{case_id}", headers=headers).json()[
                            "version"
                        ]
                        response = client.post(
                            f"/api/v1/cases/{case_id}/{path}",
                            json=body,
                            headers={**headers, "If-Match": f'"{version}"'},
                        )
                        if response.status_code == 200:
                            accepted[case_id] += 1
                            assessments[case_id] += path == "assessments"
                            break
                        if response.status_code == 409:
                            conflicts[case_id] += 1
                            continue
                        errors.append(f"{response.status_code} {response.text}")
                        return

        reader = threading.Thread(target=follow_the_store)
        reader.start()
        targets = [hot] * HOT_WRITERS + [cool[i % COOL_CASES] for i in range(WRITERS - HOT_WRITERS)]
        writers = [threading.Thread(target=write, args=(case_id,)) for case_id in targets]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(timeout=300)
        time.sleep(0.5)
        stop_tail.set()
        reader.join()

    versions: dict[str, list[int]] = defaultdict(list)
    for _, case_id, version in tail:
        versions[case_id].append(version)
    ids = [notification_id for notification_id, _, _ in tail]
    head = pg_cases.recorder.max_notification_id()
    assert errors == []
    assert ids == sorted(ids) and len(set(ids)) == len(ids), "the tail never goes back or repeats"
    assert len(tail) == len(pg_cases.recorder.select_notifications(None, 100_000)), "no gap"
    setup = 3 + len(REFERRED_TO)
    for case_id in case_ids:
        # The setup events per case, then one per accepted command: none lost.
        assert versions[case_id] == list(range(1, setup + 1 + accepted[case_id])), case_id
    assert accepted[hot] == HOT_WRITERS * commands_each
    assert conflicts[hot] > 0, "the hot case really was contended"

    # The relay published meanwhile: every topic holds the store's events, per case in order.
    prefix = kafka_settings.kafka_topic_prefix
    wait_until(
        lambda: recorded_position(str(kafka_settings.database_url), prefix) >= (head or 0),
        timeout=120,
        interval=0.5,
        what="the relay to publish everything",
    )
    derived = derived_messages(pg_cases, prefix)
    topic_lines = []
    for topic in [cases_topic(prefix)] + [agency_topic(prefix, a) for a in REFERRED_TO]:
        check = check_topic(
            read_topic(
                str(kafka_settings.kafka_bootstrap_servers),
                topic,
                at_least=len(derived[topic]),
                settle_seconds=0.5,
                security=KafkaSecurity.from_settings(kafka_settings),
            ),
            derived[topic],
        )
        assert check.problems == [], (topic, check.problems)
        if topic == agency_topic(prefix, "police"):
            updates = Counter(
                message["subject"]
                for message in derived[topic]
                if message["type"].endswith(".case.updated.v1")
            )
            assert updates == assessments, "each legal assessment reaches the police"
        topic_lines.append(
            f"{topic.split('.', 1)[1]}: {check.distinct} messages of "
            f"{check.cases} cases, {check.repeats} repeats"
        )
    assert "published " in relay.output()

    fault_report(
        f"{WRITERS} writers ({HOT_WRITERS} on one case) with If-Match, {sum(accepted.values())} "
        f"commands accepted, {sum(conflicts.values())} lost a race and retried after 409 "
        f"({conflicts[hot]} on the hot case); every case's versions contiguous, none lost; the "
        f"tailing reader saw all {len(tail)} events in order (notification ids up to {head}: "
        f"rolled-back inserts leave ids unused, never events); the relay, running throughout, "
        f"published every stored event with per-case order kept (" + "; ".join(topic_lines) + ")",
        commands=sum(accepted.values()),
    )
