"""The command line: thin, but it must say the right thing (SPEC W5, W7)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from omnimsg.cli import main

NOW = ["--now", "2026-11-23T12:00:00+00:00"]


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(args), out=out)
    return status, out.getvalue()


def test_profiles_prints_a_table_per_builtin_profile() -> None:
    status, out = run("profiles", "--as-of", "2026-11-23T00:00:00Z")
    assert status == 0
    for name in ("respondio", "livetex", "expertconnect"):
        assert f"{name}:" in out
    wechat = next(line for line in out.splitlines() if line.startswith("wechat"))
    assert "48h" in wechat
    assert " 20 " in wechat


def test_check_wechat_47h_19_sent_is_allowed_with_one_remaining() -> None:
    """SPEC W5: the 20th message in the 48 h window is the last."""
    status, out = run("check", "--channel", "wechat", "--last-inbound", "47h", "--sent", "19", *NOW)
    assert status == 0
    assert "allowed (free_form)" in out
    assert "1 remaining" in out
    assert "reason: within_window" in out


def test_check_with_exit_code_exits_1_on_a_refusal() -> None:
    """SPEC W7: the reason is printed in words and as a code."""
    args = ("check", "--channel", "wechat", "--last-inbound", "47h", "--sent", "20", *NOW)
    status, out = run(*args, "--exit-code")
    assert status == 1
    assert "window_cap_reached (SPEC W5)" in out
    assert run(*args)[0] == 0


def test_check_accepts_an_iso_last_inbound() -> None:
    status, out = run(
        "check", "--channel", "whatsapp", "--last-inbound", "2026-11-22T12:00:00+00:00", *NOW
    )
    assert status == 0
    assert "template_required" in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("check", "--channel", "fax", *NOW), "unknown channel kind 'fax'"),
        (("check", "--channel", "sms", "--now", "2026-11-23T12:00:00"), "timezone-aware"),
        (("check", "--channel", "sms", "--last-inbound", "yesterday", *NOW), "--last-inbound"),
        (("profiles", "nosuch"), "no built-in profile 'nosuch'"),
    ],
)
def test_errors_exit_2_with_a_message(
    args: tuple[str, ...], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(list(args), out=io.StringIO()) == 2
    assert needle in capsys.readouterr().err


EXAMPLES = Path(__file__).parent.parent / "examples"


def test_segment_describes_counts_samples_and_reports_rejected_rows() -> None:
    """SPEC A1, A5: the segment in words, who is in it, and every bad CSV row by line."""
    status, out = run(
        "segment",
        str(EXAMPLES / "segment.json"),
        "--contacts",
        str(EXAMPLES / "contacts.csv"),
        "--custom-field",
        "score=number",
        *NOW,
    )
    assert status == 0
    assert "segment: tags include any of vip, gold and score is greater than 500" in out
    assert "8 rows read, 5 imported, 1 merged, 2 rejected" in out
    assert "in segment: 3 of 5 contacts" in out
    assert "line 6: invalid_email" in out
    assert "line 7: invalid_phone" in out


def test_segment_with_an_undeclared_custom_field_names_the_path(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """SPEC A1: a custom field must be declared with its type."""
    status = main(["segment", str(EXAMPLES / "segment.json"), *NOW], out=io.StringIO())
    assert status == 2
    assert "all[1]" in capsys.readouterr().err


def test_segment_file_errors_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    latin1 = tmp_path / "seg.json"
    latin1.write_bytes(
        '{"field": "first_name", "op": "equals", "value": "Jos\xe9"}'.encode("latin-1")
    )
    assert main(["segment", str(latin1), *NOW], out=io.StringIO()) == 2
    assert "not UTF-8" in capsys.readouterr().err
    seg = EXAMPLES / "segment.json"
    args = ["segment", str(seg), "--custom-field", "score=number", *NOW]
    assert main([*args, "--contacts", str(tmp_path / "none.csv")], out=io.StringIO()) == 2
    assert "cannot read contacts file" in capsys.readouterr().err


def test_negative_counts_are_refused_by_the_parser() -> None:
    with pytest.raises(SystemExit):
        main(["check", "--channel", "wechat", "--sent", "-1", *NOW], out=io.StringIO())
