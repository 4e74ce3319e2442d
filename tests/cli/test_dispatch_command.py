"""``omnimsg dispatch PLAN.jsonl``: a plan sent through a user's transport, exactly once (X5).

The plans here are due at the real clock's now (livetex Telegram: no window, cap or
quiet hours, W1, W8), so the command sends at once. The transport is a module written
to a temporary folder, loaded the way a user's is (``file.py:factory``).
"""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from omnimsg.broadcasts import Audience, BroadcastMessage, Draft, Sender, plan_broadcast
from omnimsg.channels.kinds import ChannelKind
from omnimsg.channels.registry import load_profile
from omnimsg.contacts import ChannelIdentity, Contact
from omnimsg.delivery import delivery_report
from omnimsg.stores.sqlite import SqliteStore

from .conftest import Run, run_program

ACCOUNT = "tg-bot"
TRANSPORT = """
import os
from omnimsg.transports import SendResult, SendStatus

LOG = os.environ["OMNIMSG_TEST_LOG"]


class LogTransport:
    def send(self, request):
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(request.idempotency_key + "\\n")
        if request.recipient == "tg3":
            return SendResult(request.idempotency_key, SendStatus.REJECTED, error="blocked by user")
        return SendResult(request.idempotency_key, SendStatus.ACCEPTED, provider_message_id="m1")


class AsyncLogTransport:
    async def asend(self, request):
        return LogTransport().send(request)


def make():
    return LogTransport()


def make_async():
    return AsyncLogTransport()


def make_nothing():
    return object()


def make_broken():
    raise RuntimeError("no token configured")
"""


