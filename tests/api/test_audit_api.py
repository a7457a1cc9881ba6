"""Auditors over HTTP: timelines and exports, chain checks, and the log of who read what."""

from typing import Any
from uuid import UUID

import psycopg
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from gateways.cli.projections import rebuild_agencies
from services.access_log import AccessQuery
from services.cases import Cases
from services.settings import Settings
from tests.support.documents import a_pdf
from tests.support.lifecycle import Headers, a_report_body, walk_full_lifecycle

AUDITOR = {"agency": "province", "district": "sulawesi-selatan", "user": "inspektorat-01"}
POLICE_OFFICER = {"agency": "police", "user": "polres-ppa-01"}
PURPOSE = "Pemeriksaan Inspektorat 700/12"

# GET routes that read no case data, so they record no access. A new route
# belongs here only if it reveals nothing about any case.
READS_NO_CASE_DATA = {
    "/api/v1/openapi.json",
    "/api/v1/docs",
    "/docs/oauth2-redirect",
    "/api/v1/me",
    "/api/v1/profiles/{district}",
    # The office's staff directory: people who work in Simpul, not case data.
    "/api/v1/staff",
    # Agencies' systems' accounts: directory data too, never a case's.
    "/api/v1/service-accounts",
    "/asyncapi.json",
    "/healthz",
    "/readyz",
    "/static/simpul.css",
    # The login form, the intake form, the invitation's acceptance and the staff page.
    "/login",
    "/intake",
    "/invitation",
    "/staff",
    # The district's SOP profile as configured: no case in it; the choice of language.
    "/district",
    "/language/{language}",
    # The search form: what it finds is shown only in answer to its POST, recorded.
    "/search",
}
# Pages read with a browser session, not a bearer token: their access-log rows are checked
# in tests/api/test_web_pages_access_log.py.
PAGES = {
    "/",
    "/cases",
    "/dashboard",
    "/inbox",
    "/cases/{case_id}",
    "/cases/{case_id}/steps/{operation}",
    "/cases/{case_id}/referrals/{referral_id}/steps/{operation}",
    "/cases/{case_id}/audit",
    "/cases/{case_id}/access-log",
    # A document's or a letter's content, downloaded from the case file page.
    "/cases/{case_id}/documents/{document_id}",
    "/cases/{case_id}/letters/{letter_id}",
}
# Routes whose reader is not the default one: an auditor acts on no case, so has no tasks;
# the police officer's task list reads the police inbox, and records each case it shows.
READERS_OF_ROUTE = {"/api/v1/my-tasks": "agency_officer"}
SAMPLE_QUERY = {"user_id": "intake_officer.uptd_ppa"}


def _case(client: TestClient, auth: Headers) -> str:
    case_id: str = client.post(
        "/api/v1/cases", json=a_report_body(), headers=auth("intake_officer")
    ).json()["case_id"]
    client.post(
        f"/api/v1/cases/{case_id}/classification",
        json={
            "case_type": "KTA",
            "risk_level": "high",
            "jurisdiction": "district",
            "emergency": True,
        },
        headers=auth("intake_officer"),
    )
    return case_id


def _referred_to_police(client: TestClient, auth: Headers, case_id: str, database_url: str) -> str:
    """An emergency referral to the police, with the police inbox rebuilt from the store."""
    referral_id: str = client.post(
        f"/api/v1/cases/{case_id}/referrals",
        json={"service_type": "legal_process", "agency": "police", "emergency": True},
        headers=auth("intake_officer"),
    ).json()["referral_id"]
    rebuild_agencies(
        Settings(_env_file=None),
        database_url,
        ["police"],
        show_progress=False,  # type: ignore[call-arg]
    )
    return referral_id


def _recorded(cases: Cases, user_id: str) -> list[Any]:
    log = cases.recorder.access_log.select_access(AccessQuery(user_id=user_id, limit=1000))  # type: ignore[attr-defined]  # the PostgreSQL recorder's own
    return [entry.record for entry in log]


def _outreach(client: TestClient, auth: Headers) -> str:
    """K-O1 in Kutai Timur, the district whose profile runs outreach."""
    response = client.post(
        "/api/v1/outreach",
        json={
            "kelurahan": "Sangatta Utara",
            "data_source": "dtks",
            "data_as_of": "2024-01-31",
            "poor_families": 120,
            "vulnerable_children": 37,
        },
        headers=auth("case_worker", agency="social", district="kutai-timur"),
    )
    assert response.status_code == 201, response.text
    outreach_id: str = response.json()["outreach_id"]
    return outreach_id


def _visum(client: TestClient, auth: Headers, case_id: str) -> str:
    """A visum et repertum on the case: the police, referred in an emergency, may fetch it."""
    response = client.post(
        f"/api/v1/cases/{case_id}/documents",
        params={"kind": "visum_et_repertum"},
        content=a_pdf(),
        headers=auth("intake_officer", **{"Content-Type": "application/pdf"}),
    )
    assert response.status_code == 201, response.text
    document_id: str = response.json()["document_id"]
    return document_id


