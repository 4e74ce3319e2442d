"""Properties of dispatching under random answers and crashes, sync and asyncio (X5, B10, B11).

A crash is an exception escaping ``run()`` (raised from the transport, the progress
callback or ``sleep``), as a killed worker stops; the same worker is then started
again. Whatever happened, at the end every planned send has a final ledger entry,
none was delivered twice, and no local day passed the daily cap.
"""

from __future__ import annotations

import asyncio
import io
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from broadcasts.plan_strategies import EXPERTCONNECT, NOW, K, make_draft, messages
from omnimsg.broadcasts import Rate, Sender
from omnimsg.delivery import DispatchProgress, LedgerStatus, Reservation, on_inbound
from omnimsg.errors import TransportError
from omnimsg.protocols import DeliveryStore
from omnimsg.state import AccountState
from omnimsg.stores.memory import MemoryStore
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
    sends_of,
    sms_contacts,
    sms_draft,
    tiny_sms,
)

CAP = 4
SMALL = tiny_sms("expertconnect-cap4", daily_recipient_cap=CAP)
FINAL = {LedgerStatus.SENT, LedgerStatus.FAILED, LedgerStatus.SKIPPED, LedgerStatus.UNCERTAIN}


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DeliveryStore]:
    for make in open_stores(request.param, tmp_path):
        yield make()


# --- AsyncDispatcher: the same guarantees with sends in flight ----------------------------------


def run_async(world: World, transport: Any, text: str, **options: Any) -> Any:
    options.setdefault("concurrency", 4)
    dispatcher = world.async_dispatcher(transport, **options)
    return asyncio.run(dispatcher.run(io.StringIO(text)))


def test_async_sends_each_once_and_a_rerun_sends_nothing(store: DeliveryStore) -> None:
    # SPEC X5
    world = World(store)
    text = plan_text(sms_draft(), sms_contacts(30))
    transport = world.transport()
    assert run_async(world, transport, text).counts == {"sent": 30}
    assert run_async(world, transport, text).counts == {"sent": 30}
    assert sorted(Counter(keys_called(transport)).values()) == [1] * 30


def test_async_keeps_the_daily_cap_across_two_plans(store: DeliveryStore) -> None:
    # SPEC B11
    world = World(store)
    transport = world.transport()
    for name in ("bc-a", "bc-b"):
        text = plan_text(sms_draft(name), sms_contacts(3, name), profile=SMALL)
        assert run_async(world, transport, text, profile=SMALL).counts == {"sent": 3}
    per_day = Counter(at.date() for at, _ in world.accepted)
    assert per_day == {NOW.date(): 4, NOW.date() + timedelta(days=1): 2}


def test_async_keeps_the_rate(store: DeliveryStore) -> None:
    # SPEC B10
    world = World(store)
    text = plan_text(sms_draft(rate=Rate(messages=1, per=timedelta(seconds=10))), sms_contacts(6))
    header, sends = sends_of(text)
    due_now = [send._replace(not_before=NOW) for send in sends]
    dispatcher = world.async_dispatcher(world.transport(), concurrency=4)
    assert asyncio.run(dispatcher.run((header, due_now))).counts == {"sent": 6}
    instants = sorted(at for at, _ in world.accepted)
    assert all(b - a >= timedelta(seconds=10) for a, b in itertools.pairwise(instants))


def test_async_records_every_kind_of_answer(store: DeliveryStore) -> None:
    # SPEC B15, X5, X1
    world = World(store)
    text = plan_text(sms_draft(), sms_contacts(6))
    _, sends = sends_of(text)
    address = {send.contact_id: send.address for send in sends}
    transport = world.transport()
    transport.fail_recipient(address["c0"], SendStatus.REJECTED)
    transport.fail_recipient(address["c1"], SendStatus.RETRY, SendStatus.RETRY)
    transport.fail_recipient(address["c2"], TransportError("timeout"))
    transport.fail_recipient(address["c3"], ZeroDivisionError("boom"))
    on_inbound(
        store,
        contact_id="c4",
        account_id="sms-1",
        channel="sms",
        message_id="in-1",
        at=NOW,
        now=NOW,
        profile=EXPERTCONNECT,
        text="STOP",
    )
    report = run_async(world, transport, text)
    assert report.counts == {"sent": 2, "failed": 2, "uncertain": 1, "skipped": 1}
    reasons = {f.contact_id: f.reason for f in report.failed}
    assert reasons == {
        "c0": "rejected",
        "c2": "no_answer",
        "c3": "transport_crashed",
        "c4": "opted_out",
    }


