"""The SQLite delivery store: its file, its schema versions, and many processes on it.

What every delivery store shares is the contract suite's (test_contract.py); this
file checks what is particular to SQLite: ``schema_version`` and migrations, a file
that cannot be opened or is not a database, rows another program wrote, durability
across reopening, a lock held too long, a fork, eight processes on one cap (SPEC
B11, B13, X4: a cap is never passed) and one ledger record (X5: no lost update),
hostile arguments, and the live counts ``reserve`` keeps per set checked against
``MemoryStore`` (the reference) over random calls, time going back included.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnimsg.delivery.records import Reservation, decode_entry
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
from omnimsg.stores import _sqlschema
from omnimsg.stores.memory import MemoryStore
from omnimsg.stores.sqlite import SCHEMA_VERSION, SqliteStore

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
EARLY = T0 - timedelta(days=400)
SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
HOSTILE_TEXT: tuple[object, ...] = (None, 1, b"bytes", "", "a\x00b", "a\ud800b", "x" * 100_000)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "delivery.sqlite3"


@pytest.fixture
def store(path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(path, tenant="t1") as opened:
        yield opened


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


# --- shared with the PostgreSQL tests: calls replayed against MemoryStore --------------------

Call = tuple[timedelta, tuple[Reservation, ...]]


def replay_against_memory(store: DeliveryStore, calls: Sequence[Call], keys: Sequence[str]) -> None:
    """Each call's answer and every set's members agree with :class:`MemoryStore`."""
    memory = MemoryStore()
    at = T0
    for n, (step, wanted) in enumerate(calls):
        at += step
        want = memory.reserve(wanted, at)
        assert store.reserve(wanted, at) == want, f"call {n} {wanted} at {at}"
        for key in keys:
            for since in (EARLY, at - 3 * SECOND, at):
                assert store.members(key, since) == memory.members(key, since), (n, key, since)


@st.composite
def random_calls(draw: st.DrawFn, keys: Sequence[str] = ("a", "b")) -> list[Call]:
    """Calls at instants that mostly go forward, sometimes stay or go back, with any shape.

    Windows and keeps differ between calls on one set; members come from a pool of
    up to 40, so sets grow past the ranges a kept count reads before it is rewritten.
    """
    pool = [f"m{i}" for i in range(draw(st.sampled_from([3, 12, 40])))]
    windows = st.sampled_from([None, SECOND, 3 * SECOND, 10 * SECOND, 100 * SECOND])
    keep_extra = st.sampled_from([timedelta(0), SECOND, 7 * SECOND, 60 * SECOND])

    @st.composite
    def reservation(d: st.DrawFn) -> Reservation:
        window, extra = d(windows), d(keep_extra)
        keep = (window or SECOND) + extra
        cap = d(st.sampled_from([None, 0, 1, 2, 3, 5, 20]))
        return Reservation(
            d(st.sampled_from(list(keys))), d(st.sampled_from(pool)), cap, window, keep
        )

    steps = st.sampled_from([timedelta(0), SECOND, SECOND, 2 * SECOND, 5 * SECOND, -3 * SECOND])
    call = st.tuples(steps, st.lists(reservation(), min_size=1, max_size=3).map(tuple))
    return draw(st.lists(call, min_size=1, max_size=60))


def check_kept_counts(conn: sqlite3.Connection) -> None:
    """Every omnimsg_sets row is true: its live members, lo a lower bound of the keeps."""
    rows = conn.execute(
        "SELECT tenant, set_key, mark_at, mark_member, since, live, lo FROM omnimsg_sets"
    )
    for tenant, key, mark, tie, since, live, lo in rows.fetchall():
        (count,) = conn.execute(
            "SELECT count(*) FROM omnimsg_reservations WHERE tenant = ? AND set_key = ?"
            " AND at > ? AND (at, member) <= (?, ?)",
            (tenant, key, since, mark, tie),
        ).fetchone()
        assert count == live, f"set {key}: kept count {live}, members {count}"
        (short,) = conn.execute(
            "SELECT count(*) FROM omnimsg_reservations"
            " WHERE tenant = ? AND set_key = ? AND expires - at < ?",
            (tenant, key, lo),
        ).fetchone()
        assert short == 0, f"set {key}: lo {lo} is not a lower bound of expires - at"


# --- reserve agrees with MemoryStore ---------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls=random_calls())
def test_random_calls_agree_with_memory_and_the_kept_counts_stay_true(
    tmp_path_factory: pytest.TempPathFactory, calls: list[Call]
) -> None:
    """SPEC B11, B13, X4: MemoryStore's semantics exactly, counts kept per set included."""
    path = tmp_path_factory.mktemp("model") / "s.sqlite3"
    with SqliteStore(path) as store:
        replay_against_memory(store, calls, ("a", "b"))
    with raw(path) as conn:
        check_kept_counts(conn)


