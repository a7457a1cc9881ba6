"""Issue 11: three seeds' SOPs walked end to end, step by step, in each seed's own order.

Luwu Utara (Perbup 58/2023, L1-L6), Kota Batu (SOP Layanan Rehabilitasi Sosial, B1-B5, a
complaint kind it serves though no violence, social-security enrolment and return to
school) and Purwakarta (SOP Rehabilitasi Sosial, P1-P7: assessment before classification,
mediation, documentation). Each case is recorded and handled over HTTP by the district's
coordinating body (tokens of its district), its events go through the real relay and
broker to the agency topics and inboxes, and the office's views come from a real
`simpul project --coordinator`.

How the time standards are checked at their boundary. The case service runs on a clock
the test moves (every event is stamped with it, so the walk spans days in a second). At
each timed step the test reads the due-steps view with the service clock at exactly the
step's due time (the step is due, not overdue, and its limit is the seed's number), reads
the timeline `as_of` one minute later (overdue then), and does the step at exactly its
limit (met: the limit is inclusive). L1.2 (the report recorded) is never open in a view,
since the case exists only once recorded: a report recorded exactly at its limit after it
arrived is met, one recorded a minute later is late.
"""

import copy
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from kafka import KafkaConsumer, TopicPartition

from domain.sharing_matrix import FACT_GROUPS
from gateways.eventstore.environment import postgres_env
from gateways.kafka.contract import MessageValidator
from gateways.kafka.messages import agency_topic
from gateways.kafka.security import KafkaSecurity
from gateways.projectors.coordinator import wait_until_caught_up
from gateways.runtime import api, coordinator_store
from gateways.tokens import TokenService
from services.cases import Cases
from services.settings import Settings
from services.sharing import load_matrix
from tests.e2e.conftest import ServiceProcess, wait_until
from tests.support.builders import FakeClock
from tests.support.coordinator_process import Projector

Headers = Callable[..., dict[str, str]]
MATRIX = load_matrix()
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


class _Any:
    """Stands for a recorded value whose exact form the test does not pin (only its presence)."""

    def __deepcopy__(self, memo: dict[int, Any]) -> "_Any":
        return self


ANY = _Any()
CLASSIFICATION_KEYS = sorted(FACT_GROUPS["classification"] or ())
# Free text recorded for the office alone: it reaches no agency, whatever its row.
OFFICE_ONLY = (
    "RATIONALE-ONLY-FOR-THE-OFFICE",
    "CONTACT-NOTES-ONLY-FOR-THE-OFFICE",
    "CONSENT-NOTES-ONLY-FOR-THE-OFFICE",
    "ST/ASSIGNMENT-LETTER-ONLY-FOR-THE-OFFICE",
    "EMERGENCY-ACTIONS-ONLY-FOR-THE-OFFICE",
    "CONFERENCE-DECISION-ONLY-FOR-THE-OFFICE",
    "MEDIATION-AGREEMENT-ONLY-FOR-THE-OFFICE",
    "ACCOMPANIMENT-ONLY-FOR-THE-OFFICE",
    "MONITORING-FINDINGS-ONLY-FOR-THE-OFFICE",
    "TERMINATION-NOTES-ONLY-FOR-THE-OFFICE",
)
WORKER = "rina.pendamping"


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def instants(value: Any) -> Any:
    """``value`` with every date-time text read as the moment it names."""
    if isinstance(value, dict):
        return {key: instants(item) for key, item in value.items()}
    if isinstance(value, list):
        return [instants(item) for item in value]
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)", value):
        return moment(value)
    return value


# ---- One service on a clock the test moves, the office's projector beside it -------------


@pytest.fixture
def clock() -> FakeClock:
    """A month ago, to the minute: the walk spans under three weeks and ends before now, so
    no agency's retention period (90 days in these three profiles) has run."""
    start = (datetime.now(UTC) - timedelta(days=30)).replace(second=0, microsecond=0)
    return FakeClock(start)


@pytest.fixture
def clocked_cases(database_url: str, test_settings: Settings, clock: FakeClock) -> Iterator[Cases]:
    app = Cases(env=postgres_env(database_url, test_settings), clock=clock)
    yield app
    app.close()


@pytest.fixture
def client(clocked_cases: Cases, tokens: TokenService) -> Iterator[TestClient]:
    with TestClient(api(clocked_cases, tokens)) as test_client:
        yield test_client


@pytest.fixture
def office_views(projector: Projector, clocked_cases: Cases) -> Callable[[], int]:
    """`simpul project --coordinator` running; the value waits until it caught up."""
    projector.start()
    store = coordinator_store(clocked_cases)
    return lambda: wait_until_caught_up(clocked_cases, store, timeout=60)


# ---- Walking a case ----------------------------------------------------------------------


