"""The dispatcher on Celery: a real worker, a real broker, each send once (X5).

A Celery worker (``--pool=prefork --concurrency=2``) is started as a process of its
own against the Redis server at 127.0.0.1:6379, on a queue and a key prefix of its
own; the store is a :class:`~omnimsg.stores.redis.RedisStore` of a fresh tenant on
the same server, and the transport (:mod:`celery_support`) appends each idempotency
key to a Redis list that this process counts. Under ``CI`` a missing Redis fails the
run; elsewhere it skips.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

celery = pytest.importorskip("celery")
redis = pytest.importorskip("redis")

from broadcasts.plan_strategies import K, ident, make_draft, messages, person, subscribed  # noqa: E402
from delivery import celery_support  # noqa: E402
from omnimsg.broadcasts import Plan, Sender, plan_broadcast  # noqa: E402
from omnimsg.channels.registry import load_profile  # noqa: E402
from omnimsg.delivery import celery as celery_module  # noqa: E402
from omnimsg.delivery import delivery_report, entries  # noqa: E402
from omnimsg.delivery.celery import (  # noqa: E402
    TASK_NAME,
    VISIBILITY_TIMEOUT,
    enqueue_plan,
    load_transport,
    make_app,
    register_tasks,
    run_batch,
)
from omnimsg.errors import InputError, OmnimsgError, StoreUnavailableError  # noqa: E402
from omnimsg.stores.open import open_store  # noqa: E402
from omnimsg.testing import FixedClock, RecordingTransport  # noqa: E402

REDIS_URL = os.environ.get("OMNIMSG_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TESTS = Path(__file__).resolve().parents[1]
SRC = TESTS.parent / "src"
LIST_TRANSPORT = "delivery.celery_support:list_transport"
RECORDING = "delivery.celery_support:recording"
TOTAL = 10_000
WAIT = 240.0


def _require_redis() -> Any:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
    try:
        client.ping()
    except Exception as exc:  # any failure to answer means "not reachable"
        client.close()
        message = f"Redis is not reachable ({type(exc).__name__})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run against the real server", pytrace=False)
        pytest.skip(message)
    return client


def _delete(client: Any, pattern: str) -> None:
    batch = list(client.scan_iter(match=pattern, count=1000))
    while batch:
        client.delete(*batch[:500])
        batch = batch[500:]


_LIBC = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    """In the worker, before exec: be killed when the test process dies (Linux)."""
    with contextlib.suppress(AttributeError):
        _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Worker:
    """A Celery worker process on a queue and key prefix of its own."""

    def __init__(self, client: Any, folder: Path) -> None:
        run = uuid.uuid4().hex[:12]
        self.client = client
        self.prefix = f"omnimsgtest-celery-{run}:"
        self.queue = f"omnimsgtest-celery-queue-{run}"
        self.list_key = f"{self.prefix}sent"
        self.app = celery_support.make_test_app(REDIS_URL, self.prefix)
        self.log = folder / "worker.log"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(TESTS), str(SRC), env.get("PYTHONPATH")])
        )
        env[celery_support.BROKER_ENV] = REDIS_URL
        env[celery_support.PREFIX_ENV] = self.prefix
        env[celery_support.LIST_ENV] = self.list_key
        args = [
            sys.executable, "-m", "celery", "-A", "delivery.celery_support", "worker",
            "--concurrency=2", "--pool=prefork", "-Q", self.queue, "-n", f"w-{run}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "warning",
        ]  # fmt: skip
        self.started = time.monotonic()
        self.first_answer = 0.0
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=folder,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    def wait(self, results: list[Any], timeout: float = WAIT) -> list[dict[str, Any]]:
        """The answers of ``results``, failing at once if the worker is gone."""
        deadline = time.monotonic() + timeout
        answers: list[dict[str, Any]] = []
        for result in results:
            while True:
                if self.process.poll() is not None:
                    pytest.fail(f"the worker stopped: {self.tail()}", pytrace=False)
                if time.monotonic() > deadline:
                    pytest.fail(f"no answer after {timeout:.0f} s: {self.tail()}", pytrace=False)
                try:
                    answers.append(result.get(timeout=1.0, interval=0.05))
                    self.first_answer = self.first_answer or time.monotonic()
                    break
                except Exception as exc:
                    if type(exc).__name__ != "TimeoutError":
                        raise
        return answers

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        process = self.process
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=20)
        # Children left behind by a parent killed at once share its process group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        self.app.close()
        _delete(self.client, f"{self.prefix}*")  # the queue's list, results, the sent keys


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    client = _require_redis()
    started = Worker(client, tmp_path_factory.mktemp("celery"))
    try:
        yield started
    finally:
        started.stop()
        client.close()


@pytest.fixture
def tenant() -> Iterator[str]:
    name = f"celerytest-{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=10)
    try:
        _delete(client, f"omnimsg:{name}:*")
    finally:
        client.close()


def _telegram_plan(now: datetime, count: int) -> Plan:
    """``count`` LiveTex Telegram contacts: no rate, no daily cap, all due at ``now``."""
    seen = now - timedelta(days=1)
    contacts = [
        person(f"c{i}", identities=[ident("tg-1", K.TELEGRAM, f"{100000 + i}", seen)])
        for i in range(count)
    ]
    draft = make_draft(
        {K.TELEGRAM: messages("hello {{first_name}}")},
        [Sender("tg-1", K.TELEGRAM)],
        draft_id="celery-10k",
    )
    return plan_broadcast(draft, contacts, profile=load_profile("livetex"), now=now)


def test_ten_thousand_sends_go_once_each_through_a_real_worker(worker: Worker, tenant: str) -> None:
    """X5: 10,000 sends in 20 tasks on 2 processes: each key sent once; a second
    enqueue of the same plan sends nothing."""
    now = datetime.now(UTC)
    begin = time.monotonic()
    results = enqueue_plan(
        worker.app,
        _telegram_plan(now, TOTAL),
        store_url=REDIS_URL,
        transport=LIST_TRANSPORT,
        tenant=tenant,
        queue=worker.queue,
    )
    enqueued = time.monotonic()
    assert len(results) == TOTAL // 500
    answers = worker.wait(results)
    done = time.monotonic()
    assert sum(answer["sent"] for answer in answers) == TOTAL
    assert {answer["broadcast_id"] for answer in answers} == {"celery-10k"}
    keys = worker.client.lrange(worker.list_key, 0, -1)
    assert len(keys) == TOTAL
    assert len(set(keys)) == TOTAL
    store = open_store(REDIS_URL, tenant=tenant)
    try:
        assert delivery_report(store, "celery-10k").counts == {"sent": TOTAL}
    finally:
        store.close()

    # The same plan again, read back from its JSON Lines: every send is settled.
    text = io.StringIO()
    _telegram_plan(now, TOTAL).write_jsonl(text)
    text.seek(0)
    again = enqueue_plan(
        worker.app,
        text,
        store_url=REDIS_URL,
        transport=LIST_TRANSPORT,
        tenant=tenant,
        queue=worker.queue,
    )
    answers = worker.wait(again)
    second = time.monotonic()
    assert sum(answer["sent"] for answer in answers) == TOTAL  # settled before, as sent
    assert worker.client.llen(worker.list_key) == TOTAL
    print(
        f"\ncelery timings: plan and enqueue {enqueued - begin:.1f} s, "
        f"first batch answered {worker.first_answer - enqueued:.1f} s after (worker start "
        f"included), all 10,000 sent {done - enqueued:.1f} s after, "
        f"second run {second - done:.1f} s"
    )


def test_a_paced_batch_goes_back_to_the_broker_between_its_sends(
    worker: Worker, tenant: str
) -> None:
    """B10: SMS at 1/s; with max_wait 0.2 s the task re-sends itself between sends."""
    now = datetime.now(UTC)
    contacts = [
        person(f"s{i}", phone=f"+1415555{i:04d}", subs=subscribed("sms-1")) for i in range(4)
    ]
    draft = make_draft(
        {K.SMS: messages("hi {{first_name}}")}, [Sender("sms-1", K.SMS)], draft_id="celery-paced"
    )
    plan = plan_broadcast(draft, contacts, profile=load_profile("respondio"), now=now)
    list_before = worker.client.llen(worker.list_key)
    results = enqueue_plan(
        worker.app,
        plan,
        store_url=REDIS_URL,
        transport=LIST_TRANSPORT,
        tenant=tenant,
        queue=worker.queue,
        max_wait=timedelta(seconds=0.2),
    )
    assert len(results) == 1
    (answer,) = worker.wait(results, timeout=60)
    assert answer["sent"] == 4
    assert answer["runs"] >= 3  # one run per send at least, after the first
    assert worker.client.llen(worker.list_key) == list_before + 4


def test_a_task_that_cannot_make_its_transport_fails_with_the_omnimsg_error(
    worker: Worker, tenant: str
) -> None:
    plan = _telegram_plan(datetime.now(UTC), 3)
    (result,) = enqueue_plan(
        worker.app,
        plan,
        store_url=REDIS_URL,
        transport="delivery.celery_support:broken",
        tenant=tenant,
        queue=worker.queue,
    )
    with pytest.raises(InputError, match="no credentials configured"):
        result.get(timeout=60, interval=0.05)
    assert result.state == "FAILURE"


def _children(pid: int) -> list[int]:
    """The child processes of ``pid`` (the pool's processes of a prefork worker)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc to find the pool")
def test_a_pool_process_killed_mid_batch_costs_no_second_send(worker: Worker, tenant: str) -> None:
    """X5: a pool process killed while sending: its task is delivered again
    (reject_on_worker_lost), the claims it held are taken over once their lease has
    passed, and no key is sent twice; the send caught in flight is UNCERTAIN at most."""
    now = datetime.now(UTC)
    total = 3_000
    plan = _telegram_plan(now, total)
    start = worker.client.llen(worker.list_key)
    results = enqueue_plan(
        worker.app,
        plan,
        store_url=REDIS_URL,
        transport=LIST_TRANSPORT,
        tenant=tenant,
        queue=worker.queue,
        lease=timedelta(seconds=3),
    )
    deadline = time.monotonic() + 60
    while worker.client.llen(worker.list_key) < start + 300:
        assert time.monotonic() < deadline, worker.tail()
        time.sleep(0.01)
    victims = _children(worker.process.pid)
    assert victims, "the worker has no pool processes"
    os.kill(victims[0], signal.SIGKILL)
    worker.wait(results, timeout=120)
    store = open_store(REDIS_URL, tenant=tenant)
    try:
        found = {entry.key: entry.status.value for entry in entries(store, plan.draft.id)}
    finally:
        store.close()
    assert len(found) == total
    sent = {key for key, status in found.items() if status == "sent"}
    uncertain = {key for key, status in found.items() if status == "uncertain"}
    assert len(sent) + len(uncertain) == total
    assert len(uncertain) <= 1
    keys = [key.decode() for key in worker.client.lrange(worker.list_key, start, -1)]
    assert len(keys) == len(set(keys))  # nothing sent twice
    assert sent <= set(keys) <= sent | uncertain


# --- without a worker: the task run here, the grouping, the checks ------------------------


def _jsonl(plan: Plan) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header object and the send objects of a plan's JSON Lines."""
    text = io.StringIO()
    plan.write_jsonl(text)
    lines = [json.loads(line) for line in text.getvalue().splitlines()]
    return lines[0], [send for line in lines[1:-1] for send in line["sends"]]


class StubTask:
    """What ``_dispatch_batch`` reads of a Celery task run by a worker: its request and retry."""

    def __init__(self, retries: int = 0) -> None:
        self.request = SimpleNamespace(called_directly=False, is_eager=False, retries=retries)
        self.retried: dict[str, Any] | None = None

    def retry(self, **options: Any) -> Exception:
        self.retried = options
        raise RetryCalled


class RetryCalled(Exception):
    pass


@pytest.fixture
def memory_tenant() -> str:
    return f"mem-{uuid.uuid4().hex[:12]}"


def test_run_batch_sends_each_send_once_and_a_second_run_nothing(memory_tenant: str) -> None:
    """X5: the task's work without Celery; the ledger stops the second run."""
    header, sends = _jsonl(_telegram_plan(datetime.now(UTC), 30))
    transport = celery_support.recording()
    before = len(transport.requests)
    options = {"tenant": memory_tenant}
    answer = run_batch(header, sends, "memory://", RECORDING, None, options)
    assert answer == {
        "broadcast_id": "celery-10k",
        "sends": 30,
        "sent": 30,
        "failed": 0,
        "skipped": 0,
        "uncertain": 0,
        "runs": 1,
    }
    assert len(transport.requests) == before + 30
    assert run_batch(header, sends, "memory://", RECORDING, "livetex", options)["sent"] == 30
    assert len(transport.requests) == before + 30


def test_the_task_called_in_process_runs_its_batch_here(memory_tenant: str) -> None:
    header, sends = _jsonl(_telegram_plan(datetime.now(UTC), 5))
    app = make_app("redis://127.0.0.1:6379/15")
    task = app.tasks[TASK_NAME]
    assert task.acks_late
    assert task.reject_on_worker_lost
    answer = task(header, sends, "memory://", RECORDING, options={"tenant": memory_tenant})
    assert answer["sent"] == 5
    assert answer["runs"] == 1


def test_register_tasks_adds_the_task_to_an_app_of_ones_own() -> None:
    app = celery.Celery("mine", set_as_current=False)
    register_tasks(app)
    register_tasks(app)
    task = app.tasks[TASK_NAME]
    assert task.acks_late
    assert task.reject_on_worker_lost
    assert task.max_retries is None


def test_make_app_configures_json_late_acks_and_the_visibility_timeout() -> None:
    app = make_app("redis://127.0.0.1:6379/3")
    conf = app.conf
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_acks_late
    assert conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] == VISIBILITY_TIMEOUT
    assert conf.result_backend == "redis://127.0.0.1:6379/3"
    assert make_app("amqp://guest@localhost//").conf.result_backend is None
    assert make_app("amqp://x//", backend="rpc://").conf.result_backend == "rpc://"


