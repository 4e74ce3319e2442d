"""Opening the files a command line names, without hanging and without a traceback.

A path on the command line may name anything: a directory, a FIFO that would block
``open`` until a writer comes, a device, a file the user may not read, or nothing.
Files are opened without blocking and checked to be regular files before a byte is
read; every failure becomes the omnimsg error the caller names, with the path and
the reason in words.
"""

from __future__ import annotations

import os
import stat

from omnimsg import OmnimsgError

__all__ = ["MAX_TEXT_FILE_BYTES", "read_text_file", "require_regular_file"]

MAX_TEXT_FILE_BYTES = 16 * 1024 * 1024
"""The largest file :func:`read_text_file` reads (16 MiB): a segment is a few KB."""

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _reason(exc: OSError | ValueError) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    # os functions raise ValueError for a NUL in the path and UnicodeError for a
    # name the file system encoding cannot hold.
    return str(exc) or type(exc).__name__


def _open_regular(path: str, what: str, error: type[OmnimsgError]) -> int:
    try:
        # O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting
        # for a writer; it changes nothing for a regular file.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, ValueError) as exc:
        raise error(f"cannot read {what} {path}: {_reason(exc)}") from None
    try:
        mode = os.fstat(fd).st_mode
    except OSError as exc:
        os.close(fd)
        raise error(f"cannot read {what} {path}: {_reason(exc)}") from None
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise error(f"cannot read {what} {path}: it is {kind}, not a regular file")
    return fd


def require_regular_file(path: str, what: str, error: type[OmnimsgError]) -> None:
    """Check that ``path`` is a regular file this process can open for reading.

    Args:
        path: the path as given on the command line.
        what: what the file is, in words (``"contacts file"``), for the message.
        error: the omnimsg error to raise.

    Raises:
        OmnimsgError: of type ``error``, naming the path and why it cannot be read.
    """
    os.close(_open_regular(path, what, error))


def read_text_file(path: str, what: str, error: type[OmnimsgError]) -> str:
    """Read a regular UTF-8 file of at most :data:`MAX_TEXT_FILE_BYTES`.

    Args:
        path: the path as given on the command line.
        what: what the file is, in words (``"segment file"``), for the message.
        error: the omnimsg error to raise.

    Returns:
        The text of the file, without a leading byte order mark.

    Raises:
        OmnimsgError: of type ``error``: the file is missing, not a regular file,
            unreadable, too large, or not UTF-8.
    """
    fd = _open_regular(path, what, error)
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(MAX_TEXT_FILE_BYTES + 1)
        except OSError as exc:
            raise error(f"cannot read {what} {path}: {_reason(exc)}") from None
    if len(data) > MAX_TEXT_FILE_BYTES:
        limit = MAX_TEXT_FILE_BYTES // (1024 * 1024)
        raise error(f"{what} {path} is larger than {limit} MiB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{what} {path} is not UTF-8: {exc.reason} at byte {exc.start + 1}") from None
