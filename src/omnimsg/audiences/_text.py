"""Small text helpers shared by the audience modules: showing values, spotting bad text.

Messages quote the value they are about, cut to a readable length, so that a
100,000-character cell gives a one-line reason instead of a copy of itself.
"""

from __future__ import annotations

import re

BOM = "\ufeff"
"""The byte order mark a spreadsheet puts at the start of a UTF-8 file."""

# Lone surrogates are what errors="surrogateescape" turns undecodable bytes into.
UNREADABLE = re.compile("[\x00\ud800-\udfff]")

_SHOWN_CHARS = 40


def show(value: str, limit: int = _SHOWN_CHARS) -> str:
    """``repr`` of a value cut to ``limit`` characters, for messages."""
    if len(value) <= limit:
        return repr(value)
    return repr(value[:limit]) + "…"


def show_value(value: object) -> str:
    """A value of any type, safely for messages: text cut short, small whole numbers
    as written, anything else by its type (its ``repr`` may be huge or may fail)."""
    if isinstance(value, str):
        return show(value)
    if type(value) is int and -(10**18) < value < 10**18:
        return str(value)
    return type_name(value)


def unreadable_what(found: str) -> str:
    """Words for a character :data:`UNREADABLE` matched."""
    return "a NUL character" if found == "\x00" else "bytes that are not valid text"


def type_name(value: object) -> str:
    """The name of ``value``'s type, for "expected X, got Y" messages."""
    return type(value).__name__
