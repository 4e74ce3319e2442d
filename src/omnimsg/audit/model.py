"""The values of an audit: a logged message, its direction, a violation and a bad row.

This module owns what the auditor reads and what it reports, as frozen values, and
the one conversion a user needs to log what omnimsg itself sent
(:func:`entry_from_request`). It reads no file and decides nothing: the log is read
in :mod:`omnimsg.audit.reader`, replayed in :mod:`omnimsg.audit.replay`, summed up in
:mod:`omnimsg.audit.report`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import attrs

from omnimsg._convert import to_enum, to_flag, to_instant, to_optional_text, to_text
from omnimsg.channels.kinds import ChannelKind
from omnimsg.errors import InputError
from omnimsg.policy.reasons import Reason
from omnimsg.transports import SendRequest

__all__ = ["BadRow", "Direction", "LogEntry", "Violation", "entry_from_request"]

MAX_FIELD = 100_000
"""The longest text a log field may hold, in characters (a WhatsApp text is 4,096)."""


class Direction(StrEnum):
    """Who wrote a logged message: the contact (inbound) or the business (outbound)."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


def _at(value: object) -> datetime:
    return to_instant(value, "at")


def _direction(value: object) -> Direction:
    return to_enum(Direction, value, "direction")


def _channel(value: object) -> ChannelKind:
    return to_enum(ChannelKind, value, "channel")


def _bounded(value: str, name: str) -> str:
    if len(value) > MAX_FIELD:
        raise InputError(f"{name}: longer than {MAX_FIELD:,} characters ({len(value):,})")
    return value


def _id(value: object, name: str) -> str:
    text = _bounded(to_text(value, name), name)
    if not text.strip():
        raise InputError(f"{name}: expected non-empty text")
    return text


def _optional(value: object, name: str) -> str | None:
    text = to_optional_text(value, name)
    return None if text is None else _bounded(text, name)


def _account(value: object) -> str:
    return _id(value, "account")


def _contact(value: object) -> str:
    return _id(value, "contact")


def _text(value: object) -> str | None:
    return _optional(value, "text")


def _template(value: object) -> str | None:
    return _optional(value, "template")


def _tag(value: object) -> str | None:
    return _optional(value, "tag")


def _marketing(value: object) -> bool:
    return to_flag(value, "marketing")


def _line(value: object) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise InputError(f"line: expected a line number >= 1 or None, got {type(value).__name__}")


@attrs.frozen
class LogEntry:
    """One message of a log: sent by the business or received from a contact.

    ``at`` is the instant in UTC (an aware datetime; a naive one is refused);
    ``account`` the channel account that sent or received it; ``contact`` the
    contact's id in the contact data, or their id on the account (a phone number on
    SMS and WhatsApp). ``text``, ``template`` and ``tag`` are what went; ``marketing``
    marks a promotional message (X1, X2, X4). ``line`` is where the entry came from in
    its file (``None`` for an entry built in code).

    Raises :class:`~omnimsg.errors.InputError` naming the field that is wrong.
    """

    at: datetime = attrs.field(converter=_at)
    direction: Direction = attrs.field(converter=_direction)
    channel: ChannelKind = attrs.field(converter=_channel)
    account: str = attrs.field(converter=_account)
    contact: str = attrs.field(converter=_contact)
    text: str | None = attrs.field(default=None, converter=_text)
    template: str | None = attrs.field(default=None, converter=_template)
    tag: str | None = attrs.field(default=None, converter=_tag)
    marketing: bool = attrs.field(default=False, converter=_marketing)
    line: int | None = attrs.field(default=None, converter=_line)

    @property
    def outbound(self) -> bool:
        """Whether the business sent it."""
        return self.direction is Direction.OUTBOUND


@attrs.frozen
class Violation:
    """One rule a logged outbound message broke.

    ``rule`` is the SPEC id (``"W2"``, ``"B13"``, ``"P12"``...); ``reason`` the
    omnimsg :class:`~omnimsg.policy.reasons.Reason` where a decision gave one
    (``None`` for the caps that only the planner places: B11, B13, X2, X4, P12);
    ``entry`` the message; ``detail`` why, in words with the numbers.
    """

    rule: str
    reason: Reason | None
    entry: LogEntry
    detail: str


@attrs.frozen
class BadRow:
    """A row of a log that could not be read: its ``line``, the ``field`` at fault
    (``None`` when the row as a whole is unreadable) and why (``message``)."""

    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + ("" if self.field is None else f", field {self.field!r}")
        return f"{where}: {self.message}"


def entry_from_request(
    request: SendRequest, at: datetime, *, marketing: bool = False, line: int | None = None
) -> LogEntry:
    """The log entry of a message omnimsg handed to a transport at ``at``.

    ``contact`` is the request's contact id when it has one, else its recipient; the
    text is the content as it went (media links included). A broadcast's requests are
    marketing: pass ``marketing=True`` for them.

    Raises:
        InputError: ``request`` is not a SendRequest, ``at`` not an aware datetime.
    """
    if not isinstance(request, SendRequest):
        raise InputError(f"request: expected a SendRequest, got {type(request).__name__}")
    return LogEntry(
        at=at,
        direction=Direction.OUTBOUND,
        channel=request.channel,
        account=request.account_id,
        contact=request.contact_id or request.recipient,
        text=request.content.text,
        template=request.template,
        tag=request.tag,
        marketing=marketing,
        line=line,
    )
