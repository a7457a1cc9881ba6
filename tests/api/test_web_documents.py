"""The case file's documents and letters in the browser: attached, issued and downloaded
through the same services as the API, never cached, never named after the person, and
each download in the access log."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi.testclient import TestClient

from domain.actors import Actor
from gateways.web.sessions import COOKIE_NAME, BrowserSession, SessionStore
from services.access_log import CaseRead
from services.cases import Cases
from services.documents import Documents
from tests.support.documents import a_pdf, an_elf
from tests.support.lifecycle import Headers, a_report_body, open_referred_case

pytestmark = pytest.mark.integration

CASE_WORKER = Actor("case_worker.uptd_ppa", "case_worker", "uptd_ppa", "luwu-utara")
AUDITOR = Actor("auditor.uptd_ppa", "auditor", "uptd_ppa", "luwu-utara")
POLICE = Actor("agency_officer.police", "agency_officer", "police", "luwu-utara")
# What a browser sends as the file's name: it names the victim, so it must go nowhere.
PERSONAL_FILE_NAME = "visum Siti Aminah.pdf"


def _case(client: TestClient, auth: Headers) -> str:
    response = client.post("/api/v1/cases", json=a_report_body(), headers=auth("intake_officer"))
    assert response.status_code == 201
    case_id: str = response.json()["case_id"]
    return case_id


def _logged_in(client: TestClient, actor: Actor) -> BrowserSession:
    store: SessionStore = client.app.state.web_sessions  # type: ignore[attr-defined]
    session = store.open(actor, now=datetime.now(UTC))
    client.cookies.set(COOKIE_NAME, session.session_id)
    return session


def _attach(
    client: TestClient, session: BrowserSession, case_id: str, content: bytes, **fields: str
) -> Any:
    return client.post(
        f"/cases/{case_id}/documents",
        data={"csrf_token": session.csrf_token, "form_key": "attach-1", **fields},
        files={"file": (PERSONAL_FILE_NAME, content, "application/pdf")},
        follow_redirects=False,
    )


def _views(cases: Cases, case_id: str, view: str) -> list[str]:
    entries = cases.access_log_of_case(AUDITOR, UUID(case_id), CaseRead(view="test"))
    return [entry.record.user_id for entry in entries if entry.record.view == view]


def _assert_a_private_attachment(response: Any) -> None:
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=")
    assert "Siti" not in disposition and "Aminah" not in disposition


def test_a_case_worker_attaches_a_document_and_downloads_it(
    client: TestClient, auth: Headers, pg_cases: Cases
) -> None:
    case_id = _case(client, auth)
    session = _logged_in(client, CASE_WORKER)
    form = client.get(f"/cases/{case_id}")
    assert 'enctype="multipart/form-data"' in form.text and "Lampirkan dokumen" in form.text

    attached = _attach(client, session, case_id, a_pdf(), kind="visum_et_repertum")

    assert attached.status_code == 303, attached.text
    assert attached.headers["location"].startswith(f"/cases/{case_id}?recorded=attach_document")
    listed = client.get(f"/api/v1/cases/{case_id}/documents", headers=auth("intake_officer"))
    (document,) = listed.json()
    shown = client.get(f"/cases/{case_id}")
    link = f"/cases/{case_id}/documents/{document['document_id']}"
    assert link in shown.text and PERSONAL_FILE_NAME not in shown.text
    downloaded = client.get(link)
    assert downloaded.status_code == 200
    assert downloaded.content == a_pdf()
    assert downloaded.headers["content-type"] == "application/pdf"
    _assert_a_private_attachment(downloaded)
    assert document["document_id"] in downloaded.headers["Content-Disposition"]
    assert _views(pg_cases, case_id, "document_download_page") == [CASE_WORKER.user_id]


@pytest.mark.parametrize(
    ("fields", "content", "status", "field", "said"),
    [
        ({}, a_pdf(), 422, "kind", "wajib diisi"),
        ({"kind": "visum_et_repertum"}, an_elf(), 415, "file", "executable_content"),
        ({"kind": "not_a_kind"}, a_pdf(), 422, "kind", "Pilih salah satu"),
        ({"kind": "visum_et_repertum"}, b"", 422, "file", "Pilih berkas"),
    ],
)
def test_a_refused_upload_names_the_field_in_indonesian_and_stores_nothing(
    client: TestClient,
    auth: Headers,
    pg_cases: Cases,
    fields: dict[str, str],
    content: bytes,
    status: int,
    field: str,
    said: str,
) -> None:
    case_id = _case(client, auth)
    session = _logged_in(client, CASE_WORKER)
    before = pg_cases.head_position()

    refused = _attach(client, session, case_id, content, **fields)

    assert refused.status_code == status
    assert f'id="document-{field}-error"' in refused.text and said in refused.text
    assert PERSONAL_FILE_NAME not in refused.text and "not_a_kind" not in refused.text
    assert refused.headers["Cache-Control"] == "no-store"
    assert f'href="/language/en?back=/cases/{case_id}"' in refused.text
    assert pg_cases.head_position() == before
    listed = client.get(f"/api/v1/cases/{case_id}/documents", headers=auth("intake_officer"))
    assert listed.json() == []


def test_a_file_over_the_document_limit_is_refused_with_413(
    client: TestClient, auth: Headers, pg_cases: Cases, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents: Documents = client.app.state.documents  # type: ignore[attr-defined]
    monkeypatch.setattr(documents, "max_bytes", len(a_pdf()) - 1)
    case_id = _case(client, auth)
    session = _logged_in(client, CASE_WORKER)
    before = pg_cases.head_position()

    refused = _attach(client, session, case_id, a_pdf(), kind="visum_et_repertum")

    assert refused.status_code == 413
    assert 'id="document-file-error"' in refused.text and "document_too_large" in refused.text
    assert pg_cases.head_position() == before


def test_a_body_far_over_the_document_limit_is_refused_unread(
    client: TestClient, auth: Headers, pg_cases: Cases, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents: Documents = client.app.state.documents  # type: ignore[attr-defined]
    monkeypatch.setattr(documents, "max_bytes", 1024)
    case_id = _case(client, auth)
    session = _logged_in(client, CASE_WORKER)
    before = pg_cases.head_position()

    refused = _attach(client, session, case_id, a_pdf() * 2048, kind="visum_et_repertum")

    assert refused.status_code == 413 and "document_too_large" in refused.text
    assert "Berkas lebih besar dari batas dokumen" in refused.text
    assert "ReportReceived" not in refused.text
    assert pg_cases.head_position() == before


def test_an_agency_officer_cannot_download_the_offices_document_by_url(
    client: TestClient, auth: Headers
) -> None:
    case_id = open_referred_case(client, auth("coordinator"), {"police": "legal_process"})
    uploaded = client.post(
        f"/api/v1/cases/{case_id}/documents",
        params={"kind": "visum_et_repertum"},
        content=a_pdf(),
        headers=auth("intake_officer", **{"Content-Type": "application/pdf"}),
    )
    document_id = uploaded.json()["document_id"]
    session = _logged_in(client, POLICE)

    downloaded = client.get(f"/cases/{case_id}/documents/{document_id}")
    attached = _attach(client, session, case_id, a_pdf(), kind="police_report")

    assert downloaded.status_code == 404 and downloaded.content != a_pdf()
    assert attached.status_code == 404


def test_the_letter_is_issued_and_opened_from_the_web(
    client: TestClient, auth: Headers, pg_cases: Cases
) -> None:
    case_id = _case(client, auth)
    # The consent form is written from the classification (L1.5).
    classified = client.post(
        f"/api/v1/cases/{case_id}/classification",
        json={
            "case_type": "KTA",
            "risk_level": "high",
            "jurisdiction": "district",
            "emergency": False,
        },
        headers=auth("intake_officer"),
    )
    assert classified.status_code == 200, classified.text
    session = _logged_in(client, CASE_WORKER)
    assert 'id="issue-letter"' in client.get(f"/cases/{case_id}").text

    issued = client.post(
        f"/cases/{case_id}/letters",
        data={
            "csrf_token": session.csrf_token,
            "form_key": "letter-1",
            "kind": "formulir_persetujuan",
        },
        follow_redirects=False,
    )

    assert issued.status_code == 303, issued.text
    letters = client.get(f"/api/v1/cases/{case_id}", headers=auth("intake_officer")).json()[
        "letters"
    ]
    (letter,) = letters
    link = f"/cases/{case_id}/letters/{letter['letter_id']}"
    assert link in client.get(f"/cases/{case_id}").text
    opened = client.get(link)
    assert opened.status_code == 200 and opened.content.startswith(b"%PDF-")
    assert opened.headers["content-type"] == "application/pdf"
    _assert_a_private_attachment(opened)
    assert _views(pg_cases, case_id, "letter_page") == [CASE_WORKER.user_id]


def _issue_letter(
    client: TestClient, session: BrowserSession, case_id: str, kind: str
) -> httpx.Response:
    """The logged-in user sends the case file's letter form for ``kind``."""
    return client.post(
        f"/cases/{case_id}/letters",
        data={"csrf_token": session.csrf_token, "kind": kind},
        follow_redirects=False,
    )


