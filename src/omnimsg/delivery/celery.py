"""Running the dispatcher on Celery workers, on many machines (extra ``celery``).

A plan is cut into batches, one Celery task each; any worker runs a batch with a
:class:`~omnimsg.delivery.Dispatcher` against the shared store. Exactly-once rests
on the store's ledger (X5) and the caps on its reservations, as with several
dispatchers started by hand::

    register_tasks(app)                         # on the app one runs already, or
    app = make_app("redis://127.0.0.1:6379/1")  # a new one, configured as below
    results = enqueue_plan(app, plan, store_url="redis://127.0.0.1:6379/0",
                           transport="myproject.sending:make_transport")

``plan`` is what :meth:`Dispatcher.run` takes. Workers open ``store_url`` with
:func:`~omnimsg.stores.open.open_store` and make the transport with
:func:`load_transport` (``"module:factory"``, called with no arguments); each
worker process keeps its stores (per URL and tenant), transports and profiles for
later tasks, at most 32 of each.

The task ``omnimsg.dispatch_batch(header, sends, store_url, transport_spec,
profile=None, options=None)`` takes JSON values only: ``header`` and each send are
the objects of the plan's JSON Lines; ``profile`` a built-in name or a ``.toml``
path the workers read (by default the plan's); ``options`` the settings of
:func:`enqueue_plan` as ``tenant``, ``max_attempts``, ``idempotent`` and
``<name>_seconds``. It answers ``{"broadcast_id", "sends", "sent", "failed",
"skipped", "uncertain", "runs"}`` for its batch (``runs``: how many times it ran).
:func:`run_batch` does the same without Celery.

:func:`enqueue_plan` groups the sends by the plan's batches (one account, one stretch
of time), cut at ``batch_size``, and sends a task per group with the ETA of its first
send. A paced account's sends lie one per slot of the plan's grid, so its tasks keep
its rate while they run on time. Groups are held until full or the plan ends (at
most about 20 ``batch_size`` sends; beyond, the largest goes early). A plan file
found malformed part-way raises after the groups before it were sent: fix it and
enqueue again (enqueuing twice never sends twice).

Exactly once and the visibility timeout. Tasks are ``acks_late`` and
``reject_on_worker_lost``: a task whose worker dies is delivered again and runs its
batch again; the ledger skips what was settled and marks a send caught between the
platform and the ledger UNCERTAIN, never sending it blindly twice. Brokers without
real acknowledgements (Redis, SQS) also deliver a message again once it has been
held ``visibility_timeout`` (1 hour, set by :func:`make_app`) unacknowledged;
harmless, but kept rare:

- a task never waits long: when its dispatcher would sleep more than ``max_wait``
  (60 s), or after ``max_run`` (10 minutes), the task re-sends itself (Celery's
  retry: same id) with the ETA of its next send, so a batch deferred to tomorrow
  by a daily cap (B11) waits in the broker, not in a worker;
- no ETA lies more than ``eta_horizon`` (30 minutes) ahead (a worker holds an ETA
  task unacknowledged); a task woken early re-sends itself the same way;
- a claim holds for ``lease`` (5 minutes): when a task comes back after its worker
  died, the dead worker's claims have expired and are taken over at once.

Keep ``lease``, ``max_run`` and ``eta_horizon`` below the visibility timeout. A store
that cannot be reached makes the task retry (1 s, 2 s, ... at most 5 minutes apart,
12 times); any other omnimsg error fails the task. Each run has its own owner name,
so tasks of a thread pool never take each other's claims; a worker process's
transport serves all its tasks (thread-safe under a thread pool). The broker is
trusted, as in any Celery set-up: a task names a module the worker imports.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from omnimsg._convert import shown, to_instant
from omnimsg.broadcasts.jsonl import send_record
from omnimsg.broadcasts.outcomes import PlannedSend
from omnimsg.channels.registry import Profile, load_profile
from omnimsg.clock import SystemClock
from omnimsg.delivery._kept import close_local
from omnimsg.delivery._kept import local as _local
from omnimsg.delivery.dispatcher import Dispatcher, DispatchProgress, worker_id
from omnimsg.delivery.loader import load_transport as _load
from omnimsg.delivery.loader import split_spec
from omnimsg.delivery.planfile import PlanHeader, header_from_dict, header_record, send_from_dict
from omnimsg.delivery.plansource import open_plan
from omnimsg.errors import ConfigurationError, InputError, OmnimsgError, StoreUnavailableError
from omnimsg.protocols import Clock, Transport
from omnimsg.stores._records import check_tenant
from omnimsg.stores.open import open_store

try:
    import celery
    from celery import signals
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "omnimsg.delivery.celery needs Celery: pip install 'omnimsg[celery]'"
    ) from exc

__all__ = [
    "MAX_BATCH",
    "TASK_NAME",
    "VISIBILITY_TIMEOUT",
    "enqueue_plan",
    "load_transport",
    "make_app",
    "register_tasks",
    "run_batch",
]

TASK_NAME = "omnimsg.dispatch_batch"
"""The name the batch task is registered and sent under."""
MAX_BATCH = 10_000
"""The most sends one task takes."""
VISIBILITY_TIMEOUT = 3600
"""The broker's ``visibility_timeout`` :func:`make_app` sets, in seconds."""

