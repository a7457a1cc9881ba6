"""The office's letters over HTTP, on cases walked along each district's SOP: issued as
Case.LetterIssued with the PDF stored as a document of the case, read back as the same
PDF bytes (checked against the recorded hash, never cached, access-logged), verified by
the printed code, kept from agencies, and their signed scans attached back."""

import hashlib
import re
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from services.cases import Cases
from tests.support.documents import a_jpeg_with_gps
from tests.support.lifecycle import Headers, a_report_body

LUWU_UTARA = {"agency": "uptd_ppa", "district": "luwu-utara"}
TANJUNGPINANG = {"agency": "social", "district": "tanjungpinang"}
KUTAI_TIMUR = {"agency": "social", "district": "kutai-timur"}
CASE_WORKER = "rina.pendamping"


class Office:
    """One district office's case team acting on one case over HTTP."""

    def __init__(self, client: TestClient, auth: Headers, where: dict[str, str]) -> None:
        self.client, self.auth, self.where = client, auth, where
        self.case_id = ""

    def headers(self, role: str = "coordinator", **extra: str) -> dict[str, str]:
        user = {"user": CASE_WORKER} if role == "case_worker" else {}
        return self.auth(role, **self.where, **user, **extra)

    def report(self) -> "Office":
        reported = self.client.post(
            "/api/v1/cases", json=a_report_body(), headers=self.headers("intake_officer")
        )
        assert reported.status_code == 201, reported.text
        self.case_id = reported.json()["case_id"]
        return self

    def step(self, path: str, body: dict[str, Any], role: str = "coordinator") -> dict[str, Any]:
        response = self.client.post(
            f"/api/v1/cases/{self.case_id}/{path}", json=body, headers=self.headers(role)
        )
        assert response.status_code == 200, (path, response.text)
        result: dict[str, Any] = response.json()
        return result

    def issue(self, kind: str, role: str = "coordinator", **body: Any) -> dict[str, Any]:
        response = self.client.post(
            f"/api/v1/cases/{self.case_id}/letters",
            json={"kind": kind, **body},
            headers=self.headers(role),
        )
        assert response.status_code == 201, (kind, response.text)
        result: dict[str, Any] = response.json()
        assert response.headers["Location"].endswith(f"/letters/{result['letter_id']}")
        return result

    def letter(self, letter_id: str, role: str = "coordinator", **extra: str) -> Any:
        return self.client.get(
            f"/api/v1/cases/{self.case_id}/letters/{letter_id}", headers=self.headers(role, **extra)
        )

    def file(self) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/cases/{self.case_id}", headers=self.headers())
        result: dict[str, Any] = response.json()
        return result

    def classify(self) -> None:
        self.step(
            "classification",
            {"case_type": "KTA", "risk_level": "high", "jurisdiction": "district"}
            | {"emergency": False},
        )

    def consent(self) -> None:
        self.step("consent", {"given": True, "given_by": "parent", "document_ref": "IC-1"})

    def assess(self) -> None:
        self.step(
            "assessments",
            {
                "kind": "initial_home_visit",
                "domain": "psychological",
                "findings": "Anak cemas dan sulit tidur.",
                "recommended_services": ["psychological_counselling"],
            },
            "case_worker",
        )


def pdf_text(pdf: bytes) -> str:
    return " ".join(m.decode("cp1252") for m in re.findall(rb"\(((?:[^()\\]|\\.)*)\) Tj", pdf))


