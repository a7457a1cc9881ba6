"""GET /api/v1/my-tasks over HTTP: what is due for each person, from the projected views.

A real coordinator projector follows the test database in a background thread, as in
tests/api/test_coordinator_api.py; agency inboxes are rebuilt from the store, as
`simpul project --agency` would hold them. Time moves by the case service's clock,
which every read judges due and overdue by.
"""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateways.cli.projections import rebuild_agencies
from services.access_log import AccessQuery
from services.cases import Cases
from services.settings import Settings
from tests.support.lifecycle import Headers, a_report_body

pytestmark = pytest.mark.integration

LUWU_UTARA = {"agency": "uptd_ppa", "district": "luwu-utara"}
PKSAI = {"agency": "social", "district": "kutai-timur"}


class Office:
    """Commands of one district's office over HTTP."""

    def __init__(self, client: TestClient, auth: Headers, **office: str) -> None:
        self.client, self.auth, self.office = client, auth, office

    def post(self, path: str, body: dict[str, Any], role: str, **who: str) -> dict[str, Any]:
        response = self.client.post(
            f"/api/v1{path}", json=body, headers=self.auth(role, **{**self.office, **who})
        )
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    def report(self) -> str:
        return str(self.post("/cases", a_report_body(), "intake_officer")["case_id"])

    def classify(self, case_id: str) -> None:
        self.post(
            f"/cases/{case_id}/classification",
            {
                "case_type": "KTA",
                "risk_level": "high",
                "jurisdiction": "district",
                "emergency": False,
            },
            "coordinator",
        )

    def assign(self, case_id: str, case_worker: str) -> None:
        self.post(f"/cases/{case_id}/case-worker", {"case_worker_id": case_worker}, "coordinator")

    def consent(self, case_id: str) -> None:
        self.post(
            f"/cases/{case_id}/consent",
            {"given": True, "given_by": "parent", "document_ref": "IC/01"},
            "coordinator",
        )

    def refer(self, case_id: str, agency: str, service_type: str) -> str:
        body = {"service_type": service_type, "agency": agency}
        return str(self.post(f"/cases/{case_id}/referrals", body, "coordinator")["referral_id"])


