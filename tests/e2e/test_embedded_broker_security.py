"""The embedded broker of `simpul run` and the tests admits no one without TLS and SCRAM.

Tansu 0.6.0 cannot enforce either (gateways/embedded/kafka_front.py says why), so
a front does; these tests hold it to that, with real clients and raw bytes.
"""

import json
import socket
import ssl
import stat
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from gateways.embedded.kafka import EmbeddedKafka
from gateways.embedded.ports import free_port
from gateways.kafka.messages import agency_topic
from gateways.kafka.security import KafkaSecurity
from gateways.kafka.signing import MessageVerifier
from gateways.tokens import TokenService, public_key_pem
from tests.e2e.conftest import SIMPUL, read_topic, wait_until
from tests.support.lifecycle import a_report_body

SIGNING_KEY = Ed25519PrivateKey.generate()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedKafka]:
    made = EmbeddedKafka(tmp_path / "kafka", authentication=True, principals=["alice"]).start()
    yield made
    made.stop()


def refused(servers: str, **options: object) -> bool:
    try:
        KafkaAdminClient(
            bootstrap_servers=servers, request_timeout_ms=3000, bootstrap_timeout_ms=5000, **options
        ).close()
    except KafkaError:
        return True
    return False


def test_anonymous_and_wrong_credentials_are_refused_and_the_right_ones_admitted(
    broker: EmbeddedKafka,
):
    alice = broker.security("alice")
    servers = broker.bootstrap_servers

    assert refused(servers), "no TLS, no SASL"
    assert refused(servers, security_protocol="SSL", ssl_cafile=alice.cafile), "TLS, no SASL"
    assert refused(servers, **{**alice.options(), "sasl_plain_password": "guess"})
    assert refused(servers, **{**alice.options(), "sasl_plain_username": "mallory"})
    admin = KafkaAdminClient(bootstrap_servers=servers, **alice.options())
    assert admin.list_topics() == []
    admin.close()
    assert stat.S_IMODE(broker.credentials_file.stat().st_mode) == 0o600


def _request(api_key: int, version: int, correlation: int, body: bytes) -> bytes:
    header = struct.pack(">hhih", api_key, version, correlation, 4) + b"test"
    return struct.pack(">i", len(header) + len(body)) + header + body


def _response(connection: ssl.SSLSocket) -> bytes:
    size = struct.unpack(">i", _read(connection, 4))[0]
    return _read(connection, size)


