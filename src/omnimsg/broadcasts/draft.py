"""Reading and writing a broadcast draft, before any planning.

This module is the boundary of the broadcast planner: a draft arrives as TOML, JSON
or a mapping (:func:`load_draft`, :func:`draft_from_dict`), is read by pydantic
models that forbid unknown keys and coerce nothing, and leaves as a frozen
:class:`~omnimsg.broadcasts.model.Draft`, or is refused with one
:class:`~omnimsg.errors.DraftError` listing every problem as ``(path, rule,
message)``. :func:`~omnimsg.broadcasts.checks.validate_draft` then checks it against a
profile. :func:`draft_json_schema` describes the format for editors;
:func:`draft_to_dict` writes a draft back in it. The format is in docs/planner.md.

Nothing here plans or sends; only :func:`load_draft` reads a file, and nothing reads
the clock. Whatever the input, only omnimsg errors escape, in time linear in its size.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, time, timedelta
from itertools import islice
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import PydanticCustomError, from_json

from omnimsg._files import read_regular, shown_path
from omnimsg._time import MAX_DURATION, parse_duration, require_aware, require_instant
from omnimsg.audiences.ids import parse_id_list
from omnimsg.broadcasts.lifecycle import check_recurrence
from omnimsg.broadcasts.model import (
    Audience,
    BroadcastMessage,
    Draft,
    FrequencyCap,
    Rate,
    Schedule,
    Sender,
    Targeting,
)
from omnimsg.channels.capabilities import QuietHours
from omnimsg.channels.kinds import ChannelKind
from omnimsg.errors import (
    DraftError,
    InputError,
    SegmentValidationError,
    SnippetError,
)
from omnimsg.policy.content import Media, MediaKind
from omnimsg.policy.snippets import parse_snippet
from omnimsg.segments import Segment, parse_segment, segment_json_schema
from omnimsg.segments.parse import parse_custom_fields
from omnimsg.segments.values import json_type, path_step

__all__ = [
    "MAX_DRAFT_BYTES",
    "MAX_DRAFT_DEPTH",
    "MAX_SEND_DURATION",
    "MAX_TEXT_LENGTH",
    "draft_from_dict",
    "draft_json_schema",
    "draft_to_dict",
    "load_draft",
]

MAX_DRAFT_BYTES = 16 * 1024 * 1024
"""The largest draft file read (16 MiB): room for a pasted list of a million ids."""
MAX_DRAFT_DEPTH = 100
"""How deeply tables and arrays may nest; a segment at its own limit needs about 70."""
MAX_TEXT_LENGTH = 65_536
"""The longest message text read, in characters; every channel's limit is far below."""
MAX_SEND_DURATION = timedelta(days=7)
"""The longest a whole send may take (B10)."""

_MAX_CONTAINERS = 100_000
_MAX_KEYS = 10_000
_MAX_NAME = 200
_MAX_IDENT = 256
_MAX_URL = 2048
_MAX_MESSAGES = 100
_MAX_MEDIA = 20
_MAX_RATE = 1_000_000
_MAX_CAP = 10_000
_SPAN_MARGIN = timedelta(days=8)
"""A start must leave room for the 7 days of a send (B10) before the year 9999 ends."""
_REFERENCE_START = datetime(2000, 1, 3, tzinfo=UTC)
_PER = {"second": timedelta(seconds=1), "minute": timedelta(minutes=1), "hour": timedelta(hours=1)}
_KINDS = tuple(kind.value for kind in ChannelKind)
_BAD_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_CLOCK = re.compile(r"[0-9]{2}:[0-9]{2}(?::[0-9]{2})?")


# --- the boundary: plain data, bounded -------------------------------------------


