"""The in-memory delivery store at the edges the shared contract does not reach."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omnimsg.delivery.records import Reservation
from omnimsg.stores.memory import MemoryStore


def test_a_member_taken_before_1970_expires_after_its_keep() -> None:
    # SPEC B11: a place under a cap frees once its member is no longer kept
    store = MemoryStore()
    then = datetime(1900, 1, 1, tzinfo=UTC)
    first = Reservation("daily/sms-1/1900-01-01", "c1", 1, None, timedelta(hours=1))
    second = first._replace(member="c2")
    assert store.reserve([first], then) == -1
    assert store.reserve([second], then + timedelta(minutes=30)) == 0
    assert store.reserve([second], then + timedelta(hours=2)) == -1
    assert [m for m, _ in store.members(first.key, then - timedelta(days=1))] == ["c2"]
