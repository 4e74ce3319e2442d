"""Reading a message log: JSON Lines or CSV, one :class:`LogEntry` at a time.

This module owns the two log formats and nothing else: it streams (a file is read a
line at a time and never held), checks each row into a :class:`LogEntry`, and says
which line and field a bad row has. It decides nothing.

A bad row (a field of the wrong type, a naive instant, a line that is not JSON or
not UTF-8) raises :class:`~omnimsg.errors.InputError` naming its line and field,
unless ``on_bad_row`` is given: then it is handed to that function as a
:class:`BadRow` and reading goes on, so that no good row is lost and no bad one is
dropped unseen. A file that cannot be opened, a CSV header without the required
columns, or a source of the wrong type always raises.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from omnimsg._convert import shown
from omnimsg._files import open_regular, shown_path
from omnimsg.audiences.reader import Broken, Records
from omnimsg.audit.model import BadRow, LogEntry
from omnimsg.errors import CallbackError, InputError, OmnimsgError

__all__ = ["LOG_FORMATS", "MAX_LINE_BYTES", "read_log"]

LOG_FORMATS = ("jsonl", "csv")
"""The formats :func:`read_log` reads."""

MAX_LINE_BYTES = 1024 * 1024
"""The longest line of a log file (1 MiB); a longer one is a bad row."""

_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv"}
_FIELDS = ("at", "direction", "channel", "account", "contact", "text", "template", "tag")
_ALIASES = {"instant": "at", "content": "text"}
_REQUIRED = ("at", "direction", "channel", "account", "contact")
# The spellings the contacts importer reads as booleans (omnimsg.audiences), and empty.
_TRUE = frozenset({"true", "t", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "off", ""})
_MAX_INSTANT = 64  # characters of an ISO 8601 instant, with room to spare
# Unix seconds as text (a WhatsApp webhook's timestamp): 9 to 11 digits, so that an
# ISO 8601 basic date (8 digits) is never read as one, and milliseconds (13) are not.
_UNIX = re.compile(r"[0-9]{9,11}(?:\.[0-9]{1,9})?")
_UNIX_LOW, _UNIX_HIGH = 10**8, 10**11
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

BadRowHandler = Callable[[BadRow], object]


class _Bad(Exception):
    """A row's problem, on its way to a :class:`BadRow`."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# --- lines -------------------------------------------------------------------------------


def _file_lines(path: str | os.PathLike[str], bad: list[tuple[int, str]]) -> Iterator[str]:
    """The decoded lines of the file at ``path``; a line that is not UTF-8 or too long
    is noted in ``bad`` and given as an empty line (so that line numbers hold)."""
    fd = open_regular(path, what="log file", error=InputError)
    with os.fdopen(fd, "rb") as handle:
        number = 0
        while True:
            try:
                raw = handle.readline(MAX_LINE_BYTES + 1)
            except OSError as exc:
                raise InputError(f"cannot read log file {shown_path(path)}: {exc}") from None
            if not raw:
                return
            number += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):  # skip the rest of the line
                    raw = handle.readline(MAX_LINE_BYTES)
                bad.append((number, f"longer than {MAX_LINE_BYTES:,} bytes"))
                yield "\n"
                continue
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad.append((number, f"not UTF-8: {exc.reason} at byte {exc.start + 1}"))
                yield "\n"


def _given_lines(lines: Iterable[object], bad: list[tuple[int, str]]) -> Iterator[str]:
    """The lines of an iterable: text or UTF-8 bytes; anything else is a bad row."""
    for number, item in enumerate(lines, start=1):
        if isinstance(item, bytes):
            try:
                item = item.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad.append((number, f"not UTF-8: {exc.reason} at byte {exc.start + 1}"))
                yield "\n"
                continue
        if not isinstance(item, str):
            bad.append((number, f"expected a line of text, got {type(item).__name__}"))
            yield "\n"
            continue
        if len(item) > MAX_LINE_BYTES:
            bad.append((number, f"longer than {MAX_LINE_BYTES:,} characters"))
            yield "\n"
            continue
        if number == 1 and item.startswith("\ufeff"):
            item = item[1:]  # a byte order mark, as a file read as text keeps it
        # An item is one line: a line break inside it would shift every line number.
        yield item if item.endswith("\n") else item + "\n"


# --- fields ------------------------------------------------------------------------------


