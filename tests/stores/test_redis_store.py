"""The Redis delivery store: its keys, its scripts, and a server that goes away.

The behaviour every delivery store shares is checked by the contract suite; this
file checks what is particular to Redis: the ``schema_version`` key, the layout of
keys by prefix and tenant (no two names meet, whatever ``:`` they contain), the
Lua scripts (compare-and-set and all-or-nothing reservations under concurrent
clients, ``MemoryStore``'s exact reservation semantics, expiry and time-to-live,
the range of instants a score holds exactly), a server that is down, hangs, wants
a password or restarts, and hostile arguments.

Tests use the server at 127.0.0.1:6379 with a prefix of their own, deleted after;
the restart and script tests start a ``redis-server`` of their own on a free port.
Without a server they are skipped, or fail when ``CI`` is set.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st
from redis.backoff import NoBackoff
from redis.retry import Retry

from omnimsg.delivery.records import Reservation, from_micros, to_micros
from omnimsg.errors import (
    CorruptRecordError,
    InputError,
    OmnimsgError,
    SchemaVersionError,
    StoreError,
    StoreUnavailableError,
)
from omnimsg.protocols import DeliveryStore
from omnimsg.state import AccountState
from omnimsg.stores.memory import MemoryStore
from omnimsg.stores.redis import FIRST_INSTANT, LAST_INSTANT, SCHEMA_VERSION, RedisStore

REDIS_URL = os.environ.get("OMNIMSG_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
T0 = datetime(2026, 3, 1, 12, 0, 0, 123_456, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
HOSTILE_TEXT = (None, 1, b"bytes", "", "a\x00b", "a\ud800b", "x" * 100_000)


def _require(name: str, reason: str) -> None:
    """Skip locally when a server is missing; fail under CI."""
    message = f"{name} is not available ({reason})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must run against the real server", pytrace=False)
    pytest.skip(message)


def _wipe(client: redis.Redis, prefix: str) -> None:
    names = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    for i in range(0, len(names), 500):
        client.delete(*names[i : i + 500])


@pytest.fixture(scope="session")
def raw() -> Iterator[redis.Redis]:
    """A plain client on the shared server (bytes replies)."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        _require("Redis", str(exc).splitlines()[0])
    yield client
    client.close()


@pytest.fixture
def make_store(raw: redis.Redis) -> Iterator[Callable[..., RedisStore]]:
    """Stores on the shared server under a prefix unique to the test, wiped after."""
    prefix = f"omt{uuid.uuid4().hex[:16]}"
    made: list[RedisStore] = []

    def make(url_or_client: Any = REDIS_URL, **kwargs: Any) -> RedisStore:
        kwargs.setdefault("prefix", prefix)
        store = RedisStore(url_or_client, **kwargs)
        made.append(store)
        return store

    make.prefix = prefix  # type: ignore[attr-defined]
    yield make
    for store in made:
        store.close()
    _wipe(raw, prefix)


@pytest.fixture
def store(make_store: Callable[..., RedisStore]) -> RedisStore:
    return make_store()


def _res(
    key: str,
    member: str,
    cap: int | None = None,
    window: timedelta | None = HOUR,
    keep: timedelta = 2 * HOUR,
) -> Reservation:
    return Reservation(key, member, cap, window, keep)


