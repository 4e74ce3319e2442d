"""The one function that makes text from user data safe to print, and JSON that is.

Everything the command line prints that came from outside (names, ids, cells, file
contents, error messages) goes through :func:`printable` or :func:`to_json_text`
on its way out, so a first name of ``"\\x1b[2J"`` shows as those characters instead
of clearing the screen. Nothing here imports typer or rich.
"""

from __future__ import annotations

import json
import re

__all__ = ["printable", "to_json_text"]

# C0 and C1 controls and DEL (CSI is U+009B), lone surrogates (undecodable bytes in
# argv or file names), line and paragraph separators, and the bidirectional controls
# that can make a terminal show text in an order other than the bytes' (CVE-2021-42574).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# json.dumps already writes C0 controls as \uXXXX; these it leaves as they are.
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str, *, limit: int | None = None) -> str:
    """Return ``text`` with every control character written as a visible escape.

    Control characters, lone surrogates, line separators and bidirectional controls
    become ``\\n``, ``\\x1b``, ``\\udcff``, ``\\u202e``; everything else, including
    non-Latin letters and emoji, is kept. Runs in time linear in ``len(text)``.

    Args:
        text: the text to print.
        limit: when given, keep at most this many characters of ``text`` and say how
            many were left out.

    Returns:
        Text that a terminal shows as written.
    """
    hidden = 0
    if limit is not None and len(text) > limit:
        hidden = len(text) - limit
        text = text[:limit]
    safe = _UNSAFE.sub(_escape, text)
    return f"{safe}… ({hidden:,} more characters)" if hidden else safe


def _escape_in_json(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def to_json_text(document: object) -> str:
    """Serialise ``document`` as indented JSON that is safe to print.

    Non-ASCII letters stay readable; control characters, lone surrogates and
    bidirectional controls are written as ``\\uXXXX`` escapes, which every JSON
    reader turns back into the same characters.

    Args:
        document: plain JSON data (dicts with string keys, lists, strings, numbers,
            booleans, ``None``).

    Returns:
        The JSON text, without a trailing newline.
    """
    # Outside strings json.dumps writes only ASCII, so every match is inside a string.
    text = json.dumps(document, ensure_ascii=False, indent=2, allow_nan=False)
    return _UNSAFE_IN_JSON.sub(_escape_in_json, text)
