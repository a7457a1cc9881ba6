"""Issue 11, Tanjungpinang's seed end to end: T1-T4 walked over HTTP by Dinas Sosial.

SOP "Penanganan Korban Tindak Kekerasan", Dinas Sosial Kota Tanjungpinang
(shared/seeds/003_...; domain/sop/profiles/tanjungpinang.toml). Dinas Sosial's
Bidang Rehabilitasi Sosial coordinates: its intake officer receives the client
(T1), its Peksos records and assesses (T2), the Kabid reviews the assessment (T3)
and the case team refers the five services of T4 (health access, Jamkesda,
police / prosecutor, the RSTS shelter with its admission and discharge, T4d,
repatriation through Baznas). Each timed step is stood on at its boundary with
the service's clock (see tests/support/sop_walk.py); then the real relay
publishes and each agency's topic and inbox are read.
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
DISTRICT = "tanjungpinang"
DINSOS = "social"  # Dinas Sosial, Bidang Rehabilitasi Sosial: the coordinating body
PEKSOS = "peksos.tpi"
KABID = "kabid.rehsos"  # the superior of T3
VICTIM = {
    "name": "Melur (samaran)",
    "sex": "female",
    "age": 15,
    "nik": "2172015507110002",
    "birth_place": "Tanjungpinang",
    "birth_date": "2011-07-15",
    "address": "Jl. Ganet 7",
    "village": "Air Raja",
    "phone": "0813 2222 3333",
    "education": "SMP",
}
REPORT = {
    "channel": "walk_in",
    "chronology": "A neighbour brings a girl who ran away from her stepfather's house.",
    "victim": VICTIM,
    "reporter": {"name": "Ibu Kenanga", "relationship_to_victim": "neighbour", "phone": "0813 1"},
    "reported_person": {"relationship_to_victim": "stepfather", "sex": "male"},
    "incident": {"place_type": "household", "village": "Air Raja"},
    "needs": "Safety, a medical check, to go home to her grandmother in Lingga",
    "documents": ["family_card"],
}
FINDINGS = {
    "physical": "healed burn on the left forearm",
    "psychological": "withdrawn, afraid to go home",
    "social_spiritual": "grandmother in Lingga willing to take her in",
    "legal": "stepfather named; a police report is wanted",
}
# T4: each referral service and the agency that delivers it.
REFERRALS = {
    "health": "medical_care",  # T4a pendampingan akses ke RSUD / Puskesmas
    "bpjs": "health_insurance",  # T4b pengurusan Jamkesda
    "police": "legal_process",  # T4c pendampingan ke kepolisian ...
    "prosecutor": "legal_process",  # ... / kejaksaan
    "social": "temporary_shelter",  # T4d penitipan sementara di RSTS Dinsos
    "baznas": "repatriation",  # T4e pemulangan ke daerah asal, dibiayai Baznas
}
NOT_REFERRED = sorted(set(MATRIX.rows) - set(REFERRALS))
# What each referred agency's row (domain/sop/sharing.toml) lets it see of this case.
ALL_VICTIM, ALL_REPORTER = set(VICTIM), {"name", "relationship_to_victim", "phone"}
CLASSIFICATION = {
    "case_type",
    "risk_level",
    "jurisdiction",
    "emergency",
    "forms_of_violence",
    "ampk_categories",
}
LEGAL = {
    "report": {"channel", "arrived_at", "chronology"},
    "victim": ALL_VICTIM,
    "reporter": ALL_REPORTER,
    "reported_person": {"relationship_to_victim", "sex"},
    "incident": {"place_type", "village"},
    "classification": CLASSIFICATION,
    "consent": {"given"},
    "case_worker": {"user_id"},
    "assessments": {"legal"},
}
ROW_SHAPES = {
    "health": {
        "report": {"chronology", "needs"},
        "victim": {"name", "sex", "age", "birth_date", "nik", "address", "phone"},
        "classification": {"case_type", "risk_level", "emergency", "forms_of_violence"},
        "consent": {"given"},
        "case_worker": {"user_id"},
        "assessments": {"physical", "psychological"},
    },
    "bpjs": {
        "report": {"documents"},
        "victim": {"name", "sex", "birth_place", "birth_date", "nik", "address"},
        "consent": {"given"},
        "case_worker": {"user_id"},
    },
    "police": LEGAL,
    "prosecutor": LEGAL,
    "social": {
        "report": {"channel", "arrived_at", "chronology", "needs", "documents"},
        "victim": ALL_VICTIM,
        "reporter": ALL_REPORTER,
        "incident": {"village"},
        "classification": CLASSIFICATION,
        "consent": {"given"},
        "case_worker": {"user_id"},
        "assessments": {"social_spiritual", "psychological"},
        "case_report": {"summary", "needs"},
        "intervention_plan": {"goals", "services"},
    },
    "baznas": {
        "victim": {"name", "sex", "age", "address", "village"},
        "consent": {"given"},
        "case_worker": {"user_id"},
    },
}
GOALS = ["She is safe", "She is treated", "The stepfather answers to the law", "She goes home"]
# The timed steps in the order the walk meets them, each by its profile's code:
# T1, T2+T3 (route), fallbacks L1.7-L1.9, T2, T3, T3 (case report), fallback L3.5,
# T4 for each of the six referrals, fallbacks L5.2 and L6.5.
TIMED_IN_ORDER = [
    *("L1.2", "L1.5", "L1.7", "L1.8", "L1.9", "L2.1", "T3", "L2.7", "L3.5"),
    *("L4.1", "L4.1", "L4.1", "L4.1", "L4.1", "L4.1"),
    *("L5.2", "L6.5"),
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


def test_tanjungpinang_t1_t2_t3_t4_by_dinas_sosial_each_agency_gets_its_row(
    client: TestClient,
    auth: Headers,
    clock: FakeClock,
    pg_cases: Cases,
    caught_up: Callable[[], int],
    kafka_settings: Settings,
    services: Callable[..., ServiceProcess],
) -> None:
    walk = SeedWalk(client, auth, clock, DISTRICT, DINSOS, caught_up)
    peksos = walk.headers("case_worker", user=PEKSOS)
    kabid = walk.headers("coordinator", user=KABID)
    profile = client.get(f"/api/v1/profiles/{DISTRICT}", headers=walk.headers()).json()
    assert (profile["coordinating_agency"], profile["coordinating_body"]) == (
        DINSOS,
        "Dinas Sosial Kota Tanjungpinang, Bidang Rehabilitasi Sosial",
    )

    # T1 receive the client (L1.2): "15 menit" from arrival to the record
    main = walk.report({**REPORT, "arrived_at": (clock.now - 15 * MINUTES).isoformat()})
    late = walk.report(
        {**REPORT, "arrived_at": (clock.now - 15 * MINUTES - timedelta(seconds=1)).isoformat()}
    )
    assert walk.step("L1.2")["state"] == "met"
    assert moment_gap(walk.step("L1.2")) == 15 * MINUTES
    assert walk.step("L1.2", case_id=late)["state"] == "late"
    assert walk.case_id == main
    record = client.get(f"/api/v1/cases/{main}", headers=walk.headers()).json()
    assert record["register_number"].startswith("TPI/")

    # T2 + T3 before the route: "30 menit" + "30 - 60 menit", due from 60, overdue after 90
    walk.boundary("L1.5", 90 * MINUTES, due_from=60 * MINUTES)
    # Dinas Sosial's own list: both reports open, neither overdue on the boundary
    assert set(walk.listed()) == {main, late}
    assert walk.listed(overdue_step="L1.5") == []
    walk.post(
        "classification",
        {
            "case_type": "KTA",
            "risk_level": "high",
            "jurisdiction": "district",
            "emergency": False,
            "forms_of_violence": ["physical", "psychological"],
            "rationale": "Burn scar; she will not go back to the stepfather's house.",
        },
    )
    walk.met("L1.5")

    # Fallbacks of Luwu Utara (L1.7 120 menit, L1.8 1 hari, L1.9 1 hari): the profile says so
    walk.boundary("L1.7", 120 * MINUTES)
    # past T2+T3's 90 menit the report never classified is overdue in the office's list
    assert walk.listed(overdue_step="L1.5") == [late]
    walk.post("case-worker", {"case_worker_id": PEKSOS, "assignment_letter_ref": "ST/RS/07"})
    walk.met("L1.7")
    walk.boundary("L1.8", DAYS)
    walk.post("contacts", {"mode": "home_visit"}, peksos)
    walk.met("L1.8")
    walk.boundary("L1.9", DAYS)
    walk.post("consent", {"given": True, "given_by": "victim", "document_ref": "IC/TPI/07"}, peksos)
    walk.met("L1.9")

    # T2 record the client's data and assess her needs (L2.1): "30 menit"
    walk.boundary("L2.1", 30 * MINUTES)
    for domain, findings in FINDINGS.items():
        walk.post(
            "assessments",
            {"kind": "further", "domain": domain, "findings": findings},
            peksos,
        )
    walk.met("L2.1")

    # T3 coordinate the assessment with the superior, the Kabid: "30 - 60 menit"
    walk.boundary("T3", 60 * MINUTES, due_from=30 * MINUTES)
    status, refusal = walk.refused("assessment-reviews", {"outcome": "agreed"}, peksos)
    assert status == 403, refusal  # the Peksos is no superior
    status, refusal = walk.refused(
        "assessment-reviews", {"outcome": "agreed"}, walk.headers(agency="uptd_ppa")
    )
    assert status in (403, 404), refusal  # the UPTD PPA does not coordinate Tanjungpinang
    walk.post("assessment-reviews", {"outcome": "agreed", "notes": "Refer all five."}, kabid)
    walk.met("T3")
    # the case report stands once the Kabid studied the file (L2.7): "30 - 60 menit"
    walk.boundary("L2.7", 60 * MINUTES, due_from=30 * MINUTES)
    walk.post(
        "case-report",
        {
            "summary": "Burned by her stepfather; wants to live with her grandmother in Lingga.",
            "needs": list(dict.fromkeys(REFERRALS.values())),
        },
        peksos,
    )
    walk.met("L2.7")

    # Fallback L3.5 (3 hari 1 jam): the plan the five referrals carry out
    walk.boundary("L3.5", 3 * DAYS + HOURS)
    walk.post(
        "intervention-plan",
        {
            "goals": GOALS,
            "services": [{"service_type": s, "agency": a} for a, s in REFERRALS.items()],
            "agreed_with": ["victim"],
        },
        peksos,
    )
    walk.met("L3.5")

    # T4 the referral services: "3 - 7 hari", due from the 3rd day, overdue after the 7th
    referrals = {
        agency: walk.post(
            "referrals",
            {
                "service_type": service,
                "agency": agency,
                "notes": f"T4 for {agency}: call Peksos {PEKSOS}",
                "referral_record_ref": f"BAR/TPI/{agency}",
            },
            peksos,
        )["referral_id"]
        for agency, service in REFERRALS.items()
    }
    for agency, referral_id in referrals.items():
        walk.post(
            f"referrals/{referral_id}/acceptance", {}, walk.officer(agency, f"officer.{agency}")
        )
    # T4d: the RSTS Dinsos shelters her under the shelter referral from today
    walk.post(
        "shelter-admissions",
        {"shelter": "rsts_dinsos", "admitted_on": walk.today, "referral_id": referrals["social"]},
        peksos,
    )
    sheltered_on = walk.today
    for referral_id in referrals.values():
        walk.boundary("L4.1", 7 * DAYS, due_from=3 * DAYS, referral_id=referral_id)
    # on T4's 7th day the office lists the case by each referred agency, none overdue yet
    assert all(walk.listed(agency=agency) == [main] for agency in REFERRALS)
    assert walk.listed(overdue_step="L4.1") == []
    # T4d ends on the 7th day: discharged to her grandmother, so Baznas can take her home
    walk.post(
        "shelter-discharges",
        {
            "discharged_on": walk.today,
            "destination": "home_family",
            "reason": "Her grandmother in Lingga takes her in.",
        },
        peksos,
    )
    (stay,) = client.get(f"/api/v1/cases/{main}", headers=walk.headers()).json()["shelter_stays"]
    assert (stay["shelter"], stay["admitted_on"], stay["length_of_stay_days"]) == (
        "rsts_dinsos",
        sheltered_on,
        7,
    )
    for agency, referral_id in referrals.items():
        walk.post(
            f"referrals/{referral_id}/deliveries",
            {
                "outcome": "completed",
                "delivered_on": walk.today,
                "summary": f"{REFERRALS[agency]} delivered",
            },
            walk.officer(agency, f"officer.{agency}"),
        )
        walk.met("L4.1", referral_id)

    # Fallback L5.2 (T4's 7 hari + L5.1 30 menit + L5.2 1 hari) then L6.5 (4 hari 4 jam)
    walk.boundary("L5.2", 8 * DAYS + 30 * MINUTES)
    walk.post(
        "monitoring-visits",
        {
            "mode": "phone",
            "findings": "Home in Lingga, back at school, treated.",
            "services_on_track": True,
            "recovered": True,
        },
        peksos,
    )
    walk.met("L5.2")
    walk.boundary("L6.5", 4 * DAYS + 4 * HOURS)
    walk.post(
        "termination",
        {"kind": "agreed", "reason": "recovered", "termination_form_ref": "TRM/TPI/07"},
        peksos,
    )
    walk.met("L6.5")
    assert walk.timeline()["state"]["status"] == "closed"
    assert walk.listed(status="closed") == [main]
    assert [s["state"] for s in walk.timeline()["steps"] if s["state"] != "met"] == []

    # The timeline tells the walk in the seed's order, each step by its number
    entries = walk.timeline()["entries"]
    assert [c["code"] for e in entries for c in e["time_standards"]] == TIMED_IN_ORDER
    assert {"T3", "T4d"} <= {e["sop_step"] for e in entries}

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

    # Then each referred agency heard of the case, its own referral and its closing, validly
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
        assert received["notes"] == f"T4 for {agency}: call Peksos {PEKSOS}"
        assert received["referral_record_ref"] == f"BAR/TPI/{agency}"
        # the due time told to the agency is T4's 7th day
        assert moment(received["due_at"]) - moment(received["referred_at"]) == 7 * DAYS
        assert [e["data"]["status"] for e in events[2:4]] == ["accepted", "completed"]
        # nobody hears where she sheltered or who took her in (T4d stays with the case team)
        assert "Lingga takes her in" not in str(events), agency
    # no findings outside the row: the burn reaches health only, the legal view the legal rows
    for agency, events in topics.items():
        text = str(events)
        assert (FINDINGS["physical"] in text) == (agency == "health"), agency
        assert (FINDINGS["legal"] in text) == (agency in ("police", "prosecutor")), agency
        assert (str(VICTIM["nik"]) in text) != (agency == "baznas")
        assert ("reported_person" in text) == (agency in ("police", "prosecutor")), agency
    assert "Lingga takes her in" not in str(topics)

    # and the agencies not referred got nothing, of this case or of the other
    for agency in NOT_REFERRED:
        assert read_topic(servers, agency_topic(prefix, agency), security=security) == [], agency
    # and each referred agency's inbox lists its referral, delivered and closed
    for agency, referral_id in referrals.items():

        def arrived(a: str = agency) -> list[dict[str, Any]]:
            return settled(inbox(client, walk, a), main)

        listed = wait_until(arrived, what=f"{agency}'s inbox")
        assert [(r["referral_id"], r["status"]) for r in listed] == [(referral_id, "completed")]
        # holding the facts its topic carried, its row's and no others, for 90 more days
        assert listed[0]["facts"] == expected_snapshot(MATRIX, agency, facts), agency
        closed_at = moment(topics[agency][-1]["data"]["at"])
        assert moment(listed[0]["personal_data_until"]) == closed_at + 90 * DAYS > clock.now
    assert all(late not in str(inbox(client, walk, a)) for a in REFERRALS)
    # and the inboxes of the agencies not referred stay empty
    assert {a: inbox(client, walk, a) for a in NOT_REFERRED} == {a: [] for a in NOT_REFERRED}


def moment_gap(step: dict[str, object]) -> timedelta:
    return datetime.fromisoformat(str(step["due_at"])) - datetime.fromisoformat(
        str(step["started_at"])
    )


def settled(listed: list[dict[str, Any]], case_id: str) -> list[dict[str, Any]]:
    """The case's referrals in an inbox, once the agency's part in the case closed."""
    return [r for r in listed if r["case_id"] == case_id and r["case_status"] != "open"]


def inbox(client: TestClient, walk: SeedWalk, agency: str) -> list[dict[str, Any]]:
    response = client.get(
        f"/api/v1/agencies/{agency}/referrals", headers=walk.officer(agency, f"officer.{agency}")
    )
    assert response.status_code == 200, response.text
    return list(response.json())
