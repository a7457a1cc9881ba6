"""Documents on a case over HTTP: upload, event, timeline, chain, access log, agency matrix."""

import hashlib
from typing import Any
from uuid import UUID

import psycopg
from fastapi.testclient import TestClient

from services.access_log import AccessQuery
from services.cases import Cases
from services.settings import Settings
from tests.support.documents import GPS_LATITUDE, a_jpeg_with_gps, a_pdf, an_elf
from tests.support.lifecycle import Headers, a_report_body, open_referred_case

VISUM = a_pdf(b"BT (Visum et repertum No. 12/VER/2026) Tj ET")
MEDICAL_RECORD = a_pdf(b"BT (Rekam medis RSUD Andi Djemma) Tj ET")
POLICE = {"agency": "police", "user": "polres-ppa-01"}
SCHOOL = {"agency": "education", "user": "sdn-baebunta-01"}


def _case(client: TestClient, auth: Headers) -> str:
    response = client.post("/api/v1/cases", json=a_report_body(), headers=auth("intake_officer"))
    case_id: str = response.json()["case_id"]
    return case_id


def _upload(
    client: TestClient,
    auth: Headers,
    case_id: str,
    content: bytes,
    *,
    kind: str = "visum_et_repertum",
    media_type: str = "application/pdf",
    step: str | None = None,
    **headers: str,
) -> Any:
    params = {"kind": kind} | ({"step": step} if step else {})
    return client.post(
        f"/api/v1/cases/{case_id}/documents",
        params=params,
        content=content,
        headers=auth("intake_officer") | {"Content-Type": media_type, **headers},
    )


def _access(cases: Cases, case_id: str) -> list[Any]:
    log = cases.recorder.access_log.select_access(  # type: ignore[attr-defined]  # the PostgreSQL recorder's own
        AccessQuery(case_id=UUID(case_id), limit=1000)
    )
    return [entry.record for entry in log]


def _events_recorded(cases: Cases) -> int:
    return int(cases.recorder.max_notification_id() or 0)


def test_an_upload_records_the_attachment_with_its_hash_and_never_its_content(
    client: TestClient, auth: Headers, pg_cases: Cases
):
    case_id = _case(client, auth)

    response = _upload(client, auth, case_id, VISUM, step="L1.2")

    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["recorded"] == ["DocumentAttached"]
    assert response.headers["Location"].endswith(answer["document_id"])
    attached = pg_cases.history(UUID(case_id))[-1]
    assert attached.sha256 == hashlib.sha256(VISUM).hexdigest()
    assert (attached.kind, attached.step, attached.size) == (
        "visum_et_repertum",
        "L1.2",
        len(VISUM),
    )
    assert attached.media_type == "application/pdf"
    assert "Visum" not in repr(vars(attached))


def test_the_case_team_downloads_what_was_uploaded_and_the_read_is_logged(
    client: TestClient, auth: Headers, pg_cases: Cases
):
    case_id = _case(client, auth)
    document_id = _upload(client, auth, case_id, VISUM).json()["document_id"]

    response = client.get(
        f"/api/v1/cases/{case_id}/documents/{document_id}",
        headers=auth("coordinator", **{"X-Access-Purpose": "Berkas P7", "X-Request-ID": "dl-1"}),
    )

    assert response.status_code == 200
    assert response.content == VISUM
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-disposition"] == (f'attachment; filename="{document_id}.pdf"')
    [read] = [r for r in _access(pg_cases, case_id) if r.request_id == "dl-1"]
    assert (read.view, read.purpose, read.role) == ("download_document", "Berkas P7", "coordinator")


def test_the_attachment_shows_in_the_timeline_the_case_file_and_the_list(
    client: TestClient, auth: Headers
):
    case_id = _case(client, auth)
    document_id = _upload(client, auth, case_id, VISUM, step="L1.2").json()["document_id"]
    reader = auth("coordinator")

    timeline = client.get(f"/api/v1/cases/{case_id}/timeline", headers=reader).json()
    case_file = client.get(f"/api/v1/cases/{case_id}", headers=reader).json()
    listed = client.get(f"/api/v1/cases/{case_id}/documents", headers=reader).json()

    entry = timeline["entries"][-1]
    assert entry["type"] == "DocumentAttached"
    assert entry["sop_step"] == "L1.2"
    assert entry["summary_en"] == "Document attached: visum et repertum"
    assert entry["summary_id"] == "Dokumen dilampirkan: visum et repertum"
    [document] = case_file["documents"]
    assert listed == [document]
    assert document["document_id"] == document_id
    assert document["kind"] == "visum_et_repertum"
    assert document["step"] == "L1.2"
    assert document["size"] == len(VISUM)
    assert document["sha256"] == hashlib.sha256(VISUM).hexdigest()
    assert document["by"]["role"] == "intake_officer"


