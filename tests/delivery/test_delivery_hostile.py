"""Hostile values against every public callable of :mod:`omnimsg.delivery`: only omnimsg errors.

Each callable is called with valid arguments except one, which takes each hostile
value in turn (wrong types, ``None``, NUL, lone surrogates, 100,000-character
strings, naive datetimes, odd containers). Whatever the call does with it, an
exception that escapes must be an :class:`~omnimsg.errors.OmnimsgError`. Failures
are collected and listed together: the callable, the argument, the value's kind and
the exception.
"""

from __future__ import annotations

import asyncio
import io
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import omnimsg.delivery as delivery
from broadcasts.plan_strategies import EXPERTCONNECT, NOW, person
from omnimsg.broadcasts import PlannedSend
from omnimsg.delivery import (
    AsyncDispatcher,
    Dispatcher,
    LedgerEntry,
    LedgerStatus,
    PlanHeader,
    delivery_report,
    entries,
    failed_sends,
    on_event,
    on_inbound,
    on_outbound,
    read_plan,
    resolve,
)
from omnimsg.delivery.events import last_channel
from omnimsg.delivery.ledger import claim, get_entry
from omnimsg.delivery.records import encode_entry
from omnimsg.errors import CorruptRecordError, InputError, NaiveDatetimeError, OmnimsgError
from omnimsg.protocols import DeliveryStore
from omnimsg.testing import FixedClock, RecordingTransport

from .test_dispatcher import (
    STORES,
    World,
    open_stores,
    plan_text,
    sends_of,
    sms_contacts,
    sms_draft,
)

LONG = 100_000
NAIVE = datetime(2026, 12, 1, 12, 0)


class Weird:
    """An object whose every dunder a careless caller would use raises."""

    def __str__(self) -> str:
        raise RuntimeError("str")

    def __repr__(self) -> str:
        raise RuntimeError("repr")

    def __len__(self) -> int:
        raise RuntimeError("len")

    def __iter__(self) -> Iterator[Any]:
        raise RuntimeError("iter")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    __hash__ = None  # type: ignore[assignment]


HOSTILE: dict[str, Any] = {
    "none": None,
    "int": 7,
    "negative": -1,
    "huge-int": 10**400,
    "float": 1.5,
    "nan": math.nan,
    "inf": math.inf,
    "bool": True,
    "bytes": b"bc-1",
    "empty": "",
    "nul": "bc\x00-1",
    "surrogate": "bc-\ud800",
    "long": "x" * LONG,
    "naive": NAIVE,
    "date": NOW.date(),
    "far-future": datetime.max.replace(tzinfo=UTC),
    "far-past": datetime.min.replace(tzinfo=UTC),
    "list": ["bc-1"],
    "dict": {"a": 1},
    "tuple": ("a", "b"),
    "object": object(),
    "weird": Weird(),
    "type": str,
    "timedelta": timedelta(seconds=-5),
}


@pytest.fixture(params=STORES)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    yield from open_stores(request.param, tmp_path)


@pytest.fixture
def store(make_store: Callable[..., DeliveryStore]) -> DeliveryStore:
    return make_store()


def try_all(
    call: Callable[..., Any], valid: dict[str, Any], *, skip: tuple[str, ...] = ()
) -> list[str]:
    """Call ``call`` with each hostile value in each argument; the failures, in words.

    Failures are grouped by argument and exception type, naming the values.
    """
    found: dict[tuple[str, str], list[str]] = {}
    for name in valid:
        if name in skip:
            continue
        for label, value in HOSTILE.items():
            arguments = {**valid, name: value}
            try:
                result = call(**arguments)
                if asyncio.iscoroutine(result):
                    asyncio.run(result)
            except OmnimsgError:
                pass
            except BaseException as exc:  # the finding itself
                what = f"{type(exc).__name__}: {str(exc)[:80]}"
                found.setdefault((name, what), []).append(label)
    return [f"{name}={','.join(labels)} -> {what}" for (name, what), labels in found.items()]


def assert_none(failures: list[str], what: str) -> None:
    assert not failures, f"{what}: non-omnimsg errors escaped:\n" + "\n".join(failures)


# --- webhooks ----------------------------------------------------------------------------------


