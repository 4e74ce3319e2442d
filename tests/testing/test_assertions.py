"""The assertion helpers: they pass what omnimsg allows, fail what it refuses, and say why.

A failing helper raises ConformanceError (an AssertionError and an OmnimsgError) whose
message names the expectation, the outcome, the reason code, the rule id and the
decision's words; a wrong argument is an InputError.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broadcasts.plan_strategies import K, Scenario, scenarios
from omnimsg import (
    AccountState,
    ConformanceError,
    Contact,
    ConversationState,
    InputError,
    MemoryStateStore,
    Message,
    Mode,
    Reason,
    SubscriptionStatus,
    decide,
    draft_from_dict,
    load_profile,
    plan_broadcast,
)
from omnimsg.broadcasts import ContactOutcome, Plan
from omnimsg.testing import (
    ContactFactory,
    assert_allowed,
    assert_plan_respects,
    assert_refused,
)

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
OFFICIAL = load_profile("official")
WHATSAPP = OFFICIAL.capabilities("whatsapp", as_of=NOW)
OPEN = ConversationState(last_inbound_at=NOW - timedelta(hours=2))
CLOSED = ConversationState(last_inbound_at=NOW - timedelta(days=3))


def test_assert_allowed_passes_an_allowed_decision_and_returns_it() -> None:
    """SPEC W2: inside the window any message may go."""
    decision = decide(WHATSAPP, OPEN, Message(text="Your bread is ready"), now=NOW)
    assert assert_allowed(decision) is decision
    assert_allowed(decision, reason="within_window", rule="W2", mode=Mode.FREE_FORM)
    assert_allowed(decision, reason=Reason.WITHIN_WINDOW, mode="free_form")


def test_assert_allowed_decides_from_decides_arguments() -> None:
    """SPEC W2: a template goes outside the window."""
    decision = assert_allowed(
        WHATSAPP, CLOSED, Message(text="Order 12 ready", template="order_ready"), now=NOW
    )
    assert decision.reason is Reason.TEMPLATE_OUTSIDE_WINDOW


def test_assert_allowed_fails_a_refusal_with_its_reason_rule_and_words() -> None:
    """SPEC W2: after the window only a template."""
    decision = decide(WHATSAPP, CLOSED, Message(text="Hi"), now=NOW)
    with pytest.raises(AssertionError) as failed:
        assert_allowed(decision)
    message = str(failed.value)
    assert "expected the send to be allowed, but it was refused" in message
    assert "template_required (rule W2)" in message
    assert "only a pre-approved template may be sent" in message
    assert isinstance(failed.value, ConformanceError)


def test_assert_allowed_fails_on_the_wrong_reason_rule_or_mode() -> None:
    decision = decide(WHATSAPP, OPEN, Message(text="Hi"), now=NOW)
    with pytest.raises(ConformanceError, match=r"template_outside_window.*the reason is within"):
        assert_allowed(decision, reason="template_outside_window")
    with pytest.raises(ConformanceError, match="under rule W1, but the rule is W2"):
        assert_allowed(decision, rule="w1")
    with pytest.raises(ConformanceError, match="as template, but the mode is free_form"):
        assert_allowed(decision, mode="template")


def test_assert_refused_checks_the_reason_as_a_code_or_a_reason() -> None:
    """SPEC X1: an opt-out ends marketing; P13: on US SMS every business message."""
    opted_out = ConversationState(consent=SubscriptionStatus.UNSUBSCRIBED)
    sms = OFFICIAL.capabilities("sms", as_of=NOW)
    promo = Message(text="2x1 on croissants", marketing=True)
    decision = assert_refused(sms, opted_out, promo, now=NOW, reason="opted_out", rule="X1")
    assert decision.reason is Reason.OPTED_OUT
    assert_refused(decision, reason=Reason.OPTED_OUT)


def test_assert_refused_fails_an_allowed_send_and_a_different_reason() -> None:
    allowed = decide(WHATSAPP, OPEN, Message(text="Hi"), now=NOW)
    with pytest.raises(ConformanceError) as failed:
        assert_refused(allowed, reason="opted_out")
    message = str(failed.value)
    assert "expected the send to be refused for opted_out [X1:" in message
    assert "but it was allowed" in message
    assert "within_window (rule W2)" in message
    refused = decide(WHATSAPP, CLOSED, Message(text="Hi"), now=NOW)
    with pytest.raises(ConformanceError, match=r"for opted_out .* the reason is template_required"):
        assert_refused(refused, reason="opted_out")


@pytest.mark.parametrize(
    ("args", "kwargs", "fragment"),
    [
        ((None,), {}, "expected a Decision"),
        ((decide(WHATSAPP, OPEN, Message(), now=NOW), OPEN), {}, "with more arguments"),
        (("allowed",), {}, "expected a Decision"),
        ((True,), {}, "expected a Decision"),
        ((WHATSAPP, OPEN, Message(text="Hi")), {"now": datetime(2026, 1, 5)}, "timezone-aware"),
        ((WHATSAPP, "state", Message()), {"now": NOW}, "conversation"),
        ((decide(WHATSAPP, OPEN, Message(), now=NOW),), {"reason": "no_such"}, "unknown reason"),
        ((decide(WHATSAPP, OPEN, Message(), now=NOW),), {"reason": 3}, "expected a Reason"),
        ((decide(WHATSAPP, OPEN, Message(), now=NOW),), {"rule": "\x00"}, "rule id"),
        ((decide(WHATSAPP, OPEN, Message(), now=NOW),), {"rule": "W" * 100_000}, "rule id"),
        ((decide(WHATSAPP, OPEN, Message(), now=NOW),), {"mode": "\ud800"}, "unknown mode"),
        ((decide(WHATSAPP, OPEN, Message(), now=NOW),), {"mode": []}, "expected a Mode"),
    ],
)
def test_wrong_arguments_are_input_errors(
    args: tuple[object, ...], kwargs: dict[str, Any], fragment: str
) -> None:
    for helper in (assert_allowed, assert_refused):
        with pytest.raises(InputError, match=fragment):
            helper(*args, **kwargs)  # type: ignore[arg-type]


# --- plans ------------------------------------------------------------------------------

MADRID = AccountState(timezone=ZoneInfo("Europe/Madrid"))
SALE = {
    "id": "sale-1",
    "name": "Weekend sale",
    "targeting": "account",
    "account": "sms-1",
    "senders": [{"account": "sms-1", "channel": "sms"}],
    "content": {"sms": [{"text": "2x1 on croissants this weekend"}]},
}


def _plan(contacts: list[Contact], draft: Mapping[str, Any] = SALE) -> Plan:
    return plan_broadcast(
        draft_from_dict(draft), contacts, profile=OFFICIAL, now=NOW, accounts={"sms-1": MADRID}
    )


def _audience() -> list[Contact]:
    make = ContactFactory(NOW)
    return [make(subscribed=True) for _ in range(3)] + [make(opted_out=True)]


def test_a_plan_omnimsg_made_respects_its_profile() -> None:
    """SPEC X1, X2, B10: the opted-out contact is excluded; the others planned in hours."""
    contacts = _audience()
    outcomes = assert_plan_respects(_plan(contacts), contacts=contacts, accounts={"sms-1": MADRID})
    assert [o.outcome.value for o in outcomes] == ["planned"] * 3 + ["excluded"]


def _moved(outcomes: list[ContactOutcome], **changes: Any) -> list[ContactOutcome]:
    first = outcomes[0]
    return [first._replace(sends=(first.sends[0]._replace(**changes),)), *outcomes[1:]]


def test_a_send_in_quiet_hours_fails_with_x2() -> None:
    """SPEC X2: 02:00 on the Canaries (where a Spanish mobile may be) is outside 08-21."""
    contacts = _audience()
    outcomes = list(_plan(contacts))
    night = _moved(outcomes, not_before=datetime(2026, 1, 6, 2, 0, tzinfo=UTC))
    with pytest.raises(ConformanceError) as failed:
        assert_plan_respects(night, OFFICIAL, contacts=contacts, start=NOW)
    message = str(failed.value)
    assert "1 break its rules (X2: 1)" in message
    assert "[X2] message 1 to contact-1 on sms-1" in message
    assert "02:00 local time (Atlantic/Canary)" in message


def test_a_send_to_an_opted_out_contact_fails_with_x1() -> None:
    """SPEC X1, P13: decided again, the send is refused."""
    contacts = _audience()
    outcomes = list(_plan(contacts))
    wrong = _moved(outcomes, contact_id="contact-4")
    with pytest.raises(ConformanceError, match=r"\[X1\].*refused, opted_out"):
        assert_plan_respects(wrong, OFFICIAL, contacts=contacts, start=NOW)


def test_sends_outside_the_seven_days_and_to_unknown_contacts_fail() -> None:
    """SPEC B10, A2."""
    contacts = _audience()
    outcomes = list(_plan(contacts))
    late = _moved(outcomes, not_before=NOW + timedelta(days=8))
    with pytest.raises(ConformanceError, match=r"\[B10\].*outside the 7 days"):
        assert_plan_respects(late, OFFICIAL, contacts=contacts, start=NOW)
    with pytest.raises(ConformanceError, match=r"\[A2\].*not among the contacts"):
        assert_plan_respects(outcomes, OFFICIAL, contacts=contacts[1:], start=NOW)


def test_a_stricter_profile_finds_the_daily_cap_and_rate_broken() -> None:
    """SPEC B11, B10: the plan of the official profile against a cap of 1 a day and a
    rate of one message a minute."""
    contacts = _audience()
    strict = OFFICIAL.derive(
        "strict", {"channels": {"sms": {"daily_recipient_cap": 1, "rate_per_second": 0.001}}}
    )
    with pytest.raises(ConformanceError) as failed:
        assert_plan_respects(_plan(contacts), strict, contacts=contacts)
    message = str(failed.value)
    assert "profile 'strict'" in message
    assert "B11: 2" in message
    assert "over its daily cap of 1" in message
    assert "over the channel's rate" in message


def test_the_frequency_cap_counts_history() -> None:
    """SPEC X4: two earlier messages and one planned pass a cap of 3, not of 2."""
    contacts = _audience()
    draft = {**SALE, "frequency_cap": {"messages": 3, "period": "7d"}}
    history = {c.id: [NOW - timedelta(days=1), NOW - timedelta(days=2)] for c in contacts}
    plan = plan_broadcast(
        draft_from_dict(draft), contacts, profile=OFFICIAL, now=NOW, history=history
    )
    outcomes = assert_plan_respects(plan, contacts=contacts, history=history)
    tighter = draft_from_dict({**SALE, "frequency_cap": {"messages": 2, "period": "7d"}})
    with pytest.raises(ConformanceError, match=r"\[X4\].*2 earlier and 1 planned"):
        assert_plan_respects(
            outcomes, OFFICIAL, contacts=contacts, start=NOW, draft=tighter, history=history
        )


def test_a_plan_is_read_once() -> None:
    contacts = _audience()
    plan = _plan(contacts)
    assert_plan_respects(plan, contacts=contacts)
    with pytest.raises(InputError, match="read once"):
        assert_plan_respects(plan, contacts=contacts)


@pytest.mark.parametrize(
    ("plan", "kwargs", "fragment"),
    [
        (None, {"contacts": []}, "expected a Plan or its outcomes"),
        ("plan", {"contacts": []}, "expected a Plan or its outcomes"),
        ([1], {"contacts": [], "profile": OFFICIAL, "start": NOW}, r"plan\[0\]"),
        ([], {"contacts": []}, "need profile= and start="),
        ([], {"contacts": None}, "contacts are needed"),
        ([], {"contacts": "c1"}, "expected contacts"),
        ([], {"contacts": [None]}, r"contacts\[0\]"),
        ([], {"contacts": [], "profile": "official"}, "expected a Profile"),
        ([], {"contacts": [], "profile": OFFICIAL, "start": datetime(2026, 1, 1)}, "aware"),
        ([], {"contacts": [], "profile": OFFICIAL, "start": NOW, "draft": {}}, "a Draft"),
        ([], {"contacts": [], "profile": OFFICIAL, "start": NOW, "accounts": 1}, "accounts"),
        ([], {"contacts": [], "profile": OFFICIAL, "start": NOW, "usage": {"a": 1}}, "usage"),
        ([], {"contacts": [], "profile": OFFICIAL, "start": NOW, "history": 5}, "history"),
        ([], {"contacts": [], "profile": OFFICIAL, "start": NOW, "state": object()}, "state"),
    ],
)
def test_assert_plan_respects_refuses_wrong_arguments(
    plan: object, kwargs: dict[str, object], fragment: str
) -> None:
    with pytest.raises(InputError, match=fragment):
        assert_plan_respects(plan, **kwargs)  # type: ignore[arg-type]


def _check(scenario: Scenario) -> None:
    assert_plan_respects(
        scenario.plan(),
        contacts=scenario.contacts,
        accounts=scenario.accounts,
        usage=scenario.usage,
        history=scenario.history,
    )


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_every_plan_the_planner_makes_passes(scenario: Scenario) -> None:
    """SPEC B10, B11, B13, X1, X2, X4: no false alarm on any plan omnimsg makes."""
    _check(scenario)


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(focus=K.WHATSAPP))
def test_every_whatsapp_plan_keeps_its_tier(scenario: Scenario) -> None:
    """SPEC B13, B14, W2: tiers and windows pressed, still no false alarm."""
    _check(scenario)


# --- regressions: checks that could not fail, false alarms, arguments -------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "fragment"),
    [
        ((WHATSAPP,), {}, "missing a required argument: 'conversation'"),
        ((WHATSAPP, OPEN, Message()), {}, "missing a required argument: 'now'"),
        ((WHATSAPP, OPEN, Message(), 1), {"now": NOW}, "too many positional"),
        ((WHATSAPP, OPEN, Message()), {"now": NOW, "when": NOW}, "unexpected keyword"),
    ],
)
def test_decides_arguments_that_do_not_fit_are_input_errors(
    args: tuple[object, ...], kwargs: dict[str, Any], fragment: str
) -> None:
    """Not a TypeError from inside decide: a mistake in the test, named as such."""
    for helper in (assert_allowed, assert_refused):
        with pytest.raises(InputError, match=fragment):
            helper(*args, **kwargs)  # type: ignore[arg-type]


def test_an_account_id_that_is_not_text_is_named_as_the_key() -> None:
    with pytest.raises(InputError, match=r"accounts: expected account ids \(text\) as keys"):
        assert_plan_respects([], OFFICIAL, contacts=[], start=NOW, accounts={1: MADRID})  # type: ignore[dict-item]


def _one_channel_draft(account: str, kind: str, texts: list[str], **extra: Any) -> Any:
    return draft_from_dict(
        {
            "id": f"{kind}-promo",
            "name": "Promo",
            "targeting": "account",
            "account": account,
            "senders": [{"account": account, "channel": kind}],
            "content": {kind: [{"text": t, **extra} for t in texts]},
        }
    )


def test_wechats_window_cap_counts_the_plans_own_earlier_sends() -> None:
    """SPEC W5, P8: 4 sent and a 5th planned fill the window; a 6th in the same plan
    is refused, which the check finds only by counting the plan's own sends."""
    contact = ContactFactory(NOW, accounts={"wc-1": "wechat"})(last_inbound=timedelta(hours=1))
    store = MemoryStateStore()
    store.put_conversation(
        contact.id,
        "wc-1",
        ConversationState(last_inbound_at=NOW - timedelta(hours=1), outbound_since_inbound=4),
    )
    draft = _one_channel_draft("wc-1", "wechat", ["Nuevo pan"])
    (outcome,) = assert_plan_respects(
        plan_broadcast(draft, [contact], profile=OFFICIAL, now=NOW, state=store),
        contacts=[contact],
        state=store,
    )
    (send,) = outcome.sends
    extra = send._replace(
        number=2, key=send.key + "-2", not_before=send.not_before + timedelta(seconds=5)
    )
    forged = [outcome._replace(sends=(send, extra))]
    with pytest.raises(ConformanceError) as failed:
        assert_plan_respects(
            forged, OFFICIAL, contacts=[contact], start=NOW, draft=draft, state=store
        )
    message = str(failed.value)
    assert "1 break its rules (W5: 1)" in message
    assert "[W5] message 2 to contact-1 on wc-1" in message
    assert "window_cap_reached" in message