class SentTasks:
    """An app whose ``send_task`` records instead of publishing."""

    def __init__(self) -> None:
        self.app = make_app("redis://127.0.0.1:6379/15")
        self.calls: list[dict[str, Any]] = []
        self.app.send_task = self.send_task

    def send_task(self, name: str, **options: Any) -> str:
        assert name == TASK_NAME
        json.dumps(options["kwargs"])  # the task's arguments are JSON values
        self.calls.append(options)
        return f"result-{len(self.calls)}"


def test_enqueue_sends_a_task_per_batch_cut_at_batch_size_with_its_eta() -> None:
    """B10: sends grouped by the plan's batches, cut at batch_size, ETA capped."""
    now = datetime.now(UTC)
    later = now + timedelta(hours=2)
    sent = SentTasks()
    results = enqueue_plan(
        sent.app,
        _telegram_plan(later, 1_200),
        store_url="redis://127.0.0.1:6379/0",
        transport=RECORDING,
        batch_size=300,
        tenant="t1",
        queue="q1",
        clock=FixedClock(now),
    )
    assert results == [f"result-{i}" for i in range(1, 6)]
    sizes = sorted(len(call["kwargs"]["sends"]) for call in sent.calls)
    assert sizes == [200, 200, 200, 300, 300]  # plan batches of 500, 500, 200
    keys: list[str] = []
    for call in sent.calls:
        kwargs = call["kwargs"]
        assert call["queue"] == "q1"
        assert call["eta"] == now + timedelta(minutes=30)  # no ETA past the horizon
        assert len({send["batch"] for send in kwargs["sends"]}) == 1
        assert kwargs["options"]["tenant"] == "t1"
        assert kwargs["header"]["broadcast_id"] == "celery-10k"
        keys.extend(send["key"] for send in kwargs["sends"])
    assert len(keys) == len(set(keys)) == 1_200


