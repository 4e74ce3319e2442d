"""What the SQLite and PostgreSQL delivery stores share: their schema and its migrations,
the checks of the text they store, and how a call of ``reserve`` is decided.

Nothing here talks to a database. :data:`MIGRATIONS` is the one list of schema
changes: entry ``i`` takes a database from schema version ``i`` to ``i + 1`` (version
0 is a database without the tables), with the statements of each dialect side by
side, so version 2 is one entry more. A store reads the list when it opens, so the
length of the list is the version it writes.

The layout, in both dialects (tables prefixed ``omnimsg_`` to live beside an
application's own):

- ``omnimsg_meta(name, value)``: the row ``('schema_version', '1')``.
- ``omnimsg_records(tenant, kind, key, version, grp, body)``, one row per record.
- ``omnimsg_reservations(tenant, set_key, member, at, expires)``, one row per member
  kept in a capped set; ``at`` and ``expires`` are microseconds since 1970 (UTC);
  indexed by set, ``at`` and member.
- ``omnimsg_sets(tenant, set_key, mark_at, mark_member, since, live, lo)``: a set's
  kept count
  (:func:`run_reserve`). Rows deleted from ``omnimsg_reservations`` by hand must
  have their set's row deleted too (the set is then counted again). Members and
  rows of sets nobody reserves in any more stay (a daily key is one such set):
  deleting them by ``expires`` (and those sets' rows) is safe at any time.

PostgreSQL refuses a B-tree index entry past about 2.7 kB, and a kind, key or member
may be 1,000 characters of four bytes each; its tables therefore carry 16-byte
BLAKE2b digests (``kh`` of kind and key, ``gh`` of kind and group, ``sk`` of the
set key, ``mk`` of the member; ``mark_mk`` in place of ``mark_member``) and are keyed
by them, and its group index holds the first 400 characters of a key only.

Reserving follows :class:`~omnimsg.stores.memory.MemoryStore` exactly, in one
function for both (:func:`run_reserve`) over the few statements each store runs
(:class:`SetOps`). A set's count is kept in ``omnimsg_sets`` and corrected by the few
members that expired, left the window or arrived since it was written, so a
reservation costs the same in a set of ten members as in one of a hundred thousand,
and most calls write the member alone (its row and its ``at`` index entry).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, NamedTuple, Protocol, cast

from omnimsg.delivery.records import Reservation
from omnimsg.errors import InputError, SchemaVersionError, StoreError
from omnimsg.stores._records import check_key, check_text

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Kept",
    "Migration",
    "SetOps",
    "check_body",
    "check_group",
    "check_names",
    "clamp",
    "digest",
    "parse_version",
    "pending_migrations",
    "run_reserve",
]

SCHEMA_VERSION = 1
"""The schema version the SQLite and PostgreSQL stores of this omnimsg write."""

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class Migration(NamedTuple):
    """The statements taking a schema one version up, in each dialect."""

    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]


_SQLITE_V1 = (
    "CREATE TABLE IF NOT EXISTS omnimsg_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS omnimsg_records ("
    " tenant TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,"
    " version INTEGER NOT NULL, grp TEXT NOT NULL, body TEXT NOT NULL,"
    " PRIMARY KEY (tenant, kind, key))",
    "CREATE INDEX IF NOT EXISTS omnimsg_records_group ON omnimsg_records (tenant, kind, grp, key)",
    # Small rows looked up by their key: kept in the key's B-tree itself.
    "CREATE TABLE IF NOT EXISTS omnimsg_reservations ("
    " tenant TEXT NOT NULL, set_key TEXT NOT NULL, member TEXT NOT NULL,"
    " at INTEGER NOT NULL, expires INTEGER NOT NULL,"
    " PRIMARY KEY (tenant, set_key, member)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS omnimsg_reservations_at"
    " ON omnimsg_reservations (tenant, set_key, at)",
    "CREATE TABLE IF NOT EXISTS omnimsg_sets ("
    " tenant TEXT NOT NULL, set_key TEXT NOT NULL, mark_at INTEGER NOT NULL,"
    " mark_member TEXT, since INTEGER NOT NULL, live INTEGER NOT NULL, lo INTEGER NOT NULL,"
    " PRIMARY KEY (tenant, set_key)) WITHOUT ROWID",
)

_POSTGRES_V1 = (
    "CREATE TABLE IF NOT EXISTS omnimsg_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # COLLATE "C": keys sort by code point, as Python sorts them.
    'CREATE TABLE IF NOT EXISTS omnimsg_records ( tenant TEXT COLLATE "C" NOT NULL,'
    ' kh BYTEA NOT NULL, gh BYTEA NOT NULL, kind TEXT COLLATE "C" NOT NULL,'
    ' key TEXT COLLATE "C" NOT NULL, version BIGINT NOT NULL,'
    ' grp TEXT COLLATE "C" NOT NULL, body TEXT NOT NULL, PRIMARY KEY (tenant, kh))',
    "CREATE INDEX IF NOT EXISTS omnimsg_records_group"
    " ON omnimsg_records (tenant, gh, (left(key, 400)))",
    'CREATE TABLE IF NOT EXISTS omnimsg_reservations ( tenant TEXT COLLATE "C" NOT NULL,'
    ' sk BYTEA NOT NULL, mk BYTEA NOT NULL, set_key TEXT COLLATE "C" NOT NULL,'
    ' member TEXT COLLATE "C" NOT NULL, at BIGINT NOT NULL, expires BIGINT NOT NULL,'
    " PRIMARY KEY (tenant, mk, sk))",
    "CREATE INDEX IF NOT EXISTS omnimsg_reservations_at"
    " ON omnimsg_reservations (tenant, sk, at, mk)",
    'CREATE TABLE IF NOT EXISTS omnimsg_sets (tenant TEXT COLLATE "C" NOT NULL,'
    " sk BYTEA NOT NULL, set_key TEXT NOT NULL, mark_at BIGINT NOT NULL, mark_mk BYTEA,"
    " since BIGINT NOT NULL, live BIGINT NOT NULL, lo BIGINT NOT NULL,"
    " PRIMARY KEY (tenant, sk))",
)

MIGRATIONS: list[Migration] = [Migration(sqlite=_SQLITE_V1, postgres=_POSTGRES_V1)]
"""Entry ``i`` takes a schema from version ``i`` to ``i + 1``."""


def parse_version(where: str, value: object) -> int:
    """The stored ``schema_version`` text as a number, or :class:`StoreError`."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 10:
        return int(value)
    raise StoreError(f"{where}: omnimsg_meta holds a schema_version that is not a number")


