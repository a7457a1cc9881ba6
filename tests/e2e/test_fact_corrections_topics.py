"""Corrections (B4, K-O2) on the real relay path: each corrected fact reaches, on their
topics, exactly the agencies whose row of the sharing matrix holds it, and their inboxes
show the corrected value."""

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from gateways.kafka.contract import MessageValidator
from gateways.kafka.messages import agency_topic, cases_topic
from gateways.kafka.security import KafkaSecurity
from services.settings import Settings
from tests.e2e.conftest import ServiceProcess, read_topic, wait_until
from tests.e2e.test_agency_views import a_consented_case, facts_within_row, inbox, post, refer

Headers = Callable[..., dict[str, str]]
REASON = "Verifikasi dengan kunjungan rumah untuk melengkapi data (B4)."
CORRECTED_NIK = "7322011201140002"


def kinds(messages: list[dict[str, Any]]) -> list[str]:
    return [".".join(m["event"]["type"].split(".")[3:5]) for m in messages]


def test_each_correction_reaches_exactly_the_agencies_holding_the_corrected_field(
    client: TestClient,
    auth: Headers,
    kafka_settings: Settings,
    services: Callable[..., ServiceProcess],
):
    # Given a consented case referred to the police, the health facility and the school
    case_id = a_consented_case(client, auth)
    refer(client, auth, case_id, "police", "legal_process")
    refer(client, auth, case_id, "health", "medical_care")
    refer(client, auth, case_id, "education", "return_to_school")

    # When the home visit corrects the victim's NIK (police and health hold it), the date
    # of the incident and who is reported (the police alone), and completes her schooling
    # (police and school)
    worker = {"role": "case_worker", "user": "rina"}
    path = f"/cases/{case_id}/fact-corrections"
    post(client, auth, path, {"victim": {"nik": CORRECTED_NIK}, "reason": REASON}, **worker)
    post(
        client,
        auth,
        path,
        {
            "incident": {"occurred_on": "2026-02-27"},
            "reported_person": {"name": "Tn. Kumbang"},
            "reason": REASON,
            "sop_step": "B4",
        },
        **worker,
    )
    post(client, auth, path, {"victim": {"education": "SD kelas 6"}, "reason": REASON}, **worker)
    services("relay")
    services("project", "--all-agencies")

    # Then each topic holds one case.updated per correction of a fact in its row, no other
    servers, prefix = str(kafka_settings.kafka_bootstrap_servers), kafka_settings.kafka_topic_prefix
    security = KafkaSecurity.from_settings(kafka_settings)
    topics = {
        agency: read_topic(servers, agency_topic(prefix, agency), at_least=n, security=security)
        for agency, n in (("police", 5), ("health", 3), ("education", 3))
    }
    opening = ["case.opened", "referral.received"]
    assert kinds(topics["police"]) == [*opening, "case.updated", "case.updated", "case.updated"]
    assert kinds(topics["health"]) == [*opening, "case.updated"]
    assert kinds(topics["education"]) == [*opening, "case.updated"]
    validator = MessageValidator()
    for agency, messages in topics.items():
        for message in messages:
            assert validator.errors(message["event"]) == [], agency
            assert facts_within_row(agency, message["event"]["data"].get("facts", {})) == []
    police = [m["event"]["data"]["facts"] for m in topics["police"][2:]]
    assert police[0]["victim"]["nik"] == CORRECTED_NIK
    assert police[1]["incident"]["occurred_on"] == "2026-02-27"
    assert police[1]["reported_person"]["name"] == "Tn. Kumbang"
    assert police[2]["victim"]["education"] == "SD kelas 6"
    health = topics["health"][2]["event"]["data"]["facts"]
    assert health["victim"]["nik"] == CORRECTED_NIK
    assert "Kumbang" not in str([m["raw"] for m in topics["health"] + topics["education"]])
    school = topics["education"][2]["event"]["data"]["facts"]
    assert school["victim"]["education"] == "SD kelas 6"
    assert CORRECTED_NIK not in str([m["raw"] for m in topics["education"]])
    # and the internal topic carries the three corrections, valid against their schema
    internal = read_topic(servers, cases_topic(prefix), at_least=11, security=security)
    corrections = [
        m["event"] for m in internal if m["event"]["type"].endswith(".facts_corrected.v1")
    ]
    assert len(corrections) == 3
    assert all(validator.errors(event) == [] for event in corrections)

    # and each inbox shows the corrected facts
    police_inbox = wait_until(
        lambda: (
            (rows := inbox(client, auth, "police"))
            and rows[0]["facts"]["victim"].get("education") == "SD kelas 6"
            and rows
        ),
        what="the police inbox to apply the corrections",
    )
    assert police_inbox[0]["facts"]["victim"]["nik"] == CORRECTED_NIK
    assert police_inbox[0]["facts"]["incident"]["occurred_on"] == "2026-02-27"
    school_inbox = wait_until(
        lambda: (
            (rows := inbox(client, auth, "education"))
            and rows[0]["facts"]["victim"].get("education") == "SD kelas 6"
            and rows
        ),
        what="the school's inbox to apply its correction",
    )
    assert "nik" not in school_inbox[0]["facts"]["victim"]
