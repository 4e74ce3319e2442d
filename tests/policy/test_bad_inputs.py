"""Bad input to the policy functions is a documented error, never a bare exception.

Each case here raised AttributeError, TypeError, OverflowError or gave a wrong answer
before (issue 6, point 5).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from omnimsg import (
    ConversationState,
    InputError,
    Message,
    OptInState,
    TextUnit,
    decide,
    load_profile,
)
from omnimsg.policy.content import measure, sms_segments
from omnimsg.policy.optin import (
    OptInRules,
    classify_reply,
    next_prompt_at,
    receive_reply,
    request_broadcast,
    tick,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SMS = load_profile("expertconnect").capabilities("sms", as_of=NOW)
RULES = OptInRules.from_capabilities(SMS)
HOSTILE: list[Any] = [None, "2026-11-23T12:00:00Z", 5, b"now", datetime(2026, 1, 1)]


@pytest.mark.parametrize("now", HOSTILE)
def test_opt_in_transitions_refuse_a_now_that_is_not_an_aware_datetime(now: Any) -> None:
    for call in (
        lambda: request_broadcast(OptInState(), "b1", RULES, now=now),
        lambda: tick(OptInState(), RULES, now=now),
        lambda: receive_reply(OptInState(), "STOP", RULES, now=now),
    ):
        with pytest.raises(InputError):
            call()


@pytest.mark.parametrize("bad", [None, "prompted", 5, {"status": "subscribed"}])
def test_opt_in_transitions_refuse_a_state_that_is_not_a_record(bad: Any) -> None:
    with pytest.raises(InputError, match="state"):
        request_broadcast(bad, "b1", RULES, now=NOW)
    with pytest.raises(InputError):
        next_prompt_at(bad, RULES)
    with pytest.raises(InputError, match="rules"):
        tick(OptInState(), bad, now=NOW)


def test_opt_in_replies_and_ids_must_be_text() -> None:
    with pytest.raises(InputError, match="text"):
        receive_reply(OptInState(), None, RULES, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="broadcast_id"):
        request_broadcast(OptInState(), 42, RULES, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="text"):
        classify_reply(b"STOP", {})  # type: ignore[arg-type]
    with pytest.raises(InputError, match="keywords"):
        classify_reply("STOP", ["STOP"])  # type: ignore[arg-type]
    with pytest.raises(InputError, match="keywords"):
        OptInRules(keywords={"en": ["STOP"]})  # type: ignore[dict-item]
    with pytest.raises(InputError, match="double_opt_in"):
        OptInRules(double_opt_in="yes")  # type: ignore[arg-type]


def test_a_reminder_near_the_end_of_the_date_range_is_refused_not_overflowed() -> None:
    with pytest.raises(InputError, match="supported range"):
        OptInState(
            status="prompted", prompts_sent=1, last_prompt_at=datetime.max.replace(tzinfo=UTC)
        )
    late = OptInState(
        status="prompted", prompts_sent=1, last_prompt_at=datetime(8999, 12, 31, tzinfo=UTC)
    )
    assert next_prompt_at(late, RULES) == datetime(9000, 1, 1, tzinfo=UTC)
    with pytest.raises(InputError, match="supported range"):
        tick(late, RULES, now=datetime.max.replace(tzinfo=UTC))


def test_measure_reads_the_unit_by_value_not_by_identity() -> None:
    """measure(text, "utf8_bytes") returned the SMS segment count (an `is` comparison)."""
    assert measure("héllo", "utf8_bytes") == 6
    assert measure("héllo", TextUnit.UTF8_BYTES) == 6
    assert measure("héllo", "sms_segments") == sms_segments("héllo").segments
    with pytest.raises(InputError, match="unit"):
        measure("x", "furlongs")
    with pytest.raises(InputError, match="text"):
        measure(None, TextUnit.CHARACTERS)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((None, ConversationState(), Message()), "caps"),
        ((SMS, None, Message()), "conversation"),
        ((SMS, ConversationState(), "hi"), "message"),
    ],
)
def test_decide_names_the_argument_of_the_wrong_type(args: tuple[Any, ...], field: str) -> None:
    with pytest.raises(InputError, match=field):
        decide(*args, now=NOW)


def test_decide_at_the_ends_of_the_date_range_is_an_input_error_or_a_decision() -> None:
    viber = load_profile("respondio").capabilities("viber", as_of=NOW)
    state = ConversationState(last_inbound_at=NOW - timedelta(days=3))
    for extreme in (datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC)):
        try:
            decision = decide(viber, state, Message(text="hi"), now=extreme)
        except InputError:
            continue
        assert decision.reason.value
    with pytest.raises(InputError, match="account"):
        decide(viber, state, Message(text="hi"), now=NOW, account="acct")  # type: ignore[arg-type]
