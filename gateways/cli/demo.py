"""`simpul demo`: one realistic case, from report to termination, through the HTTP API.

A 12-year-old girl's mother walks into the coordinating office of a district
(Luwu Utara's UPTD PPA unless ``--district`` names another profile's). The
intake officer records the report, classifies it (KTA, high risk,
emergency; a district that assesses first, Kota Batu B2 or Purwakarta P2, has
the case worker assess before), the coordinator assigns a case worker, health examines her under
an emergency referral, consent is signed, she is assessed, a case conference
agrees a plan, police and the school receive referrals, monitoring finds her
recovered, and the case is terminated by agreement. The case uses no optional
process (mediation, shelter, reintegration) except the supervisor's approval of
its referrals where the district requires it (Kutai Timur K-C8). Every name is invented.
An auditor then reads the case's timeline, and the whole event store's hash
chain is verified as `simpul audit verify` does.
"""

import argparse
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from domain.actors import Actor
from domain.time_standards import TimeStandardProfile
from domain.vocabulary import Agency, Role
from gateways.cli.audit import verify_event_store
from gateways.cli.commands import Commands
from gateways.runtime import Runtime, database_url, minting_token_service, profiles
from gateways.tokens import TokenService
from services.settings import Settings


class DemoFailed(Exception):
    pass


