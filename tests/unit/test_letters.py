"""The office's letters as PDF: deterministic, A4, well formed, in Indonesian, for every
kind each district's profile lists; their numbering and the case's rules for issuing."""

import re
import tomllib
import zlib
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import pytest

from domain.actors import acting_as
from domain.case import Case
from domain.errors import InvalidValue, ReferralNotFound, RuleViolated
from domain.letters import LetterKind
from domain.time_standards import ProfileError, TimeStandardProfile, parse_profile
from domain.vocabulary import Stage
from gateways.letter_pdf import layout_letter, render_letter
from gateways.pdf import (
    A4_HEIGHT,
    A4_WIDTH,
    MARGIN_BOTTOM,
    MARGIN_LEFT,
    MARGIN_RIGHT,
    MARGIN_TOP,
    Layout,
    Text,
    render,
    text_width,
    winansi,
)
from projections.letter import compose_letter
from services.letters import LetterIssue, verification_code_of
from services.profiles import load_profiles
from tests.support.builders import (
    CASE_WORKER,
    COORDINATOR,
    FIXED_TIME,
    RECEIVING_AGENCIES,
    REFERRAL_ID,
    a_case_at,
    a_letter,
    a_new_case,
    a_referral,
)

PROFILES = load_profiles()
ISSUED_AT = datetime(2025, 3, 4, 2, 30, tzinfo=UTC)


def a_case_with_a_referral() -> tuple[Case, list[Case.Event]]:
    """A case in monitoring, found recovered, with a referral to the health office."""
    case = a_case_at(Stage.MONITORING)
    with acting_as(CASE_WORKER, FIXED_TIME):
        case.refer(
            **a_referral(),
            referral_id=REFERRAL_ID,
            due_at=FIXED_TIME + timedelta(days=7),
            receiving_agencies=RECEIVING_AGENCIES,
        )
    return case, list(case.collect_events())


def an_issue(kind: LetterKind, **overrides: Any) -> LetterIssue:
    spec_needs_referral = kind in (LetterKind.RECOMMENDATION, LetterKind.REFERRAL_RECORD)
    fields: dict[str, Any] = {
        "letter_id": "letter-1",
        "kind": kind,
        "number": "001/ST/UPTD-PPA/III/2025",
        "issued_at": ISSUED_AT,
        "issued_by": COORDINATOR.as_record(),
        "referral_id": REFERRAL_ID if spec_needs_referral else "",
        "verification_code": "0123456789abcdef",
        **overrides,
    }
    return LetterIssue(**fields)


def letter_of(kind: LetterKind, district: str = "luwu-utara", **overrides: Any) -> bytes:
    _, history = a_case_with_a_referral()
    profile = PROFILES.profile(district)
    assert profile.letterhead is not None
    return render_letter(history, profile, profile.letterhead, an_issue(kind, **overrides))


# ---- A tiny PDF reader: enough to check the structure the writer promises ----------------


def parsed(pdf: bytes) -> dict[str, Any]:
    """Objects by number, checked against the xref table, and the page texts."""
    assert pdf.startswith(b"%PDF-1.4\n")
    assert pdf.rstrip().endswith(b"%%EOF")
    startxref = int(re.search(rb"startxref\n(\d+)\n%%EOF", pdf).group(1))  # type: ignore[union-attr]
    assert pdf[startxref:].startswith(b"xref\n")
    header = re.match(rb"xref\n0 (\d+)\n", pdf[startxref:])
    assert header is not None
    size = int(header.group(1))
    table = pdf[startxref + header.end() :].split(b"\n")[:size]
    assert table[0] == b"0000000000 65535 f "
    objects = {}
    for number, row in enumerate(table[1:], start=1):
        offset = int(row[:10])
        assert pdf[offset:].startswith(b"%d 0 obj\n" % number), number
        end = pdf.index(b"\nendobj\n", offset)
        objects[number] = pdf[offset:end]
    trailer = pdf[pdf.index(b"trailer", startxref) :]
    assert b"/Size %d" % size in trailer
    pages = [body for body in objects.values() if b"/Type /Page " in body]
    texts = []
    for page in pages:
        contents = int(re.search(rb"/Contents (\d+) 0 R", page).group(1))  # type: ignore[union-attr]
        stream = objects[contents]
        length = int(re.search(rb"/Length (\d+)", stream).group(1))  # type: ignore[union-attr]
        body = stream[stream.index(b"stream\n") + 7 :][:length]
        texts.append(b" ".join(re.findall(rb"\(((?:[^()\\]|\\.)*)\) Tj", body)).decode("cp1252"))
    count = int(re.search(rb"/Type /Pages /Kids \[[^\]]*\] /Count (\d+)", pdf).group(1))  # type: ignore[union-attr]
    return {"objects": objects, "pages": pages, "texts": texts, "count": count}


def text_of(pdf: bytes) -> str:
    return " ".join(parsed(pdf)["texts"]).replace("\\(", "(").replace("\\)", ")")


# ---- The renderer ----------------------------------------------------------------------------


