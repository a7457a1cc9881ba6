"""The value checks every command applies before it records anything.

Commands may be called with values of any origin (the API validates first,
but tests, scripts and imports call the aggregate directly), so the domain
refuses what its vocabulary does not allow. Errors name the field and never
echo the value.
"""

from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from typing import TypeVar

from domain.errors import InvalidValue

E = TypeVar("E", bound=StrEnum)


def one_of(enum: type[E], field_name: str, value: object) -> E:
    """``value`` as a member of ``enum``, or InvalidValue naming the allowed values."""
    if isinstance(value, str):
        try:
            return enum(value)
        except ValueError:
            pass
    allowed = ", ".join(member.value for member in enum)
    raise InvalidValue(field_name, f"must be one of: {allowed}")


def value_of(enum: type[StrEnum], field_name: str, value: object) -> str:
    """The plain string an event stores for a vocabulary value."""
    return str(one_of(enum, field_name, value).value)


def values_of(enum: type[StrEnum], field_name: str, values: object) -> list[str]:
    if not isinstance(values, (list, tuple)):
        raise InvalidValue(field_name, "must be a list")
    result = [value_of(enum, field_name, value) for value in values]
    if len(set(result)) != len(result):
        raise InvalidValue(field_name, "must not repeat a value")
    return result


def required_text(field_name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue(field_name, "is required and must not be blank")
    return value


def text_items(field_name: str, values: Sequence[object], *, at_least: int = 1) -> list[str]:
    if not isinstance(values, (list, tuple)) or len(values) < at_least:
        raise InvalidValue(field_name, f"must list at least {at_least} item(s)")
    return [required_text(field_name, value) for value in values]


def iso_day(field_name: str, value: object) -> date:
    """A day spelled YYYY-MM-DD: what the events store, and what lengths of stay count from."""
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidValue(field_name, "must be a date YYYY-MM-DD")
