"""The dispatcher under faults, with real processes and real servers (X5, B15).

Each proof runs ``fault_worker.py`` as a process of its own over a plan file and a
store on disk or on a server, and breaks something for real: the worker is killed
with SIGKILL at random points and resumed, the Redis server is stopped mid-run and
started again on its own append-only file, the transport raises, the store is down
from the start, a ledger row is garbage. The transport writes each key to a log
before it answers ACCEPTED, so the log is what the platform received:

- no key is in the log twice (never sent twice);
- every send of the plan ends with a final ledger entry (nothing lost);
- a SENT entry's key is in the log once; an UNCERTAIN one at most once (the window
  between the transport's answer and the ledger's write), and there are no more
  UNCERTAIN entries than interruptions.

Redis and PostgreSQL are the servers of the other store tests
(``OMNIMSG_TEST_REDIS_URL``, ``OMNIMSG_TEST_POSTGRES_DSN``), each test under a
tenant of its own that is deleted after; the Redis restart uses a ``redis-server``
of its own on a free port. A missing server skips, or fails under ``CI``.
"""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import pytest

from omnimsg.broadcasts import Audience, BroadcastMessage, Draft, Sender, plan_broadcast
from omnimsg.channels.kinds import ChannelKind
from omnimsg.channels.registry import load_profile
from omnimsg.contacts import ChannelIdentity, Contact
from omnimsg.delivery import Dispatcher
from omnimsg.delivery.ledger import entries, get_entry
from omnimsg.delivery.records import LedgerEntry, LedgerStatus, decode_entry
from omnimsg.errors import CorruptRecordError, StoreUnavailableError
from omnimsg.protocols import DeliveryStore
from omnimsg.state import SubscriptionStatus
from omnimsg.stores.open import open_store
from omnimsg.testing import RecordingTransport

WORKER = Path(__file__).with_name("fault_worker.py")
SRC = Path(__file__).resolve().parents[2] / "src"
BROADCAST = "bc-faults"
OWNER = "worker-1"
EXIT_OMNIMSG_ERROR = 2  # fault_worker.py: omnimsg raised, its class and words on stderr
POSTGRES_DSN = os.environ.get(
    "OMNIMSG_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("OMNIMSG_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
FINAL = frozenset(
    {LedgerStatus.SENT, LedgerStatus.FAILED, LedgerStatus.SKIPPED, LedgerStatus.UNCERTAIN}
)


def require_server(name: str, reason: str) -> NoReturn:
    """Skip locally when a server is missing; fail loudly, naming it, under CI."""
    message = f"{name} is not reachable ({reason})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must run against the real server", pytrace=False)
    pytest.skip(message)


# --- plans -------------------------------------------------------------------------------


def write_plan(path: Path, count: int, *, capped: bool = False) -> list[str]:
    """A plan of ``count`` sends, all due now; the keys in file order.

    LiveTex Telegram by default: no rate and no daily cap, so every send is due at
    once and the dispatcher's pace is the store's. ``capped``: ExpertConnect SMS from
    ``sms-1``, under its daily cap of 1,500 recipients (B11), so each send reserves.
    """
    now = datetime.now(UTC)
    seen = now - timedelta(days=3)
    if capped:
        assert count <= 1500
        contacts = [
            Contact(
                id=f"c{i:05d}",
                first_name="Ann",
                phone=f"+3461234{i:04d}",
                subscriptions={"sms-1": SubscriptionStatus.SUBSCRIBED},
            )
            for i in range(count)
        ]
        kind, sender, profile = ChannelKind.SMS, "sms-1", "expertconnect"
    else:
        contacts = [
            Contact(
                id=f"c{i:05d}",
                first_name="Ann",
                identities=(
                    ChannelIdentity("tg-1", ChannelKind.TELEGRAM, f"u{i}", last_inbound_at=seen),
                ),
            )
            for i in range(count)
        ]
        kind, sender, profile = ChannelKind.TELEGRAM, "tg-1", "livetex"
    draft = Draft(
        id=BROADCAST,
        name="Faults",
        audience=Audience(),
        content={kind: (BroadcastMessage(text="hello {{first_name}}"),)},
        senders=(Sender(sender, kind),),
    )
    plan = plan_broadcast(draft, contacts, profile=load_profile(profile), now=now)
    with path.open("w", encoding="utf-8") as stream:
        plan.write_jsonl(stream)
    keys: list[str] = []
    with path.open(encoding="utf-8") as stream:
        for line in stream:
            data = json.loads(line)
            if data["type"] == "outcome":
                keys.extend(send["key"] for send in data["sends"])
    assert len(keys) == len(set(keys)) == count
    assert all(len(key) == 32 for key in keys)  # logged_count counts 33 bytes a line
    return keys


