"""The consent state machine: double opt-in (SPEC B12) and reply keywords (SPEC X1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnimsg.channels.capabilities import ChannelCapabilities, DoubleOptIn, KeywordSet
from omnimsg.channels.kinds import ChannelKind
from omnimsg.errors import ConfigurationError, InputError, NaiveDatetimeError
from omnimsg.policy.optin import (
    DeliverBroadcast,
    DropBroadcast,
    HoldBroadcast,
    KeywordAction,
    OpenTicket,
    OptInEvent,
    OptInRules,
    OptInState,
    RefuseBroadcast,
    ReleaseBroadcast,
    SendHelp,
    SendOptOutConfirmation,
    SendPrompt,
    SubscriptionStatus,
    classify_reply,
    next_prompt_at,
    receive_reply,
    request_broadcast,
    tick,
)
from omnimsg.policy.reasons import Reason

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
PROMPT = "Reply S to subscribe to our messages or N to decline."

SMS_KEYWORDS = {
    "en": KeywordSet(
        opt_out={"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPT OUT"},
        opt_in={"START", "UNSTOP"},
        help={"HELP", "INFO"},
    ),
    "es": KeywordSet(opt_out={"BAJA", "PARAR"}, opt_in={"ALTA"}, help={"AYUDA"}),
}
RULES = OptInRules(double_opt_in=DoubleOptIn(), keywords=SMS_KEYWORDS)
NO_DOUBLE_OPT_IN = OptInRules(keywords=SMS_KEYWORDS)
NEW = OptInState()

Status = SubscriptionStatus


def prompted(at: datetime = T0, *held: str) -> OptInState:
    state, _ = request_broadcast(NEW, held[0] if held else "b1", RULES, now=at)
    for broadcast in held[1:]:
        state, _ = request_broadcast(state, broadcast, RULES, now=at)
    return state


# B12: the first broadcast asks first -------------------------------------------------


def test_b12_first_broadcast_sends_the_prompt_and_holds_the_broadcast() -> None:
    """SPEC B12: the first time, a subscription message asks the contact to confirm."""
    state, events = request_broadcast(NEW, "b1", RULES, now=T0)
    assert events == (SendPrompt(PROMPT, 1), HoldBroadcast("b1", Reason.OPT_IN_REQUIRED))
    assert state.status is Status.PROMPTED
    assert (state.prompts_sent, state.first_prompt_at, state.last_prompt_at) == (1, T0, T0)
    assert state.held == ("b1",)


def test_b12_reminder_goes_24h_after_the_first_prompt_and_only_once() -> None:
    """SPEC B12: the prompt goes at send time and again 24 h later: two in all."""
    state = prompted()
    assert tick(state, RULES, now=T0 + 24 * H - timedelta(seconds=1)) == (state, ())
    assert next_prompt_at(state, RULES) == T0 + 24 * H
    state, events = tick(state, RULES, now=T0 + 24 * H)
    assert events == (SendPrompt(PROMPT, 2),)
    assert events[0].reminder
    assert state.prompts_sent == 2
    assert next_prompt_at(state, RULES) is None
    assert tick(state, RULES, now=T0 + 48 * H) == (state, ())
    assert tick(state, RULES, now=T0 + 1000 * H) == (state, ())


def test_b12_a_late_tick_sends_one_reminder() -> None:
    """SPEC B12: a tick long after the due time sends the reminder once, not a burst."""
    state, events = tick(prompted(), RULES, now=T0 + 100 * H)
    assert events == (SendPrompt(PROMPT, 2),)
    assert tick(state, RULES, now=T0 + 101 * H)[1] == ()


@pytest.mark.parametrize("reply", ["S", "s", " S ", "s\n", "\tS"])
@pytest.mark.parametrize("after_reminder", [False, True])
def test_b12_yes_subscribes_and_releases_the_waiting_broadcast(
    reply: str, after_reminder: bool
) -> None:
    """SPEC B12: 'S' (case and whitespace aside) to either prompt delivers the broadcast."""
    state = prompted(T0, "b1", "b2")
    if after_reminder:
        state, _ = tick(state, RULES, now=T0 + 24 * H)
    state, events = receive_reply(state, reply, RULES, now=T0 + 30 * H)
    assert events == (ReleaseBroadcast("b1"), ReleaseBroadcast("b2"))
    assert state.status is Status.SUBSCRIBED
    assert state.held == ()
    assert state.changed_at == T0 + 30 * H


@pytest.mark.parametrize("reply", ["N", "n", "  n  "])
def test_b12_no_declines_and_drops_the_waiting_broadcast(reply: str) -> None:
    """SPEC B12: 'N' means they never receive it."""
    state, events = receive_reply(prompted(), reply, RULES, now=T0 + H)
    assert events == (DropBroadcast("b1", Reason.OPT_IN_DECLINED),)
    assert state.status is Status.DECLINED
    assert state.held == ()


@pytest.mark.parametrize(
    "reply", ["sí", "si", "no", "deténgase", "s.", "ss", "S N", "yes", "Sí!", "", "   ", "👍"]
)
def test_b12_any_other_reply_opens_a_ticket_and_changes_nothing(reply: str) -> None:
    """SPEC B12: other replies open a ticket and do not satisfy the opt-in."""
    state = prompted()
    new, events = receive_reply(state, reply, RULES, now=T0 + H)
    assert events == (OpenTicket(reply),)
    assert new == state


def test_b12_subscribed_contact_gets_later_broadcasts_straight_away() -> None:
    """SPEC B12: only the first broadcast asks."""
    state, _ = receive_reply(prompted(), "S", RULES, now=T0 + H)
    state2, events = request_broadcast(state, "b2", RULES, now=T0 + 2 * H)
    assert events == (DeliverBroadcast("b2"),)
    assert state2 == state


def test_b12_declined_contact_never_receives_broadcasts() -> None:
    """SPEC B12: 'N' means they never do."""
    state, _ = receive_reply(prompted(), "N", RULES, now=T0 + H)
    state2, events = request_broadcast(state, "b2", RULES, now=T0 + 50 * H)
    assert events == (RefuseBroadcast("b2", Reason.OPT_IN_DECLINED),)
    assert state2 == state
    assert tick(state, RULES, now=T0 + 50 * H) == (state, ())


def test_b12_broadcasts_arriving_while_prompted_wait_without_a_new_prompt() -> None:
    """SPEC B12: one asking covers every broadcast waiting for the answer."""
    state, events = request_broadcast(prompted(), "b2", RULES, now=T0 + H)
    assert events == (HoldBroadcast("b2", Reason.OPT_IN_PENDING),)
    assert state.held == ("b1", "b2")
    again, events = request_broadcast(state, "b2", RULES, now=T0 + 2 * H)
    assert again == state
    assert events == (HoldBroadcast("b2", Reason.OPT_IN_PENDING),)


@pytest.mark.parametrize("reply", ["S", "N", "hola"])
@pytest.mark.parametrize("status", [Status.NOT_ASKED, Status.SUBSCRIBED, Status.DECLINED])
def test_b12_replies_when_no_prompt_is_pending_are_ordinary_messages(
    reply: str, status: SubscriptionStatus
) -> None:
    """SPEC B12: S or N without a pending prompt answers nothing and opens no ticket."""
    state = OptInState(status=status)
    assert receive_reply(state, reply, RULES, now=T0) == (state, ())


def test_b12_without_double_opt_in_a_new_contact_receives_broadcasts() -> None:
    """SPEC B12: double opt-in is a sender's setting; without it nobody is asked."""
    assert request_broadcast(NEW, "b1", NO_DOUBLE_OPT_IN, now=T0) == (
        NEW,
        (DeliverBroadcast("b1"),),
    )


