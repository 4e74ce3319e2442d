"""Test doubles and contract checks, for omnimsg's tests and for yours.

Fakes, not mocks: each double behaves like the real thing, in memory.

- :class:`FixedClock`: a :class:`~omnimsg.protocols.Clock` that stands still until
  moved.
- :class:`RecordingTransport`: a :class:`~omnimsg.protocols.Transport` and
  :class:`~omnimsg.protocols.AsyncTransport` at once, that records every request and
  answers through a handler you give it (accept everything by default).
- The in-memory stores are real stores and live in :mod:`omnimsg.stores.memory`.

A protocol only checks shape. The ``check_*`` functions check behaviour: run them on
your own store or transport (``check_state_store(lambda: MyStore(...))``) in your test
suite; they raise :class:`~omnimsg.errors.ConformanceError` saying which promise was
broken. omnimsg runs the same checks on its own implementations.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import ParamSpec, TypeVar, cast

from omnimsg._convert import to_instant
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
    "FixedClock",
    "RecordingTransport",
    "check_contact_sink",
    "check_contact_source",
    "check_state_store",
    "check_transport",
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


class RecordingTransport:
    """A transport that records every request and answers with ``handler(request)``.

    Serves both protocols: ``send`` and ``asend`` record into the same
    :attr:`requests` list. The default handler accepts everything, with a provider id
    made from the idempotency key; give your own to refuse some recipients or to
    raise :class:`~omnimsg.errors.TransportError`.
    """

    def __init__(self, handler: Callable[[SendRequest], SendResult] | None = None) -> None:
        if handler is not None and not callable(handler):
            raise InputError(f"handler: expected a callable, got {type(handler).__name__}")
        self._handler = handler or _accept
        self.requests: list[SendRequest] = []

    def send(self, request: SendRequest, /) -> SendResult:
        """Record ``request`` and return the handler's answer."""
        if not isinstance(request, SendRequest):
            raise InputError(f"request: expected a SendRequest, got {type(request).__name__}")
        self.requests.append(request)
        return self._handler(request)

    async def asend(self, request: SendRequest, /) -> SendResult:
        """The awaitable :meth:`send`."""
        return self.send(request)


# --- contract checks -----------------------------------------------------------------

_T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _contract(check: Callable[P, None]) -> Callable[P, None]:
    """Report anything an implementation raises during a check as a broken promise."""

    @functools.wraps(check)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            check(*args, **kwargs)
        except OmnimsgError:
            raise
        except Exception as exc:
            raise ConformanceError(
                f"{check.__name__}: the implementation raised {type(exc).__name__}: {exc}"
            ) from exc

    return run


def _call(function: Callable[..., T], *args: object) -> T:
    """Call a user's factory; its failure is a broken promise, not our crash."""
    try:
        return function(*args)
    except OmnimsgError:
        raise
    except Exception as exc:
        raise ConformanceError(f"the factory raised {type(exc).__name__}: {exc}") from exc


def _callable(value: object, name: str) -> None:
    if not callable(value):
        raise InputError(f"{name}: expected a callable, got {type(value).__name__}")


def _expect(condition: bool, promise: str) -> None:
    if not condition:
        raise ConformanceError(promise)


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

    Sends one message to the recipient ``contract-check``: point the transport at a
    sandbox. Raises :class:`~omnimsg.errors.ConformanceError` naming the broken promise.
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
