"""A broadcast draft as the planner reads it: frozen values, validated when loaded.

:mod:`omnimsg.broadcasts.draft` reads a draft from TOML, JSON or a dict (pydantic at
the boundary) and checks it against a profile; what it returns is a :class:`Draft`
built from the values here. Building them directly is for code that already holds
checked values; the constructors check types only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import attrs

from omnimsg._convert import shown, to_enum
from omnimsg.channels.capabilities import ChannelCapabilities, QuietHours
from omnimsg.channels.kinds import ChannelKind
from omnimsg.errors import ConfigurationError, InputError
from omnimsg.policy.content import Media
from omnimsg.policy.decision import Message
from omnimsg.policy.snippets import Snippet, parse_snippet
from omnimsg.segments.model import Segment

__all__ = [
    "Audience",
    "BroadcastMessage",
    "Draft",
    "FrequencyCap",
    "Rate",
    "Schedule",
    "Sender",
    "Targeting",
]

_MICROSECOND = timedelta(microseconds=1)
_Check = Callable[[Any, "attrs.Attribute[Any]", Any], None]


class Targeting(StrEnum):
    """Which channel each recipient is reached on."""

    ACCOUNT = "account"
    """One specific channel account; contacts without it are excluded (B2)."""
    LAST_INTERACTED = "last_interacted"
    """Each contact's last interacted channel among the selected ones (B3)."""


def _positive_count(name: str) -> _Check:
    def check(instance: object, attribute: object, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name}: expected a whole number of at least 1, got {shown(value)}")

    return check


def _positive_period(name: str) -> _Check:
    def check(instance: object, attribute: object, value: object) -> None:
        if not isinstance(value, timedelta) or value < _MICROSECOND:
            raise InputError(f"{name}: expected a positive timedelta, got {shown(value)}")

    return check


