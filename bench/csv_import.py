"""Benchmark the streaming CSV import (SPEC A5): speed against a plain loop, and memory.

Generates a CSV of N contacts (about 0.1% with a bad phone and 0.2% repeating an
earlier phone) into a temporary file, then:

1. Memory. It imports N/10 and N rows, each run in a fresh interpreter so its peak
   resident memory (``ru_maxrss``) is its own, with dedupe on and off: the dedupe
   index (one entry per distinct phone and e-mail) grows with N by design,
   everything else must not. It prints the peak-memory ratio of N vs N/10 with
   dedupe off.
2. Speed. Over that same file, in this process, it times the importer (dedupe on,
   into a sink that only counts) and a plain loop of ``csv.reader`` +
   ``phonenumbers.parse`` + ``is_valid_number`` + ``format_number(E164)`` on the
   phone column: the least any importer that validates phones must do. The runs
   are interleaved (loop, importer, importer, loop, ...) and the medians of their
   CPU times (not wall time, which other work on the machine disturbs) compared:
   ``importer vs plain csv+phonenumbers loop: <ratio>`` (target: at most 2), the
   last line.

    python bench/csv_import.py [--rows N] [--rounds R]

N defaults to 20,000 (about 20 seconds in all), or to ``$OMNIMSG_BENCH_ROWS``;
``--rows 1000000`` is the full-size run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import phonenumbers

from omnimsg.audiences import CsvImportOptions, RejectedRow, import_contacts_csv_file
from omnimsg.contacts import Contact

HEADER = "Phone,E-mail,First name,Last name,Plan,VIP,Signed up,Tags\n"
AREA_CODES = ("212", "213", "312", "415", "617", "702")
DEFAULT_ROWS = 20_000


def phone(i: int) -> str:
    """A distinct valid US number for each ``i`` below 48 million."""
    area = AREA_CODES[i // 8_000_000]
    return f"({area}) {200 + (i // 10_000) % 800}-{i % 10_000:04d}"


def write_csv(path: Path, rows: int) -> None:
    """Write ``rows`` contacts to ``path``: mostly good, a few bad and duplicate rows."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        for i in range(rows):
            if i % 1000 == 999:
                number = "555-01"
            elif i % 500 == 1:
                number = phone(i - 1)
            else:
                number = phone(i)
            out.write(
                f'{number},user{i}@example.com,Ann{i},"Lee, Jr",{i % 50},'
                f"{'yes' if i % 2 else 'no'},2024-01-{1 + i % 28:02d}T10:00:00Z,vip;beta\n"
            )


class CountingSink:
    """A sink that keeps nothing but counts."""

    def __init__(self) -> None:
        self.added = 0
        self.merged = 0

    def add(self, contact: Contact, /) -> None:
        self.added += 1

    def merge(self, existing_id: str, contact: Contact, /) -> None:
        self.merged += 1


def options(dedupe: bool) -> CsvImportOptions:
    return CsvImportOptions(
        default_region="US",
        custom_types={"Plan": "number", "VIP": "boolean", "Signed up": "datetime"},
        dedupe=dedupe,
        keep_rejected=False,
    )


def plain_loop(path: Path) -> int:
    """The baseline: read the CSV, parse and validate each phone, format it as E.164."""
    valid = 0
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as stream:
        rows = csv.reader(stream)
        next(rows)
        for row in rows:
            try:
                number = phonenumbers.parse(row[0], "US")
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(number):
                phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                valid += 1
    return valid


def importer(path: Path) -> int:
    """The importer as an application runs it: dedupe on, rejected rows counted."""
    sink = CountingSink()
    report = import_contacts_csv_file(path, sink, options(dedupe=True))
    return report.imported + report.merged