def test_on_inbound_lets_only_omnimsg_errors_escape(store: DeliveryStore) -> None:
    valid = {
        "store": store,
        "contact_id": "c1",
        "account_id": "sms-1",
        "channel": "sms",
        "message_id": "m1",
        "at": NOW,
        "now": NOW,
        "profile": EXPERTCONNECT,
        "text": "S",
        "locale": "en",
    }
    counter = iter(range(10**6))

    def call(**kwargs: Any) -> Any:
        if isinstance(kwargs["message_id"], str) and kwargs["message_id"] == "m1":
            kwargs["message_id"] = f"m{next(counter)}"
        return on_inbound(**kwargs)

    assert_none(try_all(call, valid), "on_inbound")


def test_on_event_lets_only_omnimsg_errors_escape(store: DeliveryStore) -> None:
    """SPEC P8: the event webhook (menu click, follow, scan) takes every hostile value."""
    valid = {
        "store": store,
        "contact_id": "c1",
        "account_id": "wc-1",
        "event_id": "e1",
        "at": NOW,
        "now": NOW,
    }
    assert_none(try_all(on_event, valid), "on_event")


def test_on_outbound_and_last_channel_let_only_omnimsg_errors_escape(store: DeliveryStore) -> None:
    on_inbound(
        store,
        contact_id="c1",
        account_id="sms-1",
        channel="sms",
        message_id="in-1",
        at=NOW,
        now=NOW,
        profile=EXPERTCONNECT,
    )
    valid = {
        "store": store,
        "contact_id": "c1",
        "account_id": "sms-1",
        "message_id": "o1",
        "at": NOW,
    }
    failures = try_all(on_outbound, valid)
    failures += try_all(last_channel, {"store": store, "contact_id": "c1"})
    assert_none(failures, "on_outbound / last_channel")


@pytest.mark.parametrize("name", ["at", "now"])
def test_webhooks_refuse_naive_datetimes(store: DeliveryStore, name: str) -> None:
    arguments: dict[str, Any] = {
        "contact_id": "c1",
        "account_id": "sms-1",
        "channel": "sms",
        "message_id": "m1",
        "at": NOW,
        "now": NOW,
        "profile": EXPERTCONNECT,
    }
    arguments[name] = NAIVE
    with pytest.raises(InputError, match=name):
        on_inbound(store, **arguments)
    if name == "at":
        with pytest.raises(InputError, match="at"):
            on_outbound(store, contact_id="c1", account_id="sms-1", message_id="o", at=NAIVE)
    assert store.get_conversation("c1", "sms-1") is None


def test_a_corrupt_contact_record_is_reported_as_corrupt(store: DeliveryStore) -> None:
    # B5: a stored last channel that names no channel kind is a corrupt record
    assert store.put_record(
        "contact", "c1", None, '{"channel": "pigeon", "account_id": "a", "at": 1}'
    )
    with pytest.raises(CorruptRecordError, match="c1"):
        last_channel(store, "c1")


# --- the ledger's reports and resolve -----------------------------------------------------------


def test_reports_let_only_omnimsg_errors_escape(store: DeliveryStore) -> None:
    world = World(store)
    run = world.dispatcher(world.transport())
    run.run(io.StringIO(plan_text(sms_draft(), sms_contacts(2))))
    failures = try_all(delivery_report, {"store": store, "broadcast_id": "bc-1"})
    failures += try_all(failed_sends, {"store": store, "broadcast_id": "bc-1"})
    failures += try_all(lambda **k: list(entries(**k)), {"store": store, "broadcast_id": "bc-1"})
    failures += try_all(get_entry, {"store": store, "key": "k"})
    assert_none(failures, "reports")


def test_resolve_lets_only_omnimsg_errors_escape(store: DeliveryStore) -> None:
    entry = LedgerEntry(
        key="k1",
        broadcast_id="bc-1",
        contact_id="c1",
        account_id="sms-1",
        status=LedgerStatus.UNCERTAIN,
        updated_at=NOW,
    )
    assert store.put_record("ledger", "k1", None, encode_entry(entry), group="bc-1")
    valid = {
        "store": store,
        "key": "k1",
        "sent": False,
        "now": NOW,
        "provider_message_id": None,
    }

    def call(**kwargs: Any) -> Any:
        try:
            return resolve(**kwargs)
        finally:  # put the entry back as it was for the next value
            found = store.get_record("ledger", "k1")
            assert found is not None
            store.put_record("ledger", "k1", found[0], encode_entry(entry), group="bc-1")

    assert_none(try_all(call, valid), "resolve")
    with pytest.raises(InputError, match="now"):
        resolve(store, "k1", sent=True, now=NAIVE)


