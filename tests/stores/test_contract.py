"""One contract for every delivery store: memory, SQLite, PostgreSQL and Redis.

``check_delivery_store`` runs the whole contract on each backend; the tests after it
repeat its most important points one by one so a failure reads plainly: the daily
cap of a sender (SPEC B11), the rolling tier window (B13), the per-contact frequency
cap (X4) and the ledger's compare-and-set under idempotency keys (X5). A property
test drives each store with random reservations and compares it with a small pure
model of the rules, and hostile arguments must end in omnimsg errors only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnimsg._store_contract import check_delivery_store
from omnimsg.delivery.records import (
    LedgerEntry,
    LedgerStatus,
    Reservation,
    decode_entry,
    encode_entry,
    to_micros,
)
from omnimsg.errors import ConformanceError, InputError, OmnimsgError
from omnimsg.protocols import DeliveryStore
from omnimsg.state import AccountState
from omnimsg.stores.memory import MemoryBackend, MemoryStore

from .conftest import StoreFactory, unique_tenant

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
EARLY = T0 - timedelta(days=30)
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.fixture
def store(delivery_factory: StoreFactory) -> DeliveryStore:
    """A store of a fresh tenant on each backend."""
    return delivery_factory(unique_tenant())


def names(store: DeliveryStore, key: str, since: datetime = EARLY) -> list[str]:
    return [member for member, _ in store.members(key, since)]


# --- the whole contract -------------------------------------------------------------------


def test_every_store_keeps_the_delivery_store_contract(delivery_factory: StoreFactory) -> None:
    """Records, reservations (B11 caps, B13 windows, X4 frequency) and tenants, in one check."""
    check_delivery_store(delivery_factory)


# --- the contract point by point ----------------------------------------------------------


def test_every_store_is_closed_at_the_end_of_a_with_block(
    delivery_factory: StoreFactory,
) -> None:
    # SPEC X5: a worker's ledger writes go through a store it closes when it is done
    with delivery_factory(unique_tenant()) as store:
        assert store.put_record("ledger", "k1", None, "{}", group="bc-1")
        assert store.get_record("ledger", "k1") == (1, "{}")
    again = delivery_factory(store.tenant)
    try:
        assert again.get_record("ledger", "k1") == (1, "{}")
    finally:
        again.close()


def test_daily_cap_grants_exactly_the_cap_then_refuses(store: DeliveryStore) -> None:
    """SPEC B11: at most N distinct recipients per sender and day, never one more."""
    key = "daily/ec-1/2026-03-02"

    def take(member: str, at: datetime) -> int:
        return store.reserve([Reservation(key, member, 5, None, 2 * DAY)], at)

    granted = [take(f"r{i}", T0 + i * US) for i in range(5)]
    assert granted == [-1] * 5
    assert take("r5", T0 + HOUR) == 0
    assert take("r2", T0 + HOUR) == -1, "a recipient already counted today is sent to again"
    assert sorted(names(store, key)) == [f"r{i}" for i in range(5)]


def test_rolling_window_frees_a_place_exactly_one_window_later(store: DeliveryStore) -> None:
    """SPEC B13: unique recipients in a rolling 24 h; a recipient counts for 24 h."""
    key = "tier/wa-1"

    def take(member: str, at: datetime) -> int:
        return store.reserve([Reservation(key, member, 2, DAY, 2 * DAY)], at)

    assert take("a", T0) == -1
    assert take("b", T0 + HOUR) == -1
    assert take("c", T0 + DAY - US) == 0, "a and b are both inside the window"
    assert take("c", T0 + DAY) == -1, "a was taken exactly 24 h ago: it no longer counts"
    assert take("d", T0 + DAY) == 0, "b is still inside the window"
    assert take("d", T0 + DAY + HOUR) == -1


def test_frequency_cap_counts_messages_per_contact_in_the_period(store: DeliveryStore) -> None:
    """SPEC X4: no more than N marketing messages per contact per period, across broadcasts."""
    week = timedelta(days=7)

    def send(contact: str, message: str, at: datetime) -> int:
        return store.reserve([Reservation(f"freq/{contact}", message, 2, week, week)], at)

    assert send("c1", "b1:c1", T0) == -1
    assert send("c1", "b2:c1", T0 + DAY) == -1
    assert send("c1", "b3:c1", T0 + 2 * DAY) == 0
    assert send("c2", "b3:c2", T0 + 2 * DAY) == -1, "another contact has its own count"
    assert send("c1", "b3:c1", T0 + week) == -1, "the first message left the period"


def test_a_refused_call_takes_no_place_at_all(store: DeliveryStore) -> None:
    """A send needs every cap at once (B11 and X4 together): all places or none."""
    keep = 2 * DAY
    assert store.reserve([Reservation("freq/c1", "old", 1, None, keep)], T0) == -1
    call = [
        Reservation("daily/ec-1/2026-03-02", "c1", 10, None, keep),
        Reservation("tier/ec-1", "c1", 10, DAY, keep),
        Reservation("freq/c1", "new", 1, None, keep),
    ]
    assert store.reserve(call, T0 + HOUR) == 2
    assert store.members("daily/ec-1/2026-03-02", EARLY) == []
    assert store.members("tier/ec-1", EARLY) == []
    assert store.members("freq/c1", EARLY) == [("old", T0)]


def test_places_asked_for_one_set_in_one_call_count_together(store: DeliveryStore) -> None:
    call = [Reservation("daily/x", m, 2, None, DAY) for m in ("a", "b", "c")]
    assert store.reserve(call, T0) == 2
    assert store.members("daily/x", EARLY) == []
    assert store.reserve(call[:2], T0) == -1
    assert sorted(names(store, "daily/x")) == ["a", "b"]


def test_ledger_records_compare_and_set_under_idempotency_keys(store: DeliveryStore) -> None:
    """SPEC X5: one ledger entry per idempotency key; of two claims, exactly one wins."""
    entry = LedgerEntry(
        key="b1:c1:wa-1",
        broadcast_id="b1",
        contact_id="c1",
        account_id="wa-1",
        status=LedgerStatus.CLAIMED,
        updated_at=T0,
        owner="worker-1",
        lease_until=T0 + HOUR,
    )
    assert store.put_record("ledger", entry.key, None, encode_entry(entry), "b1") is True
    assert store.put_record("ledger", entry.key, None, encode_entry(entry), "b1") is False
    version, text = store.get_record("ledger", entry.key) or (0, "")
    assert (version, decode_entry(entry.key, text)) == (1, entry)
    sent = attrs.evolve(entry, status=LedgerStatus.SENT, attempts=1)
    wins = [store.put_record("ledger", entry.key, version, encode_entry(sent), "b1") for _ in "ab"]
    assert wins == [True, False], "two writers read version 1; only the first write lands"
    assert [(k, v) for k, v, _ in store.scan_records("ledger", "b1")] == [(entry.key, 2)]
    assert decode_entry(entry.key, (store.get_record("ledger", entry.key) or (0, ""))[1]) == sent


def test_tenants_never_see_each_other(delivery_factory: StoreFactory) -> None:
    """Two tenants on one backend: same record keys, same set keys, same accounts."""
    one, other = delivery_factory(unique_tenant("a")), delivery_factory(unique_tenant("b"))
    assert one.put_record("ledger", "k", None, "a", "b1") is True
    assert other.put_record("ledger", "k", None, "b", "b1") is True
    assert list(one.scan_records("ledger", "b1")) == [("k", 1, "a")]
    assert list(other.scan_records("ledger", "b1")) == [("k", 1, "b")]
    cap = [Reservation("daily/ec-1/2026-03-02", "r1", 1, None, DAY)]
    assert one.reserve(cap, T0) == -1
    assert other.reserve(cap, T0) == -1
    one.put_account("ec-1", AccountState(tier=3))
    assert other.get_account("ec-1") is None


def test_members_are_oldest_first_with_exact_instants(store: DeliveryStore) -> None:
    zone = timezone(timedelta(hours=-3))
    instants = [T0 + timedelta(minutes=m, microseconds=7) for m in (30, 10, 20)]
    for member, at in zip("abc", instants, strict=True):
        assert store.reserve([Reservation("s", member, None, None, DAY)], at.astimezone(zone)) == -1
    assert store.members("s", EARLY) == sorted(
        zip("abc", instants, strict=True), key=lambda x: x[1]
    )
    assert names(store, "s", instants[1]) == ["c", "a"]


# --- hostile arguments --------------------------------------------------------------------

BAD_TEXT: list[object] = [None, 5, b"ledger", "", "\x00", "a\x00b", "\ud800", "x" * 100_000]
BAD_COUNT: list[object] = [None, "1", 1.5, True, -1, 0, 2**70]
BAD_INSTANT: list[object] = [
    None,
    "2026-03-02T08:00:00Z",
    datetime(2026, 3, 2, 8, 0),
    datetime.min.replace(tzinfo=UTC),
    datetime.max.replace(tzinfo=UTC),
]


def _reservations() -> list[object]:
    keep = DAY
    good = Reservation("k", "m", 1, None, keep)
    return [
        None,
        "reservations",
        [None],
        [good, "not one"],
        [Reservation("k\x00", "m", 1, None, keep)],
        [Reservation("k", "\ud800", 1, None, keep)],
        [Reservation("k", "m" * 100_000, 1, None, keep)],
        [Reservation("k", "m", 2**70, None, keep)],
        [Reservation("k", "m", -1, None, keep)],
        [Reservation("k", "m", 1, timedelta(0), keep)],
        [Reservation("k", "m", 1, None, timedelta.max)],
        [Reservation("k", "m", 1, timedelta.max, timedelta.max)],
        [Reservation("k", "m", None, None, timedelta(days=300 * 365))],
    ]


def _hostile_calls(store: DeliveryStore) -> Iterator[tuple[str, Callable[[], object]]]:
    for n, bad in enumerate(BAD_TEXT):
        yield f"get_record(kind={n})", lambda b=bad: store.get_record(b, "k")
        yield f"get_record(key={n})", lambda b=bad: store.get_record("k", b)
        yield f"put_record(kind={n})", lambda b=bad: store.put_record(b, "k", None, "t")
        yield f"put_record(key={n})", lambda b=bad: store.put_record("k", b, None, "t")
        yield (
            f"put_record(group={n})",
            lambda b=bad, n=n: store.put_record("g", f"g{n}", None, "t", b),
        )
        yield f"scan_records(kind={n})", lambda b=bad: list(store.scan_records(b, ""))
        yield f"scan_records(group={n})", lambda b=bad: list(store.scan_records("k", b))
        yield f"members(key={n})", lambda b=bad: store.members(b, T0)
        yield f"get_account({n})", lambda b=bad: store.get_account(b)
        yield f"put_usage({n})", lambda b=bad: store.put_usage("a", b)
        yield f"get_conversation({n})", lambda b=bad: store.get_conversation("c", b)
    for n, bad in enumerate(BAD_COUNT):
        yield f"put_record(expected={n})", lambda b=bad, n=n: store.put_record("e", f"e{n}", b, "t")
    good = [Reservation("k", "m", 1, None, DAY)]
    for n, bad in enumerate(BAD_INSTANT):
        yield f"reserve(at={n})", lambda b=bad: store.reserve(good, b)
        yield f"members(since={n})", lambda b=bad: store.members("k", b)
    for n, bad in enumerate(_reservations()):
        yield f"reserve(reservations={n})", lambda b=bad: store.reserve(b, T0)


def test_hostile_arguments_raise_only_omnimsg_errors(store: DeliveryStore) -> None:
    """Wrong types, None, NUL, lone surrogates, huge values and extreme instants."""
    escaped = []
    for name, call in _hostile_calls(store):
        try:
            call()
        except OmnimsgError:
            pass
        except Exception as exc:
            escaped.append(f"{name}: {type(exc).__name__}: {str(exc)[:120]}")
    assert not escaped, "\n".join(escaped)
    assert store.put_record("after", "k", None, "still working") is True
    assert store.get_record("after", "k") == (1, "still working")
    assert store.reserve([Reservation("after", "m", 1, None, DAY)], T0) == -1


@pytest.mark.parametrize("text", ["\x00", "a\x00b", "\ud800", "\udfff tail"])
def test_text_a_store_cannot_keep_is_refused_not_mangled(store: DeliveryStore, text: str) -> None:
    try:
        written = store.put_record("odd", "k", None, text)
    except OmnimsgError:
        assert store.get_record("odd", "k") is None
        return
    assert written is True
    assert store.get_record("odd", "k") == (1, text)


# --- the check itself finds broken stores -------------------------------------------------


class _DoubleCounting(MemoryStore):
    """Refuses a member already counted once the set is full (counts it twice)."""

    def reserve(self, reservations, at, /):  # type: ignore[no-untyped-def]
        for i, (key, _member, cap, _window, _keep) in enumerate(reservations):
            if cap is not None and len(self.members(key, LONG_AGO)) >= cap:
                return i
        return super().reserve(reservations, at)


class _TenantBlind(MemoryStore):
    """Keeps every tenant's records together."""

    def __init__(self, *, tenant: str, backend: MemoryBackend) -> None:
        super().__init__(tenant=tenant, backend=backend)
        self._blind = MemoryStore(tenant="everyone", backend=backend)

    def get_record(self, kind: str, key: str, /) -> tuple[int, str] | None:
        return self._blind.get_record(kind, key)

    def put_record(self, kind, key, expected, text, /, group=""):  # type: ignore[no-untyped-def]
        return self._blind.put_record(kind, key, expected, text, group)

    def scan_records(self, kind: str, group: str, /) -> Iterator[tuple[str, int, str]]:
        return self._blind.scan_records(kind, group)