# --- a redis-server of the test's own -----------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class OwnServer:
    """A ``redis-server`` on a free port, its append-only file in ``directory``."""

    def __init__(self, directory: Path, *extra: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            _require("redis-server", "not on PATH")
        self.binary = str(binary)
        self.directory = directory
        self.port = _free_port()
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.directory),
                "--appendonly", "yes",
                "--appendfsync", "always",
                "--save", "",
                "--daemonize", "no",
                "--logfile", str(self.directory / "redis.log"),
                *self.extra,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        client = redis.Redis(port=self.port, socket_timeout=1, retry=Retry(NoBackoff(), 0))
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.AuthenticationError:
                    return
                except redis.RedisError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("redis-server did not start") from None
                    time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[OwnServer]:
    server = OwnServer(tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.kill()


# --- protocol, schema_version and keys -------------------------------------------------


def test_is_a_delivery_store(store: RedisStore) -> None:
    assert isinstance(store, DeliveryStore)
    assert store.tenant == "default"
    assert "6379" in repr(store)


def test_schema_version_is_written_on_first_use(store: RedisStore, raw: redis.Redis) -> None:
    key = f"{store.prefix}:default:schema_version"
    assert raw.get(key) is None  # nothing is sent before the first call
    assert store.get_record("k", "a") is None
    assert raw.get(key) == str(SCHEMA_VERSION).encode()


@pytest.mark.parametrize(("stored", "found"), [(b"2", 2), (b"0", 0)])
def test_another_schema_version_is_refused(
    make_store: Callable[..., RedisStore], raw: redis.Redis, stored: bytes, found: int
) -> None:
    store = make_store()
    raw.set(f"{store.prefix}:default:schema_version", stored)
    for _ in range(2):  # and again: a refused store stays refused
        with pytest.raises(SchemaVersionError) as info:
            store.put_record("k", "a", None, "{}")
        assert (info.value.found, info.value.expected) == (found, SCHEMA_VERSION)
        assert "127.0.0.1:6379" in str(info.value)
    assert raw.hlen(f"{store.prefix}:default:r:k") == 0


def test_an_unreadable_schema_version_is_a_store_error(store: RedisStore, raw: redis.Redis) -> None:
    raw.set(f"{store.prefix}:default:schema_version", b"\xff garbage")
    with pytest.raises(StoreError, match="schema_version is not a number"):
        store.members("s", T0)


def test_every_key_starts_with_prefix_and_tenant(
    make_store: Callable[..., RedisStore], raw: redis.Redis
) -> None:
    one, two = make_store(tenant="one"), make_store(tenant="two")
    for s in (one, two):
        assert s.put_record("ledger", "k", None, s.tenant, group="b1")
        assert s.reserve([_res("daily", "m", cap=1)], T0) == -1
    assert one.get_record("ledger", "k") == (1, "one")
    assert two.get_record("ledger", "k") == (1, "two")
    assert [k for k, _, _ in one.scan_records("ledger", "b1")] == ["k"]
    # one's place is not two's: each tenant has its own set under the same name
    assert one.reserve([_res("daily", "other", cap=1)], T0) == 0
    prefix = make_store.prefix  # type: ignore[attr-defined]
    names = sorted(raw.scan_iter(match=f"{prefix}:*"))
    assert names == sorted(
        f"{prefix}:{tenant}:{rest}".encode()
        for tenant in ("one", "two")
        for rest in ("schema_version", "r:ledger", "g:6:ledger:b1", "s:daily", "x:daily")
    )


def test_names_with_colons_never_meet(store: RedisStore) -> None:
    records = [
        ("a:b", "c", "g"),
        ("a", "b:c", "g"),
        ("a", "c", "b:g"),
        ("a:b", "c:", ""),
        ("r:a", "b", ""),
        ("a", "b", "1:a:b"),
        ("1:a", "b", ""),
    ]
    for i, (kind, key, group) in enumerate(records):
        assert store.put_record(kind, key, None, f"t{i}", group=group)
    for i, (kind, key, group) in enumerate(records):
        assert store.get_record(kind, key) == (1, f"t{i}")
        mine = sorted(k for k2, k, g in records if (k2, g) == (kind, group))
        assert [k for k, _, _ in store.scan_records(kind, group)] == mine
    for name in ("s:x", "x", "x:x", "a:b"):
        assert store.reserve([_res(name, name, cap=1)], T0) == -1
    for name in ("s:x", "x", "x:x", "a:b"):
        assert [m for m, _ in store.members(name, T0 - DAY)] == [name]


def test_prefix_and_tenant_cannot_hold_a_colon() -> None:
    for bad in ("a:b", "", "a b", "é", "x" * 101):
        with pytest.raises(InputError, match="prefix"):
            RedisStore(prefix=bad)
        with pytest.raises(InputError, match="tenant"):
            RedisStore(tenant=bad)


# --- records ---------------------------------------------------------------------------


def test_compare_and_set(store: RedisStore) -> None:
    assert store.put_record("k", "a", None, "one")
    assert not store.put_record("k", "a", None, "again")
    assert not store.put_record("k", "a", 2, "skips a version")
    assert store.put_record("k", "a", 1, "two")
    assert store.get_record("k", "a") == (2, "two")
    assert not store.put_record("k", "b", 1, "absent")
    assert store.get_record("k", "b") is None


def test_text_is_kept_byte_for_byte(store: RedisStore) -> None:
    for i, text in enumerate(["", "a:b:c", "1:2:", "é😀\x7f\n", "x" * 100_000, "9:9:abc"]):
        assert store.put_record("k", f"t{i}", None, text, group="7:x")
        assert store.get_record("k", f"t{i}") == (1, text)
        assert store.put_record("k", f"t{i}", 1, text + "!")
        assert store.get_record("k", f"t{i}") == (2, text + "!")


def test_a_new_group_moves_the_record_between_indexes(store: RedisStore, raw: redis.Redis) -> None:
    assert store.put_record("ledger", "k", None, "v1", group="b1")
    assert store.put_record("ledger", "k", 1, "v2", group="b2")
    assert list(store.scan_records("ledger", "b1")) == []
    assert list(store.scan_records("ledger", "b2")) == [("k", 2, "v2")]
    assert store.put_record("ledger", "k", 2, "v3")
    assert list(store.scan_records("ledger", "b2")) == []
    assert list(store.scan_records("ledger", "")) == [("k", 3, "v3")]
    assert raw.exists(f"{store.prefix}:default:g:6:ledger:b1") == 0
    # a refused write moves nothing
    assert not store.put_record("ledger", "k", 1, "stale", group="b1")
    assert list(store.scan_records("ledger", "")) == [("k", 3, "v3")]


def test_scan_reads_a_large_group_in_key_order(store: RedisStore) -> None:
    keys = [f"k{i:05d}" for i in range(1_234)] + ["é", "😀", "Z", "a:b", "\x7f", "ÿ", "\u0100"]
    for key in keys:
        assert store.put_record("ledger", key, None, key.upper(), group="big")
    assert store.put_record("ledger", "elsewhere", None, "x", group="other")
    rows = list(store.scan_records("ledger", "big"))
    assert rows == [(k, 1, k.upper()) for k in sorted(keys)]


def test_scan_validates_before_iterating(store: RedisStore) -> None:
    with pytest.raises(InputError, match="kind"):
        store.scan_records("", "g")  # raised at the call, not at the first next()


def test_a_corrupt_record_is_reported_and_never_overwritten(
    store: RedisStore, raw: redis.Redis
) -> None:
    assert store.put_record("k", "good", None, "fine", group="g")
    name = f"{store.prefix}:default:r:k"
    for bad in (b"garbage", b"1:99:short", b"x:0:text", b"1:0:\xff\xfe", b"-1:0:t"):
        raw.hset(name, "bad", bad)
        with pytest.raises(CorruptRecordError) as info:
            store.get_record("k", "bad")
        assert (info.value.kind, info.value.key) == ("k", "bad")
        raw.zadd(f"{store.prefix}:default:g:1:k:g", {"bad": 0})
        with pytest.raises(CorruptRecordError):
            list(store.scan_records("k", "g"))
    raw.hset(name, "bad", b"garbage")
    with pytest.raises(CorruptRecordError):
        store.put_record("k", "bad", None, "overwrite?")
    with pytest.raises(CorruptRecordError):
        store.put_record("k", "bad", 1, "overwrite?")
    assert raw.hget(name, "bad") == b"garbage"


def test_another_type_under_a_key_is_a_store_error(store: RedisStore, raw: redis.Redis) -> None:
    store.get_record("k", "a")  # writes schema_version
    raw.set(f"{store.prefix}:default:r:k", "a string, not a hash")
    with pytest.raises(StoreError) as info:
        store.get_record("k", "a")
    assert not isinstance(info.value, StoreUnavailableError)
    assert isinstance(info.value.__cause__, redis.ResponseError)


def test_state_methods_ride_on_records(store: RedisStore) -> None:
    state = AccountState(timezone=ZoneInfo("Europe/Paris"), tier=2)
    store.put_account("acct", state)
    store.put_account("acct", state)
    assert store.get_account("acct") == state
    assert store.get_record("account", "acct") is not None
    assert store.get_record("account", "acct")[0] == 2  # type: ignore[index]


def test_concurrent_compare_and_set_loses_no_update(make_store: Callable[..., RedisStore]) -> None:
    stores = [make_store() for _ in range(6)]
    rounds = 30
    errors: list[BaseException] = []

    def work(s: RedisStore) -> None:
        try:
            for _ in range(rounds):
                while True:
                    found = s.get_record("counter", "c")
                    n = 0 if found is None else int(found[1])
                    if s.put_record(
                        "counter", "c", None if found is None else found[0], str(n + 1)
                    ):
                        break
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    total = len(stores) * rounds
    assert stores[0].get_record("counter", "c") == (total, str(total))


# --- reservations ----------------------------------------------------------------------


def test_reserve_semantics(store: RedisStore) -> None:
    assert store.reserve([], T0) == -1
    assert store.reserve([_res("d", "a", cap=2), _res("d", "b", cap=2)], T0) == -1
    assert store.reserve([_res("d", "c", cap=2)], T0) == 0
    # a member already live is granted again, without counting, and moves forward
    later = T0 + timedelta(minutes=5)
    assert store.reserve([_res("d", "a", cap=2)], later) == -1
    assert store.members("d", T0 - DAY) == [("b", T0), ("a", later)]
    assert store.members("d", T0) == [("a", later)]
    # all or nothing: the refused second leaves the first untaken
    assert store.reserve([_res("e", "x", cap=5), _res("d", "c", cap=2)], T0) == 1
    assert store.members("e", T0 - DAY) == []
    # the same set twice in one call counts both
    assert store.reserve([_res("f", "x", cap=1), _res("f", "y", cap=1)], T0) == 1
    assert store.reserve([_res("f", "x", cap=1), _res("f", "x", cap=1)], T0) == 1
    # out of the window, a place is free again; after keep, the member is gone
    assert store.reserve([_res("d", "c", cap=2)], T0 + HOUR) == -1
    assert store.reserve([_res("d", "z", cap=10)], T0 + 2.5 * HOUR) == -1  # a, b expired
    assert [m for m, _ in store.members("d", T0 - DAY)] == ["c", "z"]
    # live is strictly after now - window: a member taken exactly then is out
    assert store.reserve([_res("h", "a", cap=1, keep=DAY)], T0) == -1
    assert store.reserve([_res("h", "b", cap=1, keep=DAY)], T0 + HOUR) == -1
    # a kept member out of the window is counted again as new
    assert store.reserve([_res("h", "a", cap=1, keep=DAY)], T0 + HOUR) == 0
    assert store.reserve([_res("h", "b", cap=1, keep=DAY)], T0 + 2 * HOUR) == -1
    # a member expires at the latest of its keeps
    assert store.reserve([_res("i", "a", keep=3 * HOUR)], T0) == -1
    assert store.reserve([_res("i", "a", keep=HOUR)], T0 + HOUR / 2) == -1
    assert store.reserve([_res("i", "b")], T0 + 2 * HOUR) == -1
    assert [m for m, _ in store.members("i", T0 - DAY)] == ["a", "b"]
    assert store.reserve([_res("i", "c")], T0 + 3 * HOUR) == -1
    assert [m for m, _ in store.members("i", T0 - DAY)] == ["b", "c"]
    # cap 0 refuses everything; no cap refuses nothing
    assert store.reserve([_res("g", "x", cap=0)], T0) == 0
    assert store.reserve([_res("g", f"m{i}") for i in range(300)], T0) == -1
    assert len(store.members("g", T0 - DAY)) == 300


def test_a_set_without_window_counts_every_kept_member(store: RedisStore) -> None:
    month = timedelta(days=31)
    for i, m in enumerate(["a", "b"]):
        assert store.reserve([_res("w6", m, cap=2, window=None, keep=month)], T0 + i * DAY) == -1
    assert store.reserve([_res("w6", "c", cap=2, window=None, keep=month)], T0 + 20 * DAY) == 0
    assert store.reserve([_res("w6", "c", cap=2, window=None, keep=month)], T0 + 31 * DAY) == -1


def test_expired_members_are_dropped_in_bulk(store: RedisStore) -> None:
    keep = timedelta(minutes=1)
    for start in range(0, 2_500, 500):
        batch = [_res("big", f"m{i}", window=keep, keep=keep) for i in range(start, start + 500)]
        assert store.reserve(batch, T0) == -1
    assert len(store.members("big", T0 - DAY)) == 2_500
    assert store.reserve([_res("big", "new", cap=1, window=keep, keep=keep)], T0 + keep) == -1
    assert store.members("big", T0 - DAY) == [("new", T0 + keep)]


def test_set_keys_live_as_long_as_their_longest_keep(store: RedisStore, raw: redis.Redis) -> None:
    s, x = f"{store.prefix}:default:s:d", f"{store.prefix}:default:x:d"
    assert store.reserve([_res("d", "a", keep=2 * HOUR)], T0) == -1
    for name in (s, x):
        assert 2 * 3_600_000 < raw.pttl(name) <= 2.2 * 3_600_000  # keep, and a tenth
    assert store.reserve([_res("d", "b", keep=HOUR)], T0) == -1  # shorter: not cut
    assert raw.pttl(s) > HOUR.total_seconds() * 1000 + 5_000
    assert store.reserve([_res("d", "c", keep=30 * DAY)], T0) == -1  # longer: extended
    for name in (s, x):
        assert 30 * 86_400_000 < raw.pttl(name) <= 30 * 86_400_000 + 3_600_000
    short = timedelta(milliseconds=1_500, microseconds=1)  # rounded up to 1,501 ms
    assert store.reserve([_res("e", "a", window=None, keep=short)], T0) == -1
    assert 1_000 < raw.pttl(f"{store.prefix}:default:s:e") <= 1_651
    # a keep of centuries is clamped, not an error
    assert store.reserve([_res("f", "a", keep=timedelta(days=999_999_999))], T0) == -1


@pytest.mark.parametrize(
    "at",
    [
        FIRST_INSTANT,
        datetime(1900, 5, 6, 7, 8, 9, 123_457, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2254, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        LAST_INSTANT,
    ],
)
def test_instants_are_exact_to_the_microsecond(store: RedisStore, at: datetime) -> None:
    assert store.reserve([_res("d", "a", cap=1)], at) == -1
    assert store.reserve([_res("d", "b", cap=1)], at) == 0
    assert store.members("d", at - timedelta(microseconds=1)) == [("a", at)]
    assert store.members("d", at) == []
    if at + 2 * HOUR <= LAST_INSTANT:  # a has expired: its place is free
        assert store.reserve([_res("d", "b", cap=1)], at + 2 * HOUR) == -1
        assert store.members("d", at) == [("b", at + 2 * HOUR)]


def test_instants_past_the_exact_range_are_refused(store: RedisStore) -> None:
    tick = timedelta(microseconds=1)
    for at in (LAST_INSTANT + tick, FIRST_INSTANT - tick, datetime(2300, 1, 1, tzinfo=UTC)):
        with pytest.raises(InputError, match="from 1684-07-28 to 2255-06-05"):
            store.reserve([_res("d", "a")], at)
    assert store.members("d", datetime(2300, 1, 1, tzinfo=UTC)) == []
    assert store.members("d", datetime(1000, 1, 1, tzinfo=UTC)) == []
    assert FIRST_INSTANT.year == 1684
    assert LAST_INSTANT.year == 2255
    assert to_micros(LAST_INSTANT) == 2**53 - 1


def test_concurrent_reservations_never_pass_a_cap(make_store: Callable[..., RedisStore]) -> None:
    stores = [make_store() for _ in range(8)]
    granted: list[str] = []
    lock = threading.Lock()

    def work(n: int, s: RedisStore) -> None:
        for i in range(40):
            member = f"w{n}-{i}"
            both = [_res("daily", member, cap=50), _res("all", member, cap=10_000)]
            if s.reserve(both, T0) == -1:
                with lock:
                    granted.append(member)

    threads = [threading.Thread(target=work, args=(n, s)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(granted) == 50
    daily = sorted(m for m, _ in stores[0].members("daily", T0 - DAY))
    assert daily == sorted(granted)
    assert sorted(m for m, _ in stores[0].members("all", T0 - DAY)) == daily


_KEYS = st.sampled_from(["a", "a", "b"])
_MEMBERS = st.sampled_from(["m1", "m2", "m3"])
# A coarse grid of five minutes, so that instants often fall exactly on a window's edge.
_SPANS = st.integers(min_value=1, max_value=6).map(lambda k: timedelta(minutes=5 * k))


@st.composite
def _reservation(draw: st.DrawFn) -> Reservation:
    window = draw(st.none() | _SPANS)
    keep = draw(
        st.sampled_from(
            [timedelta(0), timedelta(0), *[timedelta(minutes=5 * k) for k in range(1, 7)]]
        )
    )
    keep += window or timedelta(minutes=5)
    cap = draw(st.none() | st.integers(min_value=0, max_value=2))
    return Reservation(draw(_KEYS), draw(_MEMBERS), cap, window, keep)


_CALLS = st.lists(
    st.tuples(
        st.integers(min_value=-2, max_value=24).map(lambda k: timedelta(minutes=5 * k)),
        st.lists(_reservation(), min_size=1, max_size=4),
    ),
    min_size=1,
    max_size=20,
)


@given(calls=_CALLS)
def test_reserve_does_exactly_what_the_memory_store_does(
    raw: redis.Redis, calls: list[tuple[timedelta, list[Reservation]]]
) -> None:
    prefix = f"omh{uuid.uuid4().hex[:16]}"
    store, memory = RedisStore(REDIS_URL, prefix=prefix), MemoryStore()
    try:
        for offset, wanted in calls:
            at = T0 + offset
            assert store.reserve(wanted, at) == memory.reserve(wanted, at)
            for key in ("a", "b"):
                since = T0 - DAY
                assert store.members(key, since) == memory.members(key, since)
    finally:
        store.close()
        _wipe(raw, prefix)


# --- the server: down, hanging, password, restart, scripts ------------------------------


def _every_call(store: RedisStore) -> list[Callable[[], object]]:
    return [
        lambda: store.get_record("k", "a"),
        lambda: store.put_record("k", "a", None, "t"),
        lambda: list(store.scan_records("k", "")),
        lambda: store.reserve([_res("d", "a", cap=1)], T0),
        lambda: store.members("d", T0),
        lambda: store.get_account("a"),
    ]


def test_a_server_that_is_down(tmp_path: Path) -> None:
    port = _free_port()
    store = RedisStore(f"redis://user:s3cret-pw@127.0.0.1:{port}/0", socket_timeout=1)
    started = time.monotonic()
    for call in _every_call(store):
        with pytest.raises(StoreUnavailableError) as info:
            call()
        message = str(info.value)
        assert f"127.0.0.1:{port}" in message
        assert "s3cret" not in message
        assert "s3cret" not in repr(store)
        assert isinstance(info.value.__cause__, redis.ConnectionError)
    assert time.monotonic() - started < 10
    store.close()


def test_a_server_that_never_answers() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # connections wait in the backlog, never answered
        port = listener.getsockname()[1]
        store = RedisStore(f"redis://127.0.0.1:{port}/0", socket_timeout=0.3)
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError, match=f"127.0.0.1:{port}") as info:
            store.get_record("k", "a")
        assert isinstance(info.value.__cause__, redis.TimeoutError)
        assert time.monotonic() - started < 5
        store.close()


def test_a_wrong_password_is_a_store_error_without_the_password(tmp_path: Path) -> None:
    server = OwnServer(tmp_path, "--requirepass", "right-pw")
    try:
        server.start()
        wrong = RedisStore(f"redis://:wrong-pw@127.0.0.1:{server.port}/0", socket_timeout=2)
        with pytest.raises(StoreError) as info:
            wrong.get_record("k", "a")
        assert not isinstance(info.value, StoreUnavailableError)
        assert "wrong-pw" not in str(info.value)
        assert "right-pw" not in str(info.value)
        wrong.close()
        right = RedisStore(f"redis://:right-pw@127.0.0.1:{server.port}/0", socket_timeout=2)
        assert right.put_record("k", "a", None, "t")
        right.close()
    finally:
        server.kill()


def test_scripts_the_server_forgot_are_loaded_again(own_server: OwnServer) -> None:
    store = RedisStore(own_server.url, socket_timeout=2)
    client = redis.Redis.from_url(own_server.url)
    try:
        assert store.reserve([_res("d", "a", cap=1)], T0) == -1
        assert store.put_record("k", "a", None, "t")
        client.script_flush()
        assert store.reserve([_res("d", "b", cap=1)], T0) == 0
        assert store.put_record("k", "a", 1, "u")
        assert list(store.scan_records("k", "")) == [("a", 2, "u")]
    finally:
        client.close()
        store.close()


def test_the_same_store_works_again_after_a_restart(own_server: OwnServer) -> None:
    store = RedisStore(own_server.url, tenant="t1", socket_timeout=2)
    try:
        assert store.put_record("ledger", "k1", None, "claimed", group="b1")
        assert store.put_record("ledger", "k1", 1, "sent", group="b1")
        assert store.reserve([_res("daily", "alice", cap=2), _res("all", "alice")], T0) == -1
        assert store.reserve([_res("daily", "bob", cap=2)], T0) == -1
        own_server.kill()  # SIGKILL: only what appendfsync always wrote survives

        started = time.monotonic()
        for call in _every_call(store):
            with pytest.raises(StoreUnavailableError, match=f"127.0.0.1:{own_server.port}"):
                call()
        assert time.monotonic() - started < 10

        own_server.start()
        assert store.get_record("ledger", "k1") == (2, "sent")
        assert list(store.scan_records("ledger", "b1")) == [("k1", 2, "sent")]
        assert [m for m, _ in store.members("daily", T0 - DAY)] == ["alice", "bob"]
        assert store.reserve([_res("daily", "carol", cap=2)], T0) == 0  # still full
        assert store.reserve([_res("daily", "alice", cap=2)], T0 + HOUR / 2) == -1
        assert store.put_record("ledger", "k1", 2, "done", group="b1")
        assert store.get_record("ledger", "k1") == (3, "done")
    finally:
        store.close()


# --- clients of one's own, closing ----------------------------------------------------------


@pytest.mark.parametrize("decode", [False, True])
def test_a_client_of_ones_own_is_used_and_left_open(
    make_store: Callable[..., RedisStore], decode: bool
) -> None:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=decode)
    try:
        store = make_store(client)
        assert store.put_record("k", "é:1", None, "😀 text", group="g:1")
        assert store.get_record("k", "é:1") == (1, "😀 text")
        assert list(store.scan_records("k", "g:1")) == [("é:1", 1, "😀 text")]
        assert store.reserve([_res("d", "é", cap=1)], T0) == -1
        assert store.members("d", T0 - DAY) == [("é", T0)]
        store.close()
        assert client.ping()
    finally:
        client.close()


def test_a_closed_store_refuses_calls(store: RedisStore) -> None:
    assert store.get_record("k", "a") is None
    store.close()
    store.close()
    for call in _every_call(store):
        with pytest.raises(StoreError, match="closed"):
            call()


# --- hostile arguments ---------------------------------------------------------------------


def _only_input_errors(call: Callable[[], object]) -> None:
    try:
        result = call()
        if isinstance(result, Iterator):
            list(result)
    except InputError:
        pass
    except OmnimsgError as exc:  # pragma: no cover - shown on failure
        pytest.fail(f"expected InputError, got {type(exc).__name__}: {exc}")


@pytest.mark.parametrize(
    "bad",
    [*HOSTILE_TEXT, 1.5, float("nan"), "http://x", "redis://h:notaport/0", "redis://[::1", {}],
)
def test_hostile_constructor_arguments(bad: Any) -> None:
    with pytest.raises(InputError) as info:
        RedisStore(bad)
    assert "://x" not in str(info.value)
    for name in ("tenant", "prefix"):
        with pytest.raises(InputError, match=name):
            RedisStore(**{name: bad})
    for timeout in (bad, 0, -1, float("inf"), True, 10_000):
        if isinstance(timeout, int | float) and 0 < timeout <= 3600 and timeout is not True:
            continue
        with pytest.raises(InputError, match="socket_timeout"):
            RedisStore(socket_timeout=timeout)


@pytest.mark.parametrize("bad", HOSTILE_TEXT)
def test_hostile_record_arguments(store: RedisStore, raw: redis.Redis, bad: Any) -> None:
    long_ok = isinstance(bad, str) and len(bad) == 100_000
    calls: list[Callable[[], object]] = [
        lambda: store.get_record(bad, "k"),
        lambda: store.get_record("k", bad),
        lambda: store.put_record(bad, "k", None, "t"),
        lambda: store.put_record("k", bad, None, "t"),
        lambda: store.scan_records(bad, ""),
        lambda: store.scan_records("k", bad if bad != "" else None),
        lambda: store.put_record("k", "k", None, "t", group=bad if bad != "" else None),
    ]
    if bad not in (None, 1):  # no version and version 1 are versions
        calls.append(lambda: store.put_record("k", "k", bad, "t"))
    if not (isinstance(bad, str) and (long_ok or bad == "")):
        calls.append(lambda: store.put_record("k", "k", None, bad))  # long and "" are text
    for call in calls:
        with pytest.raises(InputError):
            call()
    assert list(raw.scan_iter(match=f"{store.prefix}:*r:*")) == []


@pytest.mark.parametrize("bad", HOSTILE_TEXT)
def test_hostile_reservation_arguments(store: RedisStore, raw: redis.Redis, bad: Any) -> None:
    calls: list[Callable[[], object]] = [
        lambda: store.reserve([_res("ok", "m"), Reservation(bad, "m", 1, HOUR, HOUR)], T0),
        lambda: store.reserve([_res("ok", "m"), Reservation("k", bad, 1, HOUR, HOUR)], T0),
        lambda: store.reserve([Reservation("k", "m", bad, HOUR, HOUR)], T0),  # type: ignore[arg-type]
        lambda: store.reserve([Reservation("k", "m", 1, bad, HOUR)], T0),  # type: ignore[arg-type]
        lambda: store.reserve([Reservation("k", "m", 1, HOUR, bad)], T0),  # type: ignore[arg-type]
        lambda: store.reserve(bad, T0),
        lambda: store.reserve([_res("ok", "m")], bad),
        lambda: store.members(bad, T0),
        lambda: store.members("k", bad),
    ]
    for call in calls:
        _only_input_errors(call)  # no cap, no window and cap 1 are valid: they may pass
    assert raw.exists(f"{store.prefix}:default:s:ok") == 0  # nothing sent before checking
    naive = datetime(2026, 1, 1)
    with pytest.raises(InputError):
        store.reserve([_res("k", "m")], naive)
    with pytest.raises(InputError):
        store.members("k", naive)


def test_instant_helpers_agree_with_the_limits() -> None:
    assert from_micros(to_micros(FIRST_INSTANT)) == FIRST_INSTANT
    assert to_micros(FIRST_INSTANT) == -(2**53) + 1
