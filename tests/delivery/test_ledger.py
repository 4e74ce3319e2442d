"""The send ledger: transport answers, stopped workers, corrupt rows, reports (X5, B15).

A worker that stopped is simulated without processes: its ledger entry is written as
it would have left it (CLAIMED before calling the transport, SENDING after), then
another dispatcher runs the plan.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from broadcasts.plan_strategies import NOW
from omnimsg.delivery import (
    DispatchProgress,
    LedgerEntry,
    LedgerStatus,
    delivery_report,
    entries,
    failed_sends,
    resolve,
)
from omnimsg.delivery.ledger import claim, get_entry
from omnimsg.delivery.records import decode_entry, encode_entry
from omnimsg.errors import CallbackError, CorruptRecordError, InputError, TransportError
from omnimsg.protocols import DeliveryStore
from omnimsg.testing import RecordingTransport
from omnimsg.transports import SendRequest, SendResult, SendStatus

from .test_dispatcher import (
    STORES,
    Crash,
    World,
    keys_called,
    ledger,
    open_stores,
    plan_text,
    run_text,
    sends_of,
    sms_contacts,
    sms_draft,
)


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DeliveryStore]:
    for make in open_stores(request.param, tmp_path):
        yield make()


def planned(count: int = 3) -> tuple[str, list[Any]]:
    text = plan_text(sms_draft(), sms_contacts(count))
    return text, sends_of(text)[1]


def address_of(sends: list[Any], contact_id: str) -> str:
    return next(send.address for send in sends if send.contact_id == contact_id)


def key_of(sends: list[Any], contact_id: str) -> str:
    return next(send.key for send in sends if send.contact_id == contact_id)


# --- transport answers (B15) ----------------------------------------------------------------


def test_passing_failures_back_off_with_jitter_then_send(store: DeliveryStore) -> None:
    # SPEC B15: RETRY is tried again later, each wait longer than the one before
    world = World(store)
    text, sends = planned(1)
    transport = world.transport()
    transport.fail_recipient(sends[0].address, *[SendStatus.RETRY] * 3)
    calls: list[datetime] = []
    transport_send = transport.send

    def timed(request: SendRequest) -> SendResult:
        calls.append(world.clock.now())
        return transport_send(request)

    transport.send = timed  # type: ignore[method-assign]
    report = run_text(world.dispatcher(transport, backoff=timedelta(seconds=10)), text)
    assert report.counts == {"sent": 1}
    assert len(calls) == 4
    waits = [b - a for a, b in itertools.pairwise(calls)]
    for n, wait in enumerate(waits):
        step = timedelta(seconds=10) * 2**n
        assert step / 2 <= wait <= step
    entry = ledger(store)[sends[0].key]
    assert entry.attempts == 4
    assert entry.status is LedgerStatus.SENT


def test_a_platforms_retry_after_is_honoured(store: DeliveryStore) -> None:
    # SPEC B15
    world = World(store)
    text, _sends = planned(1)
    answers = [timedelta(minutes=30)]

    def handler(request: SendRequest) -> SendResult:
        if answers:
            world.calls.append((world.clock.now(), request))
            return SendResult(request.idempotency_key, SendStatus.RETRY, retry_after=answers.pop())
        return world.accept(request)

    report = run_text(world.dispatcher(RecordingTransport(handler)), text)
    assert report.counts == {"sent": 1}
    assert world.accepted[0][0] - world.calls[0][0] >= timedelta(minutes=30)


def test_retries_run_out_after_max_attempts(store: DeliveryStore) -> None:
    # SPEC B15
    world = World(store)
    text, sends = planned(2)
    transport = world.transport()
    transport.fail_recipient(sends[0].address, *[SendStatus.RETRY] * 10)
    report = run_text(world.dispatcher(transport, max_attempts=3), text)
    assert report.counts == {"sent": 1, "failed": 1}
    (failed,) = report.failed
    assert (failed.key, failed.reason, failed.attempts) == (sends[0].key, "retries_exhausted", 3)
    assert failed.error is not None
    assert "passing failure" in failed.error
    assert keys_called(transport).count(sends[0].key) == 3


def test_a_rejection_is_reported_per_recipient(store: DeliveryStore) -> None:
    # SPEC B15: failed broadcasts are reported per recipient with the reason
    world = World(store)
    text, sends = planned(3)
    transport = world.transport()
    transport.fail_recipient(address_of(sends, "c1"), SendStatus.REJECTED)
    report = run_text(world.dispatcher(transport), text)
    assert report.counts == {"sent": 2, "failed": 1}
    (failed,) = failed_sends(store, "bc-1")
    assert failed == report.failed[0]
    assert (failed.contact_id, failed.account_id, failed.status) == ("c1", "sms-1", "failed")
    assert (failed.reason, failed.rule) == ("rejected", "B15")
    assert failed.error is not None
    assert "scripted rejection" in failed.error
    assert keys_called(transport).count(failed.key) == 1


def test_no_answer_leaves_the_send_uncertain(store: DeliveryStore) -> None:
    # SPEC X5: the message may have gone; never sent again blindly
    world = World(store)
    text, sends = planned(2)
    transport = world.transport()
    transport.fail_recipient(address_of(sends, "c0"), TransportError("read timeout"))
    report = run_text(world.dispatcher(transport), text)
    assert report.counts == {"sent": 1, "uncertain": 1}
    (uncertain,) = report.failed
    assert (uncertain.contact_id, uncertain.reason) == ("c0", "no_answer")
    assert uncertain.error == "read timeout"
    assert run_text(world.dispatcher(transport), text).counts == {"sent": 1, "uncertain": 1}
    assert len(transport.requests) == 2


def test_no_answer_from_an_idempotent_transport_is_retried(store: DeliveryStore) -> None:
    # SPEC X5: the platform drops a second delivery of one key, so sending again is safe
    world = World(store)
    text, sends = planned(2)
    transport = world.transport(idempotent=True)
    transport.fail_recipient(address_of(sends, "c0"), TransportError("read timeout"))
    report = run_text(world.dispatcher(transport), text)
    assert report.counts == {"sent": 2}
    assert keys_called(transport).count(key_of(sends, "c0")) == 2
    assert len(world.accepted) == 2


def test_idempotent_false_overrides_the_transport(store: DeliveryStore) -> None:
    # SPEC X5
    world = World(store)
    text, sends = planned(1)
    transport = world.transport(idempotent=True)
    transport.fail_recipient(sends[0].address, TransportError("reset"))
    report = run_text(world.dispatcher(transport, idempotent=False), text)
    assert report.counts == {"uncertain": 1}


def test_an_unexpected_exception_fails_one_send_and_the_run_goes_on(
    store: DeliveryStore,
) -> None:
    # SPEC B15
    world = World(store)
    text, sends = planned(3)
    transport = world.transport()
    transport.fail_recipient(address_of(sends, "c1"), ZeroDivisionError("division by zero"))
    report = run_text(world.dispatcher(transport), text)
    assert report.counts == {"sent": 2, "failed": 1}
    (failed,) = report.failed
    assert (failed.contact_id, failed.reason) == ("c1", "transport_crashed")
    assert failed.error is not None
    assert "ZeroDivisionError" in failed.error


def test_an_answer_for_another_key_is_no_answer(store: DeliveryStore) -> None:
    # SPEC X5: a result naming another key cannot prove this send went
    world = World(store)
    text, _ = planned(1)

    def wrong(request: SendRequest) -> SendResult:
        return SendResult("someone-else", SendStatus.ACCEPTED)

    report = run_text(world.dispatcher(RecordingTransport(wrong)), text)
    assert report.counts == {"uncertain": 1}


def test_resolve_settles_uncertain_sends(store: DeliveryStore) -> None:
    # SPEC X5: reconciled by hand, from the platform's own records
    world = World(store)
    text, sends = planned(3)
    transport = world.transport()
    for contact in ("c0", "c1"):
        transport.fail_recipient(address_of(sends, contact), TransportError("timeout"))
    assert run_text(world.dispatcher(transport), text).counts == {"sent": 1, "uncertain": 2}
    went, lost = key_of(sends, "c0"), key_of(sends, "c1")
    done = resolve(store, went, sent=True, now=NOW, provider_message_id="wamid-1")
    assert (done.status, done.provider_message_id) == (LedgerStatus.SENT, "wamid-1")
    again = resolve(store, lost, sent=False, now=NOW)
    assert (again.status, again.retry_at) == (LedgerStatus.DEFERRED, NOW)
    with pytest.raises(InputError, match="not uncertain"):
        resolve(store, went, sent=False, now=NOW)
    with pytest.raises(InputError, match="no ledger entry"):
        resolve(store, "no-such-key", sent=True, now=NOW)
    report = run_text(world.dispatcher(transport), text)
    assert report.counts == {"sent": 3}
    assert keys_called(transport).count(lost) == 2
    assert keys_called(transport).count(went) == 1


# --- workers that stopped -------------------------------------------------------------------


def left_behind(
    store: DeliveryStore, send: Any, status: LedgerStatus, owner: str, lease_until: datetime
) -> None:
    entry = LedgerEntry(
        key=send.key,
        broadcast_id="bc-1",
        contact_id=send.contact_id,
        account_id=send.account_id,
        status=status,
        updated_at=NOW - timedelta(minutes=1),
        owner=owner,
        lease_until=lease_until,
        attempts=1 if status is LedgerStatus.SENDING else 0,
    )
    assert store.put_record("ledger", send.key, None, encode_entry(entry), group="bc-1")


def test_the_same_worker_takes_its_claim_back_at_once(store: DeliveryStore) -> None:
    # SPEC X5: CLAIMED means the transport was never called: safe to send
    world = World(store)
    text, sends = planned(2)
    left_behind(store, sends[0], LedgerStatus.CLAIMED, "w1", NOW + timedelta(minutes=5))
    report = run_text(world.dispatcher(world.transport(), owner="w1"), text)
    assert report.counts == {"sent": 2}
    assert world.sent_at()[sends[0].key] == [NOW]


def test_another_worker_waits_for_the_lease_then_sends(store: DeliveryStore) -> None:
    # SPEC X5
    world = World(store)
    text, sends = planned(2)
    lease = NOW + timedelta(minutes=5)
    left_behind(store, sends[0], LedgerStatus.CLAIMED, "w1", lease)
    report = run_text(world.dispatcher(world.transport(), owner="w2"), text)
    assert report.counts == {"sent": 2}
    (at,) = world.sent_at()[sends[0].key]
    assert at >= lease
    assert world.sent_at()[sends[1].key] == [NOW]


@pytest.mark.parametrize(
    ("owner", "lease"),
    [("w0", NOW - timedelta(seconds=1)), ("w1", NOW + timedelta(minutes=5))],
    ids=["lease-passed", "same-worker"],
)
def test_a_send_left_sending_becomes_uncertain_never_sent(
    store: DeliveryStore, owner: str, lease: datetime
) -> None:
    # SPEC X5: SENDING means the transport was called: the answer is unknown
    world = World(store)
    text, sends = planned(2)
    left_behind(store, sends[0], LedgerStatus.SENDING, owner, lease)
    transport = world.transport()
    report = run_text(world.dispatcher(transport, owner="w1"), text)
    assert report.counts == {"sent": 1, "uncertain": 1}
    assert sends[0].key not in keys_called(transport)
    (uncertain,) = report.failed
    assert (uncertain.key, uncertain.reason) == (sends[0].key, "worker_stopped")


def test_a_send_another_worker_is_sending_is_left_to_it_until_its_lease(
    store: DeliveryStore,
) -> None:
    # SPEC X5
    world = World(store)
    text, sends = planned(1)
    lease = NOW + timedelta(minutes=5)
    left_behind(store, sends[0], LedgerStatus.SENDING, "w1", lease)
    transport = world.transport()
    report = run_text(world.dispatcher(transport, owner="w2"), text)
    assert report.counts == {"uncertain": 1}
    assert world.clock.now() >= lease
    assert transport.requests == []


def test_a_send_left_sending_is_sent_again_by_an_idempotent_transport(
    store: DeliveryStore,
) -> None:
    # SPEC X5
    world = World(store)
    text, sends = planned(1)
    left_behind(store, sends[0], LedgerStatus.SENDING, "w0", NOW - timedelta(seconds=1))
    transport = world.transport(idempotent=True)
    assert run_text(world.dispatcher(transport), text).counts == {"sent": 1}
    assert keys_called(transport) == [sends[0].key]


def test_a_crash_from_a_callback_is_resumed_without_sending_twice(store: DeliveryStore) -> None:
    # SPEC X5: stopped by an exception escaping run(), resumed by the same worker
    world = World(store)
    text, sends = planned(6)
    transport = world.transport()
    seen: list[DispatchProgress] = []

    def progress(p: DispatchProgress) -> None:
        seen.append(p)
        if p.settled == 3:
            raise Crash

    with pytest.raises(Crash):
        run_text(world.dispatcher(transport, owner="w1", progress=progress), text)
    assert run_text(world.dispatcher(transport, owner="w1"), text).counts == {"sent": 6}
    assert sorted(keys_called(transport)) == sorted(send.key for send in sends)


def test_progress_is_called_once_per_settled_send(store: DeliveryStore) -> None:
    # SPEC B15: a bar can follow the run
    world = World(store)
    text, sends = planned(5)
    transport = world.transport()
    transport.fail_recipient(address_of(sends, "c1"), SendStatus.REJECTED)
    transport.fail_recipient(address_of(sends, "c2"), SendStatus.RETRY)
    seen: list[DispatchProgress] = []
    run_text(world.dispatcher(transport, progress=seen.append), text)
    assert [p.settled for p in seen] == [1, 2, 3, 4, 5]
    assert {p.total for p in seen} == {5}
    last = seen[-1]
    assert (last.sent, last.failed, last.skipped, last.uncertain) == (4, 1, 0, 0)
    assert all(p.sent + p.failed + p.skipped + p.uncertain == p.settled for p in seen)


@pytest.mark.parametrize("which", ["progress", "sleep", "clock.now"])
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_an_error_in_a_function_passed_in_is_a_callback_error(
    store: DeliveryStore, which: str, kind: str
) -> None:
    # The caller's own function failed, not the store: the error says which one
    world = World(store)
    text, sends = planned(2)
    later = [sends[0], sends[1]._replace(not_before=NOW + timedelta(hours=1))]
    header = sends_of(text)[0]

    def broken(*_: Any) -> Any:
        raise ValueError("bar broke")

    class BrokenClock:
        def now(self) -> Any:
            raise ValueError("bar broke")

    options: dict[str, Any] = {}
    if which == "progress":
        options["progress"] = broken
    elif which == "clock.now":
        options["clock"] = BrokenClock()

    async def abroken(seconds: float) -> None:
        raise ValueError("bar broke")

    def call() -> Any:
        if kind == "sync":
            if which == "sleep":
                options["sleep"] = broken
            return world.dispatcher(world.transport(), **options).run((header, later))
        if which == "sleep":
            options["sleep"] = abroken
        dispatcher = world.async_dispatcher(world.transport(), **options)
        return asyncio.run(dispatcher.run((header, later)))

    with pytest.raises(CallbackError) as caught:
        call()
    assert caught.value.name == which
    assert "store" not in str(caught.value)
    assert isinstance(caught.value.__cause__, ValueError)


# --- corrupt rows ---------------------------------------------------------------------------


def test_a_corrupt_ledger_row_is_reported_never_overwritten_nor_sent(
    store: DeliveryStore,
) -> None:
    # SPEC X5, B15: a row that cannot be read may be a sent message: it is never sent
    # again nor written over; the run sends the others and reports the key as corrupt
    world = World(store)
    text, sends = planned(4)
    bad = key_of(sends, "c2")
    assert store.put_record("ledger", bad, None, "{not json", group="bc-1")
    transport = world.transport()
    seen: list[DispatchProgress] = []
    report = run_text(world.dispatcher(transport, progress=seen.append), text)
    assert report.corrupt == (bad,)
    assert report.counts == {"sent": 3}
    assert seen[-1].corrupt == 1
    assert seen[-1].settled == seen[-1].total == 4
    assert store.get_record("ledger", bad) == (1, "{not json")
    assert bad not in keys_called(transport)
    before = ledger_without(store, bad)
    assert all(e.status is LedgerStatus.SENT for e in before.values())
    with pytest.raises(CorruptRecordError) as caught:
        get_entry(store, bad)
    assert (caught.value.kind, caught.value.key) == ("ledger", bad)
    assert bad in str(caught.value)
    again = run_text(world.dispatcher(transport), text)
    assert (again.corrupt, again.counts) == ((bad,), {"sent": 3})
    assert store.get_record("ledger", bad) == (1, "{not json")
    assert ledger_without(store, bad) == before
    assert len(transport.requests) == 3
    # repaired by hand (the platform says it never went): the next run sends it
    repaired = LedgerEntry(
        key=bad,
        broadcast_id="bc-1",
        contact_id="c2",
        account_id="sms-1",
        status=LedgerStatus.DEFERRED,
        updated_at=NOW,
        retry_at=NOW,
    )
    assert store.put_record("ledger", bad, 1, encode_entry(repaired), group="bc-1")
    final = run_text(world.dispatcher(transport), text)
    assert (final.corrupt, final.counts) == ((), {"sent": 4})
    assert sorted(keys_called(transport)) == sorted(send.key for send in sends)


def test_a_corrupt_conversation_record_is_never_overwritten(store: DeliveryStore) -> None:
    # A conversation that cannot be read is an error naming it, and stays as it was
    world = World(store)
    text, sends = planned(2)
    key = "c0\x1fsms-1"
    assert store.put_record("conversation", key, None, "[1, 2")
    transport = world.transport()
    with pytest.raises(CorruptRecordError) as caught:
        run_text(world.dispatcher(transport), text)
    assert (caught.value.kind, caught.value.key) == ("conversation", key)
    assert store.get_record("conversation", key) == (1, "[1, 2")
    assert key_of(sends, "c0") not in keys_called(transport)


def ledger_without(store: DeliveryStore, bad: str) -> dict[str, LedgerEntry]:
    found: dict[str, LedgerEntry] = {}
    for key, _, text in store.scan_records("ledger", "bc-1"):
        if key != bad:
            found[key] = decode_entry(key, text)
    return found


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "[]",
        '{"key": "x"}',
        "null",
        '{"status": "sent"}',
        "x" * 100_000,
    ],
)
def test_every_ledger_reader_names_a_corrupt_row(store: DeliveryStore, garbage: str) -> None:
    # SPEC X5
    assert store.put_record("ledger", "k1", None, garbage, group="bc-1")
    with pytest.raises(CorruptRecordError, match="k1"):
        get_entry(store, "k1")
    with pytest.raises(CorruptRecordError, match="k1"):
        list(entries(store, "bc-1"))
    assert delivery_report(store, "bc-1").corrupt == ("k1",)
    assert failed_sends(store, "bc-1") == []
    with pytest.raises(CorruptRecordError, match="k1"):
        resolve(store, "k1", sent=True, now=NOW)
    assert store.get_record("ledger", "k1") == (1, garbage)


def test_record_text_with_a_lone_surrogate_is_refused_by_every_store(
    store: DeliveryStore,
) -> None:
    # The stores promise text of valid Unicode (check_text); SQL stores cannot hold it.
    with pytest.raises(InputError):
        store.put_record("ledger", "k1", None, '{"key": "\ud800"}', group="bc-1")
    assert store.get_record("ledger", "k1") is None


# --- the ledger's own functions -------------------------------------------------------------


def template(key: str = "k1") -> LedgerEntry:
    return LedgerEntry(
        key=key,
        broadcast_id="bc-1",
        contact_id="c0",
        account_id="sms-1",
        status=LedgerStatus.CLAIMED,
        updated_at=NOW,
    )


def test_claim_gives_a_send_to_one_worker(store: DeliveryStore) -> None:
    # SPEC X5
    lease = timedelta(minutes=5)
    first = claim(store, template(), owner="w1", now=NOW, lease=lease)
    assert first.action.value == "go"
    assert (first.entry.owner, first.entry.lease_until, first.version) == ("w1", NOW + lease, 1)
    other = claim(store, template(), owner="w2", now=NOW, lease=lease)
    assert other.action.value == "busy"
    assert other.entry.lease_until == NOW + lease
    mine = claim(store, template(), owner="w1", now=NOW, lease=lease)
    assert mine.action.value == "go"
    later = claim(store, template(), owner="w2", now=NOW + lease, lease=lease)
    assert later.action.value == "go"
    assert later.entry.owner == "w2"
    found = get_entry(store, "k1")
    assert found is not None
    assert found[1].owner == "w2"


def test_a_deferred_send_waits_for_its_time(store: DeliveryStore) -> None:
    # SPEC X5
    entry = LedgerEntry(
        key="k1",
        broadcast_id="bc-1",
        contact_id="c0",
        account_id="sms-1",
        status=LedgerStatus.DEFERRED,
        updated_at=NOW,
        retry_at=NOW + timedelta(hours=1),
    )
    assert store.put_record("ledger", "k1", None, encode_entry(entry), group="bc-1")
    lease = timedelta(minutes=5)
    assert claim(store, template(), owner="w1", now=NOW, lease=lease).action.value == "wait"
    got = claim(store, template(), owner="w1", now=NOW + timedelta(hours=1), lease=lease)
    assert got.action.value == "go"
    assert got.entry.retry_at is None


def test_reports_read_an_empty_ledger(store: DeliveryStore) -> None:
    report = delivery_report(store, "nothing")
    assert (report.counts, report.failed, report.corrupt, report.sent) == ({}, (), (), 0)
    assert report.uncertain == 0
    assert failed_sends(store, "nothing") == []
    assert list(entries(store, "nothing")) == []
    assert get_entry(store, "nothing") is None


def test_entries_keep_their_broadcast_apart(store: DeliveryStore) -> None:
    world = World(store)
    transport = world.transport()
    for name in ("bc-a", "bc-b"):
        run_text(world.dispatcher(transport), plan_text(sms_draft(name), sms_contacts(2, name)))
    assert {e.contact_id for e in entries(store, "bc-a")} == {"bc-a0", "bc-a1"}
    assert {e.broadcast_id for e in entries(store, "bc-b")} == {"bc-b"}