def test_async_progress_counts_each_settled_send(store: DeliveryStore) -> None:
    world = World(store)
    seen: list[DispatchProgress] = []
    run_async(
        world, world.transport(), plan_text(sms_draft(), sms_contacts(7)), progress=seen.append
    )
    assert [p.settled for p in seen] == list(range(1, 8))
    assert seen[-1].sent == 7


def test_two_async_workers_in_one_loop_never_send_a_key_twice(store: DeliveryStore) -> None:
    # SPEC X5: two owners, one plan, their sends interleaved on one event loop
    world = World(store)
    text = plan_text(sms_draft(), sms_contacts(40))
    platform = Platform(world, [])
    transport = AwaitingTransport(platform)

    async def both() -> None:
        await asyncio.gather(
            *(
                world.async_dispatcher(transport, owner=name, concurrency=4).run(io.StringIO(text))
                for name in ("w1", "w2")
            )
        )

    asyncio.run(both())
    assert sorted(Counter(keys_called(transport)).values()) == [1] * 40
    assert Counter(e.status.value for e in ledger(store).values()) == {"sent": 40}


# --- properties ---------------------------------------------------------------------------------

ANSWERS = st.sampled_from(
    [
        "accept",
        "accept",
        "accept",
        "reject",
        "retry",
        "lost",  # TransportError, the message never reached the platform
        "gone",  # TransportError after the platform took it
        "bug",  # any other exception
        "crash",  # the worker dies during the call, before the platform took it
        "crash-after",  # the worker dies once the platform took it
    ]
)


class Platform:
    """The platform behind the transport: what it delivered, scripted per call."""

    def __init__(self, world: World, answers: list[str]) -> None:
        self.world = world
        self.answers = answers
        self.calls = 0
        self.delivered: list[tuple[Any, SendRequest]] = []
        self.given: Counter[str] = Counter()

    def __call__(self, request: SendRequest) -> SendResult:
        answer = self.answers[self.calls] if self.calls < len(self.answers) else "accept"
        self.calls += 1
        self.given[answer] += 1
        key = request.idempotency_key
        if answer in ("accept", "gone", "crash-after"):
            self.delivered.append((self.world.clock.now(), request))
        if answer == "accept":
            return SendResult(key, SendStatus.ACCEPTED, provider_message_id=f"p-{key}")
        if answer == "reject":
            return SendResult(key, SendStatus.REJECTED, error="no such number")
        if answer == "retry":
            return SendResult(key, SendStatus.RETRY, error="throttled")
        if answer in ("lost", "gone"):
            raise TransportError("no answer")
        if answer == "bug":
            raise ZeroDivisionError("division by zero")
        raise Crash


@st.composite
def runs(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "contacts": draw(st.integers(0, 10)),
        "texts": draw(st.integers(1, 2)),
        "answers": draw(st.lists(ANSWERS, max_size=30)),
        "progress_crashes": draw(st.lists(st.integers(1, 12), max_size=2)),
        "sleep_crashes": draw(st.lists(st.integers(1, 8), max_size=2)),
        "rate": draw(st.sampled_from([None, Rate(messages=1, per=timedelta(minutes=1))])),
        "zone": draw(st.sampled_from(ZONES)),
        "taken": draw(st.integers(0, CAP)),
    }