def test_vibers_free_chatbot_messages_are_counted_across_the_plan() -> None:
    """SPEC W6, P9: one free chatbot-initiated message left this month and no paid
    terms: the planner sends one; a plan sending two breaks W6."""
    account = AccountState(
        chatbot_month=(2026, 1),
        chatbot_initiated_count=9_999,
        created_at=datetime(2023, 1, 1, tzinfo=UTC),
    )
    make = ContactFactory(NOW, accounts={"vb-1": "viber"})
    contacts = [make(last_inbound=timedelta(days=3)) for _ in range(2)]
    draft = _one_channel_draft("vb-1", "viber", ["Promo"])
    plan = plan_broadcast(draft, contacts, profile=OFFICIAL, now=NOW, accounts={"vb-1": account})
    first, second = assert_plan_respects(plan, contacts=contacts, accounts={"vb-1": account})
    assert second.reason == "chatbot_quota_exhausted"
    (send,) = first.sends
    also = send._replace(contact_id=contacts[1].id, key="k-2", not_before=send.not_before)
    forged = [first, second._replace(sends=(also,))]
    with pytest.raises(ConformanceError, match=r"\[W6\] message 1 to contact-2 .* over the 1 free"):
        assert_plan_respects(
            forged, OFFICIAL, contacts=contacts, start=NOW, draft=draft, accounts={"vb-1": account}
        )
    paid = {"vb-1": attrs.evolve(account, paid_chatbot_terms=True)}
    assert_plan_respects(forged, OFFICIAL, contacts=contacts, start=NOW, draft=draft, accounts=paid)