def pg_case_letters(client: TestClient, auth: Headers, case_id: str) -> list[dict[str, Any]]:
    letters: list[dict[str, Any]] = client.get(
        f"/api/v1/cases/{case_id}", headers=auth("intake_officer")
    ).json()["letters"]
    return letters


def _reads_without_their_record(
    client: TestClient, auth: Headers, cases: Cases, case_id: str, referral_id: str = "none"
) -> tuple[list[str], list[str]]:
    """Every GET route that may read case data, called by who may: (checked, unrecorded).

    Case and outreach routes are read by an auditor; agency inbox routes by a police officer.
    """
    letter = client.post(
        f"/api/v1/cases/{case_id}/letters",
        json={"kind": "formulir_persetujuan"},
        headers=auth("intake_officer"),
    ).json()
    (issued,) = pg_case_letters(client, auth, case_id)
    samples = {
        "case_id": case_id,
        "agency": "police",
        "referral_id": referral_id,
        "outreach_id": _outreach(client, auth),
        "document_id": _visum(client, auth, case_id),
        "letter_id": letter["letter_id"],
        "code": issued["verification_code"],
    }
    readers = {
        "auditor": ("auditor", AUDITOR),
        "agency_officer": ("agency_officer", POLICE_OFFICER),
    }
    routes = [
        route
        for route in iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
        if "GET" in (route.methods or ()) and route.path not in READS_NO_CASE_DATA | PAGES
    ]
    checked: list[str] = []
    unrecorded: list[str] = []
    for index, route in enumerate(routes):
        path, name = str(route.path), str(route.name)
        assert set(route.param_convertors) <= set(samples), (
            f"{route.path}: teach this test the path parameters of the new route"
        )
        endpoint = route.original_route
        assert isinstance(endpoint, APIRoute), route.path
        required = {p.alias for p in endpoint.dependant.query_params if p.field_info.is_required()}
        assert required <= set(SAMPLE_QUERY), f"{route.path}: add a sample for {required}"
        role, identity = readers[
            READERS_OF_ROUTE.get(
                path, "agency_officer" if "agency" in route.param_convertors else "auditor"
            )
        ]
        request_id = f"route-audit-{index}"
        for parameter, value in samples.items():
            path = path.replace("{" + parameter + "}", value)
        response = client.get(
            path,
            params={name: SAMPLE_QUERY[name] for name in required},
            headers=auth(
                role, **identity, **{"X-Request-ID": request_id, "X-Access-Purpose": PURPOSE}
            ),
        )
        assert response.status_code == 200, (route.path, response.text)
        records = [r for r in _recorded(cases, identity["user"]) if r.request_id == request_id]
        if [(r.view, r.purpose, r.role) for r in records] != [(name, PURPOSE, role)]:
            unrecorded.append(str(route.path))
        checked.append(name)
    return checked, unrecorded


def test_every_read_route_records_who_read_what_before_answering(
    client: TestClient, auth: Headers, pg_cases: Cases, database_url: str
) -> None:
    case_id = _case(client, auth)
    referral_id = _referred_to_police(client, auth, case_id, database_url)

    checked, unrecorded = _reads_without_their_record(client, auth, pg_cases, case_id, referral_id)

    assert unrecorded == []
    assert {
        "read_case",
        "read_history",
        "read_due_steps",
        "read_timeline",
        "export_timeline_json",
        "export_timeline_html",
        "read_verification",
        "read_case_access_log",
        "read_actor_access_log",
        "list_referrals",
        "read_referral",
        "read_same_person",
        "list_documents",
        "download_document",
        "agency_download_document",
        "agency_list_documents",
        "read_letter",
        "verify_letter",
        "list_my_tasks",
    } <= set(checked)


def test_a_new_read_route_that_records_nothing_is_caught(
    client: TestClient, auth: Headers, pg_cases: Cases, database_url: str
) -> None:
    case_id = _case(client, auth)
    referral_id = _referred_to_police(client, auth, case_id, database_url)

    def read_case_quietly(case_id: UUID) -> dict[str, int]:
        return {"events": len(pg_cases.repository.get(case_id).collect_events())}

    client.app.add_api_route(  # type: ignore[attr-defined]
        "/api/v1/cases/{case_id}/quietly", read_case_quietly, methods=["GET"]
    )

    _, unrecorded = _reads_without_their_record(client, auth, pg_cases, case_id, referral_id)

    assert unrecorded == ["/api/v1/cases/{case_id}/quietly"]


