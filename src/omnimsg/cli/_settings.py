"""A channel's settings as rows and as JSON, read from the fields of the value class.

No list of settings is kept here: the walk goes over ``attrs.fields`` of
:class:`~omnimsg.ChannelCapabilities` (and of the values nested in it), so a setting
added to the class shows up without a change to the command line. A field whose
metadata says ``enforced`` is ``False`` is carried by profiles but applied by no code
yet; it and everything under it are marked so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from enum import Enum
from typing import Any

import attrs

from omnimsg import ChannelCapabilities
from omnimsg._time import duration_text

__all__ = ["Setting", "capabilities_json", "duration_text", "setting_rows", "value_json"]

# The channel kind names the table and the JSON object the settings belong to.
_IDENTITY = "kind"


@attrs.frozen
class Setting:
    """One row of a channel's settings: a dotted name, its value in words, and
    whether any code applies it yet."""

    name: str
    value: str
    enforced: bool


def _number_text(value: int | float) -> str:
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return f"{int(value):,}"
        return f"{value:,}" if math.isfinite(value) else str(value)
    return f"{value:,}"


def _text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, int | float):
        return _number_text(value)
    if isinstance(value, timedelta):
        return duration_text(value)
    if isinstance(value, time):
        return value.isoformat(timespec="seconds" if value.second else "minutes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return value if value.strip() else repr(value)
    if isinstance(value, frozenset | set):
        return ", ".join(sorted(_text(item) for item in value)) or "-"
    if isinstance(value, tuple | list):
        return " / ".join(_text(item) for item in value) or "-"
    if isinstance(value, Mapping) and not value:
        return "-"
    return str(value)


def _flatten(name: str, value: object, enforced: bool, rows: list[Setting]) -> None:
    cls = type(value)
    if attrs.has(cls):
        for field in attrs.fields(cls):
            if not field.name.startswith("_"):
                _flatten(
                    f"{name}.{field.name}",
                    getattr(value, field.name),
                    enforced and field.metadata.get("enforced") is not False,
                    rows,
                )
    elif isinstance(value, Mapping) and value:
        for key in sorted(value, key=str):
            _flatten(f"{name}.{key}", value[key], enforced, rows)
    else:
        rows.append(Setting(name, _text(value), enforced))


def _top_fields() -> list[attrs.Attribute[Any]]:
    return [
        f
        for f in attrs.fields(ChannelCapabilities)
        if f.name != _IDENTITY and not f.name.startswith("_")
    ]


def setting_rows(caps: ChannelCapabilities) -> list[Setting]:
    """Every setting of ``caps`` in field order, nested values as dotted names.

    ``content`` becomes ``content.text_max``, ``content.media``...; a mapping such as
    ``keywords`` becomes ``keywords.en.opt_out``. Values are in words: ``-`` for
    none, ``yes``/``no``, durations as ``24h``.
    """
    rows: list[Setting] = []
    for field in _top_fields():
        enforced = field.metadata.get("enforced") is not False
        _flatten(field.name, getattr(caps, field.name), enforced, rows)
    return rows


def value_json(value: object) -> Any:
    """``value`` as JSON data: durations in seconds, times as ``HH:MM``, sets sorted.

    Enums become their values, dates and datetimes ISO 8601 text, attrs instances
    objects of their public fields, and numbers that are not finite text.
    """
    if isinstance(value, Enum):
        return value_json(value.value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        return int(seconds) if seconds.is_integer() else seconds
    if isinstance(value, time):
        return value.isoformat(timespec="seconds" if value.second else "minutes")
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted((value_json(item) for item in value), key=str)
    if isinstance(value, tuple | list):
        return [value_json(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): value_json(item) for key, item in value.items()}
    cls = type(value)
    if attrs.has(cls):
        return {
            f.name: value_json(getattr(value, f.name))
            for f in attrs.fields(cls)
            if not f.name.startswith("_")
        }
    return str(value)


def _unenforced(name: str, value: object) -> list[str]:
    names: list[str] = []
    cls = type(value)
    if attrs.has(cls):
        for field in attrs.fields(cls):
            dotted = f"{name}.{field.name}"
            if field.metadata.get("enforced") is False:
                names.append(dotted)
            elif not field.name.startswith("_"):
                names += _unenforced(dotted, getattr(value, field.name))
    return names


def capabilities_json(caps: ChannelCapabilities) -> dict[str, Any]:
    """One channel as JSON: ``kind``, ``settings`` and ``not_yet_enforced``.

    ``settings`` holds every field but ``kind`` (nested values as objects);
    ``not_yet_enforced`` names the settings no code applies yet, a nested one with a
    dotted name.
    """
    names: list[str] = []
    for field in _top_fields():
        if field.metadata.get("enforced") is False:
            names.append(field.name)
        else:
            names += _unenforced(field.name, getattr(caps, field.name))
    return {
        "kind": value_json(caps.kind),
        "settings": {f.name: value_json(getattr(caps, f.name)) for f in _top_fields()},
        "not_yet_enforced": names,
    }
