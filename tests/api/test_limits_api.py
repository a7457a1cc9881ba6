"""One client cannot exhaust the API: bodies are limited in size and time, requests in rate.

The review's numbers: four 50 MB unauthenticated bodies grew the API by 473 MiB
(bodies were parsed before the token was checked), 200 connections stalled
mid-body stayed open, and 300 forged tokens were answered 401 without end.
"""

import json
import socket
import time

import pytest
from fastapi.testclient import TestClient

from gateways.api.limits import HttpLimits, Rate, RequestGuard, TooManyRequests
from gateways.runtime import api
from services.cases import Cases
from services.settings import Settings
from tests.api.conftest import Deployed
from tests.support.lifecycle import Headers

MiB = 1024 * 1024


def _settings(**limits: object) -> Settings:
    return Settings(**limits, _env_file=None)  # type: ignore[arg-type]


def _connect(url: str, timeout: float | None = None) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=timeout)


def _raw_exchange(url: str, head: bytes, *, wait: float = 5.0) -> tuple[bytes, bool]:
    """Send ``head`` on a new connection; what came back within ``wait``, and whether closed."""
    with _connect(url, timeout=wait) as connection:
        connection.sendall(head)
        received = b""
        closed = False
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = connection.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                closed = True
                break
            received += chunk
        return received, closed