def test_the_timeline_is_the_recorded_history_with_summaries_and_time_standards(
    client: TestClient, auth: Headers
) -> None:
    walk = walk_full_lifecycle(client, auth, "timeline-run")
    auditor = auth("auditor", **AUDITOR)

    timeline = client.get(f"/api/v1/cases/{walk.case_id}/timeline", headers=auditor).json()
    history = client.get(f"/api/v1/cases/{walk.case_id}/events", headers=auditor).json()

    fields = ("version", "type", "actor", "recorded_at")
    assert [[e[f] for f in fields] for e in timeline["entries"]] == [
        [h[f] for f in fields] for h in history
    ]
    assert [e["version"] for e in timeline["entries"]] == [r["version"] for r in walk.results]
    referrals = [e for e in timeline["entries"] if e["type"] == "Referred"]
    assert referrals[1]["summary_id"] == "Dirujuk ke Kepolisian untuk proses hukum"
    assert referrals[1]["sop_step"] == "L4.1"
    judged = [c for e in timeline["entries"] for c in e["time_standards"]]
    assert {c["code"] for c in judged} >= {"L1.2", "L1.5", "L6.5"}
    assert all(c["state"] in ("met", "late") and c["due_at"] for c in judged)
    assert timeline["state"]["status"] == "closed"


@pytest.mark.parametrize("cut", [{"version": 5}, {"as_of": "at version 8"}])
def test_a_cut_timeline_carries_the_case_as_it_stood_then(
    client: TestClient, auth: Headers, cut: dict[str, Any]
) -> None:
    walk = walk_full_lifecycle(client, auth, "cut-timeline")
    auditor = auth("auditor", **AUDITOR)
    if "as_of" in cut:
        history = client.get(f"/api/v1/cases/{walk.case_id}/events", headers=auditor).json()
        cut = {"as_of": history[7]["recorded_at"]}

    timeline = client.get(f"/api/v1/cases/{walk.case_id}/timeline", params=cut, headers=auditor)
    case_file = client.get(f"/api/v1/cases/{walk.case_id}", params=cut, headers=auditor)

    assert timeline.status_code == 200
    body = timeline.json()
    assert body["state"] == case_file.json()
    assert [e["version"] for e in body["entries"]] == list(range(1, body["version"] + 1))
    assert body["state"]["status"] == "open"


def test_a_timeline_before_the_case_existed_is_not_found(client: TestClient, auth: Headers) -> None:
    case_id = _case(client, auth)

    response = client.get(
        f"/api/v1/cases/{case_id}/timeline",
        params={"as_of": "2001-01-01T00:00:00+07:00"},
        headers=auth("auditor", **AUDITOR),
    )

    assert response.status_code == 404


def test_the_json_export_is_a_download_with_provenance_and_the_chain_check(
    client: TestClient, auth: Headers
) -> None:
    case_id = _case(client, auth)

    response = client.get(
        f"/api/v1/cases/{case_id}/timeline.json",
        headers=auth("auditor", **AUDITOR, **{"X-Access-Purpose": PURPOSE}),
    )

    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith('attachment; filename="kasus-LUTRA-')
    body = response.json()
    assert body["exported_by"]["user_id"] == AUDITOR["user"]
    assert body["purpose"] == PURPOSE
    assert body["verification"]["intact"] is True
    assert body["verification"]["events"] == 2
    assert [e["type"] for e in body["timeline"]["entries"]] == ["ReportReceived", "RiskClassified"]


def test_the_case_review_is_a_printable_self_contained_page(
    client: TestClient, auth: Headers
) -> None:
    walk = walk_full_lifecycle(client, auth, "review-run")

    response = client.get(
        f"/api/v1/cases/{walk.case_id}/timeline.html", headers=auth("auditor", **AUDITOR)
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = response.text
    assert "Referred to the police for legal process" in page
    assert "https://" not in page and "<script" not in page
    assert "Mawar" not in page  # the victim's name stays in the case file


def test_the_chain_check_is_for_auditors_and_the_case_office(
    client: TestClient, auth: Headers
) -> None:
    case_id = _case(client, auth)
    client.post(
        f"/api/v1/cases/{case_id}/referrals",
        json={"service_type": "medical_care", "agency": "health", "emergency": True},
        headers=auth("intake_officer"),
    )

    path = f"/api/v1/cases/{case_id}/verification"
    by_auditor = client.get(path, headers=auth("auditor", **AUDITOR))
    by_office = client.get(path, headers=auth("coordinator"))
    by_health = client.get(path, headers=auth("agency_officer", agency="health"))

    assert by_auditor.status_code == by_office.status_code == 200
    assert by_auditor.json()["intact"] is True and by_auditor.json()["events"] == 3
    assert by_health.status_code == 403


def test_the_chain_check_names_a_tampered_event(
    client: TestClient, auth: Headers, database_url: str
) -> None:
    case_id = _case(client, auth)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE cases_events SET state = state || '\\x20'::bytea "
            "WHERE originator_id = %s AND originator_version = 2",
            (case_id,),
        )

    check = client.get(
        f"/api/v1/cases/{case_id}/verification", headers=auth("auditor", **AUDITOR)
    ).json()

    assert check["intact"] is False
    assert check["problem"]["kind"] == "changed"
    assert check["problem"]["version"] == 2
    assert check["events"] == 1


