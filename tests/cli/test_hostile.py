"""Hostile input to every command ends in status 2 or 3 with a message, never a traceback.

Values: NUL, lone surrogates (arguments that are not UTF-8), 100,000 characters,
control characters; files: missing, a directory, a FIFO, unreadable. Each run is
bounded in time; FIFOs run in a child process so that a hang fails instead of
blocking the suite.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from omnimsg.cli import main

from .conftest import EXAMPLES, NOW, Result, run_program

SEGMENT = str(EXAMPLES / "segment.json")
CONTACTS = str(EXAMPLES / "contacts.csv")
AUDIT_LOG = str(EXAMPLES / "audit" / "violations.jsonl")
LONG = "x" * 100_000
BOUND_SECONDS = 20  # generous: the point is that nothing is quadratic or waits forever


def invoke(*args: str) -> Result:
    """Run in this process without pytest fixtures (usable under hypothesis)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(args))
    return Result(status, out.getvalue(), err.getvalue())


def _check_refused(result: Result, *statuses: int) -> None:
    assert result.status in statuses, result.err
    assert result.err.startswith("omnimsg: error: ")
    assert "Traceback" not in result.err
    assert "\x1b" not in result.err
    assert "\x00" not in result.err


# Each command with one value replaced by {}: the value under test.
TEMPLATES = [
    ("profiles", "{}"),
    ("profiles", "--channel", "{}"),
    ("profiles", "--as-of", "{}"),
    ("check", "--channel", "{}", *NOW),
    ("check", "--channel", "sms", "--profile", "{}", *NOW),
    ("check", "--channel", "sms", "--last-inbound", "{}", *NOW),
    ("check", "--channel", "sms", "--sent", "{}", *NOW),
    ("check", "--channel", "sms", "--text", "{}", *NOW),
    ("check", "--channel", "whatsapp", "--template", "{}", *NOW),
    ("check", "--channel", "messenger", "--tag", "{}", *NOW),
    ("check", "--channel", "sms", "--media", "{}", *NOW),
    ("check", "--channel", "sms", "--voice-seconds", "{}", *NOW),
    ("check", "--channel", "sms", "--subscription", "{}", *NOW),
    ("check", "--channel", "viber", "--chatbot-count", "{}", *NOW),
    ("check", "--channel", "viber", "--account-tz", "{}", *NOW),
    ("check", "--channel", "sms", "--now", "{}"),
    ("segment", SEGMENT, "--custom-field", "{}", *NOW),
    ("segment", SEGMENT, "--custom-field", "score=number", "--contacts", CONTACTS,
     "--region", "{}", *NOW),
    ("segment", SEGMENT, "--custom-field", "score=number", "--unknown-columns", "{}", *NOW),
    ("segment", SEGMENT, "--custom-field", "score=number", "--sample", "{}", *NOW),
    ("segment", SEGMENT, "--now", "{}"),
    ("audit", "{}"),
    ("audit", AUDIT_LOG, "--profile", "{}"),
    ("audit", AUDIT_LOG, "--contacts", "{}"),
    ("audit", AUDIT_LOG, "--frequency-cap", "{}"),
    ("audit", AUDIT_LOG, "--format", "{}"),
    ("explain", "{}"),
    ("{}",),
]  # fmt: skip
HOSTILE = [
    "\x00",
    "a\x00b",
    "\udcff",
    "x\ud800y",
    "\x1b[2J",
    "[bold]x[/bold]",
    LONG,
    "9" * 100_000,
    "-" + LONG,
    "2026-11-23T12:00Z" * 6_000,
    "",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "999999999d",
]


def _fill(template: tuple[str, ...], value: str) -> list[str]:
    return [value if part == "{}" else part for part in template]


@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v[:20]))
@pytest.mark.parametrize("template", TEMPLATES, ids=" ".join)
def test_hostile_values_end_in_a_status_never_an_exception(
    template: tuple[str, ...], value: str
) -> None:
    started = time.perf_counter()
    result = invoke(*_fill(template, value))
    assert time.perf_counter() - started < BOUND_SECONDS
    assert result.status in (0, 1, 2, 3)
    if result.status:
        _check_refused(result, 2, 3)
    assert "\x1b" not in result.out
    assert "\x00" not in result.out


TEXT = st.text(st.characters(codec=None, categories=None), max_size=40)


@given(st.sampled_from(TEMPLATES), TEXT)
def test_any_value_in_any_flag_ends_in_a_status(template: tuple[str, ...], value: str) -> None:
    if template[:2] == ("check", "--channel") and template[3:5] == ("--profile", "{}"):
        value = "./no-such-dir/" + value  # never a real file outside the test's reach
    assume(not value.startswith("--install"))  # would write the shell's start-up files
    result = invoke(*_fill(template, value))
    assert result.status in (0, 1, 2, 3)
    if result.status:
        _check_refused(result, 2, 3)


