"""The ``omnimsg`` command line: parses flags, calls the library, prints.

Thin on purpose: every rule lives in the library. This is the one place (with
:mod:`omnimsg.clock`) that may read the wall clock, and only when ``--now`` is not given.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.parser import isoparse

from omnimsg._time import parse_duration, require_aware
from omnimsg.channels.capabilities import ChannelCapabilities
from omnimsg.channels.registry import Profile, builtin_profile_names, load_profile
from omnimsg.clock import SystemClock
from omnimsg.errors import InputError, OmnimsgError
from omnimsg.policy.content import Media, MediaKind
from omnimsg.policy.decision import AccountState, ConversationState, Message, decide
from omnimsg.policy.optin import SubscriptionStatus

__all__ = ["main"]


def _fmt_duration(value: timedelta | None) -> str:
    if value is None:
        return "-"
    seconds = int(value.total_seconds())
    if seconds % 86400 == 0 and seconds >= 3 * 86400:
        return f"{seconds // 86400}d"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _row(caps: ChannelCapabilities) -> list[str]:
    window = _fmt_duration(caps.window)
    if caps.window is None and caps.requires_prior_inbound:
        window = "none (after 1st inbound)"
    extended = "-"
    if caps.extended_window is not None:
        extended = f"{_fmt_duration(caps.extended_window)} {caps.extended_window_tag}"
    after = caps.after_window.value if caps.window is not None else "-"
    if caps.chatbot_free_per_month is not None and caps.window is not None:
        after = f"{after} ({caps.chatbot_free_per_month:,}/month free)"
    content = caps.content
    text = "-" if content.text_max is None else f"{content.text_max:,} {content.text_unit.value}"
    opt_in = "-"
    if caps.double_opt_in is not None:
        yes, no = caps.double_opt_in.yes_replies, caps.double_opt_in.no_replies
        opt_in = "/".join(sorted(yes)) + " or " + "/".join(sorted(no))
    limits = []
    if caps.daily_recipient_cap is not None:
        limits.append(f"{caps.daily_recipient_cap:,}/day")
    if caps.tiers is not None:
        limits.append(
            "tiers " + "/".join(f"{x:,}" if x else "unlimited" for x in caps.tiers.limits)
        )
    return [
        caps.kind.value,
        window,
        extended,
        after,
        _fmt(caps.window_outbound_cap),
        _fmt(caps.broadcasts),
        text,
        content.media.value,
        _fmt(content.voice_notes),
        ",".join(sorted(m.value for m in caps.paid_modes)) or "-",
        _fmt(caps.rate_per_second),
        ", ".join(limits) or "-",
        opt_in,
    ]


_HEADER = [
    "channel",
    "window",
    "extended",
    "after window",
    "cap",
    "broadcast",
    "text limit",
    "media",
    "voice",
    "paid",
    "rate/s",
    "recipient limits",
    "opt-in",
]


def _table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        out.write("\n")
        if n == 0:
            out.write("  ".join("-" * w for w in widths) + "\n")


def _now(text: str | None) -> datetime:
    if text is None:
        return SystemClock().now()
    return require_aware(_instant(text, "--now"), "--now")


def _instant(text: str, flag: str) -> datetime:
    try:
        return isoparse(text)
    except ValueError:
        raise InputError(
            f"{flag}: expected an ISO 8601 instant with offset, got {text!r}"
        ) from None


def _profiles(args: argparse.Namespace, out: TextIO) -> int:
    as_of = _now(args.as_of)
    profiles: list[Profile] = [load_profile(p) for p in args.files]
    names = args.names or ([] if args.files else list(builtin_profile_names()))
    profiles += [load_profile(n) for n in names]
    for i, profile in enumerate(profiles):
        if i:
            out.write("\n")
        out.write(f"{profile.name}: {profile.description}\n")
        out.write(f"as of {as_of.date().isoformat()}\n\n")
        rows = [_HEADER] + [_row(profile.capabilities(k, as_of=as_of)) for k in profile.kinds]
        _table(rows, out)
    return 0


def _media_arg(text: str) -> Media:
    url, _, kind = text.partition("@")
    try:
        return Media(url, MediaKind(kind) if kind else MediaKind.IMAGE)
    except ValueError:
        kinds = ", ".join(k.value for k in MediaKind)
        raise InputError(f"--media: unknown media kind {kind!r}; expected one of {kinds}") from None


def _check(args: argparse.Namespace, out: TextIO) -> int:
    now = _now(args.now)
    profile = load_profile(args.profile)
    caps = profile.capabilities(args.channel, as_of=now)
    last: datetime | None = None
    if args.last_inbound not in (None, "never"):
        text = args.last_inbound
        if text[:1].isdigit() and text[-1:].isalpha():
            last = now - parse_duration(text)
        else:
            last = require_aware(_instant(text, "--last-inbound"), "--last-inbound")
    media = [_media_arg(m) for m in args.media]
    if args.voice_seconds is not None:
        media.append(
            Media("voice-note", MediaKind.VOICE, duration=timedelta(seconds=args.voice_seconds))
        )
    message = Message(
        text=args.text,
        media=tuple(media),
        template=args.template,
        tag=args.tag,
        marketing=args.marketing,
        broadcast=args.broadcast,
    )
    state = ConversationState(
        last_inbound_at=last,
        outbound_since_inbound=args.sent,
        subscription=SubscriptionStatus(args.subscription),
    )
    try:
        zone = ZoneInfo(args.account_tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"--account-tz: unknown time zone {args.account_tz!r}") from None
    local = now.astimezone(zone)
    account = AccountState(
        timezone=zone,
        chatbot_month=(local.year, local.month),
        chatbot_initiated_count=args.chatbot_count,
        paid_chatbot_terms=args.paid_terms,
    )
    decision = decide(caps, state, message, now=now, account=account)
    out.write(f"{profile.name} / {caps.kind.value} at {now.isoformat()}\n")
    out.write(decision.explain() + "\n")
    out.write(f"reason: {decision.reason.value} (SPEC {decision.rule})\n")
    if decision.content is not None:
        c = decision.content
        limit = "no limit" if c.limit is None else f"limit {c.limit}"
        out.write(f"content: {c.length} {c.unit.value}, {limit}\n")
        if c.sms is not None:
            out.write(
                f"sms: {c.sms.encoding.value}, {c.sms.units} units, {c.sms.segments} segments\n"
            )
    if args.exit_code and not decision.allowed:
        return 1
    return 0


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _custom_fields(pairs: Sequence[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for pair in pairs:
        name, sep, kind = pair.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--custom-field: expected NAME=TYPE, got {pair!r}")
        fields[name.strip()] = kind.strip()
    return fields


def _segment(args: argparse.Namespace, out: TextIO) -> int:
    # Imported here so that `omnimsg check` does not pay for the segment machinery.
    from omnimsg.segments import compile_segment, parse_segment
    from omnimsg.segments.csv_import import (
        CsvImportOptions,
        MemoryContactSink,
        import_contacts_csv_file,
    )

    now = _now(args.now)
    custom = _custom_fields(args.custom_field)
    try:
        with open(args.segment, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise InputError(f"cannot read segment file {args.segment}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"segment file {args.segment} is not UTF-8: {exc.reason}") from None
    segment = parse_segment(text, custom_fields=custom)
    out.write(f"segment: {segment.describe()}\n")
    if args.contacts is None:
        return 0
    options = CsvImportOptions(
        custom_types=custom,
        unknown_columns=args.unknown_columns,
        default_region=args.region,
    )
    sink = MemoryContactSink()
    try:
        report = import_contacts_csv_file(args.contacts, sink, options)
    except OSError as exc:
        raise InputError(f"cannot read contacts file {args.contacts}: {exc.strerror}") from None
    out.write(
        f"contacts: {report.rows_read} rows read, {report.imported} imported, "
        f"{report.merged} merged, {report.rejected_count} rejected\n"
    )
    predicate = compile_segment(segment, now=now)
    matches = [contact for contact in sink if predicate(contact)]
    out.write(f"in segment: {len(matches)} of {len(sink)} contacts\n")
    for contact in matches[: args.sample]:
        tags = ",".join(sorted(contact.tags)) or "-"
        out.write(
            f"  {contact.id:10} {contact.name or '-':20} {contact.phone or '-':16} "
            f"{contact.email or '-':24} tags={tags}\n"
        )
    if len(matches) > args.sample:
        out.write(f"  ... and {len(matches) - args.sample} more\n")
    if report.rejected:
        out.write("rejected rows:\n")
        for row in report.rejected:
            out.write(f"  {row.where}: {row.code.value}: {row.reason}\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omnimsg", description="The rules of business messaging, from the command line."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("profiles", help="print the channel capabilities of profiles")
    p.add_argument("names", nargs="*", help="built-in profile names (default: all)")
    p.add_argument("--file", dest="files", action="append", default=[], help="a profile file")
    p.add_argument("--as-of", help="ISO instant the dated values are resolved at (default: now)")
    p.set_defaults(run=_profiles)

    c = sub.add_parser("check", help="decide whether one message may be sent now, and how")
    c.add_argument("--profile", default="respondio", help="built-in name or profile file")
    c.add_argument("--channel", required=True, help="channel kind, e.g. whatsapp, wechat")
    c.add_argument(
        "--last-inbound",
        help="the contact's last message: a duration ago (47h, 3d), an ISO instant, or 'never'",
    )
    c.add_argument(
        "--sent", type=_count, default=0, help="outbound messages since the last inbound"
    )
    c.add_argument("--text", default="Hello", help="message text")
    c.add_argument("--template", help="approved template name")
    c.add_argument("--tag", help="message tag, e.g. HUMAN_AGENT")
    c.add_argument(
        "--media", action="append", default=[], help="media URL, optionally URL@kind (image, …)"
    )
    c.add_argument("--voice-seconds", type=float, help="attach a voice note of this length")
    c.add_argument("--marketing", action="store_true", help="a marketing message (X1)")
    c.add_argument("--broadcast", action="store_true", help="part of a broadcast (B4, B12)")
    c.add_argument(
        "--subscription",
        default=SubscriptionStatus.NOT_ASKED.value,
        choices=[s.value for s in SubscriptionStatus],
        help="the contact's opt-in status with this sender",
    )
    c.add_argument("--chatbot-count", type=_count, default=0, help="chatbot-initiated this month")
    c.add_argument("--paid-terms", action="store_true", help="account accepted paid terms (W6)")
    c.add_argument("--account-tz", default="UTC", help="the account's time zone (W6 month)")
    c.add_argument("--now", help="ISO instant to decide at (default: the wall clock)")
    c.add_argument("--exit-code", action="store_true", help="exit 1 when the send is refused")
    c.set_defaults(run=_check)

    g = sub.add_parser("segment", help="describe a segment and count its contacts in a CSV")
    g.add_argument("segment", help="segment JSON file")
    g.add_argument("--contacts", help="contacts CSV file")
    g.add_argument(
        "--custom-field",
        action="append",
        default=[],
        metavar="NAME=TYPE",
        help="declare a custom field (string, number, boolean, datetime)",
    )
    g.add_argument("--region", help="default phone region for numbers without +country")
    g.add_argument(
        "--unknown-columns",
        default="custom",
        choices=["error", "custom", "ignore"],
        help="CSV columns that are not contact fields (default: custom fields)",
    )
    g.add_argument("--sample", type=_count, default=10, help="how many matching contacts to show")
    g.add_argument("--now", help="ISO instant relative periods are measured from")
    g.set_defaults(run=_segment)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 refused with --exit-code, 2 error)."""
    stream = out if out is not None else sys.stdout
    args = _parser().parse_args(argv)
    try:
        status: int = args.run(args, stream)
    except OmnimsgError as exc:
        sys.stderr.write(f"omnimsg: error: {exc}\n")
        return 2
    return status


if __name__ == "__main__":
    raise SystemExit(main())
