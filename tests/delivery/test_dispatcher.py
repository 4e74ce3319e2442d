"""The dispatcher on real stores: once, in time, within every cap (X5, B10, B11, B13, X4, B15).

Time is a :class:`FixedClock` that the injected ``sleep`` moves forward, so a week of
sending takes milliseconds; the transport records the clock's instant of every
call. Every test runs on the in-memory store and on a SQLite file.

The helpers at the top are shared by the other modules of this folder.
"""

from __future__ import annotations

import io
import itertools
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from broadcasts.plan_strategies import (
    EXPERTCONNECT,
    NOW,
    RESPONDIO,
    K,
    derived,
    ident,
    make_draft,
    messages,
    most_in_window,
    most_unique_in_rolling,
    person,
    subscribed,
)
from omnimsg.broadcasts import FrequencyCap, PlannedSend, Rate, Schedule, Sender, plan_broadcast
from omnimsg.channels.registry import Profile
from omnimsg.contacts import Contact
from omnimsg.delivery import (
    AsyncDispatcher,
    Dispatcher,
    DispatchProgress,
    LedgerEntry,
    PlanHeader,
    entries,
    read_plan,
)
from omnimsg.protocols import DeliveryStore
from omnimsg.state import AccountState
from omnimsg.stores.memory import MemoryBackend, MemoryStore
from omnimsg.testing import FixedClock, RecordingTransport
from omnimsg.transports import SendRequest, SendResult, SendStatus

STORES = ("memory", "sqlite")


class Crash(BaseException):
    """Raised from a callback to stop a run the way a killed worker stops."""


def open_stores(kind: str, tmp_path: Path) -> Iterator[Callable[..., DeliveryStore]]:
    """``make(tenant="default")``: stores of ``kind`` over the same data, closed after."""
    opened: list[DeliveryStore] = []
    backend = MemoryBackend()
    path = tmp_path / "delivery.sqlite3"

    def make(tenant: str = "default") -> DeliveryStore:
        store: DeliveryStore
        if kind == "memory":
            store = MemoryStore(tenant=tenant, backend=backend)
        else:
            from omnimsg.stores.sqlite import SqliteStore

            store = SqliteStore(path, tenant=tenant)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture(params=STORES)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    yield from open_stores(request.param, tmp_path)


@pytest.fixture
def store(make_store: Callable[..., DeliveryStore]) -> DeliveryStore:
    return make_store()


class World:
    """A store, a clock the dispatcher's ``sleep`` moves, and the instants of each call."""

    def __init__(self, store: DeliveryStore, start: datetime = NOW) -> None:
        self.store = store
        self.clock = FixedClock(start)
        self.calls: list[tuple[datetime, SendRequest]] = []
        self.accepted: list[tuple[datetime, SendRequest]] = []
        self.lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.clock.advance(timedelta(seconds=seconds))

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)

    def accept(self, request: SendRequest) -> SendResult:
        with self.lock:
            self.calls.append((self.clock.now(), request))
            self.accepted.append((self.clock.now(), request))
        return SendResult(
            request.idempotency_key,
            SendStatus.ACCEPTED,
            provider_message_id=f"p-{request.idempotency_key}",
        )

    def transport(self, **options: Any) -> RecordingTransport:
        return RecordingTransport(self.accept, **options)

    def dispatcher(self, transport: Any, **options: Any) -> Dispatcher:
        options.setdefault("seed", 7)
        options.setdefault("sleep", self.sleep)
        options.setdefault("clock", self.clock)
        return Dispatcher(self.store, transport, **options)

    def async_dispatcher(self, transport: Any, **options: Any) -> AsyncDispatcher:
        options.setdefault("seed", 7)
        options.setdefault("sleep", self.asleep)
        options.setdefault("clock", self.clock)
        return AsyncDispatcher(self.store, transport, **options)

    def sent_at(self) -> dict[str, list[datetime]]:
        """Each key's accepted instants."""
        found: dict[str, list[datetime]] = defaultdict(list)
        for at, request in self.accepted:
            found[request.idempotency_key].append(at)
        return dict(found)


def sms_contacts(count: int, prefix: str = "c", account: str = "sms-1") -> list[Contact]:
    """Contacts with a Spanish mobile number, subscribed with ``account``."""
    return [
        person(f"{prefix}{n}", phone=f"+346{n + 10_000_000:08d}", subs=subscribed(account))
        for n in range(count)
    ]