def _odd_files(tmp_path: Path) -> dict[str, str]:
    directory = tmp_path / "a-directory.toml"
    directory.mkdir()
    fifo = tmp_path / "a-fifo.toml"
    os.mkfifo(fifo)
    return {
        "missing": str(tmp_path / "missing.toml"),
        "directory": str(directory),
        "fifo": str(fifo),
        "nul": str(tmp_path / "nul\x00.toml"),
        "long": str(tmp_path / ("n" * 5_000)),
    }


FILE_TEMPLATES = [
    ("profiles", "--file", "{}"),
    ("check", "--channel", "sms", "--profile", "{}", *NOW),
    ("segment", "{}", *NOW),
    ("segment", SEGMENT, "--custom-field", "score=number", "--contacts", "{}", *NOW),
]


@pytest.mark.parametrize("template", FILE_TEMPLATES, ids=" ".join)
@pytest.mark.parametrize("kind", ["missing", "directory", "nul", "long"])
def test_files_that_cannot_be_read_are_omnimsg_errors(
    tmp_path: Path, template: tuple[str, ...], kind: str
) -> None:
    path = _odd_files(tmp_path)[kind]
    result = invoke(*_fill(template, path))
    _check_refused(result, 3)
    assert result.out == ""


@pytest.mark.parametrize("template", FILE_TEMPLATES, ids=" ".join)
def test_a_fifo_is_refused_without_waiting_for_a_writer(
    tmp_path: Path, template: tuple[str, ...]
) -> None:
    path = _odd_files(tmp_path)["fifo"]
    result = run_program(*_fill(template, path), timeout=BOUND_SECONDS)
    assert result.returncode == 3
    assert b"FIFO" in result.stderr
    assert b"Traceback" not in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files of mode 000")
@pytest.mark.parametrize("template", FILE_TEMPLATES, ids=" ".join)
def test_an_unreadable_file_is_refused(tmp_path: Path, template: tuple[str, ...]) -> None:
    path = tmp_path / "locked.toml"
    path.write_text("name = 'x'\n", encoding="utf-8")
    path.chmod(0)
    result = invoke(*_fill(template, str(path)))
    _check_refused(result, 3)
    assert "ermission denied" in result.err


@pytest.mark.parametrize(
    ("args", "status", "shown"),
    [
        ((b"check", b"--channel", b"\xff\xfe", *(a.encode() for a in NOW)), 2, b"not UTF-8"),
        ((b"check", b"--channel", b"sms", b"--text", b"caf\xe9", *map(str.encode, NOW)), 2,
         b"--text: character 4 is not UTF-8 text"),
        ((b"segment", b"seg\xff.json", *map(str.encode, NOW)), 3, b"seg\\udcff.json"),
        ((b"\xff\x1b[2J",), 2, b"\\udcff\\x1b[2J"),
    ],
)  # fmt: skip
def test_arguments_that_are_not_utf8_are_refused_and_shown_escaped(
    args: tuple[bytes, ...], status: int, shown: bytes
) -> None:
    result = run_program(*args)
    assert result.returncode == status
    assert shown in result.stderr
    assert b"\x1b" not in result.stderr
    assert b"Traceback" not in result.stderr


def test_profile_text_and_paths_with_control_characters_are_printed_escaped(
    tmp_path: Path,
) -> None:
    path = tmp_path / "evil\x1b[2J.toml"
    missing = invoke("profiles", "--file", str(path))
    _check_refused(missing, 3)
    assert "evil\\x1b[2J.toml" in missing.err
    path.write_text(
        'name = "evil"\ndescription = "\\u001b]0;owned\\u0007 a\\nb \\u202e [red]x[/red]"\n'
        "[channels.sms]\n",
        encoding="utf-8",
    )
    shown = invoke("profiles", "--file", str(path))
    assert shown.status == 0, shown.err
    assert "\x1b" not in shown.out
    assert "evil: \\x1b]0;owned\\x07 a\\nb \\u202e [red]x[/red]" in shown.out


def test_a_huge_error_message_is_cut(tmp_path: Path) -> None:
    """A segment with a thousand bad conditions gets every problem, shown in bounded room."""
    bad = ",".join(f'{{"field": "nope{i}", "op": "equals", "value": 1}}' for i in range(1000))
    path = tmp_path / "bad.json"
    path.write_text(f'{{"all": [{bad}]}}', encoding="utf-8")
    result = invoke("segment", str(path), *NOW)
    _check_refused(result, 3)
    assert len(result.err) < 3_000
    assert "more characters)" in result.err


def test_interpreter_shutdown_prints_nothing_after_a_refusal() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "omnimsg", "check", "--channel", "fax", *NOW],
        capture_output=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(EXAMPLES.parent / "src")},
    )
    assert result.returncode == 3
    assert result.stderr.decode().count("\n") == 1
