"""The only code of :mod:`omnimsg.audiences` that opens files (SPEC A5).

Two thin shells over the stream functions: :func:`import_contacts_csv_file` and
:func:`write_rejected_rows_file`. They open regular files only: a path that is a
directory, a FIFO, a device or a socket is refused before anything is read or
written, without blocking (a FIFO is opened non-blocking, then checked). Every way
a path can fail (missing, unreadable, a NUL in it, an unknown encoding, bytes the
encoding cannot decode) is an :class:`~omnimsg.errors.AudienceError` naming the path.
Opening goes through :mod:`omnimsg._files`, as every file omnimsg opens does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, MutableMapping
from os import PathLike
from typing import IO

from omnimsg._files import describe_failure, open_regular
from omnimsg.audiences._text import show, type_name
from omnimsg.audiences.export import write_rejected_rows
from omnimsg.audiences.importer import check_import_arguments, import_contacts_csv
from omnimsg.audiences.options import CsvImportOptions
from omnimsg.audiences.report import CsvImportReport, RejectedRow
from omnimsg.errors import AudienceError, InputError
from omnimsg.protocols import ContactSink

__all__ = ["import_contacts_csv_file", "write_rejected_rows_file"]

# Paths are shown whole unless absurdly long: the path is what the reader looks for.
_SHOWN_PATH = 300


def _path_text(path: object) -> str:
    if isinstance(path, PathLike):
        path = os.fspath(path)
    if not isinstance(path, str):
        raise InputError(f"path: expected a str or os.PathLike path, got {type_name(path)}")
    return path


def _check_encoding(encoding: object, where: str) -> str:
    if not isinstance(encoding, str):
        raise InputError(
            f"encoding: expected a codec name such as 'utf-8', got {type_name(encoding)}"
        )
    try:
        "".encode(encoding)
        b"".decode(encoding)
    except (LookupError, ValueError):
        raise AudienceError(
            f"{where}: {show(encoding)} is not a text encoding Python knows"
        ) from None
    return encoding


def _text_file(fd: int, mode: str, encoding: str) -> IO[str]:
    try:
        return open(fd, mode, encoding=encoding, errors="surrogateescape", newline="")
    except BaseException:
        os.close(fd)
        raise


def _lines(stream: IO[str], where: str) -> Iterator[str]:
    """The lines of ``stream``; failures to read or decode name the file."""
    number = 0
    try:
        for line in stream:
            number += 1
            yield line
    except UnicodeDecodeError as exc:
        raise AudienceError(
            f"{where}: line {number + 1} or later cannot be decoded as {exc.encoding} "
            f"({exc.reason}); check the file's encoding"
        ) from None
    except OSError as exc:
        reason = describe_failure(exc)
        raise AudienceError(f"{where}: cannot read line {number + 1}: {reason}") from None


def import_contacts_csv_file(
    path: str | PathLike[str],
    sink: ContactSink,
    options: CsvImportOptions | None = None,
    *,
    encoding: str = "utf-8-sig",
    on_rejected: Callable[[RejectedRow], object] | None = None,
    dedupe_index: MutableMapping[str, str] | None = None,
) -> CsvImportReport:
    """Open ``path`` and run :func:`~omnimsg.audiences.import_contacts_csv` on it.

    The file is read with ``newline=""`` and ``errors="surrogateescape"``, so rows
    with bytes that are not valid ``encoding`` are rejected one by one
    (:attr:`RowRejection.UNDECODABLE`) instead of stopping the import.

    Raises:
        AudienceError: the file cannot be read at all; the message names the path.
            Besides what :func:`~omnimsg.audiences.import_contacts_csv` refuses: a
            missing or unreadable file, a directory, a FIFO or any other file that
            is not a regular file (refused without blocking), a path with a NUL, an
            unknown ``encoding``, or bytes the encoding cannot decode even with
            ``surrogateescape`` (UTF-16 cut in the middle of a character).
        InputError: an argument has the wrong type (``path`` not a str or path).
    """
    name = _path_text(path)
    where = f"contacts file {show(name, _SHOWN_PATH)}"
    _check_encoding(encoding, where)
    check_import_arguments(sink, options, on_rejected, dedupe_index)
    fd = open_regular(name, what="contacts file", error=AudienceError)
    stream = _text_file(fd, "r", encoding)
    try:
        with stream:
            return import_contacts_csv(
                _lines(stream, where),
                sink,
                options,
                on_rejected=on_rejected,
                dedupe_index=dedupe_index,
            )
    except AudienceError as exc:
        message = str(exc)
        if message.startswith(where):
            raise
        raise AudienceError(f"{where}: {message}") from exc


class _EncodingSafeWriter:
    """Writes through ``stream``; text its encoding cannot hold gets ``?`` instead.

    ``surrogateescape`` writes undecodable bytes back as they were read; a lone
    surrogate that did not come from a byte (or a character the encoding lacks)
    cannot be written at all and would lose the whole row.
    """

    def __init__(self, stream: IO[str], encoding: str) -> None:
        self._stream = stream
        self._encoding = encoding

    def _encodable(self, char: str) -> bool:
        try:
            char.encode(self._encoding, "surrogateescape")
        except UnicodeEncodeError:
            return False
        return True

    def write(self, text: str, /) -> object:
        try:
            return self._stream.write(text)
        except UnicodeEncodeError:
            return self._stream.write("".join(c if self._encodable(c) else "?" for c in text))


def write_rejected_rows_file(
    report: CsvImportReport, path: str | PathLike[str], *, encoding: str = "utf-8-sig"
) -> int:
    """Write :func:`~omnimsg.audiences.write_rejected_rows` output to a file at ``path``.

    The file is created, or truncated when it exists. ``utf-8-sig`` (with a byte
    order mark) is what spreadsheets need to read UTF-8; undecodable bytes of the
    source are written back as they were read, and text the encoding cannot hold is
    written as ``?``. Returns the rows written.

    Raises:
        AudienceError: the file cannot be created or written (a directory, a FIFO or
            another file that is not a regular file, a missing folder, no
            permission, a path with a NUL, an unknown ``encoding``); the message
            names the path.
        InputError: an argument has the wrong type.
    """
    if not isinstance(report, CsvImportReport):
        raise InputError(f"report: expected a CsvImportReport, got {type_name(report)}")
    name = _path_text(path)
    where = f"rejected-rows file {show(name, _SHOWN_PATH)}"
    _check_encoding(encoding, where)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = open_regular(name, what="rejected-rows file", error=AudienceError, flags=flags)
    stream = _text_file(fd, "w", encoding)
    try:
        with stream:
            return write_rejected_rows(report, _EncodingSafeWriter(stream, encoding))
    except OSError as exc:
        raise AudienceError(f"{where}: cannot write it: {describe_failure(exc)}") from None