def test_a_letter_the_sop_does_not_allow_yet_is_refused_naming_the_rule(
    client: TestClient, auth: Headers, pg_cases: Cases
) -> None:
    case_id = _case(client, auth)
    session = _logged_in(client, CASE_WORKER)
    before = pg_cases.head_position()

    refused = _issue_letter(client, session, case_id, "formulir_persetujuan")

    assert refused.status_code == 409
    assert "SOP belum mengizinkan langkah ini" in refused.text
    assert "aturan letter_content_missing" in refused.text
    assert pg_cases.head_position() == before


def test_a_letter_the_district_does_not_issue_is_refused_on_the_page(
    client: TestClient, auth: Headers, pg_cases: Cases
) -> None:
    case_id = _case(client, auth)
    session = _logged_in(client, CASE_WORKER)
    before = pg_cases.head_position()

    refused = _issue_letter(client, session, case_id, "no_such_letter")

    assert refused.status_code == 422
    assert 'id="refusal"' in refused.text and "no_such_letter" not in refused.text
    assert pg_cases.head_position() == before


def test_an_upload_without_the_forms_csrf_token_is_refused_and_stores_nothing(
    client: TestClient, auth: Headers, pg_cases: Cases
) -> None:
    case_id = _case(client, auth)
    _logged_in(client, CASE_WORKER)
    before = pg_cases.head_position()

    refused = client.post(
        f"/cases/{case_id}/documents",
        data={"csrf_token": "forged", "kind": "visum_et_repertum"},
        files={"file": (PERSONAL_FILE_NAME, a_pdf(), "application/pdf")},
        follow_redirects=False,
    )

    assert refused.status_code == 403 and "csrf_token" in refused.text
    assert pg_cases.head_position() == before


