"""The whole SOP in the browser, in Indonesian, as the issue's "done when" tells it.

The first administrator logs in and invites the office's people; each accepts their
invitation and logs in with a second factor. The intake officer records a report (L1.1-
L1.2), the coordinator classifies it (L1.5) and assigns the case worker (L1.7); the case
worker, on a 360 px phone, records contact and consent (L1.8-L1.10), the assessment and
the case report (L2), the case conference and the intervention plan (L3) and refers the
victim to the police (L4.1); the police officer sees only the police inbox, accepts and
reports the service delivered (L4.2-4.3); the case worker monitors (L5.2) and closes the
case (L6); the auditor replays the timeline and checks its hash chain. Every page is
screenshot, axe-checked and weighed (tests/browser/pages.py).
"""

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page

from tests.browser.pages import StoryBrowser
from tests.browser.server import SimpulServer, StaffAccount
from tests.browser.stories import log_in

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Shown:
    """An option chosen by the words it shows (a colleague's name), not by its value."""

    text: str


Fields = dict[str, "str | bool | list[str] | Shown"]
PASSWORD = "nasi kuning di pagi hari"
PHONE = 360
TODAY = "2026-12-02"


def _fill(page: Page, fields: Fields) -> None:
    """Fill a generated form as a person does: text typed, options chosen, boxes ticked."""
    for name, value in fields.items():
        control = page.locator(f'[name="{name}"]').first
        if isinstance(value, Shown):
            control.select_option(label=value.text)
        elif isinstance(value, bool):
            if value:
                page.check(f'input[name="{name}"]')
        elif isinstance(value, list):
            for choice in value:
                page.check(f'input[name="{name}"][value="{choice}"]')
        elif control.evaluate("node => node.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)


def _invite(admin: StoryBrowser, name: str, email: str, role: str, agency: str) -> str:
    admin.visit("/staff", f"staff page before inviting {role}")
    _fill(admin.page, {"display_name": name, "email": email, "role": role, "agency": agency})
    admin.interact(
        f"invite {role}",
        lambda page: page.get_by_role("button", name="Undang", exact=True).click(),
        status=201,
    )
    return admin.page.locator("#invitation-code").inner_text()


def _accept(web: StoryBrowser, email: str, code: str) -> StaffAccount:
    web.visit("/invitation", "invitation form")
    _fill(web.page, {"invitation_code": code, "password": PASSWORD, "password_again": PASSWORD})
    web.interact("accept the invitation", lambda page: page.click("form button[type=submit]"))
    secret = web.page.locator("#second-factor-key").inner_text().replace(" ", "")
    web.visit("/login", "login form")
    return StaffAccount(email, PASSWORD, secret)


def _take_step(web: StoryBrowser, case_id: str, operation: str, fields: Fields) -> None:
    """From the case file: open the step's form, fill it, record it, back on the case file."""
    link = web.page.locator(f'#case-steps a[href$="/steps/{operation}"]')
    if not link.is_visible():
        web.page.click("#case-steps summary")  # the step is not due now: among the others
    web.interact(f"open {operation}", lambda page: link.click())
    _fill(web.page, fields)
    web.interact(
        f"record {operation}", lambda page: page.get_by_role("button", name="Catat").click()
    )
    assert web.page.url.endswith(f"/cases/{case_id}?recorded={operation}"), web.page.url
    assert web.page.locator("#recorded").is_visible()


def _until_shown(web: StoryBrowser, path: str, selector: str) -> None:
    """Lists (the inbox, the tasks) are projections that follow the record within seconds
    (the relay, the broker, the projectors), so the person looks again until it is there."""
    deadline = time.monotonic() + 90
    web.page.goto(f"{web.base_url}{path}")
    while web.page.locator(selector).count() == 0:
        assert time.monotonic() < deadline, f"{path} never showed {selector}"
        time.sleep(1)
        web.page.goto(f"{web.base_url}{path}")


def _no_sideways_scrolling(web: StoryBrowser) -> None:
    width = web.page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE, f"{web.page.url} is {width} px wide on a {PHONE} px screen"


def test_an_office_takes_a_case_through_the_whole_sop_in_the_browser(
    simpul_server: SimpulServer, browse: Callable[..., StoryBrowser]
) -> None:
    administrator = simpul_server.administrator()
    admin = browse(name="administrator")
    admin.visit("/", "login form")
    log_in(admin, administrator)

    people: dict[str, StaffAccount] = {}
    names: dict[str, str] = {}
    for role, agency, name in (
        ("intake_officer", "uptd_ppa", "Siti Penerima"),
        ("coordinator", "uptd_ppa", "Andi Koordinator"),
        ("case_worker", "uptd_ppa", "Rina Pendamping"),
        ("agency_officer", "police", "Bripka Yusuf"),
        ("auditor", "uptd_ppa", "Dewi Auditor"),
    ):
        email = simpul_server.unique_email(role)
        names[role] = f"{name} {email.split('.')[1]}"
        code = _invite(admin, names[role], email, role, agency)
        people[role] = _accept(browse(name=f"{role}-invitation"), email, code)
    assert "Rina Pendamping" in admin.page.locator("#staff-list").inner_text()
    admin.interact("the district profile", lambda page: page.click('nav a[href="/district"]'))
    assert "L1.5" in admin.page.locator("#district-steps").inner_text()

    # L1.1-L1.2: the intake officer records a walk-in report.
    intake = browse(name="intake-officer")
    intake.visit("/", "login form")
    log_in(intake, people["intake_officer"])
    intake.interact("open intake", lambda page: page.click('nav a[href="/intake"]'))
    _fill(
        intake.page,
        {
            "channel": "walk_in",
            "chronology": "Ibu korban melaporkan memar di lengan anaknya.",
            "victim.name": "Mawar",
            "victim.sex": "female",
            "victim.age": "12",
            "reporter.name": "Melati",
            "reporter.relationship_to_victim": "ibu",
            "incident.place_type": "household",
            "needs": "Pemeriksaan dan rasa aman",
        },
    )
    intake.interact(
        "record the report",
        lambda page: page.get_by_role("button", name="Catat laporan").click(),
    )
    found = re.search(r"/cases/([0-9a-f-]{36})\?recorded=report_case$", intake.page.url)
    assert found, intake.page.url
    case_id = found.group(1)
    assert "Mawar" not in intake.page.title()

    intake.interact("the office's cases", lambda page: page.click('nav a[href="/cases"]'))
    intake.interact("search", lambda page: page.click('nav a[href="/search"]'))
    _fill(intake.page, {"purpose": "Laporan baru", "name": "Mawar"})
    intake.interact(
        "search for the victim", lambda page: page.get_by_role("button", name="Cari").click()
    )
    assert intake.page.locator("#search-results").is_visible()
    assert "Mawar" not in intake.page.url
    intake.visit(f"/cases/{case_id}", "back to the case file")

    # L1.5 and L1.7: the coordinator (an intake officer may as well) classifies the case and
    # assigns the case worker, from the home page's task list.
    coordinator = browse(name="coordinator")
    coordinator.visit("/", "login form")
    log_in(coordinator, people["coordinator"])
    _until_shown(coordinator, "/", f'#my-tasks a[href="/cases/{case_id}"]')
    coordinator.visit("/", "home with the new case among my tasks")
    assert "L1.5" in coordinator.page.locator("#my-tasks").inner_text()
    assert coordinator.page.locator("#nav-task-count").is_visible()
    coordinator.interact(
        "open the case from my tasks",
        lambda page: page.click(f'#my-tasks a[href="/cases/{case_id}"]'),
    )
    _take_step(
        coordinator,
        case_id,
        "classify",
        {
            "case_type": "KTA",
            "risk_level": "high",
            "jurisdiction": "district",
            "forms_of_violence": ["physical"],
        },
    )
    _take_step(
        coordinator, case_id, "assign_case_worker", {"case_worker_id": Shown(names["case_worker"])}
    )
    assert coordinator.page.locator("#case-worker").inner_text() == names["case_worker"]

    # L1.8-L6: the case worker, on a phone.
    worker = browse(name="case-worker", width=PHONE)
    worker.visit("/", "login form")
    log_in(worker, people["case_worker"])
    _until_shown(worker, "/", f'#my-tasks a[href="/cases/{case_id}"]')
    worker.visit("/", "home with the assigned case among my tasks")
    assert worker.page.locator("#my-tasks").is_visible()
    _no_sideways_scrolling(worker)
    worker.interact(
        "open the case from my tasks",
        lambda page: page.click(f'#my-tasks a[href="/cases/{case_id}"]'),
    )
    _no_sideways_scrolling(worker)
    on_the_phone: list[tuple[str, Fields]] = [
        ("record_contact", {"mode": "home_visit"}),
        ("record_consent", {"given": True, "given_by": "parent", "document_ref": "IC-1"}),
        (
            "record_assessment",
            {
                "kind": "initial_home_visit",
                "domain": "psychological",
                "findings": "Anak tampak cemas.",
            },
        ),
        (
            "conclude_case_report",
            {"summary": "Kekerasan fisik di rumah", "needs": ["legal_process"]},
        ),
        (
            "hold_case_conference",
            {
                "held_on": TODAY,
                "participating_agencies": ["uptd_ppa", "police"],
                "decisions": "Melapor ke polisi",
            },
        ),
        (
            "agree_intervention_plan",
            {
                "goals": "Anak aman",
                "agreed_with": ["parent"],
                "services.0.service_type": "legal_process",
                "services.0.agency": "police",
            },
        ),
        ("refer", {"service_type": "legal_process", "agency": "police"}),
    ]
    for operation, fields in on_the_phone:
        _take_step(worker, case_id, operation, fields)
        _no_sideways_scrolling(worker)

    # L4.1-L4.3: the police officer works the referral from the police inbox.
    police = browse(name="police-officer")
    police.visit("/", "login form")
    log_in(police, people["agency_officer"])
    _until_shown(police, "/inbox", 'a[href$="/steps/accept_referral"]')
    police.visit("/inbox", "police inbox")
    assert "Mawar" not in police.page.locator("main").inner_text()
    police.visit(f"/cases/{case_id}", "police open the case file by its URL", status=404)
    police.visit("/inbox", "police inbox again")
    police.interact(
        "open accept_referral", lambda page: page.click('a[href$="/steps/accept_referral"]')
    )
    _fill(police.page, {"notes": "Diterima Unit PPA Polres"})
    police.interact(
        "record accept_referral", lambda page: page.get_by_role("button", name="Catat").click()
    )
    assert police.page.url.endswith("/inbox?recorded=accept_referral")
    _until_shown(police, "/inbox", 'a[href$="/steps/record_service_delivery"]')
    police.visit("/inbox", "police inbox after accepting")
    police.interact(
        "open record_service_delivery",
        lambda page: page.click('a[href$="/steps/record_service_delivery"]'),
    )
    _fill(police.page, {"outcome": "completed", "delivered_on": TODAY, "summary": "BAP selesai"})
    police.interact(
        "record record_service_delivery",
        lambda page: page.get_by_role("button", name="Catat").click(),
    )

    # L5.2 and L6: the case worker monitors and closes.
    worker.visit(f"/cases/{case_id}", "case file after the police delivered")
    closing: list[tuple[str, Fields]] = [
        (
            "record_monitoring_visit",
            {
                "mode": "home_visit",
                "findings": "Anak pulih",
                "services_on_track": True,
                "recovered": True,
            },
        ),
        (
            "terminate",
            {
                "kind": "agreed",
                "reason": "recovered",
                "termination_form_ref": "T-1",
                "beneficiary_feedback.satisfaction": "5",
            },
        ),
    ]
    for operation, fields in closing:
        _take_step(worker, case_id, operation, fields)
    assert worker.page.locator("#case-status").inner_text() == "ditutup"

    # The auditor replays the timeline and checks the chain.
    auditor = browse(name="auditor")
    auditor.visit("/", "login form")
    log_in(auditor, people["auditor"])
    auditor.visit(f"/cases/{case_id}/audit", "audit timeline")
    assert auditor.page.locator("#chain").inner_text().startswith("Utuh")
    assert auditor.page.locator("#audit-timeline li").count() >= 14
    auditor.visit(f"/cases/{case_id}/audit?version=2", "audit timeline as of version 2")
    assert auditor.page.locator("#timeline-version").inner_text() == "2"
    auditor.visit(f"/cases/{case_id}/access-log", "who read the case")
    assert "case_file_page" in auditor.page.locator("#access-log").inner_text()
    auditor.interact("the dashboard", lambda page: page.click('nav a[href="/dashboard"]'))
    auditor.interact("in English", lambda page: page.click('footer a[hreflang="en"]'))
    assert auditor.page.locator("h1").inner_text() == "Dashboard"
