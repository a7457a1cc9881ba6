"""Kutai Timur's SOP Reintegrasi Sosial over HTTP: the PKSAI's case team prepares and
counsels (K-I1-I3), reunifies (K-I4), monitors (K-I6) and evaluates (K-I7); the K-I6
clock runs from the reunification to the evaluation."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.lifecycle import Headers, a_report_body

KUTAI_TIMUR = {"agency": "social", "district": "kutai-timur"}
CASE_WORKER = "peksos.kutim"


def _office(auth: Headers, role: str = "coordinator", **extra: Any) -> dict[str, str]:
    return auth(role, **KUTAI_TIMUR, **extra)


def _consented_case(client: TestClient, auth: Headers) -> str:
    reported = client.post("/api/v1/cases", json=a_report_body(), headers=_office(auth))
    assert reported.status_code == 201, reported.text
    case_id: str = reported.json()["case_id"]
    for path, body in [
        (
            "classification",
            {"case_type": "KTA", "risk_level": "medium", "jurisdiction": "district"}
            | {"emergency": False},
        ),
        ("case-worker", {"case_worker_id": CASE_WORKER}),
        ("consent", {"given": True, "given_by": "family", "document_ref": "IC-KUTIM-3"}),
    ]:
        response = client.post(f"/api/v1/cases/{case_id}/{path}", json=body, headers=_office(auth))
        assert response.status_code == 200, response.text
    return case_id


def test_a_reintegration_from_preparation_to_evaluation_is_filed_and_clocked(
    client: TestClient, auth: Headers
):
    case_id = _consented_case(client, auth)
    peksos = _office(auth, "case_worker", user=CASE_WORKER)
    url = f"/api/v1/cases/{case_id}"
    steps: list[tuple[str, dict[str, Any]]] = [
        *(
            ("reintegration-steps", {"activity": activity, "done_on": "2026-03-02"})
            for activity in ("preparation", "child_counselling", "caregiver_counselling")
        ),
        ("reunification", {"reunified_on": "2026-03-03", "reunified_with": "family"}),
        ("reintegration-steps", {"activity": "community_introduction", "done_on": "2026-03-04"}),
        (
            "reintegration-visits",
            {"visited_on": "2026-04-03", "mode": "home_visit", "findings": "Back at school."},
        ),
        (
            "reintegration-evaluation",
            {"evaluated_on": "2026-06-01", "reintegrated": True, "findings": "Settled."},
        ),
        ("reintegration-steps", {"activity": "report", "done_on": "2026-06-01"}),
    ]

    for path, body in steps:
        response = client.post(f"{url}/{path}", json=body, headers=peksos)
        assert response.status_code == 200, (path, response.text)

    reintegration = client.get(url, headers=_office(auth)).json()["reintegration"]
    assert [step["sop_step"] for step in reintegration["steps"]] == [
        "K-I1",
        "K-I2",
        "K-I3",
        "K-I5",
        "K-I8",
    ]
    assert reintegration["evaluation"]["reintegrated"] is True
    due = client.get(f"{url}/due-steps", headers=_office(auth)).json()["steps"]
    assert [step["state"] for step in due if step["code"] == "K-I6"] == ["met"]


def test_the_3_month_monitoring_is_due_after_reunification(client: TestClient, auth: Headers):
    case_id = _consented_case(client, auth)
    url = f"/api/v1/cases/{case_id}"
    for activity in ("preparation", "child_counselling", "caregiver_counselling"):
        client.post(
            f"{url}/reintegration-steps",
            json={"activity": activity, "done_on": "2026-03-02"},
            headers=_office(auth),
        )
    client.post(
        f"{url}/reunification",
        json={"reunified_on": "2026-03-03", "reunified_with": "substitute_family"},
        headers=_office(auth),
    )

    due = client.get(f"{url}/due-steps", headers=_office(auth)).json()["steps"]

    (monitoring,) = [step for step in due if step["code"] == "K-I6"]
    assert (monitoring["state"], monitoring["limit_minutes"]) == ("due", 90 * 24 * 60)


def test_reunification_before_the_counselling_is_refused_naming_the_rule_and_step(
    client: TestClient, auth: Headers
):
    case_id = _consented_case(client, auth)
    client.post(
        f"/api/v1/cases/{case_id}/reintegration-steps",
        json={"activity": "preparation", "done_on": "2026-03-02"},
        headers=_office(auth),
    )

    response = client.post(
        f"/api/v1/cases/{case_id}/reunification",
        json={"reunified_on": "2026-03-03", "reunified_with": "family"},
        headers=_office(auth),
    )

    assert response.status_code == 409
    assert (response.json()["rule"], response.json()["step"]) == (
        "reintegration_not_prepared",
        "K-I4",
    )


def test_an_evaluation_before_reunification_is_refused(client: TestClient, auth: Headers):
    case_id = _consented_case(client, auth)

    response = client.post(
        f"/api/v1/cases/{case_id}/reintegration-evaluation",
        json={"evaluated_on": "2026-06-01", "reintegrated": True, "findings": "Settled."},
        headers=_office(auth),
    )

    assert response.status_code == 409
    assert (response.json()["rule"], response.json()["step"]) == ("not_reunified", "K-I7")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("reintegration-steps", {"activity": "preparation", "done_on": "2026-03-02"}),
        ("reunification", {"reunified_on": "2026-03-03", "reunified_with": "family"}),
        (
            "reintegration-visits",
            {"visited_on": "2026-04-03", "mode": "home_visit", "findings": "Back at school."},
        ),
        (
            "reintegration-evaluation",
            {"evaluated_on": "2026-06-01", "reintegrated": True, "findings": "Settled."},
        ),
    ],
)
def test_a_district_that_runs_no_reintegration_refuses_its_steps_and_records_nothing(
    client: TestClient, auth: Headers, path: str, body: dict[str, Any]
):
    """Tanjungpinang's SOP ends at T4's referrals: no SOP Reintegrasi Sosial (K-I1-I8)."""
    office = auth("coordinator", agency="social", district="tanjungpinang")
    case_id = client.post("/api/v1/cases", json=a_report_body(), headers=office).json()["case_id"]
    url = f"/api/v1/cases/{case_id}"
    before = client.get(url, headers=office).json()["version"]

    response = client.post(f"{url}/{path}", json=body, headers=office)

    assert response.status_code == 409
    assert response.json()["rule"] == "process_not_run"
    assert (
        "Kota Tanjungpinang (tanjungpinang) does not run the reintegration process"
        in response.json()["detail"]
    )
    assert client.get(url, headers=office).json()["version"] == before
