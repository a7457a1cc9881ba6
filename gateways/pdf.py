"""A minimal PDF 1.4 writer for the office's letters: A4 pages of text and rules.

Only the standard Helvetica and Helvetica-Bold fonts in WinAnsiEncoding are used,
so nothing is embedded and the writer needs no dependency. The output is a pure
function of its input: no timestamp, random id or dictionary order of its own (the
creation date is the moment given, the file id a hash of the content), so the same
letter renders to the same bytes at any time.

Text is Indonesian in Latin script: what WinAnsi (cp1252) holds is written as is;
any other letter loses its diacritics (NFKD) and what still does not fit becomes
"?", so no input can break the file or the layout.
"""

import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

A4_WIDTH, A4_HEIGHT = 595, 842
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 72, 60, 56, 64
LINE_GAP = 1.35

# Helvetica's advance widths (thousandths of the font size) for ASCII 32-126, from
# Adobe's AFM; other WinAnsi characters are taken at 556 (most accented letters are
# their base letter's width). Bold is wider by about 5%: layout only needs the bound.
_HELVETICA_ASCII = (
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
)  # fmt: skip
_BOLD_FACTOR = 1.06

Align = Literal["left", "center", "right"]


def winansi(text: str) -> bytes:
    """``text`` in WinAnsiEncoding: diacritics dropped where needed, the rest "?"."""
    out = bytearray()
    for char in unicodedata.normalize("NFC", text):
        if char in "\t\n\r":
            out += b" "
            continue
        if unicodedata.category(char).startswith("C"):
            continue
        try:
            out += char.encode("cp1252")
            continue
        except UnicodeEncodeError:
            pass
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        try:
            out += base.encode("cp1252") if base else b"?"
        except UnicodeEncodeError:
            out += b"?"
    return bytes(out)


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    units = sum(_HELVETICA_ASCII[byte - 32] if 32 <= byte <= 126 else 556 for byte in winansi(text))
    return units * size / 1000 * (_BOLD_FACTOR if bold else 1.0)


