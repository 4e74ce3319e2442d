"""Reading segment JSON: the pydantic boundary of the segment language (SPEC A1).

Everything from outside (JSON text, bytes, a dict built by a front end) enters through
:func:`parse_segment`, which returns a frozen :class:`~omnimsg.segments.model.Segment`
or raises :class:`~omnimsg.errors.SegmentValidationError` listing *every* problem with
its JSON path (``all[1].any[0].value``). Whatever the input, no other exception
escapes. Types are checked here, once: a number compared with a string field is a
validation error, never an evaluation error.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError, from_json

from omnimsg.channels.kinds import ChannelKind, parse_channel_kind
from omnimsg.contacts import ConversationStatus
from omnimsg.errors import SegmentValidationError, UnknownChannelError
from omnimsg.policy.optin import SubscriptionStatus
from omnimsg.segments.fields import (
    CUSTOM_PREFIX,
    INT64_BOUND,
    PERIOD_LIMITS,
    STANDARD_FIELDS,
    FieldSpec,
    FieldType,
    Operator,
    Period,
    PeriodUnit,
    ValueKind,
    ValueShape,
    lookup_field,
    shape_of,
)
from omnimsg.segments.model import (
    MAX_DEPTH,
    MAX_LIST_ITEMS,
    AllGroup,
    AnyGroup,
    Condition,
    ConditionValue,
    Node,
    NotGroup,
    Scalar,
    Segment,
)

__all__ = ["parse_custom_fields", "parse_segment"]


class _Bad(Exception):
    """A value problem found by a value parser: ``(sub-path, message)`` pairs."""

    def __init__(self, message: str, subpath: str = "") -> None:
        super().__init__(message)
        self.problems: list[tuple[str, str]] = [(subpath, message)]


def _json_type(value: object) -> str:
    """The JSON name of a value's type, for messages (never the value itself)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__}"


def _quote(text: str, limit: int = 40) -> str:
    shown = text if len(text) <= limit else text[:limit] + "…"
    return json.dumps(shown, ensure_ascii=False)


def _string(raw: object) -> str:
    if not isinstance(raw, str):
        raise _Bad(f"expected a string, got {_json_type(raw)}")
    if not raw:
        raise _Bad("expected a non-empty string (use is_not_set to find missing values)")
    if "\x00" in raw:
        raise _Bad("a string may not contain NUL characters")
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise _Bad("a string may not contain lone surrogate code points") from None
    return str(raw)


def _number(raw: object) -> int | float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise _Bad(f"expected a number, got {_json_type(raw)}")
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise _Bad("expected a finite number")
        return float(raw)
    if not -INT64_BOUND <= raw < INT64_BOUND:
        raise _Bad("integers must fit in 64 bits (between -2**63 and 2**63 - 1)")
    return int(raw)


def _boolean(raw: object) -> bool:
    if not isinstance(raw, bool):
        raise _Bad(f"expected true or false, got {_json_type(raw)}")
    return raw


