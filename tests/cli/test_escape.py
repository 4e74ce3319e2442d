"""The one escaping function: nothing from user data reaches the terminal raw."""

from __future__ import annotations

import json
import re
import time

from hypothesis import given
from hypothesis import strategies as st

from omnimsg.cli._escape import printable, to_json_text

_RAW = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=200)


def test_escape_sequences_are_shown_not_run() -> None:
    assert printable("\x1b[2J") == "\\x1b[2J"
    assert printable("a\x9b31mb") == "a\\x9b31mb"  # C1 CSI, one byte on 8-bit terminals
    assert printable("\x07\x08\x7f") == "\\x07\\x08\\x7f"


def test_line_breaks_and_tabs_are_written_as_escapes() -> None:
    assert printable("one\ntwo\r\tthree") == "one\\ntwo\\r\\tthree"
    assert printable("a\u2028b\u0085c") == "a\\u2028b\\x85c"


def test_bidirectional_controls_and_lone_surrogates_are_escaped() -> None:
    assert printable("abc\u202edef") == "abc\\u202edef"
    assert printable("x\udcffy") == "x\\udcffy"


def test_letters_emoji_and_joiners_are_kept() -> None:
    text = "José 東京 Ана 👩‍👩‍👧 🇪🇸 [bold]"
    assert printable(text) == text


def test_limit_cuts_and_says_how_much_was_left_out() -> None:
    assert printable("x" * 10, limit=4) == "xxxx… (6 more characters)"
    assert printable("xxxx", limit=4) == "xxxx"


def test_a_long_hostile_value_is_escaped_in_linear_time() -> None:
    hostile = "\x1b[2J\ud800" * 100_000
    started = time.perf_counter()
    shown = printable(hostile)
    assert time.perf_counter() - started < 5
    assert not _RAW.search(shown)


@given(ANY_TEXT)
def test_printable_never_lets_an_unsafe_character_through(text: str) -> None:
    shown = printable(text)
    assert not _RAW.search(shown)
    if not _RAW.search(text):
        assert shown == text


@given(st.recursive(ANY_TEXT | st.integers() | st.none(), lambda inner: st.lists(inner)))
def test_json_text_reads_back_as_the_same_data_without_raw_controls(document: object) -> None:
    text = to_json_text({"value": document})
    assert not any(_RAW.search(line) for line in text.split("\n"))  # newlines: the layout
    assert json.loads(text) == {"value": document}