def sms_draft(draft_id: str = "bc-1", account: str = "sms-1", **extra: Any) -> Any:
    return make_draft(
        {K.SMS: messages(f"hello from {draft_id}")},
        [Sender(account, K.SMS)],
        draft_id=draft_id,
        **extra,
    )


def plan_text(
    draft: Any,
    contacts: Iterable[Contact],
    *,
    profile: Profile = EXPERTCONNECT,
    now: datetime = NOW,
    **options: Any,
) -> str:
    """The plan's JSON Lines (a plan object is read once; its text can be run again)."""
    out = io.StringIO()
    plan_broadcast(draft, list(contacts), profile=profile, now=now, **options).write_jsonl(out)
    return out.getvalue()


def sends_of(text: str) -> tuple[PlanHeader, list[PlannedSend]]:
    header, sends = read_plan(io.StringIO(text))
    return header, list(sends)


def ledger(store: DeliveryStore, broadcast_id: str = "bc-1") -> dict[str, LedgerEntry]:
    return {entry.key: entry for entry in entries(store, broadcast_id)}


def statuses(store: DeliveryStore, broadcast_id: str = "bc-1") -> Counter[str]:
    return Counter(entry.status.value for entry in entries(store, broadcast_id))


def keys_called(transport: RecordingTransport) -> list[str]:
    return [request.idempotency_key for request in transport.requests]


def run_text(dispatcher: Dispatcher, text: str) -> Any:
    return dispatcher.run(io.StringIO(text))


def tiny_sms(name: str, **sms: Any) -> Profile:
    return derived("expertconnect", name, {"sms": sms})


# --- X5: each planned send goes exactly once ---------------------------------------------


def test_every_planned_send_goes_once_and_a_rerun_sends_nothing(store: DeliveryStore) -> None:
    # SPEC X5
    world = World(store)
    text = plan_text(sms_draft(), sms_contacts(40))
    _, planned = sends_of(text)
    transport = world.transport()
    report = run_text(world.dispatcher(transport), text)
    assert report.counts == {"sent": 40}
    assert sorted(keys_called(transport)) == sorted(send.key for send in planned)
    again = run_text(world.dispatcher(transport), text)
    assert again.counts == {"sent": 40}
    assert len(transport.requests) == 40
    assert all(entry.provider_message_id == f"p-{key}" for key, entry in ledger(store).items())


def test_the_plan_object_and_its_file_share_keys(store: DeliveryStore) -> None:
    # SPEC X5: the same plan as an object, then as text, then as (header, sends)
    world = World(store)
    draft, contacts = sms_draft(), sms_contacts(5)
    transport = world.transport()
    world.dispatcher(transport).run(plan_broadcast(draft, contacts, profile=EXPERTCONNECT, now=NOW))
    text = plan_text(draft, contacts)
    run_text(world.dispatcher(transport), text)
    world.dispatcher(transport).run(sends_of(text))
    assert len(transport.requests) == 5


def test_two_owners_one_after_the_other_never_send_a_key_twice(
    make_store: Callable[..., DeliveryStore],
) -> None:
    # SPEC X5: two workers of different names over one store and one plan
    world = World(make_store())
    other = make_store()
    text = plan_text(sms_draft(), sms_contacts(30))
    transport = world.transport()

    def stop_after_ten(progress: DispatchProgress) -> None:
        if progress.settled == 10:
            raise Crash

    with pytest.raises(Crash):
        run_text(world.dispatcher(transport, owner="w1", progress=stop_after_ten), text)
    assert len(transport.requests) == 10
    second = Dispatcher(other, transport, clock=world.clock, sleep=world.sleep, owner="w2")
    assert run_text(second, text).counts == {"sent": 30}
    assert run_text(world.dispatcher(transport, owner="w1"), text).counts == {"sent": 30}
    assert sorted(Counter(keys_called(transport)).values()) == [1] * 30


def test_threads_of_several_owners_never_send_a_key_twice(
    make_store: Callable[..., DeliveryStore],
) -> None:
    # SPEC X5: four workers at once, each with its own store object over the same data
    text = plan_text(sms_draft(), sms_contacts(60))
    world = World(make_store())
    transport = world.transport()
    errors: list[BaseException] = []
    stores = [make_store() for _ in range(4)]
    barrier = threading.Barrier(4)

    def work(n: int) -> None:
        try:
            barrier.wait()
            Dispatcher(
                stores[n], transport, clock=world.clock, sleep=world.sleep, owner=f"w{n}"
            ).run(io.StringIO(text))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    counts = Counter(keys_called(transport))
    assert len(counts) == 60
    assert set(counts.values()) == {1}
    # a send another worker marked uncertain meanwhile is set right by its answer
    assert statuses(world.store) == {"sent": 60}


