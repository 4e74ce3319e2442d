"""The broadcast lifecycle and the schedule's instants.

SPEC B1 (a broadcast is a draft first, sent later), B9 (now, or a later instant, with
an optional recurrence).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnimsg.broadcasts.lifecycle import (
    TRANSITIONS,
    BroadcastStatus,
    check_recurrence,
    occurrences,
    transition,
)
from omnimsg.broadcasts.model import Schedule
from omnimsg.errors import InputError, LifecycleError, NaiveDatetimeError

S = BroadcastStatus
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
CET = timezone(timedelta(hours=1))
LEGAL = {
    (S.DRAFT, S.SCHEDULED),
    (S.DRAFT, S.CANCELLED),
    (S.SCHEDULED, S.DRAFT),
    (S.SCHEDULED, S.SENDING),
    (S.SCHEDULED, S.CANCELLED),
    (S.SENDING, S.DONE),
    (S.SENDING, S.FAILED),
    (S.SENDING, S.CANCELLED),
}


def test_the_statuses_have_stable_values() -> None:
    assert [s.value for s in BroadcastStatus] == [
        "draft",
        "scheduled",
        "sending",
        "done",
        "cancelled",
        "failed",
    ]


def test_the_table_is_exactly_the_legal_moves() -> None:
    """SPEC B1: draft -> scheduled -> sending -> done / cancelled / failed."""
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == LEGAL
    assert set(TRANSITIONS) == set(BroadcastStatus)
    for final in (S.DONE, S.CANCELLED, S.FAILED):
        assert TRANSITIONS[final] == frozenset()


@pytest.mark.parametrize(("current", "to"), sorted(LEGAL))
def test_legal_moves_return_the_new_status(current: S, to: S) -> None:
    """SPEC B1."""
    assert transition(current, to) is to
    assert transition(current.value, to.value) is to


@pytest.mark.parametrize(
    ("current", "to"),
    sorted((a, b) for a in BroadcastStatus for b in BroadcastStatus if (a, b) not in LEGAL),
)
def test_illegal_moves_are_refused_naming_both(current: S, to: S) -> None:
    """SPEC B1: only legal transitions; a final status goes nowhere."""
    with pytest.raises(LifecycleError) as info:
        transition(current, to)
    assert current.value in str(info.value)
    assert to.value in str(info.value)


def test_a_final_status_says_it_is_final() -> None:
    with pytest.raises(LifecycleError, match="done is final"):
        transition("done", "sending")


def test_a_draft_is_sent_only_after_being_scheduled() -> None:
    """SPEC B1: created as a draft and sent later."""
    with pytest.raises(LifecycleError, match="scheduled"):
        transition("draft", "sending")
    assert transition(transition("draft", "scheduled"), "sending") is S.SENDING


@pytest.mark.parametrize("bad", ["Draft", "paused", "", None, 3, b"draft", S])
def test_an_unknown_status_is_an_input_error(bad: object) -> None:
    with pytest.raises(InputError) as info:
        transition(bad, "draft")  # type: ignore[arg-type]
    assert not isinstance(info.value, LifecycleError)
    with pytest.raises(InputError):
        transition("draft", bad)  # type: ignore[arg-type]


def test_the_lifecycle_lets_a_random_walk_end_only_in_a_final_status() -> None:
    """SPEC B1: from any status a legal path leads to a final one."""
    for start in BroadcastStatus:
        seen, frontier = {start}, [start]
        while frontier:
            for following in TRANSITIONS[frontier.pop()]:
                if following not in seen:
                    seen.add(following)
                    frontier.append(following)
        assert seen & {S.DONE, S.CANCELLED, S.FAILED}


# --- B9: occurrences --------------------------------------------------------------------


def test_without_a_start_the_send_starts_now() -> None:
    """SPEC B9: now."""
    assert occurrences(Schedule(), now=NOW) == (NOW,)


def test_with_a_start_the_send_starts_then() -> None:
    """SPEC B9: a later date and time."""
    start = datetime(2026, 12, 1, 9, tzinfo=CET)
    assert occurrences(Schedule(start=start), now=NOW) == (start,)


def test_a_weekly_rule_gives_its_instants_in_the_starts_zone() -> None:
    """SPEC B9: a recurrence through dateutil's rrule."""
    start = datetime(2026, 12, 1, 9, tzinfo=CET)
    got = occurrences(Schedule(start=start, recurrence="FREQ=WEEKLY;COUNT=4"), now=NOW)
    assert got == tuple(start + timedelta(weeks=n) for n in range(4))
    assert all(instant.tzinfo is CET for instant in got)


def test_a_rule_without_a_start_begins_now() -> None:
    """SPEC B9."""
    got = occurrences(Schedule(recurrence="RRULE:FREQ=DAILY;COUNT=3"), now=NOW)
    assert got == (NOW, NOW + timedelta(days=1), NOW + timedelta(days=2))


def test_the_limit_bounds_an_endless_rule() -> None:
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert len(occurrences(Schedule(start=start, recurrence="FREQ=DAILY"), now=NOW)) == 100
    assert len(occurrences(Schedule(start=start, recurrence="FREQ=DAILY"), now=NOW, limit=7)) == 7