def compare(path: Path, rounds: int) -> float:
    """Median CPU seconds of the importer over those of the plain loop.

    CPU time of this process, not wall time, so that other work on the machine
    does not decide the ratio.
    """
    runs: dict[Callable[[Path], int], list[float]] = {plain_loop: [], importer: []}
    order = [plain_loop, importer]
    plain_loop(path)  # warm up: phonenumbers metadata, zoneinfo, the file in the page cache
    importer(path)
    for _ in range(rounds):
        for run in order:
            started = time.process_time()
            run(path)
            runs[run].append(time.process_time() - started)
        order.reverse()
    loop = statistics.median(runs[plain_loop])
    imported = statistics.median(runs[importer])
    rows = sum(1 for _ in path.open(encoding="utf-8")) - 1
    print(
        f"speed over {rows:,} rows, median CPU time of {rounds} interleaved runs: plain "
        f"loop {rows / loop:,.0f} rows/s, importer {rows / imported:,.0f} rows/s"
    )
    return imported / loop


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(path: str, dedupe: bool) -> None:
    """Import ``path`` once and print rows/s and memory as JSON (runs in its own process)."""
    chosen = options(dedupe)
    rejected = 0

    def count(_: RejectedRow) -> None:
        nonlocal rejected
        rejected += 1

    with tempfile.TemporaryDirectory() as warm:
        # Load phonenumbers metadata and zoneinfo before the baseline.
        small = Path(warm) / "warm.csv"
        write_csv(small, 100)
        import_contacts_csv_file(small, CountingSink(), chosen)
    baseline = peak_rss_mb()
    sink = CountingSink()
    started = time.perf_counter()
    report = import_contacts_csv_file(path, sink, chosen, on_rejected=count)
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "rows": report.rows_read,
                "imported": report.imported,
                "merged": report.merged,
                "rejected": rejected,
                "seconds": elapsed,
                "baseline_mb": baseline,
                "peak_mb": peak_rss_mb(),
            }
        )
    )


def measure(path: Path, dedupe: bool) -> dict[str, float]:
    """Run :func:`child` in a fresh interpreter and return what it printed."""
    flag = "--dedupe" if dedupe else "--no-dedupe"
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(path), flag],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out)
    return result


def memory(small: Path, large: Path) -> None:
    """Peak memory of N/10 and N rows, dedupe on and off, each in its own process."""
    ratios = {}
    for dedupe in (True, False):
        peaks = []
        for path in (small, large):
            r = measure(path, dedupe)
            peaks.append(r["peak_mb"])
            print(
                f"dedupe {'on ' if dedupe else 'off'} {int(r['rows']):>9,} rows: "
                f"{r['rows'] / r['seconds']:>8,.0f} rows/s, "
                f"imported {int(r['imported']):,}, merged {int(r['merged']):,}, "
                f"rejected {int(r['rejected']):,}; peak RSS {r['peak_mb']:.1f} MB "
                f"(+{r['peak_mb'] - r['baseline_mb']:.1f} MB over the warmed-up "
                f"{r['baseline_mb']:.1f} MB)"
            )
        ratios[dedupe] = peaks[1] / peaks[0]
    print(f"csv peak memory ratio with dedupe on (N vs N/10; the index grows): {ratios[True]:.1f}")
    print(f"csv peak memory ratio (N vs N/10): {ratios[False]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    default = int(os.environ.get("OMNIMSG_BENCH_ROWS", DEFAULT_ROWS))
    parser.add_argument("--rows", type=int, default=default, help=f"N (default {default:,})")
    parser.add_argument("--rounds", type=int, default=5, help="timed runs of each (default 5)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--dedupe", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.dedupe)
        return
    n = args.rows
    with tempfile.TemporaryDirectory() as tmp:
        small, large = Path(tmp) / "small.csv", Path(tmp) / "large.csv"
        write_csv(small, n // 10)
        write_csv(large, n)
        size = os.path.getsize(large) / 1e6
        print(f"generated {n:,} rows ({size:.1f} MB) and {n // 10:,} rows")
        # Children inherit the peak memory of the process that starts them (Linux keeps
        # ru_maxrss across exec), so they run before this process imports anything.
        memory(small, large)
        ratio = compare(large, args.rounds)
    print(f"importer vs plain csv+phonenumbers loop: {ratio:.2f}")


if __name__ == "__main__":
    main()
