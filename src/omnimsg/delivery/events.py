"""Webhooks in: inbound and outbound messages update the shared state, once each.

Platforms deliver a webhook more than once. Each call here names the platform's
message id, and the conversation record keeps the ids of the last events applied
to it: the check and the change are one compare-and-set, so a repeated delivery
changes nothing, even when two workers receive it at the same instant.

- :func:`on_inbound`: the contact wrote. The window restarts and WeChat's count
  resets (W2-W6, monotone: a late webhook never moves a window back); a reply
  reaches the opt-in machine (B12: ``S`` releases the broadcasts held for the
  contact, ``N`` drops them, anything else opens a ticket; X1 keywords); and the
  contact's last interacted channel becomes this one. Broadcasts never change it
  (B5): only this function writes it.
  Where the channel's window is a session that later messages do not extend
  (Viber, P9), the session's start is kept.
- :func:`on_outbound`: a message was sent outside omnimsg (an agent's reply in the
  inbox): it counts toward WeChat's cap (W5) and, with its instant, toward the
  counts of recent messages (P5, P8, P9, P10).
- :func:`on_event`: the contact clicked a menu, followed or scanned a QR code
  (WeChat, P8): a few messages may follow it even with the window closed.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import NamedTuple

import attrs

from omnimsg._convert import to_instant
from omnimsg.channels.kinds import ChannelKind
from omnimsg.channels.registry import Profile
from omnimsg.delivery.records import (
    attempts,
    decode_contact_channel,
    decode_conversation,
    encode_contact_channel,
    encode_conversation,
)
from omnimsg.errors import CorruptRecordError, InputError
from omnimsg.policy.optin import (
    DeliverBroadcast,
    DropBroadcast,
    HoldBroadcast,
    OpenTicket,
    OptInEvent,
    OptInRules,
    RefuseBroadcast,
    ReleaseBroadcast,
    SendHelp,
    SendOptOutConfirmation,
    SendPrompt,
    receive_reply,
)
from omnimsg.policy.reasons import Reason
from omnimsg.protocols import DeliveryStore
from omnimsg.state import ConversationState
from omnimsg.stores._records import check_key, conversation_key

__all__ = [
    "EVENTS_KEPT",
    "InboundResult",
    "last_channel",
    "on_event",
    "on_inbound",
    "on_outbound",
]

EVENTS_KEPT = 32
"""How many platform message ids a conversation remembers, to drop repeated webhooks."""


class InboundResult(NamedTuple):
    """What an inbound message did: ``duplicate`` (already applied: nothing changed),
    the conversation ``state`` now, and the opt-in ``events`` to act on (B12, X1).

    A duplicate gives the events its first delivery gave, again: act on events
    idempotently (a release sends under the broadcast's own keys, so twice is once).
    """

    duplicate: bool
    state: ConversationState
    events: tuple[OptInEvent, ...]


def _store(store: object) -> DeliveryStore:
    if not isinstance(store, DeliveryStore):
        raise InputError(f"store: expected a delivery store, got {type(store).__name__}")
    return store


def on_inbound(
    store: DeliveryStore,
    *,
    contact_id: str,
    account_id: str,
    channel: ChannelKind | str,
    message_id: str,
    at: datetime,
    now: datetime,
    profile: Profile,
    text: str | None = None,
    locale: str | None = None,
    group: bool | None = None,
) -> InboundResult:
    """Apply one inbound message from ``contact_id`` on ``account_id``, once per ``message_id``.

    ``text`` (when the message has text) is read as a reply by the opt-in machine
    of the channel's rules in ``profile``. Where the channel's window is not
    extended by later messages (``window_extends`` false, Viber P9), the window's
    length is the session's: a message inside an open session keeps its start.
    ``group`` marks the conversation as a group chat (``True``) or not (``False``)
    for the group rate (P10); ``None`` leaves the mark as it is. An inbound message
    stamped more than the clock-skew tolerance after ``now`` is refused
    (:class:`~omnimsg.errors.InputError`).
    """
    store = _store(store)
    key = conversation_key(contact_id, account_id)
    _check_id(message_id, "message_id")
    kind = channel if isinstance(channel, ChannelKind) else _channel(channel)
    when = to_instant(at, "at")
    moment = to_instant(now, "now")
    if not isinstance(profile, Profile):
        raise InputError(f"profile: expected a Profile, got {type(profile).__name__}")
    if text is not None and not isinstance(text, str):
        raise InputError(f"text: expected text or None, got {type(text).__name__}")
    if group is not None and not isinstance(group, bool):
        raise InputError(f"group: expected True, False or None, got {type(group).__name__}")
    caps = (
        profile.capabilities(kind, as_of=moment)
        if text is not None or kind in profile.kinds
        else None
    )
    rules = None if caps is None or text is None else OptInRules.from_capabilities(caps)
    session = None if caps is None or caps.window_extends else caps.window
    for _ in attempts("applying an inbound message"):
        found = store.get_record("conversation", key)
        state, seen = (
            (ConversationState(), ()) if found is None else decode_conversation(key, found[1])
        )
        earlier = _applied(seen, message_id)
        if earlier is not None:
            # Applied before: its events again (the first call may have failed after
            # the write, and a released broadcast must still be sent, B12).
            return InboundResult(True, state, earlier)
        new = state.after_inbound(when, now=moment, session=session)
        if group is not None and new.group is not group:
            new = attrs.evolve(new, group=group)
        events: tuple[OptInEvent, ...] = ()
        if rules is not None and text is not None:
            consent, events = receive_reply(new.consent, text, rules, now=moment, locale=locale)
            new = attrs.evolve(new, consent=consent)
        token = message_id if not events else message_id + _SEP + _dump_events(events)
        record = encode_conversation(new, (*seen, token)[-EVENTS_KEPT:])
        if store.put_record("conversation", key, None if found is None else found[0], record):
            break
    _touch_channel(store, contact_id, kind, account_id, when)
    return InboundResult(False, new, events)


def on_outbound(
    store: DeliveryStore,
    *,
    contact_id: str,
    account_id: str,
    message_id: str,
    at: datetime,
) -> bool:
    """Count one message sent outside omnimsg (W5), once per ``message_id``.

    Only a conversation the store already holds is counted (one that
    :func:`on_inbound` or ``put_conversation`` wrote): without it the store knows
    no window to count in. The message's instant is kept for the counts of recent
    messages (P5, P8, P9, P10). Returns whether the W5 count changed (a message sent
    before the contact's last one does not count there). Does not change the
    contact's last interacted channel (B5).
    """
    store = _store(store)
    key = conversation_key(contact_id, account_id)
    _check_id(message_id, "message_id")
    when = to_instant(at, "at")
    for _ in attempts("counting an outbound message"):
        found = store.get_record("conversation", key)
        if found is None:
            return False
        state, seen = decode_conversation(key, found[1])
        if _applied(seen, message_id) is not None:
            return False
        new = state.after_outbound(when)
        record = encode_conversation(new, (*seen, message_id)[-EVENTS_KEPT:])
        if store.put_record("conversation", key, found[0], record):
            return new.outbound_since_inbound != state.outbound_since_inbound
    raise AssertionError("attempts() raises when it runs out")  # pragma: no cover


def on_event(
    store: DeliveryStore,
    *,
    contact_id: str,
    account_id: str,
    event_id: str,
    at: datetime,
    now: datetime,
) -> bool:
    """Record a menu click, follow or QR scan by the contact at ``at`` (P8), once per ``event_id``.

    Within the channel's ``event_window`` after it, up to ``event_outbound_cap``
    messages may go even with the message window closed. A conversation the store
    does not hold yet is started (a follow comes before any message); the event
    opens no message window and does not change the contact's last interacted
    channel (B5). Event ids are kept apart from message ids: the same text as a
    message id is another event. Returns whether the event was recorded (``False``
    for a repeated delivery or an event no later than the one stored). An event
    stamped more than the clock-skew tolerance after ``now`` is refused
    (:class:`~omnimsg.errors.InputError`).
    """
    store = _store(store)
    key = conversation_key(contact_id, account_id)
    token = _EVENT + _check_id(event_id, "event_id")
    when = to_instant(at, "at")
    moment = to_instant(now, "now")
    for _ in attempts("recording an event"):
        found = store.get_record("conversation", key)
        state, seen = (
            (ConversationState(), ()) if found is None else decode_conversation(key, found[1])
        )
        if token in seen:
            return False
        new = state.after_event(when, now=moment)
        record = encode_conversation(new, (*seen, token)[-EVENTS_KEPT:])
        if store.put_record("conversation", key, None if found is None else found[0], record):
            return new is not state
    raise AssertionError("attempts() raises when it runs out")  # pragma: no cover


_SEP = "\x1e"
"""Between a message id and the events it gave, in a conversation's applied list."""

_EVENT = "\x1d"
"""Before an event id in a conversation's applied list, so it is no message id."""


def _check_id(value: object, name: str) -> str:
    """A platform id as a key; the separators of the applied list are refused in it."""
    text = check_key(value, name)
    if _SEP in text or _EVENT in text:
        raise InputError(f"{name}: control characters \\x1d and \\x1e are not allowed")
    return text


_EVENT_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        SendPrompt,
        OpenTicket,
        DeliverBroadcast,
        HoldBroadcast,
        ReleaseBroadcast,
        DropBroadcast,
        RefuseBroadcast,
        SendHelp,
        SendOptOutConfirmation,
    )
}


