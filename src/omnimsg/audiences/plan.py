"""How each column of one CSV file is read: the plan derived once from its header (SPEC A5).

The header's targets (:mod:`.columns`) become one cell parser per column
(:mod:`.cells`) and the positions the importer reads contact fields from. Built once
per file; nothing here looks at a row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from omnimsg.audiences.cells import (
    datetime_parser,
    parse_boolean,
    parse_contact_id,
    parse_email,
    parse_number,
    parse_text,
    parse_time_zone,
    parse_unnamed,
    phone_parser,
    tags_parser,
)
from omnimsg.audiences.columns import map_header
from omnimsg.audiences.options import CsvImportOptions
from omnimsg.segments.fields import CUSTOM_PREFIX, FieldType

__all__ = ["RowPlan", "plan_rows"]


@attrs.frozen
class RowPlan:
    """How each column of one file is read, derived once from its header."""

    header: tuple[str, ...]
    labels: tuple[str, ...]
    columns: Mapping[str, str | None]
    parsers: tuple[tuple[int, Callable[[str], Any]], ...]
    fields: tuple[tuple[int, str], ...]
    tags: tuple[int, ...]
    custom: tuple[tuple[int, str], ...]
    id_index: int | None
    phone_index: int | None
    email_index: int | None


def plan_rows(header: tuple[str, ...], options: CsvImportOptions, where: str) -> RowPlan:
    """The plan of a file with ``header``; ``where`` names the header in messages.

    Raises:
        AudienceError: the header cannot be used (see :func:`.columns.map_header`).
    """
    targets = map_header(header, options, where)
    by_field: dict[str, Callable[[str], Any]] = {
        "id": parse_contact_id,
        "email": parse_email,
        "phone": phone_parser(options.default_region),
        "timezone": parse_time_zone,
        "tags": tags_parser(options.tag_separators),
        "created_at": datetime_parser(options.naive_timezone),
    }
    by_type: dict[FieldType, Callable[[str], Any]] = {
        FieldType.STRING: parse_text,
        FieldType.NUMBER: parse_number,
        FieldType.BOOLEAN: parse_boolean,
        FieldType.DATETIME: by_field["created_at"],
    }
    parsers: list[tuple[int, Callable[[str], Any]]] = []
    fields: list[tuple[int, str]] = []
    tags: list[int] = []
    custom: list[tuple[int, str]] = []
    where_is: dict[str, int] = {}
    for index, (name, target) in enumerate(zip(header, targets, strict=True)):
        if target is None:
            if not name:
                parsers.append((index, parse_unnamed))
            continue
        if target.startswith(CUSTOM_PREFIX):
            field = target[len(CUSTOM_PREFIX) :]
            parsers.append((index, by_type[options.custom_types.get(field, FieldType.STRING)]))
            custom.append((index, field))
            continue
        parsers.append((index, by_field.get(target, parse_text)))
        if target == "tags":
            tags.append(index)
        else:
            where_is[target] = index
            if target != "phone":
                fields.append((index, target))
    return RowPlan(
        header=header,
        labels=tuple(name or f"column {i}" for i, name in enumerate(header, start=1)),
        columns=MappingProxyType(
            {name: target for name, target in zip(header, targets, strict=True) if name}
        ),
        parsers=tuple(parsers),
        fields=tuple(fields),
        tags=tuple(tags),
        custom=tuple(custom),
        id_index=where_is.get("id"),
        phone_index=where_is.get("phone"),
        email_index=where_is.get("email"),
    )
