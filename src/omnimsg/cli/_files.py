"""Opening the files a command line names, without hanging and without a traceback.

A path on the command line may name anything: a directory, a FIFO that would block
``open`` until a writer comes, a device, a file the user may not read, or nothing.
Files are opened by :mod:`omnimsg._files` (without blocking, regular files only), as
everywhere in omnimsg; every failure becomes the omnimsg error the caller names,
with the path and the reason in words.
"""

from __future__ import annotations

import os

from omnimsg import OmnimsgError
from omnimsg._files import open_regular, read_regular, shown_path

__all__ = ["MAX_TEXT_FILE_BYTES", "read_text_file", "require_regular_file"]

MAX_TEXT_FILE_BYTES = 16 * 1024 * 1024
"""The largest file :func:`read_text_file` reads (16 MiB): a segment is a few KB."""


def require_regular_file(path: str, what: str, error: type[OmnimsgError]) -> None:
    """Check that ``path`` is a regular file this process can open for reading.

    Args:
        path: the path as given on the command line.
        what: what the file is, in words (``"contacts file"``), for the message.
        error: the omnimsg error to raise.

    Raises:
        OmnimsgError: of type ``error``, naming the path and why it cannot be read.
    """
    os.close(open_regular(path, what=what, error=error))


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
    data = read_regular(path, what=what, error=error, max_bytes=MAX_TEXT_FILE_BYTES)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(
            f"{what} {shown_path(path)} is not UTF-8: {exc.reason} at byte {exc.start + 1}"
        ) from None
