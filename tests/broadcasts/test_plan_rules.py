"""The planner, rule by rule: each test names the SPEC rule it holds the planner to.

Section 4 (B1-B14, B16, B17), quiet hours (X2), the frequency cap (X4), idempotency
keys (X5), pasted id lists (A3, A4) and the windows a broadcast meets (W2, W4-W6).
Every expectation is computed from the rule, not read back from the planner.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import phonenumbers
import pytest

from omnimsg.broadcasts import (
    Audience,
    BroadcastMessage,
    ContactOutcome,
    Draft,
    FrequencyCap,
    OutcomeKind,
    PlannedSend,
    Rate,
    Schedule,
    Sender,
    SendKind,
    Targeting,
    plan_broadcast,
    plan_test_send,
    reason_rule,
)
from omnimsg.broadcasts.checks import validate_draft
from omnimsg.channels.capabilities import QuietHours
from omnimsg.channels.kinds import Mode
from omnimsg.contacts import Contact
from omnimsg.errors import DraftError
from omnimsg.segments import parse_segment
from omnimsg.state import (
    AccountState,
    ConversationState,
    OptInState,
    SenderUsage,
    SubscriptionStatus,
)
from omnimsg.stores.memory import MemoryContactStore, MemoryStateStore

from .plan_strategies import (
    EXPERTCONNECT,
    LIVETEX,
    NOW,
    RESPONDIO,
    RESPONDIO_BROADCAST_KINDS,
    K,
    allowed_at,
    by_id,
    derived,
    ident,
    jsonl,
    local_clock,
    make_draft,
    messages,
    most_in_window,
    most_unique_in_rolling,
    person,
    phone_of,
    recipient_zones,
    recipients_per_local_day,
    respondio_draft,
    run,
    sends_of,
    subscribed,
)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
S = SubscriptionStatus


def only_messages(outcome: ContactOutcome) -> list[PlannedSend]:
    return [s for s in outcome.sends if s.kind is SendKind.MESSAGE]


def sms_draft(
    *texts: str,
    senders: tuple[Sender, ...] = (Sender("sms-1", K.SMS), Sender("sms-2", K.SMS)),
    **extra: Any,
) -> Draft:
    """An ExpertConnect SMS draft on the last interacted channel (SMS only)."""
    return make_draft(
        {K.SMS: messages(*(texts or ("Winter check: 15% off",)))},
        senders,
        channels=frozenset({K.SMS}),
        **extra,
    )


def sms_people(
    count: int, *, start: int = 0, subs: Mapping[str, OptInState | S] | None = None
) -> list[Contact]:
    consent = subscribed("sms-1", "sms-2", "sms-3") if subs is None else subs
    return [
        person(f"c{n:04d}", phone=phone_of(n), last=K.SMS, subs=consent)
        for n in range(start, start + count)
    ]


# --- B1: the name and tags are the business's own ----------------------------------------


def test_b1_name_and_tags_never_reach_a_recipient() -> None:
    """SPEC B1: the broadcast's name and tags appear in no send, prompt or parameter."""
    name = "INTERNAL-Campaign-Q4-zeta"
    tags = frozenset({"tag-vip-secret", "tag-churn-risk"})
    draft = sms_draft("Hi {{ first_name }}, winter check 15% off", name=name, tags=tags)
    people = [
        *sms_people(3),
        # not asked: held, gets the double opt-in prompt and its reminder (B12)
        *sms_people(2, start=10, subs={}),
    ]
    outcomes, summary = run(plan_broadcast(draft, people, profile=EXPERTCONNECT, now=NOW))
    sends = sends_of(outcomes)
    assert summary.messages == 3
    assert summary.prompts == 4
    for send in sends:
        shown = send.text + "".join(k + v for k, v in send.params)
        for secret in (name, *tags):
            assert secret not in shown
    # and on a channel with template parameters
    wa = make_draft(
        {
            K.WHATSAPP: (
                BroadcastMessage(
                    text="Hello {{ first_name }}",
                    template="promo",
                    template_params={"1": "{{ first_name }}"},
                ),
            )
        },
        [Sender("wa-1", K.WHATSAPP)],
        channels=frozenset({K.WHATSAPP}),
        name=name,
        tags=tags,
    )
    outcomes, _ = run(
        plan_broadcast(
            wa, [person("w1", phone=phone_of(1), last=K.WHATSAPP)], profile=LIVETEX, now=NOW
        )
    )
    (send,) = sends_of(outcomes)
    assert send.params == (("1", "Ann"),)
    assert name not in send.text
    assert not any(t in send.text for t in tags)


# --- B2: one specific channel account ----------------------------------------------------


def test_b2_specific_account_excludes_contacts_without_it() -> None:
    """SPEC B2: with one channel account chosen, contacts without it are excluded."""
    draft = make_draft(
        {K.TELEGRAM: messages("news")},
        [Sender("tg-main", K.TELEGRAM), Sender("tg-other", K.TELEGRAM)],
        targeting=Targeting.ACCOUNT,
        account="tg-main",
    )
    people = [
        person("on-main", identities=[ident("tg-main", K.TELEGRAM, "u1")], last=K.TELEGRAM),
        person("on-other", identities=[ident("tg-other", K.TELEGRAM, "u2")], last=K.TELEGRAM),
        person("nothing"),
        # the chosen account wins over the last interacted channel (B2, not B3)
        person(
            "last-on-whatsapp",
            last=K.WHATSAPP,
            identities=[
                ident("wa-1", K.WHATSAPP, "+14155550111", NOW - HOUR),
                ident("tg-main", K.TELEGRAM, "u3"),
            ],
        ),
    ]
    outcomes = by_id(plan_broadcast(draft, people, profile=RESPONDIO, now=NOW))
    assert outcomes["on-main"].outcome is OutcomeKind.PLANNED
    assert {s.account_id for s in outcomes["on-main"].sends} == {"tg-main"}
    assert outcomes["on-main"].sends[0].address == "u1"
    assert outcomes["last-on-whatsapp"].outcome is OutcomeKind.PLANNED
    assert outcomes["last-on-whatsapp"].sends[0].channel is K.TELEGRAM
    for cid in ("on-other", "nothing"):
        assert outcomes[cid].outcome is OutcomeKind.EXCLUDED
        assert outcomes[cid].reason == "no_identity"
        assert outcomes[cid].rule == "B2"
        assert outcomes[cid].sends == ()


def test_b2_specific_sms_account_reaches_a_phone_but_not_a_contact_without_one() -> None:
    """SPEC B2: on a phone channel the account reaches any valid phone; no phone, no send."""
    draft = make_draft(
        {K.SMS: messages("news")},
        [Sender("sms-1", K.SMS)],
        targeting=Targeting.ACCOUNT,
        account="sms-1",
    )
    people = [person("has-phone", phone=phone_of(1)), person("no-phone")]
    outcomes = by_id(plan_broadcast(draft, people, profile=RESPONDIO, now=NOW))
    assert outcomes["has-phone"].outcome is OutcomeKind.PLANNED
    assert outcomes["has-phone"].sends[0].address == phone_of(1)
    assert (outcomes["no-phone"].reason, outcomes["no-phone"].rule) == ("no_identity", "B2")


# --- B3: the last interacted channel -----------------------------------------------------


def _on(kind: K, cid: str | None = None, *, inbound: datetime | None = None) -> Contact:
    """A contact whose last interacted channel is ``kind``, on ``<kind>-1``."""
    external = "+14155550100" if kind in (K.SMS, K.WHATSAPP) else f"id-{kind.value}"
    return person(
        cid or f"c-{kind.value}",
        last=kind,
        phone="+14155550100" if kind in (K.SMS, K.WHATSAPP) else None,
        identities=[ident(f"{kind.value}-1", kind, external, inbound or NOW - HOUR)],
    )


def test_b3_each_contact_gets_its_last_interacted_channels_content() -> None:
    """SPEC B3: each contact gets the content of the channel they last interacted on."""
    draft = respondio_draft()
    people = [_on(kind) for kind in RESPONDIO_BROADCAST_KINDS]
    outcomes = by_id(plan_broadcast(draft, people, profile=RESPONDIO, now=NOW))
    for kind in RESPONDIO_BROADCAST_KINDS:
        outcome = outcomes[f"c-{kind.value}"]
        assert outcome.outcome is OutcomeKind.PLANNED, outcome
        assert outcome.channel is kind
        assert [(s.channel, s.account_id, s.text) for s in outcome.sends] == [
            (kind, f"{kind.value}-1", f"hello on {kind.value}")
        ]


def test_b3_a_deselected_channels_contacts_get_nothing() -> None:
    """SPEC B3: a deselected channel's contacts get nothing, not another channel's content."""
    draft = respondio_draft([K.TELEGRAM, K.VIBER])
    people = [
        _on(K.TELEGRAM),
        _on(K.VIBER),
        # last on WhatsApp (deselected), though reachable on Telegram too
        person(
            "c-whatsapp",
            last=K.WHATSAPP,
            phone="+14155550100",
            identities=[
                ident("whatsapp-1", K.WHATSAPP, "+14155550100", NOW - HOUR),
                ident("telegram-1", K.TELEGRAM, "tg-9", NOW - DAY),
            ],
        ),
        _on(K.LINE),
    ]
    outcomes, summary = run(plan_broadcast(draft, people, profile=RESPONDIO, now=NOW))
    found = by_id(outcomes)
    assert found["c-telegram"].outcome is OutcomeKind.PLANNED
    assert found["c-viber"].outcome is OutcomeKind.PLANNED
    for cid in ("c-whatsapp", "c-line"):
        assert found[cid].outcome is OutcomeKind.EXCLUDED
        assert found[cid].reason == "channel_not_selected"
        assert found[cid].rule == "B3"
        assert found[cid].sends == ()
    assert set(summary.by_channel) == {K.TELEGRAM, K.VIBER}


