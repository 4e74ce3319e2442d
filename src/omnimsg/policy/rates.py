"""What only delays a send: the monthly quota (P11) and the counts of recent messages
to one contact (P9 unanswered, P5 per recipient, P10 per group).

:func:`omnimsg.decide` asks :func:`delays` last, once everything else allows the send;
a refusal here says when the send may go (``Decision.retry_at``).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from datetime import UTC, datetime, timedelta

from omnimsg._convert import shown, to_instant
from omnimsg.channels.capabilities import ChannelCapabilities
from omnimsg.errors import ConfigurationError, InputError
from omnimsg.policy.reasons import Reason
from omnimsg.state import OUTBOUND_TIMES_KEPT, AccountState, ConversationState

__all__ = ["countable", "counts_against_quota", "delays", "next_month"]

_DEFAULT_ACCOUNT = AccountState()


def countable(cap: int, name: str) -> None:
    """Refuse a cap the kept outbound instants cannot count (see OUTBOUND_TIMES_KEPT)."""
    if not 1 <= cap <= OUTBOUND_TIMES_KEPT:
        raise ConfigurationError(
            f"{name}: expected 1 to {OUTBOUND_TIMES_KEPT} messages (the outbound instants "
            f"a conversation keeps), got {cap}"
        )


_MINUTE = timedelta(minutes=1)
_GROUP_LIMITS: dict[float, tuple[int, timedelta]] = {}


def _group_limit(rate: float) -> tuple[int, timedelta]:
    """``(messages, period)`` for ``rate`` messages a minute to a group (P10): floor(rate)
    messages (1 to OUTBOUND_TIMES_KEPT) in any floor(rate) / rate minutes (docs/decisions.md)."""
    found = _GROUP_LIMITS.get(rate)
    if found is not None:
        return found
    if not (isinstance(rate, int | float) and 0 < rate < math.inf):
        raise ConfigurationError(
            f"group_rate_per_minute: expected a positive number, got {shown(rate)}"
        )
    messages = min(max(1, math.floor(rate)), OUTBOUND_TIMES_KEPT)
    found = (messages, _MINUTE * (messages / rate))
    if len(_GROUP_LIMITS) < 64:
        _GROUP_LIMITS[rate] = found
    return found


def counts_against_quota(
    caps: ChannelCapabilities, conversation: ConversationState, *, now: datetime
) -> bool:
    """Whether a message sent now counts against the account's monthly quota (P11).

    It does on a channel with a ``monthly_quota`` unless it is a reply within the
    channel's ``free_reply_window`` of the contact's last message. A backend that
    sends a counted message records it with
    :meth:`~omnimsg.state.AccountState.after_quota_message`.

    Raises:
        InputError: an argument is not of its type, or ``now`` is naive or out of range.
    """
    if not isinstance(caps, ChannelCapabilities):
        raise InputError(f"caps: expected ChannelCapabilities, got {type(caps).__name__}")
    if not isinstance(conversation, ConversationState):
        raise InputError(
            f"conversation: expected ConversationState, got {type(conversation).__name__}"
        )
    when = to_instant(now, "now")
    return _counts(caps, conversation.last_inbound_at, when)


def _counts(caps: ChannelCapabilities, last: datetime | None, now: datetime) -> bool:
    if caps.monthly_quota is None:
        return False
    free = caps.free_reply_window
    return free is None or last is None or now >= last + free


def next_month(now: datetime, account: AccountState) -> datetime:
    """The first instant of the month after ``now``'s, in the account's zone, in UTC."""
    zone = account.timezone
    local = now.astimezone(zone)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return datetime(year, month, 1, tzinfo=zone).astimezone(UTC)


def delays(
    caps: ChannelCapabilities,
    conversation: ConversationState,
    now: datetime,
    account: AccountState | None,
    remaining: int | None,
    paid: bool,
) -> tuple[Reason | None, datetime | None, int | None, bool]:
    """``(refusal, retry at, remaining, paid)`` for a send otherwise allowed now: the
    monthly quota may make it paid or refuse it until next month (P11); the recent
    messages may refuse it until the longest of their waits (P9, P5, P10)."""
    last = conversation.last_inbound_at
    quota = caps.monthly_quota
    if quota is not None and _counts(caps, last, now):
        acct = account if account is not None else _DEFAULT_ACCOUNT
        left = quota - acct.quota_count_at(now)
        if left > 0:
            remaining = left if remaining is None else remaining
        elif acct.paid_extra_messages:
            paid = True
            remaining = 0 if remaining is None else remaining
        else:
            return Reason.MONTHLY_QUOTA_REACHED, next_month(now, acct), remaining, paid

    times = conversation.outbound_times
    retry_at: datetime | None = None
    refusal: Reason | None = None
    cap = caps.unanswered_cap
    if cap is not None and times:
        countable(cap, "unanswered_cap")
        period = caps.unanswered_period
        lo = bisect_right(times, now - period)
        if last is not None:
            lo = max(lo, bisect_left(times, last))
        if len(times) - lo >= cap:
            retry_at, refusal = times[len(times) - cap] + period, Reason.UNANSWERED_CAP_REACHED
    interval = caps.recipient_interval
    if interval is not None and times:
        ready = times[-1] + interval
        if now < ready and (retry_at is None or ready > retry_at):
            retry_at, refusal = ready, Reason.RECIPIENT_RATE
    rate = caps.group_rate_per_minute
    if rate is not None and times and conversation.group:
        most, span = _group_limit(rate)
        if len(times) - bisect_right(times, now - span) >= most:
            ready = times[len(times) - most] + span
            if retry_at is None or ready > retry_at:
                retry_at, refusal = ready, Reason.GROUP_RATE
    return refusal, retry_at, remaining, paid
