"""Issue 11, five districts and five SOPs: each district's office records and handles its
cases under its own profile (domain/sop/profiles/<district>.toml)."""

import pytest
from fastapi.testclient import TestClient

from tests.support.builders import a_classification
from tests.support.lifecycle import Headers, a_report_body

# The office that coordinates each district's cases, as a token names it.
REGISTER_CODES = {
    "kota-batu": "BATU",
    "kutai-timur": "KUTIM",
    "luwu-utara": "LUTRA",
    "purwakarta": "PWK",
    "tanjungpinang": "TPI",
}


@pytest.mark.parametrize("district", ["purwakarta", "tanjungpinang", "kutai-timur"])
def test_a_district_with_its_own_profile_records_a_report_in_its_register(
    client: TestClient, auth: Headers, district: str
):
    """P1 / T1 / K-C1: the report is received and recorded under the district's register."""
    response = client.post(
        "/api/v1/cases", json=a_report_body(), headers=auth("intake_officer", district=district)
    )

    assert response.status_code == 201, response.text
    assert response.json()["register_number"].startswith(f"{REGISTER_CODES[district]}/")


def _intake_classify_consent_refer(
    client: TestClient, auth: Headers, *, agency: str, district: str
) -> tuple[str, int]:
    """Report, classify (rule a), consent and refer to health as the district's office."""
    office = {"agency": agency, "district": district}
    reported = client.post(
        "/api/v1/cases", json=a_report_body(), headers=auth("intake_officer", **office)
    )
    assert reported.status_code == 201, reported.text
    case_id = reported.json()["case_id"]
    classified = client.post(
        f"/api/v1/cases/{case_id}/classification",
        json=a_classification(),
        headers=auth("coordinator", **office),
    )
    assert classified.status_code == 200, classified.text
    consented = client.post(
        f"/api/v1/cases/{case_id}/consent",
        json={"given": True, "given_by": "parent", "document_ref": "IC/01"},
        headers=auth("coordinator", **office),
    )
    assert consented.status_code == 200, consented.text
    referred = client.post(
        f"/api/v1/cases/{case_id}/referrals",
        json={"service_type": "medical_examination", "agency": "health"},
        headers=auth("coordinator", **office),
    )
    return case_id, referred.status_code


def test_tanjungpinang_dinas_sosial_takes_a_case_from_intake_to_referral(
    client: TestClient, auth: Headers
):
    """T1-T4: Dinas Sosial (Bidang Rehabilitasi Sosial) receives, assesses and refers."""
    case_id, referred = _intake_classify_consent_refer(
        client, auth, agency="social", district="tanjungpinang"
    )

    assert referred == 200
    read = client.get(
        f"/api/v1/cases/{case_id}",
        headers=auth("coordinator", agency="social", district="tanjungpinang"),
    )
    assert read.status_code == 200
    assert read.json()["stage"] == "assessment"


def test_kutai_timur_pksai_takes_a_case_from_intake_to_referral(client: TestClient, auth: Headers):
    """K-C1-C8: the PKSAI (its Divisi Penanganan led by Dinas Sosial, Pasal 14) refers."""
    _case_id, referred = _intake_classify_consent_refer(
        client, auth, agency="social", district="kutai-timur"
    )

    assert referred == 200


def test_where_dinas_sosial_coordinates_the_uptd_ppa_is_not_the_case_office(
    client: TestClient, auth: Headers
):
    """Tanjungpinang's profile names Dinas Sosial; a UPTD PPA officer there is no case team."""
    reported = client.post(
        "/api/v1/cases",
        json=a_report_body(),
        headers=auth("intake_officer", agency="social", district="tanjungpinang"),
    )
    case_id = reported.json()["case_id"]
    uptd_ppa = auth("coordinator", district="tanjungpinang")

    read = client.get(f"/api/v1/cases/{case_id}", headers=uptd_ppa)
    views = client.get("/api/v1/cases", headers=uptd_ppa)
    social_views = client.get(
        "/api/v1/cases",
        headers=auth("coordinator", agency="social", district="tanjungpinang"),
    )

    assert read.status_code == 404
    assert views.status_code == 403
    assert social_views.status_code == 200


