"""Merging a contact's channel identities: one per account and id, and one per person
on WhatsApp, whose ids for one number take several forms (P16)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from omnimsg.channels.kinds import ChannelKind
from omnimsg.errors import PhoneNumberError
from omnimsg.phones import whatsapp_key

if TYPE_CHECKING:
    from omnimsg.contacts import ChannelIdentity

__all__ = ["merged_identities", "whatsapp_key_of"]


def merged_identities(
    existing: tuple[ChannelIdentity, ...], incoming: tuple[ChannelIdentity, ...]
) -> tuple[ChannelIdentity, ...] | None:
    """``existing`` with the identities of ``incoming`` it lacks, or ``None`` if none."""
    known = {(i.account_id, i.external_id) for i in existing}
    extra = [i for i in incoming if (i.account_id, i.external_id) not in known]
    if not extra:
        return None
    merged = list(existing)
    for new in extra:
        key = whatsapp_key_of(new)
        same = [n for n, old in enumerate(merged) if key and whatsapp_key_of(old, new) == key]
        if not same:
            merged.append(new)
            continue
        old = merged[same[0]]
        seen = [t for t in (old.first_seen_at, new.first_seen_at) if t is not None]
        inbound = [t for t in (old.last_inbound_at, new.last_inbound_at) if t is not None]
        # Replies go to the id the platform sent last: the incoming one unless the
        # stored one has a later inbound message.
        newer = old.last_inbound_at is None or (
            new.last_inbound_at is not None and new.last_inbound_at >= old.last_inbound_at
        )
        merged[same[0]] = attrs.evolve(
            new if newer else old,
            first_seen_at=min(seen, default=None),
            last_inbound_at=max(inbound, default=None),
        )
    return tuple(merged)


def whatsapp_key_of(identity: ChannelIdentity, on: ChannelIdentity | None = None) -> str | None:
    """The P16 key of a WhatsApp identity (on ``on``'s account), else ``None``."""
    if identity.channel is not ChannelKind.WHATSAPP:
        return None
    if on is not None and identity.account_id != on.account_id:
        return None
    try:
        return whatsapp_key(identity.external_id)
    except PhoneNumberError:
        return None