# --- B10: never early, paced, never after ends_by ------------------------------------------


def test_nothing_goes_before_its_not_before(store: DeliveryStore) -> None:
    # SPEC B10, B9: a broadcast scheduled 3 h ahead, with a rate spreading it
    world = World(store)
    draft = sms_draft(
        schedule=Schedule(start=NOW + timedelta(hours=3)),
        rate=Rate(messages=2, per=timedelta(minutes=1)),
    )
    text = plan_text(draft, sms_contacts(12))
    _, planned = sends_of(text)
    run_text(world.dispatcher(world.transport()), text)
    sent_at = world.sent_at()
    assert len(sent_at) == 12
    for send in planned:
        assert sent_at[send.key] == [sent_at[send.key][0]]
        assert sent_at[send.key][0] >= send.not_before >= NOW + timedelta(hours=3)


def test_the_draft_rate_paces_sends_due_at_once(store: DeliveryStore) -> None:
    # SPEC B10: the dispatcher keeps the rate itself, even when every send is due now
    world = World(store)
    rate = Rate(messages=3, per=timedelta(minutes=1))
    text = plan_text(sms_draft(rate=rate), sms_contacts(9))
    header, planned = sends_of(text)
    assert header.rate == rate
    due_now = [send._replace(not_before=NOW) for send in planned]
    world.dispatcher(world.transport()).run((header, due_now))
    instants = sorted(at for at, _ in world.accepted)
    assert len(instants) == 9
    gaps = [b - a for a, b in itertools.pairwise(instants)]
    assert min(gaps) >= timedelta(seconds=20)
    assert most_in_window(instants, timedelta(minutes=1)) <= 3


def test_the_channel_rate_paces_each_account(store: DeliveryStore) -> None:
    # SPEC B10: no draft rate -> each channel's own limit (respond.io SMS: 1 per second)
    world = World(store)
    draft = make_draft(
        {K.SMS: messages("hi")}, [Sender("sms-1", K.SMS)], targeting="account", account="sms-1"
    )
    text = plan_text(draft, sms_contacts(6), profile=RESPONDIO)
    header, planned = sends_of(text)
    due_now = [send._replace(not_before=NOW) for send in planned]
    world.dispatcher(world.transport(), profile=RESPONDIO).run((header, due_now))
    instants = sorted(at for at, _ in world.accepted)
    assert len(instants) == 6
    assert all(b - a >= timedelta(seconds=1) for a, b in itertools.pairwise(instants))


def test_a_send_due_after_ends_by_fails_expired(store: DeliveryStore) -> None:
    # SPEC B10: the whole send may not take more than 7 days
    world = World(store)
    text = plan_text(sms_draft(), sms_contacts(3))
    header, planned = sends_of(text)
    late = [planned[0]._replace(not_before=header.ends_by + timedelta(hours=1)), *planned[1:]]
    transport = world.transport()
    report = world.dispatcher(transport).run((header, late))
    assert report.counts == {"sent": 2, "failed": 1}
    (failed,) = report.failed
    assert (failed.key, failed.reason, failed.rule) == (planned[0].key, "expired", "B10")
    assert planned[0].key not in keys_called(transport)
    assert all(at < header.ends_by for at, _ in world.accepted)


def test_a_dispatcher_started_after_ends_by_sends_nothing(store: DeliveryStore) -> None:
    # SPEC B10
    text = plan_text(sms_draft(), sms_contacts(4))
    header, _ = sends_of(text)
    world = World(store, start=header.ends_by)
    transport = world.transport()
    report = run_text(world.dispatcher(transport), text)
    assert report.counts == {"failed": 4}
    assert {(f.reason, f.rule) for f in report.failed} == {("expired", "B10")}
    assert transport.requests == []


# --- B11, B13, X4: caps across broadcasts planned apart ------------------------------------


