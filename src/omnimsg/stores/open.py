"""Opening a delivery store from a URL, as the command line and Celery workers do.

- ``memory://``: :class:`~omnimsg.stores.memory.MemoryStore` (one process);
- ``sqlite:///state.db`` (relative) or ``sqlite:////abs/state.db``:
  :class:`~omnimsg.stores.sqlite.SqliteStore`, the default;
- ``redis://host:6379/0`` (``rediss://``, ``unix://``):
  :class:`~omnimsg.stores.redis.RedisStore`, extra ``redis``;
- ``postgresql://user@host/db``: :class:`~omnimsg.stores.postgres.PostgresStore`,
  extra ``postgres``.

Only the module of the store asked for is imported.
"""

from __future__ import annotations

from omnimsg.errors import ConfigurationError, InputError
from omnimsg.protocols import DeliveryStore

__all__ = ["open_store"]


def open_store(url: str, *, tenant: str = "default") -> DeliveryStore:
    """The delivery store ``url`` names, for ``tenant``.

    Raises:
        InputError: ``url`` is not text.
        ConfigurationError: the scheme is unknown, or its extra is not installed.
        StoreUnavailableError: the file or server cannot be reached.
    """
    if not isinstance(url, str):
        raise InputError(f"url: expected text, got {type(url).__name__}")
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ConfigurationError(
            "store: expected a URL such as sqlite:///state.db, redis://127.0.0.1:6379/0 "
            "or postgresql://user@host/db"
        )
    if scheme == "memory":
        from omnimsg.stores.memory import MemoryStore

        return MemoryStore(tenant=tenant)
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise ConfigurationError(
                "store: a SQLite URL is sqlite:///relative/path or sqlite:////abs"
            )
        from omnimsg.stores.sqlite import SqliteStore

        return SqliteStore(rest[1:], tenant=tenant)
    if scheme in ("redis", "rediss", "unix"):
        try:
            from omnimsg.stores.redis import RedisStore
        except ImportError:
            raise ConfigurationError(
                "store: the Redis store needs the extra: pip install 'omnimsg[redis]'"
            ) from None
        return RedisStore(url, tenant=tenant)
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        try:
            from omnimsg.stores.postgres import PostgresStore
        except ImportError:
            raise ConfigurationError(
                "store: the PostgreSQL store needs the extra: pip install 'omnimsg[postgres]'"
            ) from None
        return PostgresStore("postgresql://" + rest, tenant=tenant)
    raise ConfigurationError(
        f"store: unknown scheme {scheme[:20]!r} (memory, sqlite, redis, postgresql)"
    )
