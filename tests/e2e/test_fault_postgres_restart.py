"""PostgreSQL restarts under load: the API answers 503 while it is down and recovers by itself,
nothing is half-applied, and the relay and every projector outlive the restarts and catch up."""

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from gateways.cli.projections import projection_differences
from gateways.embedded.postgres import EmbeddedPostgres
from gateways.eventstore.environment import postgres_env
from gateways.kafka.relay import recorded_position
from gateways.projectors.coordinator import coordinator_runner
from gateways.runtime import api, coordinator_store
from gateways.tokens import TokenService
from services.cases import Cases
from services.settings import Settings
from tests.e2e.conftest import ServiceProcess, wait_until
from tests.e2e.test_fault_sigkill_under_load import agency_counts
from tests.support.faults import derived_messages
from tests.support.lifecycle import open_referred_case
from tests.support.servers import serving

WRITERS = 4
DOWN_SECONDS = 3
AGENCIES = ("police", "health")


@pytest.fixture
def own_postgres(tmp_path: Path):
    """A server of this test's own: restarting the shared one would disturb other tests."""
    # Durable like production: a killed server must not lose acknowledged commits.
    server = EmbeddedPostgres(tmp_path / "pg", durable=True).start()
    try:
        yield server
    finally:
        server.stop("immediate")


@pytest.fixture
def cases_on_own_postgres(own_postgres: EmbeddedPostgres) -> Iterator[tuple[str, Cases]]:
    database_url = own_postgres.create_database("simpul")
    settings = Settings(database_pool_size=4, database_connect_timeout=1, _env_file=None)
    cases = Cases(env=postgres_env(database_url, settings))
    yield database_url, cases
    cases.close()