class _LastWriterWins(MemoryStore):
    """Writes over any version it is given: a stale writer wins."""

    def put_record(self, kind, key, expected, text, /, group=""):  # type: ignore[no-untyped-def]
        found = self.get_record(kind, key)
        if expected is not None and found is not None:
            expected = found[0]
        return super().put_record(kind, key, expected, text, group)


def _shared(cls: type[MemoryStore]) -> Callable[[str], DeliveryStore]:
    backend = MemoryBackend()
    return lambda tenant: cls(tenant=tenant, backend=backend)


@pytest.mark.parametrize(
    ("factory", "promise"),
    [
        (_shared(_DoubleCounting), "already counted is granted again"),
        (_shared(_TenantBlind), "another tenant"),
        (_shared(_LastWriterWins), "stale expected version is refused"),
        (lambda tenant: MemoryStore(tenant=tenant), "stores of one tenant share"),
        (lambda tenant: MemoryStore(tenant="fixed", backend=MemoryBackend()), "tenant is the"),
        (lambda tenant: object(), "DeliveryStore methods"),
    ],
    ids=["double-counting", "tenant-blind", "last-writer-wins", "unshared", "tenant", "shape"],
)
def test_the_check_names_the_promise_a_broken_store_breaks(
    factory: Callable[[str], DeliveryStore], promise: str
) -> None:
    with pytest.raises(ConformanceError, match=promise):
        check_delivery_store(factory)


