"""The office's search over HTTP: terms in the body, a purpose, the office only, logged.

A real projector follows the test database, as beside the API; each test waits
for it before searching (the index is eventually consistent).
"""

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.lifecycle import a_report_body

Headers = Callable[..., dict[str, str]]
SEARCH = "/api/v1/case-search"
PURPOSE = "Laporan baru menyebut anak ini"
NIK = "7322011201140001"


@pytest.fixture
def reported(client: TestClient, auth: Headers, caught_up: Callable[[], int]) -> dict[str, Any]:
    body = a_report_body(
        victim={
            "name": "Nurhajati binti Soeparman",
            "sex": "female",
            "nik": NIK,
            "birth_date": "2014-01-12",
            "village": "Desa Baebunta",
        }
    )
    response = client.post("/api/v1/cases", json=body, headers=auth("intake_officer"))
    assert response.status_code == 201, response.text
    caught_up()
    return dict(response.json())


def search(client: TestClient, headers: dict[str, str], **terms: Any) -> Any:
    return client.post(SEARCH, json={"purpose": PURPOSE, **terms}, headers=headers)


def searches_logged(client: TestClient, auth: Headers, user: str) -> list[dict[str, Any]]:
    """What an auditor is shown of ``user``'s searches."""
    response = client.get(
        "/api/v1/access-log",
        params={"user_id": user, "limit": 1000},
        headers=auth("auditor", **{"X-Access-Purpose": "inspection"}),
    )
    assert response.status_code == 200, response.text
    return [entry for entry in response.json()["entries"] if entry["view"] == "case_search"]


@pytest.mark.parametrize(
    "terms",
    [
        {"name": "Nurhayati"},
        {"name": "Noerhajati binti Suparman"},
        {"nik": NIK},
        {"birth_date": "2014-01-12"},
        {"village": "Baeboenta"},
        {"reported_from": "2020-01-01", "status": "open"},
        {"name": "Nurhayati", "stage": "identification"},
    ],
)
def test_the_office_finds_a_case_by_each_key_and_the_auditor_sees_what_it_looked_for(
    client: TestClient, auth: Headers, reported: dict[str, Any], terms: dict[str, Any]
):
    response = search(client, auth("case_worker", user="cw.1"), **terms)

    assert response.status_code == 200, response.text
    [item] = response.json()["items"]
    assert item["case_id"] == reported["case_id"]
    assert item["register_number"] == reported["register_number"]
    assert NIK not in response.text
    [logged] = searches_logged(client, auth, "cw.1")
    assert logged["purpose"] == PURPOSE and logged["case_id"] is None
    filters = {name: terms[name] for name in ("status", "stage") if name in terms}
    keys = {name: value for name, value in terms.items() if name not in filters}
    assert logged["search_terms"] == {**keys, **({"filters": filters} if filters else {})}


def test_a_register_number_finds_the_case_and_shows_no_one(
    client: TestClient, auth: Headers, reported: dict[str, Any]
):
    response = search(client, auth("intake_officer"), register_number=reported["register_number"])

    [item] = response.json()["items"]
    assert item["case_id"] == reported["case_id"] and item["people"] == []
    assert "Nurhajati" not in response.text


def test_the_matched_person_is_shown_as_recorded(
    client: TestClient, auth: Headers, reported: dict[str, Any]
):
    another = search(client, auth("coordinator"), name="Sukarno bin Soeparman").json()
    [found] = search(client, auth("coordinator"), name="Nurhayati").json()["items"]

    assert another["items"] == []
    [person] = found["people"]
    assert person == {
        "person": "victim",
        "name": "Nurhajati binti Soeparman",
        "birth_date": "2014-01-12",
        "village": "Desa Baebunta",
        "incident_village": "Baebunta",
    }


def test_each_case_found_is_recorded_as_read_by_the_searcher(
    client: TestClient, auth: Headers, reported: dict[str, Any]
):
    search(client, auth("coordinator", user="coord.7"), nik=NIK)

    case_log = client.get(
        f"/api/v1/cases/{reported['case_id']}/access-log",
        headers=auth("auditor", **{"X-Access-Purpose": "inspection"}),
    ).json()["entries"]
    [shown] = [entry for entry in case_log if entry["user_id"] == "coord.7"]
    assert (shown["view"], shown["purpose"]) == ("case_search_result", PURPOSE)
    assert shown["search_terms"] is None


@pytest.mark.parametrize(
    ("role", "agency"),
    [
        ("agency_officer", "police"),
        ("agency_officer", "health"),
        ("auditor", "uptd_ppa"),
        ("data_officer", "uptd_ppa"),
    ],
)
def test_agencies_auditors_and_data_officers_may_not_search(
    client: TestClient, auth: Headers, reported: dict[str, Any], role: str, agency: str
):
    response = search(client, auth(role, agency=agency, user="someone"), nik=NIK)

    assert response.status_code == 403
    assert NIK not in response.text and searches_logged(client, auth, "someone") == []


def test_another_districts_office_finds_nothing_of_this_district(
    client: TestClient, auth: Headers, reported: dict[str, Any]
):
    response = search(client, auth("coordinator", district="kota-batu"), nik=NIK)

    assert response.status_code == 200 and response.json()["items"] == []


def test_a_search_without_a_purpose_is_refused_naming_it_and_nothing_is_searched(
    client: TestClient, auth: Headers, reported: dict[str, Any]
):
    for body in ({"nik": NIK}, {"nik": NIK, "purpose": "   "}):
        response = client.post(SEARCH, json=body, headers=auth("coordinator", user="coord.8"))

        assert response.status_code == 422
        assert [error["field"] for error in response.json()["errors"]] == ["body.purpose"]
        assert NIK not in response.text
    assert searches_logged(client, auth, "coord.8") == []


@pytest.mark.parametrize(
    ("terms", "field", "value"),
    [
        ({"nik": "73220112011400019"}, "body.nik", "73220112011400019"),
        ({"birth_date": "12-01-2014"}, "body.birth_date", "12-01-2014"),
        ({"name": "Mawar\nMelati"}, "body.name", "Mawar"),
        ({"name": "..."}, "body.name", "..."),
        ({"village": "x" * 201}, "body.village", "x" * 201),
        ({"name": "Mawar", "stage": "Mawar-stage"}, "body.stage", "Mawar-stage"),
        (
            {"reported_from": "2026-02-01", "reported_to": "2026-01-01"},
            "body.reported_to",
            "2026-01-01",
        ),
        ({"stage": "identification"}, "body", "identification"),
        ({"name": "Mawar", "mothers_name": "Melati"}, "body", "mothers_name"),
    ],
)
def test_invalid_terms_are_refused_naming_the_field_without_echoing_the_value(
    client: TestClient, auth: Headers, terms: dict[str, Any], field: str, value: str
):
    response = search(client, auth("coordinator"), **terms)

    assert response.status_code == 422, response.text
    assert field in [error["field"] for error in response.json()["errors"]]
    assert value not in response.text


def test_search_terms_never_travel_in_the_url(client: TestClient, auth: Headers):
    response = client.get(SEARCH, params={"nik": NIK}, headers=auth("coordinator"))

    assert response.status_code == 405
    assert NIK not in response.text
