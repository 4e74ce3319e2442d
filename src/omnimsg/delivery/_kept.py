"""What a worker process keeps between tasks: stores, transports and profiles.

Opening a store or importing a transport for every task would cost more than the
task; a Celery worker keeps them here, per process.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from omnimsg.protocols import DeliveryStore

__all__ = ["KEPT_PER_KIND", "Kept", "close_local", "local"]

KEPT_PER_KIND = 32
"""Stores, transports and profiles a worker process keeps open, of each kind."""


class Kept:
    """What one worker process keeps between tasks: stores, transports, profiles.

    At most :data:`KEPT_PER_KIND` of each kind, the least recently used dropped
    (a store closed). A child made by fork starts empty: connections are not shared
    across processes.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.items: OrderedDict[tuple[str, ...], Any] = OrderedDict()

    def get(self, key: tuple[str, ...], make: Callable[[], Any]) -> Any:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        made = make()
        with self.lock:
            if key in self.items:  # made meanwhile by another thread: keep the first
                _close(made)
                return self.items[key]
            self.items[key] = made
            same = [k for k in self.items if k[0] == key[0]]
            for old in same[: max(0, len(same) - KEPT_PER_KIND)]:
                _close(self.items.pop(old))
        return made

    def forget(self, key: tuple[str, ...]) -> None:
        with self.lock:
            found = self.items.pop(key, None)
        if found is not None:
            _close(found)

    def close(self) -> None:
        with self.lock:
            items = list(self.items.values())
            self.items.clear()
        for item in items:
            _close(item)


def _close(item: object) -> None:
    if isinstance(item, DeliveryStore):
        with suppress(Exception):
            item.close()


_kept = Kept()


def local() -> Kept:
    """This process's cache (a fresh one in a child made by fork)."""
    global _kept
    if _kept.pid != os.getpid():
        _kept = Kept()
    return _kept


def close_local() -> None:
    """Close what this process keeps (a worker process shutting down)."""
    if _kept.pid == os.getpid():
        _kept.close()
