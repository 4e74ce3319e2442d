"""Plain-English descriptions of conditions, for people reading a segment.

``tags include any of vip, gold and (score is greater than 500 or e-mail is not set)``

Phrases are data (one template per operator, a few per kind of field); this module
only fills them in. It owns the wording, not the meaning: what a condition does is
defined by :mod:`omnimsg.segments.compiler`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING

from omnimsg.segments.fields import FieldSpec, Operator, Period, ValueKind

if TYPE_CHECKING:
    from omnimsg.segments.values import ConditionValue

__all__ = ["describe_condition", "describe_value"]

_O = Operator

_PHRASES: Mapping[Operator, str] = MappingProxyType(
    {
        _O.EQUALS: "{field} is {value}",
        _O.NOT_EQUALS: "{field} is not {value}",
        _O.IN: "{field} is any of {value}",
        _O.NOT_IN: "{field} is none of {value}",
        _O.CONTAINS: "{field} contains {value}",
        _O.NOT_CONTAINS: "{field} does not contain {value}",
        _O.STARTS_WITH: "{field} starts with {value}",
        _O.IS_SET: "{field} is set",
        _O.IS_NOT_SET: "{field} is not set",
        _O.GT: "{field} is greater than {value}",
        _O.GTE: "{field} is at least {value}",
        _O.LT: "{field} is less than {value}",
        _O.LTE: "{field} is at most {value}",
        _O.BETWEEN: "{field} is between {value}",
        _O.HAS_ANY: "{field} include any of {value}",
        _O.HAS_ALL: "{field} include all of {value}",
        _O.HAS_NONE: "{field} include none of {value}",
        _O.HAS_CHANNEL: "{field} include {value}",
        _O.LAST_INTERACTED_CHANNEL_IS: "{field} is {value}",
        _O.PHONE_COUNTRY_IS: "{field} is {value}",
        _O.BEFORE: "{field} is before {value}",
        _O.AFTER: "{field} is after {value}",
        _O.WITHIN_LAST: "{field} is within the last {value}",
        _O.MORE_THAN_AGO: "{field} is more than {value} ago",
    }
)

_SET_PHRASES: Mapping[Operator, str] = MappingProxyType(
    {
        _O.CONTAINS: "{field} include {value}",
        _O.NOT_CONTAINS: "{field} do not include {value}",
        _O.IS_SET: "{field} are not empty",
        _O.IS_NOT_SET: "{field} are empty",
    }
)
"""Plural fields (tags, channels) read better with their own verbs."""

_DATETIME_PHRASES: Mapping[Operator, str] = MappingProxyType(
    {
        _O.GT: "{field} is after {value}",
        _O.GTE: "{field} is at or after {value}",
        _O.LT: "{field} is before {value}",
        _O.LTE: "{field} is at or before {value}",
    }
)

_ANY_OF = frozenset((_O.LAST_INTERACTED_CHANNEL_IS, _O.PHONE_COUNTRY_IS))
"""Operators that take one value or a list, and read a list as "any of"."""

_NEEDS_QUOTES = frozenset(',"()')


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.microsecond or value.utcoffset() != timedelta(0):
            return value.isoformat()
        return value.strftime("%Y-%m-%d %H:%M:%S" if value.second else "%Y-%m-%d %H:%M") + " UTC"
    if isinstance(value, str):
        text = str(value)
        if (
            not text
            or text != text.strip()
            or any(ch in _NEEDS_QUOTES or not ch.isprintable() for ch in text)
        ):
            return json.dumps(text, ensure_ascii=False)
        return text
    return repr(value)


def describe_value(value: ConditionValue) -> str:
    """A condition's value as text: lists joined with commas, strings quoted if needed."""
    if isinstance(value, Period):
        return value.describe()
    if isinstance(value, tuple):
        return ", ".join(_scalar(item) for item in value)
    return _scalar(value)


def describe_condition(
    field: FieldSpec, op: Operator, value: ConditionValue, sender: str | None = None
) -> str:
    """One condition in plain English, e.g. ``"score is greater than 500"``.

    A ``value`` of ``None`` reads as ``…`` (a blank to fill in, as in schema titles).
    """
    template = _PHRASES[op]
    if field.kind in (ValueKind.TAGS, ValueKind.CHANNELS):
        template = _SET_PHRASES.get(op, template)
    elif field.kind is ValueKind.DATETIME:
        template = _DATETIME_PHRASES.get(op, template)
    if value is None:
        text = "…"
    elif op is Operator.BETWEEN and isinstance(value, tuple):
        text = f"{_scalar(value[0])} and {_scalar(value[1])}"
    elif op in _ANY_OF and isinstance(value, tuple) and len(value) > 1:
        text = "any of " + describe_value(value)
    else:
        text = describe_value(value)
    label = field.label if sender is None else f"{field.label} to {_scalar(sender)}"
    return template.format(field=label, value=text)
