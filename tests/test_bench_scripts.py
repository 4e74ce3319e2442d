"""The benchmark scripts run, at a tiny size, and print their ratio lines.

No timing is asserted: a ratio only has to be printed as a positive number. The
scripts check their own contestants agree before timing them (``decide`` against the
hand-written window check, SPEC W2, W3, W5; each compiled segment against its
hand-written predicate and the rules packages, SPEC A1, A2; the three ways of
building a contact against each other; the CSV importer, SPEC A5), so a script that
exits 0 here also computed the same answers every way it times.

All scripts start at once, in their own interpreters, and each test waits for its
own: the whole module takes about as long as the slowest script.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
TIMEOUT = 60

SCRIPTS: dict[str, tuple[list[str], list[str]]] = {
    "audit.py": (
        ["--messages", "300", "--contacts", "50", "--repeat", "1", "--memory-factor", "2"],
        ["audit vs decide ratio", "audit messages/s", "audit peak memory ratio, long log vs short"],
    ),
    "decide.py": (
        ["--repeat", "3", "--number", "20"],
        [
            "decide + ConversationState(...) ratio",
            "decide + ConversationState.trusted(...) ratio",
            "ConversationState(...) vs .trusted(...), building alone",
            "ConversationState(...) vs .trusted(...), with decide",
            "official vs seed ratio",
            "decide ratio",
        ],
    ),
    "segments.py": (
        ["--contacts", "600", "--rounds", "1", "--sample", "100", "--build-sample", "30"],
        [
            "segments vs lambda (tags, score, channel)",
            "segments vs rule-engine (tags, score, channel)",
            "segments vs json-logic (tags, score, channel)",
            "segments vs lambda (last inbound)",
            "segments vs lambda (text)",
            "segments vs lambda (last inbound and text)",
            "Contact.from_dict vs Contact.trusted",
            "Contact(...) vs Contact.trusted",
            "Contact.trusted vs evaluating the tags, score, channel segment, per contact",
        ],
    ),
    "csv_import.py": (
        ["--rows", "200", "--rounds", "1"],
        [
            "csv peak memory ratio (N vs N/10)",
            "importer vs plain csv+phonenumbers loop",
        ],
    ),
    "dispatch.py": (
        ["--contacts", "40", "--reservations", "100", "--repeat", "1"],
        [
            "sends/s, SQLite / memory",
            "reserve rate, SqliteStore / bare INSERT",
        ],
    ),
}


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, subprocess.Popen[str]]]:
    """Every script started, in parallel; killed at the end if one is still running."""
    started = {
        name: subprocess.Popen(
            [sys.executable, str(BENCH / name), *arguments],
            cwd=BENCH.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (arguments, _) in SCRIPTS.items()
    }
    yield started
    for process in started.values():
        if process.poll() is None:
            process.kill()
            process.communicate()


def ratios(output: str) -> dict[str, str]:
    """Every ``label: value`` line of ``output``, by label."""
    return dict(re.findall(r"^(.+): (\S+)$", output, flags=re.MULTILINE))


@pytest.mark.parametrize("script", list(SCRIPTS))
def test_bench_script_runs_and_prints_its_ratios(
    script: str, runs: dict[str, subprocess.Popen[str]]
) -> None:
    stdout, stderr = runs[script].communicate(timeout=TIMEOUT)
    assert runs[script].returncode == 0, f"{script} failed:\n{stderr[-3000:]}"
    found = ratios(stdout)
    for label in SCRIPTS[script][1]:
        assert label in found, f"{script} printed no {label!r} line:\n{stdout}"
        value = float(found[label])
        assert math.isfinite(value), f"{script}: {label} is {value}"
        assert value > 0, f"{script}: {label} is {value}"


def test_ratio_lines_are_read_whole() -> None:
    output = "segment: a\nsegments vs lambda (text): 0.48\nnot a ratio\ndecide ratio: 2.57\n"
    assert ratios(output) == {
        "segment": "a",
        "segments vs lambda (text)": "0.48",
        "decide ratio": "2.57",
    }
