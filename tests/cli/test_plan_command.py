"""``omnimsg plan``: a draft planned for a contacts CSV, summarised and written as JSON Lines.

The bundled example (a car dealer's winter-service reminder through two SMS numbers,
examples/winter_service.toml, to the 4,000 contacts of examples/winter_contacts.py)
is planned once for the module; smaller drafts and CSVs are written per test.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from omnimsg.cli import _plan, main

from .conftest import EXAMPLES, NOW, Result, Run, run_program

DRAFT = str(EXAMPLES / "winter_service.toml")
MADRID = ZoneInfo("Europe/Madrid")
EXPERTCONNECT = ("--profile", "expertconnect", "--region", "ES", "--account-tz", "Europe/Madrid")
BOUND_SECONDS = 60


def invoke(*args: str) -> Result:
    """Run in this process without pytest fixtures (usable in a module-scoped fixture)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(args))
    return Result(status, out.getvalue(), err.getvalue())


def _winter_contacts() -> Any:
    spec = importlib.util.spec_from_file_location(
        "winter_contacts", EXAMPLES / "winter_contacts.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Winter:
    """The example planned once: the CSV, the printed run, the JSON run and the plan file."""

    def __init__(self, folder: Path) -> None:
        self.csv = str(_winter_contacts().write_csv(folder / "winter.csv"))
        self.out = folder / "plan.jsonl"
        self.again = folder / "again.jsonl"
        common = (DRAFT, "--contacts", self.csv, *EXPERTCONNECT, *NOW)
        self.text = invoke("plan", *common, "--out", str(self.out))
        self.json = invoke("plan", *common, "--out", str(self.again), "--json")
        self.records = [json.loads(line) for line in self.out.read_text("utf-8").splitlines()]


@pytest.fixture(scope="module")
def winter(tmp_path_factory: pytest.TempPathFactory) -> Winter:
    return Winter(tmp_path_factory.mktemp("winter"))


def _draft(folder: Path, extra: str = "", *, name: str = "draft.toml") -> str:
    """A small SMS draft for the expertconnect profile, two numbers of team service."""
    path = folder / name
    path.write_text(
        f"""
id = "test-1"
name = "Test broadcast"
channels = ["sms"]
team = "service"
{extra}
[[senders]]
account = "sms-1"
channel = "sms"
team = "service"

[[senders]]
account = "sms-2"
channel = "sms"
team = "service"

[[content.sms]]
text = "Hola {{{{ first_name | \\"cliente\\" }}}}, su coche le espera."

[schedule]
start = "2026-12-01T09:00:00+01:00"
""",
        encoding="utf-8",
    )
    return str(path)


def _csv(folder: Path, text: str, name: str = "contacts.csv") -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _outcomes(path: Path) -> dict[str, dict[str, Any]]:
    records = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    return {r["entry"]: r for r in records if r["type"] == "outcome"}


# --- the bundled example ---------------------------------------------------------------


def test_the_example_prints_the_summary_per_channel_and_account(winter: Winter) -> None:
    """SPEC B7: messages and recipients; B12 held; X1 and B12 exclusions with their rule."""
    result = winter.text
    assert result.status == 0, result.err
    assert result.err == ""
    out = result.out
    summary = winter.records[-1]
    assert (
        f"a total of {summary['messages']:,} messages to {summary['recipients']:,} recipients"
        in out
    )
    assert "contacts: 4,000 rows read, 4,000 imported, 0 merged, 0 rejected" in out
    assert "per channel:" in out
    assert "per account:" in out
    lines = out.splitlines()
    for account in ("sms-1", "sms-2"):
        tally = summary["by_account"][account]
        row = next(line for line in lines if line.startswith(account + " "))
        assert f"{tally['messages']:,}" in row
    held = next(line for line in lines if line.startswith("opt_in_required"))
    assert " B12 " in held
    assert f"{summary['held_by_reason']['opt_in_required']:,}" in held
    opted_out = next(line for line in lines if line.startswith("opted_out"))
    assert " X1 " in opted_out
    assert "opted out" in opted_out
    assert f"plan written to {winter.out}" in out


def test_the_example_spills_to_the_next_day_at_1500_recipients_per_number(
    winter: Winter,
) -> None:
    """SPEC B11: no number passes 1,500 recipients in a day of its zone; the rest moves on."""
    recipients: dict[tuple[str, str], set[str]] = {}
    for record in winter.records:
        for send in record.get("sends", ()):
            day = datetime.fromisoformat(send["not_before"]).astimezone(MADRID).date()
            recipients.setdefault((send["account_id"], day.isoformat()), set()).add(
                send["contact_id"]
            )
    assert max(len(who) for who in recipients.values()) <= 1_500
    first_day = {
        account: len(who) for (account, day), who in recipients.items() if day == "2026-12-01"
    }
    assert first_day == {"sms-1": 1_500, "sms-2": 1_500}
    later = [day for (_, day) in recipients if day > "2026-12-01"]
    assert later, "4,000 contacts and their prompts do not fit in 3,000 a day"
    summary = winter.records[-1]
    assert summary["days_spanned"] >= 2


def test_the_example_holds_contacts_never_asked_and_prompts_them(winter: Winter) -> None:
    """SPEC B12: a contact never asked is held, with the prompt and a reminder 24 h later."""
    held = [r for r in winter.records if r["type"] == "outcome" and r["outcome"] == "held"]
    assert held
    for record in held[:50]:
        assert record["reason"] == "opt_in_required"
        kinds = [send["kind"] for send in record["sends"]]
        assert kinds == ["prompt", "reminder"]
        prompt, reminder = (datetime.fromisoformat(s["not_before"]) for s in record["sends"])
        assert (reminder - prompt).total_seconds() >= 24 * 3600


def test_the_json_document_holds_the_summary_of_the_plan_file(winter: Winter) -> None:
    """SPEC B7, B17: --json prints the summary the JSON Lines end with, and the reasons."""
    result = winter.json
    assert result.status == 0, result.err
    document = json.loads(result.out)
    assert set(document) == {"draft", "profile", "now", "out", "contacts", "summary", "reasons"}
    assert document["profile"] == "expertconnect"
    assert document["now"] == "2026-11-23T12:00:00+00:00"
    assert document["contacts"]["total"] == 4_000
    last = dict(winter.records[-1])
    assert last.pop("type") == "summary"
    assert document["summary"] == last
    summary = document["summary"]
    assert summary["planned"] + summary["held"] + summary["excluded"] == summary["audience"]
    assert summary["paid_messages"] == 0
    assert document["reasons"]["opted_out"]["rule"] == "X1"
    assert document["reasons"]["opt_in_required"]["rule"] == "B12"


def test_the_plan_file_is_the_same_bytes_for_the_same_inputs(winter: Winter) -> None:
    """SPEC X5: same draft, contacts and now: byte-identical plans, keys included."""
    assert winter.out.read_bytes() == winter.again.read_bytes()
    keys = [s["key"] for r in winter.records for s in r.get("sends", ())]
    assert len(keys) == len(set(keys))


def test_the_plan_file_has_a_header_outcomes_in_order_and_the_summary(winter: Winter) -> None:
    kinds = Counter(record["type"] for record in winter.records)
    assert kinds == {"plan": 1, "outcome": 4_000, "summary": 1}
    assert winter.records[0]["type"] == "plan"
    assert winter.records[0]["broadcast_id"] == "winter-service-2026"
    entries = [r["entry"] for r in winter.records if r["type"] == "outcome"]
    assert entries == sorted(entries)  # the CSV's order: cust-00001, cust-00002, ...


# --- the CSV's subscription and last channel columns --------------------------------------


def test_subscription_columns_set_consent_per_sender(run: Run, tmp_path: Path) -> None:
    """SPEC B12, X1: subscribed is planned, never asked is held, an opt-out with any of the
    team's numbers excludes, and a per-account column overrides the column for all."""
    draft = _draft(tmp_path)
    contacts = _csv(
        tmp_path,
        "id,first_name,phone,subscription,subscription:sms-2\n"
        "yes,Ana,612345678,subscribed,\n"
        "never,Bea,612345679,,\n"
        "stop-2,Cris,612345670,subscribed,unsubscribed\n"
        "only-2,Dani,612345671,,subscribed\n"
        "no,Eva,612345672,declined,\n",
    )
    out = tmp_path / "plan.jsonl"
    result = run("plan", draft, "--contacts", contacts, *EXPERTCONNECT, *NOW, "--out", str(out))
    assert result.status == 0, result.err
    outcomes = _outcomes(out)
    assert outcomes["yes"]["outcome"] == "planned"
    assert outcomes["yes"]["sends"][0]["text"].startswith("Hola Ana,")
    assert (outcomes["never"]["outcome"], outcomes["never"]["reason"]) == (
        "held",
        "opt_in_required",
    )
    assert (outcomes["stop-2"]["outcome"], outcomes["stop-2"]["reason"]) == (
        "excluded",
        "opted_out",
    )
    assert outcomes["only-2"]["outcome"] == "planned"
    assert outcomes["only-2"]["account_id"] == "sms-2"
    assert (outcomes["no"]["reason"], outcomes["no"]["rule"]) == ("opt_in_declined", "B12")


def test_a_last_channel_column_that_is_not_selected_excludes(run: Run, tmp_path: Path) -> None:
    """SPEC B3: a contact whose last interacted channel is deselected gets nothing."""
    draft = _draft(tmp_path)
    contacts = _csv(
        tmp_path,
        "id,phone,subscription,last_channel\n"
        "tg,612345678,subscribed,telegram\n"
        "sms,612345679,subscribed,SMS\n"
        "none,612345670,subscribed,\n",
    )
    out = tmp_path / "plan.jsonl"
    result = run("plan", draft, "--contacts", contacts, *EXPERTCONNECT, *NOW, "--out", str(out))
    assert result.status == 0, result.err
    outcomes = _outcomes(out)
    assert (outcomes["tg"]["reason"], outcomes["tg"]["rule"]) == ("channel_not_selected", "B3")
    assert outcomes["sms"]["outcome"] == "planned"
    assert outcomes["none"]["outcome"] == "planned"  # no last channel: its phone's SMS


def test_the_read_columns_are_named_as_the_importer_names_columns(run: Run, tmp_path: Path) -> None:
    """Case, spaces and punctuation aside, as every CSV header (SPEC A5)."""
    contacts = _csv(
        tmp_path,
        "id,phone,Subscription,SUBSCRIPTION:sms-2,Last Channel\n"
        "c1,612345678,subscribed,,telegram\n"
        "c2,612345679,not_asked,Unsubscribed,sms\n",
    )
    out = tmp_path / "plan.jsonl"
    result = run(
        "plan", _draft(tmp_path), "--contacts", contacts, *EXPERTCONNECT, *NOW, "--out", str(out)
    )
    assert result.status == 0, result.err
    outcomes = _outcomes(out)
    assert outcomes["c1"]["reason"] == "channel_not_selected"
    assert outcomes["c2"]["reason"] == "opted_out"


@pytest.mark.parametrize(
    ("column", "value", "shown"),
    [
        ("subscription", "maybe", "'maybe' is not a status"),
        ("subscription:sms-1", "yes please", "'yes please' is not a status"),
        ("last_channel", "pigeon", "'pigeon' is not a channel"),
    ],
)
def test_a_bad_value_in_a_read_column_names_the_contact_and_column(
    run: Run, tmp_path: Path, column: str, value: str, shown: str
) -> None:
    contacts = _csv(tmp_path, f"id,phone,{column}\nc1,612345678,{value}\n")
    result = run("plan", _draft(tmp_path), "--contacts", contacts, *EXPERTCONNECT, *NOW)
    assert (result.status, result.out) == (3, "")
    assert "contact 'c1'" in result.err
    assert repr(column) in result.err
    assert shown in result.err


def test_the_draft_segment_declares_the_csv_custom_fields(run: Run, tmp_path: Path) -> None:
    """SPEC A1: a number custom field of the segment is read as a number from the CSV."""
    segment = """
[audience]
custom_fields = { km = "number" }

[audience.segment]
field = "custom.km"
op = "gt"
value = 20000
"""
    draft = _draft(tmp_path, segment)
    contacts = _csv(
        tmp_path,
        "id,phone,km,subscription\nfar,612345678,30000,subscribed\nnear,612345679,900,subscribed\n",
    )
    result = run("plan", draft, "--contacts", contacts, *EXPERTCONNECT, *NOW, "--json")
    assert result.status == 0, result.err
    assert json.loads(result.out)["summary"]["audience"] == 1


def test_rejected_rows_are_listed_and_not_planned(run: Run, tmp_path: Path) -> None:
    """SPEC A5: a row the importer rejects is reported with its line."""
    contacts = _csv(tmp_path, "id,phone,subscription\nok,612345678,subscribed\nbad,12,subscribed\n")
    result = run("plan", _draft(tmp_path), "--contacts", contacts, *EXPERTCONNECT, *NOW)
    assert result.status == 0, result.err
    assert "1 rejected" in result.out
    assert any(
        line.startswith("line 3") and "invalid_phone" in line for line in result.out.splitlines()
    )
    assert "a total of 1 message to 1 recipient" in result.out


# --- refusals --------------------------------------------------------------------------------


def test_a_draft_too_slow_for_its_audience_is_refused_before_planning(
    run: Run, tmp_path: Path
) -> None:
    """SPEC B10: a rate that needs more than 7 days for the CSV's audience is refused."""
    draft = _draft(tmp_path, '[rate]\nmessages = 1\nper = "hour"\n')
    rows = "".join(f"c{n},6123{n:05d},subscribed\n" for n in range(400))
    contacts = _csv(tmp_path, "id,phone,subscription\n" + rows)
    out = tmp_path / "plan.jsonl"
    result = run("plan", draft, "--contacts", contacts, *EXPERTCONNECT, *NOW, "--out", str(out))
    assert (result.status, result.out) == (3, "")
    assert "rate" in result.err
    assert "B10" in result.err
    assert not out.exists()


def test_content_too_long_for_the_channel_is_refused_naming_field_and_rule(
    run: Run, tmp_path: Path
) -> None:
    """SPEC C1: 240 characters on ExpertConnect SMS."""
    draft = tmp_path / "long.toml"
    draft.write_text(
        Path(_draft(tmp_path)).read_text("utf-8").replace("su coche le espera.", "x" * 300),
        encoding="utf-8",
    )
    contacts = _csv(tmp_path, "id,phone\nc1,612345678\n")
    result = run("plan", str(draft), "--contacts", contacts, *EXPERTCONNECT, *NOW)
    assert result.status == 3
    assert "content.sms[0].text" in result.err
    assert "C1" in result.err


def test_an_unknown_sender_account_is_refused(run: Run, tmp_path: Path) -> None:
    """SPEC B2: targeting one account that is not a sender."""
    draft = Path(_draft(tmp_path)).read_text("utf-8")
    draft = draft.replace('channels = ["sms"]', 'targeting = "account"\naccount = "sms-9"')
    path = tmp_path / "account.toml"
    path.write_text(draft, encoding="utf-8")
    contacts = _csv(tmp_path, "id,phone\nc1,612345678\n")
    result = run("plan", str(path), "--contacts", contacts, *EXPERTCONNECT, *NOW)
    assert result.status == 3
    assert "unknown account 'sms-9'" in result.err


def test_bad_toml_is_refused_naming_the_file(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('id = "x\nname = ', encoding="utf-8")
    contacts = _csv(tmp_path, "id,phone\nc1,612345678\n")
    result = run("plan", str(path), "--contacts", contacts, *NOW)
    assert (result.status, result.out) == (3, "")
    assert "not valid TOML" in result.err
    assert "bad.toml" in result.err


def test_a_draft_that_is_neither_toml_nor_json_is_refused(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "draft.txt"
    path.write_text("id = 'x'", encoding="utf-8")
    result = run("plan", str(path), "--contacts", str(tmp_path / "c.csv"), *NOW)
    assert result.status == 3
    assert "expected a .toml or .json file" in result.err


@pytest.mark.parametrize(
    ("flag", "value", "shown"),
    [
        ("--now", "2026-11-23T12:00", "--now: '2026-11-23T12:00' has no UTC offset"),
        ("--now", "tomorrow", "--now: expected an ISO 8601 instant"),
        ("--account-tz", "Mars/Olympus", "--account-tz: unknown time zone"),
        ("--region", "Narnia", "--region: "),
        ("--custom-field", "km", "--custom-field: expected NAME=TYPE"),
        ("--unknown-columns", "keep", "--unknown-columns"),
    ],
)
def test_flag_values_it_cannot_read_are_usage_errors(
    run: Run, tmp_path: Path, flag: str, value: str, shown: str
) -> None:
    contacts = _csv(tmp_path, "id,phone\nc1,612345678\n")
    args = ["plan", _draft(tmp_path), "--contacts", contacts, "--profile", "expertconnect"]
    if flag != "--now":
        args += list(NOW)
    result = run(*args, flag, value)
    assert (result.status, result.out) == (2, "")
    assert result.err.startswith("omnimsg: error: ")
    assert shown in result.err


def test_contacts_are_required(run: Run, tmp_path: Path) -> None:
    result = run("plan", _draft(tmp_path), *NOW)
    assert result.status == 2
    assert "--contacts" in result.err


def test_an_unknown_profile_is_refused(run: Run, tmp_path: Path) -> None:
    contacts = _csv(tmp_path, "id,phone\nc1,612345678\n")
    result = run("plan", _draft(tmp_path), "--contacts", contacts, "--profile", "nope", *NOW)
    assert result.status == 3
    assert "no built-in profile 'nope'" in result.err


def _odd(tmp_path: Path, kind: str) -> str:
    if kind == "missing":
        return str(tmp_path / "missing.toml")
    if kind == "directory":
        folder = tmp_path / "folder.toml"
        folder.mkdir()
        return str(folder)
    if kind == "nul":
        return str(tmp_path / "nul\x00.toml")
    assert kind == "long"
    return str(tmp_path / ("n" * 5_000 + ".toml"))


ODD = ["missing", "directory", "nul", "long"]


@pytest.mark.parametrize("kind", ODD)
def test_a_draft_file_that_cannot_be_read_is_an_omnimsg_error(
    run: Run, tmp_path: Path, kind: str
) -> None:
    contacts = _csv(tmp_path, "id,phone\nc1,612345678\n")
    result = run("plan", _odd(tmp_path, kind), "--contacts", contacts, *EXPERTCONNECT, *NOW)
    assert (result.status, result.out) == (3, "")
    assert result.err.startswith("omnimsg: error: ")
    assert "Traceback" not in result.err
    assert "\x00" not in result.err


@pytest.mark.parametrize("kind", ODD)
def test_a_contacts_file_that_cannot_be_read_is_an_omnimsg_error(
    run: Run, tmp_path: Path, kind: str
) -> None:
    path = _odd(tmp_path, kind).replace(".toml", ".csv")
    if kind == "directory":
        os.mkdir(path)
    result = run("plan", _draft(tmp_path), "--contacts", path, *EXPERTCONNECT, *NOW)
    assert (result.status, result.out) == (3, "")
    assert "contacts file" in result.err
    assert "\x00" not in result.err


@pytest.mark.parametrize("kind", ["directory", "nul", "missing-folder"])
def test_a_plan_file_that_cannot_be_written_is_an_omnimsg_error(
    run: Run, tmp_path: Path, kind: str
) -> None:
    contacts = _csv(tmp_path, "id,phone,subscription\nc1,612345678,subscribed\n")
    if kind == "missing-folder":
        out = str(tmp_path / "no" / "such" / "plan.jsonl")
    else:
        out = _odd(tmp_path, kind)
    result = run(
        "plan", _draft(tmp_path), "--contacts", contacts, *EXPERTCONNECT, *NOW, "--out", out
    )
    assert (result.status, result.out) == (3, "")
    assert "plan file" in result.err


@pytest.mark.parametrize("which", ["draft", "contacts", "out"])
def test_a_fifo_is_refused_without_waiting(tmp_path: Path, which: str) -> None:
    fifo = tmp_path / "a-fifo.toml"
    os.mkfifo(fifo)
    files = {
        "draft": _draft(tmp_path),
        "contacts": _csv(tmp_path, "id,phone\nc1,612345678\n"),
        "out": str(tmp_path / "plan.jsonl"),
    }
    files[which] = str(fifo)
    result = run_program(
        "plan",
        files["draft"],
        "--contacts",
        files["contacts"],
        "--out",
        files["out"],
        *EXPERTCONNECT,
        *NOW,
        timeout=BOUND_SECONDS,
    )
    assert result.returncode == 3
    assert b"FIFO" in result.stderr
    assert b"Traceback" not in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files of mode 000")
@pytest.mark.parametrize("which", ["draft", "contacts", "out"])
def test_an_unreadable_file_is_refused(run: Run, tmp_path: Path, which: str) -> None:
    files = {
        "draft": _draft(tmp_path),
        "contacts": _csv(tmp_path, "id,phone\nc1,612345678\n"),
        "out": str(tmp_path / "plan.jsonl"),
    }
    Path(files["out"]).write_text("", encoding="utf-8")
    Path(files[which]).chmod(0)
    result = run(
        "plan",
        files["draft"],
        "--contacts",
        files["contacts"],
        "--out",
        files["out"],
        *EXPERTCONNECT,
        *NOW,
    )
    assert (result.status, result.out) == (3, "")
    assert "ermission denied" in result.err


@pytest.mark.parametrize(
    "args",
    [
        ("plan", "\x00", "--contacts", "c.csv"),
        ("plan", "draft.toml", "--contacts", "a\x00b"),
        ("plan", "draft.toml", "--contacts", "c.csv", "--profile", "\x00"),
        ("plan", "draft.toml", "--contacts", "c.csv", "--out", "\x00"),
        ("plan", "draft.toml", "--contacts", "c.csv", "--account-tz", "\x00"),
        ("plan", "draft.toml", "--contacts", "c.csv", "--region", "\x00"),
        ("plan", "draft.toml", "--contacts", "c.csv", "--now", "\x00"),
        ("plan", "\udcff.toml", "--contacts", "c.csv"),
        ("plan", "d.toml", "--contacts", "c.csv", "--profile", "x\ud800y"),
        ("plan", "x" * 100_000, "--contacts", "c.csv"),
    ],
    ids=repr,
)
def test_hostile_arguments_end_in_a_status_never_an_exception(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    monkeypatch.chdir(tmp_path)
    _draft(tmp_path)
    _csv(tmp_path, "id,phone\nc1,612345678\n", name="c.csv")
    result = invoke(args[0], *NOW, *args[1:])  # a --now in args comes last and wins
    assert result.status in (2, 3), result.err
    assert result.err.startswith("omnimsg: error: ")
    assert "\x00" not in result.err
    assert "Traceback" not in result.err


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, Path]:
    """A draft, a one-contact CSV and a folder for plan files, shared by the examples."""
    folder = tmp_path_factory.mktemp("small")
    contacts = _csv(folder, "id,phone,subscription\nc1,612345678,subscribed\n")
    return _draft(folder), contacts, folder


FLAGS = ["DRAFT", "--contacts", "--profile", "--account-tz", "--region", "--custom-field",
         "--unknown-columns", "--now", "--out"]  # fmt: skip


@given(st.sampled_from(FLAGS), st.text(st.characters(codec=None, categories=None), max_size=40))
def test_any_value_in_any_flag_ends_in_a_status(
    small: tuple[str, str, Path], flag: str, value: str
) -> None:
    draft, contacts, folder = small
    assume(not value.startswith("-"))  # another flag, not a value
    if flag in ("--out", "--profile", "--contacts", "DRAFT"):
        value = str(folder / "sub" / value)  # never a file outside the test's folder
    args = {"DRAFT": draft, "--contacts": contacts, "--now": NOW[1]}
    args[flag] = value
    argv = [args.pop("DRAFT")]
    for name, given_value in args.items():
        argv += [name, given_value]
    result = invoke("plan", *argv)
    assert result.status in (0, 2, 3), result.err
    if result.status:
        assert result.err.startswith("omnimsg: error: ")
        assert "Traceback" not in result.err
    assert "\x1b" not in result.out


def test_paths_and_names_are_printed_escaped(run: Run, tmp_path: Path) -> None:
    contacts = _csv(
        tmp_path,
        'id,first_name,phone,subscription\nc1,"\x1b[2J[bold]",612345678,subscribed\n',
    )
    out = tmp_path / "plan\x1b[2J.jsonl"
    result = run(
        "plan", _draft(tmp_path), "--contacts", contacts, *EXPERTCONNECT, *NOW, "--out", str(out)
    )
    assert result.status == 0, result.err
    assert "\x1b" not in result.out
    assert "plan\\x1b[2J.jsonl" in result.out
    sends = _outcomes(out)["c1"]["sends"]
    assert sends[0]["text"].startswith("Hola \x1b[2J[bold],")


# --- the progress bar ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("contacts", "terminal", "json_output", "shown"),
    [
        (5_001, True, False, True),
        (5_000, True, False, False),
        (1_000_000, False, False, False),
        (1_000_000, True, True, False),
    ],
)
def test_the_progress_bar_is_for_large_audiences_on_a_terminal(
    contacts: int, terminal: bool, json_output: bool, shown: bool
) -> None:
    assert _plan.shows_progress(contacts, terminal=terminal, json_output=json_output) is shown


def test_a_run_with_the_progress_bar_prints_the_same_summary(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = "".join(f"c{n},6123{n:05d},subscribed\n" for n in range(30))
    contacts = _csv(tmp_path, "id,phone,subscription\n" + rows)
    args = ("plan", _draft(tmp_path), "--contacts", contacts, *EXPERTCONNECT, *NOW)
    plain = run(*args)
    monkeypatch.setattr(_plan, "PROGRESS_THRESHOLD", 10)
    monkeypatch.setattr(_plan, "is_terminal", lambda stream: True)
    shown = run(*args)
    assert shown.status == plain.status == 0
    assert shown.out == plain.out
    assert "a total of 30 messages to 30 recipients" in shown.out


def test_without_now_the_clock_is_read(run: Run, tmp_path: Path) -> None:
    contacts = _csv(tmp_path, "id,phone,subscription\nc1,612345678,subscribed\n")
    result = run("plan", _draft(tmp_path), "--contacts", contacts, *EXPERTCONNECT, "--json")
    assert result.status == 0, result.err
    now = datetime.fromisoformat(json.loads(result.out)["now"])
    assert now.tzinfo is not None