def recipients_per_day(world: World, zone: Any = None) -> dict[date, int]:
    days: dict[date, set[str]] = defaultdict(set)
    for at, request in world.accepted:
        local = at if zone is None else at.astimezone(zone)
        days[local.date()].add(str(request.contact_id))
    return {day: len(who) for day, who in days.items()}


def test_two_plans_of_one_sender_keep_1500_recipients_a_day(store: DeliveryStore) -> None:
    # SPEC B11: each plan was made without knowing of the other
    world = World(store)
    first = plan_text(sms_draft("bc-a"), sms_contacts(1000, "a"))
    second = plan_text(sms_draft("bc-b"), sms_contacts(700, "b"))
    transport = world.transport()
    assert run_text(world.dispatcher(transport), first).counts == {"sent": 1000}
    assert run_text(world.dispatcher(transport), second).counts == {"sent": 700}
    per_day = recipients_per_day(world)
    assert per_day == {NOW.date(): 1500, NOW.date() + timedelta(days=1): 200}
    late = [at for at, request in world.accepted if request.contact_id.startswith("b")]
    midnight = datetime.combine(NOW.date() + timedelta(days=1), datetime.min.time(), NOW.tzinfo)
    assert sum(1 for at in late if at >= midnight) == 200


def test_the_daily_cap_counts_the_senders_local_day(store: DeliveryStore) -> None:
    # SPEC B11: the day is the sender's (Mexico City, UTC-6): the next one starts at 06:00 UTC
    profile = tiny_sms("expertconnect-2a-day", daily_recipient_cap=2)
    zone = "America/Mexico_City"
    store.put_account("sms-1", AccountState(timezone=zone))
    accounts = {"sms-1": AccountState(timezone=zone)}
    world = World(store)
    transport = world.transport()
    for name in ("bc-a", "bc-b"):
        text = plan_text(sms_draft(name), sms_contacts(2, name), profile=profile, accounts=accounts)
        report = run_text(world.dispatcher(transport, profile=profile), text)
        assert report.counts == {"sent": 2}
    assert sorted(recipients_per_day(world, ZoneInfo(zone)).values()) == [2, 2]
    second = sorted(at for at, r in world.accepted if r.contact_id.startswith("bc-b"))
    assert second[0] == datetime(2026, 12, 2, 6, 0, tzinfo=NOW.tzinfo)


def test_no_room_within_seven_days_fails_no_capacity(store: DeliveryStore) -> None:
    # SPEC B11, B10: the first plan fills every day of the second's 7 days
    profile = tiny_sms("expertconnect-1a-day", daily_recipient_cap=1)
    world = World(store)
    transport = world.transport()
    first = plan_text(sms_draft("bc-a"), sms_contacts(8, "a"), profile=profile)
    assert run_text(world.dispatcher(transport, profile=profile), first).counts == {"sent": 8}
    second = plan_text(sms_draft("bc-b"), sms_contacts(1, "b"), profile=profile)
    world.clock.set(NOW)
    report = run_text(world.dispatcher(transport, profile=profile), second)
    assert report.counts == {"failed": 1}
    assert (report.failed[0].reason, report.failed[0].rule) == ("no_capacity", "B11")
    assert all(n <= 1 for n in recipients_per_day(world).values())
    assert len(transport.requests) == 8


def test_workers_on_threads_never_pass_the_daily_cap(
    make_store: Callable[..., DeliveryStore],
) -> None:
    # SPEC B11: four workers, four plans of one sender, each planned alone; each worker
    # has its own clock, as on four machines
    profile = tiny_sms("expertconnect-5a-day", daily_recipient_cap=5)
    worlds = [World(make_store()) for _ in range(4)]
    texts = [
        plan_text(sms_draft(f"bc-{n}"), sms_contacts(4, f"bc-{n}-"), profile=profile)
        for n in range(4)
    ]
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def work(n: int) -> None:
        try:
            barrier.wait()
            run_text(worlds[n].dispatcher(worlds[n].transport(), profile=profile), texts[n])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    days: dict[date, set[str]] = defaultdict(set)
    for world in worlds:
        for at, request in world.accepted:
            days[at.date()].add(str(request.contact_id))
    assert sum(len(who) for who in days.values()) == 16
    assert all(len(who) <= 5 for who in days.values())
    assert len(days[NOW.date()]) == 5


WA_TINY = derived("livetex", "livetex-tiny-tiers", {"whatsapp": {"tiers": {"limits": [2, 4, 8]}}})