class Client:
    def __init__(self, base_url: str, tokens: TokenService, district: str) -> None:
        self.http = httpx.Client(base_url=f"{base_url}/api/v1", timeout=30)
        self.tokens = tokens
        self.district = district
        self.version = 0
        self.case_id = ""

    def token_for(self, user: str, role: Role, agency: Agency) -> str:
        return self.tokens.mint(Actor(user, role, agency, self.district))

    def command(self, who: str, path: str, body: dict[str, Any], step: str) -> dict[str, Any]:
        response = self.http.post(
            path.format(case=self.case_id),
            json=body,
            headers={
                "Authorization": f"Bearer {who}",
                "Idempotency-Key": f"demo-{uuid.uuid4()}",
                **({"If-Match": f'"{self.version}"'} if self.case_id else {}),
            },
        )
        if response.status_code >= 400:
            raise DemoFailed(f"{step}: HTTP {response.status_code} {response.text}")
        result = response.json()
        self.case_id = result["case_id"]
        self.version = result["version"]
        print(f"  {step:<10} {', '.join(result['recorded']):<45} v{self.version}")
        return dict(result)

    @property
    def base_url(self) -> str:
        return str(self.http.base_url).rstrip("/")

    def get(self, who: str, path: str, *, purpose: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {who}"}
        if purpose:
            headers["X-Access-Purpose"] = purpose
        response = self.http.get(path.format(case=self.case_id), headers=headers)
        if response.status_code >= 400:
            raise DemoFailed(f"GET {path}: HTTP {response.status_code} {response.text}")
        return response.json()


def run_demo(
    base_url: str,
    tokens: TokenService,
    profile: TimeStandardProfile,
    database_url: str | None = None,
) -> int:
    """The demo case in ``profile``'s district, its office's officers acting in its order."""
    try:
        httpx.get(f"{base_url}/healthz", timeout=5).raise_for_status()
    except httpx.HTTPError:
        print(f"No Simpul service answers at {base_url}. Start one with `make run` first.")
        return 1
    client = Client(base_url, tokens, profile.district)
    office = profile.coordinating_agency
    print(f"District {profile.name}, coordinated by {profile.coordinating_body or office.value}")
    intake = client.token_for("siti.intake", Role.INTAKE_OFFICER, office)
    coordinator = client.token_for("andi.koordinator", Role.COORDINATOR, office)
    case_worker = client.token_for("rina.pendamping", Role.CASE_WORKER, office)
    # The office's own counselling where it is the UPTD PPA (L3.2), else the health office's.
    counselling = Agency.UPTD_PPA if office == Agency.UPTD_PPA else Agency.HEALTH
    health = client.token_for("dr.yusuf.rsud", Role.AGENCY_OFFICER, Agency.HEALTH)
    police = client.token_for("bripka.dewi.ppa", Role.AGENCY_OFFICER, Agency.POLICE)
    school = client.token_for("pak.hasan.smp", Role.AGENCY_OFFICER, Agency.EDUCATION)
    now = datetime.now(UTC)
    today = date.today().isoformat()
    try:
        print("1. Identification")
        client.command(
            intake,
            "/cases",
            {
                "channel": "walk_in",
                "arrived_at": (now - timedelta(minutes=8)).isoformat(),
                "chronology": (
                    "The mother reports bruises on her daughter's arms after visits to a neighbour."
                ),
                "victim": {
                    "name": "Mawar (samaran)",
                    "sex": "female",
                    "age": 12,
                    "village": "Baebunta",
                },
                "reporter": {"name": "Ibu Melati (samaran)", "relationship_to_victim": "mother"},
                "reported_person": {"relationship_to_victim": "neighbour", "sex": "male"},
                "incident": {"place_type": "household", "village": "Baebunta"},
                "needs": "Medical examination, safety, the child wants to go back to school",
                "psychological_first_aid_needed": True,
                "documents": ["family_card", "birth_certificate"],
            },
            "L1.1-1.2",
        )
        print(f"     case {client.case_id}")
        client.command(
            case_worker,
            "/cases/{case}/psychological-first-aid",
            {"notes": "Calmed the child; mother stays with her."},
            "L1.3",
        )
        if profile.assessment_before_classification is not None:
            client.command(
                case_worker,
                "/cases/{case}/assessments",
                {
                    "kind": "initial_home_visit",
                    "domain": "physical",
                    "findings": "Bruises on both arms seen at home; the mother's account holds.",
                },
                profile.assessment_before_classification,
            )
        client.command(
            intake,
            "/cases/{case}/classification",
            {
                "case_type": "KTA",
                "risk_level": "high",
                "jurisdiction": "district",
                "emergency": True,
                "forms_of_violence": ["physical", "psychological"],
                "ampk_categories": ["physical_or_psychological_violence"],
                "rationale": "Repeated injuries; the reported person lives next door.",
            },
            "L1.5",
        )
        if any(step.code == "K-C3" for step in profile.steps):
            client.command(
                case_worker,
                "/cases/{case}/family-decisions",
                {
                    "offered_services": [
                        "medical_examination",
                        "psychological_counselling",
                        "legal_process",
                    ],
                    "accepted_services": ["medical_examination", "psychological_counselling"],
                    "decided_by": "parent",
                    "notes": "The mother wants to think about the police report overnight.",
                },
                "K-C3",
            )
        referred = client.command(
            intake,
            "/cases/{case}/referrals",
            {
                "service_type": "medical_examination",
                "agency": "health",
                "emergency": True,
                "notes": "Examination and visum today.",
            },
            "L1.6",
        )
        medical_referral = referred["referral_id"]
        client.command(
            case_worker,
            "/cases/{case}/emergency-responses",
            {"actions": ["Accompanied to RSUD Andi Djemma", "Safe stay with aunt"]},
            "L1.6",
        )
        client.command(
            coordinator,
            "/cases/{case}/case-worker",
            {"case_worker_id": "rina.pendamping", "assignment_letter_ref": "ST/UPTD-PPA/042"},
            "L1.7",
        )
        client.command(case_worker, "/cases/{case}/contacts", {"mode": "home_visit"}, "L1.8")
        client.command(
            case_worker,
            "/cases/{case}/consent",
            {"given": True, "given_by": "parent", "document_ref": "IC/2026/042"},
            "L1.9-10",
        )

        print("2. Assessment")
        client.command(
            health, f"/cases/{{case}}/referrals/{medical_referral}/acceptance", {}, "L4.1"
        )
        client.command(
            health,
            f"/cases/{{case}}/referrals/{medical_referral}/deliveries",
            {
                "outcome": "completed",
                "delivered_on": today,
                "summary": "Examined; visum et repertum issued.",
            },
            "L4.2",
        )
        client.command(
            case_worker,
            "/cases/{case}/assessments",
            {
                "kind": "initial_home_visit",
                "domain": "psychological",
                "findings": "Anxious, sleeps badly, afraid to pass the neighbour's house.",
                "recommended_services": ["psychological_counselling", "legal_process"],
            },
            "L2.1",
        )
        if any(step.code == "T3" for step in profile.steps):
            client.command(
                coordinator,
                "/cases/{case}/assessment-reviews",
                {"outcome": "agreed", "notes": "Proceed; ask the police about the neighbour."},
                "T3",
            )
        client.command(
            case_worker,
            "/cases/{case}/case-report",
            {
                "summary": (
                    "Physical abuse by a neighbour; trauma symptoms; missed two weeks of school."
                ),
                "needs": ["legal_process", "psychological_counselling", "return_to_school"],
            },
            "L2.7",
        )

        print("3. Intervention planning")
        client.command(
            coordinator,
            "/cases/{case}/case-conferences",
            {
                "held_on": today,
                "participating_agencies": sorted({office.value, "police", "health", "education"}),
                "decisions": [
                    "Report to Unit PPA Polres",
                    "Counselling weekly",
                    "School re-entry plan",
                ],
            },
            "L3.3",
        )
        client.command(
            case_worker,
            "/cases/{case}/intervention-plan",
            {
                "goals": [
                    "The child is safe",
                    "The child returns to school",
                    "Legal process starts",
                ],
                "services": [
                    {"service_type": "legal_process", "agency": "police"},
                    {"service_type": "psychological_counselling", "agency": counselling.value},
                    {"service_type": "return_to_school", "agency": "education"},
                ],
                "agreed_with": ["parent", "victim"],
            },
            "L3.5",
        )

        def refer(service_type: str, agency: str, number: int) -> str:
            """L4.1, or where a supervisor approves referrals, K-C7 then K-C8.

            Only a profile running the supervisor_approval process may set
            ``referral_approval`` (loading refuses it otherwise), so K-C7-C8 are
            called only where the district runs them.
            """
            body = {"service_type": service_type, "agency": agency}
            if profile.referral_approval is None:
                referral: str = client.command(
                    case_worker, "/cases/{case}/referrals", body, "L4.1"
                )["referral_id"]
                return referral
            proposed = client.command(
                case_worker,
                "/cases/{case}/recommendations",
                {**body, "rationale": "Agreed at the case conference."},
                "K-C7",
            )
            approved: str = client.command(
                coordinator,
                "/cases/{case}/recommendation-approvals",
                {
                    "recommendation_id": proposed["recommendation_id"],
                    "recommendation_letter_ref": f"REK/{profile.register_code}/{number:03}",
                    "referral_record_ref": f"BAR/{profile.register_code}/{number:03}",
                },
                profile.referral_approval,
            )["referral_id"]
            return approved

        print("4. Intervention")
        legal = refer("legal_process", "police", 1)
        schooling = refer("return_to_school", "education", 2)
        client.command(police, f"/cases/{{case}}/referrals/{legal}/acceptance", {}, "L4.1")
        client.command(school, f"/cases/{{case}}/referrals/{schooling}/acceptance", {}, "L4.1")
        client.command(
            case_worker,
            "/cases/{case}/accompaniment",
            {"activity": "Accompanied the child and mother to the police interview"},
            "L4.4",
        )
        client.command(
            police,
            f"/cases/{{case}}/referrals/{legal}/deliveries",
            {
                "outcome": "completed",
                "delivered_on": today,
                "summary": "Report taken; case file sent to prosecutor.",
            },
            "L4.2",
        )
        client.command(
            school,
            f"/cases/{{case}}/referrals/{schooling}/deliveries",
            {
                "outcome": "completed",
                "delivered_on": today,
                "summary": "Back in class with a homeroom mentor.",
            },
            "L4.2",
        )

        print("5. Monitoring")
        client.command(
            case_worker,
            "/cases/{case}/monitoring-visits",
            {
                "mode": "home_visit",
                "findings": "Sleeping well, attending school, feels safe.",
                "services_on_track": True,
                "recovered": True,
            },
            "L5.2",
        )

        print("6. Termination")
        client.command(
            case_worker,
            "/cases/{case}/termination",
            {
                "kind": "agreed",
                "reason": "recovered",
                "termination_form_ref": "TRM/2026/042",
                "beneficiary_feedback": {"satisfaction": 5, "comments": "Terima kasih."},
            },
            "L6.1-6.5",
        )

        show_agency_views(
            client,
            {"police": police, "health": health, "education": school},
            {"police": 1, "health": 1, "education": 1},
        )
        case_file = client.get(coordinator, "/cases/{case}")
        auditor = client.token_for("inspektorat.demo", Role.AUDITOR, Agency.PROVINCE)
        review = "simpul demo: case review"
        timeline = client.get(auditor, "/cases/{case}/timeline", purpose=review)
        print(
            f"\nCase {case_file['register_number']} is {case_file['status']} after "
            f"{case_file['version']} events. Its timeline, as an auditor reads it:"
        )
        for entry in timeline["entries"]:
            actor = entry["actor"]
            checks = ", ".join(f"{c['code']} {c['state']}" for c in entry["time_standards"])
            print(
                f"  v{entry['version']:<3} {entry['recorded_at'][:16].replace('T', ' ')}  "
                f"{entry['sop_step'] or '':<8} {actor['user_id']} "
                f"({actor['role']}, {actor['agency']})"
                f"{'  [' + checks + ']' if checks else ''}"
            )
            print(f"       {entry['summary_id']}")
            print(f"       {entry['summary_en']}")
        late = [step["code"] for step in timeline["steps"] if step["state"] == "late"]
        print(
            f"\nTime standards: {len(timeline['steps'])} steps measured, "
            f"late: {', '.join(late) or 'none'}"
        )
        check = client.get(auditor, "/cases/{case}/verification", purpose=review)
        print(
            f"The case's hash chain: {'intact' if check['intact'] else 'BROKEN'} "
            f"({check['events']} events, last event hash {check['last_event_hash']})"
        )
        readers = client.get(auditor, "/cases/{case}/access-log", purpose=review)
        print(f"Recorded reads of the case: {len(readers['entries'])}")
        print(f"Printable case review: {client.base_url}/cases/{client.case_id}/timeline.html")
        if database_url is None:
            print("\n(Set SIMPUL_DATABASE_URL to verify the whole event store here.)")
        else:
            print("\nThe whole event store (simpul audit verify):")
            return verify_event_store(database_url, sys.stdout, show_progress=False)
    except DemoFailed as error:
        print(f"\nThe demo stopped: {error}")
        return 1
    return 0


AGENCY_VIEW_DEADLINE_SECONDS = 60


def _fact_summary(facts: dict[str, Any]) -> str:
    shown = []
    for group, values in facts.items():
        if not values:
            continue
        keys = ", ".join(sorted(values)) if isinstance(values, dict) else ""
        shown.append(f"{group}({keys})" if keys else group)
    return "; ".join(shown) or "nothing"


def show_agency_views(client: Client, tokens: dict[str, str], expected: dict[str, int]) -> None:
    """Each agency's inbox, read from its own projection, once its referrals have arrived."""
    print("\nAgency views (each agency's own projection, fed by its own Kafka topic):")
    deadline = time.monotonic() + AGENCY_VIEW_DEADLINE_SECONDS
    for agency, token in tokens.items():
        while True:
            referrals = [
                r
                for r in client.get(token, f"/agencies/{agency}/referrals")
                if r["case_id"] == client.case_id
            ]
            settled = all(r["case_status"] != "open" for r in referrals)
            if len(referrals) >= expected[agency] and settled:
                break
            if time.monotonic() > deadline:
                raise DemoFailed(
                    f"{agency}: its referrals did not arrive within "
                    f"{AGENCY_VIEW_DEADLINE_SECONDS}s; is `simpul relay` running?"
                )
            time.sleep(0.2)
        for referral in referrals:
            print(
                f"  {agency:<10} {referral['service_type']:<22} {referral['status']:<10} "
                f"case {referral['case_status']} ({referral.get('closing_reason', '')})"
            )
        print(f"  {'':<10} sees: {_fact_summary(referrals[0]['facts'])}")


def demo(args: argparse.Namespace) -> int:
    """Drive one realistic case through all six SOP stages against a running service."""
    settings = Settings()
    runtime = Runtime.load(settings)
    url = args.url or (runtime.api_url if runtime else f"http://127.0.0.1:{settings.api_port}")
    book = profiles(settings)
    district = args.district or settings.default_district
    if district not in book:
        print(f"No profile for district {district!r}; known: {', '.join(book.districts())}")
        return 2
    return run_demo(
        url, minting_token_service(settings), book.profile(district), database_url(settings)
    )


def add_commands(commands: Commands) -> None:
    parser = commands.add("demo", demo)
    parser.add_argument("--url", default=None, help="defaults to the one `simpul run` started")
    parser.add_argument(
        "--district",
        default=None,
        help="a district with a profile (kota-batu, kutai-timur, luwu-utara, purwakarta, "
        "tanjungpinang); defaults to SIMPUL_DEFAULT_DISTRICT",
    )
