"""The dispatcher's re-checks under the platforms' dated rules: a region's cap (P12).

A plan counts only the earlier messages it is given; at send time the dispatcher
reserves each message against the frequency cap of every region the number is in
on that date (three in any 24 h for Florida from 2021-07-01), beside the draft's
own cap (X4), so two broadcasts planned apart still keep it. Every test runs on the
in-memory store and on a SQLite file.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from broadcasts.plan_strategies import K, ident, make_draft, messages, most_in_window, person
from omnimsg.broadcasts import FrequencyCap, Sender
from omnimsg.channels.registry import Profile, load_profile, profile_from_dict
from omnimsg.contacts import Contact
from omnimsg.delivery import on_inbound
from omnimsg.errors import InputError
from omnimsg.protocols import DeliveryStore
from omnimsg.state import AccountState

from .test_dispatcher import STORES, World, open_stores, plan_text, run_text

DAY = timedelta(days=1)


def _profile(**sms: Any) -> Profile:
    channel: dict[str, Any] = {
        "rate_per_second": 1,
        "quiet_hours": {"start": "08:00", "end": "21:00"},
        "regions": {
            "US-FL": [
                {
                    "value": {
                        "country": "US",
                        "area_codes": ["305", "786"],
                        "quiet_hours": {"start": "08:00", "end": "20:00"},
                        "frequency_cap": {"messages": 3, "period": "24h"},
                    },
                    "effective_from": date(2021, 7, 1),
                }
            ]
        },
    }
    channel.update(sms)
    return profile_from_dict({"name": "us-sms-steps", "channels": {"sms": channel}})


PROFILE = _profile()


@pytest.fixture(params=STORES)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    yield from open_stores(request.param, tmp_path)


@pytest.fixture
def store(make_store: Callable[..., DeliveryStore]) -> DeliveryStore:
    return make_store()


def _draft(draft_id: str, count: int, **extra: Any) -> Any:
    return make_draft(
        {K.SMS: messages(*(f"{draft_id} part {n + 1}" for n in range(count)))},
        [Sender("sms-1", K.SMS)],
        draft_id=draft_id,
        **extra,
    )


def _people() -> list[Contact]:
    return [
        person("fl", phone="+13055550100", last=K.SMS),
        person("ny", phone="+12125550100", last=K.SMS),
    ]


def _run_two(
    store: DeliveryStore, start: datetime, profile: Profile = PROFILE, **extra: Any
) -> dict[str, list[datetime]]:
    """Two broadcasts of two messages each, planned apart (the second knows nothing of
    the first), dispatched one after the other; each contact's accepted instants."""
    world = World(store, start)
    transport = world.transport()
    for draft_id in ("bc-a", "bc-b"):
        now = world.clock.now()
        text = plan_text(_draft(draft_id, 2, **extra), _people(), profile=profile, now=now)
        report = run_text(world.dispatcher(transport, profile=profile), text)
        assert report.counts == {"sent": 4}, report.counts
    sent: dict[str, list[datetime]] = defaultdict(list)
    for at, request in world.accepted:
        sent[str(request.contact_id)].append(at)
    return dict(sent)


def test_p12_the_dispatcher_keeps_a_florida_number_to_3_in_any_24h(store: DeliveryStore) -> None:
    """SPEC P12, X4: the fourth message to a 305 number within a day waits until the
    first is 24 h old; a New York number gets all four at once."""
    sent = _run_two(store, datetime(2026, 12, 1, 12, tzinfo=UTC))
    fl = sorted(sent["fl"])
    assert len(fl) == 4
    assert most_in_window(fl, DAY) == 3
    assert fl[3] >= fl[0] + DAY
    # Carried to the next day, a send keeps an hour inside that day's hours (X2: safe
    # across a clock change), so it goes by 09:00 local, not at 08:00.
    assert fl[3] < fl[0] + DAY + timedelta(minutes=65)
    ny = sorted(sent["ny"])
    assert len(ny) == 4
    assert ny[-1] - ny[0] < timedelta(hours=1)


def test_p12_the_dispatcher_applies_no_region_cap_before_the_rule(store: DeliveryStore) -> None:
    """SPEC P12: on 2021-06-29 Florida's rule is not in force: four messages in a day."""
    sent = _run_two(store, datetime(2021, 6, 29, 13, tzinfo=UTC))
    assert most_in_window(sent["fl"], DAY) == 4


