"""What an uploaded file is, judged by its bytes, and the same file without where it was made.

A file is accepted only as one of the types a case record needs (PDF, JPEG and PNG
photos, MP3 / M4A / WAV / Ogg recordings), recognised by its content: a name or a
declared type proves nothing, so a renamed executable, archive or web page is refused
whatever it claims. A photo of a victim must not say where she hides: JPEG loses its
APP1 segments (Exif, with its GPS block, and XMP), APP13 (IPTC, which carries places
too) and comments; PNG its eXIf and text chunks. Pure Python over the bytes, no
image library: the structure is walked, not decoded, and a file whose structure does
not hold together is refused rather than passed on half-read.
"""

import re
import struct
import zlib
from dataclasses import dataclass

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
MP3 = "audio/mpeg"
M4A = "audio/mp4"
WAV = "audio/wav"
OGG = "audio/ogg"
ACCEPTED_TYPES = (PDF, JPEG, PNG, MP3, M4A, WAV, OGG)
# A client that does not know the type may say so; anything else it declares must be true.
UNDECLARED = "application/octet-stream"

# A PDF that would run something when opened is not a document the office needs.
_PDF_ACTIVE = (
    b"/JavaScript",
    b"/JS",
    b"/Launch",
    b"/EmbeddedFile",
    b"/EmbeddedFiles",
    b"/RichMedia",
)
# Signatures of what must never pass as a document, named in the refusal.
_EXECUTABLE = (b"\x7fELF", b"MZ", b"\xfe\xed\xfa", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe", b"#!")
_M4A_BRANDS = (b"M4A ", b"M4B ", b"mp42", b"isom", b"iso2", b"dash")

# JPEG segments that say where, when and by whom a photo was made.
_JPEG_DROPPED = {0xE1: "exif_or_xmp", 0xED: "iptc", 0xFE: "comment"}
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_DROPPED = frozenset({b"eXIf", b"tEXt", b"iTXt", b"zTXt"})


class ContentRefused(ValueError):
    """The upload is not a file Simpul keeps; ``rule`` names why, never what it held."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


@dataclass(frozen=True)
class CheckedContent:
    """An accepted file: its type as its content shows, the bytes to store, what was removed."""

    media_type: str
    content: bytes
    removed: tuple[str, ...] = ()


def sniff(content: bytes) -> str:
    """The accepted type ``content`` is by its first bytes; refused if none."""
    if content.startswith(b"%PDF-"):
        return PDF
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    if content.startswith(_PNG_SIGNATURE):
        return PNG
    if content.startswith(b"RIFF") and content[8:12] == b"WAVE":
        return WAV
    if content.startswith(b"OggS"):
        return OGG
    if content[4:8] == b"ftyp" and content[8:12] in _M4A_BRANDS:
        return M4A
    if content.startswith(b"ID3") or (len(content) > 1 and _is_mp3_frame(content[:2])):
        return MP3
    if content.startswith(_EXECUTABLE):
        raise ContentRefused("executable_content", "the file is a program, not a document")
    raise ContentRefused(
        "unsupported_content",
        "the file is none of the accepted types (PDF, JPEG, PNG, MP3, M4A, WAV, Ogg), "
        "judged by its content",
    )


def _is_mp3_frame(head: bytes) -> bool:
    # An MPEG audio frame header: 11 sync bits, a defined version and layer III.
    return (
        head[0] == 0xFF
        and head[1] & 0xE0 == 0xE0
        and head[1] & 0x18 != 0x08
        and (head[1] & 0x06 == 0x02)
    )


def check_content(content: bytes, declared_type: str) -> CheckedContent:
    """The file as Simpul keeps it, or ``ContentRefused``.

    ``declared_type`` (the request's Content-Type, parameters removed) must be the type
    the content is, or ``application/octet-stream``.
    """
    if not content:
        raise ContentRefused("empty_content", "the file is empty")
    media_type = sniff(content)
    declared = declared_type.split(";", 1)[0].strip().lower()
    if declared not in (media_type, UNDECLARED):
        raise ContentRefused(
            "content_type_mismatch",
            f"the Content-Type does not match the content, which is {media_type}",
        )
    if media_type == PDF:
        _check_pdf(content)
        return CheckedContent(PDF, content)
    if media_type == JPEG:
        stripped, removed = strip_jpeg(content)
        return CheckedContent(JPEG, stripped, removed)
    if media_type == PNG:
        stripped, removed = strip_png(content)
        return CheckedContent(PNG, stripped, removed)
    return CheckedContent(media_type, content)


def _check_pdf(content: bytes) -> None:
    """A PDF header on anything else is a forgery: a version, an end marker, no active parts."""
    if not re.match(rb"%PDF-[12]\.[0-9]", content):
        raise ContentRefused("malformed_pdf", "the PDF header names no PDF version")
    if b"%%EOF" not in content[-1024:]:
        raise ContentRefused("malformed_pdf", "the PDF has no end-of-file marker")
    if b"obj" not in content or b"endobj" not in content:
        raise ContentRefused("malformed_pdf", "the PDF holds no objects")
    # Names may hide as #xx escapes (/J#61vaScript): compare them with the escapes undone.
    names = re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), content)
    if any(re.search(re.escape(name) + rb"(?![A-Za-z])", names) for name in _PDF_ACTIVE):
        raise ContentRefused(
            "pdf_active_content", "the PDF carries scripts, launch actions or embedded files"
        )


def strip_jpeg(content: bytes) -> tuple[bytes, tuple[str, ...]]:
    """The JPEG without its Exif/XMP, IPTC and comment segments; the image data untouched."""
    kept = bytearray(b"\xff\xd8")
    removed: list[str] = []
    position = 2
    while True:
        start = position
        while position < len(content) and content[position] == 0xFF:
            position += 1  # a marker's 0xFF, and any fill bytes before it
        if position == start or position >= len(content):
            raise ContentRefused("malformed_jpeg", "the JPEG ends before its image data")
        marker = content[position]
        position += 1
        if marker in _JPEG_STANDALONE:
            kept += bytes((0xFF, marker))
            continue
        if marker == 0xD9:
            raise ContentRefused("malformed_jpeg", "the JPEG has no image data")
        if position + 2 > len(content):
            raise ContentRefused("malformed_jpeg", "a JPEG segment is cut short")
        (length,) = struct.unpack(">H", content[position : position + 2])
        end = position + length
        if length < 2 or end > len(content):
            raise ContentRefused("malformed_jpeg", "a JPEG segment is cut short")
        if marker == 0xDA:
            # Start of scan: entropy-coded data to the end, which holds no metadata markers.
            kept += content[position - 2 :]
            if not content.rstrip(b"\x00").endswith(b"\xff\xd9"):
                raise ContentRefused("malformed_jpeg", "the JPEG has no end-of-image marker")
            return bytes(kept), tuple(removed)
        if marker in _JPEG_DROPPED:
            removed.append(_JPEG_DROPPED[marker])
        else:
            kept += content[position - 2 : end]
        position = end


def strip_png(content: bytes) -> tuple[bytes, tuple[str, ...]]:
    """The PNG without its eXIf and text chunks; each chunk's CRC checked on the way."""
    kept = bytearray(_PNG_SIGNATURE)
    removed: list[str] = []
    position = len(_PNG_SIGNATURE)
    while position + 12 <= len(content):
        (length,) = struct.unpack(">I", content[position : position + 4])
        kind = content[position + 4 : position + 8]
        end = position + 12 + length
        if end > len(content):
            raise ContentRefused("malformed_png", "a PNG chunk is cut short")
        data = content[position + 8 : end - 4]
        (crc,) = struct.unpack(">I", content[end - 4 : end])
        if zlib.crc32(kind + data) != crc:
            raise ContentRefused("malformed_png", "a PNG chunk fails its checksum")
        if kind in _PNG_DROPPED:
            removed.append(kind.decode("ascii"))
        else:
            kept += content[position:end]
        position = end
        if kind == b"IEND":
            return bytes(kept), tuple(removed)
    raise ContentRefused("malformed_png", "the PNG has no end chunk")
