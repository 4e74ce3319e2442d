"""Reading a plan back from its JSON Lines, one send at a time.

:func:`read_plan` turns the file :func:`~omnimsg.broadcasts.write_plan` wrote into a
:class:`PlanHeader` and the :class:`~omnimsg.broadcasts.PlannedSend` values of its
outcome lines, in file order, without holding the file in memory. A line that is
not what the writer writes raises :class:`PlanFileError` naming the line; a file
cut short (no summary line) is refused at its end, after the sends read before it,
so that a dispatcher never takes a partial plan for a whole one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import IO, Any

import attrs

from omnimsg.broadcasts.model import FrequencyCap, Rate
from omnimsg.broadcasts.outcomes import PlannedSend, SendKind
from omnimsg.channels.kinds import ChannelKind, Mode
from omnimsg.errors import InputError

__all__ = [
    "PlanFileError",
    "PlanHeader",
    "header_from_dict",
    "header_record",
    "read_plan",
    "send_from_dict",
    "sends_of",
]

MAX_LINE = 1_000_000
"""The longest line read, in characters (a send's text is far shorter)."""


class PlanFileError(InputError):
    """A plan file is not the JSON Lines a plan writes; ``line`` is its 1-based number."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.problem = message
        self._set(f"plan line {line}: {message}", line, message)


def _classes(value: object) -> Mapping[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InputError("sender_classes: expected a mapping of account id to sender class")
    return MappingProxyType(dict(value))


@attrs.frozen
class PlanHeader:
    """The first line of a plan: what it sends and the limits a dispatcher keeps (B10, X4).

    ``sender_classes`` names the class of each sender that has one, whose rate the
    dispatcher paces it at (P14).
    """

    broadcast_id: str
    name: str
    start: datetime
    ends_by: datetime
    profile: str | None = None
    rate: Rate | None = None
    frequency_cap: FrequencyCap | None = None
    sender_classes: Mapping[str, str] = attrs.field(
        factory=lambda: MappingProxyType({}), converter=_classes, hash=False
    )


def _instant(value: object, line: int, name: str) -> datetime:
    if not isinstance(value, str):
        raise PlanFileError(line, f"{name}: expected an ISO 8601 instant")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise PlanFileError(line, f"{name}: not an ISO 8601 instant") from None
    if when.tzinfo is None:
        raise PlanFileError(line, f"{name}: the instant has no UTC offset")
    try:
        return when.astimezone(UTC)
    except OverflowError:
        raise PlanFileError(line, f"{name}: outside the supported date range") from None


def _text(data: dict[str, Any], name: str, line: int) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise PlanFileError(line, f"{name}: expected text")
    return value


def _optional(data: dict[str, Any], name: str, line: int) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise PlanFileError(line, f"{name}: expected text or null")
    return value


def _seconds(value: object, line: int, name: str) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e9:
        raise PlanFileError(line, f"{name}: expected a positive number of seconds")
    return timedelta(seconds=value)


def _count(value: object, line: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PlanFileError(line, f"{name}: expected a positive whole number")
    return value


def _header(data: dict[str, Any], line: int) -> PlanHeader:
    rate = data.get("rate")
    cap = data.get("frequency_cap")
    if rate is not None and not isinstance(rate, dict):
        raise PlanFileError(line, "rate: expected an object or null")
    if cap is not None and not isinstance(cap, dict):
        raise PlanFileError(line, "frequency_cap: expected an object or null")
    classes = data.get("sender_classes", {})
    if not isinstance(classes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in classes.items()
    ):
        raise PlanFileError(line, "sender_classes: expected an object of text values")
    return PlanHeader(
        broadcast_id=_text(data, "broadcast_id", line),
        name=_optional(data, "name", line) or "",
        start=_instant(data.get("start"), line, "start"),
        ends_by=_instant(data.get("ends_by"), line, "ends_by"),
        profile=_optional(data, "profile", line),
        rate=None
        if rate is None
        else Rate(
            messages=_count(rate.get("messages"), line, "rate.messages"),
            per=_seconds(rate.get("per_seconds"), line, "rate.per_seconds"),
        ),
        frequency_cap=None
        if cap is None
        else FrequencyCap(
            messages=_count(cap.get("messages"), line, "frequency_cap.messages"),
            period=_seconds(cap.get("period_seconds"), line, "frequency_cap.period_seconds"),
        ),
        sender_classes=classes,
    )


def _enum(cls: Any, value: object, line: int, name: str) -> Any:
    try:
        return cls(value)
    except (ValueError, TypeError):
        raise PlanFileError(line, f"{name}: not a known value") from None


def _hours(value: object, line: int) -> tuple[datetime, datetime] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise PlanFileError(line, "hours: expected [start, end] instants or null")
    start = _instant(value[0], line, "hours")
    end = _instant(value[1], line, "hours")
    if end <= start:
        raise PlanFileError(line, "hours: the end must be after the start")
    return (start, end)


def _send(data: object, line: int) -> PlannedSend:
    if not isinstance(data, dict):
        raise PlanFileError(line, "a send must be an object")
    params = data.get("params", {})
    if not isinstance(params, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in params.items()
    ):
        raise PlanFileError(line, "params: expected an object of text values")
    number = data.get("number")
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise PlanFileError(line, "number: expected a positive whole number")
    paid = data.get("paid")
    if not isinstance(paid, bool):
        raise PlanFileError(line, "paid: expected true or false")
    text = data.get("text")
    if not isinstance(text, str):
        raise PlanFileError(line, "text: expected text")
    return PlannedSend(
        key=_text(data, "key", line),
        contact_id=_text(data, "contact_id", line),
        account_id=_text(data, "account_id", line),
        channel=_enum(ChannelKind, data.get("channel"), line, "channel"),
        address=_text(data, "address", line),
        kind=_enum(SendKind, data.get("kind"), line, "kind"),
        number=number,
        not_before=_instant(data.get("not_before"), line, "not_before"),
        batch=_text(data, "batch", line),
        mode=_enum(Mode, data.get("mode"), line, "mode"),
        paid=paid,
        text=text,
        params=tuple(params.items()),
        template=_optional(data, "template", line),
        tag=_optional(data, "tag", line),
        hours=_hours(data.get("hours"), line),
    )


def header_from_dict(data: object) -> PlanHeader:
    """A plan header from the JSON object of a plan's first line (a task's argument).

    Raises :class:`~omnimsg.errors.InputError` naming the field at fault.
    """
    if not isinstance(data, dict):
        raise InputError(
            f"header: expected the plan's first line as an object, got {type(data).__name__}"
        )
    try:
        return _header(data, 1)
    except PlanFileError as exc:
        raise InputError(f"header: {exc.problem}") from None


def send_from_dict(data: object) -> PlannedSend:
    """A planned send from its JSON object (``omnimsg.broadcasts.jsonl.send_record``).

    Raises :class:`~omnimsg.errors.InputError` naming the field at fault.
    """
    try:
        return _send(data, 1)
    except PlanFileError as exc:
        raise InputError(f"send: {exc.problem}") from None


def header_record(header: PlanHeader) -> dict[str, Any]:
    """``header`` as the JSON object of a plan's first line (what :func:`read_plan` reads)."""
    rate, cap = header.rate, header.frequency_cap
    record: dict[str, Any] = {
        "type": "plan",
        "broadcast_id": header.broadcast_id,
        "name": header.name,
        "start": header.start.isoformat(),
        "ends_by": header.ends_by.isoformat(),
        "profile": header.profile,
        "rate": None
        if rate is None
        else {"messages": rate.messages, "per_seconds": rate.per.total_seconds()},
        "frequency_cap": None
        if cap is None
        else {"messages": cap.messages, "period_seconds": cap.period.total_seconds()},
    }
    if header.sender_classes:
        record["sender_classes"] = dict(header.sender_classes)
    return record


