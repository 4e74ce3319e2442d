"""Planning a broadcast at scale: throughput, its cost against the segment alone, peak memory.

The draft: a winter-service reminder on WhatsApp (a template), SMS and Telegram, each
contact on its last interacted channel (B3), seven sender accounts (two WhatsApp
numbers, four SMS numbers sharing the load, one Telegram bot), quiet hours 09:00-20:00
in the recipient's zone (X2), personalised text (C5), profile ``respondio`` (WhatsApp
80 and SMS 1 message a second per account, B10). The audience is a segment: tags
include newsletter, vip or gold, and custom score at least 200 (about 40 % of the
contacts). The contacts are synthetic and deterministic (``Contact.trusted``, as a store
reading its own rows builds them): Spanish, British, Brazilian and Mexican phones,
a quarter each on WhatsApp, SMS, Telegram and no channel yet, some with a time zone.

For each size (``--sizes``), in one run:

1. **throughput and ratios**, in a child process per size, in rounds that alternate
   the contestants (the order rotates each round); each figure is a median over the
   rounds, and each ratio the median of the per-round ratios:

   - ``segment, in memory``: the compiled segment over contacts already in a list;
   - ``plan, in memory``: ``plan_broadcast(...).run()`` over the same list;
   - ``select from the source``: the same contacts read from a source that builds them
     as it goes (a generator), filtered by the compiled segment;
   - ``plan from the source``: ``plan_broadcast`` reading that source;
   - ``plan from the source + JSON Lines``: the same, the plan written to a
     temporary file while it is produced (``write_plan``): what a user pays;
   - with PostgreSQL reachable and ``omnimsg.stores.sql.source.SqlContactSource``
     present, the contacts are loaded into the ``omnimsg_bench_plan`` schema of the
     ``test`` database (``COPY``; the schema is dropped at the end), and ``select
     from PostgreSQL`` (``iter_matching``, the segment pushed down, a server-side
     cursor) and ``plan from PostgreSQL + JSON Lines`` join the rounds.

   The target is planning at most 5x the segment alone; it is reported against both
   baselines (in memory, and the same source).

2. **peak memory**: a fresh child process per size plans from the streaming source,
   writing JSON Lines to a temporary file, and its peak resident size is reported;
   so is that of a child that only selects the same contacts, for the interpreter's
   own share. Target: the peak at the largest size within 1.5x of the peak at the
   smallest. The peak is the child's own high-water mark (``VmHWM`` of
   ``/proc/self/status``): on Linux ``ru_maxrss`` of a child, from ``os.wait4``,
   keeps the peak of the parent it was spawned from (the maximum survives
   ``exec``), which hides a child smaller than its parent; ``ru_maxrss`` is used
   where ``/proc`` is missing.

    python bench/plan.py                                  # 10,000 and 50,000, ~1-2 min
    python bench/plan.py --sizes 100000,1000000 --repeat 3
    python bench/plan.py --only memory --sizes 100000,1000000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from omnimsg import ChannelKind, Contact, load_profile
from omnimsg.broadcasts import Draft, plan_broadcast, write_plan
from omnimsg.broadcasts.draft import draft_from_dict
from omnimsg.contacts import ChannelIdentity
from omnimsg.segments import compile_segment
from omnimsg.state import OptInState

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA = "omnimsg_bench_plan"
NO_SQL = "OMNIMSG_BENCH_PLAN_NO_SQL"

SEGMENT_MEMORY = "segment, in memory"
PLAN_MEMORY = "plan, in memory"
SELECT_SOURCE = "select from the source"
PLAN_SOURCE = "plan from the source"
PLAN_SOURCE_JSONL = "plan from the source + JSON Lines"
SELECT_SQL = "select from PostgreSQL"
PLAN_SQL_JSONL = "plan from PostgreSQL + JSON Lines"

DRAFT: dict[str, Any] = {
    "id": "bench-winter",
    "name": "Winter service (benchmark)",
    "channels": ["whatsapp", "sms", "telegram"],
    "audience": {
        "custom_fields": {"score": "number"},
        "segment": {
            "all": [
                {"field": "tags", "op": "has_any", "value": ["newsletter", "vip", "gold"]},
                {"field": "custom.score", "op": "gte", "value": 200},
            ]
        },
    },
    "senders": [
        {"account": account, "channel": channel}
        for account, channel in [
            ("wa-1", "whatsapp"),
            ("wa-2", "whatsapp"),
            ("sms-1", "sms"),
            ("sms-2", "sms"),
            ("sms-3", "sms"),
            ("sms-4", "sms"),
            ("tg-bot", "telegram"),
        ]
    ],
    "content": {
        "whatsapp": [
            {
                "template": "winter_service",
                "template_params": {"1": '{{ first_name | "there" }}'},
                "text": 'Hi {{ first_name | "there" }}, it is time for your winter service.',
            }
        ],
        "sms": [{"text": 'Hi {{ first_name | "there" }}, winter service: 15% off until 20 Dec.'}],
        "telegram": [
            {"text": 'Hi {{ first_name | "there" }}, winter service: 15% off until 20 Dec.'}
        ],
    },
    "schedule": {"start": "2026-12-01T08:00:00Z"},
    "quiet_hours": {"start": "09:00", "end": "20:00"},
}

# --- synthetic contacts, built as a store reading its own rows builds them --------------

_FIRST = ["Ana", "José", "Maria", "João", "Chen", "Olivia", "Noah", "Liam", "Emma", ""]
_REGIONS = [
    ("+346", "ES", "Europe/Madrid"),
    ("+447", "GB", "Europe/London"),
    ("+55119", "BR", "America/Sao_Paulo"),
    ("+5255", "MX", "America/Mexico_City"),
]
_TAGS = [
    frozenset(),
    frozenset({"newsletter"}),
    frozenset({"vip"}),
    frozenset({"gold", "newsletter"}),
    frozenset({"lead"}),
    frozenset({"churn-risk", "newsletter"}),
]
_KINDS = [ChannelKind.WHATSAPP, ChannelKind.SMS, ChannelKind.TELEGRAM, None]
_SUBSCRIBED = MappingProxyType({f"sms-{n}": OptInState.of("subscribed") for n in range(1, 5)})
_NONE: MappingProxyType[str, OptInState] = MappingProxyType({})


def synthetic_contact(number: int) -> Contact:
    """Contact ``number``: the same for the same number, cheap to build."""
    h = (number * 2_654_435_761) & 0xFFFF_FFFF
    prefix, region, zone = _REGIONS[h & 3]
    phone = f"{prefix}{10_000_000 + number % 89_999_999}"
    kind = _KINDS[(h >> 2) & 3]
    identities: tuple[ChannelIdentity, ...] = ()
    if kind is ChannelKind.WHATSAPP:
        inbound = NOW - timedelta(hours=(h >> 8) % 400)
        identities = (ChannelIdentity("wa-1", kind, phone, None, inbound),)
    elif kind is ChannelKind.TELEGRAM:
        identities = (ChannelIdentity("tg-bot", kind, f"tg{number}", None, None),)
    return Contact.trusted(
        f"c{number:08d}",
        first_name=_FIRST[(h >> 4) % 10] or None,
        phone=phone,
        phone_region=region,
        timezone=zone if (h >> 12) & 1 else None,
        tags=_TAGS[(h >> 13) % 6],
        custom=MappingProxyType({"score": (h >> 16) % 1000}),
        identities=identities,
        last_interacted_channel=kind,
        subscriptions=_SUBSCRIBED if (h >> 20) & 1 else _NONE,
    )


class SyntheticSource:
    """A contact source that builds its contacts as they are read (nothing is kept)."""

    def __init__(self, count: int) -> None:
        self.count = count

    def iter_contacts(self) -> Iterator[Contact]:
        return map(synthetic_contact, range(self.count))

    def get_contact(self, contact_id: str, /) -> Contact | None:
        number = int(contact_id[1:]) if contact_id[1:].isdigit() else -1
        return synthetic_contact(number) if 0 <= number < self.count else None

    def find_identity(self, account_id: str, external_id: str, /) -> Contact | None:
        return None

    def accounts_for(self, external_id: str, /) -> Collection[str]:
        return ()


def draft() -> Draft:
    """The benchmark's draft."""
    return draft_from_dict(DRAFT)


