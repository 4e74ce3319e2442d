"""Cost of one decision against a minimal hand-written function doing the same arithmetic.

All contestants run in the same process on the same inputs: five typical decisions
(WhatsApp inside the window, WhatsApp template outside it, WeChat with its cap,
Messenger in the HUMAN_AGENT extension, Telegram without a window). The baseline
knows each channel's numbers in advance, reads the stored row's values directly and
returns a bare tuple; ``decide`` reads them from capabilities and returns a full
Decision. Messages are built once, as a backend deciding a broadcast would.

The contestants, each timed over ``--number`` passes of the five cases per round:

- ``baseline``: the hand-written check, on the row's values;
- ``decide``: ``decide`` on a ConversationState built once, ahead of time;
- ``decide + ConversationState(...)``: the state built per contact from the stored
  row (last inbound instant, outbound count, consent record) through the validating
  constructor, then ``decide``: what a backend pays deciding a whole audience;
- ``decide + ConversationState.trusted(...)``: the same with the fast path for values
  a store already holds typed;
- ``ConversationState(...)`` and ``ConversationState.trusted(...)`` alone: building
  the state without deciding;
- ``decide (official profile)``: ``decide`` on the same states with the capabilities
  of the built-in ``official`` profile (the platforms' dated rules, SPEC section 7)
  instead of the seed profile ``respondio``; the line ``official vs seed ratio``
  compares the two in the same rounds (1.00: no dearer).

Rounds alternate the contestants (the order rotates each round, so none always runs
first or last); each figure is a median over rounds, and each ratio the median of the
per-round ratios against the baseline timed in the same round, robust to a burst of
machine noise that hits one run. The last line is ``decide ratio: X`` (state built
once), as before.

    python bench/decide.py [--repeat 41] [--number 4000]
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from omnimsg import (
    ChannelCapabilities,
    ConversationState,
    Message,
    OptInState,
    decide,
    load_profile,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)

BASELINE = "baseline"
DECIDE = "decide"
PER_CONTACT = "decide + ConversationState(...)"
TRUSTED = "decide + ConversationState.trusted(...)"
BUILD = "ConversationState(...) alone"
BUILD_TRUSTED = "ConversationState.trusted(...) alone"
OFFICIAL = "decide (official profile)"

Row = tuple[datetime | None, int, OptInState]
"""A stored conversation row as a store reads it back: last inbound, count, consent."""

BaseArgs = tuple[
    timedelta | None,
    timedelta | None,
    int | None,
    int,
    datetime | None,
    int,
    datetime,
    str,
    str | None,
    str | None,
]
"""What the hand-written check reads: the channel's numbers, the row, the message."""


def _baseline(
    window: timedelta | None,
    extended: timedelta | None,
    cap: int | None,
    text_max: int,
    last: datetime | None,
    sent: int,
    now: datetime,
    text: str,
    template: str | None,
    tag: str | None,
) -> tuple[bool, str, datetime | None, int | None]:
    if window is None:
        return (len(text) <= text_max, "free_form", None, None)
    if last is not None:
        closes = last + window
        if now < closes:
            if cap is not None:
                remaining = cap - sent
                if remaining <= 0:
                    return (False, "blocked", None, None)
                return (len(text) <= text_max, "free_form", closes, remaining)
            return (len(text) <= text_max, "free_form", closes, None)
        if extended is not None:
            ext_closes = last + extended
            if now < ext_closes and tag == "HUMAN_AGENT":
                return (len(text) <= text_max, "tag", ext_closes, None)
    if template is not None:
        return (len(text) <= text_max, "template", None, None)
    return (False, "template", None, None)


