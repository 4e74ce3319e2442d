"""Opening the files a caller names: regular files only, never blocking, no bare errors.

The one place omnimsg opens a path (profile files, CSV imports and exports, the
command line's files all come through here). A path may name anything: a directory,
a FIFO that would block ``open`` until a writer comes, a device, a file the process
may not read, a NUL byte, or nothing. Files are opened non-blocking and checked to
be regular before a byte moves; every failure is the omnimsg error the caller names,
with the path and the reason in words.
"""

from __future__ import annotations

import os
import stat

from omnimsg.errors import OmnimsgError

__all__ = ["describe_failure", "open_regular", "read_regular", "shown_path"]

# Opening a FIFO for reading blocks until a writer comes; non-blocking, it returns at
# once and fstat tells what it is. On a regular file the flag changes nothing.
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def describe_failure(exc: BaseException) -> str:
    """Why opening or reading a path failed, in words."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, UnicodeError):
        return "the path cannot be encoded for the file system"
    # os functions raise ValueError for a NUL in the path.
    return str(exc) or type(exc).__name__


_SHOWN_PATH = 300


def shown_path(path: str | os.PathLike[str]) -> str:
    """A path for a message: whole unless absurdly long (it is what the reader looks
    for), with characters that do not print (NUL, control, lone surrogates) escaped."""
    text = os.fspath(path)
    cut = text if len(text) <= _SHOWN_PATH else text[:_SHOWN_PATH] + "…"
    if cut.isprintable():
        return cut
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in cut)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def open_regular(
    path: str | os.PathLike[str],
    *,
    what: str,
    error: type[OmnimsgError],
    flags: int = os.O_RDONLY,
) -> int:
    """A descriptor of the regular file at ``path``, opened with ``flags``.

    Raises ``error`` naming ``what`` and the path when the path cannot be opened or
    is not a regular file (checked on what was opened, so a path swapped in between
    is caught too). The caller closes the descriptor.
    """
    shown = shown_path(path)
    writing = bool(flags & (os.O_WRONLY | os.O_RDWR))
    verb = "write" if writing else "read"
    if writing:
        # Only for a clearer message: a FIFO without a reader fails to open for writing.
        try:
            existing = os.stat(path).st_mode
        except (OSError, ValueError, UnicodeError):
            existing = None
        if existing is not None and not stat.S_ISREG(existing):
            raise error(f"{what} {shown}: it is {_kind(existing)}, not a regular file")
    try:
        fd = os.open(path, flags | _NONBLOCK | _CLOEXEC, 0o666)
    except (OSError, ValueError, UnicodeError) as exc:
        raise error(f"cannot {verb} {what} {shown}: {describe_failure(exc)}") from None
    try:
        mode = os.fstat(fd).st_mode
    except OSError as exc:
        os.close(fd)
        raise error(f"cannot {verb} {what} {shown}: {describe_failure(exc)}") from None
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise error(f"{what} {shown}: it is {_kind(mode)}, not a regular file")
    return fd


def read_regular(
    path: str | os.PathLike[str], *, what: str, error: type[OmnimsgError], max_bytes: int
) -> bytes:
    """The bytes of the regular file at ``path``, at most ``max_bytes`` of them.

    Raises ``error`` as :func:`open_regular` does, and when the file cannot be read
    or is larger than ``max_bytes``.
    """
    fd = open_regular(path, what=what, error=error)
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise error(f"cannot read {what} {shown_path(path)}: {describe_failure(exc)}") from None
    if len(data) > max_bytes:
        raise error(f"{what} {shown_path(path)} is larger than {max_bytes:,} bytes")
    return data
