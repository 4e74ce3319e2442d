"""Every exception omnimsg raises, in one tree.

Decisions are values: a refused send is a :class:`~omnimsg.policy.Decision` with a
reason code, never an exception. Exceptions are for bad input and broken backends::

    OmnimsgError
    ├── ConfigurationError (ValueError)
    │   ├── ProfileError              a profile file or override is malformed
    │   ├── UnknownProfileError (LookupError)
    │   └── UnknownChannelError (LookupError)
    ├── InputError (ValueError)
    │   ├── NaiveDatetimeError        a datetime without tzinfo was passed in
    │   ├── PhoneNumberError          a phone number is not a valid number
    │   ├── SnippetError              a snippet variable is missing or malformed
    │   ├── DraftError                a broadcast draft breaks a rule (carries every problem)
    │   ├── LifecycleError            a broadcast status change that is not allowed
    │   └── UnknownRuleError (LookupError)  no rule id or reason code is spelled so
    │                                       (in omnimsg.policy.catalogue)
    ├── SegmentError (ValueError)
    │   └── SegmentValidationError    a segment JSON is malformed (carries every problem)
    ├── AudienceError (ValueError)    an id list or CSV cannot be read at all
    ├── StoreError (RuntimeError)     a store backend failed
    │   ├── StoreUnavailableError     the store's server or file cannot be reached
    │   ├── CorruptRecordError        a stored record cannot be read back
    │   └── SchemaVersionError        a store was made by another schema version
    ├── TransportError (RuntimeError) a transport failed
    ├── CallbackError (RuntimeError)  a function passed in (progress, sleep, clock) raised
    └── ConformanceError (AssertionError)  an implementation broke a protocol's
                                           contract (omnimsg.testing checks)

Each family also subclasses the builtin a caller would already catch, so
``except ValueError`` keeps working around omnimsg calls.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AudienceError",
    "CallbackError",
    "ConfigurationError",
    "ConformanceError",
    "CorruptRecordError",
    "DraftError",
    "InputError",
    "LifecycleError",
    "NaiveDatetimeError",
    "OmnimsgError",
    "PhoneNumberError",
    "ProblemDetail",
    "ProfileError",
    "SchemaVersionError",
    "SegmentError",
    "SegmentValidationError",
    "SnippetError",
    "StoreError",
    "StoreUnavailableError",
    "TransportError",
    "UnknownChannelError",
    "UnknownProfileError",
]


class OmnimsgError(Exception):
    """Root of every exception raised by omnimsg.

    An error whose constructor takes more than its message keeps those arguments as
    ``args`` and shows its message, so that it can be rebuilt from ``args``: pickled,
    or sent back to a Celery client as JSON.
    """

    _text: str | None = None

    def _set(self, message: str, *args: object) -> None:
        Exception.__init__(self, *args)
        self._text = message

    def __str__(self) -> str:
        return self._text if self._text is not None else super().__str__()


class ConfigurationError(OmnimsgError, ValueError):
    """A profile, channel or other configuration is wrong."""


class ProfileError(ConfigurationError):
    """A profile file or override does not match the profile format.

    ``source`` names the file (or ``<dict>``); ``problems`` lists ``(key path, message)``.
    """

    def __init__(self, source: str, problems: Sequence[tuple[str, str]]) -> None:
        self.source = source
        self.problems = tuple((str(path), str(msg)) for path, msg in problems)
        lines = "; ".join(f"{path or '<root>'}: {msg}" for path, msg in self.problems)
        self._set(f"invalid profile {source}: {lines}", source, self.problems)


class UnknownProfileError(ConfigurationError, LookupError):
    """No built-in profile has that name."""


class UnknownChannelError(ConfigurationError, LookupError):
    """A channel kind is not known, or a profile does not define it."""


class InputError(OmnimsgError, ValueError):
    """A value passed to omnimsg is not acceptable."""


class NaiveDatetimeError(InputError):
    """A datetime without tzinfo was passed where an instant is required.

    omnimsg never guesses a time zone: attach one (``datetime.now(UTC)``).
    """


class PhoneNumberError(InputError):
    """A phone number could not be parsed or is not a valid number."""


class SnippetError(InputError):
    """A snippet (C5) names a variable that is missing or is malformed."""


class DraftError(InputError):
    """A broadcast draft cannot be planned; ``problems`` lists every one found.

    Each problem is ``(path, rule, message)``: the draft field (``content.sms[0].text``,
    ``rate``), the SPEC rule it breaks (``C1``, ``B10``) or ``""``, and what is wrong.
    ``text``, when given, is the message shown instead of the one made from them (it
    names the file the draft came from).
    """

    def __init__(self, problems: Sequence[tuple[str, str, str]], text: str | None = None) -> None:
        self.problems = tuple((str(p), str(r), str(m)) for p, r, m in problems)
        lines = "; ".join(
            f"{p or '<root>'}: {m}" + (f" (SPEC {r})" if r else "") for p, r, m in self.problems
        )
        shown = f"invalid broadcast draft: {lines}" if text is None else str(text)
        self._set(shown, self.problems, text)


class LifecycleError(InputError):
    """A broadcast cannot move from its status to the one asked (B1's lifecycle)."""


class ProblemDetail(tuple[str, str]):
    """``(path, message)``: one problem found while validating input."""

    __slots__ = ()

    def __new__(cls, path: str, message: str) -> ProblemDetail:
        return super().__new__(cls, (path, message))

    def __getnewargs__(self) -> tuple[str, str]:
        return (self[0], self[1])

    @property
    def path(self) -> str:
        """Where the problem is: a dotted key path, a line, or a column."""
        return self[0]

    @property
    def message(self) -> str:
        """What is wrong, in words."""
        return self[1]


class SegmentError(OmnimsgError, ValueError):
    """A segment cannot be used."""


class SegmentValidationError(SegmentError):
    """A segment definition is malformed; ``problems`` lists every ``(path, message)``."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = tuple(ProblemDetail(p, m) for p, m in problems)
        lines = "; ".join(f"{p or '<root>'}: {m}" for p, m in self.problems)
        self._set(f"invalid segment: {lines}", tuple(tuple(p) for p in self.problems))


class AudienceError(OmnimsgError, ValueError):
    """An audience source (id list, CSV) cannot be read at all."""


class StoreError(OmnimsgError, RuntimeError):
    """A store backend failed; the driver's exception is chained as ``__cause__``."""


class StoreUnavailableError(StoreError):
    """The store's server or file cannot be reached now; retry once it is back.

    Nothing already recorded is lost: every write a store acknowledged is kept, and
    a write that raised this may or may not have been applied (the dispatcher's
    ledger makes either case safe to resume).
    """


class CorruptRecordError(StoreError):
    """A stored record cannot be read back; ``kind`` and ``key`` name it.

    omnimsg never overwrites such a record: a send whose ledger entry is corrupt is
    reported for reconciliation, not sent again.
    """

    def __init__(self, kind: str, key: str, problem: str) -> None:
        self.kind = kind
        self.key = key
        self.problem = problem
        self._set(f"corrupt {kind} record {key[:200]!r}: {problem}", kind, key, problem)


class SchemaVersionError(StoreError):
    """A store's schema was made by another version of omnimsg than this one reads.

    ``found`` is the version on disk, ``expected`` the one this omnimsg writes.
    """

    def __init__(self, where: str, found: int, expected: int) -> None:
        self.found = found
        self.expected = expected
        self._set(
            f"{where}: schema_version {found}, this omnimsg reads {expected}"
            + (" (upgrade omnimsg)" if found > expected else ""),
            where,
            found,
            expected,
        )


class CallbackError(OmnimsgError, RuntimeError):
    """A function passed to omnimsg (a progress callback, ``sleep``, a clock) raised.

    ``name`` says which; the exception it raised is chained as ``__cause__``.
    """

    def __init__(self, name: str, exc: BaseException | str) -> None:
        self.name = name
        words = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"[:450]
        self._set(f"{name}: the function passed in raised {words}"[:500], name, words)


class TransportError(OmnimsgError, RuntimeError):
    """A transport failed; the driver's exception is chained as ``__cause__``."""


class ConformanceError(OmnimsgError, AssertionError):
    """A store, source or transport broke a promise of its protocol.

    Raised by the contract checks of :mod:`omnimsg.testing`; the message names the
    promise. An ``AssertionError`` too, so that test runners report it as a failure.
    """
