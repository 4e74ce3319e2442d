"""Building log entries, and dispatched logs, for the audit tests."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from omnimsg.audit import Direction, LogEntry
from omnimsg.delivery import Dispatcher
from omnimsg.state import AccountState
from omnimsg.stores.memory import MemoryStore
from omnimsg.testing import FixedClock, RecordingTransport
from omnimsg.transports import SendRequest, SendResult, SendStatus

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


def dispatch_recorded(
    plan: Any,
    now: datetime,
    *,
    store: MemoryStore | None = None,
    accounts: Mapping[str, AccountState] | None = None,
) -> list[tuple[datetime, SendRequest]]:
    """Dispatch ``plan`` from ``now`` with a clock the dispatcher's sleep moves, and
    return every request the transport took with the instant it went."""
    clock = FixedClock(now)
    sent: list[tuple[datetime, SendRequest]] = []
    lock = threading.Lock()

    def accept(request: SendRequest) -> SendResult:
        with lock:
            sent.append((clock.now(), request))
        return SendResult(request.idempotency_key, SendStatus.ACCEPTED)

    def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))

    store = store if store is not None else MemoryStore()
    try:
        Dispatcher(
            store,
            RecordingTransport(accept),
            clock=clock,
            sleep=sleep,
            seed=7,
            accounts=dict(accounts or {}),
        ).run(plan)
    finally:
        store.close()
    return sent
