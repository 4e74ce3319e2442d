"""Content rules: characters as people see them, media as links, voice notes, limits.

SPEC C1, C2, C3, C4, C6 (and X3 through ``measure``; SMS segments themselves are in
test_sms.py).
"""

from __future__ import annotations

import unicodedata
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnimsg.channels.capabilities import ContentLimits
from omnimsg.channels.kinds import MediaDelivery, TextUnit
from omnimsg.errors import InputError
from omnimsg.policy import graphemes
from omnimsg.policy.content import (
    Media,
    MediaKind,
    OutboundContent,
    SmsEncoding,
    measure,
    render_content,
)
from omnimsg.policy.graphemes import count_characters, split_graphemes
from omnimsg.policy.reasons import RULE_OF, Reason

LINK = "https://ex.co/p.jpg"
PHOTO = Media(LINK, MediaKind.IMAGE)
EXPERTCONNECT = ContentLimits(
    text_max=240, text_unit=TextUnit.CHARACTERS, media=MediaDelivery.LINK, link_separator=" "
)
WHATSAPP = ContentLimits(text_max=4096, caption_max=1024, template_body_max=1024, voice_notes=True)
VIBER = ContentLimits(text_max=7000)


def voice(seconds: float | None, url: str = "https://ex.co/v.ogg") -> Media:
    duration = None if seconds is None else timedelta(seconds=seconds)
    return Media(url, MediaKind.VOICE, duration=duration)


# C6: characters as a person sees them ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("hola", 4),
        ("👍", 1),
        ("😄👍🌟", 3),
        ("👍🏽", 1),  # skin-tone modifier
        ("☝🏻", 1),
        ("👨‍👩‍👧", 1),  # ZWJ family
        ("👩🏽‍💻", 1),  # modifier inside a ZWJ sequence
        ("🏳️‍🌈", 1),  # variation selector and ZWJ
        ("❤️", 1),  # text symbol + VS16
        ("1️⃣", 1),  # keycap
        ("#️⃣", 1),
        ("🇪🇸", 1),  # flag: two regional indicators
        ("🇪🇸🇲🇽", 2),
        ("🇪🇸🇲", 2),  # an odd regional indicator stands alone
        ("🏴󠁧󠁢󠁥󠁮󠁧󠁿", 1),  # tag sequence (England)
        ("é", 1),  # precomposed
        ("e\u0301", 1),  # e + combining acute
        ("e\u0301\u0323", 1),  # two combining marks
        ("\u0301", 1),  # a lone mark is a character of its own
        ("Ｅ\u0301", 1),
        ("한국어", 3),
        ("\u1100\u1161\u11a8", 1),  # Hangul syllable written in jamo
        ("가\u11a8", 1),  # LV + T
        ("각\u1161", 2),  # LVT + V breaks
        ("가\u1161", 1),  # LV + V
        ("\u1100\u1100\u1161", 1),  # L L V
        ("\u11a8\u11a8", 1),  # T T
        ("👍\u200d👍", 1),  # GB11: pictograph ZWJ pictograph
        ("a\u200d👍", 2),  # GB11 needs a pictograph before the ZWJ
        ("กำ", 1),  # Thai SARA AM is a spacing mark
        ("\u0600\u0661", 1),  # prepended concatenation mark
        ("a\u200db", 2),  # ZWJ between letters joins nothing after it
        ("\r\n", 1),
        ("a\r\nb", 3),
        ("\n\r", 2),
        ("\ud83d", 1),  # a lone surrogate
    ],
)
def test_c6_counts_grapheme_clusters(text: str, expected: int) -> None:
    """SPEC C6: characters are counted as a person sees them (an emoji is one)."""
    assert count_characters(text) == expected


def test_c6_an_emoji_counts_as_one_character() -> None:
    """SPEC C6: 239 letters and an emoji with a skin tone are 240 characters."""
    assert count_characters("a" * 239 + "👍🏽") == 240
    assert len("a" * 239 + "👍🏽") == 241


def test_c6_crlf_counts_as_one_character_in_ascii_and_elsewhere() -> None:
    """SPEC C6: CR LF is one cluster, whether the text is ASCII or not."""
    assert count_characters("a\r\nb") == count_characters("á\r\nb") == 3


def test_c6_split_graphemes_gives_the_clusters_counted() -> None:
    """SPEC C6."""
    assert split_graphemes("Hola 👋🏽 José\u0301") == [
        *"Hola ",
        "👋🏽",
        " ",
        *"Jos",
        "é\u0301",
    ]