def tasks_of(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get("/api/v1/my-tasks", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def listed(body: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(task["kind"], task["case_id"], task["code"]) for task in body["tasks"]]


def test_a_case_worker_sees_the_first_visit_due_on_their_case_and_not_a_colleagues(
    client: TestClient, auth: Headers, caught_up: Callable[[], int]
):
    """L1.8: the assigned case worker visits or contacts the beneficiary within 1 hari."""
    office = Office(client, auth, **LUWU_UTARA)
    mine, colleagues = office.report(), office.report()
    for case_id, worker in ((mine, "rina"), (colleagues, "budi")):
        office.classify(case_id)
        office.assign(case_id, worker)
    caught_up()

    body = tasks_of(client, auth("case_worker", user="rina", **LUWU_UTARA))

    assert listed(body) == [("step", mine, "L1.8")]
    (task,) = body["tasks"]
    assert (task["state"], task["title_en"]) == ("due", "First visit or contact")
    assert task["register_number"].startswith("LUTRA/")
    assert body["counts"] == {"steps": 1, "referrals": 0, "approvals": 0, "overdue": 0, "total": 1}


def test_the_first_visit_shows_as_overdue_once_its_time_standard_passed(
    client: TestClient, auth: Headers, pg_cases: Cases, caught_up: Callable[[], int]
):
    office = Office(client, auth, **LUWU_UTARA)
    case_id = office.report()
    office.classify(case_id)
    office.assign(case_id, "rina")
    caught_up()
    rina = auth("case_worker", user="rina", **LUWU_UTARA)
    assert [task["state"] for task in tasks_of(client, rina)["tasks"]] == ["due"]

    later = pg_cases.clock() + timedelta(days=1, minutes=1)
    pg_cases.clock = lambda: later
    body = tasks_of(client, rina)

    assert [(task["code"], task["state"]) for task in body["tasks"]] == [("L1.8", "overdue")]
    assert body["counts"]["overdue"] == 1 and body["now"].startswith(later.date().isoformat())


def test_an_intake_officer_sees_classification_due_until_the_case_is_assigned(
    client: TestClient, auth: Headers, caught_up: Callable[[], int]
):
    """L1.5 (classification) and L1.7 (assignment) are the intake's, before a case worker."""
    office = Office(client, auth, **LUWU_UTARA)
    case_id = office.report()
    caught_up()
    intake = auth("intake_officer", **LUWU_UTARA)

    before = [code for _, _, code in listed(tasks_of(client, intake))]
    office.classify(case_id)
    caught_up()
    classified = [code for _, _, code in listed(tasks_of(client, intake))]
    office.assign(case_id, "rina")
    caught_up()
    assigned = listed(tasks_of(client, intake))

    assert "L1.5" in before and "L1.5" not in classified and "L1.7" in classified
    assert assigned == []


def test_the_police_officer_sees_a_referral_waiting_for_the_police_and_not_one_for_health(
    client: TestClient, auth: Headers, database_url: str, caught_up: Callable[[], int]
):
    office = Office(client, auth, **LUWU_UTARA)
    case_id = office.report()
    office.classify(case_id)
    office.consent(case_id)
    to_police = office.refer(case_id, "police", "legal_process")
    office.refer(case_id, "health", "medical_examination")
    rebuild_agencies(
        Settings(_env_file=None), database_url, ["police", "health"], show_progress=False
    )  # type: ignore[call-arg]
    police = auth("agency_officer", agency="police")

    body = tasks_of(client, police)

    assert [(task["kind"], task["referral_id"], task["code"]) for task in body["tasks"]] == [
        ("referral", to_police, "L4.1")
    ]
    assert body["tasks"][0]["state"] == "due" and body["counts"]["referrals"] == 1
    office.post(
        f"/cases/{case_id}/referrals/{to_police}/acceptance", {}, "agency_officer", agency="police"
    )
    rebuild_agencies(Settings(_env_file=None), database_url, ["police"], show_progress=False)  # type: ignore[call-arg]
    assert tasks_of(client, police)["tasks"] == []


def test_a_supervisor_sees_a_recommendation_waiting_for_approval_until_it_is_approved(
    client: TestClient, auth: Headers, caught_up: Callable[[], int]
):
    """K-C7 the Peksos proposes, K-C8 the Ketua Pelaksana Harian approves (1 hari)."""
    pksai = Office(client, auth, **PKSAI)
    case_id = pksai.report()
    pksai.classify(case_id)
    pksai.consent(case_id)
    pksai.assign(case_id, "peksos-1")
    recommendation_id = pksai.post(
        f"/cases/{case_id}/recommendations",
        {"service_type": "medical_examination", "agency": "health", "rationale": "Visum."},
        "case_worker",
        user="peksos-1",
    )["recommendation_id"]
    caught_up()
    ketua = auth("supervisor", user="ketua-pelaksana-harian", **PKSAI)

    body = tasks_of(client, ketua)

    (task,) = body["tasks"]
    assert (task["kind"], task["case_id"], task["code"]) == ("approval", case_id, "K-C8")
    assert (task["recommendation_id"], task["state"]) == (recommendation_id, "due")
    assert body["counts"]["approvals"] == 1
    pksai.post(
        f"/cases/{case_id}/recommendation-approvals",
        {
            "recommendation_id": recommendation_id,
            "recommendation_letter_ref": "REK/PKSAI/2026/01",
            "referral_record_ref": "BAR/PKSAI/2026/01",
        },
        "supervisor",
        user="ketua-pelaksana-harian",
    )
    caught_up()
    assert tasks_of(client, ketua)["counts"]["approvals"] == 0


def test_no_personal_data_is_in_anyones_task_list(
    client: TestClient, auth: Headers, database_url: str, caught_up: Callable[[], int]
):
    """Names, NIK, chronology, notes, rationale and who proposed: none of it in a task."""
    pksai = Office(client, auth, **PKSAI)
    case_id = pksai.report()
    pksai.classify(case_id)
    pksai.consent(case_id)
    pksai.assign(case_id, "peksos-1")
    pksai.post(
        f"/cases/{case_id}/recommendations",
        {"service_type": "legal_process", "agency": "police", "rationale": "Bruises photographed."},
        "case_worker",
        user="peksos-1",
    )
    caught_up()
    rebuild_agencies(Settings(_env_file=None), database_url, ["police"], show_progress=False)  # type: ignore[call-arg]
    callers = [
        auth("coordinator", user="ketua-pelaksana-harian", **PKSAI),
        auth("case_worker", user="peksos-1", **PKSAI),
        auth("intake_officer", **PKSAI),
    ]

    answers = [client.get("/api/v1/my-tasks", headers=headers) for headers in callers]

    assert all(answer.status_code == 200 for answer in answers)
    assert sum(answer.json()["counts"]["total"] for answer in answers) >= 2
    report = a_report_body()
    personal = [
        report["victim"]["name"],
        report["victim"]["nik"],
        report["reporter"]["name"],
        report["chronology"],
        report["needs"],
        "Bruises photographed.",
        "peksos-1",
        "IC/01",
    ]
    for answer in answers:
        assert not [value for value in personal if value in answer.text], answer.text


@pytest.mark.parametrize("role", ["auditor", "data_officer", "office_administrator"])
def test_who_acts_on_no_case_gets_an_empty_list(
    client: TestClient, auth: Headers, caught_up: Callable[[], int], role: str
):
    office = Office(client, auth, **LUWU_UTARA)
    office.report()
    caught_up()

    body = tasks_of(client, auth(role, **LUWU_UTARA))

    assert body["tasks"] == [] and body["counts"]["total"] == 0


def test_the_office_task_list_is_recorded_in_the_access_log(
    client: TestClient, auth: Headers, pg_cases: Cases, caught_up: Callable[[], int]
):
    caught_up()

    response = client.get(
        "/api/v1/my-tasks",
        headers=auth("coordinator", user="coordinator-7", **LUWU_UTARA, **{"X-Request-ID": "t-1"}),
    )

    assert response.status_code == 200
    log = pg_cases.recorder.access_log.select_access(AccessQuery(user_id="coordinator-7"))  # type: ignore[attr-defined]  # the PostgreSQL recorder's own
    assert [(e.record.view, e.record.case_id, e.record.request_id) for e in log] == [
        ("list_my_tasks", None, "t-1")
    ]