# --- PostgreSQL ----------------------------------------------------------------------------


def _postgres() -> tuple[Any, Any] | None:
    """The engine (search path on the benchmark's schema) and ``SqlContactSource``, or
    ``None``: --no-sql, no SQLAlchemy, no SQL source yet, or no server."""
    if os.environ.get(NO_SQL):
        return None
    try:
        import sqlalchemy as sa

        from omnimsg.stores.sql.source import SqlContactSource
    except ImportError:
        return None
    engine = sa.create_engine(
        POSTGRES_URL, connect_args={"options": f"-csearch_path={SCHEMA}", "connect_timeout": 3}
    )
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError:
        return None
    return engine, SqlContactSource


def sql_source() -> Any | None:
    """The contacts loaded in PostgreSQL, read through ``SqlContactSource``, or ``None``."""
    found = _postgres()
    if found is None:
        return None
    engine, source_class = found
    return source_class(engine)


def load_postgres(count: int) -> bool:
    """Load ``count`` contacts into the benchmark's schema (unless it holds them already);
    whether PostgreSQL and the SQL source are there to use."""
    found = _postgres()
    if found is None:
        return False
    _load_postgres(found[0], count)
    return True


def drop_postgres() -> None:
    """Drop the benchmark's schema."""
    found = _postgres()
    if found is not None:
        import sqlalchemy as sa

        with found[0].begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))


