"""B4 / K-O2 over HTTP: the intake's facts corrected, field by field, with a reason.

POST /cases/{id}/fact-corrections takes the intake's own shape (victim, reporter,
reported_person, incident, chronology, needs); the case file then shows the new values,
the file as of the earlier version and the history the old ones.
"""

from typing import Any

from fastapi.testclient import TestClient

from tests.support.lifecycle import Headers, a_report_body

REASON = "Verifikasi dengan kunjungan rumah untuk melengkapi data (B4)."


def a_reported_case(client: TestClient, office: dict[str, str]) -> str:
    response = client.post("/api/v1/cases", json=a_report_body(), headers=office)
    assert response.status_code == 201, response.text
    case_id: str = response.json()["case_id"]
    return case_id


def correct(client: TestClient, case_id: str, body: dict[str, Any], headers: dict[str, str]):
    return client.post(f"/api/v1/cases/{case_id}/fact-corrections", json=body, headers=headers)


def test_a_correction_shows_in_the_case_file_and_the_earlier_version_keeps_the_old_value(
    client: TestClient, auth: Headers
):
    office = auth("intake_officer")
    case_id = a_reported_case(client, office)

    response = correct(
        client,
        case_id,
        {
            "victim": {"name": "Mawar Sari", "birth_date": "2013-11-20"},
            "incident": {"occurred_on": "2026-02-27"},
            "reason": REASON,
            "sop_step": "B4",
        },
        office,
    )

    assert response.status_code == 200, response.text
    assert response.json()["recorded"] == ["FactsCorrected"]
    version = response.json()["version"]
    now = client.get(f"/api/v1/cases/{case_id}", headers=office).json()
    assert now["report"]["victim"]["name"] == "Mawar Sari"
    assert now["report"]["victim"]["birth_date"] == "2013-11-20"
    assert now["report"]["victim"]["nik"] == "7322011201140001"  # untouched
    assert now["report"]["incident"]["occurred_on"] == "2026-02-27"
    (correction,) = now["corrections"]
    assert correction["facts"] == [
        {"group": "victim", "key": "name", "value": "Mawar Sari", "previous": "Mawar"},
        {"group": "victim", "key": "birth_date", "value": "2013-11-20", "previous": None},
        {"group": "incident", "key": "occurred_on", "value": "2026-02-27", "previous": None},
    ]
    assert (correction["reason"], correction["sop_step"], correction["version"]) == (
        REASON,
        "B4",
        version,
    )
    assert correction["by"]["role"] == "intake_officer"
    before = client.get(
        f"/api/v1/cases/{case_id}", params={"version": version - 1}, headers=office
    ).json()
    assert before["report"]["victim"]["name"] == "Mawar"
    assert "birth_date" not in before["report"]["victim"]
    assert before["corrections"] == []


def test_an_auditor_reads_the_old_and_the_new_value_in_the_history(
    client: TestClient, auth: Headers
):
    office = auth("coordinator")
    case_id = a_reported_case(client, office)
    corrected = correct(
        client, case_id, {"chronology": "Kronologi lengkap.", "reason": REASON}, office
    )
    assert corrected.status_code == 200, corrected.text

    history = client.get(f"/api/v1/cases/{case_id}/events", headers=auth("auditor")).json()

    assert history[0]["data"]["chronology"] == a_report_body()["chronology"]
    assert history[-1]["type"] == "FactsCorrected"
    assert history[-1]["data"]["corrections"] == [
        {"group": "report", "key": "chronology", "value": "Kronologi lengkap."}
    ]
    assert history[-1]["data"]["reason"] == REASON
    timeline = client.get(f"/api/v1/cases/{case_id}/timeline", headers=auth("auditor"))
    assert timeline.status_code == 200, timeline.text
    entry = timeline.json()["entries"][-1]
    assert entry["type"] == "FactsCorrected"
    assert "kronologi" in entry["summary_id"] and "Kronologi lengkap" not in entry["summary_id"]


def test_a_correction_that_changes_nothing_is_a_422_naming_the_field_and_rule_not_the_value(
    client: TestClient, auth: Headers
):
    office = auth("intake_officer")
    case_id = a_reported_case(client, office)

    response = correct(client, case_id, {"victim": {"name": "Mawar"}, "reason": REASON}, office)

    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["rule"] == "correction_changes_nothing"
    assert [e["field"] for e in problem["errors"]] == ["body.victim.name"]
    assert "Mawar" not in response.text
    assert client.get(f"/api/v1/cases/{case_id}", headers=office).json()["version"] == 1


def test_an_unknown_field_or_a_control_character_is_a_422_naming_the_field_without_the_value(
    client: TestClient, auth: Headers
):
    office = auth("intake_officer")
    case_id = a_reported_case(client, office)

    for body, field, kind in (
        ({"victim": {"nama_lengkap": "Mawar Sari"}}, "body.victim", "extra_forbidden"),
        ({"saksi": {"name": "Mawar Sari"}}, "body", "extra_forbidden"),
        ({"victim": {"name": "Mawar\x07Sari"}}, "body.victim.name", "control_character"),
        ({"reporter": {"phone": "Mawar Sari"}}, "body.reporter.phone", "string_pattern_mismatch"),
        ({}, "body", "nothing_to_correct"),
    ):
        response = correct(client, case_id, {**body, "reason": REASON}, office)

        assert response.status_code == 422, response.text
        errors = response.json()["errors"]
        assert [(e["field"], e["type"]) for e in errors] == [(field, kind)]
        assert "Mawar" not in response.text and "nama_lengkap" not in response.text
    missing_reason = correct(client, case_id, {"victim": {"name": "Mawar Sari"}}, office)
    assert missing_reason.status_code == 422
    assert [e["field"] for e in missing_reason.json()["errors"]] == ["body.reason"]
    assert client.get(f"/api/v1/cases/{case_id}", headers=office).json()["version"] == 1


def test_an_agency_officer_and_an_auditor_may_not_correct_the_office_record(
    client: TestClient, auth: Headers
):
    office = auth("coordinator")
    case_id = a_reported_case(client, office)
    body = {"victim": {"name": "Mawar Sari"}, "reason": REASON}

    auditor = correct(client, case_id, body, auth("auditor"))
    police = correct(client, case_id, body, auth("agency_officer", agency="police"))

    assert auditor.status_code == 403
    assert police.status_code == 404  # the case was never referred to the police
    assert client.get(f"/api/v1/cases/{case_id}", headers=office).json()["version"] == 1


def test_a_terminated_case_refuses_a_correction_as_closed(client: TestClient, auth: Headers):
    office = auth("coordinator")
    case_id = a_reported_case(client, office)
    terminated = client.post(
        f"/api/v1/cases/{case_id}/termination",
        json={"kind": "unilateral", "reason": "whereabouts_unknown"},
        headers=office,
    )
    assert terminated.status_code == 200, terminated.text

    response = correct(
        client, case_id, {"victim": {"name": "Mawar Sari"}, "reason": REASON}, office
    )

    assert response.status_code == 409
    assert (response.json()["rule"], response.json()["step"]) == ("case_closed", "L6.5")
