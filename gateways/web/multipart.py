"""A ``multipart/form-data`` body read into its fields and files, from bytes already read.

Starlette's own form parser needs python-multipart, which Simpul does not depend on;
the pages post one small form with at most one file, so reading it here is a few lines
over the bytes. The body is read whole (the request limits bound it) and split on its
boundary, which by its definition occurs nowhere inside a part. A body that does not
hold together is refused whole rather than read in part. A file's name as the browser
sends it is dropped: it may name the person, and nothing here needs it.
"""

from dataclasses import dataclass
from email.message import Message

from gateways.web.forms import PostedForm

# The attach form has a handful of fields and one file; more parts are not this form.
MAX_PARTS = 16
MAX_PART_HEADER_BYTES = 2048


class MalformedForm(ValueError):
    """The body is not the ``multipart/form-data`` its Content-Type says."""


@dataclass(frozen=True)
class UploadedFile:
    content: bytes
    content_type: str


@dataclass(frozen=True)
class MultipartForm:
    fields: PostedForm
    files: dict[str, UploadedFile]


def _header_params(value: str) -> Message:
    header = Message()
    header["content-type"] = value
    return header


def boundary_of(content_type: str) -> bytes:
    header = _header_params(content_type)
    boundary = header.get_param("boundary")
    if header.get_content_type() != "multipart/form-data" or not isinstance(boundary, str):
        raise MalformedForm("not multipart/form-data")
    if not 1 <= len(boundary) <= 70:
        raise MalformedForm("the boundary is not 1 to 70 characters")
    return boundary.encode("latin-1")


def _part(chunk: bytes) -> tuple[str, str | None, bytes]:
    """(field name, its Content-Type if it is a file, content) of one part; a file input
    left empty (no file name) is a blank field."""
    if not chunk.startswith(b"\r\n"):
        raise MalformedForm("a boundary is not followed by a line end")
    head, separator, content = chunk[2:].partition(b"\r\n\r\n")
    if not separator or len(head) > MAX_PART_HEADER_BYTES:
        raise MalformedForm("a part's headers do not end")
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", errors="replace").split("\r\n"):
        name, colon, value = line.partition(":")
        if not colon:
            raise MalformedForm("a part's header has no value")
        headers[name.strip().lower()] = value.strip()
    disposition = Message()
    disposition["content-disposition"] = headers.get("content-disposition", "")
    field = disposition.get_param("name", header="content-disposition")
    if disposition.get_content_disposition() != "form-data" or not isinstance(field, str):
        raise MalformedForm("a part is not a named form field")
    filename = disposition.get_param("filename", header="content-disposition")
    file_type = headers.get("content-type", "application/octet-stream") if filename else None
    return field, file_type, content


def parse_multipart(body: bytes, content_type: str) -> MultipartForm:
    """The fields (as a ``PostedForm``) and files of a ``multipart/form-data`` body."""
    delimiter = b"\r\n--" + boundary_of(content_type)
    chunks = (b"\r\n" + body).split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise MalformedForm("the body does not end with its closing boundary")
    if len(chunks) - 2 > MAX_PARTS:
        raise MalformedForm("too many parts")
    fields: dict[str, list[str]] = {}
    files: dict[str, UploadedFile] = {}
    for chunk in chunks[1:-1]:
        name, file_type, content = _part(chunk)
        if file_type is None:
            fields.setdefault(name, []).append(content.decode("utf-8", errors="replace"))
        elif name in files:
            raise MalformedForm("one file per field")
        else:
            files[name] = UploadedFile(content, file_type)
    return MultipartForm(PostedForm(fields), files)
