"""Figure: 32 concurrent HTTP clients recording case commands through FastAPI.

Baseline: a trivial endpoint on the same server doing one raw INSERT + COMMIT.
Also samples the API process's peak resident memory under this load.
"""

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Self

import httpx
import psutil
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from benchmarks.harness import Figure, summary
from benchmarks.loadgen import LoadResult, post_request, run_load
from benchmarks.workload import DISTRICT, open_cases, stored_event_shape
from domain.actors import Actor
from domain.vocabulary import Agency, Role
from gateways.embedded.ports import free_port
from gateways.eventstore.environment import postgres_env
from gateways.tokens import TokenService, public_key_pem
from services.case_commands import RecordAccompaniment
from services.cases import Cases
from services.settings import Settings

CLIENTS = 32
SIGNING_KEY = Ed25519PrivateKey.generate()


class PeakMemory:
    """Samples a process's RSS in the background; ``peak`` in MiB."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss / 2**20)
            except psutil.Error:
                return
            time.sleep(0.05)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def _start_server(database_url: str, state_bytes: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.server",
            "--database-url",
            database_url,
            "--port",
            str(port),
            "--token-public-key",
            public_key_pem(SIGNING_KEY.public_key()),
            "--state-bytes",
            str(state_bytes),
        ],
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return server, port
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the benchmark API server did not become ready")


def measure(database_url: str, seconds: float = 8.0, rounds: int = 2) -> list[Figure]:
    cases = Cases(env=postgres_env(database_url, Settings(database_pool_size=4)))
    try:
        case_ids = open_cases(cases, CLIENTS)
        cases.execute(
            Actor("warmup", Role.COORDINATOR, Agency.UPTD_PPA, DISTRICT),
            case_ids[0],
            RecordAccompaniment(activity="x"),
        )
        _, state_bytes = stored_event_shape(database_url)
    finally:
        cases.close()
    token = TokenService.minting(SIGNING_KEY).mint(
        Actor("bench.coordinator", Role.COORDINATOR, Agency.UPTD_PPA, DISTRICT)
    )
    auth = {"Authorization": f"Bearer {token}"}

    def command_for(case_id: object) -> Callable[[int], bytes]:
        path = f"/api/v1/cases/{case_id}/accompaniment"
        return lambda n: post_request(
            path, {"activity": f"Session {n}", "notes": "Mother present."}, auth
        )

    def raw_request(_: int) -> bytes:
        return post_request("/bench/raw-insert", {}, {})

    server, port = _start_server(database_url, state_bytes)
    ours: list[LoadResult] = []
    raw: list[LoadResult] = []
    try:
        run_load("127.0.0.1", port, [raw_request] * CLIENTS, 1.0)
        run_load("127.0.0.1", port, [command_for(c) for c in case_ids], 1.0)
        with PeakMemory(server.pid) as memory:
            for _ in range(rounds):
                raw.append(run_load("127.0.0.1", port, [raw_request] * CLIENTS, seconds))
                ours.append(
                    run_load("127.0.0.1", port, [command_for(c) for c in case_ids], seconds)
                )
    finally:
        server.terminate()
        server.wait(timeout=30)

    def best(results: list[LoadResult]) -> LoadResult:
        return sorted(results, key=lambda r: r.throughput)[len(results) // 2]

    ours_run, raw_run = best(ours), best(raw)
    ours_latency, raw_latency = summary(ours_run.latencies), summary(raw_run.latencies)
    return [
        Figure.at_least(
            "HTTP commands, 32 clients: throughput",
            ours_run.throughput,
            raw_run.throughput,
            "requests/s",
            0.5,
            statuses_ours=ours_run.statuses,
            statuses_raw=raw_run.statuses,
        ),
        Figure.at_most(
            "HTTP commands, 32 clients: p99 latency",
            ours_latency["p99"] * 1000,
            raw_latency["p99"] * 1000,
            "ms",
            3.0,
            p50_ours_ms=ours_latency["p50"] * 1000,
            p50_raw_ms=raw_latency["p50"] * 1000,
        ),
        Figure.reported("API peak RSS under the HTTP load", memory.peak, "MiB"),
    ]
