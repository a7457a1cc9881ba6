"""Uploads are judged by their bytes, and photos lose where they were taken."""

import zlib

import pytest

from services.document_content import (
    JPEG,
    M4A,
    MP3,
    OGG,
    PDF,
    PNG,
    WAV,
    ContentRefused,
    check_content,
    strip_png,
)
from tests.support.documents import (
    GPS_LATITUDE,
    GPS_LONGITUDE,
    PNG_LOCATION,
    XMP_MARKER,
    a_jpeg_with_gps,
    a_pdf,
    a_png_with_location,
    a_wav,
    an_elf,
    jpeg_scan,
)


def refusal(content: bytes, declared: str = "application/octet-stream") -> str:
    with pytest.raises(ContentRefused) as refused:
        check_content(content, declared)
    return refused.value.rule


def test_a_jpeg_loses_its_exif_gps_xmp_and_comment_but_keeps_its_image_data():
    photo = a_jpeg_with_gps()
    assert GPS_LATITUDE in photo and b"Exif" in photo  # the test photo says where it was taken

    checked = check_content(photo, "image/jpeg")

    assert checked.media_type == JPEG
    for trace in (b"Exif", GPS_LATITUDE, GPS_LONGITUDE, XMP_MARKER, b"GPSLatitude", b"Sumberejo"):
        assert trace not in checked.content
    assert b"\xff\xe1" not in checked.content  # no APP1 segment at all
    assert checked.content.startswith(b"\xff\xd8\xff\xe0")  # JFIF stays
    assert checked.content.endswith(jpeg_scan())  # the image data, untouched
    assert checked.removed == ("exif_or_xmp", "exif_or_xmp", "comment")


def test_a_stripped_jpeg_passes_the_check_again_unchanged():
    once = check_content(a_jpeg_with_gps(), "image/jpeg").content

    assert check_content(once, "image/jpeg").content == once


def test_a_png_loses_its_exif_and_text_chunks_and_stays_a_valid_png():
    checked = check_content(a_png_with_location(), "image/png")

    assert checked.media_type == PNG
    assert PNG_LOCATION not in checked.content and GPS_LATITUDE not in checked.content
    assert b"eXIf" not in checked.content and b"tEXt" not in checked.content
    assert checked.removed == ("eXIf", "tEXt", "iTXt")
    assert b"IDAT" in checked.content
    assert strip_png(checked.content) == (checked.content, ())  # every CRC still holds


def test_a_png_chunk_failing_its_checksum_is_refused():
    png = bytearray(a_png_with_location())
    png[png.index(b"IDAT") + 5] ^= 0xFF

    assert refusal(bytes(png)) == "malformed_png"


def test_a_jpeg_cut_before_its_image_data_is_refused():
    photo = a_jpeg_with_gps()

    assert refusal(photo[: photo.index(b"\xff\xda")]) == "malformed_jpeg"
    assert refusal(photo[:-2]) == "malformed_jpeg"  # no end-of-image marker


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        (an_elf(), "executable_content"),
        (b"MZ\x90\x00\x03" + bytes(59), "executable_content"),  # a Windows program
        (b"#!/bin/sh\nrm -rf /\n", "executable_content"),
        (b"PK\x03\x04\x14\x00" + bytes(24), "unsupported_content"),  # a ZIP archive
        (b"<!DOCTYPE html><script>alert(1)</script>", "unsupported_content"),
        (b"GIF89a\x01\x00\x01\x00", "unsupported_content"),
        (b"", "empty_content"),
    ],
)
def test_a_file_is_refused_by_what_it_is_whatever_it_is_named_or_declared(content, rule):
    assert refusal(content, "application/pdf" if content else "image/jpeg") in (
        rule,
        "content_type_mismatch",
    )
    assert refusal(content) == rule


def test_a_declared_type_that_is_not_the_content_is_refused():
    assert refusal(a_png_with_location(), "image/jpeg") == "content_type_mismatch"


def test_the_declared_type_may_carry_parameters_or_be_unknown():
    assert check_content(a_pdf(), "Application/PDF; charset=binary").media_type == PDF
    assert check_content(a_pdf(), "application/octet-stream").media_type == PDF


def test_a_pdf_is_kept_as_sent():
    pdf = a_pdf()

    assert check_content(pdf, "application/pdf").content == pdf


@pytest.mark.parametrize(
    "forged",
    [
        b"%PDF-1.7\n" + bytes(range(256)) * 4,  # a header on garbage: no objects, no end
        b"%PDF-\n1 0 obj\n<<>>\nendobj\n%%EOF\n",  # no version
        b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n",  # no end-of-file marker
    ],
)
def test_a_pdf_header_on_anything_else_is_refused_as_malformed(forged):
    assert refusal(forged) == "malformed_pdf"


@pytest.mark.parametrize(
    "action",
    [
        b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >>",
        b"/OpenAction << /S /J#61vaScript >>",  # the name hidden by a #xx escape
        b"/AA << /O << /S /Launch /F (cmd.exe) >> >>",
        b"/Names << /EmbeddedFiles 5 0 R >>",
    ],
)
def test_a_pdf_that_would_run_something_is_refused(action):
    pdf = a_pdf().replace(b"/Type /Catalog", b"/Type /Catalog " + action)

    assert refusal(pdf) == "pdf_active_content"


def test_recordings_are_recognised_by_their_content():
    assert check_content(a_wav(), "audio/wav").media_type == WAV
    assert check_content(b"OggS\x00\x02" + bytes(22), "audio/ogg").media_type == OGG
    m4a = b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00" + bytes(16)
    assert check_content(m4a, "audio/mp4").media_type == M4A
    assert check_content(b"ID3\x04\x00\x00" + bytes(20), "audio/mpeg").media_type == MP3
    assert check_content(b"\xff\xfb\x90\x64" + bytes(20), "audio/mpeg").media_type == MP3


def test_a_refusal_names_no_content():
    secret = b"Nama korban: Mawar"
    with pytest.raises(ContentRefused) as refused:
        check_content(secret, "application/pdf")

    assert "Mawar" not in str(refused.value)


def test_the_png_builder_writes_valid_checksums():
    png = a_png_with_location()
    ihdr = png[8:]
    length = int.from_bytes(ihdr[:4], "big")

    assert int.from_bytes(ihdr[8 + length : 12 + length], "big") == zlib.crc32(ihdr[4 : 8 + length])
