"""WhatsApp messaging limits replayed from a history (SPEC B13, B14, P2, P3, P4).

Dated tests run on the ``official`` profile's WhatsApp tiers; rule tests on small
policies built here, so that a few dozen deliveries reach a threshold. Properties:
quality low never moves a limit up; upgrades never land sooner than their delay
after a threshold found by brute force (48 h under v1, 24 h under v2); a v3
portfolio's numbers share one count; the planner's TierTracker agrees with the
engine on simple v1 histories.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnimsg import Profile, load_profile
from omnimsg.broadcasts.lanes import TierTracker, to_micros
from omnimsg.channels.capabilities import TierPolicy
from omnimsg.errors import (
    CallbackError,
    ConfigurationError,
    InputError,
    NaiveDatetimeError,
)
from omnimsg.policy.limits import (
    RULE_OF_VERSION,
    Delivery,
    LimitHistory,
    LimitStatus,
    Quality,
    QualityChange,
    Start,
    TierCause,
    TierChange,
    messaging_limit,
)

H = timedelta(hours=1)
D = timedelta(days=1)
US = timedelta(microseconds=1)
T0 = datetime(2024, 3, 1, tzinfo=UTC)


@functools.cache
def official_profile() -> Profile:
    return load_profile("official")


def official(t: datetime) -> TierPolicy | None:
    """The WhatsApp tiers of the ``official`` profile in force at ``t``."""
    return official_profile().capabilities("whatsapp", as_of=t).tiers


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# Small versions of the three rule sets: the same rules, limits a test can reach.
V1 = TierPolicy(limits=(2, 20, 200, None), version="v1")
V2 = TierPolicy(
    limits=(2, 8, 40, 200, None),
    version="v2",
    upgrade_factor=0.5,
    upgrade_delay=24 * H,
    downgrade_after=7 * D,
    verified_tier=1,
    first_upgrade_count=4,
)
V3 = TierPolicy(
    limits=(2, 16, 80, 400, None),
    version="v3",
    upgrade_factor=0.5,
    upgrade_delay=6 * H,
    quality_required="high",
    scope="portfolio",
    verified_tier=1,
    first_upgrade_count=6,
)
LOW = (Quality.LOW, Quality.FLAGGED)


def sends(
    start: datetime, count: int, *, number: str = "n1", step: timedelta = H, tag: str = "r"
) -> list[Delivery]:
    """``count`` deliveries to distinct recipients, ``step`` apart from ``start``."""
    return [Delivery(start + i * step, f"{tag}{i}", number) for i in range(count)]


# --- dated: the official profile ----------------------------------------------------------


def test_p2_v1_on_2023_10_31_then_p3_v2_from_2023_11_01_keeps_the_limit() -> None:
    """SPEC P2 until 2023-11-01, P3 from it: a 1K number keeps 1K (v2's tier 1)."""
    history = LimitHistory(starts=[Start(day("2023-10-31"), number="n1")])
    before = messaging_limit(official, history, at=day("2023-10-31T23:59:59.999999"))
    after = messaging_limit(official, history, at=day("2023-11-01"))
    assert (before.version, before.rule, before.tier, before.limit) == ("v1", "P2", 0, 1000)
    assert (after.version, after.rule, after.tier, after.limit) == ("v2", "P3", 1, 1000)
    assert after.changes[-1] == TierChange(day("2023-11-01"), 1, 1000, TierCause.RULES, "v2")


def test_p3_a_number_starting_on_2023_11_01_starts_at_250() -> None:
    """SPEC P3: new numbers start at 250 under v2 (P2's numbers started at 1K)."""
    history = LimitHistory(starts=[Start(day("2023-11-01"), number="n1")])
    assert messaging_limit(official, history, at=day("2023-11-02")).limit == 250
    history = LimitHistory(starts=[Start(day("2023-10-31"), number="n1")])
    assert messaging_limit(official, history, at=day("2023-10-31T01:00")).limit == 1000


def test_p4_on_2025_10_07_the_portfolio_takes_the_highest_limit_of_its_numbers() -> None:
    """SPEC P3 per number on 2025-10-06; P4 per portfolio from 2025-10-07: the highest
    limit any number had, 1K becoming 2K."""
    start = day("2025-09-01")
    history = LimitHistory(
        starts=[Start(start, tier=1, number="small"), Start(start, tier=0, number="new")]
    )
    on_6 = [
        messaging_limit(official, history, at=day("2025-10-06"), number=n) for n in ("small", "new")
    ]
    assert [(s.rule, s.scope, s.limit) for s in on_6] == [
        ("P3", "number", 1000),
        ("P3", "number", 250),
    ]
    on_7 = messaging_limit(official, history, at=day("2025-10-07"), number="new")
    assert (on_7.rule, on_7.scope, on_7.tier, on_7.limit) == ("P4", "portfolio", 1, 2000)
    bigger = attrs.evolve(history, starts=[*history.starts, Start(start, tier=2, number="big")])
    assert messaging_limit(official, bigger, at=day("2025-10-07")).limit == 10_000


def test_p4_a_business_starting_under_v3_starts_at_250_and_verification_gives_2000() -> None:
    """SPEC P4: portfolio start at 250; verification lifts it to 2,000."""
    start = day("2025-11-01")
    assert messaging_limit(official, LimitHistory(starts=[Start(start)]), at=start + D).limit == 250
    verified = LimitHistory(starts=[Start(start)], verified_at=start + H)
    assert messaging_limit(official, verified, at=start + H - US).limit == 250
    status = messaging_limit(official, verified, at=start + H)
    assert (status.limit, status.changes[-1].cause) == (2000, TierCause.VERIFIED)


def test_p3_half_the_limit_in_7_days_moves_up_24h_later_on_the_official_data() -> None:
    """SPEC P3: 1K number, 500 unique users within 7 days at medium quality -> 10K a day on."""
    start = day("2024-05-01")
    history = LimitHistory(
        deliveries=sends(start, 500, step=timedelta(minutes=10)),
        quality=[QualityChange(start, Quality.MEDIUM)],
        starts=[Start(start, tier=1)],
    )
    threshold = start + 499 * timedelta(minutes=10)
    status = messaging_limit(official, history, at=threshold)
    assert status.next == TierChange(
        threshold + D, 2, 10_000, TierCause.UPGRADE, "v2", threshold_at=threshold
    )
    assert messaging_limit(official, history, at=threshold + D - US).limit == 1000
    assert messaging_limit(official, history, at=threshold + D).limit == 10_000


def test_profile_capabilities_can_be_passed_whole_and_seed_rules_are_b13() -> None:
    """SPEC B13: the LiveTex profile's tiers have no version: rule B13, 1K to start."""
    livetex = load_profile("livetex")
    status = messaging_limit(
        lambda t: livetex.capabilities("whatsapp", as_of=t),
        LimitHistory(deliveries=sends(T0, 3)),
        at=T0 + D,
    )
    assert (status.rule, status.version, status.limit, status.used) == ("B13", "", 1000, 2)
    assert RULE_OF_VERSION["v1"] == "P2"


# --- what counts (B13, P4) --------------------------------------------------------------


def test_capabilities_for_all_time_and_a_channel_without_tiers() -> None:
    """SPEC B13: capabilities are accepted for their tiers; none at all is refused."""
    livetex = load_profile("livetex")
    whatsapp = livetex.capabilities("whatsapp", as_of=T0)
    assert messaging_limit(whatsapp, LimitHistory(), at=T0).limit == 1000
    telegram = livetex.capabilities("telegram", as_of=T0)
    with pytest.raises(ConfigurationError, match="no messaging tiers"):
        messaging_limit(telegram, LimitHistory(), at=T0)
    with pytest.raises(ConfigurationError, match="no messaging tiers"):
        messaging_limit(lambda t: telegram, LimitHistory(), at=T0)


def test_b13_replies_inside_the_window_do_not_count() -> None:
    """SPEC B13/P4: only users started outside a customer-service window count."""
    deliveries = [
        Delivery(T0, "a", "n1"),
        Delivery(T0 + H, "b", "n1", in_window=True),
        Delivery(T0 + 2 * H, "c", "n1", in_window=True),
    ]
    status = messaging_limit(V1, LimitHistory(deliveries=deliveries), at=T0 + 3 * H)
    assert (status.used, status.remaining) == (1, 1)
    counting = attrs.evolve(V1, replies_in_window_count=True)
    assert messaging_limit(counting, LimitHistory(deliveries=deliveries), at=T0 + 3 * H).used == 3


def test_b13_a_recipient_counts_once_per_rolling_window() -> None:
    """SPEC B13: unique recipients in a rolling 24 h; a send exactly 24 h ago has left."""
    deliveries = [Delivery(T0 + i * H, "same", "n1") for i in range(5)]
    deliveries.append(Delivery(T0, "early", "n1"))
    history = LimitHistory(deliveries=deliveries)
    assert messaging_limit(V1, history, at=T0 + 5 * H).used == 2
    assert messaging_limit(V1, history, at=T0 + D - US).used == 2
    assert messaging_limit(V1, history, at=T0 + D).used == 1  # "early" left, "same" stayed
    assert messaging_limit(V1, history, at=T0 + 4 * H + D).used == 0


def test_deliveries_after_the_instant_asked_about_are_ignored() -> None:
    history = LimitHistory(deliveries=sends(T0, 10))
    assert messaging_limit(V1, history, at=T0 + 2 * H).used == 3


def test_p4_the_portfolio_counts_the_users_of_all_its_numbers_once() -> None:
    """SPEC P4: one count shared by the portfolio's numbers, a user counted once."""
    deliveries = [
        Delivery(T0, "a", "n1"),
        Delivery(T0 + H, "a", "n2"),
        Delivery(T0 + 2 * H, "b", "n2"),
    ]
    for number in ("n1", "n2", None):
        status = messaging_limit(
            V3, LimitHistory(deliveries=deliveries), at=T0 + 3 * H, number=number
        )
        assert (status.scope, status.used) == ("portfolio", 2)


# --- the rules -----------------------------------------------------------------------


def test_b14_p2_up_one_tier_48h_after_twice_the_limit_in_7_days() -> None:
    """SPEC B14/P2: 2 x the limit within 7 days, quality not low; no sooner than 48 h."""
    history = LimitHistory(deliveries=sends(T0, 4, step=13 * H))  # 2 a day at most: fits
    threshold = T0 + 39 * H
    status = messaging_limit(V1, history, at=threshold)
    assert status.next == TierChange(threshold + 48 * H, 1, 20, TierCause.UPGRADE, "v1", threshold)
    assert messaging_limit(V1, history, at=threshold + 48 * H - US).limit == 2
    after = messaging_limit(V1, history, at=threshold + 48 * H)
    assert (after.tier, after.limit, after.next) == (1, 20, None)
    assert [c.cause for c in after.changes] == [TierCause.START, TierCause.UPGRADE]


@pytest.mark.parametrize("rating", LOW)
def test_b14_low_quality_blocks_and_cancels_an_upgrade(rating: Quality) -> None:
    """SPEC B14: quality low never lets the limit move up, even an upgrade under way."""
    deliveries = sends(T0, 4, step=13 * H)
    low_throughout = LimitHistory(deliveries=deliveries, initial_quality=rating)
    status = messaging_limit(V1, low_throughout, at=T0 + 10 * D)
    assert (status.limit, status.next, status.quality) == (2, None, rating)
    low_before_landing = LimitHistory(
        deliveries=deliveries, quality=[QualityChange(T0 + 40 * H, rating, "n1")]
    )
    assert messaging_limit(V1, low_before_landing, at=T0 + 10 * D).limit == 2
    # Recovered: the threshold is met again at the recovery, and the delay runs anew.
    recovered = attrs.evolve(
        low_before_landing,
        quality=[*low_before_landing.quality, QualityChange(T0 + 50 * H, Quality.MEDIUM)],
    )
    status = messaging_limit(V1, recovered, at=T0 + 50 * H)
    assert status.next is not None
    assert status.next.at == T0 + 98 * H


def test_p3_flagged_for_7_days_moves_down_one_tier_and_again_after_7_more() -> None:
    """SPEC P3: quality flagged or low for 7 days -> down one tier."""
    history = LimitHistory(
        starts=[Start(T0, tier=3, number="n1")],
        quality=[QualityChange(T0 + D, Quality.FLAGGED, "n1")],
    )
    status = messaging_limit(V2, history, at=T0 + 8 * D - US)
    assert status.limit == 200
    assert status.next == TierChange(T0 + 8 * D, 2, 40, TierCause.DOWNGRADE, "v2")
    assert messaging_limit(V2, history, at=T0 + 8 * D).limit == 40
    assert messaging_limit(V2, history, at=T0 + 15 * D).limit == 8
    recovered = attrs.evolve(
        history, quality=[*history.quality, QualityChange(T0 + 7 * D, Quality.MEDIUM, "n1")]
    )
    status = messaging_limit(V2, recovered, at=T0 + 30 * D)
    assert (status.limit, status.next) == (200, None)


def test_p3_low_then_flagged_is_one_continuous_stretch() -> None:
    """SPEC P3: low then flagged is low quality all along; the 7 days run from the first."""
    history = LimitHistory(
        starts=[Start(T0, tier=2)],
        quality=[QualityChange(T0, Quality.LOW), QualityChange(T0 + 3 * D, Quality.FLAGGED)],
    )
    assert messaging_limit(V2, history, at=T0 + 7 * D).limit == 8


def test_p3_verification_lifts_250_to_1k_once_quality_is_not_low() -> None:
    """SPEC P3: verification lifts tier 0 to verified_tier; not while quality is low."""
    history = LimitHistory(starts=[Start(T0)], verified_at=T0 + D)
    assert messaging_limit(V2, history, at=T0 + D - US).limit == 2
    status = messaging_limit(V2, history, at=T0 + D)
    assert (status.limit, status.changes[-1].cause) == (8, TierCause.VERIFIED)
    low = attrs.evolve(
        history,
        quality=[QualityChange(T0, Quality.LOW), QualityChange(T0 + 3 * D, Quality.MEDIUM)],
    )
    assert messaging_limit(V2, low, at=T0 + 3 * D - US).limit == 2
    assert messaging_limit(V2, low, at=T0 + 3 * D).limit == 8


def test_p3_a_verified_sender_downgraded_below_1k_is_lifted_back_when_quality_recovers() -> None:
    """SPEC P3: the downgrade takes a verified 1K number to 250 after 7 days flagged;
    verification lifts it again once its quality is not low."""
    history = LimitHistory(
        starts=[Start(T0, number="n1")],
        verified_at=T0,
        quality=[
            QualityChange(T0 + D, Quality.FLAGGED),
            QualityChange(T0 + 10 * D, Quality.MEDIUM),
        ],
    )
    assert messaging_limit(V2, history, at=T0 + 8 * D).limit == 2
    status = messaging_limit(V2, history, at=T0 + 10 * D)
    assert [c.cause for c in status.changes][-2:] == [TierCause.DOWNGRADE, TierCause.VERIFIED]
    assert status.limit == 8


def test_p3_a_verified_business_starts_new_numbers_at_1k() -> None:
    """SPEC P3: after verification a number begins at the verified tier."""
    history = LimitHistory(
        deliveries=[Delivery(T0 + 5 * D, "a", "n2")],
        starts=[Start(T0, number="n1")],
        verified_at=T0 + D,
    )
    assert messaging_limit(V2, history, at=T0 + 6 * D, number="n2").limit == 8


def test_p3_first_upgrade_needs_high_quality_users_within_30_days() -> None:
    """SPEC P3: 250 -> 1K after first_upgrade_count unique users in 30 days at high quality."""
    deliveries = sends(T0, 4, step=3 * D)  # 2 per day at most: within the limit
    high = LimitHistory(deliveries=deliveries, initial_quality=Quality.HIGH)
    threshold = T0 + 9 * D
    status = messaging_limit(V2, high, at=threshold)
    assert status.next == TierChange(threshold + D, 1, 8, TierCause.FIRST_UPGRADE, "v2", threshold)
    assert messaging_limit(V2, high, at=threshold + D).limit == 8
    medium = attrs.evolve(high, initial_quality=Quality.MEDIUM)
    assert messaging_limit(V2, medium, at=T0 + 40 * D).limit == 2
    dropped = attrs.evolve(high, quality=[QualityChange(threshold + 12 * H, Quality.MEDIUM)])
    status = messaging_limit(V2, dropped, at=T0 + 40 * D)
    assert (status.limit, status.next) == (2, None)  # high quality until the landing
    spread = LimitHistory(deliveries=sends(T0, 4, step=11 * D), initial_quality=Quality.HIGH)
    assert messaging_limit(V2, spread, at=T0 + 40 * D).limit == 2  # never 4 in 30 days


def test_p3_half_the_limit_only_applies_from_the_verified_tier() -> None:
    """SPEC P3: below 1K only verification or the first-upgrade path lift a number."""
    history = LimitHistory(deliveries=sends(T0, 2, step=H))  # half of 2 used, medium quality
    assert messaging_limit(V2, history, at=T0 + 5 * D).limit == 2


def test_p4_v3_moves_up_6h_after_half_the_limit_at_high_quality_only() -> None:
    """SPEC P4: up when quality is high and >= 50 % used in 7 days; 6 h later."""
    start = [Start(T0, tier=1)]
    deliveries = sends(T0, 8, step=H, number="n1")[:4] + sends(T0 + 4 * H, 4, number="n2", tag="s")
    high = LimitHistory(deliveries=deliveries, starts=start, initial_quality=Quality.HIGH)
    threshold = T0 + 7 * H
    status = messaging_limit(V3, high, at=threshold, number="n1")
    assert status.next == TierChange(threshold + 6 * H, 2, 80, TierCause.UPGRADE, "v3", threshold)
    assert messaging_limit(V3, high, at=threshold + 6 * H).limit == 80
    medium = attrs.evolve(high, initial_quality=Quality.MEDIUM)
    assert messaging_limit(V3, medium, at=T0 + 5 * D).limit == 16
    one_medium = attrs.evolve(high, quality=[QualityChange(T0, Quality.MEDIUM, "n2")])
    status = messaging_limit(V3, one_medium, at=T0 + 5 * D)
    assert (status.limit, status.quality) == (16, Quality.MEDIUM)  # the worst number's


def test_a_change_of_rules_between_events_is_found_to_the_microsecond() -> None:
    """Rules are asked at each instant of the history; a change between is bisected."""
    change = T0 + 5 * H + 123_457 * US
    calls: list[datetime] = []

    def rules(t: datetime) -> TierPolicy:
        calls.append(t)
        return V1 if t < change else attrs.evolve(V1, limits=(3, 30, None), version="x")

    status = messaging_limit(rules, LimitHistory(deliveries=sends(T0, 3)), at=T0 + D)
    assert status.changes[-1] == TierChange(change, 0, 3, TierCause.RULES, "x")
    assert len(calls) < 100
    assert all(c.tzinfo is not None for c in calls)


def test_a_pending_upgrade_is_dropped_when_the_rules_change() -> None:
    """docs/limits.md: the threshold is judged again under the new rules."""
    change = T0 + 40 * H
    stricter = attrs.evolve(V1, upgrade_factor=10.0, version="x")
    status = messaging_limit(
        lambda t: V1 if t < change else stricter,
        LimitHistory(deliveries=sends(T0, 4, step=10 * H)),
        at=T0 + 10 * D,
    )
    assert (status.limit, status.next) == (2, None)


def test_a_start_tier_and_an_unseen_number_under_number_scope() -> None:
    history = LimitHistory(starts=[Start(T0, tier=2)], deliveries=[Delivery(T0 + H, "a", "n1")])
    assert messaging_limit(V1, history, at=T0 + D, number="n1").limit == 200
    assert messaging_limit(V1, history, at=T0 + D, number="unseen").limit == 200
    assert messaging_limit(V1, LimitHistory(), at=T0).limit == 2


# --- refused input ----------------------------------------------------------------------


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2024, 3, 1)
    with pytest.raises(NaiveDatetimeError):
        messaging_limit(V1, LimitHistory(), at=naive)
    with pytest.raises(NaiveDatetimeError):
        Delivery(naive, "a", "n1")
    with pytest.raises(NaiveDatetimeError):
        LimitHistory(verified_at=naive)


