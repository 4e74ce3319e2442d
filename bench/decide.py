"""Cost of one decision against a minimal hand-written function doing the same arithmetic.

Both run in the same process on the same inputs: five typical decisions (WhatsApp
inside the window, WhatsApp template outside it, WeChat with its cap, Messenger in the
HUMAN_AGENT extension, Telegram without a window). The baseline knows each channel's
numbers in advance and returns a bare tuple; ``decide`` reads them from capabilities
and returns a full Decision. Messages are built once, as a backend deciding a broadcast
would. Prints medians over repeats and, last, ``decide ratio: X``: the median of the
ratios of interleaved pairs of runs.

    python bench/decide.py [--repeat 41] [--number 4000]
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from datetime import UTC, datetime, timedelta

from omnimsg import ConversationState, Message, decide, load_profile

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=41)
    parser.add_argument("--number", type=int, default=4_000)
    args = parser.parse_args()

    profile = load_profile("respondio")
    text = "Hello! Your order #1234 has shipped and will arrive on Thursday."
    cases = [
        ("whatsapp", NOW - 3 * H, 0, Message(text=text), None, None),
        ("whatsapp", NOW - 30 * H, 0, Message(text=text, template="shipped"), "shipped", None),
        ("wechat", NOW - 47 * H, 19, Message(text=text), None, None),
        ("messenger", NOW - 50 * H, 0, Message(text=text, tag="HUMAN_AGENT"), None, "HUMAN_AGENT"),
        ("telegram", None, 0, Message(text=text), None, None),
    ]
    prepared = []
    for kind, last, sent, msg, template, tag in cases:
        caps = profile.capabilities(kind, as_of=NOW)
        state = ConversationState(last_inbound_at=last, outbound_since_inbound=sent)
        text_max = caps.content.text_max or 10**9
        args_base = (
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
        decision = decide(caps, state, msg, now=NOW)
        assert decision.allowed == _baseline(*args_base)[0], kind

    def run_decide() -> None:
        for caps, state, msg, _ in prepared:
            decide(caps, state, msg, now=NOW)

    def run_baseline() -> None:
        for _, _, _, base_args in prepared:
            _baseline(*base_args)

    per_call = len(prepared) * args.number
    ours, base, ratios = [], [], []
    for _ in range(args.repeat):
        # Short, interleaved runs: each pair sees the same machine noise, and the
        # median of the pairs' ratios is robust to a burst that hits one run.
        o = timeit.timeit(run_decide, number=args.number) / per_call
        b = timeit.timeit(run_baseline, number=args.number) / per_call
        ours.append(o)
        base.append(b)
        ratios.append(o / b)
    print(f"decide median: {statistics.median(ours) * 1e9:.0f} ns per decision")
    print(f"hand-written baseline median: {statistics.median(base) * 1e9:.0f} ns per decision")
    print(f"cases: {len(prepared)}, pairs of runs: {args.repeat} x {args.number} rounds")
    print(f"decide ratio: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