ZONES = (
    ("UTC", NOW),
    ("America/Havana", datetime(2026, 3, 7, 23, 30, tzinfo=UTC)),  # springs forward at 00:00
    ("America/Santiago", datetime(2026, 4, 4, 22, 0, tzinfo=UTC)),  # falls back at 24:00
    ("Pacific/Chatham", datetime(2026, 4, 4, 8, 0, tzinfo=UTC)),  # +13:45 to +12:45
    ("Australia/Lord_Howe", datetime(2026, 10, 3, 10, 0, tzinfo=UTC)),  # half-hour DST
    ("Asia/Kathmandu", NOW),  # +05:45
)
"""Sender time zones whose local days are not 24 h, or do not start on the hour."""


def world_for(store: DeliveryStore, case: dict[str, Any]) -> World:
    """The sender's zone in the store, and ``taken`` places of its first local day used
    by another broadcast already (one the plan knows nothing of)."""
    zone, start = case["zone"]
    account = AccountState(timezone=zone)
    store.put_account("sms-1", account)
    day = account.local_day(start).isoformat()
    for n in range(case["taken"]):
        place = Reservation(f"daily/sms-1/{day}", f"other-{n}", CAP, None, timedelta(days=2))
        assert store.reserve([place], start) == -1
    return World(store, start=start)


def scenario_plan(case: dict[str, Any]) -> str:
    draft = make_draft(
        {K.SMS: messages(*[f"text {n}" for n in range(case["texts"])])},
        [Sender("sms-1", K.SMS)],
        rate=case["rate"],
    )
    zone, start = case["zone"]
    accounts = {"sms-1": AccountState(timezone=zone)}
    contacts = sms_contacts(case["contacts"])
    return plan_text(draft, contacts, profile=SMALL, now=start, accounts=accounts)


def check_outcome(
    world: World,
    platform: Platform,
    transport: Any,
    case: dict[str, Any],
    cut_short: int = 0,
) -> None:
    """Check the end state; ``cut_short`` transport calls were stopped by a crash elsewhere."""
    header, sends = sends_of(scenario_plan(case))
    found = ledger(world.store)
    for status in sorted({entry.status.value for entry in found.values()}):
        event(f"status: {status}")
    # none lost: every planned send has a final entry
    assert set(found) == {send.key for send in sends}
    assert all(entry.status in FINAL for entry in found.values())
    # none delivered twice; SENT only if delivered; delivered only if SENT or UNCERTAIN
    delivered = Counter(r.idempotency_key for _, r in platform.delivered)
    assert all(n == 1 for n in delivered.values()), delivered
    for key, entry in found.items():
        if entry.status is LedgerStatus.SENT:
            assert delivered[key] == 1
        elif key in delivered:
            assert entry.status is LedgerStatus.UNCERTAIN
        if entry.status is LedgerStatus.UNCERTAIN:
            assert key in keys_called(transport), "uncertain, yet the transport never saw it"
    # at most as many uncertain sends as crashes in a transport call (docs/delivery.md)
    reasons = Counter(e.reason for e in found.values() if e.status is LedgerStatus.UNCERTAIN)
    crashed_calls = platform.given["crash"] + platform.given["crash-after"] + cut_short
    assert reasons["worker_stopped"] <= crashed_calls
    assert reasons["no_answer"] <= platform.given["lost"] + platform.given["gone"]
    # in time, within the 7 days, and never past the daily cap of a local day
    by_key = {send.key: send for send in sends}
    zone, start = case["zone"]
    days: dict[date, set[str]] = defaultdict(set)
    days[AccountState(timezone=zone).local_day(start)].update(
        f"other-{n}" for n in range(case["taken"])
    )
    for at, request in platform.delivered:
        assert by_key[request.idempotency_key].not_before <= at < header.ends_by
        days[at.astimezone(ZoneInfo(zone)).date()].add(str(request.contact_id))
    assert all(len(who) <= CAP for who in days.values())