def test_a_long_rolling_window_agrees_with_memory(store: SqliteStore, path: Path) -> None:
    """SPEC B13: 400 calls on one set, members leaving the window and expiring each call."""
    calls = [
        (SECOND, (Reservation("tier/wa-1", f"r{i % 150}", 30, 20 * SECOND, 20 * SECOND),))
        for i in range(400)
    ]
    replay_against_memory(store, calls, ("tier/wa-1",))
    with raw(path) as conn:
        check_kept_counts(conn)


def test_a_large_daily_set_is_not_counted_whole_at_each_call(store: SqliteStore) -> None:
    """SPEC B11: a cap of 100,000 a day; a call reads a few index entries, not every member."""
    key = "daily/wa-1/2026-03-02"
    for i in range(3000):
        store.reserve([Reservation(key, f"r{i}", 100_000, None, DAY)], T0 + i * SECOND / 1000)
    conn = store._conn
    assert conn is not None
    steps: list[int] = []
    conn.set_progress_handler(lambda: steps.append(1) and 0, 100)
    assert store.reserve([Reservation(key, "r-last", 100_000, None, DAY)], T0 + 4 * SECOND) == -1
    conn.set_progress_handler(None, 0)
    assert len(steps) < 20, "a reservation scanned the set (a recount takes some 600)"
    assert len(store.members(key, EARLY)) == 3001


def test_a_set_counted_by_another_version_is_counted_again(store: SqliteStore, path: Path) -> None:
    """A set's row deleted by hand (or never written) is rebuilt by counting the set."""
    for i in range(5):
        assert store.reserve([Reservation("s", f"m{i}", 6, None, DAY)], T0 + i * SECOND) == -1
    with raw(path) as conn:
        conn.execute("DELETE FROM omnimsg_sets")
    assert store.reserve([Reservation("s", "m5", 6, None, DAY)], T0 + HOUR) == -1
    assert store.reserve([Reservation("s", "m6", 6, None, DAY)], T0 + HOUR) == 0
    with raw(path) as conn:
        check_kept_counts(conn)


def test_extreme_spans_are_held_within_64_bit_instants(store: SqliteStore) -> None:
    first, last = datetime(1000, 1, 2, tzinfo=UTC), datetime(8999, 12, 30, tzinfo=UTC)
    for at in (first, T0, last):
        wanted = [Reservation("far", "m", 1, timedelta.max, timedelta.max)]
        assert store.reserve(wanted, at) == -1
    assert store.members("far", first) == [("m", last)]


# --- the file ------------------------------------------------------------------------------


def test_it_is_a_delivery_store_in_wal_mode(store: SqliteStore, path: Path) -> None:
    assert isinstance(store, DeliveryStore)
    assert store.tenant == "t1"
    assert store.get_record("k", "a") is None  # opens the file
    with raw(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"omnimsg_meta", "omnimsg_records", "omnimsg_reservations", "omnimsg_sets"} <= tables


def test_data_is_kept_across_reopening(path: Path) -> None:
    with SqliteStore(path, tenant="t1") as store:
        assert store.put_record("ledger", "k1", None, '{"a": 1}', "b1") is True
        assert store.reserve([Reservation("daily", "r1", 1, None, DAY)], T0) == -1
        store.put_account("wa-1", AccountState(tier=3))
    # a second store on the file, then a reopened one, see everything
    other = SqliteStore(str(path), tenant="t1")
    assert other.get_record("ledger", "k1") == (1, '{"a": 1}')
    assert list(other.scan_records("ledger", "b1")) == [("k1", 1, '{"a": 1}')]
    assert other.members("daily", EARLY) == [("r1", T0)]
    assert other.reserve([Reservation("daily", "r2", 1, None, DAY)], T0 + HOUR) == 0
    account = other.get_account("wa-1")
    assert account is not None
    assert account.tier == 3
    other.close()
    other.close()  # closing twice is harmless
    with pytest.raises(StoreError, match="closed"):
        other.get_record("ledger", "k1")