def interleaved(
    contestants: dict[str, Callable[[], object]], rounds: int, number: int
) -> list[dict[str, float]]:
    """Seconds per pass of each contestant, one dict per round.

    Each round runs every contestant once (``number`` passes); the order rotates from
    round to round.
    """
    names = list(contestants)
    results: list[dict[str, float]] = []
    for round_ in range(rounds):
        shift = round_ % len(names)
        timings: dict[str, float] = {}
        for name in names[shift:] + names[:shift]:
            timings[name] = timeit.timeit(contestants[name], number=number) / number
        results.append(timings)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=41, help="rounds (median over them)")
    parser.add_argument("--number", type=int, default=4_000, help="passes per contestant")
    args = parser.parse_args()

    profile = load_profile("respondio")
    official = load_profile("official")
    text = "Hello! Your order #1234 has shipped and will arrive on Thursday."
    cases = [
        ("whatsapp", NOW - 3 * H, 0, Message(text=text), None, None),
        ("whatsapp", NOW - 30 * H, 0, Message(text=text, template="shipped"), "shipped", None),
        ("wechat", NOW - 47 * H, 4, Message(text=text), None, None),
        ("messenger", NOW - 50 * H, 0, Message(text=text, tag="HUMAN_AGENT"), None, "HUMAN_AGENT"),
        ("telegram", NOW - 9000 * H, 0, Message(text=text), None, None),
    ]
    consent = OptInState.of(None)
    prepared: list[tuple[ChannelCapabilities, ConversationState, Message, BaseArgs]] = []
    rows: list[tuple[ChannelCapabilities, Message, Row]] = []
    prepared_official: list[tuple[ChannelCapabilities, ConversationState, Message]] = []
    for kind, last, sent, msg, template, tag in cases:
        caps = profile.capabilities(kind, as_of=NOW)
        state = ConversationState(last_inbound_at=last, outbound_since_inbound=sent)
        text_max = caps.content.text_max or 10**9
        args_base: BaseArgs = (
            caps.window,
            caps.extended_window,
            caps.window_outbound_cap,
            text_max,
            last,
            sent,
            NOW,
            msg.text,
            template,
            tag,
        )
        prepared.append((caps, state, msg, args_base))
        rows.append((caps, msg, (last, sent, consent)))
        expected = _baseline(*args_base)[0]
        assert decide(caps, state, msg, now=NOW).allowed == expected, kind
        caps_official = official.capabilities(kind, as_of=NOW)
        prepared_official.append((caps_official, state, msg))
        assert decide(caps_official, state, msg, now=NOW).allowed == expected, kind
        built = ConversationState(last, sent, consent)
        assert built == state == ConversationState.trusted(last, sent, consent), kind

    def run_baseline() -> None:
        for _, _, _, base_args in prepared:
            _baseline(*base_args)

    def run_decide() -> None:
        for caps, state, msg, _ in prepared:
            decide(caps, state, msg, now=NOW)

    def run_official() -> None:
        for caps, state, msg in prepared_official:
            decide(caps, state, msg, now=NOW)

    def run_per_contact() -> None:
        for caps, msg, (last, sent, record) in rows:
            decide(caps, ConversationState(last, sent, record), msg, now=NOW)

    def run_trusted() -> None:
        for caps, msg, (last, sent, record) in rows:
            decide(caps, ConversationState.trusted(last, sent, record), msg, now=NOW)

    def run_build() -> None:
        for _, _, (last, sent, record) in rows:
            ConversationState(last, sent, record)

    def run_build_trusted() -> None:
        for _, _, (last, sent, record) in rows:
            ConversationState.trusted(last, sent, record)

    contestants: dict[str, Callable[[], object]] = {
        BASELINE: run_baseline,
        DECIDE: run_decide,
        PER_CONTACT: run_per_contact,
        TRUSTED: run_trusted,
        BUILD: run_build,
        BUILD_TRUSTED: run_build_trusted,
        OFFICIAL: run_official,
    }
    rounds = interleaved(contestants, args.repeat, args.number)

    per_decision = len(cases)
    medians = {
        name: statistics.median(r[name] for r in rounds) / per_decision for name in contestants
    }
    ratios = {
        name: statistics.median(r[name] / r[BASELINE] for r in rounds) for name in contestants
    }
    width = max(len(name) for name in contestants)
    print(f"decide median: {medians[DECIDE] * 1e9:.0f} ns per decision")
    print(f"hand-written baseline median: {medians[BASELINE] * 1e9:.0f} ns per decision")
    print(f"cases: {len(cases)}, rounds: {args.repeat} x {args.number} passes of each contestant")
    print("median per decision (state per contact: built from a stored row each time):")
    for name in contestants:
        print(f"  {name:<{width}}: {medians[name] * 1e9:6.0f} ns")
    trusted_gain = statistics.median(r[PER_CONTACT] / r[TRUSTED] for r in rounds)
    build_gain = statistics.median(r[BUILD] / r[BUILD_TRUSTED] for r in rounds)
    print(f"ConversationState(...) vs .trusted(...), building alone: {build_gain:.2f}")
    print(f"ConversationState(...) vs .trusted(...), with decide: {trusted_gain:.2f}")
    for name in (PER_CONTACT, TRUSTED):
        print(f"{name} ratio: {ratios[name]:.2f}")
    official_vs_seed = statistics.median(r[OFFICIAL] / r[DECIDE] for r in rounds)
    print(f"official vs seed ratio: {official_vs_seed:.2f}")
    print(f"decide ratio: {ratios[DECIDE]:.2f}")


if __name__ == "__main__":
    main()