def test_until_is_an_instant_in_utc_and_ends_the_rule() -> None:
    start = datetime(2026, 12, 1, 9, tzinfo=CET)
    rule = "FREQ=DAILY;UNTIL=20261203T080000Z"
    assert len(occurrences(Schedule(start=start, recurrence=rule), now=NOW)) == 3
    earlier = "FREQ=DAILY;UNTIL=20261203T075959Z"
    assert len(occurrences(Schedule(start=start, recurrence=earlier), now=NOW)) == 2


def test_a_local_wall_clock_time_is_kept_across_daylight_saving() -> None:
    """SPEC B9: a weekly 09:00 in Madrid stays 09:00 when the clocks change."""
    madrid = ZoneInfo("Europe/Madrid")
    start = datetime(2026, 3, 22, 9, tzinfo=madrid)
    got = occurrences(Schedule(start=start, recurrence="FREQ=WEEKLY;COUNT=2"), now=NOW)
    assert [instant.hour for instant in got] == [9, 9]
    assert got[1].astimezone(UTC) - got[0].astimezone(UTC) == timedelta(days=7, hours=-1)


def test_a_time_that_does_not_exist_locally_moves_forward() -> None:
    """SPEC B9: 02:30 on the night the clocks go forward is 03:30."""
    madrid = ZoneInfo("Europe/Madrid")
    start = datetime(2026, 3, 28, 2, 30, tzinfo=madrid)
    got = occurrences(Schedule(start=start, recurrence="FREQ=DAILY;COUNT=2"), now=NOW)
    assert got[1].astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_a_rule_that_never_matches_gives_nothing() -> None:
    """SPEC B9: February the 30th never comes."""
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    for freq in ("YEARLY", "MONTHLY", "WEEKLY", "DAILY"):
        rule = f"FREQ={freq};BYMONTH=2;BYMONTHDAY=30"
        assert occurrences(Schedule(start=start, recurrence=rule), now=NOW) == ()


def test_rare_instants_are_found_years_ahead() -> None:
    """SPEC B9: the 400-year cycle finds leap days like dateutil does."""
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    rule = "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;COUNT=3"
    got = occurrences(Schedule(start=start, recurrence=rule), now=NOW)
    assert [instant.year for instant in got] == [2028, 2032, 2036]
    century = occurrences(
        Schedule(start=datetime(2096, 3, 1, tzinfo=UTC), recurrence=rule), now=NOW
    )
    assert [instant.year for instant in century] == [2104, 2108, 2112]


@given(
    start=st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2300, 12, 31)),
    rule=st.sampled_from(
        [
            "FREQ=DAILY;INTERVAL=3;COUNT=5",
            "FREQ=WEEKLY;BYDAY=MO,TH;COUNT=6",
            "FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=4",
            "FREQ=MONTHLY;BYDAY=2TU;COUNT=4",
            "FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO;COUNT=3",
            "FREQ=DAILY;INTERVAL=7;BYMONTH=1,7;COUNT=5",
            "FREQ=YEARLY;BYYEARDAY=1,-1;COUNT=4",
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=4",
        ]
    ),
)
def test_the_instants_are_dateutils_own(start: datetime, rule: str) -> None:
    """SPEC B9: moving the rule by 400-year cycles changes no instant."""
    from dateutil.rrule import rrulestr

    aware = start.replace(microsecond=0, tzinfo=UTC)
    expected = tuple(rrulestr(rule, dtstart=aware))
    assert occurrences(Schedule(start=aware, recurrence=rule), now=NOW) == expected


def test_occurrences_refuse_naive_datetimes() -> None:
    """SPEC B9: instants carry their offset."""
    with pytest.raises(NaiveDatetimeError):
        occurrences(Schedule(), now=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "rule",
    [
        "",
        "FREQ=",
        "COUNT=3",
        "FREQ=FORTNIGHTLY",
        "FREQ=DAILY;FREQ=WEEKLY",
        "FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z",
        "FREQ=DAILY;UNTIL=20270101",
        "FREQ=DAILY;UNTIL=20270101T000000",
        "FREQ=DAILY;BYEASTER=1",
        "FREQ=DAILY\nRDATE:20270101",
        "DTSTART:20260101T000000Z;FREQ=DAILY",
        "FREQ=HOURLY",
        "FREQ=MINUTELY;COUNT=2",
        "FREQ=SECONDLY",
        "FREQ=DAILY;BYHOUR=9",
        "FREQ=WEEKLY;BYMINUTE=30",
        "FREQ=DAILY;BYSECOND=0",
        "FREQ=DAILY;BYSETPOS=1",
        "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1,2,3,4,5,6,7,8",
        "FREQ=YEARLY;BYYEARDAY=" + ",".join(str(d) for d in range(1, 33)),
        "FREQ=DAILY;INTERVAL=x",
    ],
)
def test_a_bad_rule_is_an_input_error(rule: str) -> None:
    """SPEC B9."""
    with pytest.raises(InputError):
        check_recurrence(rule, NOW)
    with pytest.raises(InputError):
        occurrences(Schedule(recurrence=rule), now=NOW)


@pytest.mark.parametrize("limit", [0, -1, 10_001, True, 1.5, "5", None])
def test_the_limit_must_be_a_sensible_count(limit: object) -> None:
    with pytest.raises(InputError, match="limit"):
        occurrences(Schedule(), now=NOW, limit=limit)  # type: ignore[arg-type]
