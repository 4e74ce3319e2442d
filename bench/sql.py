"""The SQL pushdown against hand-written queries, on PostgreSQL and SQLite.

Loads ``--contacts`` synthetic contacts into the reference schema, in PostgreSQL (the
``omnimsg_bench`` schema of the ``test`` database, with ``COPY``) and in a SQLite file
in a temporary directory. First compares ``load_contacts`` with ``COPY`` on a sample
of the same contacts. Then, for each segment, runs the query ``select_contact_ids``
generates and a hand-written query selecting the same ids, interleaved, and prints
the medians, the median of the ratios of the interleaved pairs (target: at most 1.5),
and whether each plan reads an index. The ``omnimsg_bench`` schema is dropped at the
end.

    python bench/sql.py                      # 200,000 contacts
    python bench/sql.py --contacts 1000000 --repeat 7
"""

from __future__ import annotations

import argparse
import itertools
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact, ConversationStatus
from omnimsg.segments import parse_segment
from omnimsg.segments.sql import install_sqlite_functions, select_contact_ids
from omnimsg.state import OptInState, SubscriptionStatus
from omnimsg.stores.sql import (
    SqlContactSource,
    create_reference_schema,
    exact_decimal,
    load_contacts,
    metadata,
)

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA = "omnimsg_bench"
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# --- synthetic contacts ----------------------------------------------------------------

FIRST = ["Ana", "José", "Maria", "João", "Zoë", "Łukasz", "Σοφία", "Chen", "Olivia", "Noah"]
FIRST += ["Liam", "Emma", "Ömer", "Ines", "Pedro", "Lucía", "Kenji", "Amara", "Ivan", "Sara"]
LAST = ["Silva", "García", "Müller", "Smith", "Kowalski", "Nguyen", "Rossi", "Dubois", "Ivanova"]
LAST += ["Santos", "Okafor", "Tanaka", "Jensen", "Novák", "Costa", "Brown", "Yılmaz", "Papadakis"]
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "mail.ru", "example.org", "corp.example"]
REGIONS = [("+34", "6", "ES"), ("+44", "7", "GB"), ("+55", "119", "BR"), ("+52", "55", "MX")]
TAG_SETS = [
    (),
    ("newsletter",),
    ("vip",),
    ("gold", "newsletter"),
    ("churn-risk",),
    ("newsletter", "churn-risk"),
    ("lead",),
    ("vip", "gold"),
    ("lead", "webinar-2025"),
]
TAG_WEIGHTS = [25, 20, 10, 8, 10, 7, 10, 5, 5]
ACCOUNTS = [
    ("wa-main", ChannelKind.WHATSAPP),
    ("sms-1", ChannelKind.SMS),
    ("tg-bot", ChannelKind.TELEGRAM),
    ("fb-page", ChannelKind.MESSENGER),
]
STATUSES = list(SubscriptionStatus)


def _ascii(name: str) -> str:
    """The name as an e-mail address spells it: ASCII, lower case (Łukasz: ukasz)."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return plain.lower() or "user"


def synthetic_contact(number: int, rng: random.Random) -> Contact:
    """One contact with a realistic spread of present and missing values."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    code, prefix, region = rng.choice(REGIONS)
    phone = f"{code}{prefix}{rng.randrange(10**7, 10**8)}" if rng.random() < 0.8 else None
    custom: dict[str, Any] = {}
    if rng.random() < 0.85:
        custom["score"] = rng.randrange(1001)
    if rng.random() < 0.6:
        custom["balance"] = rng.randrange(1_000_000) / 100
    if rng.random() < 0.7:
        custom["plan"] = rng.choice(["free", "pro", "Enterprise", "trial"])
    if rng.random() < 0.4:
        custom["renewal"] = NOW + timedelta(days=rng.randrange(-200, 400))
    identities = []
    for account, kind in ACCOUNTS:
        if rng.random() < (0.6 if kind is ChannelKind.WHATSAPP else 0.3):
            seen = NOW - timedelta(days=rng.randrange(30, 1000))
            inbound = (
                None if rng.random() < 0.3 else NOW - timedelta(minutes=rng.randrange(600_000))
            )
            identities.append(ChannelIdentity(account, kind, f"{kind}-{number}", seen, inbound))
    subscriptions = {
        account: OptInState.of(rng.choice(STATUSES))
        for account in ("wa-main", "sms-1")
        if rng.random() < 0.7
    }
    return Contact(
        id=f"c{number:07d}",
        first_name=first,
        last_name=last,
        email=f"{_ascii(first)}.{number}@{rng.choice(DOMAINS)}" if rng.random() < 0.85 else None,
        phone=phone,
        phone_region=region if phone else None,
        timezone=rng.choice([None, "Europe/Madrid", "America/Sao_Paulo", "Europe/London"]),
        language=rng.choice([None, "en", "es", "pt-BR", "de"]),
        lifecycle=rng.choice([None, "lead", "customer", "churned"]),
        tags=frozenset(rng.choices(TAG_SETS, TAG_WEIGHTS)[0]),
        custom=custom,
        identities=tuple(identities),
        last_interacted_channel=identities[0].channel if identities else None,
        conversation_status=rng.choice([None, *ConversationStatus]),
        assignee=rng.choice([None, "agent-1", "agent-2", "agent-3"]),
        subscriptions=subscriptions,
        created_at=NOW - timedelta(seconds=rng.randrange(3 * 365 * 86400)),
    )


