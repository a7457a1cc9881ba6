"""SIGKILL the relay, the agency projectors and the coordinator projector at random moments
while commands keep arriving: nothing acknowledged is lost, nothing is applied twice, every
topic holds the store's events in per-case order, and every projection equals a rebuild."""

import random
import re
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from gateways.cli.projections import projection_differences
from gateways.embedded.ports import free_port
from gateways.kafka.contract import MessageValidator
from gateways.kafka.messages import agency_topic, cases_topic
from gateways.kafka.relay import recorded_position
from gateways.kafka.security import KafkaSecurity
from gateways.projectors.coordinator import coordinator_runner
from gateways.readmodels.agency import schema_name
from gateways.runtime import coordinator_store
from services.cases import Cases
from services.settings import Settings
from services.sharing import load_matrix
from tests.e2e.conftest import ServiceProcess, read_topic, wait_until
from tests.support.faults import SteadyLoad, check_topic, derived_messages

PROJECTOR_GROUPS = {
    "project police+health": ("police", "health"),
    "project the other agencies": tuple(
        agency for agency in load_matrix().agencies if agency not in ("police", "health")
    ),
}
AGENCIES = tuple(agency for group in PROJECTOR_GROUPS.values() for agency in group)
DUPLICATES_SKIPPED = re.compile(r"duplicates skipped (\d+)")


class Victim:
    """A service process the test SIGKILLs and restarts; ``ready`` once it has worked since."""

    def __init__(
        self,
        name: str,
        process: ServiceProcess,
        weight: int,
        worked_since: Callable[["Victim"], bool],
        on_restart: Callable[["Victim"], None] = lambda _victim: None,
    ) -> None:
        self.name = name
        self.process = process
        self.weight = weight
        self.worked_since = worked_since
        self.on_restart = on_restart
        self.kills = 0
        self.log_offset = 0
        self.mark: Any = 0

    def ready(self) -> bool:
        return self.worked_since(self)

    def log_since_start(self) -> str:
        with self.process.log_path.open("rb") as log:
            log.seek(self.log_offset)
            return log.read().decode(errors="replace")

    def kill_and_restart(self) -> None:
        self.process.kill()
        self.kills += 1
        self.log_offset = self.process.log_path.stat().st_size
        self.on_restart(self)
        self.process.start()


def logged_since_start(marker: str) -> Callable[[Victim], bool]:
    return lambda victim: marker in victim.log_since_start()


def agency_counts(database_url: str, agency: str) -> tuple[int, int, int]:
    """(applied message ids, sum of per-case message counts, dead letters) of one projection."""
    schema = schema_name(agency)
    with psycopg.connect(database_url) as conn:
        applied = conn.execute(f"SELECT count(*) FROM {schema}.applied_messages").fetchone()[0]
        counted = conn.execute(
            f"SELECT coalesce(sum(message_count), 0) FROM {schema}.cases"
        ).fetchone()[0]
        dead = conn.execute(f"SELECT count(*) FROM {schema}.dead_letters").fetchone()[0]
    return int(applied), int(counted), int(dead)