def test_enqueue_sends_due_batches_without_an_eta_and_reads_plan_files() -> None:
    now = datetime.now(UTC)
    text = io.StringIO()
    _telegram_plan(now, 10).write_jsonl(text)
    text.seek(0)
    sent = SentTasks()
    results = enqueue_plan(sent.app, text, store_url="sqlite:///x.db", transport=RECORDING)
    assert len(results) == 1
    (call,) = sent.calls
    assert call["eta"] is None
    assert "queue" not in call
    assert len(call["kwargs"]["sends"]) == 10


def test_enqueue_refuses_a_plan_profile_the_workers_cannot_load() -> None:
    now = datetime.now(UTC)
    custom = load_profile("livetex").derive("livetex-custom", {})
    seen = now - timedelta(days=1)
    contacts = [person("c1", identities=[ident("tg-1", K.TELEGRAM, "1", seen)])]
    draft = make_draft({K.TELEGRAM: messages("hi")}, [Sender("tg-1", K.TELEGRAM)])
    sent = SentTasks()
    args = {"store_url": "memory://", "transport": RECORDING}
    with pytest.raises(InputError, match="profile"):
        enqueue_plan(sent.app, plan_broadcast(draft, contacts, profile=custom, now=now), **args)
    plan = plan_broadcast(draft, contacts, profile=custom, now=now)
    assert len(enqueue_plan(sent.app, plan, profile="livetex", **args)) == 1
    with pytest.raises(InputError, match="profile"):
        enqueue_plan(sent.app, plan, profile="no-such-profile", **args)


