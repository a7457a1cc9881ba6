"""Documents on the real relay path: an attachment is announced, on their topics, to exactly
the agencies whose row of the sharing matrix lists its kind, never with its content; the
inbox lists it and the agency fetches it, recorded in the access log, by the announced id."""

import hashlib
from collections.abc import Callable
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from gateways.kafka.contract import MessageValidator
from gateways.kafka.messages import agency_topic
from gateways.kafka.security import KafkaSecurity
from services.access_log import AccessQuery
from services.cases import Cases
from services.settings import Settings
from tests.e2e.conftest import ServiceProcess, read_topic, wait_until
from tests.e2e.test_agency_views import a_consented_case, inbox, refer
from tests.support.documents import a_pdf

Headers = Callable[..., dict[str, str]]
VISUM = a_pdf(b"BT (Visum et repertum No. 12/VER/2026) Tj ET")
MEDICAL_RECORD = a_pdf(b"BT (Rekam medis RSUD Andi Djemma) Tj ET")


def kinds(messages: list[dict[str, Any]]) -> list[str]:
    return [".".join(m["event"]["type"].split(".")[3:5]) for m in messages]


def upload(client: TestClient, auth: Headers, case_id: str, content: bytes, kind: str) -> str:
    response = client.post(
        f"/api/v1/cases/{case_id}/documents",
        params={"kind": kind, "step": "L4.1"},
        content=content,
        headers=auth("case_worker", user="rina") | {"Content-Type": "application/pdf"},
    )
    assert response.status_code == 201, response.text
    document_id: str = response.json()["document_id"]
    return document_id


def test_an_attachment_reaches_exactly_the_topics_whose_row_lists_its_kind(
    client: TestClient,
    auth: Headers,
    pg_cases: Cases,
    kafka_settings: Settings,
    services: Callable[..., ServiceProcess],
):
    # Given a consented case referred to the police, the health facility and the school
    case_id = a_consented_case(client, auth)
    for agency, service in (
        ("police", "legal_process"),
        ("health", "medical_care"),
        ("education", "return_to_school"),
    ):
        refer(client, auth, case_id, agency, service)

    # When the visum et repertum and a medical record are attached
    visum = upload(client, auth, case_id, VISUM, "visum_et_repertum")
    record = upload(client, auth, case_id, MEDICAL_RECORD, "medical_record")
    services("relay")
    services("project", "--all-agencies")

    # Then the police hear of the visum, the health facility of both, the school of neither
    servers, prefix = str(kafka_settings.kafka_bootstrap_servers), kafka_settings.kafka_topic_prefix
    security = KafkaSecurity.from_settings(kafka_settings)
    topics = {
        agency: read_topic(servers, agency_topic(prefix, agency), at_least=n, security=security)
        for agency, n in (("police", 3), ("health", 4), ("education", 2))
    }
    opening = ["case.opened", "referral.received"]
    assert kinds(topics["police"]) == [*opening, "document.shared"]
    assert kinds(topics["health"]) == [*opening, "document.shared", "document.shared"]
    assert kinds(topics["education"]) == opening
    validator = MessageValidator()
    for agency, messages in topics.items():
        assert all(validator.errors(m["event"]) == [] for m in messages), agency
    shared = topics["police"][2]["event"]["data"]
    assert (shared["document_id"], shared["kind"], shared["step"]) == (
        visum,
        "visum_et_repertum",
        "L4.1",
    )
    assert shared["sha256"] == hashlib.sha256(VISUM).hexdigest()
    assert [m["event"]["data"]["document_id"] for m in topics["health"][2:]] == [visum, record]
    raw = str([m["raw"] for messages in topics.values() for m in messages])
    assert "Visum et repertum No." not in raw and "Andi Djemma" not in raw

    # and the police inbox lists the visum, which the police fetch by its announced id
    rows = wait_until(
        lambda: (rows := inbox(client, auth, "police")) and rows[0]["documents"] and rows,
        what="the police inbox to list the visum",
    )
    assert [d["document_id"] for d in rows[0]["documents"]] == [visum]
    police = auth("agency_officer", agency="police", user="polres-ppa-01")
    fetched = client.get(
        f"/api/v1/agencies/police/cases/{case_id}/documents/{visum}", headers=police
    )
    assert fetched.status_code == 200, fetched.text
    assert hashlib.sha256(fetched.content).hexdigest() == shared["sha256"]
    refused = client.get(
        f"/api/v1/agencies/police/cases/{case_id}/documents/{record}", headers=police
    )
    assert refused.status_code == 404
    reads = pg_cases.recorder.access_log.select_access(  # type: ignore[attr-defined]  # the PostgreSQL recorder's own
        AccessQuery(case_id=UUID(case_id), user_id="polres-ppa-01", limit=100)
    )
    assert "agency_download_document" in {entry.record.view for entry in reads}