def test_the_same_letter_renders_to_the_same_bytes_and_another_moment_to_others():
    first = letter_of(LetterKind.CASE_REPORT)

    assert letter_of(LetterKind.CASE_REPORT) == first
    assert letter_of(LetterKind.CASE_REPORT, issued_at=ISSUED_AT + timedelta(days=1)) != first


def test_a_letter_is_a_well_formed_a4_pdf_dated_at_its_issue_without_random_ids():
    pdf = letter_of(LetterKind.ASSIGNMENT)
    structure = parsed(pdf)

    assert structure["count"] == len(structure["pages"]) >= 1
    for page in structure["pages"]:
        assert b"/MediaBox [0 0 %d %d]" % (A4_WIDTH, A4_HEIGHT) in page
    assert (A4_WIDTH, A4_HEIGHT) == (595, 842)
    # Luwu Utara is WITA (UTC+8): the creation date is the issue moment there.
    assert b"/CreationDate (D:20250304103000+08'00')" in pdf
    assert b"/BaseFont /Helvetica /Encoding /WinAnsiEncoding" in pdf
    assert b"ModDate" not in pdf


def test_a_letter_reads_in_indonesian_with_the_letterhead_number_and_verification_code():
    text = text_of(letter_of(LetterKind.ASSIGNMENT))

    assert "PEMERINTAH KABUPATEN LUWU UTARA" in text
    assert "UPTD PERLINDUNGAN PEREMPUAN DAN ANAK" in text
    assert "SURAT TUGAS" in text
    assert "Nomor: 001/ST/UPTD-PPA/III/2025" in text
    assert "Masamba, 4 Maret 2025" in text
    assert "LUTRA/2024/00001" in text
    assert "case-worker-1" in text
    assert "Kode verifikasi: 0123456789abcdef" in text
    assert "/api/v1/letters/verify/0123456789abcdef" in text


def test_a_surat_tugas_names_the_case_by_its_register_never_the_victim():
    _, history = a_case_with_a_referral()
    victim_name = history[0].victim["name"]  # type: ignore[attr-defined]

    assert victim_name not in text_of(letter_of(LetterKind.ASSIGNMENT))
    assert victim_name in text_of(letter_of(LetterKind.CONSENT_FORM))


KINDS_BY_DISTRICT = [
    (district, kind)
    for district in PROFILES.districts()
    for kind in PROFILES.profile(district).letterhead.kinds  # type: ignore[union-attr]
]


@pytest.mark.parametrize(("district", "kind"), KINDS_BY_DISTRICT)
def test_each_letter_a_district_lists_renders_with_its_letterhead(district, kind):
    profile = PROFILES.profile(district)
    assert profile.letterhead is not None

    text = text_of(letter_of(kind, district))

    assert profile.letterhead.government in text
    assert profile.letterhead.city in text
    assert "halaman 1/" in text


@pytest.mark.parametrize(("district", "kind"), KINDS_BY_DISTRICT)
def test_every_line_of_a_letter_stays_inside_the_a4_margins(district, kind):
    _, history = a_case_with_a_referral()
    profile = PROFILES.profile(district)
    assert profile.letterhead is not None
    issue = an_issue(kind)
    text = compose_letter(
        history,
        profile.letterhead,
        profile.timezone,
        kind=issue.kind,
        number=issue.number,
        issued_at=issue.issued_at,
        referral_id=issue.referral_id,
        verification_code=issue.verification_code,
        verification_path="/api/v1/letters/verify/",
    )

    for page in layout_letter(text).pages:
        for item in page.items:
            if isinstance(item, Text):
                right = item.x + text_width(item.text, item.size, bold=item.bold)
                assert item.x >= MARGIN_LEFT and right <= A4_WIDTH - MARGIN_RIGHT + 0.5, item
                assert MARGIN_BOTTOM <= item.y <= A4_HEIGHT - MARGIN_TOP, item


def test_the_seeds_letters_are_each_issued_somewhere():
    """Surat rekomendasi in Tanjungpinang (T4) and Kutai Timur (K-C8), the Berita Acara
    Rujukan in Kutai Timur (K-C8), the laporan sosial in Tanjungpinang; every district
    issues the surat tugas, consent form, laporan kasus and termination form."""
    listed = {
        district: set(PROFILES.profile(district).letterhead.kinds)
        for district in PROFILES.districts()
    }  # type: ignore[union-attr]

    everywhere = {
        LetterKind.ASSIGNMENT,
        LetterKind.CONSENT_FORM,
        LetterKind.CASE_REPORT,
        LetterKind.TERMINATION_FORM,
    }
    assert all(everywhere <= kinds for kinds in listed.values())
    assert LetterKind.SOCIAL_REPORT in listed["tanjungpinang"]
    assert LetterKind.RECOMMENDATION in listed["tanjungpinang"] & listed["kutai-timur"]
    assert LetterKind.REFERRAL_RECORD in listed["kutai-timur"]
    assert set().union(*listed.values()) == set(LetterKind)


