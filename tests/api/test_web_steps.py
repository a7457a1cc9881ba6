"""The SOP in the browser's forms: intake, one generated form per step, lists and the inbox.

Pages are exercised over HTTP like a browser without script would: GET a form, POST it
back with the session's CSRF token, follow the redirect. Everything under them is real
(the PostgreSQL event store, the coordinator's and the agency's read models).
"""

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from domain.actors import Actor
from gateways.web.sessions import COOKIE_NAME, SessionStore
from gateways.web.steps import BY_OPERATION
from services.case_commands import CASE_STEPS, ReferralCommand
from services.cases import Cases
from services.sharing import load_matrix
from tests.support.inboxes import project_inbox
from tests.support.lifecycle import Headers, a_report_body, open_referred_case

pytestmark = pytest.mark.integration

DISTRICT = "luwu-utara"
INTAKE = Actor("intake_officer.uptd_ppa", "intake_officer", "uptd_ppa", DISTRICT)
COORDINATOR = Actor("coordinator.uptd_ppa", "coordinator", "uptd_ppa", DISTRICT)
POLICE = Actor("agency_officer.police", "agency_officer", "police", DISTRICT)
HEALTH = Actor("agency_officer.health", "agency_officer", "health", DISTRICT)
MATRIX = load_matrix()


def _log_in(client: TestClient, actor: Actor) -> str:
    """A session for ``actor``; returns its CSRF token."""
    store: SessionStore = client.app.state.web_sessions  # type: ignore[attr-defined]
    session = store.open(actor, now=datetime.now(UTC))
    client.cookies.set(COOKIE_NAME, session.session_id)
    return session.csrf_token


def _hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, name
    return found.group(1)


def _submit(client: TestClient, path: str, fields: dict[str, Any]) -> Any:
    """GET the form, then POST it back with its hidden fields and ``fields``."""
    form = client.get(path)
    assert form.status_code == 200, form.text
    sent: dict[str, Any] = {
        name: _hidden(form.text, name)
        for name in ("csrf_token", "case_version", "form_key")
        if f'name="{name}"' in form.text
    }
    sent.update(fields)
    return client.post(path, data=sent, follow_redirects=False)


def _reported(client: TestClient, auth: Headers) -> str:
    """A case the intake officer reported over the API; its id."""
    case_id: str = client.post(
        "/api/v1/cases", json=a_report_body(), headers=auth("intake_officer")
    ).json()["case_id"]
    return case_id


def _events(cases: Cases, case_id: str) -> list[str]:
    return [type(event).__name__ for event in cases.history(UUID(case_id))]


REPORT_FIELDS = {
    "channel": "walk_in",
    "arrived_at": "2026-12-01T09:30",
    "chronology": "Ibu melaporkan memar di lengan anaknya.",
    "victim.name": "Mawar",
    "victim.sex": "female",
    "victim.age": "12",
    "reporter.name": "Melati",
    "reporter.relationship_to_victim": "ibu",
    "incident.place_type": "household",
    "needs": "Pemeriksaan medis",
}


def test_an_intake_officer_records_a_report_from_the_intake_form(
    client: TestClient, pg_cases: Cases
) -> None:
    _log_in(client, INTAKE)
    form = client.get("/intake")
    assert '<html lang="id">' in form.text and 'name="victim.name"' in form.text
    assert "Kronologi" in form.text and "<title>Catat laporan · Simpul</title>" in form.text
    recorded = _submit(client, "/intake", REPORT_FIELDS)
    assert recorded.status_code == 303
    case_id = recorded.headers["location"].split("/")[2].split("?")[0]
    assert _events(pg_cases, case_id) == ["ReportReceived"]
    [report] = pg_cases.history(UUID(case_id))
    assert report.victim == {"name": "Mawar", "sex": "female", "age": 12}  # type: ignore[attr-defined]
    # The office's clocks: 09:30 in Luwu Utara (WITA) is 01:30 UTC.
    assert report.arrived_at == datetime(2026, 12, 1, 1, 30, tzinfo=UTC)  # type: ignore[attr-defined]
    case_file = client.get(recorded.headers["location"])
    assert 'id="recorded"' in case_file.text and "Mawar" in case_file.text
    assert "L1.5" in case_file.text  # classification is due next