def test_c6_letter_blocks_skipped_when_building_the_tables_hold_no_marks() -> None:
    """SPEC C6: the blocks the table builder skips really are plain letters (or unassigned)."""
    plain = {"Lo", "Cn", "Co", "Cs"}
    for lo, hi in graphemes._LETTER_BLOCKS:
        categories = set(map(unicodedata.category, map(chr, range(lo, hi + 1))))
        assert categories <= plain, f"{lo:X}..{hi:X}: {categories - plain}"
    assert all(unicodedata.category(chr(cp)) == "Cs" for cp in range(0xD800, 0xE000))


text_strategy = st.text(
    alphabet=st.characters(codec="utf-8")
    | st.sampled_from(["👍", "🏽", "\u200d", "🇪", "\u0301", "\r", "\n", "\ufe0f", "\u1100"]),
    max_size=40,
)


@given(text_strategy)
def test_c6_clusters_partition_the_text(text: str) -> None:
    """SPEC C6: clusters cover the text exactly, and their number is the count."""
    clusters = split_graphemes(text)
    assert "".join(clusters) == text
    assert all(clusters)
    assert count_characters(text) == len(clusters)


@given(text_strategy)
def test_c6_never_more_characters_than_code_points(text: str) -> None:
    """SPEC C6: a cluster holds at least one code point."""
    assert 0 <= count_characters(text) <= len(text)


@given(st.text(alphabet=st.characters(max_codepoint=0x2FF), max_size=60))
def test_c6_fast_path_below_combining_marks_agrees_with_the_segmentation(text: str) -> None:
    """SPEC C6: the shortcut for text below U+0300 gives the same count as the tables."""
    assert count_characters(text) == len(graphemes._graphemes()[0].findall(text))


# measure ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        ("hola", TextUnit.CHARACTERS, 4),
        ("👍🏽", TextUnit.CHARACTERS, 1),
        ("👍🏽", TextUnit.UTF8_BYTES, 8),
        ("👍🏽", TextUnit.UTF16_UNITS, 4),
        ("ñ", TextUnit.UTF8_BYTES, 2),
        ("ñ", TextUnit.UTF16_UNITS, 1),
        ("a" * 160, TextUnit.SMS_SEGMENTS, 1),
        ("a" * 161, TextUnit.SMS_SEGMENTS, 2),
        ("", TextUnit.SMS_SEGMENTS, 0),
    ],
)
def test_measure_counts_in_the_channel_unit(text: str, unit: TextUnit, expected: int) -> None:
    """SPEC C3, C6, X3, P7, P11: each channel counts in its own unit."""
    assert measure(text, unit) == expected


# C1, C2: ExpertConnect, 240 characters with media as links ---------------------------


def test_c1_c2_240_characters_including_the_link_fit() -> None:
    """SPEC C1, C2: the link is appended to the text and counts toward 240."""
    text = "a" * (240 - len(LINK) - 1)
    out = render_content(text, (PHOTO,), EXPERTCONNECT)
    assert out.text == f"{text} {LINK}"
    assert out.attachments == ()
    assert (out.length, out.limit, out.links) == (240, 240, 1)
    assert out.problem is None
    assert out.fits
    assert out.detail == ""


def test_c1_c2_241_characters_including_the_link_are_too_long() -> None:
    """SPEC C1, C2: one character over, counting the link, is refused in words."""
    text = "a" * (241 - len(LINK) - 1)
    out = render_content(text, (PHOTO,), EXPERTCONNECT)
    assert out.problem is Reason.CONTENT_TOO_LONG
    assert out.rule == "C1"
    assert out.length == 241
    assert out.detail == "241 characters including 1 media link, limit 240 (C1, C2)"
    assert not out.fits


def test_c1_241_characters_without_media_name_c1() -> None:
    """SPEC C1."""
    out = render_content("a" * 241, (), EXPERTCONNECT)
    assert out.detail == "241 characters, limit 240 (C1)"
    assert render_content("a" * 240, (), EXPERTCONNECT).fits


def test_c1_c6_an_emoji_is_one_of_the_240_characters() -> None:
    """SPEC C1, C6."""
    out = render_content("a" * 239 + "👨‍👩‍👧", (), EXPERTCONNECT)
    assert (out.length, out.problem) == (240, None)


