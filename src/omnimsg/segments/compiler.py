"""Compiling a segment into a fast Python predicate over :class:`~omnimsg.contacts.Contact`.

A validated segment is turned into the source of one small function, compiled once
(the way attrs writes ``__init__``) and then called per contact. Relative periods are
resolved once, against the ``now`` given at compile time. Only trusted text goes into
the source: attribute names from the whitelist of standard fields, operators, and
generated names. Every value (strings, numbers, custom field names, senders, cutoff
instants) is bound as a constant in the namespace the source runs in, never pasted
into it, so no segment can inject code.

The walk over the segment, the checks of hand-built nodes and the reduction of each
operator to a :class:`~omnimsg.segments.walk.Check` are shared with the SQL compiler
(:mod:`omnimsg.segments.walk`); this module only emits Python for each check. It owns
what a check means on a contact in memory, missing values included, and the rule for
when a custom value counts as its declared type; :mod:`omnimsg.segments.sql` must
agree with it exactly (the property tests check).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from types import FunctionType, MappingProxyType
from typing import TypeAlias, overload

import attrs

from omnimsg.contacts import Contact, CustomValue
from omnimsg.errors import InputError, OmnimsgError
from omnimsg.segments.casefold import fold_case
from omnimsg.segments.fields import STANDARD_FIELDS, FieldSpec, FieldType, ValueKind
from omnimsg.segments.model import Segment
from omnimsg.segments.walk import SETS, Check, Test, compile_tree
from omnimsg.state import OptInState

__all__ = [
    "ContactPredicate",
    "compile_segment",
    "custom_value_type",
    "filter_contacts",
    "predicate_source",
]

ContactPredicate: TypeAlias = Callable[[Contact], bool]
"""A compiled segment: ``True`` for the contacts that are in it."""

_ATTRIBUTES: Mapping[str, str] = MappingProxyType(
    {name: spec.attribute for name, spec in STANDARD_FIELDS.items() if spec.attribute}
)
"""The whitelist of attribute names that reach generated source, by field name."""

_EPOCH = datetime.min


def _utc_key(at: object) -> timedelta | None:
    """An aware datetime as elapsed time since year 1 in UTC, or ``None`` if not aware.

    Unlike ``astimezone(UTC)`` this never overflows near the ends of the date range.
    """
    if not isinstance(at, datetime):
        return None
    offset = at.utcoffset()
    if offset is None:
        return None
    return (at.replace(tzinfo=None) - _EPOCH) - offset


def _last_inbound_at(contact: Contact) -> datetime | None:
    """The latest ``last_inbound_at`` over the contact's identities, or ``None``.

    Instants are compared as instants (inside a DST fold too); a naive value counts
    as missing. The result is in UTC, or as stored when its UTC equivalent lies
    outside years 1-9999 (late on 9999-12-31 west of UTC).
    """
    identities = contact.identities
    if not identities:
        return None
    # Fast path: fixed offsets (what stores hand back, UTC) compare as instants directly;
    # a zone with DST needs the UTC key below to compare inside a fold.
    fixed: datetime | None = None
    for identity in identities:
        at = identity.last_inbound_at
        if at is None:
            continue
        if type(at.tzinfo) is not timezone:
            break
        if fixed is None or at > fixed:
            fixed = at
    else:
        if fixed is None or fixed.tzinfo is UTC:
            return fixed
        try:
            return fixed.astimezone(UTC)
        except OverflowError:
            return fixed
    latest: datetime | None = None
    latest_key: timedelta | None = None
    for identity in identities:
        at = identity.last_inbound_at
        key = _utc_key(at)
        if key is not None and (latest_key is None or key > latest_key):
            latest, latest_key = at, key
    if latest is None:
        return None
    try:
        return latest.astimezone(UTC)
    except OverflowError:
        return latest


def _unreadable(contact: object, exc: Exception) -> InputError:
    """The error a compiled predicate raises for a value it cannot evaluate."""
    if not isinstance(contact, Contact):
        return InputError(f"a compiled segment needs a Contact, got {type(contact).__name__}")
    shown = repr(contact.id)[:60]
    return InputError(
        f"a compiled segment cannot evaluate contact {shown}: {type(exc).__name__}: {exc}"
    )


_HELPERS: Mapping[str, object] = MappingProxyType(
    {
        "_fold": fold_case,
        "_last_inbound": _last_inbound_at,
        "_unreadable": _unreadable,
        "_NUMBER": frozenset((int, float)),
        "_str": str,
        "_datetime": datetime,
        "_isinstance": isinstance,
        "_bool": bool,
        "_NOT_ASKED": OptInState.of(None),
    }
)

_COUNTS_AS: Mapping[FieldType, str] = MappingProxyType(
    {
        FieldType.NUMBER: "{first}.__class__ in _NUMBER and {v} == {v}",
        FieldType.BOOLEAN: "{first}.__class__ is _bool",
        FieldType.STRING: "_isinstance({first}, _str)",
        FieldType.DATETIME: "_isinstance({first}, _datetime) and {v}.utcoffset() is not None",
    }
)
"""When a custom value counts as each type, as a Python expression over ``{v}``.