def test_luwu_utara_issues_its_four_letters_along_the_sop_each_numbered_in_turn(
    client: TestClient, auth: Headers
):
    office = Office(client, auth, LUWU_UTARA).report()
    office.classify()
    office.step("case-worker", {"case_worker_id": CASE_WORKER})
    assignment = office.issue("surat_tugas")  # L1.7
    consent_form = office.issue("formulir_persetujuan", "case_worker")  # L1.9-10
    office.consent()
    office.assess()
    office.step(
        "case-report", {"summary": "Kekerasan fisik.", "needs": ["legal_process"]}, "case_worker"
    )
    case_report = office.issue("laporan_kasus", "case_worker")  # L2.7
    office.step(
        "intervention-plan",
        {"goals": ["aman"], "agreed_with": ["parent"]}
        | {"services": [{"service_type": "psychological_counselling", "agency": "uptd_ppa"}]},
        "case_worker",
    )
    office.step(
        "monitoring-visits",
        {"mode": "home_visit", "findings": "pulih", "services_on_track": True, "recovered": True},
        "case_worker",
    )
    termination_form = office.issue("formulir_terminasi", "case_worker")  # L6.2

    letters = office.file()["letters"]
    year = letters[0]["number"].rsplit("/", 1)[1]
    assert [
        (letter["kind"], letter["step"], letter["number"].split("/")[:3]) for letter in letters
    ] == [
        ("surat_tugas", "L1.7", ["001", "ST", "UPTD-PPA"]),
        ("formulir_persetujuan", "L1.9-10", ["002", "IC", "UPTD-PPA"]),
        ("laporan_kasus", "L2.7", ["003", "LK", "UPTD-PPA"]),
        ("formulir_terminasi", "L6.2", ["004", "TRM", "UPTD-PPA"]),
    ]
    assert all(letter["number"].endswith(f"/{year}") for letter in letters)
    for issued in (assignment, consent_form, case_report, termination_form):
        assert issued["recorded"] == ["LetterIssued", "DocumentAttached"]
    assert [letter["letter_id"] for letter in letters] == [
        issued["letter_id"] for issued in (assignment, consent_form, case_report, termination_form)
    ]
    report_pdf = office.letter(case_report["letter_id"]).content
    assert "LAPORAN KASUS" in pdf_text(report_pdf)
    assert "Kekerasan fisik." in pdf_text(report_pdf)


def test_a_letter_reads_back_as_the_same_bytes_its_event_hashed_never_cached(
    client: TestClient, auth: Headers
):
    office = Office(client, auth, LUWU_UTARA).report()
    office.classify()
    issued = office.issue("formulir_persetujuan")
    office.step("case-worker", {"case_worker_id": CASE_WORKER})  # the case moves on

    first, again = office.letter(issued["letter_id"]), office.letter(issued["letter_id"])

    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert first.headers["Content-Type"] == "application/pdf"
    assert first.headers["Cache-Control"] == "no-store"
    (letter,) = office.file()["letters"]
    assert hashlib.sha256(first.content).hexdigest() == letter["sha256"]
    assert f"Kode verifikasi: {letter['verification_code']}" in pdf_text(first.content)
    assert "Mawar" in pdf_text(first.content)


def test_reading_a_letter_is_recorded_in_the_access_log_with_its_purpose(
    client: TestClient, auth: Headers
):
    office = Office(client, auth, LUWU_UTARA).report()
    office.classify()
    issued = office.issue("formulir_persetujuan")

    office.letter(issued["letter_id"], "intake_officer", **{"X-Access-Purpose": "dicetak"})

    log = client.get(
        f"/api/v1/cases/{office.case_id}/access-log", headers=office.headers("coordinator")
    ).json()["entries"]
    assert ("intake_officer.uptd_ppa", "read_letter", "dicetak") in [
        (entry["user_id"], entry["view"], entry["purpose"]) for entry in log
    ]


def test_a_printed_code_verifies_its_letter_for_the_office_and_nobody_else(
    client: TestClient, auth: Headers
):
    office = Office(client, auth, LUWU_UTARA).report()
    office.classify()
    office.issue("formulir_persetujuan")
    (letter,) = office.file()["letters"]
    url = f"/api/v1/letters/verify/{letter['verification_code']}"

    verified = client.get(url, headers=office.headers("intake_officer"))
    unknown = client.get("/api/v1/letters/verify/0123456789abcdef", headers=office.headers())
    elsewhere = client.get(url, headers=auth("coordinator", district="kota-batu"))
    malformed = client.get("/api/v1/letters/verify/NOT-A-CODE", headers=office.headers())

    assert verified.status_code == 200, verified.text
    answer = verified.json()
    register_number = office.file()["register_number"]
    assert answer | {"issued_at": None} == {
        "valid": True,
        "register_number": register_number,
        "district": "luwu-utara",
        "kind": "formulir_persetujuan",
        "number": letter["number"],
        "step": "L1.9-10",
        "issued_at": None,
        "sha256": letter["sha256"],
    }
    assert "Mawar" not in verified.text
    assert unknown.status_code == elsewhere.status_code == 404
    assert unknown.json() == elsewhere.json()
    assert malformed.status_code == 422


