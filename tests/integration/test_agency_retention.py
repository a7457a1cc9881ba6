"""An agency's inbox keeps a case's personal data only for the district's retention period
after its part in the case closed: never served later, purged from its tables, and a rebuild
reaches the same state. Real PostgreSQL, fixed clocks."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest
from fastapi.testclient import TestClient

from gateways import runtime
from gateways.eventstore.environment import postgres_env
from gateways.projectors.agencies import derived_agency_events
from gateways.readmodels.agency import AgencyStore, Purged
from gateways.tokens import TokenService
from services.case_commands import AcceptReferral, DeclineReferral, RecordServiceDelivery
from services.cases import Cases
from services.profiles import load_profiles
from services.settings import Settings
from services.sharing import SharingPolicy, load_matrix
from tests.support.builders import FakeClock
from tests.support.lifecycle import Headers
from tests.support.referred_case import consented_case, officer, refer

MATRIX = load_matrix()
PREFIX = "simpul"
DAY = timedelta(days=1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def cases(database_url: str, test_settings: Settings, clock: FakeClock) -> Iterator[Cases]:
    app = Cases(env=postgres_env(database_url, test_settings), clock=clock)
    yield app
    app.close()


@pytest.fixture
def client(cases: Cases, tokens: TokenService) -> Iterator[TestClient]:
    with TestClient(runtime.api(cases, tokens)) as test_client:
        yield test_client


def inbox_store(cases: Cases, agency: str) -> AgencyStore:
    return runtime.agency_store(cases, agency, MATRIX)


def project(cases: Cases, agency: str, *, now: datetime) -> AgencyStore:
    """The agency's inbox rebuilt from the store (what its projector would hold), at ``now``."""
    store = inbox_store(cases, agency)
    store.rebuild(derived_agency_events(cases, SharingPolicy(MATRIX), PREFIX, agency), now=now)
    return store


def inbox(client: TestClient, auth: Headers, agency: str) -> list[dict[str, Any]]:
    response = client.get(
        f"/api/v1/agencies/{agency}/referrals", headers=auth("agency_officer", agency=agency)
    )
    assert response.status_code == 200, response.text
    return list(response.json())


def stored_rows(database_url: str, agency: str) -> str:
    """Everything the agency's tables hold of cases and referrals, as text."""
    with psycopg.connect(database_url) as conn:
        return json.dumps(
            [
                conn.execute(f"SELECT json_agg(t) FROM agency_{agency}.{table} t").fetchone()
                for table in ("cases", "referrals")
            ],
            default=str,
        )


def a_school_referral_delivered(cases: Cases, clock: FakeClock) -> tuple[UUID, str]:
    case_id = consented_case(cases)
    referral_id = refer(cases, case_id, "education", "return_to_school", notes="SMP 2 Masamba")
    school = officer("education")
    cases.execute(school, case_id, AcceptReferral(referral_id=referral_id, notes="seen Mawar"))
    clock.advance(DAY)
    cases.execute(
        school,
        case_id,
        RecordServiceDelivery(
            referral_id=referral_id,
            outcome="completed",
            delivered_on=clock().date(),
            summary="Mawar is back in class 7B",
        ),
    )
    return case_id, referral_id


def test_a_school_officer_no_longer_sees_the_victims_name_once_retention_passed(
    cases: Cases, client: TestClient, auth: Headers, clock: FakeClock, database_url: str
):
    # Given the school's part in a case closed when its referral was delivered
    a_school_referral_delivered(cases, clock)
    closed_at = clock()
    project(cases, "education", now=closed_at)

    # While the district's 90 days run, the inbox serves what the school may know
    clock.now = closed_at + 90 * DAY - timedelta(seconds=1)
    (during,) = inbox(client, auth, "education")
    assert during["facts"]["victim"]["name"] == "Mawar"
    assert during["notes"] == "SMP 2 Masamba"
    assert during["details"]["summary"] == "Mawar is back in class 7B"
    assert datetime.fromisoformat(during["personal_data_until"]) == closed_at + 90 * DAY

    # Then once they have passed, no officer is served it, though no purge has run yet
    clock.now = closed_at + 90 * DAY
    (after,) = inbox(client, auth, "education")
    assert "Mawar" not in json.dumps(after)
    assert "victim" not in after["facts"]
    assert after["notes"] == "" and after["referral_record_ref"] == ""
    assert after["details"] == {
        "outcome": "completed",
        "delivered_on": closed_at.date().isoformat(),
    }
    assert after["facts"]["classification"]["case_type"] == "KTA", "what is not personal stays"
    assert after["status"] == "completed" and after["case_status"] == "closed"
    assert "Mawar" in stored_rows(database_url, "education")

    # and the purge removes it from the tables themselves
    purged = inbox_store(cases, "education").purge(clock())
    assert (purged.cases, purged.referrals) == (1, 1)
    assert "Mawar" not in stored_rows(database_url, "education")
    assert "SMP 2 Masamba" not in stored_rows(database_url, "education")
    assert inbox(client, auth, "education") == [after]
    assert inbox_store(cases, "education").purge(clock()) == Purged(0, 0)


