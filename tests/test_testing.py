"""The in-memory twins pass the same contract checks a user's implementation must."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from omnimsg import (
    ChannelKind,
    ConformanceError,
    Contact,
    InputError,
    MemoryContactStore,
    MemoryStateStore,
    OutboundContent,
)
from omnimsg.protocols import (
    AsyncTransport,
    Clock,
    ContactSink,
    ContactSource,
    StateStore,
    Transport,
)
from omnimsg.testing import (
    FixedClock,
    RecordingTransport,
    check_contact_sink,
    check_contact_source,
    check_state_store,
    check_transport,
)
from omnimsg.transports import SendRequest, SendResult, SendStatus

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_memory_stores_pass_the_contract_checks() -> None:
    check_state_store(MemoryStateStore)
    check_contact_source(lambda contacts: MemoryContactStore(contacts))
    check_contact_sink(MemoryContactStore)
    store = MemoryContactStore()
    assert isinstance(store, ContactSource)
    assert isinstance(store, ContactSink)
    assert isinstance(MemoryStateStore(), StateStore)


def test_recording_transport_passes_the_contract_check_for_both_protocols() -> None:
    transport = RecordingTransport()
    check_transport(transport)
    assert isinstance(transport, Transport)
    assert isinstance(transport, AsyncTransport)
    assert len(transport.requests) == 2


class _ForgetfulStore(MemoryStateStore):
    """A broken store: it forgets which account a conversation was on."""

    def get_conversation(self, contact_id: str, account_id: str, /):  # type: ignore[no-untyped-def]
        return super().get_conversation(contact_id, "wa-1")


def test_a_broken_store_fails_the_check_naming_the_promise() -> None:
    with pytest.raises(ConformanceError, match="per account"):
        check_state_store(_ForgetfulStore)


def test_a_transport_that_raises_a_bare_exception_fails_the_check() -> None:
    def boom(request: SendRequest) -> SendResult:
        raise ConnectionError("down")

    with pytest.raises(ConformanceError, match="ConnectionError"):
        check_transport(RecordingTransport(boom))


def test_recording_transport_answers_through_its_handler() -> None:
    def refuse(request: SendRequest) -> SendResult:
        return SendResult(request.idempotency_key, SendStatus.REJECTED, error="blocked number")

    transport = RecordingTransport(refuse)
    request = SendRequest(
        idempotency_key="k1",
        account_id="sms-1",
        channel="sms",
        recipient="+34612345678",
        content=OutboundContent(text="hi"),
    )
    result = asyncio.run(transport.asend(request))
    assert result.status is SendStatus.REJECTED
    assert not result.ok
    assert transport.requests == [request]
    assert request.channel is ChannelKind.SMS


def test_send_request_refuses_empty_keys_and_wrong_types() -> None:
    with pytest.raises(InputError, match="idempotency_key"):
        SendRequest("", "a", "sms", "r", OutboundContent(text="x"))
    with pytest.raises(InputError, match="content"):
        SendRequest("k", "a", "sms", "r", "text")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="channel"):
        SendRequest("k", "a", "pigeon", "r", OutboundContent(text="x"))


def test_fixed_clock_moves_only_when_told() -> None:
    clock = FixedClock(NOW)
    assert isinstance(clock, Clock)
    assert clock.now() == NOW
    clock.advance(timedelta(hours=2))
    assert clock.now() == NOW + timedelta(hours=2)
    clock.set(NOW)
    assert clock.now() == NOW


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.advance("2h"),
        lambda c: c.advance(None),
        lambda c: c.advance(timedelta.max),
        lambda c: c.set("2026-01-01"),
        lambda c: c.set(None),
        lambda c: c.set(datetime(2026, 1, 1)),
        lambda c: c.set(datetime.max.replace(tzinfo=UTC)),
    ],
)
def test_fixed_clock_refuses_bad_moves_with_input_errors(call: object) -> None:
    clock = FixedClock(NOW)
    with pytest.raises(InputError):
        call(clock)  # type: ignore[operator]
    assert clock.now() == NOW


def test_memory_contact_store_refuses_two_contacts_with_one_identity() -> None:
    from omnimsg import ChannelIdentity

    a = Contact(id="a", identities=(ChannelIdentity("wa-1", ChannelKind.WHATSAPP, "1"),))
    b = Contact(id="b", identities=(ChannelIdentity("wa-1", ChannelKind.WHATSAPP, "1"),))
    store = MemoryContactStore([a])
    with pytest.raises(InputError, match="both claim"):
        store.add(b)
    assert store.find_identity("wa-1", "1") == a
    with pytest.raises(InputError):
        store.add("not a contact")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="no contact"):
        store.merge("zzz", b)
