"""A :class:`~omnimsg.protocols.DeliveryStore` in a SQLite file: the embedded default.

Only the standard library's :mod:`sqlite3` is used. The file is shared safely by
every process of one machine (not over a network file system): it runs in WAL mode
with ``synchronous=NORMAL`` (a committed write survives the process crashing; a
power cut may lose the last ones), and a writer waits up to ``timeout`` seconds for
another. Each write is one transaction: a record's compare-and-set is a single
statement (which takes the write lock as it starts, as ``BEGIN IMMEDIATE`` does),
and a call of :meth:`SqliteStore.reserve` runs in ``BEGIN IMMEDIATE``, so however
many processes reserve at once, none passes a cap. The tables
(:mod:`omnimsg.stores._sqlschema`) are prefixed ``omnimsg_`` and may share a file
with an application's own.

Failures: a file that cannot be opened, locked for longer than ``timeout`` or
written (a missing directory, a directory given as the file, a full disk) raises
:class:`~omnimsg.errors.StoreUnavailableError` naming the path; a file that is not
a database, or any other refusal, :class:`~omnimsg.errors.StoreError`; a schema of
a newer omnimsg, :class:`~omnimsg.errors.SchemaVersionError`. The
:mod:`sqlite3` exception is chained.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
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
    parse_version,
    run_reserve,
)

__all__ = ["SCHEMA_VERSION", "SqliteStore"]

_PAGE = 500

# SQLite's primary result codes meaning "not now": BUSY, LOCKED (another writer past
# the timeout), PERM, READONLY, IOERR, FULL, CANTOPEN.
_UNAVAILABLE = frozenset({3, 5, 6, 8, 10, 13, 14})
_BUSY = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED
_NOTADB = 26

# Connections of a parent process, found in a child after a fork: never used nor
# closed there (SQLite forbids carrying a connection across fork), only kept.
_ABANDONED: list[sqlite3.Connection] = []

_GET = "SELECT version, body FROM omnimsg_records WHERE tenant = ? AND kind = ? AND key = ?"
_INSERT = (
    "INSERT INTO omnimsg_records (tenant, kind, key, version, grp, body)"
    " VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT (tenant, kind, key) DO NOTHING"
)
_UPDATE = (
    "UPDATE omnimsg_records SET version = ?, grp = ?, body = ?"
    " WHERE tenant = ? AND kind = ? AND key = ? AND version = ?"
)
_SCAN = (
    "SELECT key, version, body FROM omnimsg_records"
    " WHERE tenant = ? AND kind = ? AND grp = ? AND key > ? ORDER BY key LIMIT ?"
)
# ?1 tenant, ?2 set, ?3 member, ?4 now, ?5 the window's start (SetOps.sync, Kept):
# the set's row (none: no row), ranges of the at index, the member by its key. The
# index holds (at, member) in order (the key's columns follow the indexed one).
_SYNC = (
    "SELECT s.mark_at, s.mark_member, s.since, s.live, s.lo,"
    " (SELECT count(*) FROM omnimsg_reservations WHERE tenant = ?1 AND set_key = ?2"
    "  AND at <= ?4 - s.lo AND expires <= ?4),"
    " (SELECT at FROM omnimsg_reservations"
    "  WHERE tenant = ?1 AND set_key = ?2 AND member = ?3 AND expires > ?4),"
    " CASE WHEN s.since = ?5 THEN 0 ELSE"
    " (SELECT count(*) FROM omnimsg_reservations WHERE tenant = ?1 AND set_key = ?2"
    "  AND at > min(s.since, ?5) AND at <= max(s.since, ?5)"
    "  AND (at, member) <= (s.mark_at, s.mark_member)) END,"
    " (SELECT count(*) FROM omnimsg_reservations WHERE tenant = ?1 AND set_key = ?2"
    "  AND (at, member) > (CASE WHEN s.mark_at > ?5 THEN s.mark_at ELSE ?5 END,"
    "  CASE WHEN s.mark_at > ?5 THEN s.mark_member END))"
    " FROM omnimsg_sets AS s WHERE s.tenant = ?1 AND s.set_key = ?2"
)
_EXPIRED = (
    " FROM omnimsg_reservations WHERE tenant = :tenant AND set_key = :key"
    " AND at <= :now - :lo AND expires <= :now"
)
_EXPIRED_COUNTS = (
    "SELECT sum(at > :kept AND (at, member) <= (:mark, :tie)),"
    " sum(at > min(:kept, :since) AND at <= max(:kept, :since)"
    "  AND (at, member) <= (:mark, :tie)),"
    " sum((at, member) > (:mark, :tie) AND at > :since)" + _EXPIRED
)
_EXPIRE = "DELETE" + _EXPIRED
_RESET_PURGE = "DELETE FROM omnimsg_reservations WHERE tenant = ? AND set_key = ? AND expires <= ?"
_RESET_COUNT = (
    "SELECT sum(at > ?), min(expires - at) FROM omnimsg_reservations"
    " WHERE tenant = ? AND set_key = ?"
)
_COUNT = "SELECT count(*) FROM omnimsg_reservations WHERE tenant = ? AND set_key = ? AND at > ?"
_COUNT_UPTO = _COUNT + " AND at <= ?"
_MEMBER_AT = "SELECT at FROM omnimsg_reservations WHERE tenant = ? AND set_key = ? AND member = ?"
_MEMBER_AT_LIVE = _MEMBER_AT + " AND expires > ?"
_LAST = (
    "SELECT at, member FROM omnimsg_reservations WHERE tenant = ? AND set_key = ?"
    " ORDER BY at DESC, member DESC LIMIT 1"
)
_TAKE = (
    "INSERT INTO omnimsg_reservations (tenant, set_key, member, at, expires)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, set_key, member) DO UPDATE"
    " SET at = excluded.at, expires = max(expires, excluded.expires) WHERE at < excluded.at"
)
_SAVE = (
    "INSERT OR REPLACE INTO omnimsg_sets"
    " (tenant, set_key, mark_at, mark_member, since, live, lo) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_MEMBERS = (
    "SELECT member, at FROM omnimsg_reservations"
    " WHERE tenant = ? AND set_key = ? AND at > ? ORDER BY at, member"
)
_HAS_META = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'omnimsg_meta'"
_GET_VERSION = "SELECT value FROM omnimsg_meta WHERE name = 'schema_version'"
_SET_VERSION = "INSERT OR REPLACE INTO omnimsg_meta (name, value) VALUES ('schema_version', ?)"


def _text(raw: bytes) -> str | bytes:
    """A TEXT value as str, or its bytes if another program stored invalid UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def _first_line(exc: BaseException) -> str:
    lines = str(exc).splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 300 else text[:299] + "…"


