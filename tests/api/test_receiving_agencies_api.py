"""The agencies the SOPs name for one service each (L3.2d legal aid; Tanjungpinang T4b
Jamkesda, T4c prosecutor, T4e Baznas; Kutai Timur's PKSAI members, Pasal 14(2)) take
referrals over the API, answer them, and read them in their inbox with only the facts of
their row of the sharing matrix. The inbox is filled as its projector fills it, from the
messages the relay publishes on the agency's topic (derived in process here; the broker
path is tests/e2e/test_agency_views.py)."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.cases import Cases
from services.sharing import load_matrix
from tests.support.builders import AGENCY_SERVICES
from tests.support.inboxes import project_inbox
from tests.support.lifecycle import Headers, a_report_body

MATRIX = load_matrix()
PREFIX = "simpul"
CASE_WORKER = {"user": "rina"}
IDENTITY = {
    "name": "Mawar",
    "sex": "female",
    "age": 12,
    "birth_place": "Masamba",
    "birth_date": "2013-11-12",
    "nik": "7322011211130001",
    "address": "Jl. Contoh 1, Baebunta",
    "village": "Baebunta",
    "phone": "0812 1111 1111",
    "education": "SMP 1 Masamba",
}
FINDINGS = {
    "physical": "fractured left wrist",
    "psychological": "nightmares since March",
    "social_spiritual": "the family avoids the mosque",
    "legal": "the neighbour is suspected",
}


def post(client: TestClient, headers: dict[str, str], path: str, body: dict[str, Any]) -> Any:
    response = client.post(f"/api/v1{path}", json=body, headers=headers)
    assert response.status_code in (200, 201), (path, response.text)
    return response.json()


def a_consented_case_with_every_assessment(client: TestClient, auth: Headers) -> str:
    case_id = post(client, auth("intake_officer"), "/cases", a_report_body(victim=IDENTITY))[
        "case_id"
    ]
    post(
        client,
        auth("intake_officer"),
        f"/cases/{case_id}/classification",
        {"case_type": "KTA", "risk_level": "high", "jurisdiction": "district", "emergency": False},
    )
    post(client, auth("coordinator"), f"/cases/{case_id}/case-worker", {"case_worker_id": "rina"})
    worker = auth("case_worker", **CASE_WORKER)
    post(
        client,
        worker,
        f"/cases/{case_id}/consent",
        {"given": True, "given_by": "parent", "document_ref": "IC-1"},
    )
    for domain, findings in FINDINGS.items():
        post(
            client,
            worker,
            f"/cases/{case_id}/assessments",
            {
                "kind": "further",
                "domain": domain,
                "assessing_agency": "uptd_ppa",
                "findings": findings,
            },
        )
    return case_id


def project(cases: Cases, agency: str) -> None:
    """The agency's inbox as its projector builds it from the agency's topic."""
    project_inbox(cases, agency, MATRIX)


def inbox(client: TestClient, auth: Headers, agency: str) -> list[dict[str, Any]]:
    response = client.get(
        f"/api/v1/agencies/{agency}/referrals", headers=auth("agency_officer", agency=agency)
    )
    assert response.status_code == 200, response.text
    return list(response.json())


def outside_the_row(agency: str, facts: dict[str, Any]) -> list[str]:
    row = MATRIX.rows[agency]
    return [f"{g}.{k}" for g, values in facts.items() for k in values if not row.allows(g, k)]


@pytest.mark.parametrize(("agency", "service_type"), AGENCY_SERVICES)
def test_a_referral_reaches_the_agencys_inbox_with_only_its_rows_facts(
    client: TestClient, auth: Headers, pg_cases: Cases, agency: str, service_type: str
):
    # Given a consented case with every assessment on file, referred to the agency
    case_id = a_consented_case_with_every_assessment(client, auth)
    referral_id = post(
        client,
        auth("case_worker", **CASE_WORKER),
        f"/cases/{case_id}/referrals",
        {"service_type": service_type, "agency": agency, "notes": "call Rina first"},
    )["referral_id"]
    # and accepted by the agency's officer
    post(
        client,
        auth("agency_officer", agency=agency),
        f"/cases/{case_id}/referrals/{referral_id}/acceptance",
        {"notes": "seen on Monday"},
    )

    # When its projector has read its topic
    project(pg_cases, agency)

    # Then its officer finds the referral in its inbox, with the facts of its row alone
    [referral] = inbox(client, auth, agency)
    assert (referral["referral_id"], referral["case_id"]) == (referral_id, case_id)
    assert (referral["service_type"], referral["status"]) == (service_type, "accepted")
    assert referral["notes"] == "call Rina first"
    assert referral["details"]["notes"] == "seen on Monday"
    assert outside_the_row(agency, referral["facts"]) == []
    assert referral["facts"]["victim"]["name"] == "Mawar"
    # and no other receiving agency heard of the case
    others = {other for other, _ in AGENCY_SERVICES} - {agency}
    for other in sorted(others):
        project(pg_cases, other)
        assert inbox(client, auth, other) == [], other


def test_baznas_never_sees_what_happened_who_is_reported_or_any_assessment(
    client: TestClient, auth: Headers, pg_cases: Cases
):
    """Tanjungpinang T4e: Baznas funds the journey home; it needs whom and where, no more."""
    case_id = a_consented_case_with_every_assessment(client, auth)
    post(
        client,
        auth("case_worker", **CASE_WORKER),
        f"/cases/{case_id}/referrals",
        {"service_type": "repatriation", "agency": "baznas"},
    )

    project(pg_cases, "baznas")

    [referral] = inbox(client, auth, "baznas")
    assert referral["facts"]["victim"] == {
        "name": "Mawar",
        "sex": "female",
        "age": 12,
        "address": "Jl. Contoh 1, Baebunta",
        "village": "Baebunta",
    }
    assert not {"report", "reporter", "reported_person", "incident", "assessments"} & set(
        referral["facts"]
    )
    text = str(referral)
    assert "bruises" not in text and "neighbour" not in text
    assert not [findings for findings in FINDINGS.values() if findings in text]


def test_bpjs_sees_the_identity_an_enrolment_needs_and_not_the_chronology(
    client: TestClient, auth: Headers, pg_cases: Cases
):
    """Tanjungpinang T4b: Jamkesda / BPJS enrolment needs NIK, birth date and address."""
    case_id = a_consented_case_with_every_assessment(client, auth)
    post(
        client,
        auth("case_worker", **CASE_WORKER),
        f"/cases/{case_id}/referrals",
        {"service_type": "health_insurance", "agency": "bpjs"},
    )

    project(pg_cases, "bpjs")

    [referral] = inbox(client, auth, "bpjs")
    victim = referral["facts"]["victim"]
    assert (victim["nik"], victim["birth_date"]) == (IDENTITY["nik"], IDENTITY["birth_date"])
    assert "phone" not in victim
    assert "bruises" not in str(referral)
    assert "assessments" not in referral["facts"]