def test_b3_default_selection_is_every_channel_with_content() -> None:
    """SPEC B3: with no channels chosen, every channel the draft has content for is
    selected; a contact whose channel has none is not sent to."""
    assert set(RESPONDIO_BROADCAST_KINDS) == {
        K.WHATSAPP,
        K.MESSENGER,
        K.VIBER,
        K.WECHAT,
        K.TELEGRAM,
        K.LINE,
        K.SMS,
    }
    draft = respondio_draft()
    assert draft.channels is None
    outcomes = by_id(
        plan_broadcast(draft, [_on(K.LINE), _on(K.WECHAT)], profile=RESPONDIO, now=NOW)
    )
    assert outcomes["c-line"].outcome is OutcomeKind.PLANNED
    assert outcomes["c-wechat"].outcome is OutcomeKind.PLANNED
    content: dict[K, tuple[BroadcastMessage, ...]] = {
        k: v for k, v in draft.content.items() if k is not K.LINE
    }
    without_line = attrs.evolve(draft, content=content)
    outcomes = by_id(
        plan_broadcast(without_line, [_on(K.LINE), _on(K.WECHAT)], profile=RESPONDIO, now=NOW)
    )
    assert outcomes["c-line"].reason == "channel_not_selected"
    assert outcomes["c-line"].rule == "B3"
    assert outcomes["c-wechat"].outcome is OutcomeKind.PLANNED


def test_b3_without_a_last_channel_the_latest_inbound_selected_channel_is_used() -> None:
    """SPEC B3: a contact with no last interacted channel goes where they last wrote."""
    draft = respondio_draft([K.TELEGRAM, K.VIBER])
    contact = person(
        "no-last",
        identities=[
            ident("telegram-1", K.TELEGRAM, "tg", NOW - 3 * HOUR),
            ident("viber-1", K.VIBER, "vb", NOW - HOUR),
        ],
    )
    (outcome,) = plan_broadcast(draft, [contact], profile=RESPONDIO, now=NOW)
    assert outcome.outcome is OutcomeKind.PLANNED
    assert outcome.channel is K.VIBER


# --- B4: channels without broadcasts on respond.io ---------------------------------------


@pytest.mark.parametrize("kind", [K.EMAIL, K.INSTAGRAM, K.WEBCHAT, K.GOOGLE_BUSINESS])
def test_b4_contacts_last_on_a_channel_without_broadcasts_are_excluded(kind: K) -> None:
    """SPEC B4: e-mail, Instagram, web chat and Google Business Messages have no
    broadcasts on respond.io: their contacts are excluded with that reason."""
    assert not RESPONDIO.capabilities(kind, as_of=NOW).broadcasts
    outcomes = by_id(plan_broadcast(respondio_draft(), [_on(kind)], profile=RESPONDIO, now=NOW))
    outcome = outcomes[f"c-{kind.value}"]
    assert outcome.outcome is OutcomeKind.EXCLUDED
    assert outcome.sends == ()
    assert outcome.reason == "broadcasts_not_supported"
    assert outcome.rule == "B4"


@pytest.mark.parametrize("kind", [K.EMAIL, K.INSTAGRAM, K.WEBCHAT, K.GOOGLE_BUSINESS])
def test_b4_a_draft_selecting_a_channel_without_broadcasts_is_refused(kind: K) -> None:
    """SPEC B4: selecting such a channel, or sending from its account, is refused up front."""
    selected = make_draft(
        {kind: messages("hi")}, [Sender("acct", kind)], channels=frozenset({kind})
    )
    with pytest.raises(DraftError) as refused:
        plan_broadcast(selected, [_on(kind)], profile=RESPONDIO, now=NOW)
    assert ("channels", "B4") in {(p, r) for p, r, _ in refused.value.problems}
    account = make_draft(
        {kind: messages("hi")},
        [Sender("acct", kind)],
        targeting=Targeting.ACCOUNT,
        account="acct",
    )
    with pytest.raises(DraftError) as refused:
        plan_broadcast(account, [_on(kind)], profile=RESPONDIO, now=NOW)
    assert "B4" in {r for _, r, _ in refused.value.problems}


# --- B5: planning changes nothing ----------------------------------------------------------


class _WatchedState(MemoryStateStore):
    """A state store that records every write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def put_conversation(
        self, contact_id: str, account_id: str, state: ConversationState, /
    ) -> None:
        self.writes.append(f"conversation {contact_id} {account_id}")
        super().put_conversation(contact_id, account_id, state)

    def put_account(self, account_id: str, state: AccountState, /) -> None:
        self.writes.append(f"account {account_id}")
        super().put_account(account_id, state)

    def put_usage(self, account_id: str, usage: SenderUsage, /) -> None:
        self.writes.append(f"usage {account_id}")
        super().put_usage(account_id, usage)


def test_b5_planning_changes_no_contact_and_no_state() -> None:
    """SPEC B5: a broadcast never changes a contact's last interacted channel, nor any
    stored state; planning it twice gives the same plan."""
    store = _WatchedState()

    def audience() -> list[Contact]:
        return [
            person(
                "wa-last",
                last=K.WHATSAPP,
                phone="+14155550100",
                identities=[
                    ident("whatsapp-1", K.WHATSAPP, "+14155550100", NOW - 2 * DAY),
                    ident("telegram-1", K.TELEGRAM, "tg-1", NOW - 3 * DAY),
                ],
            ),
            _on(K.TELEGRAM),
            _on(K.WECHAT),
        ]

    people = audience()
    store.put_conversation(
        "c-wechat",
        "wechat-1",
        ConversationState(last_inbound_at=NOW - HOUR, outbound_since_inbound=3),
    )
    store.put_account("telegram-1", AccountState(timezone="Europe/Madrid"))
    store.put_usage("telegram-1", SenderUsage(day=date(2026, 12, 1), recipients_today=7))
    store.writes.clear()
    stored_before = (
        store.get_conversation("c-wechat", "wechat-1"),
        store.get_account("telegram-1"),
        store.get_usage("telegram-1"),
    )
    # specific account on Telegram: the WhatsApp-last contact is sent on Telegram
    draft = make_draft(
        {K.TELEGRAM: messages("news")},
        [Sender("telegram-1", K.TELEGRAM)],
        targeting=Targeting.ACCOUNT,
        account="telegram-1",
    )
    first = jsonl(plan_broadcast(draft, people, profile=RESPONDIO, now=NOW, state=store))
    by_last = jsonl(
        plan_broadcast(respondio_draft(), people, profile=RESPONDIO, now=NOW, state=store)
    )
    assert store.writes == []
    assert people == audience()
    assert [c.last_interacted_channel for c in people] == [K.WHATSAPP, K.TELEGRAM, K.WECHAT]
    assert (
        store.get_conversation("c-wechat", "wechat-1"),
        store.get_account("telegram-1"),
        store.get_usage("telegram-1"),
    ) == stored_before
    assert store.get_conversation("wa-last", "telegram-1") is None
    assert jsonl(plan_broadcast(draft, people, profile=RESPONDIO, now=NOW, state=store)) == first
    again = jsonl(
        plan_broadcast(respondio_draft(), people, profile=RESPONDIO, now=NOW, state=store)
    )
    assert again == by_last


# --- B6: only contacts who interacted on the channel ---------------------------------------


def test_b6_only_interacted_keeps_contacts_who_wrote_on_the_channel() -> None:
    """SPEC B6: with the option, contacts who never wrote on the channel are excluded."""
    wrote = person(
        "wrote", last=K.TELEGRAM, identities=[ident("telegram-1", K.TELEGRAM, "a", NOW - 9 * DAY)]
    )
    never = person("never", last=K.TELEGRAM, identities=[ident("telegram-1", K.TELEGRAM, "b")])
    elsewhere = person(
        "elsewhere",
        last=K.TELEGRAM,
        identities=[
            ident("telegram-1", K.TELEGRAM, "c"),
            ident("viber-1", K.VIBER, "v", NOW - HOUR),
        ],
    )
    people = [wrote, never, elsewhere]
    plain = by_id(plan_broadcast(respondio_draft([K.TELEGRAM]), people, profile=RESPONDIO, now=NOW))
    assert {o.outcome for o in plain.values()} == {OutcomeKind.PLANNED}
    only = respondio_draft([K.TELEGRAM], only_interacted=True)
    found = by_id(plan_broadcast(only, people, profile=RESPONDIO, now=NOW))
    assert found["wrote"].outcome is OutcomeKind.PLANNED
    for cid in ("never", "elsewhere"):
        assert (found[cid].outcome, found[cid].reason, found[cid].rule) == (
            OutcomeKind.EXCLUDED,
            "not_interacted",
            "B6",
        )


# --- B7: messages and recipients -----------------------------------------------------------


def test_b7_two_messages_to_ten_recipients_are_twenty_messages() -> None:
    """SPEC B7: 2 messages to each of 10 recipients is "a total of 20 messages to 10
    recipients"; double opt-in prompts are neither messages nor recipients."""
    draft = sms_draft("First part", "Second part")
    people = [*sms_people(10), *sms_people(3, start=50, subs={})]
    _outcomes, summary = run(plan_broadcast(draft, people, profile=EXPERTCONNECT, now=NOW))
    assert summary.describe() == "a total of 20 messages to 10 recipients"
    assert (summary.messages, summary.recipients) == (20, 10)
    assert summary.by_channel[K.SMS].messages == 20
    assert summary.by_channel[K.SMS].recipients == 10
    assert sum(t.messages for t in summary.by_account.values()) == 20
    assert sum(t.recipients for t in summary.by_account.values()) == 10
    assert (summary.planned, summary.held, summary.excluded, summary.audience) == (10, 3, 0, 13)
    assert summary.prompts == 6
    assert summary.to_dict()["text"] == "a total of 20 messages to 10 recipients"
    one = sms_draft("Only")
    _, single = run(plan_broadcast(one, sms_people(1), profile=EXPERTCONNECT, now=NOW))
    assert single.describe() == "a total of 1 message to 1 recipient"