def _read(connection: ssl.SSLSocket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def test_a_client_that_ignores_a_failed_scram_exchange_is_disconnected_not_admitted(
    broker: EmbeddedKafka,
):
    """Tansu 0.6.0 itself admits exactly this client; the front must not."""
    context = ssl.create_default_context(cafile=broker.security("alice").cafile)
    raw = socket.create_connection(("127.0.0.1", broker.port), timeout=10)
    with context.wrap_socket(raw, server_hostname="127.0.0.1") as connection:
        mechanism = b"SCRAM-SHA-512"
        connection.sendall(_request(17, 1, 1, struct.pack(">h", len(mechanism)) + mechanism))
        assert struct.unpack(">h", _response(connection)[4:6])[0] == 0
        first = b"n,,n=alice,r=attacker-nonce"
        connection.sendall(_request(36, 1, 2, struct.pack(">i", len(first)) + first))
        challenge = _response(connection)
        nonce = challenge.split(b"r=")[1].split(b",")[0]
        final = b"c=biws,r=" + nonce + b",p=" + b"A" * 88
        connection.sendall(_request(36, 1, 3, struct.pack(">i", len(final)) + final))
        answer = _response(connection)
        assert struct.unpack(">h", answer[4:6])[0] == 58, "SASL_AUTHENTICATION_FAILED"
        metadata = _request(3, 1, 4, struct.pack(">i", -1))
        with pytest.raises((ConnectionError, OSError)):
            connection.sendall(metadata)
            _response(connection)


def test_simpul_run_s_embedded_broker_needs_credentials_its_processes_have_their_own(
    service_env: dict[str, str], tmp_path: Path
):
    """`simpul run` with no broker configured: its relay and projectors authenticate with
    their own credentials from the data folder, an anonymous client gets nothing, and an
    agency's principal reads its topic, every message of which verifies."""
    port = free_port()
    data_dir = tmp_path / "simpul"
    env = {key: value for key, value in service_env.items() if not key.startswith("SIMPUL_KAFKA")}
    # The API gets the public key alone; the test mints as `simpul token` would.
    env.update(
        SIMPUL_API_PORT=str(port),
        SIMPUL_TOKEN_PUBLIC_KEY=public_key_pem(SIGNING_KEY.public_key()),
        SIMPUL_DATA_DIR=str(data_dir),
    )
    env["SIMPUL_KAFKA_TOPIC_PREFIX"] = service_env["SIMPUL_KAFKA_TOPIC_PREFIX"]
    log = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen([str(SIMPUL), "run"], env=env, stdout=log, stderr=subprocess.STDOUT)
    tokens = TokenService.minting(SIGNING_KEY)

    def headers(role: Role, agency: Agency = Agency.UPTD_PPA, user: str = "u") -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens.mint(Actor(user, role, agency, 'luwu-utara'))}"}

    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    try:
        wait_until(lambda: _healthy(api), what="the API to answer", timeout=90)
        case_id = api.post(
            "/api/v1/cases", json=a_report_body(), headers=headers(Role.INTAKE_OFFICER)
        ).json()["case_id"]
        for path, body, who in (
            (
                "classification",
                {"case_type": "KTA", "risk_level": "high", "jurisdiction": "district"}
                | {"emergency": False},
                headers(Role.COORDINATOR),
            ),
            ("case-worker", {"case_worker_id": "rina"}, headers(Role.COORDINATOR)),
            (
                "consent",
                {"given": True, "given_by": "parent", "document_ref": "IC"},
                headers(Role.CASE_WORKER, user="rina"),
            ),
            (
                "referrals",
                {"service_type": "legal_process", "agency": "police"},
                headers(Role.CASE_WORKER, user="rina"),
            ),
        ):
            response = api.post(f"/api/v1/cases/{case_id}/{path}", json=body, headers=who)
            assert response.status_code == 200, response.text
        police = headers(Role.AGENCY_OFFICER, Agency.POLICE)
        wait_until(
            lambda: api.get("/api/v1/agencies/police/referrals", headers=police).json(),
            what="the referral in the police inbox, through the authenticated broker",
            timeout=90,
        )

        servers = json.loads((data_dir / "runtime.json").read_text())["kafka_bootstrap_servers"]
        assert refused(servers), "an anonymous client reads nothing"
        passwords = json.loads((data_dir / "kafka" / "credentials.json").read_text())
        assert {"simpul-relay", "simpul-projectors", "agency-police"} <= set(passwords)
        police_system = KafkaSecurity(
            protocol="SASL_SSL",
            username="agency-police",
            password=passwords["agency-police"],
            cafile=str(data_dir / "kafka" / "tls" / "ca.crt"),
        )
        topic = agency_topic(env["SIMPUL_KAFKA_TOPIC_PREFIX"], "police")
        messages = read_topic(servers, topic, at_least=2, security=police_system)
        keys = api.get("/asyncapi.json").json()["info"]["x-simpul-signing-keys"]["keys"]
        verifier = MessageVerifier({key["kid"]: key["x"] for key in keys})
        assert messages and all(verifier.refusal(m["raw"], m["event"]) is None for m in messages)
        principals = {
            " ".join(child.cmdline()[3:]): _environment(child.pid).get("SIMPUL_KAFKA_SASL_USERNAME")
            for child in psutil.Process(run.pid).children()
            if child.cmdline()[1:3] == ["-m", "gateways.cli"]
        }
        assert principals == {
            "relay": "simpul-relay",
            "project --all-agencies": "simpul-projectors",
            "project --coordinator": None,
            "notify": None,
        }, "each child connects as its own principal; the coordinator and notifier use no Kafka"
    finally:
        run.terminate()
        run.wait(timeout=60)
        log.close()


def _environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _healthy(api: httpx.Client) -> bool:
    try:
        return api.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False
