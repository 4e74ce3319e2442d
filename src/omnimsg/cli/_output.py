"""Where the command line's output goes: a pipe-safe stdout, rich consoles, tables.

Every string printed from here passes through :func:`~omnimsg.cli._escape.printable`
(or :func:`~omnimsg.cli._escape.to_json_text` for ``--json``) and reaches rich as a
:class:`rich.text.Text`, never as markup: ``[bold]`` in a contact's name is printed as
those seven characters. Colour is rich's decision: only on a terminal, never with
``NO_COLOR``. A reader that stops early (``omnimsg profiles | head -1``) ends the
output quietly instead of raising ``BrokenPipeError``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from typing import IO, Any, cast

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.segment import Segment, Segments
from rich.table import Table
from rich.text import Text

from omnimsg.cli._escape import printable, to_json_text

__all__ = ["Output", "PipeGuard", "console_for", "print_error", "styled"]

# Output to a pipe or file is not wrapped by rich: a line longer than any terminal
# stays one line for grep, and table cells keep their full text.
_UNWRAPPED_WIDTH = 100_000
_ERROR_LIMIT = 2_000  # characters of one error message shown; the rest is counted


class PipeGuard:
    """A text stream that goes quiet once its reader has gone away.

    On the first ``BrokenPipeError`` the stream's file descriptor is pointed at the
    null device (so that the interpreter's last flush cannot fail either) and every
    later write is dropped. Text the stream's encoding cannot hold is written with
    backslash escapes instead of raising.

    Args:
        stream: the stream to guard, usually ``sys.stdout``.
    """

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self.broken = False

    @property
    def encoding(self) -> str:
        """The guarded stream's encoding (``utf-8`` when it does not say)."""
        return getattr(self._stream, "encoding", None) or "utf-8"

    def isatty(self) -> bool:
        """Whether the guarded stream is a terminal."""
        try:
            return self._stream.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        """The guarded stream's file descriptor."""
        return self._stream.fileno()

    def writable(self) -> bool:
        """Always ``True``: writes after a broken pipe are dropped, not refused."""
        return True

    def write(self, text: str) -> int:
        """Write ``text``; drop it when the reader has gone away."""
        if not self.broken:
            try:
                try:
                    self._stream.write(text)
                except UnicodeEncodeError:
                    encoding = self.encoding
                    self._stream.write(text.encode(encoding, "backslashreplace").decode(encoding))
            except BrokenPipeError:
                self._break()
        return len(text)

    def flush(self) -> None:
        """Flush the guarded stream, unless the reader has gone away."""
        if not self.broken:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._break()

    def _break(self) -> None:
        self.broken = True
        try:
            fd = self._stream.fileno()
        except (OSError, ValueError):
            return  # not a file descriptor (a test's capture): nothing is left to flush
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, fd)
        finally:
            os.close(null)


def console_for(stream: IO[str] | PipeGuard) -> Console:
    """A rich console on ``stream`` that reads no markup, emoji codes or highlights.

    Colour follows rich's rules: a terminal gets colour unless ``NO_COLOR`` is set;
    a pipe or file gets plain text (``FORCE_COLOR`` overrides, as it says).
    """
    console = Console(
        file=cast(IO[str], stream),
        markup=False,
        emoji=False,
        highlight=False,
    )
    if not console.is_terminal:
        console.width = _UNWRAPPED_WIDTH
    return console


def is_terminal(stream: object) -> bool:
    """Whether ``stream`` is a terminal (a stream whose ``isatty`` fails is not)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (OSError, ValueError):
        return False


def progress_bar(label: str, total: int | None, stack: ExitStack) -> Callable[..., None]:
    """A transient progress bar on standard error, closed with ``stack``.

    Returns ``update(completed=..., total=...)`` or ``update(advance=n)``.
    """
    bar = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console_for(sys.stderr),
        transient=True,
    )
    stack.enter_context(bar)
    task = bar.add_task(label, total=total)

    def update(**fields: Any) -> None:
        bar.update(task, **fields)

    return update


def styled(value: str, style: str = "") -> Text:
    """``value`` made printable (:func:`printable`) as rich text in ``style``."""
    return Text(printable(value), style=style)


def _text(part: str | Text) -> Text:
    return part if isinstance(part, Text) else styled(part)


class Output:
    """What commands print with: lines, key/value grids, tables and JSON on stdout.

    Args:
        stream: standard output, guarded (:class:`PipeGuard`).

    ``command`` is the command being run (``"omnimsg check"``), for error hints.
    """

    def __init__(self, stream: PipeGuard) -> None:
        self.stream = stream
        self.console = console_for(stream)
        self.command: str | None = None

    @classmethod
    def of(cls, ctx: typer.Context) -> Output:
        """The output a command's context carries, noting the command being run.

        A context without one (the app run by typer directly) gets one on stdout.
        """
        output = ctx.obj
        if not isinstance(output, Output):
            output = cls(PipeGuard(sys.stdout))
            ctx.obj = output
        output.command = ctx.command_path
        return output

    def line(self, *parts: str | Text) -> None:
        """Print one line made of ``parts``; plain strings are escaped first."""
        self.console.print(Text.assemble(*(_text(p) for p in parts)), soft_wrap=True)

    def blank(self) -> None:
        """Print an empty line."""
        self.console.print()

    def grid(self, rows: Iterable[tuple[str, str | Text]]) -> None:
        """Print ``key  value`` lines, the keys aligned and bold."""
        pairs = list(rows)
        width = max((len(key) for key, _ in pairs), default=0)
        for key, value in pairs:
            self.line(styled(key.ljust(width), "bold"), "  ", _text(value))

    def table(
        self,
        headers: Sequence[str],
        rows: Iterable[Sequence[str | Text]],
        *,
        title: str | None = None,
    ) -> None:
        """Print a table, under ``title`` when given; every plain-string cell is escaped."""
        if title is not None:
            self.line(styled(title, "bold"))
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
        for header in headers:
            table.add_column(styled(header))
        for row in rows:
            table.add_row(*(_text(cell) for cell in row))
        self._print_trimmed(table)

    def _print_trimmed(self, renderable: Table) -> None:
        # Cells are padded to their column's width; the padding at the end of a line
        # is noise in a file and in a terminal's copy and paste.
        for line in self.console.render_lines(renderable, pad=False):
            while line and not line[-1].control and not line[-1].text.strip():
                line.pop()
            if line:
                last = line[-1]
                line[-1] = Segment(last.text.rstrip(), last.style, last.control)
            self.console.print(Segments([*line, Segment.line()]), soft_wrap=True)

    def json(self, document: object) -> None:
        """Print ``document`` as JSON (:func:`to_json_text`) and a newline."""
        self.stream.write(to_json_text(document) + "\n")
        self.stream.flush()


def print_error(stream: IO[str], prefix: str, message: str, hint: str | None = None) -> None:
    """Print ``prefix: error: message`` (and a hint line) on ``stream``.

    The message is escaped and cut to a bounded length: it may quote a
    100,000-character value.
    """
    console = console_for(stream)
    shown = Text(printable(message.strip(), limit=_ERROR_LIMIT))
    console.print(
        Text.assemble(styled(f"{prefix}: "), styled("error:", "bold red"), " ", shown),
        soft_wrap=True,
    )
    if hint is not None:
        console.print(styled(hint), soft_wrap=True)
