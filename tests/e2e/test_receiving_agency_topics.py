"""Baznas (Tanjungpinang T4e, repatriation) and the prosecutor (T4c, legal process) on the
real relay path: each topic carries exactly what the agency's row of the sharing matrix
allows, and each inbox fills from it."""

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from gateways.kafka.contract import MessageValidator
from gateways.kafka.messages import agency_topic
from gateways.kafka.security import KafkaSecurity
from services.settings import Settings
from tests.e2e.conftest import ServiceProcess, read_topic, wait_until
from tests.e2e.test_agency_views import inbox, post
from tests.support.lifecycle import a_report_body

Headers = Callable[..., dict[str, str]]
VICTIM = {
    "name": "Mawar",
    "sex": "female",
    "age": 12,
    "nik": "7322011211130001",
    "birth_date": "2013-11-12",
    "address": "Jl. Kenanga 4",
    "village": "Baebunta",
    "phone": "0812 1111 1111",
}
WHY_CANCELLED = "the family fled to Palopo"


def a_consented_case_with_a_medical_and_a_legal_assessment(
    client: TestClient, auth: Headers
) -> tuple[str, dict[str, Any]]:
    report = a_report_body(victim=VICTIM)
    case_id = post(client, auth, "/cases", report, "intake_officer")["case_id"]
    post(
        client,
        auth,
        f"/cases/{case_id}/classification",
        {"case_type": "KTA", "risk_level": "high", "jurisdiction": "district", "emergency": False},
    )
    post(client, auth, f"/cases/{case_id}/case-worker", {"case_worker_id": "rina"})
    worker = {"role": "case_worker", "user": "rina"}
    post(
        client,
        auth,
        f"/cases/{case_id}/consent",
        {"given": True, "given_by": "parent", "document_ref": "IC-1"},
        **worker,
    )
    for domain, findings in (("physical", "fractured left wrist"), ("legal", "uncle suspected")):
        post(
            client,
            auth,
            f"/cases/{case_id}/assessments",
            {
                "kind": "further",
                "domain": domain,
                "assessing_agency": "uptd_ppa",
                "findings": findings,
            },
            **worker,
        )
    return case_id, report


def refer_then_cancel(client: TestClient, auth: Headers, case_id: str, agency: str, service: str):
    referral_id = post(
        client,
        auth,
        f"/cases/{case_id}/referrals",
        {"service_type": service, "agency": agency, "notes": f"for {agency}: call Rina"},
        "case_worker",
        user="rina",
    )["referral_id"]
    post(
        client,
        auth,
        f"/cases/{case_id}/referrals/{referral_id}/cancellation",
        {"reason": WHY_CANCELLED},
    )


def test_baznas_and_the_prosecutor_topics_carry_exactly_their_rows(
    client: TestClient,
    auth: Headers,
    kafka_settings: Settings,
    services: Callable[..., ServiceProcess],
):
    # Given a consented case with a medical and a legal assessment, referred to Baznas for
    # the journey home and to the prosecutor, then both referrals withdrawn by the office
    case_id, report = a_consented_case_with_a_medical_and_a_legal_assessment(client, auth)
    refer_then_cancel(client, auth, case_id, "baznas", "repatriation")
    refer_then_cancel(client, auth, case_id, "prosecutor", "legal_process")

    # When the relay publishes and the projectors apply
    services("relay")
    services("project", "--all-agencies")
    servers, prefix = str(kafka_settings.kafka_bootstrap_servers), kafka_settings.kafka_topic_prefix
    security = KafkaSecurity.from_settings(kafka_settings)
    topics = {
        agency: [
            m["event"]
            for m in read_topic(
                servers, agency_topic(prefix, agency), at_least=4, security=security
            )
        ]
        for agency in ("baznas", "prosecutor")
    }

    # Then each topic holds the case, its referral and its closing, valid against the contract
    validator = MessageValidator()
    for agency, events in topics.items():
        assert [e["type"].split(".")[3:5] for e in events] == [
            ["case", "opened"],
            ["referral", "received"],
            ["referral", "updated"],
            ["case", "closed"],
        ], agency
        assert all(validator.errors(e) == [] for e in events), agency
        assert {e["subject"] for e in events} == {case_id}
    baznas = topics["baznas"][0]["data"]["facts"]
    prosecutor = topics["prosecutor"][0]["data"]["facts"]
    # Baznas learns whom to send home and where, and never what happened, who is reported
    # or what any assessment found
    assert baznas == {
        "victim": {key: VICTIM[key] for key in ("name", "sex", "age", "address", "village")},
        "consent": {"given": True},
        "case_worker": {"user_id": "rina"},
    }
    assert not [
        t for t in ("bruises", "neighbour", "fractured", "uncle") if t in str(topics["baznas"])
    ]
    # the prosecutor learns the police's legal view: the whole story, the legal finding only
    assert set(prosecutor) == {
        "report",
        "victim",
        "reporter",
        "reported_person",
        "incident",
        "classification",
        "consent",
        "case_worker",
        "assessments",
    }
    assert prosecutor["report"]["chronology"] == report["chronology"]
    assert set(prosecutor["report"]) == {"channel", "arrived_at", "chronology"}
    assert prosecutor["victim"] == VICTIM
    assert prosecutor["reported_person"] == report["reported_person"]
    assert set(prosecutor["assessments"]) == {"legal"}
    assert "fractured" not in str(topics["prosecutor"])
    # and each gets its referral's notes; only the prosecutor, whose legal duty the
    # withdrawal interrupts, learns why the office withdrew it
    for agency in ("baznas", "prosecutor"):
        received, updated = (e["data"] for e in topics[agency][1:3])
        assert received["notes"] == f"for {agency}: call Rina"
        assert updated["status"] == "cancelled"
    assert topics["baznas"][2]["data"]["reason"] == ""
    assert "Palopo" not in str(topics["baznas"])
    assert topics["prosecutor"][2]["data"]["reason"] == WHY_CANCELLED
    # and each inbox shows its referral to its officers
    for agency in ("baznas", "prosecutor"):
        [referral] = wait_until(lambda a=agency: inbox(client, auth, a), what=f"{agency}'s inbox")
        assert referral["case_id"] == case_id and referral["status"] == "cancelled"