def test_b12_custom_answers_and_more_prompts() -> None:
    """SPEC B12: yes/no replies, the reminder delay and the number of prompts are data."""
    rules = OptInRules(
        double_opt_in=DoubleOptIn(
            yes_replies={"SI", "S"},
            no_replies="NO",
            reminder_after=timedelta(hours=12),
            max_prompts=3,
            prompt="¿Suscribirse? SI/NO",
        )
    )
    state, _ = request_broadcast(NEW, "b1", rules, now=T0)
    state, e2 = tick(state, rules, now=T0 + 12 * H)
    state, e3 = tick(state, rules, now=T0 + 30 * H)
    state, e4 = tick(state, rules, now=T0 + 60 * H)
    assert (e2, e3, e4) == (
        (SendPrompt("¿Suscribirse? SI/NO", 2),),
        (SendPrompt("¿Suscribirse? SI/NO", 3),),
        (),
    )
    assert receive_reply(state, "no", rules, now=T0 + 61 * H)[0].status is Status.DECLINED


@pytest.mark.parametrize(
    ("opt_in", "problem"),
    [
        (DoubleOptIn(max_prompts=0), "max_prompts must be at least 1"),
        (DoubleOptIn(reminder_after=timedelta(0)), "reminder_after must be positive"),
        (DoubleOptIn(yes_replies={"S"}, no_replies={"s"}), "both yes and no"),
        (DoubleOptIn(yes_replies=set()), "must each hold a reply"),
    ],
)
def test_b12_unworkable_double_opt_in_is_a_configuration_error(
    opt_in: DoubleOptIn, problem: str
) -> None:
    """SPEC B12."""
    with pytest.raises(ConfigurationError, match=problem):
        OptInRules(double_opt_in=opt_in)