def test_a_relative_path_is_resolved_when_the_store_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = SqliteStore("rel.sqlite3")
    monkeypatch.chdir("/")
    assert store.put_record("k", "a", None, "x") is True
    store.close()
    assert (tmp_path / "rel.sqlite3").exists()


@pytest.mark.parametrize(
    "where",
    ["missing/dir/db.sqlite3", "afile/db.sqlite3", "."],
    ids=["missing-directory", "under-a-file", "a-directory"],
)
def test_a_file_that_cannot_be_opened_is_unavailable(tmp_path: Path, where: str) -> None:
    (tmp_path / "afile").write_text("not a directory")
    target = tmp_path / where
    store = SqliteStore(target)
    with pytest.raises(StoreUnavailableError) as info:
        store.get_record("k", "a")
    assert str(target.resolve())[:150] in str(info.value)
    assert isinstance(info.value.__cause__, sqlite3.Error)


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    target = tmp_path / "junk.sqlite3"
    target.write_bytes(b"this is not a SQLite database, only some bytes " * 100)
    with pytest.raises(StoreError, match="not a SQLite database") as info:
        SqliteStore(target).reserve([Reservation("k", "m", 1, None, DAY)], T0)
    assert not isinstance(info.value, StoreUnavailableError)


def test_a_lock_held_past_the_timeout_is_unavailable_then_clears(path: Path) -> None:
    store = SqliteStore(path, timeout=0.05)
    assert store.put_record("k", "a", None, "x") is True
    blocker = raw(path)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailableError, match="locked"):
            store.put_record("k", "a", 1, "y")
        with pytest.raises(StoreUnavailableError):
            store.reserve([Reservation("s", "m", 1, None, DAY)], T0)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.reserve([Reservation("s", "m", 1, None, DAY)], T0) == -1
    assert store.get_record("k", "a") == (1, "x")
    store.close()


def test_tables_beside_an_application_s_own_are_left_alone(path: Path) -> None:
    with raw(path) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, note TEXT)")
        conn.execute("INSERT INTO orders (note) VALUES ('kept')")
    with SqliteStore(path) as store:
        assert store.put_record("k", "a", None, "x") is True
    with raw(path) as conn:
        assert conn.execute("SELECT note FROM orders").fetchall() == [("kept",)]


# --- schema versions -----------------------------------------------------------------------


def stored_version(path: Path) -> str:
    with raw(path) as conn:
        row = conn.execute("SELECT value FROM omnimsg_meta WHERE name = 'schema_version'")
        return str(row.fetchone()[0])


def test_a_new_file_gets_the_current_schema_version(store: SqliteStore, path: Path) -> None:
    assert SCHEMA_VERSION == _sqlschema.SCHEMA_VERSION == len(_sqlschema.MIGRATIONS) == 1
    store.get_record("k", "a")
    assert stored_version(path) == "1"