def pending_migrations(where: str, found: int, dialect: str) -> list[tuple[str, ...]]:
    """The statements taking a schema from version ``found`` to the current one.

    Raises:
        SchemaVersionError: ``found`` is newer than this omnimsg's schema.
    """
    migrations = MIGRATIONS
    if found > len(migrations):
        raise SchemaVersionError(where, found, len(migrations))
    return [getattr(step, dialect) for step in migrations[found:]]


# --- values ----------------------------------------------------------------------------


def _storable(value: str, name: str) -> str:
    if "\x00" in value:
        # PostgreSQL cannot keep NUL in text; SQLite refuses it too, to agree.
        raise InputError(f"{name}: NUL characters cannot be stored")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(f"{name}: not valid Unicode text (a lone surrogate)") from None
    return value


def check_body(value: object) -> str:
    """Record text: a str of valid Unicode without NUL, or :class:`InputError`."""
    check_text(value)
    return _storable(cast(str, value), "text")


def check_names(wanted: Sequence[Reservation]) -> None:
    """Every set key and member storable (:func:`check_key`), or :class:`InputError`."""
    for key, member, *_ in wanted:
        if (
            len(key) > 1000
            or len(member) > 1000
            or not (key.isascii() and member.isascii())
            or "\x00" in key
            or "\x00" in member
        ):
            break
    else:
        return
    for i, (key, member, *_) in enumerate(wanted):
        check_key(key, f"reservations[{i}].key")
        check_key(member, f"reservations[{i}].member")


def check_group(value: object) -> str:
    """A record group: text of at most 1,000 characters, valid Unicode, no NUL (may be empty)."""
    if not isinstance(value, str):
        raise InputError(f"group: expected text, got {type(value).__name__}")
    if len(value) > 1000:
        raise InputError("group: expected at most 1,000 characters")
    return _storable(value, "group")


def clamp(micros: int) -> int:
    """``micros`` held within a signed 64-bit column."""
    return INT64_MIN if micros < INT64_MIN else INT64_MAX if micros > INT64_MAX else micros


