"""Case-insensitive matching: the one definition Python, SQLite and PostgreSQL share.

Text fields (names, e-mail, language, lifecycle, custom strings) are compared after
:func:`fold_case`, a *simple* (one code point to one code point) Unicode case folding:

* a code point whose full case folding is one code point maps to it
  (``A``→``a``, ``É``→``é``, ``Σ``/``ς``→``σ``, Kelvin sign ``K``→``k``, ``ſ``→``s``);
* otherwise, a code point whose lower case is one code point maps to that
  (``ẞ``→``ß``, ``ᾈ``→``ᾀ``);
* every other code point is kept (``ß`` stays ``ß``, ``İ`` stays ``İ``).

The mapping never changes a string's length, so substring and prefix tests on folded
text mean the same everywhere. It is built from the running Python's Unicode database
(:data:`unicodedata.unidata_version`), and the very same table is handed to SQL:
SQLite gets it as a registered deterministic function, PostgreSQL as the two strings
of ``translate()``. Nothing is left to a collation, to ``lower()`` of a database locale
or to ``LIKE``. There is no Unicode normalisation: ``é`` written as ``e`` plus a
combining accent is a different string from the precomposed ``é``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from omnimsg.errors import InputError

__all__ = ["fold_case", "fold_table", "fold_table_strings"]


def _build_table() -> dict[int, str]:
    table: dict[int, str] = {}
    block = 256
    for start in range(0, sys.maxunicode + 1, block):
        if 0xD800 <= start <= 0xDFFF:
            continue
        chunk = "".join(map(chr, range(start, start + block)))
        # Only a character whose case folding differs from itself can get an entry,
        # so whole blocks that folding leaves alone are skipped cheaply.
        if chunk.casefold() == chunk:
            continue
        for char in chunk:
            folded = char.casefold()
            if len(folded) != 1:
                folded = char.lower()
            if len(folded) == 1 and folded != char:
                table[ord(char)] = folded
    return table


@cache
def _translate_table() -> dict[int, str]:
    # Built on first use: scanning every code point costs tens of milliseconds, which
    # an import of the package should not pay.
    return _build_table()


def fold_table() -> Mapping[int, str]:
    """Code point → folded character, for every code point that folding changes."""
    return MappingProxyType(_translate_table())


def fold_case(text: str) -> str:
    """Return ``text`` with every character replaced by its simple case folding.

    Raises :class:`~omnimsg.errors.InputError` when ``text`` is not a ``str``.
    """
    if not isinstance(text, str):
        raise InputError(f"fold_case: expected a str, got {type(text).__name__}")
    if text.isascii():
        return text.lower()
    return text.translate(_translate_table())


@cache
def fold_table_strings() -> tuple[str, str]:
    """The non-ASCII part of the table as two equal-length strings, for SQL ``translate()``.

    ASCII is left out: SQL folds it with ``lower()`` under the ``C`` collation, which
    maps exactly ``A``–``Z`` and is the cheap, common case.
    """
    table = _translate_table()
    keys = [code for code in table if code > 0x7F]
    return "".join(chr(code) for code in keys), "".join(table[code] for code in keys)