_STORE_RETRIES = 12
_KEPT = 32
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_DAY = 86_400.0
# The task's durations in seconds: (whether 0 is allowed, the most allowed), defaults.
_SECONDS = {
    "lease_seconds": (False, _DAY, 300.0),
    "backoff_seconds": (False, _DAY, 2.0),
    "max_backoff_seconds": (False, 7 * _DAY, 600.0),
    "max_wait_seconds": (True, _DAY, 60.0),
    "max_run_seconds": (False, _DAY, 600.0),
    "eta_horizon_seconds": (False, 7 * _DAY, 1800.0),
}
_DEFAULTS: dict[str, Any] = {
    "tenant": "default",
    "max_attempts": 5,
    "idempotent": None,
    "store_failures": 0,
    **{key: spec[2] for key, spec in _SECONDS.items()},
}


# --- checking what comes in --------------------------------------------------------------


def _url(value: object, name: str) -> str:
    # A URL may hold a password: never shown.
    refused = InputError(f"{name}: expected a URL such as redis://127.0.0.1:6379/0")
    if not isinstance(value, str):
        raise InputError(f"{name}: expected a URL, got {type(value).__name__}")
    scheme, sep, _ = value.partition("://")
    if not sep or not 0 < len(value) <= 2000 or "\x00" in value or not _SCHEME.fullmatch(scheme):
        raise refused
    try:
        value.encode("utf-8")
    except UnicodeError:
        raise refused from None
    return value


def _spec(value: object) -> str:
    """``value`` checked as a transport spec (``module:factory``)."""
    split_spec(value)
    assert isinstance(value, str)
    return value


def _seconds(value: object, name: str, zero: bool, high: float) -> float:
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= high
        or (value == 0 and not zero)
    ):
        least = "of 0 s or more" if zero else "above 0 s"
        raise InputError(f"{name}: expected a duration {least}, at most {high:g} s")
    return float(value)


