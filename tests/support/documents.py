"""Files as uploads carry them, assembled byte by byte: no image library, no fixture files.

The photos carry what a phone writes into them: an Exif block whose GPS IFD says
where the photo was taken (7°15'S 112°45'E, to the second), and XMP; the PNG a
location in a text chunk. Tests check that none of it is stored.
"""

import struct
import zlib

# The GPS latitude and longitude as Exif rationals (degrees, minutes, seconds): these
# exact bytes must not survive an upload.
GPS_LATITUDE = struct.pack(">6I", 7, 1, 15, 1, 3012, 100)
GPS_LONGITUDE = struct.pack(">6I", 112, 1, 45, 1, 1544, 100)
PNG_LOCATION = b"Jl. Mawar 3, Sumberejo"
XMP_MARKER = b"http://ns.adobe.com/xap/1.0/\x00"


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _exif_with_gps() -> bytes:
    """An Exif APP1 payload: IFD0 pointing at a GPS IFD with latitude and longitude."""
    # Big-endian TIFF header; IFD0 at offset 8 with one entry (GPSInfo -> offset 26).
    ifd0 = struct.pack(">H", 1) + struct.pack(">HHII", 0x8825, 4, 1, 26) + struct.pack(">I", 0)
    gps_entries = [
        struct.pack(">HHI4s", 0x0001, 2, 2, b"S\x00\x00\x00"),  # GPSLatitudeRef
        struct.pack(">HHII", 0x0002, 5, 3, 26 + 2 + 4 * 12 + 4),  # GPSLatitude
        struct.pack(">HHI4s", 0x0003, 2, 2, b"E\x00\x00\x00"),  # GPSLongitudeRef
        struct.pack(">HHII", 0x0004, 5, 3, 26 + 2 + 4 * 12 + 4 + 24),  # GPSLongitude
    ]
    gps_ifd = struct.pack(">H", len(gps_entries)) + b"".join(gps_entries) + struct.pack(">I", 0)
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + ifd0 + gps_ifd + GPS_LATITUDE + GPS_LONGITUDE
    return b"Exif\x00\x00" + tiff


def jpeg_scan() -> bytes:
    """The image data: start of scan, entropy-coded bytes (one stuffed 0xFF), end of image."""
    header = bytes((1, 1, 0x00, 0, 63, 0))
    return _segment(0xDA, header) + b"\xf8\xa2\x8a\xff\x00\x28\xa0\x0f" + b"\xff\xd9"


def a_jpeg_with_gps() -> bytes:
    """A baseline 8x8 greyscale JPEG as a phone writes it: JFIF, Exif with GPS, XMP, a comment."""
    jfif = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    quantisation = b"\x00" + bytes(range(1, 65))
    frame = b"\x08" + struct.pack(">HH", 8, 8) + b"\x01" + b"\x01\x11\x00"
    dc_table = b"\x00" + bytes([0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) + b"\x00"
    ac_table = b"\x10" + bytes([0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) + b"\x00"
    return (
        b"\xff\xd8"
        + _segment(0xE0, jfif)
        + _segment(0xE1, _exif_with_gps())
        + _segment(0xE1, XMP_MARKER + b"<x:xmpmeta><exif:GPSLatitude>7,15.5S</exif:GPSLatitude>")
        + _segment(0xFE, b"rumah aman Sumberejo")
        + _segment(0xDB, quantisation)
        + _segment(0xC0, frame)
        + _segment(0xC4, dc_table)
        + _segment(0xC4, ac_table)
        + jpeg_scan()
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def a_png_with_location() -> bytes:
    """A 1x1 PNG with an eXIf chunk (GPS) and text chunks naming a place."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"eXIf", _exif_with_gps()[6:])
        + _chunk(b"tEXt", b"Location\x00" + PNG_LOCATION)
        + _chunk(b"iTXt", b"Comment\x00\x00\x00\x00\x00" + PNG_LOCATION)
        + _chunk(b"IDAT", pixels)
        + _chunk(b"IEND", b"")
    )


def a_pdf(body: bytes = b"BT /F1 12 Tf 72 712 Td (Surat persetujuan) Tj ET") -> bytes:
    """A one-page PDF with its objects, cross-reference table and end marker."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length " + str(len(body)).encode() + b" >>\nstream\n" + body + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + content + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def an_elf() -> bytes:
    """The first bytes of a Linux executable."""
    return b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00" + bytes(48)


def a_wav() -> bytes:
    samples = bytes(16)
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 8000, 1, 8)
    return (
        b"RIFF"
        + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(samples))
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(samples))
        + samples
    )