def test_claim_lets_only_omnimsg_errors_escape(store: DeliveryStore) -> None:
    template = LedgerEntry(
        key="k2",
        broadcast_id="bc-1",
        contact_id="c1",
        account_id="sms-1",
        status=LedgerStatus.CLAIMED,
        updated_at=NOW,
    )
    valid = {
        "store": store,
        "template": template,
        "owner": "w1",
        "now": NOW,
        "lease": timedelta(minutes=5),
        "idempotent": False,
    }
    assert_none(try_all(claim, valid), "claim")


def test_ledger_entries_refuse_naive_instants() -> None:
    for name in ("updated_at", "lease_until", "retry_at"):
        arguments: dict[str, Any] = {
            "key": "k",
            "broadcast_id": "b",
            "contact_id": "c",
            "account_id": "a",
            "status": LedgerStatus.SENT,
            "updated_at": NOW,
            name: NAIVE,
        }
        with pytest.raises(InputError):
            LedgerEntry(**arguments)


# --- dispatchers ---------------------------------------------------------------------------------


def test_dispatcher_settings_let_only_omnimsg_errors_escape(store: DeliveryStore) -> None:
    valid = {
        "store": store,
        "transport": RecordingTransport(),
        "profile": None,
        "clock": FixedClock(NOW),
        "sleep": lambda seconds: None,
        "owner": "w1",
        "lease": timedelta(minutes=5),
        "max_attempts": 5,
        "backoff": timedelta(seconds=2),
        "max_backoff": timedelta(minutes=10),
        "idempotent": None,
        "progress": None,
        "seed": None,
    }
    failures = try_all(Dispatcher, valid)
    failures += try_all(AsyncDispatcher, {**valid, "concurrency": 4})
    assert_none(failures, "Dispatcher()")


def planned_sends() -> tuple[PlanHeader, list[PlannedSend]]:
    return sends_of(plan_text(sms_draft(), sms_contacts(2)))


def test_run_refuses_anything_but_a_plan_with_an_input_error(store: DeliveryStore) -> None:
    # The caller's mistake is an InputError naming the plan, never "the store failed"
    header, sends = planned_sends()
    world = World(store)
    found: dict[str, list[str]] = {}
    plans: dict[str, Any] = {
        **HOSTILE,
        "binary-stream": io.BytesIO(b'{"type": "plan"}\n'),
        "text-not-plan": io.StringIO("hello\n"),
        "tuple-of-three": (header, sends, None),
        "tuple-bad-header": ({"broadcast_id": "bc-1"}, sends),
        "sends-none": (header, None),
        "sends-int": (header, 5),
        "sends-of-none": (header, [None]),
        "sends-of-text": (header, ["a send"]),
        "sends-of-tuples": (header, [("k", "c")]),
        "header-naive-start": (PlanHeader("bc-1", "n", NAIVE, NOW, "expertconnect"), sends),
        "header-bad-id": (PlanHeader(None, "n", NOW, NOW, "expertconnect"), sends),  # type: ignore[arg-type]
        "header-bad-rate": (
            PlanHeader("bc-1", "n", NOW, NOW + timedelta(days=7), "expertconnect", rate=5),  # type: ignore[arg-type]
            sends,
        ),
    }
    for label, plan in plans.items():
        for dispatcher in (
            world.dispatcher(world.transport()),
            world.async_dispatcher(world.transport()),
        ):
            try:
                result = dispatcher.run(plan)
                if asyncio.iscoroutine(result):
                    asyncio.run(result)
            except InputError:
                pass
            except BaseException as exc:
                what = f"{type(dispatcher).__name__}: {type(exc).__name__}: {str(exc)[:60]}"
                found.setdefault(what, []).append(label)
    assert_none([f"{','.join(v)} -> {k}" for k, v in found.items()], "run(plan)")


def hostile_send(send: PlannedSend, field: str, value: Any) -> PlannedSend:
    return send._replace(**{field: value})


