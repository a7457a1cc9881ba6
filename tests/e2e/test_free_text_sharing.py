"""Free text on the real relay path: each text reaches exactly the agencies whose row lists it,
and only once consent (or the agency's open emergency referral) lets personal data through."""

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from gateways.kafka.messages import agency_topic
from gateways.kafka.security import KafkaSecurity
from services.settings import Settings
from services.sharing import load_matrix
from tests.e2e.conftest import ServiceProcess, read_topic, wait_until
from tests.e2e.test_agency_views import a_consented_case, inbox, post
from tests.support.lifecycle import a_report_body

Headers = Callable[..., dict[str, str]]
MATRIX = load_matrix()
NOTE_NAMING_THE_CHILD = "Mawar tinggal di Jl. Kenanga 4, Desa Baebunta, bersama pamannya"

# The matrix path of each text an agency message carries: (message kind, status) -> field -> path.
TEXT_PATHS: dict[tuple[str, str | None], dict[str, tuple[str, str]]] = {
    ("referral.received", None): {
        "notes": ("referral", "notes"),
        "referral_record_ref": ("referral", "record_ref"),
    },
    ("referral.updated", "accepted"): {"notes": ("referral", "acceptance_notes")},
    ("referral.updated", "declined"): {"reason": ("referral", "decline_reason")},
    ("referral.updated", "completed"): {"summary": ("referral", "delivery_summary")},
    ("referral.updated", "cancelled"): {"reason": ("referral", "cancel_reason")},
    ("case.handed_over", None): {
        "notes": ("handover", "notes"),
        "receiving_unit": ("handover", "receiving_unit"),
    },
}


def classify(client: TestClient, auth: Headers, case_id: str, **overrides: Any) -> None:
    body = {"case_type": "KTA", "risk_level": "high", "jurisdiction": "district"}
    post(
        client, auth, f"/cases/{case_id}/classification", {"emergency": False, **body, **overrides}
    )


def an_abh_case(client: TestClient, auth: Headers, *, consent: bool) -> str:
    case_id = post(client, auth, "/cases", a_report_body(), "intake_officer")["case_id"]
    classify(client, auth, case_id, case_type="ABH")
    if consent:
        post(client, auth, f"/cases/{case_id}/case-worker", {"case_worker_id": "rina"})
        post(
            client,
            auth,
            f"/cases/{case_id}/consent",
            {"given": True, "given_by": "parent", "document_ref": "IC-2"},
            "case_worker",
            user="rina",
        )
    post(
        client,
        auth,
        f"/cases/{case_id}/handover",
        {
            "target": "social",
            "receiving_unit": "Bidang Rehsos, Pak Darto",
            "notes": NOTE_NAMING_THE_CHILD,
        },
    )
    return case_id


def refer(
    client: TestClient, auth: Headers, case_id: str, agency: str, service: str, **body: Any
) -> str:
    return post(
        client,
        auth,
        f"/cases/{case_id}/referrals",
        {"service_type": service, "agency": agency, **body},
        "case_worker",
        user="rina",
    )["referral_id"]


def on_referral(
    client: TestClient,
    auth: Headers,
    case_id: str,
    referral_id: str,
    step: str,
    body: dict[str, Any],
    agency: str | None = None,
) -> None:
    who = ("agency_officer",) if agency else ("coordinator",)
    extra = {"agency": agency} if agency else {}
    post(client, auth, f"/cases/{case_id}/referrals/{referral_id}/{step}", body, *who, **extra)


def texts_sent(event: dict[str, Any]) -> list[tuple[str, str, tuple[str, str], str]]:
    """The free texts of one agency message: (case, field, its matrix path, value)."""
    kind = event["type"].removeprefix("id.simpul.agency.").removesuffix(".v1")
    data = event["data"]
    status = data["status"] if kind == "referral.updated" else None
    paths = TEXT_PATHS.get((kind, status), {})
    return [(event["subject"], field, path, data[field]) for field, path in paths.items()]


