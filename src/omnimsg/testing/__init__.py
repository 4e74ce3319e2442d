"""Test doubles and contract checks, for omnimsg's tests and for yours.

Fakes, not mocks: each double behaves like the real thing, in memory.

- :class:`FixedClock`: a :class:`~omnimsg.protocols.Clock` that stands still until
  moved.
- :class:`RecordingTransport`: a :class:`~omnimsg.protocols.Transport` and
  :class:`~omnimsg.protocols.AsyncTransport` at once, that records every request and
  answers through a handler you give it (accept everything by default). Script the
  failures your own code must survive: ``fail_recipient(recipient, *outcomes)`` for
  the next calls to one recipient, ``fail_call(number, outcome)`` for the Nth call,
  with ``SendStatus.REJECTED``, ``SendStatus.RETRY``, an exception to raise or a
  callable answering the request; then read ``requests``, ``results`` and ``sent``.
- The in-memory stores are real stores and live in :mod:`omnimsg.stores.memory`.
- Builders: :func:`derive_profile` (a profile with overrides in one line) and
  :class:`ContactFactory` (contacts with unique ids and sensible defaults).
- Assertions for your compliance tests (:mod:`omnimsg.testing.assertions`):
  :func:`assert_allowed`, :func:`assert_refused`, :func:`assert_plan_respects`,
  :func:`assert_no_violations`; a failure is a
  :class:`~omnimsg.errors.ConformanceError`, an ``AssertionError`` saying what was
  expected, what happened, the reason code and the rule id.
- The pytest plugin (:mod:`omnimsg.testing.pytest_plugin`) gives these as fixtures;
  :mod:`omnimsg.testing.strategies` holds hypothesis strategies (extra ``testing``).

A protocol only checks shape. The ``check_*`` functions check behaviour: run them on
your own store or transport (``check_state_store(lambda: MyStore(...))``) in your test
suite; they raise :class:`~omnimsg.errors.ConformanceError` saying which promise was
broken. omnimsg runs the same checks on its own implementations.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import ParamSpec, TypeVar, cast

from omnimsg._contract import call as _call
from omnimsg._contract import contract as _contract
from omnimsg._contract import expect as _expect
from omnimsg._contract import require_callable as _callable
from omnimsg._convert import shown, to_enum, to_flag, to_instant, to_text
from omnimsg._store_contract import check_delivery_store
from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact
from omnimsg.errors import ConformanceError, InputError, OmnimsgError
from omnimsg.policy.content import OutboundContent
from omnimsg.protocols import ContactSink, ContactSource, StateStore, Transport
from omnimsg.state import AccountState, ConversationState, SenderUsage, SubscriptionStatus
from omnimsg.transports import SendRequest, SendResult, SendStatus

T = TypeVar("T")
P = ParamSpec("P")

__all__ = [
    "ContactFactory",
    "FixedClock",
    "RecordingTransport",
    "assert_allowed",
    "assert_no_violations",
    "assert_plan_respects",
    "assert_refused",
    "check_contact_sink",
    "check_contact_source",
    "check_delivery_store",
    "check_state_store",
    "check_transport",
    "derive_profile",
]


class FixedClock:
    """A clock that returns a set instant until moved with :meth:`advance` or :meth:`set`.

    Raises :class:`~omnimsg.errors.InputError` for a naive or non-datetime instant,
    a step that is not a timedelta, or a move outside the supported range.
    """

    def __init__(self, start: datetime) -> None:
        self._now = to_instant(start, "start")

    def now(self) -> datetime:
        """The instant the clock stands at (UTC)."""
        return self._now

    def advance(self, delta: timedelta) -> None:
        """Move the clock by ``delta`` (which may be negative)."""
        if not isinstance(delta, timedelta):
            raise InputError(f"delta: expected a timedelta, got {type(delta).__name__}")
        try:
            moved = self._now + delta
        except OverflowError:
            raise InputError(
                f"delta: moving {self._now.isoformat()} by {delta} overflows"
            ) from None
        self._now = to_instant(moved, "advance")

    def set(self, instant: datetime) -> None:
        """Stand at ``instant``."""
        self._now = to_instant(instant, "instant")


def _accept(request: SendRequest) -> SendResult:
    return SendResult(
        idempotency_key=request.idempotency_key,
        status=SendStatus.ACCEPTED,
        provider_message_id=f"sent-{request.idempotency_key}",
    )


Outcome = SendStatus | Callable[[SendRequest], SendResult] | Exception
"""What a scripted call gets: a failing status, a callable answering it, or an exception."""

_SCRIPTED = {
    SendStatus.REJECTED: "scripted rejection",
    SendStatus.RETRY: "scripted passing failure",
}


def _outcome(value: object, name: str) -> Outcome:
    """``value`` checked as an :data:`Outcome`, or an InputError naming ``name``."""
    if isinstance(value, Exception):
        return value
    if isinstance(value, type) and issubclass(value, BaseException):
        raise InputError(f"{name}: expected an exception instance, got an exception class")
    if isinstance(value, str):
        status = to_enum(SendStatus, value, name)
        if status not in _SCRIPTED:
            raise InputError(
                f"{name}: a scripted status is rejected or retry; script an acceptance "
                "with a callable returning a SendResult"
            )
        return status
    if callable(value):
        return cast(Callable[[SendRequest], SendResult], value)
    raise InputError(
        f"{name}: expected SendStatus.REJECTED or RETRY, an exception instance or a callable "
        f"returning a SendResult; got {shown(value)}"
    )


class RecordingTransport:
    """A transport that records every request and answers it, as scripted or by ``handler``.

    Serves both protocols: ``send`` and ``asend`` share the same records and script.
    ``handler(request)`` answers every call not scripted; the default accepts with a
    provider id made from the idempotency key.

    Script failures to test how your code reacts to them, where an outcome is
    ``SendStatus.REJECTED`` or ``SendStatus.RETRY`` (the result carries a generic
    error text), a callable taking the request and returning a
    :class:`~omnimsg.transports.SendResult`, or an exception instance, raised as is
    (a :class:`~omnimsg.errors.TransportError` for "no answer, the message may have
    gone")::

        transport = RecordingTransport()
        transport.fail_recipient("+34612345678", SendStatus.RETRY, SendStatus.REJECTED)
        transport.fail_call(3, TransportError("read timeout"))

    ``idempotent`` is exposed as an attribute: whether the platform drops a request
    whose key it has seen, so that resending after a :class:`TransportError` is safe.

    Attributes, readable at any time: ``requests`` (every request, in the order of the
    calls), ``results`` (every result returned) and ``sent`` (the requests whose result
    was ACCEPTED), the last two in the order the answers came back. A call that raises
    is in ``requests`` only. Safe to share between threads and an event loop: a lock
    guards the records and the script (never held while a handler or outcome runs).

    Raises :class:`~omnimsg.errors.InputError` for a handler that is not callable, an
    ``idempotent`` that is not a bool, a bad outcome, and a handler or callable
    outcome that returns something other than a ``SendResult``.
    """

    def __init__(
        self,
        handler: Callable[[SendRequest], SendResult] | None = None,
        *,
        idempotent: bool = False,
    ) -> None:
        if handler is not None and not callable(handler):
            raise InputError(f"handler: expected a callable, got {type(handler).__name__}")
        self._handler = handler or _accept
        self.idempotent = to_flag(idempotent, "idempotent")
        self.requests: list[SendRequest] = []
        self.results: list[SendResult] = []
        self.sent: list[SendRequest] = []
        self._lock = threading.Lock()
        self._by_recipient: dict[str, deque[Outcome]] = {}
        self._by_call: dict[int, Outcome] = {}

    def fail_recipient(self, recipient: str, *outcomes: Outcome) -> None:
        """Answer the next calls for ``recipient`` with ``outcomes``, one each, in order.

        Once they are used up, the handler answers again. Outcomes scripted by
        several calls queue up after each other. A call also scripted by
        :meth:`fail_call` gets that outcome and leaves this queue as it is.
        """
        key = to_text(recipient, "recipient")
        if not key:
            raise InputError("recipient: must not be empty")
        checked = [_outcome(value, f"outcomes[{i}]") for i, value in enumerate(outcomes)]
        with self._lock:
            if checked:
                self._by_recipient.setdefault(key, deque()).extend(checked)

    def fail_call(self, number: int, outcome: Outcome) -> None:
        """Answer the ``number``-th call overall (counted from 1) with ``outcome``.

        Raises :class:`~omnimsg.errors.InputError` if that call was already made or
        already scripted.
        """
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise InputError(f"number: expected a whole number from 1, got {shown(number)}")
        at = int(number)
        checked = _outcome(outcome, "outcome")
        with self._lock:
            if at <= len(self.requests):
                raise InputError(f"number: call {at} has already been made")
            if at in self._by_call:
                raise InputError(f"number: call {shown(at)} is already scripted")
            self._by_call[at] = checked

    def send(self, request: SendRequest, /) -> SendResult:
        """Record ``request`` and answer it: its scripted outcome, else the handler's."""
        if not isinstance(request, SendRequest):
            raise InputError(f"request: expected a SendRequest, got {type(request).__name__}")
        with self._lock:
            self.requests.append(request)
            number = len(self.requests)
            outcome = self._by_call.pop(number, None)
            if outcome is None:
                queue = self._by_recipient.get(request.recipient)
                if queue:
                    outcome = queue.popleft()
                    if not queue:
                        del self._by_recipient[request.recipient]
        result = _answer(request, number, outcome, self._handler)
        with self._lock:
            self.results.append(result)
            if result.status is SendStatus.ACCEPTED:
                self.sent.append(request)
        return result

    async def asend(self, request: SendRequest, /) -> SendResult:
        """The awaitable :meth:`send`."""
        return self.send(request)


def _answer(
    request: SendRequest,
    number: int,
    outcome: Outcome | None,
    handler: Callable[[SendRequest], SendResult],
) -> SendResult:
    """The answer to call ``number``: ``outcome`` when scripted, else ``handler``'s."""
    if isinstance(outcome, Exception):
        raise outcome
    if isinstance(outcome, SendStatus):
        return SendResult(
            request.idempotency_key, outcome, error=f"{_SCRIPTED[outcome]} (call {number})"
        )
    source, answer = ("handler", handler) if outcome is None else ("outcome", outcome)
    result: object = answer(request)
    if not isinstance(result, SendResult):
        raise InputError(
            f"{source}: returned a value of type {type(result).__name__}, expected a SendResult"
        )
    return result


# --- contract checks -----------------------------------------------------------------

_T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _sample_contacts() -> tuple[Contact, Contact]:
    first = Contact(
        id="contract-1",
        first_name="Ana",
        phone="+34612345678",
        tags=frozenset({"vip"}),
        identities=(
            ChannelIdentity("wa-1", ChannelKind.WHATSAPP, "34612345678", last_inbound_at=_T0),
        ),
        subscriptions={"sms-1": SubscriptionStatus.SUBSCRIBED},
    )
    second = Contact(
        id="contract-2",
        identities=(ChannelIdentity("tg-1", ChannelKind.TELEGRAM, "777"),),
    )
    return first, second


@_contract
def check_contact_source(factory: Callable[[tuple[Contact, ...]], ContactSource]) -> None:
    """Check that ``factory(contacts)`` returns a source that reads back what it was given.

    ``factory`` builds a fresh source holding exactly ``contacts``. Raises
    :class:`~omnimsg.errors.ConformanceError` naming the first broken promise.
    """
    _callable(factory, "factory")
    contacts = _sample_contacts()
    source = _call(factory, contacts)
    _expect(isinstance(source, ContactSource), "the source has the ContactSource methods")
    listed = list(source.iter_contacts())
    _expect(
        sorted(c.id for c in listed) == sorted(c.id for c in contacts),
        "iter_contacts yields every contact exactly once",
    )
    _expect(list(source.iter_contacts()) == listed, "iter_contacts can be read twice")
    first, second = contacts
    _expect(source.get_contact(first.id) == first, "get_contact returns the stored contact")
    _expect(source.get_contact("no-such-contact") is None, "get_contact of an unknown id is None")
    found = source.find_identity("wa-1", "34612345678")
    _expect(found is not None and found.id == first.id, "find_identity finds by account and id")
    _expect(
        source.find_identity("wa-2", "34612345678") is None,
        "find_identity does not match an id on another account",
    )
    _expect(
        set(source.accounts_for("34612345678")) == {"wa-1"},
        "accounts_for lists the accounts an external id is on",
    )
    _expect(not source.accounts_for("nobody"), "accounts_for of an unknown id is empty")
    _expect(
        found is not None and found.consent_with("sms-1").status is SubscriptionStatus.SUBSCRIBED,
        "consent records come back with their status",
    )
    _expect(source.get_contact(second.id) == second, "a contact without phone reads back")


@_contract
def check_contact_sink(
    factory: Callable[[], ContactSink],
    read: Callable[[ContactSink], ContactSource] | None = None,
) -> None:
    """Check that what a sink is given can be read back.

    ``factory`` builds a fresh, empty sink; ``read(sink)`` returns a source over what
    it holds (by default the sink itself, for a store that is both). Raises
    :class:`~omnimsg.errors.ConformanceError` naming the broken promise.
    """
    _callable(factory, "factory")
    if read is not None:
        _callable(read, "read")
    sink = _call(factory)
    _expect(isinstance(sink, ContactSink), "the sink has the ContactSink methods")
    first, second = _sample_contacts()
    sink.add(first)
    sink.add(second)
    sink.merge(first.id, Contact(id="row-3", email="ana@example.com", tags=frozenset({"new"})))
    source = sink if read is None else _call(read, sink)
    _expect(isinstance(source, ContactSource), "the sink is read through a ContactSource")
    merged = cast(ContactSource, source).get_contact(first.id)
    _expect(merged is not None, "an added contact can be read")
    _expect(
        merged is not None and merged.email == "ana@example.com" and merged.tags == {"vip", "new"},
        "merge fills empty fields and unions tags",
    )


@_contract
def check_state_store(factory: Callable[[], StateStore]) -> None:
    """Check that ``factory()`` returns an empty store that keeps each record by its key.

    Raises :class:`~omnimsg.errors.ConformanceError` naming the first broken promise.
    """
    _callable(factory, "factory")
    store = _call(factory)
    _expect(isinstance(store, StateStore), "the store has the StateStore methods")
    _expect(store.get_conversation("c1", "wa-1") is None, "a new store holds no conversation")
    _expect(store.get_account("wa-1") is None, "a new store holds no account state")
    _expect(store.get_usage("wa-1") is None, "a new store holds no usage")
    state = ConversationState(
        last_inbound_at=_T0, outbound_since_inbound=3, consent=SubscriptionStatus.DECLINED
    )
    store.put_conversation("c1", "wa-1", state)
    _expect(store.get_conversation("c1", "wa-1") == state, "a conversation reads back equal")
    _expect(store.get_conversation("c1", "wa-2") is None, "conversations are kept per account")
    _expect(store.get_conversation("c2", "wa-1") is None, "conversations are kept per contact")
    later = state.after_inbound(_T0 + timedelta(hours=1), now=_T0 + timedelta(hours=1))
    store.put_conversation("c1", "wa-1", later)
    _expect(store.get_conversation("c1", "wa-1") == later, "put replaces a conversation")
    account = AccountState(
        timezone="America/Mexico_City", chatbot_month=(2026, 1), chatbot_initiated_count=7
    )
    store.put_account("wa-1", account)
    got = store.get_account("wa-1")
    _expect(
        got is not None
        and got.chatbot_count_at(_T0) == 7
        and got.local_day(_T0) == account.local_day(_T0),
        "an account state reads back with its time zone and counts",
    )
    usage = SenderUsage().after_sends(
        [(_T0, "a"), (_T0 + timedelta(minutes=1), "b"), (_T0 + timedelta(minutes=2), "a")],
        account=account,
    )
    store.put_usage("wa-1", usage)
    _expect(store.get_usage("wa-1") == usage, "a usage record reads back equal")
    _expect(store.get_usage("wa-2") is None, "usage is kept per account")


@_contract
def check_transport(transport: Transport) -> None:
    """Check that ``transport`` answers a request with a result carrying its key.

    Sends one message to the recipient ``contract-check`` through ``send`` and, when
    the transport also has ``asend``, the same request (same idempotency key) through
    ``asend``: point the transport at a sandbox. Raises
    :class:`~omnimsg.errors.ConformanceError` naming the broken promise.
    """
    _expect(isinstance(transport, Transport), "the transport has a send method")
    request = SendRequest(
        idempotency_key="contract-check-1",
        account_id="contract-account",
        channel=ChannelKind.SMS,
        recipient="contract-check",
        content=OutboundContent(text="contract check", length=14, limit=None),
    )
    try:
        result = transport.send(request)
    except OmnimsgError:
        raise
    except Exception as exc:
        raise ConformanceError(
            f"send raised {type(exc).__name__} instead of returning a result or raising "
            "TransportError"
        ) from exc
    _expect(isinstance(result, SendResult), "send returns a SendResult")
    _expect(
        result.idempotency_key == request.idempotency_key,
        "the result carries the request's idempotency key",
    )
    asend = getattr(transport, "asend", None)
    if asend is not None:
        again = asyncio.run(asend(request))
        _expect(
            isinstance(again, SendResult) and again.idempotency_key == request.idempotency_key,
            "asend returns a SendResult with the request's key",
        )


# Last: these modules import from the package (its submodules), which is now complete.
from omnimsg.testing._builders import ContactFactory, derive_profile  # noqa: E402
from omnimsg.testing.assertions import (  # noqa: E402
    assert_allowed,
    assert_no_violations,
    assert_plan_respects,
    assert_refused,
)
