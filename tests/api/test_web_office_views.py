"""The coordinator's dashboard and the district profile as pages, over the real read model."""

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from domain.actors import Actor
from gateways.web.sessions import COOKIE_NAME, SessionStore
from tests.support.lifecycle import Headers, a_report_body, open_referred_case

pytestmark = pytest.mark.integration

DISTRICT = "luwu-utara"
COORDINATOR = Actor("coordinator.uptd_ppa", "coordinator", "uptd_ppa", DISTRICT)


def _log_in(client: TestClient, actor: Actor) -> None:
    store: SessionStore = client.app.state.web_sessions  # type: ignore[attr-defined]
    client.cookies.set(COOKIE_NAME, store.open(actor, now=datetime.now(UTC)).session_id)


def test_the_dashboard_lists_due_steps_per_case_and_agency_with_its_filters(
    client: TestClient, auth: Headers, caught_up: Callable[[], int]
) -> None:
    reported = client.post("/api/v1/cases", json=a_report_body(), headers=auth("intake_officer"))
    referred = open_referred_case(client, auth("coordinator"), {"police": "legal_process"})
    caught_up()
    _log_in(client, COORDINATOR)
    board = client.get("/dashboard")
    assert board.status_code == 200 and "<title>Dasbor · Simpul</title>" in board.text
    assert reported.json()["register_number"] in board.text
    assert 'id="workload-workers"' in board.text and "Kepolisian" in board.text
    assert "Mawar" not in board.text
    only_classification = client.get("/dashboard", params={"code": "L1.5"})
    assert reported.json()["register_number"] in only_classification.text
    only_police = client.get("/dashboard", params={"agency": "police"})
    assert only_police.status_code == 200
    assert f'href="/cases/{referred}"' in only_police.text
    assert f'href="/cases/{reported.json()["case_id"]}"' not in only_police.text
    refused = client.get("/dashboard", params={"code": "not a step"})
    assert refused.status_code == 422 and "not a step" not in refused.text


def test_an_agency_officer_has_no_dashboard(client: TestClient) -> None:
    _log_in(client, Actor("agency_officer.police", "agency_officer", "police", DISTRICT))
    assert client.get("/dashboard").status_code == 403


def test_the_district_page_shows_the_profiles_steps_and_clocks(client: TestClient) -> None:
    _log_in(client, Actor("admin.uptd_ppa", "office_administrator", "uptd_ppa", DISTRICT))
    shown = client.get("/district")
    assert shown.status_code == 200 and "Luwu Utara" in shown.text
    assert "L1.5" in shown.text and "jam" in shown.text
    assert 'href="/district"' in shown.text