def digest(*parts: str) -> bytes:
    """A 16-byte BLAKE2b digest of text parts (NUL-separated: no part holds NUL)."""
    return hashlib.blake2b("\x00".join(parts).encode("utf-8"), digest_size=16).digest()


# --- reserve ---------------------------------------------------------------------------


class Kept(NamedTuple):
    """What :meth:`SetOps.sync` reads of a set for a reservation at ``now`` from ``since``.

    A member's *place* is ``(at, tie)``, its order in the set's ``at`` index: ``tie``
    breaks ties of instants (:meth:`SetOps.tie`). ``mark`` and ``mark_tie`` (a place),
    ``kept_since``, ``kept_live``, ``lo``: the set's row of ``omnimsg_sets`` (all None
    without one). ``kept_live`` members were taken after ``kept_since`` and lie at or
    before the mark; every member's ``expires - at`` is at least ``lo``, so the
    members expired at ``now`` are among those taken at or before ``now - lo``.

    The counts take every member, expired or not: ``expired`` (0 without a row), the
    members expired at ``now``; ``between``, those at or before the mark taken after
    the lower and at or before the higher of ``kept_since`` and ``since``; ``above``,
    those after the mark taken after ``since``. ``member_at``: the instant of the
    reservation's member, if it is in the set and not expired at ``now``.
    """

    mark: int | None
    mark_tie: Any
    kept_since: int | None
    kept_live: int | None
    lo: int | None
    expired: int
    member_at: int | None
    between: int
    above: int


class SetOps(Protocol):
    """The statements :func:`run_reserve` needs, run by a store inside its transaction."""

    def tie(self, member: str) -> Any:
        """What orders members taken at one instant in the ``at`` index."""
        ...

    def sync(self, key: str, member: str, now: int, since: int) -> Kept:
        """What the set holds (:class:`Kept`), in one statement."""
        ...

    def expire(self, key: str, now: int, kept: Kept, since: int) -> tuple[int, int, int]:
        """Delete the members expired at ``now`` (taken at or before ``now - kept.lo``).

        Returns how many of them :attr:`Kept.kept_live`, :attr:`Kept.between` and
        :attr:`Kept.above` counted.
        """
        ...

    def reset(self, key: str, now: int, since: int) -> tuple[int, int | None]:
        """Delete the members expired at ``now``; then count the set from scratch.

        Returns how many members were taken after ``since`` and the least
        ``expires - at`` (None: no member).
        """
        ...

    def count(self, key: str, after: int, upto: int | None) -> int:
        """How many members were taken after ``after`` (and at or before ``upto``)."""
        ...

    def member_at(self, key: str, member: str) -> int | None:
        """The instant ``member`` was taken, if it is in the set."""
        ...

    def last(self, key: str) -> tuple[int, Any] | None:
        """The place of the set's last member in the ``at`` index (None: empty)."""
        ...

    def take(self, writes: Sequence[tuple[str, str, int]], now: int) -> None:
        """Write ``(key, member, expires)`` members taken at ``now``.

        A new member is inserted; a stored one taken before ``now`` moves to ``now``,
        its expiry becoming the later of the two; one taken at or after ``now`` is left.
        """
        ...

    def save(self, rows: Sequence[tuple[str, int, Any, int, int, int]]) -> None:
        """Write ``(key, mark, mark_tie, since, live, lo)`` as each set's row."""
        ...


_LO_MAX = 2**62  # instants are within 2**58 of 1970: now - lo never overflows
_MICROSECOND = timedelta(microseconds=1)
_RANGE = 16
"""A set's row is written again once this many members lie outside its count."""