def test_a_broker_that_refuses_is_a_store_unavailable_error() -> None:
    sent = SentTasks()

    def refuse(name: str, **options: Any) -> None:
        raise ConnectionRefusedError("connection refused")

    sent.app.send_task = refuse
    plan = _telegram_plan(datetime.now(UTC), 3)
    with pytest.raises(StoreUnavailableError, match="broker"):
        enqueue_plan(sent.app, plan, store_url="memory://", transport=RECORDING)


def test_an_unreachable_store_makes_the_task_retry_then_fail(memory_tenant: str) -> None:
    header, sends = _jsonl(_telegram_plan(datetime.now(UTC), 2))
    nowhere = "redis://127.0.0.1:1/0"
    task = StubTask()
    with pytest.raises(RetryCalled):
        celery_module._dispatch_batch(task, header, sends, nowhere, RECORDING, None, {})
    assert task.retried is not None
    assert task.retried["countdown"] == 1.0
    assert task.retried["kwargs"]["options"] == {"store_failures": 1}
    task = StubTask(retries=12)
    with pytest.raises(StoreUnavailableError):
        celery_module._dispatch_batch(
            task, header, sends, nowhere, RECORDING, None, {"store_failures": 12}
        )
    assert task.retried is None


def test_a_long_wait_sends_the_task_back_with_an_eta(memory_tenant: str) -> None:
    """A batch due in two hours goes back to the broker, its ETA within the horizon."""
    now = datetime.now(UTC)
    header, sends = _jsonl(_telegram_plan(now + timedelta(hours=2), 2))
    task = StubTask()
    options = {"tenant": memory_tenant, "store_failures": 3}
    with pytest.raises(RetryCalled):
        celery_module._dispatch_batch(task, header, sends, "memory://", RECORDING, None, options)
    assert task.retried is not None
    eta = task.retried["eta"]
    assert now + timedelta(minutes=29) < eta < now + timedelta(minutes=31)
    assert task.retried["kwargs"]["options"] == {"tenant": memory_tenant, "store_failures": 0}
    assert task.retried["kwargs"]["sends"] == sends


