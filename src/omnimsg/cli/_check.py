"""``omnimsg check``: may this message go to this contact on this channel now, and how?

The flags describe one send; the library decides it (W1-W8, C1-C6, X1, X3, B4, B12).
The exit status is 0 whatever the decision, unless ``--exit-code`` asks for 1 on a
refusal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import attrs
import typer

from omnimsg import (
    AccountState,
    ConversationState,
    Decision,
    Media,
    Message,
    SubscriptionStatus,
    SystemClock,
    decide,
)
from omnimsg.cli._flags import (
    FlagError,
    instant,
    last_inbound,
    media,
    refused_as,
    text,
    time_zone,
    voice_note,
)
from omnimsg.cli._options import JsonFlag
from omnimsg.cli._output import Output, styled
from omnimsg.cli._profiles import complete_channel, load_named
from omnimsg.cli._settings import value_json

__all__ = ["check", "decision_json"]

_MAX_VOICE_SECONDS = 10**9  # beyond any voice note, well inside timedelta's range


def _content_json(decision: Decision) -> dict[str, Any] | None:
    content = decision.content
    if content is None:
        return None
    sms = content.sms
    return {
        "text": content.text,
        "length": content.length,
        "unit": value_json(content.unit),
        "limit": content.limit,
        "fits": content.fits,
        "sms": None
        if sms is None
        else {"encoding": value_json(sms.encoding), "units": sms.units, "segments": sms.segments},
    }


def decision_json(profile: str, channel: str, now: datetime, decision: Decision) -> dict[str, Any]:
    """The ``--json`` document of ``omnimsg check`` (its shape is in docs/cli.md)."""
    closes = decision.window_closes_at
    return {
        "profile": profile,
        "channel": channel,
        "now": now.isoformat(),
        "allowed": decision.allowed,
        "mode": value_json(decision.mode),
        "reason": value_json(decision.reason),
        "rule": decision.rule,
        "explanation": decision.explain(),
        "window_closes_at": None if closes is None else closes.isoformat(),
        "remaining_in_window": decision.remaining_in_window,
        "paid": decision.paid,
        "retry_at": None if decision.retry_at is None else decision.retry_at.isoformat(),
        "content": _content_json(decision),
    }


def _print(output: Output, profile: str, channel: str, now: datetime, decision: Decision) -> None:
    output.line(styled(profile, "bold cyan"), f" / {channel} at {now.isoformat()}")
    verdict = "green" if decision.allowed else "red"
    output.line(styled(decision.explain(), f"bold {verdict}"))
    rows: list[tuple[str, str]] = [("reason", f"{decision.reason.value} (SPEC {decision.rule})")]
    content = decision.content
    if content is not None:
        limit = "no limit" if content.limit is None else f"limit {content.limit:,}"
        rows.append(("content", f"{content.length:,} {content.unit.value}, {limit}"))
        if content.sms is not None:
            sms = content.sms
            rows.append(
                ("sms", f"{sms.encoding.value}, {sms.units:,} units, {sms.segments:,} segments")
            )
    output.grid(rows)


def _account(zone_name: str, now: datetime, chatbot_count: int, paid: bool) -> AccountState:
    zone = time_zone(zone_name, "--account-tz")
    try:
        local = now.astimezone(zone)
    except OverflowError:
        raise FlagError(
            "--now", f"{now.isoformat()} falls outside years 1-9999 in the time zone {zone_name}"
        ) from None
    with refused_as("--chatbot-count"):
        return AccountState(
            timezone=zone,
            chatbot_month=(local.year, local.month),
            chatbot_initiated_count=chatbot_count,
            paid_chatbot_terms=paid,
        )


def check(
    ctx: typer.Context,
    channel: Annotated[
        str,
        typer.Option(
            "--channel",
            metavar="KIND",
            help="Channel kind: whatsapp, messenger, wechat, sms...",
            autocompletion=complete_channel,
            show_default=False,
        ),
    ],
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            metavar="NAME|PATH",
            help="Built-in profile name, or a profile file (a value with / or ending in .toml).",
        ),
    ] = "respondio",
    last_inbound_at: Annotated[
        str | None,
        typer.Option(
            "--last-inbound",
            metavar="WHEN",
            help="The contact's last message: a duration ago (2h, -2h, 3d), an ISO 8601 "
            "instant with offset (2026-11-01T10:00Z), or never (the default).",
            show_default=False,
        ),
    ] = None,
    sent: Annotated[
        int, typer.Option("--sent", min=0, help="Outbound messages since the last inbound (W5).")
    ] = 0,
    message_text: Annotated[str, typer.Option("--text", help="The message text.")] = "Hello",
    template: Annotated[
        str | None,
        typer.Option("--template", help="A pre-approved template name (W2).", show_default=False),
    ] = None,
    tag: Annotated[
        str | None,
        typer.Option("--tag", help="A message tag, such as HUMAN_AGENT (W3).", show_default=False),
    ] = None,
    media_urls: Annotated[
        list[str] | None,
        typer.Option(
            "--media",
            metavar="URL[@KIND]",
            help="Attach media by URL; KIND is image (the default), video, document, "
            "audio or voice (repeatable).",
            show_default=False,
        ),
    ] = None,
    voice_seconds: Annotated[
        float | None,
        typer.Option(
            "--voice-seconds",
            min=0.0,
            max=float(_MAX_VOICE_SECONDS),
            help="Attach a voice note of this many seconds (C4).",
            show_default=False,
        ),
    ] = None,
    marketing: Annotated[
        bool, typer.Option("--marketing", help="A marketing message (X1).")
    ] = False,
    broadcast: Annotated[
        bool, typer.Option("--broadcast", help="Part of a broadcast (B4, B12).")
    ] = False,
    subscription: Annotated[
        SubscriptionStatus,
        typer.Option("--subscription", help="The contact's opt-in status with this sender."),
    ] = SubscriptionStatus.NOT_ASKED,
    chatbot_count: Annotated[
        int,
        typer.Option(
            "--chatbot-count", min=0, help="Chatbot-initiated messages sent this month (W6)."
        ),
    ] = 0,
    paid_terms: Annotated[
        bool, typer.Option("--paid-terms", help="The account accepted paid terms (W6).")
    ] = False,
    account_tz: Annotated[
        str,
        typer.Option(
            "--account-tz", metavar="ZONE", help="The account's IANA time zone (W6 month)."
        ),
    ] = "UTC",
    now_flag: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="WHEN",
            help="Decide at this ISO 8601 instant with offset (default: the clock).",
            show_default=False,
        ),
    ] = None,
    exit_code: Annotated[
        bool, typer.Option("--exit-code", help="Exit with status 1 when the send is refused.")
    ] = False,
    json_output: JsonFlag = False,
) -> int:
    """Decide whether one message may be sent now, and how."""
    output = Output.of(ctx)
    now = instant(now_flag, "--now", default=SystemClock().now())
    loaded = load_named(profile, "--profile")
    caps = loaded.capabilities(text(channel, "--channel"), as_of=now)
    attachments: list[Media] = [media(url, "--media") for url in media_urls or ()]
    if voice_seconds is not None:
        attachments.append(voice_note(voice_seconds, "--voice-seconds"))
    message = Message(
        text=text(message_text, "--text"),
        media=tuple(attachments),
        template=None if template is None else text(template, "--template"),
        tag=None if tag is None else text(tag, "--tag"),
        marketing=marketing,
        broadcast=broadcast,
    )
    with refused_as("--last-inbound"):
        state = ConversationState(
            last_inbound_at=last_inbound(last_inbound_at, "--last-inbound", now=now),
            consent=subscription,
        )
    with refused_as("--sent"):
        state = attrs.evolve(state, outbound_since_inbound=sent)
    account = _account(account_tz, now, chatbot_count, paid_terms)
    decision = decide(caps, state, message, now=now, account=account)
    if json_output:
        output.json(decision_json(loaded.name, caps.kind.value, now, decision))
    else:
        _print(output, loaded.name, caps.kind.value, now, decision)
    return 1 if exit_code and not decision.allowed else 0