def wrap(text: str, size: float, width: float, *, bold: bool = False) -> list[str]:
    """``text`` broken into lines no wider than ``width``; a word too long is cut."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if text_width(candidate, size, bold=bold) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            rest = word
            while text_width(rest, size, bold=bold) > width:
                cut = len(rest)
                while cut > 1 and text_width(rest[:cut], size, bold=bold) > width:
                    cut -= 1
                lines.append(rest[:cut])
                rest = rest[cut:]
            line = rest
        lines.append(line)
    return lines


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    size: float
    bold: bool
    text: str


@dataclass(frozen=True)
class Rule:
    x1: float
    y1: float
    x2: float
    y2: float
    width: float


@dataclass
class Page:
    items: list[Text | Rule] = field(default_factory=list)


class Layout:
    """Lays text out down A4 pages, starting a new page where the next line does not fit."""

    def __init__(self) -> None:
        self.pages: list[Page] = [Page()]
        self.y: float = A4_HEIGHT - MARGIN_TOP

    @property
    def width(self) -> float:
        return A4_WIDTH - MARGIN_LEFT - MARGIN_RIGHT

    def _room(self, height: float) -> None:
        if self.y - height < MARGIN_BOTTOM:
            self.pages.append(Page())
            self.y = A4_HEIGHT - MARGIN_TOP

    def line(
        self,
        text: str,
        *,
        size: float = 11,
        bold: bool = False,
        align: Align = "left",
        indent: float = 0,
    ) -> None:
        """One line, not wrapped: the caller knows it fits (a heading, a label)."""
        height = size * LINE_GAP
        self._room(height)
        self.y -= height
        width = text_width(text, size, bold=bold)
        x = MARGIN_LEFT + indent
        if align == "center":
            x = MARGIN_LEFT + (self.width - width) / 2
        elif align == "right":
            x = A4_WIDTH - MARGIN_RIGHT - width
        self.pages[-1].items.append(Text(round(x, 2), round(self.y, 2), size, bold, text))

    def paragraph(
        self,
        text: str,
        *,
        size: float = 11,
        bold: bool = False,
        indent: float = 0,
        align: Align = "left",
    ) -> None:
        for line in wrap(text, size, self.width - indent, bold=bold):
            self.line(line, size=size, bold=bold, indent=indent, align=align)

    def field(self, label: str, value: str, *, size: float = 11, label_width: float = 150) -> None:
        """``label : value``, the value wrapped in its own column."""
        lines = wrap(value or "-", size, self.width - label_width - 10)
        for index, line in enumerate(lines):
            height = size * LINE_GAP
            self._room(height)
            self.y -= height
            items = self.pages[-1].items
            if index == 0:
                items.append(Text(MARGIN_LEFT, round(self.y, 2), size, False, label))
                items.append(Text(MARGIN_LEFT + label_width, round(self.y, 2), size, False, ":"))
            x = MARGIN_LEFT + label_width + 10
            items.append(Text(x, round(self.y, 2), size, False, line))

    def rule(self, *, width: float = 1.0, gap: float = 4) -> None:
        self._room(gap * 2)
        self.y -= gap
        self.pages[-1].items.append(
            Rule(MARGIN_LEFT, round(self.y, 2), A4_WIDTH - MARGIN_RIGHT, round(self.y, 2), width)
        )
        self.y -= gap

    def space(self, points: float = 8) -> None:
        self._room(points)
        self.y -= points

    def columns(self, blocks: Sequence[Sequence[str]], *, size: float = 11) -> None:
        """Side-by-side blocks of lines (signature blocks), each line wrapped to its
        column, kept together on one page."""
        column = self.width / len(blocks)
        wrapped = [
            [part for text in block for part in (wrap(text, size, column - 8) if text else [""])]
            for block in blocks
        ]
        rows = max(len(block) for block in wrapped)
        height = rows * size * LINE_GAP
        self._room(height)
        top = self.y
        for number, block in enumerate(wrapped):
            y = top
            for text in block:
                y -= size * LINE_GAP
                width = text_width(text, size)
                x = MARGIN_LEFT + number * column + max(0.0, (column - width) / 2)
                self.pages[-1].items.append(Text(round(x, 2), round(y, 2), size, False, text))
        self.y = top - height


def _literal(text: str) -> bytes:
    raw = winansi(text)
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _number(value: float) -> bytes:
    return (f"{value:.2f}".rstrip("0").rstrip(".") or "0").encode()


def _content(page: Page, footer: str | None) -> bytes:
    ops: list[bytes] = []
    for item in page.items:
        if isinstance(item, Rule):
            ops.append(
                b"%s w %s %s m %s %s l S"
                % (
                    _number(item.width),
                    _number(item.x1),
                    _number(item.y1),
                    _number(item.x2),
                    _number(item.y2),
                )
            )
        else:
            font = b"/F2" if item.bold else b"/F1"
            ops.append(
                b"BT %s %s Tf %s %s Td %s Tj ET"
                % (font, _number(item.size), _number(item.x), _number(item.y), _literal(item.text))
            )
    if footer:
        ops.append(b"BT /F1 8 Tf %d %d Td %s Tj ET" % (MARGIN_LEFT, 36, _literal(footer)))
    return b"\n".join(ops) + b"\n"


def _date(moment: datetime) -> str:
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("the creation moment must be timezone-aware")
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"D:{moment:%Y%m%d%H%M%S}{sign}{hours:02d}'{mins:02d}'"


def render(layout: Layout, *, title: str, created_at: datetime, footer: str = "") -> bytes:
    """The layout's pages as a PDF file; ``footer`` is printed on every page with its number."""
    pages = layout.pages
    count = len(pages)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % (6 + 2 * n) for n in range(count)), count),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Title %s /Producer (Simpul) /CreationDate %s >>"
        % (_literal(title), _literal(_date(created_at))),
    ]
    for number, page in enumerate(pages, start=1):
        marker = f"{footer} - halaman {number}/{count}" if footer else f"halaman {number}/{count}"
        stream = _content(page, marker)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] "
            b"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>"
            % (A4_WIDTH, A4_HEIGHT, 7 + 2 * (number - 1))
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for index, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (index, body)
    file_id = hashlib.sha256(bytes(out)).hexdigest()[:32].encode()
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += (
        b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, file_id, file_id, xref)
    )
    return bytes(out)
