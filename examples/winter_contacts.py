"""The customers of a car dealer in Spain, as a contacts CSV: the audience of the demo's
winter-service reminder (examples/winter_service.toml).

Every run writes the same file: the contacts come from a seeded random generator.
Each has a Spanish mobile number (written as people type them: ``612 345 678``, or
with ``+34``), the ``customer`` tag, and a ``subscription`` column saying where they
stand with the dealer's SMS numbers (B12): most subscribed, many never asked (they
get the S/N prompt first), a few who answered N or sent STOP.

    python examples/winter_contacts.py OUT.csv [--count 4000] [--seed 2026]
"""

from __future__ import annotations

import argparse
import csv
import random
from collections.abc import Iterator
from pathlib import Path

COUNT = 4_000
SEED = 2026
HEADER = ("id", "First name", "Last name", "Mobile", "E-mail", "tags", "timezone", "subscription")

FIRST = ["Ana", "José", "María", "Javier", "Lucía", "Carlos", "Carmen", "Pablo", "Elena"]
FIRST += ["Sergio", "Marta", "Álvaro", "Laura", "Diego", "Nuria", "Íñigo", "Rocío", "Jordi"]
LAST = ["García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez"]
LAST += ["Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz"]
EXTRA_TAGS = ["vip", "fleet", "electric", "diesel"]

# Where each contact stands with the dealer's numbers (the CSV's subscription column).
STANDING = [
    ("subscribed", 64),  # confirmed with S before: gets the reminder
    ("not_asked", 31),  # never asked: gets the S/N prompt first and is held (B12)
    ("unsubscribed", 3),  # sent STOP: excluded (X1)
    ("declined", 2),  # answered N: excluded (B12)
]


def _mobile(rng: random.Random) -> str:
    """A valid Spanish mobile number, written as a customer would."""
    first = rng.choice("6666666777")
    second = rng.choice("0123456789") if first == "6" else rng.choice("12348")
    rest = f"{rng.randrange(10**7):07d}"
    digits = f"{first}{second}{rest}"
    if rng.random() < 0.3:
        return f"+34 {digits[:3]} {digits[3:5]} {digits[5:7]} {digits[7:]}"
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


def rows(count: int = COUNT, seed: int = SEED) -> Iterator[tuple[str, ...]]:
    """The CSV rows (without the header), the same ones for the same arguments."""
    rng = random.Random(seed)
    standings = [name for name, _ in STANDING]
    weights = [weight for _, weight in STANDING]
    for number in range(1, count + 1):
        first = rng.choice(FIRST) if rng.random() < 0.95 else ""
        last = rng.choice(LAST)
        email = f"cliente{number}@correo.example" if rng.random() < 0.6 else ""
        tags = ["customer", *rng.sample(EXTRA_TAGS, k=rng.choice((0, 0, 0, 1, 2)))]
        # Most customers' zone comes from their number (mainland or Canary Islands);
        # those whose address the dealer knows have it written down.
        zone = rng.choice(("", "", "", "", "Europe/Madrid", "Atlantic/Canary"))
        standing = rng.choices(standings, weights)[0]
        yield (
            f"cust-{number:05d}",
            first,
            last,
            _mobile(rng),
            email,
            ";".join(tags),
            zone,
            standing,
        )


def write_csv(path: str | Path, count: int = COUNT, seed: int = SEED) -> Path:
    """Write the contacts CSV to ``path``; return the path."""
    target = Path(path)
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows(count, seed))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the CSV file to write")
    parser.add_argument("--count", type=int, default=COUNT, help="how many contacts")
    parser.add_argument("--seed", type=int, default=SEED, help="the generator's seed")
    args = parser.parse_args()
    write_csv(args.out, args.count, args.seed)


if __name__ == "__main__":
    main()
