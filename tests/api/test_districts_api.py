"""Issue 11, five districts and five SOPs: each district's office records and handles its
cases under its own profile (domain/sop/profiles/<district>.toml)."""

from datetime import datetime, timedelta

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


def test_kutai_timur_refuses_a_referral_without_the_ketua_pelaksana_harians_approval(
    client: TestClient, auth: Headers
):
    """K-C8: nobody at the PKSAI refers a case before its supervisor approves it."""
    case_id, referred = _intake_classify_consent_refer(
        client, auth, agency="social", district="kutai-timur"
    )

    assert referred == 409
    refused = client.post(
        f"/api/v1/cases/{case_id}/referrals",
        json={"service_type": "medical_examination", "agency": "health"},
        headers=auth("coordinator", agency="social", district="kutai-timur"),
    ).json()
    assert (refused["rule"], refused["step"]) == ("referral_needs_approval", "K-C8")


def test_kutai_timur_pksai_refers_on_an_approved_recommendation(client: TestClient, auth: Headers):
    """K-C7 the Peksos proposes, K-C8 the Ketua Pelaksana Harian approves and refers with the
    surat rekomendasi and the Berita Acara Rujukan; the proposer cannot approve it."""
    pksai = {"agency": "social", "district": "kutai-timur"}
    peksos = auth("case_worker", user="peksos-1", **pksai)
    ketua = auth("coordinator", user="ketua-pelaksana-harian", **pksai)
    case_id, _refused = _intake_classify_consent_refer(client, auth, **pksai)
    client.post(
        f"/api/v1/cases/{case_id}/case-worker",
        json={"case_worker_id": "peksos-1"},
        headers=ketua,
    )

    proposed = client.post(
        f"/api/v1/cases/{case_id}/recommendations",
        json={"service_type": "medical_examination", "agency": "health", "rationale": "Visum."},
        headers=peksos,
    )
    assert proposed.status_code == 200, proposed.text
    recommendation_id = proposed.json()["recommendation_id"]
    approval = {
        "recommendation_id": recommendation_id,
        "recommendation_letter_ref": "REK/PKSAI/2026/01",
        "referral_record_ref": "BAR/PKSAI/2026/01",
    }
    by_coordinator_not_in_office = client.post(
        f"/api/v1/cases/{case_id}/recommendation-approvals",
        json=approval,
        headers=auth("coordinator", district="kutai-timur"),
    )
    approved = client.post(
        f"/api/v1/cases/{case_id}/recommendation-approvals", json=approval, headers=ketua
    )

    assert by_coordinator_not_in_office.status_code == 404
    assert approved.status_code == 200, approved.text
    assert approved.json()["recorded"] == ["RecommendationApproved", "Referred"]
    referral_id = approved.json()["referral_id"]
    case_file = client.get(f"/api/v1/cases/{case_id}", headers=ketua).json()
    (recommendation,) = case_file["recommendations"]
    assert recommendation["status"] == "approved"
    assert recommendation["approved"]["referral_id"] == referral_id
    (referral,) = case_file["referrals"]
    assert (referral["referral_id"], referral["referral_record_ref"]) == (
        referral_id,
        "BAR/PKSAI/2026/01",
    )


def test_a_supervisor_cannot_approve_a_recommendation_they_proposed(
    client: TestClient, auth: Headers
):
    pksai = {"agency": "social", "district": "kutai-timur"}
    ketua = auth("coordinator", user="ketua-pelaksana-harian", **pksai)
    case_id, _refused = _intake_classify_consent_refer(client, auth, **pksai)
    proposed = client.post(
        f"/api/v1/cases/{case_id}/recommendations",
        json={"service_type": "medical_examination", "agency": "health", "rationale": "Visum."},
        headers=ketua,
    ).json()

    approved = client.post(
        f"/api/v1/cases/{case_id}/recommendation-approvals",
        json={
            "recommendation_id": proposed["recommendation_id"],
            "recommendation_letter_ref": "REK/1",
            "referral_record_ref": "BAR/1",
        },
        headers=ketua,
    )

    assert approved.status_code == 409
    assert (approved.json()["rule"], approved.json()["step"]) == ("approval_by_proposer", "K-C8")


def test_a_case_worker_cannot_approve_a_recommendation(client: TestClient, auth: Headers):
    """K-C8 is the supervisor's (the office's coordinators until accounts give them a role)."""
    pksai = {"agency": "social", "district": "kutai-timur"}
    case_id, _refused = _intake_classify_consent_refer(client, auth, **pksai)
    proposed = client.post(
        f"/api/v1/cases/{case_id}/recommendations",
        json={"service_type": "medical_examination", "agency": "health", "rationale": "Visum."},
        headers=auth("coordinator", **pksai),
    ).json()

    approved = client.post(
        f"/api/v1/cases/{case_id}/recommendation-approvals",
        json={
            "recommendation_id": proposed["recommendation_id"],
            "recommendation_letter_ref": "REK/1",
            "referral_record_ref": "BAR/1",
        },
        headers=auth("intake_officer", user="someone-else", **pksai),
    )

    assert approved.status_code == 403


