"""50 concurrent writers on the same and on different cases, with a reader tailing the store."""

import threading
import time
import uuid
from collections import Counter, defaultdict

import httpx

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from gateways.api.main import create_app
from gateways.tokens import TokenService
from services.cases import Cases
from tests.support.lifecycle import a_report_body
from tests.support.servers import serving

WRITERS = 50
HOT_WRITERS = 25
COOL_CASES = 5
COMMANDS_EACH = 3
SECRET = "writers-test-" + "w" * 40


def test_concurrent_writers_lose_no_update_and_the_store_has_no_gap(pg_cases: Cases, fault_report):
    tokens = TokenService(secret=SECRET)
    headers = {"Authorization": "Bearer " + tokens.mint(
        Actor("coordinator", Role.COORDINATOR, Agency.UPTD_PPA, "luwu-utara"))}
    accepted: Counter[str] = Counter()
    conflicts = Counter()
    errors: list[str] = []
    tail: list[tuple[int, str, int]] = []
    stop_tail = threading.Event()

    def follow_the_store() -> None:
        position = 0
        while not stop_tail.is_set():
            for n in pg_cases.recorder.select_notifications(position, 500, inclusive_of_start=False):
                tail.append((n.id, str(n.originator_id), n.originator_version))
                position = n.id
            time.sleep(0.01)

    with serving(create_app(cases=pg_cases, tokens=tokens)) as url, httpx.Client(base_url=url, timeout=60) as http:
        case_ids = []
        for _ in range(1 + COOL_CASES):
            case_id = http.post("/api/v1/cases", json=a_report_body(), headers=headers).json()["case_id"]
            http.post(f"/api/v1/cases/{case_id}/classification", headers=headers, json={
                "case_type": "KTA", "risk_level": "high", "jurisdiction": "district", "emergency": False})
            http.post(f"/api/v1/cases/{case_id}/consent", headers=headers, json={
                "given": True, "given_by": "parent", "document_ref": "IC"})
            case_ids.append(case_id)
        hot, cool = case_ids[0], case_ids[1:]
        start = threading.Barrier(WRITERS)

        def write(case_id: str) -> None:
            with httpx.Client(base_url=url, timeout=60) as client:
                start.wait()
                for _ in range(COMMANDS_EACH):
                    while True:
                        version = client.get(f"/api/v1/cases/{case_id}", headers=headers).json()["version"]
                        response = client.post(
                            f"/api/v1/cases/{case_id}/accompaniment",
                            json={"activity": f"note {uuid.uuid4()}"},
                            headers={**headers, "If-Match": f'"{version}"'},
                        )
                        if response.status_code == 200:
                            accepted[case_id] += 1
                            break
                        if response.status_code == 409:
                            conflicts[case_id] += 1
                            continue
                        errors.append(f"{response.status_code} {response.text}")
                        return

        reader = threading.Thread(target=follow_the_store)
        reader.start()
        targets = [hot] * HOT_WRITERS + [cool[i % COOL_CASES] for i in range(WRITERS - HOT_WRITERS)]
        writers = [threading.Thread(target=write, args=(case_id,)) for case_id in targets]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(timeout=300)
        time.sleep(0.5)
        stop_tail.set()
        reader.join()

    versions: dict[str, list[int]] = defaultdict(list)
    for _, case_id, version in tail:
        versions[case_id].append(version)
    ids = [notification_id for notification_id, _, _ in tail]
    head = pg_cases.recorder.max_notification_id()
    fault_report(
        f"{WRITERS} writers ({HOT_WRITERS} on one case), {sum(accepted.values())} commands accepted, "
        f"{sum(conflicts.values())} lost a race and retried after 409 "
        f"({conflicts[hot]} on the hot case); the tailing reader saw all {len(tail)} events in order "
        f"(notification ids up to {head}: rolled-back inserts leave ids unused, never events)"
    )
    assert errors == []
    assert ids == sorted(ids) and len(set(ids)) == len(ids), "the tail never goes back or repeats"
    assert len(tail) == len(pg_cases.recorder.select_notifications(None, 100_000)), "no gap"
    for case_id in case_ids:
        # Three setup events per case, then one per accepted command: none lost.
        assert versions[case_id] == list(range(1, 4 + accepted[case_id])), case_id
    assert accepted[hot] == HOT_WRITERS * COMMANDS_EACH
    assert conflicts[hot] > 0, "the hot case really was contended"