# --- B8: a test send is what the contact would get -----------------------------------------


def test_b8_test_send_gives_exactly_the_contacts_messages() -> None:
    """SPEC B8: a test send to one contact carries exactly the messages the real plan
    gives that contact: channel, kinds, numbers, texts and parameters."""
    draft = respondio_draft(
        [K.TELEGRAM, K.WHATSAPP, K.SMS],
        content={
            K.TELEGRAM: messages("Hi {{ first_name }}!", "Part two for {{ name }}"),
            K.WHATSAPP: (
                BroadcastMessage(
                    text="Hello {{ first_name }}",
                    template="promo",
                    template_params={"name": "{{ first_name }}"},
                ),
            ),
            K.SMS: messages('Hi {{ first_name | "there" }}, 15% off'),
        },
    )
    people = [
        attrs.evolve(_on(K.TELEGRAM, "t1"), first_name="Olga"),
        attrs.evolve(_on(K.WHATSAPP, "w1", inbound=NOW - 3 * DAY), first_name="Ana"),
        attrs.evolve(_on(K.SMS, "s1"), first_name=None),
        _on(K.LINE, "l1"),
    ]
    real = by_id(plan_broadcast(draft, people, profile=RESPONDIO, now=NOW))
    for contact in people:
        test = plan_test_send(draft, contact, profile=RESPONDIO, now=NOW)
        want = real[contact.id]
        assert (test.outcome, test.reason, test.channel) == (
            want.outcome,
            want.reason,
            want.channel,
        )
        assert [(s.kind, s.number, s.channel, s.text, s.params) for s in test.sends] == [
            (s.kind, s.number, s.channel, s.text, s.params) for s in want.sends
        ]
    assert [s.text for s in real["t1"].sends] == ["Hi Olga!", "Part two for Olga"]
    assert real["s1"].sends[0].text == "Hi there, 15% off"
    assert real["w1"].sends[0].params == (("name", "Ana"),)


# --- B9: now or later ---------------------------------------------------------------------


def test_b9_a_later_start_sends_nothing_before_it() -> None:
    """SPEC B9: a broadcast scheduled for later plans nothing before its start."""
    start = NOW + 3 * DAY + timedelta(hours=7, minutes=30)
    draft = sms_draft(schedule=Schedule(start=start))
    people = [*sms_people(5), *sms_people(2, start=20, subs={})]
    plan = plan_broadcast(draft, people, profile=EXPERTCONNECT, now=NOW)
    assert plan.start == start
    assert plan.ends_by == start + timedelta(days=7)
    outcomes, summary = run(plan)
    sends = sends_of(outcomes)
    assert len(sends) == 5 + 4
    assert min(s.not_before for s in sends) == start
    assert summary.first_send == start
    assert all(s.not_before >= start for s in sends)


def test_b9_a_start_in_the_past_plans_from_now() -> None:
    """SPEC B9: a start already past sends now, not in the past."""
    draft = sms_draft(schedule=Schedule(start=NOW - 5 * HOUR))
    plan = plan_broadcast(draft, sms_people(4), profile=EXPERTCONNECT, now=NOW)
    assert plan.start == NOW
    outcomes, _ = run(plan)
    assert min(s.not_before for s in sends_of(outcomes)) == NOW


def test_b9_the_start_argument_plans_one_occurrence() -> None:
    """SPEC B9: planning a given occurrence starts there."""
    occurrence = NOW + 2 * DAY
    plan = plan_broadcast(
        sms_draft(), sms_people(2), profile=EXPERTCONNECT, now=NOW, start=occurrence
    )
    outcomes, _ = run(plan)
    assert plan.start == occurrence
    assert {s.not_before for s in sends_of(outcomes)} == {occurrence}


# --- B10: rate and 7 days -----------------------------------------------------------------


def test_b10_the_drafts_rate_caps_each_account() -> None:
    """SPEC B10: no account sends more than the rate in any window of the rate's length."""
    rate = Rate(messages=3, per=timedelta(minutes=1))
    draft = respondio_draft(
        [K.TELEGRAM],
        rate=rate,
        senders=(Sender("telegram-1", K.TELEGRAM), Sender("telegram-2", K.TELEGRAM)),
        content={K.TELEGRAM: messages("one", "two")},
    )
    people = [
        person(
            f"t{n}",
            last=K.TELEGRAM,
            identities=[
                ident("telegram-1" if n % 3 else "telegram-2", K.TELEGRAM, f"u{n}", NOW - DAY)
            ],
        )
        for n in range(12)
    ]
    outcomes, summary = run(plan_broadcast(draft, people, profile=RESPONDIO, now=NOW))
    assert summary.planned == 12
    per_account: dict[str, list[datetime]] = {}
    for send in sends_of(outcomes):
        per_account.setdefault(send.account_id, []).append(send.not_before)
    assert set(per_account) == {"telegram-1", "telegram-2"}
    for times in per_account.values():
        assert most_in_window(times, rate.per) <= 3
    # 16 sends of telegram-1 at 3 a minute take more than 5 minutes
    assert max(per_account["telegram-1"]) - NOW >= timedelta(minutes=5)


def test_b10_without_a_rate_each_channel_keeps_its_own() -> None:
    """SPEC B10: with no rate the channel's own limit applies (respond.io SMS: 1 a second)."""
    draft = respondio_draft([K.SMS])
    people = [person(f"s{n}", phone=phone_of(n), last=K.SMS) for n in range(10)]
    outcomes, _ = run(plan_broadcast(draft, people, profile=RESPONDIO, now=NOW))
    times = [s.not_before for s in sends_of(outcomes)]
    assert len(times) == 10
    assert most_in_window(times, timedelta(seconds=1)) == 1
    assert max(times) - min(times) >= timedelta(seconds=9)


def test_b10_a_rate_too_slow_for_a_known_audience_is_refused_up_front() -> None:
    """SPEC B10: a rate that needs more than 7 days for a known audience is refused."""
    slow = Rate(messages=1, per=HOUR)
    ids = tuple(f"t{n}" for n in range(200))
    draft = respondio_draft([K.TELEGRAM], rate=slow, audience=Audience(contact_ids=ids))
    with pytest.raises(DraftError) as refused:
        plan_broadcast(draft, [], profile=RESPONDIO, now=NOW)
    assert ("rate", "B10") in {(p, r) for p, r, _ in refused.value.problems}
    with pytest.raises(DraftError):
        validate_draft(
            respondio_draft([K.TELEGRAM], rate=slow), RESPONDIO, audience_size=200, now=NOW
        )
    # 168 sends an hour apart fit in 7 days: that audience is accepted
    validate_draft(respondio_draft([K.TELEGRAM], rate=slow), RESPONDIO, audience_size=168, now=NOW)


def test_b10_what_does_not_fit_in_seven_days_is_excluded_with_the_reason() -> None:
    """SPEC B10: with an audience of unknown size, contacts past 7 days are excluded."""
    slow = Rate(messages=1, per=HOUR)
    segment = parse_segment({"field": "tags", "op": "has_any", "value": ["all"]})
    draft = respondio_draft([K.TELEGRAM], rate=slow, audience=Audience(segment=segment))
    people = [
        attrs.evolve(_on(K.TELEGRAM, f"t{n:03d}"), tags=frozenset({"all"})) for n in range(200)
    ]
    plan = plan_broadcast(draft, people, profile=RESPONDIO, now=NOW)
    outcomes, summary = run(plan)
    assert summary.planned == 168
    assert summary.excluded == 32
    assert summary.excluded_by_reason == {"after_seven_days": 32}
    late = [o for o in outcomes if o.outcome is OutcomeKind.EXCLUDED]
    assert {(o.reason, o.rule) for o in late} == {("after_seven_days", "B10")}
    times = [s.not_before for s in sends_of(outcomes)]
    assert max(times) < NOW + timedelta(days=7) == plan.ends_by
    assert most_in_window(times, HOUR) == 1