def _template_plan(size: int) -> tuple[list[Contact], list[ContactOutcome], Any]:
    make = ContactFactory(NOW, accounts={"wa-1": "whatsapp"})
    contacts = [make(phone=f"+3461{n:07d}") for n in range(size)]
    draft = _one_channel_draft("wa-1", "whatsapp", ["Promo"], template="promo")
    return contacts, list(plan_broadcast(draft, contacts, profile=OFFICIAL, now=NOW)), draft


def test_a_tier_is_not_raised_at_the_start_without_earlier_sends() -> None:
    """SPEC B13, P4: a new number's 250 unique recipients a day. The planner keeps the
    251st for the next day; the same sends all at the start break the tier."""
    contacts, outcomes, draft = _template_plan(260)
    assert_plan_respects(outcomes, OFFICIAL, contacts=contacts, start=NOW, draft=draft)
    at_once = [
        o._replace(sends=tuple(s._replace(not_before=NOW + timedelta(seconds=i)) for s in o.sends))
        for i, o in enumerate(outcomes)
    ]
    with pytest.raises(ConformanceError) as failed:
        assert_plan_respects(at_once, OFFICIAL, contacts=contacts, start=NOW, draft=draft)
    message = str(failed.value)
    assert "(B13: 10)" in message
    assert "251 unique recipients for channel whatsapp" in message
    assert "over the tier limit 250" in message