def test_the_check_reports_a_failing_factory_and_refuses_a_non_callable() -> None:
    def broken(tenant: str) -> DeliveryStore:
        raise ConnectionError("no server")

    with pytest.raises(ConformanceError, match="ConnectionError"):
        check_delivery_store(broken)
    with pytest.raises(InputError, match="factory"):
        check_delivery_store("not a factory")  # type: ignore[arg-type]


# --- a pure model of reserve, and random sequences against it -----------------------------


@dataclass
class Model:
    """Sets as plain dicts: member -> (instant, expiry), both in microseconds."""

    sets: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)

    def reserve(self, wanted: list[Reservation], now: int) -> int:
        taken: list[tuple[str, str, int]] = []
        for i, (key, member, cap, window, keep) in enumerate(wanted):
            kept = {m: v for m, v in self.sets.get(key, {}).items() if v[1] > now}
            since = None if window is None else now - _micros(window)
            live = {m for m, (t, _) in kept.items() if since is None or t > since}
            if member not in live and cap is not None:
                pending = sum(1 for k, m, _ in taken if k == key and m not in live)
                if len(live) + pending >= cap:
                    return i
            taken.append((key, member, now + _micros(keep)))
        for key, member, expires in taken:
            members = self.sets.setdefault(key, {})
            old = members.get(member)
            if old is None or old[1] <= now:
                members[member] = (now, expires)
            elif old[0] < now:
                members[member] = (now, max(expires, old[1]))
        return -1


