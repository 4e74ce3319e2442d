"""Each rule just inside and just outside its limit, and rules that change mid-log.

The auditor must agree with :func:`omnimsg.decide` and the planner on the same facts
(SPEC W2, W5, P8, B11, B13, P2-P4, X1, P13, X2, P12, X4).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from omnimsg import load_profile
from omnimsg.audit import LogEntry, audit_log
from omnimsg.broadcasts import Audience, FrequencyCap, Sender, plan_broadcast
from omnimsg.broadcasts.model import BroadcastMessage, Draft
from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact
from omnimsg.policy.decision import Message, decide
from omnimsg.state import AccountState, ConversationState

from .builders import HOUR, MIN, inbound, outbound

OFFICIAL = load_profile("official")
EXPERTCONNECT = load_profile("expertconnect")
US = timedelta(microseconds=1)
DAY = timedelta(days=1)
NEW_YORK = ZoneInfo("America/New_York")
CHICAGO = ZoneInfo("America/Chicago")


def found(
    entries: list[LogEntry], profile: Any = OFFICIAL, **options: Any
) -> list[tuple[str, datetime]]:
    return [(v.rule, v.entry.at) for v in audit_log(entries, profile, **options)]


def template(at: datetime, n: int, account: str = "wa-1") -> LogEntry:
    return outbound(at, f"+3462{n:07d}", account=account, text=None, template="t")


# --- windows ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("after", "refused"), [(24 * HOUR - US, False), (24 * HOUR, True)])
def test_w2_the_window_closes_at_exactly_24_hours_as_decide_says(
    after: timedelta, refused: bool
) -> None:
    wrote = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    log = [inbound(wrote), outbound(wrote + after)]
    caps = OFFICIAL.capabilities("whatsapp", as_of=wrote + after)
    decision = decide(
        caps, ConversationState(last_inbound_at=wrote), Message(text="hello"), now=wrote + after
    )
    assert decision.allowed is not refused
    assert found(log) == ([("W2", wrote + after)] if refused else [])


def test_w5_p8_a_window_spanning_2023_06_12_gets_the_new_cap_from_that_day() -> None:
    # Five messages on 2023-06-11 (cap 20), the sixth at 00:00 UTC on 2023-06-12 (cap 5).
    wrote = datetime(2023, 6, 11, 21, 0, tzinfo=UTC)
    wx: dict[str, Any] = {"channel": "wechat", "account": "wc"}
    log = [inbound(wrote, "wx", **wx)]
    log += [outbound(wrote + n * 30 * MIN, "wx", **wx) for n in range(1, 8)]
    assert [at for _, at in found(log)] == [log[6].at, log[7].at]
    assert log[6].at == datetime(2023, 6, 12, tzinfo=UTC)


# --- the daily cap (B11) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last", "over"),
    [
        (datetime(2026, 3, 10, 23, 59, 59, tzinfo=ZoneInfo("Europe/Madrid")), True),
        (datetime(2026, 3, 11, 0, 0, tzinfo=ZoneInfo("Europe/Madrid")), False),  # 23:00 UTC
    ],
)
def test_b11_the_1501st_recipient_of_the_account_s_local_day(last: datetime, over: bool) -> None:
    madrid = ZoneInfo("Europe/Madrid")
    start = datetime(2026, 3, 10, 0, 0, tzinfo=madrid)
    sms: dict[str, Any] = {"channel": "sms", "account": "ec-1"}
    log = [
        outbound(start + n * 50 * timedelta(seconds=1), f"+3461{n:07d}", **sms) for n in range(1500)
    ]
    log.append(outbound(last, "+34619999999", **sms))
    log.append(outbound(last, "+34610000000", **sms))  # counted already that day
    accounts = {"ec-1": AccountState(timezone=madrid)}
    assert found(log, EXPERTCONNECT, accounts=accounts) == ([("B11", last)] if over else [])


# --- messaging limits (B13, P2-P4) --------------------------------------------------------


def test_b13_a_user_messaged_again_counts_in_every_window_holding_a_message() -> None:
    # User 0 at 10:00 and 09:00 the next day; 249 users at 09:00: at 10:10 the window
    # (10:10 the day before, 10:10] holds 250 users, so a new one is over the limit.
    start = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
    log = [template(start, 0), template(start + 23 * HOUR, 0)]
    log += [template(start + 23 * HOUR + n * timedelta(seconds=1), n) for n in range(1, 250)]
    log.append(template(start + DAY + 10 * MIN, 999))
    assert found(log) == [("P3", log[-1].at)]
    # Without the second message to user 0 the window holds 249 users.
    assert found([log[0], *log[2:]]) == []


def test_b13_replies_in_a_window_leave_the_limit_and_the_251st_user_is_over() -> None:
    start = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
    log = [template(start + n * timedelta(seconds=1), n) for n in range(250)]
    replied = [inbound(start + HOUR, "+34619999999"), outbound(start + HOUR + MIN, "+34619999999")]
    assert found(log + replied) == []
    assert found([*log, template(start + HOUR, 999)]) == [("P3", start + HOUR)]
    assert found([*log, template(start + DAY, 999)]) == []  # the first has left the window


def test_p4_the_portfolio_of_2025_10_07_starts_with_the_numbers_users_of_the_window() -> None:
    # 250 users on two numbers late on 2025-10-06 (v2: 250 per number); from
    # 2025-10-07 the portfolio shares one limit of 250 over the moving 24 h.
    evening = datetime(2025, 10, 6, 22, 0, tzinfo=UTC)
    log = [template(evening + n * timedelta(seconds=1), n, f"wa-{n % 2}") for n in range(250)]
    log.append(template(datetime(2025, 10, 7, 0, 30, tzinfo=UTC), 999, "wa-1"))
    assert found(log) == [("P4", log[-1].at)]


def test_p4_the_portfolio_keeps_the_highest_tier_its_numbers_reached() -> None:
    evening = datetime(2025, 10, 6, 22, 0, tzinfo=UTC)
    accounts = {"wa-0": AccountState(tier=1), "wa-1": AccountState(tier=0)}
    log = [template(evening + n * timedelta(seconds=1), n, f"wa-{n % 2}") for n in range(10)]
    log += [
        template(datetime(2025, 10, 7, 1, 0, tzinfo=UTC) + n * US, 1000 + n, "wa-1")
        for n in range(300)
    ]
    assert found(log, accounts=accounts) == []  # tier 2 of v3: 2,000


# --- consent (X1, P13) -----------------------------------------------------------------------


def test_p13_the_one_confirmation_after_an_opt_out_is_no_violation() -> None:
    sms: dict[str, Any] = {"channel": "sms", "account": "sms-1"}
    n = "+12125550100"
    at = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    log = [
        inbound(at, n, text="STOP", **sms),
        outbound(at + MIN, n, text="You are unsubscribed. Reply START to resubscribe.", **sms),
        outbound(at + 2 * MIN, n, text="One more thing", **sms),
    ]
    assert found(log) == [("X1", log[2].at)]
    # A marketing message is never the confirmation.
    assert found([log[0], outbound(at + MIN, n, marketing=True, **sms)]) == [("X1", at + MIN)]
    # START after STOP opts back in; a later STOP owes a confirmation again.
    again = [
        *log[:2],
        inbound(at + 3 * MIN, n, text="START", **sms),
        outbound(at + 4 * MIN, n, marketing=True, **sms),
        inbound(at + 5 * MIN, n, text="stop", **sms),
        outbound(at + 6 * MIN, n, text="Unsubscribed.", **sms),
        outbound(at + 7 * MIN, n, marketing=True, **sms),
    ]
    assert found(again) == [("X1", at + 7 * MIN)]


# --- quiet hours (X2, P12) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "day", "zone", "rule", "closes"),
    [
        ("+12125550100", datetime(2026, 3, 10), NEW_YORK, "X2", time(21)),
        ("+13055550100", datetime(2021, 6, 29), NEW_YORK, "X2", time(21)),
        ("+13055550100", datetime(2021, 7, 1), NEW_YORK, "P12", time(20)),
        ("+14055550100", datetime(2022, 10, 30), CHICAGO, "X2", time(21)),
        ("+14055550100", datetime(2022, 11, 1), CHICAGO, "P12", time(20)),
    ],
)
def test_x2_p12_quiet_hours_open_at_08_00_and_close_at_the_state_s_hour(
    number: str, day: datetime, zone: ZoneInfo, rule: str, closes: time
) -> None:
    def at(hour: int, minute: int) -> datetime:
        return day.replace(hour=hour, minute=minute, tzinfo=zone)

    last_allowed = (datetime.combine(day, closes) - MIN).time()
    times = [at(7, 59), at(8, 0), at(last_allowed.hour, 59), at(closes.hour, 0)]
    verdicts = [
        found([outbound(t, number, channel="sms", account="sms-1", marketing=True)]) for t in times
    ]
    assert verdicts == [[(rule, times[0])], [], [], [(rule, times[3])]]


# --- frequency caps (X4) -------------------------------------------------------------------


def test_x4_a_cap_across_days_counts_the_period_back_from_each_message() -> None:
    cap = FrequencyCap(messages=2, period=timedelta(days=7))
    start = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    line: dict[str, Any] = {"channel": "sms", "account": "s", "marketing": True}
    n = "+34611000001"
    log = [outbound(start, n, **line), outbound(start + 3 * DAY, n, **line)]
    assert found([*log, outbound(start + 7 * DAY - US, n, **line)], frequency_cap=cap) == [
        ("X4", start + 7 * DAY - US)
    ]
    assert found([*log, outbound(start + 7 * DAY, n, **line)], frequency_cap=cap) == []


def test_p4_a_plan_over_the_limit_audits_clean_and_the_same_sends_at_once_do_not() -> None:
    # The planner holds the 251st user of a tier of 250 until the window lets them in;
    # the auditor reading those sends agrees, and finds P4 when they all go at once.
    now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    people = [
        Contact(
            id=f"c{n}",
            phone=f"+3462{n:07d}",
            last_interacted_channel=ChannelKind.WHATSAPP,
            identities=(
                ChannelIdentity(
                    account_id="wa-1", channel=ChannelKind.WHATSAPP, external_id=f"+3462{n:07d}"
                ),
            ),
        )
        for n in range(252)
    ]
    draft = Draft(
        id="d",
        name="d",
        audience=Audience(),
        content={ChannelKind.WHATSAPP: (BroadcastMessage(text="Hi", template="t"),)},
        senders=(Sender("wa-1", ChannelKind.WHATSAPP),),
    )
    sends = [
        send
        for outcome in plan_broadcast(draft, people, profile=OFFICIAL, now=now)
        for send in outcome.sends
    ]
    assert len(sends) == 252
    assert sum(send.not_before >= now + DAY for send in sends) == 2

    def log(times: list[datetime]) -> list[LogEntry]:
        entries = [
            outbound(at, send.address, text=None, template=send.template)
            for at, send in zip(times, sends, strict=True)
        ]
        return sorted(entries, key=lambda entry: entry.at)

    assert found(log([send.not_before for send in sends])) == []
    at_once = found(log([now + n * timedelta(seconds=1) for n in range(252)]))
    assert [rule for rule, _ in at_once] == ["P4", "P4"]


def test_x2_a_contact_s_unknown_time_zone_falls_back_to_the_phone_s_as_planning_does() -> None:
    odd = Contact(id="odd", phone="+12125550100", timezone="Not/AZone")
    at = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 18:00 in New York, 23:00 UTC
    log = [outbound(at, "odd", channel="sms", account="sms-1", marketing=True)]
    assert found(log, contacts=[odd]) == []
    assert found(
        [outbound(at + 3 * HOUR, "odd", channel="sms", account="sms-1", marketing=True)],
        contacts=[odd],
    ) == [("X2", at + 3 * HOUR)]
