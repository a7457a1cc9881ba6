"""Each district's document checklist: what its steps need, shown missing; what it requires."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateways.eventstore.environment import postgres_env
from gateways.runtime import api
from gateways.tokens import TokenService
from services.cases import Cases
from services.profiles import load_profiles
from services.settings import Settings
from tests.support.documents import a_jpeg_with_gps, a_pdf
from tests.support.lifecycle import Headers, a_report_body

PROFILES = Path(__file__).resolve().parents[2] / "domain" / "sop" / "profiles"
KOTA_BATU_B1 = [
    "identity_card",
    "family_card",
    "birth_certificate",
    "social_assistance_card",
    "referral_letter",
    "photo",
]
HOME_VISIT = {"kind": "initial_home_visit", "domain": "physical", "findings": "Visited."}


def _case(client: TestClient, auth: Headers, district: str) -> str:
    response = client.post(
        "/api/v1/cases", json=a_report_body(), headers=auth("intake_officer", district=district)
    )
    case_id: str = response.json()["case_id"]
    return case_id


def _attach(
    client: TestClient,
    auth: Headers,
    district: str,
    case_id: str,
    kind: str,
    step: str,
    body: bytes,
) -> None:
    media_type = "image/jpeg" if body.startswith(b"\xff\xd8") else "application/pdf"
    response = client.post(
        f"/api/v1/cases/{case_id}/documents",
        params={"kind": kind, "step": step},
        content=body,
        headers=auth("intake_officer", district=district, **{"Content-Type": media_type}),
    )
    assert response.status_code == 201, response.text


def _missing(client: TestClient, auth: Headers, district: str, case_id: str) -> tuple:
    reader = auth("coordinator", district=district)
    case_file = client.get(f"/api/v1/cases/{case_id}", headers=reader).json()
    due = client.get(f"/api/v1/cases/{case_id}/due-steps", headers=reader).json()
    return case_file["documents_missing"], due["documents_missing"]


def test_kota_batu_shows_the_client_documents_b1_still_needs(client: TestClient, auth: Headers):
    case_id = _case(client, auth, "kota-batu")
    before = _missing(client, auth, "kota-batu", case_id)

    _attach(client, auth, "kota-batu", case_id, "identity_card", "L1.2", a_pdf(b"KTP"))
    _attach(client, auth, "kota-batu", case_id, "photo", "L1.2", a_jpeg_with_gps())
    after = _missing(client, auth, "kota-batu", case_id)

    assert before == ({"L1.2": KOTA_BATU_B1}, {"L1.2": KOTA_BATU_B1})
    still = [kind for kind in KOTA_BATU_B1 if kind not in ("identity_card", "photo")]
    assert after == ({"L1.2": still}, {"L1.2": still})


def test_purwakarta_shows_the_p7_photo_its_visits_need(client: TestClient, auth: Headers):
    case_id = _case(client, auth, "purwakarta")

    _attach(client, auth, "purwakarta", case_id, "documentation_photo", "L2.1", a_jpeg_with_gps())

    case_file, due = _missing(client, auth, "purwakarta", case_id)
    assert case_file == due == {"L5.2": ["documentation_photo"]}


def test_a_district_whose_profile_lists_no_documents_misses_none(client: TestClient, auth: Headers):
    case_id = _case(client, auth, "luwu-utara")

    assert _missing(client, auth, "luwu-utara", case_id) == ({}, {})


@pytest.fixture
def requiring_client(
    tmp_path: Path, database_url: str, tokens: TokenService
) -> Iterator[TestClient]:
    """Purwakarta with P7's "harus ada ... foto" switched on: L2.1 requires its photo."""
    profile = (PROFILES / "purwakarta.toml").read_text()
    (tmp_path / "purwakarta.toml").write_text(
        profile + '\n[documents.required]\n"L2.1" = ["documentation_photo"]\n'
    )
    settings = Settings(database_pool_size=4, _env_file=None)  # type: ignore[call-arg]
    cases = Cases(env=postgres_env(database_url, settings), profiles=load_profiles(tmp_path))
    with TestClient(api(cases, tokens)) as test_client:
        yield test_client
    cases.close()


def _consented_purwakarta_case(client: TestClient, auth: Headers) -> str:
    """P1-P3 and consent: the P2 assessment before classification completes no L2.1 (its
    clock starts at consent), so it needs no photo."""
    office = auth("coordinator", district="purwakarta")
    case_id = _case(client, auth, "purwakarta")
    steps = [
        ("assessments", HOME_VISIT),
        (
            "classification",
            {
                "case_type": "KTA",
                "risk_level": "medium",
                "jurisdiction": "district",
                "emergency": False,
            },
        ),
        ("case-worker", {"case_worker_id": "rina.pendamping"}),
        ("consent", {"given": True, "given_by": "parent", "document_ref": "IC-7"}),
    ]
    for path, body in steps:
        response = client.post(f"/api/v1/cases/{case_id}/{path}", json=body, headers=office)
        assert response.status_code == 200, response.text
    return case_id


def test_a_step_whose_document_is_required_is_refused_until_it_is_attached(
    requiring_client: TestClient, auth: Headers
):
    """P4's home visit (L2.1) with P7's photo required."""
    client = requiring_client
    office = auth("coordinator", district="purwakarta")
    case_id = _consented_purwakarta_case(client, auth)

    refused = client.post(f"/api/v1/cases/{case_id}/assessments", json=HOME_VISIT, headers=office)
    _attach(client, auth, "purwakarta", case_id, "documentation_photo", "L2.1", a_jpeg_with_gps())
    accepted = client.post(f"/api/v1/cases/{case_id}/assessments", json=HOME_VISIT, headers=office)

    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert (problem["rule"], problem["step"]) == ("document_required", "L2.1")
    assert problem["errors"][0]["field"] == "document.kind"
    assert "documentation_photo" in problem["errors"][0]["message"]
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["recorded"] == ["AssessmentRecorded"]


def test_a_required_document_at_another_step_does_not_count(
    requiring_client: TestClient, auth: Headers
):
    client = requiring_client
    case_id = _consented_purwakarta_case(client, auth)
    _attach(client, auth, "purwakarta", case_id, "documentation_photo", "L5.2", a_jpeg_with_gps())

    refused = client.post(
        f"/api/v1/cases/{case_id}/assessments",
        json=HOME_VISIT,
        headers=auth("coordinator", district="purwakarta"),
    )

    assert refused.status_code == 422
    assert refused.json()["rule"] == "document_required"
