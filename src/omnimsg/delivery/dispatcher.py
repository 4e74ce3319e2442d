"""The dispatcher: send what a plan planned, exactly once, at its time (X5, B10, B15).

:class:`Dispatcher` (sync) and :class:`AsyncDispatcher` (asyncio) take a plan (a
:class:`~omnimsg.broadcasts.Plan`, its JSON Lines file, or a header and sends) and
work through its sends in time order: each send is claimed in the ledger, decided
again against the store's newer state, its quota reserved, handed to the
transport, and its answer recorded (:mod:`omnimsg.delivery.steps`). Sends that must
wait (not due yet, deferred for a retry or for room under a cap, held by another
worker) are looked at again at their time; a run ends when every send of the plan
is settled in the ledger: sent, failed, skipped or uncertain.

Several dispatchers, in several processes on several machines, may run the same
plan against one shared store: the ledger lets exactly one of them send each
message, and the reservations keep every cap whatever their number.

Time comes from the injected ``clock`` and waiting goes through the injected
``sleep``: tests run a week of sending in milliseconds with
:class:`~omnimsg.testing.FixedClock`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import os
import random
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import IO, Any

import attrs

from omnimsg._convert import to_instant
from omnimsg.broadcasts.model import Draft, sender_classes
from omnimsg.broadcasts.outcomes import PlannedSend, SendKind
from omnimsg.broadcasts.plan import Plan, plan_test_send, send_key
from omnimsg.channels.registry import Profile, load_profile
from omnimsg.clock import SystemClock
from omnimsg.contacts import Contact
from omnimsg.delivery.ledger import DeliveryReport, delivery_report
from omnimsg.delivery.planfile import PlanHeader
from omnimsg.delivery.plansource import open_plan
from omnimsg.delivery.records import LedgerEntry, LedgerStatus
from omnimsg.delivery.steps import Ready, Settled, Steps
from omnimsg.errors import (
    CallbackError,
    CorruptRecordError,
    InputError,
    OmnimsgError,
    StoreError,
)
from omnimsg.protocols import AsyncTransport, Clock, DeliveryStore, Transport
from omnimsg.state import AccountState

__all__ = ["AsyncDispatcher", "DispatchProgress", "Dispatcher", "worker_id"]


def worker_id() -> str:
    """A worker name unique to this process: host, process id and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


@attrs.frozen
class DispatchProgress:
    """How far a run is: sends settled of ``total``, by outcome (for a callback or a bar)."""

    total: int
    settled: int
    sent: int
    failed: int
    skipped: int
    uncertain: int
    corrupt: int = 0


_Source = Plan | IO[str] | tuple[PlanHeader, Iterable[PlannedSend]]