# --- B11: ExpertConnect numbers, 1,500 a day each ------------------------------------------

MEXICO = ZoneInfo("America/Mexico_City")


def test_b11_a_number_sends_to_at_most_1500_recipients_a_local_day() -> None:
    """SPEC B11: 1,500 recipients per number per day, counting today's usage, in the
    number's own time zone; the team's numbers share the load; the rest goes the next
    local day."""
    # 03:00 UTC on 2 Dec is 21:00 on 1 Dec in Mexico City: the account's day is the 1st
    now = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    today = date(2026, 12, 1)
    accounts = {a: AccountState(timezone=MEXICO) for a in ("sms-1", "sms-2", "sms-3")}
    usage = {
        "sms-1": SenderUsage(day=today, recipients_today=1497),
        "sms-2": SenderUsage(day=today, recipients_today=1498),
        # the sales number has room, but is not of the team
        "sms-3": SenderUsage(day=today, recipients_today=0),
    }
    draft = sms_draft(
        senders=(
            Sender("sms-1", K.SMS, team="service"),
            Sender("sms-2", K.SMS, team="service"),
            Sender("sms-3", K.SMS, team="sales"),
        ),
        team="service",
    )
    outcomes, summary = run(
        plan_broadcast(
            draft, sms_people(10), profile=EXPERTCONNECT, now=now, accounts=accounts, usage=usage
        )
    )
    assert summary.planned == 10
    sends = sends_of(outcomes)
    assert {s.account_id for s in sends} == {"sms-1", "sms-2"}
    for account, used in (("sms-1", 1497), ("sms-2", 1498)):
        days = recipients_per_local_day([s for s in sends if s.account_id == account], MEXICO)
        assert days.get(today, 0) + used <= 1500
        assert days.get(today, 0) == 1500 - used  # a full day before the next
    next_day = datetime(2026, 12, 2, 0, 0, tzinfo=MEXICO)
    late = [s for s in sends if s.not_before >= next_day]
    assert len(late) == 5
    assert all(s.not_before.astimezone(MEXICO).date() in (today, date(2026, 12, 2)) for s in sends)
    # the next day begins at local midnight, three hours later, not at UTC midnight
    assert min(s.not_before for s in late) == next_day
    assert summary.days_spanned == 1


def test_b11_counts_recipients_not_messages_and_yesterdays_usage_not_at_all() -> None:
    """SPEC B11: the cap counts recipients (two messages are one recipient); usage of
    another day does not count today."""
    today = NOW.date()
    usage = {
        "sms-1": SenderUsage(day=today, recipients_today=1499),
        "sms-2": SenderUsage(day=today - DAY, recipients_today=1500),
    }
    draft = sms_draft("part one", "part two")
    outcomes, _ = run(
        plan_broadcast(draft, sms_people(4), profile=EXPERTCONNECT, now=NOW, usage=usage)
    )
    sends = sends_of(outcomes)
    on_1 = [s for s in sends if s.account_id == "sms-1" and s.not_before.date() == today]
    assert len({s.contact_id for s in on_1}) == 1
    assert len(on_1) == 2
    assert {s.not_before for s in sends} == {NOW}
    assert sum(1 for s in sends if s.account_id == "sms-2") == 6


def test_b11_two_numbers_share_3000_a_day_and_the_rest_waits() -> None:
    """SPEC B11 with its own numbers: 3,100 recipients and two fresh numbers send 3,000
    on the first day and 100 on the next."""
    outcomes, summary = run(
        plan_broadcast(sms_draft(), sms_people(3100), profile=EXPERTCONNECT, now=NOW)
    )
    assert summary.planned == 3100
    sends = sends_of(outcomes)
    for account in ("sms-1", "sms-2"):
        days = recipients_per_local_day([s for s in sends if s.account_id == account], UTC)
        assert days[NOW.date()] == 1500
        assert max(days.values()) <= 1500
    assert sum(1 for s in sends if s.not_before.date() == NOW.date() + DAY) == 100
    assert summary.days_spanned == 2


def test_b11_team_selection_chooses_the_numbers_that_send() -> None:
    """SPEC B11: a user in several teams picks the team; only its numbers send."""
    senders = (
        Sender("sms-1", K.SMS, team="service"),
        Sender("sms-2", K.SMS, team="service"),
        Sender("sms-3", K.SMS, team="sales"),
    )
    sales = sms_draft(senders=senders, team="sales")
    outcomes, _ = run(plan_broadcast(sales, sms_people(6), profile=EXPERTCONNECT, now=NOW))
    assert {s.account_id for s in sends_of(outcomes)} == {"sms-3"}
    nobody = sms_draft(senders=senders, team="marketing")
    with pytest.raises(DraftError) as refused:
        plan_broadcast(nobody, sms_people(1), profile=EXPERTCONNECT, now=NOW)
    assert ("team", "B11") in {(p, r) for p, r, _ in refused.value.problems}


def test_b11_double_opt_in_prompts_count_toward_the_daily_cap() -> None:
    """SPEC B11, B12: a prompt is a message to a recipient that day: a full number
    prompts the next day."""
    today = NOW.date()
    usage = {a: SenderUsage(day=today, recipients_today=1500) for a in ("sms-1", "sms-2")}
    outcomes, _ = run(
        plan_broadcast(
            sms_draft(), sms_people(2, subs={}), profile=EXPERTCONNECT, now=NOW, usage=usage
        )
    )
    prompts = [s for s in sends_of(outcomes) if s.kind is SendKind.PROMPT]
    assert len(prompts) == 2
    assert min(s.not_before for s in prompts) == datetime(2026, 12, 2, tzinfo=UTC)


# --- B12: double opt-in -----------------------------------------------------------------


def test_b12_a_contact_not_asked_is_held_with_a_prompt_and_a_reminder() -> None:
    """SPEC B12: the first broadcast to a contact is held; the prompt goes at the first
    slot and again 24 h later; nothing of the broadcast itself is planned."""
    (outcome,) = plan_broadcast(sms_draft(), sms_people(1, subs={}), profile=EXPERTCONNECT, now=NOW)
    prompt_text = EXPERTCONNECT.capabilities(K.SMS, as_of=NOW).double_opt_in.prompt  # type: ignore[union-attr]
    assert (outcome.outcome, outcome.reason, outcome.rule) == (
        OutcomeKind.HELD,
        "opt_in_required",
        "B12",
    )
    assert [(s.kind, s.number, s.not_before, s.text) for s in outcome.sends] == [
        (SendKind.PROMPT, 1, NOW, prompt_text),
        (SendKind.REMINDER, 2, NOW + DAY, prompt_text),
    ]
    assert outcome.messages == 0


def test_b12_a_prompted_contact_gets_only_the_reminder_when_it_is_due() -> None:
    """SPEC B12: a contact already prompted gets the reminder 24 h after the prompt (now
    if that is past), and nothing once both prompts went."""

    def prompted(sent: int, at: datetime) -> dict[str, OptInState]:
        state = OptInState(
            status=S.PROMPTED, prompts_sent=sent, first_prompt_at=at, last_prompt_at=at
        )
        return {"sms-1": state, "sms-2": state}

    people = [
        *sms_people(1, start=1, subs=prompted(1, NOW - 2 * HOUR)),
        *sms_people(1, start=2, subs=prompted(1, NOW - 30 * HOUR)),
        *sms_people(1, start=3, subs=prompted(2, NOW - 30 * HOUR)),
    ]
    found = by_id(plan_broadcast(sms_draft(), people, profile=EXPERTCONNECT, now=NOW))
    for outcome in found.values():
        assert (outcome.outcome, outcome.reason, outcome.rule) == (
            OutcomeKind.HELD,
            "opt_in_pending",
            "B12",
        )
    assert [(s.kind, s.number, s.not_before) for s in found["c0001"].sends] == [
        (SendKind.REMINDER, 2, NOW + 22 * HOUR)
    ]
    assert [(s.kind, s.number, s.not_before) for s in found["c0002"].sends] == [
        (SendKind.REMINDER, 2, NOW)
    ]
    assert found["c0003"].sends == ()


def test_b12_subscribed_contacts_are_planned_and_declined_ones_excluded() -> None:
    """SPEC B12: S (subscribed) gets the broadcast; N (declined) never does, nor does a
    contact who declined with any number of the team; STOP is an opt-out (X1)."""
    people = [
        *sms_people(1, start=1, subs={"sms-1": S.SUBSCRIBED, "sms-2": S.SUBSCRIBED}),
        *sms_people(1, start=2, subs={"sms-1": S.DECLINED, "sms-2": S.DECLINED}),
        *sms_people(1, start=3, subs={"sms-1": S.SUBSCRIBED, "sms-2": S.DECLINED}),
        *sms_people(1, start=4, subs={"sms-1": S.UNSUBSCRIBED, "sms-2": S.SUBSCRIBED}),
    ]
    found = by_id(plan_broadcast(sms_draft(), people, profile=EXPERTCONNECT, now=NOW))
    assert found["c0001"].outcome is OutcomeKind.PLANNED
    assert [s.kind for s in found["c0001"].sends] == [SendKind.MESSAGE]
    for cid in ("c0002", "c0003"):
        assert (found[cid].outcome, found[cid].reason, found[cid].rule) == (
            OutcomeKind.EXCLUDED,
            "opt_in_declined",
            "B12",
        )
        assert found[cid].sends == ()
    assert (found["c0004"].reason, found["c0004"].rule) == ("opted_out", "X1")


