"""``omnimsg segment``: the segment in words, who is in it, every bad row (SPEC A1, A5)."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import EXAMPLES, NOW, Run

SEGMENT = str(EXAMPLES / "segment.json")
CONTACTS = str(EXAMPLES / "contacts.csv")
DESCRIPTION = "tags include any of vip, gold and score is greater than 500"


def test_segment_describes_counts_samples_and_reports_rejected_rows(run: Run) -> None:
    """SPEC A1, A5: the segment in words, who is in it, and every bad CSV row by line."""
    result = run("segment", SEGMENT, "--contacts", CONTACTS, "--custom-field", "score=number", *NOW)
    assert result.status == 0
    assert f"segment: {DESCRIPTION}" in result.out
    assert "8 rows read, 5 imported, 1 merged, 2 rejected" in result.out
    assert "in segment: 3 of 5 contacts" in result.out
    assert "Ana García" in result.out
    assert any(
        line.startswith("line 6") and "invalid_email" in line for line in result.out.splitlines()
    )
    assert any(
        line.startswith("line 7") and "invalid_phone" in line for line in result.out.splitlines()
    )


def test_sample_limits_the_listed_members(run: Run) -> None:
    result = run(
        "segment",
        SEGMENT,
        "--contacts",
        CONTACTS,
        "--custom-field",
        "score=number",
        "--sample",
        "1",
        *NOW,
    )
    assert "... and 2 more" in result.out


def test_segment_json_has_the_documented_shape(run: Run) -> None:
    """SPEC A5: counts add up and rejected rows carry their line."""
    result = run(
        "segment",
        SEGMENT,
        "--contacts",
        CONTACTS,
        "--custom-field",
        "score=number",
        "--sample",
        "2",
        "--json",
        *NOW,
    )
    assert result.status == 0
    document = json.loads(result.out)
    assert set(document) == {"segment", "now", "contacts"}
    assert document["segment"] == {
        "file": SEGMENT,
        "description": document["segment"]["description"],
    }
    assert document["segment"]["description"].startswith(DESCRIPTION)
    contacts = document["contacts"]
    assert set(contacts) == {
        "file",
        "rows_read",
        "imported",
        "merged",
        "rejected",
        "blank_rows",
        "total",
        "in_segment",
        "sample",
        "rejected_rows",
    }
    assert contacts["rows_read"] == contacts["imported"] + contacts["merged"] + contacts["rejected"]
    assert (contacts["total"], contacts["in_segment"]) == (5, 3)
    assert [c["id"] for c in contacts["sample"]] == ["c1", "c4"]
    assert set(contacts["sample"][0]) == {"id", "name", "phone", "email", "tags"}
    assert [(r["line"], r["code"]) for r in contacts["rejected_rows"]] == [
        (6, "invalid_email"),
        (7, "invalid_phone"),
    ]


def test_segment_json_without_contacts_has_null_contacts(run: Run) -> None:
    result = run("segment", SEGMENT, "--custom-field", "score=number", "--json", *NOW)
    assert json.loads(result.out)["contacts"] is None


def test_an_undeclared_custom_field_is_an_omnimsg_error_naming_the_path(run: Run) -> None:
    """SPEC A1: a custom field must be declared with its type."""
    result = run("segment", SEGMENT, *NOW)
    assert result.status == 3
    assert "all[1]" in result.err


def test_a_segment_file_that_is_not_utf8_is_refused(run: Run, tmp_path: Path) -> None:
    latin1 = tmp_path / "seg.json"
    latin1.write_bytes(
        '{"field": "first_name", "op": "equals", "value": "Jos\xe9"}'.encode("latin-1")
    )
    result = run("segment", str(latin1), *NOW)
    assert result.status == 3
    assert "is not UTF-8" in result.err


def test_a_missing_contacts_file_is_refused(run: Run, tmp_path: Path) -> None:
    result = run(
        "segment",
        SEGMENT,
        "--custom-field",
        "score=number",
        "--contacts",
        str(tmp_path / "none.csv"),
        *NOW,
    )
    assert (result.status, result.out) == (3, "")
    assert "contacts file" in result.err
    assert "No such file or directory" in result.err


def test_flag_values_are_checked_before_any_file_is_read(run: Run) -> None:
    pair = run("segment", SEGMENT, "--custom-field", "score", *NOW)
    assert pair.status == 2
    assert "--custom-field: expected NAME=TYPE" in pair.err
    columns = run("segment", SEGMENT, "--unknown-columns", "keep", *NOW)
    assert columns.status == 2
    assert "--unknown-columns" in columns.err


def test_a_bad_region_names_its_flag(run: Run) -> None:
    result = run(
        "segment",
        SEGMENT,
        "--custom-field",
        "score=number",
        "--contacts",
        CONTACTS,
        "--region",
        "Narnia",
        *NOW,
    )
    assert result.status == 2
    assert result.err.startswith("omnimsg: error: --region: ")


def test_names_from_the_csv_are_printed_escaped_and_never_as_markup(
    run: Run, tmp_path: Path
) -> None:
    """A first name of ESC [2J must not clear the screen; [bold] stays literal."""
    csv = tmp_path / "contacts.csv"
    csv.write_text(
        'id,First name,Last name,E-mail\nc1,"\x1b[2J","[bold]x[/bold]",a@example.com\n',
        encoding="utf-8",
    )
    segment = tmp_path / "all.json"
    segment.write_text('{"field": "email", "op": "is_set"}', encoding="utf-8")
    result = run("segment", str(segment), "--contacts", str(csv), *NOW)
    assert result.status == 0, result.err
    assert "\x1b" not in result.out
    assert "\\x1b[2J [bold]x[/bold]" in result.out
    document = json.loads(run("segment", str(segment), "--contacts", str(csv), "--json", *NOW).out)
    assert document["contacts"]["sample"][0]["name"] == "\x1b[2J [bold]x[/bold]"
