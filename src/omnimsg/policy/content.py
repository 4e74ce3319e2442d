"""Message content as it will actually go: lengths, SMS segments, media links, voice notes.

This module owns how a message is measured and shaped for one channel (SPEC C1–C4,
C6, X3): measuring text (characters as a person sees them come from
:mod:`omnimsg.policy.graphemes`), splitting SMS into segments,
turning media into links where a channel sends them as links, and routing voice notes.
It is pure: no I/O and no clock. Filling snippets lives in :mod:`omnimsg.policy.snippets`;
deciding whether a message may go at all lives in the decision core.

:func:`render_content` runs on every decision, so its common case (plain text, no
media) does almost no work; see docs/content.md for the figures.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from enum import StrEnum

import attrs

from omnimsg._convert import shown, to_enum, to_optional_text, to_text, to_timedelta
from omnimsg.channels.capabilities import ContentLimits
from omnimsg.channels.kinds import MediaDelivery, TextUnit
from omnimsg.errors import InputError
from omnimsg.policy.graphemes import count_characters
from omnimsg.policy.reasons import Reason

__all__ = [
    "Media",
    "MediaKind",
    "OutboundContent",
    "SmsEncoding",
    "SmsSegments",
    "measure",
    "render_content",
    "sms_segments",
    "split_sms",
]


class MediaKind(StrEnum):
    """What a piece of media is; a ``VOICE`` medium is a recorded voice note (C4)."""

    IMAGE = "image"
    VIDEO = "video"
    DOCUMENT = "document"
    AUDIO = "audio"
    VOICE = "voice"


def _url(value: object) -> str:
    return to_text(value, "media url")


def _media_kind(value: object) -> MediaKind:
    return to_enum(MediaKind, value, "media kind")


def _duration(value: object) -> timedelta | None:
    return to_timedelta(value, "media duration")


def _filename(value: object) -> str | None:
    return to_optional_text(value, "media filename")


@attrs.frozen
class Media:
    """A piece of media by URL. ``duration`` is required for voice notes (C4).

    Raises :class:`~omnimsg.errors.InputError` for a kind that is not a
    :class:`MediaKind` (its value as a string is accepted), a voice note without a
    duration, or a negative duration.
    """

    url: str = attrs.field(converter=_url)
    kind: MediaKind = attrs.field(default=MediaKind.DOCUMENT, converter=_media_kind)
    duration: timedelta | None = attrs.field(default=None, converter=_duration)
    filename: str | None = attrs.field(default=None, converter=_filename)

    def __attrs_post_init__(self) -> None:
        if self.kind is MediaKind.VOICE and self.duration is None:
            raise InputError(f"voice note {shown(self.url)} needs a duration (C4)")
        if self.duration is not None and self.duration < timedelta(0):
            raise InputError(f"media {shown(self.url)}: duration must not be negative")


class SmsEncoding(StrEnum):
    """The alphabet an SMS goes in (X3)."""

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
    else the reason (CONTENT_TOO_LONG or VOICE_NOTE_TOO_LONG), ``detail`` says why and
    ``rule`` is the SPEC id of the limit broken (X3 for SMS segments, C1 where media
    go as links, C4 for a voice note, else C3: the channel's own limit).
    ``links`` counts the media URLs appended to ``text``.
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
    links: int = 0
    rule: str | None = None

    @property
    def fits(self) -> bool:
        """``True`` when the content meets every limit of the channel."""
        return self.problem is None


# --- X3: SMS segments --------------------------------------------------------------

# GSM 03.38 default alphabet (the 0x1B escape is not a character of its own).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Reached through the escape, so each takes two septets.
_GSM_EXTENSION = frozenset("\x0c^{}\\[]~|€")
_GSM_ALL = _GSM_BASIC | _GSM_EXTENSION
_GSM_EXTENSION_STR = "".join(sorted(_GSM_EXTENSION))

_GSM_SINGLE, _GSM_PART = 160, 153
_UCS2_SINGLE, _UCS2_PART = 70, 67
_FIRST_ASTRAL = "\U00010000"


def _is_gsm(text: str) -> bool:
    return _GSM_ALL.issuperset(text)


def _gsm_extension_count(text: str) -> int:
    return sum(text.count(ch) for ch in _GSM_EXTENSION_STR)


def _utf16_units(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) >> 1


def _split(text: str, gsm: bool) -> list[str]:
    """Greedy parts of at most 153 septets / 67 units, never splitting a 2-unit character."""
    capacity = _GSM_PART if gsm else _UCS2_PART
    parts: list[str] = []
    start = used = 0
    for index, ch in enumerate(text):
        cost = 2 if (ch in _GSM_EXTENSION if gsm else ch >= _FIRST_ASTRAL) else 1
        if used + cost > capacity:
            parts.append(text[start:index])
            start, used = index, 0
        used += cost
    parts.append(text[start:])
    return parts


def sms_segments(text: str) -> SmsSegments:
    """Encoding and segment count of an SMS text (X3).

    GSM-7 when every character is in the GSM 03.38 default alphabet or its extension
    table (``^ { } [ ] ~ | \\ €`` and form feed take two septets each): one segment up
    to 160 septets, else parts of 153 with an escape pair never split across parts.
    Otherwise UCS-2: UTF-16 units, one segment up to 70, else parts of 67 with a
    surrogate pair never split. Empty text is 0 units and 0 segments. National
    language shift tables are not used.
    """
    if not _require_text(text):
        return SmsSegments(SmsEncoding.GSM7, 0, 0)
    if _is_gsm(text):
        extensions = _gsm_extension_count(text)
        units = len(text) + extensions
        if units <= _GSM_SINGLE:
            return SmsSegments(SmsEncoding.GSM7, units, 1)
        if not extensions:
            return SmsSegments(SmsEncoding.GSM7, units, -(-units // _GSM_PART))
        return SmsSegments(SmsEncoding.GSM7, units, len(_split(text, gsm=True)))
    units = _utf16_units(text)
    if units <= _UCS2_SINGLE:
        return SmsSegments(SmsEncoding.UCS2, units, 1)
    if units == len(text):
        return SmsSegments(SmsEncoding.UCS2, units, -(-units // _UCS2_PART))
    return SmsSegments(SmsEncoding.UCS2, units, len(_split(text, gsm=False)))


def split_sms(text: str) -> tuple[str, ...]:
    """The parts an SMS text is sent in (X3); their concatenation is ``text``.

    One part when the text fits a single segment; ``()`` for empty text.
    """
    if not _require_text(text):
        return ()
    gsm = _is_gsm(text)
    units = len(text) + _gsm_extension_count(text) if gsm else _utf16_units(text)
    if units <= (_GSM_SINGLE if gsm else _UCS2_SINGLE):
        return (text,)
    return tuple(_split(text, gsm))


# --- measuring ---------------------------------------------------------------------


def _require_text(text: object) -> str:
    return to_text(text, "text")


def measure(text: str, unit: TextUnit | str) -> int:
    """Length of ``text`` in ``unit`` (segments for SMS_SEGMENTS); ``unit`` may be its name.

    Raises :class:`~omnimsg.errors.InputError` for text that is not a str or an
    unknown unit.
    """
    _require_text(text)
    unit = to_enum(TextUnit, unit, "unit")
    if unit is TextUnit.CHARACTERS:
        return count_characters(text)
    if unit is TextUnit.UTF8_BYTES:
        return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    if unit is TextUnit.UTF16_UNITS:
        return _utf16_units(text)
    return sms_segments(text).segments


_UNIT_WORDS = {
    TextUnit.CHARACTERS: "characters",
    TextUnit.UTF8_BYTES: "bytes of UTF-8",
    TextUnit.UTF16_UNITS: "UTF-16 code units",
    TextUnit.SMS_SEGMENTS: "SMS segments",
}


def _clock(duration: timedelta) -> str:
    """``5:01``, ``1:02:03`` or ``5:00.5``: a duration as people write it."""
    whole, micro = divmod(round(duration.total_seconds() * 1_000_000), 1_000_000)
    hours, rest = divmod(whole, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
    if micro:
        text += f".{micro:06d}".rstrip("0")
    return text


def _length_detail(
    length: int,
    limit: int,
    unit: TextUnit,
    sms: SmsSegments | None,
    links: int,
    limits: ContentLimits,
    where: str,
) -> tuple[str, str]:
    """The words and the SPEC id of a length refusal: the one place both are chosen."""
    words = _UNIT_WORDS[unit]
    if sms is not None:
        inner = "septets" if sms.encoding is SmsEncoding.GSM7 else "UTF-16 units"
        encoding = "GSM-7" if sms.encoding is SmsEncoding.GSM7 else "UCS-2"
        return f"{length} {words} ({encoding}, {sms.units} {inner}), limit {limit} (X3)", "X3"
    if where:
        return f"{length} {words} {where}, limit {limit} (C3)", "C3"
    if links:
        plural = "link" if links == 1 else "links"
        detail = f"{length} {words} including {links} media {plural}, limit {limit} (C1, C2)"
        return detail, "C1"
    rule = "C1" if limits.media is MediaDelivery.LINK else "C3"
    return f"{length} {words}, limit {limit} ({rule})", rule


def _voice_problem(media: tuple[Media, ...], voice_max: timedelta) -> str:
    """Check every voice note's duration (C4); return the detail of the first too long."""
    for index, item in enumerate(media):
        if item.kind is not MediaKind.VOICE:
            continue
        if item.duration is None:
            raise InputError(
                f"media[{index}] ({item.url!r}): a voice note needs its duration to be "
                f"checked against the {_clock(voice_max)} limit (C4)"
            )
        if item.duration < timedelta(0):
            raise InputError(
                f"media[{index}] ({item.url!r}): voice note duration is negative ({item.duration})"
            )
        if item.duration > voice_max:
            return (
                f"voice note media[{index}] is {_clock(item.duration)} long, "
                f"limit {_clock(voice_max)} (C4)"
            )
    return ""


