"""When a broadcast goes and what status it is in: the lifecycle and the schedule (B1, B9).

This module owns two small pure machines. The status of a broadcast moves only along
:data:`TRANSITIONS` (draft → scheduled → sending → done / cancelled / failed), one
table read by :func:`transition`. The instants a schedule starts at come from
:func:`occurrences`: the start, or with a recurrence (an RFC 5545 ``RRULE`` read by
python-dateutil) each instant of the rule. Nothing here reads the clock: ``now`` is
passed in.

A broadcast recurs at most once a day, at its start's time of day: ``FREQ`` is
``DAILY``, ``WEEKLY``, ``MONTHLY`` or ``YEARLY``, without ``BYHOUR``, ``BYMINUTE`` or
``BYSECOND``, and each ``BY...`` part lists at most :data:`MAX_RULE_VALUES` values
(``BYSETPOS`` seven). This also bounds the work: dateutil scans a rule that never
matches (``BYMONTH=2;BYMONTHDAY=30``) period by period up to the year 9999, which
takes seconds, and an hourly rule that never matches for centuries. The Gregorian calendar
repeats every 400 years, so the rule is run on wall-clock times moved by a whole
number of 400-year cycles to start between 400 and 800 years before the end of the
year 9999, and the instants are moved back: the same instants, found after at most
800 years of periods. Instants more than 400 years after the start may be left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import MAXYEAR, UTC, datetime
from enum import StrEnum
from types import MappingProxyType

from dateutil.rrule import rrule, rrulestr

from omnimsg._convert import shown
from omnimsg._time import require_aware
from omnimsg.broadcasts.model import Schedule
from omnimsg.errors import InputError, LifecycleError

__all__ = [
    "MAX_OCCURRENCES",
    "MAX_RECURRENCE_LENGTH",
    "MAX_RULE_VALUES",
    "TRANSITIONS",
    "BroadcastStatus",
    "check_recurrence",
    "occurrences",
    "transition",
]


class BroadcastStatus(StrEnum):
    """Where a broadcast is in its life (B1). Values are stable strings."""

    DRAFT = "draft"
    """Being written; nothing is sent (B1)."""
    SCHEDULED = "scheduled"
    """Validated and waiting for its start (B9)."""
    SENDING = "sending"
    """Its sends are going out."""
    DONE = "done"
    """Every planned send went out or was reported (final)."""
    CANCELLED = "cancelled"
    """Stopped by the business before it ended (final)."""
    FAILED = "failed"
    """Stopped by an error (final)."""


_S = BroadcastStatus
TRANSITIONS: Mapping[BroadcastStatus, frozenset[BroadcastStatus]] = MappingProxyType(
    {
        _S.DRAFT: frozenset({_S.SCHEDULED, _S.CANCELLED}),
        _S.SCHEDULED: frozenset({_S.DRAFT, _S.SENDING, _S.CANCELLED}),
        _S.SENDING: frozenset({_S.DONE, _S.FAILED, _S.CANCELLED}),
        _S.DONE: frozenset(),
        _S.CANCELLED: frozenset(),
        _S.FAILED: frozenset(),
    }
)
"""The statuses each status may move to; a final status maps to the empty set."""

_STATUSES = ", ".join(s.value for s in BroadcastStatus)


def _status(value: object, name: str) -> BroadcastStatus:
    if isinstance(value, BroadcastStatus):
        return value
    if isinstance(value, str):
        try:
            return BroadcastStatus(str.__str__(value))
        except ValueError:
            pass
    raise InputError(f"{name}: expected a broadcast status ({_STATUSES}), got {shown(value)}")


def transition(current: BroadcastStatus | str, to: BroadcastStatus | str) -> BroadcastStatus:
    """Move a broadcast from ``current`` to ``to`` when :data:`TRANSITIONS` allows it.

    Args:
        current: the status it is in (a :class:`BroadcastStatus` or its value).
        to: the status asked for.

    Returns:
        ``to`` as a :class:`BroadcastStatus`.

    Raises:
        InputError: either status is not a broadcast status.
        LifecycleError: the move is not allowed (the message names both statuses and
            where ``current`` may go).
    """
    here = _status(current, "current")
    there = _status(to, "to")
    allowed = TRANSITIONS[here]
    if there not in allowed:
        if allowed:
            options = ", ".join(sorted(s.value for s in allowed))
            where = f"from {here.value} it can go to {options}"
        else:
            where = f"{here.value} is final"
        raise LifecycleError(f"a broadcast cannot go from {here.value} to {there.value}; {where}")
    return there


# --- B9: the schedule's instants ---------------------------------------------------

MAX_RECURRENCE_LENGTH = 500
"""The longest recurrence rule read, in characters; a real rule is a few dozen."""
MAX_OCCURRENCES = 10_000
"""The most instants :func:`occurrences` returns at once."""

_RULE_KEYS = frozenset(
    (
        *("FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST"),
        *("BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS"),
    )
)
_FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_TIME_OF_DAY = ("BYHOUR", "BYMINUTE", "BYSECOND")
MAX_RULE_VALUES = 31
"""The most values one ``BY...`` part lists (every day of a month)."""
_MAX_SET_POSITIONS = 7
"""The most values ``BYSETPOS`` lists: dateutil tries each one in every period."""
_CYCLE_YEARS = 400
"""The Gregorian calendar (weekdays, leap years) repeats exactly every 400 years."""


_UNTIL = re.compile(r"([0-9]{8})T([0-9]{6})Z")


class _Rule:
    """A checked rule: its parts without ``UNTIL``, and ``UNTIL`` as an instant."""

    __slots__ = ("body", "until")

    def __init__(self, body: str, until: datetime | None) -> None:
        self.body = body
        self.until = until


def _read_rule(text: object) -> _Rule:
    """The ``RRULE`` parts of ``text``, checked against RFC 5545's names."""
    if not isinstance(text, str):
        raise InputError(f"recurrence: expected an RRULE as text, got {shown(text)}")
    text = str.__str__(text)  # a subclass may override any method
    if len(text) > MAX_RECURRENCE_LENGTH:
        raise InputError(
            f"recurrence: {len(text):,} characters, a rule has at most {MAX_RECURRENCE_LENGTH}"
        )
    if not text.isprintable() or not text.isascii():
        raise InputError(f"recurrence {shown(text)}: an RRULE is one line of ASCII text")
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[len("RRULE:") :]
    parts: dict[str, str] = {}
    for part in body.split(";"):
        key, sep, value = part.partition("=")
        key, value = key.strip().upper(), value.strip().upper()
        if not sep or not value:
            raise InputError(f"recurrence {shown(text)}: {shown(part)} is not NAME=VALUE")
        if key in _TIME_OF_DAY:
            raise InputError(
                f"recurrence {shown(text)}: {key} is not used; a broadcast recurs at most "
                "once a day, at the time of day of its start"
            )
        if key not in _RULE_KEYS:
            raise InputError(
                f"recurrence {shown(text)}: unknown part {shown(key)}; expected RFC 5545 "
                "RRULE parts (FREQ, INTERVAL, COUNT, UNTIL, WKST, BYDAY, BYMONTHDAY, "
                "BYYEARDAY, BYWEEKNO, BYMONTH, BYSETPOS)"
            )
        if key in parts:
            raise InputError(f"recurrence {shown(text)}: {key} is given twice")
        most = _MAX_SET_POSITIONS if key == "BYSETPOS" else MAX_RULE_VALUES
        if key.startswith("BY") and value.count(",") >= most:
            raise InputError(f"recurrence {shown(text)}: {key} lists more than {most} values")
        parts[key] = value
    if parts.get("FREQ") not in _FREQUENCIES:
        raise InputError(
            f"recurrence {shown(text)}: FREQ is required, one of {', '.join(_FREQUENCIES)}; "
            "a broadcast recurs at most once a day"
        )
    if parts["FREQ"] == "DAILY" and "BYSETPOS" in parts:
        raise InputError(
            f"recurrence {shown(text)}: BYSETPOS picks among the instants of a period; "
            "a day holds one"
        )
    if "COUNT" in parts and "UNTIL" in parts:
        raise InputError(f"recurrence {shown(text)}: give COUNT or UNTIL, not both (RFC 5545)")
    until = None
    if "UNTIL" in parts:
        until = _until(parts.pop("UNTIL"), text)
    return _Rule(";".join(f"{k}={v}" for k, v in parts.items()), until)