def test_a_refused_report_names_the_field_keeps_what_was_typed_and_records_nothing(
    client: TestClient, pg_cases: Cases
) -> None:
    _log_in(client, INTAKE)
    before = pg_cases.head_position()
    refused = _submit(client, "/intake", {**REPORT_FIELDS, "chronology": "", "victim.age": "dua"})
    assert refused.status_code == 422
    assert 'href="#chronology"' in refused.text and 'href="#victim.age"' in refused.text
    assert "Kolom ini wajib diisi." in refused.text
    assert ">Melati<" not in refused.text.split('role="alert"')[1].split("</div>")[0]
    assert 'value="Melati"' in refused.text  # what was typed is still in the form
    assert pg_cases.head_position() == before


def test_a_form_sent_twice_records_once(client: TestClient, pg_cases: Cases) -> None:
    csrf = _log_in(client, INTAKE)
    fields = {**REPORT_FIELDS, "csrf_token": csrf, "form_key": "the-same-form"}
    first = client.post("/intake", data=fields, follow_redirects=False)
    second = client.post("/intake", data=fields, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]


def test_an_intake_form_sent_again_with_other_values_is_refused_in_indonesian_with_a_new_key(
    client: TestClient, pg_cases: Cases
) -> None:
    csrf = _log_in(client, INTAKE)
    fields = {**REPORT_FIELDS, "csrf_token": csrf, "form_key": "the-same-form"}
    assert client.post("/intake", data=fields, follow_redirects=False).status_code == 303
    before = pg_cases.head_position()
    changed = {**fields, "victim.name": "Kenanga"}
    again = client.post("/intake", data=changed, follow_redirects=False)
    assert again.status_code == 409
    alert = again.text.split('role="alert"')[1].split("</div>")[0]
    assert "aturan form_sent_twice" in alert and "Kenanga" not in alert
    assert 'value="the-same-form"' not in again.text  # the next send is a new report
    assert pg_cases.head_position() == before


def test_every_step_of_the_step_table_has_a_form_with_all_its_fields(
    client: TestClient, auth: Headers
) -> None:
    case_id = open_referred_case(client, auth("coordinator"), {"police": "legal_process"})
    referral_id = client.get(f"/api/v1/cases/{case_id}", headers=auth("coordinator")).json()[
        "referrals"
    ][0]["referral_id"]
    _log_in(client, COORDINATOR)
    for command in CASE_STEPS:
        if issubclass(command, ReferralCommand):
            path = f"/cases/{case_id}/referrals/{referral_id}/steps/{command.operation()}"
        else:
            path = f"/cases/{case_id}/steps/{command.operation()}"
        form = client.get(path)
        assert form.status_code == 200, path
        for name in command.model_fields:
            if name != "referral_id":
                assert f'id="{name}' in form.text, (command.operation(), name)


def test_the_coordinator_classifies_through_the_generated_form(
    client: TestClient, auth: Headers, pg_cases: Cases
) -> None:
    case_id = _reported(client, auth)
    _log_in(client, COORDINATOR)
    case_file = client.get(f"/cases/{case_id}")
    assert f'href="/cases/{case_id}/steps/classify"' in case_file.text
    classified = _submit(
        client,
        f"/cases/{case_id}/steps/classify",
        {
            "case_type": "KTA",
            "risk_level": "high",
            "jurisdiction": "district",
            "forms_of_violence": ["physical", "psychological"],
        },
    )
    assert classified.status_code == 303, classified.text
    assert "RiskClassified" in _events(pg_cases, case_id)
    [event] = [e for e in pg_cases.history(UUID(case_id)) if type(e).__name__ == "RiskClassified"]
    assert event.forms_of_violence == ["physical", "psychological"]  # type: ignore[attr-defined]
    assert event.emergency is False  # type: ignore[attr-defined]


def test_a_rule_of_the_sop_refuses_with_its_rule_and_step(
    client: TestClient, auth: Headers, pg_cases: Cases
) -> None:
    case_id = _reported(client, auth)
    _log_in(client, COORDINATOR)
    refused = _submit(
        client,
        f"/cases/{case_id}/steps/refer",
        {"service_type": "legal_process", "agency": "police"},
    )
    assert refused.status_code == 409
    assert "(aturan consent_required, SOP L1.9)" in refused.text and 'role="alert"' in refused.text
    assert _events(pg_cases, case_id) == ["ReportReceived"]


