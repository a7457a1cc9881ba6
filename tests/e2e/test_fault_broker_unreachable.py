"""The broker unreachable for a while, behind a TCP proxy that refuses, blackholes or delays:
commands keep being accepted, the relay's lag grows, and once the broker is back the lag falls
to zero and every agency projection equals a rebuild."""

import random
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from gateways.cli.projections import projection_differences
from gateways.embedded.kafka import EmbeddedKafka
from gateways.embedded.ports import free_port
from gateways.kafka.messages import agency_topic, cases_topic
from gateways.kafka.relay import recorded_position
from gateways.kafka.security import KafkaSecurity
from gateways.readmodels.agency import schema_name
from services.cases import Cases
from services.settings import Settings
from services.sharing import load_matrix
from tests.e2e.conftest import ServiceProcess, read_topic, wait_until
from tests.support.faults import SteadyLoad, check_topic, derived_messages
from tests.support.infrastructure import TEST_PRINCIPAL
from tests.support.tcp_proxy import TcpProxy, tcp_proxy

AGENCIES = load_matrix().agencies


@dataclass
class BrokerBehindProxy:
    broker: EmbeddedKafka
    proxy: TcpProxy

    @property
    def bootstrap_servers(self) -> str:
        return self.proxy.address

    @property
    def security(self) -> KafkaSecurity:
        return self.broker.security(TEST_PRINCIPAL)


@pytest.fixture
def broker_behind_proxy(tmp_path: Path) -> Iterator[BrokerBehindProxy]:
    """A broker of this test's own that tells its clients to connect to the proxy, so every
    connection, not only the first, goes through it."""
    proxy_port = free_port()
    broker = EmbeddedKafka(
        tmp_path / "kafka",
        advertised_port=proxy_port,
        authentication=True,
        principals=[TEST_PRINCIPAL],
    ).start()
    try:
        with tcp_proxy(broker.port, listen_port=proxy_port) as proxy:
            yield BrokerBehindProxy(broker, proxy)
    finally:
        broker.stop()