def _plain(data: object) -> object:
    """A copy of ``data`` as dicts, lists and plain scalars, without recursion.

    Refuses nesting deeper than :data:`MAX_DRAFT_DEPTH`, more than
    ``_MAX_CONTAINERS`` tables and arrays (a structure that contains itself ends on
    one of the two), tables of more than ``_MAX_KEYS`` keys, keys that are not text,
    and a caller's mapping that fails when read. The copy means pydantic and the
    segment parser see only built-in types.
    """
    holder: list[object] = [None]
    pending: list[tuple[object, Any, Any, str, int]] = [(data, holder, 0, "", 0)]
    containers = 0
    while pending:
        value, parent, key, path, depth = pending.pop()
        if not isinstance(value, Mapping | list | tuple):
            parent[key] = _scalar(value)
            continue
        containers += 1
        if depth >= MAX_DRAFT_DEPTH:
            raise DraftError([(path, "", f"tables and arrays nest deeper than {MAX_DRAFT_DEPTH}")])
        if containers > _MAX_CONTAINERS:
            raise DraftError([(path, "", f"more than {_MAX_CONTAINERS:,} tables and arrays")])
        if isinstance(value, Mapping):
            table: dict[str, object] = {}
            for name, item in _items(value, path):
                table[name] = None
                pending.append((item, table, name, _step(path, name), depth + 1))
            parent[key] = table
        else:
            # The built-in iterator: a subclass's own __iter__ or __len__ may lie.
            items = list(list.__iter__(value) if isinstance(value, list) else tuple.__iter__(value))
            for index, item in enumerate(items):
                if isinstance(item, Mapping | list | tuple):
                    pending.append((item, items, index, f"{path}[{index}]", depth + 1))
                else:
                    items[index] = _scalar(item)
            parent[key] = items
    return holder[0]


def _items(table: Mapping[Any, Any], path: str) -> list[tuple[str, object]]:
    """The entries of a caller's mapping, keys as plain text; a failing mapping refused."""
    try:
        source = dict.items(table) if isinstance(table, dict) else table.items()
        entries = [(name, item) for name, item in islice(source, _MAX_KEYS + 1)]
    except Exception as exc:  # a caller's Mapping may fail in any way
        raise DraftError([(path, "", f"the table cannot be read ({type(exc).__name__})")]) from None
    if len(entries) > _MAX_KEYS:
        raise DraftError([(path, "", f"a table has at most {_MAX_KEYS:,} keys")])
    out: list[tuple[str, object]] = []
    for name, item in entries:
        if not isinstance(name, str):
            raise DraftError([(path, "", f"keys must be text, got {json_type(name)}")])
        out.append((str.__str__(name), item))
    return out


def _scalar(value: object) -> object:
    # Subclasses of the built-in types may override anything; keep only their value.
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        return float(value)
    return value


def _step(path: str, item: object) -> str:
    step = path_step(item)
    return step[1:] if not path and step.startswith(".") else path + step


# --- field checks ----------------------------------------------------------------


def _fail(message: str, rule: str = "", key: str = "") -> PydanticCustomError:
    """A problem for pydantic to place; ``key`` names the field of a table-wide check."""
    context = {"message": message, "rule": rule, "key": key}
    return PydanticCustomError("draft", "{message}", context)


def _printable(value: str, what: str, limit: int) -> str:
    if not value.strip():
        raise _fail(f"{what} must not be empty")
    if len(value) > limit:
        raise _fail(f"{what} is {len(value):,} characters long; at most {limit:,}")
    if not value.isprintable():
        position = next(p for p, c in enumerate(value, start=1) if not c.isprintable())
        raise _fail(f"{what} holds a control or invisible character at position {position}")
    return value


def _ident(value: str) -> str:
    _printable(value, "an id", _MAX_IDENT)
    if any(c.isspace() for c in value):
        raise _fail("an id holds no spaces")
    return value


def _name(value: str) -> str:
    return _printable(value, "the text", _MAX_NAME)


def _url(value: str) -> str:
    _printable(value, "a media URL", _MAX_URL)
    if not value.lower().startswith(("https://", "http://")) or any(c.isspace() for c in value):
        raise _fail("a media URL starts with https:// or http:// and holds no spaces", "C2")
    return value


def _text(value: str) -> str:
    if len(value) > MAX_TEXT_LENGTH:
        raise _fail(f"the text is {len(value):,} characters long; at most {MAX_TEXT_LENGTH:,}")
    bad = _BAD_TEXT.search(value)
    if bad is not None:
        raise _fail(
            f"the text holds U+{ord(bad.group()):04X} at position {bad.start() + 1}, a control "
            "character or lone surrogate that no channel can send"
        )
    try:
        parse_snippet(value)
    except SnippetError as exc:
        raise _fail(str(exc), "C5") from None
    return value


def _channel(value: str) -> str:
    if value not in _KINDS:
        raise _fail(f"unknown channel kind; expected one of {', '.join(_KINDS)}")
    return value


def _string_schema(description: str, **extra: Any) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "description": description, **extra})


