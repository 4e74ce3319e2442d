"""The typer application and the one function that runs it: flags in, exit status out.

:func:`run` owns the exit statuses (documented in ``docs/cli.md``)::

    0  done (``check``: the decision was made, or the send is allowed)
    1  the send is refused and ``--exit-code`` was given
    2  usage error: an unknown command or flag, a missing or unreadable flag value
    3  omnimsg refused the input (an :class:`~omnimsg.OmnimsgError`)

Only those two kinds of failure (and an interrupt, 130) are turned into statuses;
any other exception is a bug and is not hidden. Importing this module needs the
``cli`` extra (typer, rich).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated

import typer
import typer.main

from omnimsg import OmnimsgError, __version__
from omnimsg.cli._audit import audit
from omnimsg.cli._check import check
from omnimsg.cli._dispatch import dispatch
from omnimsg.cli._explain import explain
from omnimsg.cli._flags import FlagError
from omnimsg.cli._output import Output, PipeGuard, print_error
from omnimsg.cli._plan import plan
from omnimsg.cli._profiles import profiles
from omnimsg.cli._rules import rules
from omnimsg.cli._segment import segment

__all__ = ["EXIT_OK", "EXIT_OMNIMSG_ERROR", "EXIT_REFUSED", "EXIT_USAGE", "app", "run"]

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_OMNIMSG_ERROR = 3
_EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it

PROG = "omnimsg"

app = typer.Typer(
    name=PROG,
    help="The rules of business messaging, from the command line.",
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command(name="profiles")(profiles)
app.command(name="check")(check)
app.command(name="segment")(segment)
app.command(name="plan")(plan)
app.command(name="dispatch")(dispatch)
app.command(name="rules")(rules)
app.command(name="audit")(audit)
app.command(name="explain")(explain)


def _show_version(ctx: typer.Context, value: bool) -> None:
    if value:
        output: Output = ctx.obj
        output.line(f"{PROG} {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            expose_value=False,
            callback=_show_version,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """The rules of business messaging, from the command line."""


def _click_errors() -> tuple[type[Exception], type[Exception]]:
    # typer re-exports BadParameter but not its bases, which live in click or, in
    # recent typer releases, in typer's own copy of click; the class tree is the same.
    bases = {cls.__name__: cls for cls in typer.BadParameter.__mro__}
    return bases["ClickException"], bases["UsageError"]


def _message(exc: Exception) -> str:
    format_message = getattr(exc, "format_message", None)
    return str(format_message()) if callable(format_message) else str(exc)


def _usage_hint(exc: Exception, output: Output) -> str:
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None) or output.command or PROG
    return f"Try '{path} --help' for help."


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``) and return its exit status.

    Standard output is guarded for the length of the call, so that a reader that
    stops early ends the output quietly; errors go to standard error, escaped.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    no_command = not args
    if no_command:
        args = ["--help"]
    click_error, usage_error = _click_errors()
    stdout = sys.stdout
    guard = PipeGuard(stdout)
    output = Output(guard)
    sys.stdout = guard  # typer's help and echo write here too
    try:
        status = typer.main.get_command(app).main(
            args=args, prog_name=PROG, standalone_mode=False, obj=output
        )
    except FlagError as exc:
        print_error(sys.stderr, PROG, str(exc), _usage_hint(exc, output))
        return EXIT_USAGE
    except usage_error as exc:
        print_error(sys.stderr, PROG, _message(exc), _usage_hint(exc, output))
        return EXIT_USAGE
    except click_error as exc:
        print_error(sys.stderr, PROG, _message(exc))
        return EXIT_USAGE
    except OmnimsgError as exc:
        print_error(sys.stderr, PROG, str(exc))
        return EXIT_OMNIMSG_ERROR
    except (typer.Abort, KeyboardInterrupt):
        print_error(sys.stderr, PROG, "interrupted")
        return _EXIT_INTERRUPTED
    except SystemExit as exc:  # shell completion ends the process this way
        if exc.code is None:
            return EXIT_OK
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    finally:
        sys.stdout.flush()
        sys.stdout = stdout
    if no_command:  # the help was shown, but nothing was asked
        return EXIT_USAGE
    return status if isinstance(status, int) else EXIT_OK
