"""The closed vocabularies of channels: kinds, send modes, what a window allows after it.

Values are stable strings: users store them and match on them.
"""

from __future__ import annotations

from enum import StrEnum

from omnimsg.errors import UnknownChannelError

__all__ = ["AfterWindow", "ChannelKind", "MediaDelivery", "Mode", "TextUnit", "parse_channel_kind"]


class ChannelKind(StrEnum):
    """A messaging platform (SPEC section 1)."""

    WHATSAPP = "whatsapp"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"
    VIBER = "viber"
    WECHAT = "wechat"
    TELEGRAM = "telegram"
    LINE = "line"
    WEBCHAT = "webchat"
    SMS = "sms"
    EMAIL = "email"
    GOOGLE_BUSINESS = "google_business"
    VK = "vk"


_KINDS = {kind.value: kind for kind in ChannelKind}


def parse_channel_kind(value: str | ChannelKind) -> ChannelKind:
    """Return the :class:`ChannelKind` for ``value`` (case-insensitive).

    Raises :class:`~omnimsg.errors.UnknownChannelError` listing the known kinds.
    """
    if isinstance(value, ChannelKind):
        return value
    kind = _KINDS.get(value.strip().lower()) if isinstance(value, str) else None
    if kind is None:
        known = ", ".join(sorted(_KINDS))
        shown = repr(value)[:60] if isinstance(value, str) else type(value).__name__
        raise UnknownChannelError(f"unknown channel kind {shown}; expected one of: {known}")
    return kind


class Mode(StrEnum):
    """How a message may go (SPEC W7)."""

    FREE_FORM = "free_form"
    """Any content, inside a window or on a channel without one."""
    TEMPLATE = "template"
    """Only a pre-approved template (W2)."""
    TAG = "tag"
    """Only with a message tag (W3, and HUMAN_AGENT in the extended window)."""
    CHATBOT_INITIATED = "chatbot_initiated"
    """Sent by a bot outside the window, counted against a monthly quota (W6)."""
    BLOCKED = "blocked"
    """Nothing may be sent."""


class AfterWindow(StrEnum):
    """What a channel allows once its window (and extended window) has closed."""

    NOTHING = "nothing"
    TEMPLATE = "template"
    MESSAGE_TAG = "message_tag"
    CHATBOT_INITIATED = "chatbot_initiated"


class MediaDelivery(StrEnum):
    """How media reaches the recipient (C2)."""

    NATIVE = "native"
    """As an attachment."""
    LINK = "link"
    """As a clickable link appended to the text; the link counts toward the text limit."""


class TextUnit(StrEnum):
    """What a channel's text limit counts."""

    CHARACTERS = "characters"
    """Characters as a person sees them: an emoji is one (C6)."""
    UTF8_BYTES = "utf8_bytes"
    """Bytes of UTF-8 (Instagram, P7)."""
    UTF16_UNITS = "utf16_units"
    """UTF-16 code units (LINE, P11)."""
    SMS_SEGMENTS = "sms_segments"
    """SMS segments of GSM-7 or UCS-2 (X3)."""