def test_c2_every_media_link_follows_the_text_after_the_separator() -> None:
    """SPEC C2: photo, video and PDF all go as links, in order, one separator each."""
    media = (
        Media("https://ex.co/a.jpg", MediaKind.IMAGE),
        Media("https://ex.co/b.mp4", MediaKind.VIDEO),
        Media("https://ex.co/c.pdf", MediaKind.DOCUMENT),
    )
    limits = ContentLimits(text_max=240, media=MediaDelivery.LINK, link_separator="\n")
    out = render_content("Hola", media, limits)
    assert out.text == "Hola\nhttps://ex.co/a.jpg\nhttps://ex.co/b.mp4\nhttps://ex.co/c.pdf"
    assert out.links == 3
    assert out.attachments == ()


def test_c2_media_without_text_has_no_leading_separator() -> None:
    """SPEC C2."""
    out = render_content("", (PHOTO, PHOTO), EXPERTCONNECT)
    assert out.text == f"{LINK} {LINK}"
    assert out.length == 2 * len(LINK) + 1


def test_c2_native_media_go_as_the_same_attachments_tuple() -> None:
    """SPEC C2: where media go natively nothing is appended and nothing is copied."""
    media = (PHOTO,)
    out = render_content("Hola", media, VIBER)
    assert out.text == "Hola"
    assert out.attachments is media
    assert out.links == 0


def test_c2_a_list_of_media_is_accepted_as_a_tuple() -> None:
    """SPEC C2."""
    out = render_content("Hola", [PHOTO], VIBER)  # type: ignore[arg-type]
    assert out.attachments == (PHOTO,)


# C3: each channel has its own limits -------------------------------------------------


def test_c3_same_text_fits_one_channel_and_not_another() -> None:
    """SPEC C3."""
    text = "x" * 2001
    assert render_content(text, (), WHATSAPP).fits
    out = render_content(text, (), ContentLimits(text_max=2000))
    assert out.problem is Reason.CONTENT_TOO_LONG
    assert out.detail == "2001 characters, limit 2000 (C3)"


def test_c3_template_body_has_its_own_limit() -> None:
    """SPEC C3, P5: a template body of 1,025 characters is too long on WhatsApp."""
    assert render_content("x" * 1024, (), WHATSAPP, template=True).fits
    out = render_content("x" * 1025, (), WHATSAPP, template=True)
    assert (out.limit, out.problem) == (1024, Reason.CONTENT_TOO_LONG)
    assert out.detail == "1025 characters in the template body, limit 1024 (C3)"


def test_c3_template_falls_back_to_the_text_limit() -> None:
    """SPEC C3."""
    out = render_content("x" * 2001, (), ContentLimits(text_max=2000), template=True)
    assert (out.limit, out.problem) == (2000, Reason.CONTENT_TOO_LONG)


def test_c3_text_with_native_attachments_is_a_caption() -> None:
    """SPEC C3, P10: with an attachment the text is its caption and has the caption limit."""
    assert render_content("x" * 1024, (PHOTO,), WHATSAPP).fits
    out = render_content("x" * 1025, (PHOTO,), WHATSAPP)
    assert (out.limit, out.problem) == (1024, Reason.CONTENT_TOO_LONG)
    assert out.detail == "1025 characters in a media caption, limit 1024 (C3)"
    assert render_content("x" * 1025, (), WHATSAPP).fits


def test_c3_instagram_counts_utf8_bytes() -> None:
    """SPEC C3, P7: 1,000 bytes of UTF-8; 'ñ' takes two."""
    limits = ContentLimits(text_max=1000, text_unit=TextUnit.UTF8_BYTES)
    assert render_content("ñ" * 500, (), limits).fits
    out = render_content("ñ" * 500 + "a", (), limits)
    assert out.detail == "1001 bytes of UTF-8, limit 1000 (C3)"


def test_c3_line_counts_utf16_units() -> None:
    """SPEC C3, P11: an emoji outside the BMP is two UTF-16 units."""
    limits = ContentLimits(text_max=5000, text_unit=TextUnit.UTF16_UNITS)
    assert render_content("👍" * 2500, (), limits).fits
    out = render_content("👍" * 2500 + "a", (), limits)
    assert out.detail == "5001 UTF-16 code units, limit 5000 (C3)"


def test_c3_no_limit_still_measures() -> None:
    """SPEC C3: a channel without a limit reports the length and never a problem."""
    out = render_content("x" * 100_000, (), ContentLimits())
    assert (out.length, out.limit, out.problem) == (100_000, None, None)


