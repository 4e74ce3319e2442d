"""The one place that reads the wall clock.

The pure core never calls it: it takes ``now=`` from its caller. Stores, the
dispatcher and the command line take a :class:`~omnimsg.protocols.Clock`, so that
tests can inject :class:`omnimsg.testing.FixedClock`.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["SystemClock"]


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        """The current instant, in UTC."""
        return datetime.now(UTC)
