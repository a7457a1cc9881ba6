"""What each of the office's letters says, in Bahasa Indonesia: a pure function of the
case's history before the letter, the district's letterhead and the letter's issue.

Each letter states only the facts it needs: a surat tugas names the case by its register
number and the case worker, never the victim; a recommendation names the beneficiary
for the receiving agency, as the referral does. Nothing here reads a clock or the
store, so the same history renders the same letter at any time (gateways/letter_pdf.py
lays it out as a PDF; services/letters.py checks the bytes against the recorded hash).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.case import Case
from domain.letters import LETTER_SPECS, Letterhead, LetterKind
from projections import labels
from projections.case_file import CaseFile, Referral

_MONTHS = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)
_DAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
_SEX = {"female": "Perempuan", "male": "Laki-laki"}
_BLANK = "........................................"


@dataclass(frozen=True)
class Section:
    heading: str | None = None
    fields: tuple[tuple[str, str], ...] = ()
    paragraphs: tuple[str, ...] = ()


@dataclass(frozen=True)
class LetterText:
    """A letter as the layout takes it: letterhead, title, number, sections, signatures."""

    government: str
    office: str
    address: str
    title: str
    number: str
    sections: tuple[Section, ...]
    place_and_date: str
    signatures: tuple[tuple[str, ...], ...]
    verification: str
    footer: str
    issued_at: datetime = field(compare=False)


def indonesian_date(moment: datetime) -> str:
    return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}"


def _person(person: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    age = person.get("age")
    return (
        ("Nama", str(person.get("name") or _BLANK)),
        ("Jenis kelamin", _SEX.get(str(person.get("sex")), _BLANK)),
        ("Umur", f"{age} tahun" if age is not None else _BLANK),
        ("Desa/Kelurahan", str(person.get("village") or _BLANK)),
        ("Alamat", str(person.get("address") or _BLANK)),
    )


def _classification(file: CaseFile) -> tuple[tuple[str, str], ...]:
    found = file.classification
    if found is None:
        return (("Klasifikasi", "belum diklasifikasikan"),)
    return (
        ("Jenis kasus", labels.words(labels.CASE_TYPE, found.case_type)[0]),
        ("Tingkat risiko", labels.words(labels.RISK, found.risk_level)[0]),
        ("Kewenangan", labels.words(labels.JURISDICTION, found.jurisdiction)[0]),
    )


def _service_list(services: Sequence[str]) -> str:
    return labels.listed(labels.SERVICE, list(services))[0] or "-"


def _referral(file: CaseFile, referral_id: str) -> Referral:
    for referral in file.referrals:
        if referral.referral_id == referral_id:
            return referral
    raise ValueError("the letter's referral is not in the case's history")


def _assessments(file: CaseFile) -> tuple[str, ...]:
    return tuple(
        f"{labels.words(labels.ASSESSMENT_KIND, a.kind)[0]} kondisi "
        f"{labels.words(labels.ASSESSMENT_DOMAIN, a.domain)[0]} oleh "
        f"{labels.words(labels.AGENCY, a.assessing_agency)[0]}: {a.findings}"
        for a in file.assessments
    ) or ("Belum ada asesmen tercatat.",)


def _sections(
    kind: LetterKind, file: CaseFile, letterhead: Letterhead, referral_id: str, when: datetime
) -> tuple[tuple[Section, ...], tuple[tuple[str, ...], ...]]:
    register = ("Nomor register kasus", file.register_number)
    victim = file.report.victim
    worker = file.case_worker.user_id if file.case_worker else _BLANK
    head = (letterhead.signatory, "", "", "", "(" + _BLANK + ")")
    match kind:
        case LetterKind.ASSIGNMENT:
            return (
                Section(
                    paragraphs=(
                        f"Yang bertanda tangan di bawah ini, {letterhead.signatory}, dengan "
                        "ini menugaskan:",
                    )
                ),
                Section(fields=(("Petugas", worker), ("Sebagai", "Pendamping Kasus"))),
                Section(
                    paragraphs=(
                        "Untuk melakukan penjangkauan, kunjungan atau kontak langsung dengan "
                        "penerima manfaat dan keluarga, membangun kepercayaan dan meminta "
                        "persetujuan tertulis, serta mendampingi penanganan kasus berikut "
                        "(SOP langkah L1.6-L1.10):",
                    ),
                    fields=(register, *_classification(file)),
                ),
                Section(
                    paragraphs=(
                        "Demikian surat tugas ini dibuat untuk dilaksanakan dengan penuh "
                        "tanggung jawab dan menjaga kerahasiaan penerima manfaat.",
                    )
                ),
            ), (head,)
        case LetterKind.CONSENT_FORM:
            return (
                Section(
                    "Yang bertanda tangan di bawah ini (penerima manfaat):",
                    fields=_person(victim),
                ),
                Section(
                    paragraphs=(
                        f"Dengan ini menyatakan telah mendapat penjelasan tentang maksud dan "
                        f"tujuan pemberian layanan oleh {letterhead.office}, dan secara "
                        "sukarela MENYETUJUI penanganan kasus dengan nomor register "
                        f"{file.register_number}, termasuk asesmen, rujukan kepada instansi "
                        "penyedia layanan sesuai kebutuhan, dan penyampaian data yang "
                        "diperlukan untuk layanan tersebut.",
                        "Seluruh data dan informasi dijaga kerahasiaannya dan hanya "
                        "digunakan untuk kepentingan penanganan. Persetujuan ini dapat "
                        "ditarik kembali; apabila penerima manfaat atau keluarga menolak, "
                        "penanganan kasus tidak dapat dilanjutkan (SOP langkah L1.9-L1.10).",
                        "Harapan penerima manfaat terkait kasus: " + _BLANK,
                    )
                ),
            ), (
                ("Penerima Manfaat/Keluarga", "", "", "", "(" + _BLANK + ")"),
                ("Pendamping Kasus", "", "", "", f"({worker})"),
            )
        case LetterKind.CASE_REPORT:
            report = file.case_report
            return (
                Section("I. Identitas Penerima Manfaat", fields=(register, *_person(victim))),
                Section("II. Klasifikasi Kasus", fields=_classification(file)),
                Section("III. Kronologi", paragraphs=(file.report.chronology,)),
                Section("IV. Hasil Asesmen", paragraphs=_assessments(file)),
                Section(
                    "V. Kesimpulan (SOP langkah L2.7)",
                    paragraphs=(report.summary if report else "-",),
                    fields=(("Kebutuhan layanan", _service_list(report.needs if report else [])),),
                ),
            ), (("Pendamping Kasus", "", "", "", f"({worker})"), ("Mengetahui,", *head))
        case LetterKind.SOCIAL_REPORT:
            recommended = [s for a in file.assessments for s in a.recommended_services]
            return (
                Section("I. Identitas Klien", fields=(register, *_person(victim))),
                Section(
                    "II. Permasalahan",
                    fields=_classification(file),
                    paragraphs=(file.report.chronology,),
                ),
                Section("III. Hasil Pendataan dan Asesmen (T2)", paragraphs=_assessments(file)),
                Section(
                    "IV. Rekomendasi Pelayanan Rujukan (T4)",
                    fields=(
                        ("Layanan dibutuhkan", _service_list(list(dict.fromkeys(recommended)))),
                    ),
                ),
            ), (("Pekerja Sosial", "", "", "", f"({worker})"), ("Mengetahui,", *head))
        case LetterKind.RECOMMENDATION:
            referral = _referral(file, referral_id)
            agency = labels.words(labels.AGENCY, referral.agency)[0]
            service = labels.words(labels.SERVICE, referral.service_type)[0]
            return (
                Section(fields=(("Kepada Yth.", f"Pimpinan {agency}"), ("Perihal", service))),
                Section(
                    paragraphs=(
                        f"Yang bertanda tangan di bawah ini, {letterhead.signatory}, dengan "
                        f"ini merekomendasikan penerima manfaat berikut untuk mendapatkan "
                        f"layanan {service}:",
                    ),
                    fields=(register, *_person(victim)),
                ),
                Section(
                    paragraphs=(
                        "Rekomendasi ini diberikan berdasarkan hasil asesmen dan rencana "
                        f"intervensi, dan berlaku sebagai rujukan tertanggal "
                        f"{indonesian_date(referral.referred_at.astimezone(when.tzinfo))}. "
                        "Mohon kiranya dapat diberikan layanan sebagaimana mestinya. "
                        "Data penerima manfaat bersifat rahasia.",
                    )
                ),
            ), (head,)
        case LetterKind.REFERRAL_RECORD:
            referral = _referral(file, referral_id)
            agency = labels.words(labels.AGENCY, referral.agency)[0]
            service = labels.words(labels.SERVICE, referral.service_type)[0]
            return (
                Section(
                    paragraphs=(
                        f"Pada hari ini {_DAYS[when.weekday()]}, tanggal {indonesian_date(when)}"
                        f", telah dilakukan rujukan kasus dari {letterhead.office} kepada "
                        f"{agency} untuk layanan {service} (SOP langkah K-C8), atas "
                        "penerima manfaat:",
                    ),
                    fields=(register, *_person(victim)),
                ),
                Section(
                    paragraphs=(
                        "Bersama berita acara ini diserahkan case record dan hasil asesmen "
                        "yang diperlukan untuk layanan. Penerima rujukan menjaga kerahasiaan "
                        "data penerima manfaat dan melaporkan perkembangan layanan.",
                    )
                ),
            ), (
                ("Pihak yang Menyerahkan", "", "", "", "(" + _BLANK + ")"),
                (f"Pihak yang Menerima ({agency})", "", "", "", "(" + _BLANK + ")"),
            )
        case LetterKind.TERMINATION_FORM:
            services = tuple(
                (
                    labels.words(labels.SERVICE, r.service_type)[0],
                    f"{labels.words(labels.AGENCY, r.agency)[0]}, status {r.status}",
                )
                for r in file.referrals
            ) or (("Layanan", "-"),)
            return (
                Section("Penerima manfaat:", fields=(register, *_person(victim))),
                Section("Layanan yang telah diterima:", fields=services),
                Section(
                    paragraphs=(
                        "Berdasarkan pemantauan dan evaluasi, penerima manfaat dinyatakan "
                        "telah pulih dan hak-haknya terpenuhi. Penerima manfaat/keluarga dan "
                        "pendamping kasus SEPAKAT mengakhiri pemberian layanan (terminasi, "
                        "SOP langkah L6.1-L6.3).",
                        "Umpan balik penerima manfaat terhadap layanan: " + _BLANK,
                    )
                ),
            ), (
                ("Penerima Manfaat/Keluarga", "", "", "", "(" + _BLANK + ")"),
                ("Pendamping Kasus", "", "", "", f"({worker})"),
            )
    raise ValueError(f"no letter text for {kind}")


def compose_letter(
    history: Sequence[Case.Event],
    letterhead: Letterhead,
    timezone: ZoneInfo,
    *,
    kind: LetterKind,
    number: str,
    issued_at: datetime,
    referral_id: str,
    verification_code: str | None,
    verification_path: str,
) -> LetterText:
    """The letter of ``kind`` on the case whose ``history`` (oldest first) precedes it."""
    file = CaseFile.from_events(history)
    local = issued_at.astimezone(timezone)
    sections, signatures = _sections(kind, file, letterhead, referral_id, local)
    code = verification_code or "-"
    return LetterText(
        government=letterhead.government,
        office=letterhead.office,
        address=letterhead.address,
        title=LETTER_SPECS[kind].title,
        number=number,
        sections=sections,
        place_and_date=f"{letterhead.city}, {indonesian_date(local)}",
        signatures=signatures,
        verification=f"Kode verifikasi: {code}  ({verification_path}{code})",
        footer=f"{number} - {file.register_number}",
        issued_at=issued_at,
    )
