"""Message content as it will actually go: lengths, SMS segments, media links, voice notes.

INTERFACE STUB — the implementation replaces the bodies; names and signatures stay.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

import attrs

from omnimsg.channels.capabilities import ContentLimits
from omnimsg.channels.kinds import TextUnit
from omnimsg.policy.reasons import Reason

__all__ = [
    "Media",
    "MediaKind",
    "OutboundContent",
    "SmsEncoding",
    "SmsSegments",
    "count_characters",
    "measure",
    "render_content",
    "sms_segments",
]


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    DOCUMENT = "document"
    AUDIO = "audio"
    VOICE = "voice"


@attrs.frozen
class Media:
    """A piece of media by URL. ``duration`` is required for voice notes (C4)."""

    url: str
    kind: MediaKind = MediaKind.DOCUMENT
    duration: timedelta | None = None
    filename: str | None = None


class SmsEncoding(StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"


@attrs.frozen
class SmsSegments:
    """How an SMS text splits (X3). ``units``: septets (GSM-7) or UTF-16 units (UCS-2)."""

    encoding: SmsEncoding
    units: int
    segments: int


@attrs.frozen
class OutboundContent:
    """The content as it will go, and whether it fits the channel.

    ``text`` includes media links where the channel sends media as links (C2).
    ``attachments`` go natively; ``voice_note`` goes as a voice note (C4).
    ``length`` is measured in ``unit``; ``problem`` is ``None`` when the content fits,
    else the reason (CONTENT_TOO_LONG or VOICE_NOTE_TOO_LONG) and ``detail`` says why.
    """

    text: str
    attachments: tuple[Media, ...] = ()
    voice_note: Media | None = None
    unit: TextUnit = TextUnit.CHARACTERS
    length: int = 0
    limit: int | None = None
    sms: SmsSegments | None = None
    problem: Reason | None = None
    detail: str = ""


def count_characters(text: str) -> int:
    """Characters as a person sees them (C6): grapheme clusters, an emoji is one."""
    raise NotImplementedError


def sms_segments(text: str) -> SmsSegments:
    """Encoding and segment count of an SMS text (X3)."""
    raise NotImplementedError


def measure(text: str, unit: TextUnit) -> int:
    """Length of ``text`` in ``unit`` (segments for SMS_SEGMENTS)."""
    raise NotImplementedError


def render_content(
    text: str,
    media: tuple[Media, ...],
    limits: ContentLimits,
    *,
    template: bool = False,
) -> OutboundContent:
    """Turn a message into what will go on a channel and check it against ``limits``."""
    raise NotImplementedError