def crash_points(world: World, case: dict[str, Any]) -> tuple[Any, Any]:
    progress_at = set(case["progress_crashes"])
    sleep_at = set(case["sleep_crashes"])
    sleeps = itertools.count(1)

    def progress(p: DispatchProgress) -> None:
        if p.settled in progress_at:
            progress_at.discard(p.settled)
            raise Crash

    def sleep(seconds: float) -> None:
        n = next(sleeps)
        if n in sleep_at:
            sleep_at.discard(n)
            raise Crash
        world.sleep(seconds)

    return progress, sleep


def dispatch_until_done(world: World, case: dict[str, Any], platform: Platform) -> Any:
    text = scenario_plan(case)
    transport = RecordingTransport(platform)
    progress, sleep = crash_points(world, case)
    limit = len(case["answers"]) + len(case["progress_crashes"]) + len(case["sleep_crashes"]) + 2
    crashes = 0
    for _ in range(limit):
        dispatcher = world.dispatcher(
            transport,
            owner="w1",
            profile=SMALL,
            max_attempts=3,
            progress=progress,
            sleep=sleep,
        )
        try:
            dispatcher.run(io.StringIO(text))
        except Crash:
            crashes += 1
            continue
        break
    else:
        pytest.fail("the run never finished")
    event(f"crashes: {min(crashes, 3)}")
    check_outcome(world, platform, transport, case)
    calls = len(transport.requests)
    again = world.dispatcher(transport, owner="w2", profile=SMALL).run(io.StringIO(text))
    assert len(transport.requests) == calls
    assert sum(again.counts.values()) == len(sends_of(text)[1])
    return again


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_whatever_happens_each_send_is_settled_once_on_memory(case: dict[str, Any]) -> None:
    # SPEC X5, B10, B11
    world = world_for(MemoryStore(), case)
    dispatch_until_done(world, case, Platform(world, case["answers"]))


_tenants = itertools.count()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_whatever_happens_each_send_is_settled_once_on_sqlite(
    tmp_path_factory: pytest.TempPathFactory, case: dict[str, Any]
) -> None:
    # SPEC X5, B10, B11
    from omnimsg.stores.sqlite import SqliteStore

    path = tmp_path_factory.getbasetemp() / "properties.sqlite3"
    with SqliteStore(path, tenant=f"example-{next(_tenants)}") as store:
        world = world_for(store, case)
        dispatch_until_done(world, case, Platform(world, case["answers"]))


class AwaitingTransport:
    """An async transport that yields to the loop before and after the platform answers."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.requests: list[SendRequest] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def asend(self, request: SendRequest) -> SendResult:
        self.requests.append(request)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)
            answer = self.platform(request)
            await asyncio.sleep(0)
            return answer
        finally:
            self.in_flight -= 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs(), st.booleans())
def test_whatever_happens_each_async_send_is_settled_once(
    case: dict[str, Any], awaiting: bool
) -> None:
    # SPEC X5, B10, B11: four sends in flight at once; a crash anywhere cuts short the
    # calls in flight (at most four each), which may leave them uncertain, never lost
    world = world_for(MemoryStore(), case)
    platform = Platform(world, case["answers"])
    text = scenario_plan(case)
    transport: Any = AwaitingTransport(platform) if awaiting else RecordingTransport(platform)
    progress, sleep = crash_points(world, case)

    async def asleep(seconds: float) -> None:
        sleep(seconds)

    limit = len(case["answers"]) + len(case["progress_crashes"]) + len(case["sleep_crashes"]) + 2
    crashes = 0
    for _ in range(limit):
        dispatcher = world.async_dispatcher(
            transport,
            owner="w1",
            profile=SMALL,
            max_attempts=3,
            progress=progress,
            sleep=asleep,
            concurrency=4,
        )
        try:
            asyncio.run(dispatcher.run(io.StringIO(text)))
        except Crash:
            crashes += 1
            continue
        break
    else:
        pytest.fail("the run never finished")
    check_outcome(world, platform, transport, case, cut_short=4 * crashes if awaiting else 0)
    if awaiting:
        assert transport.most_in_flight <= 4