def test_load_transport_imports_and_calls_the_factory() -> None:
    assert isinstance(load_transport(RECORDING), RecordingTransport)
    assert isinstance(load_transport("omnimsg.testing:RecordingTransport"), RecordingTransport)


HOSTILE = [None, 5, 1.5, True, b"bytes", "", "\x00", "\ud800", "x" * 100_000, [], {}]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_specs_are_input_errors(value: Any) -> None:
    with pytest.raises(InputError):
        load_transport(value)


@pytest.mark.parametrize(
    "spec",
    [
        "nocolon",
        "a:b:c",
        ":factory",
        "module:",
        "1module:f",
        "omnimsg_no_such_module_xyz:f",
        "omnimsg.testing:NoSuchThing",
        "omnimsg.testing:__doc__",
        "delivery.celery_support:broken",
        "delivery.celery_support:not_a_transport",
        "builtins:object",
    ],
)
def test_specs_that_name_no_transport_are_input_errors(spec: str) -> None:
    with pytest.raises(InputError, match="transport"):
        load_transport(spec)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_apps_and_urls_are_input_errors(value: Any) -> None:
    with pytest.raises(InputError):
        register_tasks(value)
    with pytest.raises(InputError):
        make_app(value)
    if value is not None:
        with pytest.raises(InputError):
            make_app("redis://127.0.0.1:6379/0", name=value)
        with pytest.raises(InputError):
            make_app("redis://127.0.0.1:6379/0", backend=value)