def test_the_hash_chain_still_verifies_and_covers_the_content_hash(
    client: TestClient, auth: Headers, pg_cases: Cases, database_url: str
):
    case_id = _case(client, auth)
    _upload(client, auth, case_id, VISUM)
    auditor = auth("auditor", agency="province")

    intact = client.get(f"/api/v1/cases/{case_id}/verification", headers=auditor).json()
    sha256 = hashlib.sha256(VISUM).hexdigest()
    with psycopg.connect(database_url) as conn:
        changed = conn.execute(
            "UPDATE cases_events SET state = "
            "convert_to(replace(convert_from(state, 'UTF8'), %s, %s), 'UTF8') "
            "WHERE position(%s::bytea in state) > 0",
            (sha256, "0" * 64, sha256.encode()),
        ).rowcount
    tampered = client.get(f"/api/v1/cases/{case_id}/verification", headers=auditor).json()

    assert intact["intact"] is True and intact["events"] == 2
    assert changed == 1
    assert tampered["intact"] is False
    assert tampered["events"] == 1  # the report verifies; the altered attachment does not


def test_a_jpeg_with_gps_exif_is_stored_without_it(client: TestClient, auth: Headers):
    case_id = _case(client, auth)
    photo = a_jpeg_with_gps()

    uploaded = _upload(
        client, auth, case_id, photo, kind="documentation_photo", media_type="image/jpeg"
    )
    document_id = uploaded.json()["document_id"]
    stored = client.get(
        f"/api/v1/cases/{case_id}/documents/{document_id}", headers=auth("coordinator")
    ).content

    assert uploaded.status_code == 201, uploaded.text
    assert stored.startswith(b"\xff\xd8") and stored.endswith(b"\xff\xd9")
    assert b"Exif" not in stored and GPS_LATITUDE not in stored
    assert len(stored) < len(photo)
    listed = client.get(f"/api/v1/cases/{case_id}/documents", headers=auth("coordinator")).json()
    assert listed[0]["sha256"] == hashlib.sha256(stored).hexdigest()


def test_a_renamed_executable_is_refused_and_nothing_is_recorded(
    client: TestClient, auth: Headers, pg_cases: Cases
):
    case_id = _case(client, auth)
    before = _events_recorded(pg_cases)

    response = _upload(client, auth, case_id, an_elf(), kind="photo", media_type="image/jpeg")

    assert response.status_code == 415
    assert response.json()["rule"] == "executable_content"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert _events_recorded(pg_cases) == before


def test_a_forged_pdf_is_refused_naming_the_rule(client: TestClient, auth: Headers):
    case_id = _case(client, auth)
    forged = b"%PDF-1.7\n" + b"MZ\x90\x00 not a document at all" * 20

    response = _upload(client, auth, case_id, forged)

    assert response.status_code == 415
    assert response.json()["rule"] == "malformed_pdf"


def test_a_photo_larger_than_other_requests_may_be_is_accepted(client: TestClient, auth: Headers):
    case_id = _case(client, auth)
    request_limit = Settings(_env_file=None).api_max_body_bytes  # type: ignore[call-arg]
    scan = a_pdf(b"x" * 2 * request_limit)

    response = _upload(client, auth, case_id, scan, kind="referral_letter")

    assert response.status_code == 201, response.text


def test_an_oversized_file_is_refused_with_413(client: TestClient, auth: Headers, pg_cases: Cases):
    case_id = _case(client, auth)
    limit = client.app.state.documents.max_bytes  # type: ignore[attr-defined]
    before = _events_recorded(pg_cases)

    response = _upload(client, auth, case_id, a_pdf(b"x" * limit))

    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert _events_recorded(pg_cases) == before


