"""The lanes the planner places sends in: rate, daily cap, tier, quiet hours (B10, B11,
B13, B14, X2), checked on the lane alone."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from omnimsg.broadcasts.lanes import (
    DAY,
    SECOND,
    Lane,
    QuietCalendar,
    TierTracker,
    from_micros,
    to_micros,
)
from omnimsg.channels.capabilities import QuietHours, TierPolicy
from omnimsg.state import AccountState, SenderUsage

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
ORIGIN = to_micros(START)
HORIZON = ORIGIN + 7 * DAY
HOUR = 3600 * SECOND


def lane(
    *,
    spacing: int = 0,
    daily_cap: int | None = None,
    tier: TierTracker | None = None,
    state: AccountState | None = None,
    usage: SenderUsage | None = None,
) -> Lane:
    return Lane(
        "acct",
        origin=ORIGIN,
        horizon=HORIZON,
        spacing=spacing,
        daily_cap=daily_cap,
        tier=tier,
        state=state or AccountState(),
        usage=usage or SenderUsage(),
    )


def place(target: Lane, n: int, *, counted: bool, all_fit: bool = True) -> list[int]:
    times = []
    for _ in range(n):
        slot = target.find(ORIGIN, 1, None, counted=counted)
        if slot is None:
            assert not all_fit
            break
        target.take(slot)
        times.append(slot.times[0])
    return times


def test_micros_round_trip() -> None:
    assert from_micros(to_micros(START)) == START


def test_sends_of_an_account_lie_on_its_rate_grid() -> None:
    """SPEC B10: at most one send per spacing; no window of the rate's length holds more."""
    target = lane(spacing=SECOND // 10)  # 10 a second
    times = place(target, 35, counted=False)
    assert times == [ORIGIN + i * (SECOND // 10) for i in range(35)]
    for t in times:
        assert sum(1 for u in times if t <= u < t + SECOND) <= 10


def test_a_place_taken_is_never_given_twice_and_gaps_are_filled() -> None:
    target = lane(spacing=SECOND)
    late = target.find(ORIGIN + 10 * SECOND, 1, None, counted=False)
    assert late is not None
    target.take(late)
    early = place(target, 12, counted=False)
    assert ORIGIN + 10 * SECOND not in early
    assert early[:10] == [ORIGIN + i * SECOND for i in range(10)]
    assert early[10:] == [ORIGIN + 11 * SECOND, ORIGIN + 12 * SECOND]


def test_no_rate_sends_everything_at_once() -> None:
    """SPEC B10: with no rate, as fast as the channel allows."""
    assert set(place(lane(), 50, counted=False)) == {ORIGIN}


def test_daily_cap_moves_the_rest_to_the_next_local_day() -> None:
    """SPEC B11: 1,500 recipients a day per number, in the number's own time zone."""
    madrid = ZoneInfo("Europe/Madrid")
    usage = SenderUsage(day=START.astimezone(madrid).date(), recipients_today=1490)
    target = lane(daily_cap=1500, state=AccountState(timezone=madrid), usage=usage)
    times = place(target, 12, counted=False)
    assert times[:10] == [ORIGIN] * 10
    next_midnight = datetime(2026, 12, 2, tzinfo=madrid)
    assert times[10:] == [to_micros(next_midnight)] * 2


def test_several_messages_to_one_recipient_stay_in_one_allowed_interval() -> None:
    calendar = QuietCalendar(ORIGIN - DAY, HORIZON + DAY)
    allowed = calendar.allowed((ZoneInfo("UTC"),), (QuietHours(time(9), time(9, 0, 3)),))
    target = lane(spacing=SECOND)
    first = target.find(ORIGIN, 1, allowed, counted=False)
    assert first is not None
    assert first.times == [to_micros(datetime(2026, 12, 1, 9, tzinfo=UTC))]
    target.take(first)
    slot = target.find(ORIGIN, 3, allowed, counted=False)
    assert slot is not None
    # 09:00:01 and :02 are left on the first day; three sends need the next day's hours.
    day_two = to_micros(datetime(2026, 12, 2, 9, tzinfo=UTC))
    assert slot.times == [day_two, day_two + SECOND, day_two + 2 * SECOND]
    assert target.find(ORIGIN, 3, allowed, counted=False, latest=day_two) is None


def test_quiet_hours_are_read_in_every_zone_of_the_recipient() -> None:
    """SPEC X2: a send lands only where every possible zone allows it."""
    calendar = QuietCalendar(ORIGIN - DAY, HORIZON + DAY)
    zones = (ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles"))
    starts, ends = calendar.allowed(zones, (QuietHours(time(8), time(21)),))
    for lo, hi in zip(starts, ends, strict=True):
        for at in (lo, hi - 1):
            for zone in zones:
                local = from_micros(at).astimezone(zone).time()
                assert time(8) <= local < time(21)
    # 08:00 in Los Angeles is 11:00 in New York: the first allowed instant.
    first = from_micros(starts[0]).astimezone(zones[1])
    assert first.time() == time(8)


def test_quiet_hours_across_midnight() -> None:
    calendar = QuietCalendar(ORIGIN - DAY, HORIZON + DAY)
    starts, ends = calendar.allowed((ZoneInfo("UTC"),), (QuietHours(time(22), time(2)),))
    assert all((hi - lo) == 4 * HOUR for lo, hi in zip(starts[1:-1], ends[1:-1], strict=True))


def tier_tracker(
    limits: tuple[int | None, ...] = (3, 30),
    *,
    recent: tuple[tuple[datetime, str], ...] = (),
    quality_low: bool = False,
) -> TierTracker:
    policy = TierPolicy(limits=limits, upgrade_factor=2.0)
    return TierTracker(policy, tier=0, quality_low=quality_low, recent=recent, now=ORIGIN)


def test_tier_counts_what_was_sent_in_the_last_24_hours() -> None:
    """SPEC B13: unique recipients in a rolling 24 h, prior sends included."""
    before = START - timedelta(hours=23)
    tracker = tier_tracker(recent=((before, "a"), (before, "b"), (before, "a")))
    target = lane(tier=tracker)
    times = place(target, 2, counted=True)
    # a and b count once each: one place now, the next once they left the window.
    assert times == [ORIGIN, to_micros(before) + 24 * HOUR]


def test_uncounted_sends_do_not_use_the_tier() -> None:
    """SPEC B13: replies inside the customer's window are not counted."""
    target = lane(tier=tier_tracker())
    assert place(target, 10, counted=False) == [ORIGIN] * 10


@given(st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=3))
def test_no_rolling_window_holds_more_than_the_tier(count: int, prior: int) -> None:
    """SPEC B13: any 24 h window, however placed, holds at most the limit."""
    recent = tuple((START - timedelta(hours=20 - i), f"p{i}") for i in range(prior))
    target = lane(tier=tier_tracker((3, None), recent=recent, quality_low=True))
    placed = place(target, count, counted=True, all_fit=False)
    assert len(placed) >= min(count, 3 * 7 - prior)  # three in each 24 h for 7 days
    times = [to_micros(at) for at, _ in recent] + placed
    for t in times:
        assert sum(1 for u in times if t <= u < t + 24 * HOUR) <= 3


def test_the_tier_moves_up_48_hours_after_reaching_twice_its_limit() -> None:
    """SPEC B14: 6 notified (2 x 3) within 7 days, then the next tier 48 h later."""
    target = lane(tier=tier_tracker((3, 30)))
    times = place(target, 12, counted=True)
    day = 24 * HOUR
    assert times[:3] == [ORIGIN] * 3
    assert times[3:6] == [ORIGIN + day] * 3
    # The sixth recipient reached 2 x 3 at ORIGIN + 1 day: tier 2 from ORIGIN + 3 days,
    # while tier 1 still holds on day 2.
    assert times[6:9] == [ORIGIN + 2 * day] * 3
    assert times[9:] == [ORIGIN + 3 * day] * 3
    assert target.tier is not None
    assert target.tier.tier == 1


def test_low_quality_blocks_the_upgrade() -> None:
    """SPEC B14: only a number whose quality is not low moves up."""
    target = lane(tier=tier_tracker((3, 30), quality_low=True))
    times = place(target, 12, counted=True)
    assert times[9:] == [ORIGIN + 3 * 24 * HOUR] * 3
    assert target.tier is not None
    assert target.tier.tier == 0


def test_nothing_is_placed_after_the_horizon() -> None:
    """SPEC B10: the whole send fits in 7 days or the rest is not placed."""
    target = lane(daily_cap=1)
    times = place(target, 8, counted=False)  # Dec 1 to Dec 8 00:00, before 08:00
    assert max(times) < HORIZON
    assert target.find(ORIGIN, 1, None, counted=False) is None
