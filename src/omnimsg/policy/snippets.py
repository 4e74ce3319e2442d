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
from typing import Any

import attrs

from omnimsg.contacts import Contact
from omnimsg.errors import InputError, SnippetError

__all__ = ["Placeholder", "Snippet", "contact_variables", "parse_snippet"]

# Possessive quantifiers (``*+``) never give back what they matched. The grammar is
# unambiguous, so results are unchanged, and a failed match costs one pass over the
# characters it read instead of backtracking through them.
_NAME = r"[^\W\d][\w-]*+"
_PLACEHOLDER = re.compile(
    rf"""
    \{{\{{\s*+
    (?P<path>{_NAME}(?:\.{_NAME})*+)
    \s*+
    (?:\|\s*+(?P<fallback>"(?:[^"\\]|\\.)*+"|'(?:[^'\\]|\\.)*+')\s*+)?
    \}}\}}
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_OPEN = "{{"
_CLOSE = "}}"


def _field(instance: object, attribute: attrs.Attribute[Any]) -> str:
    return f"{type(instance).__name__}.{attribute.name}"


def _check_path(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if (
        not isinstance(value, tuple)
        or not value
        or not all(isinstance(key, str) and key for key in value)
    ):
        raise SnippetError(
            f"{_field(instance, attribute)} must be a non-empty tuple of non-empty str keys, "
            f"got {type(value).__name__}"
        )


def _check_optional_text(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise SnippetError(
            f"{_field(instance, attribute)} must be a str or None, got {type(value).__name__}"
        )


def _check_text(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str):
        raise SnippetError(
            f"{_field(instance, attribute)} must be a str, got {type(value).__name__}"
        )


def _check_position(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not int or value < 1:
        shown = repr(value) if type(value) in (int, bool) else type(value).__name__
        raise SnippetError(
            f"{_field(instance, attribute)} must be a whole number >= 1, got {shown}"
        )


def _check_parts(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, tuple) or not all(
        isinstance(part, str | Placeholder) for part in value
    ):
        raise SnippetError(
            f"{_field(instance, attribute)} must be a tuple of str and Placeholder values, "
            f"got {type(value).__name__}; build a Snippet with parse_snippet"
        )


@attrs.frozen
class Placeholder:
    """One ``{{ ... }}`` of a snippet: the key path, its fallback and where it is.

    ``line`` and ``column`` are 1-based and point at the opening ``{{``.

    Raises:
        SnippetError: a field has the wrong type (``path`` must be a non-empty tuple
            of non-empty str keys).
    """

    path: tuple[str, ...] = attrs.field(validator=_check_path)
    fallback: str | None = attrs.field(validator=_check_optional_text)
    text: str = attrs.field(validator=_check_text)
    line: int = attrs.field(validator=_check_position)
    column: int = attrs.field(validator=_check_position)

    @property
    def name(self) -> str:
        """The dotted variable name, such as ``contact.first_name``."""
        return ".".join(self.path)


@attrs.frozen
class Snippet:
    """A parsed snippet: literal text and placeholders, filled many times.

    Build it with :func:`parse_snippet`; ``parts`` alternates text and
    :class:`Placeholder` values in order.

    Raises:
        SnippetError: ``source`` is not a str or ``parts`` is not a tuple of str and
            :class:`Placeholder` values.
    """

    source: str = attrs.field(validator=_check_text)
    parts: tuple[str | Placeholder, ...] = attrs.field(validator=_check_parts)

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

        Args:
            values: the variables, a mapping (nested mappings for dotted paths).
            missing: the text for a missing value where a placeholder has no fallback.

        Returns:
            The filled text.

        Raises:
            SnippetError: naming the variable and its line and column, when a value is
                missing without a fallback, is itself a mapping, cannot be turned into
                text, or a mapping on its path fails when asked for a key; also when
                ``values`` is not a mapping or ``missing`` is neither a str nor None.
        """
        if not isinstance(values, Mapping):
            raise SnippetError(
                f"snippet values must be a mapping of variable names, got {type(values).__name__}"
            )
        if missing is not None and not isinstance(missing, str):
            raise SnippetError(
                f"fill(missing=...) must be a str or None, got {type(missing).__name__}"
            )
        out: list[str] = []
        for part in self.parts:
            out.append(part if isinstance(part, str) else _value(part, values, missing))
        return "".join(out)


_ABSENT = object()


def _where(placeholder: Placeholder) -> str:
    return (
        f"{_excerpt(placeholder.name)!r} at line {placeholder.line}, "
        f"column {placeholder.column} ({_excerpt(placeholder.text)})"
    )


def _value(placeholder: Placeholder, values: Mapping[str, object], missing: str | None) -> str:
    fallback = placeholder.fallback if placeholder.fallback is not None else missing
    current: object = values
    why = ""
    for depth, key in enumerate(placeholder.path):
        if not isinstance(current, Mapping):
            parent = ".".join(placeholder.path[:depth])
            why = f"{_excerpt(parent)} is a {type(current).__name__}, not a mapping"
            current = _ABSENT
            break
        try:
            current = current.get(key, _ABSENT)
        except Exception as exc:  # a caller's Mapping may fail in any way
            raise SnippetError(
                f"snippet variable {_where(placeholder)}: looking up {_excerpt(key)!r} in "
                f"a {type(current).__name__} failed ({type(exc).__name__}: {exc})"
            ) from exc
        if current is _ABSENT:
            break
    if current is _ABSENT or current is None:
        if fallback is not None:
            return fallback
        reason = why or ("its value is None" if current is None else "no value was given")
        name = _excerpt(placeholder.name)
        raise SnippetError(
            f"snippet variable {_where(placeholder)}: {reason}; "
            f'pass a value, or give a fallback such as {{{{ {name} | "..." }}}}'
        )
    if isinstance(current, Mapping):
        raise SnippetError(
            f"snippet variable {_where(placeholder)} is a mapping, "
            "not a value; name one of its keys with a dotted path"
        )
    if isinstance(current, str):
        text = current
    else:
        try:
            text = str(current)
        except Exception as exc:  # includes RecursionError from a deeply nested list
            raise SnippetError(
                f"snippet variable {_where(placeholder)}: its {type(current).__name__} "
                f"value cannot be turned into text ({type(exc).__name__}: {exc})"
            ) from exc
    if fallback is not None and not text.strip():
        return fallback
    return text


def _excerpt(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Lines:
    """Line and column of offsets visited in increasing order, in linear total time.

    Each call counts newlines only since the previous offset, never from the start,
    so a snippet with many placeholders is not scanned once per placeholder.
    """

    __slots__ = ("_line", "_line_start", "_offset", "_source")

    def __init__(self, source: str) -> None:
        self._source = source
        self._offset = 0
        self._line = 1
        self._line_start = 0

    def at(self, offset: int) -> tuple[int, int]:
        newlines = self._source.count("\n", self._offset, offset)
        if newlines:
            self._line += newlines
            self._line_start = self._source.rfind("\n", self._offset, offset) + 1
        self._offset = offset
        return self._line, offset - self._line_start + 1


def parse_snippet(source: str) -> Snippet:
    """Parse ``source`` into a :class:`Snippet` (C5).

    A placeholder is ``{{ path }}`` or ``{{ path | "fallback" }}``: ``path`` is one
    or more names joined by dots, each a letter or ``_`` followed by letters, digits,
    ``_`` or ``-``; the fallback is a quoted string (double or single quotes, with
    ``\\`` escaping the next character). ``\\{{`` is a literal ``{{``; single braces,
    a lone ``}}`` and extra braces around a placeholder (``{{{ a }}}``) are literal
    text. Parsing takes time linear in the length of ``source``.

    Args:
        source: the snippet's text.

    Returns:
        The parsed snippet, to be filled many times.

    Raises:
        SnippetError: ``source`` is not a ``str``, or has a ``{{`` that is never
            closed or whose content is not a variable (with its line and column).
    """
    if not isinstance(source, str):
        raise SnippetError(f"a snippet must be a str, got {type(source).__name__}")
    lines = _Lines(source)
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
        line, column = lines.at(start)
        if match is None:
            raise _malformed(source, start, line, column)
        joined = "".join(text)
        if joined:
            parts.append(joined)
        text = []
        raw = match.group("fallback")
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


def _malformed(source: str, start: int, line: int, column: int) -> SnippetError:
    end = source.find(_CLOSE, start + len(_OPEN))
    if end < 0:
        return SnippetError(
            f"unclosed placeholder at line {line}, column {column}: "
            f"{_excerpt(source[start : start + 41])!r} has no closing }}}}"
        )
    return SnippetError(
        f"malformed placeholder {_excerpt(source[start : min(end + len(_CLOSE), start + 41)])!r} "
        f"at line {line}, column {column}: expected a variable name such as "
        f'first_name or contact.first_name, optionally followed by | "fallback"'
    )


def contact_variables(contact: Contact) -> Mapping[str, object]:
    """The variables a snippet can use for ``contact``.

    ``id``, ``first_name``, ``last_name``, ``name`` (first and last joined),
    ``email``, ``phone``, ``language``, ``timezone``, ``lifecycle`` and ``custom``
    (the custom fields, as ``custom.<field>``), each also under ``contact.``, so
    ``{{ first_name }}`` and ``{{ contact.first_name }}`` are the same value. Unset
    fields are ``None`` and so count as missing.

    Args:
        contact: the contact the snippet is filled for.

    Returns:
        A read-only mapping to pass to :meth:`Snippet.fill`.

    Raises:
        InputError: ``contact`` is not a :class:`~omnimsg.contacts.Contact`.
    """
    if not isinstance(contact, Contact):
        raise InputError(f"contact_variables needs a Contact, got {type(contact).__name__}")
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