def write_plan(path: Path, count: int = 6, draft_id: str = "cli-bc") -> Path:
    kind = ChannelKind.TELEGRAM
    now = datetime.now(UTC)
    contacts = [
        Contact(
            id=f"c{n}",
            first_name="Ann",
            identities=(
                ChannelIdentity(ACCOUNT, kind, f"tg{n}", last_inbound_at=now - timedelta(days=1)),
            ),
            last_interacted_channel=kind,
        )
        for n in range(count)
    ]
    draft = Draft(
        id=draft_id,
        name="CLI dispatch",
        audience=Audience(),
        content={kind: (BroadcastMessage(text="Hello {{ first_name }}"),)},
        senders=(Sender(ACCOUNT, kind),),
    )
    out = io.StringIO()
    plan_broadcast(draft, contacts, profile=load_profile("livetex"), now=now).write_jsonl(out)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "transport.py").write_text(TRANSPORT, encoding="utf-8")
    monkeypatch.setenv("OMNIMSG_TEST_LOG", str(tmp_path / "sent.log"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def logged(folder: Path) -> list[str]:
    log = folder / "sent.log"
    return log.read_text(encoding="utf-8").split() if log.exists() else []


def test_dispatch_sends_each_message_once_and_lists_what_failed(run: Run, folder: Path) -> None:
    # SPEC X5, B15: a second run sends nothing; the refused send is listed with its reason
    plan = write_plan(folder / "plan.jsonl")
    args = ("dispatch", str(plan), "--transport", "transport.py:make", "--store", "sqlite:///s.db")
    first = run(*args)
    assert first.status == 0, first.err
    assert "sent" in first.out
    assert "blocked by user" in first.out
    assert len(logged(folder)) == 6
    again = run(*args, "--json")
    assert again.status == 0, again.err
    document = json.loads(again.out)
    assert document["counts"] == {"failed": 1, "sent": 5}
    assert document["broadcast_id"] == "cli-bc"
    (failed,) = document["failed"]
    assert (failed["contact_id"], failed["reason"], failed["rule"]) == ("c3", "rejected", "B15")
    assert failed["error"] == "blocked by user"
    assert len(logged(folder)) == 6, "a second run must send nothing (X5)"
    store = SqliteStore(folder / "s.db")
    try:
        assert delivery_report(store, "cli-bc").sent == 5
    finally:
        store.close()


def test_an_async_transport_is_run_by_the_async_dispatcher(run: Run, folder: Path) -> None:
    plan = write_plan(folder / "plan.jsonl", count=3)
    result = run(
        "dispatch",
        str(plan),
        "--transport",
        "transport:make_async",
        "--store",
        "memory://",
        "--json",
    )
    assert result.status == 0, result.err
    assert json.loads(result.out)["counts"] == {"sent": 3}


def test_tenants_of_one_store_keep_separate_ledgers(run: Run, folder: Path) -> None:
    plan = write_plan(folder / "plan.jsonl", count=2)
    base = ("dispatch", str(plan), "--transport", "transport.py:make", "--store", "sqlite:///t.db")
    assert run(*base, "--tenant", "shop-a").status == 0
    assert run(*base, "--tenant", "shop-b").status == 0
    assert len(logged(folder)) == 4  # the same keys, sent once per tenant
    assert run(*base, "--tenant", "shop-a").status == 0
    assert len(logged(folder)) == 4


@pytest.mark.parametrize(
    ("transport", "words"),
    [
        ("transport.py", "module:factory"),
        ("nowhere.py:make", "no Python file"),
        ("no_such_module_x:make", "cannot import"),
        ("transport.py:absent", "no callable"),
        ("transport.py:make_nothing", "no send or asend"),
        ("transport.py:make_broken", "no token configured"),
    ],
)
def test_a_transport_that_cannot_be_had_is_status_3(
    run: Run, folder: Path, transport: str, words: str
) -> None:
    plan = write_plan(folder / "plan.jsonl", count=1)
    result = run("dispatch", str(plan), "--transport", transport, "--store", "memory://")
    assert result.status == 3
    assert words in result.err
    assert logged(folder) == []


@pytest.mark.parametrize(
    ("store", "words"),
    [
        ("state.db", "expected a URL"),
        ("ftp://x/y", "unknown scheme"),
        ("sqlite:///", "SQLite URL"),
        ("sqlite:///transport.py/state.db", "transport.py"),
    ],
)
def test_a_store_that_cannot_be_opened_is_status_3(
    run: Run, folder: Path, store: str, words: str
) -> None:
    plan = write_plan(folder / "plan.jsonl", count=1)
    result = run("dispatch", str(plan), "--transport", "transport.py:make", "--store", store)
    assert result.status == 3
    assert words in result.err
    assert logged(folder) == []


def test_a_plan_cut_short_sends_nothing_it_cannot_vouch_for(run: Run, folder: Path) -> None:
    plan = write_plan(folder / "plan.jsonl", count=3)
    lines = plan.read_text(encoding="utf-8").splitlines(keepends=True)
    plan.write_text("".join(lines[:-1]), encoding="utf-8")  # no summary line
    result = run("dispatch", str(plan), "--transport", "transport.py:make", "--store", "memory://")
    assert result.status == 3
    assert "summary line" in result.err


@pytest.mark.parametrize("content", ["", "not json\n", '{"type": "outcome"}\n', "\udcff"])
def test_a_file_that_is_no_plan_is_status_3(run: Run, folder: Path, content: str) -> None:
    plan = folder / "plan.jsonl"
    plan.write_bytes(content.encode("utf-8", "surrogateescape"))
    result = run("dispatch", str(plan), "--transport", "transport.py:make", "--store", "memory://")
    assert result.status == 3
    assert "plan" in result.err
    assert logged(folder) == []


def test_odd_plan_paths_are_status_3(run: Run, folder: Path) -> None:
    fifo = folder / "fifo"
    os.mkfifo(fifo)
    for path in (str(folder), str(folder / "missing.jsonl"), str(fifo), "bad\x00name"):
        result = run("dispatch", path, "--transport", "transport.py:make", "--store", "memory://")
        assert result.status in (2, 3), path
        assert "Traceback" not in result.err


def test_a_corrupt_ledger_row_is_kept_and_named(run: Run, folder: Path) -> None:
    plan = write_plan(folder / "plan.jsonl", count=3)
    key = json.loads(plan.read_text(encoding="utf-8").splitlines()[1])["sends"][0]["key"]
    store = SqliteStore(folder / "s.db")
    try:
        assert store.put_record("ledger", key, None, "{garbage", group="cli-bc")
    finally:
        store.close()
    args = ("dispatch", str(plan), "--transport", "transport.py:make", "--store", "sqlite:///s.db")
    result = run(*args)
    assert result.status == 3
    assert key in result.err
    assert len(logged(folder)) == 2  # the others went
    store = SqliteStore(folder / "s.db")
    try:
        assert store.get_record("ledger", key) == (1, "{garbage")
    finally:
        store.close()


def test_the_program_runs_from_a_shell(folder: Path) -> None:
    plan = write_plan(folder / "plan.jsonl", count=2)
    env = dict(os.environ)
    env["OMNIMSG_TEST_LOG"] = str(folder / "sent.log")
    result = run_program(
        "dispatch",
        str(plan),
        "--transport",
        str(folder / "transport.py") + ":make",
        "--store",
        f"sqlite:///{folder / 'p.db'}",
        "--json",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["counts"] == {"sent": 2}


def test_help_names_every_flag(run: Run) -> None:
    result = run("dispatch", "--help")
    assert result.status == 0
    for flag in (
        "--transport",
        "--store",
        "--tenant",
        "--profile",
        "--worker-id",
        "--lease",
        "--max-attempts",
        "--account-tz",
        "--json",
    ):
        assert flag in result.out


def test_a_progress_bar_shows_on_a_terminal(
    run: Run, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omnimsg.cli import _dispatch

    monkeypatch.setattr(_dispatch, "is_terminal", lambda stream: True)
    plan = write_plan(folder / "plan.jsonl", count=3)
    result = run("dispatch", str(plan), "--transport", "transport.py:make", "--store", "memory://")
    assert result.status == 0, result.err
    assert len(logged(folder)) == 3


def test_the_json_report_never_shows_a_store_password() -> None:
    from omnimsg.cli._dispatch import _without_password

    assert _without_password("redis://:s3cret@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert _without_password("postgresql://app:s3cret@db/x") == "postgresql://app:***@db/x"
    assert _without_password("sqlite:///state.db") == "sqlite:///state.db"
    assert _without_password("redis://user@host/0") == "redis://user@host/0"