class _Base:
    """Settings and bookkeeping the two dispatchers share."""

    def __init__(
        self,
        store: DeliveryStore,
        *,
        profile: Profile | str | None = None,
        clock: Clock | None = None,
        owner: str | None = None,
        lease: timedelta = timedelta(minutes=5),
        max_attempts: int = 5,
        backoff: timedelta = timedelta(seconds=2),
        max_backoff: timedelta = timedelta(minutes=10),
        idempotent: bool | None = None,
        progress: Callable[[DispatchProgress], None] | None = None,
        seed: int | None = None,
        accounts: Mapping[str, AccountState] | None = None,
        transport: object = None,
    ) -> None:
        if not isinstance(store, DeliveryStore):
            raise InputError(f"store: expected a delivery store, got {type(store).__name__}")
        if profile is not None and not isinstance(profile, Profile | str):
            raise InputError(f"profile: expected a Profile or a name, got {type(profile).__name__}")
        if clock is not None and not isinstance(clock, Clock):
            raise InputError(f"clock: expected a clock, got {type(clock).__name__}")
        if owner is not None and (not isinstance(owner, str) or not 0 < len(owner) <= 200):
            raise InputError("owner: expected a worker name of 1 to 200 characters")
        for name, span in (("lease", lease), ("backoff", backoff), ("max_backoff", max_backoff)):
            if not isinstance(span, timedelta) or span <= timedelta(0):
                raise InputError(f"{name}: expected a positive timedelta")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise InputError("max_attempts: expected a whole number of at least 1")
        if progress is not None and not callable(progress):
            raise InputError("progress: expected a callable or None")
        if idempotent is not None and not isinstance(idempotent, bool):
            raise InputError("idempotent: expected True, False or None")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InputError("seed: expected a whole number or None")
        if accounts is not None and not isinstance(accounts, Mapping):
            raise InputError(f"accounts: expected a mapping, got {type(accounts).__name__}")
        self.store = store
        self.profile = load_profile(profile) if isinstance(profile, str) else profile
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.owner = owner or worker_id()
        self.lease = lease
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        declared = getattr(transport, "idempotent", False)
        self.idempotent = bool(declared is True) if idempotent is None else idempotent
        self.progress = progress
        self.rng = random.Random(seed)
        self.accounts: Mapping[str, AccountState] = accounts or {}

    def _steps(self, header: PlanHeader, plan_profile: Profile | None) -> Steps:
        profile = self.profile or plan_profile
        if profile is None:
            if header.profile is None:
                raise InputError("profile: the plan names no profile; pass profile=")
            profile = load_profile(header.profile)
        return Steps(
            store=self.store,
            profile=profile,
            header=header,
            owner=self.owner,
            lease=self.lease,
            idempotent=self.idempotent,
            max_attempts=self.max_attempts,
            backoff=self.backoff,
            max_backoff=self.max_backoff,
            rng=self.rng,
            accounts=self.accounts,
        )

    def _now(self) -> datetime:
        try:
            now = self.clock.now()
        except Exception as exc:
            raise CallbackError("clock.now", exc) from exc
        return to_instant(now, "clock.now()")

    def released(
        self, draft: Draft, contact: Contact, *, start: datetime
    ) -> tuple[PlanHeader, list[PlannedSend]]:
        """The sends of a broadcast held for ``contact`` and released by an ``S`` (B12).

        The contact is planned again now, with the store's state (its consent is
        SUBSCRIBED now), and each send keeps the key it has in the broadcast whose
        occurrence began at ``start``: a release handled twice sends once.
        """
        if not isinstance(draft, Draft):
            raise InputError(f"draft: expected a Draft, got {type(draft).__name__}")
        begin = to_instant(start, "start")
        now = self._now()
        profile = self.profile
        if profile is None:
            raise InputError("profile: a release needs the dispatcher's profile=")
        outcome = plan_test_send(draft, contact, profile=profile, now=now, state=self.store)
        sends = [
            send._replace(key=send_key(draft.id, begin, send.contact_id, send.kind, send.number))
            for send in outcome.sends
            if send.kind is SendKind.MESSAGE
        ]
        header = PlanHeader(
            broadcast_id=draft.id,
            name=draft.name,
            start=begin,
            ends_by=max(begin, now) + timedelta(days=7),
            profile=profile.name,
            rate=draft.rate,
            frequency_cap=draft.frequency_cap,
            sender_classes=sender_classes(draft),
        )
        return header, sends


