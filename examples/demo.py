"""The main job on the embedded default: profiles, decisions, the platforms' dated rules,
the command line, a plan.

Run with ``make demo``. Every instant is fixed, so the output is the same on every run.
The command line part needs the ``cli`` extra (``pip install 'omnimsg[cli]'``, which
``make`` installs with the dev tools).

The last parts plan a car dealer's winter-service reminder
(examples/winter_service.toml) through two SMS numbers of its service team to 4,000
customers, written to a temporary directory by examples/winter_contacts.py: who gets
the reminder, who first gets the S/N prompt (B12), who said no, and how 1,500
recipients per number per day (B11) push part of the send to the next days; then
send the plan through a stand-in transport with the state in an SQLite file, exactly
once (X5), and list what the platform refused (B15).
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from contextlib import chdir
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from winter_contacts import write_csv

from omnimsg import AccountState, ConversationState, Message, decide, load_profile
from omnimsg.channels import rules_as_of
from omnimsg.channels.timeline import value_text
from omnimsg.cli import main as cli
from omnimsg.delivery import Dispatcher
from omnimsg.stores.sqlite import SqliteStore
from omnimsg.testing import FixedClock
from omnimsg.transports import SendRequest, SendResult, SendStatus

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NOW_TEXT = NOW.isoformat()
HERE = Path(__file__).parent


def banner(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(0, 70 - len(title)))


def embedded() -> None:
    banner("embedding: one decision per channel")
    respondio = load_profile("respondio")
    state = ConversationState(last_inbound_at=NOW - timedelta(hours=30))
    hello = Message(text="Hi! Your order has shipped.")
    for kind in respondio.kinds:
        caps = respondio.capabilities(kind, as_of=NOW)
        decision = decide(caps, state, hello, now=NOW, account=AccountState())
        print(f"{kind.value:16} {decision.explain()}")


def official_rules() -> None:
    banner("the platforms' own rules, as of a date (official profile)")
    official = load_profile("official")

    def wrote(day: datetime, sent: int = 0) -> ConversationState:
        """A contact who wrote 3 hours before ``day``, sent ``sent`` messages since."""
        return ConversationState(
            last_inbound_at=day - timedelta(hours=3), outbound_since_inbound=sent
        )

    for day in (datetime(2023, 6, 11, 12, tzinfo=UTC), datetime(2023, 6, 12, 12, tzinfo=UTC)):
        caps = official.capabilities("wechat", as_of=day)
        decision = decide(caps, wrote(day, 5), Message(text="More news"), now=day)
        print(f"wechat {day.date()}: 6th message in the 48 h window: {decision.explain()}")
    tagged = Message(text="20% off this week", tag="HUMAN_AGENT", marketing=True)
    caps = official.capabilities("messenger", as_of=NOW)
    print("messenger promo under HUMAN_AGENT:", decide(caps, wrote(NOW), tagged, now=NOW).explain())
    for day in (datetime(2024, 7, 30, tzinfo=UTC), datetime(2024, 7, 31, tzinfo=UTC)):
        caps = official.capabilities("google_business", as_of=day)
        decision = decide(caps, wrote(day), Message(text="Hello"), now=day)
        print(f"google_business {day.date()}: {decision.explain()}")
    view = rules_as_of(official, "whatsapp", datetime(2024, 5, 1, tzinfo=UTC))
    print("whatsapp messaging limits on 2024-05-01 (omnimsg rules whatsapp --as-of 2024-05-01):")
    for rule in view.rules:
        if rule.setting in ("tiers.version", "tiers.limits", "tiers.scope"):
            print(f"  {rule.setting:14} {value_text(rule.value)}")
    for label, changes in (("changed", view.last_change), ("changes", view.next_change)):
        when = changes[0].at.date()
        moved = [c for c in changes if c.setting in ("tiers.version", "tiers.limits")]
        for change in moved:
            before = "-" if change.before is None else value_text(change.before.value)
            after = "-" if change.after is None else value_text(change.after.value)
            print(f"  {label} {when}: {change.setting} {before} -> {after}")


def command_line() -> None:
    now = ["--now", NOW_TEXT]
    shown = ["respondio", "--channel", "whatsapp", "--channel", "wechat"]
    banner("omnimsg profiles " + " ".join(shown))
    cli(["profiles", *shown, "--as-of", NOW_TEXT])
    checks = [
        ["--channel", "wechat", "--last-inbound", "47h", "--sent", "19"],
        ["--channel", "wechat", "--last-inbound", "47h", "--sent", "20"],
        ["--channel", "whatsapp", "--last-inbound", "24h"],
        ["--channel", "whatsapp", "--last-inbound", "-2h", "--json"],
        ["--channel", "whatsapp", "--last-inbound", "2026-11-22T09:00Z"],
        ["--channel", "whatsapp", "--last-inbound", "3d", "--template", "order_update"],
        ["--channel", "messenger", "--last-inbound", "5d", "--tag", "HUMAN_AGENT"],
        ["--channel", "instagram", "--last-inbound", "8d", "--tag", "HUMAN_AGENT"],
        ["--channel", "viber", "--last-inbound", "2d", "--chatbot-count", "10000"],
        ["--profile", "livetex", "--channel", "telegram", "--last-inbound", "400d"],
        ["--profile", "livetex", "--channel", "vk", "--last-inbound", "never"],
        [
            "--profile",
            "expertconnect",
            "--channel",
            "sms",
            "--broadcast",
            "--subscription",
            "subscribed",
            "--text",
            "Nuevos modelos en exhibición este sábado",
            "--media",
            "https://ex.co/promo.jpg@image",
        ],
        ["--channel", "sms", "--text", "Price: 10€. " * 40],
        ["--channel", "sms", "--text", "Price: 10€. " * 140],
    ]
    for args in checks:
        shown = " ".join(a if len(a) <= 40 else a[:37] + "..." for a in args)
        banner("omnimsg check " + shown)
        cli(["check", *args, *now])


def segment() -> None:
    args = [
        "segment",
        str(HERE / "segment.json"),
        "--contacts",
        str(HERE / "contacts.csv"),
        "--custom-field",
        "score=number",
        "--now",
        NOW.isoformat(),
    ]
    banner("omnimsg segment examples/segment.json --contacts examples/contacts.csv")
    cli(args)


def sends_per_day(plan_file: Path, zone: ZoneInfo) -> None:
    """Recipients per number per local day, read back from the plan's JSON Lines."""
    recipients: dict[tuple[str, str], set[str]] = {}
    kinds: Counter[tuple[str, str, str]] = Counter()
    with plan_file.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            for send in record.get("sends", ()) if record["type"] == "outcome" else ():
                day = datetime.fromisoformat(send["not_before"]).astimezone(zone).date()
                key = (send["account_id"], day.isoformat())
                recipients.setdefault(key, set()).add(send["contact_id"])
                kinds[(*key, send["kind"])] += 1
    print(f"\nrecipients per number per day ({zone.key}; at most 1,500, B11):")
    headers = ("recipients", "messages", "prompts", "reminders")
    print(f"{'number':8} {'day':10} " + " ".join(f"{h:>10}" for h in headers))
    for (account, day), who in sorted(recipients.items()):
        counts = [kinds[(account, day, kind)] for kind in ("message", "prompt", "reminder")]
        print(f"{account:8} {day:10} " + " ".join(f"{n:>10,}" for n in (len(who), *counts)))
    print(
        "Both numbers reach 1,500 recipients on the first day; the rest moves to the next "
        "day, and\neach S/N prompt is sent again 24 h later to those who have not answered "
        "(B12).\nPrompts and reminders count as recipients of their day."
    )


