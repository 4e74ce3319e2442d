"""Snippets: reusable message templates with variables filled per contact (SPEC C5).

This module owns the snippet syntax, its parser and the filling. Filling is safe by
construction: a placeholder names a key path, values are looked up only by key in
mappings, and nothing in a snippet or a value is ever evaluated, formatted as a
format string or reached by attribute access. A value is inserted once, as text; it
is never parsed again. Syntax::

    Hola {{ first_name }}!              a variable
    {{ contact.custom.plan }}           a dotted path through nested mappings
    Hi {{ first_name | "there" }}       a fallback when the value is missing or blank
    \\{{ literal braces }}               a backslash before {{ keeps it as text

A missing value raises :class:`~omnimsg.errors.SnippetError` naming the variable and
where it is, unless the placeholder has a fallback or ``fill`` is given ``missing=``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

import attrs

from omnimsg.contacts import Contact
from omnimsg.errors import SnippetError

__all__ = ["Placeholder", "Snippet", "contact_variables", "parse_snippet"]

_NAME = r"[^\W\d][\w-]*"
_PLACEHOLDER = re.compile(
    rf"""
    \{{\{{\s*
    (?P<path>{_NAME}(?:\.{_NAME})*)
    \s*
    (?:\|\s*(?P<fallback>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*)?
    \}}\}}
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_OPEN = "{{"
_CLOSE = "}}"


@attrs.frozen
class Placeholder:
    """One ``{{ ... }}`` of a snippet: the key path, its fallback and where it is.

    ``line`` and ``column`` are 1-based and point at the opening ``{{``.
    """

    path: tuple[str, ...]
    fallback: str | None
    text: str
    line: int
    column: int

    @property
    def name(self) -> str:
        """The dotted variable name, such as ``contact.first_name``."""
        return ".".join(self.path)


@attrs.frozen
class Snippet:
    """A parsed snippet: literal text and placeholders, filled many times.

    Build it with :func:`parse_snippet`; ``parts`` alternates text and
    :class:`Placeholder` values in order.
    """

    source: str
    parts: tuple[str | Placeholder, ...]

    @property
    def variables(self) -> tuple[str, ...]:
        """The dotted variable names the snippet uses, in order of first use."""
        seen: dict[str, None] = {}
        for part in self.parts:
            if isinstance(part, Placeholder):
                seen.setdefault(part.name, None)
        return tuple(seen)

    def fill(self, values: Mapping[str, object], *, missing: str | None = None) -> str:
        """Return the snippet's text with each placeholder replaced by its value.

        A variable is looked up by key in ``values``; each further dotted part is a key
        of the mapping found so far. Non-``str`` values are inserted as ``str(value)``.
        A value is missing when a key is absent, the value is ``None``, or the path
        runs into something that is not a mapping. The placeholder's own fallback,
        else ``missing``, replaces a missing value and also a blank string (empty or
        only whitespace); without either, a missing value raises.

        Raises :class:`~omnimsg.errors.SnippetError` naming the variable and its line
        and column when a value is missing without a fallback, when a value is itself
        a mapping, or when ``values`` is not a mapping.
        """
        if not isinstance(values, Mapping):
            raise SnippetError(
                f"snippet values must be a mapping of variable names, got {type(values).__name__}"
            )
        out: list[str] = []
        for part in self.parts:
            out.append(part if isinstance(part, str) else _value(part, values, missing))
        return "".join(out)


_ABSENT = object()


def _where(placeholder: Placeholder) -> str:
    return f"at line {placeholder.line}, column {placeholder.column} ({placeholder.text})"


def _value(placeholder: Placeholder, values: Mapping[str, object], missing: str | None) -> str:
    fallback = placeholder.fallback if placeholder.fallback is not None else missing
    current: object = values
    why = ""
    for depth, key in enumerate(placeholder.path):
        if not isinstance(current, Mapping):
            parent = ".".join(placeholder.path[:depth])
            why = f"{parent} is a {type(current).__name__}, not a mapping"
            current = _ABSENT
            break
        current = current.get(key, _ABSENT)
        if current is _ABSENT:
            break
    if current is _ABSENT or current is None:
        if fallback is not None:
            return fallback
        reason = why or ("its value is None" if current is None else "no value was given")
        raise SnippetError(
            f"snippet variable {placeholder.name!r} {_where(placeholder)}: {reason}; "
            f'pass a value, or give a fallback such as {{{{ {placeholder.name} | "..." }}}}'
        )
    if isinstance(current, Mapping):
        raise SnippetError(
            f"snippet variable {placeholder.name!r} {_where(placeholder)} is a mapping, "
            "not a value; name one of its keys with a dotted path"
        )
    if isinstance(current, str):
        text = current
    else:
        try:
            text = str(current)
        except Exception as exc:
            raise SnippetError(
                f"snippet variable {placeholder.name!r} {_where(placeholder)}: "
                f"its {type(current).__name__} value cannot be turned into text ({exc})"
            ) from exc
    if fallback is not None and not text.strip():
        return fallback
    return text


def _position(source: str, offset: int) -> tuple[int, int]:
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _excerpt(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_snippet(source: str) -> Snippet:
    """Parse ``source`` into a :class:`Snippet` (C5).

    A placeholder is ``{{ path }}`` or ``{{ path | "fallback" }}``: ``path`` is one
    or more names joined by dots, each a letter or ``_`` followed by letters, digits,
    ``_`` or ``-``; the fallback is a quoted string (double or single quotes, with
    ``\\`` escaping the next character). ``\\{{`` is a literal ``{{``; single braces,
    a lone ``}}`` and extra braces around a placeholder (``{{{ a }}}``) are literal
    text.

    Raises :class:`~omnimsg.errors.SnippetError` with the line and column of a ``{{``
    that is never closed or whose content is not a variable.
    """
    if not isinstance(source, str):
        raise SnippetError(f"a snippet must be a str, got {type(source).__name__}")
    parts: list[str | Placeholder] = []
    text: list[str] = []
    pos = 0
    while True:
        start = source.find(_OPEN, pos)
        if start < 0:
            text.append(source[pos:])
            break
        if start > 0 and source[start - 1] == "\\":
            text.append(source[pos : start - 1] + _OPEN)
            pos = start + len(_OPEN)
            continue
        # In a run of three or more braces the placeholder opens at the last two.
        while source.startswith("{", start + len(_OPEN)):
            start += 1
        text.append(source[pos:start])
        match = _PLACEHOLDER.match(source, start)
        if match is None:
            line, column = _position(source, start)
            end = source.find(_CLOSE, start + len(_OPEN))
            if end < 0:
                raise SnippetError(
                    f"unclosed placeholder at line {line}, column {column}: "
                    f"{_excerpt(source[start:])!r} has no closing }}}}"
                )
            raise SnippetError(
                f"malformed placeholder {_excerpt(source[start : end + len(_CLOSE)])!r} "
                f"at line {line}, column {column}: expected a variable name such as "
                f'first_name or contact.first_name, optionally followed by | "fallback"'
            )
        if text:
            joined = "".join(text)
            if joined:
                parts.append(joined)
            text = []
        raw = match.group("fallback")
        line, column = _position(source, start)
        parts.append(
            Placeholder(
                path=tuple(match.group("path").split(".")),
                fallback=None if raw is None else _ESCAPE.sub(r"\1", raw[1:-1]),
                text=match.group(0),
                line=line,
                column=column,
            )
        )
        pos = match.end()
    joined = "".join(text)
    if joined:
        parts.append(joined)
    return Snippet(source=source, parts=tuple(parts))


def contact_variables(contact: Contact) -> Mapping[str, object]:
    """The variables a snippet can use for ``contact``.

    ``id``, ``first_name``, ``last_name``, ``name`` (first and last joined),
    ``email``, ``phone``, ``language``, ``timezone``, ``lifecycle`` and ``custom``
    (the custom fields, as ``custom.<field>``), each also under ``contact.``, so
    ``{{ first_name }}`` and ``{{ contact.first_name }}`` are the same value. Unset
    fields are ``None`` and so count as missing.
    """
    fields: dict[str, object] = {
        "id": contact.id,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "name": contact.name or None,
        "email": contact.email,
        "phone": contact.phone,
        "language": contact.language,
        "timezone": contact.timezone,
        "lifecycle": contact.lifecycle,
        "custom": contact.custom,
    }
    inner = MappingProxyType(fields)
    return MappingProxyType({**fields, "contact": inner})