# --- B13, B14: WhatsApp messaging tiers (LiveTex) ------------------------------------------

WA_WINDOW = timedelta(hours=24)


def wa_draft(**extra: Any) -> Draft:
    return make_draft(
        {K.WHATSAPP: messages("Winter offer", template="winter_offer")},
        [Sender("wa-1", K.WHATSAPP)],
        channels=frozenset({K.WHATSAPP}),
        **extra,
    )


def wa_people(count: int, *, start: int = 0, inbound: datetime | None = None) -> list[Contact]:
    return [
        person(
            f"w{n:05d}",
            phone=phone_of(n, "+3461"),
            last=K.WHATSAPP,
            identities=[ident("wa-1", K.WHATSAPP, phone_of(n, "+3461"), inbound)]
            if inbound is not None
            else (),
        )
        for n in range(start, start + count)
    ]


def _counted(outcomes: list[ContactOutcome], window_open: set[str]) -> list[tuple[datetime, str]]:
    return [
        (s.not_before, s.contact_id) for s in sends_of(outcomes) if s.contact_id not in window_open
    ]


def test_b13_tier_1_allows_1000_unique_recipients_in_any_rolling_24h() -> None:
    """SPEC B13: a new number reaches at most 1,000 unique recipients in any rolling
    24 h, counting what it sent already."""
    earlier = [(NOW - 23 * HOUR, f"old-{n}") for n in range(995)]
    usage = {"wa-1": SenderUsage(recent=earlier)}
    outcomes, summary = run(
        plan_broadcast(wa_draft(), wa_people(20), profile=LIVETEX, now=NOW, usage=usage)
    )
    assert summary.planned == 20
    sends = _counted(outcomes, set())
    assert sum(1 for at, _ in sends if at < NOW + HOUR) == 5
    assert min(at for at, _ in sends) == NOW
    # the others go once the 995 earlier sends leave the window, not a day later
    assert max(at for at, _ in sends) <= NOW + 2 * HOUR
    assert most_unique_in_rolling([*earlier, *sends], WA_WINDOW, since=NOW) <= 1000


def test_b13_replies_inside_the_window_do_not_count() -> None:
    """SPEC B13: messages to contacts whose 24 h window is open do not count toward the
    tier and need not wait for it."""
    full = [(NOW - HOUR, f"old-{n}") for n in range(1000)]
    usage = {"wa-1": SenderUsage(recent=full)}
    open_window = wa_people(5, inbound=NOW - 2 * HOUR)
    closed = wa_people(5, start=100)
    outcomes, summary = run(
        plan_broadcast(wa_draft(), [*open_window, *closed], profile=LIVETEX, now=NOW, usage=usage)
    )
    assert summary.planned == 10
    found = by_id(outcomes)
    for contact in open_window:
        assert found[contact.id].sends[0].not_before == NOW
    for contact in closed:
        # counted: waits until the earlier 1,000 leave the window
        assert found[contact.id].sends[0].not_before >= NOW + 23 * HOUR
    counted = _counted(outcomes, {c.id for c in open_window})
    assert most_unique_in_rolling([*full, *counted], WA_WINDOW, since=NOW) <= 1000


def test_b13_a_recipient_counts_in_every_window_that_holds_one_of_its_messages() -> None:
    """SPEC B13: a recipient sent two messages 20 s apart was messaged in every window
    holding either: with a limit of one, the next recipient waits for the later one to
    leave the window, not the first."""
    paced = derived(
        "livetex",
        "livetex-one-a-day",
        {"whatsapp": {"rate_per_second": 0.05, "tiers": {"limits": [1, 10]}}},
    )
    draft = make_draft(
        {K.WHATSAPP: messages("part one", "part two", template="winter_offer")},
        [Sender("wa-1", K.WHATSAPP)],
        channels=frozenset({K.WHATSAPP}),
    )
    outcomes, summary = run(plan_broadcast(draft, wa_people(2), profile=paced, now=NOW))
    assert summary.planned == 2
    first, second = outcomes
    assert [s.not_before for s in first.sends] == [NOW, NOW + timedelta(seconds=20)]
    assert second.sends[0].not_before >= first.sends[-1].not_before + WA_WINDOW
    sends = _counted(outcomes, set())
    assert most_unique_in_rolling(sends, WA_WINDOW) == 1


SMALL_TIERS = derived(
    "livetex",
    "livetex-small-tiers",
    {"whatsapp": {"tiers": {"limits": [5, 50, 500]}}},
)


def _tier_windows(
    outcomes: list[ContactOutcome], prior: list[tuple[datetime, str]], until: datetime
) -> int:
    sends = _counted(outcomes, set())
    return most_unique_in_rolling([*prior, *sends], WA_WINDOW, since=NOW, until=until)


def test_b14_the_higher_tier_applies_48h_after_the_threshold_not_sooner() -> None:
    """SPEC B14: once a number notified twice its limit in 7 days, the next tier's limit
    applies 48 h later, and not before (limits 5, 50, 500 here)."""
    # 10 unique recipients 30 h ago: the threshold (2 x 5) was reached then, so the
    # upgrade comes 18 h from now
    prior = [(NOW - 30 * HOUR, f"old-{n}") for n in range(10)]
    usage = {"wa-1": SenderUsage(recent=prior)}
    outcomes, summary = run(
        plan_broadcast(wa_draft(), wa_people(30), profile=SMALL_TIERS, now=NOW, usage=usage)
    )
    assert summary.planned == 30
    times = sorted(at for at, _ in _counted(outcomes, set()))
    upgrade = NOW + 18 * HOUR
    assert times[:5] == [NOW] * 5
    assert all(at >= upgrade for at in times[5:])
    assert times[5] == upgrade  # not a day later, when the first five leave
    assert _tier_windows(outcomes, prior, upgrade) <= 5
    assert (
        most_unique_in_rolling([*prior, *_counted(outcomes, set())], WA_WINDOW, since=upgrade) > 5
    )


def test_b14_a_threshold_reached_while_sending_upgrades_48h_later() -> None:
    """SPEC B14: the plan's own sends reach the threshold; the upgrade follows 48 h later."""
    outcomes, summary = run(plan_broadcast(wa_draft(), wa_people(60), profile=SMALL_TIERS, now=NOW))
    assert summary.planned == 60
    times = sorted(at for at, _ in _counted(outcomes, set()))
    # 5 now, 5 a day later (10 notified: the threshold), 5 on day 2, the rest on day 3
    assert times[:15] == [NOW] * 5 + [NOW + DAY] * 5 + [NOW + 2 * DAY] * 5
    assert times[15:] == [NOW + 3 * DAY] * 45
    assert _tier_windows(outcomes, [], NOW + 3 * DAY) <= 5


def test_b14_low_quality_blocks_the_upgrade() -> None:
    """SPEC B14: a number whose quality rating is low stays at its tier."""
    prior = [(NOW - 30 * HOUR, f"old-{n}") for n in range(10)]
    outcomes, summary = run(
        plan_broadcast(
            wa_draft(),
            wa_people(30),
            profile=SMALL_TIERS,
            now=NOW,
            usage={"wa-1": SenderUsage(recent=prior)},
            accounts={"wa-1": AccountState(quality_low=True)},
        )
    )
    assert summary.planned == 30
    assert _tier_windows(outcomes, prior, NOW + 8 * DAY) <= 5
    times = sorted(at for at, _ in _counted(outcomes, set()))
    assert times[::5] == [NOW + n * DAY for n in range(6)]


def test_b14_the_stored_tier_sets_the_limit() -> None:
    """SPEC B13, B14: an account at tier 2 (index 1) has that tier's limit."""
    outcomes, _ = run(
        plan_broadcast(
            wa_draft(),
            wa_people(60),
            profile=SMALL_TIERS,
            now=NOW,
            accounts={"wa-1": AccountState(tier=1)},
        )
    )
    times = sorted(at for at, _ in _counted(outcomes, set()))
    assert times[:50] == [NOW] * 50
    assert times[50] >= NOW + DAY


def test_b14_with_spec_numbers_tier_1_becomes_10000_48h_after_2000_notified() -> None:
    """SPEC B14 with the profile's own numbers: 2,000 notified 30 h ago lift the limit
    from 1,000 to 10,000 18 h from now."""
    prior = [(NOW - 30 * HOUR, f"old-{n}") for n in range(2000)]
    outcomes, summary = run(
        plan_broadcast(
            wa_draft(),
            wa_people(1100),
            profile=LIVETEX,
            now=NOW,
            usage={"wa-1": SenderUsage(recent=prior)},
        )
    )
    assert summary.planned == 1100
    times = sorted(at for at, _ in _counted(outcomes, set()))
    assert times[:1000] == [NOW] * 1000
    assert times[1000:] == [NOW + 18 * HOUR] * 100


# --- B16: a plan without broadcasts ---------------------------------------------------------

LIVETEX_BASIC = derived(
    "livetex",
    "livetex-basic",
    {"whatsapp": {"broadcasts": False}, "telegram": {"broadcasts": False}},
)


