"""A :class:`~omnimsg.protocols.DeliveryStore` on a Redis server (extra ``redis``).

Many workers on many machines share one :class:`RedisStore`'s data: every write is
one Lua script, so a compare-and-set of a record and a whole list of reservations
are each atomic on the server, whatever other clients do at the same time.

Keys
----
Every key starts with ``{prefix}:{tenant}:``; neither may contain ``:`` (both are
ASCII letters, digits, ``-``, ``_`` and ``.``), so two tenants or two prefixes never
share a key. After it, one letter says what the key holds, and the part after that
runs to the end of the key, so a ``:`` inside a kind, key or group cannot make two
names meet:

=====================================  =============================================
key                                    what it holds
=====================================  =============================================
``{p}:{t}:schema_version``             :data:`SCHEMA_VERSION`, written on first use
``{p}:{t}:r:{kind}``                   a hash: record key -> ``version:n:group text``
                                       (``n`` the length in bytes of ``group``)
``{p}:{t}:g:{len(kind)}:{kind}:{grp}`` a sorted set of the record keys of a group,
                                       every score 0, read in byte order: by key
``{p}:{t}:s:{set}``                    a sorted set: member -> instant taken (score)
``{p}:{t}:x:{set}``                    a sorted set: member -> instant it expires
=====================================  =============================================

(``len(kind)`` counts the kind's UTF-8 bytes.) To remove a tenant, delete the keys
matching ``{prefix}:{tenant}:*``.

Instants
--------
Reservations keep instants as microseconds since 1970 in sorted-set scores, which
are doubles: exact up to 2**53 microseconds either side of 1970. :meth:`reserve`
therefore takes instants from 1684-07-28 to 2255-06-05 (:data:`FIRST_INSTANT`,
:data:`LAST_INSTANT`) and refuses others with :class:`~omnimsg.errors.InputError`;
an expiry past 2255 is kept as 2255. Set keys carry a time-to-live: a set lives at
least ``keep`` (server time) after the last reservation taken in it, the longest
``keep`` winning (and at most a tenth of it, an hour at most, longer), so a set
nobody uses any more disappears by itself.

Failures
--------
A server that cannot be reached (refused, timed out, loading its data after a
restart, a read-only replica) raises :class:`~omnimsg.errors.StoreUnavailableError`
naming ``host:port`` (never the password); any other refusal raises
:class:`~omnimsg.errors.StoreError`; the redis-py exception is chained. A store
made from a URL retries a command once at once on a broken connection (a server
restarted since the last call), so the same store object goes on working once the
server is back; scripts the server has forgotten are loaded again. Such a store
also keeps one connection of its own for :meth:`~RedisStore.reserve`, the hot path
of a dispatch, beside its pool (a thread finding it busy uses the pool). As
:class:`~omnimsg.errors.StoreUnavailableError` says, a write that raised may have
been applied. Redis Cluster is not supported (the keys of one call may live on
several nodes).
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from omnimsg._convert import to_instant
from omnimsg.delivery.records import Reservation, check_reservations, from_micros, to_micros
from omnimsg.errors import (
    CorruptRecordError,
    InputError,
    SchemaVersionError,
    StoreError,
    StoreUnavailableError,
)
from omnimsg.stores._records import (
    RecordStateMixin,
    check_key,
    check_tenant,
    check_text,
    check_version,
    micros_of,
)

try:
    import redis
    from redis.backoff import NoBackoff
    from redis.exceptions import (
        AuthenticationError,
        AuthorizationError,
        NoScriptError,
        ReadOnlyError,
        RedisError,
    )
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from redis.retry import Retry
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("omnimsg.stores.redis needs redis-py: pip install 'omnimsg[redis]'") from exc

from omnimsg.stores._redis_scripts import PUT as _PUT
from omnimsg.stores._redis_scripts import RESERVE as _RESERVE
from omnimsg.stores._redis_scripts import SCAN as _SCAN
from omnimsg.stores._redis_scripts import SCHEMA as _SCHEMA

__all__ = ["FIRST_INSTANT", "LAST_INSTANT", "SCHEMA_VERSION", "RedisStore"]

SCHEMA_VERSION = 1
"""The layout of keys this module reads and writes (module docstring)."""

_LIMIT = 2**53
FIRST_INSTANT = from_micros(-_LIMIT + 1)
"""The earliest instant :meth:`RedisStore.reserve` takes (1684-07-28)."""
LAST_INSTANT = from_micros(_LIMIT - 1)
"""The latest instant :meth:`RedisStore.reserve` takes (2255-06-05)."""

_SCAN_CHUNK = 500
_SLACK_MS = 3_600_000
"""A set's time-to-live is set a tenth of its keep (at most an hour) above what it
needs, so that it is not set again by every reservation."""

_RESERVE_SHA = hashlib.sha1(_RESERVE.encode("utf-8")).hexdigest().encode("ascii")
_NO_WINDOW = b"%d" % -_LIMIT
_NAMES_KEPT = 4096
"""How many reservation sets' key names a store keeps, ready to send."""