_Ident = Annotated[
    str, AfterValidator(_ident), _string_schema("An id: printable, no spaces.", minLength=1)
]
_Name = Annotated[str, AfterValidator(_name), _string_schema("Printable text.", minLength=1)]
_Url = Annotated[str, AfterValidator(_url), _string_schema("An http(s) URL.", minLength=1)]
_Text = Annotated[
    str, AfterValidator(_text), _string_schema("Text; may hold snippets such as {{ first_name }}.")
]
_ChannelName = Annotated[str, AfterValidator(_channel), WithJsonSchema({"enum": list(_KINDS)})]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _duration(value: object) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _fail(f"expected a duration such as '2m30s' or seconds, got {json_type(value)}")
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except InputError as exc:
            raise _fail(str(exc)) from None
    if not math.isfinite(value) or not 0 <= value <= MAX_DURATION.total_seconds():
        raise _fail("expected a number of seconds from 0 to about ten years")
    return timedelta(seconds=value)


class _MediaIn(_Model):
    """A piece of media by URL (C2: sent as a link where the channel asks for it)."""

    url: _Url
    kind: Literal["image", "video", "document", "audio", "voice"] = "document"
    duration: Annotated[
        timedelta | None,
        BeforeValidator(lambda v: None if v is None else _duration(v)),
        WithJsonSchema({"type": ["string", "number"], "description": "'2m30s' or seconds (C4)."}),
    ] = None
    filename: _Name | None = None

    @model_validator(mode="after")
    def _voice(self) -> _MediaIn:
        if self.kind == "voice" and self.duration is None:
            raise _fail(
                "a voice note needs its duration, to check it against the channel's limit",
                "C4",
                "duration",
            )
        return self

    def value(self) -> Media:
        return Media(
            url=self.url,
            kind=MediaKind(self.kind),
            duration=self.duration,
            filename=self.filename,
        )


class _MessageIn(_Model):
    """One message on one channel (C3, C5; each counts as a message, B7)."""

    text: _Text = ""
    media: list[_MediaIn] = Field(default_factory=list, max_length=_MAX_MEDIA)
    template: _Name | None = None
    template_params: dict[_Ident, _Text] = Field(default_factory=dict)
    tag: _Name | None = None

    @model_validator(mode="after")
    def _content(self) -> _MessageIn:
        if not self.text and not self.media and self.template is None:
            raise _fail("a message needs text, media or a template", "C3")
        if self.template_params and self.template is None:
            raise _fail("template_params need a template", "C3", "template_params")
        return self

    def value(self) -> BroadcastMessage:
        return BroadcastMessage(
            text=self.text,
            media=tuple(m.value() for m in self.media),
            template=self.template,
            template_params=dict(self.template_params),
            tag=self.tag,
        )


class _SenderIn(_Model):
    """A channel account that sends (B11), of a sender class when its rate depends on it (P14)."""

    account: _Ident
    channel: _ChannelName
    team: _Ident | None = None
    sender_class: _Ident | None = None


def _segment(value: object, info: ValidationInfo) -> Segment | None:
    if value is None:
        return None
    if not isinstance(value, str | dict):
        raise _fail(f"expected segment JSON (an object or its text), got {json_type(value)}")
    declared = info.data.get("custom_fields")
    try:
        return parse_segment(value, custom_fields=declared or {})
    except SegmentValidationError as exc:
        raise PydanticCustomError(
            "draft",
            "{message}",
            {"message": str(exc), "rule": "A1", "problems": exc.problems},
        ) from None


_SEGMENT: dict[str, Any] = {
    "oneOf": [
        {"type": "object", "description": "Segment JSON (see docs/segments.md)."},
        {"type": "string", "description": "Segment JSON as text."},
    ]
}
"""The segment's place in the schema; :func:`draft_json_schema` puts the segment's
own schema in the object branch (pydantic cannot reference a definition it did not
make)."""


def _id_list(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(v, str) for v in value)
    ):
        ids = parse_id_list(value).ids
        if not ids:
            raise _fail("the id list names no id", "A3")
        return ids
    raise _fail(f"expected the ids as text or an array of text, got {json_type(value)}", "A3")


