"""Benchmark the streaming CSV import (SPEC A5): rows per second and peak memory.

Generates a CSV of N contacts (default 1,000,000; about 0.1% with a bad phone and
0.2% repeating an earlier phone) into a temporary file, then imports it at N/10 and
at N rows into a sink that only counts, each run in a fresh interpreter so its peak
resident memory (``ru_maxrss``) is its own. Runs with dedupe on and off: the dedupe
index (one entry per distinct phone and e-mail) grows with N by design, everything
else must not. The last line is the peak-memory ratio of N vs N/10 with dedupe off.

    python bench/csv_import.py [--rows N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from omnimsg.contacts import Contact
from omnimsg.segments.csv_import import (
    CsvImportOptions,
    RejectedRow,
    import_contacts_csv_file,
)

HEADER = "Phone,E-mail,First name,Last name,Plan,VIP,Signed up,Tags\n"
AREA_CODES = ("212", "213", "312", "415", "617", "702")


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


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(path: str, dedupe: bool) -> None:
    """Import ``path`` once and print rows/s and memory as JSON (runs in its own process)."""
    options = CsvImportOptions(
        default_region="US",
        custom_types={"Plan": "number", "VIP": "boolean", "Signed up": "datetime"},
        dedupe=dedupe,
        keep_rejected=False,
    )
    rejected = 0

    def count(_: RejectedRow) -> None:
        nonlocal rejected
        rejected += 1

    with tempfile.TemporaryDirectory() as warm:
        # Load phonenumbers metadata, zoneinfo and pydantic-core before the baseline.
        small = Path(warm) / "warm.csv"
        write_csv(small, 100)
        import_contacts_csv_file(small, CountingSink(), options)
    baseline = peak_rss_mb()
    sink = CountingSink()
    started = time.perf_counter()
    report = import_contacts_csv_file(path, sink, options, on_rejected=count)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="N (default 1,000,000)")
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
        print(f"generated {n:,} rows ({size:.0f} MB) and {n // 10:,} rows")
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


if __name__ == "__main__":
    main()
