"""A small TCP proxy for fault tests: forwards, cuts, delays or blackholes connections.

Put it between clients and a server (the broker) and change its behaviour
while they run:

- ``forward()``: pass bytes both ways (the default).
- ``cut()``: close every open connection at once; new ones are forwarded.
- ``refuse()``: close every open connection and stop listening, so that new ones
  are refused as by a stopped server, until ``forward()``.
- ``blackhole()``: keep connections open and accept new ones, but pass no byte
  either way until ``forward()`` (a network partition: clients learn of it only
  by their own timeouts). What was sent meanwhile is held, not lost, and flows
  on when the partition heals, as TCP's retransmission would deliver it.
- ``delay(seconds)``: hold every chunk for that long before passing it on.

It only ever listens and connects on the loopback interface.
"""

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

from gateways.embedded.ports import free_port

FORWARD, REFUSE, BLACKHOLE = "forward", "refuse", "blackhole"
CHUNK = 65536


class TcpProxy:
    def __init__(self, target_port: int, *, listen_port: int | None = None) -> None:
        self.target_port = target_port
        self.port = free_port(listen_port)
        self.mode = FORWARD
        self.latency = 0.0
        self.connections_accepted = 0
        self.connections_cut = 0
        self.bytes_forwarded = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._flowing = asyncio.Event()
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="tcp-proxy", daemon=True
        )

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    # ---- Control, from any thread -------------------------------------------------------------

    def start(self) -> "TcpProxy":
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def forward(self) -> None:
        self._call(self._set(FORWARD, cut=False))

    def cut(self) -> None:
        self._call(self._set(FORWARD, cut=True))

    def refuse(self) -> None:
        self._call(self._set(REFUSE, cut=True))

    def blackhole(self) -> None:
        self._call(self._set(BLACKHOLE, cut=False))

    def delay(self, seconds: float) -> None:
        self.latency = seconds

    def _call(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout=10)

    # ---- The event loop's side ----------------------------------------------------------------

    async def _listen(self) -> None:
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self._close_all()

    async def _set(self, mode: str, *, cut: bool) -> None:
        self.mode = mode
        if mode == REFUSE and self._server is not None:
            self._server.close()
            self._server = None
        elif mode != REFUSE and self._server is None:
            await self._listen()
        if cut:
            self._close_all()
        if mode == FORWARD:
            self._flowing.set()
        else:
            self._flowing.clear()

    def _close_all(self) -> None:
        for writer in list(self._writers):
            self._abort(writer)
        self.connections_cut += len(self._writers)
        self._writers.clear()

    @staticmethod
    def _abort(writer: asyncio.StreamWriter) -> None:
        transport = writer.transport
        if not transport.is_closing():
            transport.abort()  # RST rather than FIN: the peer sees the connection die

    async def _accept(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        self.connections_accepted += 1
        if self.mode == REFUSE:
            self._abort(client_writer)
            return
        self._writers.add(client_writer)
        await self._flowing.wait()
        if client_writer not in self._writers:
            return  # cut while it waited
        try:
            server_reader, server_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
        except OSError:
            self._abort(client_writer)
            return
        self._writers.update((client_writer, server_writer))
        pair = (client_writer, server_writer)
        await asyncio.gather(
            self._pipe(client_reader, server_writer, pair),
            self._pipe(server_reader, client_writer, pair),
        )

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        try:
            while True:
                chunk = await reader.read(CHUNK)
                if not chunk:
                    break
                if self.latency:
                    await asyncio.sleep(self.latency)
                await self._flowing.wait()
                if writer not in self._writers:
                    break  # cut
                writer.write(chunk)
                self.bytes_forwarded += len(chunk)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for each in pair:
                self._writers.discard(each)
                with contextlib.suppress(Exception):
                    each.close()


@contextmanager
def tcp_proxy(target_port: int, *, listen_port: int | None = None) -> Iterator[TcpProxy]:
    proxy = TcpProxy(target_port, listen_port=listen_port).start()
    try:
        yield proxy
    finally:
        proxy.stop()