def synthetic_contacts(start: int, stop: int, seed: int) -> list[Contact]:
    """Contacts ``start`` to ``stop`` (the same ones for the same seed, in any chunking)."""
    return [synthetic_contact(n, random.Random(seed * 10**9 + n)) for n in range(start, stop)]


# --- the rows a hand-written loader would write ---------------------------------------

COLUMNS: dict[str, tuple[str, ...]] = {
    table.name: tuple(column.name for column in table.columns) for table in metadata.sorted_tables
}


def rows_of(
    contact: Contact, instant: Callable[[datetime | None], Any]
) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of one contact by table, in column order, without any checking."""
    cid = contact.id
    custom: list[tuple[Any, ...]] = []
    for name, value in contact.custom.items():
        if isinstance(value, bool):
            custom.append((cid, name, None, None, value, None))
        elif isinstance(value, int | float):
            custom.append((cid, name, None, exact_decimal(value), None, None))
        elif isinstance(value, str):
            custom.append((cid, name, value, None, None, None))
        elif isinstance(value, datetime):
            custom.append((cid, name, None, None, None, instant(value)))
    return {
        "contacts": [
            (
                cid,
                contact.first_name,
                contact.last_name,
                contact.email,
                contact.phone,
                contact.phone_region,
                contact.timezone,
                contact.language,
                contact.lifecycle,
                contact.assignee,
                contact.conversation_status and contact.conversation_status.value,
                contact.last_interacted_channel and contact.last_interacted_channel.value,
                instant(contact.created_at),
            )
        ],
        "contact_tags": [(cid, tag) for tag in contact.tags],
        "contact_identities": [
            (
                cid,
                i.account_id,
                i.external_id,
                position,
                i.channel.value,
                instant(i.first_seen_at),
                instant(i.last_inbound_at),
            )
            for position, i in enumerate(contact.identities)
        ],
        "contact_custom_values": custom,
        "contact_subscriptions": [
            (cid, sender, state.status.value) for sender, state in contact.subscriptions.items()
        ],
    }


def _pg_instant(value: datetime | None) -> datetime | None:
    return value


def _sqlite_instant(value: datetime | None) -> int | None:
    return None if value is None else (value - _EPOCH) // _MICROSECOND


def copy_contacts(connection: sa.Connection, people: Sequence[Contact]) -> None:
    """``COPY`` the rows of ``people`` into the tables on the connection's search path."""
    tables: dict[str, list[tuple[Any, ...]]] = {name: [] for name in COLUMNS}
    for contact in people:
        for name, rows in rows_of(contact, _pg_instant).items():
            tables[name].extend(rows)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    for name, rows in tables.items():
        columns = ", ".join(COLUMNS[name])
        with cursor.copy(f"COPY {name} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def insert_sqlite(connection: sqlite3.Connection, people: Sequence[Contact]) -> None:
    """``executemany`` the rows of ``people`` into SQLite (instants in microseconds)."""
    tables: dict[str, list[tuple[Any, ...]]] = {name: [] for name in COLUMNS}
    for contact in people:
        for name, rows in rows_of(contact, _sqlite_instant).items():
            tables[name].extend(
                tuple(float(v) if isinstance(v, Decimal) else v for v in row) for row in rows
            )
    for name, rows in tables.items():
        marks = ", ".join("?" * len(COLUMNS[name]))
        connection.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)