def _micros(span: timedelta) -> int:
    return span // US


@dataclass(frozen=True)
class Scenario:
    """Per key a fixed (cap, window, keep); then calls at non-decreasing instants."""

    keys: tuple[tuple[str, int | None, timedelta | None, timedelta], ...]
    steps: tuple[tuple[timedelta, tuple[tuple[int, str], ...]], ...]


SHAPES = [(None, HOUR), (None, DAY), (HOUR, HOUR), (HOUR, 3 * HOUR), (DAY, 2 * DAY)]
STEPS = [timedelta(0), US, timedelta(minutes=1), timedelta(minutes=30), HOUR, DAY]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    count = draw(st.integers(1, 3))
    keys = tuple(
        (f"set-{i}", draw(st.sampled_from([None, 0, 1, 2, 3])), *draw(st.sampled_from(SHAPES)))
        for i in range(count)
    )
    call = st.lists(
        st.tuples(st.integers(0, count - 1), st.sampled_from("abcde")), max_size=4, unique=True
    )
    steps = draw(st.lists(st.tuples(st.sampled_from(STEPS), call), min_size=1, max_size=12))
    return Scenario(keys, tuple((step, tuple(c)) for step, c in steps))


def _agrees(store: DeliveryStore, model: Model, key: str, now: int) -> None:
    listing = store.members(key, EARLY)
    instants = [to_micros(at) for _, at in listing]
    assert instants == sorted(instants), f"{key}: members are not oldest first"
    known = model.sets.get(key, {})
    live = sorted((t, m) for m, (t, expires) in known.items() if expires > now)
    listed = {m: to_micros(at) for m, at in listing}
    assert len(listed) == len(listing), f"{key}: a member is listed twice"
    assert sorted((t, m) for m, t in listed.items() if known.get(m, (0, 0))[1] > now) == live
    for member, at in listed.items():
        assert member in known, f"{key}: {member} was never taken"
        assert known[member][0] == at, f"{key}: {member} listed at another instant"


