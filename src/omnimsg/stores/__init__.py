"""Stores: where contacts and state are kept between calls.

The protocols they implement are in :mod:`omnimsg.protocols`.
:mod:`omnimsg.stores.memory` keeps everything in dicts (one process, tests, small
jobs). :mod:`omnimsg.stores.sql` holds the reference SQL schema and its loader
(extra ``sql``); it is not imported here, so ``import omnimsg.stores`` never
imports SQLAlchemy.
"""

from omnimsg.stores.memory import MemoryContactStore, MemoryStateStore

__all__ = ["MemoryContactStore", "MemoryStateStore"]
