"""The attach form's multipart body: its fields and its file read back byte for byte, the
file's own name dropped, and a body that does not hold together refused whole."""

import pytest

from gateways.web.multipart import MalformedForm, parse_multipart

pytestmark = pytest.mark.unit

BOUNDARY = "----simpul7f3a"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
# Bytes a boundary search must not stumble over: line ends, dashes, NUL, high bytes.
AWKWARD = b"%PDF-1.4\r\n--\r\n\x00\xff\r\n\r\n--" + BOUNDARY.encode()[:-1] + b"\r\n%%EOF"


def _body(*parts: tuple[str, str | None, str | None, bytes]) -> bytes:
    body = b""
    for name, filename, content_type, content in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode()
        if content_type:
            body += f"Content-Type: {content_type}\r\n".encode()
        body += b"\r\n" + content + b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode()


def test_fields_and_the_file_are_read_back_exactly() -> None:
    body = _body(
        ("csrf_token", None, None, b"token"),
        ("kind", None, None, b"visum_et_repertum"),
        ("file", "visum Siti.pdf", "application/pdf", AWKWARD),
    )

    form = parse_multipart(body, CONTENT_TYPE)

    assert form.fields.first("csrf_token") == "token"
    assert form.fields.first("kind") == "visum_et_repertum"
    assert form.files["file"].content == AWKWARD
    assert form.files["file"].content_type == "application/pdf"
    assert "Siti" not in repr(form)


def test_a_file_input_left_empty_is_a_blank_field() -> None:
    form = parse_multipart(_body(("file", "", "application/octet-stream", b"")), CONTENT_TYPE)

    assert form.files == {} and form.fields.first("file") == ""


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (_body(("kind", None, None, b"photo")), "application/x-www-form-urlencoded"),
        (_body(("kind", None, None, b"photo")), "multipart/form-data"),
        (_body(("kind", None, None, b"photo"))[:-8], CONTENT_TYPE),
        (f"--{BOUNDARY}\r\nno headers end".encode() + f"\r\n--{BOUNDARY}--".encode(), CONTENT_TYPE),
        (_body(("a", "x", None, b"1"), ("a", "y", None, b"2")), CONTENT_TYPE),
        (_body(*[("kind", None, None, b"photo")] * 17), CONTENT_TYPE),
    ],
    ids=["not-multipart", "no-boundary", "cut-short", "no-headers", "two-files", "too-many"],
)
def test_a_body_that_does_not_hold_together_is_refused(body: bytes, content_type: str) -> None:
    with pytest.raises(MalformedForm):
        parse_multipart(body, content_type)