def _lines(stream: IO[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    number = 0
    while True:
        raw = stream.readline(MAX_LINE + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE:
            raise PlanFileError(number, f"longer than {MAX_LINE:,} characters")
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise PlanFileError(number, "not a JSON object") from None
        if not isinstance(data, dict):
            raise PlanFileError(number, "not a JSON object")
        yield number, data


def read_plan(stream: IO[str]) -> tuple[PlanHeader, Iterator[PlannedSend]]:
    """The header of a plan file and an iterator over its sends, in file order.

    The header is read at once; sends are read as the iterator is consumed. Raises
    :class:`PlanFileError` for a first line that is not a plan header, and (from the
    iterator) for a bad line or a file without its summary line.
    """
    if not callable(getattr(stream, "readline", None)):
        raise InputError(f"stream: expected a text stream, got {type(stream).__name__}")
    lines = _lines(stream)
    try:
        first = next(lines, None)
    except UnicodeDecodeError:
        raise PlanFileError(1, "not UTF-8 text") from None
    if first is None:
        raise PlanFileError(1, "the file is empty")
    number, data = first
    if data.get("type") != "plan":
        raise PlanFileError(number, 'the first line is not a plan header ("type": "plan")')
    header = _header(data, number)
    return header, _sends(lines)


def _sends(lines: Iterator[tuple[int, dict[str, Any]]]) -> Iterator[PlannedSend]:
    last = 1
    try:
        for number, data in lines:
            last = number
            kind = data.get("type")
            if kind == "summary":
                return
            if kind != "outcome":
                raise PlanFileError(number, "expected an outcome or the summary line")
            sends = data.get("sends", [])
            if not isinstance(sends, list):
                raise PlanFileError(number, "sends: expected a list")
            for item in sends:
                yield _send(item, number)
    except UnicodeDecodeError:
        raise PlanFileError(last + 1, "not UTF-8 text") from None
    raise PlanFileError(last, "the plan ends without its summary line (cut short?)")


def sends_of(outcomes: Any) -> Iterator[PlannedSend]:
    """The sends of :class:`~omnimsg.broadcasts.ContactOutcome` values, in order."""
    for outcome in outcomes:
        yield from outcome.sends
