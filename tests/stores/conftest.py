"""Databases for the store tests.

The SQL contact-store tests get the reference schema on a SQLite file and on the
PostgreSQL server (a schema of its own, dropped at the end of the session).
``database`` hands each test a connection of each in a transaction that is rolled
back; property tests open one per example with :func:`rolled_back`, so examples never
see each other's rows.

The delivery-store tests get a :class:`StoreFactory` per backend (``memory``,
``sqlite``, ``postgres``, ``redis``): ``factory(tenant)`` opens a store over data
shared by every store of that factory. SQLite uses one file under ``tmp_path``;
PostgreSQL the test database, where the rows of every tenant used are deleted after
the test (tests use fresh tenant names, :func:`unique_tenant`); Redis a key prefix
of the test's own, whose keys are deleted after. A server that does not answer
skips the test, or fails it naming the server when ``CI`` is set.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest
import sqlalchemy as sa

from omnimsg.protocols import DeliveryStore
from omnimsg.segments.sql import install_sqlite_functions
from omnimsg.stores.sql import create_reference_schema


@pytest.fixture(scope="session")
def sqlite_file_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    """A SQLite file with the reference schema, ``omnimsg_fold`` on every connection."""
    path = tmp_path_factory.mktemp("stores") / "contacts.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    sa.event.listen(engine, "connect", install_sqlite_functions)
    create_reference_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_schema_engine(postgres_engine: Any) -> Iterator[sa.Engine]:
    """The PostgreSQL server, the reference schema in a schema unique to the session."""
    schema = f"omnimsg_stores_{uuid.uuid4().hex[:12]}"
    with postgres_engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine: sa.Engine = postgres_engine.execution_options(schema_translate_map={None: schema})
    create_reference_schema(engine)
    try:
        yield engine
    finally:
        with postgres_engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


@contextmanager
def rolled_back(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection in a transaction that is rolled back at the end of the block."""
    with engine.connect() as conn, conn.begin() as transaction:
        yield conn
        transaction.rollback()


@pytest.fixture(params=["sqlite_file_engine", "postgres_schema_engine"], ids=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> Iterator[sa.Connection]:
    """A connection to each database, in a transaction rolled back afterwards."""
    with rolled_back(request.getfixturevalue(request.param)) as conn:
        yield conn


# --- delivery stores: one factory per backend, for the contract and concurrency tests ---

POSTGRES_DSN = os.environ.get(
    "OMNIMSG_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("OMNIMSG_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BACKENDS = ("memory", "sqlite", "postgres", "redis")
SHARED_BACKENDS = ("sqlite", "postgres", "redis")


def require_server(name: str, reason: str) -> NoReturn:
    """Skip locally when a server is missing; fail loudly, naming it, under CI."""
    message = f"{name} is not reachable ({reason})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must run against the real server", pytrace=False)
    pytest.skip(message)


def unique_tenant(label: str = "t") -> str:
    """A tenant name no other test, example or concurrent run uses."""
    return f"t{uuid.uuid4().hex}-{label}"


def open_store(spec: Mapping[str, str]) -> DeliveryStore:
    """The store ``spec`` describes (``backend``, ``tenant`` and where its data is)."""
    backend, tenant = spec["backend"], spec["tenant"]
    if backend == "sqlite":
        from omnimsg.stores.sqlite import SqliteStore

        return SqliteStore(spec["path"], tenant=tenant)
    if backend == "postgres":
        from omnimsg.stores.postgres import PostgresStore

        return PostgresStore(spec["dsn"], tenant=tenant)
    if backend == "redis":
        from omnimsg.stores.redis import RedisStore

        return RedisStore(spec["url"], tenant=tenant, prefix=spec["prefix"])
    raise ValueError(f"no such backend: {backend}")


class StoreFactory:
    """``factory(tenant)``: stores of one backend, all over the same data.

    Remembers every store and tenant so the fixture closes and removes them.
    ``spec(tenant)`` describes the same data for a store opened in another process.
    """

    def __init__(
        self, backend: str, where: Mapping[str, str], opener: Callable[[str], DeliveryStore]
    ) -> None:
        self.backend = backend
        self.where = dict(where)
        self._opener = opener
        self.stores: list[DeliveryStore] = []
        self.tenants: set[str] = set()

    def __call__(self, tenant: str) -> DeliveryStore:
        self.tenants.add(tenant)
        store = self._opener(tenant)
        self.stores.append(store)
        return store

    def __repr__(self) -> str:
        return f"StoreFactory({self.backend})"

    def spec(self, tenant: str) -> dict[str, str]:
        self.tenants.add(tenant)
        return {"backend": self.backend, "tenant": tenant, **self.where}

    def release(self, store: DeliveryStore) -> None:
        """Close ``store`` now (a property test opens one per example)."""
        self.stores.remove(store)
        store.close()

    def close(self) -> None:
        for store in self.stores:
            store.close()


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """The PostgreSQL server the delivery stores use, once checked to answer."""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_DSN, connect_timeout=5) as conn:
            conn.execute("select 1")
    except Exception as exc:  # no driver, or any driver or network failure
        require_server("PostgreSQL", str(exc).splitlines()[0] if str(exc) else repr(exc))
    return POSTGRES_DSN


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis server the delivery stores use, once checked to answer."""
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
        client.ping()
        client.close()
    except Exception as exc:  # no driver, or any driver or network failure
        require_server("Redis", str(exc).splitlines()[0] if str(exc) else repr(exc))
    return REDIS_URL


def _delete_postgres_tenants(dsn: str, tenants: set[str]) -> None:
    """Delete every row of ``tenants`` from the tables of the delivery store."""
    import psycopg
    from psycopg import sql

    if not tenants:
        return
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.columns"
            " where column_name = 'tenant' and table_name like 'omnimsg%'"
            " and table_schema not in ('pg_catalog', 'information_schema')"
        ).fetchall()
        for schema, table in tables:
            statement = sql.SQL("delete from {} where tenant = any(%s)").format(
                sql.Identifier(schema, table)
            )
            with contextlib.suppress(psycopg.errors.UndefinedTable):
                conn.execute(statement, (sorted(tenants),))


def _delete_redis_prefix(url: str, prefix: str) -> None:
    """SCAN and DEL every key under ``prefix``."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=10)
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                client.delete(*batch)
                batch.clear()
        if batch:
            client.delete(*batch)
    finally:
        client.close()