def test_x3_sms_limit_is_in_segments_and_reports_the_encoding() -> None:
    """SPEC X3: an SMS channel limits segments; the detail gives encoding and units."""
    limits = ContentLimits(text_max=2, text_unit=TextUnit.SMS_SEGMENTS, media=MediaDelivery.LINK)
    ok = render_content("a" * 306, (), limits)
    assert ok.fits
    assert ok.sms is not None
    assert (ok.sms.encoding, ok.sms.units, ok.sms.segments) == (SmsEncoding.GSM7, 306, 2)
    out = render_content("a" * 307, (), limits)
    assert out.detail == "3 SMS segments (GSM-7, 307 septets), limit 2 (X3)"
    emoji = render_content("👍" * 70, (), limits)
    assert emoji.detail == "3 SMS segments (UCS-2, 140 UTF-16 units), limit 2 (X3)"


# C4: voice notes ---------------------------------------------------------------------


def test_c4_voice_note_of_exactly_5_minutes_goes_as_a_voice_note() -> None:
    """SPEC C4: at most 5 minutes; 5:00 fits."""
    note = voice(300)
    out = render_content("", (note,), WHATSAPP)
    assert out.fits
    assert out.voice_note is note
    assert out.attachments == ()


def test_c4_voice_note_of_5_minutes_1_second_is_too_long() -> None:
    """SPEC C4: 5:01 is over."""
    out = render_content("", (voice(301),), WHATSAPP)
    assert out.problem is Reason.VOICE_NOTE_TOO_LONG
    assert RULE_OF[out.problem] == "C4"
    assert out.detail == "voice note media[0] is 5:01 long, limit 5:00 (C4)"


def test_c4_a_fraction_of_a_second_over_is_too_long() -> None:
    """SPEC C4."""
    out = render_content("", (voice(300.25),), WHATSAPP)
    assert out.detail == "voice note media[0] is 5:00.25 long, limit 5:00 (C4)"


def test_c4_voice_note_goes_as_an_audio_file_where_voice_notes_are_not_supported() -> None:
    """SPEC C4: otherwise it goes as a file attachment."""
    out = render_content("Escucha", (voice(30),), VIBER)
    assert out.voice_note is None
    assert out.attachments == (
        Media("https://ex.co/v.ogg", MediaKind.AUDIO, timedelta(seconds=30)),
    )
    assert out.text == "Escucha"


def test_c4_voice_note_goes_as_a_link_where_media_go_as_links() -> None:
    """SPEC C2, C4: on a channel without voice notes sending media as links."""
    out = render_content("Escucha", (voice(30),), EXPERTCONNECT)
    assert out.text == "Escucha https://ex.co/v.ogg"
    assert (out.voice_note, out.attachments, out.links) == (None, (), 1)


def test_c4_voice_note_is_a_voice_note_even_where_other_media_go_as_links() -> None:
    """SPEC C2, C4."""
    limits = ContentLimits(text_max=240, media=MediaDelivery.LINK, voice_notes=True)
    note = voice(10)
    out = render_content("Hola", (note, PHOTO), limits)
    assert out.voice_note is note
    assert out.text == f"Hola {LINK}"


def test_c4_only_the_first_voice_note_goes_as_one_the_rest_as_files() -> None:
    """SPEC C4: a message carries one voice note."""
    first, second = voice(10, "https://ex.co/1.ogg"), voice(20, "https://ex.co/2.ogg")
    out = render_content("", (first, second), WHATSAPP)
    assert out.voice_note is first
    assert [m.kind for m in out.attachments] == [MediaKind.AUDIO]


def test_c4_the_limit_applies_to_voice_notes_sent_as_files_too() -> None:
    """SPEC C4: the recording is at most 5 minutes whichever way it goes."""
    assert render_content("", (voice(301),), VIBER).problem is Reason.VOICE_NOTE_TOO_LONG


def test_c4_an_audio_file_has_no_5_minute_limit() -> None:
    """SPEC C4: only voice notes are limited."""
    song = Media("https://ex.co/s.mp3", MediaKind.AUDIO, duration=timedelta(minutes=30))
    assert render_content("", (song,), WHATSAPP).fits


def test_c4_voice_note_without_duration_is_refused_when_built() -> None:
    """SPEC C4: the duration is needed to check the limit; it is never guessed."""
    with pytest.raises(InputError, match=r"needs a duration \(C4\)"):
        voice(None)


