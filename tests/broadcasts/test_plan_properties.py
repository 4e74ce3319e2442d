"""Properties of every plan, over random audiences, senders, usage and drafts.

Each property recomputes what it checks from the planned sends alone: local times
with :mod:`zoneinfo`, a recipient's zones with :mod:`phonenumbers`, windows and caps
by counting. SPEC B9, B10, B11, B13, B14, X2, X4 and X5, and the conservation of
the audience (every entry has exactly one outcome; every exclusion a reason).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from hypothesis import given

from omnimsg.broadcasts import OutcomeKind, PlannedSend, SendKind, reason_rule
from omnimsg.channels.kinds import Mode

from .plan_strategies import (
    K,
    Scenario,
    allowed_at,
    jsonl,
    local_clock,
    most_in_window,
    recipient_zones,
    run,
    scenarios,
    sends_of,
)

SEVEN_DAYS = timedelta(days=7)


def _per_account(sends: list[PlannedSend]) -> dict[str, list[PlannedSend]]:
    found: dict[str, list[PlannedSend]] = {}
    for send in sends:
        found.setdefault(send.account_id, []).append(send)
    return found


@given(scenarios())
def test_every_audience_entry_has_exactly_one_outcome(scenario: Scenario) -> None:
    """Conservation: one outcome per audience entry; planned + held + excluded is the
    audience; nobody planned or held twice; every exclusion has a reason and its rule."""
    outcomes, summary = run(scenario.plan())
    assert [o.entry for o in outcomes] == [c.id for c in scenario.contacts]
    assert summary.audience == len(scenario.contacts) == len(outcomes)
    counts = Counter(o.outcome for o in outcomes)
    assert (summary.planned, summary.held, summary.excluded) == (
        counts[OutcomeKind.PLANNED],
        counts[OutcomeKind.HELD],
        counts[OutcomeKind.EXCLUDED],
    )
    assert summary.planned + summary.held + summary.excluded == summary.audience
    reached = [o.contact_id for o in outcomes if o.outcome is not OutcomeKind.EXCLUDED]
    assert len(reached) == len(set(reached))
    for outcome in outcomes:
        kinds = {s.kind for s in outcome.sends}
        if outcome.outcome is OutcomeKind.EXCLUDED:
            assert outcome.sends == ()
            assert outcome.reason
            assert outcome.rule
            assert reason_rule(outcome.reason)  # a known code
        elif outcome.outcome is OutcomeKind.PLANNED:
            assert outcome.reason is None
            assert kinds == {SendKind.MESSAGE}
            messages = scenario.draft.content[outcome.channel]  # type: ignore[index]
            assert [s.number for s in outcome.sends] == list(range(1, len(messages) + 1))
        else:
            assert (outcome.rule, outcome.reason) in {
                ("B12", "opt_in_required"),
                ("B12", "opt_in_pending"),
            }
            assert kinds <= {SendKind.PROMPT, SendKind.REMINDER}
        for send in outcome.sends:
            assert send.contact_id == outcome.contact_id
            assert send.account_id == outcome.account_id
            assert send.channel is outcome.channel
    assert sum(summary.excluded_by_reason.values()) == summary.excluded
    assert sum(summary.held_by_reason.values()) == summary.held


@given(scenarios())
def test_the_summary_counts_what_the_outcomes_hold(scenario: Scenario) -> None:
    """SPEC B7, B17: messages, recipients, prompts, paid messages, first and last send
    and batches of the summary are those of the outcomes; no batch is over its size."""
    outcomes, summary = run(scenario.plan())
    sends = sends_of(outcomes)
    messages = [s for s in sends if s.kind is SendKind.MESSAGE]
    assert summary.messages == len(messages) == sum(o.messages for o in outcomes)
    assert summary.recipients == len({s.contact_id for s in messages})
    assert summary.prompts == len(sends) - len(messages)
    assert summary.paid_messages == sum(1 for s in messages if s.paid)
    assert summary.first_send == min((s.not_before for s in sends), default=None)
    assert summary.last_send == max((s.not_before for s in sends), default=None)
    assert sum(t.messages for t in summary.by_account.values()) == summary.messages
    assert sum(t.recipients for t in summary.by_channel.values()) == summary.recipients
    batches = Counter(s.batch for s in sends)
    assert summary.batches == len(batches)
    assert max(batches.values(), default=0) <= scenario.batch_size
    for batch in batches:
        assert len({s.account_id for s in sends if s.batch == batch}) == 1


@given(scenarios())
def test_nothing_before_the_start_nor_after_seven_days(scenario: Scenario) -> None:
    """SPEC B9, B10: every send lies in [start, start + 7 days)."""
    plan = scenario.plan()
    start = scenario.expected_start()
    assert plan.start == start
    assert plan.ends_by == start + SEVEN_DAYS
    outcomes, summary = run(plan)
    for send in sends_of(outcomes):
        assert start <= send.not_before < start + SEVEN_DAYS
    if summary.first_send is not None:
        assert summary.first_send >= start
        assert summary.last_send is not None
        assert summary.last_send < start + SEVEN_DAYS


@given(scenarios())
def test_no_account_over_its_daily_cap_in_any_local_day(scenario: Scenario) -> None:
    """SPEC B11: distinct recipients per local day of the account, with what it sent
    that day already, stay within the daily cap (prompts are sends too, B12)."""
    outcomes, _ = run(scenario.plan())
    for account_id, sends in _per_account(sends_of(outcomes)).items():
        caps = scenario.caps(sends[0].channel, scenario.expected_start())
        cap = caps.daily_recipient_cap
        if cap is None:
            continue
        zone = scenario.account(account_id).timezone
        days: dict[object, set[str]] = {}
        for send in sends:
            days.setdefault(send.not_before.astimezone(zone).date(), set()).add(send.contact_id)
        usage = scenario.usage.get(account_id)
        for day, recipients in days.items():
            already = 0 if usage is None else usage.recipients_on(day)  # type: ignore[arg-type]
            assert already + len(recipients) <= cap, (account_id, day, already, len(recipients))


def _counted(scenario: Scenario, send: PlannedSend, window: timedelta) -> bool:
    """Whether a send counts toward a tier: not a reply inside the contact's window."""
    contact = scenario.contact(send.contact_id)
    identity = contact.identity_on(send.account_id)
    last = None if identity is None else identity.last_inbound_at
    return last is None or send.not_before >= last + window


