"""The printable case review: a case's timeline as one self-contained HTML page.

Auditors print it for inspections and courts, so it carries everything on the
page: who exported it, when and why, whether the case's hash chain verified,
every event with its SOP step and time standard, and the step schedule. It
loads nothing from elsewhere (no scripts, fonts, images or stylesheets), and
every value is escaped: recorded text must never become markup.

It shows the procedure, not the person: the summaries name no one but staff,
and the victim's details stay in the case file.
"""

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from gateways.eventstore.verify import CaseVerification
from projections import labels
from projections.timeline import StepCheck, Timeline

STATE_WORDS = {
    "met": ("tepat waktu", "met"),
    "late": ("terlambat", "late"),
    "upcoming": ("belum jatuh tempo", "not yet due"),
    "due": ("berjalan", "due"),
    "overdue": ("melewati batas", "overdue"),
    "closed": ("tidak dilakukan (kasus ditutup)", "not done (case closed)"),
}

STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10pt; color: #000;
       margin: 1.5cm; }
h1 { font-size: 15pt; margin: 0 0 .2em; }
h2 { font-size: 12pt; margin: 1.2em 0 .4em; border-bottom: 1px solid #000; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #888; padding: 3px 5px; vertical-align: top; text-align: left; }
th { background: #eee; }
table.meta th { width: 28%; }
.en { color: #444; font-style: italic; }
.late, .overdue { font-weight: bold; }
.intact { font-weight: bold; }
.broken { font-weight: bold; border: 2px solid #000; padding: 4px; }
.hash { font-family: "DejaVu Sans Mono", monospace; font-size: 8pt; word-break: break-all; }
footer { margin-top: 2em; font-size: 8pt; color: #444; }
@page { size: A4; margin: 1.5cm; }
@media print {
  body { margin: 0; }
  thead { display: table-header-group; }
  tr { page-break-inside: avoid; }
}
"""


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _time(moment: datetime | None, timezone: ZoneInfo) -> str:
    if moment is None:
        return "&ndash;"
    return _text(moment.astimezone(timezone).strftime("%Y-%m-%d %H:%M %Z"))


def _state(state: str) -> str:
    indonesian, english = STATE_WORDS.get(state, (state, state))
    return (
        f'<span class="{_text(state)}">{_text(indonesian)}</span> '
        f'<span class="en">{_text(english)}</span>'
    )


def _check(check: StepCheck, timezone: ZoneInfo) -> str:
    return (
        f"{_text(check.code)}: {_state(check.state)}<br>batas / due {_time(check.due_at, timezone)}"
    )


def _verification(verification: CaseVerification | None) -> str:
    if verification is None:
        return '<p>Rantai hash tidak diperiksa. <span class="en">Hash chain not checked.</span></p>'
    last = verification.last_event_hash.hex() if verification.last_event_hash else "-"
    if verification.problem is None:
        return (
            '<p class="intact">Rantai hash kasus utuh: '
            f"{verification.events} peristiwa diperiksa. "
            f'<span class="en">The case\'s hash chain is intact: {verification.events} '
            "events checked.</span></p>"
            f'<p>Hash peristiwa terakhir / last event hash: <span class="hash">{_text(last)}'
            "</span></p>"
        )
    problem = verification.problem
    return (
        '<p class="broken">RANTAI HASH RUSAK / HASH CHAIN BROKEN: '
        f"{_text(problem.kind.value)}, versi / version {_text(problem.version)}, "
        f"notification id {_text(problem.notification_id)}: {_text(problem.detail)}</p>"
    )


def render_case_review(
    timeline: Timeline,
    *,
    timezone: ZoneInfo,
    exported_at: datetime,
    exported_by: dict[str, str],
    purpose: str | None,
    verification: CaseVerification | None,
) -> str:
    """The case review as a complete HTML document."""
    role_id, role_en = labels.words(labels.ROLE, exported_by["role"])
    agency_id, _ = labels.words(labels.AGENCY, exported_by["agency"])
    cut = []
    if timeline.requested_version is not None:
        cut.append(f"versi / version {timeline.requested_version}")
    if timeline.as_of is not None:
        cut.append(f"per / as of {_time(timeline.as_of, timezone)}")
    meta = [
        ("Nomor register / Register number", _text(timeline.register_number)),
        ("ID kasus / Case id", f'<span class="hash">{_text(timeline.case_id)}</span>'),
        ("Kabupaten/kota / District", _text(timeline.district)),
        ("Status", f"{_text(timeline.state.status)} ({_text(timeline.state.stage)})"),
        (
            "Cakupan / Scope",
            f"versi 1&ndash;{timeline.version}"
            + (f" ({', '.join(cut)})" if cut else " (seluruh riwayat / whole history)"),
        ),
        (
            "Standar waktu dinilai pada / Time standards judged at",
            _time(timeline.evaluated_at, timezone),
        ),
        (
            "Diekspor oleh / Exported by",
            (
                f"{_text(exported_by['user_id'])}, {_text(role_id)} "
                f'<span class="en">{_text(role_en)}</span>, {_text(agency_id)} '
                f"({_text(exported_by['district'])})"
            ),
        ),
        ("Waktu ekspor / Exported at", _time(exported_at, timezone)),
        ("Tujuan / Purpose", _text(purpose) if purpose else "&ndash;"),
    ]
    rows = []
    for entry in timeline.entries:
        actor = entry.actor
        actor_role, actor_role_en = labels.words(labels.ROLE, actor.role)
        actor_agency, _ = labels.words(labels.AGENCY, actor.agency)
        checks = "<br>".join(_check(check, timezone) for check in entry.time_standards)
        rows.append(
            "<tr>"
            f"<td>{entry.version}</td>"
            f"<td>{_time(entry.recorded_at, timezone)}</td>"
            f"<td>{_text(entry.sop_step or '')}</td>"
            f'<td>{_text(entry.summary_id)}<br><span class="en">{_text(entry.summary_en)}</span>'
            f"<br><small>{_text(entry.type)}</small></td>"
            f"<td>{_text(actor.user_id)}<br>{_text(actor_role)} "
            f'<span class="en">{_text(actor_role_en)}</span><br>{_text(actor_agency)}</td>'
            f"<td>{checks or '&ndash;'}</td>"
            "</tr>"
        )
    steps = [
        "<tr>"
        f"<td>{_text(step.code)}</td>"
        f'<td>{_text(step.title_id)}<br><span class="en">{_text(step.title_en)}</span></td>'
        f"<td>{_time(step.started_at, timezone)}</td>"
        f"<td>{_time(step.due_at, timezone)}</td>"
        f"<td>{_time(step.done_at, timezone)}</td>"
        f"<td>{_state(step.state)}</td>"
        "</tr>"
        for step in timeline.steps
    ]
    meta_rows = "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in meta)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="id"><head><meta charset="utf-8">'
        f"<title>Tinjauan kasus {_text(timeline.register_number)}</title>"
        f"<style>{STYLE}</style></head><body>"
        '<h1>Tinjauan Kasus <span class="en">Case review</span></h1>'
        f'<table class="meta">{meta_rows}</table>'
        '<h2>Keutuhan catatan <span class="en">Integrity of the record</span></h2>'
        f"{_verification(verification)}"
        '<h2>Kronologi penanganan <span class="en">Timeline</span></h2>'
        "<table><thead><tr><th>v</th><th>Waktu / Time</th><th>Langkah / Step</th>"
        "<th>Peristiwa / Event</th><th>Pelaku / Actor</th><th>Standar waktu / Time standard</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        '<h2>Standar waktu <span class="en">Time standards</span></h2>'
        "<table><thead><tr><th>Langkah / Step</th><th>Uraian / Description</th>"
        "<th>Mulai / Started</th><th>Batas / Due</th><th>Selesai / Done</th><th>Status</th>"
        f"</tr></thead><tbody>{''.join(steps)}</tbody></table>"
        "<footer>Dihasilkan oleh Simpul dari riwayat kasus yang tidak dapat diubah. Ringkasan "
        "tidak memuat catatan bebas; rincian ada di berkas kasus. "
        '<span class="en">Produced by Simpul from the case\'s immutable history. Summaries '
        "quote no free text; details are in the case file.</span></footer>"
        "</body></html>\n"
    )