def _render(
    text: str, media: tuple[Media, ...], limits: ContentLimits, template: bool
) -> OutboundContent:
    attachments: tuple[Media, ...] = ()
    voice_note: Media | None = None
    links = 0
    voice_detail = ""
    if media:
        voice_detail = _voice_problem(media, limits.voice_max)
        as_links = limits.media is MediaDelivery.LINK
        has_voice = any(item.kind is MediaKind.VOICE for item in media)
        if not as_links and not has_voice:
            attachments = media
        else:
            urls: list[str] = []
            native: list[Media] = []
            for item in media:
                if item.kind is MediaKind.VOICE and limits.voice_notes and voice_note is None:
                    voice_note = item
                elif as_links:
                    urls.append(item.url)
                elif item.kind is MediaKind.VOICE:
                    native.append(attrs.evolve(item, kind=MediaKind.AUDIO))
                else:
                    native.append(item)
            attachments = tuple(native)
            if urls:
                links = len(urls)
                sep = limits.link_separator
                text = sep.join([text, *urls]) if text else sep.join(urls)

    unit = limits.text_unit
    limit = limits.text_max
    where = ""
    if template and limits.template_body_max is not None:
        limit, where = limits.template_body_max, "in the template body"
    elif (
        not template
        and limits.caption_max is not None
        and attachments
        and (limit is None or limits.caption_max < limit)
    ):
        limit, where = limits.caption_max, "in a media caption"

    sms: SmsSegments | None = None
    if unit is TextUnit.SMS_SEGMENTS:
        sms = sms_segments(text)
        length = sms.segments
    else:
        length = measure(text, unit)

    text_detail = text_rule = ""
    if limit is not None and length > limit:
        text_detail, text_rule = _length_detail(length, limit, unit, sms, links, limits, where)

    problem: Reason | None = None
    detail = ""
    rule: str | None = None
    if voice_detail:
        problem, rule = Reason.VOICE_NOTE_TOO_LONG, "C4"
        detail = f"{voice_detail}; {text_detail}" if text_detail else voice_detail
    elif text_detail:
        problem, detail, rule = Reason.CONTENT_TOO_LONG, text_detail, text_rule
    return OutboundContent(
        text=text,
        attachments=attachments,
        voice_note=voice_note,
        unit=unit,
        length=length,
        limit=limit,
        sms=sms,
        problem=problem,
        detail=detail,
        links=links,
        rule=rule,
    )


