"""L1.5 b-d over HTTP: a handed-over case is acknowledged or handed back by its receiver.

The SOP says "bantu akseskan" (help the case reach them): the office's part ends
with the hand-over, but it sees whether the case arrived.
"""

from typing import Any

from fastapi.testclient import TestClient

from tests.support.lifecycle import Headers, a_report_body

ABH = {"case_type": "ABH", "risk_level": "medium", "jurisdiction": "district", "emergency": False}
PROVINCIAL = {
    "case_type": "KTP",
    "risk_level": "high",
    "jurisdiction": "province",
    "emergency": False,
}


def _handed_over(client: TestClient, auth: Headers, classification: dict[str, Any], target: str):
    office = auth("coordinator")
    case_id: str = client.post("/api/v1/cases", json=a_report_body(), headers=office).json()[
        "case_id"
    ]
    for path, body in (
        ("classification", classification),
        ("handover", {"target": target, "notes": "Berkas dikirim dengan surat."}),
    ):
        response = client.post(f"/api/v1/cases/{case_id}/{path}", json=body, headers=office)
        assert response.status_code == 200, response.text
    return case_id


def test_the_social_office_acknowledges_an_abh_case_and_the_coordinator_sees_it(
    client: TestClient, auth: Headers
):
    """L1.5 c: the ABH case goes to Dinas Sosial, which confirms it took it."""
    case_id = _handed_over(client, auth, ABH, "social")
    social = auth("agency_officer", agency="social", user="budi.dinsos")

    response = client.post(
        f"/api/v1/cases/{case_id}/handover-acknowledgement",
        json={"receiving_unit": "Bidang Rehabilitasi Sosial", "taken_by": "Budi"},
        headers=social,
    )

    assert response.status_code == 200, response.text
    assert response.json()["recorded"] == ["HandoverAcknowledged"]
    file = client.get(f"/api/v1/cases/{case_id}", headers=auth("coordinator")).json()
    assert file["status"] == "closed"
    handover = file["handover"]
    assert (handover["receiving_agency"], handover["state"]) == ("social", "acknowledged")
    acknowledgement = handover["acknowledgement"]
    assert acknowledgement["receiving_unit"] == "Bidang Rehabilitasi Sosial"
    assert acknowledgement["by"]["agency"] == "social"
    assert acknowledgement["by"]["user_id"] == "budi.dinsos"


def test_a_case_awaiting_acknowledgement_says_so_in_the_case_file(
    client: TestClient, auth: Headers
):
    case_id = _handed_over(client, auth, ABH, "social")

    file = client.get(f"/api/v1/cases/{case_id}", headers=auth("coordinator")).json()

    assert file["handover"]["state"] == "awaiting_acknowledgement"
    assert file["handover"]["acknowledgement"] is None


def test_the_province_hands_back_a_case_and_the_office_classifies_it_again(
    client: TestClient, auth: Headers
):
    """L1.5 d, returned: the case is back in identification, to be classified again."""
    case_id = _handed_over(client, auth, PROVINCIAL, "province")
    province = auth("agency_officer", agency="province")

    response = client.post(
        f"/api/v1/cases/{case_id}/handback",
        json={"reason": "Kriteria kewenangan provinsi tidak terpenuhi."},
        headers=province,
    )

    assert response.status_code == 200, response.text
    file = client.get(f"/api/v1/cases/{case_id}", headers=auth("coordinator")).json()
    assert (file["status"], file["stage"], file["classification"]) == (
        "open",
        "identification",
        None,
    )
    assert file["handover"]["state"] == "handed_back"
    refused = client.post(
        f"/api/v1/cases/{case_id}/handover-acknowledgement", json={}, headers=province
    )
    assert refused.status_code == 404


def test_a_coordinator_records_the_acknowledgement_on_the_receivers_behalf(
    client: TestClient, auth: Headers
):
    """The acknowledgement came by letter or phone: the office's coordinator records it."""
    case_id = _handed_over(client, auth, PROVINCIAL, "province")

    response = client.post(
        f"/api/v1/cases/{case_id}/handover-acknowledgement",
        json={"notes": "Diterima melalui surat."},
        headers=auth("coordinator"),
    )

    assert response.status_code == 200, response.text


