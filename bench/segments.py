"""Throughput of compiled segments against hand-written lambdas, rule-engine and JSON Logic.

Four segments, each evaluated on the same synthetic contacts in the same run by the
compiled segment and by a hand-written predicate doing the same thing:

- tags, score, channel: tags include vip or gold, custom score above 500, and a
  WhatsApp identity; also run by rule-engine and JSON Logic, which get their natural
  input, one plain dict per contact, on the first ``--sample`` contacts (they filter
  a few ten thousand contacts a second; a full pass would take minutes);
- last inbound: the contact wrote within the last 7 days (the latest
  ``last_inbound_at`` over its identities);
- text: first name contains "ann" and language equals "en" (both case-insensitive);
- last inbound and text: wrote within the last 7 days and language equals "en".

Each segment runs in rounds that alternate its contestants (the order rotates each
round, after one untimed warm-up pass of each); a contestant's time is its median
over ``--rounds``, and a ratio is the median of the per-round ratios of time per
contact, how many times more contacts per second the segment filters than the other
(above 1: the segment is faster).

Last, the cost of building one contact, again in interleaved rounds over the same
``--build-sample`` stored rows: ``Contact.from_dict`` on a plain dict (identities as
dicts with ISO instants, the phone parsed), the constructor on typed values, and
``Contact.trusted`` on the same typed values (how the benchmark's own contacts are
built).

    python bench/segments.py                 # 300,000 contacts, under a minute
    python bench/segments.py --contacts 20000 --rounds 3
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, TypeVar

import rule_engine
from json_logic import jsonLogic

from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact, CustomValue
from omnimsg.segments import compile_segment, parse_segment

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)
WEEK_AGO = NOW - timedelta(days=7)

TAGS_SCORE_CHANNEL = {
    "all": [
        {"field": "tags", "op": "has_any", "value": ["vip", "gold"]},
        {"field": "custom.score", "op": "gt", "value": 500},
        {"field": "channels", "op": "has_channel", "value": "whatsapp"},
    ]
}
WITHIN_WEEK = {
    "field": "last_inbound_at",
    "op": "within_last",
    "value": {"amount": 7, "unit": "days"},
}
LANGUAGE_EN = {"field": "language", "op": "equals", "value": "en"}
LAST_INBOUND = {"all": [WITHIN_WEEK]}
TEXT = {"all": [{"field": "first_name", "op": "contains", "value": "ann"}, LANGUAGE_EN]}
LAST_INBOUND_AND_TEXT = {"all": [WITHIN_WEEK, LANGUAGE_EN]}

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

Predicate = Callable[[Contact], object]
T = TypeVar("T")

# --- the hand-written predicates: what a programmer would write for one job -------------


def tags_score_channel() -> Predicate:
    """Tags include vip or gold, score above 500, a WhatsApp identity."""
    return lambda c: (
        not c.tags.isdisjoint(VIP_OR_GOLD)
        and (score := c.custom.get("score")) is not None
        and score > 500  # type: ignore[operator]  # scores are numbers in this data
        and ChannelKind.WHATSAPP in c.channels
    )


def latest_inbound(c: Contact) -> datetime | None:
    """The latest ``last_inbound_at`` over the contact's identities."""
    latest = None
    for identity in c.identities:
        at = identity.last_inbound_at
        if at is not None and (latest is None or at > latest):
            latest = at
    return latest


def last_inbound() -> Predicate:
    """Wrote within the last 7 days: the latest inbound instant in [now - 7 days, now]."""
    return lambda c: (at := latest_inbound(c)) is not None and WEEK_AGO <= at <= NOW


def text() -> Predicate:
    """First name contains "ann" and language is "en", ignoring case.

    ``str.lower`` folds these names and languages as the segment's case folding does
    (the counts are checked to agree).
    """
    return lambda c: (
        (name := c.first_name) is not None
        and "ann" in name.lower()
        and (language := c.language) is not None
        and language.lower() == "en"
    )