def render_content(
    text: str,
    media: tuple[Media, ...],
    limits: ContentLimits,
    *,
    template: bool = False,
) -> OutboundContent:
    """Turn a message into what will go on a channel and check it against ``limits``.

    Where ``limits.media`` is LINK, each media URL is appended to the text, after
    ``limits.link_separator`` (no separator before the first URL of an empty text),
    and counts toward the limit (C1, C2); where NATIVE, media go in ``attachments``.
    A VOICE medium goes as ``voice_note`` on a channel with voice notes (the first
    one; others as files), else as a file attachment of kind AUDIO, or as a link where
    media go as links (C4). Every voice note longer than ``limits.voice_max`` is
    VOICE_NOTE_TOO_LONG (exactly the limit fits).

    The text (with links) is measured in ``limits.text_unit`` against
    ``limits.text_max``, or ``template_body_max`` when ``template`` is true (falling
    back to ``text_max``), or ``caption_max`` when it is smaller and the message
    carries native attachments (the text is then their caption; a voice note alone
    carries none). Over the limit, the problem is CONTENT_TOO_LONG; ``detail`` says
    it in words. When both a voice note and the text are too long, the problem is
    VOICE_NOTE_TOO_LONG and ``detail`` names both.

    Nothing is cached here; :class:`~omnimsg.policy.decision.Message` keeps its own
    renderings, one per content-limits object.

    Raises :class:`~omnimsg.errors.InputError` for a voice note without a duration
    or with a negative one.
    """
    _require_text(text)
    if not isinstance(limits, ContentLimits):
        raise InputError(f"limits: expected ContentLimits, got {type(limits).__name__}")
    if isinstance(media, Media):
        media = (media,)
    if isinstance(media, str | bytes) or not isinstance(media, Iterable):
        raise InputError(f"media: expected a sequence of Media, got {type(media).__name__}")
    items = tuple(media)
    if not all(isinstance(item, Media) for item in items):
        raise InputError("media: every item must be a Media")
    return _render(text, items, limits, bool(template))