def test_b16_a_profile_without_broadcasts_refuses_the_draft() -> None:
    """SPEC B16: a channel whose plan has no broadcasts cannot be chosen."""
    draft = wa_draft()
    with pytest.raises(DraftError) as refused:
        plan_broadcast(draft, wa_people(1), profile=LIVETEX_BASIC, now=NOW)
    assert ("channels", "B16") in {(p, r) for p, r, _ in refused.value.problems}
    # the same draft is fine on the Advanced plan
    assert run(plan_broadcast(draft, wa_people(1), profile=LIVETEX, now=NOW))[1].planned == 1


def test_b16_contacts_last_on_a_channel_without_broadcasts_are_excluded() -> None:
    """SPEC B16: by default only channels with broadcasts are selected; a contact last on
    a switched-off channel is excluded because that channel has no broadcasts."""
    draft = make_draft(
        {kind: messages("hi") for kind in (K.VK, K.VIBER, K.INSTAGRAM)},
        [Sender("vk-1", K.VK), Sender("viber-1", K.VIBER), Sender("ig-1", K.INSTAGRAM)],
    )
    people = [
        person("vk", last=K.VK, identities=[ident("vk-1", K.VK, "v1", NOW - 90 * DAY)]),
        *wa_people(1),
        person("tg", last=K.TELEGRAM, identities=[ident("tg-1", K.TELEGRAM, "t1", NOW - DAY)]),
    ]
    found = by_id(plan_broadcast(draft, people, profile=LIVETEX_BASIC, now=NOW))
    assert found["vk"].outcome is OutcomeKind.PLANNED
    for cid in ("w00000", "tg"):
        assert found[cid].outcome is OutcomeKind.EXCLUDED
        assert found[cid].reason == "broadcasts_not_supported"


# --- B17: paid messages ------------------------------------------------------------------


def test_b17_whatsapp_templates_are_paid_and_other_channels_free() -> None:
    """SPEC B17: on LiveTex, WhatsApp messages are paid; Telegram, VK, Viber and
    Instagram are free; the plan reports the paid count."""
    content = {
        K.WHATSAPP: messages("Offer", "Details", template="winter_offer"),
        K.TELEGRAM: messages("Offer"),
        K.VK: messages("Offer"),
        K.VIBER: messages("Offer"),
        K.INSTAGRAM: messages("Offer"),
    }
    senders = [Sender(f"{k.value}-1", k) for k in content]
    draft = make_draft(content, senders)
    people = [
        *wa_people(3),
        *(
            person(
                f"{k.value}-{n}",
                last=k,
                identities=[ident(f"{k.value}-1", k, f"u{n}", NOW - 40 * DAY)],
            )
            for k in (K.TELEGRAM, K.VK, K.VIBER, K.INSTAGRAM)
            for n in range(2)
        ),
    ]
    outcomes, summary = run(plan_broadcast(draft, people, profile=LIVETEX, now=NOW))
    assert summary.planned == 11
    assert summary.messages == 6 + 8
    assert summary.paid_messages == 6
    assert summary.by_channel[K.WHATSAPP].paid_messages == 6
    for kind in (K.TELEGRAM, K.VK, K.VIBER, K.INSTAGRAM):
        assert summary.by_channel[kind].paid_messages == 0
    for send in sends_of(outcomes):
        assert send.paid is (send.channel is K.WHATSAPP)
    assert summary.to_dict()["paid_messages"] == 6


# --- X2: quiet hours in the recipient's local time -----------------------------------------

DAYTIME = QuietHours(start=time(9, 0), end=time(20, 0))


def _livetex_tg(**extra: Any) -> Draft:
    return make_draft(
        {K.TELEGRAM: messages("hi")},
        [Sender("tg-1", K.TELEGRAM)],
        channels=frozenset({K.TELEGRAM}),
        **extra,
    )


def _tg(cid: str, **fields: Any) -> Contact:
    return person(
        cid, last=K.TELEGRAM, identities=[ident("tg-1", K.TELEGRAM, cid, NOW - 10 * DAY)], **fields
    )