@pytest.mark.parametrize(
    "call",
    [
        lambda: messaging_limit(V1, "history", at=T0),  # type: ignore[arg-type]
        lambda: messaging_limit(V1, LimitHistory(), at="2024-03-01"),  # type: ignore[arg-type]
        lambda: messaging_limit(V1, LimitHistory(), at=T0, number=1),  # type: ignore[arg-type]
        lambda: messaging_limit(None, LimitHistory(), at=T0),  # type: ignore[arg-type]
        lambda: messaging_limit(str, LimitHistory(), at=T0),  # type: ignore[arg-type]
        lambda: messaging_limit(lambda t: "rules", LimitHistory(), at=T0),  # type: ignore[arg-type,return-value]
        lambda: Delivery(T0, None, "n1"),
        lambda: Delivery(T0, "a", "n1", in_window=1),
        lambda: QualityChange(T0, "excellent"),
        lambda: Start(T0, tier=-1),
        lambda: Start(T0, tier=True),
        lambda: LimitHistory(deliveries="abc"),
        lambda: LimitHistory(deliveries=[(T0, "a", "n1")]),
        lambda: LimitHistory(starts=[Start(T0), Start(T0 + H)]),
        lambda: LimitHistory(initial_quality=None),
    ],
)
def test_wrong_types_give_input_errors(call: Callable[[], object]) -> None:
    with pytest.raises(InputError):
        call()


