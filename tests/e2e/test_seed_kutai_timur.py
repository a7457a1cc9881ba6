"""Issue 11, Kutai Timur's seed end to end: K-C1-K-C9, K-R5 and K-I1-K-I8 walked by the PKSAI.

Peraturan Bupati Kutai Timur 62/2018 on the PKSAI and its SOPs (shared/seeds/004_...;
domain/sop/profiles/kutai-timur.toml). The PKSAI's Divisi Penanganan coordinates,
its officers signing in as the social office's (`social`): it receives the
complaint (K-C1), assesses (K-C2), offers the services to the family, who decide
(K-C3), assesses further (K-C4), reports (K-C9), holds the case conference (K-C5)
and plans (K-C6); the Peksos proposes each referral (K-C7) and the Ketua
Pelaksana Harian, another person, approves and refers with the Berita Acara
Rujukan (K-C8); the referred agencies' progress is noted (K-R5); after the
services the child is reintegrated (K-I1-K-I8) and monitored for 3 months (K-I6).
Each timed step is stood on at its boundary with the service's clock (see
tests/support/sop_walk.py); then the real relay publishes and each agency's
topic and inbox are read.
"""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateways.eventstore.environment import postgres_env
from gateways.kafka.contract import MessageValidator
from gateways.kafka.messages import agency_topic
from gateways.kafka.security import KafkaSecurity
from services.cases import Cases
from services.settings import Settings
from services.sharing import load_matrix
from tests.e2e.conftest import ServiceProcess, read_topic, wait_until
from tests.support.builders import FakeClock
from tests.support.sop_walk import (
    Headers,
    SeedWalk,
    case_facts,
    expected_snapshot,
    moment,
    shape,
)

