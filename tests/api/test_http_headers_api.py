"""What every answer tells the browser: HTTPS only, no sniffing, no caching, no framing.

And what the server does not tell: its software. The documentation page loads
nothing from another site, and production serves none; metrics listen on this
machine unless told otherwise.
"""

import re
import socket

import httpx
import psutil
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from gateways.embedded.ports import free_port
from gateways.kafka.relay import serve_metrics
from gateways.runtime import api
from services.cases import Cases
from services.settings import Settings
from tests.api.conftest import Deployed
from tests.support.lifecycle import Headers, a_report_body

SECURITY_HEADERS = {
    "strict-transport-security": "max-age=63072000",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def _case(client: TestClient, auth: Headers) -> str:
    return client.post(
        "/api/v1/cases", json=a_report_body(), headers=auth("intake_officer")
    ).json()["case_id"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/cases/{case}", 200),
        ("GET", "/api/v1/cases/{case}/events", 200),
        ("GET", "/api/v1/cases/{case}/timeline", 200),
        ("GET", "/api/v1/cases/{case}/timeline.json", 200),
        ("GET", "/api/v1/me", 200),
        ("GET", "/api/v1/cases/00000000-0000-4000-8000-000000000000", 404),
        ("GET", "/api/v1/cases/not-a-case", 422),
        ("DELETE", "/api/v1/cases", 405),
        ("GET", "/healthz", 200),
    ],
)
def test_every_answer_forbids_caching_sniffing_framing_and_plain_http(
    client: TestClient, auth: Headers, method: str, path: str, status: int
):
    case_id = _case(client, auth)

    response = client.request(
        method, path.format(case=case_id), headers=auth("auditor", agency="province")
    )

    assert response.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_an_answer_without_a_token_carries_the_same_headers(client: TestClient):
    response = client.get("/api/v1/cases/00000000-0000-4000-8000-000000000000")

    assert response.status_code == 401
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_the_printable_case_review_may_not_be_framed_nor_leak_its_address(
    client: TestClient, auth: Headers
):
    case_id = _case(client, auth)

    response = client.get(
        f"/api/v1/cases/{case_id}/timeline.html", headers=auth("auditor", agency="province")
    )

    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_405_lists_every_method_the_path_serves(client: TestClient, auth: Headers):
    response = client.delete("/api/v1/cases", headers=auth("coordinator"))

    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) >= {"GET", "POST"}
    assert response.headers["content-type"] == "application/problem+json"


def test_the_served_api_does_not_name_its_server_software(
    pg_cases: Cases, tokens, deployed: Deployed
):
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    with deployed(api(pg_cases, tokens, settings=settings), settings) as url:
        response = httpx.get(f"{url}/healthz")

    assert response.status_code == 200
    assert "server" not in response.headers


def test_the_documentation_page_loads_nothing_from_another_site(client: TestClient):
    page = client.get("/api/v1/docs")

    assert page.status_code == 200
    sources = re.findall(r'(?:src|href|url)\s*[=:]\s*[\'"]([^\'"]+)[\'"]', page.text)
    assert sources, page.text
    for source in sources:
        assert source.startswith("/api/v1/"), source
        assert client.get(source).status_code == 200, source
    assert "http://" not in page.text and "https://" not in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "http" not in policy


def test_production_serves_no_interactive_documentation(pg_cases: Cases, tokens):
    production = Settings(  # type: ignore[call-arg]
        environment="production",
        database_url="postgresql://simpul@db/simpul",
        database_sslmode="verify-full",
        kafka_bootstrap_servers="kafka:9093",
        kafka_security_protocol="SASL_SSL",
        document_master_key="A" * 43,
        account_key="B" * 43,
        _env_file=None,
    )
    with TestClient(api(pg_cases, tokens, settings=production)) as client:
        assert client.get("/api/v1/docs").status_code == 404
        assert client.get("/api/v1/openapi.json").status_code == 200


def test_metrics_listen_on_this_machine_only_unless_told_otherwise():
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    port = free_port()

    serve_metrics(CollectorRegistry(), port, settings.metrics_host)

    listening = {
        connection.laddr.ip
        for connection in psutil.net_connections(kind="tcp")
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port
    }
    assert listening == {"127.0.0.1"}
    assert settings.metrics_host == settings.projection_metrics_host == "127.0.0.1"
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