def test_a_history_that_contradicts_itself_is_refused() -> None:
    late = LimitHistory(deliveries=[Delivery(T0, "a", "n1")], starts=[Start(T0 + H, number="n1")])
    with pytest.raises(InputError, match="after its event"):
        messaging_limit(V1, late, at=T0 + D)
    with pytest.raises(InputError, match=r"Start\.tier"):
        messaging_limit(V1, LimitHistory(starts=[Start(T0, tier=4)]), at=T0 + D)


def test_number_scope_with_several_numbers_needs_the_number() -> None:
    history = LimitHistory(deliveries=[Delivery(T0, "a", "n1"), Delivery(T0, "b", "n2")])
    with pytest.raises(InputError, match="say which"):
        messaging_limit(V1, history, at=T0 + H)
    assert messaging_limit(V3, history, at=T0 + H).used == 2


def test_rules_the_engine_cannot_apply_are_configuration_errors() -> None:
    for bad in (
        attrs.evolve(V1, limits=(20, 2)),
        attrs.evolve(V1, limits=()),
        attrs.evolve(V1, limits=(2, None, 20)),
        attrs.evolve(V1, limits=(0, 2)),
        attrs.evolve(V1, scope="team"),
        attrs.evolve(V1, verified_tier=4),
        attrs.evolve(V1, upgrade_factor=-1.0),
        attrs.evolve(V1, rolling_window=timedelta(0)),
        attrs.evolve(V1, upgrade_delay=timedelta(days=10_000)),
    ):
        with pytest.raises(ConfigurationError):
            messaging_limit(bad, LimitHistory(), at=T0)
    with pytest.raises(ConfigurationError, match="no messaging tiers"):
        messaging_limit(lambda t: None, LimitHistory(), at=T0)


