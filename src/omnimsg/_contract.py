"""What the contract checks of :mod:`omnimsg.testing` share: reporting a broken promise.

An implementation under check may fail in any way; :func:`contract` turns whatever
it raises (but omnimsg's own errors) into a :class:`~omnimsg.errors.ConformanceError`
naming the check, and :func:`expect` states one promise.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from omnimsg.errors import ConformanceError, InputError, OmnimsgError

__all__ = ["call", "contract", "expect", "require_callable"]

T = TypeVar("T")
P = ParamSpec("P")


def contract(check: Callable[P, None]) -> Callable[P, None]:
    """Report anything an implementation raises during a check as a broken promise."""

    @functools.wraps(check)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            check(*args, **kwargs)
        except OmnimsgError:
            raise
        except Exception as exc:
            raise ConformanceError(
                f"{check.__name__}: the implementation raised {type(exc).__name__}: {exc}"
            ) from exc

    return run


def call(function: Callable[..., T], *args: object) -> T:
    """Call a user's factory; its failure is a broken promise, not our crash."""
    try:
        return function(*args)
    except OmnimsgError:
        raise
    except Exception as exc:
        raise ConformanceError(f"the factory raised {type(exc).__name__}: {exc}") from exc


def require_callable(value: object, name: str) -> None:
    """``value`` must be callable, else :class:`InputError` naming ``name``."""
    if not callable(value):
        raise InputError(f"{name}: expected a callable, got {type(value).__name__}")


def expect(condition: bool, promise: str) -> None:
    """Raise :class:`ConformanceError` stating ``promise`` unless ``condition`` holds."""
    if not condition:
        raise ConformanceError(promise)