def test_b12_rules_come_from_channel_capabilities() -> None:
    """SPEC B12, X1: a channel's double opt-in and keywords make its rules."""
    caps = ChannelCapabilities(
        kind=ChannelKind.SMS, double_opt_in=DoubleOptIn(), keywords=SMS_KEYWORDS
    )
    assert OptInRules.from_capabilities(caps) == RULES


def test_b12_times_must_be_aware() -> None:
    """SPEC B12: time comes in as an aware datetime."""
    with pytest.raises(NaiveDatetimeError):
        request_broadcast(NEW, "b1", RULES, now=datetime(2026, 1, 1))
    with pytest.raises(NaiveDatetimeError):
        tick(prompted(), RULES, now=datetime(2026, 1, 1))
    with pytest.raises(NaiveDatetimeError):
        receive_reply(prompted(), "S", RULES, now=datetime(2026, 1, 1))


def test_b12_impossible_states_are_refused() -> None:
    """SPEC B12: held broadcasts only while prompted; prompted means a prompt went."""
    with pytest.raises(InputError, match="held"):
        OptInState(status=Status.SUBSCRIBED, held=("b1",))
    with pytest.raises(InputError, match="prompted"):
        OptInState(status=Status.PROMPTED)
    with pytest.raises(InputError, match="prompts_sent"):
        OptInState(prompts_sent=-1)


# X1: keywords ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "action"),
    [
        ("STOP", KeywordAction.OPT_OUT),
        ("stop", KeywordAction.OPT_OUT),
        ("  Stop \n", KeywordAction.OPT_OUT),
        ("STOPALL", KeywordAction.OPT_OUT),
        ("unsubscribe", KeywordAction.OPT_OUT),
        ("Cancel", KeywordAction.OPT_OUT),
        ("END", KeywordAction.OPT_OUT),
        ("quit", KeywordAction.OPT_OUT),
        ("opt  out", KeywordAction.OPT_OUT),
        ("baja", KeywordAction.OPT_OUT),
        ("START", KeywordAction.OPT_IN),
        ("unstop", KeywordAction.OPT_IN),
        ("Help", KeywordAction.HELP),
        ("ayuda", KeywordAction.HELP),
        ("stop please", None),
        ("STOP.", None),
        ("S", None),
        ("", None),
        ("stopp", None),
    ],
)
def test_x1_keywords_match_the_whole_reply_in_any_locale(
    reply: str, action: KeywordAction | None
) -> None:
    """SPEC X1: the whole reply, trimmed, case-insensitively, across all locales."""
    assert classify_reply(reply, SMS_KEYWORDS) is action