def _unix(value: int | float | str) -> datetime:
    """Unix seconds (UTC by definition) as an instant."""
    try:
        if isinstance(value, str):
            whole, _, fraction = value.partition(".")
            micros = int(whole) * 1_000_000 + int((fraction + "000000")[:6])
            return _EPOCH + timedelta(microseconds=micros)
        return _EPOCH + timedelta(seconds=value)
    except (OverflowError, ValueError):
        raise _Bad("at", f"Unix seconds out of range: {shown(value)}") from None


def _instant(value: object) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not _UNIX_LOW <= value < _UNIX_HIGH:  # NaN too
            raise _Bad("at", f"Unix seconds of 9 to 11 digits expected, got {shown(value)}")
        return _unix(value)
    if not isinstance(value, str):
        raise _Bad(
            "at",
            f"expected an ISO 8601 instant as text or Unix seconds, got {type(value).__name__}",
        )
    text = value.strip()
    if not text or len(text) > _MAX_INSTANT:
        raise _Bad("at", "expected an ISO 8601 instant with a UTC offset")
    if _UNIX.fullmatch(text) is not None:
        return _unix(text)
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise _Bad("at", f"not an ISO 8601 instant: {text!r}") from None
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise _Bad("at", f"naive instant {text!r}: give its UTC offset (Z or +hh:mm)")
    return instant


def _flag(value: object) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if type(value) is int and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise _Bad("marketing", "expected true or false")


def _entry(values: Mapping[str, object], line: int) -> LogEntry:
    """A row's fields (canonical names) as a checked entry."""
    for name in _REQUIRED:
        if values.get(name) is None:
            raise _Bad(name, "missing")
    fields: dict[str, Any] = {name: values.get(name) for name in _FIELDS}
    fields["at"] = _instant(fields["at"])
    fields["marketing"] = _flag(values.get("marketing"))
    if isinstance(fields["direction"], str):
        fields["direction"] = fields["direction"].strip().lower()
    if isinstance(fields["channel"], str):
        fields["channel"] = fields["channel"].strip().lower()
    try:
        return LogEntry(line=line, **fields)
    except InputError as exc:
        message = str(exc)
        name, sep, rest = message.partition(": ")
        if sep and name in (*_FIELDS, "marketing"):
            raise _Bad(name, rest) from None
        raise _Bad(None, message) from None


def _canonical(name: str) -> str:
    key = name.strip().lower()
    return _ALIASES.get(key, key)


