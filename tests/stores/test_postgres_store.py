"""The PostgreSQL delivery store: its schema versions, its server going away, many clients.

What every delivery store shares is the contract suite's (test_contract.py); this
file checks what is particular to PostgreSQL: ``schema_version`` and migrations, a
server that is down or refuses the database (named, never with the password), a
connection dropped under the store, a fork, eight processes on one cap (SPEC B11,
B13, X4: a cap is never passed) and one ledger record (X5: no lost update), keys of
any length omnimsg takes, keys sorted by code point across pages, rows another
program wrote, hostile arguments, and random calls against ``MemoryStore``.

Each test gets a schema of its own on the server at 127.0.0.1:5432 (database
``test``), dropped after; without the server the tests are skipped, or fail when
``CI`` is set.
"""

from __future__ import annotations

import multiprocessing
import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from psycopg import conninfo

from omnimsg.delivery.records import Reservation, decode_entry
from omnimsg.errors import (
    CorruptRecordError,
    InputError,
    SchemaVersionError,
    StoreError,
    StoreUnavailableError,
)
from omnimsg.protocols import DeliveryStore
from omnimsg.stores import _sqlschema
from omnimsg.stores.postgres import SCHEMA_VERSION, PostgresStore

from .test_sqlite_store import Call, hostile_calls, random_calls, replay_against_memory

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
EARLY = T0 - timedelta(days=400)
SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.fixture
def dsn(postgres_dsn: str) -> Iterator[str]:
    """A DSN whose ``search_path`` is a schema of the test's own."""
    schema = f"omnimsg_pg_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield conninfo.make_conninfo(postgres_dsn, options=f"-csearch_path={schema}")
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def store(dsn: str) -> Iterator[PostgresStore]:
    with PostgresStore(dsn, tenant="t1") as opened:
        yield opened


def sql(dsn: str, statement: str, *args: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cursor = conn.execute(statement, args or None)
        return cursor.fetchall() if cursor.description else []


def backend_pid(store: PostgresStore) -> int:
    conn = store._conn
    assert conn is not None
    return int(conn.info.backend_pid)


# --- reserve agrees with MemoryStore ---------------------------------------------------------


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls=random_calls())
def test_random_calls_agree_with_memory(postgres_dsn: str, calls: list[Call]) -> None:
    """SPEC B11, B13, X4: MemoryStore's semantics exactly, time going back included."""
    tenant = f"model-{uuid.uuid4().hex}"
    with PostgresStore(postgres_dsn, tenant=tenant) as store:
        try:
            replay_against_memory(store, calls, ("a", "b"))
        finally:
            for table in ("omnimsg_reservations", "omnimsg_sets"):
                sql(postgres_dsn, f"DELETE FROM {table} WHERE tenant = %s", tenant)


def test_a_long_rolling_window_agrees_with_memory(store: PostgresStore, dsn: str) -> None:
    """SPEC B13: 200 calls on one set, members leaving the window and expiring each call."""
    calls = [
        (SECOND, (Reservation("tier/wa-1", f"r{i % 80}", 30, 20 * SECOND, 20 * SECOND),))
        for i in range(200)
    ]
    replay_against_memory(store, calls, ("tier/wa-1",))
    for mark, tie, since, live in sql(
        dsn, "SELECT mark_at, mark_mk, since, live FROM omnimsg_sets"
    ):
        counted = sql(
            dsn,
            "SELECT count(*) FROM omnimsg_reservations WHERE at > %s AND (at, mk) <= (%s, %s)",
            since,
            mark,
            tie,
        )
        assert counted == [(live,)]


# --- the database --------------------------------------------------------------------------


def test_it_is_a_delivery_store_with_its_tables_in_the_search_path(
    store: PostgresStore, dsn: str
) -> None:
    assert isinstance(store, DeliveryStore)
    assert store.tenant == "t1"
    assert store.get_record("k", "a") is None  # connects
    assert SCHEMA_VERSION == len(_sqlschema.MIGRATIONS) == 1
    assert sql(dsn, "SELECT name, value FROM omnimsg_meta") == [("schema_version", "1")]
    schema = sql(dsn, "SELECT current_schema()")[0][0]
    tables = sql(dsn, "SELECT tablename FROM pg_tables WHERE schemaname = %s", schema)
    assert {t for (t,) in tables} == {
        "omnimsg_meta",
        "omnimsg_records",
        "omnimsg_reservations",
        "omnimsg_sets",
    }