def _until(value: str, text: str) -> datetime:
    match = _UNTIL.fullmatch(value)
    try:
        if match is None:
            raise ValueError
        return datetime.strptime("".join(match.groups()), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        raise InputError(
            f"recurrence {shown(text)}: UNTIL must be an instant in UTC such as 20261231T235959Z"
        ) from None


def _build(body: str, start: datetime, text: object) -> rrule:
    try:
        rule = rrulestr(body, dtstart=start)
    except Exception as exc:  # dateutil raises ValueError, TypeError, KeyError, ... on bad rules
        raise InputError(f"recurrence {shown(text)}: {_reason(exc)}") from None
    if not isinstance(rule, rrule):
        raise InputError(f"recurrence {shown(text)}: expected a single RRULE")
    return rule


def _reason(exc: BaseException) -> str:
    message = str(exc)[:200]
    return message or type(exc).__name__


def check_recurrence(text: str, start: datetime) -> None:
    """Check that ``text`` is an RRULE dateutil reads with ``start`` as its first instant.

    Only the rule's syntax is checked (whether it ever matches is :func:`occurrences`'
    concern). ``FREQ`` is ``DAILY``, ``WEEKLY``, ``MONTHLY`` or ``YEARLY``: a broadcast
    recurs at most once a day, at its start's time of day, so ``BYHOUR``, ``BYMINUTE``
    and ``BYSECOND`` are refused, and so is ``BYSETPOS`` with ``DAILY`` (a day holds
    one instant). Each ``BY...`` part lists at most :data:`MAX_RULE_VALUES` values,
    ``BYSETPOS`` at most seven. ``UNTIL`` must be an instant in UTC
    (``20261231T235959Z``), as RFC 5545 asks with a start that has a time zone, and
    not come with ``COUNT``.

    Raises:
        InputError: the rule is not text, too long, not one line, names a part
            RFC 5545 does not define or one refused above, or dateutil refuses it.
        NaiveDatetimeError: ``start`` has no UTC offset.
    """
    aware = require_aware(start, "start")
    _build(_read_rule(text).body, aware.replace(tzinfo=None), text)


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_OCCURRENCES:
        raise InputError(
            f"{name}: expected a whole number from 1 to {MAX_OCCURRENCES:,}, got {shown(value)}"
        )
    return value


def _shifted(value: datetime, years: int) -> datetime | None:
    try:
        return value.replace(year=value.year + years)
    except ValueError:
        return None


def _instants(rule: _Rule, start: datetime, limit: int, text: object) -> Iterator[datetime]:
    """The rule's instants from ``start`` on, run in a late 400-year cycle (see above)."""
    zone = start.tzinfo
    wall_start = start.replace(tzinfo=None)
    # The moved start leaves at least one whole cycle before dateutil's last year.
    years = max(0, (MAXYEAR - _CYCLE_YEARS - wall_start.year) // _CYCLE_YEARS * _CYCLE_YEARS)
    moved_start = _shifted(wall_start, years)
    if moved_start is None:  # not reached: a 400-year shift keeps every date valid
        return
    iterator = iter(_build(rule.body, moved_start, text))
    for _ in range(limit):
        try:
            moved = next(iterator)
        except (StopIteration, OverflowError, ValueError):  # dateutil ends at the year 9999
            return
        wall = _shifted(moved, -years)
        if wall is None:
            return
        try:
            instant = wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
        except (OverflowError, ValueError):
            return
        if rule.until is not None and instant > rule.until:
            return
        yield instant


def occurrences(schedule: Schedule, *, now: datetime, limit: int = 100) -> tuple[datetime, ...]:
    """The instants a schedule starts a send at (B9), in order.

    Without a recurrence, the one start (``schedule.start``, or ``now`` when it is
    ``None``). With one, the rule's instants from the start on, at most ``limit`` of
    them: wall-clock times in the start's time zone (a weekly 09:00 stays 09:00
    across a daylight-saving change), a time that does not exist locally moved
    forward by the gap. Instants more than 400 years after the start may be left out.

    Args:
        schedule: the broadcast's schedule.
        now: the current instant (used when the schedule starts now).
        limit: the most instants returned, 1 to :data:`MAX_OCCURRENCES`.

    Returns:
        The instants, in the start's time zone; empty when the rule never matches.

    Raises:
        NaiveDatetimeError: ``now`` or the schedule's start has no UTC offset.
        InputError: ``schedule`` is not a :class:`~omnimsg.broadcasts.model.Schedule`,
            ``limit`` is out of range, or the recurrence is not a rule
            :func:`check_recurrence` accepts.
    """
    require_aware(now, "now")
    if not isinstance(schedule, Schedule):
        raise InputError(f"schedule: expected a Schedule, got {type(schedule).__name__}")
    count = _count(limit, "limit")
    start = now if schedule.start is None else require_aware(schedule.start, "schedule.start")
    if schedule.recurrence is None:
        return (start,)
    rule = _read_rule(schedule.recurrence)
    _build(rule.body, start.replace(tzinfo=None), schedule.recurrence)
    return tuple(_instants(rule, start, count, schedule.recurrence))
