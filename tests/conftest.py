"""Shared test configuration: hypothesis profiles and the real database servers.

``HYPOTHESIS_PROFILE=ci`` (set by ``.ci/run``) bounds the examples so the whole run
stays well inside CI's time limit; ``dev`` is the default locally.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

POSTGRES_URL = os.environ.get(
    "OMNIMSG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _require_server(name: str, reason: str) -> None:
    """Skip locally when a server is missing; fail loudly under CI."""
    message = f"{name} is not reachable ({reason})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must run against the real server", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[object]:
    """A SQLAlchemy engine on the PostgreSQL server at 127.0.0.1:5432, database ``test``."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    engine = sqlalchemy.create_engine(POSTGRES_URL, future=True)
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("select 1"))
    except Exception as exc:  # any driver or network failure means "not reachable"
        engine.dispose()
        _require_server("PostgreSQL", str(exc).splitlines()[0])
    yield engine
    engine.dispose()