def test_an_agency_verifies_a_letter_of_a_case_referred_to_it_but_never_reads_the_pdf(
    client: TestClient, auth: Headers
):
    office = Office(client, auth, TANJUNGPINANG).report()
    office.classify()
    office.consent()
    referral = office.step("referrals", {"service_type": "medical_care", "agency": "health"})
    issued = office.issue("surat_rekomendasi", referral_id=referral["referral_id"])  # T4
    (letter,) = office.file()["letters"]
    health = auth("agency_officer", agency="health", district="tanjungpinang")
    police = auth("agency_officer", agency="police", district="tanjungpinang")

    read = client.get(
        f"/api/v1/cases/{office.case_id}/letters/{issued['letter_id']}", headers=health
    )
    verified = client.get(f"/api/v1/letters/verify/{letter['verification_code']}", headers=health)
    not_referred = client.get(
        f"/api/v1/letters/verify/{letter['verification_code']}", headers=police
    )

    assert read.status_code == 403
    assert read.json()["rule"] == "agency_view_only"
    assert verified.status_code == 200
    assert verified.json()["kind"] == "surat_rekomendasi"
    assert not_referred.status_code == 404
    log = client.get(
        f"/api/v1/cases/{office.case_id}/access-log", headers=office.headers("coordinator")
    ).json()["entries"]
    assert ("agency_officer.police", "verify_letter", "not_found") in [
        (entry["user_id"], entry["view"], entry["outcome"]) for entry in log
    ]


def test_tanjungpinang_issues_its_laporan_sosial_and_a_recommendation_for_baznas(
    client: TestClient, auth: Headers
):
    office = Office(client, auth, TANJUNGPINANG).report()
    office.classify()
    office.step("case-worker", {"case_worker_id": CASE_WORKER})
    office.consent()
    office.assess()
    social_report = office.issue("laporan_sosial", "case_worker")  # T2
    referral = office.step("referrals", {"service_type": "medical_care", "agency": "health"})
    recommendation = office.issue("surat_rekomendasi", referral_id=referral["referral_id"])

    report_text = pdf_text(office.letter(social_report["letter_id"]).content)
    recommendation_text = pdf_text(office.letter(recommendation["letter_id"]).content)

    assert "LAPORAN SOSIAL" in report_text
    assert "DINAS SOSIAL KOTA TANJUNGPINANG" in report_text
    assert "Anak cemas dan sulit tidur." in report_text
    assert "SURAT REKOMENDASI" in recommendation_text
    assert "perawatan medis" in recommendation_text
    assert "/REK/DINSOS-RS/" in recommendation_text


def test_kutai_timur_refers_with_a_recommendation_and_the_berita_acara_rujukan_k_c8(
    client: TestClient, auth: Headers
):
    office = Office(client, auth, KUTAI_TIMUR).report()
    office.classify()
    office.consent()
    proposed = office.step(
        "recommendations",
        {"service_type": "medical_care", "agency": "health", "rationale": "Butuh visum."},
        "case_worker",
    )
    approved = office.step(
        "recommendation-approvals",
        {
            "recommendation_id": proposed["recommendation_id"],
            "recommendation_letter_ref": "REK",
            "referral_record_ref": "BAR",
        },
        "coordinator",
    )
    referral_id = approved["referral_id"]

    recommendation = office.issue("surat_rekomendasi", referral_id=referral_id)
    record = office.issue("berita_acara_rujukan", referral_id=referral_id)

    record_text = pdf_text(office.letter(record["letter_id"]).content)
    assert "BERITA ACARA RUJUKAN" in record_text
    assert "Pihak yang Menerima" in record_text
    assert "PKSAI" in record_text
    numbers = [letter["number"] for letter in office.file()["letters"]]
    assert [number.split("/")[:2] for number in numbers] == [["001", "REK"], ["002", "BAR"]]
    assert recommendation["letter_id"] != record["letter_id"]
    code = office.file()["letters"][0]["verification_code"]
    verified = client.get(f"/api/v1/letters/verify/{code}", headers=office.headers()).json()
    assert verified["step"] == "K-C8"


def test_a_retried_issue_with_its_idempotency_key_takes_no_second_number(
    client: TestClient, auth: Headers
):
    office = Office(client, auth, LUWU_UTARA).report()
    office.classify()
    url = f"/api/v1/cases/{office.case_id}/letters"
    headers = office.headers(**{"Idempotency-Key": "letter-retry-0001"})

    first = client.post(url, json={"kind": "formulir_persetujuan"}, headers=headers)
    retry = client.post(url, json={"kind": "formulir_persetujuan"}, headers=headers)
    other = client.post(url, json={"kind": "surat_tugas"}, headers=headers)

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json() | {"replayed": True}
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 409
    assert len(office.file()["letters"]) == 1


