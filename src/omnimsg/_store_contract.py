"""The behaviour every :class:`~omnimsg.protocols.DeliveryStore` promises, as one check.

:func:`check_delivery_store` runs the whole contract on stores a factory opens over
one backend: records and their compare-and-set, scans by group, reservations
against caps, windows and expiry (the daily cap of B11, the rolling tiers of B13,
the per-contact frequency cap of X4), the state-store methods, and the isolation of
tenants. Memory, SQLite, PostgreSQL and Redis stores all pass this same check, and
a store of one's own should too.

It is published as ``omnimsg.testing.check_delivery_store``. This module does
I/O only through the stores it is given and imports nothing from
:mod:`omnimsg.testing` at import time, so that module can re-export it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import ParamSpec

from omnimsg._contract import contract as _contract
from omnimsg._contract import expect as _expect
from omnimsg._convert import shown
from omnimsg.delivery.records import Reservation
from omnimsg.errors import ConformanceError, InputError, OmnimsgError
from omnimsg.protocols import DeliveryStore
from omnimsg.state import AccountState, ConversationState, SenderUsage, SubscriptionStatus

__all__ = ["check_delivery_store"]

P = ParamSpec("P")

_T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
_BEFORE = _T0 - timedelta(days=30)
_US = timedelta(microseconds=1)
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
_KIND = "contract"


def _brief(value: object, depth: int = 0) -> str:
    """A short, safe rendering of what a store returned, for a failure message."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list) and len(value) <= 12 and depth < 3:
        inner = ", ".join(_brief(v, depth + 1) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    if isinstance(value, tuple | list):
        return f"{len(value)} items"
    return shown(value)


def _same(got: object, want: object, promise: str) -> None:
    if got != want:
        raise ConformanceError(f"{promise} (got {_brief(got)}, expected {_brief(want)})")


def _names(store: DeliveryStore, key: str, since: datetime = _BEFORE) -> list[str]:
    return [member for member, _ in store.members(key, since)]


def _one(
    store: DeliveryStore,
    key: str,
    member: str,
    at: datetime,
    *,
    cap: int | None,
    window: timedelta | None = None,
    keep: timedelta = 2 * _DAY,
) -> int:
    return store.reserve([Reservation(key, member, cap, window, keep)], at)


# --- records ------------------------------------------------------------------------------


def _check_records(store: DeliveryStore) -> None:
    get, put = store.get_record, store.put_record
    _same(get(_KIND, "r1"), None, "get_record of a key never written is None")
    _same(put(_KIND, "r1", 3, "x"), False, "put_record expecting a version of an absent record")
    _same(get(_KIND, "r1"), None, "a refused put_record leaves the record absent")
    _same(put(_KIND, "r1", None, "one"), True, "put_record expecting None writes an absent record")
    _same(get(_KIND, "r1"), (1, "one"), "the first write of a record is version 1")
    _same(put(_KIND, "r1", None, "again"), False, "expecting None never overwrites a record")
    _same(get(_KIND, "r1"), (1, "one"), "a refused put_record changes nothing")
    _same(put(_KIND, "r1", 1, "two"), True, "put_record expecting the stored version writes")
    _same(get(_KIND, "r1"), (2, "two"), "a write expecting version n stores version n + 1")
    _same(put(_KIND, "r1", 1, "stale"), False, "a stale expected version is refused")
    _same(put(_KIND, "r1", 3, "ahead"), False, "an expected version ahead of the record is refused")
    _same(get(_KIND, "r1"), (2, "two"), "a refused put_record changes neither text nor version")
    _same(get("contract-other", "r1"), None, "records are kept per kind")
    # Keys that a store joining kind and key with a separator would confuse.
    pairs = [
        ("a:b", "c"),
        ("a", "b:c"),
        ("a/b", "c"),
        ("a", "b/c"),
        ("a\x1fb", "c"),
        ("a", "b\x1fc"),
    ]
    for n, (kind, key) in enumerate(pairs):
        _same(put(kind, key, None, f"pair {n}"), True, "a new (kind, key) pair is written")
    for n, (kind, key) in enumerate(pairs):
        _same(get(kind, key), (1, f"pair {n}"), "records of different (kind, key) never collide")


def _check_text(store: DeliveryStore) -> None:
    texts = [
        "",
        "Olá, Zoë — ñ ß 日本語 עברית 🎉\u200b",
        '{"a": "b\\"c", "n": null}\n\r\n\t  trailing spaces  ',
        "ab€😀" * 25_000,
    ]
    for n, text in enumerate(texts):
        key = f"text-{n}"
        _same(store.put_record(_KIND, key, None, text), True, "record text is written")
        found = store.get_record(_KIND, key)
        _expect(
            found is not None and found[1] == text,
            f"record text reads back exactly (non-ASCII, control and long text; case {n})",
        )
    long_key = "k" * 998 + "é"
    _same(store.put_record(_KIND, long_key, None, "v"), True, "a 999-character key is written")
    _same(store.get_record(_KIND, long_key), (1, "v"), "a long non-ASCII key reads back")
    _same(store.get_record(_KIND, long_key[:-1]), None, "keys are compared whole")


def _check_scan(store: DeliveryStore) -> None:
    keys = ["b", "B", "a", "a-1", "a1", "a b", "ä", "Z", "日本", "z"]
    for key in keys:
        _same(store.put_record("scan", key, None, f"t-{key}", "g1"), True, "a record is written")
    store.put_record("scan", "outside", None, "other group", "g2")
    store.put_record("scan", "plain", None, "no group")
    store.put_record("scan-other", "a", None, "other kind", "g1")
    _same(store.put_record("scan", "b", 1, "t-b 2", "g1"), True, "a scanned record is replaced")
    rows = list(store.scan_records("scan", "g1"))
    _same(
        [row[0] for row in rows],
        sorted(keys),
        "scan_records lists exactly the kind's records of the group, by key (code point order)",
    )
    want = [(k, 2, "t-b 2") if k == "b" else (k, 1, f"t-{k}") for k in sorted(keys)]
    _same(rows, want, "scan_records gives each record's key, version and text")
    _same(list(store.scan_records("scan", "g3")), [], "scan_records of an empty group is empty")
    _same(
        list(store.scan_records("scan", "")),
        [("plain", 1, "no group")],
        "records written without a group are scanned in the group ''",
    )


# --- reservations -----------------------------------------------------------------------------


def _check_cap(store: DeliveryStore) -> None:
    """The daily cap of B11: window None, members kept for the day."""
    key = "daily/sms-1/2026-01-05"
    for i, member in enumerate(["c1", "c2", "c3"]):
        got = _one(store, key, member, _T0 + i * timedelta(seconds=1), cap=3)
        _same(got, -1, "reserve grants places until the cap is reached")
    _same(_one(store, key, "c4", _T0 + _HOUR, cap=3), 0, "reserve refuses a new member at the cap")
    _same(_names(store, key), ["c1", "c2", "c3"], "a refused member is not kept")
    later = _T0 + 2 * _HOUR
    _same(_one(store, key, "c2", later, cap=3), -1, "a member already counted is granted again")
    listing = store.members(key, _BEFORE)
    _same(
        listing,
        [("c1", _T0), ("c3", _T0 + timedelta(seconds=2)), ("c2", later)],
        "a member granted again is not counted twice and moves to its new instant "
        "(members oldest first)",
    )
    _same(
        _names(store, key, _T0),
        ["c3", "c2"],
        "members lists only members taken strictly after since",
    )
    _same(store.members("never-used", _BEFORE), [], "members of an unknown set is empty")
    for i in range(30):
        _same(_one(store, "uncapped", f"m{i}", _T0, cap=None), -1, "cap None never refuses")
    _same(len(_names(store, "uncapped")), 30, "cap None counts every member")
    _same(_one(store, "zero", "m", _T0, cap=0), 0, "cap 0 refuses every member")
    _same(store.reserve([], _T0), -1, "an empty reserve grants (nothing to refuse)")


def _check_instants(store: DeliveryStore) -> None:
    zone = timezone(timedelta(hours=5, minutes=30))
    at = datetime(2026, 1, 5, 14, 31, 2, 123456, tzinfo=zone)
    _same(_one(store, "instants", "m", at, cap=5), -1, "a reservation at a non-UTC instant")
    listing = store.members("instants", at - _US)
    _same(listing, [("m", at)], "members gives back the exact instant, to the microsecond")
    _expect(listing[0][1].utcoffset() is not None, "members gives aware datetimes")
    _same(store.members("instants", at), [], "since equal to the instant excludes the member")


def _check_window(store: DeliveryStore) -> None:
    """A rolling window (B13 tiers, X4 frequency caps): only recent members count."""
    key = "tier/wa-1"
    cap, window = 2, _DAY

    def take(member: str, at: datetime) -> int:
        return _one(store, key, member, at, cap=cap, window=window, keep=2 * _DAY)

    _same(take("a", _T0), -1, "a windowed set grants below its cap")
    _same(take("b", _T0), -1, "a windowed set grants up to its cap")
    _same(take("c", _T0 + 12 * _HOUR), 0, "members inside the window count against the cap")
    _same(take("c", _T0 + _DAY - _US), 0, "a member taken just inside the window still counts")
    _same(
        take("c", _T0 + _DAY),
        -1,
        "members taken exactly one window ago or earlier no longer count",
    )
    _same(take("d", _T0 + _DAY), -1, "the window's places free up as members leave it")
    _same(take("a", _T0 + _DAY), 0, "a member that left the window counts as new")
    _same(
        sorted(_names(store, key)), ["a", "b", "c", "d"], "members out of the window are still kept"
    )


def _check_expiry(store: DeliveryStore) -> None:
    """``keep``: a member expires at its instant plus keep, and is dropped then."""

    def take(key: str, member: str, at: datetime, cap: int) -> int:
        return _one(store, key, member, at, cap=cap, keep=_HOUR)

    _same(take("keep", "a", _T0, 2), -1, "a kept set grants")
    _same(take("keep", "b", _T0, 2), -1, "a kept set grants up to its cap")
    _same(take("keep", "c", _T0 + _HOUR - _US, 2), 0, "a member still kept counts (window None)")
    _same(take("keep", "c", _T0 + _HOUR, 2), -1, "a member is dropped once its keep has passed")
    _same(_names(store, "keep"), ["c"], "expired members are no longer listed after a reserve")
    _same(take("extend", "a", _T0, 1), -1, "a kept set grants")
    _same(take("extend", "a", _T0 + _HOUR / 2, 1), -1, "a member is granted again")
    _same(
        take("extend", "b", _T0 + _HOUR, 1),
        0,
        "a member granted again is kept for keep from its new instant",
    )
    _same(take("extend", "b", _T0 + _HOUR * 3 / 2, 1), -1, "it expires keep after that")


def _check_all_or_nothing(store: DeliveryStore) -> None:
    keep = 2 * _DAY
    _same(_one(store, "full", "x", _T0, cap=1), -1, "a set is filled")
    _same(_one(store, "p1", "m", _T0, cap=None), -1, "a member is taken")
    later = _T0 + _HOUR
    call: Sequence[Reservation] = [
        Reservation("p1", "m", None, None, keep),
        Reservation("p2", "n", 5, None, keep),
        Reservation("full", "y", 1, None, keep),
        Reservation("p3", "o", None, None, keep),
    ]
    _same(store.reserve(call, later), 2, "reserve returns the index of the first refusal")
    _same(store.members("p1", _BEFORE), [("m", _T0)], "a refused call moves no member forward")
    _same(_names(store, "p2"), [], "a refused call takes none of the places before the refusal")
    _same(_names(store, "p3"), [], "a refused call takes none of the places after the refusal")
    _same(store.members("full", _BEFORE), [("x", _T0)], "a refused call changes no set")
    # Several places in one set in one call count together.
    _same(_one(store, "batch", "a", _T0, cap=3), -1, "a set is started")
    three = [Reservation("batch", m, 3, None, keep) for m in ("b", "c", "d")]
    _same(store.reserve(three, later), 2, "places asked in one call count together")
    _same(_names(store, "batch"), ["a"], "a refused call takes none of its places")
    _same(store.reserve(three[:2], later), -1, "places asked in one call are granted together")
    _same(sorted(_names(store, "batch")), ["a", "b", "c"], "granted places are all taken")
    again = [Reservation("batch", "a", 3, None, keep), three[2]]
    _same(store.reserve(again, later), 1, "a counted member passes, a new one is refused")
    _same(store.members("batch", _BEFORE)[0], ("a", _T0), "the refused call moved nothing")


# --- tenants ------------------------------------------------------------------------------


def _check_tenants(one: DeliveryStore, other: DeliveryStore, twin: DeliveryStore) -> None:
    _same(one.put_record(_KIND, "shared", None, "from a", "iso"), True, "a record is written")
    _same(other.get_record(_KIND, "shared"), None, "another tenant does not see a record")
    _same(
        other.put_record(_KIND, "shared", None, "from b", "iso"),
        True,
        "another tenant writes the same key as new",
    )
    _same(one.get_record(_KIND, "shared"), (1, "from a"), "tenants never overwrite each other")
    _same(other.get_record(_KIND, "shared"), (1, "from b"), "each tenant reads its own record")
    _same(
        list(one.scan_records(_KIND, "iso")),
        [("shared", 1, "from a")],
        "scan_records lists only the store's tenant",
    )
    _same(twin.get_record(_KIND, "shared"), (1, "from a"), "stores of one tenant share records")
    key = "daily/shared/2026-01-05"
    _same(_one(one, key, "a", _T0, cap=1), -1, "a tenant fills its set")
    _same(_one(other, key, "b", _T0, cap=1), -1, "another tenant's set of the same key is apart")
    _same(_names(one, key), ["a"], "members lists only the store's tenant")
    _same(_names(other, key), ["b"], "members lists only the store's tenant")
    _same(_one(twin, key, "c", _T0, cap=1), 0, "stores of one tenant share reservations")
    account = AccountState(timezone="Europe/Madrid", tier=2)
    one.put_account("wa-iso", account)
    one.put_usage("wa-iso", SenderUsage())
    one.put_conversation(
        "c-iso", "wa-iso", ConversationState(consent=SubscriptionStatus.SUBSCRIBED)
    )
    _same(other.get_account("wa-iso"), None, "another tenant does not see an account state")
    _same(other.get_usage("wa-iso"), None, "another tenant does not see a usage record")
    _same(
        other.get_conversation("c-iso", "wa-iso"),
        None,
        "another tenant does not see a conversation",
    )
    got = twin.get_account("wa-iso")
    _expect(got is not None and got.tier == 2, "stores of one tenant share state")


# --- the check ----------------------------------------------------------------------------


@_contract
def check_delivery_store(factory: Callable[[str], DeliveryStore]) -> None:
    """Check that stores ``factory(tenant)`` opens keep every promise of a delivery store.

    ``factory(tenant)`` opens a store of that tenant; every store it opens works on
    the same backend (one file, server or database), as the workers of one
    deployment do. The check makes up fresh tenant names (``contract-...`` with a
    random part), so a backend holding other data can be checked, and closes every
    store it opened. Checked: records and their compare-and-set, scans by group,
    text and key round-trips, reservations against caps (B11), rolling windows
    (B13, X4) and ``keep``, all-or-nothing calls, the state-store methods, and that
    tenants never see each other.

    Raises:
        InputError: ``factory`` is not callable.
        ConformanceError: a promise was broken; the message names it.
    """
    if not callable(factory):
        raise InputError(f"factory: expected a callable, got {type(factory).__name__}")
    run = uuid.uuid4().hex[:12]
    opened: list[DeliveryStore] = []

    def open_store(name: str) -> DeliveryStore:
        tenant = f"contract-{name}-{run}"
        try:
            store = factory(tenant)
        except OmnimsgError:
            raise
        except Exception as exc:
            raise ConformanceError(f"the factory raised {type(exc).__name__}: {exc}") from exc
        _expect(isinstance(store, DeliveryStore), "the store has the DeliveryStore methods")
        opened.append(store)
        _same(store.tenant, tenant, "tenant is the tenant the store was opened for")
        return store

    try:
        one = open_store("a")
        _check_records(one)
        _check_text(one)
        _check_scan(one)
        _check_cap(one)
        _check_instants(one)
        _check_window(one)
        _check_expiry(one)
        _check_all_or_nothing(one)
        _check_tenants(open_store("t1"), open_store("t2"), open_store("t1"))
        from omnimsg.testing import check_state_store

        check_state_store(lambda: open_store("state"))
    except BaseException:
        for store in opened:
            with contextlib.suppress(Exception):
                store.close()
        raise
    for store in opened:
        store.close()
