"""A sender account's stored state and what it has sent (W6, P11, B11, B13, B14).

Part of :mod:`omnimsg.state`, which re-exports everything here; import from there.
This module owns :class:`AccountState` (the sender's time zone, monthly counts, tier
and quality) and :class:`SenderUsage` (its recent sends as daily caps and tiers
count them), their conversions of stored values and their transitions. Nothing
here decides, stores or reads the clock.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from omnimsg._convert import (
    EARLIEST,
    LATEST,
    out_of_range,
    shown,
    to_count,
    to_flag,
    to_instant,
    to_utc,
)
from omnimsg.errors import InputError

__all__ = ["QUALITY_RATINGS", "AccountState", "SenderUsage"]


# --- sender account ----------------------------------------------------------------------


def _timezone(value: object) -> tzinfo:
    if isinstance(value, tzinfo):
        try:
            offset = datetime(2000, 1, 1, tzinfo=value).utcoffset()
        except Exception:  # a user tzinfo may fail in any way; it is then unusable
            offset = None
        if offset is None:
            raise InputError("timezone: this tzinfo gives no UTC offset")
        return value
    if isinstance(value, str):
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise InputError(f"timezone: unknown time zone {value[:80]!r}") from None
    raise InputError(f"timezone: expected a tzinfo or an IANA name, got {type(value).__name__}")


def _year_month_of(value: object, name: str) -> tuple[int, int] | None:
    if value is None:
        return None
    if (
        isinstance(value, tuple | list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        and 1 <= value[0] <= 9999
        and 1 <= value[1] <= 12
    ):
        return (value[0], value[1])
    raise InputError(f"{name}: expected (year, month) with month 1-12, got {shown(value)}")


def _year_month(value: object) -> tuple[int, int] | None:
    return _year_month_of(value, "chatbot_month")


def _quota_month(value: object) -> tuple[int, int] | None:
    return _year_month_of(value, "quota_month")


def _quota_count(value: object) -> int:
    return to_count(value, "quota_count")


def _paid_extra(value: object) -> bool:
    return to_flag(value, "paid_extra_messages")


def _created_at(value: object) -> datetime | None:
    return to_utc(value, "created_at")


def _chatbot_count(value: object) -> int:
    return to_count(value, "chatbot_initiated_count")


def _paid_terms(value: object) -> bool:
    return to_flag(value, "paid_chatbot_terms")


def _tier(value: object) -> int:
    return to_count(value, "tier")


def _quality_low(value: object) -> bool:
    return to_flag(value, "quality_low")


QUALITY_RATINGS = ("high", "medium", "low", "flagged")
"""A sender's quality ratings as platforms report them (B14, P2-P4)."""