def test_p12_the_region_cap_and_the_drafts_cap_both_hold(store: DeliveryStore) -> None:
    """SPEC P12, X4: a draft cap of 10 a week does not loosen Florida's 3 a day, and
    Florida's 3 a day does not loosen a draft cap of 2 a day: the stricter wins."""
    loose = FrequencyCap(messages=10, period=timedelta(days=7))
    sent = _run_two(store, datetime(2026, 12, 1, 12, tzinfo=UTC), frequency_cap=loose)
    assert most_in_window(sent["fl"], DAY) == 3
    assert most_in_window(sent["ny"], DAY) == 4


def test_p12_a_stricter_draft_cap_wins_over_the_regions(store: DeliveryStore) -> None:
    """SPEC P12, X4: with a draft cap of 2 a day, the Florida number gets 2 a day too."""
    tight = FrequencyCap(messages=2, period=DAY)
    sent = _run_two(store, datetime(2026, 12, 1, 12, tzinfo=UTC), frequency_cap=tight)
    assert most_in_window(sent["fl"], DAY) == 2
    assert most_in_window(sent["ny"], DAY) == 2


def test_p12_the_region_cap_counts_no_prompt(make_store: Callable[..., DeliveryStore]) -> None:
    """SPEC P12, B12: a double opt-in prompt is not a marketing message: three messages
    in the day do not hold it back."""
    world = World(make_store(), datetime(2026, 12, 1, 12, tzinfo=UTC))
    transport = world.transport()
    fl = [person("fl", phone="+13055550100", last=K.SMS)]
    text = plan_text(_draft("bc-a", 3), fl, profile=PROFILE, now=world.clock.now())
    assert run_text(world.dispatcher(transport, profile=PROFILE), text).counts == {"sent": 3}
    asking = _profile(double_opt_in={"prompt": "Reply S or N"})
    text = plan_text(_draft("bc-b", 1), fl, profile=asking, now=world.clock.now())
    report = run_text(world.dispatcher(transport, profile=asking), text)
    assert report.counts["sent"] >= 1
    instants = sorted(at for at, _ in world.accepted)
    assert most_in_window(instants, DAY) == 4  # three messages and the prompt


def test_p12_the_official_profile_caps_a_florida_number_in_the_dispatcher(
    store: DeliveryStore,
) -> None:
    """SPEC P12 with the built-in official profile (2026): three in any 24 h."""
    sent = _run_two(store, datetime(2026, 12, 1, 12, tzinfo=UTC), load_profile("official"))
    assert most_in_window(sent["fl"], DAY) == 3
    assert most_in_window(sent["ny"], DAY) == 4


# --- rates and quotas that decide() reports with a time (P5, P11) ------------------------


def _dispatch(
    store: DeliveryStore,
    profile: Profile,
    draft: Any,
    people: list[Contact],
    *,
    planned_under: Profile | None = None,
) -> Any:
    world = World(store, datetime(2026, 12, 1, 12, tzinfo=UTC))
    transport = world.transport()
    for contact in people:  # each has written before: the store knows the conversation
        on_inbound(
            store,
            contact_id=contact.id,
            account_id="sms-1",
            channel="sms",
            message_id=f"in-{contact.id}",
            at=world.clock.now() - timedelta(days=3),
            now=world.clock.now(),
            profile=profile,
        )
    text = plan_text(draft, people, profile=planned_under or profile, now=world.clock.now())
    report = run_text(world.dispatcher(transport, profile=profile), text)
    return report, world.accepted


def test_p5_a_second_message_within_the_pair_interval_waits_instead_of_being_skipped(
    store: DeliveryStore,
) -> None:
    """SPEC P5: at most one message per 6 s to one recipient; the dispatcher defers the
    second message to the instant decide() names, and both go."""
    profile = _profile(recipient_interval="6s")
    report, accepted = _dispatch(store, profile, _draft("bc-p", 2), [_people()[1]])
    assert report.counts == {"sent": 2}, report.counts
    times = sorted(at for at, _ in accepted)
    assert times[1] - times[0] >= timedelta(seconds=6)


def test_p11_the_monthly_quota_is_shared_by_the_sends_of_a_run(store: DeliveryStore) -> None:
    """SPEC P11: with a quota of one business-initiated message a month, the second
    contact's message cannot go before next month, after the broadcast ends. (The
    planner counts the quota too and would leave the second contact out: the plan is
    made here without one, as by a business whose quota was lowered after planning.)"""
    profile = _profile(monthly_quota=1)
    report, accepted = _dispatch(
        store, profile, _draft("bc-q", 1), _people(), planned_under=_profile()
    )
    assert len(accepted) == 1
    assert report.counts.get("sent") == 1
    assert sum(report.counts.values()) == 2
    assert report.counts.get("sent", 0) + report.counts.get("failed", 0) == 2