SEND_FIELDS = (
    "key",
    "contact_id",
    "account_id",
    "channel",
    "address",
    "kind",
    "number",
    "not_before",
    "batch",
    "mode",
    "paid",
    "text",
    "params",
    "template",
    "tag",
)


@pytest.mark.parametrize("field", SEND_FIELDS)
def test_hostile_fields_of_a_send_are_input_errors_never_store_failures(
    make_store: Callable[..., DeliveryStore], field: str
) -> None:
    # A bad send given as (header, sends) is the caller's mistake: an InputError, and
    # nothing is written that cannot be read back.
    header, sends = planned_sends()
    found: dict[str, list[str]] = {}
    for n, (label, value) in enumerate(HOSTILE.items()):
        store = make_store(f"value-{n}")
        world = World(store)
        bad = [hostile_send(sends[0], field, value), *sends[1:]]
        try:
            world.dispatcher(world.transport()).run((header, bad))
        except InputError:
            pass
        except BaseException as exc:
            found.setdefault(f"{type(exc).__name__}: {str(exc)[:70]}", []).append(label)
        try:
            list(entries(store, "bc-1"))
        except BaseException as exc:
            found.setdefault(f"then entries() raises {type(exc).__name__}", []).append(label)
    failures = [f"{field}={','.join(labels)} -> {what}" for what, labels in found.items()]
    assert_none(failures, f"PlannedSend.{field}")


def test_released_lets_only_omnimsg_errors_escape(store: DeliveryStore) -> None:
    world = World(store)
    dispatcher = world.dispatcher(world.transport(), profile=EXPERTCONNECT)
    valid = {"draft": sms_draft(), "contact": person("h1", phone="+34612340001"), "start": NOW}
    assert_none(try_all(dispatcher.released, valid), "released")
    with pytest.raises(InputError):
        dispatcher.released(sms_draft(), person("h1"), start=NAIVE)
    plain = world.dispatcher(world.transport())
    with pytest.raises(InputError, match="profile"):
        plain.released(sms_draft(), person("h1"), start=NOW)


def test_a_clock_that_answers_nonsense_is_an_omnimsg_error(store: DeliveryStore) -> None:
    text = plan_text(sms_draft(), sms_contacts(1))

    class Naive:
        def now(self) -> datetime:
            return NAIVE

    class Broken:
        def now(self) -> Any:
            return "noon"

    for clock in (Naive(), Broken()):
        dispatcher = Dispatcher(store, RecordingTransport(), clock=clock, sleep=lambda s: None)
        with pytest.raises(InputError, match="clock"):
            dispatcher.run(io.StringIO(text))
    with pytest.raises(NaiveDatetimeError):
        FixedClock(NAIVE)


def test_a_transport_returning_nonsense_never_counts_as_sent(store: DeliveryStore) -> None:
    # X5: only a SendResult with the send's key and ACCEPTED makes it SENT
    text = plan_text(sms_draft(), sms_contacts(1))

    class Nonsense:
        idempotent = "yes"

        def send(self, request: Any) -> Any:
            return {"status": "accepted"}

    world = World(store)
    report = world.dispatcher(Nonsense()).run(io.StringIO(text))
    assert report.sent == 0
    assert sum(report.counts.values()) == 1


def test_read_plan_and_the_public_names_are_covered() -> None:
    covered = {
        "AsyncDispatcher",
        "Dispatcher",
        "DispatchProgress",
        "DeliveryReport",
        "FailedSend",
        "InboundResult",
        "LedgerEntry",
        "LedgerStatus",
        "PlanFileError",
        "PlanHeader",
        "Reservation",
        "delivery_report",
        "entries",
        "failed_sends",
        "on_event",
        "on_inbound",
        "on_outbound",
        "read_plan",
        "resolve",
        "worker_id",
    }
    assert set(delivery.__all__) <= covered, set(delivery.__all__) - covered
    failures: list[str] = []
    for label, value in HOSTILE.items():
        for stream in (value, io.StringIO(value) if isinstance(value, str) else value):
            try:
                _, sends = read_plan(stream)
                list(sends)
            except OmnimsgError:
                pass
            except BaseException as exc:
                failures.append(f"read_plan({label}): {type(exc).__name__}")
    worker = delivery.worker_id()
    assert isinstance(worker, str)
    assert 0 < len(worker) <= 200
    assert_none(failures, "read_plan")