@pytest.mark.fault
def test_a_postgres_restart_under_load_gives_503s_then_recovers_with_nothing_half_applied(
    own_postgres: EmbeddedPostgres,
    cases_on_own_postgres: tuple[str, Cases],
    kafka_settings: Settings,
    test_settings: Settings,
    services: Callable[..., ServiceProcess],
    rounds: Callable[[int, int], int],
    fault_report,
):
    restarts = rounds(2, 20)
    database_url, cases = cases_on_own_postgres
    tokens = TokenService.minting(Ed25519PrivateKey.generate())
    coordinator = {
        "Authorization": "Bearer "
        + tokens.mint(Actor("coordinator", Role.COORDINATOR, Agency.UPTD_PPA, "luwu-utara"))
    }
    outcomes: list[tuple[str, str, str, int]] = []
    stop = threading.Event()
    down = threading.Event()
    statuses_while_down: list[int] = []
    recoveries: list[float] = []

    # The relay and the projectors follow this test's own PostgreSQL.
    on_own = {"SIMPUL_DATABASE_URL": database_url}
    relay = services("relay", "--batch-size", "20", log_name="relay", env=on_own)
    projector = services(
        "project",
        *[part for a in AGENCIES for part in ("--agency", a)],
        log_name="project",
        env=on_own,
    )
    coordinator_projector = services("project", "--coordinator", log_name="coordinator", env=on_own)
    processes = (relay, projector, coordinator_projector)

    # Many writers share one token and one address: request limits off (tested on their own).
    unlimited = Settings(api_rate_per_address=0, api_rate_per_user=0, _env_file=None)  # type: ignore[call-arg]
    with (
        serving(api(cases, tokens, settings=unlimited)) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        referrals = dict(zip(AGENCIES, ("legal_process", "medical_care"), strict=True))
        case_ids = [open_referred_case(http, coordinator, referrals) for _ in range(WRITERS)]

        def command(number: int, key: str) -> tuple[str, dict[str, str]]:
            # Accompaniment stays in the office; a legal assessment reaches the police.
            if number % 2:
                return "assessments", {"kind": "further", "domain": "legal", "findings": key}
            return "accompaniment", {"activity": key}

        def write(case_id: str) -> None:
            with httpx.Client(base_url=url, timeout=30) as client:
                number = 0
                while not stop.is_set():
                    number += 1
                    key = f"note-{uuid.uuid4()}"
                    path, body = command(number, key)
                    try:
                        status = client.post(
                            f"/api/v1/cases/{case_id}/{path}",
                            json=body,
                            headers={**coordinator, "Idempotency-Key": key},
                        ).status_code
                    except httpx.HTTPError:
                        status = 0
                    outcomes.append((case_id, path, key, status))
                    if down.is_set():
                        statuses_while_down.append(status)

        writers = [threading.Thread(target=write, args=(case_id,)) for case_id in case_ids]
        for writer in writers:
            writer.start()
        wait_until(
            lambda: "published " in relay.output() and "consumed " in projector.output(),
            timeout=120,
            what="the relay and the projectors to work",
        )
        for _ in range(restarts):
            time.sleep(1.5)
            down.set()
            own_postgres.stop("immediate")
            time.sleep(DOWN_SECONDS)
            down.clear()
            own_postgres.start()
            restarted = time.monotonic()
            recovered_at = len(outcomes)
            wait_until(
                lambda since=recovered_at: any(status == 200 for *_, status in outcomes[since:]),
                timeout=60,
                interval=0.05,
                what="the API to recover by itself",
            )
            recoveries.append(time.monotonic() - restarted)
        time.sleep(1.5)
        stop.set()
        for writer in writers:
            writer.join(timeout=60)

        statuses = {status for *_, status in outcomes}
        # Retry every command whose outcome the client did not learn: each either
        # replays (it had committed) or records now; none may record twice.
        unknown = [(case_id, path, key) for case_id, path, key, status in outcomes if status != 200]
        for case_id, path, key in unknown:
            retried = http.post(
                f"/api/v1/cases/{case_id}/{path}",
                json=command(path == "assessments", key)[1],
                headers={**coordinator, "Idempotency-Key": key},
            )
            assert retried.status_code == 200, retried.text

    with psycopg.connect(database_url) as conn:
        recorded = conn.execute(
            "SELECT count(*), count(DISTINCT coalesce("
            "convert_from(state, 'UTF8')::jsonb->>'activity', "
            "convert_from(state, 'UTF8')::jsonb->>'findings')) FROM cases_events "
            "WHERE topic LIKE '%AccompanimentRecorded' OR topic LIKE '%AssessmentRecorded'"
        ).fetchone()
        unchained = conn.execute(
            "SELECT count(*) FROM cases_events e LEFT JOIN cases_events_hashes h "
            "USING (originator_id, originator_version) WHERE h.notification_id IS NULL"
        ).fetchone()[0]
    keys = {key for *_, key, _ in outcomes}
    assert statuses <= {200, 503}, "no 500s and no dropped connections"
    assert 503 in statuses_while_down
    assert len(recoveries) == restarts, "the API recovers by itself after every restart"
    assert recorded[0] == recorded[1] == len(keys), "every command recorded exactly once"
    assert unchained == 0, "no event without its hash: nothing half-applied"

    # The relay and the projectors were never restarted: they outlived every outage.
    head = cases.recorder.max_notification_id() or 0
    assert all(process.process.poll() is None for process in processes), [
        process.args for process in processes if process.process.poll() is not None
    ]
    prefix = kafka_settings.kafka_topic_prefix
    wait_until(
        lambda: recorded_position(database_url, prefix) >= head,
        timeout=120,
        interval=0.5,
        what="the relay to catch up after the restarts",
    )
    coordinator_view = coordinator_store(cases)
    wait_until(
        lambda: coordinator_view.position(cases.name) >= head,
        timeout=120,
        interval=0.5,
        what="the coordinator projector to catch up after the restarts",
    )
    derived = derived_messages(cases, prefix)
    expected = {agency: len(derived[f"{prefix}.agency.{agency}.v1"]) for agency in AGENCIES}
    wait_until(
        lambda: all(
            agency_counts(database_url, agency)[0] == expected[agency] for agency in AGENCIES
        ),
        timeout=120,
        interval=0.5,
        what="the agency projectors to catch up after the restarts",
    )
    for agency in AGENCIES:
        assert agency_counts(database_url, agency) == (expected[agency], expected[agency], 0)
        assert projection_differences(kafka_settings, database_url, agency) == [], agency
    check = coordinator_store(cases, "coordinator_check")
    coordinator_runner(cases, test_settings, check, batch_size=1000).catch_up()
    assert coordinator_view.rows() == check.rows()
    assert all(process.process.poll() is None for process in processes)

    fault_report(
        f"{len(outcomes)} commands from {WRITERS} HTTP writers; PostgreSQL killed "
        f"(immediate stop) {restarts} times for {DOWN_SECONDS} s each; statuses seen "
        f"{sorted(statuses)}, {len(statuses_while_down)} answers while down "
        f"({statuses_while_down.count(503)} of them 503), the API answered 200 again "
        f"{max(recoveries):.1f} s or less after each restart; {len(unknown)} uncertain commands "
        f"retried; {recorded[0]} events stored for {len(keys)} distinct commands; {unchained} "
        f"unchained. The relay, the police+health projector and the coordinator projector ran "
        f"throughout without a restart and caught up to head {head}: agency messages applied "
        f"once each ({', '.join(f'{a} {n}' for a, n in expected.items())}), both agency "
        f"projections and the coordinator views equal a rebuild",
        commands=len(keys),
    )
