"""Limits on what one client may ask of the API: body size and time, request rates, lockout.

``RequestLimits`` is an ASGI middleware in front of everything else the app does, so a
body is measured and timed before anything parses it and before any token is checked:

- a declared ``Content-Length`` above the limit is answered 413 before a byte is read;
  a body growing past it while it arrives is answered 413 the moment it does;
- a body must arrive within its deadline (a client stalling mid-body gets 408 and the
  connection closed);
- each client address has a token bucket of requests, and so has each authenticated
  user (checked by ``RequestGuard.admit_user`` once the token is verified): 429;
- an address whose presented tokens failed authentication repeatedly is locked out
  for a while, twice as long on each further lockout: 429.

Every refusal is a problem document with ``Retry-After`` where waiting helps. The
counts live in this process: several API processes count separately.
"""

import asyncio
import math
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from fastapi.responses import JSONResponse
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateways.api.problems import problem_response
from services.settings import Settings

# Beyond this many addresses or users, the longest unseen are forgotten.
MAX_TRACKED_CLIENTS = 100_000
# The routes whose body is a file: the API's upload (gateways/api/routes/documents.py)
# and the case file page's form that attaches a document (gateways/web/documents_page.py).
_DOCUMENT_UPLOAD = re.compile(r"^(/api/v1)?/cases/[^/]+/documents/?$")


@dataclass(frozen=True)
class Rate:
    """A token bucket: ``per_second`` sustained, up to ``burst`` at once."""

    per_second: float
    burst: int


@dataclass(frozen=True)
class HttpLimits:
    max_body_bytes: int
    body_seconds: float
    per_address: Rate | None
    per_user: Rate | None
    failures_before_lockout: int
    failure_window_seconds: float
    lockout_seconds: float
    max_lockout_seconds: float
    # A document upload's body is the file: it may be as large as the document limit.
    max_document_bytes: int = 0

    def body_limit(self, scope: Scope) -> int:
        """The most a request's body may hold: the document limit for an upload."""
        if scope.get("method") == "POST" and _DOCUMENT_UPLOAD.match(scope.get("path", "")):
            return max(self.max_body_bytes, self.max_document_bytes)
        return self.max_body_bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> "HttpLimits":
        return cls(
            max_body_bytes=settings.api_max_body_bytes,
            body_seconds=settings.api_body_timeout_seconds,
            per_address=(
                Rate(settings.api_rate_per_address, settings.api_burst_per_address)
                if settings.api_rate_per_address > 0
                else None
            ),
            per_user=(
                Rate(settings.api_rate_per_user, settings.api_burst_per_user)
                if settings.api_rate_per_user > 0
                else None
            ),
            failures_before_lockout=settings.api_auth_failures_before_lockout,
            failure_window_seconds=settings.api_auth_failure_window_seconds,
            lockout_seconds=settings.api_lockout_seconds,
            max_lockout_seconds=settings.api_max_lockout_seconds,
            max_document_bytes=settings.document_max_bytes,
        )


class TooManyRequests(Exception):
    def __init__(self, retry_after: float, detail: str) -> None:
        super().__init__(detail)
        self.retry_after = max(1, math.ceil(retry_after))
        self.detail = detail


def too_many_requests(error: TooManyRequests) -> JSONResponse:
    return problem_response(
        429,
        "too-many-requests",
        "Too many requests",
        error.detail,
        headers={"Retry-After": str(error.retry_after)},
    )


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class _Failures:
    times: deque[float] = field(default_factory=deque)
    lockouts: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0


V = TypeVar("V")


class _Recent(Generic[V]):
    """A mapping that forgets its least recently used keys beyond ``capacity``."""

    def __init__(self, make: Callable[[], V], capacity: int = MAX_TRACKED_CLIENTS) -> None:
        self.make = make
        self.capacity = capacity
        self.items: OrderedDict[str, V] = OrderedDict()

    def get(self, key: str) -> V:
        value = self.items.get(key)
        if value is None:
            value = self.items[key] = self.make()
            if len(self.items) > self.capacity:
                self.items.popitem(last=False)
        else:
            self.items.move_to_end(key)
        return value


