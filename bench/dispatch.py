"""Dispatching a plan through each delivery store, and each store's reservations against its floor.

In one run:

1. **sends per second, per process**: ``Dispatcher.run`` over one plan of
   ``--contacts`` contacts, through a transport that accepts every request and keeps
   nothing, against each delivery store: memory, SQLite (a WAL file in a temporary
   directory), Redis (``127.0.0.1:6379``) and PostgreSQL (``test`` database on
   ``127.0.0.1:5432``). The plan: profile ``livetex``, Telegram from one bot account
   (no window, no rate, no caps: the one reservation per send is the dispatcher's
   count of the contact's messages, X4, without a cap), every send due at the plan's
   instant; the clock is a
   :class:`~omnimsg.testing.FixedClock` standing there, and ``sleep`` moves it. Each
   round gives each store a fresh namespace (a new memory store, a new SQLite file, a
   new Redis tenant under this run's own prefix, a new PostgreSQL tenant), opened
   before the clock starts; the time includes the report the run reads back from the
   ledger. Ratios are against the memory store. A round sends the whole plan through
   every store, and a server-backed store commits several times per send (PostgreSQL
   waits for its disk on each unless ``synchronous_commit`` is off: the line says
   which), so this part runs ``--dispatch-repeat`` rounds (1 by default).

2. **Redis reservations**: ``RedisStore.reserve([one Reservation], at)`` in a loop,
   each a new member of a daily-cap-shaped set (``daily/{account}/{date}``, a cap
   that is never reached, no window, kept two days, as the dispatcher takes for B11),
   against ``redis-benchmark -n N -c 1 -q -r R EVALSHA <sha> 2 <keys> <arguments>`` on
   the same server sending the store's own reserve script (put there with ``SCRIPT
   LOAD``; its sha checked against the one the store sends), with the keys and
   arguments the store sends for that reservation (recorded from a real call, on a
   store over a client of one's own) and a new member on every call (``__rand_int__``
   with ``-r``, under a prefix of each run's own: redis-benchmark's random numbers may
   repeat from one run to the next). One client, no pipelining, one round trip per
   call on both sides, and the server does the same work per call on both sides, so
   the ratio measures what omnimsg's Python side adds: checking the reservation,
   building the command, the client's round trip. That is the target's baseline: the
   store at least 0.5x its rate. (Against ``return 1`` instead, as this part once
   measured, the server's own work for a reservation would count against the store.)
   For context: ``redis-py EVALSHA`` of the same call (the store / redis-py: the
   store's path against the plain client doing the same), and ``EVALSHA`` of a
   script that is only ``return 1`` from both clients (redis-py / redis-benchmark:
   the plain Python client's own share of a round trip; the reserve script /
   ``return 1``: what the script costs the server).

3. **SQLite reservations**: ``SqliteStore.reserve`` the same way, against a bare loop
   of single-row ``INSERT`` statements, each its own committed transaction, into a
   table shaped like the store's (same columns, key and time index, ``WITHOUT
   ROWID``: the row the store writes, without its logic) in the same file, opened
   with the store's settings (WAL, ``synchronous=NORMAL``); the same inserts each
   inside ``BEGIN IMMEDIATE`` ... ``COMMIT`` (as the store brackets a call) are
   shown beside. Target: the store at least 0.5x the bare loop.

Rounds alternate the contestants (the order rotates each round); each figure is a
median over rounds, and each ratio the median of the per-round ratios. Every run is
checked before it counts: each dispatch sent every send, each reservation was
granted and is found in its set afterwards (redis-benchmark's: nearly one new
member per call, as a random number may repeat), each bare row was written. A server
that is down, or a store module not there, is reported and skipped; a store that
raises or answers wrongly is reported as FAILED, the other parts still run, and
the script exits with status 1. What the run writes is removed at the end: the
temporary directory, the Redis keys under its own prefix (the cached scripts
stay: SCRIPT FLUSH would drop every client's), the PostgreSQL rows of its
tenants (the tables stay).

    python bench/dispatch.py          # 2,000 sends once per store; 2,000 reservations, 3 rounds
    python bench/dispatch.py --contacts 20000 --reservations 20000 --repeat 5 --dispatch-repeat 3
    python bench/dispatch.py --only reserve
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import re
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from omnimsg import ChannelKind, Contact, load_profile
from omnimsg.broadcasts import (
    Audience,
    BroadcastMessage,
    Draft,
    PlannedSend,
    Sender,
    plan_broadcast,
)
from omnimsg.contacts import ChannelIdentity
from omnimsg.delivery import Dispatcher, PlanHeader, Reservation, read_plan
from omnimsg.errors import OmnimsgError
from omnimsg.stores.memory import MemoryStore
from omnimsg.testing import FixedClock
from omnimsg.transports import SendRequest, SendResult, SendStatus

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"
ACCOUNT = "tg-bot"
DAILY_KEY = f"daily/{ACCOUNT}/{NOW.date().isoformat()}"
CAP = 1_000_000_000
KEEP = timedelta(days=2)
WARM_UP = 200  # reservations made before the rounds

MEMORY, SQLITE, REDIS, POSTGRES = "memory", "SQLite", "Redis", "PostgreSQL"
STORE_RESERVE = "RedisStore.reserve (one daily-cap reservation)"
RAW_RESERVE = "redis-benchmark EVALSHA of the reserve script (-c 1, no pipelining)"
PY_RESERVE = "redis-py EVALSHA of the reserve script"
RAW_EVALSHA = "redis-benchmark EVALSHA of `return 1` (-c 1, no pipelining)"
PY_EVALSHA = "redis-py EVALSHA of `return 1`"
SQLITE_RESERVE = "SqliteStore.reserve (one daily-cap reservation)"
BARE_INSERT = "bare INSERT, one per committed transaction"
BARE_BRACKETED = "bare BEGIN IMMEDIATE; INSERT; COMMIT"


class Failed(Exception):
    """A contestant failed: a store raised, or a run's result was not the expected one."""


