"""A broadcast draft checked against a profile before anything is planned.

:func:`validate_draft` reports every problem at once, each with the draft field and
the SPEC rule it breaks: channels the profile lacks or that have no broadcasts (B4,
B16), content over a channel's limits (C1-C4, X3), accounts that are not senders of
the draft's team (B2, A4, B11), a sender class the profile gives no rate (P14), a
rate that needs more than 7 days (B10). Reading a draft is
:mod:`omnimsg.broadcasts.draft`'s job; this module only checks one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from omnimsg._convert import shown
from omnimsg._time import require_instant
from omnimsg.broadcasts.draft import (
    _PER,
    MAX_SEND_DURATION,
    _per_text,
    _start_problem,
)
from omnimsg.broadcasts.lifecycle import occurrences
from omnimsg.broadcasts.model import (
    Audience,
    BroadcastMessage,
    Draft,
    Sender,
    Targeting,
    class_problem,
)
from omnimsg.channels.capabilities import ChannelCapabilities
from omnimsg.channels.kinds import ChannelKind
from omnimsg.channels.registry import Profile
from omnimsg.errors import (
    DraftError,
    InputError,
)
from omnimsg.policy.decision import Message

__all__ = ["validate_draft"]

_MAX_AUDIENCE = 10**15
"""The largest audience size a rate is checked for."""


def _as_of(draft: Draft, now: datetime | None) -> datetime:
    """The instant capabilities are read at: the start, or now when that is later."""
    start = draft.schedule.start
    if now is None:
        if start is None:
            raise InputError("validate_draft: pass now= for a draft that starts now")
        return start
    require_instant(now, "now")
    return now if start is None else max(start, now)


def _size(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_AUDIENCE:
        raise InputError(
            f"audience_size: expected a whole number from 0 to {_MAX_AUDIENCE:,}, "
            f"got {shown(value)}"
        )
    return int(value)


def _known_size(audience: Audience) -> int | None:
    if audience.segment is None:
        if audience.contact_ids and not audience.id_list:
            return len(audience.contact_ids)
        if audience.id_list and not audience.contact_ids:
            return len(audience.id_list)
    return None


class _Check:
    """The problems of one draft against one profile, collected in field order."""

    def __init__(self, draft: Draft, profile: Profile, as_of: datetime) -> None:
        self.draft = draft
        self.profile = profile
        self.as_of = as_of
        self.problems: list[tuple[str, str, str]] = []
        self.active = draft.active_senders()

    def add(self, path: str, rule: str, message: str) -> None:
        self.problems.append((path, rule, message))

    def caps(self, kind: ChannelKind) -> ChannelCapabilities | None:
        if kind not in self.profile.kinds:
            return None
        return self.profile.capabilities(kind, as_of=self.as_of)

    def undefined(self, kind: ChannelKind) -> str:
        defined = ", ".join(k.value for k in self.profile.kinds)
        return (
            f"profile {self.profile.name!r} does not define channel {kind.value!r}; "
            f"it defines: {defined}"
        )


def _check_senders(c: _Check) -> None:
    seen: dict[str, int] = {}
    for index, sender in enumerate(c.draft.senders):
        first = seen.setdefault(sender.account_id, index)
        if first != index:
            c.add(f"senders[{index}].account", "B11", f"account is already senders[{first}]")
        caps = c.caps(sender.channel)
        if caps is None:
            c.add(f"senders[{index}].channel", "", c.undefined(sender.channel))
        elif problem := class_problem(sender, caps):
            c.add(f"senders[{index}].sender_class", "P14", problem)
    team = c.draft.team
    if team is not None and not c.active:
        c.add(
            "team",
            "B11",
            f"no sender is of team {shown(team)}; give its senders team = {shown(team)}",
        )


def _account_problem(c: _Check, account: str, path: str, rule: str) -> Sender | None:
    sender = next((s for s in c.draft.senders if s.account_id == account), None)
    if sender is None:
        known = ", ".join(shown(s.account_id) for s in c.draft.senders[:10])
        known += ", ..." if len(c.draft.senders) > 10 else ""
        c.add(
            path, rule, f"unknown account {shown(account)}: it is not among the senders ({known})"
        )
        return None
    if sender not in c.active:
        c.add(
            path,
            "B11",
            f"account {shown(account)} is not a sender of team {shown(c.draft.team)}; "
            "only that team's senders send",
        )
        return None
    return sender


def _selected(c: _Check) -> dict[ChannelKind, str]:
    """The channels the draft sends on, each with the path that selects it (B2, B3)."""
    draft = c.draft
    if draft.targeting is Targeting.ACCOUNT:
        assert draft.account is not None
        sender = _account_problem(c, draft.account, "account", "B2")
        return {} if sender is None else {sender.channel: "account"}
    if draft.channels is None:
        # Every channel the draft has content for is selected (B3): writing a
        # channel's content selects it, and listing `channels` narrows the selection.
        return {kind: f"content.{kind.value}" for kind in sorted(draft.content)}
    return dict.fromkeys(sorted(draft.channels), "channels")


def _check_channels(c: _Check, selected: Mapping[ChannelKind, str]) -> None:
    default = " (selected by default: a channel with content, B3)"
    for kind, path in selected.items():
        caps = c.caps(kind)
        if caps is None:
            c.add(path, "", c.undefined(kind))
            continue
        if caps.retired:
            c.add(
                path,
                "P15",
                f"channel {kind.value!r} is retired in profile {c.profile.name!r} "
                "on the broadcast's start: the platform has shut it down",
            )
            continue
        if not caps.broadcasts:
            rule = "B4" if "B4" in caps.sources else "B16"
            c.add(
                path,
                rule,
                f"channel {kind.value!r} has no broadcasts in profile {c.profile.name!r}",
            )
            continue
        why = default if c.draft.channels is None else ""
        if kind not in c.draft.content:
            c.add(
                f"content.{kind.value}",
                "C3",
                f"channel {kind.value!r} is selected{why} but has no content",
            )
        if not any(s.channel is kind for s in c.active):
            team = "" if c.draft.team is None else f" of team {shown(c.draft.team)}"
            c.add(
                "senders",
                "B11",
                f"channel {kind.value!r} is selected{why} but no sender{team} sends on it",
            )


def _check_message(
    c: _Check, path: str, message: BroadcastMessage, caps: ChannelCapabilities
) -> None:
    kind = caps.kind.value
    if message.template is not None and not caps.templates:
        c.add(f"{path}.template", "C3", f"channel {kind!r} has no templates")
    tags = caps.message_tags | ({caps.extended_window_tag} if caps.extended_window_tag else set())
    if message.tag is not None and message.tag not in tags:
        known = ", ".join(sorted(tags)) or "none"
        c.add(
            f"{path}.tag",
            "W3",
            f"channel {kind!r} has no message tag {shown(message.tag)} (its tags: {known})",
        )
    checked = message.message
    if message.personalised:
        # The planner checks each contact's own text; here each variable is its
        # fallback, or empty without one: a text too long then is too long for everyone.
        checked = Message(
            text=message.snippet.fill({}, missing=""),
            media=message.media,
            template=message.template,
            tag=message.tag,
            marketing=True,
            broadcast=True,
        )
    try:
        content = checked.render(caps.content)
    except InputError as exc:
        c.add(f"{path}.media", "C4", str(exc))
        return
    if content.problem is not None:
        rule = content.rule or "C3"
        where = ".media" if rule == "C4" else ".text"
        shortest = " with every variable at its fallback or empty" if message.personalised else ""
        c.add(f"{path}{where}", rule, f"{content.detail} on {kind}{shortest}")


def _check_content(c: _Check) -> None:
    for kind, messages in c.draft.content.items():
        caps = c.caps(kind)
        if caps is None:
            c.add(f"content.{kind.value}", "C3", c.undefined(kind))
            continue
        for index, message in enumerate(messages):
            _check_message(c, f"content.{kind.value}[{index}]", message, caps)


def _check_accounts(c: _Check) -> None:
    audience = c.draft.audience
    if audience.id_list_account is None:
        return
    sender = _account_problem(c, audience.id_list_account, "audience.id_list_account", "A4")
    if (
        sender is not None
        and c.draft.targeting is Targeting.ACCOUNT
        and c.draft.account != audience.id_list_account
    ):
        c.add(
            "audience.id_list_account",
            "A4",
            f"the ids belong to {shown(audience.id_list_account)} but the broadcast goes on "
            f"{shown(c.draft.account)}",
        )


def _span_text(micro: int) -> str:
    minutes = -(-micro // 60_000_000)
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days:,} days" if days != 1 else "1 day"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes or not parts else []
    return " ".join(parts)


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"


def _check_rate(c: _Check, selected: Mapping[ChannelKind, str], size: int | None) -> None:
    rate = c.draft.rate
    if rate is None or size is None:
        return
    spacing = rate.spacing // timedelta(microseconds=1)
    worst: tuple[int, ChannelKind, int, int, int] | None = None
    for kind in selected:
        messages = len(c.draft.content.get(kind, ()))
        senders = sum(1 for s in c.active if s.channel is kind)
        if c.draft.targeting is Targeting.ACCOUNT:
            senders = min(senders, 1)
        if not messages or not senders:
            continue
        per_account = -(-size * messages // senders)
        span = max(per_account - 1, 0) * spacing
        if worst is None or span > worst[0]:
            worst = (span, kind, messages, senders, per_account)
    limit = MAX_SEND_DURATION // timedelta(microseconds=1)
    if worst is None or worst[0] <= limit:
        return
    span, kind, messages, senders, per_account = worst
    shared = f", shared by {senders} senders" if senders > 1 else ""
    per = _per_text(rate) if rate.per in _PER.values() else str(rate.per)
    c.add(
        "rate",
        "B10",
        f"at {rate.messages:,} {_plural(rate.messages, 'message')} per {per}, "
        f"{size:,} recipients × {messages} {_plural(messages, 'message')} on "
        f"{kind.value}{shared} is {per_account:,} sends per account, which take "
        f"{_span_text(span)}; a send may take at most 7 days",
    )


def _check_schedule(c: _Check) -> None:
    schedule = c.draft.schedule
    if schedule.recurrence is None:
        return
    try:
        first = occurrences(schedule, now=c.as_of, limit=1)
    except InputError as exc:
        c.add("schedule.recurrence", "B9", str(exc))
        return
    if not first:
        c.add("schedule.recurrence", "B9", "the rule gives no instant from the start on")


def validate_draft(
    draft: Draft,
    profile: Profile,
    *,
    audience_size: int | None = None,
    now: datetime | None = None,
) -> Draft:
    """Check a draft against a profile before planning; return it when nothing is wrong.

    Checks that every channel of the content and of the senders is in the profile,
    that each selected channel (the account's with ``targeting = account``, B2; the
    ``channels``, by default every channel with broadcasts, B3) has broadcasts (B4,
    B16), content (C3) and a sender (B11); that each message fits its channel (C1-C4,
    X3; a personalised text with every variable at its fallback or empty), uses a
    template only where the channel has them (C3) and a tag the channel knows (W3);
    that ``account`` and ``audience.id_list_account`` are senders (B2, A4) of the
    draft's ``team`` (B11); that a sender's ``sender_class`` is one the profile gives
    a rate (P14); and that at the draft's rate the send fits in 7 days
    (B10): with ``audience_size`` recipients (or the number of ``contact_ids`` or
    ``id_list`` ids when the audience is only those), each getting every message of
    a channel, shared by that channel's senders.

    Capabilities are read as of the start (the later of ``schedule.start`` and
    ``now``).

    Args:
        draft: the draft, as :func:`draft_from_dict` returns it or built by hand.
        profile: the profile its channels follow.
        audience_size: how many contacts the audience holds, when known (at most
            10**15).
        now: the current instant; required when the draft starts now.

    Returns:
        ``draft`` itself.

    Raises:
        DraftError: every problem found, each ``(path, rule, message)``.
        NaiveDatetimeError: ``now`` has no UTC offset.
        InputError: ``draft`` or ``profile`` is not one, ``audience_size`` is not a
            whole number >= 0, or the draft starts now and ``now`` is not given.
        ConfigurationError: the profile has no value in force for a setting at the start.
    """
    if not isinstance(draft, Draft):
        raise InputError(f"draft: expected a Draft, got {type(draft).__name__}")
    if not isinstance(profile, Profile):
        raise InputError(f"profile: expected a Profile, got {type(profile).__name__}")
    try:
        profile.kinds  # noqa: B018 - a Profile built around a broken spec fails here
    except (AttributeError, TypeError):
        raise InputError("profile: not a usable profile (load it with load_profile)") from None
    size = _size(audience_size)
    start = draft.schedule.start
    problem = "" if start is None else _start_problem(start)
    if problem:  # every other check reads the profile as of the start
        raise DraftError([("schedule.start", "B9", problem)])
    check = _Check(draft, profile, _as_of(draft, now))
    _check_schedule(check)
    _check_senders(check)
    selected = _selected(check)
    _check_channels(check, selected)
    _check_content(check)
    _check_accounts(check)
    _check_rate(check, selected, size if size is not None else _known_size(draft.audience))
    if check.problems:
        raise DraftError(check.problems)
    return draft