class _AudienceIn(_Model):
    """Who the broadcast is for (A2); none of the parts: every contact of the source."""

    custom_fields: dict[str, str] | None = Field(
        default=None,
        description="The type of each custom field the segment names (string, number, ...).",
    )
    segment: Annotated[Segment | None, WithJsonSchema(_SEGMENT)] = None
    contact_ids: list[_Ident] = Field(default_factory=list)
    id_list: Annotated[
        tuple[str, ...],
        WithJsonSchema(
            {
                "description": "Ids separated by newlines, spaces, commas or semicolons (A3).",
                "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
            }
        ),
    ] = ()
    id_list_account: _Ident | None = None

    model_config = ConfigDict(arbitrary_types_allowed=True)

    @field_validator("custom_fields", mode="after")
    @classmethod
    def _custom(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        try:
            parse_custom_fields(value)
        except SegmentValidationError as exc:
            raise _fail(str(exc), "A1") from None
        return value

    @field_validator("segment", mode="before")
    @classmethod
    def _segment(cls, value: object, info: ValidationInfo) -> Segment | None:
        return _segment(value, info)

    @field_validator("id_list", mode="before")
    @classmethod
    def _ids(cls, value: object) -> tuple[str, ...]:
        return _id_list(value)

    @model_validator(mode="after")
    def _account(self) -> _AudienceIn:
        if self.id_list and self.id_list_account is None:
            raise _fail(
                "id_list_account is required with an id list: the ids' account",
                "A4",
                "id_list_account",
            )
        if self.id_list_account is not None and not self.id_list:
            raise _fail("id_list_account is only read with an id_list", "A4", "id_list_account")
        return self

    def value(self) -> Audience:
        return Audience(
            segment=self.segment,
            contact_ids=tuple(dict.fromkeys(self.contact_ids)),
            id_list=self.id_list,
            id_list_account=self.id_list_account,
        )


def _start(value: object) -> datetime | None:
    if isinstance(value, str) and value.strip().lower() == "now":
        return None
    if isinstance(value, str):
        if len(value) > 64:
            raise _fail("expected 'now' or an ISO 8601 instant", "B9")
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _fail(
                "expected 'now' or an ISO 8601 instant such as 2026-12-01T09:00:00+01:00", "B9"
            ) from None
    if not isinstance(value, datetime):
        raise _fail(f"expected 'now' or an ISO 8601 instant, got {json_type(value)}", "B9")
    problem = _start_problem(value)
    if problem:
        raise _fail(problem, "B9")
    return value


def _start_problem(value: datetime) -> str:
    """Why ``value`` cannot start a send, or ``""``."""
    try:
        instant = require_instant(value, "start")
    except InputError as exc:
        if value.tzinfo is None:
            return (
                f"{value.isoformat()} has no UTC offset; write one, such as "
                f"{value.isoformat()}+01:00 or {value.isoformat()}Z"
            )
        return str(exc)
    if instant > datetime.max.replace(tzinfo=UTC) - _SPAN_MARGIN:
        return "the start leaves no room for the 7 days a send may take before the year 9999 ends"
    return ""


class _ScheduleIn(_Model):
    """When the broadcast goes (B9)."""

    start: Annotated[
        datetime | None,
        BeforeValidator(_start),
        WithJsonSchema(
            {
                "type": "string",
                "description": "'now' or an ISO 8601 instant with a UTC offset.",
            }
        ),
        Field(json_schema_extra={"default": "now"}),
    ] = None
    recurrence: Annotated[
        str | None,
        WithJsonSchema({"type": "string", "description": "An RFC 5545 RRULE (B9)."}),
    ] = None

    @model_validator(mode="after")
    def _rule(self) -> _ScheduleIn:
        if self.recurrence is not None:
            try:
                check_recurrence(self.recurrence, self.start or _REFERENCE_START)
            except InputError as exc:
                raise _fail(str(exc), "B9", "recurrence") from None
        return self


class _RateIn(_Model):
    """At most ``messages`` per ``per`` for each sending account (B10)."""

    messages: int = Field(ge=1, le=_MAX_RATE)
    per: Literal["second", "minute", "hour"]


def _clock(value: object) -> time:
    if isinstance(value, str) and _CLOCK.fullmatch(value):
        try:
            return time.fromisoformat(value)
        except ValueError:
            pass
    if isinstance(value, time) and value.tzinfo is None:
        return value
    raise _fail("expected a local time such as '08:00' or '21:30'", "X2")


_Clock = Annotated[
    time, BeforeValidator(_clock), WithJsonSchema({"type": "string", "pattern": _CLOCK.pattern})
]


class _QuietHoursIn(_Model):
    """The hours marketing may go, in the recipient's local time (X2)."""

    start: _Clock
    end: _Clock

    @model_validator(mode="after")
    def _span(self) -> _QuietHoursIn:
        if self.start == self.end:
            raise _fail(
                "start and end are the same time; the hours allowed would be none", "X2", "end"
            )
        return self


def _period(value: object) -> timedelta:
    if not isinstance(value, str):
        raise _fail(f"expected a duration such as '7d', got {json_type(value)}", "X4")
    try:
        period = parse_duration(value)
    except InputError as exc:
        raise _fail(str(exc), "X4") from None
    if period <= timedelta(0):
        raise _fail("the period must be longer than zero", "X4")
    return period


class _FrequencyCapIn(_Model):
    """No more than ``messages`` marketing messages per contact per ``period`` (X4)."""

    messages: int = Field(ge=1, le=_MAX_CAP)
    period: Annotated[
        timedelta,
        BeforeValidator(_period),
        WithJsonSchema({"type": "string", "description": "A duration such as '7d' (X4)."}),
    ]


class _DraftIn(_Model):
    """A broadcast draft (B1-B17, X2, X4); see docs/planner.md."""

    id: _Ident
    name: _Name
    tags: list[_Name] = Field(default_factory=list)
    targeting: Literal["account", "last_interacted"] = "last_interacted"
    account: _Ident | None = None
    channels: list[_ChannelName] | None = None
    only_interacted: bool = False
    team: _Ident | None = None
    audience: _AudienceIn = Field(default_factory=_AudienceIn)
    senders: list[_SenderIn] = Field(min_length=1)
    content: dict[_ChannelName, Annotated[list[_MessageIn], Field(min_length=1)]] = Field(
        max_length=len(_KINDS), json_schema_extra={"propertyNames": {"enum": list(_KINDS)}}
    )
    schedule: _ScheduleIn = Field(default_factory=_ScheduleIn)
    rate: _RateIn | None = None
    quiet_hours: _QuietHoursIn | None = None
    frequency_cap: _FrequencyCapIn | None = None

    @field_validator("content", mode="after")
    @classmethod
    def _messages(cls, value: dict[str, list[_MessageIn]]) -> dict[str, list[_MessageIn]]:
        for kind, messages in value.items():
            if len(messages) > _MAX_MESSAGES:
                raise _fail(f"content.{kind}: at most {_MAX_MESSAGES} messages per channel", "C3")
        return value

    def value(self) -> Draft:
        return Draft(
            id=self.id,
            name=self.name,
            tags=frozenset(self.tags),
            targeting=Targeting(self.targeting),
            account=self.account,
            channels=None if self.channels is None else frozenset(self.channels),
            only_interacted=self.only_interacted,
            team=self.team,
            audience=self.audience.value(),
            senders=tuple(
                Sender(
                    account_id=s.account,
                    channel=ChannelKind(s.channel),
                    team=s.team,
                    sender_class=s.sender_class,
                )
                for s in self.senders
            ),
            content={
                ChannelKind(kind): tuple(m.value() for m in messages)
                for kind, messages in self.content.items()
            },
            schedule=Schedule(start=self.schedule.start, recurrence=self.schedule.recurrence),
            rate=None if self.rate is None else Rate(self.rate.messages, _PER[self.rate.per]),
            quiet_hours=(
                None
                if self.quiet_hours is None
                else QuietHours(start=self.quiet_hours.start, end=self.quiet_hours.end)
            ),
            frequency_cap=(
                None
                if self.frequency_cap is None
                else FrequencyCap(self.frequency_cap.messages, self.frequency_cap.period)
            ),
        )


# --- shape problems that span fields ---------------------------------------------


def _shape_problems(spec: _DraftIn) -> list[tuple[str, str, str]]:
    problems: list[tuple[str, str, str]] = []
    if spec.targeting == "account":
        if spec.account is None:
            problems.append(("account", "B2", "targeting = account needs the account"))
        if spec.channels is not None:
            problems.append(
                (
                    "channels",
                    "B3",
                    "channels select among last interacted channels; with "
                    "targeting = account the account's channel is used",
                )
            )
    elif spec.account is not None:
        problems.append(
            (
                "account",
                "B2",
                "account is only read with targeting = account; "
                'to reach contacts on one account set targeting = "account"',
            )
        )
    if spec.channels is not None and not spec.channels:
        problems.append(("channels", "B3", "select at least one channel, or leave channels out"))
    seen: dict[str, int] = {}
    for index, sender in enumerate(spec.senders):
        first = seen.setdefault(sender.account, index)
        if first != index:
            problems.append(
                (f"senders[{index}].account", "B11", f"account is already senders[{first}]")
            )
    return problems


# --- errors ----------------------------------------------------------------------

_MESSAGES: Mapping[str, str] = {
    "missing": "this key is required",
    "extra_forbidden": "unknown key",
    "string_type": "expected text",
    "int_type": "expected a whole number",
    "bool_type": "expected true or false",
    "list_type": "expected an array",
    "dict_type": "expected a table",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
    "too_short": "needs at least one item",
}
_SECTION_RULES: Mapping[str, str] = {
    "schedule": "B9",
    "rate": "B10",
    "quiet_hours": "X2",
    "frequency_cap": "X4",
}
"""The rule of a section, for a problem that names none (a wrong type, a bound)."""


def _path(loc: Iterable[int | str]) -> str:
    path = ""
    for part in loc:
        if part == "[key]":
            continue
        path = f"{path}[{part}]" if isinstance(part, int) else _step(path, part)
    return path


def _problems(exc: ValidationError) -> list[tuple[str, str, str]]:
    problems: list[tuple[str, str, str]] = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = error["loc"]
        context = error.get("ctx") or {}
        if context.get("key"):
            loc = (*loc, context["key"])
        path = _path(loc)
        nested = context.get("problems")
        if nested:
            base = f"{path}." if path else ""
            problems.extend(
                ((base + sub if sub else path), "A1", message) for sub, message in nested
            )
            continue
        section = str(loc[0]) if loc else ""
        rule = str(context.get("rule") or _SECTION_RULES.get(section, ""))
        kind = error["type"]
        message = context.get("message") if kind == "draft" else _MESSAGES.get(kind)
        if not message:
            message = str(error["msg"]).replace("Input should be", "expected", 1)
        problems.append((path, rule, str(message)))
    return problems


# --- reading -----------------------------------------------------------------------


def draft_from_dict(data: Mapping[str, Any], *, source: str = "<dict>") -> Draft:
    """Read a draft from already-parsed data (the shape of a draft file).

    Args:
        data: the draft as a mapping, as :mod:`tomllib` or :mod:`json` give it.
        source: where the data came from, for the error message.

    Returns:
        The draft. It is checked for shape only; check it against a profile with
        :func:`~omnimsg.broadcasts.checks.validate_draft` before planning.

    Raises:
        DraftError: every problem found, each ``(path, rule, message)``; the message
            names ``source``. No other exception escapes, whatever ``data`` holds.
        InputError: ``source`` is not text.
    """
    if not isinstance(source, str):
        raise InputError(f"source: expected text, got {type(source).__name__}")
    try:
        return _read(data)
    except DraftError as exc:
        raise _sourced(exc, source) from None


def _sourced(exc: DraftError, source: str) -> DraftError:
    shown = shown_path(source)
    return DraftError(exc.problems, f"{shown}: {exc}")


def _read(data: object) -> Draft:
    if not isinstance(data, Mapping):
        raise DraftError([("", "", f"expected a table of settings, got {json_type(data)}")])
    plain = _plain(data)
    try:
        spec = _DraftIn.model_validate(plain)
    except ValidationError as exc:
        raise DraftError(_problems(exc)) from None
    problems = _shape_problems(spec)
    if problems:
        raise DraftError(problems)
    try:
        return spec.value()
    except (InputError, SnippetError) as exc:  # not reached: the models checked the same
        raise DraftError([("", "", str(exc))]) from None


def load_draft(path: str | Path) -> Draft:
    """Read a draft file: TOML for ``.toml``, JSON for ``.json``.

    Only regular files are read (a FIFO or a device is refused, never waited on), at
    most :data:`MAX_DRAFT_BYTES`, as UTF-8.

    Args:
        path: the file.

    Returns:
        The draft, checked for shape (see :func:`draft_from_dict`).

    Raises:
        DraftError: the file cannot be read, is not UTF-8, TOML or JSON, or the draft
            in it is malformed; the message names the file.
        InputError: ``path`` is not a path, or names neither a .toml nor a .json file.
    """
    if not isinstance(path, str | Path):
        raise InputError(f"path: expected a file path, got {type(path).__name__}")
    shown = shown_path(path)
    suffix = Path(path).suffix.lower() if "\x00" not in str(path) else ""
    if suffix not in (".toml", ".json"):
        raise InputError(f"draft file {shown}: expected a .toml or .json file")
    try:
        raw = read_regular(path, what="draft file", error=_FileError, max_bytes=MAX_DRAFT_BYTES)
    except _FileError as exc:
        raise _file_error(shown, str(exc), whole=True) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _file_error(shown, f"not UTF-8: {exc.reason} at byte {exc.start + 1}") from None
    data: object
    if suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise _file_error(shown, f"not valid TOML: {exc}") from None
        except RecursionError:  # tomllib recurses once per nested array or inline table
            raise _file_error(shown, f"nests deeper than {MAX_DRAFT_DEPTH} levels") from None
    else:
        try:
            data = from_json(text)
        except ValueError as exc:
            raise _file_error(shown, f"not valid JSON: {exc}") from None
    return draft_from_dict(data, source=str(path))  # type: ignore[arg-type]


class _FileError(InputError):
    """What :func:`~omnimsg._files.read_regular` raises here, before it becomes a DraftError."""


def _file_error(shown: str, message: str, *, whole: bool = False) -> DraftError:
    """A DraftError about the file itself; ``whole`` when ``message`` already names it."""
    return DraftError([("", "", message)], message if whole else f"draft file {shown}: {message}")


# --- writing -----------------------------------------------------------------------


def _duration_text(value: timedelta) -> str:
    micro = value // timedelta(microseconds=1)
    days, micro = divmod(micro, 86_400_000_000)
    hours, micro = divmod(micro, 3_600_000_000)
    minutes, micro = divmod(micro, 60_000_000)
    seconds, micro = divmod(micro, 1_000_000)
    text = "".join(f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n)
    if seconds or micro or not text:
        text += f"{seconds}.{micro:06d}".rstrip("0").rstrip(".") + "s"
    return text


def _message_dict(message: BroadcastMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"text": message.text}
    if message.media:
        out["media"] = [
            {
                "url": m.url,
                "kind": m.kind.value,
                **({} if m.duration is None else {"duration": _duration_text(m.duration)}),
                **({} if m.filename is None else {"filename": m.filename}),
            }
            for m in message.media
        ]
    if message.template is not None:
        out["template"] = message.template
    if message.template_params:
        out["template_params"] = dict(message.template_params)
    if message.tag is not None:
        out["tag"] = message.tag
    return out


def _audience_dict(audience: Audience) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if audience.segment is not None:
        custom = audience.segment.custom_fields
        if custom:
            out["custom_fields"] = {name: kind.value for name, kind in sorted(custom.items())}
        out["segment"] = audience.segment.to_dict()
    if audience.contact_ids:
        out["contact_ids"] = list(audience.contact_ids)
    if audience.id_list:
        out["id_list"] = list(audience.id_list)
        out["id_list_account"] = audience.id_list_account
    return out


def _per_text(rate: Rate) -> str:
    for name, span in _PER.items():
        if rate.per == span:
            return name
    raise InputError(f"rate.per: the draft format writes second, minute or hour, not {rate.per}")


def draft_to_dict(draft: Draft) -> dict[str, Any]:
    """The draft in the draft format: :func:`draft_from_dict` reads it back as an equal draft.

    Keys without a value are left out, so the result is valid TOML data as well as
    JSON data.

    Raises:
        InputError: ``draft`` is not a :class:`~omnimsg.broadcasts.model.Draft`, or a
            value cannot be written in the format (a rate per other than a second, a
            minute or an hour).
        SegmentError: the audience's segment was built by hand and is not valid.
    """
    if not isinstance(draft, Draft):
        raise InputError(f"draft: expected a Draft, got {type(draft).__name__}")
    out: dict[str, Any] = {"id": draft.id, "name": draft.name, "tags": sorted(draft.tags)}
    out["targeting"] = draft.targeting.value
    if draft.account is not None:
        out["account"] = draft.account
    if draft.channels is not None:
        out["channels"] = sorted(k.value for k in draft.channels)
    out["only_interacted"] = draft.only_interacted
    if draft.team is not None:
        out["team"] = draft.team
    out["audience"] = _audience_dict(draft.audience)
    out["senders"] = [
        {
            "account": s.account_id,
            "channel": s.channel.value,
            **({"team": s.team} if s.team else {}),
            **({"sender_class": s.sender_class} if s.sender_class else {}),
        }
        for s in draft.senders
    ]
    out["content"] = {
        kind.value: [_message_dict(m) for m in messages] for kind, messages in draft.content.items()
    }
    start = draft.schedule.start
    schedule: dict[str, Any] = {
        "start": "now" if start is None else require_aware(start, "schedule.start").isoformat()
    }
    if draft.schedule.recurrence is not None:
        schedule["recurrence"] = draft.schedule.recurrence
    out["schedule"] = schedule
    if draft.rate is not None:
        out["rate"] = {"messages": draft.rate.messages, "per": _per_text(draft.rate)}
    if draft.quiet_hours is not None:
        out["quiet_hours"] = {
            "start": draft.quiet_hours.start.isoformat(timespec="minutes")
            if not draft.quiet_hours.start.second
            else draft.quiet_hours.start.isoformat(timespec="seconds"),
            "end": draft.quiet_hours.end.isoformat(timespec="minutes")
            if not draft.quiet_hours.end.second
            else draft.quiet_hours.end.isoformat(timespec="seconds"),
        }
    if draft.frequency_cap is not None:
        out["frequency_cap"] = {
            "messages": draft.frequency_cap.messages,
            "period": _duration_text(draft.frequency_cap.period),
        }
    return out


# --- the schema --------------------------------------------------------------------


class _Names(GenerateJsonSchema):
    """Definitions named as the draft format names them (``Message``, not ``_MessageIn``)."""

    def normalize_name(self, name: str) -> str:
        name = super().normalize_name(name).lstrip("_")
        return name.removesuffix("In") or name


def _prefixed(schema: Any, prefix: str) -> Any:
    """``schema`` with every ``#/$defs/x`` reference renamed ``#/$defs/<prefix>x``."""
    root: list[Any] = [None]
    pending: list[tuple[Any, Any, Any]] = [(schema, root, 0)]
    while pending:
        value, parent, key = pending.pop()
        if isinstance(value, dict):
            copy: dict[str, Any] = {}
            for name, item in value.items():
                if name == "$ref" and isinstance(item, str) and item.startswith("#/$defs/"):
                    copy[name] = "#/$defs/" + prefix + item.removeprefix("#/$defs/")
                else:
                    pending.append((item, copy, name))
            parent[key] = copy
        elif isinstance(value, list):
            items: list[Any] = [None] * len(value)
            pending.extend((item, items, index) for index, item in enumerate(value))
            parent[key] = items
        else:
            parent[key] = value
    return root[0]


def draft_json_schema(*, custom_fields: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a broadcast draft, in TOML or JSON.

    The audience's segment is described by
    :func:`~omnimsg.segments.segment_json_schema` (its definitions are named
    ``segment-...``); custom fields appear in it when declared in ``custom_fields``.
    Reading a draft checks more than a schema can say (an instant's UTC offset, a
    recurrence rule, accounts against senders): :func:`draft_from_dict` is the
    authority.

    Raises:
        SegmentValidationError: a bad ``custom_fields`` declaration.
    """
    declared: Any = custom_fields
    if isinstance(custom_fields, Mapping):  # a caller's mapping, read once and bounded
        try:
            declared = dict(_items(custom_fields, "custom_fields"))
        except DraftError as exc:
            raise SegmentValidationError([(p, m) for p, _, m in exc.problems]) from None
    segment = segment_json_schema(custom_fields=declared)
    schema = _DraftIn.model_json_schema(schema_generator=_Names)
    defs = schema.setdefault("$defs", {})
    for name, definition in _prefixed(segment["$defs"], "segment-").items():
        defs[f"segment-{name}"] = definition
    for name, definition in defs.items():
        if not name.startswith("segment-"):
            definition["title"] = name
    defs["Audience"]["properties"]["segment"] = {
        "oneOf": [{"$ref": "#/$defs/segment-node"}, _SEGMENT["oneOf"][1]]
    }
    return {
        "$schema": segment["$schema"],
        "title": "omnimsg broadcast draft",
        "description": (
            "A broadcast draft: audience, targeting, content per channel, senders, "
            "schedule, rate, quiet hours and frequency cap (see docs/planner.md)."
        ),
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }
