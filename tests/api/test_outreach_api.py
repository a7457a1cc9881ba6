"""Issue 11: Kutai Timur's outreach (SOP Penjangkauan) over HTTP, from the vulnerability map
(K-O1) to the risk grade (K-O5) and the case it becomes (K-R1)."""

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from services.access_log import AccessQuery
from services.cases import Cases
from tests.support.lifecycle import Headers

KUTIM = {"agency": "social", "district": "kutai-timur"}
MAP = {
    "kelurahan": "Sangatta Utara",
    "data_source": "dtks",
    "data_as_of": "2024-01-31",
    "poor_families": 120,
    "vulnerable_children": 37,
}
OBSERVATION = "the child was alone at home during school hours"


def _visit() -> dict[str, Any]:
    return {
        "visited_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
        "visitors": ["peksos.kutim"],
        "observation": OBSERVATION,
    }


def _mapped(client: TestClient, auth: Headers) -> str:
    response = client.post("/api/v1/outreach", json=MAP, headers=auth("case_worker", **KUTIM))
    assert response.status_code == 201, response.text
    assert response.json()["recorded"] == ["VulnerabilityMapped"]
    outreach_id: str = response.json()["outreach_id"]
    return outreach_id


def _step(
    client: TestClient, auth: Headers, outreach_id: str, path: str, body: dict[str, Any]
) -> Any:
    return client.post(
        f"/api/v1/outreach/{outreach_id}/{path}", json=body, headers=auth("case_worker", **KUTIM)
    )


def _graded(client: TestClient, auth: Headers) -> str:
    outreach_id = _mapped(client, auth)
    for path, body in (
        ("verification", {"finding": "vulnerability_confirmed"}),
        ("information", {"source": "institution", "summary": "the school reports absences"}),
        ("home-visits", _visit()),
        ("risk-grade", {"risk": "high", "reason": "left alone repeatedly"}),
    ):
        response = _step(client, auth, outreach_id, path, body)
        assert response.status_code == 200, (path, response.text)
    return outreach_id


BECOME = {"chronology": "found at the K-O4 home visit", "victim": {"sex": "female"}}


def test_k_o1_to_k_o5_then_k_r1_opens_a_case_from_the_outreach(
    client: TestClient, auth: Headers
) -> None:
    outreach_id = _graded(client, auth)

    became = client.post(
        f"/api/v1/outreach/{outreach_id}/case", json=BECOME, headers=auth("intake_officer", **KUTIM)
    )

    assert became.status_code == 201, became.text
    body = became.json()
    assert body["register_number"].startswith("KUTIM/")
    case = client.get(f"/api/v1/cases/{body['case_id']}", headers=auth("coordinator", **KUTIM))
    assert case.status_code == 200, case.text
    assert case.json()["register_number"] == body["register_number"]
    assert case.json()["from_outreach"] == outreach_id
    assert case.json()["report"]["channel"] == "outreach"
    record = client.get(f"/api/v1/outreach/{outreach_id}", headers=auth("coordinator", **KUTIM))
    assert record.status_code == 200, record.text
    assert (record.json()["status"], record.json()["case_id"], record.json()["last_step"]) == (
        "became_case",
        body["case_id"],
        "K-R1",
    )
    assert record.json()["home_visits"][0]["observation"] == OBSERVATION


def test_k_r1_retried_answers_the_same_case(client: TestClient, auth: Headers) -> None:
    outreach_id = _graded(client, auth)
    path = f"/api/v1/outreach/{outreach_id}/case"
    first = client.post(path, json=BECOME, headers=auth("intake_officer", **KUTIM))

    again = client.post(path, json=BECOME, headers=auth("intake_officer", **KUTIM))

    assert again.status_code == 201, again.text
    assert again.json()["case_id"] == first.json()["case_id"]
    assert again.json()["replayed"] is True


