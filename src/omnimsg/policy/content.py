"""Message content as it will actually go: lengths, SMS segments, media links, voice notes.

This module owns how a message is measured and shaped for one channel (SPEC C1–C4,
C6, X3): counting characters as a person sees them, splitting SMS into segments,
turning media into links where a channel sends them as links, and routing voice notes.
It is pure: no I/O and no clock. Filling snippets lives in :mod:`omnimsg.policy.snippets`;
deciding whether a message may go at all lives in the decision core.

:func:`render_content` runs on every decision, so its common case (plain text, no
media) does almost no work; see docs/content.md for the figures.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import timedelta
from enum import StrEnum

import attrs

from omnimsg._convert import to_enum, to_optional_text, to_text, to_timedelta
from omnimsg.channels.capabilities import ContentLimits
from omnimsg.channels.kinds import MediaDelivery, TextUnit
from omnimsg.errors import InputError
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
    "split_graphemes",
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
            raise InputError(f"voice note {self.url!r} needs a duration (C4)")
        if self.duration is not None and self.duration < timedelta(0):
            raise InputError(f"media {self.url!r}: duration must not be negative")


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


# --- C6: characters as a person sees them ------------------------------------------
#
# Extended grapheme clusters of UAX #29, written as the regular expression of its
# Table 1b and run by the standard ``re`` engine. The property classes come from
# ``unicodedata`` (general categories) plus the short lists below, which the standard
# library does not expose. They are built on the first non-Latin text, not at import.

_ZWJ = 0x200D
_REGIONAL_INDICATORS = (0x1F1E6, 0x1F1FF)
_EMOJI_MODIFIERS = (0x1F3FB, 0x1F3FF)
_TAGS = (0xE0020, 0xE007F)

# Extended_Pictographic (emoji-data.txt, stable since Emoji 13 with reserved ranges).
_EXTENDED_PICTOGRAPHIC: tuple[tuple[int, int], ...] = (
    (0x00A9, 0x00A9), (0x00AE, 0x00AE), (0x203C, 0x203C), (0x2049, 0x2049),
    (0x2122, 0x2122), (0x2139, 0x2139), (0x2194, 0x2199), (0x21A9, 0x21AA),
    (0x231A, 0x231B), (0x2328, 0x2328), (0x2388, 0x2388), (0x23CF, 0x23CF),
    (0x23E9, 0x23F3), (0x23F8, 0x23FA), (0x24C2, 0x24C2), (0x25AA, 0x25AB),
    (0x25B6, 0x25B6), (0x25C0, 0x25C0), (0x25FB, 0x25FE), (0x2600, 0x2605),
    (0x2607, 0x2612), (0x2614, 0x2685), (0x2690, 0x2705), (0x2708, 0x2712),
    (0x2714, 0x2714), (0x2716, 0x2716), (0x271D, 0x271D), (0x2721, 0x2721),
    (0x2728, 0x2728), (0x2733, 0x2734), (0x2744, 0x2744), (0x2747, 0x2747),
    (0x274C, 0x274C), (0x274E, 0x274E), (0x2753, 0x2755), (0x2757, 0x2757),
    (0x2763, 0x2767), (0x2795, 0x2797), (0x27A1, 0x27A1), (0x27B0, 0x27B0),
    (0x27BF, 0x27BF), (0x2934, 0x2935), (0x2B05, 0x2B07), (0x2B1B, 0x2B1C),
    (0x2B50, 0x2B50), (0x2B55, 0x2B55), (0x3030, 0x3030), (0x303D, 0x303D),
    (0x3297, 0x3297), (0x3299, 0x3299), (0x1F000, 0x1F0FF), (0x1F10D, 0x1F10F),
    (0x1F12F, 0x1F12F), (0x1F16C, 0x1F171), (0x1F17E, 0x1F17F), (0x1F18E, 0x1F18E),
    (0x1F191, 0x1F19A), (0x1F1AD, 0x1F1E5), (0x1F201, 0x1F20F), (0x1F21A, 0x1F21A),
    (0x1F22F, 0x1F22F), (0x1F232, 0x1F23A), (0x1F23C, 0x1F23F), (0x1F249, 0x1F3FA),
    (0x1F400, 0x1F53D), (0x1F546, 0x1F64F), (0x1F680, 0x1F6FF), (0x1F774, 0x1F77F),
    (0x1F7D5, 0x1F7FF), (0x1F80C, 0x1F80F), (0x1F848, 0x1F84F), (0x1F85A, 0x1F85F),
    (0x1F888, 0x1F88F), (0x1F8AE, 0x1F8FF), (0x1F90C, 0x1F93A), (0x1F93C, 0x1F945),
    (0x1F947, 0x1FAFF), (0x1FC00, 0x1FFFD),
)  # fmt: skip

# Grapheme_Cluster_Break values that general categories alone do not give.
_PREPEND: tuple[tuple[int, int], ...] = (
    (0x0600, 0x0605), (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891),
    (0x08E2, 0x08E2), (0x0D4E, 0x0D4E), (0x110BD, 0x110BD), (0x110CD, 0x110CD),
    (0x111C2, 0x111C3), (0x1193F, 0x1193F), (0x11941, 0x11941), (0x11A3A, 0x11A3A),
    (0x11A84, 0x11A89), (0x11D46, 0x11D46),
)  # fmt: skip
# Other_Grapheme_Extend: spacing marks and others that extend like Mn (besides tags, ZWNJ).
_EXTEND_EXTRA: tuple[tuple[int, int], ...] = (
    (0x09BE, 0x09BE), (0x09D7, 0x09D7), (0x0B3E, 0x0B3E), (0x0B57, 0x0B57),
    (0x0BBE, 0x0BBE), (0x0BD7, 0x0BD7), (0x0CC2, 0x0CC2), (0x0CD5, 0x0CD6),
    (0x0D3E, 0x0D3E), (0x0D57, 0x0D57), (0x0DCF, 0x0DCF), (0x0DDF, 0x0DDF),
    (0x1B35, 0x1B35), (0x200C, 0x200C), (0x302E, 0x302F), (0xFF9E, 0xFF9F),
    (0x1133E, 0x1133E), (0x11357, 0x11357), (0x114B0, 0x114B0), (0x114BD, 0x114BD),
    (0x115AF, 0x115AF), (0x11930, 0x11930), (0x1D165, 0x1D165), (0x1D16E, 0x1D172),
    _EMOJI_MODIFIERS, _TAGS,
)  # fmt: skip
# Spacing_Mark characters that UAX #29 leaves out of SpacingMark, and two it adds.
_NOT_SPACING: tuple[tuple[int, int], ...] = (
    (0x102B, 0x102C), (0x1038, 0x1038), (0x1062, 0x1064), (0x1067, 0x106D),
    (0x1083, 0x1083), (0x1087, 0x108C), (0x108F, 0x108F), (0x109A, 0x109C),
    (0x1A61, 0x1A61), (0x1A63, 0x1A64), (0xAA7B, 0xAA7B), (0xAA7D, 0xAA7D),
    (0x11720, 0x11721),
)  # fmt: skip
_SPACING_EXTRA: tuple[tuple[int, int], ...] = ((0x0E33, 0x0E33), (0x0EB3, 0x0EB3))

# Blocks of letters only (ideographs, Hangul syllables, private use, surrogates, Tangut):
# skipping them when scanning categories makes the one-time build several times faster.
# Surrogates are added back as Control; the tests check the other blocks hold no marks.
_LETTER_BLOCKS: tuple[tuple[int, int], ...] = (
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xD800, 0xDFFF),
    (0xE000, 0xF8FF), (0x17000, 0x18CFF), (0x20000, 0xDFFFF), (0xE1000, 0x10FFFF),
)  # fmt: skip
_SURROGATES = (0xD800, 0xDFFF)
# Unassigned default-ignorable code points in the tags plane count as Control.
_IGNORABLE_PLANE = (0xE0000, 0xE0FFF)

_HANGUL_L: tuple[tuple[int, int], ...] = ((0x1100, 0x115F), (0xA960, 0xA97C))
_HANGUL_V: tuple[tuple[int, int], ...] = ((0x1160, 0x11A7), (0xD7B0, 0xD7C6))
_HANGUL_T: tuple[tuple[int, int], ...] = ((0x11A8, 0x11FF), (0xD7CB, 0xD7FB))
_HANGUL_FIRST, _HANGUL_LAST, _HANGUL_T_COUNT = 0xAC00, 0xD7A3, 28

_MARK_OR_CONTROL = frozenset({"Mn", "Me", "Mc", "Cc", "Cf", "Zl", "Zp", "Cs", "Cn"})


def _points(ranges: tuple[tuple[int, int], ...]) -> frozenset[int]:
    return frozenset(cp for lo, hi in ranges for cp in range(lo, hi + 1))


def _scan_ranges() -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for lo, hi in _LETTER_BLOCKS:
        if start < lo:
            spans.append((start, lo - 1))
        start = hi + 1
    return spans


def _ranges(cps: list[int]) -> tuple[tuple[int, int], ...]:
    ranges: list[tuple[int, int]] = []
    for cp in sorted(cps):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    return tuple(ranges)


def _class(ranges: tuple[tuple[int, int], ...]) -> str:
    """The body of a regex character class holding ``ranges``."""
    return "".join(f"\\U{lo:08X}" if lo == hi else f"\\U{lo:08X}-\\U{hi:08X}" for lo, hi in ranges)


_ASTRAL = "[\\U00010000-\\U0010FFFF]"


def _set(*parts: tuple[tuple[int, int], ...], negate: bool = False) -> str:
    """A regex matching one code point in ``parts`` (or not in them, with ``negate``).

    ``re`` looks BMP code points up in a table but walks ranges above U+FFFF one by
    one, so those are tried only after a guard that the code point is above U+FFFF.
    """
    ranges = [r for part in parts for r in part]
    bmp = _class(tuple((lo, min(hi, 0xFFFF)) for lo, hi in ranges if lo <= 0xFFFF))
    astral = _class(tuple((max(lo, 0x10000), hi) for lo, hi in ranges if hi > 0xFFFF))
    if negate:
        return f"(?:[^{bmp}\\U00010000-\\U0010FFFF]|(?={_ASTRAL})[^{astral}\\x00-\\uFFFF])"
    if not astral:
        return f"[{bmp}]"
    if not bmp:
        return f"(?:(?={_ASTRAL})[{astral}])"
    return f"(?:[{bmp}]|(?={_ASTRAL})[{astral}])"


def _build_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The cluster pattern, and one finding any code point that joins a cluster."""
    category = unicodedata.category
    extend_extra = _points(_EXTEND_EXTRA)
    not_spacing = _points(_NOT_SPACING)
    special = extend_extra | _points(_PREPEND) | {_ZWJ, 0x0D, 0x0A}
    control: list[int] = list(range(_SURROGATES[0], _SURROGATES[1] + 1))
    extend: list[int] = list(extend_extra)
    spacing: list[int] = []
    for lo, hi in _scan_ranges():
        for cp, cat in enumerate(map(category, map(chr, range(lo, hi + 1))), lo):
            if cat not in _MARK_OR_CONTROL or cp in special:
                continue
            if cat == "Mn" or cat == "Me":
                extend.append(cp)
            elif cat == "Mc":
                if cp not in not_spacing:
                    spacing.append(cp)
            elif cat != "Cn" or _IGNORABLE_PLANE[0] <= cp <= _IGNORABLE_PLANE[1]:
                control.append(cp)
    hangul_lv = list(range(_HANGUL_FIRST, _HANGUL_LAST + 1, _HANGUL_T_COUNT))
    hangul_lvt = [
        cp
        for cp in range(_HANGUL_FIRST, _HANGUL_LAST + 1)
        if (cp - _HANGUL_FIRST) % _HANGUL_T_COUNT
    ]
    controls = (*_ranges(control), (0x0A, 0x0A), (0x0D, 0x0D))
    hangul_parts = (_HANGUL_L, _HANGUL_V, _HANGUL_T, _ranges(hangul_lv), _ranges(hangul_lvt))
    l_, v_, t_, lv, lvt = (_set(r) for r in hangul_parts)
    post = _set(_ranges(extend), _ranges(spacing), _SPACING_EXTRA, ((_ZWJ, _ZWJ),))
    pict = _set(_EXTENDED_PICTOGRAPHIC)
    ri = _set((_REGIONAL_INDICATORS,))
    # Most clusters start with a code point that no rule before GB9 treats specially;
    # trying those first gives the same clusters as the rules' order, only faster.
    plain = _set(
        controls,
        _PREPEND,
        *hangul_parts,
        (_REGIONAL_INDICATORS,),
        _EXTENDED_PICTOGRAPHIC,
        negate=True,
    )
    hangul = f"{l_}*(?:{v_}+|{lv}{v_}*|{lvt}){t_}*|{l_}+|{t_}+"
    pictographic = f"{pict}(?:{_set(_ranges(extend))}*\\u200d{pict})*"
    core = f"(?:{hangul}|{ri}{ri}|{pictographic}|{_set(controls, negate=True)})"
    clusters = f"{plain}{post}*|\\r\\n|{_set(controls)}|{_set(_PREPEND)}*{core}{post}*"
    joiners = _set(
        _ranges(extend),
        _ranges(spacing),
        _SPACING_EXTRA,
        ((_ZWJ, _ZWJ),),
        _PREPEND,
        _HANGUL_L,
        _HANGUL_V,
        _HANGUL_T,
        (_REGIONAL_INDICATORS,),
    )
    return re.compile(clusters), re.compile(joiners)