def test_p14_the_dispatcher_paces_a_sender_at_its_class_rate(store: DeliveryStore) -> None:
    """SPEC P14: a toll-free sender goes at 3 messages a second, the plan file carrying
    its class to the dispatcher; without a class the channel's 1 a second holds."""
    profile = _profile(account_rates={"toll_free": 3})
    people = [person(f"p{n}", phone=f"+1212555{n:04d}", last=K.SMS) for n in range(7)]
    spans = {}
    for sender_class in ("toll_free", None):
        world = World(store, datetime(2026, 12, 1, 12 if sender_class else 14, tzinfo=UTC))
        draft = make_draft(
            {K.SMS: messages("Hi")},
            [Sender("sms-1", K.SMS, sender_class=sender_class)],
            draft_id=f"bc-{sender_class}",
        )
        text = plan_text(draft, people, profile=profile, now=world.clock.now())
        assert ('"sender_classes"' in text.splitlines()[0]) is (sender_class is not None)
        report = run_text(world.dispatcher(world.transport(), profile=profile), text)
        assert report.counts == {"sent": 7}, report.counts
        times = sorted(at for at, _ in world.accepted)
        spans[sender_class] = times[-1] - times[0]
    assert spans["toll_free"] <= timedelta(seconds=2.5)
    assert spans[None] >= timedelta(seconds=6)


def test_p14_sender_classes_survive_the_header_round_trip() -> None:
    """SPEC P14: the header's sender classes are read back as written."""
    from omnimsg.delivery.planfile import PlanHeader, header_from_dict, header_record

    start = datetime(2026, 12, 1, 12, tzinfo=UTC)
    header = PlanHeader("b1", "n", start, start + DAY, sender_classes={"sms-1": "toll_free"})
    back = header_from_dict(header_record(header))
    assert dict(back.sender_classes) == {"sms-1": "toll_free"}
    assert "sender_classes" not in header_record(PlanHeader("b1", "n", start, start + DAY))
    with pytest.raises(InputError, match="sender_classes"):
        header_from_dict({**header_record(header), "sender_classes": {"sms-1": 3}})


# --- the official profile through the dispatcher -------------------------------------------

OFFICIAL = load_profile("official")
NEW_YORK = ZoneInfo("America/New_York")


def _official_run(world: World, draft: Any, people: list[Contact], **extra: Any) -> Any:
    text = plan_text(draft, people, profile=OFFICIAL, now=world.clock.now())
    return run_text(world.dispatcher(world.transport(), profile=OFFICIAL, **extra), text)


def test_p12_two_contacts_sharing_a_florida_number_share_its_cap(store: DeliveryStore) -> None:
    """SPEC P12: the cap is the number's: two contacts with one 305 number get three
    messages between them in any 24 h, not three each."""
    world = World(store, datetime(2026, 1, 6, 17, tzinfo=UTC))
    people = [person(f"p{n}", phone="+13055550100", last=K.SMS) for n in (1, 2)]
    report = _official_run(world, _draft("bc-s", 3), people)
    assert report.counts == {"sent": 6}, report.counts
    assert most_in_window([at for at, _ in world.accepted], DAY) == 3


def test_p12_a_send_held_by_the_cap_waits_for_floridas_hours(store: DeliveryStore) -> None:
    """SPEC P12, X2: three messages at 19:30 on 2025-03-08; the next, planned for the
    morning after, is held for 24 h, which the clock change puts at 20:30 EDT: it goes
    at 08:00 the next day instead, never after 20:00."""
    world = World(store, datetime(2025, 3, 8, 19, 30, tzinfo=NEW_YORK).astimezone(UTC))
    people = [person("fl", phone="+13055550100", last=K.SMS)]
    _official_run(world, _draft("bc-a", 3), people)
    world.clock.set(datetime(2025, 3, 9, 10, 0, tzinfo=NEW_YORK).astimezone(UTC))
    report = _official_run(world, _draft("bc-b", 1), people)
    assert report.counts == {"sent": 1}, report.counts
    for at, _ in world.accepted:
        local = at.astimezone(NEW_YORK).time()
        assert time(8) <= local < time(20), at


def test_p4_a_portfolios_numbers_share_one_count_when_sending(store: DeliveryStore) -> None:
    """SPEC P4: from 2025-10-07 the limit is the portfolio's: two numbers sending two
    broadcasts reach 250 unique users in 24 h between them, not 250 each."""
    start = datetime(2026, 1, 6, 12, tzinfo=UTC)
    world = World(store, start)
    for draft_id, account in (("bc-a", "wa-1"), ("bc-b", "wa-2")):
        world.clock.set(start)
        draft = make_draft(
            {K.WHATSAPP: messages(draft_id, template="promo")},
            [Sender(account, K.WHATSAPP)],
            draft_id=draft_id,
        )
        people = [
            person(f"{draft_id}-{n}", phone=f"+3461{n:07d}", last=K.WHATSAPP) for n in range(260)
        ]
        _official_run(world, draft, people)
    sent = [at for at, _ in world.accepted]
    assert most_in_window(sent, DAY) == 250


