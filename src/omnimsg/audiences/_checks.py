"""Checks for the fields of the audience value classes: wrong types are InputErrors.

attrs leaves types unchecked, so a report built by hand with ``cells=None`` would
fail later, far from its cause, with a bare ``TypeError``. These validators and
converters refuse such values where they are given, naming the class and field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

import attrs

from omnimsg.audiences._text import show, show_value, type_name
from omnimsg.errors import InputError

E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")


def _where(instance: object, attribute: attrs.Attribute[Any]) -> str:
    return f"{type(instance).__name__}.{attribute.name}"


def count(instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    """A whole number >= 0 (a line, a count)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        got = show_value(value)
        raise InputError(f"{_where(instance, attribute)}: expected a whole number >= 0, got {got}")


def text(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    """A str."""
    if not isinstance(value, str):
        raise InputError(f"{_where(instance, attribute)}: expected text, got {type_name(value)}")


def optional_text(instance: object, attribute: attrs.Attribute[str | None], value: object) -> None:
    """A str or ``None``."""
    if value is not None and not isinstance(value, str):
        raise InputError(
            f"{_where(instance, attribute)}: expected text or None, got {type_name(value)}"
        )


def flag(instance: object, attribute: attrs.Attribute[bool], value: object) -> None:
    """``True`` or ``False``."""
    if not isinstance(value, bool):
        raise InputError(
            f"{_where(instance, attribute)}: expected True or False, got {type_name(value)}"
        )


def to_tuple(value: object, kind: type[T], what: str) -> tuple[T, ...]:
    """Any iterable (not a str, bytes or mapping) of ``kind``, as a tuple."""
    if isinstance(value, str | bytes | bytearray | Mapping) or not isinstance(value, Iterable):
        raise InputError(f"{what}: expected a sequence, got {type_name(value)}")
    items = tuple(value)
    for item in items:
        if not isinstance(item, kind):
            raise InputError(
                f"{what}: expected items of type {kind.__name__}, got {type_name(item)}"
            )
    return items


def to_enum(value: object, kind: type[E], what: str) -> E:
    """A member of ``kind``, from itself or its string value."""
    if isinstance(value, kind):
        return value
    if isinstance(value, str):
        for member in kind:
            if member.value == value:
                return member
    known = ", ".join(m.value for m in kind)
    got = show(value) if isinstance(value, str) else type_name(value)
    raise InputError(f"{what}: expected one of {known}, got {got}")


def column_map(value: object) -> Mapping[str, str | None]:
    """A converter: a mapping of header text to a target (text) or ``None``."""
    if not isinstance(value, Mapping):
        raise InputError(f"CsvImportReport.columns: expected a mapping, got {type_name(value)}")
    for key, target in value.items():
        if not isinstance(key, str) or (target is not None and not isinstance(target, str)):
            raise InputError(
                "CsvImportReport.columns: expected header text mapped to text or None, "
                f"got {type_name(key)} mapped to {type_name(target)}"
            )
    return MappingProxyType(dict(value))