def last_inbound_and_text() -> Predicate:
    """Wrote within the last 7 days and language is "en", ignoring case."""
    return lambda c: (
        (at := latest_inbound(c)) is not None
        and WEEK_AGO <= at <= NOW
        and (language := c.language) is not None
        and language.lower() == "en"
    )


SEGMENTS: tuple[tuple[str, Mapping[str, Any], Callable[[], Predicate]], ...] = (
    ("tags, score, channel", TAGS_SCORE_CHANNEL, tags_score_channel),
    ("last inbound", LAST_INBOUND, last_inbound),
    ("text", TEXT, text),
    ("last inbound and text", LAST_INBOUND_AND_TEXT, last_inbound_and_text),
)

# --- synthetic contacts ---------------------------------------------------------------

TAG_SETS: tuple[frozenset[str], ...] = (
    frozenset(),
    frozenset({"newsletter"}),
    frozenset({"vip"}),
    frozenset({"gold", "newsletter"}),
    frozenset({"churn-risk"}),
    frozenset({"newsletter", "churn-risk"}),
    frozenset({"lead"}),
    frozenset({"vip", "gold"}),
)
TAG_WEIGHTS = (30, 20, 12, 8, 10, 7, 8, 5)
NAMES = (
    "Anna", "Hannah", "Joanna", "SUSANNE", "John", "Maria", "Jean", "Émile", "Zoë", "Diana",
    "Li", None,
)  # fmt: skip
LANGUAGES = ("en", "EN", "en-GB", "de", "fr", "es", "pt-BR", None)
LANGUAGE_WEIGHTS = (30, 5, 10, 15, 10, 10, 5, 15)
ACCOUNTS = (
    ("wa-main", ChannelKind.WHATSAPP),
    ("sms-1", ChannelKind.SMS),
    ("tg-bot", ChannelKind.TELEGRAM),
)
IDENTITY_SETS = ((0,), (0, 1), (1,), (2,), (0, 2), ())
IDENTITY_WEIGHTS = (35, 15, 20, 15, 10, 5)
POOL = 1024
NO_CUSTOM: Mapping[str, CustomValue] = MappingProxyType({})


def identity_pool(rng: random.Random) -> list[list[ChannelIdentity]]:
    """Per account, POOL identities whose last inbound message is spread over 60 days.

    A fifth never wrote. Contacts share these (a few thousand identities instead of a
    million keeps the setup short; both contestants read the same objects).
    """
    pools = []
    for account, kind in ACCOUNTS:
        pool = []
        for number in range(POOL):
            wrote = rng.random() >= 0.2
            at = NOW - timedelta(seconds=rng.randrange(60 * 86_400)) if wrote else None
            pool.append(ChannelIdentity(account, kind, f"{account}-{number}", last_inbound_at=at))
        pools.append(pool)
    return pools


Row = tuple[
    str,
    str | None,
    str | None,
    frozenset[str],
    Mapping[str, CustomValue],
    tuple[ChannelIdentity, ...],
]
"""A stored contact, typed: id, first name, language, tags, custom values, identities."""


def synthetic_rows(count: int, seed: int) -> list[Row]:
    """Rows with a realistic spread: a quarter tagged vip/gold, 60 % on WhatsApp."""
    rng = random.Random(seed)
    pools = identity_pool(rng)
    rows: list[Row] = []
    for number in range(count):
        score = None if rng.random() < 0.1 else rng.randint(0, 1000)
        which = rng.choices(IDENTITY_SETS, IDENTITY_WEIGHTS)[0]
        rows.append(
            (
                f"c{number}",
                rng.choice(NAMES),
                rng.choices(LANGUAGES, LANGUAGE_WEIGHTS)[0],
                rng.choices(TAG_SETS, TAG_WEIGHTS)[0],
                NO_CUSTOM if score is None else MappingProxyType({"score": score}),
                tuple(rng.choice(pools[account]) for account in which),
            )
        )
    return rows