def metric(port: str, name: str) -> float | None:
    """The sum of a metric's samples on a /metrics page; None while the page is unreachable."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as page:
            lines = page.read().decode().splitlines()
    except OSError:
        return None
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in lines
        if line.startswith(name) and not line.startswith("#")
    ]
    return sum(values) if values else None


def applied(database_url: str, agency: str) -> int:
    with psycopg.connect(database_url) as conn:
        return int(
            conn.execute(f"SELECT count(*) FROM {schema_name(agency)}.applied_messages").fetchone()[
                0
            ]
        )


# (what, how, whether publication stops while it lasts)
OUTAGES: list[tuple[str, Callable[[TcpProxy], None], bool]] = [
    ("broker gone (connections reset, new ones refused) for", TcpProxy.refuse, True),
    ("blackhole (connections open, nothing passes) for", TcpProxy.blackhole, True),
    ("every connection cut at once, then watched for", TcpProxy.cut, False),
    ("2 s delay on every chunk for", lambda proxy: proxy.delay(2.0), False),
]


@pytest.mark.fault
def test_an_unreachable_broker_delays_publication_but_loses_nothing_and_lag_returns_to_zero(
    pg_cases: Cases,
    kafka_settings: Settings,
    service_env: dict[str, str],
    services: Callable[..., ServiceProcess],
    broker_behind_proxy: BrokerBehindProxy,
    rounds: Callable[[int, int], int],
    soaking: bool,
    fault_report,
):
    outages = rounds(2, 12)
    database_url = str(kafka_settings.database_url)
    prefix = kafka_settings.kafka_topic_prefix
    proxy = broker_behind_proxy.proxy
    env = {
        "SIMPUL_KAFKA_BOOTSTRAP_SERVERS": broker_behind_proxy.bootstrap_servers,
        **broker_behind_proxy.security.environment(),
    }
    relay = services("relay", "--batch-size", "20", log_name="relay", env=env)
    projector = services("project", "--all-agencies", log_name="project", env=env)
    relay_port = service_env["SIMPUL_RELAY_METRICS_PORT"]
    projector_port = service_env["SIMPUL_PROJECTOR_METRICS_PORT"]
    rng = random.Random(3)
    lines = []

    def relay_lag() -> int:
        return (pg_cases.recorder.max_notification_id() or 0) - recorded_position(
            database_url, prefix
        )

    def caught_up() -> bool:
        if relay_lag() != 0:
            return False
        derived = derived_messages(pg_cases, prefix)
        return all(
            applied(database_url, agency) == len(derived.get(agency_topic(prefix, agency), []))
            for agency in AGENCIES
        )

    with SteadyLoad(pg_cases, seed=9, pause=0.3) as load:
        wait_until(
            lambda: "published " in relay.output() and "consumed " in projector.output(),
            timeout=120,
            what="the relay and projectors to work through the proxy",
        )
        for number in range(outages):
            name, start_outage, outage_blocks = OUTAGES[number % len(OUTAGES)]
            seconds = rng.uniform(15, 45) if soaking else 8.0
            commands_before = load.acknowledged.count
            lag_before = relay_lag()
            start_outage(proxy)
            deadline = time.monotonic() + seconds
            lag_during = []
            metric_during = []
            while time.monotonic() < deadline:
                time.sleep(0.5)
                lag_during.append(relay_lag())
                metric_during.append(metric(relay_port, "simpul_relay_lag_events"))
            accepted_during = load.acknowledged.count - commands_before
            proxy.delay(0.0)
            proxy.forward()
            restored = time.monotonic()
            wait_until(
                lambda: relay_lag() == 0,
                timeout=240,
                interval=0.5,
                what=f"the relay to catch up after: {name} {seconds:.0f} s",
            )
            relay_recovered = time.monotonic() - restored
            lines.append(
                f"{name} {seconds:.0f} s: {accepted_during} commands accepted meanwhile; "
                f"relay lag {lag_before} -> max {max(lag_during)} events (position table), "
                f"metric max {max((m or 0) for m in metric_during):.0f}; "
                f"relay caught up {relay_recovered:.1f} s after the broker came back"
            )
            assert not load.failures, load.failures
            assert accepted_during > 0, "commands are accepted while the broker is away"
            if outage_blocks:
                assert max(lag_during) > lag_before, "publication stopped meanwhile"
                shown = max((m or 0) for m in metric_during)
                assert shown >= max(lag_during) / 2, "the relay's lag metric shows it growing"
    assert not load.failures, load.failures

    wait_until(caught_up, timeout=240, interval=1, what="relay and projectors to catch up")
    wait_until(
        lambda: (
            metric(relay_port, "simpul_relay_lag_events") == 0
            and metric(projector_port, "simpul_projector_lag_messages") == 0
        ),
        timeout=60,
        what="the lag metrics to fall back to zero",
    )
    derived = derived_messages(pg_cases, prefix)
    servers = broker_behind_proxy.bootstrap_servers
    topic_lines = []
    for topic in [cases_topic(prefix)] + [agency_topic(prefix, a) for a in AGENCIES]:
        expected = derived.get(topic, [])
        if not expected:
            continue
        check = check_topic(
            read_topic(
                servers,
                topic,
                at_least=len(expected),
                settle_seconds=0.5,
                security=broker_behind_proxy.security,
            ),
            expected,
        )
        assert check.problems == [], (topic, check.problems)
        topic_lines.append(f"{topic.split('.', 1)[1]} {check.distinct}(+{check.repeats})")
    for agency in AGENCIES:
        assert projection_differences(kafka_settings, database_url, agency) == [], agency

    fault_report(
        f"{outages} broker outages through a TCP proxy under a steady load "
        f"({proxy.connections_accepted} connections accepted, {proxy.connections_cut} cut): "
        + "; ".join(lines)
        + f". Then: relay and projector lag metrics 0, topics hold every stored event in "
        f"per-case order (distinct(+repeats)): {', '.join(topic_lines)}; all {len(AGENCIES)} "
        f"agency projections equal a rebuild; {load.acknowledged.count} commands acknowledged",
        commands=load.acknowledged.count,
    )