# --- loading ---------------------------------------------------------------------------

CHUNK = 20_000


def _indexes() -> list[sa.Index]:
    return [index for table in metadata.sorted_tables for index in table.indexes]


def load_both(pg: sa.Engine, lite: Path, count: int, seed: int) -> tuple[float, float]:
    """``COPY`` ``count`` contacts into PostgreSQL and insert them into the SQLite file.

    Secondary indexes are built once the rows are in, as a bulk load does. Returns
    the seconds each database took (generating the contacts is not counted).
    """
    spent = [0.0, 0.0]
    engine = sa.create_engine(f"sqlite:///{lite}")
    create_reference_schema(engine)
    with engine.begin() as conn:
        for index in _indexes():
            index.drop(conn)
    engine.dispose()
    raw = sqlite3.connect(lite)
    with pg.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))
        conn.execute(sa.text(f"SET LOCAL search_path TO {SCHEMA}"))
        create_reference_schema(conn)
        for index in _indexes():
            index.drop(conn)
        for chunk in range(0, count, CHUNK):
            people = synthetic_contacts(chunk, min(chunk + CHUNK, count), seed)
            start = time.perf_counter()
            copy_contacts(conn, people)
            spent[0] += time.perf_counter() - start
            start = time.perf_counter()
            with raw:
                insert_sqlite(raw, people)
            spent[1] += time.perf_counter() - start
        start = time.perf_counter()
        for index in _indexes():
            index.create(conn)
        spent[0] += time.perf_counter() - start
    raw.close()
    start = time.perf_counter()
    with pg.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f"SET search_path TO {SCHEMA}"))
        conn.execute(sa.text("VACUUM ANALYZE"))
    spent[0] += time.perf_counter() - start
    start = time.perf_counter()
    engine = sa.create_engine(f"sqlite:///{lite}")
    with engine.begin() as conn:
        for index in _indexes():
            index.create(conn)
        conn.execute(sa.text("ANALYZE"))
    engine.dispose()
    spent[1] += time.perf_counter() - start
    return spent[0], spent[1]


def compare_loading(pg: sa.Engine, size: int, seed: int, repeat: int) -> None:
    """``load_contacts`` against ``COPY`` of the same contacts, interleaved, rolled back."""
    people = synthetic_contacts(10**8, 10**8 + size, seed)
    ours, copies, ratios = [], [], []
    for _ in range(repeat):
        times = []
        for load in (load_contacts, copy_contacts):
            with pg.connect() as conn, conn.begin() as transaction:
                conn.execute(sa.text(f"SET LOCAL search_path TO {SCHEMA}"))
                start = time.perf_counter()
                load(conn, people)
                times.append(time.perf_counter() - start)
                transaction.rollback()
        ours.append(times[0])
        copies.append(times[1])
        ratios.append(times[0] / times[1])
    print(
        f"loading {size:,} contacts into PostgreSQL: load_contacts "
        f"{statistics.median(ours):.2f} s, COPY {statistics.median(copies):.2f} s, "
        f"ratio {statistics.median(ratios):.2f} (median of {repeat} interleaved pairs)"
    )


# --- the segments and their hand-written twins ----------------------------------------

CUSTOM = {"score": "number", "balance": "number", "plan": "string", "renewal": "datetime"}
LOW, HIGH = NOW - timedelta(days=30), NOW


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // _MICROSECOND