def test_an_older_schema_is_migrated_in_order(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with SqliteStore(path) as store:
        assert store.put_record("k", "a", None, "kept") is True
    step = _sqlschema.Migration(
        sqlite=(
            "CREATE TABLE omnimsg_test_v2 (n INTEGER)",
            "INSERT INTO omnimsg_test_v2 SELECT count(*) FROM omnimsg_records",
        ),
        postgres=(),
    )
    monkeypatch.setattr(_sqlschema, "MIGRATIONS", [*_sqlschema.MIGRATIONS, step])
    with SqliteStore(path) as store:
        assert store.get_record("k", "a") == (1, "kept")
    assert stored_version(path) == "2"
    with raw(path) as conn:
        assert conn.execute("SELECT n FROM omnimsg_test_v2").fetchall() == [(1,)]
    with SqliteStore(path) as store:  # at version 2 already: not run twice
        store.get_record("k", "a")
    with raw(path) as conn:
        assert conn.execute("SELECT count(*) FROM omnimsg_test_v2").fetchone() == (1,)


def test_a_schema_marked_version_0_runs_every_migration(path: Path) -> None:
    with SqliteStore(path) as store:
        store.put_record("k", "a", None, "kept")
    with raw(path) as conn:
        conn.execute("UPDATE omnimsg_meta SET value = '0'")
        conn.execute("DROP TABLE omnimsg_sets")
    with SqliteStore(path) as store:
        assert store.get_record("k", "a") == (1, "kept")
        assert store.reserve([Reservation("s", "m", 1, None, DAY)], T0) == -1
    assert stored_version(path) == "1"


def test_a_newer_schema_or_one_that_is_not_a_number_is_refused(path: Path) -> None:
    with SqliteStore(path) as store:
        store.get_record("k", "a")
    with raw(path) as conn:
        conn.execute("UPDATE omnimsg_meta SET value = '7'")
    with pytest.raises(SchemaVersionError, match="upgrade omnimsg") as info:
        SqliteStore(path).get_record("k", "a")
    assert (info.value.found, info.value.expected) == (7, 1)
    assert str(path) in str(info.value)
    with raw(path) as conn:
        conn.execute("UPDATE omnimsg_meta SET value = 'v1; DROP TABLE x'")
    with pytest.raises(StoreError, match="not a number"):
        SqliteStore(path).get_record("k", "a")


# --- rows written by another program -------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "handed_back"),
    [
        ("'{not json'", "{not json"),
        ("CAST(X'7B22FF227D' AS TEXT)", b'{"\xff"}'),  # TEXT that is not UTF-8
        ("X'FFFE0062'", b"\xff\xfe\x00b"),  # a BLOB
        ("X'7B7D'", "{}"),  # a BLOB of UTF-8 text
        ("42", "42"),
    ],
    ids=["not-json", "not-utf8", "blob", "utf8-blob", "number"],
)
def test_a_body_another_program_wrote_is_handed_back_for_the_decoder(
    store: SqliteStore, path: Path, stored: str, handed_back: object
) -> None:
    store.put_record("ledger", "k1", None, "placeholder", "b1")
    with raw(path) as conn:
        conn.execute(f"UPDATE omnimsg_records SET body = {stored}")
    assert store.get_record("ledger", "k1") == (1, handed_back)
    assert list(store.scan_records("ledger", "b1")) == [("k1", 1, handed_back)]
    if handed_back != "{}":
        with pytest.raises(CorruptRecordError, match="k1"):
            decode_entry("k1", handed_back)


@pytest.mark.parametrize("version", [0, -3, "abc", 1.5])
def test_a_corrupt_version_is_a_corrupt_record(
    store: SqliteStore, path: Path, version: object
) -> None:
    store.put_record("ledger", "k1", None, "x", "b1")
    with raw(path) as conn:
        conn.execute("UPDATE omnimsg_records SET version = ?", (version,))
    with pytest.raises(CorruptRecordError, match="version"):
        store.get_record("ledger", "k1")
    with pytest.raises(CorruptRecordError):
        list(store.scan_records("ledger", "b1"))


def test_a_corrupt_member_instant_is_a_store_error(store: SqliteStore, path: Path) -> None:
    store.reserve([Reservation("s", "m", None, None, DAY)], T0)
    with raw(path) as conn:
        conn.execute("UPDATE omnimsg_reservations SET at = 9000000000000000000")
    with pytest.raises(StoreError, match="corrupt"):
        store.members("s", EARLY)


# --- processes and threads -----------------------------------------------------------------

_SHARED: dict[str, Any] = {}


def _take_places(prefix: str, count: int, results: Any) -> None:
    store: SqliteStore = _SHARED["store"]
    granted = 0
    for i in range(count):
        wanted = [
            Reservation("daily/wa-1", f"{prefix}-{i}", 25, None, DAY),
            Reservation(f"freq/{prefix}-{i}", "b1", 1, DAY, DAY),
        ]
        granted += store.reserve(wanted, T0 + i * SECOND) == -1
    results.put(granted)


def _bump_counter(count: int, results: Any) -> None:
    store: SqliteStore = _SHARED["store"]
    for _ in range(count):
        while True:
            version, text = store.get_record("counter", "c") or (0, "0")
            if store.put_record("counter", "c", version or None, str(int(text) + 1)):
                break
    results.put(0)


def _in_processes(target: Callable[..., None], args: list[tuple[Any, ...]]) -> list[int]:
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    processes = [context.Process(target=target, args=(*a, results)) for a in args]
    for process in processes:
        process.start()
    out = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    return out