@pytest.fixture(scope="module")
def big_plan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """10,000 sends, planned once for the module (each test has a store of its own)."""
    path = tmp_path_factory.mktemp("plans") / "plan-10000.jsonl"
    return path, write_plan(path, 10_000)


# --- worker processes --------------------------------------------------------------------


class Worker:
    """One run of ``fault_worker.py``; its output goes to files, never to a pipe."""

    def __init__(self, where: Path, args: list[str], number: int) -> None:
        self.out = where / f"worker-{number}.out"
        self.err = where / f"worker-{number}.err"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, str(WORKER), *args], stdout=out, stderr=err, env=env
            )

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the worker did not finish within {timeout:.0f} s: {self.stderr()}")

    def stdout(self) -> str:
        return self.out.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.err.read_text(encoding="utf-8", errors="replace")[-3000:]


class Workers:
    """Starts workers over one store and plan; every one still running is killed after."""

    def __init__(self, where: Path) -> None:
        self.where = where
        self.started: list[Worker] = []

    def start(
        self,
        store: str,
        tenant: str,
        plan: Path,
        log: Path,
        *extra: str,
        owner: str = OWNER,
        lease: float = 30,
    ) -> Worker:
        args = ["--store", store, "--tenant", tenant, "--plan", str(plan), "--log", str(log)]
        args += ["--owner", owner, "--lease", str(lease), *extra]
        worker = Worker(self.where, args, len(self.started))
        self.started.append(worker)
        return worker

    def close(self) -> None:
        for worker in self.started:
            worker.kill()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(tmp_path)
    try:
        yield pool
    finally:
        pool.close()


def log_keys(log: Path) -> list[str]:
    """The keys the transport received, in order (a torn last line cannot happen)."""
    if not log.exists():
        return []
    text = log.read_text(encoding="ascii")
    assert not text or text.endswith("\n"), "a log line was cut: the write was not atomic"
    return text.splitlines()


def logged_count(log: Path) -> int:
    """How many keys the log holds, from its size alone (every line is a 32-digit key)."""
    try:
        return log.stat().st_size // 33
    except FileNotFoundError:
        return 0


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.01)


# --- stores ------------------------------------------------------------------------------


class Backend:
    """Where a test's ledger lives: a URL for the workers, a store for the checks."""

    def __init__(self, url: str, tenant: str, cleanup: Callable[[], None]) -> None:
        self.url = url
        self.tenant = tenant
        self.cleanup = cleanup

    @contextlib.contextmanager
    def store(self) -> Iterator[DeliveryStore]:
        store = open_store(self.url, tenant=self.tenant)
        try:
            yield store
        finally:
            store.close()


def tenant_name() -> str:
    return f"faults-{uuid.uuid4().hex[:16]}"