def test_an_agency_the_case_was_not_handed_to_is_told_the_case_does_not_exist(
    client: TestClient, auth: Headers
):
    case_id = _handed_over(client, auth, ABH, "social")

    responses = [
        client.post(
            f"/api/v1/cases/{case_id}/{path}",
            json=body,
            headers=auth("agency_officer", agency="province"),
        )
        for path, body in (("handover-acknowledgement", {}), ("handback", {"reason": "x"}))
    ]

    assert [r.status_code for r in responses] == [404, 404]
    assert all("Mawar" not in r.text for r in responses)


def test_an_intake_officer_cannot_acknowledge_for_the_receiver(client: TestClient, auth: Headers):
    case_id = _handed_over(client, auth, ABH, "social")

    response = client.post(
        f"/api/v1/cases/{case_id}/handover-acknowledgement",
        json={},
        headers=auth("intake_officer"),
    )

    assert response.status_code == 403


def test_a_second_acknowledgement_is_refused_naming_the_rule_and_step(
    client: TestClient, auth: Headers
):
    case_id = _handed_over(client, auth, ABH, "social")
    social = auth("agency_officer", agency="social")
    path = f"/api/v1/cases/{case_id}/handover-acknowledgement"
    assert client.post(path, json={}, headers=social).status_code == 200

    again = client.post(path, json={}, headers=social)

    assert again.status_code == 409
    assert (again.json()["rule"], again.json()["step"]) == ("handover_already_acknowledged", "L1.5")


def test_a_terminated_case_refuses_an_acknowledgement_as_closed(client: TestClient, auth: Headers):
    office = auth("coordinator")
    case_id = client.post("/api/v1/cases", json=a_report_body(), headers=office).json()["case_id"]
    client.post(
        f"/api/v1/cases/{case_id}/classification",
        json={**ABH, "case_type": "KTA"},
        headers=office,
    )
    terminated = client.post(
        f"/api/v1/cases/{case_id}/termination",
        json={"kind": "unilateral", "reason": "whereabouts_unknown"},
        headers=office,
    )
    assert terminated.status_code == 200, terminated.text

    response = client.post(
        f"/api/v1/cases/{case_id}/handover-acknowledgement", json={}, headers=office
    )

    assert response.status_code == 409
    assert response.json()["rule"] == "case_closed"


def test_only_the_agencys_own_officers_read_its_handovers(client: TestClient, auth: Headers):
    _handed_over(client, auth, ABH, "social")

    responses = [
        client.get("/api/v1/agencies/social/handovers", headers=headers)
        for headers in (auth("agency_officer", agency="police"), auth("coordinator"))
    ]

    assert [r.status_code for r in responses] == [403, 403]
    assert all("Mawar" not in r.text for r in responses)


def test_the_office_sees_the_hand_over_owed_its_acknowledgement_then_met(
    client: TestClient, auth: Headers
):
    """L1.5 c: the hand-over closes the case, but its receiver owes it a reply (1 hari)."""
    case_id = _handed_over(client, auth, ABH, "social")
    office = auth("coordinator")

    def ack_step() -> dict[str, Any]:
        response = client.get(f"/api/v1/cases/{case_id}/due-steps", headers=office)
        assert response.status_code == 200, response.text
        [step] = [s for s in response.json()["steps"] if s["code"] == "L1.5-ack"]
        return dict(step)

    awaiting = ack_step()
    assert (awaiting["state"], awaiting["limit_minutes"]) == ("due", 24 * 60)
    response = client.post(
        f"/api/v1/cases/{case_id}/handover-acknowledgement",
        json={"receiving_unit": "Bidang Rehabilitasi Sosial"},
        headers=auth("agency_officer", agency="social"),
    )
    assert response.status_code == 200, response.text
    assert ack_step()["state"] == "met"
