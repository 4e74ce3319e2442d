"""Finding a user's transport from a ``module:factory`` text (the CLI, Celery workers).

``package.module:factory`` imports the module and calls ``factory()`` (a dotted
name such as ``Class.create`` is followed); a path to a ``.py`` file before the colon
(``transports/wa.py:make``) loads that file. The factory's result must be a
:class:`~omnimsg.protocols.Transport` or an :class:`~omnimsg.protocols.AsyncTransport`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import sys
from typing import Any

from omnimsg._convert import shown
from omnimsg.errors import InputError, OmnimsgError
from omnimsg.protocols import AsyncTransport, Transport

__all__ = ["load_transport", "split_spec"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def split_spec(value: object) -> tuple[str, str]:
    """``value`` checked as ``module:factory`` (or ``file.py:factory``): the two parts."""
    if not isinstance(value, str):
        raise InputError(f"transport: expected 'module:factory', got {type(value).__name__}")
    where, sep, attr = value.rpartition(":")
    is_file = where.endswith(".py") and "\x00" not in where
    if (
        not sep
        or len(value) > 1000
        or not _NAME.fullmatch(attr)
        or not (is_file or _NAME.fullmatch(where))
    ):
        raise InputError(
            "transport: expected 'module:factory' or 'file.py:factory' (such as "
            f"myapp.transports:make_transport), got {shown(value)}"
        )
    return where, attr


def _module(where: str) -> Any:
    if not where.endswith(".py"):
        return importlib.import_module(where)
    if not os.path.isfile(where):
        raise InputError(f"transport: no Python file {shown(where)}")
    path = os.path.abspath(where)
    name = "omnimsg_transport_" + hashlib.blake2b(path.encode(), digest_size=8).hexdigest()
    found = sys.modules.get(name)
    if found is not None:
        return found
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"transport: cannot load {shown(where)}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load_transport(spec: str) -> Transport | AsyncTransport:
    """The transport ``spec`` (``module:factory`` or ``file.py:factory``) makes.

    Raises:
        InputError: ``spec`` is malformed, names no importable module or file, no
            callable, or the factory failed or returned something that cannot send.
    """
    where, attr = split_spec(spec)
    try:
        found: Any = _module(where)
    except OmnimsgError:
        raise
    except Exception as exc:  # importing user code can fail in any way
        raise InputError(
            f"transport: cannot import {shown(where)}: {type(exc).__name__}: {str(exc)[:200]}"
        ) from exc
    for part in attr.split("."):
        try:
            found = getattr(found, part)
        except Exception:
            raise InputError(f"transport: {shown(where)} has no callable {attr!r}") from None
    if not callable(found):
        raise InputError(f"transport: {shown(where)} has no callable {attr!r}")
    try:
        made = found()
    except OmnimsgError:
        raise
    except Exception as exc:
        raise InputError(
            f"transport: {attr}() failed: {type(exc).__name__}: {str(exc)[:200]}"
        ) from exc
    if not isinstance(made, Transport | AsyncTransport):
        raise InputError(
            f"transport: {attr}() returned {type(made).__name__}, which has no send or asend"
        )
    return made