def _datetime(raw: object) -> datetime:
    if isinstance(raw, str):
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise _Bad(
                f"expected an ISO 8601 date-time with a UTC offset, got {_quote(raw)}"
            ) from None
    elif isinstance(raw, datetime):
        value = raw
    else:
        raise _Bad(f"expected an ISO 8601 date-time string, got {_json_type(raw)}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise _Bad("a date-time needs a UTC offset (for example 2024-05-01T09:00:00+02:00 or ...Z)")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise _Bad("the date-time is outside the range of UTC dates") from None


def _channel(raw: object) -> ChannelKind:
    if not isinstance(raw, str):
        raise _Bad(f"expected a channel kind, got {_json_type(raw)}")
    try:
        return parse_channel_kind(raw)
    except UnknownChannelError:
        known = ", ".join(kind.value for kind in ChannelKind)
        raise _Bad(f"unknown channel kind {_quote(raw)}; expected one of: {known}") from None


def _choice(
    enum: type[ConversationStatus] | type[SubscriptionStatus], what: str
) -> Callable[[object], Scalar]:
    members = {member.value: member for member in enum}
    known = ", ".join(sorted(members))

    def parse(raw: object) -> Scalar:
        if not isinstance(raw, str):
            raise _Bad(f"expected a {what}, got {_json_type(raw)}")
        member = members.get(raw.strip().lower())
        if member is None:
            raise _Bad(f"unknown {what} {_quote(raw)}; expected one of: {known}")
        return member

    return parse


_COUNTRY = re.compile(r"[A-Za-z]{2}")


def _country(raw: object) -> str:
    if not isinstance(raw, str) or not _COUNTRY.fullmatch(raw):
        shown = _quote(raw) if isinstance(raw, str) else _json_type(raw)
        raise _Bad(f"expected a two-letter ISO 3166 country code such as US, got {shown}")
    return raw.upper()


_SCALAR_PARSERS: Mapping[ValueKind, Callable[[object], Scalar]] = {
    ValueKind.TEXT: _string,
    ValueKind.KEYWORD: _string,
    ValueKind.NUMBER: _number,
    ValueKind.BOOLEAN: _boolean,
    ValueKind.DATETIME: _datetime,
    ValueKind.TAGS: _string,
    ValueKind.CHANNELS: _channel,
    ValueKind.CHANNEL: _channel,
    ValueKind.CONVERSATION_STATUS: _choice(ConversationStatus, "conversation status"),
    ValueKind.COUNTRY: _country,
    ValueKind.SUBSCRIPTION: _choice(SubscriptionStatus, "subscription status"),
}


def _list(raw: object, parse: Callable[[object], Scalar], *, exact: int = 0) -> tuple[Scalar, ...]:
    if not isinstance(raw, list | tuple):
        raise _Bad(f"expected an array, got {_json_type(raw)}")
    if exact and len(raw) != exact:
        raise _Bad(f"expected an array of {exact} items, got {len(raw)}")
    if not raw:
        raise _Bad("expected a non-empty array")
    if len(raw) > MAX_LIST_ITEMS:
        raise _Bad(f"an array may hold at most {MAX_LIST_ITEMS} items, got {len(raw)}")
    items: list[Scalar] = []
    bad: _Bad | None = None
    for index, item in enumerate(raw):
        try:
            items.append(parse(item))
        except _Bad as exc:
            subpath = f"[{index}]"
            if bad is None:
                bad = _Bad(str(exc), subpath)
            else:
                bad.problems.append((subpath, str(exc)))
    if bad is not None:
        raise bad
    if exact:
        return tuple(items)
    return tuple(dict.fromkeys(items))


_UNITS = frozenset(unit.value for unit in PeriodUnit)


def _period(raw: object) -> Period:
    if not isinstance(raw, Mapping):
        raise _Bad(f'expected {{"amount": <whole number>, "unit": "days"}}, got {_json_type(raw)}')
    problems: list[tuple[str, str]] = []
    extra = [key for key in raw if key not in ("amount", "unit")]
    problems.extend((_key(key), "unknown key; a period has amount and unit") for key in extra)
    amount, unit_raw = raw.get("amount"), raw.get("unit")
    unit: PeriodUnit | None = None
    units = ", ".join(u.value for u in PeriodUnit)
    if not isinstance(unit_raw, str) or unit_raw not in _UNITS:
        shown = _quote(unit_raw) if isinstance(unit_raw, str) else _json_type(unit_raw)
        problems.append((".unit", f"expected one of {units}, got {shown}"))
    else:
        unit = PeriodUnit(unit_raw)
    if isinstance(amount, bool) or not isinstance(amount, int):
        problems.append((".amount", f"expected a whole number, got {_json_type(amount)}"))
    elif unit is not None and not 1 <= amount <= PERIOD_LIMITS[unit]:
        problems.append((".amount", f"expected 1 to {PERIOD_LIMITS[unit]} {unit.value}"))
    elif unit is None and amount < 1:
        problems.append((".amount", "expected a positive whole number"))
    if not problems and unit is not None and isinstance(amount, int):
        return Period(amount=amount, unit=unit)
    bad = _Bad(problems[0][1], problems[0][0])
    bad.problems = problems
    raise bad


_ABSENT: Any = object()


def _parse_value(spec: FieldSpec, op: Operator, raw: object) -> ConditionValue:
    shape = shape_of(op)
    if shape is ValueShape.NONE:
        if raw is not _ABSENT and raw is not None:
            raise _Bad(f"{op.value} takes no value")
        return None
    if raw is _ABSENT:
        raise _Bad(f"{op.value} needs a value")
    parse = _SCALAR_PARSERS[spec.kind]
    if shape is ValueShape.SCALAR:
        return parse(raw)
    if shape is ValueShape.LIST:
        return _list(raw, parse)
    if shape is ValueShape.SCALAR_OR_LIST:
        return _list(raw, parse) if isinstance(raw, list | tuple) else (parse(raw),)
    if shape is ValueShape.PERIOD:
        return _period(raw)
    low, high = _list(raw, parse, exact=2)
    if low > high:  # type: ignore[operator]
        raise _Bad("the low end of the range is greater than the high end")
    return (low, high)


def _error(message: str, problems: list[tuple[str, str]] | None = None) -> PydanticCustomError:
    context: dict[str, Any] = {"message": message}
    if problems:
        context["problems"] = tuple(problems)
    return PydanticCustomError("segment", "{message}", context)


def _context(info: ValidationInfo) -> dict[str, Any]:
    context = info.context
    if not isinstance(context, dict):
        raise _error("segments must be read with parse_segment()")
    return context


def _plain_mapping(data: Any) -> Any:
    if isinstance(data, Mapping) and not isinstance(data, dict):
        return dict(data)
    return data


_FIELD_NAMES = ", ".join(STANDARD_FIELDS)


class _ConditionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    field: FieldSpec
    op: Operator
    sender: str | None = Field(default=None, validate_default=True)
    value: Any = Field(default=_ABSENT, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _mapping(cls, data: Any) -> Any:
        return _plain_mapping(data)

    @field_validator("field", mode="before")
    @classmethod
    def _field(cls, raw: Any, info: ValidationInfo) -> FieldSpec:
        if not isinstance(raw, str):
            raise _error(f"expected a field name, got {_json_type(raw)}")
        custom: Mapping[str, FieldType] = _context(info)["custom_fields"]
        spec = lookup_field(raw, custom)
        if spec is not None:
            return spec
        if raw.startswith(CUSTOM_PREFIX):
            declared = ", ".join(sorted(custom)) or "none"
            raise _error(
                f"custom field {_quote(raw[len(CUSTOM_PREFIX) :])} is not declared "
                f"(declared custom fields: {declared}); pass its type in custom_fields"
            )
        raise _error(
            f"unknown field {_quote(raw)}; expected one of {_FIELD_NAMES}, "
            "or custom.<name> for a declared custom field"
        )

    @field_validator("op", mode="before")
    @classmethod
    def _op(cls, raw: Any, info: ValidationInfo) -> Operator:
        if not isinstance(raw, str):
            raise _error(f"expected an operator name, got {_json_type(raw)}")
        try:
            op = Operator(raw)
        except ValueError:
            raise _error(
                f"unknown operator {_quote(raw)}; expected one of "
                + ", ".join(o.value for o in Operator)
            ) from None
        spec = info.data.get("field")
        if isinstance(spec, FieldSpec) and op not in spec.operators:
            allowed = ", ".join(o.value for o in spec.operators)
            raise _error(
                f"operator {op.value} does not apply to {spec.name} ({spec.kind.value}); "
                f"expected one of {allowed}"
            )
        return op

    @field_validator("sender", mode="before")
    @classmethod
    def _sender(cls, raw: Any, info: ValidationInfo) -> str | None:
        spec = info.data.get("field")
        if not isinstance(spec, FieldSpec):
            return None
        if spec.kind is not ValueKind.SUBSCRIPTION:
            if raw is not None:
                raise _error("sender is only used with the subscription field")
            return None
        if raw is None:
            raise _error("the subscription field needs a sender (a channel account id)")
        try:
            return _string(raw)
        except _Bad as exc:
            raise _error(str(exc)) from None

    @field_validator("value", mode="before")
    @classmethod
    def _value(cls, raw: Any, info: ValidationInfo) -> Any:
        spec, op = info.data.get("field"), info.data.get("op")
        if not isinstance(spec, FieldSpec) or not isinstance(op, Operator):
            return raw
        try:
            return _parse_value(spec, op, raw)
        except _Bad as exc:
            raise _error("; ".join(m for _, m in exc.problems), exc.problems) from None

    def to_node(self) -> Node:
        value = None if self.value is _ABSENT else self.value
        return Condition(field=self.field, op=self.op, value=value, sender=self.sender)


class _GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _mapping(cls, data: Any) -> Any:
        return _plain_mapping(data)


class _AllIn(_GroupIn):
    items: list[_NodeIn] = Field(alias="all", min_length=1)

    def to_node(self) -> Node:
        return AllGroup(tuple(item.to_node() for item in self.items))


class _AnyIn(_GroupIn):
    items: list[_NodeIn] = Field(alias="any", min_length=1)

    def to_node(self) -> Node:
        return AnyGroup(tuple(item.to_node() for item in self.items))


class _NotIn(_GroupIn):
    item: _NodeIn = Field(alias="not")

    def to_node(self) -> Node:
        return NotGroup(self.item.to_node())


_GROUP_KEYS = ("all", "any", "not")


def _node_tag(data: Any) -> str | None:
    if isinstance(data, Mapping):
        for key in _GROUP_KEYS:
            if key in data:
                return key
        return "condition"
    return None


_NodeIn: TypeAlias = Annotated[
    Annotated[_AllIn, Tag("all")]
    | Annotated[_AnyIn, Tag("any")]
    | Annotated[_NotIn, Tag("not")]
    | Annotated[_ConditionIn, Tag("condition")],
    Discriminator(_node_tag, custom_error_type="segment_node", custom_error_message="node"),
]

for _model in (_AllIn, _AnyIn, _NotIn):
    _model.model_rebuild()

_NODE = TypeAdapter[Any](_NodeIn)

_TAGS = frozenset(("all", "any", "not", "condition"))
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _key(item: object) -> str:
    """``item`` as the next step of a JSON path: ``[3]``, ``.name`` or ``["odd key"]``."""
    if isinstance(item, int):
        return f"[{item}]"
    text = str(item)
    if _IDENT.fullmatch(text):
        return f".{text}"
    return f"[{json.dumps(text, ensure_ascii=False)}]"


def _append(path: str, item: object) -> str:
    step = _key(item)
    return step[1:] if not path and step.startswith(".") else path + step


def _json_path(loc: tuple[int | str, ...]) -> str:
    """``("all", "all", 1, "any", "any", 0, "condition", "value")`` → ``all[1].any[0].value``.

    The discriminated union puts the tag of the chosen node in the location; it is
    dropped so the path reads as JSON.
    """
    path = ""
    state = "node"
    for item in loc:
        if state == "node" and item in _TAGS:
            state = {"all": "group", "any": "group", "not": "not"}.get(str(item), "leaf")
            continue
        path = _append(path, item)
        if state == "group" and item in ("all", "any"):
            state = "index"
        elif (state == "index" and isinstance(item, int)) or (state == "not" and item == "not"):
            state = "node"
        else:
            state = "leaf"
    return path


_NODE_HINT = (
    'a condition {"field": ..., "op": ..., "value": ...} or a group '
    '{"all": [...]}, {"any": [...]} or {"not": {...}}'
)

_MESSAGES: Mapping[str, Callable[[dict[str, Any]], str]] = {
    "segment_node": lambda e: f"expected {_NODE_HINT}, got {_json_type(e.get('input'))}",
    "missing": lambda e: "this key is required",
    "extra_forbidden": lambda e: "unknown key",
    "list_type": lambda e: f"expected an array, got {_json_type(e.get('input'))}",
    "too_short": lambda e: "a group needs at least one condition",
    "model_type": lambda e: f"expected an object, got {_json_type(e.get('input'))}",
    "model_attributes_type": lambda e: f"expected an object, got {_json_type(e.get('input'))}",
    "dict_type": lambda e: f"expected an object, got {_json_type(e.get('input'))}",
    "recursion_loop": lambda e: "the segment refers to itself",
}


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for error in exc.errors(include_url=False):
        path = _json_path(tuple(error["loc"]))
        context = error.get("ctx") or {}
        details = context.get("problems")
        if error["type"] == "segment" and details:
            problems.extend((path + subpath, message) for subpath, message in details)
            continue
        if error["type"] == "segment":
            problems.append((path, str(context.get("message", error["msg"]))))
            continue
        describe = _MESSAGES.get(error["type"])
        problems.append((path, describe(dict(error)) if describe else str(error["msg"])))
    return problems


def _nesting_problems(data: object) -> list[tuple[str, str]]:
    """Groups nested deeper than :data:`MAX_DEPTH`, found without recursion.

    Walking only the group keys, and never below the limit, also stops a mapping
    that contains itself.
    """
    problems: list[tuple[str, str]] = []
    pending: list[tuple[object, str, int]] = [(data, "", 0)]
    while pending:
        node, path, depth = pending.pop()
        if not isinstance(node, Mapping):
            continue
        key = _node_tag(node)
        if key not in _GROUP_KEYS:
            continue
        if depth >= MAX_DEPTH:
            problems.append((path, f"groups may nest at most {MAX_DEPTH} levels deep"))
            continue
        inner, inner_path = node[key], _append(path, key)
        if key == "not":
            pending.append((inner, inner_path, depth + 1))
        elif isinstance(inner, list | tuple):
            pending.extend(
                (child, _append(inner_path, index), depth + 1)
                for index, child in reversed(list(enumerate(inner)))
            )
    return problems


def parse_custom_fields(
    custom_fields: Mapping[str, FieldType | str] | None,
) -> dict[str, FieldType]:
    """Check a custom field declaration: names to ``string``/``number``/``boolean``/``datetime``.

    Raises :class:`~omnimsg.errors.SegmentValidationError` naming each bad entry as
    ``custom_fields["name"]``.
    """
    if custom_fields is None:
        return {}
    if not isinstance(custom_fields, Mapping):
        raise SegmentValidationError(
            [
                (
                    "custom_fields",
                    f"expected a mapping of names to types, got {_json_type(custom_fields)}",
                )
            ]
        )
    types = ", ".join(t.value for t in FieldType)
    declared: dict[str, FieldType] = {}
    problems: list[tuple[str, str]] = []
    for name, field_type in custom_fields.items():
        path = _append("custom_fields", name)
        try:
            declared[_string(name)] = FieldType(field_type)
        except _Bad as exc:
            problems.append((path, f"invalid custom field name: {exc}"))
        except (ValueError, TypeError):
            problems.append((path, f"unknown field type; expected one of {types}"))
    if problems:
        raise SegmentValidationError(problems)
    return declared


def parse_segment(
    data: str | bytes | Mapping[str, Any],
    *,
    custom_fields: Mapping[str, FieldType | str] | None = None,
) -> Segment:
    """Validate segment JSON and return a :class:`~omnimsg.segments.model.Segment`.

    ``data`` is JSON text, UTF-8 bytes, or an already decoded mapping. ``custom_fields``
    declares the type of each custom field the segment may use as ``custom.<name>``
    (``{"score": "number"}``); an undeclared or unknown field is a validation error.

    Raises :class:`~omnimsg.errors.SegmentValidationError` with every ``(path, message)``
    problem found; no other exception escapes, whatever ``data`` holds.
    """
    declared = parse_custom_fields(custom_fields)
    if isinstance(data, str | bytes | bytearray):
        try:
            data = from_json(data)
        except ValueError as exc:
            raise SegmentValidationError([("", f"invalid JSON: {exc}")]) from None
    too_deep = _nesting_problems(data)
    if too_deep:
        raise SegmentValidationError(too_deep)
    try:
        parsed = _NODE.validate_python(data, context={"custom_fields": declared})
    except ValidationError as exc:
        raise SegmentValidationError(_problems(exc)) from None
    return Segment(root=parsed.to_node())
