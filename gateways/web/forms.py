"""Forms read off the commands' own request models: a new SOP step gets its form for free.

The API takes each command class of ``services.case_commands`` as its request body; a
page renders the same class as an HTML form and turns what the browser posts back into
the same JSON-shaped value, which the same model then validates. So the form, the API
and OpenAPI can never disagree about a field, its choices or whether it is required.

Field names are the model's dotted paths (``victim.name``, ``services.0.service_type``);
labels are English msgids translated by the catalogs; choices of a vocabulary carry
the words of ``projections.labels``.
"""

import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ValidationError
from pydantic.fields import FieldInfo

from domain.errors import InvalidValue
from projections.labels import TABLES, Words
from services.case_commands import TextRule

Widget = Literal[
    "text", "textarea", "lines", "select", "checkbox", "checkboxes", "number", "date", "moment"
]
# How many rows a list of records (an intervention plan's services) offers; rows left
# blank are dropped, so a plan may name fewer.
REPEATED_ROWS = 3
VOCABULARY_WORDS: dict[type[Enum], dict[str, Words]] = dict(TABLES.items())
ABBREVIATIONS = {"nik": "NIK", "ampk": "AMPK", "sop": "SOP", "id": "ID", "ids": "IDs"}


@dataclass(frozen=True)
class Choice:
    value: str
    words: tuple[str, str] | None  # (Indonesian, English), where the vocabulary has words


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    widget: Widget
    required: bool
    description: str | None = None
    choices: tuple[Choice, ...] = ()
    max_length: int | None = None


@dataclass(frozen=True)
class FieldGroup:
    """A record inside the form (the victim, the incident, one planned service)."""

    name: str
    label: str
    required: bool
    fields: tuple["FormItem", ...] = field(default=())
    repeated: bool = False  # a list of records: each of ``fields`` is one row


FormItem = FormField | FieldGroup


def label_of(name: str) -> str:
    """The English msgid of a field: ``case_worker_id`` reads "Case worker ID"."""
    words = [ABBREVIATIONS.get(word, word) for word in name.split("_")]
    first = words[0] if words[0].isupper() else words[0].capitalize()
    return " ".join([first, *words[1:]])


def _without_none(annotation: Any) -> tuple[Any, bool]:
    """The annotation without ``| None``, and whether None was allowed."""
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0], True
    return annotation, False


def _unwrapped(annotation: Any) -> tuple[Any, list[Any]]:
    """The base type of an ``Annotated`` and its metadata."""
    metadata: list[Any] = []
    while get_origin(annotation) is Annotated:
        annotation, *more = get_args(annotation)
        metadata.extend(more)
    return annotation, metadata


def _choices(kind: Any) -> tuple[Choice, ...] | None:
    if isinstance(kind, type) and issubclass(kind, Enum):
        words = VOCABULARY_WORDS.get(kind, {})
        return tuple(Choice(str(member.value), words.get(member.value)) for member in kind)
    if get_origin(kind) is Literal:
        return tuple(Choice(str(value), None) for value in get_args(kind))
    return None


def _max_length(info: FieldInfo, metadata: Iterable[Any]) -> int | None:
    for constraint in [*info.metadata, *metadata]:
        limit = getattr(constraint, "max_length", None)
        if isinstance(limit, int):
            return limit
    return None


def _is_multiline(metadata: Iterable[Any]) -> bool:
    return any(isinstance(rule, TextRule) and rule.multiline for rule in metadata)


def _item(name: str, info: FieldInfo, prefix: str) -> FormItem:
    path = f"{prefix}{name}"
    annotation, optional = _without_none(info.annotation)
    base, metadata = _unwrapped(annotation)
    required = info.is_required() and not optional

    def of(widget: Widget, *, needed: bool = required, **more: Any) -> FormField:
        return FormField(path, label_of(name), widget, needed, info.description, **more)

    if isinstance(base, type) and issubclass(base, BaseModel):
        return FieldGroup(path, label_of(name), required, items_of(base, prefix=f"{path}."))
    if get_origin(base) is list:
        (member,) = get_args(base)
        member, _ = _unwrapped(member)
        if isinstance(member, type) and issubclass(member, BaseModel):
            rows = tuple(
                FieldGroup(
                    f"{path}.{row}",
                    label_of(name),
                    False,
                    items_of(member, prefix=f"{path}.{row}."),
                )
                for row in range(REPEATED_ROWS)
            )
            return FieldGroup(path, label_of(name), required, rows, repeated=True)
        choices = _choices(member)
        if choices is not None:
            return of("checkboxes", needed=False, choices=choices)
        return of("lines", max_length=None)
    choices = _choices(base)
    if choices is not None:
        return of("select", choices=choices)
    if base is bool:
        return of("checkbox", needed=False)
    if base is int:
        return of("number")
    if base is AwareDatetime or (isinstance(base, type) and issubclass(base, datetime)):
        return of("moment")
    if base is date:
        return of("date")
    widget: Widget = "textarea" if _is_multiline([*info.metadata, *metadata]) else "text"
    return of(widget, max_length=_max_length(info, metadata))


def items_of(
    model: type[BaseModel], *, prefix: str = "", leave_out: Sequence[str] = ()
) -> tuple[FormItem, ...]:
    """The form of a request model: its fields in declaration order."""
    return tuple(
        _item(name, info, prefix)
        for name, info in model.model_fields.items()
        if name not in leave_out
    )


# ---- What the browser posts, as the model's JSON ---------------------------------------


@dataclass(frozen=True)
class PostedForm:
    """The posted fields, each name with every value sent (checkboxes send several)."""

    values: Mapping[str, Sequence[str]]

    def first(self, name: str) -> str:
        sent = self.values.get(name)
        return sent[0] if sent else ""

    def all(self, name: str) -> list[str]:
        return [value for value in self.values.get(name, ()) if value]


def _number(text: str) -> int | str:
    """A whole number, or the text as sent so that the model refuses it by name."""
    return int(text) if text.strip().lstrip("-").isdigit() else text


def _moment(text: str, zone: ZoneInfo | None) -> str:
    """A ``datetime-local`` value is the district's wall-clock time: give it its offset."""
    if zone is None:
        return text
    try:
        return datetime.fromisoformat(text).replace(tzinfo=zone).isoformat()
    except ValueError:
        return text


def posted_value(
    items: Sequence[FormItem], form: PostedForm, zone: ZoneInfo | None
) -> dict[str, Any]:
    """The request body the form describes. A blank optional field is left out, so the
    model's default applies; a record left wholly blank is left out too."""
    body: dict[str, Any] = {}
    for item in items:
        key = item.name.rsplit(".", 1)[-1]
        if isinstance(item, FieldGroup):
            if item.repeated:
                rows = [
                    posted_value(row.fields, form, zone)
                    for row in item.fields
                    if isinstance(row, FieldGroup)
                ]
                body[key] = [row for row in rows if row]
                continue
            record = posted_value(item.fields, form, zone)
            if record or item.required:
                body[key] = record
            continue
        if item.widget == "checkbox":
            body[key] = form.first(item.name) == "true"
        elif item.widget == "checkboxes":
            body[key] = form.all(item.name)
        elif item.widget == "lines":
            lines = [line.strip() for line in form.first(item.name).splitlines()]
            body[key] = [line for line in lines if line]
        else:
            text = form.first(item.name)
            if not text.strip():
                continue
            if item.widget == "number":
                body[key] = _number(text)
            elif item.widget == "moment":
                body[key] = _moment(text, zone)
            else:
                body[key] = text
    return body


# Pydantic's refusals the pages say in the user's words (msgids); others keep its message.
MESSAGES = {
    "missing": "This field is required.",
    "enum": "Choose one of the options.",
    "literal_error": "Choose one of the options.",
    "string_too_long": "This is too long.",
    "too_long": "Too many entries.",
    "too_short": "Choose at least one.",
    "blank": "This must not be blank.",
    "control_character": "This contains characters that cannot be stored.",
    "int_parsing": "Give a whole number.",
    "int_type": "Give a whole number.",
    "greater_than_equal": "This number is too small.",
    "less_than_equal": "This number is too large.",
    "string_pattern_mismatch": "This is not in the expected form.",
    "date_from_datetime_parsing": "Give a date.",
    "datetime_from_date_parsing": "Give a date and time.",
    "unique_items": "Each entry may appear once.",
}


def field_errors(error: ValidationError | InvalidValue) -> dict[str, str]:
    """Each refused field by its form name, with a message (a msgid where there is one)
    that never repeats the value; a refusal of the domain names one field, or the form."""
    if isinstance(error, InvalidValue):
        return {error.field or "form": error.message}
    refused: dict[str, str] = {}
    for detail in error.errors(include_input=False, include_url=False):
        name = ".".join(str(part) for part in detail["loc"])
        refused.setdefault(name or "form", MESSAGES.get(detail["type"], detail["msg"]))
    return refused
