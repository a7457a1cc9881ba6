"""A small HTTP/1.1 load generator: keep-alive connections, fixed concurrency, latencies.

Written on asyncio streams rather than a full client library so that the
client costs little CPU on a two-core machine shared with the server.
"""

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0


async def _one_client(
    host: str,
    port: int,
    request_for: Callable[[int], bytes],
    deadline: float,
    result: LoadResult,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    number = 0
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request_for(number))
            await writer.drain()
            status_line = await reader.readline()
            status = int(status_line.split()[1])
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value.strip())
            await reader.readexactly(length)
            result.latencies.append(time.perf_counter() - started)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            number += 1
    finally:
        writer.close()


def post_request(path: str, body: dict[str, Any], headers: dict[str, str]) -> bytes:
    payload = json.dumps(body).encode()
    head = [
        f"POST {path} HTTP/1.1",
        "Host: bench",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
    ]
    head += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


def run_load(
    host: str,
    port: int,
    requests: list[Callable[[int], bytes]],
    seconds: float,
) -> LoadResult:
    """One keep-alive connection per request factory, all running for ``seconds``."""
    result = LoadResult()

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()
        await asyncio.gather(
            *(_one_client(host, port, request, deadline, result) for request in requests)
        )
        result.elapsed = time.perf_counter() - started

    asyncio.run(main())
    return result