def test_data_is_kept_across_reconnecting(dsn: str) -> None:
    with PostgresStore(dsn, tenant="t1") as store:
        assert store.put_record("ledger", "k1", None, '{"a": 1}', "b1") is True
        assert store.reserve([Reservation("daily", "r1", 1, None, DAY)], T0) == -1
    with PostgresStore(dsn, tenant="t1") as store:
        assert store.get_record("ledger", "k1") == (1, '{"a": 1}')
        assert list(store.scan_records("ledger", "b1")) == [("k1", 1, '{"a": 1}')]
        assert store.members("daily", EARLY) == [("r1", T0)]
        assert store.reserve([Reservation("daily", "r2", 1, None, DAY)], T0 + HOUR) == 0
    with pytest.raises(StoreError, match="closed"):
        store.get_record("ledger", "k1")


def test_a_server_that_refuses_connections_is_unavailable_and_named() -> None:
    store = PostgresStore(
        "host=127.0.0.1 port=1 dbname=test user=postgres password=sekrit-pw", connect_timeout=2
    )
    with pytest.raises(StoreUnavailableError) as info:
        store.reserve([Reservation("k", "m", 1, None, DAY)], T0)
    message = str(info.value)
    assert "127.0.0.1:1/test" in message
    assert "sekrit-pw" not in message
    assert isinstance(info.value.__cause__, psycopg.Error)


def test_a_missing_database_is_unavailable(postgres_dsn: str) -> None:
    missing = conninfo.make_conninfo(postgres_dsn, dbname=f"no_such_{uuid.uuid4().hex[:8]}")
    with pytest.raises(StoreUnavailableError, match="no_such_"):
        PostgresStore(missing).get_record("k", "a")


def test_a_dropped_connection_fails_one_call_and_the_next_reconnects(
    store: PostgresStore, dsn: str
) -> None:
    assert store.put_record("k", "a", None, "x") is True
    for call in (
        lambda: store.get_record("k", "a"),
        lambda: store.reserve([Reservation("s", "m", 5, None, DAY)], T0),
    ):
        sql(dsn, "SELECT pg_terminate_backend(%s)", backend_pid(store))
        with pytest.raises(StoreUnavailableError) as info:
            call()
        assert isinstance(info.value.__cause__, psycopg.Error)
        assert call() is not None
    assert store.get_record("k", "a") == (1, "x")
    assert store.members("s", EARLY) == [("m", T0)]


def test_a_deadlock_free_order_of_locks_across_sets(store: PostgresStore, dsn: str) -> None:
    """Calls naming the same sets in opposite orders, from many threads, all finish."""
    other = PostgresStore(dsn, tenant="t1")
    keys = [f"set-{i}" for i in range(6)]

    def call(n: int) -> int:
        names = keys if n % 2 else list(reversed(keys))
        wanted = [Reservation(k, f"m{n}", None, None, DAY) for k in names]
        return (store if n % 3 else other).reserve(wanted, T0)

    with ThreadPoolExecutor(6) as pool:
        assert set(pool.map(call, range(60))) == {-1}
    assert all(len(store.members(k, EARLY)) == 60 for k in keys)
    other.close()


# --- schema versions -----------------------------------------------------------------------