def test_x1_an_opt_out_word_of_any_locale_is_honoured() -> None:
    """SPEC X1: a contact filed under "es" who texts STOP has opted out all the same."""
    assert classify_reply("BAJA", SMS_KEYWORDS, locale="es") is KeywordAction.OPT_OUT
    assert classify_reply("STOP", SMS_KEYWORDS, locale="es") is KeywordAction.OPT_OUT
    # opt-in and help words stay in the contact's own language
    assert classify_reply("START", SMS_KEYWORDS, locale="es") is None
    assert classify_reply("ALTA", SMS_KEYWORDS, locale="es") is KeywordAction.OPT_IN
    assert classify_reply("baja", SMS_KEYWORDS, locale="es-MX") is KeywordAction.OPT_OUT
    assert classify_reply("baja", SMS_KEYWORDS, locale="ES_mx") is KeywordAction.OPT_OUT


def test_x1_an_unconfigured_locale_matches_every_list() -> None:
    """SPEC X1: an opt-out is never missed because the contact's language has no list."""
    assert classify_reply("STOP", SMS_KEYWORDS, locale="pt-BR") is KeywordAction.OPT_OUT


def test_x1_opting_out_wins_when_a_word_is_in_two_lists() -> None:
    """SPEC X1."""
    keywords = {"en": KeywordSet(opt_out="STOP", help="STOP")}
    assert classify_reply("stop", keywords) is KeywordAction.OPT_OUT


def test_x1_opt_out_unsubscribes_and_confirms_once() -> None:
    """SPEC X1, P13: STOP ends marketing sends; one confirmation is allowed."""
    state = OptInState(status=Status.SUBSCRIBED)
    state, events = receive_reply(state, "STOP", RULES, now=T0)
    assert state.status is Status.UNSUBSCRIBED
    assert events == (SendOptOutConfirmation("en"),)
    assert receive_reply(state, "stop", RULES, now=T0 + H) == (state, ())
    assert request_broadcast(state, "b9", RULES, now=T0 + H)[1] == (
        RefuseBroadcast("b9", Reason.OPTED_OUT),
    )


def test_x1_b12_opt_out_while_prompted_drops_the_held_broadcasts() -> None:
    """SPEC X1, B12: opt-out wins over the pending opt-in and stops the reminder."""
    state, events = receive_reply(prompted(T0, "b1", "b2"), "baja", RULES, now=T0 + H)
    assert events == (
        DropBroadcast("b1", Reason.OPTED_OUT),
        DropBroadcast("b2", Reason.OPTED_OUT),
        SendOptOutConfirmation("es"),
    )
    assert state.status is Status.UNSUBSCRIBED
    assert tick(state, RULES, now=T0 + 48 * H) == (state, ())


@pytest.mark.parametrize("status", [Status.NOT_ASKED, Status.DECLINED, Status.SUBSCRIBED])
def test_x1_opt_out_applies_from_every_status(status: SubscriptionStatus) -> None:
    """SPEC X1."""
    state, _ = receive_reply(OptInState(status=status), "QUIT", RULES, now=T0)
    assert state.status is Status.UNSUBSCRIBED


@pytest.mark.parametrize("word", ["START", "unstop"])
def test_x1_start_resubscribes(word: str) -> None:
    """SPEC X1: START/UNSTOP re-subscribe."""
    state, _ = receive_reply(OptInState(status=Status.SUBSCRIBED), "STOP", RULES, now=T0)
    state, events = receive_reply(state, word, RULES, now=T0 + H)
    assert (state.status, events) == (Status.SUBSCRIBED, ())
    assert request_broadcast(state, "b3", RULES, now=T0 + 2 * H)[1] == (DeliverBroadcast("b3"),)


def test_x1_start_while_prompted_subscribes_and_releases() -> None:
    """SPEC X1, B12: an opt-in keyword is an explicit yes."""
    state, events = receive_reply(prompted(), "START", RULES, now=T0 + H)
    assert (state.status, events) == (Status.SUBSCRIBED, (ReleaseBroadcast("b1"),))


def test_x1_start_from_a_subscribed_contact_changes_nothing() -> None:
    """SPEC X1."""
    state = OptInState(status=Status.SUBSCRIBED)
    assert receive_reply(state, "START", RULES, now=T0) == (state, ())