# Server round trips are slow: fewer examples there, the profile's count elsewhere.
EXAMPLES = {"memory": None, "sqlite": 40, "postgres": 20, "redis": 20}


def test_random_reservations_agree_with_the_model_and_never_pass_a_cap(
    delivery_factory: StoreFactory,
) -> None:
    """Caps of B11 (window None), windows of B13 and X4, expiry by keep, random calls."""
    default = settings.default.max_examples
    limit = EXAMPLES[delivery_factory.backend]

    @settings(
        max_examples=default if limit is None else min(limit, default),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(scenario=scenarios())
    def run(scenario: Scenario) -> None:
        store = delivery_factory(unique_tenant("model"))
        try:
            _replay(store, scenario)
        finally:
            delivery_factory.release(store)

    run()


def _replay(store: DeliveryStore, scenario: Scenario) -> None:
    model = Model()
    at = T0
    for step, call in scenario.steps:
        at += step
        now = to_micros(at)
        wanted = [
            Reservation(scenario.keys[k][0], member, *scenario.keys[k][1:]) for k, member in call
        ]
        assert store.reserve(wanted, at) == model.reserve(wanted, now), f"call {wanted} at {at}"
        for key, cap, window, _ in scenario.keys:
            _agrees(store, model, key, now)
            if cap is not None:
                since = EARLY if window is None else at - window
                expired = {m for m, (_, e) in model.sets.get(key, {}).items() if e <= now}
                counted = [m for m in names(store, key, since) if m not in expired]
                assert len(counted) <= cap, f"{key}: {len(counted)} members counted, cap {cap}"