class NullTransport:
    """A transport accepting every request and keeping nothing but a count."""

    idempotent = False

    def __init__(self) -> None:
        self.calls = 0

    def send(self, request: SendRequest, /) -> SendResult:
        self.calls += 1
        return SendResult(idempotency_key=request.idempotency_key, status=SendStatus.ACCEPTED)


def planned(count: int) -> tuple[PlanHeader, list[PlannedSend]]:
    """A plan of ``count`` Telegram messages, all due at :data:`NOW`, read back from its
    JSON Lines as a worker reads it."""
    kind = ChannelKind.TELEGRAM
    inbound = NOW - timedelta(days=1)  # Telegram needs the contact to have written (W8)
    contacts = [
        Contact.trusted(
            f"c{n:08d}",
            first_name="Ann",
            identities=(ChannelIdentity(ACCOUNT, kind, f"tg{n}", None, inbound),),
            last_interacted_channel=kind,
        )
        for n in range(count)
    ]
    draft = Draft(
        id="bench-dispatch",
        name="Dispatch (benchmark)",
        audience=Audience(),
        content={kind: (BroadcastMessage(text="Hello {{ first_name }}, your order shipped."),)},
        senders=(Sender(ACCOUNT, kind),),
    )
    text = io.StringIO()
    plan_broadcast(draft, contacts, profile=load_profile("livetex"), now=NOW).write_jsonl(text)
    text.seek(0)
    header, sends = read_plan(text)
    listed = list(sends)
    if len(listed) != count or any(send.not_before > NOW for send in listed):
        raise Failed(f"the plan has {len(listed):,} sends, not {count:,} due now")
    return header, listed


# --- the stores ----------------------------------------------------------------------------


_TENANT_TABLES = (
    "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema()"
    " AND table_name LIKE 'omnimsg\\_%' AND column_name = 'tenant'"
)


