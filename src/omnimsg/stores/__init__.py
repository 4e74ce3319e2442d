"""Stores: where contacts and state are kept between calls.

The protocols they implement are in :mod:`omnimsg.protocols`.
:mod:`omnimsg.stores.memory` keeps everything in dicts (one process, tests, small
jobs); :class:`SqliteStore` is the default delivery store (one file, the standard
library's sqlite3); the Redis and PostgreSQL stores (``omnimsg.stores.redis``,
``omnimsg.stores.postgres``) load their drivers only when imported, and
:func:`open_store` opens any of them from a URL. :mod:`omnimsg.stores.sql` holds
the reference SQL schema and its loader (extra ``sql``); it is not imported here,
so ``import omnimsg.stores`` never imports SQLAlchemy.
"""

from omnimsg.stores.memory import MemoryContactStore, MemoryStateStore, MemoryStore
from omnimsg.stores.open import open_store
from omnimsg.stores.sqlite import SqliteStore

__all__ = ["MemoryContactStore", "MemoryStateStore", "MemoryStore", "SqliteStore", "open_store"]