def _check_path(path: object) -> str:
    if isinstance(path, os.PathLike):
        try:
            path = os.fspath(path)
        except TypeError:
            raise InputError("path: its __fspath__ did not return a path") from None
    if not isinstance(path, str):
        raise InputError(f"path: expected a str or os.PathLike, got {type(path).__name__}")
    if path in ("", ":memory:") or path.startswith("file:"):
        raise InputError(
            "path: expected the path of a file (for a store in memory, use MemoryStore)"
        )
    if "\x00" in path:
        raise InputError("path: NUL characters are not allowed")
    try:
        os.fsencode(path)
    except UnicodeEncodeError:
        raise InputError("path: not valid Unicode text (a lone surrogate)") from None
    try:
        return os.path.abspath(path)
    except OSError as exc:  # the working directory is gone
        raise StoreUnavailableError(f"SQLite file: cannot resolve the path: {exc}") from exc


class SqliteStore(RecordStateMixin):
    """A :class:`~omnimsg.protocols.DeliveryStore` in the SQLite file at ``path``.

    Args:
        path: the database file (str or :class:`os.PathLike`), created if absent; its
            directory must exist. A relative path is resolved now. ``":memory:"``,
            ``""`` and ``file:`` URIs are refused: a store in memory is
            :class:`~omnimsg.stores.memory.MemoryStore`.
        tenant: the namespace read and written (stores of other tenants on the same
            file see nothing of it).
        timeout: seconds a write waits for another process's before
            :class:`~omnimsg.errors.StoreUnavailableError`.

    The file is opened at first use, not here (so the first call is the one that
    raises if it cannot be), with its tables created or migrated to
    :data:`SCHEMA_VERSION`. One connection per store object, shared by its threads
    under a lock, opened again in a child process after a fork. Record text may not
    contain NUL (refused with :class:`~omnimsg.errors.InputError`, as by the
    PostgreSQL store). A body another program stored as something else than UTF-8
    text is handed back as stored (bytes, or a number as SQLite gives it), for
    :mod:`omnimsg.delivery.records` to refuse as a corrupt record.
    Usable as a context manager that closes it.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, tenant: str = "default", timeout: float = 30.0
    ) -> None:
        self._tenant = check_tenant(tenant)
        self._path = _check_path(path)
        if (
            not isinstance(timeout, int | float)
            or isinstance(timeout, bool)
            or not math.isfinite(timeout)
            or timeout < 0
        ):
            raise InputError("timeout: expected a number of seconds, 0 or more")
        self._timeout = float(timeout)
        shown = self._path if len(self._path) <= 200 else self._path[:199] + "…"
        self._where = f"SQLite file {shown!r}"
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._closed = False

    @property
    def tenant(self) -> str:
        """The namespace this store reads and writes."""
        return self._tenant

    # --- the connection -----------------------------------------------------------------

    def _failure(self, what: str, exc: sqlite3.Error) -> StoreError:
        code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF in _UNAVAILABLE:
            return StoreUnavailableError(
                f"{what}: {self._where} is unavailable: {_first_line(exc)}"
            )
        if isinstance(code, int) and code & 0xFF == _NOTADB:
            return StoreError(f"{what}: {self._where} is not a SQLite database")
        return StoreError(f"{what}: {self._where} refused it: {_first_line(exc)}")

    def _open(self) -> sqlite3.Connection:
        if sqlite3.sqlite_version_info < (3, 24, 0):
            raise StoreError(f"{self._where}: needs SQLite 3.24 or later")
        try:
            conn = sqlite3.connect(
                os.fsencode(self._path),
                timeout=self._timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            code = getattr(exc, "sqlite_errorcode", None)
            if code is None or code & 0xFF != _NOTADB:
                raise StoreUnavailableError(
                    f"{self._where} cannot be opened: {_first_line(exc)}"
                ) from exc
            raise self._failure("open", exc) from exc
        try:
            conn.text_factory = _text
            self._prepare(conn)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, sqlite3.Error):
                raise self._failure("open", exc) from exc
            raise
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """WAL, synchronous=NORMAL and the schema, retried while another process or
        thread holds the file: switching a new file to WAL can fail at once with
        "database is locked" instead of waiting (SQLite skips the busy handler there)."""
        deadline = time.monotonic() + self._timeout
        pause = 0.005
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
                if mode is None or str(mode[0]).lower() != "wal":
                    raise StoreError(f"{self._where}: cannot use the WAL journal")
                conn.execute("PRAGMA synchronous = NORMAL")
                self._migrate(conn)
                return
            except sqlite3.OperationalError as exc:
                code = getattr(exc, "sqlite_errorcode", None)
                busy = isinstance(code, int) and code & 0xFF in _BUSY
                if not busy or time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.2)

    def _version(self, conn: sqlite3.Connection) -> int:
        if not conn.execute(_HAS_META).fetchone()[0]:
            return 0
        row = conn.execute(_GET_VERSION).fetchone()
        return 0 if row is None else parse_version(self._where, row[0])

    def _migrate(self, conn: sqlite3.Connection) -> None:
        current = len(_sqlschema.MIGRATIONS)
        found = self._version(conn)
        if found == current:
            return
        _sqlschema.pending_migrations(self._where, found, "sqlite")  # newer: raises
        conn.execute("BEGIN IMMEDIATE")
        try:
            found = self._version(conn)  # again, now that no one else can write
            for statements in _sqlschema.pending_migrations(self._where, found, "sqlite"):
                for statement in statements:
                    conn.execute(statement)
            conn.execute(_SET_VERSION, (str(current),))
            conn.execute("COMMIT")
        except BaseException:
            with suppress(sqlite3.Error):
                conn.rollback()
            raise

    def _after_fork(self) -> None:
        if self._conn is not None:
            _ABANDONED.append(self._conn)
        self._conn = None
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def _using(self, what: str) -> _Session:
        """``with`` it: the connection, under the lock; sqlite3 errors become StoreError."""
        return _Session(self, what)

    def close(self) -> None:
        """Close the connection (a closed store raises :class:`StoreError` when used)."""
        if self._pid != os.getpid():
            self._after_fork()
        with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
            if conn is not None:
                with suppress(sqlite3.Error):
                    conn.close()

    # --- records ------------------------------------------------------------------------

    def get_record(self, kind: str, key: str, /) -> tuple[int, str] | None:
        """``(version, text)`` of a record, or ``None``."""
        name = (self._tenant, check_key(kind, "kind"), check_key(key, "key"))
        with self._using("get_record") as conn:
            row = conn.execute(_GET, name).fetchone()
        return None if row is None else _record(kind, key, row[0], row[1])

    def put_record(
        self, kind: str, key: str, expected: int | None, text: str, /, group: str = ""
    ) -> bool:
        """Write ``text`` as version ``(expected or 0) + 1`` if the stored version is ``expected``.

        ``expected`` ``None`` writes only if there is no record. One statement, atomic
        across processes. Returns whether it wrote.
        """
        tenant, kind, key = self._tenant, check_key(kind, "kind"), check_key(key, "key")
        check_version(expected)
        body, grp = check_body(text), check_group(group)
        if expected is not None and expected >= INT64_MAX:
            raise InputError("expected: record versions stop below 2**63 - 1")
        with self._using("put_record") as conn:
            if expected is None:
                cursor = conn.execute(_INSERT, (tenant, kind, key, grp, body))
            else:
                cursor = conn.execute(
                    _UPDATE, (expected + 1, grp, body, tenant, kind, key, expected)
                )
            return cursor.rowcount == 1

    def scan_records(self, kind: str, group: str, /) -> Iterator[tuple[str, int, str]]:
        """``(key, version, text)`` of every record of ``kind`` in ``group``, by key.

        Read in pages of 500 keys, each under the lock for its own read only: the
        caller may write records while it iterates.
        """
        return self._pages(check_key(kind, "kind"), check_group(group))

    def _pages(self, kind: str, group: str) -> Iterator[tuple[str, int, str]]:
        after = ""
        while True:
            with self._using("scan_records") as conn:
                rows = conn.execute(_SCAN, (self._tenant, kind, group, after, _PAGE)).fetchall()
            for key, version, body in rows:
                if not isinstance(key, str):
                    raise CorruptRecordError(kind, "?", "its key is not UTF-8 text")
                yield key, *_record(kind, key, version, body)
            if len(rows) < _PAGE:
                return
            after = rows[-1][0]

    # --- reservations -------------------------------------------------------------------

    def reserve(self, reservations: Sequence[Reservation], at: datetime, /) -> int:
        """Take every reservation at ``at`` or none: ``-1``, or the index of the first refused.

        One ``BEGIN IMMEDIATE`` transaction: the semantics of
        :meth:`omnimsg.stores.memory.MemoryStore.reserve`, atomic across processes.
        """
        wanted = check_reservations(reservations)
        check_names(wanted)
        now = to_micros(to_instant(at, "at"))
        tenant = self._tenant
        with self._using("reserve") as conn:
            conn.execute("BEGIN IMMEDIATE")
            refused = run_reserve(_SetOps(conn, tenant), wanted, now)
            conn.execute("COMMIT")
        return refused

    def members(self, key: str, since: datetime, /) -> list[tuple[str, datetime]]:
        """The members of set ``key`` taken after ``since``, with their instants, oldest first."""
        name = check_key(key, "key")
        after = to_micros(to_instant(since, "since"))
        with self._using("members") as conn:
            rows = conn.execute(_MEMBERS, (self._tenant, name, after)).fetchall()
        try:
            found = [(member, from_micros(at)) for member, at in rows]
        except (TypeError, OverflowError):
            found = []
        if len(found) < len(rows) or not all(isinstance(member, str) for member, _ in found):
            raise StoreError(f"members: {self._where} holds a corrupt member of the set")
        return found


class _Session:
    """One use of a store's connection: the lock held, a transaction left open rolled
    back, a sqlite3 error raised as :class:`StoreError` (a class, not a generator:
    it is entered on every call)."""

    __slots__ = ("_conn", "_lock", "_store", "_what")

    def __init__(self, store: SqliteStore, what: str) -> None:
        self._store = store
        self._what = what

    def __enter__(self) -> sqlite3.Connection:
        store = self._store
        if store._pid != os.getpid():
            store._after_fork()
        lock = self._lock = store._lock
        lock.acquire()
        try:
            if store._closed:
                raise StoreError(f"{self._what}: this store of {store._where} is closed")
            conn = store._conn
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
            if exc is not None:
                if self._conn.in_transaction:
                    with suppress(sqlite3.Error):
                        self._conn.rollback()
                if isinstance(exc, sqlite3.Error):
                    raise self._store._failure(self._what, exc) from exc
        finally:
            self._lock.release()


class _SetOps:
    """The statements of :func:`~omnimsg.stores._sqlschema.run_reserve`, in SQLite."""

    __slots__ = ("_execute", "_tenant")

    def __init__(self, conn: sqlite3.Connection, tenant: str) -> None:
        self._execute = conn.execute
        self._tenant = tenant

    def sync(self, key: str, member: str, now: int, since: int) -> Kept:
        row = self._execute(_SYNC, (self._tenant, key, member, now, since)).fetchone()
        if row is None:  # no row for the set: only its member is needed
            found = self._execute(_MEMBER_AT_LIVE, (self._tenant, key, member, now)).fetchone()
            return Kept(None, None, None, None, None, 0, None if found is None else found[0], 0, 0)
        return Kept._make(row)

    def tie(self, member: str) -> Any:
        return member

    def expire(self, key: str, now: int, kept: Kept, since: int) -> tuple[int, int, int]:
        names = {"tenant": self._tenant, "key": key, "now": now, "lo": kept.lo}
        found = self._execute(
            _EXPIRED_COUNTS,
            {
                **names,
                "kept": kept.kept_since,
                "mark": kept.mark,
                "tie": kept.mark_tie,
                "since": since,
            },
        ).fetchone()
        self._execute(_EXPIRE, names)
        return found[0] or 0, found[1] or 0, found[2] or 0

    def reset(self, key: str, now: int, since: int) -> tuple[int, int | None]:
        self._execute(_RESET_PURGE, (self._tenant, key, now))
        live, least = self._execute(_RESET_COUNT, (since, self._tenant, key)).fetchone()
        return live or 0, least

    def count(self, key: str, after: int, upto: int | None) -> int:
        if upto is None:
            return int(self._execute(_COUNT, (self._tenant, key, after)).fetchone()[0])
        return int(self._execute(_COUNT_UPTO, (self._tenant, key, after, upto)).fetchone()[0])

    def member_at(self, key: str, member: str) -> int | None:
        row = self._execute(_MEMBER_AT, (self._tenant, key, member)).fetchone()
        return None if row is None else int(row[0])

    def last(self, key: str) -> tuple[int, Any] | None:
        row = self._execute(_LAST, (self._tenant, key)).fetchone()
        return None if row is None else (row[0], row[1])

    def take(self, writes: Sequence[tuple[str, str, int]], now: int) -> None:
        for key, member, expires in writes:
            self._execute(_TAKE, (self._tenant, key, member, now, expires))

    def save(self, rows: Sequence[tuple[str, int, Any, int, int, int]]) -> None:
        for key, mark, tie, since, live, lo in rows:
            self._execute(_SAVE, (self._tenant, key, mark, tie, since, live, lo))


def _record(kind: str, key: str, version: Any, body: Any) -> tuple[int, str]:
    if not isinstance(version, int) or version < 1:
        raise CorruptRecordError(kind, key, "version: expected a positive number")
    if isinstance(body, bytes):  # a BLOB written by another program
        with suppress(UnicodeDecodeError):
            body = body.decode("utf-8")
    return version, body