MATRIX = load_matrix()
DISTRICT = "kutai-timur"
PKSAI = "social"  # the PKSAI's officers sign in as the social office's (the profile says why)
PEKSOS = "peksos.kutim"
KETUA = "ketua.pelaksana.harian"  # approves K-C8
WAKIL = "koordinator.divisi.penanganan"
VICTIM = {
    "name": "Bima (samaran)",
    "sex": "male",
    "age": 10,
    "nik": "6408011003160003",
    "birth_place": "Sangatta",
    "birth_date": "2016-03-10",
    "address": "Jl. Yos Sudarso 12",
    "village": "Sangatta Utara",
    "phone": "0852 4444 5555",
    "education": "SD",
}
REPORT = {
    "channel": "phone",
    "chronology": "A teacher phones: the boy comes to school hungry and beaten by his uncle.",
    "victim": VICTIM,
    "reporter": {"name": "Pak Guru Arif", "relationship_to_victim": "teacher", "phone": "0852 1"},
    "reported_person": {"relationship_to_victim": "uncle", "sex": "male"},
    "incident": {"place_type": "household", "village": "Sangatta Utara"},
    "needs": "Safety, counselling, a birth certificate to stay at school",
    "documents": ["family_card"],
}
FINDINGS = {
    "physical": "old bruises on his back",
    "psychological": "startles easily, sleeps badly",
    "social_spiritual": "his aunt in Bengalon can raise him",
    "legal": "the uncle beat him; the teacher saw it",
}
# K-C7/K-C8: each service recommended and the agency it is referred to.
REFERRALS = {
    "police": "legal_process",
    "health": "psychological_counselling",
    "education": "return_to_school",
    "civil_registry": "civil_documents",  # his birth certificate (Disdukcapil, Pasal 14(2) d)
}
NOT_REFERRED = sorted(set(MATRIX.rows) - set(REFERRALS))
ROW_SHAPES = {
    "police": {
        "report": {"channel", "arrived_at", "chronology"},
        "victim": set(VICTIM),
        "reporter": {"name", "relationship_to_victim", "phone"},
        "reported_person": {"relationship_to_victim", "sex"},
        "incident": {"place_type", "village"},
        "classification": {
            "case_type",
            "risk_level",
            "jurisdiction",
            "emergency",
            "forms_of_violence",
            "ampk_categories",
        },
        "consent": {"given"},
        "case_worker": {"user_id"},
        "assessments": {"legal"},
    },
    "health": {
        "report": {"chronology", "needs"},
        "victim": {"name", "sex", "age", "birth_date", "nik", "address", "phone"},
        "classification": {"case_type", "risk_level", "emergency", "forms_of_violence"},
        "consent": {"given"},
        "case_worker": {"user_id"},
        "assessments": {"physical", "psychological"},
    },
    "education": {
        "victim": {"name", "sex", "age", "education"},
        "classification": {"case_type", "risk_level"},
        "consent": {"given"},
        "case_worker": {"user_id"},
    },
    "civil_registry": {
        "report": {"documents"},
        "victim": {"name", "sex", "birth_place", "birth_date", "nik", "address", "village"},
        "consent": {"given"},
        "case_worker": {"user_id"},
    },
}
# The timed steps in the order the walk meets them, each by its profile's code: K-C1,
# K-C2, K-C3, fallbacks L1.7-L1.9, K-C4, K-C9, K-C5, K-C5+K-C6, K-C8, L4.1 for each of
# the four referrals (K-R4), L5.2 (K-O10), K-I6 (ended by K-I7).
TIMED_IN_ORDER = [
    *("L1.2", "L1.5", "K-C3", "L1.7", "L1.8", "L1.9", "L2.1", "L2.7", "K-C5", "L3.5"),
    *("K-C8", "L4.1", "L4.1", "L4.1", "L4.1", "L5.2", "K-I6"),
]
MINUTES = timedelta(minutes=1)
HOURS = timedelta(hours=1)
DAYS = timedelta(days=1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def pg_cases(database_url: str, test_settings: Settings, clock: FakeClock) -> Iterator[Cases]:
    """The case service on the test's clock: events are stamped, and steps judged, at it."""
    app = Cases(env=postgres_env(database_url, test_settings), clock=clock)
    yield app
    app.close()


def test_kutai_timur_kc1_to_kc9_kr5_ki1_to_ki8_by_the_pksai_each_agency_gets_its_row(
    client: TestClient,
    auth: Headers,
    clock: FakeClock,
    pg_cases: Cases,
    caught_up: Callable[[], int],
    kafka_settings: Settings,
    services: Callable[..., ServiceProcess],
) -> None:
    walk = SeedWalk(client, auth, clock, DISTRICT, PKSAI, caught_up)
    peksos = walk.headers("case_worker", user=PEKSOS)
    ketua = walk.headers("coordinator", user=KETUA)
    profile = client.get(f"/api/v1/profiles/{DISTRICT}", headers=walk.headers()).json()
    assert (profile["coordinating_agency"], profile["coordinating_body"]) == (
        PKSAI,
        "PKSAI Kabupaten Kutai Timur (Divisi Penanganan)",
    )
    assert profile["referral_approval"] == "K-C8"

    # K-C1 receive the complaint (L1.2): "30 menit" from the call to the record
    main = walk.report({**REPORT, "arrived_at": (clock.now - 30 * MINUTES).isoformat()})
    late = walk.report(
        {**REPORT, "arrived_at": (clock.now - 30 * MINUTES - timedelta(seconds=1)).isoformat()}
    )
    on_time = walk.step("L1.2")
    assert (on_time["state"], gap(on_time)) == ("met", 30 * MINUTES)
    assert walk.step("L1.2", case_id=late)["state"] == "late"
    assert walk.case_id == main
    record = client.get(f"/api/v1/cases/{main}", headers=walk.headers()).json()
    assert record["register_number"].startswith("KUTIM/")

    # K-C2 initial assessment of the problem and its services (L1.5): "2 jam"
    walk.boundary("L1.5", 2 * HOURS)
    # the PKSAI's own list: both complaints open, neither overdue on the boundary
    assert set(walk.listed()) == {main, late}
    assert walk.listed(overdue_step="L1.5") == []
    walk.post(
        "classification",
        {
            "case_type": "KTA",
            "risk_level": "medium",
            "jurisdiction": "district",
            "emergency": False,
            "forms_of_violence": ["physical", "neglect"],
        },
    )
    walk.met("L1.5")

    # K-C3 the services offered to the family, who decide: "1 jam"
    walk.boundary("K-C3", HOURS)
    walk.post(
        "family-decisions",
        {
            "offered_services": [*REFERRALS.values(), "social_reintegration"],
            "accepted_services": [*REFERRALS.values(), "social_reintegration"],
            "decided_by": "family",
            "notes": "His aunt decides with the teacher present.",
        },
        peksos,
    )
    walk.met("K-C3")

    # Fallbacks of Luwu Utara (L1.7 120 menit, L1.8 1 hari, L1.9 1 hari): the profile says so
    walk.boundary("L1.7", 120 * MINUTES)
    # past K-C2's 2 jam the complaint never assessed is overdue in the PKSAI's list
    assert walk.listed(overdue_step="L1.5") == [late]
    walk.post("case-worker", {"case_worker_id": PEKSOS})
    walk.met("L1.7")
    walk.boundary("L1.8", DAYS)
    walk.post("contacts", {"mode": "home_visit"}, peksos)
    walk.met("L1.8")
    walk.boundary("L1.9", DAYS)
    walk.post(
        "consent", {"given": True, "given_by": "family", "document_ref": "IC/KUTIM/3"}, peksos
    )
    walk.met("L1.9")

    # K-C4 further assessment (L2.1): "1 hari"
    walk.boundary("L2.1", DAYS)
    for domain, findings in FINDINGS.items():
        walk.post(
            "assessments", {"kind": "further", "domain": domain, "findings": findings}, peksos
        )
    walk.met("L2.1")

    # K-C9 report on the assessment (L2.7): "1 jam"
    walk.boundary("L2.7", HOURS)
    walk.post(
        "case-report",
        {
            "summary": "Beaten and underfed by his uncle; his aunt can raise him.",
            "needs": [*REFERRALS.values(), "social_reintegration"],
        },
        peksos,
    )
    walk.met("L2.7")

    # K-C5 case conference setting the services: "1 minggu"
    walk.boundary("K-C5", 7 * DAYS)
    walk.post(
        "case-conferences",
        {
            "held_on": walk.today,
            "participating_agencies": sorted({PKSAI, *REFERRALS}),
            "decisions": ["Report the uncle", "Counselling", "Birth certificate", "Stay at school"],
        },
    )
    walk.met("K-C5")

    # K-C6 handling decision and intervention plan (L3.5): K-C5 1 minggu + K-C6 1 hari
    walk.boundary("L3.5", 8 * DAYS)
    walk.post(
        "intervention-plan",
        {
            "goals": ["He is safe with his aunt", "He stays at school", "The uncle answers"],
            "services": [{"service_type": s, "agency": a} for a, s in REFERRALS.items()],
            "agreed_with": ["family", "victim"],
        },
        peksos,
    )
    walk.met("L3.5")

    # Nobody refers without the Ketua Pelaksana Harian's approval (K-C8)
    status, refusal = walk.refused(
        "referrals", {"service_type": "legal_process", "agency": "police"}, peksos
    )
    assert (status, refusal["rule"], refusal["step"]) == (409, "referral_needs_approval", "K-C8")

    # K-C7 the Peksos proposes each referral: no clock of its own (only when needed, K-C6)
    recommendations = {
        agency: walk.post(
            "recommendations",
            {
                "service_type": service,
                "agency": agency,
                "rationale": f"K-C5 agreed {service} with {agency}.",
            },
            peksos,
        )["recommendation_id"]
        for agency, service in REFERRALS.items()
    }
    assert "K-C7" not in {s["code"] for s in walk.due_steps()["steps"]}

    # K-C8 the Ketua Pelaksana Harian approves and refers with the Berita Acara: "1 hari"
    walk.boundary("K-C8", DAYS)
    approval = {"recommendation_letter_ref": "REK/KUTIM/1", "referral_record_ref": "BAR/KUTIM/1"}
    status, refusal = walk.refused(
        "recommendation-approvals",
        {"recommendation_id": recommendations["police"], **approval},
        peksos,
    )
    assert status == 403, refusal  # the Peksos who proposed it is no supervisor
    referrals = {}
    for number, (agency, recommendation_id) in enumerate(recommendations.items(), start=1):
        referrals[agency] = walk.post(
            "recommendation-approvals",
            {
                "recommendation_id": recommendation_id,
                "recommendation_letter_ref": f"REK/KUTIM/{number}",
                "referral_record_ref": f"BAR/KUTIM/{number}",
                "notes": f"Approved for {agency}.",
            },
            ketua,
        )["referral_id"]
    walk.met("K-C8")
    assert all(walk.listed(agency=agency) == [main] for agency in REFERRALS)
    # and a recommendation its own author approves is refused: four eyes, another person
    own = walk.post(
        "recommendations",
        {"service_type": "religious_guidance", "agency": "religious_affairs", "rationale": "x"},
        ketua,
    )["recommendation_id"]
    status, refusal = walk.refused(
        "recommendation-approvals", {"recommendation_id": own, **approval}, ketua
    )
    assert (status, refusal["rule"], refusal["step"]) == (409, "approval_by_proposer", "K-C8")
    walk.post("recommendation-returns", {"recommendation_id": own, "reason": "Not agreed."}, ketua)

    # K-R4 referred (L4.1 fallback, 7 hari); K-R5 progress noted while it runs, no deadline
    for agency, referral_id in referrals.items():
        walk.post(
            f"referrals/{referral_id}/acceptance", {}, walk.officer(agency, f"officer.{agency}")
        )
    clock.advance(3 * DAYS)
    walk.post(
        f"referrals/{referrals['police']}/progress-notes",
        {"noted_on": walk.today, "progress": "The uncle was questioned."},
        walk.officer("police", "officer.police"),
    )
    walk.post(
        f"referrals/{referrals['civil_registry']}/progress-notes",
        {"noted_on": walk.today, "progress": "The birth certificate is being printed."},
        peksos,
    )
    assert "K-R5" not in {s["code"] for s in walk.due_steps()["steps"]}
    for referral_id in referrals.values():
        walk.boundary("L4.1", 7 * DAYS, referral_id=referral_id)
    for agency, referral_id in referrals.items():
        walk.post(
            f"referrals/{referral_id}/deliveries",
            {"outcome": "completed", "delivered_on": walk.today, "summary": f"{agency} done"},
            walk.officer(agency, f"officer.{agency}"),
        )
        walk.met("L4.1", referral_id)

    # The referred services (7 hari) then their monitoring (K-O10, 1 hari): L5.2 "8 hari"
    walk.boundary("L5.2", 8 * DAYS)
    walk.post(
        "monitoring-visits",
        {
            "mode": "home_visit",
            "findings": "Services delivered; he is to live with his aunt.",
            "services_on_track": True,
            "recovered": False,
        },
        peksos,
    )
    walk.met("L5.2")

    # K-I1 prepare the family, K-I2-I3 counsel the child and the caregivers
    for activity in ("preparation", "child_counselling", "caregiver_counselling"):
        walk.post("reintegration-steps", {"activity": activity, "done_on": walk.today}, peksos)
    # K-I4 reunification with the substitute family starts K-I6's 3 bulan
    walk.post(
        "reunification", {"reunified_on": walk.today, "reunified_with": "substitute_family"}, peksos
    )
    reunified = clock.now
    # K-I5 introduced to the community; K-I6 monitored month by month
    walk.post(
        "reintegration-steps", {"activity": "community_introduction", "done_on": walk.today}, peksos
    )
    for month in (1, 2):
        clock.now = reunified + 30 * month * DAYS
        walk.post(
            "reintegration-visits",
            {"visited_on": walk.today, "mode": "home_visit", "findings": f"Month {month}: well."},
            peksos,
        )
    # K-I6 "3 bulan" as 90 days: due through the 90th day, overdue on the 91st
    walk.boundary("K-I6", 90 * DAYS)
    assert walk.step("K-I6", as_of=reunified + 91 * DAYS)["state"] == "overdue"
    assert main not in walk.listed(overdue_step="K-I6")
    # K-I7 evaluate the monitoring's results, ending it; K-I8 report
    walk.post(
        "reintegration-evaluation",
        {"evaluated_on": walk.today, "reintegrated": True, "findings": "Settled with his aunt."},
        peksos,
    )
    walk.met("K-I6")
    walk.post("reintegration-steps", {"activity": "report", "done_on": walk.today}, peksos)
    reintegration = client.get(f"/api/v1/cases/{main}", headers=walk.headers()).json()[
        "reintegration"
    ]
    assert [s["sop_step"] for s in reintegration["steps"]] == [
        "K-I1",
        "K-I2",
        "K-I3",
        "K-I5",
        "K-I8",
    ]
    assert [s["state"] for s in walk.timeline()["steps"] if s["state"] != "met"] == []

    # The timeline tells the walk in the seed's order, each step by its number
    entries = walk.timeline()["entries"]
    assert [c["code"] for e in entries for c in e["time_standards"]] == TIMED_IN_ORDER
    assert {"K-C3", "K-C7", "K-C8", "K-R5"} | {f"K-I{n}" for n in range(1, 9)} <= {
        e["sop_step"] for e in entries
    }

    # When the relay publishes and the agencies' projectors apply
    services("relay")
    services("project", "--all-agencies")
    servers, prefix = str(kafka_settings.kafka_bootstrap_servers), kafka_settings.kafka_topic_prefix
    security = KafkaSecurity.from_settings(kafka_settings)
    topics = {
        agency: [
            m["event"]
            for m in read_topic(
                servers, agency_topic(prefix, agency), at_least=5, security=security
            )
        ]
        for agency in REFERRALS
    }

    # Then each referred agency heard of the case, its approved referral and its closing
    validator = MessageValidator()
    facts = case_facts(pg_cases, MATRIX, main)
    for agency, events in topics.items():
        assert [e["type"].split(".")[3:5] for e in events] == [
            ["case", "opened"],
            ["referral", "received"],
            ["referral", "updated"],
            ["referral", "updated"],
            ["case", "closed"],
        ], agency
        assert all(validator.errors(e) == [] for e in events), agency
        assert {e["subject"] for e in events} == {main}, agency
        # exactly the facts its row allows, no more and no fewer
        snapshot = events[0]["data"]["facts"]
        assert shape(snapshot) == ROW_SHAPES[agency], agency
        assert snapshot == expected_snapshot(MATRIX, agency, facts), agency
        received = events[1]["data"]
        assert (received["referral_id"], received["service_type"]) == (
            referrals[agency],
            REFERRALS[agency],
        )
        # with its Berita Acara Rujukan's number (K-C8), due on the 7th day (L4.1)
        number = list(REFERRALS).index(agency) + 1
        assert received["referral_record_ref"] == f"BAR/KUTIM/{number}", agency
        assert moment(received["due_at"]) - moment(received["referred_at"]) == 7 * DAYS
        assert [e["data"]["status"] for e in events[2:4]] == ["accepted", "completed"]
        text = str(events)
        # progress notes (K-R5) and the reintegration (K-I) stay with the case team
        assert "questioned" not in text and "printed" not in text, agency
        assert "Settled with his aunt" not in text and "Month 1" not in text, agency
        # findings outside the row never travel
        assert (FINDINGS["physical"] in text) == (agency == "health"), agency
        assert (FINDINGS["legal"] in text) == (agency == "police"), agency
        assert (str(VICTIM["nik"]) in text) == (agency != "education"), agency
        assert ("reported_person" in text) == (agency == "police"), agency

    # and the agencies not referred, the PKSAI's own social office among them, got nothing
    for agency in NOT_REFERRED:
        assert read_topic(servers, agency_topic(prefix, agency), security=security) == [], agency
    # and each referred agency's inbox lists its referral, delivered and closed
    for agency, referral_id in referrals.items():

        def arrived(a: str = agency) -> list[dict[str, Any]]:
            return settled(inbox(client, walk, a), main)

        listed = wait_until(arrived, what=f"{agency}'s inbox")
        assert [(r["referral_id"], r["status"]) for r in listed] == [(referral_id, "completed")]
        # its part closed with the delivery; K-I6's 3 bulan later (the profile's 90 days of
        # retention) the inbox keeps only what is not personal of what its row allowed
        closed_at = moment(topics[agency][-1]["data"]["at"])
        assert moment(listed[0]["personal_data_until"]) == closed_at + 90 * DAYS <= clock.now
        assert listed[0]["facts"] == MATRIX.impersonal_facts(
            expected_snapshot(MATRIX, agency, facts)
        ), agency
        assert (listed[0]["notes"], listed[0]["referral_record_ref"]) == ("", ""), agency
    assert all(late not in str(inbox(client, walk, a)) for a in REFERRALS)
    # and the inboxes of the agencies not referred stay empty
    assert {a: inbox(client, walk, a) for a in NOT_REFERRED} == {a: [] for a in NOT_REFERRED}


def gap(step: dict[str, Any]) -> timedelta:
    return moment(step["due_at"]) - moment(step["started_at"])


def settled(listed: list[dict[str, Any]], case_id: str) -> list[dict[str, Any]]:
    """The case's referrals in an inbox, once the agency's part in the case closed."""
    return [r for r in listed if r["case_id"] == case_id and r["case_status"] != "open"]


def inbox(client: TestClient, walk: SeedWalk, agency: str) -> list[dict[str, Any]]:
    response = client.get(
        f"/api/v1/agencies/{agency}/referrals", headers=walk.officer(agency, f"officer.{agency}")
    )
    assert response.status_code == 200, response.text
    return list(response.json())