def test_a_failing_rules_function_is_a_callback_error() -> None:
    def broken(t: datetime) -> TierPolicy:
        raise KeyError(t)

    with pytest.raises(CallbackError, match="policy_at"):
        messaging_limit(broken, LimitHistory(), at=T0)


def test_instants_in_other_zones_are_the_same_instants() -> None:
    plus2 = timezone(timedelta(hours=2))
    history = LimitHistory(deliveries=[Delivery((T0 + H).astimezone(plus2), "a", "n1")])
    status = messaging_limit(V1, history, at=(T0 + 2 * H).astimezone(plus2))
    assert (status.used, status.at) == (1, T0 + 2 * H)


def test_100k_deliveries_take_linear_time() -> None:
    """Sorted once, counted in sliding windows: no rescans of the history."""
    deliveries = [
        Delivery(T0 + i * timedelta(seconds=17), f"r{i % 30_000}", f"n{i % 3}", i % 5 == 0)
        for i in range(100_000)
    ]
    history = LimitHistory(deliveries=deliveries, initial_quality=Quality.HIGH)
    started = time.perf_counter()
    status = messaging_limit(official, history, at=T0 + 30 * D, number="n1")
    assert time.perf_counter() - started < 20
    assert status.limit == 100_000


# --- properties ---------------------------------------------------------------------