@pytest.mark.parametrize("rate", [1.5, 2.5, 0.3, 0.0001, 1.0001, 7.3])
def test_a_fractional_channel_rate_is_no_false_alarm(rate: float) -> None:
    """SPEC B10, P10: 1.5 a second goes every 2/3 s, two within one second."""
    profile = OFFICIAL.derive("fraction", {"channels": {"telegram": {"rate_per_second": rate}}})
    make = ContactFactory(NOW, accounts={"tg-1": "telegram"})
    contacts = [make(last_inbound=timedelta(hours=1)) for _ in range(12)]
    draft = _one_channel_draft("tg-1", "telegram", ["Promo"])
    assert_plan_respects(
        plan_broadcast(draft, contacts, profile=profile, now=NOW), contacts=contacts
    )


def test_a_burst_over_a_fractional_rate_fails() -> None:
    """SPEC B10: three sends within a second at 1.5 a second."""
    profile = OFFICIAL.derive("fraction", {"channels": {"telegram": {"rate_per_second": 1.5}}})
    make = ContactFactory(NOW, accounts={"tg-1": "telegram"})
    contacts = [make(last_inbound=timedelta(hours=1)) for _ in range(3)]
    draft = _one_channel_draft("tg-1", "telegram", ["Promo"])
    outcomes = list(plan_broadcast(draft, contacts, profile=profile, now=NOW))
    burst = [
        o._replace(
            sends=tuple(s._replace(not_before=NOW + timedelta(seconds=i / 10)) for s in o.sends)
        )
        for i, o in enumerate(outcomes)
    ]
    with pytest.raises(ConformanceError, match=r"\[B10\].*3 sends of tg-1 within 0:00:01"):
        assert_plan_respects(burst, profile, contacts=contacts, start=NOW, draft=draft)