def _dump_events(events: tuple[OptInEvent, ...]) -> str:
    return json.dumps(
        [[type(e).__name__, attrs.asdict(e)] for e in events],
        ensure_ascii=True,
        separators=(",", ":"),
        sort_keys=True,
    )


def _applied(seen: tuple[str, ...], message_id: str) -> tuple[OptInEvent, ...] | None:
    """The events ``message_id`` gave when it was applied, or ``None`` if it was not."""
    for token in seen:
        name, sep, dumped = token.partition(_SEP)
        if name != message_id:
            continue
        if not sep:
            return ()
        try:
            return tuple(
                _EVENT_TYPES[kind](**{k: _field(k, v) for k, v in fields.items()})
                for kind, fields in json.loads(dumped)
            )
        except (ValueError, KeyError, TypeError):
            raise CorruptRecordError(
                "conversation", message_id, "the events of an applied message cannot be read"
            ) from None
    return None


def _field(name: str, value: object) -> object:
    return Reason(str(value)) if name == "reason" else value


def last_channel(store: DeliveryStore, contact_id: str) -> tuple[ChannelKind, str] | None:
    """The channel and account the contact last wrote on (B3, B5), or ``None``."""
    store = _store(store)
    key = check_key(contact_id, "contact_id")
    found = store.get_record("contact", key)
    if found is None:
        return None
    channel, account, _ = decode_contact_channel(key, found[1])
    try:
        return ChannelKind(channel), account
    except ValueError:
        raise CorruptRecordError("contact", key, "channel: not a known channel kind") from None


def _touch_channel(
    store: DeliveryStore, contact_id: str, kind: ChannelKind, account_id: str, at: datetime
) -> None:
    key = contact_id
    text = encode_contact_channel(kind.value, account_id, at)
    for _ in attempts("recording the contact's last channel"):
        found = store.get_record("contact", key)
        if found is not None and decode_contact_channel(key, found[1])[2] >= at:
            return
        if store.put_record("contact", key, None if found is None else found[0], text):
            return


def _channel(value: object) -> ChannelKind:
    try:
        return ChannelKind(value if isinstance(value, str) else "")
    except ValueError:
        raise InputError("channel: not a known channel kind") from None