def test_an_older_schema_is_migrated_in_order(dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with PostgresStore(dsn) as store:
        assert store.put_record("k", "a", None, "kept") is True
    step = _sqlschema.Migration(
        sqlite=(),
        postgres=(
            "CREATE TABLE omnimsg_test_v2 (n BIGINT)",
            "INSERT INTO omnimsg_test_v2 SELECT count(*) FROM omnimsg_records",
        ),
    )
    monkeypatch.setattr(_sqlschema, "MIGRATIONS", [*_sqlschema.MIGRATIONS, step])
    with PostgresStore(dsn) as store:
        assert store.get_record("k", "a") == (1, "kept")
    with PostgresStore(dsn) as store:  # at version 2 already: not run twice
        store.get_record("k", "a")
    assert sql(dsn, "SELECT value FROM omnimsg_meta") == [("2",)]
    assert sql(dsn, "SELECT n FROM omnimsg_test_v2") == [(1,)]


def test_a_schema_marked_version_0_runs_every_migration(dsn: str) -> None:
    with PostgresStore(dsn) as store:
        store.put_record("k", "a", None, "kept")
    sql(dsn, "UPDATE omnimsg_meta SET value = '0'")
    sql(dsn, "DROP TABLE omnimsg_sets")
    with PostgresStore(dsn) as store:
        assert store.get_record("k", "a") == (1, "kept")
        assert store.reserve([Reservation("s", "m", 1, None, DAY)], T0) == -1
    assert sql(dsn, "SELECT value FROM omnimsg_meta") == [("1",)]


def test_a_newer_schema_is_refused(dsn: str) -> None:
    with PostgresStore(dsn) as store:
        store.get_record("k", "a")
    sql(dsn, "UPDATE omnimsg_meta SET value = '3'")
    with pytest.raises(SchemaVersionError, match="upgrade omnimsg") as info:
        PostgresStore(dsn).get_record("k", "a")
    assert (info.value.found, info.value.expected) == (3, 1)
    assert "127.0.0.1:5432/test" in str(info.value)


def test_stores_opening_a_new_schema_at_once_create_it_once(dsn: str) -> None:
    def open_one(n: int) -> bool:
        with PostgresStore(dsn, tenant=f"t{n}") as store:
            return store.put_record("k", "a", None, str(n))

    with ThreadPoolExecutor(6) as pool:
        assert all(pool.map(open_one, range(6)))
    assert sql(dsn, "SELECT value FROM omnimsg_meta") == [("1",)]


# --- keys, text, rows written by another program -------------------------------------------


def test_keys_of_any_length_omnimsg_takes_fit_the_indexes(store: PostgresStore) -> None:
    """1,000 four-byte characters each: past PostgreSQL's 2.7 kB index entries, as text."""
    kind, key, group, member = "😀" * 1000, "𝄞" * 1000, "🎉" * 1000, "🙂" * 1000
    assert store.put_record(kind, key, None, "x", group) is True
    assert store.get_record(kind, key) == (1, "x")
    assert list(store.scan_records(kind, group)) == [(key, 1, "x")]
    assert store.reserve([Reservation(key, member, 1, DAY, DAY)], T0) == -1
    assert store.members(key, EARLY) == [(member, T0)]


def test_scan_sorts_by_code_point_across_pages_and_long_prefixes(store: PostgresStore) -> None:
    prefix = "p" * 450  # longer than the indexed part of a key
    keys = [f"{prefix}{c}{i:03d}" for i in range(260) for c in ("B", "a", "é", "Z")]
    keys += ["b", "B", "ä", "日本", "z", "a b"]
    for key in keys:
        assert store.put_record("scan", key, None, key[-4:], "g") is True
    assert [k for k, _, _ in store.scan_records("scan", "g")] == sorted(keys)


def test_nul_is_refused_as_postgresql_cannot_keep_it(store: PostgresStore) -> None:
    for text in ("a\x00b", "x\ud800"):
        with pytest.raises(InputError, match="text"):
            store.put_record("k", "a", None, text)
    big = "é😀" * 50_000
    assert store.put_record("k", "a", None, big) is True
    assert store.get_record("k", "a") == (1, big)


def test_record_text_that_is_not_json_is_handed_back(store: PostgresStore, dsn: str) -> None:
    store.put_record("ledger", "k1", None, "placeholder")
    sql(dsn, "UPDATE omnimsg_records SET body = '{not json'")
    assert store.get_record("ledger", "k1") == (1, "{not json")
    with pytest.raises(CorruptRecordError, match="k1"):
        decode_entry("k1", (store.get_record("ledger", "k1") or (0, ""))[1])


@pytest.mark.parametrize("version", [0, -3])
def test_a_corrupt_version_is_a_corrupt_record(
    store: PostgresStore, dsn: str, version: int
) -> None:
    store.put_record("ledger", "k1", None, "x", "b1")
    sql(dsn, "UPDATE omnimsg_records SET version = %s", version)
    with pytest.raises(CorruptRecordError, match="version"):
        store.get_record("ledger", "k1")
    with pytest.raises(CorruptRecordError):
        list(store.scan_records("ledger", "b1"))


def test_errors_never_escape_as_psycopg_errors(store: PostgresStore, dsn: str) -> None:
    store.get_record("k", "a")
    sql(dsn, "DROP TABLE omnimsg_records")
    with pytest.raises(StoreError) as info:
        store.put_record("k", "a", None, "x")
    assert not isinstance(info.value, StoreUnavailableError)
    assert isinstance(info.value.__cause__, psycopg.Error)
    assert store.reserve([Reservation("s", "m", 1, None, DAY)], T0) == -1


def test_tenants_in_one_database_never_meet(dsn: str) -> None:
    with PostgresStore(dsn, tenant="a") as one, PostgresStore(dsn, tenant="a.b") as other:
        assert one.put_record("k", "x", None, "one", "g") is True
        assert other.put_record("k", "x", None, "other", "g") is True
        assert list(one.scan_records("k", "g")) == [("x", 1, "one")]
        assert one.reserve([Reservation("s", "m", 1, None, DAY)], T0) == -1
        assert other.reserve([Reservation("s", "n", 1, None, DAY)], T0) == -1
        assert other.members("s", EARLY) == [("n", T0)]


# --- processes and threads -----------------------------------------------------------------

_SHARED: dict[str, Any] = {}


def _take_places(prefix: str, count: int, results: Any) -> None:
    store: PostgresStore = _SHARED["store"]
    granted = 0
    for i in range(count):
        wanted = [
            Reservation("daily/wa-1", f"{prefix}-{i}", 25, None, DAY),
            Reservation(f"freq/{prefix}-{i}", "b1", 1, DAY, DAY),
        ]
        granted += store.reserve(wanted, T0 + i * SECOND) == -1
    results.put(granted)


def _bump_counter(count: int, results: Any) -> None:
    store: PostgresStore = _SHARED["store"]
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
    out = [results.get(timeout=300) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    return out


def test_eight_processes_never_pass_one_cap(store: PostgresStore) -> None:
    """SPEC B11: 8 processes, 30 recipients each, one daily cap of 25: exactly 25 go."""
    assert store.get_record("k", "connected before the fork") is None
    pid = backend_pid(store)
    _SHARED["store"] = store
    granted = _in_processes(_take_places, [(f"p{n}", 30) for n in range(8)])
    assert sum(granted) == 25
    assert len(store.members("daily/wa-1", EARLY)) == 25
    assert backend_pid(store) == pid, "the parent's session survived its children"


def test_eight_processes_lose_no_update_of_one_record(store: PostgresStore) -> None:
    """SPEC X5: compare-and-set read-modify-write loops in 8 processes, 15 times each."""
    _SHARED["store"] = store
    _in_processes(_bump_counter, [(15,) for _ in range(8)])
    assert store.get_record("counter", "c") == (120, "120")


def test_a_forked_child_leaves_the_parent_s_session_alone(store: PostgresStore) -> None:
    assert store.put_record("k", "parent", None, "1") is True
    pid = backend_pid(store)
    for close in (True, False):
        child = os.fork()
        if child == 0:
            code = 1
            try:
                code = 0 if store.put_record("k", f"child-{close}", None, "2") else 2
                if close:
                    store.close()
            finally:
                os._exit(code)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    assert store.get_record("k", "child-True") == (1, "2")
    assert store.put_record("k", "parent", 1, "3") is True
    assert backend_pid(store) == pid


def test_threads_sharing_one_store_never_pass_a_cap(store: PostgresStore) -> None:
    def take(n: int) -> bool:
        return store.reserve([Reservation("rate", f"m{n}", 17, HOUR, HOUR)], T0) == -1

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(take, range(100))) == 17


# --- hostile arguments ---------------------------------------------------------------------


def test_hostile_arguments_raise_input_errors_and_change_nothing(store: PostgresStore) -> None:
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
        if not name.startswith("put_record expected"):
            escaped.append(f"{name}: accepted")
    assert not escaped, "\n".join(escaped)
    assert store.get_record("e", "k") == (1, "t")


@pytest.mark.parametrize(
    "arguments",
    [
        {"dsn": None},
        {"dsn": b"host=x"},
        {"dsn": "host='unterminated password=sekrit-pw"},
        {"dsn": "nosuchoption=1 password=sekrit-pw"},
        {"dsn": "host=x\x00"},
        {"dsn": "host=\ud800"},
        {"dsn": "x" * 100_000},
        {"dsn": "host=127.0.0.1", "tenant": "a:b"},
        {"dsn": "host=127.0.0.1", "tenant": None},
        {"dsn": "host=127.0.0.1", "connect_timeout": 0},
        {"dsn": "host=127.0.0.1", "connect_timeout": float("inf")},
        {"dsn": "host=127.0.0.1", "connect_timeout": "5"},
    ],
)
def test_hostile_constructor_arguments_are_input_errors(arguments: dict[str, Any]) -> None:
    with pytest.raises(InputError) as info:
        PostgresStore(**arguments)
    assert "sekrit-pw" not in str(info.value)
    assert "\x00" not in str(info.value)