def _alert(page: str) -> str:
    return page.split('role="alert"', maxsplit=1)[1].split("</div>", maxsplit=1)[0]


def test_a_refused_step_says_the_rule_in_indonesian_and_repeats_nothing_typed(
    client: TestClient, auth: Headers, pg_cases: Cases
) -> None:
    case_id = _reported(client, auth)
    _log_in(client, COORDINATOR)
    typed = {"notes": "Korban dijemput di rumah Bu Kenanga", "referral_record_ref": "BA-77/XII"}
    refused = _submit(
        client,
        f"/cases/{case_id}/steps/refer",
        {"service_type": "legal_process", "agency": "police", **typed},
    )
    assert refused.status_code == 409
    alert = _alert(refused.text)
    assert (
        "SOP belum mengizinkan langkah ini: Catat persetujuan korban terlebih dahulu. "
        "(aturan consent_required, SOP L1.9)"
    ) in alert
    # Neither the domain's English nor anything typed reaches the message.
    assert "consent first" not in alert and "needs" not in alert
    for value in (*typed.values(), "legal_process", "police"):
        assert value not in alert
    assert "Bu Kenanga" in refused.text  # what was typed stays in its field
    assert _events(pg_cases, case_id) == ["ReportReceived"]


def test_a_value_the_domain_refuses_is_said_in_indonesian_next_to_its_field(
    client: TestClient, auth: Headers, pg_cases: Cases
) -> None:
    case_id = _reported(client, auth)
    classified = client.post(
        f"/api/v1/cases/{case_id}/classification",
        headers=auth("coordinator"),
        json={
            "case_type": "KTA",
            "risk_level": "high",
            "jurisdiction": "district",
            "emergency": False,
        },
    )
    assert classified.status_code == 200, classified.text
    _log_in(client, COORDINATOR)
    before = pg_cases.head_position()
    typed = "Ibu Kenanga menandatangani di rumah"
    # Consent given without the signed form's number: the domain refuses it (InvalidValue).
    refused = _submit(
        client,
        f"/cases/{case_id}/steps/{BY_OPERATION['record_consent'].operation()}",
        {"given": "true", "given_by": "parent", "notes": typed},
    )
    assert refused.status_code == 422
    said = "Persetujuan yang diberikan memerlukan nomor formulir persetujuan yang ditandatangani."
    assert f'<span class="field-error" id="document_ref-error">{said}</span>' in refused.text
    alert = _alert(refused.text)
    assert 'href="#document_ref"' in alert and said in alert
    assert "signed form" not in refused.text and typed not in alert
    assert typed in refused.text  # what was typed stays in its field
    assert pg_cases.head_position() == before


def test_a_form_opened_before_the_case_changed_is_refused_not_applied(
    client: TestClient, auth: Headers, pg_cases: Cases
) -> None:
    case_id = _reported(client, auth)
    csrf = _log_in(client, COORDINATOR)
    path = f"/cases/{case_id}/steps/record_contact"
    stale_version = _hidden(client.get(path).text, "case_version")
    changed = client.post(
        f"/api/v1/cases/{case_id}/psychological-first-aid",
        json={"notes": "Didampingi konselor"},
        headers=auth("coordinator"),
    )
    assert changed.status_code == 200, changed.text
    stale = client.post(
        path,
        data={"csrf_token": csrf, "case_version": stale_version, "mode": "home_visit"},
        follow_redirects=False,
    )
    assert stale.status_code == 409 and "stale_form" in stale.text
    assert _events(pg_cases, case_id) == ["ReportReceived", "PsychologicalFirstAidGiven"]


