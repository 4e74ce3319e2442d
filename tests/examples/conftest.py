"""The example service (examples/service) on the real PostgreSQL and Redis.

Every run gets a PostgreSQL schema of its own (contacts, plans, omnimsg's delivery
store and the test outbox, dropped at the end), a Redis key prefix and a Celery
queue of its own (their keys deleted at the end), so runs on the same servers never
meet. A server that does not answer skips these tests, or fails them under ``CI``
(``_require_server`` of tests/conftest.py).
"""

from __future__ import annotations

import os
import sys
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("celery")
redis = pytest.importorskip("redis")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.append(str(EXAMPLES))  # the example's package, ``service``

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its test client; with httpx it works and warns.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

from service.app import create_app  # noqa: E402
from service.settings import Settings  # noqa: E402

from conftest import POSTGRES_URL, _require_server  # noqa: E402  (tests/conftest.py)
from examples.service_support import create_outbox  # noqa: E402
from omnimsg.testing import FixedClock  # noqa: E402

REDIS_URL = os.environ.get("OMNIMSG_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def unique(label: str) -> str:
    """An id no other test or run uses."""
    return f"{label}-{uuid.uuid4().hex[:12]}"


def delete_keys(client: Any, prefix: str) -> None:
    """SCAN and DEL every Redis key under ``prefix``."""
    batch = list(client.scan_iter(match=f"{prefix}*", count=1000))
    while batch:
        client.delete(*batch[:500])
        batch = batch[500:]


@pytest.fixture(scope="session")
def redis_client() -> Iterator[Any]:
    """A client of the Redis server the broker runs on, once checked to answer."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=10, socket_connect_timeout=5)
    try:
        client.ping()
    except Exception as exc:  # any failure to answer means "not reachable"
        client.close()
        _require_server("Redis", type(exc).__name__)
    yield client
    client.close()


@pytest.fixture(scope="session")
def service_settings(postgres_engine: Any, redis_client: Any) -> Iterator[Settings]:
    """The service's settings for this run: its own schema, key prefix and queue."""
    import sqlalchemy as sa

    run = uuid.uuid4().hex[:12]
    settings = Settings(
        database_url="postgresql://" + POSTGRES_URL.partition("://")[2],
        schema=f"omnimsg_example_{run}",
        tenant="example",
        profile="official",
        broker_url=REDIS_URL,
        broker_prefix=f"omnimsgtest-example-{run}:",
        queue=f"omnimsgtest-example-{run}",
        transport="examples.service_support:outbox_transport",
    )
    create_outbox(settings)
    try:
        yield settings
    finally:
        try:
            with postgres_engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{settings.schema}" CASCADE'))
        finally:
            delete_keys(redis_client, settings.broker_prefix)


@pytest.fixture
def clock() -> FixedClock:
    """The service's clock, standing at noon UTC on 2026-11-30 until a test moves it."""
    return FixedClock(NOW)


@pytest.fixture
def client(service_settings: Settings, clock: FixedClock) -> Iterator[TestClient]:
    """The service on the run's settings and the test's clock."""
    with TestClient(create_app(service_settings, clock=clock)) as test_client:
        yield test_client
