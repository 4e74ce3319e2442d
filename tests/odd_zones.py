"""Time zones that break the rules, shared by the tests that refuse them."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo


class NoOffset(tzinfo):
    """A tzinfo that knows no offset: its datetimes are naive in all but name."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str:
        return "nowhere"

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None


class BrokenOffset(NoOffset):
    """A tzinfo that fails when asked for its offset."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        raise RuntimeError("no offset today")
