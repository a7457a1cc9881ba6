"""How the API is served: uvicorn with deadlines for slow clients and no self-advertising.

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive``, but it
waits for a request's headers forever: a client sending them a byte at a time holds
its connection (and a file descriptor) as long as it likes. ``HeaderDeadline``
closes a connection whose next request's headers have not all arrived in time;
the body has its own deadline in gateways/api/limits.py.
"""

import asyncio
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from services.settings import Settings


class HeaderDeadline(H11Protocol):
    """HTTP/1.1 that closes connections whose request headers arrive too slowly."""

    header_seconds: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_deadline = self.loop.call_later(
            self.header_seconds, self._headers_too_slow, self.cycle
        )

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self, cycle_when_armed: object) -> None:
        # A request whose headers arrived since has its own cycle; one being answered is
        # never cut here (its body has its own deadline).
        waiting = self.cycle is cycle_when_armed and (
            self.cycle is None or self.cycle.response_complete
        )
        if waiting and not self.transport.is_closing():
            self.transport.close()


def header_deadline(seconds: float) -> type[HeaderDeadline]:
    return type("HeaderDeadline", (HeaderDeadline,), {"header_seconds": seconds})


def server_config(
    app: FastAPI,
    settings: Settings,
    *,
    host: str,
    port: int,
    log_level: str = "info",
    access_log: bool = True,
) -> uvicorn.Config:
    """The API's server: deadlines from the settings, proxies trusted as configured,
    and no ``Server`` header naming the software to an attacker."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=header_deadline(settings.api_header_timeout_seconds),
        timeout_keep_alive=settings.api_keep_alive_seconds,
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.api_trusted_proxies,
        log_level=log_level,
        access_log=access_log,
    )