@dataclass
class SopWalk:
    """One case of a district, walked over HTTP by its office on the test's clock.

    ``known`` follows the facts the case holds as the walk records them (what an agency
    may be sent, before its matrix row filters it), and ``known_at_close`` keeps them as
    they stood when each agency's part in the case closed (its last message of facts).
    """

    client: TestClient
    auth: Headers
    clock: FakeClock
    district: str
    office: str = "uptd_ppa"
    case_id: str = ""
    known: dict[str, dict[str, Any]] = field(default_factory=dict)
    known_at_close: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    referred: dict[str, list[str]] = field(default_factory=dict)

    def who(self, role: str, *, agency: str | None = None, user: str | None = None) -> Any:
        return self.auth(role, agency=agency or self.office, user=user, district=self.district)

    def post(
        self,
        role: str,
        path: str,
        body: dict[str, Any],
        *,
        agency: str | None = None,
        user: str | None = None,
    ) -> dict[str, Any]:
        response = self.client.post(
            f"/api/v1{path.format(case=self.case_id)}",
            json=body,
            headers=self.who(role, agency=agency, user=user),
        )
        assert response.status_code in (200, 201), (path, response.status_code, response.text)
        result = dict(response.json())
        self.case_id = self.case_id or result["case_id"]
        return result

    def refused(self, role: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(
            f"/api/v1{path.format(case=self.case_id)}", json=body, headers=self.who(role)
        )
        assert response.status_code == 409, (path, response.status_code, response.text)
        return dict(response.json())

    def get(self, path: str, role: str = "coordinator", **params: Any) -> Any:
        response = self.client.get(
            f"/api/v1{path.format(case=self.case_id)}", params=params, headers=self.who(role)
        )
        assert response.status_code == 200, (path, response.text)
        return response.json()

    # ---- Recording, keeping track of the facts agencies may be sent ------------------------

    def report(self, body: dict[str, Any]) -> dict[str, Any]:
        result = self.post("intake_officer", "/cases", body, user="siti.intake")
        self.known.update(
            report={
                "channel": body["channel"],
                "arrived_at": ANY,
                "chronology": body["chronology"],
                "needs": body["needs"],
                "documents": body["documents"],
                "psychological_first_aid_needed": body["psychological_first_aid_needed"],
            },
            victim=dict(body["victim"]),
            reporter=dict(body["reporter"]),
            reported_person=dict(body["reported_person"]),
            incident=dict(body["incident"]),
        )
        return result

    def classify(self, body: dict[str, Any]) -> None:
        self.post("intake_officer", "/cases/{case}/classification", body, user="siti.intake")
        self.known["classification"] = dict.fromkeys(CLASSIFICATION_KEYS, ANY)

    def assign(self) -> None:
        self.post(
            "coordinator",
            "/cases/{case}/case-worker",
            {"case_worker_id": WORKER, "assignment_letter_ref": OFFICE_ONLY[3]},
            user="andi.koordinator",
        )
        self.known["case_worker"] = {"user_id": WORKER}

    def consent(self, given_by: str) -> None:
        self.worker(
            "/cases/{case}/consent",
            {"given": True, "given_by": given_by, "document_ref": "IC/01", "notes": OFFICE_ONLY[2]},
        )
        self.known["consent"] = {"given": True, "given_by": given_by, "recorded_at": ANY}

    def assess(self, kind: str, domain: str, findings: str, **by: str) -> None:
        body = {"kind": kind, "domain": domain, "findings": findings}
        if by:
            self.post("agency_officer", "/cases/{case}/assessments", body, agency=by["agency"])
        else:
            self.worker("/cases/{case}/assessments", body)
        self.known.setdefault("assessments", {})[domain] = ANY

    def case_report(self, summary: str, needs: list[str]) -> None:
        self.worker("/cases/{case}/case-report", {"summary": summary, "needs": needs})
        self.known["case_report"] = {"summary": summary, "needs": needs}

    def plan(
        self, goals: list[str], services: list[dict[str, str]], agreed_with: list[str]
    ) -> None:
        self.worker(
            "/cases/{case}/intervention-plan",
            {"goals": goals, "services": services, "agreed_with": agreed_with},
        )
        self.known["intervention_plan"] = {"goals": goals, "services": services}

    def refer(self, agency: str, service_type: str, notes: str, **extra: Any) -> str:
        referral_id: str = self.post(
            "coordinator",
            "/cases/{case}/referrals",
            {"service_type": service_type, "agency": agency, "notes": notes, **extra},
            user="andi.koordinator",
        )["referral_id"]
        self.referred.setdefault(agency, []).append(referral_id)
        return referral_id

    def deliver(self, agency: str, referral_id: str, summary: str, *, last: bool = True) -> None:
        path = f"/cases/{{case}}/referrals/{referral_id}"
        self.post(
            "agency_officer", f"{path}/acceptance", {"notes": f"{agency} takes it"}, agency=agency
        )
        self.post(
            "agency_officer",
            f"{path}/deliveries",
            {"outcome": "completed", "delivered_on": self.today(), "summary": summary},
            agency=agency,
        )
        if last:
            self.known_at_close[agency] = copy.deepcopy(self.known)

    def worker(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.post("case_worker", path, body, user=WORKER)

    def today(self) -> str:
        return self.clock.now.date().isoformat()

    # ---- The time standards --------------------------------------------------------------

    def due(self) -> dict[str, Any]:
        return dict(self.get("/cases/{case}/due-steps"))

    def timeline(self, as_of: datetime) -> dict[str, Any]:
        return dict(self.get("/cases/{case}/timeline", as_of=as_of.isoformat()))

    def codes(self) -> set[str]:
        return {step["code"] for step in self.due()["steps"]}

    def step(
        self, code: str, referral_id: str | None = None, steps: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        steps = self.due()["steps"] if steps is None else steps
        [found] = [s for s in steps if s["code"] == code and s["referral_id"] == referral_id]
        return found

    def at_the_limit(self, code: str, limit: timedelta, referral_id: str | None = None) -> None:
        """The step's clock runs exactly ``limit``: due at its end, overdue a minute after.

        Leaves the service clock at the end of the limit, where the caller does the step.
        """
        open_step = self.step(code, referral_id)
        started, due_at = moment(open_step["started_at"]), moment(open_step["due_at"])
        assert open_step["limit_minutes"] == limit // MINUTE, (code, open_step)
        assert due_at - started == limit, (code, open_step)
        assert open_step["state"] == "due" and self.clock.now <= due_at, (code, open_step)
        self.clock.now = due_at
        view = self.due()
        assert moment(view["now"]) == due_at
        at_limit = self.step(code, referral_id, view["steps"])
        assert at_limit["state"] == "due", (code, "at the limit", at_limit)
        if referral_id is None:
            assert code not in view["overdue"], (code, view["overdue"])
        later = self.timeline(due_at + MINUTE)
        [past] = [
            s for s in later["steps"] if s["code"] == code and s["referral_id"] == referral_id
        ]
        assert past["state"] == "overdue", (code, "a minute past the limit", past)

    def met(self, code: str, referral_id: str | None = None) -> None:
        """Done at exactly the limit: met, and the timeline shows it on the event that did it."""
        done = self.step(code, referral_id)
        assert done["state"] == "met", (code, done)
        assert moment(done["done_at"]) == moment(done["due_at"]) == self.clock.now, (code, done)
        entries = self.timeline(self.clock.now)["entries"]
        shown = [
            (entry["type"], check["state"])
            for entry in entries
            for check in entry["time_standards"]
            if check["code"] == code and check["referral_id"] == referral_id
        ]
        assert len(shown) == 1 and shown[0][1] == "met", (code, shown)


def a_late_report(walk: SopWalk, body: dict[str, Any], limit: timedelta) -> None:
    """The seed's L1.2 limit from the other side: recorded a minute past it, the step is late."""
    late = SopWalk(walk.client, walk.auth, walk.clock, walk.district)
    late.report({**body, "arrived_at": (walk.clock.now - limit - MINUTE).isoformat()})
    recorded = late.step("L1.2")
    assert (recorded["state"], recorded["limit_minutes"]) == ("late", limit // MINUTE)


def report_recorded_at_its_limit(walk: SopWalk, limit: timedelta) -> None:
    recorded = walk.step("L1.2")
    assert recorded["limit_minutes"] == limit // MINUTE
    assert moment(recorded["done_at"]) - moment(recorded["started_at"]) == limit
    assert recorded["state"] == "met"


# ---- What reaches the agencies --------------------------------------------------------------


def read_agency_topics(
    settings: Settings, closed_to: set[str], case_id: str
) -> dict[str, list[dict[str, Any]]]:
    """Every message on every agency topic that exists, read with one plain consumer.

    Reads until each agency in ``closed_to`` got the case's ``case.closed`` (the relay
    publishes in the case's order, so everything before it is out) and then nothing new
    came for three seconds."""
    security = KafkaSecurity.from_settings(settings)
    prefix = settings.kafka_topic_prefix
    names = {agency_topic(prefix, agency): agency for agency in MATRIX.agencies}
    consumer = KafkaConsumer(
        bootstrap_servers=str(settings.kafka_bootstrap_servers),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **security.options(),
    )
    try:
        wanted = {agency_topic(prefix, agency) for agency in closed_to}
        existing = wait_until(
            lambda: wanted <= (topics := consumer.topics()) and topics,
            what=f"the topics of {sorted(closed_to)}",
        )
        partitions = [
            TopicPartition(topic, partition)
            for topic in sorted(existing & set(names))
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        messages: dict[str, list[dict[str, Any]]] = {agency: [] for agency in MATRIX.agencies}
        last_new = time.monotonic()
        deadline = last_new + 60

        def closed(agency: str) -> bool:
            return any(
                m["event"]["subject"] == case_id and m["event"]["type"].endswith("closed.v1")
                for m in messages[agency]
            )

        while not all(closed(agency) for agency in closed_to) or time.monotonic() - last_new < 3:
            assert time.monotonic() < deadline, "the agency topics never settled"
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    messages[names[record.topic]].append(
                        {"raw": record.value, "event": json.loads(record.value)}
                    )
                    last_new = time.monotonic()
        return messages
    finally:
        consumer.close()


def assert_exactly_its_row(agency: str, facts: dict[str, Any], known: dict[str, Any]) -> None:
    """``facts`` hold every fact the case had that the agency's matrix row allows, no other."""
    row = MATRIX.rows[agency]
    expected = {
        group: {key: value for key, value in values.items() if row.allows(group, key)}
        for group, values in known.items()
    }
    expected = {group: values for group, values in expected.items() if values}
    assert sorted(facts) == sorted(expected), (agency, "groups")
    for group, values in expected.items():
        assert sorted(facts[group]) == sorted(values), (agency, group)
        for key, value in values.items():
            if value is not ANY:
                assert facts[group][key] == value, (agency, group, key)


def check_agencies(
    walk: SopWalk,
    kafka_settings: Settings,
    services: Callable[..., ServiceProcess],
    *,
    other_cases: tuple[str, ...] = (),
) -> dict[str, list[dict[str, Any]]]:
    """Run the relay and every agency projector; each referred agency's topic and inbox hold
    exactly its row of the case, every other agency's nothing of it."""
    services("relay")
    services("project", "--all-agencies")
    referred = set(walk.referred)
    topics = read_agency_topics(kafka_settings, referred, walk.case_id)
    validator = MessageValidator()
    for agency, messages in topics.items():
        ours = [m for m in messages if m["event"]["subject"] == walk.case_id]
        assert not [m for m in messages if m["event"]["subject"] in other_cases], agency
        if agency not in referred:
            assert ours == [], f"{agency} was referred nothing, yet heard of the case"
            continue
        events = [m["event"] for m in ours]
        assert all(validator.errors(e) == [] for e in events), agency
        kinds = [e["type"].split(".")[3:5] for e in events]
        assert kinds[0] == ["case", "opened"] and kinds[-1] == ["case", "closed"], (agency, kinds)
        received = [e["data"] for e in events if e["type"].endswith("referral.received.v1")]
        assert sorted(r["referral_id"] for r in received) == sorted(walk.referred[agency])
        snapshots = [e["data"]["facts"] for e in events if "facts" in e["data"]]
        assert_exactly_its_row(agency, snapshots[-1], walk.known_at_close[agency])
        for snapshot in snapshots:
            outside = [
                f"{g}.{k}"
                for g, values in snapshot.items()
                for k in values
                if not MATRIX.rows[agency].allows(g, k)
            ]
            assert outside == [], (agency, outside)
        # Its referrals' notes and its own answers, as every row lists them
        assert all(r["notes"] for r in received), agency
        updates = [e["data"] for e in events if e["type"].endswith("referral.updated.v1")]
        assert {u["status"] for u in updates} == {"accepted", "completed"}, agency
        assert all(u["summary"] for u in updates if u["status"] == "completed"), agency
        raw = b"".join(m["raw"] for m in ours)
        leaked = [text for text in OFFICE_ONLY if text.encode() in raw]
        assert leaked == [], (agency, leaked)
        # and its inbox, its own projection of the topic, shows its referrals with those facts

        def settled_inbox(agency: str = agency) -> list[dict[str, Any]]:
            rows = walk_inbox(walk, agency)
            done = len(rows) == len(walk.referred[agency])
            return rows if done and all(r["case_status"] != "open" for r in rows) else []

        inbox = wait_until(settled_inbox, what=f"{agency}'s inbox")
        assert {r["status"] for r in inbox} == {"completed"}, agency
        # (the inbox writes a UTC time with Z where the topic writes +00:00: same moment)
        assert [instants(r["facts"]) for r in inbox] == [instants(snapshots[-1])] * len(inbox)
    for agency in set(MATRIX.agencies) - referred:
        assert walk_inbox(walk, agency) == [], agency
    return topics


def walk_inbox(walk: SopWalk, agency: str) -> list[dict[str, Any]]:
    response = walk.client.get(
        f"/api/v1/agencies/{agency}/referrals",
        headers=walk.auth("agency_officer", agency=agency, district=walk.district),
    )
    assert response.status_code == 200, response.text
    return [r for r in response.json() if r["case_id"] == walk.case_id]


def check_office_views(
    walk: SopWalk, caught_up: Callable[[], int], limits: dict[tuple[str, str | None], int]
) -> None:
    """The coordinating body's own views: its list shows the closed case with nothing
    overdue, and its time-standard dashboard every step met within the seed's minutes."""
    caught_up()
    listed = walk.get("/cases", status="all")
    [item] = [i for i in listed["items"] if i["case_id"] == walk.case_id]
    assert (item["status"], item["overdue_steps"], item["closure"]) == (
        "closed",
        [],
        "terminated:recovered",
    )
    dashboard = walk.get("/dashboard/time-standards", state=["met", "late", "due", "overdue"])
    [steps] = [c["steps"] for c in dashboard["cases"] if c["case_id"] == walk.case_id]
    assert {s["state"] for s in steps} == {"met"}
    assert {(s["code"], s["referral_id"]): s["limit_minutes"] for s in steps} == limits


def person(**fields: Any) -> dict[str, Any]:
    return fields


# ---- Luwu Utara: Perbup 58/2023, Lampiran II, L1-L6 -----------------------------------------

LUWU_UTARA_VICTIM = person(
    name="Mawar",
    sex="female",
    age=12,
    birth_place="Masamba",
    birth_date="2014-01-12",
    nik="7322011201140001",
    address="Jl. Kenanga 4",
    village="Baebunta",
    phone="0812 1111 1111",
    education="SD kelas 6",
)


def test_luwu_utara_l1_to_l6_each_step_within_its_time_standard(
    client: TestClient,
    auth: Headers,
    clock: FakeClock,
    kafka_settings: Settings,
    services: Callable[..., ServiceProcess],
    office_views: Callable[[], int],
) -> None:
    walk = SopWalk(client, auth, clock, "luwu-utara")
    profile = walk.get("/profiles/luwu-utara")
    assert profile["coordinating_body"] == "UPTD PPA Kabupaten Luwu Utara"
    report = {
        "channel": "walk_in",
        # L1.2: 15 menit, from the report's arrival to its recording
        "arrived_at": (clock.now - 15 * MINUTE).isoformat(),
        "chronology": "The mother reports bruises on her daughter's arms after visits next door.",
        "victim": LUWU_UTARA_VICTIM,
        "reporter": person(name="Melati", relationship_to_victim="mother", phone="0812 2222"),
        "reported_person": person(relationship_to_victim="neighbour", sex="male"),
        "incident": person(place_type="household", village="Baebunta"),
        "needs": "Medical examination and safety",
        "psychological_first_aid_needed": True,
        "documents": ["family_card", "birth_certificate"],
    }

    # 1. Identification. L1.1-L1.2: the UPTD PPA records the report (15 menit)
    registered = walk.report(report)
    assert registered["register_number"].startswith("LUTRA/")
    report_recorded_at_its_limit(walk, 15 * MINUTE)
    a_late_report(walk, report, 15 * MINUTE)
    # L1.3: 60 menit (psychological support, as needed); L1.5: 60 menit (classification)
    walk.at_the_limit("L1.3", 60 * MINUTE)
    walk.at_the_limit("L1.5", 60 * MINUTE)
    walk.worker("/cases/{case}/psychological-first-aid", {"notes": "Calmed the child."})
    walk.met("L1.3")
    walk.classify(
        {
            "case_type": "KTA",
            "risk_level": "high",
            "jurisdiction": "district",
            "emergency": True,
            "forms_of_violence": ["physical", "psychological"],
            "ampk_categories": ["physical_or_psychological_violence"],
            "rationale": OFFICE_ONLY[0],
        }
    )
    walk.met("L1.5")
    # L1.5 a + e: the district handles it, and the emergency reaches health before consent
    medical = walk.refer(
        "health", "medical_examination", "Visum et repertum today.", emergency=True
    )
    # L1.7: 120 menit (a case worker assigned)
    walk.at_the_limit("L1.7", 120 * MINUTE)
    walk.assign()
    walk.met("L1.7")
    # L1.6: 1 hari (outreach and emergency services)
    walk.at_the_limit("L1.6", DAY)
    walk.worker("/cases/{case}/emergency-responses", {"actions": [OFFICE_ONLY[4]]})
    walk.met("L1.6")
    # L1.8: 1 hari (first visit)
    walk.at_the_limit("L1.8", DAY)
    walk.worker("/cases/{case}/contacts", {"mode": "home_visit", "notes": OFFICE_ONLY[1]})
    walk.met("L1.8")
    # L1.9-L1.10: 1 hari (written informed consent, one clock for both rows)
    walk.at_the_limit("L1.9", DAY)
    walk.consent("parent")
    walk.met("L1.9")

    # 2. Assessment. L2.3: 2 hari to arrange the specialist assessment at the province
    specialist = walk.refer("province", "specialist_assessment", "Psychologist, UPTD PPA Prov.")
    # L2.1: 120 menit (home visit for the initial assessment, from consent)
    walk.at_the_limit("L2.1", 120 * MINUTE)
    walk.assess("initial_home_visit", "social_spiritual", "Lives with mother; neighbour near.")
    walk.met("L2.1")
    # L2.7: 60 menit (concluded into the case report)
    walk.at_the_limit("L2.7", 60 * MINUTE)
    walk.case_report(
        "Physical abuse by a neighbour; trauma symptoms.",
        ["legal_process", "return_to_school", "specialist_assessment"],
    )
    walk.met("L2.7")
    walk.at_the_limit("L4.1", 2 * DAY, specialist)
    walk.deliver("province", specialist, "Specialist psychological assessment done.")
    walk.met("L4.1", specialist)

    # 3. Planning. L3.5: 3 hari 1 jam (L3.1 60 menit + L3.2 1 hari + L3.3-L3.4 1 hari + L3.5
    # 1 hari), to the plan agreed, with a case conference on the way
    walk.at_the_limit("L3.5", 3 * DAY + HOUR)
    walk.post(
        "coordinator",
        "/cases/{case}/case-conferences",
        {
            "held_on": walk.today(),
            "participating_agencies": ["uptd_ppa", "police", "education"],
            "decisions": [OFFICE_ONLY[5]],
        },
    )
    services_planned = [
        {"service_type": "legal_process", "agency": "police"},
        {"service_type": "return_to_school", "agency": "education"},
    ]
    walk.plan(["The child is safe", "Back in school"], services_planned, ["parent", "victim"])
    walk.met("L3.5")

    # 4. Intervention. L4.1: 7 hari for each referred service
    legal = walk.refer("police", "legal_process", "Report at Unit PPA Polres.")
    school = walk.refer("education", "return_to_school", "SDN 1 Baebunta, class 6.")
    walk.at_the_limit("L4.1", 7 * DAY, medical)
    walk.assess("further", "physical", "Healing bruises on both forearms.", agency="health")
    walk.deliver("health", medical, "Examined; visum issued.")
    walk.met("L4.1", medical)
    # L4.4: accompaniment during the intervention, 1-3 bulan: once in each 30 days of 3 months
    walk.worker("/cases/{case}/accompaniment", {"activity": OFFICE_ONLY[7]})
    assert walk.step("L4.4-1", None)["state"] == "met"
    assert walk.step("L4.4-2", None)["state"] == "upcoming"
    walk.at_the_limit("L4.1", 7 * DAY, legal)
    walk.at_the_limit("L4.1", 7 * DAY, school)
    walk.deliver("police", legal, "Report taken; file to the prosecutor.")
    walk.deliver("education", school, "Back in class with a mentor.")
    walk.met("L4.1", legal)
    walk.met("L4.1", school)

    # 5. Monitoring. L5.2: 8 hari 30 menit (L4.1 7 hari + L5.1 30 menit + L5.2 1 hari)
    walk.at_the_limit("L5.2", 8 * DAY + 30 * MINUTE)
    walk.worker(
        "/cases/{case}/monitoring-visits",
        {
            "mode": "home_visit",
            "findings": OFFICE_ONLY[8],
            "services_on_track": True,
            "recovered": True,
        },
    )
    walk.met("L5.2")

    # 6. Termination. L6.5: 4 hari 4 jam (L5.5 1 hari + L5.7 120 menit + L5.8 1 hari + L6.1
    # 1 hari + L6.2-L6.3 1 hari + L6.5 120 menit), from the visit that found recovery
    walk.at_the_limit("L6.5", 4 * DAY + 4 * HOUR)
    walk.worker(
        "/cases/{case}/termination",
        {
            "kind": "agreed",
            "reason": "recovered",
            "termination_form_ref": "TRM/01",
            "notes": OFFICE_ONLY[9],
            "beneficiary_feedback": {"satisfaction": 5},
        },
    )
    walk.met("L6.5")
    assert walk.due()["overdue"] == []

    # The office's views, then what each agency received
    check_office_views(
        walk,
        office_views,
        {
            ("L1.2", None): 15,
            ("L1.3", None): 60,
            ("L1.5", None): 60,
            ("L1.6", None): 24 * 60,
            ("L1.7", None): 120,
            ("L1.8", None): 24 * 60,
            ("L1.9", None): 24 * 60,
            ("L2.1", None): 120,
            ("L2.7", None): 60,
            ("L3.5", None): 3 * 24 * 60 + 60,
            ("L4.4-1", None): 30 * 24 * 60,
            ("L4.1", specialist): 2 * 24 * 60,
            ("L4.1", medical): 7 * 24 * 60,
            ("L4.1", legal): 7 * 24 * 60,
            ("L4.1", school): 7 * 24 * 60,
            ("L5.2", None): 8 * 24 * 60 + 30,
            ("L6.5", None): 4 * 24 * 60 + 4 * 60,
        },
    )
    topics = check_agencies(walk, kafka_settings, services)
    # Spot checks of the rows: the school never learns what happened or any finding, health
    # never who is reported, the police only the legal view
    education = str([m["event"] for m in topics["education"]])
    assert "bruises" not in education and "neighbour" not in education
    assert "reported_person" not in str(topics["health"])
    assert "Healing bruises" not in str(topics["police"])


# ---- The steps every district's flow shares after consent ----------------------------------


def screening_to_case_report(
    walk: SopWalk, screening: timedelta, findings: str, needs: list[str]
) -> None:
    """L2.1 the first home visit after consent (``screening``), then L2.7, 60 menit."""
    walk.at_the_limit("L2.1", screening)
    walk.assess("initial_home_visit", "social_spiritual", findings)
    walk.met("L2.1")
    walk.at_the_limit("L2.7", 60 * MINUTE)
    walk.case_report(f"Concluded: {findings}", needs)
    walk.met("L2.7")


def identification_after_classification(walk: SopWalk, given_by: str) -> None:
    """L1.7 (120 menit), L1.8 (1 hari) and L1.9 (1 hari), each done at its limit."""
    walk.at_the_limit("L1.7", 120 * MINUTE)
    walk.assign()
    walk.met("L1.7")
    walk.at_the_limit("L1.8", DAY)
    walk.worker("/cases/{case}/contacts", {"mode": "home_visit", "notes": OFFICE_ONLY[1]})
    walk.met("L1.8")
    walk.at_the_limit("L1.9", DAY)
    walk.consent(given_by)
    walk.met("L1.9")


def conference_and_plan(walk: SopWalk, planned: list[dict[str, str]]) -> None:
    """L3.5 (3 hari 1 jam): the case conference, then the plan agreed at its limit."""
    walk.at_the_limit("L3.5", 3 * DAY + HOUR)
    walk.post(
        "coordinator",
        "/cases/{case}/case-conferences",
        {
            "held_on": walk.today(),
            "participating_agencies": sorted({walk.office, *(s["agency"] for s in planned)}),
            "decisions": [OFFICE_ONLY[5]],
        },
    )
    walk.plan(
        ["Safe and served"], planned, ["parent"] if walk.district == "kota-batu" else ["victim"]
    )
    walk.met("L3.5")


def deliver_at_the_limit(walk: SopWalk, referrals: dict[str, str]) -> None:
    """L4.1 (7 hari) for referrals made together: each delivered at exactly its limit."""
    for referral_id in referrals.values():
        walk.at_the_limit("L4.1", 7 * DAY, referral_id)
    for agency, referral_id in referrals.items():
        walk.deliver(agency, referral_id, f"{agency}: service delivered.")
        walk.met("L4.1", referral_id)


def monitor_and_terminate(walk: SopWalk, monitoring: timedelta) -> None:
    """L5.2 (``monitoring``), then L6.5 (4 hari 4 jam), each at its limit."""
    walk.at_the_limit("L5.2", monitoring)
    walk.worker(
        "/cases/{case}/monitoring-visits",
        {
            "mode": "home_visit",
            "findings": OFFICE_ONLY[8],
            "services_on_track": True,
            "recovered": True,
        },
    )
    walk.met("L5.2")
    walk.at_the_limit("L6.5", 4 * DAY + 4 * HOUR)
    walk.worker(
        "/cases/{case}/termination",
        {
            "kind": "agreed",
            "reason": "recovered",
            "termination_form_ref": "TRM/01",
            "notes": OFFICE_ONLY[9],
            "beneficiary_feedback": {"satisfaction": 5},
        },
    )
    walk.met("L6.5")
    assert walk.due()["overdue"] == []


def mediate_without_a_clock(walk: SopWalk, parties: list[str]) -> None:
    """P5 / B5: the mediation is recorded, and no clock starts or stops with it."""
    before = walk.due()["steps"]
    walk.worker(
        "/cases/{case}/mediations",
        {
            "held_on": walk.today(),
            "parties": parties,
            "perpetrator_is_child": False,
            "agreement_reached": True,
            "agreements": [OFFICE_ONLY[6]],
        },
    )
    assert walk.due()["steps"] == before
    [mediation] = walk.get("/cases/{case}")["mediations"]
    assert mediation["agreement_reached"] is True


# ---- Kota Batu: SOP Layanan Rehabilitasi Sosial, B1-B6 and kegiatan 1-13 -------------------

SERVED_KINDS = [
    "civil_registration_service",
    "education_service",
    "health_service",
    "other_child_rights_service",
    "social_welfare_service",
]


def test_kota_batu_b1_to_b5_with_social_security_enrolment_and_return_to_school(
    client: TestClient,
    auth: Headers,
    clock: FakeClock,
    kafka_settings: Settings,
    services: Callable[..., ServiceProcess],
    office_views: Callable[[], int],
) -> None:
    walk = SopWalk(client, auth, clock, "kota-batu")
    profile = walk.get("/profiles/kota-batu")
    assert profile["coordinating_body"] == "P2TP2A, DP3AP2KB Kota Batu"
    assert profile["assessment_before_classification"] == "B2"
    assert profile["served_complaint_kinds"] == SERVED_KINDS
    report = {
        "channel": "hotline",
        # B1: 60 menit (identity documents, service form, chronology)
        "arrived_at": (clock.now - 60 * MINUTE).isoformat(),
        "chronology": "A neighbour reports the boy is beaten at home and kept out of school.",
        "victim": person(
            name="Bima",
            sex="male",
            age=10,
            birth_place="Batu",
            birth_date="2016-05-02",
            nik="3579010205160001",
            address="Jl. Apel 7",
            village="Sisir",
            phone="0813 3333 3333",
            education="SD kelas 4 (putus sekolah)",
        ),
        "reporter": person(name="Pak Slamet", relationship_to_victim="neighbour"),
        "reported_person": person(relationship_to_victim="father", sex="male"),
        "incident": person(place_type="household", village="Sisir"),
        "needs": "Safety, back to school, a KIS card",
        "psychological_first_aid_needed": False,
        # Kelengkapan Dokumen: KTP/KSK, akte, SKTM/KIS, pas foto
        "documents": ["identity_card", "family_card", "birth_certificate", "photo"],
    }

    # B1: the P2TP2A records the report (60 menit) and which complaint it is (kind 2)
    registered = walk.report(report)
    assert registered["register_number"].startswith("BATU/")
    report_recorded_at_its_limit(walk, 60 * MINUTE)
    a_late_report(walk, report, 60 * MINUTE)
    walk.post("intake_officer", "/cases/{case}/complaint-kind", {"kind": "violence"})
    classification = {
        "case_type": "KTA",
        "risk_level": "medium",
        "jurisdiction": "district",
        "emergency": False,
        "forms_of_violence": ["physical", "neglect"],
        "ampk_categories": ["mistreatment_and_neglect"],
        "rationale": OFFICE_ONLY[0],
    }
    # B3 before B2 is refused: Kota Batu assesses before it classifies
    refused = walk.refused("intake_officer", "/cases/{case}/classification", classification)
    assert (refused["rule"], refused["step"]) == ("assessment_before_classification", "B2")
    # B2: assessment kasus (Form Laporan PPT), 60 menit after the report
    clock.advance(60 * MINUTE)
    walk.assess("further", "psychological", "Withdrawn, flinches; afraid of his father.")
    # B2 + B3: 60 + 30 = 90 menit from the recorded report to the classification (L1.5)
    walk.at_the_limit("L1.5", 90 * MINUTE)
    walk.classify(classification)
    walk.met("L1.5")
    # No initial psychological support was needed and it is no emergency: no such clocks
    assert not walk.codes() & {"L1.3", "L1.6"}
    # Fallbacks to Luwu Utara: L1.7 120 menit, L1.8 1 hari, L1.9 1 hari
    identification_after_classification(walk, "parent")

    # B4: screening, verification and home visit, 60 menit (L2.1); L2.7 fallback 60 menit
    screening_to_case_report(
        walk,
        60 * MINUTE,
        "Verified at home: family card, no KIS; out of school three months.",
        ["social_security_enrolment", "return_to_school"],
    )
    # B5: mediation between the victim and the community (120 menit, no clock)
    mediate_without_a_clock(walk, ["Bima's mother", "RT 03 Sisir"])
    # Kegiatan 4: case conference plans the case (fallback L3.5, 3 hari 1 jam)
    conference_and_plan(
        walk,
        [
            {"service_type": "social_security_enrolment", "agency": "bpjs"},
            {"service_type": "return_to_school", "agency": "education"},
        ],
    )
    # Kegiatan 6 social-security enrolment, kegiatan 7 return to school (fallback L4.1 7 hari)
    referrals = {
        "bpjs": walk.refer("bpjs", "social_security_enrolment", "KIS for Bima, family card here."),
        "education": walk.refer("education", "return_to_school", "SDN Sisir 2, class 4."),
    }
    # B6: accompaniment, monitoring and evaluation ("disesuaikan"): L5.2 fallback 8 hari 30 menit
    walk.worker("/cases/{case}/accompaniment", {"activity": OFFICE_ONLY[7]})
    deliver_at_the_limit(walk, referrals)
    # Kegiatan 11-12: all services reached, the child recovered: terminated (L6.5 fallback)
    monitor_and_terminate(walk, 8 * DAY + 30 * MINUTE)

    # Kinds 10-14 are served though no violence: kind 10 stays with the P2TP2A
    served = SopWalk(client, auth, clock, "kota-batu")
    served.report(
        {
            **report,
            "arrived_at": clock.now.isoformat(),
            "chronology": "The school refused to re-enrol a girl whose mother has no papers.",
        }
    )
    served.post("intake_officer", "/cases/{case}/complaint-kind", {"kind": "education_service"})
    served.assess("further", "social_spiritual", "No birth certificate; school asks for one.")
    served.classify(
        {"case_type": "other", "risk_level": "low", "jurisdiction": "district", "emergency": False}
    )
    served_file = served.get("/cases/{case}")
    assert served_file["classification"]["routing_rules"] == ["served"]
    assert served_file["classification"]["handover_to"] is None
    assert served.step("L1.7")["limit_minutes"] == 120
    served.assign()
    assert served.step("L1.7")["state"] == "met"
    # while kind 15, a consultation about rights, gets information only (rule f)
    consultation = SopWalk(client, auth, clock, "kota-batu")
    consultation.report({**report, "arrived_at": clock.now.isoformat()})
    consultation.post(
        "intake_officer", "/cases/{case}/complaint-kind", {"kind": "rights_consultation"}
    )
    consultation.assess("further", "legal", "Asks what rights a child witness has.")
    consultation.classify(
        {"case_type": "other", "risk_level": "low", "jurisdiction": "district", "emergency": False}
    )
    consulted = consultation.get("/cases/{case}")["classification"]
    assert (consulted["routing_rules"], consulted["handover_to"]) == (["f"], "information_only")
    assert "L1.7" not in consultation.codes()

    check_office_views(
        walk,
        office_views,
        {
            ("L1.2", None): 60,  # B1
            ("L1.5", None): 90,  # B2 + B3
            ("L1.7", None): 120,
            ("L1.8", None): 24 * 60,
            ("L1.9", None): 24 * 60,
            ("L2.1", None): 60,  # B4
            ("L2.7", None): 60,
            ("L3.5", None): 3 * 24 * 60 + 60,
            ("L4.1", referrals["bpjs"]): 7 * 24 * 60,
            ("L4.1", referrals["education"]): 7 * 24 * 60,
            ("L5.2", None): 8 * 24 * 60 + 30,
            ("L6.5", None): 4 * 24 * 60 + 4 * 60,
        },
    )
    topics = check_agencies(
        walk, kafka_settings, services, other_cases=(served.case_id, consultation.case_id)
    )
    # BPJS enrols from the identity and the documents, never what happened
    bpjs = str([m["event"] for m in topics["bpjs"]])
    assert "beaten" not in bpjs and "father" not in bpjs and "Withdrawn" not in bpjs
    assert "beaten" not in str([m["event"] for m in topics["education"]])


# ---- Purwakarta: SOP Rehabilitasi Sosial, P1-P7 ---------------------------------------------


def test_purwakarta_p1_to_p7_assessment_first_mediation_and_documentation(
    client: TestClient,
    auth: Headers,
    clock: FakeClock,
    kafka_settings: Settings,
    services: Callable[..., ServiceProcess],
    office_views: Callable[[], int],
) -> None:
    walk = SopWalk(client, auth, clock, "purwakarta")
    profile = walk.get("/profiles/purwakarta")
    assert profile["coordinating_body"] == (
        "Dinas Sosial P3A Kabupaten Purwakarta, Bidang Perlindungan Perempuan dan Anak"
    )
    assert (profile["coordinating_agency"], profile["assessment_before_classification"]) == (
        "uptd_ppa",
        "P2",
    )
    report = {
        "channel": "walk_in",
        # P1: 15 menit (pengaduan: chronology and service form)
        "arrived_at": (clock.now - 15 * MINUTE).isoformat(),
        "chronology": "She says her husband hit her with a belt after an argument last night.",
        "victim": person(
            name="Siti",
            sex="female",
            age=29,
            birth_place="Purwakarta",
            birth_date="1997-02-11",
            nik="3214015102970002",
            address="Jl. Veteran 12",
            village="Nagri Kidul",
            phone="0857 4444 4444",
            education="SMA",
            occupation="pedagang",
        ),
        "reporter": person(name="Siti", relationship_to_victim="self"),
        "reported_person": person(relationship_to_victim="husband", sex="male"),
        "incident": person(place_type="household", village="Nagri Kidul"),
        "needs": "Visum, a police report, to stay safe at her mother's",
        "psychological_first_aid_needed": False,
        # P7 "harus ada berkas dan dokumen/foto": the files and the photo come with the report
        "documents": ["identity_card", "family_card", "photo"],
    }

    # P1: the office records the complaint, 15 menit after it arrived
    registered = walk.report(report)
    assert registered["register_number"].startswith("PWK/")
    report_recorded_at_its_limit(walk, 15 * MINUTE)
    a_late_report(walk, report, 15 * MINUTE)
    classification = {
        "case_type": "KTP",
        "risk_level": "medium",
        "jurisdiction": "district",
        "emergency": False,
        "forms_of_violence": ["physical", "psychological"],
        "rationale": OFFICE_ONLY[0],
    }
    refused = walk.refused("intake_officer", "/cases/{case}/classification", classification)
    assert (refused["rule"], refused["step"]) == ("assessment_before_classification", "P2")
    # P2: assessment with the P2TP2A for the evidence (barang bukti), 120 menit
    clock.advance(120 * MINUTE)
    walk.assess("further", "legal", "Belt marks photographed; violence confirmed.")
    # the Kasi Pencegahan, Pelayanan dan Penguatan Kelembagaan answers for P2
    walk.post(
        "coordinator",
        "/cases/{case}/assessment-reviews",
        {"outcome": "agreed"},
        user="kasi.pelayanan",
    )
    # P2 + P3: 120 + 15 = 135 menit from the recorded complaint to the classification
    walk.at_the_limit("L1.5", 2 * HOUR + 15 * MINUTE)
    walk.classify(classification)
    walk.met("L1.5")
    assert not walk.codes() & {"L1.3", "L1.6"}
    # Fallbacks to Luwu Utara: L1.7 120 menit, L1.8 1 hari, L1.9 1 hari (consent, UU 27/2022)
    identification_after_classification(walk, "victim")

    # P4: screening, verification and home visit, 120 menit (L2.1); L2.7 fallback 60 menit
    screening_to_case_report(
        walk,
        120 * MINUTE,
        "At her mother's house now; the husband knows where.",
        ["medical_examination", "legal_process"],
    )
    # P5: mediation between the victim and the community (240 menit, no clock)
    mediate_without_a_clock(walk, ["Siti", "Ketua RW 05 Nagri Kidul"])
    # P3's disposition to the services (fallback L3.5, 3 hari 1 jam, then L4.1 7 hari)
    conference_and_plan(
        walk,
        [
            {"service_type": "medical_examination", "agency": "health"},
            {"service_type": "legal_process", "agency": "police"},
        ],
    )
    referrals = {
        "health": walk.refer("health", "medical_examination", "Visum at RSUD Bayu Asih."),
        "police": walk.refer("police", "legal_process", "Report at Unit PPA Polres Purwakarta."),
    }
    # P6: accompaniment, monitoring and evaluation, 240 menit after the services' 7 hari:
    # L5.2 7 hari 4 jam
    walk.worker("/cases/{case}/accompaniment", {"activity": OFFICE_ONLY[7]})
    deliver_at_the_limit(walk, referrals)
    monitor_and_terminate(walk, 7 * DAY + 4 * HOUR)
    # P7: documentation / photo (10 menit, no clock of its own): the photo is on file
    case_file = walk.get("/cases/{case}")
    assert "photo" in case_file["report"]["documents"]
    assert not {code for code in walk.codes() if code.startswith("P")}

    check_office_views(
        walk,
        office_views,
        {
            ("L1.2", None): 15,  # P1
            ("L1.5", None): 135,  # P2 + P3
            ("L1.7", None): 120,
            ("L1.8", None): 24 * 60,
            ("L1.9", None): 24 * 60,
            ("L2.1", None): 120,  # P4
            ("L2.7", None): 60,
            ("L3.5", None): 3 * 24 * 60 + 60,
            ("L4.1", referrals["health"]): 7 * 24 * 60,
            ("L4.1", referrals["police"]): 7 * 24 * 60,
            ("L5.2", None): 7 * 24 * 60 + 4 * 60,  # L4.1 + P6
            ("L6.5", None): 4 * 24 * 60 + 4 * 60,
        },
    )
    topics = check_agencies(walk, kafka_settings, services)
    # Health learns the physical and psychological side, never who is reported or the
    # legal finding; the police the legal finding and not the home visit's
    health = str([m["event"] for m in topics["health"]])
    assert "reported_person" not in health and "Belt marks" not in health
    assert "mother's house" not in str([m["event"] for m in topics["police"]])
