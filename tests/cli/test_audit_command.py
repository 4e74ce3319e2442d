"""``omnimsg audit``: a message log replayed through a profile, as a CI gate (SPEC W2, B11,
B13, X1, X2, X4, C3, P4-P15).

Exit 0 when clean, 1 on any violation, 3 when omnimsg refuses the input (bad rows
included, after the report of the good ones), 2 for usage.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from .conftest import EXAMPLES, Run

AUDIT = EXAMPLES / "audit"
LOG = str(AUDIT / "violations.jsonl")
BUNDLED = (
    "--profile",
    str(AUDIT / "profile.toml"),
    "--contacts",
    str(AUDIT / "contacts.json"),
    "--frequency-cap",
    "2/7d",
)
RULES = ["B11", "C3", "P4", "P6", "P9", "P12", "P15", "W2", "W5", "X1", "X2", "X4"]
CLEAN = [
    '{"at": "2026-03-02T09:00:00Z", "direction": "inbound", "channel": "whatsapp", '
    '"account": "wa-1", "contact": "+34611000001", "text": "hi"}',
    '{"at": "2026-03-02T09:01:00Z", "direction": "outbound", "channel": "whatsapp", '
    '"account": "wa-1", "contact": "+34611000001", "text": "hello"}',
]


def _write(tmp_path: Path, lines: list[str], name: str = "log.jsonl") -> str:
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def _document(run: Run, *args: str, status: int = 1) -> dict[str, Any]:
    result = run("audit", *args, "--json")
    assert result.status == status, result.err
    document: dict[str, Any] = json.loads(result.out)
    return document


def test_the_bundled_log_exits_1_with_one_violation_of_each_rule(run: Run) -> None:
    result = run("audit", LOG, *BUNDLED)
    assert result.status == 1, result.err
    assert result.err == ""
    assert "violations by rule" in result.out
    for rule in RULES:
        assert f"{rule}: first 1 of 1" in result.out


def test_json_is_one_document_with_counts_samples_and_lines(run: Run) -> None:
    document = _document(run, LOG, *BUNDLED)
    assert document["by_rule"] == dict.fromkeys(RULES, 1)
    assert list(document["by_rule"]) == RULES  # SPEC order: letter, then number
    assert document["messages_read"] == 42
    assert document["violations"] == 12
    assert document["bad_rows"] == 0
    (w2,) = document["samples"]["W2"]
    assert (w2["line"], w2["reason"], w2["channel"]) == (4, "template_required", "whatsapp")


def test_the_csv_twin_gives_the_same_counts(run: Run) -> None:
    document = _document(run, str(AUDIT / "violations.csv"), *BUNDLED)
    assert document["by_rule"] == dict.fromkeys(RULES, 1)


def test_a_clean_log_exits_0(run: Run, tmp_path: Path) -> None:
    result = run("audit", _write(tmp_path, CLEAN))
    assert result.status == 0, result.err
    assert "no violations" in result.out
    assert _document(run, _write(tmp_path, CLEAN), status=0)["violations"] == 0


def test_contacts_from_a_csv_give_the_starting_consent(run: Run, tmp_path: Path) -> None:
    # SPEC X1: the contact unsubscribed before the log begins
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("id,phone,subscription:sms-1\nbob,+12125550100,unsubscribed\n")
    log = _write(
        tmp_path,
        [
            '{"at": "2026-03-02T16:00:00Z", "direction": "outbound", "channel": "sms", '
            '"account": "sms-1", "contact": "bob", "text": "Sale", "marketing": true}'
        ],
    )
    assert run("audit", log).status == 0
    document = _document(run, log, "--contacts", str(contacts))
    assert document["by_rule"] == {"X1": 1}
    contacts.write_text("id,phone,subscription\nbob,+12125550100,unsubscribed\n")
    assert run("audit", log, "--contacts", str(contacts)).status == 3


def test_bad_rows_are_listed_after_the_report_and_exit_3(run: Run, tmp_path: Path) -> None:
    naive = CLEAN[0].replace("09:00:00Z", "09:00:00")
    log = _write(tmp_path, [CLEAN[0], naive, "nope", CLEAN[1]])
    result = run("audit", log)
    assert result.status == 3
    assert "bad rows: first 2 of 2" in result.out
    assert "naive instant" in result.out
    # the rows read are clean, but a log not read whole is not called clean
    assert "no violations in the rows that could be read" in result.out
    assert "first at line 2" in result.err
    document = _document(run, log, status=3)
    assert document["messages_read"] == 2
    assert [row["line"] for row in document["bad_row_samples"]] == [2, 3]


@pytest.mark.parametrize(
    "args",
    [
        ("--format", "xml"),
        ("--frequency-cap", "often"),
        ("--frequency-cap", "0/1d"),
        ("--frequency-cap", "3/soon"),
        ("--samples", "-1"),
        ("--samples", "many"),
        ("--profile", "\udcff"),
        ("--unknown",),
    ],
)
def test_usage_errors_exit_2(run: Run, args: tuple[str, ...]) -> None:
    result = run("audit", LOG, *args)
    assert result.status == 2, result.err
    assert "Traceback" not in result.err


def test_no_log_is_a_usage_error(run: Run) -> None:
    assert run("audit").status == 2


def test_input_omnimsg_refuses_exits_3(run: Run, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    late = _write(tmp_path, [CLEAN[1], CLEAN[0]], "late.jsonl")
    header = _write(tmp_path, ["instant,channel", "x,y"], "log.csv")
    for args in (
        (str(tmp_path / "missing.jsonl"),),
        (str(tmp_path),),
        (str(fifo),),
        (LOG, "--profile", "no-such-profile"),
        (LOG, "--contacts", str(deep)),
        (LOG, "--contacts", str(tmp_path / "none.json")),
        (late,),
        (header,),
        ("no\x00such.jsonl",),
    ):
        result = run("audit", *args)
        assert result.status == 3, (args, result.err)
        assert result.err.startswith("omnimsg: error: ")
        assert "\x00" not in result.err


def test_what_the_log_holds_is_printed_escaped(run: Run, tmp_path: Path) -> None:
    line = (
        '{"at": "2026-03-02T09:10:00Z", "direction": "outbound", "channel": "whatsapp", '
        '"account": "wa-\\u001b[2J", "contact": "[bold]x\\u0000", "text": "\\u001b]0;t\\u0007'
        + "y" * 99_000
        + '"}'
    )
    result = run("audit", _write(tmp_path, [line]))
    assert result.status == 1, result.err
    assert "\x1b" not in result.out
    assert "\x00" not in result.out
    assert "\x07" not in result.out
    document = json.loads(run("audit", _write(tmp_path, [line]), "--json").out)
    assert document["samples"]["W2"][0]["account"] == "wa-\x1b[2J"
