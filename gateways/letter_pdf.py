"""The office's letters as PDF: the letter's text (projections/letter.py) laid out on A4.

This is the renderer ``services.letters.Letters`` is given: a pure function of the
history, the profile and the issue, so a letter read back is the letter issued.
"""

from collections.abc import Sequence

from domain.case import Case
from domain.letters import Letterhead
from domain.time_standards import TimeStandardProfile
from gateways.pdf import Layout, render
from projections.letter import LetterText, compose_letter
from services.letters import VERIFICATION_PATH, LetterIssue


def layout_letter(text: LetterText) -> Layout:
    page = Layout()
    page.paragraph(text.government, size=12, bold=True, align="center")
    page.paragraph(text.office, size=13, bold=True, align="center")
    page.paragraph(text.address, size=10, align="center")
    page.rule(width=2, gap=3)
    page.rule(width=0.5, gap=1)
    page.space(12)
    page.paragraph(text.title, size=13, bold=True, align="center")
    page.line(f"Nomor: {text.number}", size=11, align="center")
    page.space(12)
    for section in text.sections:
        if section.heading:
            page.paragraph(section.heading, bold=True)
        for paragraph in section.paragraphs:
            page.paragraph(paragraph)
            page.space(4)
        for label, value in section.fields:
            page.field(label, value)
        page.space(8)
    page.space(8)
    page.line(text.place_and_date, align="right")
    page.space(6)
    page.columns(text.signatures)
    page.space(16)
    page.paragraph(text.verification, size=8)
    return page


def render_letter(
    history: Sequence[Case.Event],
    profile: TimeStandardProfile,
    letterhead: Letterhead,
    issue: LetterIssue,
) -> bytes:
    """The letter's PDF bytes; the same arguments give the same bytes."""
    text = compose_letter(
        history,
        letterhead,
        profile.timezone,
        kind=issue.kind,
        number=issue.number,
        issued_at=issue.issued_at,
        referral_id=issue.referral_id,
        verification_code=issue.verification_code,
        verification_path=VERIFICATION_PATH,
    )
    return render(
        layout_letter(text),
        title=f"{text.title} {text.number}",
        created_at=issue.issued_at.astimezone(profile.timezone),
        footer=text.footer,
    )