@given(scenarios(focus=K.WHATSAPP))
def test_no_account_over_its_tier_in_any_rolling_window(scenario: Scenario) -> None:
    """SPEC B13, B14: unique business-initiated recipients in any rolling window stay
    within the tier, counting what was sent before; a tier moves up only 48 h (the
    policy's delay) after the number notified twice its limit within 7 days, and not
    at all when its quality is low."""
    outcomes, _ = run(scenario.plan())
    start = scenario.expected_start()
    for account_id, sends in _per_account(sends_of(outcomes)).items():
        caps = scenario.caps(sends[0].channel, start)
        tiers = caps.tiers
        if tiers is None:
            continue
        window = caps.window or timedelta(0)
        state = scenario.account(account_id)
        usage = scenario.usage.get(account_id)
        prior = [] if usage is None else [(at, r) for at, r in usage.recent if at <= scenario.now]
        mine = [(s.not_before, s.contact_id) for s in sends if _counted(scenario, s, window)]
        events = sorted([(at, 0, r) for at, r in prior] + [(at, 1, r) for at, r in mine])
        level = min(state.tier, len(tiers.limits) - 1)
        upgrade_at: datetime | None = None
        seen: list[tuple[datetime, str]] = []
        for at, planned, recipient in events:
            if upgrade_at is not None and at >= upgrade_at:
                level += 1
                upgrade_at = None
            seen.append((at, recipient))
            limit = tiers.limits[level]
            in_window = {r for t, r in seen if at - tiers.rolling_window < t <= at}
            if planned and limit is not None:
                assert len(in_window) <= limit, (account_id, at, level, len(in_window))
            notified = {r for t, r in seen if at - tiers.upgrade_lookback < t <= at}
            if (
                upgrade_at is None
                and not state.quality_low
                and limit is not None
                and level + 1 < len(tiers.limits)
                and len(notified) >= tiers.upgrade_factor * limit
                and (planned or at + tiers.upgrade_delay > scenario.now)
            ):
                upgrade_at = at + tiers.upgrade_delay