def _load_postgres(engine: Any, count: int) -> None:
    import sqlalchemy as sa

    from omnimsg.stores.sql import create_reference_schema

    sys.path.insert(0, str(Path(__file__).parent))
    from sql import copy_contacts  # bench/sql.py: one home for the COPY loader

    with engine.connect() as conn:
        loaded = conn.execute(
            sa.text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s"),
            {"s": SCHEMA},
        ).scalar()
        if loaded:
            rows = conn.execute(sa.text("SELECT count(*) FROM contacts")).scalar()
            if rows == count:
                return
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))
        create_reference_schema(conn)
        for start in range(0, count, 20_000):
            stop = min(start + 20_000, count)
            copy_contacts(conn, [synthetic_contact(n) for n in range(start, stop)])
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))


# --- the child processes -------------------------------------------------------------------


def _plan_jsonl(planned: Any, folder: str) -> int:
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, delete=True) as out:
        write_plan(planned, out)
        out.flush()
        return out.tell()


def child_times(count: int, rounds: int) -> dict[str, Any]:
    """Seconds of each contestant per round, with contacts of ``count``."""
    the_draft = draft()
    profile = load_profile("respondio")
    assert the_draft.audience.segment is not None
    segment = the_draft.audience.segment
    predicate = compile_segment(segment, now=NOW)
    contacts = [synthetic_contact(n) for n in range(count)]
    source = SyntheticSource(count)
    sql = sql_source()
    folder = tempfile.mkdtemp(prefix="omnimsg-bench-plan-")
    matched = sum(1 for c in contacts if predicate(c))

    def plan_on(where: Any) -> Any:
        return plan_broadcast(the_draft, where, profile=profile, now=NOW)

    contestants: dict[str, Callable[[], object]] = {
        SEGMENT_MEMORY: lambda: sum(1 for c in contacts if predicate(c)),
        PLAN_MEMORY: lambda: plan_on(contacts).run(),
        SELECT_SOURCE: lambda: sum(1 for c in source.iter_contacts() if predicate(c)),
        PLAN_SOURCE: lambda: plan_on(source).run(),
        PLAN_SOURCE_JSONL: lambda: _plan_jsonl(plan_on(source), folder),
    }
    if sql is not None:
        contestants[SELECT_SQL] = lambda: sum(1 for _ in sql.iter_matching(segment, now=NOW))
        contestants[PLAN_SQL_JSONL] = lambda: _plan_jsonl(plan_on(sql), folder)
    summary = plan_on(contacts).run()  # also a warm-up
    names = list(contestants)
    results: list[dict[str, float]] = []
    for round_ in range(rounds):
        shift = round_ % len(names)
        timings: dict[str, float] = {}
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            contestants[name]()
            timings[name] = time.perf_counter() - start
        results.append(timings)
    os.rmdir(folder)
    return {
        "count": count,
        "matched": matched,
        "planned": summary.planned,
        "held": summary.held,
        "excluded": summary.excluded,
        "excluded_by_reason": dict(summary.excluded_by_reason),
        "sends": summary.messages + summary.prompts,
        "days": summary.days_spanned,
        "rounds": results,
    }


def child_memory(count: int, what: str) -> dict[str, Any]:
    """Plan (or only select) ``count`` streamed contacts; the parent reads the peak."""
    the_draft = draft()
    profile = load_profile("respondio")
    assert the_draft.audience.segment is not None
    source: Any = SyntheticSource(count) if what != "sql" else sql_source()
    start = time.perf_counter()
    if what == "select":
        predicate = compile_segment(the_draft.audience.segment, now=NOW)
        done = sum(1 for c in source.iter_contacts() if predicate(c))
    else:
        folder = tempfile.gettempdir()
        done = _plan_jsonl(plan_broadcast(the_draft, source, profile=profile, now=NOW), folder)
    return {"seconds": time.perf_counter() - start, "result": done, "peak_kib": _own_peak()}