def test_a_letter_its_district_does_not_issue_or_before_its_facts_is_refused(
    client: TestClient, auth: Headers, pg_cases: Cases
):
    office = Office(client, auth, LUWU_UTARA).report()
    head = pg_cases.recorder.max_notification_id()
    url = f"/api/v1/cases/{office.case_id}/letters"

    social_report = client.post(url, json={"kind": "laporan_sosial"}, headers=office.headers())
    early = client.post(url, json={"kind": "surat_tugas"}, headers=office.headers())
    unknown = client.post(url, json={"kind": "surat_cinta"}, headers=office.headers())
    by_agency = client.post(
        url, json={"kind": "surat_tugas"}, headers=auth("agency_officer", agency="police")
    )
    luwu_head = pg_cases.recorder.max_notification_id()
    tanjungpinang = Office(client, auth, TANJUNGPINANG).report()
    tanjungpinang.classify()
    tanjungpinang_head = pg_cases.recorder.max_notification_id()
    no_such_referral = client.post(
        f"/api/v1/cases/{tanjungpinang.case_id}/letters",
        json={"kind": "surat_rekomendasi", "referral_id": "no-such-referral"},
        headers=tanjungpinang.headers(),
    )

    assert (social_report.status_code, social_report.json()["rule"]) == (
        409,
        "letter_not_in_profile",
    )
    assert (early.status_code, early.json()["rule"], early.json()["step"]) == (
        409,
        "letter_content_missing",
        "L1.7",
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "body.kind"
    assert by_agency.status_code == 404
    assert no_such_referral.status_code == 404
    assert "no-such-referral" not in no_such_referral.text
    assert luwu_head == head
    assert pg_cases.recorder.max_notification_id() == tanjungpinang_head


def test_the_timeline_shows_the_letter_with_its_number(client: TestClient, auth: Headers):
    office = Office(client, auth, LUWU_UTARA).report()
    office.classify()
    office.issue("formulir_persetujuan")

    timeline = client.get(
        f"/api/v1/cases/{office.case_id}/timeline", headers=office.headers()
    ).json()

    entry = timeline["entries"][-2]
    assert (entry["type"], entry["sop_step"]) == ("LetterIssued", "L1.9-10")
    assert entry["summary_id"].startswith("Formulir Pernyataan Persetujuan")
    assert "/IC/UPTD-PPA/" in entry["summary_id"]


def test_a_districts_profile_shows_its_letterhead_and_numbering(client: TestClient, auth: Headers):
    kutai = client.get("/api/v1/profiles/kutai-timur", headers=auth("coordinator")).json()

    assert kutai["letterhead"]["numbering"] == "{seq}/{code}/PKSAI/{roman_month}/{year}"
    assert "berita_acara_rujukan" in kutai["letterhead"]["kinds"]
    assert kutai["step_numbers"]["T4"] == "K-C8"


def test_an_issued_letters_pdf_is_a_document_of_the_case_that_says_which_letter_it_is(
    client: TestClient, auth: Headers
):
    office = Office(client, auth, LUWU_UTARA).report()
    office.classify()
    issued = office.issue("formulir_persetujuan")  # L1.9-10

    case_file = office.file()
    (letter,) = case_file["letters"]
    (document,) = case_file["documents"]
    stored = client.get(
        f"/api/v1/cases/{office.case_id}/documents/{document['document_id']}",
        headers=office.headers(),
    )
    timeline = client.get(
        f"/api/v1/cases/{office.case_id}/timeline", headers=office.headers()
    ).json()

    assert letter["document_id"] == document["document_id"]
    assert letter["signed_copies"] == []
    assert (document["letter_id"], document["signed_copy_of"]) == (issued["letter_id"], None)
    assert (document["kind"], document["step"], document["media_type"]) == (
        "consent_form",
        "L1.9",
        "application/pdf",
    )
    assert document["sha256"] == letter["sha256"]
    assert stored.content == office.letter(issued["letter_id"]).content
    entry = timeline["entries"][-1]
    assert entry["type"] == "DocumentAttached"
    assert entry["summary_en"] == (
        f"The PDF of letter number {letter['number']} stored as a document: consent form"
    )
    assert letter["number"] in entry["summary_id"]


def test_a_retried_issue_stores_its_pdf_once(client: TestClient, auth: Headers, pg_cases: Cases):
    office = Office(client, auth, LUWU_UTARA).report()
    office.classify()
    url = f"/api/v1/cases/{office.case_id}/letters"
    headers = office.headers(**{"Idempotency-Key": "letter-retry-0002"})

    first = client.post(url, json={"kind": "formulir_persetujuan"}, headers=headers)
    head = pg_cases.recorder.max_notification_id()
    retry = client.post(url, json={"kind": "formulir_persetujuan"}, headers=headers)

    assert first.status_code == retry.status_code == 201
    assert retry.json()["replayed"] is True
    assert pg_cases.recorder.max_notification_id() == head
    assert len(office.file()["documents"]) == 1


def test_the_signed_scan_of_a_letter_is_attached_back_and_listed_with_it(
    client: TestClient, auth: Headers
):
    """L1.9-10: the consent form, printed, signed by the parent, scanned, attached back."""
    office = Office(client, auth, LUWU_UTARA).report()
    office.classify()
    issued = office.issue("formulir_persetujuan")

    uploaded = client.post(
        f"/api/v1/cases/{office.case_id}/documents",
        params={"kind": "consent_form", "step": "L1.9", "letter_id": issued["letter_id"]},
        content=a_jpeg_with_gps(),
        headers=office.headers() | {"Content-Type": "image/jpeg"},
    )

    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["recorded"] == ["DocumentAttached", "SignedCopyAttached"]
    case_file = office.file()
    (letter,) = case_file["letters"]
    pdf, scan = case_file["documents"]
    assert letter["signed_copies"] == [uploaded.json()["document_id"]]
    assert letter["document_id"] == pdf["document_id"]
    assert (scan["document_id"], scan["signed_copy_of"], scan["letter_id"]) == (
        uploaded.json()["document_id"],
        issued["letter_id"],
        None,
    )
    timeline = client.get(
        f"/api/v1/cases/{office.case_id}/timeline", headers=office.headers()
    ).json()
    assert [entry["type"] for entry in timeline["entries"][-2:]] == [
        "DocumentAttached",
        "SignedCopyAttached",
    ]
    assert timeline["entries"][-1]["summary_en"] == (
        f"The signed copy of letter number {letter['number']} attached"
    )


def test_a_signed_copy_of_a_letter_the_case_never_issued_is_refused_naming_the_field(
    client: TestClient, auth: Headers, pg_cases: Cases
):
    office = Office(client, auth, LUWU_UTARA).report()
    office.classify()
    office.issue("formulir_persetujuan")
    other = Office(client, auth, LUWU_UTARA).report()
    other.classify()
    elsewhere = other.issue("formulir_persetujuan")
    head = pg_cases.recorder.max_notification_id()

    answers = [
        client.post(
            f"/api/v1/cases/{office.case_id}/documents",
            params={"kind": "consent_form", "letter_id": letter_id},
            content=a_jpeg_with_gps(),
            headers=office.headers() | {"Content-Type": "image/jpeg"},
        )
        for letter_id in (elsewhere["letter_id"], "00000000-0000-0000-0000-000000000000")
    ]
    malformed = client.post(
        f"/api/v1/cases/{office.case_id}/documents",
        params={"kind": "consent_form", "letter_id": "surat-ku"},
        content=a_jpeg_with_gps(),
        headers=office.headers() | {"Content-Type": "image/jpeg"},
    )

    for answer in (*answers, malformed):
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["field"] == "query.letter_id"
    assert elsewhere["letter_id"] not in answers[0].text
    assert "surat-ku" not in malformed.text
    assert pg_cases.recorder.max_notification_id() == head
    assert len(office.file()["documents"]) == 1


def test_no_letter_is_issued_on_a_case_whose_documents_were_destroyed(
    client: TestClient, auth: Headers, pg_cases: Cases
):
    office = Office(client, auth, LUWU_UTARA).report()
    office.classify()
    client.app.state.documents.store.shred_case(UUID(office.case_id))  # type: ignore[attr-defined]
    head = pg_cases.recorder.max_notification_id()

    refused = client.post(
        f"/api/v1/cases/{office.case_id}/letters",
        json={"kind": "formulir_persetujuan"},
        headers=office.headers(),
    )

    assert (refused.status_code, refused.json()["rule"]) == (409, "documents_shredded")
    assert pg_cases.recorder.max_notification_id() == head
    assert office.file()["letters"] == []