HOURS = st.integers(0, 24 * 6)
deliveries_st = st.lists(
    st.tuples(
        HOURS,
        st.integers(0, 40),
        st.sampled_from(["n1", "n2"]),
        st.sampled_from([False, False, False, True]),
    ),
    min_size=4,
    max_size=80,
)
quality_st = st.lists(st.tuples(HOURS, st.sampled_from(list(Quality)), st.booleans()), max_size=6)
initial_st = st.sampled_from(list(Quality))
END = T0 + 9 * D


Sent = list[tuple[int, int, str, bool]]
Rated = list[tuple[int, Quality, bool]]


def build(
    sent: Sent,
    rated: Rated,
    *,
    one_number: bool,
    initial: Quality = Quality.UNKNOWN,
    verified: int | None = None,
) -> LimitHistory:
    return LimitHistory(
        deliveries=[
            Delivery(T0 + h * H, f"r{r}", "n1" if one_number else n, w) for h, r, n, w in sent
        ],
        quality=[QualityChange(T0 + h * H, q, "n1" if own else None) for h, q, own in rated],
        starts=[Start(T0)],
        verified_at=None if verified is None else T0 + verified * H,
        initial_quality=initial,
    )


def quality_at(history: LimitHistory, t: datetime) -> Quality:
    """The rating of n1 (every change names n1 or the business) at ``t``, by brute force."""
    found = history.initial_quality
    for change in sorted(history.quality, key=lambda c: c.at):
        if change.at <= t:
            found = change.rating
    return found


