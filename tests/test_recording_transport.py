"""RecordingTransport: the test double users script to see how their code meets failures.

A scripted REJECTED is the per-recipient failure a broadcast reports (SPEC B15); a
raised TransportError is the "may have gone" case that idempotency keys make safe to
resolve (X5), and ``idempotent`` says whether a resend is safe.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest

from omnimsg.errors import InputError, TransportError
from omnimsg.policy.content import OutboundContent
from omnimsg.protocols import AsyncTransport, Transport
from omnimsg.testing import RecordingTransport, check_transport
from omnimsg.transports import SendRequest, SendResult, SendStatus

ANA = "+34612345678"
BOB = "+34612345679"


def request(key: str, recipient: str = ANA) -> SendRequest:
    return SendRequest(key, "sms-1", "sms", recipient, OutboundContent(text="Hola"))


def statuses(transport: RecordingTransport) -> list[SendStatus]:
    return [result.status for result in transport.results]


def test_the_default_transport_accepts_everything_and_records_it() -> None:
    transport = RecordingTransport()
    first = transport.send(request("k1"))
    assert first.ok
    assert first.provider_message_id == "sent-k1"
    assert transport.idempotent is False
    assert transport.requests == transport.sent == [request("k1")]
    assert transport.results == [first]
    assert isinstance(transport, Transport)
    assert isinstance(transport, AsyncTransport)


def test_a_handler_given_positionally_still_answers() -> None:
    def refuse(req: SendRequest) -> SendResult:
        return SendResult(req.idempotency_key, SendStatus.REJECTED, error="blocked")

    transport = RecordingTransport(refuse, idempotent=True)
    assert transport.idempotent is True
    assert transport.send(request("k1")).error == "blocked"
    assert transport.sent == []
    assert len(transport.requests) == len(transport.results) == 1


def test_outcomes_scripted_for_a_recipient_come_in_order_then_the_handler_answers() -> None:
    """Per-recipient failures, as a broadcast reports them (SPEC B15)."""
    transport = RecordingTransport()
    transport.fail_recipient(ANA, SendStatus.RETRY, SendStatus.REJECTED)
    answers = [
        transport.send(request("a1")),
        transport.send(request("b1", BOB)),
        transport.send(request("a2")),
        transport.send(request("a3")),
    ]
    assert [a.status for a in answers] == [
        SendStatus.RETRY,
        SendStatus.ACCEPTED,
        SendStatus.REJECTED,
        SendStatus.ACCEPTED,
    ]
    assert answers[0].error == "scripted passing failure (call 1)"
    assert answers[2].error == "scripted rejection (call 3)"
    assert [a.idempotency_key for a in answers] == ["a1", "b1", "a2", "a3"]
    assert [r.idempotency_key for r in transport.sent] == ["b1", "a3"]


def test_scripts_for_one_recipient_queue_up() -> None:
    transport = RecordingTransport()
    transport.fail_recipient(ANA, SendStatus.RETRY)
    transport.fail_recipient(ANA, SendStatus.REJECTED)
    transport.fail_recipient(ANA)  # nothing to add
    for key in ("k1", "k2", "k3"):
        transport.send(request(key))
    assert statuses(transport) == [SendStatus.RETRY, SendStatus.REJECTED, SendStatus.ACCEPTED]


def test_the_nth_call_overall_gets_its_outcome() -> None:
    transport = RecordingTransport()
    transport.fail_call(2, SendStatus.RETRY)
    transport.fail_call(4, SendStatus("rejected"))
    for i, who in enumerate([ANA, BOB, ANA, BOB, ANA]):
        transport.send(request(f"k{i}", who))
    assert statuses(transport) == [
        SendStatus.ACCEPTED,
        SendStatus.RETRY,
        SendStatus.ACCEPTED,
        SendStatus.REJECTED,
        SendStatus.ACCEPTED,
    ]


def test_a_call_scripted_by_number_leaves_the_recipient_script_for_the_next_call() -> None:
    transport = RecordingTransport()
    transport.fail_recipient(ANA, SendStatus.REJECTED)
    transport.fail_call(1, SendStatus.RETRY)
    transport.send(request("k1"))
    transport.send(request("k2"))
    transport.send(request("k3"))
    assert statuses(transport) == [SendStatus.RETRY, SendStatus.REJECTED, SendStatus.ACCEPTED]


def test_a_scripted_exception_is_raised_and_the_request_still_recorded() -> None:
    """The "may have gone" case: no result, the key tells a resend apart (SPEC X5)."""
    transport = RecordingTransport()
    timeout = TransportError("read timeout after the request was written")
    transport.fail_call(1, timeout)
    transport.fail_recipient(BOB, ConnectionResetError("reset"))
    with pytest.raises(TransportError) as caught:
        transport.send(request("k1"))
    assert caught.value is timeout
    with pytest.raises(ConnectionResetError):
        transport.send(request("k2", BOB))
    assert [r.idempotency_key for r in transport.requests] == ["k1", "k2"]
    assert transport.results == []
    assert transport.sent == []
    assert transport.send(request("k1")).ok


def test_a_callable_outcome_answers_the_request_it_is_given() -> None:
    def accept_late(req: SendRequest) -> SendResult:
        return SendResult(req.idempotency_key, "accepted", provider_message_id="late-1")

    def slow_down(req: SendRequest) -> SendResult:
        return SendResult(req.idempotency_key, SendStatus.RETRY, error="429", retry_after=30)

    transport = RecordingTransport(lambda req: SendResult(req.idempotency_key, "rejected"))
    transport.fail_recipient(ANA, slow_down, accept_late)
    first = transport.send(request("k1"))
    second = transport.send(request("k2"))
    assert (first.status, first.error, first.retry_after) == (
        SendStatus.RETRY,
        "429",
        timedelta(seconds=30),
    )
    assert second.provider_message_id == "late-1"
    assert transport.sent == [request("k2")]
    assert transport.send(request("k3")).status is SendStatus.REJECTED


def test_asend_shares_the_script_and_the_records() -> None:
    transport = RecordingTransport()
    transport.fail_call(2, SendStatus.RETRY)
    transport.fail_recipient(BOB, TransportError("no answer"))

    async def run() -> list[SendStatus]:
        first = await transport.asend(request("k1"))
        second = transport.send(request("k2"))
        with pytest.raises(TransportError):
            await transport.asend(request("k3", BOB))
        fourth = await transport.asend(request("k4", BOB))
        return [first.status, second.status, fourth.status]

    assert asyncio.run(run()) == [SendStatus.ACCEPTED, SendStatus.RETRY, SendStatus.ACCEPTED]
    assert len(transport.requests) == 4
    assert len(transport.results) == 3


def test_a_users_retry_loop_can_be_unit_tested_with_a_script() -> None:
    """How the double is meant to be used: script a failure, assert the reaction."""

    def send_with_one_retry(transport: Transport, req: SendRequest) -> SendResult:
        result = transport.send(req)
        return transport.send(req) if result.status is SendStatus.RETRY else result

    transport = RecordingTransport()
    transport.fail_recipient(ANA, SendStatus.RETRY)
    transport.fail_recipient(BOB, SendStatus.REJECTED)
    assert send_with_one_retry(transport, request("k1")).ok
    assert not send_with_one_retry(transport, request("k2", BOB)).ok
    assert [r.idempotency_key for r in transport.requests] == ["k1", "k1", "k2"]


def test_a_scripted_transport_still_passes_the_contract_check() -> None:
    transport = RecordingTransport(idempotent=True)
    transport.fail_recipient("contract-check", SendStatus.REJECTED)
    check_transport(transport)
    assert statuses(transport) == [SendStatus.REJECTED, SendStatus.ACCEPTED]


def test_threads_sharing_one_transport_lose_no_record_and_use_each_outcome_once() -> None:
    transport = RecordingTransport()
    threads, per_thread = 8, 200
    total = threads * per_thread
    failing = set(range(3, total + 1, 7))
    for number in failing:
        transport.fail_call(number, SendStatus.RETRY)
    transport.fail_recipient(BOB, *[SendStatus.REJECTED] * 50)
    start = threading.Barrier(threads)

    def work(worker: int) -> None:
        start.wait()
        for i in range(per_thread):
            transport.send(request(f"w{worker}-{i}", BOB if i % 2 else ANA))

    pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in pool)
    counts = Counter(statuses(transport))
    assert len(transport.requests) == len(transport.results) == total
    assert len({r.idempotency_key for r in transport.requests}) == total
    assert counts[SendStatus.RETRY] == len(failing)
    # BOB's 50 rejections are each used once, unless a numbered script took the call.
    assert counts[SendStatus.REJECTED] == 50
    assert len(transport.sent) == counts[SendStatus.ACCEPTED] == total - len(failing) - 50
    retried = {
        re.fullmatch(r"scripted passing failure \(call (\d+)\)", r.error or "")
        for r in transport.results
    }
    assert {int(m[1]) for m in retried if m} == failing


def test_concurrent_tasks_share_the_script() -> None:
    transport = RecordingTransport()
    transport.fail_recipient(ANA, *[SendStatus.RETRY] * 10)

    async def run() -> list[SendResult]:
        return await asyncio.gather(*(transport.asend(request(f"k{i}")) for i in range(40)))

    results = asyncio.run(run())
    assert Counter(r.status for r in results) == {SendStatus.RETRY: 10, SendStatus.ACCEPTED: 30}


def test_a_handler_may_send_again_through_the_same_transport() -> None:
    """The lock is not held while a handler runs, so a re-entrant answer cannot deadlock."""
    transport = RecordingTransport()

    def echo(req: SendRequest) -> SendResult:
        return transport.send(request("inner", BOB))

    transport.fail_call(1, echo)
    assert transport.send(request("outer")).idempotency_key == "inner"
    assert [r.idempotency_key for r in transport.requests] == ["outer", "inner"]


# hostile inputs ------------------------------------------------------------------------

LONG = "x" * 100_000
BAD_OUTCOMES: list[object] = [
    None,
    42,
    True,
    3.5,
    "",
    "accepted",
    SendStatus.ACCEPTED,
    "nope",
    "\x00",
    "\ud800",
    LONG,
    TransportError,
    KeyboardInterrupt(),
    object(),
    [SendStatus.RETRY],
    {"status": "retry"},
]


def _short(exc: BaseException) -> None:
    """A message that names the argument without echoing a huge value."""
    assert len(str(exc)) < 300


@pytest.mark.parametrize("outcome", BAD_OUTCOMES)
def test_a_bad_outcome_is_refused_when_scripted(outcome: object) -> None:
    transport = RecordingTransport()
    with pytest.raises(InputError, match="outcome") as caught:
        transport.fail_call(1, outcome)  # type: ignore[arg-type]
    _short(caught.value)
    with pytest.raises(InputError, match=r"outcomes\[1\]") as caught:
        transport.fail_recipient(ANA, SendStatus.RETRY, outcome)  # type: ignore[arg-type]
    _short(caught.value)
    # A refused script leaves nothing behind.
    assert transport.send(request("k1")).ok


@pytest.mark.parametrize(
    "number", [0, -1, True, False, 1.0, "1", None, LONG, pytest.param(-(10**5000), id="-10**5000")]
)
def test_a_bad_call_number_is_refused(number: object) -> None:
    transport = RecordingTransport()
    with pytest.raises(InputError, match="number") as caught:
        transport.fail_call(number, SendStatus.RETRY)  # type: ignore[arg-type]
    _short(caught.value)


def test_a_call_already_made_or_already_scripted_is_refused() -> None:
    transport = RecordingTransport()
    transport.send(request("k1"))
    with pytest.raises(InputError, match="already been made"):
        transport.fail_call(1, SendStatus.RETRY)
    transport.fail_call(2, SendStatus.RETRY)
    with pytest.raises(InputError, match="already scripted"):
        transport.fail_call(2, SendStatus.REJECTED)
    far = 10**5000  # far ahead is fine, and is not written out in full
    transport.fail_call(far, SendStatus.RETRY)
    with pytest.raises(InputError, match="already scripted") as caught:
        transport.fail_call(far, SendStatus.RETRY)
    _short(caught.value)


@pytest.mark.parametrize("recipient", [None, "", 5, b"+34", ["+34"]])
def test_a_bad_recipient_is_refused(recipient: object) -> None:
    with pytest.raises(InputError, match="recipient"):
        RecordingTransport().fail_recipient(recipient, SendStatus.RETRY)  # type: ignore[arg-type]


@pytest.mark.parametrize("recipient", ["\x00", "\ud800", LONG])
def test_odd_but_textual_recipients_are_matched_exactly(recipient: str) -> None:
    transport = RecordingTransport()
    transport.fail_recipient(recipient, SendStatus.REJECTED)
    assert transport.send(request("k1", recipient)).status is SendStatus.REJECTED
    assert transport.send(request("k2", recipient)).ok


@pytest.mark.parametrize("flag", [None, 1, 0, "yes", "", LONG])
def test_idempotent_must_be_a_bool(flag: object) -> None:
    with pytest.raises(InputError, match="idempotent") as caught:
        RecordingTransport(idempotent=flag)  # type: ignore[arg-type]
    _short(caught.value)


@pytest.mark.parametrize("handler", ["accept", 1, LONG, object()])
def test_a_handler_must_be_callable(handler: object) -> None:
    with pytest.raises(InputError, match="handler"):
        RecordingTransport(handler)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("script", "name"),
    [
        (lambda t: None, "handler"),
        (lambda t: t.fail_call(1, lambda req: "accepted"), "outcome"),
        (lambda t: t.fail_recipient(ANA, str), "outcome"),
    ],
)
def test_an_answer_that_is_not_a_send_result_is_refused(
    script: Callable[[RecordingTransport], None], name: str
) -> None:
    transport = RecordingTransport(
        (lambda req: None) if name == "handler" else None  # type: ignore[arg-type,return-value]
    )
    script(transport)
    with pytest.raises(InputError, match=f"{name}: returned a value of type"):
        transport.send(request("k1"))
    assert transport.results == []


@pytest.mark.parametrize("value", [None, "k1", LONG, "\ud800", {"idempotency_key": "k1"}])
def test_send_refuses_what_is_not_a_request(value: object) -> None:
    transport = RecordingTransport()
    with pytest.raises(InputError, match="request"):
        transport.send(value)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="request"):
        asyncio.run(transport.asend(value))  # type: ignore[arg-type]
    assert transport.requests == []