def run_reserve(ops: SetOps, wanted: Sequence[Reservation], now: int) -> int:
    """One call of ``reserve``, as :class:`~omnimsg.stores.memory.MemoryStore` decides it.

    Members expire at ``expires`` and are deleted by the first call on their set after
    that; members taken after ``now - window`` count against ``cap``, a member counted
    there already is granted again without counting; earlier reservations of the same
    call on the same set count as taken. Returns -1, or the index of the first refused.

    Counting. A set's row in ``omnimsg_sets`` holds ``live``, the number of its
    members taken after ``since`` that lie at or before a mark, a place in the ``at``
    index. A call counts the set as that number, less the members it expires and those
    between the row's ``since`` and its own window start, plus those after the mark:
    short ranges of the index. It writes the row again (the mark moving to the last
    member) only when that number stops being true (a member it counted expired or
    was taken again; a new member placed before the mark) or the ranges grow past
    :data:`_RANGE`: most calls granting a new member write the member alone. A set
    without a row is counted whole, once.

    A set always reserved with one ``keep`` finds its expired members at the start of
    the index; one given a shorter ``keep`` once looks through every member kept
    longer than that (slower, never wrong).
    """
    synced: dict[str, tuple[int, int, int]] = {}  # key: (since, live, lo) at now
    rows: dict[str, tuple[Kept, bool]] = {}  # key: its row as read, whether to write it
    taken: list[tuple[str, str, int | None, int]] = []
    for i, (key, member, cap, window, keep) in enumerate(wanted):
        since = INT64_MIN if window is None else max(now - window // _MICROSECOND, INT64_MIN)
        cached = synced.get(key)
        if cached is None:
            kept = ops.sync(key, member, now, since)
            member_at = kept.member_at
            if kept.mark is None or kept.kept_since is None or kept.kept_live is None:
                live, least = ops.reset(key, now, since)
                lo = _LO_MAX if least is None else max(1, min(least, _LO_MAX))
                rows[key] = (kept, True)
            else:
                lo = kept.lo or 1
                gone_live = gone_between = gone_above = 0
                if kept.expired:
                    gone_live, gone_between, gone_above = ops.expire(key, now, kept, since)
                between = kept.between - gone_between
                above = kept.above - gone_above
                live = kept.kept_live - gone_live
                live += between if since < kept.kept_since else -between
                live += above
                rows[key] = (kept, gone_live > 0 or between + above > _RANGE)
        else:  # a set seen before in this call: expired members deleted already
            before, live, lo = cached
            if since > before:
                live -= ops.count(key, before, since)
            elif since < before:
                live = ops.count(key, since, None)
            member_at = ops.member_at(key, member)
        synced[key] = (since, live, lo)
        if cap is not None and (member_at is None or member_at <= since):
            if taken:
                live += sum(1 for k, _, at, _ in taken if k == key and (at is None or at <= since))
            if live >= cap:
                _save(ops, synced, rows)
                return i
        taken.append((key, member, member_at, min(now + keep // _MICROSECOND, INT64_MAX)))
    writes: dict[tuple[str, str], int] = {}
    for key, member, member_at, expires in taken:
        if (key, member) in writes:
            continue
        writes[(key, member)] = expires
        since, live, lo = synced[key]
        if member_at is None or member_at <= since:
            live += 1
        kept, dirty = rows[key]
        if not dirty and _moves_count(kept, ops.tie(member), member_at, now, expires - now, lo):
            rows[key] = (kept, True)
        synced[key] = (since, live, max(1, min(lo, expires - now)))
    ops.take([(k, m, e) for (k, m), e in writes.items()], now)
    _save(ops, synced, rows)
    return -1


def _moves_count(kept: Kept, tie: Any, member_at: int | None, now: int, keep: int, lo: int) -> bool:
    """Whether writing a member at ``now`` makes the set's row untrue.

    It does if the member's new place is at or before the mark, if it was counted
    there (taken after the row's ``since``, at or before the mark) and moves, or if
    its ``keep`` is below the row's ``lo``.
    """
    mark, kept_since = kept.mark, kept.kept_since
    if mark is None or kept_since is None or keep < lo:
        return True
    if (now, tie) <= (mark, kept.mark_tie):
        return True
    return (
        member_at is not None
        and kept_since < member_at
        and (member_at, tie)
        <= (
            mark,
            kept.mark_tie,
        )
    )


def _save(
    ops: SetOps, synced: dict[str, tuple[int, int, int]], rows: dict[str, tuple[Kept, bool]]
) -> None:
    """Write the rows of the sets whose kept count stopped being true.

    The mark moves to the set's last member, so the row counts every member taken
    after its ``since``: the live count itself, with nothing to count again.
    """
    out = []
    for key, (since, live, lo) in synced.items():
        if rows[key][1]:
            mark, tie = ops.last(key) or (INT64_MIN, None)
            out.append((key, mark, tie, since, live, lo))
    if out:
        ops.save(out)