def _whole(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(
            f"{name}: expected a whole number from {low} to {high}, got {shown(value)}"
        )
    return value


def _options(value: object) -> dict[str, Any]:
    """The task's ``options``, checked, with the defaults filled in."""
    if value is not None and not isinstance(value, dict):
        raise InputError(f"options: expected an object, got {type(value).__name__}")
    out = dict(_DEFAULTS)
    for key, item in (value or {}).items():
        if not isinstance(key, str) or key not in _DEFAULTS:
            raise InputError(f"options: unknown option {shown(key)}")
        if key in _SECONDS:
            zero, high, _ = _SECONDS[key]
            out[key] = _seconds(item, f"options.{key}", zero, high)
        elif key == "tenant":
            out[key] = check_tenant(item)
        elif key in ("max_attempts", "store_failures"):
            out[key] = _whole(item, f"options.{key}", int(key == "max_attempts"), 1000)
        elif item is not None and not isinstance(item, bool):
            raise InputError("options.idempotent: expected true, false or null")
        else:
            out[key] = item
    return out


def _plan_sends(value: object) -> list[PlannedSend]:
    if not isinstance(value, list):
        raise InputError(f"sends: expected a list, got {type(value).__name__}")
    if len(value) > MAX_BATCH:
        raise InputError(f"sends: at most {MAX_BATCH:,} in one batch, got {len(value):,}")
    out: list[PlannedSend] = []
    for i, item in enumerate(value):
        try:
            out.append(send_from_dict(item))
        except InputError as exc:
            raise InputError(f"sends[{i}]: " + str(exc).partition(": ")[2]) from None
    return out


# --- what a worker process keeps ----------------------------------------------------------


def load_transport(spec: str) -> Transport:
    """The transport ``spec`` (``"package.module:factory"``) makes, for a worker.

    :func:`omnimsg.delivery.loader.load_transport`, and the result must send
    synchronously (a worker runs the sync :class:`~omnimsg.delivery.Dispatcher`).

    Raises:
        InputError: ``spec`` is malformed, its module cannot be imported, the name is
            missing or not callable, the factory raised or returned no transport.
    """
    made = _load(spec)
    if not isinstance(made, Transport):
        raise InputError(
            f"transport: {spec[:200]} returned {type(made).__name__}, not a transport "
            "(an object with send(request))"
        )
    return made


def _on_shutdown(**_: Any) -> None:
    close_local()


signals.worker_process_shutdown.connect(_on_shutdown, weak=False)


# --- one batch ---------------------------------------------------------------------------


class _Later(OmnimsgError):
    """The dispatcher would wait ``seconds``: the task goes back to the broker instead."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"the next send is due in {seconds:.1f} s")


def _execute(
    header: object,
    sends: object,
    store_url: object,
    transport_spec: object,
    profile: object,
    options: dict[str, Any],
    *,
    hop: bool,
) -> dict[str, Any]:
    head = header_from_dict(header)
    planned = _plan_sends(sends)
    url = _url(store_url, "store_url")
    spec = _spec(transport_spec)
    if profile is not None and (not isinstance(profile, str) or not 0 < len(profile) <= 1000):
        raise InputError(f"profile: expected a profile name or path, got {shown(profile)}")
    kept = _local()
    chosen = (
        None if profile is None else kept.get(("profile", profile), lambda: load_profile(profile))
    )
    transport = kept.get(("transport", spec), lambda: load_transport(spec))
    tenant = options["tenant"]
    store = kept.get(("store", url, tenant), lambda: open_store(url, tenant=tenant))
    last: list[DispatchProgress] = []
    started = time.monotonic()
    max_wait, max_run = options["max_wait_seconds"], options["max_run_seconds"]

    def sleep(seconds: float) -> None:
        if hop and (seconds > max_wait or time.monotonic() - started + seconds > max_run):
            raise _Later(seconds)
        time.sleep(seconds)

    def progress(step: DispatchProgress) -> None:
        last[:] = [step]

    dispatcher = Dispatcher(
        store,
        transport,
        sleep=sleep,
        profile=chosen,
        owner=worker_id(),
        lease=timedelta(seconds=options["lease_seconds"]),
        max_attempts=options["max_attempts"],
        backoff=timedelta(seconds=options["backoff_seconds"]),
        max_backoff=timedelta(seconds=options["max_backoff_seconds"]),
        idempotent=options["idempotent"],
        progress=progress,
    )
    try:
        dispatcher.run((head, planned), report=False)
    except OmnimsgError as exc:
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, _Later):
            cause = cause.__cause__  # the dispatcher wraps what ``sleep`` raised
        if cause is None or cause is exc:
            raise
        raise cause from None
    tally = last[0] if last else DispatchProgress(len(planned), 0, 0, 0, 0, 0)
    return {
        "broadcast_id": head.broadcast_id,
        "sends": tally.total,
        "sent": tally.sent,
        "failed": tally.failed,
        "skipped": tally.skipped,
        "uncertain": tally.uncertain,
        "runs": 1,
    }


def run_batch(
    header: dict[str, Any],
    sends: list[dict[str, Any]],
    store_url: str,
    transport_spec: str,
    profile: str | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Do what the task does, here and now, waiting as long as the batch needs.

    The arguments and the answer are the task's (module docstring): for another task
    queue, or to run a batch by hand.

    Raises:
        InputError: an argument is malformed (named), or the transport cannot be made.
        ConfigurationError: the store URL or the profile is unknown.
        StoreError: the store failed (run again to resume).
    """
    return _execute(header, sends, store_url, transport_spec, profile, _options(options), hop=False)


def _dispatch_batch(
    task: Any,
    header: Any,
    sends: Any,
    store_url: Any,
    transport_spec: Any,
    profile: Any = None,
    options: Any = None,
) -> dict[str, Any]:
    request = task.request
    hop = not (getattr(request, "called_directly", True) or getattr(request, "is_eager", False))
    checked = _options(options)

    def again(failures: int) -> dict[str, Any]:
        more = {**(options or {}), "store_failures": failures}
        return {
            "header": header,
            "sends": sends,
            "store_url": store_url,
            "transport_spec": transport_spec,
            "profile": profile,
            "options": more,
        }

    try:
        answer = _execute(header, sends, store_url, transport_spec, profile, checked, hop=hop)
    except _Later as later:
        wait = min(later.seconds, checked["eta_horizon_seconds"])
        eta = SystemClock().now() + timedelta(seconds=wait)
        raise task.retry(args=(), kwargs=again(0), eta=eta) from None
    except StoreUnavailableError as exc:
        _local().forget(("store", str(store_url), checked["tenant"]))
        failures = checked["store_failures"]
        if not hop or failures >= _STORE_RETRIES:
            raise
        delay = min(2.0**failures, 300.0)
        raise task.retry(args=(), kwargs=again(failures + 1), countdown=delay, exc=exc) from exc
    answer["runs"] = int(getattr(request, "retries", 0) or 0) + 1
    return answer


# --- apps and sending --------------------------------------------------------------------


def register_tasks(app: Any) -> Any:
    """Register ``omnimsg.dispatch_batch`` on ``app`` (a ``celery.Celery``); the task.

    Workers need it; a process that only enqueues does not (it sends by name).
    Registering twice is harmless. The task is ``acks_late``,
    ``reject_on_worker_lost`` and JSON whatever the app's defaults.
    """
    if not isinstance(app, celery.Celery):
        raise InputError(f"app: expected a celery.Celery app, got {type(app).__name__}")
    return app.task(
        name=TASK_NAME,
        bind=True,
        shared=False,
        acks_late=True,
        reject_on_worker_lost=True,
        max_retries=None,
        serializer="json",
    )(_dispatch_batch)


def make_app(broker_url: str, *, name: str = "omnimsg", backend: str | None = None) -> Any:
    """A ``celery.Celery`` app with omnimsg's task, configured for it.

    JSON only, ``acks_late``, ``reject_on_worker_lost``, one task prefetched at a
    time (tasks are long), a ``visibility_timeout`` of :data:`VISIBILITY_TIMEOUT`.
    Results go to ``backend``: by default the broker itself when it is Redis, else
    nowhere.
    """
    url = _url(broker_url, "broker_url")
    if not isinstance(name, str) or not 0 < len(name) <= 200 or not _NAME.fullmatch(name):
        raise InputError("name: expected an app name of 1 to 200 letters, digits, '_' and '.'")
    if backend is not None:
        backend = _url(backend, "backend")
    elif url.partition("://")[0].lower() in ("redis", "rediss"):
        backend = url
    app = celery.Celery(name, broker=url, backend=backend, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        broker_connection_retry_on_startup=True,
    )
    register_tasks(app)
    return app


def enqueue_plan(
    app: Any,
    plan: Any,
    *,
    store_url: str,
    transport: str,
    batch_size: int = 500,
    tenant: str = "default",
    profile: str | None = None,
    queue: str | None = None,
    lease: timedelta = timedelta(minutes=5),
    max_attempts: int = 5,
    backoff: timedelta = timedelta(seconds=2),
    max_backoff: timedelta = timedelta(minutes=10),
    idempotent: bool | None = None,
    max_wait: timedelta = timedelta(seconds=60),
    max_run: timedelta = timedelta(minutes=10),
    eta_horizon: timedelta = timedelta(minutes=30),
    clock: Clock | None = None,
) -> list[Any]:
    """Send an ``omnimsg.dispatch_batch`` task per batch of ``plan``; their ``AsyncResult``.

    ``plan``: a :class:`~omnimsg.broadcasts.Plan`, its JSON Lines opened as text, or
    ``(PlanHeader, sends)``. ``store_url`` and ``transport`` are opened by the
    workers. ``profile`` (a built-in name, or a ``.toml`` path the workers read)
    replaces the plan's. ``queue`` routes the tasks and their continuations;
    ``clock`` gives the ETAs' now. The rest are the dispatcher's settings and the
    task's limits (module docstring). Enqueuing a plan again sends nothing twice.

    Raises:
        InputError: an argument is malformed (named), or the plan cannot be read.
        StoreUnavailableError: the broker refused a task (those sent before stay
            queued: enqueue again).
    """
    if not isinstance(app, celery.Celery):
        raise InputError(f"app: expected a celery.Celery app, got {type(app).__name__}")
    url = _url(store_url, "store_url")
    spec = _spec(transport)
    size = _whole(batch_size, "batch_size", 1, MAX_BATCH)
    if profile is not None:
        _check_profile(profile)
    if queue is not None and (
        not isinstance(queue, str) or not 0 < len(queue) <= 200 or "\x00" in queue
    ):
        raise InputError(f"queue: expected a queue name, got {shown(queue)}")
    if idempotent is not None and not isinstance(idempotent, bool):
        raise InputError(f"idempotent: expected True, False or None, got {shown(idempotent)}")
    options: dict[str, Any] = {
        "tenant": check_tenant(tenant),
        "max_attempts": _whole(max_attempts, "max_attempts", 1, 1000),
        "idempotent": idempotent,
    }
    given = (lease, backoff, max_backoff, max_wait, max_run, eta_horizon)
    for (key, (zero, high, _)), value in zip(_SECONDS.items(), given, strict=True):
        name = key.removesuffix("_seconds")
        if not isinstance(value, timedelta):
            raise InputError(f"{name}: expected a timedelta, got {type(value).__name__}")
        options[key] = _seconds(value, name, zero, high)
    if clock is not None and not callable(getattr(clock, "now", None)):
        raise InputError(f"clock: expected a clock, got {type(clock).__name__}")
    header, sends, plan_profile = open_plan(plan)
    if profile is None:
        _check_plan_profile(header, plan_profile)
    base = {
        "header": header_record(header),
        "store_url": url,
        "transport_spec": spec,
        "profile": profile,
        "options": options,
    }
    sender = _Sender(app, base, queue, options["eta_horizon_seconds"], clock or SystemClock())
    try:
        sender.send_all(sends, size)
    except OmnimsgError:
        raise
    except (OSError, ValueError) as exc:  # a stream closed or failing while it is read
        raise InputError(f"plan: cannot be read: {type(exc).__name__}") from exc
    return sender.results


def _check_profile(profile: object) -> None:
    if not isinstance(profile, str) or not 0 < len(profile) <= 1000 or "\x00" in profile:
        raise InputError(f"profile: expected a profile name or path, got {shown(profile)}")
    if not profile.endswith(".toml"):  # a file is the workers' to read; a name is checked here
        try:
            load_profile(profile)
        except ConfigurationError as exc:
            raise InputError(f"profile: {exc}") from None


def _check_plan_profile(header: PlanHeader, plan_profile: Profile | None) -> None:
    """Workers load the plan's profile by name: refuse one they could not load."""
    if header.profile is None:
        raise InputError("profile: the plan names no profile; pass profile=")
    if plan_profile is None:
        return
    try:
        builtin = load_profile(header.profile)
    except ConfigurationError:
        builtin = None
    if builtin is not plan_profile:
        raise InputError(
            f"profile: the plan's profile {shown(header.profile)} is not a built-in one; "
            "pass profile= a name or a .toml path the workers can load"
        )


class _Sender:
    """Groups a plan's sends by batch and sends a task per group."""

    def __init__(
        self, app: Any, base: dict[str, Any], queue: str | None, horizon: float, clock: Clock
    ) -> None:
        self.app = app
        self.base = base
        self.queue = queue
        self.horizon = timedelta(seconds=horizon)
        self.clock = clock
        self.results: list[Any] = []

    def send_all(self, sends: Iterable[PlannedSend], size: int) -> None:
        groups: dict[str, list[PlannedSend]] = {}
        held, most = 0, max(20 * size, 10_000)
        for send in sends:
            group = groups.setdefault(send.batch, [])
            group.append(send)
            held += 1
            if len(group) >= size or held > most:
                name = (
                    send.batch if len(group) >= size else max(groups, key=lambda n: len(groups[n]))
                )
                held -= len(groups[name])
                self.send(groups.pop(name))
        for group in sorted(groups.values(), key=lambda g: min(s.not_before for s in g)):
            self.send(group)

    def send(self, group: list[PlannedSend]) -> None:
        first = min(send.not_before for send in group)
        now = to_instant(self.clock.now(), "clock.now()")
        eta: datetime | None = min(first, now + self.horizon) if first > now else None
        options: dict[str, Any] = {"eta": eta}
        if self.queue is not None:
            options["queue"] = self.queue
        kwargs = {**self.base, "sends": [send_record(send) for send in group]}
        try:
            result = self.app.send_task(TASK_NAME, kwargs=kwargs, **options)
        except Exception as exc:
            raise StoreUnavailableError(
                f"the Celery broker refused a task ({type(exc).__name__}); "
                f"{len(self.results)} were queued before it: enqueue the plan again"
            ) from exc
        self.results.append(result)
