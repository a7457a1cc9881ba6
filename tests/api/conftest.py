import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
import uvicorn
from fastapi import FastAPI

from gateways.api.server import server_config
from gateways.embedded.ports import free_port
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
