"""The spreadsheet-formula guard of exported cells, and its exact inverse (SPEC A5).

This module owns one rule, in both directions: :func:`neutralize_formula` puts an
apostrophe where a spreadsheet could start running a formula, and the importer
removes exactly those apostrophes again (:func:`guard_patterns`), so a file written
by the export and imported unchanged gives back its original cells.

Why the rule is reversible: the guard is inserted only at a *piece start* (the start
of the cell, or right after a separator), where the text matches
``'* I* F``: apostrophes, then a run of invisible characters ``I`` that holds no
separator and no apostrophe, then a formula character ``F``. An inserted apostrophe
is not a separator, so piece starts stay where they were, and the text it guards
ends at ``F`` before the next piece starts; so the import finds ``' '* I* F`` at a
piece start exactly where an apostrophe was inserted, and nowhere else.
"""

from __future__ import annotations

import re
from functools import lru_cache

from omnimsg.audiences._text import type_name
from omnimsg.audiences.options import check_delimiter
from omnimsg.errors import InputError

__all__ = ["guard_patterns", "neutralize_formula"]

# OWASP's list (= + - @ tab CR), their full-width forms, and NUL.
_FORMULA_START = "=+-@\t\r\x00\uff1d\uff0b\uff0d\uff20"
# A cell is split at these (and at the file's delimiter) by a reader that ignores
# CSV quoting, so every piece after one is guarded like the start of a cell.
_PIECE_SEPARATORS = ",;\t\r\n"
# What a spreadsheet may skip or not show before a formula: control characters,
# every Unicode space (str.isspace), format characters (Cf: zero-width space, BOM,
# bidirectional marks) and the other default-ignorable code points.
_INVISIBLE_RANGES = (
    (0x00, 0x20),
    (0x7F, 0xA0),
    (0xAD, 0xAD),
    (0x034F, 0x034F),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x115F, 0x1160),
    (0x1680, 0x1680),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x2000, 0x200F),
    (0x2028, 0x202F),
    (0x205F, 0x206F),
    (0x2800, 0x2800),
    (0x3000, 0x3000),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)


def _char_class(ranges: list[tuple[int, int]]) -> str:
    return "".join(
        re.escape(chr(low)) if low == high else f"{re.escape(chr(low))}-{re.escape(chr(high))}"
        for low, high in ranges
    )


def _without(excluded: set[str]) -> list[tuple[int, int]]:
    """The invisible ranges minus ``excluded`` characters, still as ranges."""
    cut = sorted(ord(c) for c in excluded)
    ranges: list[tuple[int, int]] = []
    for low, high in _INVISIBLE_RANGES:
        start = low
        for point in cut:
            if start <= point <= high:
                if point > start:
                    ranges.append((start, point - 1))
                start = point + 1
        if start <= high:
            ranges.append((start, high))
    return ranges


def guard_patterns(delimiter: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """``(where neutralize_formula adds an apostrophe, the apostrophes it added)``.

    Raises:
        InputError: ``delimiter`` is not a usable delimiter.
    """
    return _patterns(check_delimiter(delimiter))


@lru_cache(maxsize=16)
def _patterns(delimiter: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    separators = set(_PIECE_SEPARATORS + delimiter)
    invisible = _char_class(_without(separators | set(_FORMULA_START) | {"'"}))
    piece_start = f"(?:^|(?<=[{re.escape(''.join(sorted(separators)))}]))"
    # Possessive runs: nothing is matched twice, so both patterns are linear.
    formula = f"(?='*+[{invisible}]*+[{re.escape(_FORMULA_START)}])"
    return re.compile(piece_start + formula), re.compile(piece_start + "'" + formula)


def neutralize_formula(cell: str, delimiter: str = ",") -> str:
    """Guard a cell a spreadsheet could run as a formula, the OWASP way, with ``'``.

    A *piece start* is the start of the cell and every position right after a ``,``,
    ``;``, tab, carriage return, line feed or ``delimiter``: where a spreadsheet that
    splits the cell (ignoring CSV quoting, or using another separator) starts a cell
    of its own. At each piece start where the text is a formula character (``=``,
    ``+``, ``-``, ``@``, their full-width forms ``＝＋－＠``, a tab, a carriage return
    or NUL), possibly after apostrophes and then after invisible characters (spaces of
    any kind such as NBSP and U+3000, VT, FF, U+2028, U+0085, zero-width characters,
    a BOM, other control and format characters), one ``'`` is inserted:
    ``"=1+1"`` → ``"'=1+1"``, ``" =1"`` → ``"' =1"``, ``"Ann;@SUM(A1)"`` →
    ``"Ann;'@SUM(A1)"``, ``"'-5"`` → ``"''-5"``. Other text is returned as is.

    The import undoes exactly this: at every piece start where ``'`` is followed by
    such text, it drops one ``'``. So importing ``neutralize_formula(cell)`` reads
    ``cell`` for every cell, and a cell never guarded (``"'hello"``) keeps its
    apostrophe.

    Raises:
        InputError: ``cell`` is not text, or ``delimiter`` is not one character other
            than a quote (``"`` or ``'``), a line break or NUL.
    """
    if not isinstance(cell, str):
        raise InputError(f"neutralize_formula: expected the cell as text, got {type_name(cell)}")
    guard = guard_patterns(delimiter)[0]
    return guard.sub("'", cell) if cell else cell