def stored_versions(database_url: str) -> dict[Any, tuple[int, int]]:
    """(event count, highest version) of every aggregate in the store."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT originator_id, count(*), max(originator_version) "
            "FROM cases_events GROUP BY originator_id"
        ).fetchall()
    return {row[0]: (int(row[1]), int(row[2])) for row in rows}


@pytest.mark.fault
def test_sigkilling_relay_and_projectors_under_load_loses_nothing_and_applies_nothing_twice(
    pg_cases: Cases,
    kafka_settings: Settings,
    service_env: dict[str, str],
    test_settings: Settings,
    services: Callable[..., ServiceProcess],
    rounds: Callable[[int, int], int],
    fault_report,
):
    # At least this many in all, and each process at least so often: a projector is ready
    # to be killed again only ~11 s after a kill (its group waits out the dead member).
    kills_wanted, kills_each = rounds(16, 150), rounds(1, 25)
    database_url = str(kafka_settings.database_url)
    prefix = kafka_settings.kafka_topic_prefix
    servers = str(kafka_settings.kafka_bootstrap_servers)
    # Small batches: more kills land between sending a batch and recording its position.
    service_env["SIMPUL_PROJECTION_BATCH_SIZE"] = "7"
    coordinator_view = coordinator_store(pg_cases)

    def coordinator_moved(victim: Victim) -> bool:
        return coordinator_view.position(pg_cases.name) > victim.mark

    def remember_coordinator_position(victim: Victim) -> None:
        victim.mark = coordinator_view.position(pg_cases.name)

    victims = [
        Victim(
            "relay",
            services("relay", "--batch-size", "7", log_name="relay"),
            4,
            logged_since_start("published "),
        )
    ]
    for name, agencies in PROJECTOR_GROUPS.items():
        arguments = [part for agency in agencies for part in ("--agency", agency)]
        process = services(
            "project",
            *arguments,
            log_name=name.replace(" ", "-"),
            env={"SIMPUL_PROJECTOR_METRICS_PORT": str(free_port())},
        )
        victims.append(Victim(name, process, 2, logged_since_start("consumed ")))
    victims.append(
        Victim(
            "coordinator projector",
            services("project", "--coordinator", log_name="coordinator"),
            3,
            coordinator_moved,
            on_restart=remember_coordinator_position,
        )
    )
    rng = random.Random(11)
    started = time.monotonic()

    with SteadyLoad(pg_cases, seed=5, pause=0.3) as load:
        wait_until(
            lambda: all(victim.ready() for victim in victims),
            timeout=120,
            what="every process to do some work",
        )
        while (
            sum(victim.kills for victim in victims) < kills_wanted
            or min(victim.kills for victim in victims) < kills_each
        ):
            time.sleep(rng.uniform(0.1, 1.0))
            wanted = (
                victims
                if sum(v.kills for v in victims) < kills_wanted
                else [victim for victim in victims if victim.kills < kills_each]
            )
            ready = wait_until(
                lambda wanted=wanted: [v for v in wanted if v.ready()],
                timeout=120,
                what="a process that worked since its restart",
            )
            # Each process at least once, then at random, the less killed so far the likelier.
            choice = [victim for victim in ready if victim.kills == 0] or ready
            victim = rng.choices(choice, [v.weight / (1 + v.kills) for v in choice])[0]
            victim.kill_and_restart()
            assert not load.failures, load.failures
        # Let every restarted process work a little under load before the load stops.
        wait_until(
            lambda: all(victim.ready() for victim in victims),
            timeout=120,
            what="every process to work after its last restart",
        )
    load_seconds = time.monotonic() - started
    assert not load.failures, load.failures

    # Everything catches up with the store...
    head = pg_cases.recorder.max_notification_id() or 0
    wait_until(
        lambda: recorded_position(database_url, prefix) >= head,
        timeout=180,
        interval=0.5,
        what="the relay to publish up to the store's head",
    )
    wait_until(
        lambda: coordinator_view.position(pg_cases.name) >= head,
        timeout=180,
        interval=0.5,
        what="the coordinator projector to reach the store's head",
    )
    derived = derived_messages(pg_cases, prefix)
    expected = {agency: derived.get(agency_topic(prefix, agency), []) for agency in AGENCIES}
    wait_until(
        lambda: all(
            agency_counts(database_url, agency)[0] == len(expected[agency]) for agency in AGENCIES
        ),
        timeout=180,
        interval=0.5,
        what="every agency projection to apply every message the store implies",
    )

    # ...having lost no acknowledged command: each acknowledged case has exactly its events.
    stored = stored_versions(database_url)
    acknowledged = load.acknowledged
    for case_id, version in acknowledged.versions.items():
        assert stored[case_id] == (version, version), case_id
    stored_events = sum(stored[case_id][0] for case_id in acknowledged.versions)
    assert stored_events == acknowledged.count, "one stored event per acknowledged command"

    # Each topic: every stored event, repeats only byte-identical, per-case order kept.
    topics = [cases_topic(prefix)] + [agency_topic(prefix, agency) for agency in AGENCIES]
    checks = {}
    validator = MessageValidator()
    for topic in topics:
        messages = (
            read_topic(
                servers,
                topic,
                at_least=len(derived.get(topic, [])),
                settle_seconds=0.5,
                security=KafkaSecurity.from_settings(kafka_settings),
            )
            if derived.get(topic)
            else []
        )
        checks[topic] = check_topic(messages, derived.get(topic, []))
        assert checks[topic].problems == [], (topic, checks[topic].problems)
        assert all(validator.errors(m["event"]) == [] for m in messages), topic
    internal = checks[cases_topic(prefix)]
    assert internal.distinct >= stored_events, "every acknowledged command's event was published"

    # Each agency projection: applied once each (ids and per-case counts), none dead-lettered,
    # equal to a rebuild from scratch.
    applied = {}
    for agency in AGENCIES:
        applied[agency] = agency_counts(database_url, agency)
        assert applied[agency] == (len(expected[agency]), len(expected[agency]), 0), agency
        assert projection_differences(kafka_settings, database_url, agency) == [], agency
    skipped = sum(
        int(count)
        for victim in victims
        for count in DUPLICATES_SKIPPED.findall(victim.process.output())
    )

    # The coordinator's views: equal to a rebuild from the store.
    check = coordinator_store(pg_cases, "coordinator_check")
    coordinator_runner(pg_cases, test_settings, check, batch_size=1000).catch_up()
    assert coordinator_view.position(pg_cases.name) == check.position(pg_cases.name) == head
    assert coordinator_view.rows() == check.rows()

    kills = Counter({victim.name: victim.kills for victim in victims})
    total_kills = sum(kills.values())
    per_agency = ", ".join(
        f"{agency} {applied[agency][0]} (+{checks[agency_topic(prefix, agency)].repeats})"
        for agency in AGENCIES
        if expected[agency]
    )
    fault_report(
        f"{total_kills} SIGKILLs at random moments over {load_seconds:.0f} s of steady load ("
        + ", ".join(f"{name} {count}" for name, count in kills.items())
        + f"), each restarted at once; {acknowledged.count} commands acknowledged in "
        f"{load.scenarios} case scenarios ({len(acknowledged.versions)} cases): the store holds "
        f"exactly {stored_events} events for them; relay caught up to head {head}; internal topic "
        f"{internal.distinct} distinct events = every stored case event, {internal.repeats} "
        f"republished repeats (byte-identical), per-case order held on all {len(topics)} topics; "
        f"agency messages (all valid) applied once each = derived from the store (+repeats on "
        f"the topic): "
        f"{per_agency}; projectors skipped {skipped} redelivered messages by id, 0 dead letters, "
        f"each of {len(AGENCIES)} agency projections equals a rebuild; coordinator views "
        f"({check.case_count()} cases) equal a rebuild at position {head}",
        kills=total_kills,
        commands=acknowledged.count,
    )