def test_auditors_and_the_office_coordinator_see_who_read_a_case(
    client: TestClient, auth: Headers
) -> None:
    case_id = _case(client, auth)
    client.get(
        f"/api/v1/cases/{case_id}",
        headers=auth("intake_officer", **{"X-Access-Purpose": "follow-up call"}),
    )

    path = f"/api/v1/cases/{case_id}/access-log"
    by_auditor = client.get(path, headers=auth("auditor", **AUDITOR))
    by_coordinator = client.get(path, headers=auth("coordinator"))
    by_intake = client.get(path, headers=auth("intake_officer"))

    assert by_auditor.status_code == by_coordinator.status_code == 200
    entries = by_auditor.json()["entries"]
    assert [(e["user_id"], e["view"], e["purpose"]) for e in entries] == [
        ("intake_officer.uptd_ppa", "read_case", "follow-up call"),
        (AUDITOR["user"], "read_case_access_log", None),
    ]
    assert by_intake.status_code == 403


def test_auditors_alone_see_what_one_person_read(client: TestClient, auth: Headers) -> None:
    first, second = _case(client, auth), _case(client, auth)
    for case_id in (first, second):
        client.get(f"/api/v1/cases/{case_id}/timeline", headers=auth("coordinator"))

    listing = client.get(
        "/api/v1/access-log",
        params={"user_id": "coordinator.uptd_ppa", "limit": 1},
        headers=auth("auditor", **AUDITOR),
    ).json()
    rest = client.get(
        "/api/v1/access-log",
        params={"user_id": "coordinator.uptd_ppa", "after": listing["next_after"]},
        headers=auth("auditor", **AUDITOR),
    ).json()
    by_coordinator = client.get(
        "/api/v1/access-log",
        params={"user_id": "intake_officer.uptd_ppa"},
        headers=auth("coordinator"),
    )

    assert [(e["case_id"], e["view"]) for e in listing["entries"] + rest["entries"]] == [
        (first, "read_timeline"),
        (second, "read_timeline"),
    ]
    assert rest["next_after"] is None
    assert by_coordinator.status_code == 403


def test_the_purpose_comes_from_a_header_never_from_the_url(
    client: TestClient, auth: Headers, pg_cases: Cases
) -> None:
    case_id = _case(client, auth)

    too_long = client.get(
        f"/api/v1/cases/{case_id}", headers=auth("coordinator", **{"X-Access-Purpose": "x" * 201})
    )
    in_the_url = client.get(
        f"/api/v1/cases/{case_id}", params={"purpose": "in the url"}, headers=auth("coordinator")
    )

    assert too_long.status_code == 422
    assert in_the_url.status_code == 200
    assert in_the_url.headers["X-Request-ID"]
    assert [r.purpose for r in _recorded(pg_cases, "coordinator.uptd_ppa")] == [None]


@pytest.mark.parametrize(
    "path", ["", "/events", "/due-steps", "/timeline", "/timeline.json", "/timeline.html"]
)
def test_a_read_that_cannot_be_recorded_fails_and_returns_no_case_data(
    client: TestClient, auth: Headers, database_url: str, path: str
) -> None:
    case_id = _case(client, auth)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE cases_access_log")

    response = client.get(f"/api/v1/cases/{case_id}{path}", headers=auth("coordinator"))

    assert response.status_code == 503
    assert response.json()["type"] == "urn:simpul:problem:access-not-recorded"
    for personal in ("Mawar", "Melati", "bruises", "7322011201140001"):
        assert personal not in response.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "classification",
            {
                "case_type": "KTA",
                "risk_level": "low",
                "jurisdiction": "village",
                "emergency": False,
            },
        ),
        ("case-worker", {"case_worker_id": "inspektorat-01"}),
        ("referrals", {"service_type": "legal_process", "agency": "police"}),
        ("termination", {"kind": "unilateral", "reason": "whereabouts_unknown"}),
    ],
)
def test_an_auditor_cannot_issue_case_commands(
    client: TestClient, auth: Headers, path: str, body: dict[str, Any]
) -> None:
    case_id = _case(client, auth)

    response = client.post(
        f"/api/v1/cases/{case_id}/{path}", json=body, headers=auth("auditor", **AUDITOR)
    )

    assert response.status_code == 403
    assert response.json()["rule"] == "auditors_read_only"
    events = client.get(f"/api/v1/cases/{case_id}/events", headers=auth("coordinator")).json()
    assert len(events) == 2