def _json_rows(lines: Iterator[str]) -> Iterator[tuple[int, LogEntry | _Bad | None]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            yield number, None
            continue
        try:
            data = json.loads(line)
        except RecursionError:
            yield number, _Bad(None, "nested too deeply")
            continue
        except ValueError as exc:
            yield number, _Bad(None, f"not JSON: {str(exc)[:120]}")
            continue
        if not isinstance(data, dict):
            yield number, _Bad(None, f"expected a JSON object, got {type(data).__name__}")
            continue
        values: dict[str, object] = {}
        try:
            for key, value in data.items():
                name = _canonical(key)
                if name in values:
                    raise _Bad(name, f"given twice (as {key!r} and another name)")
                values[name] = value
            yield number, _entry(values, number)
        except _Bad as bad:
            yield number, bad


def _csv_rows(lines: Iterator[str]) -> Iterator[tuple[int, LogEntry | _Bad | None]]:
    """The rows of a CSV log, each with the line it starts on. A row whose quoting is
    broken costs its own line only: the lines after it are read again as rows (the
    contacts importer's :class:`~omnimsg.audiences.reader.Records`)."""
    records = Records(lines, ",")
    header: list[str] | None = None
    while header is None:
        row = records.read()
        if row is None:
            return
        if isinstance(row, Broken):
            raise InputError(f"log line {row.line}: the CSV header cannot be read: {row.error}")
        if row:
            header = [_canonical(cell) for cell in row]
    missing = [name for name in _REQUIRED if name not in header]
    doubled = sorted({name for name in header if name and header.count(name) > 1})
    if missing or doubled:
        problems = [f"missing column {name!r}" for name in missing]
        problems += [f"column {name!r} given twice" for name in doubled]
        raise InputError(f"log line {records.start}: CSV header: " + "; ".join(problems))
    while True:
        row = records.read()
        if row is None:
            return
        if isinstance(row, Broken):
            yield row.line, _Bad(None, row.problem.message)
            continue
        number = records.start
        if not row:
            yield number, None
            continue
        if len(row) != len(header):
            yield number, _Bad(None, f"expected {len(header)} cells, got {len(row)}")
            continue
        values = {
            name: (cell if cell != "" else None) for name, cell in zip(header, row, strict=True)
        }
        try:
            yield number, _entry(values, number)
        except _Bad as bad:
            yield number, bad


# --- the reader --------------------------------------------------------------------------


def _format_of(source: object, format: str | None) -> str | None:
    if format is not None:
        if format not in LOG_FORMATS:
            raise InputError(
                f"format: expected one of {', '.join(LOG_FORMATS)}, got {shown(format)}"
            )
        return format
    if isinstance(source, str | os.PathLike):
        suffix = os.path.splitext(os.fspath(source))[1].lower()
        return _SUFFIXES.get(suffix)
    return None


def _sniffed(lines: Iterator[str]) -> tuple[str, Iterator[str]]:
    """The format of the first line with text (``{``: JSON Lines, else CSV), and the
    lines again from the start."""
    seen: list[str] = []
    for line in lines:
        seen.append(line)
        if line.strip():
            kind = "jsonl" if line.lstrip("\ufeff \t").startswith("{") else "csv"
            return kind, itertools.chain(seen, lines)
    return "jsonl", iter(seen)


def read_log(
    source: str | os.PathLike[str] | Iterable[str],
    *,
    format: str | None = None,
    on_bad_row: BadRowHandler | None = None,
) -> Iterator[LogEntry]:
    """The entries of a message log, streamed in the order of the log.

    Args:
        source: a path (str or PathLike) to a regular file, or an iterable of lines
            (each item one line, text or UTF-8 bytes).
        format: ``"jsonl"`` or ``"csv"``; ``None`` reads it from the file's suffix
            (``.jsonl``, ``.ndjson``, ``.json``, ``.csv``), else from the first line
            with text (``{`` starts JSON Lines).
        on_bad_row: called with each :class:`BadRow`; reading goes on. Without it,
            the first bad row raises.

    Returns:
        A generator of :class:`LogEntry`: it reads a line when the next entry is
        asked for, and closes the file when it ends.

    Raises:
        InputError: ``source`` or ``format`` is of the wrong type or value, the file
            cannot be opened or is not a regular file (at once); a CSV header lacks
            a required column, or (without ``on_bad_row``) a row is bad, naming its
            line and field (while reading).
        CallbackError: ``on_bad_row`` raised something other than an omnimsg error.
    """
    if format is not None and not isinstance(format, str):
        raise InputError(f"format: expected text or None, got {type(format).__name__}")
    if on_bad_row is not None and not callable(on_bad_row):
        raise InputError(
            f"on_bad_row: expected a function or None, got {type(on_bad_row).__name__}"
        )
    kind = _format_of(source, format)
    bad: list[tuple[int, str]] = []
    lines: Iterator[str]
    if isinstance(source, str | os.PathLike):
        if isinstance(source, os.PathLike) and not isinstance(os.fspath(source), str):
            raise InputError("source: expected a text path, got a bytes path")
        fd_check = open_regular(source, what="log file", error=InputError)
        os.close(fd_check)  # fail now, not at the first entry
        lines = _file_lines(source, bad)
    elif isinstance(source, bytes | bytearray | Mapping) or not isinstance(source, Iterable):
        raise InputError(
            f"source: expected a path or an iterable of lines, got {type(source).__name__}"
        )
    else:
        lines = _given_lines(source, bad)
    return _entries(lines, kind, bad, on_bad_row)


def _entries(
    lines: Iterator[str],
    kind: str | None,
    bad: list[tuple[int, str]],
    on_bad_row: BadRowHandler | None,
) -> Iterator[LogEntry]:
    if kind is None:
        kind, lines = _sniffed(lines)
    rows = _json_rows(lines) if kind == "jsonl" else _csv_rows(lines)
    for number, row in rows:
        while bad:
            line, message = bad.pop(0)
            _report(BadRow(line, None, message), on_bad_row)
        if isinstance(row, LogEntry):
            yield row
        elif isinstance(row, _Bad):
            _report(BadRow(number, row.field, row.message), on_bad_row)
    while bad:
        line, message = bad.pop(0)
        _report(BadRow(line, None, message), on_bad_row)


def _report(row: BadRow, on_bad_row: BadRowHandler | None) -> None:
    if on_bad_row is None:
        raise InputError(f"log {row}")
    try:
        on_bad_row(row)
    except OmnimsgError:
        raise
    except Exception as exc:
        raise CallbackError("on_bad_row", exc) from exc