def test_where_the_uptd_ppa_coordinates_a_social_office_coordinator_still_cannot(
    client: TestClient, auth: Headers
):
    """Luwu Utara keeps the UPTD PPA: the social office sees only what is referred to it."""
    case_id = client.post(
        "/api/v1/cases", json=a_report_body(), headers=auth("intake_officer")
    ).json()["case_id"]

    read = client.get(f"/api/v1/cases/{case_id}", headers=auth("coordinator", agency="social"))

    assert read.status_code == 404


@pytest.mark.parametrize(("district", "step"), [("kota-batu", "B2"), ("purwakarta", "P2")])
def test_a_district_that_assesses_first_classifies_only_after_an_assessment(
    client: TestClient, auth: Headers, district: str, step: str
):
    """Kota Batu B2 before B3, Purwakarta P2 before P3; Luwu Utara classifies first."""
    office = {"district": district}
    case_id = client.post(
        "/api/v1/cases", json=a_report_body(), headers=auth("intake_officer", **office)
    ).json()["case_id"]
    classification = a_classification()

    early = client.post(
        f"/api/v1/cases/{case_id}/classification",
        json=classification,
        headers=auth("coordinator", **office),
    )
    assessed = client.post(
        f"/api/v1/cases/{case_id}/assessments",
        json={
            "kind": "initial_home_visit",
            "domain": "social_spiritual",
            "findings": "Verified with the family at home; bruises seen.",
        },
        headers=auth("case_worker", **office),
    )
    classified = client.post(
        f"/api/v1/cases/{case_id}/classification",
        json=classification,
        headers=auth("coordinator", **office),
    )

    assert early.status_code == 409
    assert (early.json()["rule"], early.json()["step"]) == (
        "assessment_before_classification",
        step,
    )
    assert assessed.status_code == 200, assessed.text
    assert classified.status_code == 200, classified.text


def test_luwu_utara_classifies_before_it_assesses(client: TestClient, auth: Headers):
    """L1.5 before L2.1: no assessment before consent, classification needs none."""
    case_id = client.post(
        "/api/v1/cases", json=a_report_body(), headers=auth("intake_officer")
    ).json()["case_id"]

    assessed = client.post(
        f"/api/v1/cases/{case_id}/assessments",
        json={"kind": "initial_home_visit", "domain": "social_spiritual", "findings": "Visited."},
        headers=auth("case_worker"),
    )

    assert assessed.status_code == 409
    assert assessed.json()["rule"] == "consent_required"


def test_a_districts_profile_shows_its_ranges_office_and_order(client: TestClient, auth: Headers):
    """Tanjungpinang T4 (3-7 hari) and its Dinas Sosial; Kota Batu assesses first (B2)."""
    tanjungpinang = client.get(
        "/api/v1/profiles/tanjungpinang", headers=auth("coordinator", agency="social")
    ).json()
    kota_batu = client.get("/api/v1/profiles/kota-batu", headers=auth("coordinator")).json()

    referral = next(step for step in tanjungpinang["steps"] if step["code"] == "L4.1")
    assert (referral["due_from_minutes"], referral["limit_minutes"]) == (3 * 1440, 7 * 1440)
    assert tanjungpinang["coordinating_agency"] == "social"
    assert tanjungpinang["assessment_before_classification"] is None
    assert kota_batu["coordinating_agency"] == "uptd_ppa"
    assert kota_batu["assessment_before_classification"] == "B2"


def test_an_abh_case_stays_with_tanjungpinangs_dinas_sosial(client: TestClient, auth: Headers):
    """Routing c sends ABH to Dinas Sosial, which coordinates Tanjungpinang's cases already."""
    office = {"agency": "social", "district": "tanjungpinang"}
    case_id = client.post(
        "/api/v1/cases", json=a_report_body(), headers=auth("intake_officer", **office)
    ).json()["case_id"]

    classified = client.post(
        f"/api/v1/cases/{case_id}/classification",
        json={
            "case_type": "ABH",
            "risk_level": "medium",
            "jurisdiction": "district",
            "emergency": False,
        },
        headers=auth("coordinator", **office),
    )
    assigned = client.post(
        f"/api/v1/cases/{case_id}/case-worker",
        json={"case_worker_id": "peksos-1"},
        headers=auth("coordinator", **office),
    )

    assert classified.status_code == 200, classified.text
    assert assigned.status_code == 200, assigned.text
    case = client.get(f"/api/v1/cases/{case_id}", headers=auth("coordinator", **office)).json()
    assert case["status"] == "open"