ENQUEUE_HOSTILE = {
    "store_url": [*HOSTILE, "nourl", "\ud800://x"],
    "transport": [*HOSTILE, "nocolon"],
    "batch_size": [None, 0, -1, True, 1.5, "5", 10**9],
    "tenant": [*HOSTILE, "a:b"],
    "profile": [5, b"x", "", "\x00", "x" * 100_000, "no-such-profile"],
    "queue": [5, "", "\x00", "x" * 100_000],
    "lease": [None, 5, timedelta(0), timedelta(seconds=-1), timedelta(days=10**5)],
    "max_attempts": [None, 0, True, 1.5, 10**9],
    "max_wait": [None, -1, timedelta(seconds=-1)],
    "idempotent": ["yes", 1],
    "clock": [5, "now"],
}


@pytest.mark.parametrize(
    ("name", "value"),
    [(name, value) for name, values in ENQUEUE_HOSTILE.items() for value in values],
)
def test_hostile_enqueue_arguments_are_input_errors_before_anything_is_sent(
    name: str, value: Any
) -> None:
    sent = SentTasks()
    args: dict[str, Any] = {"store_url": "memory://", "transport": RECORDING, name: value}
    plan = _telegram_plan(datetime.now(UTC), 2)
    with pytest.raises(InputError):
        enqueue_plan(sent.app, plan, **args)
    assert sent.calls == []


@pytest.mark.parametrize("plan", [*HOSTILE, io.StringIO("not json\n"), io.StringIO("")])
def test_hostile_plans_are_input_errors(plan: Any) -> None:
    sent = SentTasks()
    with pytest.raises(InputError):
        enqueue_plan(sent.app, plan, store_url="memory://", transport=RECORDING)
    with pytest.raises(InputError):
        enqueue_plan(object(), plan, store_url="memory://", transport=RECORDING)
    assert sent.calls == []


def _good() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return _jsonl(_telegram_plan(datetime.now(UTC), 2))