def test_an_auditor_reads_the_documents_and_letters_but_is_offered_no_form(
    client: TestClient, auth: Headers
) -> None:
    case_id = _case(client, auth)
    client.post(
        f"/api/v1/cases/{case_id}/documents",
        params={"kind": "visum_et_repertum"},
        content=a_pdf(),
        headers=auth("intake_officer", **{"Content-Type": "application/pdf"}),
    )
    _logged_in(client, AUDITOR)

    shown = client.get(f"/cases/{case_id}")

    assert shown.status_code == 200
    assert "visum et repertum" in shown.text and "Unduh" in shown.text
    assert 'id="attach-document"' not in shown.text and 'id="issue-letter"' not in shown.text


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "formulir_persetujuan", "referral_id": "00000000-0000-0000-0000-000000000000"},
        {"kind": "surat_rekomendasi", "referral_id": "00000000-0000-0000-0000-000000000000"},
    ],
    ids=["a-case-letter-naming-a-referral", "a-referral-the-case-lacks"],
)
def test_a_letter_form_naming_a_wrong_referral_is_refused_on_the_page(
    client: TestClient, auth: Headers, pg_cases: Cases, fields: dict[str, str]
) -> None:
    case_id = open_referred_case(client, auth("coordinator"), {"police": "legal_process"})
    session = _logged_in(client, CASE_WORKER)
    before = pg_cases.head_position()

    refused = client.post(
        f"/cases/{case_id}/letters",
        data={"csrf_token": session.csrf_token, **fields},
        follow_redirects=False,
    )

    assert 400 <= refused.status_code < 500
    assert refused.headers["content-type"].startswith("text/html")
    assert 'id="refusal"' in refused.text
    assert pg_cases.head_position() == before


def test_a_referrals_letter_is_issued_from_its_row_of_the_case_file_t4(
    client: TestClient, auth: Headers, pg_cases: Cases
) -> None:
    """Tanjungpinang T4: the surat rekomendasi goes with the referral it is about."""
    office = auth("coordinator", agency="social", district="tanjungpinang")
    case_id = open_referred_case(client, office, {"health": "medical_care"})
    (referral,) = client.get(f"/api/v1/cases/{case_id}", headers=office).json()["referrals"]
    coordinator = Actor("coordinator.social", "coordinator", "social", "tanjungpinang")
    session = _logged_in(client, coordinator)
    shown = client.get(f"/cases/{case_id}")
    assert 'class="referral-letter"' in shown.text
    assert f'name="referral_id" value="{referral["referral_id"]}"' in shown.text

    issued = client.post(
        f"/cases/{case_id}/letters",
        data={
            "csrf_token": session.csrf_token,
            "kind": "surat_rekomendasi",
            "referral_id": referral["referral_id"],
        },
        follow_redirects=False,
    )

    assert issued.status_code == 303, issued.text
    (letter,) = client.get(f"/api/v1/cases/{case_id}", headers=office).json()["letters"]
    assert letter["kind"] == "surat_rekomendasi"
    assert letter["referral_id"] == referral["referral_id"]
    opened = client.get(f"/cases/{case_id}/letters/{letter['letter_id']}")
    assert opened.status_code == 200 and opened.content.startswith(b"%PDF-")
    _assert_a_private_attachment(opened)
