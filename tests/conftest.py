from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateways.eventstore.environment import postgres_env
from services.cases import Cases
from services.settings import Settings
from tests.support.infrastructure import PostgresServer, kafka_bootstrap_servers, postgres_server


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
def kafka_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with kafka_bootstrap_servers(tmp_path_factory.mktemp("kafka")) as servers:
        yield servers


@pytest.fixture
def test_settings() -> Settings:
    return Settings(database_pool_size=4, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def pg_cases(database_url: str, test_settings: Settings) -> Iterator[Cases]:
    app = Cases(env=postgres_env(database_url, test_settings))
    yield app
    app.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        layer = Path(str(item.fspath)).parent.name
        if layer in ("unit", "integration", "e2e") and not any(
            item.iter_markers(name=layer)
        ):
            item.add_marker(getattr(pytest.mark, layer))


_FAULT_REPORTS: list[str] = []


@pytest.fixture
def fault_report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Fault tests say what they did and what they checked; the lines are printed at the end."""

    def say(line: str) -> None:
        _FAULT_REPORTS.append(f"{request.node.name}: {line}")

    return say


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FAULT_REPORTS:
        terminalreporter.section("fault injection: what was done and checked")
        for line in _FAULT_REPORTS:
            terminalreporter.write_line(line)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak", action="store_true", help="long fault-injection runs (make soak)"
    )
