"""Browser sessions in the real PostgreSQL: timeouts, fixation, logout, revocation, CSRF."""

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from domain.actors import Actor
from gateways.runtime import revocation_store, web_sessions
from gateways.tokens import CachedRevocations, RevocationSet
from gateways.web.sessions import Lifetimes, SessionStore
from services.cases import Cases
from services.settings import Settings

pytestmark = pytest.mark.integration

START = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
WORKER = Actor(user_id="cw-1", role="case_worker", agency="uptd_ppa", district="3171")


class Revoked:
    """A revocation source the test can change, read through the real cache."""

    def __init__(self) -> None:
        self.current = RevocationSet()

    def live_revocations(self) -> RevocationSet:
        return self.current


@pytest.fixture
def source() -> Revoked:
    return Revoked()


@pytest.fixture
def store(database_url: str, source: Revoked) -> Iterator[SessionStore]:
    sessions = SessionStore(
        lambda: psycopg.connect(database_url, autocommit=True),
        CachedRevocations(source, refresh_every=timedelta(0)),
        Lifetimes(idle=timedelta(minutes=30), absolute=timedelta(hours=12)),
    )
    sessions.create_table()
    yield sessions


def test_an_opened_session_resumes_with_its_actor_and_csrf_token(store: SessionStore) -> None:
    opened = store.open(WORKER, now=START)
    resumed = store.resume(opened.session_id, now=START + timedelta(minutes=5))
    assert resumed is not None
    assert resumed.actor == WORKER
    assert resumed.csrf_matches(opened.csrf_token)
    assert not resumed.csrf_matches("forged")
    assert not resumed.csrf_matches(None)


def test_a_session_idle_too_long_is_gone(store: SessionStore) -> None:
    opened = store.open(WORKER, now=START)
    assert store.resume(opened.session_id, now=START + timedelta(minutes=31)) is None


def test_activity_keeps_a_session_only_until_its_absolute_lifetime(store: SessionStore) -> None:
    opened = store.open(WORKER, now=START)
    moment = START
    while moment < START + timedelta(hours=11, minutes=45):
        moment += timedelta(minutes=20)
        assert store.resume(opened.session_id, now=moment) is not None
    assert store.resume(opened.session_id, now=START + timedelta(hours=12, minutes=5)) is None


def test_a_login_gets_a_new_id_and_the_brought_one_dies(store: SessionStore) -> None:
    planted = store.open(WORKER, now=START)
    fresh = store.open(WORKER, now=START, replacing=planted.session_id)
    assert fresh.session_id != planted.session_id
    assert store.resume(planted.session_id, now=START) is None
    assert store.resume(fresh.session_id, now=START) is not None


def test_logout_ends_the_session(store: SessionStore) -> None:
    opened = store.open(WORKER, now=START)
    store.close(opened.session_id)
    assert store.resume(opened.session_id, now=START) is None


def test_a_revoked_user_loses_sessions_opened_before_the_revocation(
    store: SessionStore, source: Revoked
) -> None:
    opened = store.open(WORKER, now=START)
    source.current = RevocationSet(users_revoked_at={WORKER.user_id: START + timedelta(hours=1)})
    assert store.resume(opened.session_id, now=START + timedelta(hours=1, minutes=1)) is None


def test_an_unknown_or_missing_id_opens_nothing(store: SessionStore) -> None:
    store.open(WORKER, now=START)
    assert store.resume("not-a-session", now=START) is None
    assert store.resume(None, now=START) is None


def test_the_table_keeps_only_a_digest_of_the_id(store: SessionStore, database_url: str) -> None:
    opened = store.open(WORKER, now=START)
    with psycopg.connect(database_url) as conn:
        stored = conn.execute("SELECT id_digest FROM web_sessions").fetchall()
    assert stored and all(opened.session_id not in row[0] for row in stored)


def test_the_deployment_keeps_sessions_beside_the_event_store_and_revokes_them(
    pg_cases: Cases, test_settings: Settings
) -> None:
    sessions = web_sessions(test_settings, pg_cases)
    opened = sessions.open(WORKER, now=datetime.now(UTC))
    assert sessions.resume(opened.session_id, now=datetime.now(UTC)) is not None
    revocation_store(pg_cases).revoke_user(WORKER.user_id, timedelta(hours=12))
    time.sleep(test_settings.token_revocation_refresh_seconds + 0.5)
    assert sessions.resume(opened.session_id, now=datetime.now(UTC)) is None
