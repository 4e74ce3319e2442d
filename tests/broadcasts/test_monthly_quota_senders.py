"""LINE's monthly quota across a team of senders and across a month's end (SPEC P11).

Each LINE account has its own quota. A contact whom the sender in turn can no longer
reach within its quota goes to another sender of the team that can; before, such a
contact was excluded with ``monthly_quota_reached`` while the other account still
had messages left. The quota counts by month in the account's time zone, so a plan
that runs over a month's end starts the next month's count.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

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


def _contacts(count: int, accounts: tuple[str, ...], now: datetime) -> list[Contact]:
    return [
        Contact(
            id=f"c{n:03d}",
            last_interacted_channel=LINE,
            identities=tuple(
                ChannelIdentity(
                    account_id=account,
                    channel=LINE,
                    external_id=f"U{account}{n:028d}",
                    last_inbound_at=now - timedelta(days=2),
                )
                for account in accounts
            ),
        )
        for n in range(count)
    ]


def _draft(accounts: tuple[str, ...], rate: Rate | None = None) -> Draft:
    return Draft(
        id="news",
        name="News",
        audience=Audience(),
        content={LINE: (BroadcastMessage(text="news"),)},
        senders=tuple(Sender(account, LINE) for account in accounts),
        rate=rate,
    )


def _team_plan(people: int) -> list[tuple[str, str | None, str | None]]:
    # ln-1 sent one of its two this month: after one more it is full; ln-2 has two.
    accounts = ("ln-1", "ln-2")
    plan = plan_broadcast(
        _draft(accounts),
        _contacts(people, accounts, NOW),
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
            _draft(("ln-1",), Rate(1, timedelta(minutes=20))),
            _contacts(8, ("ln-1",), start),
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
