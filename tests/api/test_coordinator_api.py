"""The coordinator's views over HTTP: open-case list, workload, time-standard dashboard.

A real projector follows the test database in a background thread, as
`simpul project --coordinator` does beside the API; each test waits for it to
catch up (the views are eventually consistent) before reading.
"""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.support.lifecycle import a_report_body, walk_full_lifecycle

Headers = Callable[..., dict[str, str]]
VIEWS = ("/api/v1/cases", "/api/v1/workload", "/api/v1/dashboard/time-standards")


def report(client: TestClient, auth: Headers, **overrides) -> str:
    response = client.post(
        "/api/v1/cases", json=a_report_body(**overrides), headers=auth("intake_officer")
    )
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


def classify(client: TestClient, auth: Headers, case_id: str, risk_level: str = "high") -> None:
    response = client.post(
        f"/api/v1/cases/{case_id}/classification",
        json={
            "case_type": "KTA",
            "risk_level": risk_level,
            "jurisdiction": "district",
            "emergency": False,
        },
        headers=auth("intake_officer"),
    )
    assert response.status_code == 200, response.text


def test_a_reported_case_appears_in_the_list_without_personal_data(
    client: TestClient, auth: Headers, caught_up: Callable[[], int]
):
    case_id = report(client, auth)
    classify(client, auth, case_id)
    position = caught_up()

    response = client.get("/api/v1/cases", headers=auth("coordinator"))

    assert response.status_code == 200
    body = response.json()
    assert body["position"] >= position
    [item] = body["items"]
    assert item["case_id"] == case_id
    assert (item["stage"], item["status"], item["risk_level"]) == ("identification", "open", "high")
    assert item["next_step"] == "L1.7" and item["overdue_steps"] == []
    assert "Mawar" not in response.text and "7322011201140001" not in response.text


def test_filters_select_cases_and_pages_follow_the_cursor(
    client: TestClient, auth: Headers, caught_up: Callable[[], int]
):
    high, medium, unclassified = (report(client, auth) for _ in range(3))
    classify(client, auth, high, "high")
    classify(client, auth, medium, "medium")
    caught_up()
    office = auth("case_worker")

    def listed(**params) -> list[str]:
        response = client.get("/api/v1/cases", params=params, headers=office)
        assert response.status_code == 200, response.text
        return [item["case_id"] for item in response.json()["items"]]

    assert listed(risk_level="medium") == [medium]
    assert set(listed(case_type="KTA")) == {high, medium}
    assert listed(stage="assessment") == []
    assert listed(overdue_step="any") == []
    first = client.get("/api/v1/cases", params={"limit": 2}, headers=office).json()
    second = client.get(
        "/api/v1/cases", params={"limit": 2, "cursor": first["next_cursor"]}, headers=office
    ).json()
    assert [i["case_id"] for i in first["items"]] == [unclassified, medium]
    assert [i["case_id"] for i in second["items"]] == [high] and second["next_cursor"] is None


def test_another_districts_office_sees_nothing_of_this_district(
    client: TestClient, auth: Headers, caught_up: Callable[[], int]
):
    report(client, auth)
    caught_up()
    elsewhere = auth("coordinator", district="kota-batu")

    assert client.get("/api/v1/cases", headers=elsewhere).json()["items"] == []
    assert client.get("/api/v1/workload", headers=elsewhere).json()["open_cases"] == 0
    dashboard = client.get("/api/v1/dashboard/time-standards", headers=elsewhere).json()
    assert dashboard["cases"] == [] and dashboard["agencies"] == []


@pytest.mark.parametrize("path", VIEWS)
def test_agency_officers_and_data_officers_are_refused_and_auditors_may_read(
    client: TestClient, auth: Headers, path: str
):
    assert client.get(path, headers=auth("agency_officer", agency="police")).status_code == 403
    assert client.get(path, headers=auth("data_officer")).status_code == 403
    assert client.get(path).status_code == 401
    assert client.get(path, headers=auth("auditor")).status_code == 200


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/cases", {"stage": "court"}, "query.stage"),
        ("/api/v1/cases", {"risk_level": "extreme"}, "query.risk_level"),
        ("/api/v1/cases", {"agency": "army"}, "query.agency"),
        ("/api/v1/cases", {"overdue_step": "L1.5; drop"}, "query.overdue_step"),
        ("/api/v1/cases", {"status": "everything"}, "query.status"),
        ("/api/v1/cases", {"limit": "0"}, "query.limit"),
        ("/api/v1/cases", {"cursor": "not-a-cursor"}, "query.cursor"),
        ("/api/v1/dashboard/time-standards", {"state": "late-ish"}, "query.state"),
        ("/api/v1/dashboard/time-standards", {"code": "x"}, "query.code"),
    ],
)
def test_invalid_filters_get_422_naming_the_parameter(
    client: TestClient, auth: Headers, path: str, params: dict, field: str
):
    response = client.get(path, params=params, headers=auth("coordinator"))

    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]
    assert any(error["field"].startswith(field) for error in response.json()["errors"])


