"""Three siblings referred apart: each agency's inbox (real PostgreSQL, served over HTTP)
holds only the referral for its sibling, who that sibling is, and none of the other
siblings' facts (L4.1)."""

import json
from collections.abc import Iterator
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from gateways import runtime
from gateways.eventstore.environment import postgres_env
from gateways.projectors.agencies import derived_agency_events
from gateways.tokens import TokenService
from services.case_commands import AddBeneficiary, RecordBeneficiaryConsent
from services.cases import Cases
from services.settings import Settings
from services.sharing import SharingPolicy, load_matrix
from tests.support.lifecycle import Headers
from tests.support.referred_case import CASE_WORKER, consented_case, refer

MATRIX = load_matrix()


@pytest.fixture
def cases(database_url: str, test_settings: Settings) -> Iterator[Cases]:
    app = Cases(env=postgres_env(database_url, test_settings))
    yield app
    app.close()


@pytest.fixture
def client(cases: Cases, tokens: TokenService) -> Iterator[TestClient]:
    with TestClient(runtime.api(cases, tokens)) as test_client:
        yield test_client


def three_siblings_referred_apart(cases: Cases) -> tuple[UUID, dict[str, str]]:
    """Mawar (1) to the police, Sari (2) to the health office, Bima (3) to the school."""
    case_id = consented_case(cases)
    for name in ("Sari", "Bima"):
        cases.execute(
            CASE_WORKER,
            case_id,
            AddBeneficiary(person={"name": name, "age": 8}, relationship="sibling", child=True),
        )
    for beneficiary_id in ("2", "3"):
        cases.execute(
            CASE_WORKER,
            case_id,
            RecordBeneficiaryConsent(
                beneficiary_id=beneficiary_id, given=True, given_by="parent", document_ref="IC"
            ),
        )
    referrals = {
        "police": refer(cases, case_id, "police", "legal_process"),
        "health": refer(cases, case_id, "health", "medical_examination", beneficiary_ids=["2"]),
        "education": refer(cases, case_id, "education", "return_to_school", beneficiary_ids=["3"]),
    }
    for agency in referrals:
        store = runtime.agency_store(cases, agency, MATRIX)
        store.rebuild(derived_agency_events(cases, SharingPolicy(MATRIX), "simpul", agency))
    return case_id, referrals


def test_each_agencys_inbox_shows_only_the_referral_for_its_sibling(
    cases: Cases, client: TestClient, auth: Headers
):
    _, referrals = three_siblings_referred_apart(cases)

    inboxes = {
        agency: client.get(
            f"/api/v1/agencies/{agency}/referrals", headers=auth("agency_officer", agency=agency)
        )
        for agency in referrals
    }

    assert all(response.status_code == 200 for response in inboxes.values())
    served = {agency: response.json() for agency, response in inboxes.items()}
    assert {agency: [r["referral_id"] for r in rows] for agency, rows in served.items()} == {
        agency: [referral_id] for agency, referral_id in referrals.items()
    }
    texts = {agency: json.dumps(rows) for agency, rows in served.items()}
    assert "Sari" not in texts["police"] and "Bima" not in texts["police"]
    assert "Mawar" not in texts["health"] and "Bima" not in texts["health"]
    assert "Mawar" not in texts["education"] and "Sari" not in texts["education"]
    assert served["police"][0]["facts"]["victim"]["name"] == "Mawar"
    assert served["police"][0]["beneficiaries"] == []
    assert [
        (b["beneficiary_id"], b["person"]["name"]) for b in served["health"][0]["beneficiaries"]
    ] == [("2", "Sari")]
    assert [
        (b["beneficiary_id"], b["person"]["name"]) for b in served["education"][0]["beneficiaries"]
    ] == [("3", "Bima")]
