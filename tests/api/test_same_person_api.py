"""The same person again over HTTP, on the real PostgreSQL: earlier cases found by keyed
fingerprints (NIK; name and birth date, spelling folded), links between cases, another
district's case shown bare, agencies told nothing, every look in the access log, and a
new report on a closed case continuing as a new, linked case (L6.5, L1.1)."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from fastapi.testclient import TestClient

from domain.register import CaseRegister
from services.access_log import AccessQuery
from services.cases import Cases
from tests.support.builders import COORDINATOR
from tests.support.lifecycle import Headers, a_report_body, open_referred_case

NIK = "7322011201140001"
PURPOSE = "Laporan berulang"


def _report(client: TestClient, headers: dict[str, str], **victim: Any) -> str:
    response = client.post(
        "/api/v1/cases", json=a_report_body(victim={"sex": "female", **victim}), headers=headers
    )
    assert response.status_code == 201, response.text
    assert response.headers["Link"].endswith('/same-person>; rel="same-person"')
    case_id: str = response.json()["case_id"]
    return case_id


def _same_person(client: TestClient, case_id: str, headers: dict[str, str]) -> Any:
    return client.get(f"/api/v1/cases/{case_id}/same-person", headers=headers)


def _terminated(client: TestClient, auth: Headers, case_id: str) -> None:
    response = client.post(
        f"/api/v1/cases/{case_id}/termination",
        json={"kind": "unilateral", "reason": "whereabouts_unknown"},
        headers=auth("coordinator"),
    )
    assert response.status_code == 200, response.text


def test_the_same_nik_in_a_second_report_shows_the_first_case_which_the_office_links(
    client: TestClient, auth: Headers
) -> None:
    office = auth("intake_officer")
    first = _report(client, office, name="Mawar", nik=NIK)
    second = _report(client, office, name="Mawar Sari", nik=NIK)

    found = _same_person(client, second, auth("coordinator"))

    assert found.status_code == 200, found.text
    earlier = found.json()["earlier_cases"]
    assert [(c["case_id"], c["bases"], c["same_district"], c["linked"]) for c in earlier] == [
        (first, ["nik"], True, False)
    ]
    assert earlier[0]["register_number"].startswith("LUTRA/")

    linked = client.post(
        f"/api/v1/cases/{second}/links",
        json={"other_case_id": first, "basis": "nik", "reason": "NIK sama"},
        headers=auth("coordinator"),
    )
    again = client.post(
        f"/api/v1/cases/{second}/links",
        json={"other_case_id": first, "basis": "nik"},
        headers=auth("coordinator"),
    )

    assert linked.status_code == 200, linked.text
    assert linked.json()["recorded"] == ["LinkedToCase"]
    assert again.status_code == 200 and again.json()["recorded"] == []
    files = {
        case_id: client.get(f"/api/v1/cases/{case_id}", headers=auth("coordinator")).json()
        for case_id in (first, second)
    }
    assert [link["other_case_id"] for link in files[second]["links"]] == [first]
    assert [link["other_case_id"] for link in files[first]["links"]] == [second]
    assert _same_person(client, second, auth("coordinator")).json()["earlier_cases"][0]["linked"]
    timeline = client.get(f"/api/v1/cases/{second}/timeline", headers=auth("coordinator")).json()
    assert timeline["entries"][-1]["summary_en"] == (
        f"Linked to case {first} naming the same person (the same NIK)"
    )


def test_the_same_name_and_birth_date_in_an_older_spelling_is_found_without_a_nik(
    client: TestClient, auth: Headers
) -> None:
    office = auth("intake_officer")
    first = _report(client, office, name="Soetjipto Moehammad", birth_date="2013-05-14")
    _report(client, office, name="Sucipto Muhamad", birth_date="2013-05-15")
    second = _report(client, office, name="sutjipto  muhammad", birth_date="2013-05-14")

    earlier = _same_person(client, second, auth("case_worker")).json()["earlier_cases"]

    assert [(c["case_id"], c["bases"]) for c in earlier] == [(first, ["name_and_birth_date"])]


def test_a_case_of_another_district_shows_only_that_it_exists_there(
    client: TestClient, auth: Headers
) -> None:
    elsewhere = _report(client, auth("intake_officer", district="kota-batu"), name="Mawar", nik=NIK)
    here = _report(client, auth("intake_officer"), name="Mawar", nik=NIK)

    shown = _same_person(client, here, auth("coordinator"))

    assert shown.status_code == 200, shown.text
    (match,) = shown.json()["earlier_cases"]
    assert match == {
        "case_id": elsewhere,
        "district": "kota-batu",
        "register_number": match["register_number"],
        "same_district": False,
        "reported_at": None,
        "bases": ["nik"],
        "linked": False,
    }
    assert match["register_number"].startswith("BATU/")
    assert "Mawar" not in shown.text and NIK not in shown.text
    # Kota Batu's office reads nothing of Luwu Utara's case by the match, nor the reverse.
    assert client.get(f"/api/v1/cases/{elsewhere}", headers=auth("coordinator")).status_code == 404

    linked = client.post(
        f"/api/v1/cases/{here}/links",
        json={"other_case_id": elsewhere, "basis": "nik"},
        headers=auth("coordinator"),
    )
    assert linked.status_code == 200, linked.text
    assert linked.json()["recorded"] == ["LinkedToCase"]
    other_file = client.get(
        f"/api/v1/cases/{elsewhere}", headers=auth("coordinator", district="kota-batu")
    ).json()
    assert other_file["links"] == []  # Kota Batu's office decides about its own case


def _register_id(cases: Cases, case_id: str) -> str:
    """The id of the register that numbered the case: an aggregate that is no case."""
    case = cases.visible_case(COORDINATOR, UUID(case_id))
    return str(CaseRegister.register_id(case.district, datetime.now(UTC).year))


def test_links_to_itself_an_unknown_case_or_an_unmatched_case_elsewhere_are_refused(
    client: TestClient, auth: Headers, pg_cases: Cases
) -> None:
    here = _report(client, auth("intake_officer"), name="Mawar", nik=NIK)
    unmatched = _report(
        client, auth("intake_officer", district="kota-batu"), name="Melati", nik="6403011201140002"
    )

    itself = client.post(
        f"/api/v1/cases/{here}/links",
        json={"other_case_id": here, "basis": "officer"},
        headers=auth("coordinator"),
    )
    unknown = client.post(
        f"/api/v1/cases/{here}/links",
        json={"other_case_id": str(uuid4()), "basis": "officer"},
        headers=auth("coordinator"),
    )
    elsewhere = client.post(
        f"/api/v1/cases/{here}/links",
        json={"other_case_id": unmatched, "basis": "officer"},
        headers=auth("coordinator"),
    )

    assert itself.status_code == 422 and itself.json()["rule"] == "link_to_itself"
    assert itself.json()["errors"][0]["field"] == "body.other_case_id"
    register = client.post(
        f"/api/v1/cases/{here}/links",
        json={"other_case_id": _register_id(pg_cases, here), "basis": "officer"},
        headers=auth("coordinator"),
    )
    assert unknown.status_code == 404 and unknown.json()["rule"] == "linked_case_not_found"
    assert register.status_code == 404 and register.json()["rule"] == "linked_case_not_found"
    assert elsewhere.status_code == 404 and elsewhere.json()["rule"] == "linked_case_not_found"
    file = client.get(f"/api/v1/cases/{here}", headers=auth("coordinator")).json()
    assert file["version"] == 1 and file["links"] == []


def test_an_agency_never_sees_a_case_s_other_cases(client: TestClient, auth: Headers) -> None:
    _report(client, auth("intake_officer"), name="Mawar", nik=NIK)
    referred = open_referred_case(client, auth("coordinator"), {"police": "legal_process"})
    police = auth("agency_officer", agency="police")

    assert _same_person(client, referred, police).status_code == 404
    linked = client.post(
        f"/api/v1/cases/{referred}/links",
        json={"other_case_id": str(uuid4()), "basis": "officer"},
        headers=police,
    )
    assert linked.status_code == 403


def test_each_look_at_the_same_person_is_in_the_access_log(
    client: TestClient, auth: Headers, pg_cases: Cases
) -> None:
    case_id = _report(client, auth("intake_officer"), name="Mawar", nik=NIK)
    headers = auth(
        "coordinator",
        user="koordinator-01",
        **{"X-Access-Purpose": PURPOSE, "X-Request-ID": "sp-1"},
    )

    assert _same_person(client, case_id, headers).status_code == 200

    log = pg_cases.recorder.access_log.select_access(AccessQuery(user_id="koordinator-01"))  # type: ignore[attr-defined]  # the PostgreSQL recorder's own
    records = [entry.record for entry in log if entry.record.request_id == "sp-1"]
    assert [(str(r.case_id), r.view, r.purpose) for r in records] == [
        (case_id, "read_same_person", PURPOSE)
    ]


def test_a_new_report_on_a_closed_case_continues_as_a_new_linked_case_with_both_histories(
    client: TestClient, auth: Headers
) -> None:
    closed = _report(client, auth("intake_officer"), name="Mawar", nik=NIK)
    _terminated(client, auth, closed)
    history_before = client.get(f"/api/v1/cases/{closed}/events", headers=auth("coordinator"))

    reopened = client.post(
        f"/api/v1/cases/{closed}/reopening",
        json={**a_report_body(), "reason": "Kekerasan berulang, laporan dari sekolah"},
        headers=auth("intake_officer"),
    )

    assert reopened.status_code == 201, reopened.text
    new = reopened.json()["case_id"]
    assert reopened.json()["recorded"] == ["ReportReceived", "LinkedToCase"]
    assert reopened.headers["Location"] == f"/api/v1/cases/{new}"
    old_history = client.get(f"/api/v1/cases/{closed}/events", headers=auth("coordinator")).json()
    assert old_history[:-1] == history_before.json()
    assert [e["type"] for e in old_history][-2:] == ["Terminated", "Reopened"]
    old_file = client.get(f"/api/v1/cases/{closed}", headers=auth("coordinator")).json()
    assert old_file["status"] == "closed" and old_file["termination"] is not None
    assert [r["new_case_id"] for r in old_file["reopenings"]] == [new]
    new_file = client.get(f"/api/v1/cases/{new}", headers=auth("coordinator")).json()
    assert new_file["status"] == "open" and new_file["stage"] == "identification"
    assert [(link["other_case_id"], link["basis"]) for link in new_file["links"]] == [
        (closed, "officer")
    ]
    # The time standards restart with the new case at L1.1; the closed case owes nothing.
    new_steps = client.get(f"/api/v1/cases/{new}/due-steps", headers=auth("coordinator")).json()
    classification = next(s for s in new_steps["steps"] if s["code"] == "L1.5")
    assert classification["state"] == "due"
    started = datetime.fromisoformat(classification["started_at"])
    assert started == datetime.fromisoformat(new_file["created_at"])
    old_steps = client.get(f"/api/v1/cases/{closed}/due-steps", headers=auth("coordinator")).json()
    assert not [s for s in old_steps["steps"] if s["state"] in ("due", "overdue", "upcoming")]
    earlier = _same_person(client, new, auth("coordinator")).json()["earlier_cases"]
    assert [(c["case_id"], c["linked"]) for c in earlier] == [(closed, True)]


def test_an_open_case_is_not_reopened(client: TestClient, auth: Headers) -> None:
    open_case = _report(client, auth("intake_officer"), name="Mawar", nik=NIK)

    refused = client.post(
        f"/api/v1/cases/{open_case}/reopening",
        json={**a_report_body(), "reason": "Laporan baru"},
        headers=auth("intake_officer"),
    )

    assert refused.status_code == 409 and refused.json()["rule"] == "case_not_closed"
    file = client.get(f"/api/v1/cases/{open_case}", headers=auth("coordinator")).json()
    assert file["version"] == 1


def test_a_nik_completed_by_a_correction_finds_the_earlier_case_reported_with_it(
    client: TestClient, auth: Headers
) -> None:
    office = auth("intake_officer")
    first = _report(client, office, name="Melati", nik=NIK)
    second = _report(client, office, name="Kenanga")
    assert _same_person(client, second, auth("coordinator")).json()["earlier_cases"] == []

    corrected = client.post(
        f"/api/v1/cases/{second}/fact-corrections",
        json={
            "victim": {"nik": NIK},
            "reason": "Verifikasi data awal: KTP orang tua",
            "sop_step": "B4",
        },
        headers=auth("case_worker"),
    )

    assert corrected.status_code == 200, corrected.text
    earlier = _same_person(client, second, auth("coordinator")).json()["earlier_cases"]
    assert [(c["case_id"], c["bases"]) for c in earlier] == [(first, ["nik"])]
