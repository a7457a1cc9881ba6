import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateways import runtime
from gateways.api.server import server_config
from gateways.embedded.ports import free_port
from gateways.tokens import TokenService
from services.cases import Cases
from services.settings import Settings

Deployed = Callable[[FastAPI, Settings], AbstractContextManager[str]]


@contextmanager
def _deployed(app: FastAPI, settings: Settings) -> Iterator[str]:
    """The app served as `simpul serve` serves it, on a free port; yields its base URL."""
    port = free_port()
    config = server_config(
        app, settings, host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def deployed() -> Deployed:
    return _deployed


@pytest.fixture
def client_under_matrix(
    database_url: str, tokens: TokenService
) -> Iterator[Callable[[Path], TestClient]]:
    """``client_under_matrix(path)``: the API of a deployment whose SIMPUL_SHARING_MATRIX
    names ``path``, composed as `simpul serve` composes it."""
    with ExitStack() as stack:

        def client(matrix: Path) -> TestClient:
            settings = Settings(sharing_matrix=matrix, database_pool_size=4, _env_file=None)  # type: ignore[call-arg]
            cases = runtime.open_cases(settings, database_url)
            stack.callback(cases.close)
            app = runtime.api(cases, tokens, runtime.sharing_matrix(settings), settings=settings)
            return stack.enter_context(TestClient(app))

        yield client


@pytest.fixture
def browser(pg_cases: Cases, tokens: TokenService, test_settings: Settings) -> Iterator[TestClient]:
    """The API and pages over https, as a browser sends the Secure cookies only there (or
    on localhost)."""
    app = runtime.api(pg_cases, tokens, settings=test_settings)
    with TestClient(app, base_url="https://testserver") as client:
        yield client