_FORKS = [0]
"""How many times this process is a forked child: a connection made before is its parent's."""


def _forked() -> None:
    _FORKS[0] += 1


os.register_at_fork(after_in_child=_forked)

_SPANS: dict[timedelta, tuple[int, tuple[bytes, bytes]]] = {}
"""By ``keep``: it in microseconds, and the two time-to-live arguments of :data:`_RESERVE`."""


def _span(keep: timedelta) -> tuple[int, tuple[bytes, bytes]]:
    keep_us = micros_of(keep)
    ttl = min(-(-keep_us // 1000), _LIMIT // 1000)
    span = keep_us, (b"%d" % ttl, b"%d" % (ttl + min(ttl // 10, _SLACK_MS)))
    if len(_SPANS) >= 256:
        _SPANS.clear()
    _SPANS[keep] = span
    return span


def _packed_evalsha(sha: bytes, keys: list[bytes], args: list[bytes]) -> bytes:
    """``EVALSHA sha len(keys) *keys *args`` as the bytes sent to the server."""
    items = keys + args
    count = b"%d" % len(keys)
    return (
        b"*%d\r\n$7\r\nEVALSHA\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
        % (len(items) + 3, len(sha), sha, len(count), count)
    ) + b"".join([b"$%d\r\n%s\r\n" % (len(item), item) for item in items])


def _name(value: object, name: str) -> str:
    """A tenant-like name (prefix), refused with ``name`` in the message."""
    try:
        return check_tenant(value)
    except InputError as exc:
        raise InputError(str(exc).replace("tenant:", f"{name}:", 1)) from None


def _utf8(value: str, name: str) -> bytes:
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{name}: not valid Unicode text (a lone surrogate)") from None


def _group(value: object) -> bytes:
    if not isinstance(value, str):
        raise InputError(f"group: expected text, got {type(value).__name__}")
    return b"" if value == "" else check_key(value, "group").encode("utf-8")


def _bytes(value: object) -> bytes:
    """A reply as bytes, whatever the client's ``decode_responses``."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    raise TypeError(type(value).__name__)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def _parse(kind: str, key: str, raw: object) -> tuple[int, bytes, str]:
    """``(version, group, text)`` of a stored record value, or :class:`CorruptRecordError`."""
    try:
        data = _bytes(raw)
        version, length, rest = data.split(b":", 2)
        size = int(length)
        if not (version.isdigit() and length.isdigit()) or size > len(rest):
            raise ValueError
        return int(version), rest[:size], rest[size:].decode("utf-8")
    except (ValueError, TypeError, UnicodeError):
        raise CorruptRecordError(kind, key, "not a version, group and text") from None


class RedisStore(RecordStateMixin):
    """A :class:`~omnimsg.protocols.DeliveryStore` on a Redis server, shared by workers.

    ``url_or_client`` is a URL (``redis://[:password@]host:port/db``, ``rediss://``,
    ``unix://``) or a ``redis.Redis`` client of one's own (its pool is then left
    open by :meth:`close`; ``decode_responses`` may be either). ``tenant`` and
    ``prefix`` name the keys (module docstring). ``socket_timeout`` (seconds)
    bounds each connect and each command of a store made from a URL.

    Nothing is sent to the server before the first call; that call writes
    ``schema_version`` if there is none and raises
    :class:`~omnimsg.errors.SchemaVersionError` if another is stored.
    """

    def __init__(
        self,
        url_or_client: str | redis.Redis = "redis://127.0.0.1:6379/0",
        *,
        tenant: str = "default",
        prefix: str = "omnimsg",
        socket_timeout: float = 5.0,
    ) -> None:
        self._tenant = check_tenant(tenant)
        self._prefix = _name(prefix, "prefix")
        if (
            not isinstance(socket_timeout, int | float)
            or isinstance(socket_timeout, bool)
            or not math.isfinite(socket_timeout)
            or not 0 < socket_timeout <= 3600
        ):
            raise InputError(
                "socket_timeout: expected a number of seconds, above 0 and at most 3600"
            )
        if isinstance(url_or_client, redis.Redis):
            self._client = url_or_client
            self._owned = False
        elif isinstance(url_or_client, str):
            self._client = self._connect(url_or_client, float(socket_timeout))
            self._owned = True
        else:
            raise InputError(
                "url_or_client: expected a redis URL or a redis.Redis client, got "
                + type(url_or_client).__name__
            )
        kwargs = self._client.connection_pool.connection_kwargs
        path = kwargs.get("path")
        self._where = (
            f"redis {path}"
            if path
            else f"redis {kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
        )
        base = f"{self._prefix}:{self._tenant}:".encode("ascii")
        self._base = base
        self._schema_key = base + b"schema_version"
        self._checked = False
        self._closed = False
        client = self._client
        self._put = client.register_script(_PUT)
        self._scan = client.register_script(_SCAN)
        self._schema = client.register_script(_SCHEMA)
        self._sets: dict[str, tuple[bytes, bytes]] = {}
        self._own: Any = None
        self._own_forks = -1
        self._own_lock = threading.Lock()

    @staticmethod
    def _connect(url: str, timeout: float) -> redis.Redis:
        # The URL is never shown: it may hold a password.
        refused = InputError(
            "url_or_client: not a redis URL (redis://host:port/db, rediss://... or unix://...)"
        )
        if not url or len(url) > 2000 or "\x00" in url:
            raise refused
        _utf8(url, "url_or_client")
        try:
            return redis.Redis.from_url(
                url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            )
        except (ValueError, TypeError, UnicodeError, RedisError):
            raise refused from None

    @property
    def tenant(self) -> str:
        """The namespace this store reads and writes."""
        return self._tenant

    @property
    def prefix(self) -> str:
        """The first part of every key."""
        return self._prefix

    def __repr__(self) -> str:
        return f"RedisStore({self._where}, tenant={self._tenant!r}, prefix={self._prefix!r})"

    # --- plumbing ----------------------------------------------------------------------

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Run the block; redis-py's exceptions become :class:`StoreError`."""
        try:
            yield
        except RedisError as exc:
            raise self._failure(what, exc) from exc

    def _failure(self, what: str, exc: RedisError) -> StoreError:
        """The :class:`StoreError` a redis-py exception becomes."""
        if isinstance(exc, AuthenticationError | AuthorizationError):
            return StoreError(f"{what}: {self._where} refused the credentials: {_first_line(exc)}")
        if isinstance(exc, RedisConnectionError | RedisTimeoutError | ReadOnlyError):
            return StoreUnavailableError(
                f"{what}: {self._where} cannot be reached: {_first_line(exc)}"
            )
        return StoreError(f"{what}: {self._where} refused it: {_first_line(exc)}")

    def _ready(self, what: str) -> None:
        if self._closed:
            raise StoreError(f"{what}: the store is closed")
        if self._checked:
            return
        with self._errors(f"{what}: reading schema_version"):
            found = self._schema(keys=[self._schema_key], args=[SCHEMA_VERSION])
        where = f"{self._where} key {self._schema_key.decode('ascii')}"
        try:
            version = int(_bytes(found))
        except (ValueError, TypeError):
            raise StoreError(f"{where}: schema_version is not a number") from None
        if version != SCHEMA_VERSION:
            raise SchemaVersionError(where, version, SCHEMA_VERSION)
        self._checked = True

    def _records_key(self, kind: bytes) -> bytes:
        return self._base + b"r:" + kind

    def _group_prefix(self, kind: bytes) -> bytes:
        return self._base + b"g:%d:" % len(kind) + kind + b":"

    # --- records -----------------------------------------------------------------------

    def get_record(self, kind: str, key: str, /) -> tuple[int, str] | None:
        """``(version, text)`` of a record, or ``None``."""
        kind_b = check_key(kind, "kind").encode("utf-8")
        key_b = check_key(key, "key").encode("utf-8")
        self._ready("get_record")
        with self._errors("get_record"):
            raw = self._client.hget(self._records_key(kind_b), key_b)
        if raw is None:
            return None
        version, _, text = _parse(kind, key, raw)
        return version, text

    def put_record(
        self, kind: str, key: str, expected: int | None, text: str, /, group: str = ""
    ) -> bool:
        """Write ``text`` as version ``(expected or 0) + 1`` if the stored version is ``expected``.

        Raises:
            CorruptRecordError: the stored record cannot be read (it is left as it is).
        """
        kind_b = check_key(kind, "kind").encode("utf-8")
        key_b = check_key(key, "key").encode("utf-8")
        check_version(expected)
        check_text(text)
        text_b = _utf8(text, "text")
        group_b = _group(group)
        version = (expected or 0) + 1
        value = b"%d:%d:" % (version, len(group_b)) + group_b + text_b
        prefix = self._group_prefix(kind_b)
        self._ready("put_record")
        with self._errors("put_record"):
            done = self._put(
                keys=[self._records_key(kind_b), prefix + group_b],
                args=[key_b, b"" if expected is None else b"%d" % expected, group_b, value, prefix],
            )
        if done == -1:
            raise CorruptRecordError(kind, key, "not a version, group and text")
        return bool(done == 1)

    def scan_records(self, kind: str, group: str, /) -> Iterator[tuple[str, int, str]]:
        """``(key, version, text)`` of every record of ``kind`` in ``group``, by key.

        Read in chunks: a record written while the iterator is being read may or
        may not be listed.
        """
        kind_b = check_key(kind, "kind").encode("utf-8")
        group_b = _group(group)
        self._ready("scan_records")
        return self._scan_chunks(kind, kind_b, group_b)

    def _scan_chunks(
        self, kind: str, kind_b: bytes, group_b: bytes
    ) -> Iterator[tuple[str, int, str]]:
        keys = [self._records_key(kind_b), self._group_prefix(kind_b) + group_b]
        start = b"-"
        while True:
            with self._errors("scan_records"):
                flat = self._scan(keys=keys, args=[start, _SCAN_CHUNK])
            if not flat:
                return
            for i in range(0, len(flat), 2):
                key_raw, raw = _bytes(flat[i]), flat[i + 1]
                try:
                    key = key_raw.decode("utf-8")
                except UnicodeError:
                    raise CorruptRecordError(kind, "?", "a key is not UTF-8") from None
                if raw is None:
                    continue
                version, stored_group, text = _parse(kind, key, raw)
                if stored_group == group_b:
                    yield key, version, text
            if len(flat) < 2 * _SCAN_CHUNK:
                return
            start = b"(" + _bytes(flat[-2])

    # --- reservations ------------------------------------------------------------------

    def reserve(self, reservations: Sequence[Reservation], at: datetime, /) -> int:
        """Take every reservation at ``at``, or none: ``-1``, or the index of the first refused.

        ``at`` must lie between :data:`FIRST_INSTANT` and :data:`LAST_INSTANT`.
        """
        wanted = check_reservations(reservations)
        now = to_micros(to_instant(at, "at"))
        if not -_LIMIT < now < _LIMIT:
            raise InputError(
                f"at: the Redis store takes reservations at instants from "
                f"{FIRST_INSTANT:%Y-%m-%d} to {LAST_INSTANT:%Y-%m-%d} only"
            )
        if not wanted:
            return -1
        sets, spans = self._sets, _SPANS
        keys: list[bytes] = []
        args: list[bytes] = [b"%d" % now]
        for i, (key, member, cap, window, keep) in enumerate(wanted):
            names = sets.get(key)
            if names is None:
                names = self._set_names(key, i)
            keys += names
            span = spans.get(keep)
            if span is None:
                span = _span(keep)
            try:
                name = member.encode("utf-8")
            except UnicodeEncodeError:
                name = b"\x00"
            if b"\x00" in name or len(member) > 1000:
                check_key(member, f"reservations[{i}].member")
            args.append(name)
            args.append(b"-1" if cap is None else b"%d" % cap)
            args.append(
                _NO_WINDOW if window is None else b"%d" % max(now - micros_of(window), -_LIMIT)
            )
            args.append(b"%d" % min(now + span[0], _LIMIT))
            args += span[1]
        self._ready("reserve")
        try:
            refused = self._evalsha(_RESERVE_SHA, _RESERVE, keys, args)
        except RedisError as exc:  # not `with self._errors(...)`: this is the hot path
            raise self._failure("reserve", exc) from exc
        return int(refused)

    def _set_names(self, key: str, index: int) -> tuple[bytes, bytes]:
        """The set and expiry-set keys of reservation set ``key`` (kept for the next call)."""
        name = check_key(key, f"reservations[{index}].key").encode("utf-8")
        names = (self._base + b"s:" + name, self._base + b"x:" + name)
        if len(self._sets) >= _NAMES_KEPT:
            self._sets.clear()
        self._sets[key] = names
        return names

    def _evalsha(self, sha: bytes, script: str, keys: list[bytes], args: list[bytes]) -> Any:
        """EVALSHA of ``script`` (loaded first if the server has forgotten it).

        A store made from a URL sends it on a connection of its own, made by its pool
        once and kept (a new one in a forked child), writing the command's bytes and
        reading the answer itself, with the client's retry; when another thread is
        using that connection, or the client is one's own, the client sends it.
        """
        lock = self._own_lock
        if not (self._owned and lock.acquire(blocking=False)):
            client: Any = self._client
            try:
                return client.execute_command("EVALSHA", sha, len(keys), *keys, *args)
            except NoScriptError:
                client.script_load(script)
                return client.execute_command("EVALSHA", sha, len(keys), *keys, *args)
        try:
            conn = self._own
            if conn is None or self._own_forks != _FORKS[0]:
                conn = self._own = self._client.connection_pool.make_connection()
                self._own_forks = _FORKS[0]
            packed = [_packed_evalsha(sha, keys, args)]

            def roundtrip() -> Any:
                conn.send_packed_command(packed)
                return conn.read_response()

            def failed(_: Exception) -> None:
                conn.disconnect()

            try:
                return conn.retry.call_with_retry(roundtrip, failed)
            except NoScriptError:
                self._client.script_load(script)
                return conn.retry.call_with_retry(roundtrip, failed)
        finally:
            lock.release()

    def members(self, key: str, since: datetime, /) -> list[tuple[str, datetime]]:
        """The members of set ``key`` taken after ``since``, with their instants, oldest first."""
        name = check_key(key, "key").encode("utf-8")
        after = to_micros(to_instant(since, "since"))
        if after >= _LIMIT:
            return []
        self._ready("members")
        with self._errors("members"):
            rows: Any = self._client.zrangebyscore(
                self._base + b"s:" + name, f"({max(after, -_LIMIT)}", "+inf", withscores=True
            )
        out: list[tuple[str, datetime]] = []
        for member, score in rows:
            try:
                out.append((_bytes(member).decode("utf-8"), from_micros(int(float(score)))))
            except (ValueError, TypeError, OverflowError, UnicodeError):
                raise CorruptRecordError("set", key, "a member or instant is unreadable") from None
        return out

    def close(self) -> None:
        """Close the connections of a store made from a URL (a client passed in is left open)."""
        if self._closed:
            return
        self._closed = True
        own, self._own = self._own, None
        if own is not None and self._own_forks == _FORKS[0]:
            with self._errors("close"):
                own.disconnect()
        if self._owned:
            with self._errors("close"):
                self._client.close()