def test_k_o5_before_a_home_visit_is_409_naming_the_rule_and_step_k_o4(
    client: TestClient, auth: Headers
) -> None:
    outreach_id = _mapped(client, auth)
    assert _step(client, auth, outreach_id, "verification", {"finding": "case_found"}).is_success

    response = _step(client, auth, outreach_id, "risk-grade", {"risk": "high"})

    assert response.status_code == 409
    assert (response.json()["rule"], response.json()["step"]) == (
        "observation_visit_required",
        "K-O4",
    )


def test_k_r1_before_the_grade_is_409_naming_k_o5_and_opens_no_case(
    client: TestClient, auth: Headers, pg_cases: Cases
) -> None:
    outreach_id = _mapped(client, auth)
    head = pg_cases.head_position()

    response = client.post(
        f"/api/v1/outreach/{outreach_id}/case", json=BECOME, headers=auth("intake_officer", **KUTIM)
    )

    assert response.status_code == 409
    assert (response.json()["rule"], response.json()["step"]) == ("risk_grade_required", "K-O5")
    assert pg_cases.head_position() == head


def test_after_k_r1_further_steps_are_409_outreach_became_case(
    client: TestClient, auth: Headers
) -> None:
    outreach_id = _graded(client, auth)
    client.post(
        f"/api/v1/outreach/{outreach_id}/case", json=BECOME, headers=auth("intake_officer", **KUTIM)
    )

    response = _step(client, auth, outreach_id, "home-visits", _visit())

    assert response.status_code == 409
    assert (response.json()["rule"], response.json()["step"]) == ("outreach_became_case", "K-R1")


def test_a_district_without_outreach_in_its_sop_is_refused_409_k_o1(
    client: TestClient, auth: Headers
) -> None:
    response = client.post(
        "/api/v1/outreach", json=MAP, headers=auth("case_worker", district="luwu-utara")
    )

    assert response.status_code == 409
    assert (response.json()["rule"], response.json()["step"]) == ("process_not_run", "K-O1")
    assert "outreach" in response.json()["detail"]


def test_invalid_fields_are_422_naming_the_field_without_echoing_it(
    client: TestClient, auth: Headers
) -> None:
    response = client.post(
        "/api/v1/outreach",
        json={**MAP, "poor_families": -5, "data_source": "rumour-mill"},
        headers=auth("case_worker", **KUTIM),
    )

    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"body.poor_families", "body.data_source"}
    assert "rumour-mill" not in response.text
    outreach_id = _mapped(client, auth)
    graded = _step(client, auth, outreach_id, "verification", {"finding": "maybe-later"})
    assert graded.status_code == 422
    assert [error["field"] for error in graded.json()["errors"]] == ["body.finding"]
    assert "maybe-later" not in graded.text


def test_an_agency_officer_is_refused_outreach_and_the_refusal_is_logged(
    client: TestClient, auth: Headers, pg_cases: Cases
) -> None:
    outreach_id = _graded(client, auth)
    police = auth("agency_officer", agency="police", user="police.kutim", district="kutai-timur")

    read = client.get(f"/api/v1/outreach/{outreach_id}", headers=police)
    listed = client.get("/api/v1/outreach", headers=police)
    mapped = client.post("/api/v1/outreach", json=MAP, headers=police)

    assert [read.status_code, listed.status_code, mapped.status_code] == [403, 403, 403]
    assert read.json()["rule"] == "outreach_office_only"
    assert OBSERVATION not in read.text
    entries = pg_cases._access_log.select_access(AccessQuery(user_id="police.kutim"))
    assert {entry.record.outcome.value for entry in entries} == {"denied"}
    assert str(entries[0].record.case_id) == outreach_id


def test_another_districts_office_is_told_the_outreach_does_not_exist(
    client: TestClient, auth: Headers
) -> None:
    outreach_id = _mapped(client, auth)

    response = client.get(
        f"/api/v1/outreach/{outreach_id}", headers=auth("coordinator", district="luwu-utara")
    )

    assert response.status_code == 404