def test_p11_the_quota_counts_what_the_account_sent_elsewhere(store: DeliveryStore) -> None:
    """SPEC P11: an account that sent 198 of its 200 this month has two left."""
    start = datetime(2026, 1, 6, 12, tzinfo=UTC)
    world = World(store, start)
    people = [
        person(
            f"c{n}",
            last=K.LINE,
            identities=[ident("line-1", K.LINE, f"U{n:032d}", start - timedelta(days=3))],
        )
        for n in range(5)
    ]
    draft = make_draft({K.LINE: messages("hi")}, [Sender("line-1", K.LINE)])
    account = AccountState(quota_month=(2026, 1), quota_count=198)
    report = _official_run(world, draft, people, accounts={"line-1": account})
    assert report.counts == {"sent": 2, "failed": 3}, report.counts
    assert all(f.reason == "monthly_quota_reached" or f.rule == "P11" for f in report.failed)


def test_p14_a_plan_header_with_sender_classes_is_still_hashable() -> None:
    from omnimsg.delivery.planfile import PlanHeader

    start = datetime(2026, 12, 1, 12, tzinfo=UTC)
    header = PlanHeader("b1", "n", start, start + DAY, sender_classes={"sms-1": "toll_free"})
    assert hash(header) == hash(PlanHeader("b1", "n", start, start + DAY))


# --- quiet hours at send time (X2, P12) ----------------------------------------------------


def test_x2_a_late_run_keeps_each_send_within_its_recipients_hours(store: DeliveryStore) -> None:
    """SPEC X2: sends planned for 20:00 in New York (quiet from 21:00) whose dispatcher
    only runs at 22:30 go the next morning, inside the hours, not at 22:30."""
    planned_at = datetime(2026, 12, 1, 20, 0, tzinfo=NEW_YORK).astimezone(UTC)
    people = [person(f"n{n}", phone=f"+1212555{n:04d}", last=K.SMS) for n in range(3)]
    text = plan_text(_draft("bc-late", 1), people, profile=PROFILE, now=planned_at)
    assert '"hours"' in text.splitlines()[1] or '"hours"' in text
    world = World(store, datetime(2026, 12, 1, 22, 30, tzinfo=NEW_YORK).astimezone(UTC))
    report = run_text(world.dispatcher(world.transport(), profile=PROFILE), text)
    assert report.counts == {"sent": 3}, report.counts
    for at, _ in world.accepted:
        local = at.astimezone(NEW_YORK)
        assert local.date() == date(2026, 12, 2)
        assert time(8) <= local.time() < time(21)


def test_x2_a_send_that_can_find_no_hours_before_the_end_fails_as_quiet_hours() -> None:
    """SPEC X2: a late send whose hours are too short to move safely is failed and
    reported (rule X2), never sent in quiet hours."""
    from omnimsg.delivery._hours import same_hours_later

    start = datetime(2026, 12, 1, 13, tzinfo=UTC)
    hour = timedelta(hours=1)
    day_hours = (start, start + 13 * hour)
    # An hour in from each end of the next day's hours: safe across a clock change.
    assert same_hours_later(day_hours, start + 14 * hour) == start + DAY + hour
    assert same_hours_later(day_hours, start + DAY + 5 * hour) == start + DAY + 5 * hour
    assert same_hours_later((start, start + 90 * timedelta(minutes=1)), start + DAY) is None


def test_x2_an_old_plan_file_without_hours_still_reads() -> None:
    from omnimsg.delivery.planfile import send_from_dict

    record = {
        "key": "k1",
        "contact_id": "c1",
        "account_id": "sms-1",
        "channel": "sms",
        "address": "+12125550100",
        "kind": "message",
        "number": 1,
        "not_before": "2026-12-01T13:00:00+00:00",
        "batch": "sms-1/000000.000",
        "mode": "free_form",
        "paid": False,
        "text": "hi",
    }
    assert send_from_dict(record).hours is None
    hours = ["2026-12-01T13:00:00+00:00", "2026-12-02T02:00:00+00:00"]
    assert send_from_dict({**record, "hours": hours}).hours is not None
    with pytest.raises(InputError, match="hours"):
        send_from_dict({**record, "hours": [hours[1], hours[0]]})