class Namespaces:
    """Fresh stores of one kind (``name``), one per round, and the cleaning up after them."""

    def __init__(self, name: str, folder: Path, run_id: str) -> None:
        self.name, self.folder, self.run_id = name, folder, run_id
        self.prefix = f"omnimsg-bench-{run_id}"  # Redis: every key of this run under it
        self.tenants: list[str] = []  # PostgreSQL: the tenants whose rows to delete

    def fresh(self, round_: int) -> Any:
        """A store on a namespace of its own, opened (its first call made)."""
        tenant = f"{self.run_id}-dispatch-{round_}"
        if self.name == MEMORY:
            return MemoryStore(tenant=tenant)
        if self.name == SQLITE:
            from omnimsg.stores.sqlite import SqliteStore

            store: Any = SqliteStore(self.folder / f"dispatch-{round_}.sqlite3", tenant=tenant)
        elif self.name == REDIS:
            from omnimsg.stores.redis import RedisStore

            store = RedisStore(REDIS_URL, tenant=tenant, prefix=self.prefix)
        else:
            from omnimsg.stores.postgres import PostgresStore

            self.tenants.append(tenant)
            store = PostgresStore(POSTGRES_DSN, tenant=tenant)
        store.get_record("ledger", "warm-up")  # connects, creates or checks the tables
        return store

    def release(self, store: Any) -> None:
        """Close ``store`` and remove what it wrote."""
        store.close()
        self.cleanup()

    def cleanup(self) -> None:
        """Remove whatever this run's stores of this kind wrote."""
        if self.name == SQLITE:
            for path in self.folder.glob("dispatch-*"):
                path.unlink()
        elif self.name == REDIS:
            import redis

            with redis.Redis.from_url(REDIS_URL, socket_timeout=5) as client:
                delete_redis_prefix(client, self.prefix)
        elif self.name == POSTGRES and self.tenants:
            import psycopg

            with psycopg.connect(POSTGRES_DSN, connect_timeout=5) as conn:
                for (table,) in conn.execute(_TENANT_TABLES).fetchall():
                    conn.execute(f'DELETE FROM "{table}" WHERE tenant = ANY(%s)', (self.tenants,))
            self.tenants.clear()


def delete_redis_prefix(client: Any, prefix: str) -> None:
    """Delete every key under ``prefix:`` (a prefix of this run's own)."""
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])