def test_text_outside_winansi_loses_its_diacritics_and_never_breaks_the_file():
    assert winansi("Dewi Ṣari ā") == b"Dewi Sari a"
    assert winansi("Siti “Nur” — é") == "Siti “Nur” — é".encode("cp1252")
    assert winansi("漢字\x00\x07") == b"??"

    page = Layout()
    page.paragraph("Kronologi (versi ibu) \\ 漢 ) ( Ṣ " * 400)
    pdf = render(page, title="uji (1)", created_at=ISSUED_AT)

    structure = parsed(pdf)
    assert structure["count"] > 1
    # Parentheses and backslashes are escaped, so a text cannot end its string early.
    assert "Kronologi \\(versi ibu\\) \\\\ ? \\) \\( S" in " ".join(structure["texts"])


def test_the_verification_code_is_derived_from_the_letter_rendered_without_it():
    without = letter_of(LetterKind.CASE_REPORT, verification_code=None)
    code = verification_code_of(without)

    assert re.fullmatch("[0-9a-f]{16}", code)
    assert letter_of(LetterKind.CASE_REPORT, verification_code=code) != without


def test_the_pdf_streams_are_uncompressed_text_so_nothing_depends_on_a_compressor():
    pdf = letter_of(LetterKind.TERMINATION_FORM)

    assert b"/Filter" not in pdf
    with pytest.raises(zlib.error):
        zlib.decompress(pdf)


# ---- Numbering -------------------------------------------------------------------------------


def test_a_letter_number_follows_the_district_pattern():
    letterhead = PROFILES.profile("kutai-timur").letterhead
    assert letterhead is not None

    number = letterhead.number(7, LetterKind.REFERRAL_RECORD, datetime(2026, 11, 3, tzinfo=UTC))

    assert number == "007/BAR/PKSAI/XI/2026"


def a_profile_with(letterhead: dict[str, Any]) -> TimeStandardProfile:
    """Luwu Utara's bundled profile with another [letterhead]."""
    bundled = resources.files("domain.sop") / "profiles" / "luwu-utara.toml"
    return parse_profile({**tomllib.loads(bundled.read_text()), "letterhead": letterhead})


LETTERHEAD = {
    "government": "PEMERINTAH KOTA UJI",
    "office": "UPTD PPA KOTA UJI",
    "address": "Uji",
    "city": "Uji",
    "signatory": "Kepala UPTD PPA",
    "numbering": "{seq}/{code}/{year}",
    "kinds": ["surat_tugas"],
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"numbering": "{seq}/{name}/{year}"}, "letterhead.numbering"),
        ({"numbering": "{code}/{year}"}, "letterhead.numbering"),
        ({"numbering": "{seq}/{year"}, "letterhead.numbering"),
        ({"kinds": ["surat_cinta"]}, "letterhead.kinds"),
        ({"kinds": []}, "letterhead.kinds"),
        ({"office": ""}, "letterhead.office"),
    ],
)
def test_a_malformed_letterhead_is_refused_at_loading_naming_the_field(change, field):
    assert a_profile_with(LETTERHEAD).letterhead is not None

    with pytest.raises(ProfileError, match=field):
        a_profile_with({**LETTERHEAD, **change})


# ---- The case's rules for issuing -----------------------------------------------------------


def test_a_letter_the_district_does_not_issue_is_refused():
    case = a_case_at(Stage.ASSESSMENT)

    with acting_as(COORDINATOR, FIXED_TIME), pytest.raises(RuleViolated) as caught:
        case.issue_letter(**a_letter(kind="laporan_sosial"))

    assert (caught.value.rule, caught.value.step) == ("letter_not_in_profile", "T2")


@pytest.mark.parametrize(
    ("kind", "step"),
    [
        ("surat_tugas", "L1.7"),
        ("formulir_persetujuan", "L1.9-10"),
        ("laporan_kasus", "L2.7"),
        ("laporan_sosial", "T2"),
        ("formulir_terminasi", "L6.2"),
    ],
)
def test_a_letter_waits_for_the_facts_it_states(kind, step):
    case = a_new_case()

    with acting_as(COORDINATOR, FIXED_TIME), pytest.raises(RuleViolated) as caught:
        case.issue_letter(**a_letter(kind=kind, district_kinds=[kind]))

    assert (caught.value.rule, caught.value.step) == ("letter_content_missing", step)
    assert case.version == 1


def test_a_recommendation_names_a_referral_of_the_case_and_other_letters_none():
    case, _ = a_case_with_a_referral()
    kinds = ["surat_rekomendasi", "laporan_kasus"]

    with acting_as(COORDINATOR, FIXED_TIME):
        with pytest.raises(ReferralNotFound):
            case.issue_letter(
                **a_letter(kind="surat_rekomendasi", district_kinds=kinds, referral_id="nope")
            )
        with pytest.raises(InvalidValue, match="referral_id"):
            case.issue_letter(
                **a_letter(kind="laporan_kasus", district_kinds=kinds, referral_id=REFERRAL_ID)
            )
        case.issue_letter(
            **a_letter(kind="surat_rekomendasi", district_kinds=kinds, referral_id=REFERRAL_ID)
        )

    (issued,) = case.collect_events()
    assert isinstance(issued, Case.LetterIssued)
    assert (issued.kind, issued.step, issued.referral_id) == (
        "surat_rekomendasi",
        "T4",
        REFERRAL_ID,
    )
