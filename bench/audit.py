"""Speed of the auditor against ``decide`` alone, and its memory over a long log.

A log of ``--messages`` entries is generated once (seeded): WhatsApp, WeChat, SMS,
Messenger and Telegram conversations with a pool of ``--contacts`` contacts, about
two in five entries inbound; outbound ones are replies, templates after the window,
marketing SMS, a few too long or at night, so that every check runs and some find
violations. The contestants, timed over the same log in each round:

- ``decide alone``: :func:`omnimsg.decide` on each outbound message, with the
  capabilities, conversation state, account state and message the replay had for it
  built ahead of time: the least any replay must do;
- ``audit``: :func:`omnimsg.audit.audit_log` over the entries, consumed: the state
  kept up to date, the capabilities as of each instant, the caps of B11, B13, X2,
  X4 and P12 counted.

Rounds alternate the order; each figure is a median over rounds, and the ratio the
median of the per-round ratios (audit time per log over decide time per log).

Memory: the log is then streamed from a generator (never held) through the auditor
under tracemalloc, once with ``--messages`` entries and once with ten times as many
over the same contacts; the peaks are printed, and their ratio shows that memory
follows the conversations, not the length of the log.

    python bench/audit.py [--messages 100000] [--contacts 5000] [--repeat 5]
        [--memory-factor 10]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import attrs

from omnimsg import AccountState, ConversationState, Message, OptInState, decide, load_profile
from omnimsg.audit import Auditor, Direction, LogEntry, audit_log
from omnimsg.channels.capabilities import ChannelCapabilities, FrequencyLimit

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
CHANNELS = (
    ("whatsapp", "wa-1", 0.35),
    ("sms", "sms-1", 0.25),
    ("wechat", "wc-1", 0.15),
    ("messenger", "fb-1", 0.15),
    ("telegram", "tg-1", 0.10),
)
AREAS = ("212", "305", "415", "918", "646", "786")
TEXTS = (
    "Thanks, we are on it",
    "Your order has shipped",
    "Spring sale: 20% off. Reply STOP to opt out",
    "x" * 5000,
)
CAP = FrequencyLimit(messages=3, period=timedelta(days=7))


def entries(count: int, contacts: int, seed: int) -> Iterator[LogEntry]:
    """``count`` log entries in time order, generated one at a time.

    Most outbound messages answer someone who wrote on the channel lately (kept in a
    short list per channel), as a support inbox's do; the rest go to anyone.
    """
    rng = random.Random(seed)
    kinds = [kind for kind, _, _ in CHANNELS]
    weights = [weight for _, _, weight in CHANNELS]
    accounts = {kind: account for kind, account, _ in CHANNELS}
    recent: dict[str, list[str]] = {kind: [] for kind in kinds}
    at = START
    step = timedelta(seconds=1)
    for _ in range(count):
        at += step * rng.randint(1, 40)
        kind = rng.choices(kinds, weights)[0]
        wrote = recent[kind]
        if rng.random() < 0.4 or not wrote:
            n = rng.randrange(contacts)
            contact = (
                f"+1{AREAS[n % len(AREAS)]}555{n:04d}" if kind in ("sms", "whatsapp") else f"u{n}"
            )
            wrote.append(contact)
            if len(wrote) > 50:
                del wrote[0]
            text = "STOP" if kind == "sms" and rng.random() < 0.02 else "hello"
            yield LogEntry(
                at=at,
                direction=Direction.INBOUND,
                channel=kind,
                account=accounts[kind],
                contact=contact,
                text=text,
            )
            continue
        roll = rng.random()
        if roll < 0.9:
            contact = rng.choice(wrote)
        else:
            n = rng.randrange(contacts)
            contact = (
                f"+1{AREAS[n % len(AREAS)]}555{n:04d}" if kind in ("sms", "whatsapp") else f"u{n}"
            )
        template = "order_update" if kind == "whatsapp" and roll >= 0.9 else None
        text = TEXTS[0] if roll < 0.6 else TEXTS[1] if roll < 0.8 else TEXTS[2]
        if roll > 0.998:
            text = TEXTS[3]
        yield LogEntry(
            at=at,
            direction=Direction.OUTBOUND,
            channel=kind,
            account=accounts[kind],
            contact=contact,
            text=None if template else text,
            template=template,
            marketing=kind == "sms" and text == TEXTS[2],
        )


Prepared = tuple[ChannelCapabilities, ConversationState, Message, datetime, AccountState]


def prepared(log: list[LogEntry], profile: object) -> tuple[list[Prepared], int]:
    """What ``decide`` needs for each outbound message, as the replay had it; and the
    number of violations the replay found."""
    auditor = Auditor(profile, frequency_cap=CAP)  # type: ignore[arg-type]
    inputs: list[Prepared] = []

    def watched() -> Iterator[LogEntry]:
        for entry in log:
            if entry.outbound:
                key = (entry.account, entry.contact)
                state = auditor.conversations.get(key)
                if state is not None and key in auditor.confirming and not entry.marketing:
                    # The one confirmation of an opt-out is judged without it (X1, P13).
                    state = attrs.evolve(state, consent=OptInState())
                inputs.append(
                    (
                        auditor.profile.capabilities(entry.channel, as_of=entry.at),
                        state if state is not None else ConversationState(),
                        Message(
                            text=entry.text or "",
                            template=entry.template,
                            tag=entry.tag,
                            marketing=entry.marketing,
                        ),
                        entry.at,
                        auditor.accounts.get(entry.account, AccountState()),
                    )
                )
            yield entry

    found = sum(1 for _ in auditor.run(watched()))
    return inputs, found


def peak(count: int, contacts: int, profile: object) -> int:
    """The peak traced memory of auditing ``count`` streamed entries, in bytes."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        for _ in audit_log(entries(count, contacts, seed=2), profile, frequency_cap=CAP):  # type: ignore[arg-type]
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000, help="log entries")
    parser.add_argument("--contacts", type=int, default=5_000, help="contacts in the pool")
    parser.add_argument("--repeat", type=int, default=5, help="rounds (median over them)")
    parser.add_argument("--memory-factor", type=int, default=10, help="longer log for memory")
    args = parser.parse_args()

    profile = load_profile("official")
    log = list(entries(args.messages, args.contacts, seed=1))
    inputs, found = prepared(log, profile)
    outbound = len(inputs)
    # The contestants agree: decide on the prepared inputs refuses exactly the
    # messages the replay reports a refusal of decide's for (a reason code).
    refused = {
        i
        for i, (caps, state, msg, at, acct) in enumerate(inputs)
        if not decide(caps, state, msg, now=at, account=acct)
    }
    position = {id(entry): i for i, entry in enumerate(e for e in log if e.outbound)}
    reported = {
        position[id(v.entry)]
        for v in audit_log(log, profile, frequency_cap=CAP)
        if v.reason is not None
    }
    assert refused == reported, (len(refused), len(reported))
    assert found >= len(refused), (found, len(refused))

    def run_decide() -> None:
        for caps, state, msg, at, acct in inputs:
            decide(caps, state, msg, now=at, account=acct)

    def run_audit() -> None:
        for _ in audit_log(log, profile, frequency_cap=CAP):
            pass

    contestants = {"decide alone": run_decide, "audit": run_audit}
    rounds: list[dict[str, float]] = []
    for round_ in range(args.repeat):
        names = list(contestants)[round_ % 2 :] + list(contestants)[: round_ % 2]
        timings = {}
        for name in names:
            began = time.perf_counter()
            contestants[name]()
            timings[name] = time.perf_counter() - began
        rounds.append(timings)
    audit_s = statistics.median(r["audit"] for r in rounds)
    decide_s = statistics.median(r["decide alone"] for r in rounds)
    ratio = statistics.median(r["audit"] / r["decide alone"] for r in rounds)
    print(f"log: {len(log):,} entries, {outbound:,} outbound, {found:,} violations")
    print(f"audit messages/s: {len(log) / audit_s:.0f}")
    print(f"audit outbound/s: {outbound / audit_s:.0f}")
    print(f"decide alone outbound/s: {outbound / decide_s:.0f}")
    print(f"audit vs decide ratio: {ratio:.2f}")

    small = peak(args.messages, args.contacts, profile)
    large = peak(args.messages * args.memory_factor, args.contacts, profile)
    print(f"audit peak memory, {args.messages:,} streamed (MiB): {small / 2**20:.2f}")
    print(
        f"audit peak memory, {args.messages * args.memory_factor:,} streamed (MiB): "
        f"{large / 2**20:.2f}"
    )
    print(f"audit peak memory ratio, long log vs short: {large / small:.2f}")


if __name__ == "__main__":
    main()
