"""A real `simpul project --coordinator` process, for tests that crash or poison it."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

from gateways.embedded.ports import free_port
from tests.support.infrastructure import TEST_SEARCH_KEY


class Projector:
    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.log_path = data_dir / "projector.log"
        self._log: IO[bytes] | None = None
        self.metrics_port = free_port()
        self.environment = {
            **os.environ,
            "SIMPUL_DATABASE_URL": database_url,
            "SIMPUL_DATA_DIR": str(data_dir),
            "SIMPUL_PROJECTION_BATCH_SIZE": "4",
            "SIMPUL_PROJECTION_METRICS_PORT": str(self.metrics_port),
            "SIMPUL_SEARCH_KEY": TEST_SEARCH_KEY,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateways.cli", "project", "--coordinator"],
            env=self.environment,
            stdout=subprocess.DEVNULL,
            stderr=self._log_file(),
        )

    def _log_file(self) -> IO[bytes]:
        if self._log is None:
            self._log = self.log_path.open("ab")
        return self._log

    def log(self) -> str:
        """What the projector wrote to stderr so far, across its restarts."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def metrics(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                url = f"http://127.0.0.1:{self.metrics_port}/metrics"
                with urllib.request.urlopen(url, timeout=2) as response:
                    return response.read().decode()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
