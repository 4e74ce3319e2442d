"""``omnimsg explain``: a rule id's or a reason code's entry in the rule catalogue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from omnimsg.policy.catalogue import catalogue_markdown, reasons, rules

from .conftest import Run, run_program

PAGE = Path(__file__).parent.parent.parent / "docs" / "rules.md"


def _document(run: Run, *args: str) -> dict[str, Any]:
    result = run("explain", *args, "--json")
    assert result.status == 0, result.err
    document: dict[str, Any] = json.loads(result.out)
    return document


def test_w2_prints_its_text_its_reasons_and_the_profiles_citing_it(run: Run) -> None:
    """SPEC W2: the rule's words, the reasons that cite it, respondio's WhatsApp."""
    result = run("explain", "W2")
    assert result.status == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "W2  WhatsApp: the 24-hour window"
    assert "only a pre-approved template message may be sent" in lines[1]
    assert "template_required" in result.out
    assert "respondio: whatsapp" in result.out
    assert result.err == ""


def test_a_reason_code_prints_its_words_and_its_rule(run: Run) -> None:
    """SPEC W2: template_required is explained with the rule it cites."""
    result = run("explain", "template_required")
    assert result.status == 0, result.err
    assert result.out.startswith("template_required  [W2]\n")
    assert "W2  WhatsApp: the 24-hour window" in result.out


def test_several_ids_at_once_in_the_order_given(run: Run) -> None:
    document = _document(run, "B17", "no_capacity", "w5")
    entries = document["entries"]
    assert [e.get("id") or e.get("code") for e in entries] == ["B17", "no_capacity", "W5"]
    assert entries[1]["rule"] == "B11"
    assert {"B13", "X4", "W6"} <= set(entries[1]["rules"])  # SPEC B13, X4, W6 caps
    assert [c["id"] for c in entries[1]["cites"]] == entries[1]["rules"]


def test_json_of_a_rule_has_every_field(run: Run) -> None:
    """SPEC P8: a dated platform rule says its platform and period."""
    (entry,) = _document(run, "P8")["entries"]
    assert entry["kind"] == "rule"
    assert entry["platform"] == "WeChat"
    assert entry["in_force"] == "as dated"
    assert {"within_event_window", "event_cap_reached"} <= set(entry["reasons"])
    assert {"profile": "official", "channel": "wechat"} in entry["profiles"]


def test_json_of_a_reason_without_a_rule(run: Run) -> None:
    (entry,) = _document(run, "worker_stopped")["entries"]
    assert entry == {
        "kind": "reason",
        "code": "worker_stopped",
        "rule": None,
        "rules": [],
        "words": entry["words"],
        "sources": ["dispatch"],
        "cites": [],
    }


def test_every_rule_and_reason_can_be_explained(run: Run) -> None:
    names = [entry.id for entry in rules()] + [entry.code for entry in reasons()]
    document = _document(run, *names)
    assert len(document["entries"]) == len(names)


def test_an_unknown_id_exits_3_with_a_suggestion_and_prints_nothing(run: Run) -> None:
    result = run("explain", "W2", "W22")
    assert result.status == 3
    assert result.out == ""
    assert result.err == "omnimsg: error: unknown rule id or reason code 'W22'; did you mean W2?\n"


def test_no_id_is_a_usage_error(run: Run) -> None:
    result = run("explain")
    assert result.status == 2
    assert "name a rule id such as W2" in result.err


@pytest.mark.parametrize("extra", [("W2",), ("--json",)])
def test_markdown_takes_no_id_and_no_json(run: Run, extra: tuple[str, ...]) -> None:
    result = run("explain", "--markdown", *extra)
    assert result.status == 2
    assert "not with --markdown" in result.err


def test_markdown_prints_the_docs_page(run: Run) -> None:
    result = run("explain", "--markdown")
    assert result.status == 0, result.err
    assert result.out == catalogue_markdown() == PAGE.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "hostile",
    [
        "\x1b[2J",
        "W2\x00",
        "\u202eW2",
        "x" * 100_000,
        "[bold]W2[/bold]",
        "'; rm -rf /",
        "",
    ],
)
def test_hostile_names_are_refused_escaped_and_bounded(run: Run, hostile: str) -> None:
    result = run("explain", hostile)
    assert result.status == 3
    assert "\x1b" not in result.err
    assert "\x00" not in result.err
    assert "\u202e" not in result.err
    assert len(result.err) < 400
    assert result.out == ""


def test_a_lone_surrogate_is_a_usage_error(run: Run) -> None:
    result = run("explain", "W\udcff")
    assert result.status == 2
    assert "not UTF-8" in result.err


def test_undecodable_bytes_in_argv_as_a_real_program() -> None:
    done = run_program("explain", b"W\xff")
    assert done.returncode == 2
    assert b"not UTF-8" in done.stderr


def test_help_names_the_command() -> None:
    done = run_program("explain", "--help")
    assert done.returncode == 0
    assert b"ID_OR_REASON" in done.stdout
