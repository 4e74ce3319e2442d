from datetime import datetime

import pytest

from omnimsg._time import parse_duration, require_aware
from omnimsg.errors import InputError, NaiveDatetimeError


def test_naive_datetime_is_refused_with_the_name_of_the_value() -> None:
    with pytest.raises(NaiveDatetimeError, match="now must be timezone-aware"):
        require_aware(datetime(2026, 1, 1), "now")


@pytest.mark.parametrize(
    ("text", "seconds"), [("24h", 86400), ("7d", 604800), ("1h30m", 5400), ("90s", 90)]
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "24", "h", "24x", "1h 3"])
def test_parse_duration_refuses_garbage(text: str) -> None:
    with pytest.raises(InputError):
        parse_duration(text)
