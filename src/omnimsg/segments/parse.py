"""Reading segment JSON: the pydantic boundary of the segment language (SPEC A1).

Everything from outside (JSON text, bytes, a dict built by a front end) enters through
:func:`parse_segment`, which returns a frozen :class:`~omnimsg.segments.model.Segment`
or raises :class:`~omnimsg.errors.SegmentValidationError` listing *every* problem with
its JSON path (``all[1].any[0].value``). Whatever the input, no other exception
escapes. Values are read by the rules of :mod:`omnimsg.segments.values`, the same
rules the walk applies to hand-built segments: a number compared with a string field
is a validation error, never an evaluation error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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

from omnimsg.errors import SegmentValidationError
from omnimsg.segments.fields import (
    CUSTOM_PREFIX,
    STANDARD_FIELDS,
    FieldSpec,
    FieldType,
    Operator,
    lookup_field,
)
from omnimsg.segments.model import (
    MAX_DEPTH,
    AllGroup,
    AnyGroup,
    Condition,
    Node,
    NotGroup,
    Segment,
)
from omnimsg.segments.values import (
    MISSING,
    ValueProblem,
    json_type,
    path_step,
    quote,
    read_sender,
    read_string,
    read_value,
)

__all__ = ["parse_custom_fields", "parse_segment"]


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
    value: Any = Field(default=MISSING, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _mapping(cls, data: Any) -> Any:
        return _plain_mapping(data)

    @field_validator("field", mode="before")
    @classmethod
    def _field(cls, raw: Any, info: ValidationInfo) -> FieldSpec:
        if not isinstance(raw, str):
            raise _error(f"expected a field name, got {json_type(raw)}")
        custom: Mapping[str, FieldType] = _context(info)["custom_fields"]
        spec = lookup_field(raw, custom)
        if spec is not None:
            return spec
        if raw.startswith(CUSTOM_PREFIX):
            declared = ", ".join(sorted(custom)) or "none"
            raise _error(
                f"custom field {quote(raw[len(CUSTOM_PREFIX) :])} is not declared "
                f"(declared custom fields: {declared}); pass its type in custom_fields"
            )
        raise _error(
            f"unknown field {quote(raw)}; expected one of {_FIELD_NAMES}, "
            "or custom.<name> for a declared custom field"
        )

    @field_validator("op", mode="before")
    @classmethod
    def _op(cls, raw: Any, info: ValidationInfo) -> Operator:
        if not isinstance(raw, str):
            raise _error(f"expected an operator name, got {json_type(raw)}")
        try:
            op = Operator(raw)
        except ValueError:
            raise _error(
                f"unknown operator {quote(raw)}; expected one of "
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
        try:
            return read_sender(spec, raw)
        except ValueProblem as exc:
            raise _error(str(exc)) from None

    @field_validator("value", mode="before")
    @classmethod
    def _value(cls, raw: Any, info: ValidationInfo) -> Any:
        spec, op = info.data.get("field"), info.data.get("op")
        if not isinstance(spec, FieldSpec) or not isinstance(op, Operator):
            return raw
        try:
            return read_value(spec, op, raw)
        except ValueProblem as exc:
            raise _error("; ".join(m for _, m in exc.problems), exc.problems) from None

    def to_node(self) -> Node:
        value = None if self.value is MISSING else self.value
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


def _append(path: str, item: object) -> str:
    step = path_step(item)
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
    "segment_node": lambda e: f"expected {_NODE_HINT}, got {json_type(e.get('input'))}",
    "missing": lambda e: "this key is required",
    "extra_forbidden": lambda e: "unknown key",
    "list_type": lambda e: f"expected an array, got {json_type(e.get('input'))}",
    "too_short": lambda e: "a group needs at least one condition",
    "model_type": lambda e: f"expected an object, got {json_type(e.get('input'))}",
    "model_attributes_type": lambda e: f"expected an object, got {json_type(e.get('input'))}",
    "dict_type": lambda e: f"expected an object, got {json_type(e.get('input'))}",
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


_FIELD_TYPES: Mapping[str, FieldType] = {field_type.value: field_type for field_type in FieldType}


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
                    f"expected a mapping of names to types, got {json_type(custom_fields)}",
                )
            ]
        )
    types = ", ".join(t.value for t in FieldType)
    declared: dict[str, FieldType] = {}
    problems: list[tuple[str, str]] = []
    for name, field_type in custom_fields.items():
        path = _append("custom_fields", name)
        try:
            text = read_string(name)
        except ValueProblem as exc:
            problems.append((path, f"invalid custom field name: {exc}"))
            continue
        known = _FIELD_TYPES.get(field_type) if isinstance(field_type, str) else None
        if known is None:
            problems.append((path, f"unknown field type; expected one of {types}"))
        else:
            declared[text] = known
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
        except (ValueError, TypeError) as exc:  # TypeError: text with lone surrogates
            raise SegmentValidationError([("", f"invalid JSON: {exc}")]) from None
    too_deep = _nesting_problems(data)
    if too_deep:
        raise SegmentValidationError(too_deep)
    try:
        parsed = _NODE.validate_python(data, context={"custom_fields": declared})
    except ValidationError as exc:
        raise SegmentValidationError(_problems(exc)) from None
    return Segment(root=parsed.to_node())
