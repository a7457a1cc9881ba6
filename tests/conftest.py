from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from gateways.eventstore.environment import postgres_env
from gateways.kafka.security import KafkaSecurity
from gateways.runtime import api
from gateways.tokens import TokenService
from services.cases import Cases
from services.settings import Settings
from tests.support.infrastructure import (
    TEST_SEARCH_KEY,
    KafkaEndpoint,
    PostgresServer,
    kafka_broker,
    postgres_server,
)
from tests.support.lifecycle import Headers
from tests.support.sop_walk import following_the_coordinator_views


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    with postgres_server(tmp_path_factory.mktemp("pg")) as server:
        yield server


@pytest.fixture
def database_url(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database for one test."""
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)


@pytest.fixture(scope="session")
def kafka_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaEndpoint]:
    """The session's broker, which (embedded) requires TLS and SCRAM, as `simpul run`'s does."""
    with kafka_broker(tmp_path_factory.mktemp("kafka")) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def kafka_servers(kafka_endpoint: KafkaEndpoint) -> str:
    return kafka_endpoint.bootstrap_servers


@pytest.fixture(scope="session")
def kafka_security(kafka_endpoint: KafkaEndpoint) -> KafkaSecurity:
    return kafka_endpoint.security


@pytest.fixture(scope="session")
def plain_kafka_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A broker without authentication, for the benchmarks (they measure speed, and their
    raw baselines are plain clients)."""
    with kafka_broker(tmp_path_factory.mktemp("plain-kafka"), authentication=False) as endpoint:
        yield endpoint.bootstrap_servers


@pytest.fixture
def test_settings() -> Settings:
    return Settings(database_pool_size=4, search_key=TEST_SEARCH_KEY, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def pg_cases(database_url: str, test_settings: Settings) -> Iterator[Cases]:
    app = Cases(env=postgres_env(database_url, test_settings))
    yield app
    app.close()


@pytest.fixture
def tokens() -> TokenService:
    """Mints and verifies: tests play the minting process and the API at once."""
    return TokenService.minting(Ed25519PrivateKey.generate())


@pytest.fixture
def client(pg_cases: Cases, tokens: TokenService, test_settings: Settings) -> Iterator[TestClient]:
    with TestClient(api(pg_cases, tokens, settings=test_settings)) as test_client:
        yield test_client


@pytest.fixture
def auth(tokens: TokenService) -> Headers:
    """Headers for a caller: auth("intake_officer"), auth("agency_officer", agency="police")."""

    def headers(
        role: str,
        *,
        agency: str = "uptd_ppa",
        user: str | None = None,
        district: str = "luwu-utara",
        **extra: str,
    ) -> dict[str, str]:
        actor = Actor(user or f"{role}.{agency}", Role(role), Agency(agency), district)
        return {"Authorization": f"Bearer {tokens.mint(actor)}", **extra}

    return headers


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        layer = Path(str(item.fspath)).parent.name
        if layer in ("unit", "integration", "e2e") and not any(item.iter_markers(name=layer)):
            item.add_marker(getattr(pytest.mark, layer))


_FAULT_REPORTS: list[str] = []
_FAULT_TOTALS = {"tests": 0, "kills": 0, "commands": 0, "seconds": 0.0}


@pytest.fixture
def fault_report(request: pytest.FixtureRequest) -> Callable[..., None]:
    """Fault tests say what they did and what they checked; the lines are printed at the end.

    ``kills`` (processes SIGKILLed) and ``commands`` (commands acknowledged) add up
    into the closing totals line.
    """

    def say(line: str, *, kills: int = 0, commands: int = 0) -> None:
        _FAULT_REPORTS.append(f"{request.node.name}: {line}")
        _FAULT_TOTALS["kills"] += kills
        _FAULT_TOTALS["commands"] += commands

    return say


@pytest.fixture
def soaking(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--soak"))


@pytest.fixture
def rounds(soaking: bool) -> Callable[[int, int], int]:
    """``rounds(short, soak)``: how many times to inject a fault, short in `make test`,
    long in `make soak` (pytest -m fault --soak)."""

    def choose(short: int, soak: int) -> int:
        return soak if soaking else short

    return choose


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and "fault" in report.keywords:
        _FAULT_TOTALS["tests"] += 1
        _FAULT_TOTALS["seconds"] += report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FAULT_REPORTS:
        terminalreporter.section("fault injection: what was done and checked")
        for line in _FAULT_REPORTS:
            terminalreporter.write_line(line)
        soak = " (soak sizes)" if terminalreporter.config.getoption("--soak") else ""
        terminalreporter.write_line(
            f"fault injection totals{soak}: {_FAULT_TOTALS['tests']} fault tests, "
            f"{_FAULT_TOTALS['kills']} processes SIGKILLed, "
            f"{_FAULT_TOTALS['commands']} commands acknowledged, "
            f"{_FAULT_TOTALS['seconds']:.0f} s in fault tests"
        )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", action="store_true", help="long fault-injection runs (make soak)")


@pytest.fixture
def caught_up(pg_cases: Cases, test_settings: Settings) -> Iterator[Callable[[], int]]:
    """The coordinator's views, followed by a projector as `simpul project --coordinator`
    runs beside the API; the value waits until it has applied everything recorded."""
    with following_the_coordinator_views(pg_cases, test_settings) as wait:
        yield wait