def test_eight_processes_never_pass_one_cap(store: SqliteStore) -> None:
    """SPEC B11: 8 processes, 40 recipients each, one daily cap of 25: exactly 25 go."""
    assert store.get_record("k", "open before the fork") is None
    _SHARED["store"] = store
    granted = _in_processes(_take_places, [(f"p{n}", 40) for n in range(8)])
    assert sum(granted) == 25
    assert len(store.members("daily/wa-1", EARLY)) == 25
    assert store.put_record("k", "the parent still works", None, "x") is True


def test_eight_processes_lose_no_update_of_one_record(store: SqliteStore) -> None:
    """SPEC X5: compare-and-set read-modify-write loops in 8 processes, 30 times each."""
    _SHARED["store"] = store
    _in_processes(_bump_counter, [(30,) for _ in range(8)])
    assert store.get_record("counter", "c") == (240, "240")


def test_a_forked_child_uses_a_connection_of_its_own(store: SqliteStore) -> None:
    assert store.put_record("k", "parent", None, "1") is True
    pid = os.fork()
    if pid == 0:  # the child: any failure is its exit code
        code = 1
        try:
            code = 0 if store.put_record("k", "child", None, "2") else 2
            store.close()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.get_record("k", "child") == (1, "2")
    assert store.put_record("k", "parent", 1, "3") is True


def test_threads_sharing_one_store_never_pass_a_cap(store: SqliteStore) -> None:
    def take(n: int) -> bool:
        return store.reserve([Reservation("rate", f"m{n}", 17, HOUR, HOUR)], T0) == -1

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(take, range(200))) == 17


# --- records -------------------------------------------------------------------------------


def test_scan_reads_in_pages_while_the_caller_writes(store: SqliteStore) -> None:
    """A dispatcher updates each ledger entry as it walks the broadcast's entries (X5)."""
    keys = sorted(f"b1:c{i}:wa-1" for i in range(1234))
    for key in keys:
        assert store.put_record("ledger", key, None, "claimed", "b1") is True
    seen = []
    for key, version, text in store.scan_records("ledger", "b1"):
        assert (version, text) == (1, "claimed")
        assert store.put_record("ledger", key, version, "sent", "b1") is True
        seen.append(key)
    assert seen == keys
    assert {(v, t) for _, v, t in store.scan_records("ledger", "b1")} == {(2, "sent")}


def test_tenants_on_one_file_never_meet(path: Path) -> None:
    one, other = SqliteStore(path, tenant="a"), SqliteStore(path, tenant="a.b")
    assert one.put_record("k", "x", None, "one", "g") is True
    assert other.put_record("k", "x", None, "other", "g") is True
    assert list(one.scan_records("k", "g")) == [("x", 1, "one")]
    assert one.reserve([Reservation("s", "m", 1, None, DAY)], T0) == -1
    assert other.reserve([Reservation("s", "n", 1, None, DAY)], T0) == -1
    assert one.members("s", EARLY) == [("m", T0)]
    one.close()
    other.close()


# --- hostile arguments ---------------------------------------------------------------------


def hostile_calls(store: DeliveryStore) -> Iterator[tuple[str, Callable[[], object]]]:
    """Every method given wrong types, None, NUL, lone surrogates and 100,000 characters."""
    good = [Reservation("k", "m", 1, None, DAY)]
    for n, bad in enumerate(HOSTILE_TEXT):
        yield f"get_record kind {n}", lambda b=bad: store.get_record(b, "k")
        yield f"get_record key {n}", lambda b=bad: store.get_record("k", b)
        yield f"put_record kind {n}", lambda b=bad: store.put_record(b, "k", None, "t")
        yield f"scan_records kind {n}", lambda b=bad: list(store.scan_records(b, ""))
        yield f"members {n}", lambda b=bad: store.members(b, T0)
        yield (
            f"reserve key {n}",
            lambda b=bad: store.reserve([Reservation(b, "m", 1, None, DAY)], T0),
        )
        yield (
            f"reserve member {n}",
            lambda b=bad: store.reserve([Reservation("k", b, 1, None, DAY)], T0),
        )
        yield f"get_conversation {n}", lambda b=bad: store.get_conversation(b, "a")
        yield f"put_account {n}", lambda b=bad: store.put_account(b, AccountState())
    for n, bad in enumerate(t for t in HOSTILE_TEXT if t != "" and t != "x" * 100_000):
        yield f"put_record text {n}", lambda b=bad: store.put_record("k", "t", None, b)
    for n, bad in enumerate(t for t in HOSTILE_TEXT if t != ""):
        yield f"put_record group {n}", lambda b=bad: store.put_record("k", "g", None, "t", b)
        yield f"scan_records group {n}", lambda b=bad: list(store.scan_records("k", b))
    for n, bad in enumerate((None, "1", 0, -1, True, 1.0, 2**63, 2**64)):
        yield f"put_record expected {n}", lambda b=bad: store.put_record("e", "k", b, "t")
    for n, bad in enumerate((None, "2026-01-01", datetime(2026, 1, 1), 5)):
        yield f"reserve at {n}", lambda b=bad: store.reserve(good, b)
        yield f"members since {n}", lambda b=bad: store.members("k", b)
    yield "reserve text", lambda: store.reserve("kk", T0)
    yield "reserve keep", lambda: store.reserve([Reservation("k", "m", 1, None, "1d")], T0)