@given(scenarios())
def test_no_account_over_its_rate_in_any_window(scenario: Scenario) -> None:
    """SPEC B10: each account keeps the draft's rate in every window of the rate's
    length, and the channel's own rate per second."""
    outcomes, _ = run(scenario.plan())
    rate = scenario.draft.rate
    for account_id, sends in _per_account(sends_of(outcomes)).items():
        times = [s.not_before for s in sends]
        if rate is not None:
            assert most_in_window(times, rate.per) <= rate.messages, account_id
        per_second = scenario.caps(sends[0].channel, scenario.expected_start()).rate_per_second
        if per_second is not None:
            if per_second >= 1:
                assert most_in_window(times, timedelta(seconds=1)) <= int(per_second)
            else:
                assert most_in_window(times, timedelta(seconds=1 / per_second)) <= 1


@given(scenarios())
def test_nothing_in_a_recipients_quiet_hours(scenario: Scenario) -> None:
    """SPEC X2: every send (prompts too) falls in the allowed hours of the profile and
    of the draft, in every zone the recipient may be in."""
    outcomes, _ = run(scenario.plan())
    for send in sends_of(outcomes):
        rules = [
            q
            for q in (
                scenario.caps(send.channel, scenario.expected_start()).quiet_hours,
                scenario.draft.quiet_hours,
            )
            if q is not None
        ]
        if not rules:
            continue
        contact = scenario.contact(send.contact_id)
        zones = recipient_zones(contact, scenario.account(send.account_id).timezone)
        for where in zones:
            local = local_clock(send.not_before, where)
            for rule in rules:
                assert allowed_at(local, rule), (send.contact_id, str(where), local, rule)


@given(scenarios(focus=K.WECHAT))
def test_free_form_messages_go_inside_the_window(scenario: Scenario) -> None:
    """SPEC W2, W4, W5: a free-form message on a channel with a window goes while the
    window is open, even when quiet hours or caps move it later."""
    outcomes, _ = run(scenario.plan())
    for send in sends_of(outcomes):
        if send.kind is not SendKind.MESSAGE or send.mode is not Mode.FREE_FORM:
            continue
        window = scenario.caps(send.channel, scenario.expected_start()).window
        if window is None:
            continue
        identity = scenario.contact(send.contact_id).identity_on(send.account_id)
        assert identity is not None
        assert identity.last_inbound_at is not None
        assert send.not_before < identity.last_inbound_at + window


@given(scenarios())
def test_the_frequency_cap_holds_with_history(scenario: Scenario) -> None:
    """SPEC X4: a planned contact's earlier marketing messages in the cap's period and
    this broadcast's together stay within the cap."""
    cap = scenario.draft.frequency_cap
    outcomes, _ = run(scenario.plan())
    if cap is None:
        return
    since = scenario.expected_start() - cap.period
    for outcome in outcomes:
        if outcome.outcome is not OutcomeKind.PLANNED:
            continue
        earlier = [at for at in scenario.history.get(outcome.entry, ()) if at > since]
        assert len(earlier) + outcome.messages <= cap.messages


@given(scenarios())
def test_same_inputs_give_the_same_bytes_and_unique_keys(scenario: Scenario) -> None:
    """SPEC X5: planning twice gives byte-identical JSON Lines; every send's key is its own."""
    first = jsonl(scenario.plan())
    assert jsonl(scenario.plan()) == first
    outcomes, _ = run(scenario.plan())
    keys = [s.key for s in sends_of(outcomes)]
    assert len(keys) == len(set(keys))