def test_a_step_posted_without_the_sessions_csrf_token_is_refused(
    client: TestClient, auth: Headers, pg_cases: Cases
) -> None:
    case_id = _reported(client, auth)
    _log_in(client, COORDINATOR)
    for token in ({}, {"csrf_token": "forged"}):
        refused = client.post(
            f"/cases/{case_id}/steps/record_contact",
            data={"mode": "phone", **token},
            follow_redirects=False,
        )
        assert refused.status_code == 403 and "csrf_token" in refused.text
    intake = client.post("/intake", data=REPORT_FIELDS, follow_redirects=False)
    assert intake.status_code == 403
    assert _events(pg_cases, case_id) == ["ReportReceived"]


def test_an_auditor_sees_the_case_file_without_any_step_to_take(
    client: TestClient, auth: Headers
) -> None:
    case_id = _reported(client, auth)
    _log_in(client, Actor("auditor.uptd_ppa", "auditor", "uptd_ppa", DISTRICT))
    case_file = client.get(f"/cases/{case_id}")
    assert case_file.status_code == 200 and 'id="case-steps"' not in case_file.text


def test_the_case_list_shows_the_offices_open_cases_with_what_is_due(
    client: TestClient, auth: Headers, caught_up: Callable[[], int]
) -> None:
    created = client.post("/api/v1/cases", json=a_report_body(), headers=auth("intake_officer"))
    caught_up()
    _log_in(client, COORDINATOR)
    listed = client.get("/cases")
    assert listed.status_code == 200
    assert created.json()["register_number"] in listed.text
    assert "Mawar" not in listed.text  # a list shows no personal data
    _log_in(client, POLICE)
    assert client.get("/cases").status_code == 403


def test_the_police_accept_and_report_delivery_from_their_inbox(
    client: TestClient, auth: Headers, pg_cases: Cases
) -> None:
    case_id = open_referred_case(client, auth("coordinator"), {"police": "legal_process"})
    project_inbox(pg_cases, "police")
    _log_in(client, POLICE)
    inbox = client.get("/inbox")
    assert inbox.status_code == 200
    accept = re.search(r'href="(/cases/[^"]+/steps/accept_referral)"', inbox.text)
    assert accept, inbox.text
    assert _submit(client, accept.group(1), {"notes": "Diterima Unit PPA"}).status_code == 303
    deliver = accept.group(1).replace("accept_referral", "record_service_delivery")
    delivered = _submit(
        client,
        deliver,
        {"outcome": "completed", "delivered_on": "2026-12-02", "summary": "BAP selesai"},
    )
    assert delivered.status_code == 303, delivered.text
    assert _events(pg_cases, case_id)[-2:] == ["ReferralAccepted", "ServiceDelivered"]


def test_another_agencys_officer_opening_a_referral_by_its_url_finds_nothing(
    client: TestClient, auth: Headers, pg_cases: Cases
) -> None:
    case_id = open_referred_case(client, auth("coordinator"), {"police": "legal_process"})
    referral_id = client.get(f"/api/v1/cases/{case_id}", headers=auth("coordinator")).json()[
        "referrals"
    ][0]["referral_id"]
    csrf = _log_in(client, HEALTH)
    path = f"/cases/{case_id}/referrals/{referral_id}/steps/accept_referral"
    assert client.get(path).status_code == 404
    posted = client.post(path, data={"csrf_token": csrf}, follow_redirects=False)
    assert posted.status_code == 404
    assert client.get(f"/cases/{case_id}").status_code == 404
    assert "ReferralAccepted" not in _events(pg_cases, case_id)


def test_step_forms_are_indonesian_and_never_cached(client: TestClient, auth: Headers) -> None:
    case_id = _reported(client, auth)
    _log_in(client, COORDINATOR)
    form = client.get(f"/cases/{case_id}/steps/{BY_OPERATION['record_consent'].operation()}")
    assert form.headers["Cache-Control"] == "no-store"
    assert "Persetujuan" in form.text or "persetujuan" in form.text
    assert "Mawar" not in form.text  # a form shows the case's number, not its people


def test_an_agency_officer_finds_no_form_for_an_office_step(
    client: TestClient, auth: Headers
) -> None:
    case_id = open_referred_case(client, auth("coordinator"), {"police": "legal_process"})
    _log_in(client, POLICE)
    assert client.get(f"/cases/{case_id}/steps/record_contact").status_code == 404
    assert client.get(f"/cases/{case_id}/steps/terminate").status_code == 404