def test_free_text_reaches_only_agencies_whose_row_lists_it_and_only_with_consent(
    client: TestClient,
    auth: Headers,
    kafka_settings: Settings,
    services: Callable[..., ServiceProcess],
):
    # Given an ABH case handed over to social before consent, with a note naming the child,
    before_consent = an_abh_case(client, auth, consent=False)
    # another handed over after consent,
    after_consent = an_abh_case(client, auth, consent=True)
    # a consented case whose referrals carry texts in every step,
    consented = a_consented_case(client, auth)
    police = refer(
        client,
        auth,
        consented,
        "police",
        "legal_process",
        notes="bring the visum",
        referral_record_ref="BA/12",
    )
    on_referral(
        client, auth, consented, police, "decline", {"reason": "outside our jurisdiction"}, "police"
    )
    school = refer(client, auth, consented, "education", "return_to_school", notes="enrol at SMP 2")
    on_referral(
        client, auth, consented, school, "cancellation", {"reason": "the family fled to Palopo"}
    )
    health = refer(client, auth, consented, "health", "medical_care", notes="follow the fracture")
    on_referral(
        client, auth, consented, health, "acceptance", {"notes": "seen by dr. Ayu"}, "health"
    )
    on_referral(
        client,
        auth,
        consented,
        health,
        "deliveries",
        {"outcome": "completed", "delivered_on": "2026-03-02", "summary": "cast removed"},
        "health",
    )
    # and an emergency referral before consent
    emergency = post(client, auth, "/cases", a_report_body(), "intake_officer")["case_id"]
    classify(client, auth, emergency, emergency=True)
    refer(
        client,
        auth,
        emergency,
        "health",
        "medical_examination",
        emergency=True,
        notes="bleeding, come now",
    )

    # When the relay publishes them and the projectors apply them
    services("relay")
    services("project", "--all-agencies")
    servers, prefix = str(kafka_settings.kafka_bootstrap_servers), kafka_settings.kafka_topic_prefix
    security = KafkaSecurity.from_settings(kafka_settings)
    topics = {
        agency: [
            m["event"]
            for m in read_topic(
                servers, agency_topic(prefix, agency), at_least=at_least, security=security
            )
        ]
        for agency, at_least in (("social", 4), ("police", 4), ("education", 4), ("health", 7))
    }

    # Then the note naming the child never reached social before consent, and did after it
    handed_over = {
        e["subject"]: e["data"] for e in topics["social"] if e["type"].endswith("handed_over.v1")
    }
    assert (
        handed_over[before_consent]["notes"] == handed_over[before_consent]["receiving_unit"] == ""
    )
    assert "Kenanga" not in str([e for e in topics["social"] if e["subject"] == before_consent])
    assert handed_over[after_consent]["notes"] == NOTE_NAMING_THE_CHILD
    # and each agency got exactly the texts its row lists, the others as empty strings
    sent = {
        agency: {
            (case, field): value for event in events for case, field, _, value in texts_sent(event)
        }
        for agency, events in topics.items()
    }
    assert sent["police"][(consented, "notes")] == "bring the visum"
    assert sent["police"][(consented, "referral_record_ref")] == "BA/12"
    assert sent["police"][(consented, "reason")] == "outside our jurisdiction"
    assert sent["education"][(consented, "notes")] == "enrol at SMP 2"
    assert sent["education"][(consented, "reason")] == "", "the office's reason for cancelling"
    assert "Palopo" not in str(topics["education"])
    assert sent["health"][(consented, "summary")] == "cast removed"
    assert sent["health"][(emergency, "notes")] == "bleeding, come now", "emergency, no consent"
    for agency, events in topics.items():
        for event in events:
            for _, field, (group, key), value in texts_sent(event):
                assert not value or MATRIX.rows[agency].allows(group, key), (agency, field)
    # and the police inbox serves the decline reason it was sent
    police_inbox = wait_until(lambda: inbox(client, auth, "police"), what="the police inbox")
    assert police_inbox[0]["details"]["reason"] == "outside our jurisdiction"