def redis_client(url: str) -> Any:
    redis = pytest.importorskip("redis")
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def delete_redis_tenant(url: str, tenant: str) -> None:
    client = redis_client(url)
    try:
        keys = list(client.scan_iter(match=f"omnimsg:{tenant}:*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i : i + 500])
    finally:
        client.close()


def delete_postgres_tenant(dsn: str, tenant: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.columns"
            " where column_name = 'tenant' and table_name like 'omnimsg%'"
            " and table_schema not in ('pg_catalog', 'information_schema')"
        ).fetchall()
        for schema, table in tables:
            statement = sql.SQL("delete from {} where tenant = %s").format(
                sql.Identifier(schema, table)
            )
            with contextlib.suppress(psycopg.errors.UndefinedTable):
                conn.execute(statement, (tenant,))


def redis_backend() -> Backend:
    client = redis_client(REDIS_URL)
    try:
        client.ping()
    except Exception as exc:  # any driver or network failure means "not reachable"
        require_server("Redis", str(exc).splitlines()[0] if str(exc) else repr(exc))
    finally:
        client.close()
    tenant = tenant_name()
    return Backend(REDIS_URL, tenant, lambda: delete_redis_tenant(REDIS_URL, tenant))


def require_postgres_store() -> None:
    """The PostgreSQL store's module and its driver, or a skip (a failure under CI)."""
    if importlib.util.find_spec("psycopg") is None:
        require_server("PostgreSQL", "the psycopg driver is not installed")
    if importlib.util.find_spec("omnimsg.stores.postgres") is None:
        require_server("PostgreSQL", "omnimsg.stores.postgres is missing")


def postgres_backend() -> Backend:
    require_postgres_store()
    import psycopg

    try:
        with psycopg.connect(POSTGRES_DSN, connect_timeout=5) as conn:
            conn.execute("select 1")
    except Exception as exc:  # any driver or network failure means "not reachable"
        require_server("PostgreSQL", str(exc).splitlines()[0] if str(exc) else repr(exc))
    tenant = tenant_name()
    return Backend(POSTGRES_DSN, tenant, lambda: delete_postgres_tenant(POSTGRES_DSN, tenant))


@pytest.fixture(params=["sqlite", "redis", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each store that several processes share, under a tenant of this test's own."""
    if request.param == "sqlite":
        found = Backend(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", tenant_name(), lambda: None)
    elif request.param == "redis":
        found = redis_backend()
    else:
        found = postgres_backend()
    try:
        yield found
    finally:
        found.cleanup()


def ledger(backend: Backend) -> dict[str, LedgerEntry]:
    with backend.store() as store:
        return {entry.key: entry for entry in entries(store, BROADCAST)}


def check_once(
    keys: list[str], logged: list[str], found: dict[str, LedgerEntry], cuts: int
) -> None:
    """Nothing lost, nothing sent twice, at most one uncertain send per interruption."""
    counts = collections.Counter(logged)
    twice = [key for key, n in counts.items() if n > 1]
    assert not twice, f"{len(twice)} keys were sent twice, e.g. {twice[:3]}"
    assert set(counts) <= set(keys), "the transport got a key the plan does not have"
    missing = set(keys) - set(found)
    assert not missing, f"{len(missing)} sends have no ledger entry"
    assert set(found) == set(keys)
    unsettled = {key: e.status for key, e in found.items() if e.status not in FINAL}
    assert not unsettled, f"sends left unsettled: {list(unsettled.items())[:3]}"
    by_status = collections.Counter(entry.status for entry in found.values())
    assert set(by_status) <= {LedgerStatus.SENT, LedgerStatus.UNCERTAIN}, by_status
    for key, entry in found.items():
        if entry.status is LedgerStatus.SENT:
            assert counts[key] == 1, f"SENT {key} is in the log {counts[key]} times"
        else:
            assert counts[key] <= 1
            assert entry.reason == "worker_stopped", entry
    uncertain = by_status[LedgerStatus.UNCERTAIN]
    assert uncertain <= cuts, f"{uncertain} uncertain sends after {cuts} interruptions"
    assert set(counts) <= set(found)


# --- 1. SIGKILL at random points ---------------------------------------------------------


def kill_at(
    rng: random.Random,
    sends: int,
    kills: int,
    workers: Workers,
    backend: Backend,
    plan: Path,
    log: Path,
) -> int:
    """Start a worker and SIGKILL it ``kills`` times at random points; how many kills.

    The points are numbers of sends made (so a faster machine still kills mid-run),
    each reached at an arbitrary step of the dispatch, then a random delay.
    """
    for point in sorted(rng.sample(range(sends // 50, sends * 4 // 5), kills)):
        worker = workers.start(backend.url, backend.tenant, plan, log)
        wait_for(
            lambda: logged_count(log) >= point or not worker.alive(),  # noqa: B023
            120,
            f"{point} sends",
        )
        time.sleep(rng.uniform(0, 0.05))
        assert worker.alive(), f"the worker stopped before it was killed: {worker.stderr()}"
        worker.kill()
        assert worker.process.returncode == -signal.SIGKILL
    return kills


def test_sigkill_at_random_points_sends_each_message_once(
    backend: Backend, big_plan: tuple[Path, list[str]], workers: Workers, tmp_path: Path
) -> None:
    """X5: a worker killed 3 to 5 times and resumed (same owner) sends each of 10,000 once.

    PostgreSQL gets 2,000: it syncs every commit to disk, three a send (about 65
    sends a second here, against 900 for SQLite and 250 for Redis).
    """
    plan, keys = big_plan
    if backend.url.startswith("postgresql:"):
        plan = tmp_path / "plan.jsonl"
        keys = write_plan(plan, 2_000)
    log = tmp_path / "sent.log"
    rng = random.Random(f"sigkill-{backend.url.partition(':')[0]}")
    started = time.monotonic()
    cuts = kill_at(rng, len(keys), rng.randint(3, 5), workers, backend, plan, log)
    last = workers.start(backend.url, backend.tenant, plan, log)
    code = last.wait(timeout=180)
    assert code == 0, last.stderr()
    elapsed = time.monotonic() - started

    logged = log_keys(log)
    found = ledger(backend)
    check_once(keys, logged, found, cuts)
    report = json.loads(last.stdout())
    uncertain = sum(entry.status is LedgerStatus.UNCERTAIN for entry in found.values())
    assert report == {
        "corrupt": [],
        "counts": {"sent": len(keys) - uncertain} | ({"uncertain": uncertain} if uncertain else {}),
    }
    print(
        f"{backend.url.partition(':')[0]}: {len(keys)} sends, {cuts} kills, "
        f"{uncertain} uncertain, {len(logged)} logged, {elapsed:.1f} s"
    )


def test_sigkill_with_a_daily_cap_reserves_each_recipient_once(
    backend: Backend, workers: Workers, tmp_path: Path
) -> None:
    """B11 under kills: each send reserves its recipient in the day's set, killed or not.

    A kill inside a reservation (SQLite's ``BEGIN IMMEDIATE``, Redis's script) leaves
    the store usable; a send whose reservation was taken before its worker died takes
    the same place again, so the day's set holds each recipient once.
    """
    plan = tmp_path / "plan.jsonl"
    keys = write_plan(plan, 1_200, capped=True)
    log = tmp_path / "sent.log"
    rng = random.Random(f"capped-{backend.url.partition(':')[0]}")
    day = datetime.now(UTC).date()
    cuts = kill_at(rng, len(keys), 3, workers, backend, plan, log)
    last = workers.start(backend.url, backend.tenant, plan, log)
    assert last.wait(timeout=120) == 0, last.stderr()
    found = ledger(backend)
    check_once(keys, log_keys(log), found, cuts)

    members: list[str] = []
    with backend.store() as store:
        for date in sorted({day, datetime.now(UTC).date()}):  # a run across midnight UTC
            taken = store.members(
                f"daily/sms-1/{date.isoformat()}", datetime(1970, 1, 1, tzinfo=UTC)
            )
            members.extend(member for member, _at in taken)
    assert sorted(members) == sorted(entry.contact_id for entry in found.values())


@pytest.mark.parametrize("resumer", ["same owner", "another owner"])
def test_a_kill_after_the_platform_took_it_leaves_it_uncertain(
    backend: Backend, resumer: str, workers: Workers, tmp_path: Path
) -> None:
    """X5: killed after the transport took a send and before the ledger knew: UNCERTAIN.

    The resumed worker (the same owner at once; another one once the 2 s lease has
    passed) never sends it again and sends the rest.
    """
    plan = tmp_path / "plan.jsonl"
    keys = write_plan(plan, 200)
    log = tmp_path / "sent.log"
    worker = workers.start(backend.url, backend.tenant, plan, log, "--hang-after", "60", lease=2)
    wait_for(lambda: logged_count(log) >= 60 or not worker.alive(), 60, "60 sends")
    assert worker.alive(), worker.stderr()
    time.sleep(0.2)  # nothing is written while it hangs
    assert logged_count(log) == 60
    worker.kill()
    window = log_keys(log)[-1]
    with backend.store() as store:
        found = get_entry(store, window)
    assert found is not None
    assert found[1].status is LedgerStatus.SENDING
    assert found[1].owner == OWNER
    until = found[1].lease_until
    assert until is not None

    owner = OWNER if resumer == "same owner" else "worker-2"
    if owner != OWNER:
        wait_for(lambda: datetime.now(UTC) > until, 10, "the lease to pass")
    resumed = workers.start(backend.url, backend.tenant, plan, log, owner=owner)
    assert resumed.wait(timeout=120) == 0, resumed.stderr()
    final = ledger(backend)
    check_once(keys, log_keys(log), final, cuts=1)
    assert final[window].status is LedgerStatus.UNCERTAIN
    assert json.loads(resumed.stdout())["counts"] == {"sent": len(keys) - 1, "uncertain": 1}


# --- 2. the Redis server stopped mid-run and started again -------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class RedisServer:
    """A ``redis-server`` of this test's own: one port, one directory, fsync on every write."""

    def __init__(self, binary: str, port: int, directory: Path) -> None:
        self.binary = binary
        self.port = port
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{port}/0"

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", str(self.directory), "--appendonly", "yes", "--appendfsync", "always"]
        args += ["--save", "", "--daemonize", "no", "--protected-mode", "no"]
        args += ["--logfile", str(self.directory / "redis.log")]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis_client(self.url)

        def answers() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                log = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"redis-server exited with {self.process.returncode}: {log}")
            try:
                return bool(client.ping())
            except Exception:  # loading, or not listening yet
                return False

        try:
            wait_for(answers, 20, f"redis-server on port {self.port}")
        finally:
            client.close()

    def stop(self) -> None:
        """SIGTERM: Redis writes its append-only file and exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        require_server("redis-server", "no redis-server program on PATH")
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(binary, free_port(), directory)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def test_redis_restart_mid_run_loses_and_repeats_nothing(
    own_redis: RedisServer, workers: Workers, tmp_path: Path
) -> None:
    """The server stops under a worker: a clear StoreUnavailableError; resumed, all go once."""
    plan = tmp_path / "plan.jsonl"
    keys = write_plan(plan, 2_000)
    log = tmp_path / "sent.log"
    tenant = tenant_name()
    worker = workers.start(own_redis.url, tenant, plan, log)
    wait_for(
        lambda: logged_count(log) >= 300 or not worker.alive(), 60, "300 sends before the stop"
    )
    assert worker.alive(), "the worker finished before the server was stopped"
    own_redis.stop()
    code = worker.wait(timeout=60)
    words = worker.stderr()
    assert code == EXIT_OMNIMSG_ERROR, words
    first = words.splitlines()[0]
    assert first.startswith("StoreUnavailableError: "), words
    assert f"127.0.0.1:{own_redis.port}" in first
    assert "Traceback" not in words
    print(f"worker on a stopped server: exit {code}, {first}")
    sent_before = len(log_keys(log))
    assert 300 <= sent_before < len(keys)

    own_redis.start()  # same directory and port: the append-only file is read back
    resumed = workers.start(own_redis.url, tenant, plan, log)
    assert resumed.wait(timeout=120) == 0, resumed.stderr()
    backend = Backend(own_redis.url, tenant, lambda: None)
    check_once(keys, log_keys(log), ledger(backend), cuts=1)


# --- 3. a transport that raises what it should not ---------------------------------------


def test_transport_crashes_fail_those_sends_and_the_run_goes_on(
    workers: Workers, tmp_path: Path
) -> None:
    """B15: RuntimeError and ValueError from the transport: FAILED transport_crashed, exit 0."""
    plan = tmp_path / "plan.jsonl"
    keys = write_plan(plan, 40)
    log = tmp_path / "sent.log"
    backend = Backend(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", tenant_name(), lambda: None)
    crashes = {"u3": "RuntimeError", "u17": "ValueError"}
    extra = [arg for who, error in crashes.items() for arg in ("--crash", f"{who}={error}")]
    worker = workers.start(backend.url, backend.tenant, plan, log, *extra)
    assert worker.wait(timeout=60) == 0, worker.stderr()

    found = ledger(backend)
    assert set(found) == set(keys)
    crashed = {key: entry for key, entry in found.items() if entry.status is LedgerStatus.FAILED}
    assert sorted(entry.contact_id for entry in crashed.values()) == ["c00003", "c00017"]
    for entry in crashed.values():
        assert entry.reason == "transport_crashed"
        assert entry.rule == "B15"
        error = crashes[f"u{int(entry.contact_id[1:])}"]
        assert entry.error is not None
        assert entry.error.startswith(f"the transport raised {error}")
    logged = log_keys(log)
    assert sorted(logged) == sorted(set(keys) - set(crashed))
    assert all(found[key].status is LedgerStatus.SENT for key in logged)
    report = json.loads(worker.stdout())
    assert report["counts"] == {"failed": 2, "sent": len(keys) - 2}


# --- 4. a store that is down from the start ----------------------------------------------


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound by this test and never listened on: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def down_store(kind: str, port: int, tmp_path: Path) -> tuple[str, str]:
    """A URL of a store that cannot be reached, and the words its error must name."""
    if kind == "redis":
        return f"redis://127.0.0.1:{port}/0", f"127.0.0.1:{port}"
    if kind == "postgres":
        require_postgres_store()
        return "postgresql://postgres@127.0.0.1:1/test?connect_timeout=5", "127.0.0.1:1"
    return f"sqlite:///{tmp_path / 'no-such-dir' / 'ledger.sqlite3'}", "no-such-dir"


@pytest.mark.parametrize("kind", ["redis", "postgres", "sqlite"])
def test_a_store_down_from_the_start_raises_store_unavailable(
    kind: str, closed_port: int, tmp_path: Path
) -> None:
    """Dispatcher.run raises StoreUnavailableError naming where, and calls no transport."""
    url, where = down_store(kind, closed_port, tmp_path)
    plan = tmp_path / "plan.jsonl"
    write_plan(plan, 5)
    transport = RecordingTransport()
    store = open_store(url, tenant="faults")
    started = time.monotonic()
    try:
        dispatcher = Dispatcher(store, transport, owner=OWNER)
        with plan.open(encoding="utf-8") as stream, pytest.raises(StoreUnavailableError) as caught:
            dispatcher.run(stream)
    finally:
        with contextlib.suppress(StoreUnavailableError):
            store.close()
    assert type(caught.value) is StoreUnavailableError
    assert where in str(caught.value), str(caught.value)
    assert time.monotonic() - started < 30
    assert transport.requests == []


# --- 5. a corrupt ledger row -------------------------------------------------------------


def test_a_corrupt_ledger_row_is_reported_and_never_overwritten(tmp_path: Path) -> None:
    """A garbage ledger entry is left as it is and listed as corrupt; the rest are sent.

    Its send is not made (nothing says it was not made already); every other send
    goes once, a second run changes nothing, and once the row is repaired (here
    deleted) a run sends that one too.
    """
    plan = tmp_path / "plan.jsonl"
    keys = write_plan(plan, 20)
    bad = keys[7]
    garbage = '{"status": "sent", not json'
    path = tmp_path / "ledger.sqlite3"
    backend = Backend(f"sqlite:///{path}", tenant_name(), lambda: None)
    with backend.store() as store:
        assert store.put_record("ledger", bad, None, garbage, group=BROADCAST)
        with pytest.raises(CorruptRecordError, match=bad):
            get_entry(store, bad)

    transport = RecordingTransport()
    for _ in range(2):  # a second run meets the same row, still untouched
        with backend.store() as store, plan.open(encoding="utf-8") as stream:
            report = Dispatcher(store, transport, owner=OWNER).run(stream)
        assert report.corrupt == (bad,)
        assert report.counts == {"sent": len(keys) - 1}
        with backend.store() as store:
            assert store.get_record("ledger", bad) == (1, garbage)
            others = [
                decode_entry(key, text)
                for key, _version, text in store.scan_records("ledger", BROADCAST)
                if key != bad
            ]
        assert sorted(entry.key for entry in others) == sorted(set(keys) - {bad})
        assert all(entry.status is LedgerStatus.SENT for entry in others)
    sent = [request.idempotency_key for request in transport.requests]
    assert sorted(sent) == sorted(set(keys) - {bad})

    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "DELETE FROM omnimsg_records WHERE tenant = ? AND kind = 'ledger' AND key = ?",
            (backend.tenant, bad),
        )
    with backend.store() as store, plan.open(encoding="utf-8") as stream:
        report = Dispatcher(store, transport, owner=OWNER).run(stream)
    assert report.counts == {"sent": len(keys)}
    assert report.corrupt == ()
    sent = [request.idempotency_key for request in transport.requests]
    assert sorted(sent) == sorted(keys)