SEGMENTS: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "one tag",
        {"field": "tags", "op": "contains", "value": "vip"},
        "SELECT contact_id FROM contact_tags WHERE tag = 'vip'",
        "SELECT contact_id FROM contact_tags WHERE tag = 'vip'",
    ),
    (
        "custom number",
        {"field": "custom.score", "op": "gt", "value": 900},
        "SELECT contact_id FROM contact_custom_values WHERE name = 'score' AND number_value > 900",
        "SELECT contact_id FROM contact_custom_values WHERE name = 'score' AND number_value > 900",
    ),
    (
        "nested window",
        {
            "all": [
                {
                    "field": "last_inbound_at",
                    "op": "within_last",
                    "value": {"amount": 30, "unit": "days"},
                },
                {
                    "any": [
                        {"field": "tags", "op": "contains", "value": "vip"},
                        {"not": {"field": "custom.score", "op": "lt", "value": 500}},
                    ]
                },
            ]
        },
        # The window's latest inbound computed once, from the rows after its start.
        "SELECT r.contact_id FROM (SELECT contact_id FROM contact_identities"
        " WHERE last_inbound_at >= {low} GROUP BY contact_id"
        " HAVING max(last_inbound_at) <= {high}) AS r"
        " WHERE EXISTS (SELECT 1 FROM contact_tags t"
        " WHERE t.contact_id = r.contact_id AND t.tag = 'vip')"
        " OR NOT EXISTS (SELECT 1 FROM contact_custom_values v WHERE v.contact_id = r.contact_id"
        " AND v.name = 'score' AND v.number_value < 500)",
        "",
    ),
    (
        "text field",
        {"field": "email", "op": "contains", "value": "GMAIL"},
        "SELECT id FROM contacts WHERE strpos(lower(email), 'gmail') > 0",
        "SELECT id FROM contacts WHERE instr(lower(email), 'gmail') > 0",
    ),
    (
        "non-ASCII name",
        {"field": "first_name", "op": "equals", "value": "ŁUKASZ"},
        "SELECT id FROM contacts WHERE lower(first_name) = 'łukasz'",
        # SQLite's lower() folds ASCII only: an application uses the registered fold.
        "SELECT id FROM contacts WHERE omnimsg_fold(first_name) = 'łukasz'",
    ),
    (
        "tags has none",
        {"field": "tags", "op": "has_none", "value": ["newsletter", "churn-risk"]},
        "SELECT id FROM contacts c WHERE NOT EXISTS (SELECT 1 FROM contact_tags t"
        " WHERE t.contact_id = c.id AND t.tag IN ('newsletter', 'churn-risk'))",
        "",
    ),
    (
        "consent and channel",
        {
            "all": [
                {
                    "field": "subscription",
                    "sender": "wa-main",
                    "op": "equals",
                    "value": "subscribed",
                },
                {"field": "channels", "op": "has_channel", "value": "whatsapp"},
            ]
        },
        "SELECT s.contact_id FROM contact_subscriptions s"
        " WHERE s.sender = 'wa-main' AND s.status = 'subscribed' AND EXISTS (SELECT 1"
        " FROM contact_identities i WHERE i.contact_id = s.contact_id AND i.channel = 'whatsapp')",
        "",
    ),
]


def hand_written(pg_sql: str, lite_sql: str, dialect: str) -> str:
    """The hand-written query for ``dialect`` (SQLite's defaults to PostgreSQL's)."""
    if dialect == "postgresql":
        return pg_sql.format(low=f"'{LOW.isoformat()}'", high=f"'{HIGH.isoformat()}'")
    return (lite_sql or pg_sql).format(low=_micros(LOW), high=_micros(HIGH))


# --- measuring -------------------------------------------------------------------------


def _ids(conn: sa.Connection, query: sa.Select[Any] | str) -> list[Any]:
    if isinstance(query, str):
        return list(conn.exec_driver_sql(query).scalars())
    return list(conn.execute(query).scalars())


def _plan_indexes(conn: sa.Connection, sql: str) -> list[str]:
    """The indexes the database's plan for ``sql`` reads."""
    if conn.dialect.name == "postgresql":
        plan: Any = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}").scalar()
        found: list[str] = []
        nodes = [plan[0]["Plan"]]
        while nodes:
            node = nodes.pop()
            if "Index Name" in node:
                found.append(f"{node['Node Type'].lower()} {node['Index Name']}")
            nodes.extend(node.get("Plans", ()))
        return sorted(set(found))
    details = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
    return sorted({d for d in details if "INDEX" in d or "PRIMARY KEY" in d})


def _literal_sql(query: sa.Select[Any], conn: sa.Connection) -> str:
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    return str(compiled).replace("%%", "%")