def test_a_rebuild_reaches_the_same_purged_state_as_the_live_inbox(
    cases: Cases, clock: FakeClock, database_url: str
):
    _, first = a_school_referral_delivered(cases, clock)
    first_closed_at = clock()
    clock.advance(30 * DAY)
    a_school_referral_delivered(cases, clock)  # a second case, closed 30 days later
    live = project(cases, "education", now=clock())
    clock.now = first_closed_at + 100 * DAY  # past the first case's retention, not the second's

    live.purge(clock())
    rebuilt = live.rebuild(
        derived_agency_events(cases, SharingPolicy(MATRIX), PREFIX, "education"),
        suffix="__verify",
        swap=False,
        now=clock(),
    )

    assert live.differences(rebuilt, now=clock()) == []
    rows = {row["referral_id"]: row for row in live.snapshot()["referrals"]}
    assert rows[first]["notes"] == "" and rows[first]["personal_data_removed"] is True
    assert [r["personal_data_removed"] for r in rows.values()].count(False) == 1
    assert stored_rows(database_url, "education").count("Mawar") > 0, "the second case keeps it"


def test_verifying_purges_a_live_inbox_whose_purge_has_not_run_yet(
    cases: Cases, clock: FakeClock, database_url: str
):
    a_school_referral_delivered(cases, clock)
    live = project(cases, "education", now=clock())
    rebuilt = live.rebuild(
        derived_agency_events(cases, SharingPolicy(MATRIX), PREFIX, "education"),
        suffix="__verify",
        swap=False,
        now=clock() + 91 * DAY,
    )

    assert live.differences(rebuilt, now=clock() + 91 * DAY) == []
    assert "Mawar" not in stored_rows(database_url, "education")


def test_a_case_referred_again_keeps_its_facts_while_the_first_referrals_text_goes(
    cases: Cases, client: TestClient, auth: Headers, clock: FakeClock, database_url: str
):
    # Given the school declined a first referral, which closed its part in the case,
    case_id = consented_case(cases)
    first = refer(cases, case_id, "education", "return_to_school", notes="first try")
    cases.execute(
        officer("education"),
        case_id,
        DeclineReferral(referral_id=first, reason="Mawar's class is full"),
    )
    first_closed_at = clock()
    # and the case was referred to it again sixty days later
    clock.advance(60 * DAY)
    second = refer(cases, case_id, "education", "non_formal_education", notes="second try")
    live = project(cases, "education", now=clock())

    # When the first part's retention has passed
    clock.now = first_closed_at + 90 * DAY
    served = {row["referral_id"]: row for row in inbox(client, auth, "education")}

    # Then the first referral's texts are gone, the open part keeps what it needs
    assert served[first]["notes"] == "" and "reason" not in served[first]["details"]
    assert served[second]["notes"] == "second try"
    assert "personal_data_until" not in served[second], "its part is still open"
    assert all(row["facts"]["victim"]["name"] == "Mawar" for row in served.values())
    live.purge(clock())
    assert "first try" not in stored_rows(database_url, "education")
    assert "second try" in stored_rows(database_url, "education")
    assert inbox(client, auth, "education") == list(served.values())
    rebuilt = live.rebuild(
        derived_agency_events(cases, SharingPolicy(MATRIX), PREFIX, "education"),
        suffix="__verify",
        swap=False,
        now=clock(),
    )
    assert live.differences(rebuilt, now=clock()) == []


def test_the_retention_period_is_the_districts_or_the_deployments(
    database_url: str, test_settings: Settings, clock: FakeClock
):
    # A deployment that keeps personal data 7 days after an agency's part closed
    shorter = Cases(
        env=postgres_env(database_url, test_settings),
        clock=clock,
        profiles=load_profiles(agency_retention_days=7),
    )
    try:
        a_school_referral_delivered(shorter, clock)
        closed_at = clock()
        store = project(shorter, "education", now=closed_at)

        assert store.purge(closed_at + 7 * DAY - timedelta(seconds=1)).cases == 0
        assert store.purge(closed_at + 7 * DAY).cases == 1
        assert "Mawar" not in stored_rows(database_url, "education")
    finally:
        shorter.close()


def test_a_handed_over_case_loses_its_personal_facts_in_the_receivers_tables(
    cases: Cases, clock: FakeClock, database_url: str
):
    from services.case_commands import AssignCaseWorker, Classify, HandOver, RecordConsent
    from tests.support.referred_case import CASE_WORKER, COORDINATOR, INTAKE, report

    case_id = report(cases)
    cases.execute(
        INTAKE,
        case_id,
        Classify(case_type="ABH", risk_level="high", jurisdiction="district", emergency=False),
    )
    cases.execute(COORDINATOR, case_id, AssignCaseWorker(case_worker_id=CASE_WORKER.user_id))
    cases.execute(
        CASE_WORKER, case_id, RecordConsent(given=True, given_by="parent", document_ref="IC-1")
    )
    cases.execute(COORDINATOR, case_id, HandOver(target="social", notes="Mawar's uncle"))
    store = project(cases, "social", now=clock())
    assert "Mawar" in stored_rows(database_url, "social")

    assert store.purge(clock() + 90 * DAY).cases == 1
    assert "Mawar" not in stored_rows(database_url, "social")