def test_x2_a_send_in_quiet_hours_moves_to_the_next_allowed_time() -> None:
    """SPEC X2: 12:00 UTC is 21:00 in Tokyo, past 20:00: the send waits for 09:00 there."""
    (outcome,) = plan_broadcast(
        _livetex_tg(quiet_hours=DAYTIME), [_tg("tokyo", tz="Asia/Tokyo")], profile=LIVETEX, now=NOW
    )
    (send,) = outcome.sends
    assert send.not_before == datetime(2026, 12, 2, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo"))


def test_x2_the_contacts_zone_comes_first_then_the_phone_then_the_account() -> None:
    """SPEC X2: the recipient's zone is the contact's own, else the phone's (every zone
    of it must allow), else the sending account's."""
    people = [
        # own zone wins over the phone's (Madrid: 13:00 now, allowed)
        _tg("own", tz="Europe/Madrid", phone="+12125550100"),
        # no zone: the phone's (New York: 07:00 now, not allowed until 09:00)
        _tg("phone", phone="+12125550101"),
        # a zone no one has: the phone's
        _tg("bad-zone", tz="Mars/Olympus_Mons", phone="+12125550102"),
        # neither: the account's (Los Angeles: 04:00 now)
        _tg("nothing"),
    ]
    accounts = {"tg-1": AccountState(timezone="America/Los_Angeles")}
    found = by_id(
        plan_broadcast(
            _livetex_tg(quiet_hours=DAYTIME), people, profile=LIVETEX, now=NOW, accounts=accounts
        )
    )
    new_york = ZoneInfo("America/New_York")
    assert found["own"].sends[0].not_before == NOW
    assert found["phone"].sends[0].not_before == datetime(2026, 12, 1, 9, tzinfo=new_york)
    assert found["bad-zone"].sends[0].not_before == datetime(2026, 12, 1, 9, tzinfo=new_york)
    assert found["nothing"].sends[0].not_before == datetime(
        2026, 12, 1, 9, tzinfo=ZoneInfo("America/Los_Angeles")
    )


def test_x2_a_phone_with_several_zones_waits_until_all_of_them_allow() -> None:
    """SPEC X2: a Russian mobile number may be anywhere from Kaliningrad to Kamchatka:
    only the hours every one of its zones allows are used."""
    phone = "+79161234567"
    contact = person("ru", phone=phone, last=K.SMS, subs=subscribed("sms-1"))
    draft = sms_draft(senders=(Sender("sms-1", K.SMS),), quiet_hours=DAYTIME)
    (outcome,) = plan_broadcast(draft, [contact], profile=EXPERTCONNECT, now=NOW)
    (send,) = outcome.sends
    zones = recipient_zones(contact, UTC)
    assert len(zones) > 5
    for where in zones:
        assert allowed_at(local_clock(send.not_before, where), DAYTIME), where
    # and it is the first such instant: a minute earlier some zone forbids it
    earlier = send.not_before - timedelta(minutes=1)
    assert earlier < NOW or not all(
        allowed_at(local_clock(earlier, where), DAYTIME) for where in zones
    )


def test_x2_a_contacts_zones_do_not_depend_on_the_other_contacts_planned() -> None:
    """SPEC X2, X5: a New York number is planned in New York's hours whatever was planned
    before it, even a number of the same first digits that has no zone."""
    no_zone = "+1646201001"  # nine national digits: no valid number, so no time zone
    new_york = "+16462015555"
    assert not phonenumbers.is_valid_number(phonenumbers.parse(no_zone))
    assert phonenumbers.is_valid_number(phonenumbers.parse(new_york))
    draft = sms_draft(senders=(Sender("sms-1", K.SMS),), quiet_hours=DAYTIME)
    accounts = {"sms-1": AccountState(timezone="Asia/Tokyo")}
    first = person("first", phone=no_zone, last=K.SMS, subs=subscribed("sms-1"))
    second = person("second", phone=new_york, last=K.SMS, subs=subscribed("sms-1"))
    found = by_id(
        plan_broadcast(draft, [first, second], profile=EXPERTCONNECT, now=NOW, accounts=accounts)
    )
    # 12:00 UTC is 07:00 in New York: the send waits for 09:00 there (14:00 UTC), not
    # for 09:00 in Tokyo, the account's zone
    (send,) = found["second"].sends
    assert send.not_before == datetime(2026, 12, 1, 9, tzinfo=ZoneInfo("America/New_York"))
    (alone,) = plan_broadcast(draft, [second], profile=EXPERTCONNECT, now=NOW, accounts=accounts)
    assert alone.sends[0].not_before == send.not_before


def test_x2_the_profiles_and_the_drafts_quiet_hours_both_apply() -> None:
    """SPEC X2: the profile's allowed hours (08:00-21:00) and the draft's (10:00-22:00)
    both hold: sends go between 10:00 and 21:00 local time."""
    profile = derived(
        "livetex",
        "livetex-quiet",
        {"telegram": {"quiet_hours": {"start": "08:00", "end": "21:00"}}},
    )
    draft = _livetex_tg(
        quiet_hours=QuietHours(start=time(10), end=time(22)), rate=Rate(messages=1, per=HOUR)
    )
    people = [_tg(f"m{n:02d}", tz="Europe/Madrid") for n in range(30)]
    outcomes, summary = run(plan_broadcast(draft, people, profile=profile, now=NOW))
    assert summary.planned == 30
    madrid = ZoneInfo("Europe/Madrid")
    hours = [local_clock(s.not_before, madrid) for s in sends_of(outcomes)]
    assert all(time(10) <= h < time(21) for h in hours)
    # 13:00 to 20:00 today, then from 10:00: the 21:00 hour the draft allows is not used
    assert sorted({h.hour for h in hours}) == list(range(10, 21))


def test_x2_allowed_hours_across_midnight() -> None:
    """SPEC X2: allowed hours from 22:00 to 06:00 send only at night, local time."""
    night = QuietHours(start=time(22), end=time(6))
    kolkata = ZoneInfo("Asia/Kolkata")
    people = [_tg(f"n{n:02d}", tz="Asia/Kolkata") for n in range(12)]
    # 12:00 UTC is 17:30 in Kolkata: without a rate, everyone goes at 22:00
    outcomes, _ = run(
        plan_broadcast(_livetex_tg(quiet_hours=night), people, profile=LIVETEX, now=NOW)
    )
    assert {s.not_before for s in sends_of(outcomes)} == {datetime(2026, 12, 1, 22, tzinfo=kolkata)}
    # one an hour: from 22:00 to 06:00 only, across midnight
    paced = _livetex_tg(quiet_hours=night, rate=Rate(messages=1, per=HOUR))
    outcomes, _ = run(plan_broadcast(paced, people, profile=LIVETEX, now=NOW))
    hours = [local_clock(s.not_before, kolkata) for s in sends_of(outcomes)]
    assert all(allowed_at(h, night) for h in hours)
    assert {h.hour for h in hours} >= {22, 23, 0, 5}


# --- X4: the frequency cap --------------------------------------------------------------


def test_x4_the_frequency_cap_counts_earlier_broadcasts() -> None:
    """SPEC X4: no more than 2 marketing messages per contact per 7 days, counting what
    earlier broadcasts sent."""
    cap = FrequencyCap(messages=2, period=timedelta(days=7))
    people = sms_people(4)
    history = {
        "c0000": [NOW - DAY, NOW - 2 * DAY],  # two this week: no more
        "c0001": [NOW - 8 * DAY, NOW - DAY],  # one this week: one more
        "c0002": [],
        # c0003: no history at all
    }
    found = by_id(
        plan_broadcast(
            sms_draft(frequency_cap=cap), people, profile=EXPERTCONNECT, now=NOW, history=history
        )
    )
    assert (found["c0000"].outcome, found["c0000"].reason, found["c0000"].rule) == (
        OutcomeKind.EXCLUDED,
        "frequency_cap",
        "X4",
    )
    for cid in ("c0001", "c0002", "c0003"):
        assert found[cid].outcome is OutcomeKind.PLANNED
    # two messages to a contact with one this week would make three
    two = sms_draft("one", "two", frequency_cap=cap)
    found = by_id(
        plan_broadcast(
            two, people, profile=EXPERTCONNECT, now=NOW, history=lambda cid: history.get(cid, [])
        )
    )
    assert found["c0001"].reason == "frequency_cap"
    assert found["c0002"].outcome is OutcomeKind.PLANNED


def test_x4_the_period_counts_back_from_the_start() -> None:
    """SPEC X4: a send 5 days before now is outside a 7-day period of a broadcast that
    starts 3 days from now."""
    cap = FrequencyCap(messages=1, period=timedelta(days=7))
    draft = sms_draft(frequency_cap=cap, schedule=Schedule(start=NOW + 3 * DAY))
    history = {"c0000": [NOW - 5 * DAY], "c0001": [NOW - 3 * DAY]}
    found = by_id(
        plan_broadcast(draft, sms_people(2), profile=EXPERTCONNECT, now=NOW, history=history)
    )
    assert found["c0000"].outcome is OutcomeKind.PLANNED
    assert found["c0001"].reason == "frequency_cap"


# --- X5: idempotency keys ----------------------------------------------------------------


def test_x5_same_inputs_give_the_same_bytes() -> None:
    """SPEC X5: planning the same inputs twice gives byte-identical JSON Lines."""
    draft = sms_draft("Hi {{ first_name }}", "second", quiet_hours=DAYTIME, rate=Rate(2, HOUR))
    people = [*sms_people(8), *sms_people(3, start=40, subs={})]
    one = jsonl(plan_broadcast(draft, people, profile=EXPERTCONNECT, now=NOW))
    two = jsonl(plan_broadcast(draft, list(people), profile=EXPERTCONNECT, now=NOW))
    assert one == two
    assert one.count(b"\n") == 1 + len(people) + 1


_PLAN_IN_A_PROCESS = """
import sys
from datetime import time, timedelta
sys.path.insert(0, sys.argv[1])
from broadcasts.plan_strategies import *
from omnimsg.broadcasts import Rate
kinds = [K.SMS, K.WHATSAPP, K.TELEGRAM, K.VIBER, K.LINE, K.WECHAT, K.MESSENGER]
senders = tuple(Sender(f"{k.value}-{i}", k) for k in RESPONDIO_BROADCAST_KINDS for i in (1, 2))
draft = respondio_draft(
    None,
    tags=frozenset({"a", "b", "c", "zz", "q"}),
    quiet_hours=QuietHours(time(9), time(20)),
    rate=Rate(5, timedelta(minutes=1)),
    senders=senders,
)
people = []
for n in range(60):
    k = kinds[n % len(kinds)]
    phone = phone_of(n, "+3461") if n % 3 else phone_of(n, "+7916")
    address = phone if k in (K.SMS, K.WHATSAPP) else f"x{n}"
    ids = [ident(f"{k.value}-{1 + n % 2}", k, address, NOW - timedelta(hours=n))]
    people.append(
        person(
            f"p{n}",
            phone=phone,
            last=None if n % 5 == 0 else k,
            identities=ids,
            tz=None if n % 2 else "Asia/Tokyo",
        )
    )
sys.stdout.buffer.write(jsonl(plan_broadcast(draft, people, profile=RESPONDIO, now=NOW)))
"""


def test_x5_the_same_bytes_in_another_process() -> None:
    """SPEC X5: a plan re-run after a crash runs in a new process: its bytes do not
    depend on the process (string hashing, set order)."""
    tests = str(Path(__file__).resolve().parents[1])
    runs = {
        subprocess.run(
            [sys.executable, "-c", _PLAN_IN_A_PROCESS, tests],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            check=True,
            timeout=120,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(runs) == 1
    (written,) = runs
    assert written.count(b"\n") == 62


def test_x5_keys_differ_per_contact_message_and_start() -> None:
    """SPEC X5: every send has its own key; another occurrence has other keys."""
    draft = sms_draft("one", "two")
    people = [*sms_people(6), *sms_people(2, start=30, subs={})]
    first = sends_of(plan_broadcast(draft, people, profile=EXPERTCONNECT, now=NOW))
    keys = [s.key for s in first]
    assert len(keys) == len(set(keys)) == 6 * 2 + 2 * 2
    later = sends_of(
        plan_broadcast(draft, people, profile=EXPERTCONNECT, now=NOW, start=NOW + 7 * DAY)
    )
    assert not {s.key for s in later} & set(keys)
    other = sends_of(
        plan_broadcast(attrs.evolve(draft, id="bc-2"), people, profile=EXPERTCONNECT, now=NOW)
    )
    assert not {s.key for s in other} & set(keys)


def test_x5_a_key_does_not_depend_on_the_account() -> None:
    """SPEC X5: a contact's message keeps its key whichever number sends it."""
    today = NOW.date()
    draft = sms_draft("one", "two")
    people = sms_people(4)
    full_1 = {"sms-1": SenderUsage(day=today, recipients_today=1500)}
    full_2 = {"sms-2": SenderUsage(day=today, recipients_today=1500)}
    via_2 = sends_of(plan_broadcast(draft, people, profile=EXPERTCONNECT, now=NOW, usage=full_1))
    via_1 = sends_of(plan_broadcast(draft, people, profile=EXPERTCONNECT, now=NOW, usage=full_2))
    assert {s.account_id for s in via_2} == {"sms-2"}
    assert {s.account_id for s in via_1} == {"sms-1"}
    assert [(s.contact_id, s.number, s.key) for s in via_2] == [
        (s.contact_id, s.number, s.key) for s in via_1
    ]


# --- A2, A3, A4: explicit audiences -------------------------------------------------------


def test_a3_a4_a_pasted_id_list_counts_duplicates_once_and_reports_other_accounts() -> None:
    """SPEC A3: duplicates count once. SPEC A4: an id of another account is not sent
    to, and is reported, as is an id no contact has."""
    ids = ("u1", "u2", "u1", "u-other", "u-none", "u2")
    draft = make_draft(
        {K.TELEGRAM: messages("news")},
        [Sender("tg-1", K.TELEGRAM), Sender("tg-2", K.TELEGRAM)],
        targeting=Targeting.ACCOUNT,
        account="tg-1",
        audience=Audience(id_list=ids, id_list_account="tg-1"),
    )
    people = [
        person("c1", identities=[ident("tg-1", K.TELEGRAM, "u1")]),
        person("c2", identities=[ident("tg-1", K.TELEGRAM, "u2")]),
        person("c3", identities=[ident("tg-2", K.TELEGRAM, "u-other")]),
        person("c4", identities=[ident("tg-1", K.TELEGRAM, "u4")]),  # not in the list
    ]
    outcomes, summary = run(
        plan_broadcast(draft, MemoryContactStore(people), profile=RESPONDIO, now=NOW)
    )
    assert [(o.entry, o.outcome.value, o.reason, o.rule) for o in outcomes] == [
        ("u1", "planned", None, None),
        ("u2", "planned", None, None),
        ("u1", "excluded", "duplicate", "A3"),
        ("u-other", "excluded", "other_account", "A4"),
        ("u-none", "excluded", "unknown_id", "A4"),
        ("u2", "excluded", "duplicate", "A3"),
    ]
    assert [o.contact_id for o in outcomes[:2]] == ["c1", "c2"]
    assert summary.audience == len(ids)
    assert summary.recipients == 2
    assert {s.address for s in sends_of(outcomes)} == {"u1", "u2"}
    # a plain list of contacts is read the same way
    again, _ = run(plan_broadcast(draft, people, profile=RESPONDIO, now=NOW))
    assert [(o.entry, o.reason) for o in again] == [(o.entry, o.reason) for o in outcomes]


def test_a3_a_contact_streamed_twice_is_planned_once() -> None:
    """SPEC A3, X5: a source that yields a contact twice (a join, a repeated row) plans
    it once: one recipient, one send per message, every key once."""
    draft = sms_draft()
    twice = sms_people(1)
    outcomes, summary = run(
        plan_broadcast(
            draft, [*twice, *sms_people(1, start=1), *twice], profile=EXPERTCONNECT, now=NOW
        )
    )
    assert summary.recipients == 2
    keys = [s.key for s in sends_of(outcomes)]
    assert len(keys) == len(set(keys)) == 2
    assert [(o.entry, o.outcome.value, o.reason) for o in outcomes][-1] == (
        "c0000",
        "excluded",
        "duplicate",
    )


def test_a2_a3_explicit_contact_ids_once_each_and_unknown_ones_reported() -> None:
    """SPEC A2, A3: an audience of contacts: each once, an unknown id reported."""
    draft = sms_draft(audience=Audience(contact_ids=("c0000", "c0001", "c0000", "ghost")))
    outcomes, summary = run(plan_broadcast(draft, sms_people(3), profile=EXPERTCONNECT, now=NOW))
    assert [(o.entry, o.outcome.value, o.reason) for o in outcomes] == [
        ("c0000", "planned", None),
        ("c0001", "planned", None),
        ("c0000", "excluded", "duplicate"),
        ("ghost", "excluded", "unknown_contact"),
    ]
    assert summary.recipients == 2


# --- W2, W4, W5, W6 through the planner -----------------------------------------------------


def test_w2_a_closed_whatsapp_window_needs_a_template() -> None:
    """SPEC W2: text alone goes only inside the 24 h window; after it, only a template."""
    draft = respondio_draft([K.WHATSAPP])
    people = [
        _on(K.WHATSAPP, "open", inbound=NOW - HOUR),
        _on(K.WHATSAPP, "closed", inbound=NOW - 30 * HOUR),
    ]
    found = by_id(plan_broadcast(draft, people, profile=RESPONDIO, now=NOW))
    assert found["open"].outcome is OutcomeKind.PLANNED
    assert found["open"].sends[0].mode is Mode.FREE_FORM
    assert (found["closed"].outcome, found["closed"].reason, found["closed"].rule) == (
        OutcomeKind.EXCLUDED,
        "template_required",
        "W2",
    )
    templated = respondio_draft(
        [K.WHATSAPP], content={K.WHATSAPP: messages("Offer", template="offer")}
    )
    found = by_id(plan_broadcast(templated, people, profile=RESPONDIO, now=NOW))
    assert found["closed"].outcome is OutcomeKind.PLANNED
    assert found["closed"].sends[0].mode is Mode.TEMPLATE


def test_w2_a_window_that_closes_before_the_allowed_hours_needs_a_template() -> None:
    """SPEC W2, X2: an open window that closes before quiet hours end is no window."""
    draft = respondio_draft([K.WHATSAPP], quiet_hours=DAYTIME)
    # 12:00 UTC is 07:00 in New York; the window closes at 08:00 there
    contact = attrs.evolve(
        _on(K.WHATSAPP, "early", inbound=NOW - 23 * HOUR), timezone="America/New_York"
    )
    (outcome,) = plan_broadcast(draft, [contact], profile=RESPONDIO, now=NOW)
    assert (outcome.outcome, outcome.reason) == (OutcomeKind.EXCLUDED, "template_required")


INSTAGRAM_ON = derived("respondio", "respondio-instagram", {"instagram": {"broadcasts": True}})


def test_w4_instagram_sends_nothing_after_its_window() -> None:
    """SPEC W4: after the window, nothing goes to an Instagram contact; the HUMAN_AGENT
    tag extends it to 7 days."""
    people = [
        _on(K.INSTAGRAM, "recent", inbound=NOW - HOUR),
        _on(K.INSTAGRAM, "two-days", inbound=NOW - 2 * DAY),
        _on(K.INSTAGRAM, "eight-days", inbound=NOW - 8 * DAY),
    ]
    plain = make_draft(
        {K.INSTAGRAM: messages("hi")},
        [Sender("instagram-1", K.INSTAGRAM)],
        channels=frozenset({K.INSTAGRAM}),
    )
    found = by_id(plan_broadcast(plain, people, profile=INSTAGRAM_ON, now=NOW))
    assert found["recent"].outcome is OutcomeKind.PLANNED
    # within 7 days only a tagged message may go (W3); after them, nothing at all
    assert (found["two-days"].outcome, found["two-days"].reason) == (
        OutcomeKind.EXCLUDED,
        "tag_required",
    )
    assert (found["eight-days"].reason, found["eight-days"].rule) == ("window_closed", "W4")
    tagged = make_draft(
        {K.INSTAGRAM: messages("hi", tag="HUMAN_AGENT")},
        [Sender("instagram-1", K.INSTAGRAM)],
        channels=frozenset({K.INSTAGRAM}),
    )
    found = by_id(plan_broadcast(tagged, people, profile=INSTAGRAM_ON, now=NOW))
    assert found["two-days"].outcome is OutcomeKind.PLANNED
    assert (found["eight-days"].reason, found["eight-days"].rule) == ("window_closed", "W4")


def test_w5_wechat_window_and_its_cap() -> None:
    """SPEC W5: WeChat sends only inside its 48 h window, at most 20 outbound in it."""
    store = MemoryStateStore()
    for cid, sent in (("full", 20), ("one-left", 19), ("room", 10)):
        store.put_conversation(
            cid,
            "wechat-1",
            ConversationState(last_inbound_at=NOW - HOUR, outbound_since_inbound=sent),
        )
    people = [
        _on(K.WECHAT, "full"),
        _on(K.WECHAT, "one-left"),
        _on(K.WECHAT, "room"),
        _on(K.WECHAT, "old", inbound=NOW - 50 * HOUR),
    ]
    draft = respondio_draft([K.WECHAT], content={K.WECHAT: messages("one", "two")})
    found = by_id(plan_broadcast(draft, people, profile=RESPONDIO, now=NOW, state=store))
    assert found["room"].outcome is OutcomeKind.PLANNED
    assert len(found["room"].sends) == 2
    for cid in ("full", "one-left"):
        assert (found[cid].reason, found[cid].rule) == ("window_cap_reached", "W5")
    assert found["old"].reason == "window_closed"


def test_w6_viber_chatbot_quota_and_paid_terms() -> None:
    """SPEC W6: outside its window a Viber bot has 10,000 free messages a month; beyond
    them, only with paid terms (and then paid)."""
    people = [_on(K.VIBER, f"v{n}", inbound=NOW - 2 * DAY) for n in range(3)]
    draft = respondio_draft([K.VIBER])
    used = AccountState(chatbot_month=(2026, 12), chatbot_initiated_count=9_999)
    outcomes, summary = run(
        plan_broadcast(draft, people, profile=RESPONDIO, now=NOW, accounts={"viber-1": used})
    )
    assert [(o.outcome.value, o.reason) for o in outcomes] == [
        ("planned", None),
        ("excluded", "chatbot_quota_exhausted"),
        ("excluded", "chatbot_quota_exhausted"),
    ]
    assert reason_rule("chatbot_quota_exhausted") == "W6"
    assert summary.paid_messages == 0
    paying = attrs.evolve(used, paid_chatbot_terms=True)
    outcomes, summary = run(
        plan_broadcast(draft, people, profile=RESPONDIO, now=NOW, accounts={"viber-1": paying})
    )
    assert summary.planned == 3
    assert [s.paid for s in sends_of(outcomes)] == [False, True, True]
    assert {s.mode for s in sends_of(outcomes)} == {Mode.CHATBOT_INITIATED}
    assert summary.paid_messages == 2
    # last month's count is no count this month
    old = AccountState(chatbot_month=(2026, 11), chatbot_initiated_count=10_000)
    _, summary = run(
        plan_broadcast(draft, people, profile=RESPONDIO, now=NOW, accounts={"viber-1": old})
    )
    assert summary.planned == 3