def unique_before(history: LimitHistory, policy: TierPolicy, t: datetime, width: timedelta) -> int:
    return len(
        {
            d.recipient
            for d in history.deliveries
            if t - width < d.at <= t and (not d.in_window or policy.replies_in_window_count)
        }
    )


def higher(new: int | None, old: int | None) -> bool:
    return old is not None and (new is None or new > old)


@given(
    policy=st.sampled_from([V1, V2, V3]),
    sent=deliveries_st,
    rated=quality_st,
    initial=initial_st,
    verified=st.none() | HOURS,
)
def test_property_b14_the_limit_never_moves_up_while_quality_is_low(
    policy: TierPolicy, sent: Sent, rated: Rated, initial: Quality, verified: int | None
) -> None:
    """SPEC B14, P3, P4: no move up happens at an instant the sender's quality is low."""
    history = build(sent, rated, one_number=True, initial=initial, verified=verified)
    status = messaging_limit(policy, history, at=END)
    previous: int | None = policy.limits[0]
    for change in status.changes:
        if higher(change.limit, previous):
            assert quality_at(history, change.at) not in LOW, change
        previous = change.limit


@given(policy=st.sampled_from([V1, V2]), sent=deliveries_st, rated=quality_st, initial=initial_st)
def test_property_p2_p3_upgrades_never_land_sooner_than_the_delay_after_the_threshold(
    policy: TierPolicy, sent: Sent, rated: Rated, initial: Quality
) -> None:
    """SPEC B14/P2: never sooner than 48 h after 2x the limit was reached; P3: 24 h after
    half the limit (or the first-upgrade count), found by brute force."""
    history = build(sent, rated, one_number=True, initial=initial)
    status = messaging_limit(policy, history, at=END)
    delay = timedelta(hours=48 if policy is V1 else 24)
    previous = status.changes[0]
    for change in status.changes[1:]:
        if change.cause in (TierCause.UPGRADE, TierCause.FIRST_UPGRADE):
            assert change.threshold_at is not None
            assert change.at - change.threshold_at == delay
            first = change.cause is TierCause.FIRST_UPGRADE
            width = policy.first_upgrade_period if first else policy.upgrade_lookback
            assert previous.limit is not None
            needed = policy.first_upgrade_count if first else policy.upgrade_factor * previous.limit
            assert needed is not None
            reached = [
                d.at
                for d in history.deliveries
                if d.at <= change.at - delay
                and unique_before(history, policy, d.at, width) >= needed
            ]
            assert reached, f"{change} with no threshold {delay} before it"
            wanted = (Quality.HIGH,) if first else (Quality.HIGH, Quality.MEDIUM, Quality.UNKNOWN)
            assert quality_at(history, change.threshold_at) in wanted
        previous = change


