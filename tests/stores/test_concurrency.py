"""Caps and compare-and-set hold across real processes sharing one store.

Eight worker processes (``python -c``, started together behind a file barrier)
share one SQLite file in WAL mode, one Redis server or one PostgreSQL database:

- each asks for 400 distinct recipients of one sender's day, capped at 1,500 (the
  daily cap of SPEC B11, window ``None``): exactly 1,500 places are granted in all,
  and the set holds exactly those 1,500;
- each adds one to a counter record 100 times with a read/compare-and-set loop (the
  ledger's way of never losing an update, SPEC X5): the counter ends at exactly 800.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from omnimsg.delivery.records import Reservation

from .conftest import StoreFactory, open_store, unique_tenant

WORKERS = 8
PER_WORKER = 400
CAP = 1_500
INCREMENTS = 100
BOUND_SECONDS = 60.0
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

WORKER = f"""
from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from datetime import datetime, timedelta

from omnimsg.delivery.records import Reservation

{inspect.getsource(open_store)}

def main() -> dict[str, int]:
    spec = json.loads(sys.argv[1])
    store = open_store(spec)
    with open(spec["ready"], "w"):
        pass
    deadline = time.monotonic() + 60
    while not os.path.exists(spec["go"]):
        if time.monotonic() > deadline:
            raise SystemExit("the start file never appeared")
        time.sleep(0.005)
    started = time.monotonic()
    try:
        if spec["job"] == "reserve":
            at = datetime.fromisoformat(spec["at"])
            granted = 0
            for i in range(int(spec["count"])):
                place = Reservation(spec["key"], f"{{spec['worker']}}-{{i}}", int(spec["cap"]),
                                    None, timedelta(days=2))
                granted += store.reserve([place], at) == -1
            return {{"granted": granted, "ms": int(1000 * (time.monotonic() - started))}}
        retries = 0
        for _ in range(int(spec["count"])):
            while True:
                version, text = store.get_record("counter", spec["key"])
                if store.put_record("counter", spec["key"], version, str(int(text) + 1)):
                    break
                retries += 1
        return {{"retries": retries, "ms": int(1000 * (time.monotonic() - started))}}
    finally:
        store.close()


print(json.dumps(main()))
"""


def _run_workers(factory: StoreFactory, tenant: str, job: dict[str, str], tmp: Path) -> list[dict]:
    """Start the workers, let them go at once, and collect what each reports."""
    go = tmp / f"go-{factory.backend}-{job['job']}"
    ready = [tmp / f"ready-{factory.backend}-{job['job']}-{n}" for n in range(WORKERS)]
    procs = []
    for worker in range(WORKERS):
        where = {"go": str(go), "ready": str(ready[worker])}
        spec = {**factory.spec(tenant), **job, **where, "worker": f"w{worker}"}
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER, json.dumps(spec)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    deadline = time.monotonic() + BOUND_SECONDS
    reports, failures = [], []
    try:
        # Every worker has opened its store before any starts: they all contend.
        while not all(path.exists() for path in ready):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                break
            time.sleep(0.01)
        go.touch()
        for proc in procs:
            out, err = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
            if proc.returncode != 0:
                failures.append(f"exit {proc.returncode}: {err.strip()[-2000:]}")
            else:
                reports.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert not failures, "\n".join(failures)
    return reports


def test_daily_cap_grants_exactly_the_cap_across_eight_processes(
    shared_factory: StoreFactory, tmp_path: Path
) -> None:
    """SPEC B11: 8 x 400 distinct recipients against a cap of 1,500: exactly 1,500 go."""
    tenant = unique_tenant("cap")
    key = "daily/ec-1/2026-03-02"
    started = time.monotonic()
    job = {"job": "reserve", "key": key, "cap": str(CAP), "count": str(PER_WORKER)}
    reports = _run_workers(shared_factory, tenant, {**job, "at": T0.isoformat()}, tmp_path)
    elapsed = time.monotonic() - started
    granted = [report["granted"] for report in reports]
    assert sum(granted) == CAP, f"granted per process: {granted}"
    store = shared_factory(tenant)
    listing = store.members(key, T0 - timedelta(days=1))
    assert len(listing) == CAP
    asked = {f"w{w}-{i}" for w in range(WORKERS) for i in range(PER_WORKER)}
    assert len({member for member, _ in listing}) == CAP
    assert {member for member, _ in listing} <= asked
    assert {at for _, at in listing} == {T0}
    assert store.reserve([Reservation(key, "late", CAP, None, timedelta(days=2))], T0) == 0
    assert elapsed < BOUND_SECONDS
    if shared_factory.backend == "sqlite":
        with contextlib.closing(sqlite3.connect(shared_factory.where["path"])) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_compare_and_set_loses_no_update_across_eight_processes(
    shared_factory: StoreFactory, tmp_path: Path
) -> None:
    """SPEC X5: read/compare-and-set loops in 8 processes, 100 increments each: 800."""
    tenant = unique_tenant("cas")
    store = shared_factory(tenant)
    assert store.put_record("counter", "hits", None, "0") is True
    started = time.monotonic()
    job = {"job": "count", "key": "hits", "count": str(INCREMENTS)}
    reports = _run_workers(shared_factory, tenant, job, tmp_path)
    elapsed = time.monotonic() - started
    assert len(reports) == WORKERS
    assert store.get_record("counter", "hits") == (WORKERS * INCREMENTS + 1, "800")
    assert elapsed < BOUND_SECONDS