def trusted_contacts(rows: Iterable[Row]) -> list[Contact]:
    """Contacts from typed rows through the fast path a store uses for its own rows."""
    return [
        Contact.trusted(
            id=cid,
            first_name=first_name,
            language=language,
            tags=tags,
            custom=custom,
            identities=identities,
        )
        for cid, first_name, language, tags, custom, identities in rows
    ]


def as_dict(contact: Contact) -> dict[str, Any]:
    """A contact as the plain dict a rules package reads."""
    return {
        "tags": sorted(contact.tags),
        "score": contact.custom.get("score"),
        "channels": sorted(str(kind) for kind in contact.channels),
    }


# --- timing -----------------------------------------------------------------------------


def interleaved(
    contestants: Mapping[str, Callable[[], object]], rounds: int
) -> tuple[dict[str, list[float]], dict[str, object]]:
    """Seconds of one call of each contestant, a list per contestant, one entry per round.

    One untimed warm-up call each first; then each round calls every contestant once,
    the order rotating from round to round. Also returns what each contestant's last
    call returned.
    """
    names = list(contestants)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    results = {name: contestants[name]() for name in names}
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            results[name] = contestants[name]()
            seconds[name].append(time.perf_counter() - start)
    return seconds, results


def counting(predicate: Callable[[T], object], items: list[T]) -> Callable[[], int]:
    """A contestant: how many of ``items`` pass ``predicate`` (filter's C loop)."""
    return lambda: sum(1 for _ in filter(predicate, items))


def ratio(slower: list[float], faster: list[float], scale: float = 1.0) -> float:
    """Median over rounds of ``slower / faster`` (``slower`` scaled by ``scale``)."""
    return statistics.median(s * scale / f for s, f in zip(slower, faster, strict=True))


def bench_segments(people: list[Contact], sample: int, rounds: int) -> float:
    """Time every segment against its contestants; returns the first segment's s/contact."""
    total = len(people)
    dicts = [as_dict(contact) for contact in people[:sample]]
    rule = rule_engine.Rule(RULE_ENGINE)
    first_per_contact = 0.0
    for name, data, hand_written in SEGMENTS:
        segment = parse_segment(data, custom_fields={"score": "number"})
        compiled = compile_segment(segment, now=NOW)
        by_hand = hand_written()
        contestants: dict[str, Callable[[], object]] = {
            "lambda": counting(by_hand, people),
            "segments": counting(compiled, people),
        }
        sizes = {"lambda": total, "segments": total}
        if data is TAGS_SCORE_CHANNEL:
            contestants["rule-engine"] = counting(rule.matches, dicts)
            contestants["json-logic"] = counting(lambda d: jsonLogic(JSON_LOGIC, d), dicts)
            sizes["rule-engine"] = sizes["json-logic"] = len(dicts)
            # Their counts are on the sample: check them against the segment's there.
            contestants["segments on the sample"] = counting(compiled, people[:sample])
        seconds, found = interleaved(contestants, rounds)
        if found["lambda"] != found["segments"] or (
            "rule-engine" in found
            and not found["rule-engine"] == found["json-logic"] == found["segments on the sample"]
        ):
            raise SystemExit(f"the engines disagree on {name}: {found}")
        print(f"\nsegment ({name}): {segment.describe()}")
        print(f"contacts: {total:,}  matching: {found['segments']:,}  rounds: {rounds}")
        shown = [n for n in contestants if n != "segments on the sample"]
        for other in shown:
            median = statistics.median(seconds[other])
            rate = sizes[other] / median
            on = "" if sizes[other] == total else f"  (first {sizes[other]:,} contacts)"
            print(f"{other:>12}: median {median:9.4f} s  {rate:14,.0f} contacts/s{on}")
        for other in shown[:1] + shown[2:]:
            scale = total / sizes[other]
            print(
                f"segments vs {other} ({name}): "
                f"{ratio(seconds[other], seconds['segments'], scale):.2f}"
            )
        if data is TAGS_SCORE_CHANNEL:
            first_per_contact = statistics.median(seconds["segments"]) / total
    return first_per_contact