def compare(
    conn: sa.Connection, name: str, query: sa.Select[Any], hand: str, repeat: int
) -> tuple[float, float, float]:
    """Median seconds of the generated and the hand-written query, and of their ratios.

    Both are executed and every id fetched, interleaved; one run of each first,
    untimed, checks they select the same ids and warms the caches.
    """
    ours, theirs = _ids(conn, query), _ids(conn, hand)
    if sorted(ours) != sorted(theirs) or len(set(ours)) != len(ours):
        raise SystemExit(f"{name}: the generated and the hand-written queries disagree")
    generated, written, ratios = [], [], []
    for _ in range(repeat):
        start = time.perf_counter()
        _ids(conn, query)
        middle = time.perf_counter()
        _ids(conn, hand)
        end = time.perf_counter()
        generated.append(middle - start)
        written.append(end - middle)
        ratios.append((middle - start) / (end - middle))
    return statistics.median(generated), statistics.median(written), statistics.median(ratios)


def run_segments(conn: sa.Connection, repeat: int) -> list[float]:
    """Prints a line per segment; returns the ratios."""
    dialect = conn.dialect.name
    print(f"\n{dialect}: generated query vs hand-written, execute + fetch every id")
    print(f"{'segment':>20} {'ids':>9} {'generated':>10} {'hand':>10} {'ratio':>6}  indexes read")
    ratios = []
    for name, data, pg_sql, lite_sql in SEGMENTS:
        segment = parse_segment(data, custom_fields=CUSTOM)
        query = select_contact_ids(segment, now=NOW)
        hand = hand_written(pg_sql, lite_sql, dialect)
        generated, written, ratio = compare(conn, name, query, hand, repeat)
        count = len(_ids(conn, hand))
        indexes = _plan_indexes(conn, _literal_sql(query, conn))
        ratios.append(ratio)
        print(
            f"{name:>20} {count:>9,} {generated * 1000:>8.1f}ms {written * 1000:>8.1f}ms "
            f"{ratio:>6.2f}  {', '.join(indexes) or 'none'}"
        )
    return ratios


def _stream_child(limit: int) -> None:
    """Run in a fresh process: read ``limit`` contacts back, print seconds and peak RSS."""
    engine = sa.create_engine(POSTGRES_URL, connect_args={"options": f"-c search_path={SCHEMA}"})
    start = time.perf_counter()
    read = sum(1 for _ in itertools.islice(SqlContactSource(engine).iter_contacts(), limit))
    seconds = time.perf_counter() - start
    print(read, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def stream(count: int) -> None:
    """SqlContactSource reading contacts back from PostgreSQL, each run in a fresh
    process: the rate, and the peak resident memory for a tenth of them and for all."""
    peaks = []
    for limit in (count // 10, count):
        child = [sys.executable, __file__, "--stream-child", str(limit)]
        output = subprocess.run(child, capture_output=True, text=True, check=True).stdout
        read, seconds, peak = output.split()
        peaks.append(int(peak))
        print(
            f"SqlContactSource.iter_contacts (PostgreSQL): {int(read):,} contacts in "
            f"{float(seconds):.1f} s ({int(read) / float(seconds):,.0f}/s), "
            f"peak resident memory {int(peak) / 2**20:.0f} MiB"
        )
    print(f"peak memory ratio (all / a tenth): {peaks[1] / peaks[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=200_000, help="default 200,000")
    parser.add_argument("--sample", type=int, default=20_000, help="load comparison size")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved pairs per query")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--stream-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stream_child is not None:
        _stream_child(args.stream_child)
        return

    pg = sa.create_engine(POSTGRES_URL, connect_args={"options": f"-c search_path={SCHEMA}"})
    try:
        with tempfile.TemporaryDirectory() as folder:
            lite = Path(folder) / "contacts.sqlite"
            pg_seconds, lite_seconds = load_both(pg, lite, args.contacts, args.seed)
            print(
                f"contacts: {args.contacts:,}; loaded in {pg_seconds:.0f} s (PostgreSQL, COPY) "
                f"and {lite_seconds:.0f} s (SQLite, executemany)"
            )
            compare_loading(pg, args.sample, args.seed, 3)
            with pg.connect() as conn:
                worst = max(run_segments(conn, args.repeat))
            engine = sa.create_engine(f"sqlite:///{lite}")
            sa.event.listen(engine, "connect", install_sqlite_functions)
            with engine.connect() as conn:
                worst = max(worst, *run_segments(conn, args.repeat))
            engine.dispose()
            print()
            stream(args.contacts)
            print(f"\nworst ratio: {worst:.2f} (target: at most 1.5)")
    finally:
        with pg.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        pg.dispose()


if __name__ == "__main__":
    main()