def _own_peak() -> int | None:
    """This process's peak resident size in KiB since its ``exec`` (``None``: unknown)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _spawn(*args: str) -> tuple[dict[str, Any], int]:
    """Run this script as a child with ``args``; its JSON result and peak RSS in KiB."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out:
        child = subprocess.Popen([sys.executable, __file__, *args], stdout=out)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            raise SystemExit(f"child {' '.join(args)} failed with status {child.returncode}")
        out.seek(0)
        return json.loads(out.read().strip().splitlines()[-1]), usage.ru_maxrss


# --- the report ----------------------------------------------------------------------------


def _report_times(result: dict[str, Any]) -> None:
    count, rounds = result["count"], result["rounds"]
    names = list(rounds[0])
    medians = {name: statistics.median(r[name] for r in rounds) for name in names}
    reasons = ", ".join(f"{code} {n:,}" for code, n in result["excluded_by_reason"].items())
    print(
        f"\n{count:,} contacts: {result['matched']:,} in the segment; planned "
        f"{result['planned']:,}, held {result['held']:,}, excluded {result['excluded']:,}"
        f"{f' ({reasons})' if reasons else ''}; {result['sends']:,} sends over "
        f"{result['days']} day(s); {len(rounds)} rounds"
    )
    width = max(len(name) for name in names)
    for name in names:
        rate = count / medians[name]
        print(f"  {name:<{width}}  {medians[name]:9.3f} s  {rate:13,.0f} contacts/s")

    def ratio(top: str, bottom: str) -> None:
        if top in medians and bottom in medians:
            value = statistics.median(r[top] / r[bottom] for r in rounds)
            verdict = "within" if value <= 5 else "over"
            print(f"  ratio {top} / {bottom}: {value:.2f} ({verdict} the 5x target)")

    ratio(PLAN_MEMORY, SEGMENT_MEMORY)
    ratio(PLAN_SOURCE, SELECT_SOURCE)
    ratio(PLAN_SOURCE_JSONL, SELECT_SOURCE)
    ratio(PLAN_SQL_JSONL, SELECT_SQL)


def _report_memory(spawned: dict[tuple[str, int], tuple[dict[str, Any], int]]) -> None:
    peaks = {key: (result, result["peak_kib"] or kib) for key, (result, kib) in spawned.items()}
    print("\npeak resident memory (a fresh child per size, its own high-water mark):")
    sizes = sorted({size for _, size in peaks})
    for (what, size), (result, kib) in sorted(peaks.items(), key=lambda i: (i[0][1], i[0][0])):
        label = {
            "select": "select from the source only",
            "plan": "plan from the source + JSON Lines",
            "sql": "plan from PostgreSQL + JSON Lines",
        }[what]
        print(
            f"  {size:>10,} contacts  {label:<34} {kib / 1024:8.1f} MiB  {result['seconds']:8.2f} s"
        )
    for what in ("plan", "sql"):
        if (what, sizes[0]) in peaks and (what, sizes[-1]) in peaks and len(sizes) > 1:
            low, high = peaks[(what, sizes[0])][1], peaks[(what, sizes[-1])][1]
            verdict = "within" if high <= 1.5 * low else "over"
            print(
                f"  {what}: peak at {sizes[-1]:,} / peak at {sizes[0]:,} = {high / low:.2f} "
                f"({verdict} the 1.5x target)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="10000,50000", help="comma-separated contact counts (10000,50000)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds (median over them)")
    parser.add_argument("--no-sql", action="store_true", help="leave PostgreSQL out")
    parser.add_argument(
        "--only", choices=("times", "memory"), help="measure only throughput or only memory"
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("KIND", "COUNT", "ARG"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.no_sql:
        os.environ[NO_SQL] = "1"  # read by the children too
    if args.child:
        kind, count, extra = args.child
        if kind == "times":
            result = child_times(int(count), int(extra))
        else:
            result = child_memory(int(count), extra)
        print(json.dumps(result))
        return
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    sql = _postgres() is not None
    print(
        f"bench/plan.py: sizes {', '.join(f'{s:,}' for s in sizes)}; {args.repeat} rounds; "
        f"PostgreSQL source: {'yes' if sql else 'no (unreachable, or no SqlContactSource yet)'}"
    )
    peaks: dict[tuple[str, int], tuple[dict[str, Any], int]] = {}
    try:
        for size in sizes:
            if sql:
                load_postgres(size)  # here, so that no child's peak holds the loading
            if args.only != "memory":
                result, _ = _spawn("--child", "times", str(size), str(args.repeat))
                _report_times(result)
            if args.only != "times":
                for what in ("select", "plan", *(("sql",) if sql else ())):
                    peaks[(what, size)] = _spawn("--child", "memory", str(size), what)
    finally:
        if sql:
            drop_postgres()
    if peaks:
        _report_memory(peaks)


if __name__ == "__main__":
    main()
