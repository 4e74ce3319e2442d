"""The planner counts LINE's monthly message quota across the plan (SPEC P11).

A LINE account may send ``monthly_quota`` counted messages a month (200 on the free
plan in the official profile from 2023-06-01); a reply within the channel's
``free_reply_window`` of the contact's message is free. The plan's own counted sends
take from the quota with what the account sent this month already
(``AccountState.quota_count``): beyond it, a contact is excluded with
``monthly_quota_reached`` (P11), or planned as paid where the account pays for extra
messages. Before this count the planner planned every contact and the dispatcher
failed the sends beyond the quota.

Each LINE account has its own quota: a contact whom the sender in turn can no longer
reach within its quota goes to another sender of the team that can. The quota counts
by month in the account's time zone, so a plan that runs over a month's end starts
the next month's count.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from omnimsg import AccountState, Profile, load_profile
from omnimsg.broadcasts import (
    Audience,
    BroadcastMessage,
    Draft,
    OutcomeKind,
    Sender,
    plan_broadcast,
)
from omnimsg.broadcasts.model import Rate
from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact

NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
LINE = ChannelKind.LINE


def _profile(quota: int) -> Profile:
    return load_profile("official").derive(
        f"line-{quota}", {"channels": {"line": {"monthly_quota": quota}}}
    )


def _contacts(
    count: int,
    *,
    wrote: timedelta = timedelta(days=2),
    accounts: tuple[str, ...] = ("ln-1",),
    now: datetime = NOW,
) -> list[Contact]:
    return [
        Contact(
            id=f"c{n:03d}",
            last_interacted_channel=LINE,
            identities=tuple(
                ChannelIdentity(
                    account_id=account,
                    channel=LINE,
                    external_id=f"U{account}{n:028d}",
                    last_inbound_at=now - wrote,
                )
                for account in accounts
            ),
        )
        for n in range(count)
    ]


def _draft(
    messages: int = 1, *, accounts: tuple[str, ...] = ("ln-1",), rate: Rate | None = None
) -> Draft:
    return Draft(
        id="news",
        name="News",
        audience=Audience(),
        content={LINE: tuple(BroadcastMessage(text=f"part {n}") for n in range(messages))},
        senders=tuple(Sender(account, LINE) for account in accounts),
        rate=rate,
    )


def test_p11_contacts_beyond_the_quota_are_excluded_with_its_reason() -> None:
    outcomes = plan_broadcast(
        _draft(), _contacts(5, wrote=timedelta(days=2)), profile=_profile(3), now=NOW
    )
    kinds = [(o.outcome, o.reason, o.rule) for o in outcomes]
    assert kinds[:3] == [(OutcomeKind.PLANNED, None, None)] * 3
    assert kinds[3:] == [(OutcomeKind.EXCLUDED, "monthly_quota_reached", "P11")] * 2


def test_p11_what_the_account_sent_this_month_counts() -> None:
    account = AccountState(quota_month=(2026, 3), quota_count=2)
    plan = plan_broadcast(
        _draft(), _contacts(3), profile=_profile(3), now=NOW, accounts={"ln-1": account}
    )
    assert [o.outcome for o in plan] == [OutcomeKind.PLANNED] + [OutcomeKind.EXCLUDED] * 2


def test_p11_an_account_that_pays_for_extra_messages_gets_them_planned_as_paid() -> None:
    account = AccountState(paid_extra_messages=True)
    plan = plan_broadcast(
        _draft(), _contacts(5), profile=_profile(3), now=NOW, accounts={"ln-1": account}
    )
    sends = [o.sends[0] for o in plan]
    assert [s.paid for s in sends] == [False, False, False, True, True]


def test_p11_replies_within_the_free_window_do_not_count() -> None:
    # official: a reply within a minute of the contact's message is free (P11, uncertain)
    plan = plan_broadcast(
        _draft(), _contacts(5, wrote=timedelta(seconds=10)), profile=_profile(1), now=NOW
    )
    assert [o.outcome for o in plan] == [OutcomeKind.PLANNED] * 5


@settings(max_examples=25, deadline=None)
@given(
    quota=st.integers(min_value=1, max_value=8),
    people=st.integers(min_value=0, max_value=12),
    messages=st.integers(min_value=1, max_value=3),
    sent=st.integers(min_value=0, max_value=8),
)
def test_p11_no_plan_passes_the_quota(quota: int, people: int, messages: int, sent: int) -> None:
    account = AccountState(quota_month=(2026, 3), quota_count=sent)
    plan = plan_broadcast(
        _draft(messages),
        _contacts(people),
        profile=_profile(quota),
        now=NOW,
        accounts={"ln-1": account},
    )
    outcomes = list(plan)
    planned = [o for o in outcomes if o.outcome is OutcomeKind.PLANNED]
    counted = sum(len(o.sends) for o in planned)
    assert sent + counted <= max(quota, sent)  # nothing beyond what is left
    left = max(0, quota - sent)
    assert len(planned) == min(people, left // messages)  # and nobody left out who fits
    assert all(o.reason == "monthly_quota_reached" for o in outcomes if o not in planned)


# --- a team of senders, and a month's end ----------------------------------------


def _team_plan(people: int) -> list[tuple[str, str | None, str | None]]:
    # ln-1 sent one of its two this month: after one more it is full; ln-2 has two.
    accounts = ("ln-1", "ln-2")
    plan = plan_broadcast(
        _draft(accounts=accounts),
        _contacts(people, accounts=accounts),
        profile=_profile(2),
        now=NOW,
        accounts={"ln-1": AccountState(quota_month=(2026, 3), quota_count=1)},
    )
    return [(o.outcome.value, o.account_id, o.reason) for o in plan]


def test_p11_a_contact_goes_to_a_sender_with_quota_left() -> None:
    # The senders take turns: the third contact's turn is ln-1's, which is full.
    assert _team_plan(3) == [
        ("planned", "ln-1", None),
        ("planned", "ln-2", None),
        ("planned", "ln-2", None),
    ]


def test_p11_a_contact_no_sender_of_the_team_can_take_is_excluded() -> None:
    assert _team_plan(4)[3][0::2] == ("excluded", "monthly_quota_reached")


def test_p11_the_quota_starts_again_at_the_month_end_in_the_accounts_zone() -> None:
    # 23:00 on 31 March in Tokyo (14:00 UTC): a quota of 3, one send each 20 minutes;
    # three go in March, three in April of the account's zone, none beyond either.
    start = datetime(2026, 3, 31, 14, 0, tzinfo=UTC)
    tokyo = ZoneInfo("Asia/Tokyo")
    plan = list(
        plan_broadcast(
            _draft(rate=Rate(1, timedelta(minutes=20))),
            _contacts(8, now=start),
            profile=_profile(3),
            now=start,
            accounts={"ln-1": AccountState(timezone=tokyo)},
        )
    )
    months = [
        o.sends[0].not_before.astimezone(tokyo).month
        for o in plan
        if o.outcome is OutcomeKind.PLANNED
    ]
    assert months == [3, 3, 3, 4, 4, 4]
    assert [o.reason for o in plan if o.outcome is not OutcomeKind.PLANNED] == [
        "monthly_quota_reached"
    ] * 2
