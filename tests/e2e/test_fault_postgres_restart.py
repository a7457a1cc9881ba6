"""PostgreSQL restarts under load: 503 while it is down, recovery by itself, nothing half-applied."""

import threading
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from gateways.api.main import create_app
from gateways.embedded.postgres import EmbeddedPostgres
from gateways.eventstore.environment import postgres_env
from gateways.tokens import TokenService
from services.cases import Cases
from services.settings import Settings
from tests.support.lifecycle import a_report_body
from tests.support.servers import serving

WRITERS = 4
SECRET = "restart-test-" + "s" * 40


@pytest.fixture
def own_postgres(tmp_path: Path):
    """A server of this test's own: restarting the shared one would disturb other tests."""
    # Durable like production: a killed server must not lose acknowledged commits.
    server = EmbeddedPostgres(tmp_path / "pg", durable=True).start()
    try:
        yield server
    finally:
        server.stop("immediate")


def test_a_postgres_restart_under_load_gives_503s_then_recovers_with_nothing_half_applied(
    own_postgres: EmbeddedPostgres, fault_report
):
    database_url = own_postgres.create_database("simpul")
    settings = Settings(database_pool_size=4, database_connect_timeout=1, _env_file=None)
    cases = Cases(env=postgres_env(database_url, settings))
    tokens = TokenService(secret=SECRET)
    coordinator = {"Authorization": "Bearer " + tokens.mint(
        Actor("coordinator", Role.COORDINATOR, Agency.UPTD_PPA, "luwu-utara"))}
    outcomes: list[tuple[str, str, int]] = []
    stop = threading.Event()
    down = threading.Event()
    statuses_while_down: list[int] = []

    with serving(create_app(cases=cases, tokens=tokens)) as url, httpx.Client(base_url=url, timeout=30) as http:
        case_ids = []
        for _ in range(WRITERS):
            case_id = http.post("/api/v1/cases", json=a_report_body(), headers=coordinator).json()["case_id"]
            http.post(f"/api/v1/cases/{case_id}/classification", headers=coordinator, json={
                "case_type": "KTA", "risk_level": "high", "jurisdiction": "district", "emergency": False})
            http.post(f"/api/v1/cases/{case_id}/consent", headers=coordinator, json={
                "given": True, "given_by": "parent", "document_ref": "IC"})
            case_ids.append(case_id)

        def write(case_id: str) -> None:
            with httpx.Client(base_url=url, timeout=30) as client:
                while not stop.is_set():
                    key = f"note-{uuid.uuid4()}"
                    try:
                        status = client.post(
                            f"/api/v1/cases/{case_id}/accompaniment",
                            json={"activity": key},
                            headers={**coordinator, "Idempotency-Key": key},
                        ).status_code
                    except httpx.HTTPError:
                        status = 0
                    outcomes.append((case_id, key, status))
                    if down.is_set():
                        statuses_while_down.append(status)

        writers = [threading.Thread(target=write, args=(case_id,)) for case_id in case_ids]
        for writer in writers:
            writer.start()
        time.sleep(1.5)
        down.set()
        own_postgres.stop("immediate")
        time.sleep(3)
        down.clear()
        own_postgres.start()
        recovered_at = len(outcomes)
        time.sleep(3)
        stop.set()
        for writer in writers:
            writer.join(timeout=60)

        statuses = {status for _, _, status in outcomes}
        after_restart = [status for _, _, status in outcomes[recovered_at:]]
        # Retry every command whose outcome the client did not learn: each either
        # replays (it had committed) or records now; none may record twice.
        unknown = [(case_id, key) for case_id, key, status in outcomes if status != 200]
        for case_id, key in unknown:
            retried = http.post(
                f"/api/v1/cases/{case_id}/accompaniment",
                json={"activity": key},
                headers={**coordinator, "Idempotency-Key": key},
            )
            assert retried.status_code == 200, retried.text

    with psycopg.connect(database_url) as conn:
        notes = conn.execute(
            "SELECT count(*), count(DISTINCT convert_from(state, 'UTF8')::jsonb->>'activity') "
            "FROM cases_events WHERE topic LIKE '%AccompanimentRecorded'"
        ).fetchone()
        unchained = conn.execute(
            "SELECT count(*) FROM cases_events e LEFT JOIN cases_events_hashes h "
            "USING (originator_id, originator_version) WHERE h.notification_id IS NULL"
        ).fetchone()[0]
    cases.close()
    keys = {key for _, key, _ in outcomes}

    fault_report(
        f"{len(outcomes)} commands from {WRITERS} writers; PostgreSQL killed for 3 s; statuses "
        f"seen {sorted(statuses)}, {len(statuses_while_down)} answers while down, "
        f"{after_restart.count(200)} successes after restart; {len(unknown)} uncertain commands "
        f"retried; {notes[0]} events stored for {len(keys)} distinct commands; {unchained} unchained"
    )
    assert statuses <= {200, 503}, "no 500s and no dropped connections"
    assert 503 in statuses_while_down
    assert 200 in after_restart, "the API recovers by itself"
    assert notes[0] == notes[1] == len(keys), "every command recorded exactly once"
    assert unchained == 0, "no event without its hash: nothing half-applied"