def test_a_district_without_supervisor_approval_refuses_a_recommendation_and_refers_directly(
    client: TestClient, auth: Headers
):
    """K-C7-C8 are Kutai Timur's; Tanjungpinang refers straight from the assessment (T4)."""
    dinsos = {"agency": "social", "district": "tanjungpinang"}
    office = auth("coordinator", **dinsos)
    case_id, referred = _intake_classify_consent_refer(client, auth, **dinsos)
    url = f"/api/v1/cases/{case_id}"
    before = client.get(url, headers=office).json()["version"]
    recommendation = {"recommendation_id": "00000000-0000-0000-0000-000000000001"}

    refused = [
        client.post(
            f"{url}/recommendations",
            json={"service_type": "legal_process", "agency": "police", "rationale": "Visum."},
            headers=office,
        ),
        client.post(
            f"{url}/recommendation-approvals",
            json={**recommendation, "recommendation_letter_ref": "R", "referral_record_ref": "B"},
            headers=office,
        ),
        client.post(
            f"{url}/recommendation-returns",
            json={**recommendation, "reason": "No."},
            headers=office,
        ),
    ]

    assert referred == 200
    assert [(r.status_code, r.json()["rule"], r.json()["step"]) for r in refused] == [
        (409, "process_not_run", "K-C7"),
        (409, "process_not_run", "K-C8"),
        (409, "process_not_run", "K-C8"),
    ]
    assert "does not run the supervisor_approval process" in refused[0].json()["detail"]
    assert client.get(url, headers=office).json()["version"] == before


def test_a_supervisors_review_of_an_assessment_is_recorded_where_no_approval_is_run(
    client: TestClient, auth: Headers
):
    """T3's review approves nothing, so it is part of assessment in every district, not of
    the supervisor_approval process (Luwu Utara runs none)."""
    case_id, _referred = _intake_classify_consent_refer(
        client, auth, agency="uptd_ppa", district="luwu-utara"
    )
    client.post(
        f"/api/v1/cases/{case_id}/assessments",
        json={"kind": "initial_home_visit", "domain": "social_spiritual", "findings": "Safe."},
        headers=auth("coordinator"),
    )

    reviewed = client.post(
        f"/api/v1/cases/{case_id}/assessment-reviews",
        json={"outcome": "agreed"},
        headers=auth("coordinator", user="kepala-uptd"),
    )

    assert reviewed.status_code == 200, reviewed.text


def test_a_profile_shows_the_optional_processes_its_district_runs(
    client: TestClient, auth: Headers
):
    processes = {
        district: client.get(f"/api/v1/profiles/{district}", headers=auth("coordinator")).json()[
            "processes"
        ]
        for district in REGISTER_CODES
    }

    assert processes == {
        "kota-batu": ["mediation"],
        "kutai-timur": ["outreach", "reintegration", "supervisor_approval"],
        "luwu-utara": [],
        "purwakarta": ["mediation"],
        "tanjungpinang": ["shelter"],
    }


def test_tanjungpinangs_kabid_reviews_the_assessment_and_the_timeline_says_t3(
    client: TestClient, auth: Headers
):
    """T3 "koordinasi dengan atasan tentang hasil assessment" by the Kabid Rehabilitasi."""
    dinsos = {"agency": "social", "district": "tanjungpinang"}
    case_id, _referred = _intake_classify_consent_refer(client, auth, **dinsos)
    client.post(
        f"/api/v1/cases/{case_id}/assessments",
        json={"kind": "initial_home_visit", "domain": "social_spiritual", "findings": "Safe."},
        headers=auth("coordinator", **dinsos),
    )

    reviewed = client.post(
        f"/api/v1/cases/{case_id}/assessment-reviews",
        json={"outcome": "agreed"},
        headers=auth("coordinator", user="kabid-rehabilitasi", **dinsos),
    )

    assert reviewed.status_code == 200, reviewed.text
    timeline = client.get(
        f"/api/v1/cases/{case_id}/timeline", headers=auth("auditor", district="tanjungpinang")
    ).json()
    assert "T3" in [entry["sop_step"] for entry in timeline["entries"]]


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