def bench_building(rows: list[Row], rounds: int) -> float:
    """Print the cost per contact of from_dict, the constructor and Contact.trusted.

    Returns the seconds per contact of Contact.trusted.
    """
    phones = [f"+1212{2_000_000 + number:07d}" for number in range(len(rows))]
    plain = [
        {
            "id": cid,
            "first_name": first_name,
            "language": language,
            "phone": phone,
            "tags": sorted(tags),
            "custom": dict(custom),
            "identities": [
                {
                    "account_id": i.account_id,
                    "channel": i.channel.value,
                    "external_id": i.external_id,
                    "last_inbound_at": None
                    if i.last_inbound_at is None
                    else i.last_inbound_at.isoformat(),
                }
                for i in identities
            ],
        }
        for (cid, first_name, language, tags, custom, identities), phone in zip(
            rows, phones, strict=True
        )
    ]
    typed = [(*row, phone) for row, phone in zip(rows, phones, strict=True)]

    def from_dict() -> list[Contact]:
        return [Contact.from_dict(data) for data in plain]

    def constructor() -> list[Contact]:
        return [
            Contact(
                id=cid,
                first_name=first_name,
                language=language,
                phone=phone,
                phone_region="US",
                tags=tags,
                custom=custom,
                identities=identities,
            )
            for cid, first_name, language, tags, custom, identities, phone in typed
        ]

    def trusted() -> list[Contact]:
        return [
            Contact.trusted(
                id=cid,
                first_name=first_name,
                language=language,
                phone=phone,
                phone_region="US",
                tags=tags,
                custom=custom,
                identities=identities,
            )
            for cid, first_name, language, tags, custom, identities, phone in typed
        ]

    seconds, built = interleaved(
        {"from_dict": from_dict, "constructor": constructor, "trusted": trusted}, rounds
    )
    if not built["from_dict"] == built["constructor"] == built["trusted"]:
        raise SystemExit("the three ways of building a contact disagree")
    size = len(rows)
    print(f"\nbuilding a contact ({size:,} stored rows, {rounds} rounds):")
    for name in ("from_dict", "constructor", "trusted"):
        per_contact = statistics.median(seconds[name]) / size
        print(
            f"{'Contact.' + name if name != 'constructor' else 'Contact(...)':>17}: "
            f"{per_contact * 1e9:8.0f} ns per contact  {1 / per_contact:12,.0f} contacts/s"
        )
    from_dict_ratio = ratio(seconds["from_dict"], seconds["trusted"])
    print(f"Contact.from_dict vs Contact.trusted: {from_dict_ratio:.2f}")
    print(
        f"Contact(...) vs Contact.trusted: {ratio(seconds['constructor'], seconds['trusted']):.2f}"
    )
    return statistics.median(seconds["trusted"]) / size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=300_000, help="default 300,000")
    parser.add_argument("--rounds", "--repeat", type=int, default=7, help="rounds (median)")
    parser.add_argument(
        "--sample", type=int, default=10_000, help="contacts rule-engine and JSON Logic filter"
    )
    parser.add_argument(
        "--build-sample", type=int, default=3_000, help="rows each way of building a contact builds"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if min(args.contacts, args.rounds, args.sample, args.build_sample) < 1:
        parser.error("sizes and rounds must be at least 1")

    # Building first, before the audience is in memory: with a million contacts alive
    # every full collection of the garbage collector would be charged to it.
    build = bench_building(synthetic_rows(args.build_sample, args.seed), args.rounds)
    people = trusted_contacts(synthetic_rows(args.contacts, args.seed))
    gc.freeze()  # the audience lives to the end; no collection need walk it again
    evaluate = bench_segments(people, min(args.sample, args.contacts), args.rounds)
    print(
        "\nContact.trusted vs evaluating the tags, score, channel segment, per contact: "
        f"{build / evaluate:.2f}"
    )


if __name__ == "__main__":
    main()
