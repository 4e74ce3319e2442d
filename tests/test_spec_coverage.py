"""Every SPEC rule that a resolved issue names is cited by at least one test.

A rule id counts when it appears in a test module as a word (``W5``, ``SPEC C1``),
outside this file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
IMPLEMENTED = [
    *(f"W{i}" for i in range(1, 9)),
    *(f"C{i}" for i in range(1, 7)),
    *(f"A{i}" for i in range(1, 7)),
    "X1",
    "X2",
    "X3",
    "X4",
    "X5",
    *(f"B{i}" for i in range(1, 15)),
    "B15",
    "B16",
    "B17",
    *(f"P{i}" for i in range(1, 17)),
]


def _cited() -> set[str]:
    found: set[str] = set()
    for path in TESTS.rglob("test_*.py"):
        if path.name == Path(__file__).name:
            continue
        found.update(re.findall(r"\b([WCAXBVP]\d{1,2})\b", path.read_text(encoding="utf-8")))
    return found


@pytest.mark.parametrize("rule", IMPLEMENTED)
def test_rule_is_cited_by_a_test(rule: str) -> None:
    assert rule in _cited(), f"no test cites SPEC {rule}"