class _Run:
    """The queue of one run: sends by the time they are next looked at, and tallies."""

    def __init__(self, steps: Steps, sends: Iterable[PlannedSend], progress: Any) -> None:
        self.steps = steps
        self.progress = progress
        self.heap: list[tuple[datetime, int, PlannedSend]] = []
        counter = itertools.count()
        self.counter = counter
        seen: set[str] = set()
        per_recipient: dict[tuple[str, str], int] = {}
        for send in sends:
            if send.key in seen:
                continue
            seen.add(send.key)
            self.heap.append((send.not_before, next(counter), send))
            recipient = (send.account_id, send.contact_id)
            per_recipient[recipient] = per_recipient.get(recipient, 0) + 1
        heapq.heapify(self.heap)
        self.total = len(self.heap)
        self.tally = dict.fromkeys(("sent", "failed", "skipped", "uncertain", "corrupt"), 0)
        self.settled = 0
        header = steps.header
        rate = header.rate
        self.spacing: dict[str, timedelta] = {}
        self.draft_spacing = None if rate is None else rate.spacing
        self.sender_classes = header.sender_classes
        self.next_free: dict[str, datetime] = {}
        self.slotted: set[str] = set()
        # How late each recipient's sends have gone: a recipient's later sends keep
        # their planned distance from the earlier ones (P5, P9, P10). Kept only for a
        # recipient with several sends, until the last of them is settled.
        self.behind: dict[tuple[str, str], timedelta] = {}
        self.unsettled = {key: n for key, n in per_recipient.items() if n > 1}

    def spacing_of(self, send: PlannedSend, now: datetime) -> timedelta:
        found = self.spacing.get(send.account_id)
        if found is None:
            caps = self.steps.caps(send, now)
            found = timedelta(0)
            # The sender's class sets its rate where the profile knows it (P14).
            rate = caps.account_rates.get(self.sender_classes.get(send.account_id, ""))
            rate = rate or caps.rate_per_second
            if rate:  # rounded up, as the planner does: never faster than the rate
                found = timedelta(microseconds=math.ceil(1_000_000 / rate))
            if self.draft_spacing is not None and self.draft_spacing > found:
                found = self.draft_spacing
            self.spacing[send.account_id] = found
        return found

    def paced(self, send: PlannedSend, now: datetime) -> datetime | None:
        """The slot the send waits for when its account may not send at ``now`` (B10).

        Each waiting send gets a slot of its own, the account's next free one, so a
        run that is behind (a late start, a resume) queues each send once.
        """
        if send.key in self.slotted:
            self.slotted.discard(send.key)
            return None
        free = self.next_free.get(send.account_id)
        if free is None or free <= now:
            return None
        self.next_free[send.account_id] = free + self.spacing_of(send, now)
        self.slotted.add(send.key)
        return free

    def kept_apart(self, send: PlannedSend, now: datetime) -> datetime | None:
        """When ``send`` may go if its recipient's earlier sends went late (a wait for
        a cap, a backlog): as late as the latest of them, so the planner's spacing of
        one recipient's messages holds (P5, P9, P10); ``None`` when it may go now."""
        late = self.behind.get((send.account_id, send.contact_id))
        if late is None:
            return None
        due = send.not_before + late
        return due if due > now else None

    def took(self, send: PlannedSend, now: datetime) -> None:
        after = now + self.spacing_of(send, now)
        free = self.next_free.get(send.account_id)
        self.next_free[send.account_id] = after if free is None or free < after else free
        self.late(send, now)

    def late(self, send: PlannedSend, at: datetime) -> None:
        """Note that ``send`` goes (or is next looked at) at ``at``."""
        key = (send.account_id, send.contact_id)
        if key not in self.unsettled:
            return  # the recipient's only send, or its last ones are settled
        late = at - send.not_before
        if late > self.behind.get(key, timedelta(0)):
            self.behind[key] = late

    def step(self, send: PlannedSend, now: datetime) -> Ready | None:
        """Take ``send`` as far as the transport: a :class:`Ready` send, or ``None`` when
        it is settled or queued again (paced, deferred, held by another worker)."""
        apart = self.kept_apart(send, now)
        if apart is not None:
            # A slot the send held is given up: it is paced again when it is due (B10).
            self.slotted.discard(send.key)
            self.push(apart, send)
            return None
        paced = self.paced(send, now)
        if paced is not None:
            self.late(send, paced)  # the recipient's later sends wait for its slot
            self.push(paced, send)
            return None
        outcome = self.prepare(send, now)
        if isinstance(outcome, Ready):
            self.took(send, now)
            return outcome
        self.settle(send, outcome, now)
        return None

    def report(self) -> DeliveryReport:
        """This run's own counts (the sends it settled), without reading the ledger."""
        counts = {name: n for name, n in self.tally.items() if n and name != "corrupt"}
        return DeliveryReport(self.steps.header.broadcast_id, counts, (), ())

    def prepare(self, send: PlannedSend, now: datetime) -> Ready | Settled:
        """The steps' prepare; a corrupt ledger entry is left as it is and counted."""
        try:
            return self.steps.prepare(send, now)
        except CorruptRecordError as exc:
            if exc.kind != "ledger":
                raise
            self.tally["corrupt"] += 1
            return Settled(None, None)

    def push(self, at: datetime, send: PlannedSend) -> None:
        heapq.heappush(self.heap, (at, next(self.counter), send))

    def done(self, entry: LedgerEntry | None) -> None:
        self.settled += 1
        if entry is not None:
            name = {
                LedgerStatus.SENT: "sent",
                LedgerStatus.FAILED: "failed",
                LedgerStatus.SKIPPED: "skipped",
                LedgerStatus.UNCERTAIN: "uncertain",
            }.get(entry.status)
            if name is not None:
                self.tally[name] += 1
        if self.progress is not None:
            try:
                self.progress(
                    DispatchProgress(total=self.total, settled=self.settled, **self.tally)
                )
            except Exception as exc:
                raise CallbackError("progress", exc) from exc

    def settle(self, send: PlannedSend, outcome: Settled, now: datetime) -> None:
        if outcome.again_at is not None:
            again = max(outcome.again_at, now)
            self.late(send, again)
            self.push(again, send)
        else:
            key = (send.account_id, send.contact_id)
            left = self.unsettled.get(key)
            if left is not None:
                if left > 1:
                    self.unsettled[key] = left - 1
                else:
                    del self.unsettled[key]
                    self.behind.pop(key, None)
            self.done(outcome.entry)


