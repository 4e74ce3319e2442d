"""Throughput of a compiled segment against a hand-written lambda, rule-engine and JSON Logic.

All four evaluate the same condition on the same synthetic contacts in the same run:
tags include vip or gold, custom score above 500, and a WhatsApp identity. The
segment and the lambda read ``Contact`` objects; rule-engine and JSON Logic get their
natural input, one plain dict per contact. Each timing is the median of ``--repeat``
full passes (after one untimed pass for the two fast ones); a ratio is how many times
more contacts per second the segment filters.

    python bench/segments.py                 # 1,000,000 contacts
    python bench/segments.py --contacts 20000 --repeat 3
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import rule_engine
from json_logic import jsonLogic

from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact
from omnimsg.segments import filter_contacts, parse_segment

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)

SEGMENT = {
    "all": [
        {"field": "tags", "op": "has_any", "value": ["vip", "gold"]},
        {"field": "custom.score", "op": "gt", "value": 500},
        {"field": "channels", "op": "has_channel", "value": "whatsapp"},
    ]
}
RULE_ENGINE = (
    "('vip' in tags or 'gold' in tags) and score != null and score > 500 and 'whatsapp' in channels"
)
JSON_LOGIC = {
    "and": [
        {"or": [{"in": ["vip", {"var": "tags"}]}, {"in": ["gold", {"var": "tags"}]}]},
        {">": [{"var": "score"}, 500]},
        {"in": ["whatsapp", {"var": "channels"}]},
    ]
}
VIP_OR_GOLD = frozenset(("vip", "gold"))


def hand_written() -> Callable[[Contact], bool]:
    """The same condition as a lambda a programmer would write for one job."""
    return lambda c: (
        not c.tags.isdisjoint(VIP_OR_GOLD)
        and (score := c.custom.get("score")) is not None
        and score > 500
        and ChannelKind.WHATSAPP in c.channels
    )


def synthetic_contacts(count: int, seed: int) -> list[Contact]:
    """Contacts with a realistic spread: a quarter tagged vip/gold, 60 % on WhatsApp."""
    rng = random.Random(seed)
    tag_sets = [
        frozenset(),
        frozenset({"newsletter"}),
        frozenset({"vip"}),
        frozenset({"gold", "newsletter"}),
        frozenset({"churn-risk"}),
        frozenset({"newsletter", "churn-risk"}),
        frozenset({"lead"}),
        frozenset({"vip", "gold"}),
    ]
    tag_weights = [30, 20, 12, 8, 10, 7, 8, 5]
    whatsapp = ChannelIdentity("wa-main", ChannelKind.WHATSAPP, "wa")
    sms = ChannelIdentity("sms-1", ChannelKind.SMS, "sms")
    telegram = ChannelIdentity("tg-bot", ChannelKind.TELEGRAM, "tg")
    identity_sets = [(whatsapp,), (whatsapp, sms), (sms,), (telegram,), (whatsapp, telegram), ()]
    identity_weights = [35, 15, 20, 15, 10, 5]
    people = []
    for number in range(count):
        score = None if rng.random() < 0.1 else rng.randint(0, 1000)
        people.append(
            Contact(
                id=f"c{number}",
                tags=rng.choices(tag_sets, tag_weights)[0],
                custom={} if score is None else {"score": score},
                identities=rng.choices(identity_sets, identity_weights)[0],
            )
        )
    return people


def as_dict(contact: Contact) -> dict[str, Any]:
    """A contact as the plain dict a rules package reads."""
    return {
        "tags": sorted(contact.tags),
        "score": contact.custom.get("score"),
        "channels": sorted(str(kind) for kind in contact.channels),
    }


def timed(run: Callable[[], int], repeat: int, *, warm_up: bool = True) -> tuple[float, int]:
    """Median seconds over ``repeat`` runs, and the count the last run returned.

    One untimed pass first (when ``warm_up``) so caches and allocators are in the
    same state for every engine.
    """
    seconds, count = [], 0
    if warm_up:
        run()
    for _ in range(repeat):
        start = time.perf_counter()
        count = run()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), count


def count(matches: Iterable[object]) -> int:
    return sum(1 for _ in matches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000, help="default 1,000,000")
    parser.add_argument("--repeat", type=int, default=3, help="passes per engine (median)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    people = synthetic_contacts(args.contacts, args.seed)
    dicts = [as_dict(contact) for contact in people]
    segment = parse_segment(SEGMENT, custom_fields={"score": "number"})
    rule = rule_engine.Rule(RULE_ENGINE)
    by_hand = hand_written()

    results = {
        "lambda": timed(lambda: count(filter(by_hand, people)), args.repeat),
        "segments": timed(lambda: count(filter_contacts(segment, people, now=NOW)), args.repeat),
        "rule-engine": timed(
            lambda: count(filter(rule.matches, dicts)), args.repeat, warm_up=False
        ),
        "json-logic": timed(
            lambda: count(d for d in dicts if jsonLogic(JSON_LOGIC, d)), args.repeat, warm_up=False
        ),
    }
    counts = {name: found for name, (_, found) in results.items()}
    if len(set(counts.values())) != 1:
        raise SystemExit(f"the engines disagree: {counts}")

    print(f"segment: {segment.describe()}")
    print(f"contacts: {args.contacts:,}  matching: {counts['segments']:,}  runs: {args.repeat}")
    for name, (seconds, _) in results.items():
        rate = args.contacts / seconds
        print(f"{name:>12}: median {seconds:9.4f} s  {rate:14,.0f} contacts/s")
    ours = results["segments"][0]
    for name in ("lambda", "rule-engine", "json-logic"):
        print(f"segments vs {name}: {results[name][0] / ours:.2f}")


if __name__ == "__main__":
    main()