@attrs.frozen
class Rate:
    """At most ``messages`` per ``per`` (B10), for each sending account.

    Sends of one account are spaced :attr:`spacing` apart, so no window of length
    ``per`` ever holds more than ``messages`` of them.
    """

    messages: int = attrs.field(validator=_positive_count("rate.messages"))
    per: timedelta = attrs.field(validator=_positive_period("rate.per"))

    @property
    def spacing(self) -> timedelta:
        """The least time between two sends, rounded up to the microsecond."""
        total = self.per // _MICROSECOND
        return timedelta(microseconds=-(-total // self.messages))


@attrs.frozen
class FrequencyCap:
    """No more than ``messages`` marketing messages per contact per ``period`` (X4)."""

    messages: int = attrs.field(validator=_positive_count("frequency_cap.messages"))
    period: timedelta = attrs.field(validator=_positive_period("frequency_cap.period"))


def _text(name: str) -> _Check:
    def check(instance: object, attribute: object, value: object) -> None:
        if not isinstance(value, str) or not value:
            raise InputError(f"{name}: expected non-empty text, got {shown(value)}")

    return check


def _optional_text(name: str) -> _Check:
    def check(instance: object, attribute: object, value: object) -> None:
        if value is not None and not isinstance(value, str):
            raise InputError(f"{name}: expected text, got {type(value).__name__}")

    return check


def _sender_channel(value: object) -> ChannelKind:
    return to_enum(ChannelKind, value, "sender.channel")


def _targeting(value: object) -> Targeting:
    return to_enum(Targeting, value, "targeting")


@attrs.frozen
class Sender:
    """A channel account that sends the broadcast (B11: a team's numbers share the load).

    ``sender_class`` names the kind of number it is (``"toll_free"``, ``"short_code"``,
    ``"10dlc_class_a"``: P14) when its channel's send rate depends on it; the profile's
    ``account_rates`` give each class's rate (:meth:`send_rate`).
    """

    account_id: str = attrs.field(validator=_text("sender.account_id"))
    channel: ChannelKind = attrs.field(converter=_sender_channel)
    team: str | None = attrs.field(default=None, validator=_optional_text("sender.team"))
    sender_class: str | None = attrs.field(
        default=None, validator=_optional_text("sender.sender_class")
    )

    def send_rate(self, caps: ChannelCapabilities) -> float | None:
        """Messages per second this account may send on ``caps``' channel (B10, P14).

        The rate of its ``sender_class`` in ``caps.account_rates``; without a class,
        the channel's ``rate_per_second`` (``None``: no rate). Raises
        :class:`~omnimsg.errors.ConfigurationError` for a class the capabilities do
        not know, naming it and the classes they know.
        """
        if not isinstance(caps, ChannelCapabilities):
            raise InputError(f"caps: expected ChannelCapabilities, got {type(caps).__name__}")
        problem = class_problem(self, caps)
        if problem:
            raise ConfigurationError(problem)
        if self.sender_class is None:
            return caps.rate_per_second
        return caps.account_rates[self.sender_class]


def class_problem(sender: Sender, caps: ChannelCapabilities) -> str:
    """Why ``caps`` has no rate for ``sender``'s class, naming the classes it knows
    (P14); empty when it has one or the sender names no class."""
    name = sender.sender_class
    if name is None or name in caps.account_rates:
        return ""
    where = f"sender {shown(sender.account_id)} ({caps.kind.value})"
    if not caps.account_rates:
        return (
            f"{where}: unknown sender class {shown(name)}; the profile gives "
            f"{caps.kind.value} no sender classes (account_rates, P14)"
        )
    known = ", ".join(sorted(caps.account_rates))
    return (
        f"{where}: unknown sender class {shown(name)}; the profile's classes for "
        f"{caps.kind.value} are: {known} (P14)"
    )


def _params(value: Mapping[str, str]) -> Mapping[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InputError("template_params: expected a mapping of text to text")
    return MappingProxyType(dict(value))


def _media(value: object) -> tuple[Media, ...]:
    if not isinstance(value, tuple) or not all(isinstance(m, Media) for m in value):
        raise InputError("media: expected a tuple of Media")
    return value


@attrs.frozen
class BroadcastMessage:
    """One message of a broadcast on one channel.

    ``text`` may hold snippet variables (C5, ``{{ first_name }}``), filled per
    contact. ``template`` names a pre-approved template and ``template_params`` its
    parameters (snippets too); ``tag`` is a message tag (W3).
    """

    text: str = ""
    media: tuple[Media, ...] = attrs.field(default=(), converter=_media)
    template: str | None = attrs.field(default=None, validator=_optional_text("template"))
    template_params: Mapping[str, str] = attrs.field(factory=dict, converter=_params)
    tag: str | None = attrs.field(default=None, validator=_optional_text("tag"))
    snippet: Snippet = attrs.field(init=False, eq=False, repr=False)
    message: Message = attrs.field(init=False, eq=False, repr=False)
    """The message as decisions read it (a marketing broadcast), text unfilled."""

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise InputError(f"text: expected text, got {type(self.text).__name__}")
        object.__setattr__(self, "snippet", parse_snippet(self.text))
        object.__setattr__(
            self,
            "message",
            Message(
                text=self.text,
                media=self.media,
                template=self.template,
                tag=self.tag,
                marketing=True,
                broadcast=True,
            ),
        )

    @property
    def personalised(self) -> bool:
        """Whether the text or a template parameter holds a variable filled per contact."""
        return bool(self.snippet.variables) or any("{{" in v for v in self.template_params.values())


def _ids(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, tuple | list):
        raise InputError("expected a sequence of ids")
    if not all(isinstance(v, str) for v in value):
        raise InputError("every id must be text")
    return tuple(value)


@attrs.frozen
class Audience:
    """Who the broadcast is for (A2): a segment, explicit contacts, or a pasted id list.

    ``segment`` and ``contact_ids`` may be combined (a contact in both counts once).
    ``id_list`` holds external ids on ``id_list_account`` (A3, A4); an id of another
    account is reported, not sent to. With none of the three, the audience is every
    contact of the source.
    """

    segment: Segment | None = None
    contact_ids: tuple[str, ...] = attrs.field(default=(), converter=_ids)
    id_list: tuple[str, ...] = attrs.field(default=(), converter=_ids)
    id_list_account: str | None = attrs.field(
        default=None, validator=_optional_text("audience.id_list_account")
    )

    def __attrs_post_init__(self) -> None:
        if self.segment is not None and not isinstance(self.segment, Segment):
            raise InputError(f"audience.segment: expected a Segment, got {shown(self.segment)}")
        if self.id_list and self.id_list_account is None:
            raise InputError("audience.id_list_account: an id list needs its channel account (A4)")


def _start(value: object) -> datetime | None:
    if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
        raise InputError(f"schedule.start: expected an aware datetime or None, got {shown(value)}")
    return value


@attrs.frozen
class Schedule:
    """When the broadcast goes (B9): ``start`` ``None`` is now; ``recurrence`` an RRULE."""

    start: datetime | None = attrs.field(default=None, converter=_start)
    recurrence: str | None = attrs.field(
        default=None, validator=_optional_text("schedule.recurrence")
    )


def _contents(
    value: Mapping[ChannelKind, tuple[BroadcastMessage, ...]],
) -> Mapping[ChannelKind, tuple[BroadcastMessage, ...]]:
    if not isinstance(value, Mapping):
        raise InputError("content: expected a mapping of channel kind to messages")
    out: dict[ChannelKind, tuple[BroadcastMessage, ...]] = {}
    for kind, messages in value.items():
        if not isinstance(messages, tuple) or not all(
            isinstance(m, BroadcastMessage) for m in messages
        ):
            raise InputError(f"content.{kind}: expected a tuple of BroadcastMessage")
        out[to_enum(ChannelKind, kind, "content")] = messages
    return MappingProxyType(out)


def _channels(value: object) -> frozenset[ChannelKind] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, frozenset | set | tuple | list):
        raise InputError("channels: expected a set of channel kinds")
    return frozenset(to_enum(ChannelKind, v, "channels") for v in value)


def _senders(value: object) -> tuple[Sender, ...]:
    if not isinstance(value, tuple) or not all(isinstance(s, Sender) for s in value):
        raise InputError("senders: expected a tuple of Sender")
    return value


def _tags(value: object) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, frozenset | set | tuple | list):
        raise InputError("tags: expected a set of text")
    if not all(isinstance(v, str) for v in value):
        raise InputError("tags: every tag must be text")
    return frozenset(value)


@attrs.frozen
class Draft:
    """A broadcast, as the planner reads it (B1–B17, X2, X4).

    ``id`` is the broadcast's stable id: idempotency keys are made from it (X5).
    ``name`` and ``tags`` are for the business; recipients never see them (B1).
    With :attr:`Targeting.ACCOUNT`, ``account`` is the one account (B2); with
    :attr:`Targeting.LAST_INTERACTED` each contact goes on their last interacted
    channel among ``channels`` (``None``: every channel with broadcasts, B3),
    ``only_interacted`` keeping those who wrote on it (B6). ``content`` holds the
    messages per channel kind (C3; several messages to one recipient count as
    several, B7). ``senders`` are the accounts that send; with ``team`` set only
    that team's senders are used (B11). ``rate`` caps each sending account (B10);
    ``quiet_hours`` apply in the recipient's local time on top of the profile's
    (X2); ``frequency_cap`` counts marketing messages per contact across broadcasts
    (X4).
    """

    id: str = attrs.field(validator=_text("id"))
    name: str = attrs.field(validator=_text("name"))
    audience: Audience
    content: Mapping[ChannelKind, tuple[BroadcastMessage, ...]] = attrs.field(converter=_contents)
    senders: tuple[Sender, ...] = attrs.field(converter=_senders)
    tags: frozenset[str] = attrs.field(default=frozenset(), converter=_tags)
    targeting: Targeting = attrs.field(default=Targeting.LAST_INTERACTED, converter=_targeting)
    account: str | None = attrs.field(default=None, validator=_optional_text("account"))
    channels: frozenset[ChannelKind] | None = attrs.field(default=None, converter=_channels)
    only_interacted: bool = False
    team: str | None = attrs.field(default=None, validator=_optional_text("team"))
    schedule: Schedule = Schedule()
    rate: Rate | None = None
    quiet_hours: QuietHours | None = None
    frequency_cap: FrequencyCap | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.audience, Audience):
            raise InputError(f"audience: expected an Audience, got {type(self.audience).__name__}")
        if self.targeting is Targeting.ACCOUNT and self.account is None:
            raise InputError("account: specific-account targeting needs the account (B2)")
        if not isinstance(self.schedule, Schedule):
            raise InputError(f"schedule: expected a Schedule, got {type(self.schedule).__name__}")
        for name, value, cls in (
            ("rate", self.rate, Rate),
            ("quiet_hours", self.quiet_hours, QuietHours),
            ("frequency_cap", self.frequency_cap, FrequencyCap),
        ):
            if value is not None and not isinstance(value, cls):
                raise InputError(f"{name}: expected {cls.__name__}, got {type(value).__name__}")
        if not isinstance(self.only_interacted, bool):
            raise InputError("only_interacted: expected true or false")

    def active_senders(self) -> tuple[Sender, ...]:
        """The senders that send: the draft's team's, or all of them (B11)."""
        if self.team is None:
            return self.senders
        return tuple(s for s in self.senders if s.team == self.team)


def sender_classes(draft: Draft) -> dict[str, str]:
    """The class of each of ``draft``'s sending accounts that has one (P14), as a plan's
    header carries it for the dispatcher's pacing."""
    return {s.account_id: s.sender_class for s in draft.active_senders() if s.sender_class}