@settings(max_examples=20, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([K.VIBER, K.WECHAT]).flatmap(lambda kind: scenarios(focus=kind)))
def test_every_viber_and_wechat_plan_passes(scenario: Scenario) -> None:
    """SPEC W5, W6: quotas pressed, the plan's own sends counted, still no false alarm."""
    _check(scenario)


def test_a_channel_the_profile_lacks_or_closes_to_broadcasts_is_a_breach() -> None:
    """SPEC W8, B16: a Telegram plan checked against a profile without Telegram, and
    against one where Telegram has broadcasts switched off, fails naming the rule
    (never an UnknownChannelError, never a pass)."""
    contacts = [ContactFactory(NOW, accounts={"tg-1": "telegram"})(last_inbound=timedelta(hours=1))]
    draft = _one_channel_draft("tg-1", "telegram", ["Promo"])
    outcomes = list(plan_broadcast(draft, contacts, profile=OFFICIAL, now=NOW))
    sms_only = load_profile("expertconnect")
    with pytest.raises(
        ConformanceError, match=r"(?s)\(W8: 1\).*does not define channel 'telegram'"
    ):
        assert_plan_respects(outcomes, sms_only, contacts=contacts, start=NOW, draft=draft)
    closed = OFFICIAL.derive("closed", {"channels": {"telegram": {"broadcasts": False}}})
    with pytest.raises(ConformanceError, match=r"\[B16\].*has no broadcasts in profile 'closed'"):
        assert_plan_respects(outcomes, closed, contacts=contacts, start=NOW, draft=draft)