def plan() -> None:
    draft = HERE / "winter_service.toml"
    zone = ZoneInfo("Europe/Madrid")
    # The contacts and the plan go to a temporary folder, named relative to it so that
    # the output is the same on every run.
    with tempfile.TemporaryDirectory(prefix="omnimsg-demo-") as folder, chdir(folder):
        contacts = write_csv("winter_contacts.csv")
        plan_file = Path("plan.jsonl")
        args = [
            "plan",
            str(draft),
            "--contacts",
            str(contacts),
            "--profile",
            "expertconnect",
            "--region",
            "ES",
            "--account-tz",
            zone.key,
            "--now",
            NOW_TEXT,
            "--out",
            str(plan_file),
        ]
        banner(
            "omnimsg plan examples/winter_service.toml --contacts winter_contacts.csv "
            "--profile expertconnect --region ES --account-tz Europe/Madrid --out plan.jsonl"
        )
        cli(args)
        sends_per_day(plan_file, zone)
        dispatch(plan_file)


class DemoTransport:
    """Stands in for a platform: refuses every 1,000th message for good (an invalid
    number, B15) and asks every 700th to be tried again later (rate limited)."""

    def __init__(self) -> None:
        self.calls = 0
        self.sent = 0

    def send(self, request: SendRequest) -> SendResult:
        self.calls += 1
        key = request.idempotency_key
        if self.calls % 1000 == 0:
            return SendResult(key, SendStatus.REJECTED, error="21211: invalid 'To' number")
        if self.calls % 700 == 0:
            return SendResult(key, SendStatus.RETRY, error="429: too many requests")
        self.sent += 1
        return SendResult(key, SendStatus.ACCEPTED, provider_message_id=f"SM{self.sent}")


def dispatch(plan_file: Path) -> None:
    """Send the plan through a stand-in transport, with the state in SQLite (the default)."""
    banner("sending it: Dispatcher(SqliteStore('state.db'), transport).run(plan.jsonl)")
    store = SqliteStore("state.db")
    clock = FixedClock(NOW)  # simulated time: a week of sending in a moment

    def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))

    transport = DemoTransport()
    with plan_file.open(encoding="utf-8") as plan:
        report = Dispatcher(store, transport, clock=clock, sleep=sleep, seed=7).run(plan)
    print("ledger:", ", ".join(f"{n:,} {status}" for status, n in sorted(report.counts.items())))
    print("not sent (B15):")
    for failed in report.failed:
        why = failed.error or f"rule {failed.rule}"
        print(f"  {failed.contact_id:8} {failed.account_id:6} {failed.reason}: {why}")
    retried = transport.calls - transport.sent - len(report.failed)
    print(f"{retried} rate-limited sends were tried again later, with backoff, and went")
    with plan_file.open(encoding="utf-8") as plan:
        again = Dispatcher(store, transport, clock=clock, sleep=sleep).run(plan)
    print(
        f"run again (a crash, a second worker): {transport.sent:,} messages sent in all, "
        f"none twice (X5); ledger unchanged: {again.counts == report.counts}"
    )
    store.close()


if __name__ == "__main__":
    embedded()
    official_rules()
    command_line()
    segment()
    plan()