def _quality(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in QUALITY_RATINGS:
        return value.strip().lower()
    raise InputError(
        f"quality: expected one of {', '.join(QUALITY_RATINGS)} or None, got {shown(value)}"
    )


def _month(instant: datetime, zone: tzinfo) -> tuple[int, int]:
    local = instant.astimezone(zone)
    return (local.year, local.month)


@attrs.frozen
class AccountState:
    """A channel account's (sender's) own state.

    ``timezone`` is the account's (an IANA name is accepted): its calendar months
    and days are the ones quotas reset on. ``chatbot_initiated_count`` counts
    chatbot-initiated messages sent in the calendar month ``chatbot_month`` (year,
    month) (W6); a count for another month is a count of zero, and a count without a
    month is refused. ``paid_chatbot_terms``: the account agreed to paid commercial
    terms, so sends beyond the free quota go, paid. ``tier`` is the sender's
    messaging tier now, an index into its channel's
    :class:`~omnimsg.channels.capabilities.TierPolicy` limits (0: the first, B13);
    ``quality_low``: its quality rating is low, so it does not move up (B14).
    ``quality`` is its latest quality rating when known (``"high"``, ``"medium"``,
    ``"low"``, ``"flagged"``); a tier that needs high quality to move up (WhatsApp
    from 2025-10-07, P4) moves only when it is ``"high"``. ``"low"`` or
    ``"flagged"`` sets ``quality_low``.

    ``quota_count`` counts the business-initiated messages of the calendar month
    ``quota_month`` against the plan's monthly quota (LINE, P11), like the chatbot
    count; ``paid_extra_messages``: the plan pays for messages beyond the quota, so
    they go, billed.

    ``created_at`` is when the account (a Viber bot) was created, where a platform's
    free quota depends on it (P9: bots created from 2024-02-05 get no free
    chatbot-initiated messages); ``None``: unknown, taken as created before.
    """

    timezone: tzinfo = attrs.field(default=UTC, converter=_timezone)
    chatbot_month: tuple[int, int] | None = attrs.field(default=None, converter=_year_month)
    chatbot_initiated_count: int = attrs.field(default=0, converter=_chatbot_count)
    paid_chatbot_terms: bool = attrs.field(default=False, converter=_paid_terms)
    tier: int = attrs.field(default=0, converter=_tier)
    quality_low: bool = attrs.field(default=False, converter=_quality_low)
    quality: str | None = attrs.field(default=None, converter=_quality)
    quota_month: tuple[int, int] | None = attrs.field(default=None, converter=_quota_month)
    quota_count: int = attrs.field(default=0, converter=_quota_count)
    paid_extra_messages: bool = attrs.field(default=False, converter=_paid_extra)
    created_at: datetime | None = attrs.field(default=None, converter=_created_at)

    def __attrs_post_init__(self) -> None:
        if self.quality is not None:
            # A known rating decides: a rating that recovers lifts quality_low too.
            object.__setattr__(self, "quality_low", self.quality in ("low", "flagged"))
        for count, month in (
            ("chatbot_initiated_count", "chatbot_month"),
            ("quota_count", "quota_month"),
        ):
            if getattr(self, count) and getattr(self, month) is None:
                raise InputError(
                    f"AccountState: {count} needs {month}, the (year, month) it was counted in"
                )

    def _month_of(self, now: datetime) -> tuple[int, int]:
        try:
            if now.tzinfo is None or not EARLIEST <= now < LATEST:
                raise TypeError
            return _month(now, self.timezone)
        except (AttributeError, TypeError, OverflowError):
            when = to_instant(now, "now")
            raise out_of_range("now", when) from None

    def chatbot_count_at(self, now: datetime) -> int:
        """Chatbot-initiated messages already sent in ``now``'s month (W6)."""
        if self.chatbot_month != self._month_of(now):
            return 0
        return self.chatbot_initiated_count

    def after_chatbot_initiated(self, now: datetime) -> AccountState:
        """The state after one more chatbot-initiated message at ``now``."""
        when = to_instant(now, "now")
        return attrs.evolve(
            self,
            chatbot_month=self._month_of(when),
            chatbot_initiated_count=self.chatbot_count_at(when) + 1,
        )

    def quota_count_at(self, now: datetime) -> int:
        """Business-initiated messages already counted in ``now``'s month (P11)."""
        if self.quota_month != self._month_of(now):
            return 0
        return self.quota_count

    def after_quota_message(self, now: datetime) -> AccountState:
        """The state after one more message counted against the monthly quota at ``now``.

        Only a message that counts is passed here: a reply within the channel's
        ``free_reply_window`` is free (:func:`omnimsg.policy.rates.counts_against_quota`).
        """
        when = to_instant(now, "now")
        return attrs.evolve(
            self, quota_month=self._month_of(when), quota_count=self.quota_count_at(when) + 1
        )

    def local_day(self, instant: datetime) -> date:
        """The calendar day of ``instant`` in the account's time zone (B11)."""
        when = to_instant(instant, "instant")
        try:
            return when.astimezone(self.timezone).date()
        except OverflowError:
            raise out_of_range("instant", when) from None


# --- what a sender has sent ----------------------------------------------------------------


def _day(value: object) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InputError(f"SenderUsage.day: expected a date, got {shown(value)}")


def _recipients_today(value: object) -> int:
    return to_count(value, "SenderUsage.recipients_today")


def _sends(value: object) -> tuple[tuple[datetime, str], ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InputError("SenderUsage.recent: expected a sequence of (sent_at, recipient)")
    items: list[tuple[datetime, str]] = []
    for i, item in enumerate(value):
        if not (isinstance(item, tuple | list) and len(item) == 2):
            raise InputError(f"SenderUsage.recent[{i}]: expected (sent_at, recipient)")
        at = to_utc(item[0], f"SenderUsage.recent[{i}].sent_at")
        if at is None or not isinstance(item[1], str):
            raise InputError(f"SenderUsage.recent[{i}]: expected (sent_at, recipient id)")
        items.append((at, item[1]))
    items.sort()
    return tuple(items)


@attrs.frozen
class SenderUsage:
    """What one sender has sent, as its caps count it (B11, B13, B14).

    ``day`` and ``recipients_today``: how many distinct recipients the sender sent
    to on that calendar day of its own time zone (B11's daily cap).
    ``recent``: ``(sent_at, recipient)`` of business-initiated sends, oldest first,
    kept for as long as a tier rule looks back (B13's rolling 24 h, B14's 7 days).
    """

    day: date | None = attrs.field(default=None, converter=_day)
    recipients_today: int = attrs.field(default=0, converter=_recipients_today)
    recent: tuple[tuple[datetime, str], ...] = attrs.field(default=(), converter=_sends)

    def recipients_on(self, day: date) -> int:
        """Recipients counted on ``day`` (0 for any other day than :attr:`day`)."""
        return self.recipients_today if day == self.day else 0

    def unique_recipients(self, since: datetime, until: datetime) -> int:
        """Distinct recipients sent to in ``[since, until)`` (B13's rolling window)."""
        start = to_utc(since, "since")
        end = to_utc(until, "until")
        if start is None or end is None:
            raise InputError("unique_recipients: 'since' and 'until' must be aware datetimes")
        sends = self.recent
        lo = bisect.bisect_left(sends, (start, ""))
        return len({recipient for at, recipient in sends[lo:] if at < end})

    def after_sends(
        self,
        sends: Iterable[tuple[datetime, str]],
        *,
        account: AccountState,
        keep: timedelta = timedelta(days=7),
    ) -> SenderUsage:
        """The usage after ``sends`` (``(sent_at, recipient)``), days in ``account``'s zone.

        ``recipients_today`` follows the latest day sent on; ``recent`` drops sends
        older than ``keep`` before the latest one. Batch the sends of a run into one
        call: each call copies the record.
        """
        if not isinstance(account, AccountState):
            raise InputError(f"account: expected AccountState, got {type(account).__name__}")
        if not isinstance(keep, timedelta):
            raise InputError(f"keep: expected a timedelta, got {type(keep).__name__}")
        new = _sends(sends)
        if not new:
            return self
        merged = sorted(self.recent + new)
        newest = merged[-1][0]
        try:
            horizon = newest - keep
        except OverflowError:
            horizon = merged[0][0]
        lo = bisect.bisect_left(merged, (horizon, ""))
        day = self.day
        count = self.recipients_today
        seen = {r for at, r in self.recent if account.local_day(at) == day}
        for at, recipient in new:
            sent_day = account.local_day(at)
            if day is None or sent_day > day:
                day, count, seen = sent_day, 0, set()
            if sent_day == day and recipient not in seen:
                seen.add(recipient)
                count += 1
        return SenderUsage(day=day, recipients_today=count, recent=tuple(merged[lo:]))