def test_c4_negative_duration_is_refused_when_built() -> None:
    """SPEC C4."""
    with pytest.raises(InputError, match="negative"):
        voice(-1)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"url": None}, "media url"),
        ({"url": "u", "kind": "hologram"}, "media kind"),
        ({"url": "u", "kind": "voice", "duration": 600}, "media duration"),
    ],
)
def test_c4_media_values_are_checked_when_built(kwargs: dict[str, object], needle: str) -> None:
    """SPEC C4: a string kind is accepted as its value; anything else is an InputError."""
    with pytest.raises(InputError, match=needle):
        Media(**kwargs)  # type: ignore[arg-type]


def test_c4_a_voice_kind_given_as_text_is_still_limited() -> None:
    """SPEC C4: a stored kind ("voice") converts, so the 5-minute limit still applies."""
    long_note = Media("u", "voice", duration=timedelta(hours=2))  # type: ignore[arg-type]
    assert render_content("", (long_note,), WHATSAPP).problem is Reason.VOICE_NOTE_TOO_LONG


def test_c1_c4_voice_and_text_both_too_long_reports_both() -> None:
    """SPEC C1, C4: the voice note's problem comes first; the detail names both."""
    out = render_content("a" * 300, (voice(301),), EXPERTCONNECT)
    assert out.problem is Reason.VOICE_NOTE_TOO_LONG
    assert "(C4)" in out.detail
    assert "(C1, C2)" in out.detail


# the hot path ----------------------------------------------------------------------


def test_plain_text_keeps_the_same_string_object() -> None:
    """SPEC C3: nothing is copied when the text goes unchanged."""
    text = "".join(["Hola ", "mundo"])
    assert render_content(text, (), VIBER).text is text


def test_equal_limits_objects_give_equal_answers() -> None:
    """SPEC C3: results depend on the values, not on which objects carry them."""
    other = ContentLimits(text_max=240, text_unit=TextUnit.CHARACTERS, media=MediaDelivery.LINK)
    assert render_content("Hola", (PHOTO,), other) == render_content(
        "Hola", (PHOTO,), EXPERTCONNECT
    )


limits_strategy = st.builds(
    ContentLimits,
    text_max=st.none() | st.integers(0, 300),
    text_unit=st.sampled_from(TextUnit),
    caption_max=st.none() | st.integers(0, 300),
    template_body_max=st.none() | st.integers(0, 300),
    media=st.sampled_from(MediaDelivery),
    link_separator=st.sampled_from([" ", "\n", " | "]),
    voice_notes=st.booleans(),
)
media_strategy = st.lists(
    st.builds(
        Media,
        url=st.sampled_from(["https://ex.co/a", "https://ex.co/é"]),
        kind=st.sampled_from(MediaKind),
        duration=st.integers(0, 400).map(lambda s: timedelta(seconds=s)),
    ),
    max_size=3,
).map(tuple)


@given(text_strategy, media_strategy, limits_strategy, st.booleans())
def test_c1_c2_c3_c4_rendering_is_consistent(
    text: str,
    media: tuple[Media, ...],
    limits: ContentLimits,
    template: bool,
) -> None:
    """SPEC C1-C4: every medium goes exactly one way, the length is measured on what
    goes, and the problem is set exactly when a limit is exceeded."""
    out = render_content(text, media, limits, template=template)
    assert isinstance(out, OutboundContent)
    sent = len(out.attachments) + out.links + (out.voice_note is not None)
    assert sent == len(media)
    assert out.text.startswith(text)
    assert out.length == measure(out.text, limits.text_unit)
    voice_over = any(
        m.kind is MediaKind.VOICE and m.duration is not None and m.duration > limits.voice_max
        for m in media
    )
    text_over = out.limit is not None and out.length > out.limit
    if voice_over:
        assert out.problem is Reason.VOICE_NOTE_TOO_LONG
    elif text_over:
        assert out.problem is Reason.CONTENT_TOO_LONG
    else:
        assert out.problem is None
        assert out.detail == ""
    if limits.media is MediaDelivery.LINK:
        assert out.attachments == ()
    assert all(m.kind is not MediaKind.VOICE for m in out.attachments)
    if out.voice_note is not None:
        assert limits.voice_notes


# C6 cross-check: the cluster pattern against the pairwise rules of UAX #29 ----------


def _within(ranges: tuple[tuple[int, int], ...], cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in ranges)