def _wrap_store(exc: Exception) -> StoreError:
    if isinstance(exc, StoreError):
        return exc
    error = StoreError(f"the store failed: {type(exc).__name__}: {str(exc)[:200]}")
    error.__cause__ = exc
    return error


class Dispatcher(_Base):
    """Sends a plan through a :class:`~omnimsg.protocols.Transport`, one send at a time.

    Args:
        store: the shared state: ledger, reservations, conversations.
        transport: sends one message (``send(request) -> SendResult``).
        sleep: how to wait, in seconds (``time.sleep``).
        **options: the settings every dispatcher takes, by keyword:

            - ``profile``: the channel rules (a :class:`Profile` or a built-in
              name); by default the plan's own.
            - ``clock``: where ``now`` comes from (:class:`~omnimsg.clock.SystemClock`).
            - ``owner``: this worker's name in the ledger; a worker restarted with the
              same name takes its claims back at once. Unique per process by default.
            - ``lease``: how long a claim holds before another worker may take it
              over; set it above the transport's own time-out.
            - ``max_attempts``, ``backoff``, ``max_backoff``: retries of passing
              failures, with exponential backoff and jitter (a platform's
              ``retry_after`` is honoured).
            - ``idempotent``: the transport drops a second delivery of one key, so
              uncertain sends may be sent again (by default its ``idempotent``
              attribute).
            - ``progress``: called with a :class:`DispatchProgress` after each
              settled send.
            - ``accounts``: the sender accounts' states (their time zones: the days of
              B11's cap) where the store holds none.
            - ``seed``: seeds the jitter, for reproducible tests.
    """

    def __init__(
        self,
        store: DeliveryStore,
        transport: Transport,
        *,
        sleep: Callable[[float], None] = time.sleep,
        **options: Any,
    ) -> None:
        if not isinstance(transport, Transport):
            raise InputError(f"transport: expected a transport, got {type(transport).__name__}")
        if not callable(sleep):
            raise InputError("sleep: expected a callable")
        super().__init__(store, transport=transport, **options)
        self.transport = transport
        self.sleep = sleep

    def run(self, plan: _Source, *, report: bool = True) -> DeliveryReport:
        """Send every due send of ``plan`` until each is settled; the ledger's report.

        ``report=False`` returns this run's own counts instead, without reading the
        broadcast's whole ledger (a worker running one batch of many).

        A ledger entry that cannot be read back is left as it is and listed in the
        report's ``corrupt``. Raises :class:`~omnimsg.errors.StoreError` when the
        store fails, :class:`~omnimsg.errors.CallbackError` when ``progress``,
        ``sleep`` or the clock raised (what was recorded stays recorded: run again
        to resume).
        """
        header, sends, plan_profile = open_plan(plan)
        steps = self._steps(header, plan_profile)
        try:
            run = _Run(steps, sends, self.progress)
            while run.heap:
                at, _, send = heapq.heappop(run.heap)
                now = self._now()
                if at > now:
                    self._sleep((at - now).total_seconds())
                    now = self._now()
                    if at > now:
                        run.push(at, send)
                        continue
                ready = run.step(send, now)
                if ready is not None:
                    answer = self._send(ready)
                    try:
                        when = self._now()
                    except CallbackError:
                        steps.record(ready, answer, now)  # the answer is kept, then we stop
                        raise
                    run.settle(send, steps.record(ready, answer, when), now)
        except OmnimsgError:
            raise
        except Exception as exc:
            raise _wrap_store(exc) from exc
        return run.report() if not report else delivery_report(self.store, header.broadcast_id)

    def _sleep(self, seconds: float) -> None:
        try:
            self.sleep(seconds)
        except Exception as exc:
            raise CallbackError("sleep", exc) from exc

    def _send(self, ready: Ready) -> Any:
        try:
            return self.transport.send(ready.request)
        except Exception as exc:  # a transport's failure is recorded, never ours
            return exc