class RequestGuard:
    """The counts behind the limits, per client address and per user; safe across threads."""

    def __init__(self, limits: HttpLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self._lock = threading.Lock()
        self._addresses: _Recent[_Bucket] = _Recent(self._full_bucket_for_address)
        self._users: _Recent[_Bucket] = _Recent(self._full_bucket_for_user)
        self._failures: _Recent[_Failures] = _Recent(_Failures)

    def _full_bucket_for_address(self) -> _Bucket:
        assert self.limits.per_address is not None
        return _Bucket(self.limits.per_address.burst, self.clock())

    def _full_bucket_for_user(self) -> _Bucket:
        assert self.limits.per_user is not None
        return _Bucket(self.limits.per_user.burst, self.clock())

    def _take(self, bucket: _Bucket, rate: Rate, now: float) -> float | None:
        """Take one request from the bucket; None if it had one, else seconds until it will."""
        bucket.tokens = min(rate.burst, bucket.tokens + (now - bucket.updated) * rate.per_second)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return (1 - bucket.tokens) / rate.per_second

    def admit_address(self, address: str) -> None:
        """Raises TooManyRequests while the address is locked out or over its rate."""
        with self._lock:
            now = self.clock()
            failures = self._failures.items.get(address)
            if failures is not None and now < failures.locked_until:
                raise TooManyRequests(
                    failures.locked_until - now,
                    "too many failed authentications from this address; wait before retrying",
                )
            rate = self.limits.per_address
            if rate is None:
                return
            wait = self._take(self._addresses.get(address), rate, now)
        if wait is not None:
            raise TooManyRequests(wait, "too many requests from this address; slow down")

    def admit_user(self, user_id: str) -> None:
        """Raises TooManyRequests when the authenticated user is over their rate."""
        rate = self.limits.per_user
        if rate is None:
            return
        with self._lock:
            wait = self._take(self._users.get(user_id), rate, self.clock())
        if wait is not None:
            raise TooManyRequests(wait, "too many requests for this user; slow down")

    def failed_authentication(self, address: str) -> None:
        """A presented token was refused: count it, and lock the address out past the limit."""
        limits = self.limits
        if limits.failures_before_lockout <= 0:
            return
        with self._lock:
            now = self.clock()
            failures = self._failures.get(address)
            if now - failures.last_failure > limits.max_lockout_seconds:
                failures.lockouts = 0
            failures.last_failure = now
            while failures.times and now - failures.times[0] > limits.failure_window_seconds:
                failures.times.popleft()
            failures.times.append(now)
            if len(failures.times) >= limits.failures_before_lockout:
                failures.times.clear()
                failures.lockouts += 1
                lockout = limits.lockout_seconds * 2 ** (failures.lockouts - 1)
                failures.locked_until = now + min(lockout, limits.max_lockout_seconds)


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _carries_credentials(scope: Scope) -> bool:
    return any(name == b"authorization" for name, _ in scope.get("headers", ()))


class _Refused(Exception):
    def __init__(self, status: int, code: str, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.title, self.detail = status, code, title, detail


class RequestLimits:
    """The ASGI middleware enforcing ``HttpLimits`` through a ``RequestGuard``."""

    def __init__(self, app: ASGIApp, guard: RequestGuard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        address = client_address(scope)
        try:
            self.guard.admit_address(address)
        except TooManyRequests as error:
            await self._answer(scope, receive, send, too_many_requests(error), close=True)
            return
        limit = self.guard.limits.body_limit(scope)
        declared = _declared_length(scope)
        try:
            if declared is not None and declared > limit:
                raise _Refused(
                    413, "content-too-large", "Content too large", _too_large_detail(limit)
                )
            body = await self._read_body(receive, limit)
        except _Refused as refused:
            response = problem_response(refused.status, refused.code, refused.title, refused.detail)
            await self._answer(scope, receive, send, response, close=True)
            return
        counts_failures = _carries_credentials(scope)

        async def observing_send(message: Message) -> None:
            if (
                counts_failures
                and message["type"] == "http.response.start"
                and message["status"] == 401
            ):
                self.guard.failed_authentication(address)
            await send(message)

        await self.app(scope, _replay(body, receive), observing_send)

    async def _read_body(self, receive: Receive, limit: int) -> list[Message]:
        """The whole body, as its messages, within the deadline and the size limit."""
        deadline = asyncio.get_running_loop().time() + self.guard.limits.body_seconds
        messages: list[Message] = []
        size = 0
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(remaining, 0))
            except TimeoutError:
                raise _Refused(
                    408,
                    "request-timeout",
                    "Request timeout",
                    f"the request body did not arrive within "
                    f"{self.guard.limits.body_seconds:g} seconds",
                ) from None
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            size += len(message.get("body", b""))
            if size > limit:
                raise _Refused(
                    413, "content-too-large", "Content too large", _too_large_detail(limit)
                )
            if not message.get("more_body", False):
                return messages

    @staticmethod
    async def _answer(
        scope: Scope, receive: Receive, send: Send, response: Response, *, close: bool
    ) -> None:
        if close:
            # The rest of the body is never read, so the connection cannot carry another request.
            response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _too_large_detail(limit: int) -> str:
    return f"the request body is larger than the limit of {limit} bytes"


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """Receive the messages already read, then whatever else the connection says."""
    pending = deque(messages)

    async def replayed() -> Message:
        if pending:
            return pending.popleft()
        return await receive()

    return replayed