def test_an_unknown_kind_or_step_is_refused_naming_the_query_field(
    client: TestClient, auth: Headers
):
    case_id = _case(client, auth)

    unknown_kind = _upload(client, auth, case_id, VISUM, kind="passport_of_Mawar")
    unknown_step = _upload(client, auth, case_id, VISUM, step="Z9.9")

    assert unknown_kind.status_code == 422
    assert [e["field"] for e in unknown_kind.json()["errors"]] == ["query.kind"]
    assert "Mawar" not in unknown_kind.text
    assert unknown_step.status_code == 422
    assert [e["field"] for e in unknown_step.json()["errors"]] == ["query.step"]
    assert "Z9.9" not in unknown_step.text


def test_a_retried_upload_with_its_idempotency_key_records_once(
    client: TestClient, auth: Headers, pg_cases: Cases
):
    case_id = _case(client, auth)
    key = {"Idempotency-Key": "upload-visum-0001"}

    first = _upload(client, auth, case_id, VISUM, **key)
    again = _upload(client, auth, case_id, VISUM, **key)
    other = _upload(client, auth, case_id, MEDICAL_RECORD, kind="medical_record", **key)

    assert first.status_code == 201 and again.status_code == 201
    assert again.json() == {**first.json(), "replayed": True}
    assert other.status_code == 409
    assert len(pg_cases.history(UUID(case_id))) == 2


def test_the_same_content_twice_is_refused_as_already_attached(client: TestClient, auth: Headers):
    case_id = _case(client, auth)
    _upload(client, auth, case_id, VISUM)

    response = _upload(client, auth, case_id, VISUM)

    assert response.status_code == 409
    assert response.json()["rule"] == "document_already_attached"


def test_an_agency_fetches_only_the_kinds_the_matrix_gives_it_on_a_case_referred_to_it(
    client: TestClient, auth: Headers, pg_cases: Cases
):
    case_id = open_referred_case(
        client, auth("intake_officer"), {"police": "legal_process", "education": "return_to_school"}
    )
    visum = _upload(client, auth, case_id, VISUM).json()["document_id"]
    medical = _upload(client, auth, case_id, MEDICAL_RECORD, kind="medical_record").json()[
        "document_id"
    ]

    def fetch(document_id: str, agency: dict[str, str], **extra: str) -> Any:
        return client.get(
            f"/api/v1/agencies/{agency['agency']}/cases/{case_id}/documents/{document_id}",
            headers=auth("agency_officer", **agency, **extra),
        )

    police_visum = fetch(visum, POLICE, **{"X-Request-ID": "police-visum"})
    police_medical = fetch(medical, POLICE)
    school_medical = fetch(medical, SCHOOL)
    school_visum = fetch(visum, SCHOOL)
    office_route = client.get(
        f"/api/v1/cases/{case_id}/documents/{visum}", headers=auth("agency_officer", **POLICE)
    )

    assert police_visum.status_code == 200 and police_visum.content == VISUM
    assert police_visum.headers["cache-control"] == "no-store"
    assert police_medical.status_code == 404
    assert school_medical.status_code == 404  # the school never gets a medical record
    assert school_visum.status_code == 404
    assert office_route.status_code == 403
    police_list = client.get(
        f"/api/v1/agencies/police/cases/{case_id}/documents",
        headers=auth("agency_officer", **POLICE),
    ).json()
    school_list = client.get(
        f"/api/v1/agencies/education/cases/{case_id}/documents",
        headers=auth("agency_officer", **SCHOOL),
    ).json()
    assert [(d["document_id"], d["kind"]) for d in police_list] == [(visum, "visum_et_repertum")]
    assert school_list == []
    records = _access(pg_cases, case_id)
    [granted] = [r for r in records if r.request_id == "police-visum"]
    assert (granted.view, granted.agency) == ("agency_download_document", "police")
    assert {r.view for r in records} >= {"agency_list_documents"}
    refused = [r for r in records if r.reason == "document_not_visible"]
    assert {r.agency for r in refused} == {"police", "education"}