@pytest.fixture
def memory_factory() -> Iterator[StoreFactory]:
    """Memory stores over one :class:`MemoryBackend`."""
    from omnimsg.stores.memory import MemoryBackend, MemoryStore

    backend = MemoryBackend()
    factory = StoreFactory("memory", {}, lambda tenant: MemoryStore(tenant=tenant, backend=backend))
    yield factory
    factory.close()


@pytest.fixture
def sqlite_factory(tmp_path: Path) -> Iterator[StoreFactory]:
    """SQLite stores on one file under ``tmp_path``."""
    where = {"path": str(tmp_path / "delivery.sqlite3")}
    factory = StoreFactory(
        "sqlite", where, lambda t: open_store({**where, "backend": "sqlite", "tenant": t})
    )
    yield factory
    factory.close()


@pytest.fixture
def postgres_factory(postgres_dsn: str) -> Iterator[StoreFactory]:
    """PostgreSQL stores on the test database; every tenant they used is deleted after."""
    where = {"dsn": postgres_dsn}
    factory = StoreFactory(
        "postgres", where, lambda t: open_store({**where, "backend": "postgres", "tenant": t})
    )
    try:
        yield factory
    finally:
        try:
            factory.close()
        finally:
            _delete_postgres_tenants(postgres_dsn, factory.tenants)


@pytest.fixture
def redis_factory(redis_url: str) -> Iterator[StoreFactory]:
    """Redis stores under a prefix of their own; every key under it is deleted after."""
    where = {"url": redis_url, "prefix": f"omnimsgtest-{uuid.uuid4().hex[:16]}"}
    factory = StoreFactory(
        "redis", where, lambda t: open_store({**where, "backend": "redis", "tenant": t})
    )
    try:
        yield factory
    finally:
        try:
            factory.close()
        finally:
            _delete_redis_prefix(redis_url, where["prefix"])


@pytest.fixture(params=BACKENDS)
def delivery_factory(request: pytest.FixtureRequest) -> StoreFactory:
    """A factory of delivery stores of each backend in turn."""
    factory: StoreFactory = request.getfixturevalue(f"{request.param}_factory")
    return factory


@pytest.fixture(params=SHARED_BACKENDS)
def shared_factory(request: pytest.FixtureRequest) -> StoreFactory:
    """A factory of delivery stores that many processes can share, each backend in turn."""
    factory: StoreFactory = request.getfixturevalue(f"{request.param}_factory")
    return factory
