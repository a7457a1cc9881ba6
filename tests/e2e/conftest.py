"""End to end: the relay and agency projectors as real processes, a real broker and PostgreSQL."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition

from gateways.embedded.ports import free_port
from gateways.kafka.security import PLAINTEXT, KafkaSecurity
from services.settings import Settings
from tests.support.coordinator_process import Projector
from tests.support.infrastructure import TEST_SEARCH_KEY

SIMPUL = Path(sys.executable).parent / "simpul"
T = TypeVar("T")


def wait_until(
    probe: Callable[[], T], *, timeout: float = 60, interval: float = 0.2, what: str = "condition"
) -> T:
    """Poll until ``probe`` returns something truthy; fail after a generous deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class ServiceProcess:
    """`simpul <command>` as a child process, its output kept in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.args = args
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "ServiceProcess":
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(SIMPUL), *self.args], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, no last commit."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def topic_prefix() -> str:
    """Topics of their own per test: the broker is shared by the whole session."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def kafka_settings(
    database_url: str,
    kafka_servers: str,
    kafka_security: KafkaSecurity,
    topic_prefix: str,
    tmp_path: Path,
) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        kafka_bootstrap_servers=kafka_servers,
        kafka_security_protocol=kafka_security.protocol,
        kafka_sasl_mechanism=kafka_security.sasl_mechanism,
        kafka_sasl_username=kafka_security.username,
        kafka_sasl_password=kafka_security.password,
        kafka_ssl_cafile=kafka_security.cafile,
        kafka_topic_prefix=topic_prefix,
        data_dir=tmp_path / "simpul",
        database_pool_size=4,
        relay_metrics_port=0,
        projector_metrics_port=0,
        search_key=TEST_SEARCH_KEY,
    )


@pytest.fixture
def service_env(kafka_settings: Settings) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SIMPUL_")}
    env.update(KafkaSecurity.from_settings(kafka_settings).environment())
    env.update(
        {
            "SIMPUL_DATABASE_URL": str(kafka_settings.database_url),
            "SIMPUL_KAFKA_BOOTSTRAP_SERVERS": str(kafka_settings.kafka_bootstrap_servers),
            "SIMPUL_KAFKA_TOPIC_PREFIX": kafka_settings.kafka_topic_prefix,
            "SIMPUL_DATA_DIR": str(kafka_settings.data_dir),
            "SIMPUL_DATABASE_POOL_SIZE": "4",
            "SIMPUL_RELAY_METRICS_PORT": str(free_port()),
            "SIMPUL_PROJECTOR_METRICS_PORT": str(free_port()),
            "SIMPUL_PROJECTION_METRICS_PORT": str(free_port()),
            "SIMPUL_SEARCH_KEY": TEST_SEARCH_KEY,
        }
    )
    return env


@pytest.fixture
def services(
    service_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., ServiceProcess]]:
    """Start `simpul relay` / `simpul project ...` (``env`` adds to ``service_env``);
    all are stopped at the end of the test."""
    started: list[ServiceProcess] = []

    def start(
        *args: str, log_name: str | None = None, env: dict[str, str] | None = None
    ) -> ServiceProcess:
        name = log_name or "-".join(args).replace("--", "")
        process = ServiceProcess(
            list(args), {**service_env, **(env or {})}, tmp_path / f"{name}.log"
        ).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
        # Shown by pytest only when the test failed.
        print(f"---- simpul {' '.join(process.args)} ----\n{process.output()[-6000:]}")


def _decoded(value: bytes | None) -> Any:
    try:
        return json.loads(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None  # a dead-letter topic keeps undecodable messages as they came


def read_topic(
    servers: str,
    topic: str,
    *,
    settle_seconds: float = 2.0,
    at_least: int = 0,
    timeout: float = 60,
    security: KafkaSecurity = PLAINTEXT,
) -> list[dict[str, Any]]:
    """Every message on ``topic``, read with a plain consumer from the beginning.

    Reads until at least ``at_least`` messages arrived and nothing new came for
    ``settle_seconds``. Returns the decoded CloudEvents with their key and partition.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **security.options(),
    )
    try:
        partitions = wait_until(
            lambda: consumer.partitions_for_topic(topic), timeout=timeout, what=f"topic {topic}"
        )
        consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        consumer.seek_to_beginning()
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            batches = consumer.poll(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    messages.append(
                        {
                            "key": record.key,
                            "partition": record.partition,
                            "offset": record.offset,
                            "headers": dict(record.headers or []),
                            "raw": record.value,
                            "event": _decoded(record.value),
                        }
                    )
                    last_new = time.monotonic()
            if len(messages) >= at_least and time.monotonic() - last_new > settle_seconds:
                return messages
        raise AssertionError(f"{topic}: {len(messages)} messages, expected at least {at_least}")
    finally:
        consumer.close()


def subscriber_security(security: KafkaSecurity, folder: Path) -> list[str]:
    """The reference subscriber's options for the test broker (TLS and SCRAM when embedded)."""
    if not security.protocol.startswith("SASL_"):
        return ["--security-protocol", security.protocol]
    password = folder / "password"
    password.write_text(str(security.password))
    return [
        "--security-protocol",
        security.protocol,
        "--username",
        str(security.username),
        "--password-file",
        str(password),
        "--cafile",
        str(security.cafile),
    ]


@pytest.fixture
def projector(database_url: str, tmp_path: Path) -> Iterator[Projector]:
    """A `simpul project --coordinator` of the test's database, stopped at the end."""
    running = Projector(database_url, tmp_path)
    yield running
    running.stop()


def answers(url: str) -> bool:
    """Whether ``url`` answers 200 now."""
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def simpul_run(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`simpul run` with ``env`` (SIMPUL_API_PORT set), its output in ``log_path``, once its
    API answers; stopped on leaving."""
    port = env["SIMPUL_API_PORT"]
    with log_path.open("wb") as log:
        run = subprocess.Popen([str(SIMPUL), "run"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), what="the API")
            yield run
        finally:
            run.terminate()
            run.wait(timeout=60)


def simpul(*arguments: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """One `simpul` command run to its end (at most 5 minutes), its output captured."""
    return subprocess.run(
        [str(SIMPUL), *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
