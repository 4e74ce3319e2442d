"""The consent rule, stated once: decide and the opt-in machine agree (X1, B12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnimsg import (
    ConversationState,
    Message,
    Mode,
    Reason,
    SubscriptionStatus,
    decide,
    load_profile,
)
from omnimsg.policy.optin import (
    DeliverBroadcast,
    HoldBroadcast,
    OptInRules,
    RefuseBroadcast,
    request_broadcast,
)
from omnimsg.state import OptInState

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
EXPERT = load_profile("expertconnect")
SMS = EXPERT.capabilities("sms", as_of=NOW)
RULES = OptInRules.from_capabilities(SMS)


def _record(status: SubscriptionStatus) -> OptInState:
    if status is SubscriptionStatus.PROMPTED:
        return OptInState(status=status, prompts_sent=1, last_prompt_at=NOW - timedelta(hours=1))
    return OptInState(status=status)


@pytest.mark.parametrize("broadcast", [True, False])
def test_b12_a_contact_who_answered_n_gets_no_marketing_broadcast_or_not(broadcast: bool) -> None:
    """SPEC B12: 'N' means no marketing from that sender until they subscribe."""
    state = ConversationState(consent=SubscriptionStatus.DECLINED)
    message = Message(text="Winter offer", marketing=True, broadcast=broadcast)
    decision = decide(SMS, state, message, now=NOW)
    assert not decision.allowed
    assert decision.reason is Reason.OPT_IN_DECLINED
    assert decision.rule == "B12"
    # A service message is not a matter of consent.
    assert decide(SMS, state, Message(text="Your car is ready"), now=NOW).allowed


@given(st.sampled_from(list(SubscriptionStatus)))
def test_b12_x1_decide_and_the_opt_in_machine_give_the_same_answer(
    status: SubscriptionStatus,
) -> None:
    """SPEC B12, X1: one rule; decide refuses exactly what the machine holds or refuses."""
    record = _record(status)
    decision = decide(
        SMS, ConversationState(consent=record), Message(text="Hi", broadcast=True), now=NOW
    )
    _, events = request_broadcast(record, "b1", RULES, now=NOW)
    event = events[-1]
    if decision.allowed:
        assert isinstance(event, DeliverBroadcast)
    else:
        assert isinstance(event, HoldBroadcast | RefuseBroadcast)
        assert event.reason is decision.reason


@pytest.mark.parametrize("kind", ["telegram", "line", "sms", "webchat"])
def test_c3_a_template_where_the_channel_has_none_is_refused_with_its_own_reason(
    kind: str,
) -> None:
    """SPEC C3: a template on a channel without templates is not 'allowed, mode template'."""
    caps = load_profile("respondio").capabilities(kind, as_of=NOW)
    assert not caps.templates
    decision = decide(caps, ConversationState(), Message(text="Hi", template="t1"), now=NOW)
    assert not decision.allowed
    assert decision.reason is Reason.TEMPLATES_NOT_SUPPORTED
    assert decision.mode is Mode.FREE_FORM
    assert decide(caps, ConversationState(), Message(text="Hi"), now=NOW).allowed


def test_w2_whatsapp_has_templates_by_default_as_its_after_window_mode() -> None:
    """SPEC W2: a profile's templates default to the channel's after-window mode."""
    caps = load_profile("respondio").capabilities("whatsapp", as_of=NOW)
    assert caps.templates
    state = ConversationState(last_inbound_at=NOW - timedelta(hours=30))
    assert decide(caps, state, Message(text="x", template="t"), now=NOW).allowed


def test_c1_an_expertconnect_sms_over_240_characters_reports_one_rule() -> None:
    """SPEC C1: the decision's rule and the content's words name the same rule."""
    decision = decide(SMS, ConversationState(), Message(text="a" * 241), now=NOW)
    assert decision.reason is Reason.CONTENT_TOO_LONG
    assert decision.content is not None
    assert decision.rule == decision.content.rule == "C1"
    assert "(C1)" in decision.content.detail
    assert "[C1]" in decision.explain()
