"""The whole SOP through HTTP, and what a retried request does."""

from fastapi.testclient import TestClient

from tests.support.lifecycle import Headers, a_report_body, walk_full_lifecycle


def test_a_case_goes_from_report_to_agreed_termination(client: TestClient, auth: Headers):
    walk = walk_full_lifecycle(client, auth, "lifecycle")

    case_file = client.get(f"/api/v1/cases/{walk.case_id}", headers=auth("coordinator")).json()
    assert case_file["status"] == "closed"
    assert case_file["stage"] == "closed"
    assert case_file["termination"]["kind"] == "agreed"
    assert {r["agency"]: r["status"] for r in case_file["referrals"]} == {
        "health": "completed",
        "police": "completed",
        "education": "completed",
    }
    assert case_file["version"] == len(walk.results) + 0


def test_rerunning_the_lifecycle_with_the_same_idempotency_keys_records_nothing_more(
    client: TestClient, auth: Headers
):
    arrived_at = "2026-03-02T08:00:00+08:00"
    first = walk_full_lifecycle(client, auth, "same-keys", arrived_at=arrived_at)
    history = client.get(
        f"/api/v1/cases/{first.case_id}/events", headers=auth("coordinator")
    ).json()

    second = walk_full_lifecycle(client, auth, "same-keys", arrived_at=arrived_at)

    assert second.case_id == first.case_id
    assert [r["version"] for r in second.results] == [r["version"] for r in first.results]
    assert all(result["replayed"] for result in second.results)
    assert not any(result["replayed"] for result in first.results)
    assert (
        client.get(f"/api/v1/cases/{first.case_id}/events", headers=auth("coordinator")).json()
        == history
    )


def test_reporting_answers_201_with_location_etag_and_register_number(
    client: TestClient, auth: Headers
):
    response = client.post("/api/v1/cases", json=a_report_body(), headers=auth("intake_officer"))

    assert response.status_code == 201
    body = response.json()
    assert response.headers["Location"] == f"/api/v1/cases/{body['case_id']}"
    assert response.headers["ETag"] == '"1"'
    assert body["recorded"] == ["ReportReceived"]
    assert body["register_number"].startswith("LUTRA/")


def test_register_numbers_follow_one_another_within_a_district(client: TestClient, auth: Headers):
    numbers = [
        client.post("/api/v1/cases", json=a_report_body(), headers=auth("intake_officer")).json()[
            "register_number"
        ]
        for _ in range(3)
    ]

    sequence = [int(number.rsplit("/", 1)[1]) for number in numbers]
    assert sequence == [sequence[0], sequence[0] + 1, sequence[0] + 2]


def test_case_file_can_be_read_as_of_an_earlier_version(client: TestClient, auth: Headers):
    walk = walk_full_lifecycle(client, auth, "as-of")

    earlier = client.get(
        f"/api/v1/cases/{walk.case_id}", params={"version": 3}, headers=auth("coordinator")
    )

    assert earlier.status_code == 200
    assert earlier.json()["version"] == 3
    assert earlier.json()["status"] == "open"
    assert earlier.headers["ETag"] == '"3"'


def test_due_steps_report_time_standards_of_the_case(client: TestClient, auth: Headers):
    case_id = client.post(
        "/api/v1/cases", json=a_report_body(), headers=auth("intake_officer")
    ).json()["case_id"]

    due = client.get(f"/api/v1/cases/{case_id}/due-steps", headers=auth("coordinator")).json()

    codes = [step["code"] for step in due["steps"]]
    assert "L1.2" in codes and "L1.5" in codes
    classification = next(step for step in due["steps"] if step["code"] == "L1.5")
    assert classification["state"] in ("due", "overdue")
    assert classification["limit_minutes"] == 60