@given(
    sent=deliveries_st,
    rated=st.lists(st.tuples(HOURS, st.sampled_from(list(Quality))), max_size=4),
    initial=initial_st,
    hours=st.lists(HOURS, min_size=1, max_size=3),
)
def test_property_p4_a_portfolio_shares_one_count(
    sent: Sent, rated: list[tuple[int, Quality]], initial: Quality, hours: list[int]
) -> None:
    """SPEC P4: every number of a portfolio has the same status, the one of all their
    deliveries sent from a single number; its count is the users of all of them."""
    business = [(h, q, False) for h, q in rated]
    history = build(sent, business, one_number=False, initial=initial)
    merged = build(sent, business, one_number=True, initial=initial)
    for hour in hours:
        at = T0 + hour * H
        statuses = [messaging_limit(V3, history, at=at, number=n) for n in ("n1", "n2", None)]
        assert statuses[0] == statuses[1] == statuses[2] == messaging_limit(V3, merged, at=at)
        assert statuses[0].used == unique_before(history, V3, at, D)


@given(
    gaps=st.lists(st.integers(1, 20 * 60), min_size=1, max_size=60),
    probes=st.lists(st.integers(0, 5 * 24 * 60), max_size=5),
)
def test_property_b13_b14_the_planner_tier_tracker_agrees_with_the_engine(
    gaps: list[int], probes: list[int]
) -> None:
    """SPEC B13/B14 (v1): the planner places new recipients with TierTracker; the
    engine, replaying what it placed, finds every placement within the limit, the same
    tier, and the same answer to "does one more fit" afterwards."""
    tracker = TierTracker(V1, tier=0, quality_low=False, recent=(), now=to_micros(T0))
    placed: list[Delivery] = []
    at = T0
    for i, gap in enumerate(gaps):
        at += gap * timedelta(minutes=1)
        if tracker.ready(to_micros(at)) == to_micros(at):
            tracker.take(to_micros(at))
            placed.append(Delivery(at, f"r{i}", "n1"))
            history = LimitHistory(deliveries=placed, starts=[Start(T0)])
            status = messaging_limit(V1, history, at=at)
            assert status.limit is None or status.used <= status.limit
            assert status.tier == tracker.tier
    history = LimitHistory(deliveries=placed, starts=[Start(T0)])
    for minutes in probes:
        probe = at + minutes * timedelta(minutes=1)
        status = messaging_limit(V1, history, at=probe)
        fits = status.limit is None or status.used < status.limit
        assert fits == (tracker.ready(to_micros(probe)) == to_micros(probe)), status


def test_limit_status_remaining() -> None:
    status = messaging_limit(V1, LimitHistory(deliveries=sends(T0, 3)), at=T0 + 2 * H)
    assert isinstance(status, LimitStatus)
    assert (status.used, status.remaining) == (3, 0)
    unlimited = attrs.evolve(status, limit=None)
    assert unlimited.remaining is None
