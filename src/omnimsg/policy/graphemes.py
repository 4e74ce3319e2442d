"""C6: characters counted as a person sees them (extended grapheme clusters).

Pure functions over text; the segmentation tables are built on the first non-Latin
text, not at import. :mod:`omnimsg.policy.content` measures with them.
"""

from __future__ import annotations

import re
import unicodedata

from omnimsg._convert import to_text

__all__ = ["count_characters", "split_graphemes"]

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
    to_text(text, "text")
    if text.isascii() or max(text) < _FIRST_MARK:
        return len(text) - text.count("\r\n")
    clusters, joiners = _graphemes()
    if joiners.search(text) is None:
        # Every code point starts a cluster of its own, except LF after CR.
        return len(text) - text.count("\r\n")
    return clusters.subn("", text)[1]


def split_graphemes(text: str) -> list[str]:
    """Split ``text`` into the clusters :func:`count_characters` counts."""
    return _graphemes()[0].findall(to_text(text, "text"))
