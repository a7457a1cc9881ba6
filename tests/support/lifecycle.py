"""One complete case, report to agreed termination, through the HTTP API.

Used by API and end-to-end tests. Each step names who acts and sends an
idempotency key derived from ``run_id`` and the step, so running the walk
again with the same ``run_id`` replays every command instead of recording.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

Headers = Callable[..., dict[str, str]]

TODAY = "2026-03-02"


def a_report_body(**overrides: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "channel": "walk_in",
        "arrived_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "chronology": "The mother reports bruises on her daughter's arms.",
        "victim": {"name": "Mawar", "sex": "female", "age": 12, "nik": "7322011201140001"},
        "reporter": {"name": "Melati", "relationship_to_victim": "mother"},
        "reported_person": {"relationship_to_victim": "neighbour"},
        "incident": {"place_type": "household", "village": "Baebunta"},
        "needs": "Medical examination and safety",
    }
    report.update(overrides)
    return report


def open_referred_case(http: Any, headers: dict[str, str], referrals: dict[str, str]) -> str:
    """Report, classify and consent a case over HTTP, then refer it: ``{agency: service_type}``.

    ``http`` is any client with httpx's ``post`` (an httpx.Client or a TestClient).
    """
    case_id = http.post("/api/v1/cases", json=a_report_body(), headers=headers).json()["case_id"]
    http.post(
        f"/api/v1/cases/{case_id}/classification",
        headers=headers,
        json={
            "case_type": "KTA",
            "risk_level": "high",
            "jurisdiction": "district",
            "emergency": False,
        },
    )
    http.post(
        f"/api/v1/cases/{case_id}/consent",
        headers=headers,
        json={"given": True, "given_by": "parent", "document_ref": "IC"},
    )
    for agency, service in referrals.items():
        referred = http.post(
            f"/api/v1/cases/{case_id}/referrals",
            headers=headers,
            json={"service_type": service, "agency": agency},
        )
        assert referred.status_code == 200, referred.text
    return case_id


@dataclass
class Walk:
    client: TestClient
    auth: Headers
    run_id: str
    case_id: str = ""
    results: list[dict[str, Any]] = field(default_factory=list)

    def post(
        self,
        role: str,
        path: str,
        body: dict[str, Any],
        *,
        agency: str = "uptd_ppa",
        user: str | None = None,
    ) -> dict[str, Any]:
        headers = self.auth(
            role,
            agency=agency,
            user=user,
            **{"Idempotency-Key": f"{self.run_id}-{len(self.results):03d}"},
        )
        response = self.client.post(
            f"/api/v1{path.format(case=self.case_id)}", json=body, headers=headers
        )
        assert response.status_code in (200, 201), (path, response.status_code, response.text)
        result = response.json()
        self.case_id = result["case_id"]
        self.results.append(result)
        return dict(result)


def walk_full_lifecycle(
    client: TestClient, auth: Headers, run_id: str, *, arrived_at: str | None = None
) -> Walk:
    """All six SOP stages: an emergency referral to health, referrals to police and school."""
    walk = Walk(client, auth, run_id)
    case_worker = {"user": "rina.pendamping"}
    report = a_report_body(**({"arrived_at": arrived_at} if arrived_at else {}))
    walk.post("intake_officer", "/cases", report)
    walk.post(
        "case_worker", "/cases/{case}/psychological-first-aid", {"notes": "calmed"}, **case_worker
    )
    walk.post(
        "intake_officer",
        "/cases/{case}/classification",
        {
            "case_type": "KTA",
            "risk_level": "high",
            "jurisdiction": "district",
            "emergency": True,
            "forms_of_violence": ["physical"],
        },
    )
    medical = walk.post(
        "intake_officer",
        "/cases/{case}/referrals",
        {
            "service_type": "medical_examination",
            "agency": "health",
            "emergency": True,
        },
    )["referral_id"]
    walk.post(
        "case_worker",
        "/cases/{case}/emergency-responses",
        {"actions": ["to hospital"]},
        **case_worker,
    )
    walk.post("coordinator", "/cases/{case}/case-worker", {"case_worker_id": "rina.pendamping"})
    walk.post("case_worker", "/cases/{case}/contacts", {"mode": "home_visit"}, **case_worker)
    walk.post(
        "case_worker",
        "/cases/{case}/consent",
        {"given": True, "given_by": "parent", "document_ref": "IC-1"},
        **case_worker,
    )
    walk.post(
        "agency_officer", f"/cases/{{case}}/referrals/{medical}/acceptance", {}, agency="health"
    )
    walk.post(
        "agency_officer",
        f"/cases/{{case}}/referrals/{medical}/deliveries",
        {
            "outcome": "completed",
            "delivered_on": TODAY,
            "summary": "examined",
        },
        agency="health",
    )
    walk.post(
        "case_worker",
        "/cases/{case}/assessments",
        {
            "kind": "initial_home_visit",
            "domain": "psychological",
            "findings": "anxious",
        },
        **case_worker,
    )
    walk.post(
        "case_worker",
        "/cases/{case}/case-report",
        {"summary": "abuse", "needs": ["legal_process"]},
        **case_worker,
    )
    walk.post(
        "coordinator",
        "/cases/{case}/case-conferences",
        {
            "held_on": TODAY,
            "participating_agencies": ["uptd_ppa", "police"],
            "decisions": ["report to police"],
        },
    )
    walk.post(
        "case_worker",
        "/cases/{case}/intervention-plan",
        {
            "goals": ["safe"],
            "agreed_with": ["parent"],
            "services": [
                {"service_type": "legal_process", "agency": "police"},
                {"service_type": "return_to_school", "agency": "education"},
            ],
        },
        **case_worker,
    )
    legal = walk.post(
        "case_worker",
        "/cases/{case}/referrals",
        {"service_type": "legal_process", "agency": "police"},
        **case_worker,
    )["referral_id"]
    school = walk.post(
        "case_worker",
        "/cases/{case}/referrals",
        {"service_type": "return_to_school", "agency": "education"},
        **case_worker,
    )["referral_id"]
    for agency, referral in (("police", legal), ("education", school)):
        walk.post(
            "agency_officer", f"/cases/{{case}}/referrals/{referral}/acceptance", {}, agency=agency
        )
        walk.post(
            "agency_officer",
            f"/cases/{{case}}/referrals/{referral}/deliveries",
            {
                "outcome": "completed",
                "delivered_on": TODAY,
                "summary": "done",
            },
            agency=agency,
        )
    walk.post(
        "case_worker",
        "/cases/{case}/accompaniment",
        {"activity": "to police interview"},
        **case_worker,
    )
    walk.post(
        "case_worker",
        "/cases/{case}/monitoring-visits",
        {
            "mode": "home_visit",
            "findings": "well",
            "services_on_track": True,
            "recovered": True,
        },
        **case_worker,
    )
    walk.post(
        "case_worker",
        "/cases/{case}/termination",
        {
            "kind": "agreed",
            "reason": "recovered",
            "termination_form_ref": "T-1",
            "beneficiary_feedback": {"satisfaction": 5},
        },
        **case_worker,
    )
    return walk