def _break_property(ch: str) -> str:
    cp = ord(ch)
    if ch in "\r\n":
        return {"\r": "CR", "\n": "LF"}[ch]
    if cp == 0x200D:
        return "ZWJ"
    if _within(graphemes._EXTEND_EXTRA, cp):
        return "Extend"
    if _within(graphemes._PREPEND, cp):
        return "Prepend"
    if 0x1F1E6 <= cp <= 0x1F1FF:
        return "RI"
    for name, ranges in (("L", graphemes._HANGUL_L), ("V", graphemes._HANGUL_V)):
        if _within(ranges, cp):
            return name
    if _within(graphemes._HANGUL_T, cp):
        return "T"
    if 0xAC00 <= cp <= 0xD7A3:
        return "LV" if (cp - 0xAC00) % 28 == 0 else "LVT"
    category = unicodedata.category(ch)
    if category in ("Mn", "Me"):
        return "Extend"
    if (category == "Mc" and not _within(graphemes._NOT_SPACING, cp)) or cp in (0x0E33, 0x0EB3):
        return "SpacingMark"
    if category in ("Cc", "Cf", "Zl", "Zp", "Cs") or (
        category == "Cn" and 0xE0000 <= cp <= 0xE0FFF
    ):
        return "Control"
    return "Other"


def _pictographic(ch: str) -> bool:
    return _within(graphemes._EXTENDED_PICTOGRAPHIC, ord(ch))


def _after_emoji_zwj(text: str, props: list[str], i: int) -> bool:
    """Whether ``text[:i]`` ends with ExtPict Extend* ZWJ (GB11)."""
    j = i - 1
    if j < 0 or props[j] != "ZWJ":
        return False
    j -= 1
    while j >= 0 and props[j] == "Extend":
        j -= 1
    return j >= 0 and _pictographic(text[j])


def _regional_run(props: list[str], i: int) -> int:
    """How many regional indicators come right before position ``i`` (GB12, GB13)."""
    run = 0
    while i - run - 1 >= 0 and props[i - run - 1] == "RI":
        run += 1
    return run


def _joins(text: str, props: list[str], i: int) -> bool:
    """Whether no break falls between ``text[i - 1]`` and ``text[i]``."""
    before, after = props[i - 1], props[i]
    if before == "CR" and after == "LF":
        return True  # GB3
    if before in ("Control", "CR", "LF") or after in ("Control", "CR", "LF"):
        return False  # GB4, GB5
    hangul = {
        "L": ("L", "V", "LV", "LVT"),
        "LV": ("V", "T"),
        "V": ("V", "T"),
        "LVT": ("T",),
        "T": ("T",),
    }
    if after in hangul.get(before, ()):
        return True  # GB6, GB7, GB8
    if after in ("Extend", "ZWJ", "SpacingMark") or before == "Prepend":
        return True  # GB9, GB9a, GB9b
    if _pictographic(text[i]) and _after_emoji_zwj(text, props, i):
        return True  # GB11
    if before == "RI" and after == "RI":
        return _regional_run(props, i) % 2 == 1  # GB12, GB13
    return False  # GB999


def _rule_clusters(text: str) -> list[str]:
    """Clusters by the rules GB3-GB999 applied between each pair of code points."""
    props = [_break_property(ch) for ch in text]
    clusters: list[str] = []
    for i, ch in enumerate(text):
        if i and _joins(text, props, i):
            clusters[-1] += ch
        else:
            clusters.append(ch)
    return clusters


# Each group is drawn as often as any code point at all, so rule pairs come up often.
interesting = st.one_of(
    st.sampled_from(["🇪", "🇸"]),
    st.sampled_from(["👍", "🏽", "❤", "©", "👨", "\u200d", "\ufe0f", "\U000e0067", "\U000e007f"]),
    st.sampled_from(["\u1100", "\u1161", "\u11a8", "가", "각"]),
    st.sampled_from(["\u0301", "\u0903", "\u0e33", "\u102b", "\u200c", "\U0001d165"]),
    st.sampled_from(["\u0600", "\u0d4e", "\U000110bd", "\u0915", "\u094d", "\U00011720"]),
    st.sampled_from(["\r", "\n", "\x00", "\u00ad", "\u2028", "\U000e0001", "a"]),
    st.characters(),
)


@given(st.lists(interesting, max_size=16).map("".join))
def test_c6_clusters_agree_with_the_pairwise_rules(text: str) -> None:
    """SPEC C6: the cluster pattern gives the clusters of UAX #29's rules, pair by pair."""
    assert split_graphemes(text) == _rule_clusters(text)
    assert count_characters(text) == len(_rule_clusters(text))