@pytest.mark.parametrize("code", ["L1.5", "L1.5-ack", "T3", "K-C8", "K-I6"])
def test_every_profiles_step_codes_filter_the_list_and_the_dashboard(
    client: TestClient, auth: Headers, caught_up: Callable[[], int], code: str
):
    """Kutai Timur's PKSAI lists its cases by its own steps overdue (K-C8, K-I6)."""
    caught_up()
    office = auth("coordinator", agency="social", district="kutai-timur")

    listed = client.get("/api/v1/cases", params={"overdue_step": code}, headers=office)
    dashboard = client.get(
        "/api/v1/dashboard/time-standards", params={"code": code}, headers=office
    )

    assert listed.status_code == 200, listed.text
    assert dashboard.status_code == 200, dashboard.text


def test_workload_and_dashboard_follow_a_whole_lifecycle(
    client: TestClient, auth: Headers, caught_up: Callable[[], int]
):
    walk = walk_full_lifecycle(client, auth, "coordinator-lifecycle")
    open_case = report(client, auth)
    caught_up()
    office = auth("coordinator")

    load = client.get("/api/v1/workload", headers=office).json()
    assert load["open_cases"] == 1
    assert load["agencies"] == []  # every referral of the closed case was settled
    met = client.get(
        "/api/v1/dashboard/time-standards", params={"state": "met"}, headers=office
    ).json()
    closed_case = next(c for c in met["cases"] if c["case_id"] == walk.case_id)
    assert closed_case["status"] == "closed" and closed_case["met"] >= 5
    assert {step["state"] for step in closed_case["steps"]} == {"met"}
    agencies = {row["agency"] for row in met["agencies"]}
    assert {"health", "police", "education", "uptd_ppa"} <= agencies
    open_steps = client.get("/api/v1/dashboard/time-standards", headers=office).json()
    assert [c["case_id"] for c in open_steps["cases"]] == [open_case]
    listed = client.get("/api/v1/cases", params={"status": "closed"}, headers=office).json()
    assert [i["case_id"] for i in listed["items"]] == [walk.case_id]


def test_a_handed_over_case_stays_on_the_dashboard_until_its_receiver_acknowledges_it(
    client: TestClient, auth: Headers, caught_up: Callable[[], int]
):
    """L1.5 b "bantu akseskan": the office follows the case it handed to PATBM (1 hari)."""
    case_id = report(client, auth)
    office = auth("coordinator")
    for path, body in (
        (
            "classification",
            {
                "case_type": "KTA",
                "risk_level": "low",
                "jurisdiction": "village",
                "emergency": False,
            },
        ),
        ("handover", {"target": "patbm", "notes": "Diantar ke PATBM desa."}),
    ):
        response = client.post(f"/api/v1/cases/{case_id}/{path}", json=body, headers=office)
        assert response.status_code == 200, response.text
    caught_up()

    def dashboard_steps(**params: str) -> list[dict]:
        response = client.get("/api/v1/dashboard/time-standards", params=params, headers=office)
        assert response.status_code == 200, response.text
        return [step for case in response.json()["cases"] for step in case["steps"]]

    [awaiting] = dashboard_steps(code="L1.5-ack")
    assert (awaiting["state"], awaiting["limit_minutes"]) == ("due", 24 * 60)
    acknowledged = client.post(
        f"/api/v1/cases/{case_id}/handover-acknowledgement",
        json={"receiving_unit": "PATBM Desa Baebunta"},
        headers=auth("agency_officer", agency="patbm"),
    )
    assert acknowledged.status_code == 200, acknowledged.text
    caught_up()
    assert dashboard_steps(code="L1.5-ack") == []
    [met] = dashboard_steps(code="L1.5-ack", state="met")
    assert met["done_at"] is not None
