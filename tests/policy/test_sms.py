"""SMS length in segments: GSM-7 and UCS-2, extension characters, part boundaries (SPEC X3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnimsg.policy.content import SmsEncoding, SmsSegments, sms_segments, split_sms

GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = "\x0c^{}\\[]~|€"


def gsm7(units: int, segments: int) -> SmsSegments:
    return SmsSegments(SmsEncoding.GSM7, units, segments)


def ucs2(units: int, segments: int) -> SmsSegments:
    return SmsSegments(SmsEncoding.UCS2, units, segments)


def part_units(part: str, encoding: SmsEncoding) -> int:
    """Units of one part, counted independently of the module under test."""
    if encoding is SmsEncoding.GSM7:
        return sum(2 if ch in GSM_EXTENSION else 1 for ch in part)
    return len(part.encode("utf-16-le", "surrogatepass")) // 2


def test_x3_gsm_alphabet_is_the_full_basic_table() -> None:
    """SPEC X3: the 127 characters of GSM 03.38's basic table (ESC aside) are GSM-7."""
    assert len(set(GSM_BASIC)) == 127
    assert sms_segments(GSM_BASIC) == gsm7(127, 1)
    for ch in GSM_BASIC:
        assert sms_segments(ch) == gsm7(1, 1), repr(ch)


@pytest.mark.parametrize("ch", list(GSM_EXTENSION))
def test_x3_extension_characters_take_two_septets(ch: str) -> None:
    """SPEC X3: characters of the GSM extension table count twice."""
    assert sms_segments(ch) == gsm7(2, 1)


@pytest.mark.parametrize("ch", ["`", "ç", "á", "í", "ó", "ú", "’", "“", "\x1b", "\t", "Ā"])
def test_x3_characters_outside_gsm_force_ucs2(ch: str) -> None:
    """SPEC X3: one character outside both GSM tables makes the whole text UCS-2."""
    assert sms_segments("Hola " + ch).encoding is SmsEncoding.UCS2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", gsm7(0, 0)),
        ("a", gsm7(1, 1)),
        ("a" * 160, gsm7(160, 1)),
        ("a" * 161, gsm7(161, 2)),
        ("a" * 306, gsm7(306, 2)),
        ("a" * 307, gsm7(307, 3)),
        ("a" * 459, gsm7(459, 3)),
        ("a" * 460, gsm7(460, 4)),
        ("a" * 159 + "€", gsm7(161, 2)),  # one extension character overflows 159 + 1
        ("a" * 158 + "€", gsm7(160, 1)),
        ("a" * 152 + "€" + "a" * 7, gsm7(161, 2)),
        ("a" * 152 + "€" + "a" * 152, gsm7(306, 3)),  # the escape pair moves to part 2
        ("a" * 151 + "€" + "a" * 153, gsm7(306, 2)),
        ("ñ" * 160, gsm7(160, 1)),  # ñ is in the basic table
        ("a" * 70, gsm7(70, 1)),
        ("á" * 70, ucs2(70, 1)),
        ("á" * 71, ucs2(71, 2)),
        ("á" * 134, ucs2(134, 2)),
        ("á" * 135, ucs2(135, 3)),
        ("👍" * 35, ucs2(70, 1)),  # an emoji forces UCS-2 and takes two units
        ("a" * 69 + "👍", ucs2(71, 2)),
        ("👍" + "a" * 69, ucs2(71, 2)),
        ("a" * 66 + "👍" + "a" * 66, ucs2(134, 3)),  # the surrogate pair is never split
        ("a" * 65 + "👍" + "a" * 67, ucs2(134, 2)),
    ],
)
def test_x3_segments_at_the_boundaries(text: str, expected: SmsSegments) -> None:
    """SPEC X3: GSM-7 160 / 153 per part, UCS-2 70 / 67 per part."""
    assert sms_segments(text) == expected
    assert len(split_sms(text)) == expected.segments


def test_x3_an_sms_with_one_extension_character() -> None:
    """SPEC X3: 'Precio: 10€' is 12 septets of GSM-7, one segment."""
    assert sms_segments("Precio: 10€") == gsm7(12, 1)


def test_x3_an_emoji_makes_a_short_text_ucs2() -> None:
    """SPEC X3: one emoji is enough to switch the whole message to UCS-2."""
    assert sms_segments("Hola 👋") == ucs2(7, 1)


def test_x3_split_puts_the_escape_pair_whole_into_the_next_part() -> None:
    """SPEC X3: an extension character never straddles two parts."""
    parts = split_sms("a" * 152 + "€" + "a" * 10)
    assert parts == ("a" * 152, "€" + "a" * 10)


def test_x3_split_keeps_a_surrogate_pair_together() -> None:
    """SPEC X3."""
    parts = split_sms("a" * 66 + "👍" + "a" * 10)
    assert parts == ("a" * 66, "👍" + "a" * 10)


def test_x3_empty_text_has_no_parts() -> None:
    """SPEC X3: empty text is 0 segments and no parts."""
    assert split_sms("") == ()


sms_text = st.text(
    alphabet=st.sampled_from(GSM_BASIC)
    | st.sampled_from(GSM_EXTENSION)
    | st.sampled_from(["á", "👍", "ç", "€"])
    | st.characters(codec="utf-8"),
    max_size=400,
)
gsm_text = st.text(alphabet=st.sampled_from(GSM_BASIC + GSM_EXTENSION), max_size=500)


@given(st.one_of(sms_text, gsm_text))
def test_x3_parts_rebuild_the_text_and_their_units_sum_to_the_total(text: str) -> None:
    """SPEC X3: the parts concatenate to the text, each fits its part size, and the
    units of the parts add up to the units reported."""
    info = sms_segments(text)
    parts = split_sms(text)
    assert "".join(parts) == text
    assert len(parts) == info.segments
    units = [part_units(p, info.encoding) for p in parts]
    assert sum(units) == info.units
    single, per_part = (160, 153) if info.encoding is SmsEncoding.GSM7 else (70, 67)
    if info.segments == 1:
        assert info.units <= single
    elif info.segments > 1:
        assert info.units > single
        assert all(u <= per_part for u in units)
        assert all(
            units[i] + part_units(parts[i + 1][0], info.encoding) > per_part
            for i in range(len(parts) - 1)
        )


@given(st.one_of(sms_text, gsm_text), st.one_of(sms_text, gsm_text))
def test_x3_segments_never_decrease_when_text_is_appended(text: str, more: str) -> None:
    """SPEC X3: a longer message never needs fewer segments."""
    assert sms_segments(text + more).segments >= sms_segments(text).segments


@given(gsm_text)
def test_x3_gsm_units_count_extension_characters_twice(text: str) -> None:
    """SPEC X3."""
    info = sms_segments(text)
    assert info.encoding is SmsEncoding.GSM7
    assert info.units == len(text) + sum(text.count(c) for c in GSM_EXTENSION)
