"""The service runs under a database role that can only insert into the access log.

The review's attack (`ALTER TABLE ... DISABLE TRIGGER USER; DELETE ...`) is tried
as the service role against a real PostgreSQL set up by `simpul db setup` as
the owner: every statement is refused, and the log still verifies.
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from gateways import runtime
from gateways.cli import main
from gateways.eventstore.verify import verify_access_log, verify_store
from gateways.runtime import NotConfigured
from services.access_log import CaseRead
from services.case_commands import ReportCase
from services.case_search import SearchKeys, SearchTerms
from services.settings import Settings
from tests.support.builders import COORDINATOR, INTAKE_OFFICER, report_details
from tests.support.infrastructure import PostgresServer

REPORT = {
    name: value
    for name, value in report_details().items()
    if name not in ("case_id", "district", "register_number")
}


def as_role(url: str, role: str, database: str | None = None) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    path = f"/{database}" if database is not None else parts.path
    return urlunsplit(parts._replace(netloc=f"{role}@{host}", path=path))


@dataclass(frozen=True)
class Deployment:
    owner_url: str
    service_url: str
    service_role: str


@pytest.fixture
def deployment(pg_server: PostgresServer) -> Iterator[Deployment]:
    """A database owned by an ordinary owner role, and an ordinary service role."""
    suffix = uuid.uuid4().hex[:10]
    owner, service, database = f"owner_{suffix}", f"service_{suffix}", f"roles_{suffix}"
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{owner}" LOGIN')
        conn.execute(f'CREATE ROLE "{service}" LOGIN')
        conn.execute(f'CREATE DATABASE "{database}" OWNER "{owner}"')
    try:
        yield Deployment(
            as_role(pg_server.admin_url, owner, database),
            as_role(pg_server.admin_url, service, database),
            service,
        )
    finally:
        with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{service}"')
            conn.execute(f'DROP ROLE IF EXISTS "{owner}"')


def set_up(deployment: Deployment, monkeypatch: pytest.MonkeyPatch, tmp_path) -> int:
    monkeypatch.setenv("SIMPUL_DATABASE_URL", deployment.owner_url)
    monkeypatch.setenv("SIMPUL_DATA_DIR", str(tmp_path))
    return main(["db", "setup", "--service-role", deployment.service_role])


def settings() -> Settings:
    return Settings(database_pool_size=2, _env_file=None)  # type: ignore[call-arg]


ATTACKS = {
    "disable the triggers": "ALTER TABLE cases_access_log DISABLE TRIGGER USER",
    "delete a read": "DELETE FROM cases_access_log",
    "rewrite a read": "UPDATE cases_access_log SET user_id = 'someone-else'",
    "truncate": "TRUNCATE cases_access_log",
    "drop it": "DROP TABLE cases_access_log",
    "choose an entry's hash": "INSERT INTO cases_access_log (accessed_at, view, entry_hash) "
    "VALUES (now(), 'read_case', '\\x00')",
    "choose an entry's id": "INSERT INTO cases_access_log (id, accessed_at, view) "
    "VALUES (1, now(), 'read_case')",
    "move the head": "UPDATE cases_access_log_chain_head SET entry_count = 0",
    "skip triggers for the session": "SET session_replication_role = replica",
    "replace the chain function": "CREATE OR REPLACE FUNCTION cases_access_log_chain() "
    "RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
    "drop the chain trigger": "DROP TRIGGER cases_access_log_chained ON cases_access_log",
    "delete an event": "DELETE FROM cases_events",
    "rewrite an event": "UPDATE cases_events SET topic = topic",
    "take back a revocation": "DELETE FROM cases_token_revocations",
    "delete what a search looked for": "DELETE FROM cases_access_log_search_terms",
    "rewrite what a search looked for": "UPDATE cases_access_log_search_terms "
    "SET sealed_terms = '\\x00'",
    "truncate what searches looked for": "TRUNCATE cases_access_log_search_terms",
}


def test_as_the_service_role_every_way_to_erase_the_access_log_is_refused(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    assert set_up(deployment, monkeypatch, tmp_path) == 0
    cases = runtime.open_cases(settings(), deployment.service_url)
    try:
        case_id = cases.report_case(INTAKE_OFFICER, ReportCase(**REPORT)).case_id
        cases.read_case_events(COORDINATOR, case_id, CaseRead(view="read_case"))
        cases.record_failed_authentication("read_case", "token_missing")
        runtime.revocation_store(cases).revoke_user("mallory", timedelta(hours=12))
        cases.record_search(
            COORDINATOR,
            SearchTerms(name="Sukarno"),
            CaseRead(view="case_search", purpose="a new report"),
            SearchKeys.generate(),
        )
    finally:
        cases.close()

    refused = {}
    for name, statement in ATTACKS.items():
        with psycopg.connect(deployment.service_url, autocommit=True) as conn:
            try:
                conn.execute(statement)
            except psycopg.errors.InsufficientPrivilege:
                refused[name] = True
            else:
                refused[name] = False

    assert refused == dict.fromkeys(ATTACKS, True)
    with psycopg.connect(deployment.owner_url, autocommit=True) as conn:
        log = verify_access_log(conn)
        store = verify_store(conn)
    assert log.intact and log.entries == 3
    assert store.intact and store.events > 0


def test_the_service_role_reads_the_access_log_and_its_own_revocations(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    assert set_up(deployment, monkeypatch, tmp_path) == 0
    cases = runtime.open_cases(settings(), deployment.service_url)
    try:
        case_id = cases.report_case(INTAKE_OFFICER, ReportCase(**REPORT)).case_id
        cases.read_case_events(COORDINATOR, case_id, CaseRead(view="read_case"))
        runtime.revocation_store(cases).revoke_user("mallory", timedelta(hours=12))
        listed = cases.access_log_of_case(COORDINATOR, case_id, CaseRead(view="read_access_log"))
        revoked = runtime.revocation_store(cases).live_revocations()
    finally:
        cases.close()

    assert [entry.record.view for entry in listed] == ["read_case", "read_access_log"]
    assert set(revoked.users_revoked_at) == {"mallory"}
    with psycopg.connect(deployment.service_url, autocommit=True) as conn:
        assert verify_access_log(conn).intact


def test_a_process_under_the_service_role_refuses_to_start_on_a_store_not_set_up(
    deployment: Deployment,
) -> None:
    with pytest.raises(NotConfigured):
        runtime.open_cases(settings(), deployment.service_url)


def test_set_up_hands_read_model_schemas_to_the_service_role_and_it_makes_its_own(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, tmp_path, capsys, pg_server
) -> None:
    """Upgrading a deployment whose processes ran as the owner: their schemas change hands."""
    with psycopg.connect(deployment.owner_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA coordinator")
        conn.execute("CREATE TABLE coordinator.open_cases (case_id uuid)")
    owner = urlsplit(deployment.owner_url).username

    refused = set_up(deployment, monkeypatch, tmp_path)
    advice = capsys.readouterr().err
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        conn.execute(f'GRANT "{deployment.service_role}" TO "{owner}"')
    done = set_up(deployment, monkeypatch, tmp_path)

    assert (refused, done) == (2, 0)
    assert f"GRANT {deployment.service_role} TO {owner}" in advice

    with psycopg.connect(deployment.service_url, autocommit=True) as conn:
        conn.execute("INSERT INTO coordinator.open_cases VALUES (gen_random_uuid())")
        conn.execute("CREATE SCHEMA agency_police")
        conn.execute("ALTER SCHEMA coordinator RENAME TO coordinator_previous")


def test_set_up_refuses_a_service_role_that_owns_the_store(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, tmp_path, capsys
) -> None:
    owner = urlsplit(deployment.owner_url).username
    monkeypatch.setenv("SIMPUL_DATABASE_URL", deployment.owner_url)
    monkeypatch.setenv("SIMPUL_DATA_DIR", str(tmp_path))

    assert main(["db", "setup", "--service-role", str(owner)]) == 2
    assert "another role" in capsys.readouterr().err


def test_set_up_names_the_statement_when_it_may_not_create_the_service_role(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, tmp_path, capsys
) -> None:
    monkeypatch.setenv("SIMPUL_DATABASE_URL", deployment.owner_url)
    monkeypatch.setenv("SIMPUL_DATA_DIR", str(tmp_path))

    assert main(["db", "setup", "--service-role", "no_such_role_here"]) == 2
    assert "CREATE ROLE no_such_role_here LOGIN" in capsys.readouterr().err