This is the one statement of the rule: generated predicates inline it (``{first}``
is where the value is read), and :func:`custom_value_type` evaluates the same text.
``bool`` is never a number and NaN (``v != v``) is no number at all.
"""

_TYPE_TESTS: tuple[tuple[FieldType, Callable[[object], bool]], ...] = tuple(
    (field_type, eval(f"lambda v: {test.format(first='v', v='v')}", dict(_HELPERS)))
    for field_type, test in _COUNTS_AS.items()
)


def custom_value_type(value: CustomValue | object) -> FieldType | None:
    """The type a custom value counts as, or ``None`` when it counts as missing.

    ``bool`` is boolean (never a number), ``int``/``float`` are numbers except NaN,
    ``str`` is a string, an aware ``datetime`` a datetime. Anything else, ``None`` and
    NaN are missing. A condition on a custom field reads a value of another type as
    missing; the SQL loader stores values by this same rule. Raises
    :class:`~omnimsg.errors.InputError` when reading the value fails (a datetime whose
    tzinfo raises).
    """
    try:
        for field_type, counts in _TYPE_TESTS:
            if counts(value):
                return field_type
    except Exception as exc:  # the value's own code (a tzinfo) may fail in any way
        raise InputError(f"the custom value cannot be read: {type(exc).__name__}: {exc}") from exc
    return None


@attrs.define
class _Source:
    """Python source for each test; the walk in :mod:`omnimsg.segments.walk` does the rest.

    Only trusted text goes into the source: whitelisted attribute names, operators and
    generated names. Every value is bound as a constant in :attr:`namespace`.
    """

    namespace: dict[str, object] = attrs.field(factory=lambda: dict(_HELPERS))
    count: int = 0

    def const(self, value: object) -> str:
        name = f"_k{self.count}"
        self.count += 1
        self.namespace[name] = value
        return name

    def local(self) -> str:
        name = f"_v{self.count}"
        self.count += 1
        return name

    def all_of(self, parts: Sequence[str]) -> str:
        return "(" + " and ".join(parts) + ")"

    def any_of(self, parts: Sequence[str]) -> str:
        return "(" + " or ".join(parts) + ")"

    def negate(self, part: str) -> str:
        return f"not {part}"

    def test(self, test: Test) -> str:
        text = self.collection(test) if test.field.kind in SETS else self.scalar(test)
        return f"not {text}" if test.negated else text

    def access(self, test: Test) -> str:
        spec = test.field
        if spec.custom_name is not None:
            return f"c.custom.get({self.const(spec.custom_name)})"
        if spec.name == "last_inbound_at":
            return "_last_inbound(c)"
        if spec.kind is ValueKind.SUBSCRIPTION:
            return f"c.subscriptions.get({self.const(test.sender)}, _NOT_ASKED).status"
        return f"c.{_ATTRIBUTES[spec.name]}"

    def present(self, spec: FieldSpec, access: str, var: str) -> str:
        """An expression binding ``var`` and true when the value counts as present."""
        bound = f"({var} := {access})"
        if spec.custom_type is not None:
            return _COUNTS_AS[spec.custom_type].format(first=bound, v=var)
        return f"{bound} is not None"

    def scalar(self, test: Test) -> str:
        var = self.local()
        present = self.present(test.field, self.access(test), var)
        if test.check is Check.IS_SET:
            return f"({present})"
        subject = var
        if test.field.kind is ValueKind.TEXT:
            # ASCII folds by lower(), inline; the rest through the shared table (fold_case).
            subject = f"({var}.lower() if {var}.isascii() else _fold({var}))"
        return f"({present} and {self.compare(test, subject)})"

    def compare(self, test: Test, subject: str) -> str:
        check, constants = test.check, test.constants
        if check is Check.COMPARE:
            return f"{subject} {test.symbol} {self.const(constants[0])}"
        if check is Check.EQUALS:
            symbol = "is" if test.field.kind is ValueKind.BOOLEAN else "=="
            return f"{subject} {symbol} {self.const(constants[0])}"
        if check is Check.ONE_OF:
            return f"{subject} in {self.const(frozenset(constants))}"
        if check is Check.CONTAINS:
            return f"{self.const(constants[0])} in {subject}"
        if check is Check.STARTS_WITH:
            return f"{subject}.startswith({self.const(constants[0])})"
        low, high = constants
        return f"{self.const(low)} <= {subject} <= {self.const(high)}"

    def collection(self, test: Test) -> str:
        access = self.access(test)
        if test.check is Check.IS_SET:
            return f"_bool({access})"
        if test.check is Check.HAS:
            return f"({self.const(test.constants[0])} in {access})"
        members = self.const(frozenset(test.constants))
        if test.check is Check.HAS_ANY:
            return f"(not {members}.isdisjoint({access}))"
        return f"({members} <= {access})"


def _generate(segment: Segment, now: datetime, where: str) -> tuple[str, dict[str, object]]:
    source = _Source()
    body = compile_tree(segment, now, source, where)
    # The try costs nothing until something raises (Python 3.11+).
    text = (
        "def _segment_predicate(c):\n"
        "    try:\n"
        f"        return {body}\n"
        "    except Exception as exc:\n"
        "        raise _unreadable(c, exc) from exc\n"
    )
    return text, source.namespace


def predicate_source(segment: Segment, *, now: datetime) -> str:
    """The Python source :func:`compile_segment` generates for ``segment``, for debugging.

    Raises like :func:`compile_segment`.
    """
    return _generate(segment, now, "predicate_source")[0]


def compile_segment(segment: Segment, *, now: datetime) -> ContactPredicate:
    """Compile ``segment`` into a predicate ``Contact -> bool``.

    Relative periods (``within_last``, ``more_than_ago``) are resolved once against
    ``now``. Raises :class:`~omnimsg.errors.InputError` when ``now`` is not a
    datetime (or its tzinfo fails), :class:`~omnimsg.errors.NaiveDatetimeError` for a
    naive ``now``, and :class:`~omnimsg.errors.SegmentError` when a period (or
    ``now`` itself) reaches outside the range of UTC dates, when a hand-built segment
    holds an invalid node or nests deeper than
    :data:`~omnimsg.segments.model.MAX_DEPTH`, or when it is larger than
    :data:`~omnimsg.segments.walk.MAX_TERMS`.
    """
    return _compile(segment, now, "compile_segment")


_FILENAME = "<omnimsg segment>"


def _compile(segment: Segment, now: datetime, where: str) -> ContactPredicate:
    source, namespace = _generate(segment, now, where)
    exec(compile(source, _FILENAME, "exec"), namespace)
    predicate: ContactPredicate = namespace["_segment_predicate"]  # type: ignore[assignment]
    return predicate


@overload
def filter_contacts(
    segment: Segment, contacts: Iterable[Contact], *, now: datetime
) -> Iterator[Contact]: ...
@overload
def filter_contacts(
    segment: ContactPredicate, contacts: Iterable[Contact], *, now: datetime | None = None
) -> Iterator[Contact]: ...
def filter_contacts(
    segment: Segment | ContactPredicate,
    contacts: Iterable[Contact],
    *,
    now: datetime | None = None,
) -> Iterator[Contact]:
    """Lazily yield the contacts that are in the segment (SPEC A1, A2).

    ``segment`` is a :class:`~omnimsg.segments.model.Segment` (compiled here, once,
    against ``now``, which is then required) or a predicate from
    :func:`compile_segment` (or any ``Contact -> bool``). ``contacts`` is consumed one
    at a time, so it may be a generator over a large export.

    Raises like :func:`compile_segment`, and :class:`~omnimsg.errors.InputError` for
    ``contacts`` that is not iterable or ``segment`` that is neither; while iterating,
    :class:`~omnimsg.errors.InputError` for an item that is not a ``Contact`` or that
    the predicate fails on (the failure chained as ``__cause__``).
    """
    if isinstance(segment, Segment):
        if now is None:
            raise InputError("filter_contacts: now= is required to compile a segment")
        predicate = _compile(segment, now, "filter_contacts")
    elif isinstance(segment, FunctionType) and segment.__code__.co_filename == _FILENAME:
        predicate = segment
    elif callable(segment):
        return _checked(segment, _iterate(contacts))
    else:
        raise InputError(
            "filter_contacts: expected a Segment or a predicate from compile_segment, "
            f"got {type(segment).__name__}"
        )
    return filter(predicate, _iterate(contacts))


def _iterate(contacts: Iterable[Contact]) -> Iterator[Contact]:
    try:
        return iter(contacts)
    except TypeError:
        kind = type(contacts).__name__
        raise InputError(
            f"filter_contacts: contacts must be an iterable of Contact, got {kind}"
        ) from None


def _checked(
    predicate: Callable[[Contact], object], contacts: Iterator[Contact]
) -> Iterator[Contact]:
    """Filter with a caller's own predicate, reporting its failures as omnimsg errors."""
    for contact in contacts:
        try:
            keep = bool(predicate(contact))
        except OmnimsgError:
            raise
        except Exception as exc:  # the caller's code may fail in any way
            raise InputError(
                f"filter_contacts: the predicate failed on a {type(contact).__name__}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if keep:
            yield contact