def unavailable(name: str) -> str | None:
    """Why the store ``name`` cannot be measured here (module, driver, server), or ``None``."""
    module = {SQLITE: "sqlite", REDIS: "redis", POSTGRES: "postgres"}[name]
    try:
        __import__(f"omnimsg.stores.{module}")
    except ImportError as exc:
        return f"omnimsg.stores.{module} cannot be imported ({exc})"
    try:
        if name == REDIS:
            import redis

            redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=3).ping()
        elif name == POSTGRES:
            import psycopg

            with psycopg.connect(POSTGRES_DSN, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
    except Exception as exc:  # any driver or network failure: the server is not there
        return f"the server is down ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
    return None


_COMMIT_SETTINGS = ("fsync", "synchronous_commit")


def postgres_settings() -> str:
    """The server's settings that decide what a commit waits for."""
    import psycopg

    with psycopg.connect(POSTGRES_DSN, connect_timeout=5) as conn:
        rows = [(name, conn.execute(f"SHOW {name}").fetchone()) for name in _COMMIT_SETTINGS]
    return ", ".join(f"{name} {row[0] if row else '?'}" for name, row in rows)


# --- the rounds ----------------------------------------------------------------------------


def interleaved(
    contestants: dict[str, Callable[[], float]], rounds: int
) -> tuple[list[dict[str, float]], dict[str, str]]:
    """Each contestant's seconds (as it measures them), one dict per round, the order
    rotating from round to round; and why each contestant that failed did (it then
    sits out the remaining rounds)."""
    names = list(contestants)
    results: list[dict[str, float]] = []
    failed: dict[str, str] = {}
    for round_ in range(rounds):
        shift = round_ % len(names)
        timings: dict[str, float] = {}
        for name in names[shift:] + names[:shift]:
            if name in failed:
                continue
            try:
                timings[name] = contestants[name]()
            except Failed as exc:
                failed[name] = str(exc)
            except OmnimsgError as exc:
                failed[name] = f"{type(exc).__name__}: {exc}"
        results.append(timings)
    return results, failed


def report_rates(
    names: list[str],
    rounds: list[dict[str, float]],
    failed: dict[str, str],
    count: int,
    unit: str,
    width: int = 0,
) -> None:
    """A line per contestant: its median seconds and rate, or why it failed."""
    width = max(width, *(len(name) for name in names))
    for name in names:
        if name in failed:
            print(f"  {name:<{width}}  FAILED: {failed[name][:300]}")
        else:
            seconds = statistics.median(r[name] for r in rounds)
            print(f"  {name:<{width}}  {seconds:8.3f} s  {count / seconds:12,.0f} {unit}")


def ratio(rounds: list[dict[str, float]], top: str, bottom: str) -> float:
    """The median over rounds of ``top``'s rate over ``bottom``'s."""
    return statistics.median(r[bottom] / r[top] for r in rounds)


def rounds_text(count: int) -> str:
    return f"{count} round{'' if count == 1 else 's'}"


def verdict(value: float) -> str:
    return "the 0.5 target met" if value >= 0.5 else "below the 0.5 target"


def dispatch_once(
    backend: Namespaces, plan: tuple[PlanHeader, list[PlannedSend]], counter: Iterator[int]
) -> Callable[[], float]:
    """A contestant: one run of the plan on a fresh store of ``backend``; its seconds."""

    def run() -> float:
        round_ = next(counter)
        store = None
        try:
            store = backend.fresh(round_)
            header, sends = plan
            clock = FixedClock(header.start)
            transport = NullTransport()

            def sleep(seconds: float) -> None:
                clock.advance(timedelta(seconds=seconds))

            dispatcher = Dispatcher(store, transport, clock=clock, sleep=sleep, seed=round_)
            start = time.perf_counter()
            report = dispatcher.run((header, sends))
            seconds = time.perf_counter() - start
        finally:
            if store is not None:
                backend.release(store)
        if dict(report.counts) != {"sent": len(sends)} or transport.calls != len(sends):
            raise Failed(
                f"{backend.name}: the run sent {dict(report.counts)} with {transport.calls:,} "
                f"transport calls, not all {len(sends):,}"
            )
        return seconds

    return run


def reserve_loop(store: Any, count: int, counter: Iterator[int], label: str) -> Callable[[], float]:
    """A contestant: ``count`` reservations of one new member each (numbered from
    ``counter``); its seconds."""

    def run() -> float:
        wanted = [
            [Reservation(DAILY_KEY, f"m{next(counter):09d}", CAP, None, KEEP)] for _ in range(count)
        ]
        reserve = store.reserve
        start = time.perf_counter()
        refused = [reserve(one, NOW) for one in wanted]
        seconds = time.perf_counter() - start
        if any(r != -1 for r in refused):
            raise Failed(f"{label}: a reservation under a cap of {CAP:,} was refused")
        return seconds

    return run


def check_members(store: Any, expected: int, label: str) -> None:
    found = len(store.members(DAILY_KEY, NOW - KEEP))
    if found != expected:
        raise Failed(f"{label}: {found:,} members in the set after {expected:,} reservations")


# --- 1. dispatch ---------------------------------------------------------------------------


def bench_dispatch(args: argparse.Namespace, folder: Path, run_id: str) -> None:
    print(
        f"\n1. Dispatcher.run, {args.contacts:,} sends (livetex Telegram, no caps, all due now), "
        f"a transport accepting everything, one process; {rounds_text(args.dispatch_repeat)}"
    )
    plan = planned(args.contacts)
    backends = [Namespaces(MEMORY, folder, run_id)]
    skipped: dict[str, str] = {}
    for name in (SQLITE, REDIS, POSTGRES):
        reason = unavailable(name)
        if reason is None:
            backends.append(Namespaces(name, folder, run_id))
        else:
            skipped[name] = reason
    counter = itertools.count()
    try:
        contestants = {b.name: dispatch_once(b, plan, counter) for b in backends}
        contestants[MEMORY]()  # warm-up
        rounds, failed = interleaved(contestants, args.dispatch_repeat)
    finally:
        for backend in backends:
            backend.cleanup()
    width = max(len(name) for name in (MEMORY, SQLITE, REDIS, POSTGRES))
    report_rates(list(contestants), rounds, failed, args.contacts, "sends/s", width)
    for name, reason in skipped.items():
        print(f"  {name:<{width}}  skipped: {reason}")
    if POSTGRES in contestants:
        print(f"  ({POSTGRES}: {postgres_settings()})")
    for name in list(contestants)[1:]:
        if name not in failed and MEMORY not in failed:
            print(f"sends/s, {name} / memory: {ratio(rounds, name, MEMORY):.3f}")
    if failed:
        raise Failed(f"dispatch failed on {', '.join(failed)}")


# --- 2. Redis reservations -----------------------------------------------------------------

RAW_RANDOM = 1_000_000_000
"""redis-benchmark ``-r``: ``__rand_int__`` becomes one of this many numbers."""


class Recorded:
    """The ``EVALSHA`` a :class:`RedisStore` sends for one daily-cap reservation of
    ``tenant``: the script's sha, the number of keys, the keys and arguments as sent,
    and the place of the member among them. Recorded from a real call (made on a
    store over a client of one's own, which sends each script through
    ``execute_command``), so it follows whatever the store sends."""

    def __init__(self, prefix: str, tenant: str) -> None:
        import redis

        from omnimsg.stores.redis import RedisStore

        sent: list[tuple[Any, ...]] = []

        class Recording(redis.Redis):
            def execute_command(self, *args: Any, **options: Any) -> Any:
                if args and args[0] == "EVALSHA":
                    sent.append(args)
                send: Any = super().execute_command
                return send(*args, **options)

        member = f"{tenant}-recorded"
        client = Recording(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=5)
        store = RedisStore(client, tenant=tenant, prefix=prefix)
        try:
            refused = store.reserve([Reservation(DAILY_KEY, member, CAP, None, KEEP)], NOW)
        finally:
            store.close()
            client.close()
        words = [_word(value) for value in sent[-1][3:]] if sent else []
        if refused != -1 or member.encode() not in words:
            raise Failed(f"recording the store's EVALSHA: refused {refused}, sent {len(sent)}")
        self.sha, self.keys = _word(sent[-1][1]).decode(), int(sent[-1][2])
        self.words, self.member_at = words, words.index(member.encode())

    def evalsha(self, member: bytes) -> list[bytes]:
        """The keys and arguments of the recorded call with another member."""
        words = list(self.words)
        words[self.member_at] = member
        return words


def _word(value: object) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def redis_benchmark(command: list[str], count: int) -> float:
    """Seconds per ``count`` calls of ``command``, from redis-benchmark's own requests
    per second (``-r`` when a word holds ``__rand_int__``)."""
    run = ["redis-benchmark", "-h", REDIS_HOST, "-p", str(REDIS_PORT), "-n", str(count)]
    run += ["-c", "1", "-q"]
    if any("__rand_int__" in word for word in command):
        run += ["-r", str(RAW_RANDOM)]
    done = subprocess.run(run + command, capture_output=True, text=True, timeout=300, check=False)
    found = re.findall(r"([\d.]+) requests per second", done.stdout)
    if done.returncode or not found:
        raise Failed(f"redis-benchmark failed: {(done.stderr or done.stdout).strip()[:300]}")
    return count / float(found[-1])


def bench_redis(args: argparse.Namespace, run_id: str) -> None:
    print(
        f"\n2. Redis reservations, {args.reservations:,} calls each, one client, one round trip "
        f"per call; {rounds_text(args.repeat)}"
    )
    reason = unavailable(REDIS)
    if reason is not None:
        print(f"  skipped: {reason}")
        return
    import redis

    from omnimsg.stores._redis_scripts import RESERVE as _RESERVE
    from omnimsg.stores.redis import RedisStore

    prefix = f"omnimsg-bench-{run_id}"
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    store = RedisStore(REDIS_URL, tenant="reserve", prefix=prefix)
    count, counter, runs = args.reservations, itertools.count(), itertools.count()
    try:
        one = str(client.script_load("return 1"))
        raw, py = Recorded(prefix, "raw"), Recorded(prefix, "py")
        if str(client.script_load(_RESERVE)) != raw.sha:  # SCRIPT LOAD, whatever the store did
            raise Failed("the store sends another script than its reserve script")

        def py_evalsha() -> float:
            evalsha = client.evalsha
            start = time.perf_counter()
            for _ in range(count):
                evalsha(one, 0)
            return time.perf_counter() - start

        def py_reserve() -> float:
            calls = [py.evalsha(b"m%09d" % next(counter)) for _ in range(count)]
            evalsha = client.evalsha
            start = time.perf_counter()
            refused = [evalsha(py.sha, py.keys, *words) for words in calls]
            seconds = time.perf_counter() - start
            if any(r != -1 for r in refused):
                raise Failed(f"{PY_RESERVE}: a reservation under a cap of {CAP:,} was refused")
            return seconds

        def raw_reserve(calls: int) -> float:
            # a prefix of each run's own: redis-benchmark's numbers may repeat between runs
            words = raw.evalsha(b"b%05d-__rand_int__" % next(runs))
            before = client.zcard(words[0])
            seconds = redis_benchmark(
                ["EVALSHA", raw.sha, str(raw.keys), *map(bytes.decode, words)], calls
            )
            added = client.zcard(words[0]) - before
            if added < 0.99 * calls:  # a few random numbers may repeat within a run
                raise Failed(f"{RAW_RESERVE}: {calls:,} calls took {added:,} new members")
            return seconds

        contestants = {
            STORE_RESERVE: reserve_loop(store, count, counter, STORE_RESERVE),
            RAW_RESERVE: lambda: raw_reserve(count),
            PY_RESERVE: py_reserve,
            RAW_EVALSHA: lambda: redis_benchmark(["EVALSHA", one, "0"], count),
            PY_EVALSHA: py_evalsha,
        }
        benchmark = shutil.which("redis-benchmark")
        if benchmark is None:
            del contestants[RAW_RESERVE], contestants[RAW_EVALSHA]
        else:
            raw_reserve(WARM_UP)
        reserve_loop(store, WARM_UP, counter, STORE_RESERVE)()
        py_evalsha()
        rounds, failed = interleaved(contestants, args.repeat)
        if STORE_RESERVE not in failed:
            check_members(store, WARM_UP + count * args.repeat, STORE_RESERVE)
    finally:
        store.close()
        delete_redis_prefix(client, prefix)
        client.close()
    report_rates(list(contestants), rounds, failed, count, "calls/s")
    if benchmark is None:
        print("  redis-benchmark: skipped, not on PATH (no figure for the target)")
    if failed:
        raise Failed(f"Redis reservations failed: {', '.join(failed)}")
    if benchmark is not None:
        value = ratio(rounds, STORE_RESERVE, RAW_RESERVE)
        print(
            f"reserve rate, RedisStore / redis-benchmark EVALSHA of the reserve script: {value:.3f}"
        )
        print(f"  (the target's baseline: {verdict(value)})")
    mine = ratio(rounds, STORE_RESERVE, PY_RESERVE)
    print(f"reserve rate, RedisStore / redis-py EVALSHA of the reserve script: {mine:.3f}")
    if benchmark is not None:
        floor = ratio(rounds, PY_EVALSHA, RAW_EVALSHA)
        print(f"EVALSHA rate of `return 1`, redis-py / redis-benchmark: {floor:.3f}")
        server = ratio(rounds, RAW_RESERVE, RAW_EVALSHA)
        print(f"EVALSHA rate in redis-benchmark, the reserve script / `return 1`: {server:.3f}")


# --- 3. SQLite reservations ----------------------------------------------------------------

_BARE_TABLE = (
    "CREATE TABLE IF NOT EXISTS bench_bare_inserts ("
    " tenant TEXT NOT NULL, set_key TEXT NOT NULL, member TEXT NOT NULL,"
    " at INTEGER NOT NULL, expires INTEGER NOT NULL,"
    " PRIMARY KEY (tenant, set_key, member)) WITHOUT ROWID"
)
# The same table as the store's reservations, with the same index: the bare loop
# writes the row the store writes, with none of its logic.
_BARE_INDEX = (
    "CREATE INDEX IF NOT EXISTS bench_bare_inserts_at ON bench_bare_inserts (tenant, set_key, at)"
)
_BARE_INSERT = (
    "INSERT INTO bench_bare_inserts (tenant, set_key, member, at, expires) VALUES (?, ?, ?, ?, ?)"
)


def bench_sqlite(args: argparse.Namespace, folder: Path) -> None:
    print(
        f"\n3. SQLite reservations, {args.reservations:,} calls each, one file (WAL, "
        f"synchronous=NORMAL); {rounds_text(args.repeat)}"
    )
    reason = unavailable(SQLITE)
    if reason is not None:
        print(f"  skipped: {reason}")
        return
    from omnimsg.stores.sqlite import SqliteStore

    path = folder / "reserve.sqlite3"
    store = SqliteStore(path, tenant="reserve")
    bare = sqlite3.connect(path, isolation_level=None)  # autocommit: one statement, one commit
    count, counter = args.reservations, itertools.count()
    now_us, expires_us = _micros(NOW), _micros(NOW + KEEP)

    def timed(bracketed: bool) -> Callable[[], float]:
        def run() -> float:
            rows = [
                ("b", DAILY_KEY, f"m{next(counter):09d}", now_us, expires_us) for _ in range(count)
            ]
            execute = bare.execute
            start = time.perf_counter()
            if bracketed:
                for row in rows:
                    execute("BEGIN IMMEDIATE")
                    execute(_BARE_INSERT, row)
                    execute("COMMIT")
            else:
                for row in rows:
                    execute(_BARE_INSERT, row)
            return time.perf_counter() - start

        return run

    try:
        store.get_record("ledger", "warm-up")  # creates the file and the store's tables
        bare.execute("PRAGMA journal_mode = WAL")
        bare.execute("PRAGMA synchronous = NORMAL")
        bare.execute(_BARE_TABLE)
        bare.execute(_BARE_INDEX)
        mode = bare.execute("PRAGMA journal_mode").fetchone()[0]
        sync = bare.execute("PRAGMA synchronous").fetchone()[0]
        if str(mode).lower() != "wal" or sync != 1:
            raise Failed(f"the bare connection runs journal {mode}, synchronous {sync}")
        contestants = {
            SQLITE_RESERVE: reserve_loop(store, count, counter, SQLITE_RESERVE),
            BARE_INSERT: timed(bracketed=False),
            BARE_BRACKETED: timed(bracketed=True),
        }
        reserve_loop(store, WARM_UP, counter, SQLITE_RESERVE)()
        contestants[BARE_INSERT]()
        rounds, failed = interleaved(contestants, args.repeat)
        if SQLITE_RESERVE not in failed:
            check_members(store, WARM_UP + count * args.repeat, SQLITE_RESERVE)
        rows = bare.execute("SELECT count(*) FROM bench_bare_inserts").fetchone()[0]
        if rows != (2 * args.repeat + 1) * count:
            raise Failed(f"bare inserts: {rows:,} rows after {(2 * args.repeat + 1) * count:,}")
    finally:
        bare.close()
        store.close()
    report_rates(list(contestants), rounds, failed, count, "calls/s")
    if failed:
        raise Failed(f"SQLite reservations failed: {', '.join(failed)}")
    value = ratio(rounds, SQLITE_RESERVE, BARE_INSERT)
    print(f"reserve rate, SqliteStore / bare INSERT: {value:.3f}")
    print(f"  ({verdict(value)})")


def _micros(instant: datetime) -> int:
    delta = instant - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=2_000, help="sends in the plan (2000)")
    parser.add_argument(
        "--reservations", type=int, default=2_000, help="calls per contestant per round (2000)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of parts 2 and 3 (median over them)"
    )
    parser.add_argument(
        "--dispatch-repeat", type=int, default=1, help="rounds of part 1 (median over them)"
    )
    parser.add_argument(
        "--only", choices=("dispatch", "reserve"), help="measure only part 1, or parts 2 and 3"
    )
    args = parser.parse_args()
    if min(args.contacts, args.reservations, args.repeat, args.dispatch_repeat) < 1:
        parser.error("sizes and rounds must be at least 1")
    run_id = f"{os.getpid()}-{secrets.token_hex(3)}"
    print(f"bench/dispatch.py: run {run_id}")
    folder = Path(tempfile.mkdtemp(prefix="omnimsg-bench-dispatch-"))
    parts: list[Callable[[], None]] = []
    if args.only != "reserve":
        parts.append(lambda: bench_dispatch(args, folder, run_id))
    if args.only != "dispatch":
        parts.append(lambda: bench_redis(args, run_id))
        parts.append(lambda: bench_sqlite(args, folder))
    failures: list[str] = []
    try:
        for part in parts:
            try:
                part()
            except (Failed, OmnimsgError) as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
                print(f"  FAILED: {failures[-1][:300]}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if failures:
        raise SystemExit("failed: " + "; ".join(f[:300] for f in failures))


if __name__ == "__main__":
    main()