def wa_contacts(count: int, prefix: str) -> list[Contact]:
    return [
        person(
            f"{prefix}{n}",
            phone=f"+346{n + 20_000_000:08d}",
            identities=[ident("wa-1", K.WHATSAPP, f"346{n + 20_000_000:08d}")],
        )
        for n in range(count)
    ]


def wa_template_plan(draft_id: str, contacts: list[Contact], **extra: Any) -> str:
    draft = make_draft(
        {K.WHATSAPP: messages("offer", template="offer")},
        [Sender("wa-1", K.WHATSAPP)],
        draft_id=draft_id,
        **extra,
    )
    return plan_text(draft, contacts, profile=WA_TINY)


def test_tier_limits_hold_across_template_broadcasts(store: DeliveryStore) -> None:
    # SPEC B13: unique recipients in a rolling 24 h, across two plans made apart
    world = World(store)
    transport = world.transport()
    first = wa_template_plan("bc-a", wa_contacts(2, "a"))
    second = wa_template_plan("bc-b", wa_contacts(3, "b"))
    assert run_text(world.dispatcher(transport, profile=WA_TINY), first).counts == {"sent": 2}
    assert run_text(world.dispatcher(transport, profile=WA_TINY), second).counts == {"sent": 3}
    assert all(r.mode.value == "template" for r in transport.requests)
    pairs = [(at, str(r.contact_id)) for at, r in world.accepted]
    assert most_unique_in_rolling(pairs, timedelta(days=1)) <= 2
    first_at = min(at for at, r in world.accepted if r.contact_id.startswith("a"))
    assert all(
        at >= first_at + timedelta(days=1)
        for at, r in world.accepted
        if r.contact_id.startswith("b")
    )


def test_the_frequency_cap_holds_across_two_broadcasts(store: DeliveryStore) -> None:
    # SPEC X4: one marketing message per contact per day, the second broadcast planned apart
    world = World(store)
    transport = world.transport()
    cap = FrequencyCap(messages=1, period=timedelta(days=1))
    contacts = sms_contacts(3)
    for name in ("bc-a", "bc-b"):
        text = plan_text(sms_draft(name, frequency_cap=cap), contacts)
        assert sends_of(text)[0].frequency_cap == cap
        assert run_text(world.dispatcher(transport), text).counts == {"sent": 3}
    by_contact: dict[str, list[datetime]] = defaultdict(list)
    for at, request in world.accepted:
        by_contact[str(request.contact_id)].append(at)
    assert len(by_contact) == 3
    for instants in by_contact.values():
        assert len(instants) == 2
        assert most_in_window(instants, timedelta(days=1)) == 1


def test_the_frequency_cap_counts_a_broadcast_without_one(store: DeliveryStore) -> None:
    # SPEC X4: "no more than N marketing messages per contact per period, across
    # broadcasts": the first broadcast's message counts for the second's cap
    world = World(store)
    transport = world.transport()
    contacts = sms_contacts(2)
    run_text(world.dispatcher(transport), plan_text(sms_draft("bc-a"), contacts))
    cap = FrequencyCap(messages=1, period=timedelta(days=1))
    run_text(world.dispatcher(transport), plan_text(sms_draft("bc-b", frequency_cap=cap), contacts))
    by_contact: dict[str, list[datetime]] = defaultdict(list)
    for at, request in world.accepted:
        by_contact[str(request.contact_id)].append(at)
    assert all(most_in_window(v, timedelta(days=1)) == 1 for v in by_contact.values())


def test_a_longer_frequency_cap_sees_sends_of_a_shorter_one(store: DeliveryStore) -> None:
    # SPEC X4: one message a day, then one a week: the week's cap counts the first message
    world = World(store)
    transport = world.transport()
    contacts = sms_contacts(1)
    daily = FrequencyCap(messages=1, period=timedelta(days=1))
    weekly = FrequencyCap(messages=1, period=timedelta(days=7))
    run_text(
        world.dispatcher(transport), plan_text(sms_draft("bc-a", frequency_cap=daily), contacts)
    )
    later = NOW + timedelta(days=2)
    world.clock.set(later)
    text = plan_text(sms_draft("bc-b", frequency_cap=weekly), contacts, now=later)
    run_text(world.dispatcher(transport), text)
    instants = [at for at, _ in world.accepted]
    assert most_in_window(instants, timedelta(days=7)) == 1