def test_hostile_arguments_raise_input_errors_and_change_nothing(store: SqliteStore) -> None:
    store.put_record("e", "k", None, "t")
    escaped = []
    for name, call in hostile_calls(store):
        try:
            call()
        except InputError:
            continue
        except Exception as exc:
            escaped.append(f"{name}: {type(exc).__name__}: {str(exc)[:100]}")
            continue
        if name.startswith("put_record expected"):
            continue  # versions no record has are refused by returning False
        escaped.append(f"{name}: accepted")
    assert not escaped, "\n".join(escaped)
    assert store.get_record("e", "k") == (1, "t")
    assert store.members("k", EARLY) == []


@pytest.mark.parametrize(
    "arguments",
    [
        {"path": None},
        {"path": b"/tmp/x.sqlite3"},
        {"path": ""},
        {"path": ":memory:"},
        {"path": "file:x.sqlite3?mode=memory"},
        {"path": "a\x00b"},
        {"path": "a\ud800b"},
        {"path": "x.sqlite3", "tenant": "a b"},
        {"path": "x.sqlite3", "tenant": ""},
        {"path": "x.sqlite3", "tenant": None},
        {"path": "x.sqlite3", "timeout": -1},
        {"path": "x.sqlite3", "timeout": float("nan")},
        {"path": "x.sqlite3", "timeout": True},
        {"path": "x.sqlite3", "timeout": "30"},
    ],
)
def test_hostile_constructor_arguments_are_input_errors(arguments: dict[str, Any]) -> None:
    with pytest.raises(InputError) as info:
        SqliteStore(**arguments)
    assert "\x00" not in str(info.value)
    assert "\ud800" not in str(info.value)


def test_nul_and_lone_surrogates_are_refused_consistently(store: SqliteStore) -> None:
    """PostgreSQL cannot keep NUL in text: both SQL stores refuse it, with the argument named."""
    for text in ("a\x00b", "\x00", "x\ud800", "\udfff"):
        with pytest.raises(InputError, match="text"):
            store.put_record("k", "a", None, text)
        with pytest.raises(InputError, match="group"):
            store.put_record("k", "a", None, "t", text)
    assert store.get_record("k", "a") is None
    big = "é" * 100_000
    assert store.put_record("k", "a", None, big, "g" * 1000) is True
    assert store.get_record("k", "a") == (1, big)


def test_errors_never_escape_as_sqlite_errors(store: SqliteStore, path: Path) -> None:
    store.get_record("k", "a")
    with raw(path) as conn:
        conn.execute("DROP TABLE omnimsg_records")
    with pytest.raises(StoreError) as info:
        store.put_record("k", "a", None, "x")
    assert isinstance(info.value.__cause__, sqlite3.Error)
    assert isinstance(info.value, OmnimsgError)


def _open_one(path: Path, barrier: threading.Barrier, errors: list[BaseException]) -> None:
    try:
        barrier.wait()
        store = SqliteStore(path)
        try:
            store.get_record("kind", "key")
        finally:
            store.close()
    except BaseException as exc:
        errors.append(exc)


def test_many_threads_opening_a_new_file_at_once_all_open(tmp_path: Path) -> None:
    # Switching a new file to WAL fails at once with "database is locked" while another
    # connection does the same; opening retries within the timeout (X5: workers start
    # together on one machine)
    for round_ in range(60):
        errors: list[BaseException] = []
        barrier = threading.Barrier(6)
        args = (tmp_path / f"new-{round_}.sqlite3", barrier, errors)
        threads = [threading.Thread(target=_open_one, args=args) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors[0]