def test_an_auditor_reads_outreach_and_each_read_is_logged(
    client: TestClient, auth: Headers, pg_cases: Cases
) -> None:
    outreach_id = _graded(client, auth)
    auditor = auth("auditor", user="auditor.kutim", district="kutai-timur")

    listed = client.get("/api/v1/outreach", params={"district": "kutai-timur"}, headers=auditor)
    record = client.get(f"/api/v1/outreach/{outreach_id}", headers=auditor)
    acted = _step(client, lambda *_a, **_k: auditor, outreach_id, "risk-grade", {"risk": "low"})

    assert listed.status_code == 200 and record.status_code == 200
    assert outreach_id in {row["outreach_id"] for row in listed.json()}
    assert all("home_visits" not in row for row in listed.json())
    assert acted.status_code == 403
    views = {
        (entry.record.view, entry.record.outcome.value, str(entry.record.case_id))
        for entry in pg_cases._access_log.select_access(AccessQuery(user_id="auditor.kutim"))
    }
    assert ("list_outreach", "granted", "None") in views
    assert ("read_outreach", "granted", outreach_id) in views


def test_a_step_based_on_a_stale_version_is_409_and_records_nothing(
    client: TestClient, auth: Headers
) -> None:
    outreach_id = _mapped(client, auth)

    response = client.post(
        f"/api/v1/outreach/{outreach_id}/verification",
        json={"finding": "case_found"},
        headers=auth("case_worker", **KUTIM, **{"If-Match": '"7"'}),
    )

    assert response.status_code == 409
    assert response.headers["ETag"] == '"1"'
    record = client.get(f"/api/v1/outreach/{outreach_id}", headers=auth("coordinator", **KUTIM))
    assert record.json()["version"] == 1


def test_k_o1_retried_with_its_idempotency_key_answers_the_first_outreach(
    client: TestClient, auth: Headers
) -> None:
    headers = auth("case_worker", **KUTIM, **{"Idempotency-Key": "k-o1-sangatta-utara-1"})
    first = client.post("/api/v1/outreach", json=MAP, headers=headers)

    again = client.post("/api/v1/outreach", json=MAP, headers=headers)

    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json()["outreach_id"] == first.json()["outreach_id"]
    assert again.json()["replayed"] is True
    assert again.headers["Idempotent-Replayed"] == "true"
    listed = client.get("/api/v1/outreach", headers=auth("coordinator", **KUTIM))
    assert [o["outreach_id"] for o in listed.json()].count(first.json()["outreach_id"]) == 1
    assert len(listed.json()) == 1


def test_k_o4_retried_with_its_idempotency_key_records_one_home_visit(
    client: TestClient, auth: Headers
) -> None:
    outreach_id = _mapped(client, auth)
    for path, body in (
        ("verification", {"finding": "vulnerability_confirmed"}),
        ("information", {"source": "institution", "summary": "the school reports absences"}),
    ):
        assert _step(client, auth, outreach_id, path, body).status_code == 200
    visit = _visit()
    headers = auth("case_worker", **KUTIM, **{"Idempotency-Key": "k-o4-visit-0001"})
    path = f"/api/v1/outreach/{outreach_id}/home-visits"

    first = client.post(path, json=visit, headers=headers)
    again = client.post(path, json=visit, headers=headers)

    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert again.json()["version"] == first.json()["version"]
    assert again.json()["replayed"] is True
    record = client.get(f"/api/v1/outreach/{outreach_id}", headers=auth("coordinator", **KUTIM))
    assert len(record.json()["home_visits"]) == 1
    assert record.json()["version"] == first.json()["version"]


def test_an_idempotency_key_reused_for_another_step_is_409_and_records_nothing(
    client: TestClient, auth: Headers
) -> None:
    outreach_id = _mapped(client, auth)
    headers = auth("case_worker", **KUTIM, **{"Idempotency-Key": "k-o2-once-only"})
    path = f"/api/v1/outreach/{outreach_id}/verification"
    assert (
        client.post(path, json={"finding": "vulnerability_confirmed"}, headers=headers).status_code
        == 200
    )

    reused = client.post(path, json={"finding": "case_found"}, headers=headers)

    assert reused.status_code == 409
    assert reused.json()["type"].endswith("idempotency-key-reused")
    record = client.get(f"/api/v1/outreach/{outreach_id}", headers=auth("coordinator", **KUTIM))
    assert record.json()["version"] == 2