def _status_and_body(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_a_body_declared_larger_than_the_limit_is_refused_before_a_byte_is_read(
    pg_cases: Cases, tokens, deployed: Deployed
):
    settings = _settings(api_max_body_bytes=MiB)
    with deployed(api(pg_cases, tokens, settings=settings), settings) as url:
        started = time.monotonic()
        raw, closed = _raw_exchange(
            url,
            b"POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 52428800\r\n\r\n",
        )

    status, problem = _status_and_body(raw)
    assert status == 413
    assert problem["type"] == "urn:simpul:problem:content-too-large"
    assert b"application/problem+json" in raw
    assert closed and time.monotonic() - started < 3


def test_a_body_growing_past_the_limit_as_it_arrives_is_refused_when_it_does(
    pg_cases: Cases, tokens, deployed: Deployed
):
    settings = _settings(api_max_body_bytes=MiB)
    chunk = b"x" * 65536
    sent = 0
    with (
        deployed(api(pg_cases, tokens, settings=settings), settings) as url,
        _connect(url) as connection,
    ):
        connection.sendall(
            b"POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        connection.settimeout(0.05)
        answer = b""
        while sent < 50 * MiB and not answer:
            try:
                connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
                answer = connection.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        connection.settimeout(5)
        while b"\r\n\r\n" not in answer:
            answer += connection.recv(65536)

    assert answer.startswith(b"HTTP/1.1 413")
    assert sent < 50 * MiB


def test_a_client_stalling_mid_body_gets_408_and_its_connection_closed(
    pg_cases: Cases, tokens, deployed: Deployed
):
    settings = _settings(api_body_timeout_seconds=1)
    with deployed(api(pg_cases, tokens, settings=settings), settings) as url:
        started = time.monotonic()
        raw, closed = _raw_exchange(
            url,
            b"POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"channel": ',
        )

    status, problem = _status_and_body(raw)
    assert status == 408
    assert problem["type"] == "urn:simpul:problem:request-timeout"
    assert closed and time.monotonic() - started < 4


def test_a_client_stalling_in_its_headers_is_disconnected(
    pg_cases: Cases, tokens, deployed: Deployed
):
    settings = _settings(api_header_timeout_seconds=1)
    with deployed(api(pg_cases, tokens, settings=settings), settings) as url:
        started = time.monotonic()
        raw, closed = _raw_exchange(url, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")

    assert raw == b""
    assert closed and time.monotonic() - started < 4


def test_a_slow_request_after_a_kept_alive_one_is_disconnected_too(
    pg_cases: Cases, tokens, deployed: Deployed
):
    settings = _settings(api_header_timeout_seconds=1, api_keep_alive_seconds=30)
    with deployed(api(pg_cases, tokens, settings=settings), settings) as url:
        raw, closed = _raw_exchange(
            url, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHo"
        )

    assert raw.startswith(b"HTTP/1.1 200") and raw.count(b"HTTP/1.1") == 1
    assert closed


def test_an_address_beyond_its_rate_gets_429_with_retry_after(pg_cases: Cases, tokens):
    # One request per 1000 s: a slow machine cannot earn a token back between the six.
    app = api(
        pg_cases, tokens, settings=_settings(api_rate_per_address=0.001, api_burst_per_address=5)
    )
    with TestClient(app) as client:
        answers = [client.get("/healthz") for _ in range(6)]

    assert [answer.status_code for answer in answers] == [200] * 5 + [429]
    refused = answers[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:simpul:problem:too-many-requests"
    assert 900 <= int(refused.headers["Retry-After"]) <= 1000


def test_a_user_beyond_their_rate_gets_429_while_other_users_go_on(
    pg_cases: Cases, tokens, auth: Headers
):
    app = api(pg_cases, tokens, settings=_settings(api_rate_per_user=0.001, api_burst_per_user=3))
    with TestClient(app) as client:
        siti = [client.get("/api/v1/me", headers=auth("intake_officer")) for _ in range(4)]
        rina = client.get("/api/v1/me", headers=auth("case_worker"))

    assert [answer.status_code for answer in siti] == [200, 200, 200, 429]
    assert siti[-1].json()["detail"] == "too many requests for this user; slow down"
    assert 900 <= int(siti[-1].headers["Retry-After"]) <= 1000
    assert rina.status_code == 200


def test_repeated_failed_authentication_locks_the_address_out(
    pg_cases: Cases, tokens, auth: Headers
):
    app = api(pg_cases, tokens, settings=_settings(api_auth_failures_before_lockout=10))
    forged = {"Authorization": "Bearer " + auth("coordinator")["Authorization"][7:-2] + "xx"}
    with TestClient(app) as client:
        failures = [client.get("/api/v1/me", headers=forged).status_code for _ in range(10)]
        locked = client.get("/api/v1/me", headers=auth("coordinator"))

    assert failures == [401] * 10
    assert locked.status_code == 429
    assert locked.json()["type"] == "urn:simpul:problem:too-many-requests"
    assert 55 <= int(locked.headers["Retry-After"]) <= 60


def test_requests_without_any_token_do_not_lock_the_address_out(
    pg_cases: Cases, tokens, auth: Headers
):
    app = api(pg_cases, tokens, settings=_settings(api_auth_failures_before_lockout=3))
    with TestClient(app) as client:
        anonymous = [client.get("/api/v1/me").status_code for _ in range(10)]
        signed = client.get("/api/v1/me", headers=auth("coordinator"))

    assert anonymous == [401] * 10
    assert signed.status_code == 200


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


LIMITS = HttpLimits(
    max_body_bytes=MiB,
    body_seconds=10,
    per_address=Rate(per_second=10, burst=20),
    per_user=None,
    failures_before_lockout=3,
    failure_window_seconds=300,
    lockout_seconds=60,
    max_lockout_seconds=200,
)


def _retry_after(guard: RequestGuard, address: str) -> int | None:
    try:
        guard.admit_address(address)
    except TooManyRequests as error:
        return error.retry_after
    return None


def test_each_further_lockout_lasts_twice_as_long_up_to_the_longest():
    clock = Clock()
    guard = RequestGuard(LIMITS, clock)
    lockouts = []
    for _ in range(4):
        for _ in range(3):
            guard.failed_authentication("10.0.0.7")
        lockouts.append(_retry_after(guard, "10.0.0.7"))
        clock.now += lockouts[-1] or 0

    assert lockouts == [60, 120, 200, 200]
    assert _retry_after(guard, "10.0.0.8") is None


def test_failures_spread_beyond_the_window_never_lock_out():
    clock = Clock()
    guard = RequestGuard(LIMITS, clock)
    for _ in range(10):
        guard.failed_authentication("10.0.0.7")
        clock.now += 200

    assert _retry_after(guard, "10.0.0.7") is None


@pytest.mark.parametrize("burst", [1, 20])
def test_a_bucket_refills_at_its_rate(burst: int):
    clock = Clock()
    guard = RequestGuard(
        HttpLimits(**{**vars(LIMITS), "per_address": Rate(per_second=2, burst=burst)}), clock
    )
    for _ in range(burst):
        assert _retry_after(guard, "10.0.0.7") is None
    assert _retry_after(guard, "10.0.0.7") == 1
    clock.now += 0.5
    assert _retry_after(guard, "10.0.0.7") is None
