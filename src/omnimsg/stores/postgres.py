"""A :class:`~omnimsg.protocols.DeliveryStore` on a PostgreSQL server (extra ``postgres``).

Many workers on many machines share one database through :class:`PostgresStore`,
with psycopg 3. A record's compare-and-set is one statement (``INSERT ... ON
CONFLICT DO NOTHING``, or ``UPDATE ... WHERE version = expected``). A call of
:meth:`PostgresStore.reserve` is one transaction that first takes a transaction-level
advisory lock per set it names (``pg_advisory_xact_lock``, in a fixed order, so two
calls never wait on each other in a circle): calls on the same set run one after the
other, calls on different sets at once, and no cap is ever passed.

The tables (:mod:`omnimsg.stores._sqlschema`) are created in the first schema of the
connection's ``search_path`` (give ``options=-csearch_path=...`` in the DSN to choose
it); they are keyed by digests of kinds, keys and members, so any key omnimsg takes
fits PostgreSQL's index entries. Text may not contain NUL, which PostgreSQL cannot
store (:class:`~omnimsg.errors.InputError`, as from the SQLite store).

Failures: a server that cannot be reached (refused, down, timed out, the connection
dropped, a deadlock or lock timeout) raises
:class:`~omnimsg.errors.StoreUnavailableError` naming ``host:port/database`` (never
the password); any other refusal :class:`~omnimsg.errors.StoreError`; a schema of a
newer omnimsg :class:`~omnimsg.errors.SchemaVersionError`. The psycopg exception is
chained. A dropped connection is opened again by the next call; as
:class:`~omnimsg.errors.StoreUnavailableError` says, a write that raised may have been
applied.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import suppress
from datetime import datetime
from types import TracebackType
from typing import Any

from omnimsg._convert import to_instant
from omnimsg.delivery.records import Reservation, check_reservations, from_micros, to_micros
from omnimsg.errors import CorruptRecordError, InputError, StoreError, StoreUnavailableError
from omnimsg.stores import _sqlschema
from omnimsg.stores._records import RecordStateMixin, check_key, check_tenant, check_version
from omnimsg.stores._sqlschema import (
    INT64_MAX,
    SCHEMA_VERSION,
    Kept,
    check_body,
    check_group,
    check_names,
    digest,
    parse_version,
    run_reserve,
)

try:
    import psycopg
    from psycopg import conninfo
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "omnimsg.stores.postgres needs psycopg 3: pip install 'omnimsg[postgres]'"
    ) from exc

__all__ = ["SCHEMA_VERSION", "PostgresStore"]

_PAGE = 500
_MIGRATION_LOCK = 0x6F6D6E696D736701  # "omnimsg" and 1: one migration at a time

_GET = "SELECT version, body FROM omnimsg_records WHERE tenant = %s AND kh = %s"
_INSERT = (
    "INSERT INTO omnimsg_records (tenant, kh, gh, kind, key, version, grp, body)"
    " VALUES (%s, %s, %s, %s, %s, 1, %s, %s) ON CONFLICT (tenant, kh) DO NOTHING"
)
_UPDATE = (
    "UPDATE omnimsg_records SET version = %s, gh = %s, grp = %s, body = %s"
    " WHERE tenant = %s AND kh = %s AND version = %s"
)
# The index holds the first 400 characters of a key: read in their order, then the
# whole key's within equal prefixes.
_SCAN = (
    "SELECT key, version, body FROM omnimsg_records"
    " WHERE tenant = %(tenant)s AND gh = %(gh)s AND kind = %(kind)s AND grp = %(grp)s"
    " AND left(key, 400) >= left(%(after)s, 400) AND key > %(after)s"
    " ORDER BY left(key, 400), key LIMIT %(page)s"
)
_LOCK = "SELECT pg_advisory_xact_lock(x) FROM unnest(%s::bigint[]) AS x"
_SYNC = (
    "SELECT s.mark_at, s.mark_mk, s.since, s.live, s.lo,"
    " (SELECT count(*) FROM omnimsg_reservations WHERE tenant = %(t)s AND sk = %(sk)s"
    "  AND at <= %(now)s - s.lo AND expires <= %(now)s),"
    " (SELECT at FROM omnimsg_reservations"
    "  WHERE tenant = %(t)s AND mk = %(mk)s AND sk = %(sk)s AND expires > %(now)s),"
    " CASE WHEN s.since = %(since)s THEN 0 ELSE"
    " (SELECT count(*) FROM omnimsg_reservations WHERE tenant = %(t)s AND sk = %(sk)s"
    "  AND at > LEAST(s.since, %(since)s) AND at <= GREATEST(s.since, %(since)s)"
    "  AND (at, mk) <= (s.mark_at, s.mark_mk)) END,"
    " (SELECT count(*) FROM omnimsg_reservations WHERE tenant = %(t)s AND sk = %(sk)s"
    "  AND (at, mk) > (GREATEST(s.mark_at, %(since)s),"
    "  CASE WHEN s.mark_at > %(since)s THEN s.mark_mk ELSE NULL END))"
    " FROM omnimsg_sets AS s WHERE s.tenant = %(t)s AND s.sk = %(sk)s"
)
_MEMBER_AT = "SELECT at FROM omnimsg_reservations WHERE tenant = %s AND sk = %s AND mk = %s"
_MEMBER_AT_LIVE = _MEMBER_AT + " AND expires > %s"
_LAST = (
    "SELECT at, mk FROM omnimsg_reservations WHERE tenant = %s AND sk = %s"
    " ORDER BY at DESC, mk DESC LIMIT 1"
)
_EXPIRE = (
    "WITH gone AS (DELETE FROM omnimsg_reservations WHERE tenant = %(t)s AND sk = %(sk)s"
    " AND at <= %(now)s - %(lo)s AND expires <= %(now)s RETURNING at, mk)"
    " SELECT count(*) FILTER (WHERE at > %(kept)s AND (at, mk) <= (%(mark)s, %(tie)s)),"
    " count(*) FILTER (WHERE at > LEAST(%(kept)s, %(since)s)"
    "  AND at <= GREATEST(%(kept)s, %(since)s) AND (at, mk) <= (%(mark)s, %(tie)s)),"
    " count(*) FILTER (WHERE (at, mk) > (%(mark)s, %(tie)s) AND at > %(since)s) FROM gone"
)
_RESET_PURGE = "DELETE FROM omnimsg_reservations WHERE tenant = %s AND sk = %s AND expires <= %s"
_RESET_COUNT = (
    "SELECT count(*) FILTER (WHERE at > %s), min(expires - at)"
    " FROM omnimsg_reservations WHERE tenant = %s AND sk = %s"
)
_COUNT = "SELECT count(*) FROM omnimsg_reservations WHERE tenant = %s AND sk = %s AND at > %s"
_COUNT_UPTO = _COUNT + " AND at <= %s"
_TAKE = (
    "INSERT INTO omnimsg_reservations AS r (tenant, sk, mk, set_key, member, at, expires)"
    " SELECT %s, sk, mk, k, m, %s, e"
    " FROM unnest(%s::bytea[], %s::bytea[], %s::text[], %s::text[], %s::bigint[])"
    " AS u(sk, mk, k, m, e)"
    " ON CONFLICT (tenant, mk, sk) DO UPDATE SET at = EXCLUDED.at,"
    " expires = GREATEST(r.expires, EXCLUDED.expires) WHERE r.at < EXCLUDED.at"
)
_SAVE = (
    "INSERT INTO omnimsg_sets AS s (tenant, sk, set_key, mark_at, mark_mk, since, live, lo)"
    " SELECT %s, sk, k, mark_at, mark_mk, since, live, lo FROM unnest(%s::bytea[], %s::text[],"
    " %s::bigint[], %s::bytea[], %s::bigint[], %s::bigint[], %s::bigint[])"
    " AS u(sk, k, mark_at, mark_mk, since, live, lo)"
    " ON CONFLICT (tenant, sk) DO UPDATE SET mark_at = EXCLUDED.mark_at,"
    " mark_mk = EXCLUDED.mark_mk, since = EXCLUDED.since, live = EXCLUDED.live, lo = EXCLUDED.lo"
)
_MEMBERS = (
    "SELECT member, at FROM omnimsg_reservations"
    " WHERE tenant = %s AND sk = %s AND at > %s ORDER BY at, member"
)
_HAS_META = "SELECT to_regclass('omnimsg_meta') IS NOT NULL"
_GET_VERSION = "SELECT value FROM omnimsg_meta WHERE name = 'schema_version'"
_SET_VERSION = (
    "INSERT INTO omnimsg_meta (name, value) VALUES ('schema_version', %s)"
    " ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value"
)


def _first_line(exc: BaseException, secret: str | None) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    text = " ".join(line.strip() for line in lines[:2]) if lines else type(exc).__name__
    if secret:
        text = text.replace(secret, "***")
    return text if len(text) <= 300 else text[:299] + "…"


def _short(value: str) -> str:
    shown = "".join(c if c.isprintable() else "?" for c in value[:100])
    return shown if len(value) <= 100 else shown[:99] + "…"


def _lock_id(tenant: str, key: str) -> int:
    data = f"{tenant}\x00{key}".encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True)


def _check_dsn(dsn: object) -> tuple[str, dict[str, Any]]:
    if not isinstance(dsn, str):
        raise InputError(f"dsn: expected a connection string, got {type(dsn).__name__}")
    if "\x00" in dsn or len(dsn) > 10_000:
        raise InputError("dsn: expected a connection string without NUL, of at most 10,000 chars")
    try:
        dsn.encode("utf-8")
        params = conninfo.conninfo_to_dict(dsn)
    except (UnicodeEncodeError, psycopg.Error):
        # Its text is not repeated: a connection string may hold a password.
        raise InputError("dsn: not a valid PostgreSQL connection string") from None
    return dsn, params


class PostgresStore(RecordStateMixin):
    """A :class:`~omnimsg.protocols.DeliveryStore` in the PostgreSQL database of ``dsn``.

    Args:
        dsn: a libpq connection string or ``postgresql://`` URL (its password is never
            shown in an error).
        tenant: the namespace read and written (stores of other tenants on the same
            database see nothing of it).
        connect_timeout: seconds to wait for the server when connecting (whole
            seconds, at least 2, as libpq counts them).

    The connection is opened at first use, not here, with the tables created or
    migrated to :data:`SCHEMA_VERSION`; it runs in autocommit, each write being one
    statement or one explicit transaction. One connection per store object, shared
    by its threads under a lock; opened again by the call after it dropped, and in a
    child process after a fork (the parent's is left to the parent). Usable as a
    context manager that closes it.
    """

    def __init__(self, dsn: str, *, tenant: str = "default", connect_timeout: float = 5) -> None:
        self._tenant = check_tenant(tenant)
        self._dsn, params = _check_dsn(dsn)
        if (
            not isinstance(connect_timeout, int | float)
            or isinstance(connect_timeout, bool)
            or not math.isfinite(connect_timeout)
            or connect_timeout <= 0
        ):
            raise InputError("connect_timeout: expected a positive number of seconds")
        self._timeout = max(2, math.ceil(connect_timeout))
        self._secret = params.get("password") or None
        host = _short(str(params.get("host") or params.get("hostaddr") or "localhost"))
        port = _short(str(params.get("port") or 5432))
        database = _short(str(params.get("dbname") or params.get("user") or "postgres"))
        self._where = f"PostgreSQL {host}:{port}/{database}"
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._pid = os.getpid()
        self._closed = False

    @property
    def tenant(self) -> str:
        """The namespace this store reads and writes."""
        return self._tenant

    # --- the connection -----------------------------------------------------------------

    def _failure(
        self, what: str, exc: psycopg.Error, conn: psycopg.Connection[Any] | None
    ) -> StoreError:
        text = _first_line(exc, self._secret)
        if isinstance(exc, psycopg.OperationalError) or conn is None or conn.broken:
            return StoreUnavailableError(f"{what}: {self._where} is unavailable: {text}")
        return StoreError(f"{what}: {self._where} refused it: {text}")

    def _open(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(self._dsn, connect_timeout=self._timeout, autocommit=True)
        except psycopg.Error as exc:
            raise StoreUnavailableError(
                f"{self._where} cannot be reached: {_first_line(exc, self._secret)}"
            ) from exc
        try:
            self._migrate(conn)
            # reserve counts short ranges of the at index whose bounds come from the
            # set's own row: unknown when the plan is made, they would look like a
            # third of the table and be read by a sequential scan, every member each call.
            conn.execute("SET enable_seqscan = off")
        except BaseException as exc:
            with suppress(psycopg.Error):
                conn.close()
            if isinstance(exc, psycopg.Error):
                raise self._failure("open", exc, None) from exc
            raise
        return conn

    def _version(self, conn: psycopg.Connection[Any]) -> int:
        found = conn.execute(_HAS_META).fetchone()
        if not found or not found[0]:
            return 0
        row = conn.execute(_GET_VERSION).fetchone()
        return 0 if row is None else parse_version(self._where, row[0])

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        current = len(_sqlschema.MIGRATIONS)
        found = self._version(conn)
        if found == current:
            return
        _sqlschema.pending_migrations(self._where, found, "postgres")  # newer: raises
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            found = self._version(conn)  # again, now that no one else migrates
            for statements in _sqlschema.pending_migrations(self._where, found, "postgres"):
                for statement in statements:
                    conn.execute(statement)
            conn.execute(_SET_VERSION, (str(current),))

    def _after_fork(self) -> None:
        conn = self._conn
        self._conn = None
        self._lock = threading.Lock()
        self._pid = os.getpid()
        if conn is not None and not conn.closed:
            # The socket is the parent's: point this process's descriptor at
            # /dev/null, so closing here sends nothing on the parent's session.
            with suppress(OSError, psycopg.Error):
                fd = conn.fileno()
                null = os.open(os.devnull, os.O_RDWR)
                try:
                    os.dup2(null, fd)
                finally:
                    os.close(null)
                conn.close()

    def _using(self, what: str) -> _Session:
        """``with`` it: the connection, under the lock; psycopg errors become StoreError."""
        return _Session(self, what)

    def close(self) -> None:
        """Close the connection (a closed store raises :class:`StoreError` when used)."""
        if self._pid != os.getpid():
            self._after_fork()
        with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
            if conn is not None:
                with suppress(psycopg.Error):
                    conn.close()

    # --- records ------------------------------------------------------------------------

    def get_record(self, kind: str, key: str, /) -> tuple[int, str] | None:
        """``(version, text)`` of a record, or ``None``."""
        kh = digest(check_key(kind, "kind"), check_key(key, "key"))
        with self._using("get_record") as conn:
            row = conn.execute(_GET, (self._tenant, kh)).fetchone()
        return None if row is None else _record(kind, key, row[0], row[1])

    def put_record(
        self, kind: str, key: str, expected: int | None, text: str, /, group: str = ""
    ) -> bool:
        """Write ``text`` as version ``(expected or 0) + 1`` if the stored version is ``expected``.

        ``expected`` ``None`` writes only if there is no record. One statement, atomic
        across connections. Returns whether it wrote.
        """
        kind, key = check_key(kind, "kind"), check_key(key, "key")
        check_version(expected)
        body, grp = check_body(text), check_group(group)
        if expected is not None and expected >= INT64_MAX:
            raise InputError("expected: record versions stop below 2**63 - 1")
        kh, gh = digest(kind, key), digest(kind, grp)
        with self._using("put_record") as conn:
            if expected is None:
                cursor = conn.execute(_INSERT, (self._tenant, kh, gh, kind, key, grp, body))
            else:
                cursor = conn.execute(
                    _UPDATE, (expected + 1, gh, grp, body, self._tenant, kh, expected)
                )
            return cursor.rowcount == 1

    def scan_records(self, kind: str, group: str, /) -> Iterator[tuple[str, int, str]]:
        """``(key, version, text)`` of every record of ``kind`` in ``group``, by key.

        Read in pages of 500 keys, each under the lock for its own read only: the
        caller may write records while it iterates.
        """
        kind, group = check_key(kind, "kind"), check_group(group)
        return self._pages(kind, group)

    def _pages(self, kind: str, group: str) -> Iterator[tuple[str, int, str]]:
        names = {
            "tenant": self._tenant,
            "gh": digest(kind, group),
            "kind": kind,
            "grp": group,
            "after": "",
            "page": _PAGE,
        }
        while True:
            with self._using("scan_records") as conn:
                rows = conn.execute(_SCAN, names).fetchall()
            for key, version, body in rows:
                yield key, *_record(kind, key, version, body)
            if len(rows) < _PAGE:
                return
            names["after"] = rows[-1][0]

    # --- reservations -------------------------------------------------------------------

    def reserve(self, reservations: Sequence[Reservation], at: datetime, /) -> int:
        """Take every reservation at ``at`` or none: ``-1``, or the index of the first refused.

        One transaction holding the advisory lock of each set it names: the semantics
        of :meth:`omnimsg.stores.memory.MemoryStore.reserve`, atomic across connections.
        """
        wanted = check_reservations(reservations)
        check_names(wanted)
        now = to_micros(to_instant(at, "at"))
        tenant = self._tenant
        locks = sorted({_lock_id(tenant, key) for key, *_ in wanted})
        with self._using("reserve") as conn, conn.pipeline(), conn.transaction():
            # Pipelined: BEGIN and the locks go with the first read, the writes with
            # COMMIT, so a call costs two round trips to the server, not six.
            conn.execute(_LOCK, (locks,))
            return run_reserve(_SetOps(conn, tenant), wanted, now)

    def members(self, key: str, since: datetime, /) -> list[tuple[str, datetime]]:
        """The members of set ``key`` taken after ``since``, with their instants, oldest first."""
        sk = digest(check_key(key, "key"))
        after = to_micros(to_instant(since, "since"))
        with self._using("members") as conn:
            rows = conn.execute(_MEMBERS, (self._tenant, sk, after)).fetchall()
        try:
            return [(member, from_micros(at)) for member, at in rows]
        except OverflowError:
            raise StoreError(f"members: {self._where} holds a corrupt member of the set") from None


class _Session:
    """One use of a store's connection: the lock held, a dropped connection replaced
    at the next use, a psycopg error raised as :class:`StoreError`."""

    __slots__ = ("_conn", "_lock", "_store", "_what")

    def __init__(self, store: PostgresStore, what: str) -> None:
        self._store = store
        self._what = what
        self._conn: psycopg.Connection[Any] | None = None

    def __enter__(self) -> psycopg.Connection[Any]:
        store = self._store
        if store._pid != os.getpid():
            store._after_fork()
        lock = self._lock = store._lock
        lock.acquire()
        try:
            if store._closed:
                raise StoreError(f"{self._what}: this store of {store._where} is closed")
            conn = store._conn
            if conn is not None and (conn.closed or conn.broken):
                store._conn = None
                with suppress(psycopg.Error):
                    conn.close()
                conn = None
            if conn is None:
                conn = store._conn = store._open()
        except BaseException:
            lock.release()
            raise
        self._conn = conn
        return conn

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if isinstance(exc, psycopg.Error):
                raise self._store._failure(self._what, exc, self._conn) from exc
        finally:
            self._lock.release()


class _SetOps:
    """The statements of :func:`~omnimsg.stores._sqlschema.run_reserve`, in PostgreSQL."""

    __slots__ = ("_digests", "_execute", "_tenant")

    def __init__(self, conn: psycopg.Connection[Any], tenant: str) -> None:
        self._execute = conn.execute
        self._tenant = tenant
        self._digests: dict[str, bytes] = {}

    def _digest(self, text: str) -> bytes:
        found = self._digests.get(text)
        if found is None:
            found = self._digests[text] = digest(text)
        return found

    def sync(self, key: str, member: str, now: int, since: int) -> Kept:
        sk, mk = self._digest(key), self._digest(member)
        names = {"t": self._tenant, "sk": sk, "mk": mk, "now": now, "since": since}
        row = self._execute(_SYNC, names).fetchone()
        if row is None:  # no row for the set: only its member is needed
            found = self._execute(_MEMBER_AT_LIVE, (self._tenant, sk, mk, now)).fetchone()
            return Kept(None, None, None, None, None, 0, None if found is None else found[0], 0, 0)
        return Kept._make(row)

    def tie(self, member: str) -> Any:
        return self._digest(member)

    def expire(self, key: str, now: int, kept: Kept, since: int) -> tuple[int, int, int]:
        names = {
            "t": self._tenant,
            "sk": self._digest(key),
            "now": now,
            "lo": kept.lo,
            "kept": kept.kept_since,
            "mark": kept.mark,
            "tie": kept.mark_tie,
            "since": since,
        }
        found = self._execute(_EXPIRE, names).fetchone()
        return (found[0], found[1], found[2]) if found else (0, 0, 0)

    def reset(self, key: str, now: int, since: int) -> tuple[int, int | None]:
        sk = self._digest(key)
        self._execute(_RESET_PURGE, (self._tenant, sk, now))
        found = self._execute(_RESET_COUNT, (since, self._tenant, sk)).fetchone()
        return (found[0], found[1]) if found else (0, None)

    def count(self, key: str, after: int, upto: int | None) -> int:
        sk = self._digest(key)
        if upto is None:
            found = self._execute(_COUNT, (self._tenant, sk, after)).fetchone()
        else:
            found = self._execute(_COUNT_UPTO, (self._tenant, sk, after, upto)).fetchone()
        return int(found[0]) if found else 0

    def member_at(self, key: str, member: str) -> int | None:
        args = (self._tenant, self._digest(key), self._digest(member))
        found = self._execute(_MEMBER_AT, args).fetchone()
        return None if found is None else int(found[0])

    def take(self, writes: Sequence[tuple[str, str, int]], now: int) -> None:
        if writes:
            keys, members, expiries = zip(*writes, strict=True)
            self._execute(
                _TAKE,
                (
                    self._tenant,
                    now,
                    [self._digest(k) for k in keys],
                    [self._digest(m) for m in members],
                    list(keys),
                    list(members),
                    list(expiries),
                ),
            )

    def last(self, key: str) -> tuple[int, Any] | None:
        found = self._execute(_LAST, (self._tenant, self._digest(key))).fetchone()
        return None if found is None else (found[0], found[1])

    def save(self, rows: Sequence[tuple[str, int, Any, int, int, int]]) -> None:
        keys, marks, ties, sinces, lives, los = zip(*rows, strict=True)
        self._execute(
            _SAVE,
            (
                self._tenant,
                [self._digest(k) for k in keys],
                list(keys),
                list(marks),
                list(ties),
                list(sinces),
                list(lives),
                list(los),
            ),
        )


def _record(kind: str, key: str, version: Any, body: Any) -> tuple[int, str]:
    if not isinstance(version, int) or version < 1:
        raise CorruptRecordError(kind, key, "version: expected a positive number")
    return version, body
