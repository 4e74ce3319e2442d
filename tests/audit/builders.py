"""Building log entries for the audit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omnimsg.audit import Direction, LogEntry

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def inbound(
    at: datetime,
    contact: str = "+34611000001",
    *,
    channel: str = "whatsapp",
    account: str = "wa-1",
    text: str | None = "hi",
) -> LogEntry:
    """The contact wrote."""
    return LogEntry(
        at=at,
        direction=Direction.INBOUND,
        channel=channel,
        account=account,
        contact=contact,
        text=text,
    )


def outbound(
    at: datetime,
    contact: str = "+34611000001",
    *,
    channel: str = "whatsapp",
    account: str = "wa-1",
    text: str | None = "hello",
    template: str | None = None,
    tag: str | None = None,
    marketing: bool = False,
    line: int | None = None,
) -> LogEntry:
    """The business sent."""
    return LogEntry(
        at=at,
        direction=Direction.OUTBOUND,
        channel=channel,
        account=account,
        contact=contact,
        text=text,
        template=template,
        tag=tag,
        marketing=marketing,
        line=line,
    )