def test_tanjungpinangs_referral_falls_due_on_day_3_and_is_overdue_after_day_7(
    client: TestClient, auth: Headers
):
    """T4 "3-7 hari": the due-steps view and the timeline give both ends of the range."""
    dinsos = {"agency": "social", "district": "tanjungpinang"}
    case_id, referred = _intake_classify_consent_refer(client, auth, **dinsos)
    assert referred == 200

    due = client.get(f"/api/v1/cases/{case_id}/due-steps", headers=auth("coordinator", **dinsos))
    timeline = client.get(
        f"/api/v1/cases/{case_id}/timeline", headers=auth("auditor", district="tanjungpinang")
    )

    (referral,) = [step for step in due.json()["steps"] if step["code"] == "L4.1"]
    started = datetime.fromisoformat(referral["started_at"])
    assert datetime.fromisoformat(referral["due_from"]) - started == timedelta(days=3)
    assert datetime.fromisoformat(referral["due_at"]) - started == timedelta(days=7)
    (check,) = [step for step in timeline.json()["steps"] if step["code"] == "L4.1"]
    assert check["due_from"] == referral["due_from"]


def test_a_profile_shows_its_limits_per_service_and_its_approval_step(
    client: TestClient, auth: Headers
):
    luwu = client.get("/api/v1/profiles/luwu-utara", headers=auth("coordinator")).json()
    kutai = client.get("/api/v1/profiles/kutai-timur", headers=auth("coordinator")).json()

    (referral,) = [step for step in luwu["steps"] if step["code"] == "L4.1"]
    assert referral["limit_by_service_minutes"] == {"specialist_assessment": 2 * 24 * 60}
    assert (luwu["referral_approval"], kutai["referral_approval"]) == (None, "K-C8")
    assert {"K-C3", "K-C5", "K-C8"} <= {step["code"] for step in kutai["steps"]}


def test_a_profile_shows_its_recurring_windows_and_its_own_step_numbers(
    client: TestClient, auth: Headers
):
    luwu = client.get("/api/v1/profiles/luwu-utara", headers=auth("coordinator")).json()
    batu = client.get("/api/v1/profiles/kota-batu", headers=auth("coordinator")).json()

    (accompaniment,) = luwu["windows"]
    assert (accompaniment["code"], accompaniment["activity"]) == ("L4.4", "accompaniment")
    assert (accompaniment["every_minutes"], accompaniment["length_minutes"]) == (
        30 * 24 * 60,
        90 * 24 * 60,
    )
    assert (batu["windows"], batu["step_numbers"]) == ([], {"P5": "B5"})


@pytest.mark.parametrize(
    ("kind", "routing", "stage"),
    [
        ("education_service", ["served"], "identification"),  # B-K10: served in Kota Batu
        ("other_child_rights_service", ["served"], "identification"),  # B-K14
        ("rights_consultation", ["f"], "closed"),  # B-K15: information about rights (rule f)
    ],
)
def test_kota_batu_serves_complaints_about_childrens_services_that_rule_f_would_close(
    client: TestClient, auth: Headers, kind: str, routing: list[str], stage: str
):
    """Kota Batu's "Pengaduan yang mendapatkan Layanan" 10-14 stay with the P2TP2A."""
    office = auth("coordinator", district="kota-batu")
    case_id = client.post(
        "/api/v1/cases", json=a_report_body(), headers=auth("intake_officer", district="kota-batu")
    ).json()["case_id"]
    kind_recorded = client.post(
        f"/api/v1/cases/{case_id}/complaint-kind", json={"kind": kind}, headers=office
    )
    client.post(
        f"/api/v1/cases/{case_id}/assessments",
        json={"kind": "initial_home_visit", "domain": "social_spiritual", "findings": "Seen."},
        headers=office,
    )
    classified = client.post(
        f"/api/v1/cases/{case_id}/classification",
        json=a_classification(case_type="other"),
        headers=office,
    )
    if stage == "closed":
        client.post(
            f"/api/v1/cases/{case_id}/handover", json={"target": "information_only"}, headers=office
        )

    assert kind_recorded.status_code == 200, kind_recorded.text
    assert classified.status_code == 200, classified.text
    case_file = client.get(f"/api/v1/cases/{case_id}", headers=office).json()
    assert case_file["complaint_kind"] == kind
    assert case_file["classification"]["routing_rules"] == routing
    assert case_file["stage"] == stage


def test_a_district_without_complaint_kinds_refuses_one_naming_the_rule(
    client: TestClient, auth: Headers
):
    case_id = client.post(
        "/api/v1/cases", json=a_report_body(), headers=auth("intake_officer")
    ).json()["case_id"]

    refused = client.post(
        f"/api/v1/cases/{case_id}/complaint-kind",
        json={"kind": "education_service"},
        headers=auth("coordinator"),
    )

    assert refused.status_code == 409
    assert refused.json()["rule"] == "complaint_kind_not_in_profile"
    assert "education_service" not in refused.text
