"""The main job on the embedded default: profiles, decisions, the command line.

Run with ``make demo``. Every instant is fixed, so the output is the same on every run.
The command line part needs the ``cli`` extra (``pip install 'omnimsg[cli]'``, which
``make`` installs with the dev tools).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from omnimsg import AccountState, ConversationState, Message, decide, load_profile
from omnimsg.cli import main as cli

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


if __name__ == "__main__":
    embedded()
    command_line()
    segment()