def test_an_agency_the_case_was_not_referred_to_gets_404(client: TestClient, auth: Headers):
    case_id = _case(client, auth)
    visum = _upload(client, auth, case_id, VISUM).json()["document_id"]

    response = client.get(
        f"/api/v1/agencies/police/cases/{case_id}/documents/{visum}",
        headers=auth("agency_officer", **POLICE),
    )

    assert response.status_code == 404


def test_an_officer_of_another_agency_cannot_use_an_agencys_route(
    client: TestClient, auth: Headers
):
    case_id = open_referred_case(client, auth("intake_officer"), {"police": "legal_process"})
    visum = _upload(client, auth, case_id, VISUM).json()["document_id"]

    response = client.get(
        f"/api/v1/agencies/police/cases/{case_id}/documents/{visum}",
        headers=auth("agency_officer", **SCHOOL),
    )

    assert response.status_code == 403


def test_documents_of_a_shredded_case_are_gone_and_none_can_be_added(
    client: TestClient, auth: Headers
):
    case_id = _case(client, auth)
    visum = _upload(client, auth, case_id, VISUM).json()["document_id"]

    client.app.state.documents.store.shred_case(UUID(case_id))  # type: ignore[attr-defined]
    fetched = client.get(f"/api/v1/cases/{case_id}/documents/{visum}", headers=auth("coordinator"))
    added = _upload(client, auth, case_id, MEDICAL_RECORD, kind="medical_record")

    assert fetched.status_code == 404
    assert added.status_code == 409
    assert added.json()["rule"] == "documents_shredded"


def test_a_closed_case_takes_no_document_and_stores_none(
    client: TestClient, auth: Headers, database_url: str
):
    case_id = _case(client, auth)
    client.post(
        f"/api/v1/cases/{case_id}/classification",
        json={
            "case_type": "KTA",
            "risk_level": "low",
            "jurisdiction": "district",
            "emergency": False,
        },
        headers=auth("intake_officer"),
    )
    client.post(
        f"/api/v1/cases/{case_id}/consent",
        json={"given": False, "given_by": "parent"},
        headers=auth("intake_officer"),
    )

    response = _upload(client, auth, case_id, VISUM)

    assert response.status_code == 409
    assert response.json()["rule"] == "case_closed"
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM documents.contents").fetchone() == (0,)


def test_an_upload_naming_a_letter_the_case_has_not_is_refused_and_nothing_is_recorded(
    client: TestClient, auth: Headers, pg_cases: Cases
):
    case_id = _case(client, auth)
    head = _events_recorded(pg_cases)

    refused = client.post(
        f"/api/v1/cases/{case_id}/documents",
        params={"kind": "consent_form", "letter_id": "5b0e1c52-8a8c-5d0f-9d8e-3f1c2b4a6d7e"},
        content=VISUM,
        headers=auth("intake_officer") | {"Content-Type": "application/pdf"},
    )

    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "query.letter_id"
    assert "5b0e1c52" not in refused.text
    assert _events_recorded(pg_cases) == head


def test_an_agency_fetches_the_recommendation_letter_issued_for_its_referral_t4(
    client: TestClient, auth: Headers
):
    """Tanjungpinang T4: the surat rekomendasi goes with the referral; the matrix gives the
    receiving agency its kind (recommendation_letter), the school none of it."""
    office = auth("coordinator", agency="social", district="tanjungpinang")
    case_id = open_referred_case(client, office, {"health": "medical_care"})
    referral_id = client.get(f"/api/v1/cases/{case_id}", headers=office).json()["referrals"][0][
        "referral_id"
    ]
    issued = client.post(
        f"/api/v1/cases/{case_id}/letters",
        json={"kind": "surat_rekomendasi", "referral_id": referral_id},
        headers=office,
    )
    assert issued.status_code == 201, issued.text
    health = auth("agency_officer", agency="health", district="tanjungpinang")

    listed = client.get(f"/api/v1/agencies/health/cases/{case_id}/documents", headers=health)
    (document,) = listed.json()
    fetched = client.get(
        f"/api/v1/agencies/health/cases/{case_id}/documents/{document['document_id']}",
        headers=health,
    )

    assert document["kind"] == "recommendation_letter"
    assert fetched.status_code == 200
    assert (
        fetched.content
        == client.get(
            f"/api/v1/cases/{case_id}/letters/{issued.json()['letter_id']}", headers=office
        ).content
    )