@pytest.mark.parametrize("status", list(Status))
def test_x1_help_is_answered_and_changes_nothing(status: SubscriptionStatus) -> None:
    """SPEC X1: HELP is answered; it is no opt-in answer and opens no ticket."""
    state = prompted() if status is Status.PROMPTED else OptInState(status=status)
    assert receive_reply(state, "help", RULES, now=T0 + H) == (state, (SendHelp("en"),))
    assert receive_reply(state, "AYUDA", RULES, now=T0 + H) == (state, (SendHelp("es"),))


# properties --------------------------------------------------------------------------

replies = st.sampled_from(
    ["S", "s ", "N", " n", "sí", "no", "deténgase", "s.", "ss", "hola", "STOP", "baja",
     "START", "unstop", "HELP", "ayuda", ""]
)  # fmt: skip
steps = st.lists(
    st.one_of(
        st.tuples(st.just("broadcast"), st.sampled_from(["b1", "b2", "b3"])),
        st.tuples(st.just("reply"), replies),
        st.tuples(st.just("tick"), st.integers(0, 30).map(str)),
    ),
    max_size=25,
)
rules_strategy = st.sampled_from(
    [
        RULES,
        NO_DOUBLE_OPT_IN,
        OptInRules(double_opt_in=DoubleOptIn(max_prompts=3), keywords=SMS_KEYWORDS),
        OptInRules(double_opt_in=DoubleOptIn(max_prompts=1)),
    ]
)


def _keyword_or_answer(reply: str, rules: OptInRules) -> bool:
    return classify_reply(reply, rules.keywords) is not None or rules.answer(reply) is not None


@given(steps, rules_strategy)
def test_b12_x1_any_sequence_keeps_the_machine_consistent(
    steps: list[tuple[str, str]], rules: OptInRules
) -> None:
    """SPEC B12, X1: whatever happens, in any order:

    - at most ``max_prompts`` prompts are ever sent, numbered 1, 2, ...;
    - a broadcast is released or dropped at most once, and only after being held;
    - nothing is released or delivered after N or an opt-out until a re-subscribe;
    - replies that are neither keywords nor S/N never change the status;
    - broadcasts are held only while PROMPTED, and events match the new status.
    """
    state = OptInState()
    now = T0
    max_prompts = rules.double_opt_in.max_prompts if rules.double_opt_in else 0
    prompts: list[int] = []
    held_ever: set[str] = set()
    settled: set[str] = set()
    blocked = False
    for kind, arg in steps:
        events: tuple[OptInEvent, ...]
        before = state
        if kind == "broadcast":
            state, events = request_broadcast(state, arg, rules, now=now)
        elif kind == "reply":
            state, events = receive_reply(state, arg, rules, now=now)
            if not _keyword_or_answer(arg, rules):
                assert state.status is before.status
        else:
            now += timedelta(hours=int(arg))
            state, events = tick(state, rules, now=now)
        for event in events:
            if isinstance(event, SendPrompt):
                prompts.append(event.number)
                assert state.status is Status.PROMPTED
            elif isinstance(event, HoldBroadcast):
                held_ever.add(event.broadcast_id)
                assert event.broadcast_id in state.held
            elif isinstance(event, ReleaseBroadcast | DropBroadcast):
                assert event.broadcast_id in held_ever
                assert event.broadcast_id not in settled
                settled.add(event.broadcast_id)
                if isinstance(event, ReleaseBroadcast):
                    assert not blocked
                    assert state.status is Status.SUBSCRIBED
            elif isinstance(event, DeliverBroadcast):
                assert not blocked
                assert state.status in (Status.SUBSCRIBED, Status.NOT_ASKED)
            elif isinstance(event, OpenTicket):
                assert before.status is Status.PROMPTED
                assert state == before
        if state.status in (Status.DECLINED, Status.UNSUBSCRIBED):
            blocked = True
        elif state.status is Status.SUBSCRIBED:
            blocked = False
        assert not state.held or state.status is Status.PROMPTED
        assert len(set(state.held)) == len(state.held)
        assert state.prompts_sent == len(prompts)
    assert len(prompts) <= max_prompts
    assert prompts == list(range(1, len(prompts) + 1))