@pytest.mark.parametrize(
    "header_change",
    [
        None,
        "text",
        {"broadcast_id": None},
        {"broadcast_id": ""},
        {"start": "0001-01-01T00:00:00+01:00"},
        {"start": "2026-01-01T00:00:00"},
        {"start": "\ud800"},
        {"ends_by": 5},
        {"rate": "fast"},
        {"rate": {"messages": 0, "per_seconds": 1}},
        {"frequency_cap": {"messages": 1, "period_seconds": float("nan")}},
        {"profile": 5},
    ],
)
def test_hostile_task_headers_are_input_errors(header_change: Any, memory_tenant: str) -> None:
    header, sends = _good()
    bad = {**header, **header_change} if isinstance(header_change, dict) else header_change
    with pytest.raises(InputError, match="header"):
        run_batch(bad, sends, "memory://", RECORDING, None, {"tenant": memory_tenant})


@pytest.mark.parametrize(
    "send_change",
    [
        None,
        "text",
        {"key": None},
        {"key": ""},
        {"channel": "pigeon"},
        {"kind": 5},
        {"number": 0},
        {"number": True},
        {"paid": "no"},
        {"params": {"a": 5}},
        {"params": [1]},
        {"not_before": "9999-12-31T23:59:59-01:00"},
        {"not_before": "\x00"},
        {"text": None},
        {"mode": "loud"},
    ],
)
def test_hostile_task_sends_are_input_errors(send_change: Any, memory_tenant: str) -> None:
    header, sends = _good()
    bad = {**sends[1], **send_change} if isinstance(send_change, dict) else send_change
    with pytest.raises(InputError, match=r"sends\[1\]"):
        run_batch(header, [sends[0], bad], "memory://", RECORDING, None, {"tenant": memory_tenant})


@pytest.mark.parametrize(
    "text", ["\x00", "\ud800", "x" * 100_000, "a\u202eb", "\ud800" * 3 + "x" * 1000]
)
def test_hostile_text_in_sends_never_escapes_as_anything_but_omnimsg_errors(
    text: str, memory_tenant: str
) -> None:
    header, sends = _good()
    for field in ("key", "contact_id", "account_id", "address", "text", "batch"):
        bad = {**sends[0], field: text}
        with contextlib.suppress(OmnimsgError):
            run_batch(header, [bad], "memory://", RECORDING, None, {"tenant": memory_tenant})


@pytest.mark.parametrize(
    "options",
    [
        "text",
        [],
        {"bogus": 1},
        {5: 1},
        {"tenant": "\x00"},
        {"tenant": None},
        {"lease_seconds": float("nan")},
        {"lease_seconds": True},
        {"lease_seconds": 0},
        {"lease_seconds": -5},
        {"max_wait_seconds": float("inf")},
        {"max_attempts": 0},
        {"max_attempts": "5"},
        {"store_failures": -1},
        {"idempotent": "yes"},
    ],
)
def test_hostile_task_options_are_input_errors(options: Any) -> None:
    header, sends = _good()
    with pytest.raises(InputError, match=r"options|tenant"):
        run_batch(header, sends, "memory://", RECORDING, None, options)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_task_urls_specs_and_profiles_are_omnimsg_errors(value: Any) -> None:
    header, sends = _good()
    with pytest.raises(OmnimsgError):
        run_batch(header, sends, value, RECORDING)
    with pytest.raises(InputError):
        run_batch(header, sends, "memory://", value)
    if value is not None:
        with pytest.raises(OmnimsgError):
            run_batch(header, sends, "memory://", RECORDING, value)
    if value != []:  # no sends is a batch too
        with pytest.raises(InputError):
            run_batch(header, value, "memory://", RECORDING)


def test_too_many_sends_for_one_task_are_refused() -> None:
    header, sends = _good()
    with pytest.raises(InputError, match="at most"):
        run_batch(header, sends * 5_001, "memory://", RECORDING)