class AsyncDispatcher(_Base):
    """The asyncio twin of :class:`Dispatcher`, for an :class:`~omnimsg.protocols.AsyncTransport`.

    ``concurrency`` sends are in flight at once (each account still paced at its
    rate). Store calls are made on the event loop's thread: keep the store near.
    """

    def __init__(
        self,
        store: DeliveryStore,
        transport: AsyncTransport,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        concurrency: int = 8,
        **options: Any,
    ) -> None:
        if not isinstance(transport, AsyncTransport):
            raise InputError(
                f"transport: expected an async transport, got {type(transport).__name__}"
            )
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise InputError("concurrency: expected a whole number of at least 1")
        if not callable(sleep):
            raise InputError("sleep: expected a callable")
        super().__init__(store, transport=transport, **options)
        self.transport = transport
        self.sleep = sleep
        self.concurrency = concurrency

    async def run(self, plan: _Source, *, report: bool = True) -> DeliveryReport:
        """Send every due send of ``plan`` until each is settled; the ledger's report."""
        header, sends, plan_profile = open_plan(plan)
        steps = self._steps(header, plan_profile)
        in_flight: set[asyncio.Task[None]] = set()
        try:
            run = _Run(steps, sends, self.progress)
            while run.heap or in_flight:
                if not run.heap or len(in_flight) >= self.concurrency:
                    finished, in_flight = await asyncio.wait(
                        in_flight, return_when=asyncio.FIRST_COMPLETED
                    )
                    for task in finished:
                        task.result()
                    continue
                at, _, send = heapq.heappop(run.heap)
                now = self._now()
                if at > now:
                    if in_flight:
                        run.push(at, send)
                        finished, in_flight = await asyncio.wait(
                            in_flight,
                            timeout=(at - now).total_seconds(),
                            return_when=asyncio.FIRST_COMPLETED,
                        )
                        for task in finished:
                            task.result()
                        continue
                    try:
                        await self.sleep((at - now).total_seconds())
                    except Exception as exc:
                        raise CallbackError("sleep", exc) from exc
                    now = self._now()
                    if at > now:
                        run.push(at, send)
                        continue
                ready = run.step(send, now)
                if ready is not None:
                    in_flight.add(asyncio.ensure_future(self._one(run, steps, ready, now)))
        except OmnimsgError:
            raise
        except Exception as exc:
            raise _wrap_store(exc) from exc
        finally:
            if in_flight:  # sends already handed over are recorded before the run ends
                await asyncio.gather(*in_flight, return_exceptions=True)
        return run.report() if not report else delivery_report(self.store, header.broadcast_id)

    async def _one(self, run: _Run, steps: Steps, ready: Ready, now: datetime) -> None:
        try:
            answer: Any = await self.transport.asend(ready.request)
        except Exception as exc:  # a transport's failure is recorded, never ours
            answer = exc
        try:
            when = self._now()
        except CallbackError:
            steps.record(ready, answer, now)  # the answer is kept, then we stop
            raise
        run.settle(ready.send, steps.record(ready, answer, when), now)
