"""One recipient's sends placed ``gap`` apart in a lane (SPEC P5, P9, P10, B10, B11, X2).

Checked on the lane alone, over random rates, quiet hours, daily caps, taken places,
windows that close (``latest``) and the 7-day horizon: every place found keeps the
gap, lies on the rate's grid on free points, in one allowed interval and one local
day of the account, and ends before the window and the horizon.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from omnimsg.broadcasts.lanes import DAY, SECOND, Lane, to_micros
from omnimsg.state import AccountState, SenderUsage

START = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)  # a DST change in Europe inside the week
ORIGIN = to_micros(START)
HORIZON = ORIGIN + 7 * DAY
HOUR = 3600 * SECOND


def _lane(spacing: int, daily_cap: int | None, zone: str) -> Lane:
    return Lane(
        "acct",
        origin=ORIGIN,
        horizon=HORIZON,
        spacing=spacing,
        daily_cap=daily_cap,
        tier=None,
        state=AccountState(timezone=ZoneInfo(zone)),
        usage=SenderUsage(),
    )


@st.composite
def _intervals(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    if draw(st.booleans()):
        return None
    cuts = sorted(
        set(draw(st.lists(st.integers(0, 7 * 24 * 4), min_size=2, max_size=24)))
    )  # quarter hours from the origin
    starts = tuple(ORIGIN + c * HOUR // 4 for c in cuts[0::2])
    ends = tuple(ORIGIN + c * HOUR // 4 for c in cuts[1::2])
    return starts[: len(ends)], ends


@settings(max_examples=60, deadline=None)
@given(
    spacing=st.sampled_from([0, SECOND // 80, SECOND, 7 * SECOND, 20 * 60 * SECOND]),
    gap=st.sampled_from([0, SECOND, 6 * SECOND, 30 * 60 * SECOND, 5 * HOUR, 30 * HOUR]),
    count=st.integers(1, 4),
    daily_cap=st.none() | st.integers(1, 3),
    zone=st.sampled_from(["UTC", "Europe/Madrid", "Asia/Tokyo", "Pacific/Kiritimati"]),
    allowed=_intervals(),
    earliest=st.integers(-DAY, 8 * DAY),
    latest=st.none() | st.integers(0, 8 * DAY),
    before=st.integers(0, 6),
)
def test_p5_p9_p10_a_place_keeps_the_gap_and_every_other_limit(
    spacing: int,
    gap: int,
    count: int,
    daily_cap: int | None,
    zone: str,
    allowed: tuple[tuple[int, ...], tuple[int, ...]] | None,
    earliest: int,
    latest: int | None,
    before: int,
) -> None:
    lane = _lane(spacing, daily_cap, zone)
    taken: set[int] = set()
    for n in range(before):  # others placed first, one send each, all the gap apart
        slot = lane.find(ORIGIN + n * HOUR, 1, allowed, counted=False)
        if slot is not None:
            lane.take(slot)
            taken.update(slot.slots)
    end = HORIZON if latest is None else min(HORIZON, ORIGIN + latest)
    slot = lane.find(
        ORIGIN + earliest,
        count,
        allowed,
        counted=False,
        latest=None if latest is None else ORIGIN + latest,
        gap=gap,
    )
    if slot is None:
        return
    times = slot.times
    assert len(times) == count
    assert times[0] >= max(ORIGIN, ORIGIN + earliest)
    assert times[-1] < end  # the window's close and the horizon are exclusive
    for a, b in itertools.pairwise(times):
        assert b - a >= max(gap, 1 if spacing else 0)  # P5, P10 (and B10's grid)
    if spacing:
        assert [ORIGIN + k * spacing for k in slot.slots] == times  # B10: on the grid
        assert not taken & set(slot.slots)  # free points only
    if allowed is not None:  # X2: all in one allowed interval
        starts, ends = allowed
        assert any(s <= times[0] and times[-1] < e for s, e in zip(starts, ends, strict=True))
    if daily_cap is not None:  # B11: one local day of the account
        days = {lane._day_index(t) for t in times}
        assert len(days) == 1
        assert lane.recipients_by_day()[slot.day][1] < daily_cap


def test_p5_spaced_sends_that_would_cross_midnight_move_to_the_next_day() -> None:
    # B11: one recipient's sends count on one day: three sends 5 h apart from 20:00
    # cross midnight, so they start at the next local midnight.
    lane = _lane(0, 5, "UTC")
    at = ORIGIN - 2 * HOUR  # 20:00 UTC, before the origin: the origin is taken
    slot = lane.find(at, 3, None, counted=False, gap=5 * HOUR)
    assert slot is not None
    assert slot.times == [ORIGIN + 2 * HOUR + n * 5 * HOUR for n in range(3)]


def test_p5_a_window_closing_before_the_last_spaced_send_leaves_no_place() -> None:
    lane = _lane(SECOND, None, "UTC")
    slot = lane.find(ORIGIN, 2, None, counted=False, latest=ORIGIN + 6 * SECOND, gap=6 * SECOND)
    assert slot is None  # the second send would go as the window closes (exclusive)
    slot = lane.find(ORIGIN, 2, None, counted=False, latest=ORIGIN + 6 * SECOND + 1, gap=6 * SECOND)
    assert slot is not None
    assert slot.times == [ORIGIN, ORIGIN + 6 * SECOND]