_patterns: tuple[re.Pattern[str], re.Pattern[str]] | None = None
_FIRST_MARK = "\u0300"  # no code point below it extends, prepends or joins a cluster


def _graphemes() -> tuple[re.Pattern[str], re.Pattern[str]]:
    global _patterns
    if _patterns is None:
        _patterns = _build_patterns()
    return _patterns


def count_characters(text: str) -> int:
    """Characters as a person sees them (C6): grapheme clusters, an emoji is one.

    Counts the extended grapheme clusters of Unicode UAX #29: a letter with its
    combining marks, an emoji with skin-tone modifiers, variation selectors, keycap or
    tag sequences, a ZWJ sequence such as 👨‍👩‍👧, a flag (two regional indicators), a
    Hangul syllable in jamo, and CR LF each count as one. Indic conjunct clusters
    (rule GB9c, new in Unicode 15.1) are not joined. Plain ASCII and text below U+0300
    are counted without the segmentation tables, which are built on first use.
    """
    _require_text(text)
    if text.isascii() or max(text) < _FIRST_MARK:
        return len(text) - text.count("\r\n")
    clusters, joiners = _graphemes()
    if joiners.search(text) is None:
        # Every code point starts a cluster of its own, except LF after CR.
        return len(text) - text.count("\r\n")
    return clusters.subn("", text)[1]


def split_graphemes(text: str) -> list[str]:
    """Split ``text`` into the clusters :func:`count_characters` counts."""
    return _graphemes()[0].findall(_require_text(text))


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
    if not isinstance(text, str):
        raise InputError(f"text: expected a str, got {type(text).__name__}")
    return text


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
