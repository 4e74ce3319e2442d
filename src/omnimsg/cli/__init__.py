"""The ``omnimsg`` command line, in the ``cli`` extra (``pip install 'omnimsg[cli]'``).

Thin on purpose: it parses flags, calls the library and prints; every rule lives in
the library. This package imports neither typer nor rich until :func:`main` runs, so
``import omnimsg`` stays light and, without the extra, the command says which extra
to install instead of failing on an import. Commands, flags, ``--json`` shapes and
exit statuses are described in ``docs/cli.md``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

# The distributions the cli extra installs, and those they import.
_EXTRA_MODULES = frozenset({"typer", "rich", "click", "shellingham"})
_MISSING_EXTRA = (
    "omnimsg: the command line needs the cli extra (typer and rich): pip install 'omnimsg[cli]'\n"
)
_EXIT_MISSING_EXTRA = 3


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``omnimsg`` command line and return its exit status.

    Args:
        argv: the arguments after the program name (default: ``sys.argv[1:]``).

    Returns:
        0 done or allowed, 1 refused (``check --exit-code``), 2 usage error, 3 an
        omnimsg error, or when the ``cli`` extra is not installed (one line on
        standard error says how to install it).
    """
    try:
        from omnimsg.cli.app import run
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] not in _EXTRA_MODULES:
            raise
        sys.stderr.write(_MISSING_EXTRA)
        return _EXIT_MISSING_EXTRA
    return run(argv)
