"""The planner under the platforms' dated rules: regions (P12), sender classes (P14), tiers (P2-P4).

P12: a US number with a Florida area code gets 08:00-20:00 local and at most three
messages in any 24 h from 2021-07-01, an Oklahoma one from 2022-11-01 (X2, X4:
the region's hours replace the channel's, its cap holds beside the draft's). P14:
a sender's class sets its send rate (B10). P2-P4: a tier that needs high quality
moves up only on high quality (B14). Profiles are built here from data, and the
built-in ``official`` profile is checked on the same rules. Expectations are
computed from the rules with :mod:`zoneinfo` and :mod:`phonenumbers`, not read
back from the planner.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnimsg.broadcasts import (
    Audience,
    BroadcastMessage,
    ContactOutcome,
    Draft,
    FrequencyCap,
    OutcomeKind,
    Rate,
    Schedule,
    Sender,
    SendKind,
    draft_from_dict,
    draft_to_dict,
    plan_broadcast,
)
from omnimsg.broadcasts.checks import validate_draft
from omnimsg.broadcasts.lanes import to_micros
from omnimsg.broadcasts.regions import cap_start, matching_regions
from omnimsg.channels.capabilities import FrequencyLimit, QuietHours, RegionRule
from omnimsg.channels.registry import Profile, load_profile, profile_from_dict
from omnimsg.contacts import Contact
from omnimsg.errors import ConfigurationError, DraftError
from omnimsg.state import AccountState, SubscriptionStatus

from .plan_strategies import (
    K,
    allowed_at,
    ident,
    local_clock,
    make_draft,
    messages,
    most_in_window,
    most_unique_in_rolling,
    person,
    recipient_zones,
    run,
    sends_of,
)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MIAMI = ZoneInfo("America/New_York")
TULSA = ZoneInfo("America/Chicago")

FL_CODES = (
    "239", "305", "321", "352", "386", "407", "561", "727", "754", "772", "786", "813",
    "850", "863", "904", "941", "954",
)  # fmt: skip
OK_CODES = ("405", "539", "580", "918")
FL_FROM = date(2021, 7, 1)
OK_FROM = date(2022, 11, 1)
TCPA = QuietHours(start=time(8), end=time(21))
STATE_HOURS = QuietHours(start=time(8), end=time(20))
THREE_A_DAY = FrequencyLimit(messages=3, period=DAY)


def _region(codes: Sequence[str], since: date) -> list[dict[str, Any]]:
    return [
        {
            "value": {
                "country": "US",
                "area_codes": list(codes),
                "quiet_hours": {"start": "08:00", "end": "20:00"},
                "frequency_cap": {"messages": 3, "period": "24h"},
            },
            "effective_from": since,
            "source": "test data after Fla. Stat. 501.059 and 15 O.S. 775C",
        }
    ]


def us_sms_profile(**sms: Any) -> Profile:
    """An SMS channel with TCPA hours, sender classes and the FL and OK regions."""
    channel: dict[str, Any] = {
        "rate_per_second": 1,
        "quiet_hours": {"start": "08:00", "end": "21:00"},
        "account_rates": {"long_code": 1, "toll_free": 3, "short_code": 100},
        "regions": {"US-FL": _region(FL_CODES, FL_FROM), "US-OK": _region(OK_CODES, OK_FROM)},
    }
    channel.update(sms)
    return profile_from_dict({"name": "us-sms", "channels": {"sms": channel}})


US_SMS = us_sms_profile()
OFFICIAL = load_profile("official")


def sms_draft(count: int = 1, senders: Sequence[Sender] = (), **extra: Any) -> Draft:
    return make_draft(
        {K.SMS: messages(*(f"Offer part {n + 1}" for n in range(count)))},
        senders or [Sender("sms-1", K.SMS)],
        channels=frozenset({K.SMS}),
        **extra,
    )


def sms_person(cid: str, phone: str, **extra: Any) -> Contact:
    return person(cid, phone=phone, last=K.SMS, **extra)


def planned(
    draft: Draft, contacts: Sequence[Contact], start: datetime, **options: Any
) -> dict[str, ContactOutcome]:
    options.setdefault("profile", US_SMS)
    outcomes, _ = run(plan_broadcast(draft, list(contacts), now=start, **options))
    return {o.entry: o for o in outcomes}


def times(outcome: ContactOutcome) -> list[datetime]:
    return [s.not_before for s in outcome.sends]


def local(hour: int, minute: int, on: date, where: ZoneInfo) -> datetime:
    return datetime.combine(on, time(hour, minute), tzinfo=where)


# --- P12 with X2: the region's quiet hours, in the recipient's local time ------------------


@pytest.mark.parametrize("profile", [US_SMS, OFFICIAL], ids=["data", "official"])
def test_p12_x2_a_florida_number_gets_0800_2000_local_from_2021_07_01(profile: Profile) -> None:
    """SPEC P12, X2: from 2021-07-01 a 305 number gets nothing after 20:00 Miami time;
    a New York number keeps the TCPA's 21:00. The send moves to 08:00 the next day."""
    start = local(20, 30, date(2021, 7, 1), MIAMI)
    got = planned(
        sms_draft(),
        [sms_person("fl", "+13055550100"), sms_person("ny", "+12125550100")],
        start,
        profile=profile,
    )
    assert times(got["fl"]) == [local(8, 0, date(2021, 7, 2), MIAMI)]
    assert times(got["ny"]) == [start]


@pytest.mark.parametrize("profile", [US_SMS, OFFICIAL], ids=["data", "official"])
def test_p12_x2_a_florida_number_keeps_the_tcpa_hours_before_2021_07_01(profile: Profile) -> None:
    """SPEC P12, X2: on 2021-06-30 (UTC; 20:30 on the 29th in Miami) the Florida rule is
    not in force yet: 08:00-21:00 applies and the send goes at once."""
    start = local(20, 30, date(2021, 6, 29), MIAMI)
    assert start.astimezone(UTC).date() == date(2021, 6, 30)
    got = planned(sms_draft(), [sms_person("fl", "+13055550100")], start, profile=profile)
    assert times(got["fl"]) == [start]


def test_p12_the_region_rule_in_force_on_each_sends_date_applies_within_one_plan() -> None:
    """SPEC P12: a plan that starts before 2021-07-01 and sends on past it keeps
    08:00-21:00 before the rule and 08:00-20:00 from the rule's first instant on."""
    start = local(19, 0, date(2021, 6, 30), MIAMI)  # the rule starts at 20:00 Miami time
    people = [sms_person(f"fl{n:02d}", f"+1305555{n:04d}") for n in range(90)]
    draft = sms_draft(rate=Rate(messages=1, per=timedelta(minutes=1)))
    got = planned(draft, people, start)
    sent = sorted(at for o in got.values() for at in times(o))
    boundary = datetime(2021, 7, 1, tzinfo=UTC)
    before = [at for at in sent if at < boundary]
    assert before == [start + n * timedelta(minutes=1) for n in range(60)]
    assert sent[60] == local(8, 0, date(2021, 7, 1), MIAMI)
    assert all(allowed_at(local_clock(at, MIAMI), STATE_HOURS) for at in sent[60:])


def test_p12_x2_a_contacts_own_time_zone_wins_over_the_numbers() -> None:
    """SPEC P12, X2: the region is the number's, the hours are in the contact's own zone:
    a 305 number living in Los Angeles gets 08:00-20:00 Los Angeles time."""
    la = ZoneInfo("America/Los_Angeles")
    contacts = [
        sms_person("fl-in-la", "+13055550100", tz="America/Los_Angeles"),
        sms_person("fl", "+13055550101"),
    ]
    evening = local(20, 30, date(2021, 7, 1), MIAMI)  # 17:30 in Los Angeles
    got = planned(sms_draft(), contacts, evening)
    assert times(got["fl-in-la"]) == [evening]
    assert times(got["fl"]) == [local(8, 0, date(2021, 7, 2), MIAMI)]
    late = local(20, 30, date(2021, 7, 1), la)  # 23:30 in Miami
    got = planned(sms_draft(), contacts, late)
    assert times(got["fl-in-la"]) == [local(8, 0, date(2021, 7, 2), la)]


def test_p12_x2_a_contact_in_tokyo_with_a_florida_number_on_both_dates() -> None:
    """SPEC P12, X2: 20:30 in Tokyo is inside 08:00-21:00 on 2021-06-30 and outside
    08:00-20:00 on 2021-07-01 (the same date in Tokyo and in UTC)."""
    tokyo = ZoneInfo("Asia/Tokyo")
    contact = sms_person("fl-in-tokyo", "+17865550100", tz="Asia/Tokyo")
    before = local(20, 30, date(2021, 6, 30), tokyo)
    assert times(planned(sms_draft(), [contact], before)["fl-in-tokyo"]) == [before]
    after = local(20, 30, date(2021, 7, 1), tokyo)
    got = planned(sms_draft(), [contact], after)["fl-in-tokyo"]
    assert times(got) == [local(8, 0, date(2021, 7, 2), tokyo)]


def test_p12_the_number_texted_decides_the_region() -> None:
    """SPEC P12: on SMS the region is the number the message goes to (the contact's
    identity on the sender), even when the contact's main phone is elsewhere."""
    contact = sms_person("c1", "+12125550100", identities=[ident("sms-1", K.SMS, "+13055550100")])
    start = local(20, 30, date(2021, 7, 1), MIAMI)
    got = planned(sms_draft(), [contact], start)["c1"]
    assert got.sends[0].address == "+13055550100"
    assert times(got) == [local(8, 0, date(2021, 7, 2), MIAMI)]


@pytest.mark.parametrize("number", ["+14055550100", "+19185550100"])
@pytest.mark.parametrize("profile", [US_SMS, OFFICIAL], ids=["data", "official"])
def test_p12_x2_an_oklahoma_number_gets_0800_2000_local_from_2022_11_01(
    number: str, profile: Profile
) -> None:
    """SPEC P12, X2: 405 and 918 are Oklahoma area codes: from 2022-11-01 nothing after
    20:00 Tulsa time; on 2022-10-31 (UTC; the 30th's evening in Tulsa) 21:00 holds."""
    after = local(20, 30, date(2022, 11, 1), TULSA)
    got = planned(sms_draft(), [sms_person("ok", number)], after, profile=profile)
    assert times(got["ok"]) == [local(8, 0, date(2022, 11, 2), TULSA)]
    before = local(20, 30, date(2022, 10, 30), TULSA)
    assert before.astimezone(UTC).date() == date(2022, 10, 31)
    got = planned(sms_draft(), [sms_person("ok", number)], before, profile=profile)
    assert times(got["ok"]) == [before]


# --- P12 with X4: at most three messages in any 24 h -----------------------------------------


def test_p12_x4_a_florida_number_waits_until_its_earlier_messages_leave_the_24h() -> None:
    """SPEC P12, X4: three messages in the last 24 h: a fourth goes only once the
    oldest is 24 h old (from 2021-07-01), at once before the rule."""
    for on, expected_delay in ((date(2021, 7, 1), 4 * HOUR), (date(2021, 6, 30), timedelta(0))):
        start = local(10, 0, on, MIAMI)
        history = {
            "fl": [start - 20 * HOUR, start - 10 * HOUR, start - 5 * HOUR],
            "ny": [start - 20 * HOUR, start - 10 * HOUR, start - 5 * HOUR],
        }
        contacts = [sms_person("fl", "+13055550100"), sms_person("ny", "+12125550100")]
        got = planned(sms_draft(), contacts, start, history=history)
        assert times(got["fl"]) == [start + expected_delay], on
        assert times(got["ny"])[0] < start + 2 * HOUR


def test_p12_x4_earlier_messages_and_the_broadcasts_share_the_three() -> None:
    """SPEC P12, X4: two messages of the broadcast after two in the last 24 h: they wait
    until the older one has left the window (leaving one, plus two: three)."""
    start = local(9, 0, date(2026, 12, 1), MIAMI)
    history = {"fl": [start - 23 * HOUR, start - 2 * HOUR]}
    got = planned(sms_draft(2), [sms_person("fl", "+13055550100")], start, history=history)
    sent = times(got["fl"])
    assert sent[0] == start + HOUR
    assert most_in_window([*history["fl"], *sent], DAY) == 3


@pytest.mark.parametrize("profile", [US_SMS, OFFICIAL], ids=["data", "official"])
def test_p12_x4_four_messages_to_an_oklahoma_number_from_2022_11_01(profile: Profile) -> None:
    """SPEC P12, X4: a broadcast of four messages cannot go to an Oklahoma number from
    2022-11-01 (excluded for the frequency cap, rule P12); on 2022-10-31 it goes."""
    draft = sms_draft(4)
    contacts = [sms_person("ok", "+19185550100"), sms_person("tx", "+12145550100")]
    got = planned(draft, contacts, local(12, 0, date(2022, 11, 1), TULSA), profile=profile)
    assert (got["ok"].outcome, got["ok"].reason, got["ok"].rule) == (
        OutcomeKind.EXCLUDED,
        "frequency_cap",
        "P12",
    )
    assert got["tx"].outcome is OutcomeKind.PLANNED
    got = planned(draft, contacts, local(12, 0, date(2022, 10, 31), TULSA), profile=profile)
    assert got["ok"].outcome is OutcomeKind.PLANNED
    assert len(got["ok"].sends) == 4


def test_p12_x4_the_stricter_of_the_draft_cap_and_the_region_cap_wins() -> None:
    """SPEC P12, X4: a draft cap of 10 a week does not loosen the region's 3 a day, and
    a draft cap of 1 a week is not loosened by it either."""
    start = local(9, 0, date(2026, 12, 1), MIAMI)
    contact = sms_person("fl", "+13055550100")
    history = {"fl": [start - 20 * HOUR, start - 19 * HOUR, start - 18 * HOUR]}
    loose = FrequencyCap(messages=10, period=timedelta(days=7))
    got = planned(sms_draft(frequency_cap=loose), [contact], start, history=history)["fl"]
    assert times(got) == [start + 4 * HOUR]
    tight = FrequencyCap(messages=1, period=timedelta(days=7))
    got = planned(sms_draft(frequency_cap=tight), [contact], start, history=history)["fl"]
    assert (got.reason, got.rule) == ("frequency_cap", "X4")


def test_p12_prompts_follow_the_regions_hours_and_are_not_capped() -> None:
    """SPEC P12, B12: a double opt-in prompt to a Florida number goes in 08:00-20:00
    Miami time; prompts are not marketing messages, so no cap holds them back."""
    profile = us_sms_profile(double_opt_in={"prompt": "Reply S or N"})
    start = local(20, 30, date(2026, 12, 1), MIAMI)
    history = {"fl": [start - 3 * HOUR, start - 2 * HOUR, start - HOUR]}
    got = planned(
        sms_draft(), [sms_person("fl", "+13055550100")], start, profile=profile, history=history
    )["fl"]
    assert got.outcome is OutcomeKind.HELD
    assert [s.kind for s in got.sends] == [SendKind.PROMPT, SendKind.REMINDER]
    assert times(got)[0] == local(8, 0, date(2026, 12, 2), MIAMI)


def test_p12_cap_start_counts_every_earlier_message_that_can_share_a_window() -> None:
    """SPEC P12, X4: cap_start gives the first instant the messages fit, exactly."""
    h = [to_micros(datetime(2026, 12, 1, n, tzinfo=UTC)) for n in (1, 2, 3)]
    since = to_micros(datetime(2026, 12, 1, 12, tzinfo=UTC))
    day = to_micros(datetime(2026, 12, 2, tzinfo=UTC)) - to_micros(
        datetime(2026, 12, 1, tzinfo=UTC)
    )
    assert cap_start(h, THREE_A_DAY, 1, since) == h[0] + day
    assert cap_start(h, THREE_A_DAY, 2, since) == h[1] + day
    assert cap_start(h[:1], THREE_A_DAY, 2, since) == since
    assert cap_start(h, THREE_A_DAY, 4, since) is None
    assert cap_start([], THREE_A_DAY, 3, since) == since


# --- P12: which numbers are in a region ----------------------------------------------------


def test_p12_a_number_is_in_a_region_by_country_code_and_area_code() -> None:
    """SPEC P12: the NANP area code is the first three digits of the national number;
    a WhatsApp id (digits) counts as its number; a Canadian number is not Floridian."""
    caps = US_SMS.capabilities("sms", as_of=date(2023, 1, 1))

    def names(number: str) -> list[str]:
        return [name for name, _ in matching_regions(caps.regions, number)]

    assert names("+13055550100") == ["US-FL"]
    assert names("13055550100") == ["US-FL"]
    assert names("+19185550100") == ["US-OK"]
    assert names("+14165550100") == []  # Toronto
    assert names("+44305555010") == []  # 305 after another country code
    assert names("+1 305 555 0100") == []  # not E.164
    assert names("+1305") == []  # no national number after the area code
    assert names("+12125550100") == []


def test_p12_a_rule_without_area_codes_takes_the_whole_country() -> None:
    """SPEC P12: a region of a whole country is told by the number's region, so the
    NANP's shared country code 1 does not mix Canada with the US."""
    rules = {"CA": RegionRule(country="CA", area_codes=())}
    assert [n for n, _ in matching_regions(rules, "+14165550100")] == ["CA"]
    assert matching_regions(rules, "+12125550100") == ()


def test_p12_a_rule_of_an_unknown_country_is_a_configuration_error() -> None:
    """SPEC P12: a region whose country has no calling code is a broken profile."""
    rules = {"XX-1": RegionRule(country="XX", area_codes=("305",))}
    with pytest.raises(ConfigurationError, match="XX-1"):
        matching_regions(rules, "+13055550100")


# --- P14: the sender's class sets its rate ---------------------------------------------------


def _ny_people(count: int) -> list[Contact]:
    return [sms_person(f"c{n:02d}", f"+1212555{n:04d}") for n in range(count)]


@pytest.mark.parametrize("profile", [US_SMS, OFFICIAL], ids=["data", "official"])
def test_p14_a_toll_free_sender_is_paced_at_3_per_second(profile: Profile) -> None:
    """SPEC P14, B10: a toll-free number sends 3 messages a second, a long code 1."""
    start = local(12, 0, date(2026, 12, 1), MIAMI)
    toll_free = [Sender("tf-1", K.SMS, sender_class="toll_free")]
    got = planned(sms_draft(senders=toll_free), _ny_people(9), start, profile=profile)
    sent = sorted(at for o in got.values() for at in times(o))
    assert most_in_window(sent, timedelta(seconds=1)) == 3
    assert sent[-1] - sent[0] < timedelta(seconds=3)
    assert sent[0] == start
    long_code = [Sender("lc-1", K.SMS, sender_class="long_code")]
    got = planned(sms_draft(senders=long_code), _ny_people(9), start, profile=profile)
    sent = sorted(at for o in got.values() for at in times(o))
    assert most_in_window(sent, timedelta(seconds=1)) == 1
    assert sent[-1] - sent[0] == timedelta(seconds=8)


def test_p14_without_a_class_the_channels_rate_and_the_draft_rate_still_caps() -> None:
    """SPEC P14, B10: no class: rate_per_second; a short code at 100/s under a draft
    rate of 2 a second sends 2 a second (the slower wins)."""
    start = local(12, 0, date(2026, 12, 1), MIAMI)
    got = planned(sms_draft(), _ny_people(5), start)
    sent = sorted(at for o in got.values() for at in times(o))
    assert most_in_window(sent, timedelta(seconds=1)) == 1
    short = [Sender("sc-1", K.SMS, sender_class="short_code")]
    draft = sms_draft(senders=short, rate=Rate(messages=2, per=timedelta(seconds=1)))
    got = planned(draft, _ny_people(20), start)
    sent = sorted(at for o in got.values() for at in times(o))
    assert most_in_window(sent, timedelta(seconds=1)) == 2
    got = planned(sms_draft(senders=short), _ny_people(200), start)
    sent = sorted(at for o in got.values() for at in times(o))
    assert most_in_window(sent, timedelta(seconds=1)) == 100


def test_p14_an_unknown_sender_class_is_refused_naming_the_known_ones() -> None:
    """SPEC P14: a class the profile gives no rate is a draft problem at its path,
    naming the class and the profile's classes; the plan is refused with it."""
    draft = sms_draft(senders=[Sender("tf-1", K.SMS, sender_class="tol_free")])
    with pytest.raises(DraftError) as caught:
        validate_draft(draft, US_SMS, now=datetime(2026, 12, 1, tzinfo=UTC))
    ((path, rule, message),) = caught.value.problems
    assert (path, rule) == ("senders[0].sender_class", "P14")
    assert "'tol_free'" in message
    assert "long_code, short_code, toll_free" in message
    with pytest.raises(DraftError, match="tol_free"):
        plan_broadcast(draft, _ny_people(1), profile=US_SMS, now=datetime(2026, 12, 1, tzinfo=UTC))
    caps = US_SMS.capabilities("sms", as_of=date(2026, 12, 1))
    with pytest.raises(ConfigurationError, match="toll_free"):
        draft.senders[0].send_rate(caps)
    assert Sender("tf-1", K.SMS, sender_class="toll_free").send_rate(caps) == 3.0
    assert Sender("x", K.SMS).send_rate(caps) == 1.0


def test_p14_a_class_on_a_channel_without_classes_is_refused() -> None:
    """SPEC P14: a channel whose profile gives no sender classes takes none."""
    profile = us_sms_profile(account_rates={})
    draft = sms_draft(senders=[Sender("tf-1", K.SMS, sender_class="toll_free")])
    with pytest.raises(DraftError, match="no sender classes"):
        validate_draft(draft, profile, now=datetime(2026, 12, 1, tzinfo=UTC))


def test_p14_the_sender_class_survives_the_draft_file() -> None:
    """SPEC P14: a draft's sender class is read from and written back to the format."""
    data = {
        "id": "bc-1",
        "name": "Promo",
        "senders": [{"account": "tf-1", "channel": "sms", "sender_class": "toll_free"}],
        "content": {"sms": [{"text": "Offer"}]},
    }
    draft = draft_from_dict(data)
    assert draft.senders[0].sender_class == "toll_free"
    assert draft_to_dict(draft)["senders"] == data["senders"]
    assert draft_from_dict(draft_to_dict(draft)) == draft


# --- P2-P4: tiers by the policy's quality rule -------------------------------------------------


def _wa_profile(quality_required: str, scope: str = "number") -> Profile:
    return profile_from_dict(
        {
            "name": f"wa-{quality_required}-{scope}",
            "channels": {
                "whatsapp": {
                    "window": "24h",
                    "after_window": "template",
                    "tiers": {
                        "version": "v3",
                        "limits": [2, 4, 8],
                        "upgrade_factor": 0.5,
                        "upgrade_delay": "6h",
                        "quality_required": quality_required,
                        "scope": scope,
                    },
                }
            },
        }
    )


def _wa_plan(
    profile: Profile,
    qualities: dict[str, str | None],
    count: int = 8,
    start: datetime | None = None,
) -> list[datetime]:
    now = start or datetime(2026, 12, 1, 12, tzinfo=UTC)
    senders = [Sender(account, K.WHATSAPP) for account in qualities]
    draft = make_draft(
        {K.WHATSAPP: messages("Offer", template="offer")},
        senders,
        channels=frozenset({K.WHATSAPP}),
    )
    people = [person(f"w{n}", phone=f"+346123456{n:02d}", last=K.WHATSAPP) for n in range(count)]
    accounts = {account: AccountState(quality=q) for account, q in qualities.items()}
    outcomes, summary = run(
        plan_broadcast(draft, people, profile=profile, now=now, accounts=accounts)
    )
    assert summary.planned == count
    return sorted(s.not_before for s in sends_of(outcomes))


@pytest.mark.parametrize("quality", ["medium", None])
def test_p4_a_v3_tier_does_not_move_up_without_high_quality(quality: str | None) -> None:
    """SPEC P4: at medium (or unknown) quality the limit of 2 stays: 2 a day."""
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    sent = _wa_plan(_wa_profile("high"), {"wa-1": quality})
    assert sent == [now + n * DAY for n in (0, 0, 1, 1, 2, 2, 3, 3)]


def test_p4_a_v3_tier_moves_up_at_high_quality_after_the_delay() -> None:
    """SPEC P4: at high quality, half the limit used moves the tier up 6 h later."""
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    sent = _wa_plan(_wa_profile("high"), {"wa-1": "high"})
    assert sent[:2] == [now, now]
    assert sent[2] == now + 6 * HOUR
    assert sent[-1] < now + DAY
    pairs = [(at, str(n)) for n, at in enumerate(sent)]
    assert most_unique_in_rolling(pairs, DAY, until=now + 6 * HOUR) == 2


def test_p3_a_tier_that_needs_quality_not_low_moves_up_at_medium() -> None:
    """SPEC P3 (B14): where the rule is "not low", medium quality moves up too."""
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    sent = _wa_plan(_wa_profile("not_low"), {"wa-1": "medium"})
    assert sent[2] == now + 6 * HOUR
    flagged = _wa_plan(_wa_profile("not_low"), {"wa-1": "flagged"})
    assert flagged[2] == now + DAY


def test_p4_a_portfolio_moves_up_only_when_every_number_is_high() -> None:
    """SPEC P4: one tier shared by the portfolio's numbers; one medium number holds it."""
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    profile = _wa_profile("high", scope="portfolio")
    mixed = _wa_plan(profile, {"wa-1": "high", "wa-2": "medium"})
    assert mixed == [now + n * DAY for n in (0, 0, 1, 1, 2, 2, 3, 3)]
    both = _wa_plan(profile, {"wa-1": "high", "wa-2": "high"})
    assert both[2] == now + 6 * HOUR


@pytest.mark.parametrize("quality", ["high", "medium"])
def test_p4_official_v3_first_tier_is_left_only_by_verification_or_activity(quality: str) -> None:
    """SPEC P4 with the official profile: 250 a day at first, whatever the quality; the
    first step (to 2,000) comes from verification or messaging activity, which a plan
    cannot count on, not from using half the limit."""
    start = datetime(2025, 11, 3, 12, tzinfo=UTC)
    sent = _wa_plan(OFFICIAL, {"wa-1": quality}, count=300, start=start)
    assert sum(1 for at in sent if at < start + DAY) == 250
    pairs = [(at, str(n)) for n, at in enumerate(sent)]
    assert most_unique_in_rolling(pairs, DAY) == 250


def test_p4_official_v3_moves_up_from_2000_at_high_quality_about_6_hours_later() -> None:
    """SPEC P4 with the official profile: a portfolio at 2,000 that notified 1,000 moves
    up to 10,000 about 6 h later at high quality; at medium it stays."""
    start = datetime(2025, 11, 3, 12, tzinfo=UTC)
    senders = [Sender("wa-1", K.WHATSAPP)]
    draft = make_draft(
        {K.WHATSAPP: messages("Offer", template="offer")},
        senders,
        channels=frozenset({K.WHATSAPP}),
    )
    people = [person(f"w{n}", phone=f"+3461{n:07d}", last=K.WHATSAPP) for n in range(2_100)]
    for quality, within_a_day in (("high", 2_100), ("medium", 2_000)):
        accounts = {"wa-1": AccountState(tier=1, quality=quality)}
        outcomes, _ = run(
            plan_broadcast(draft, people, profile=OFFICIAL, now=start, accounts=accounts)
        )
        sent = sorted(s.not_before for s in sends_of(outcomes))
        assert sum(1 for at in sent if at < start + DAY) == within_a_day, quality
        if quality == "high":
            pairs = [(at, str(n)) for n, at in enumerate(sent)]
            assert most_unique_in_rolling(pairs, DAY, until=start + 6 * HOUR) == 2_000


# --- properties: regions in random plans -----------------------------------------------------

_FL = ("+1305555", "+1786555", "+1850555", "+1954555")
_OK = ("+1405555", "+1918555")
_ELSEWHERE = ("+1212555", "+1415555", "+1416555", "+3461234")
_POOL = tuple(f"{prefix}{n:04d}" for prefix in _FL + _OK + _ELSEWHERE for n in range(100, 130))
_ZONES = (None, None, None, "America/Los_Angeles", "America/New_York", "Asia/Tokyo", "Not/AZone")
_STARTS = (
    (datetime(2021, 6, 28, 22, tzinfo=UTC), 48 * 60),
    (datetime(2021, 6, 30, 23, tzinfo=UTC), 60),  # 19:00-20:00 in Miami, before the rule
    (datetime(2022, 10, 30, 18, tzinfo=UTC), 48 * 60),
    (datetime(2022, 10, 31, 23, tzinfo=UTC), 60),  # 18:00-19:00 in Tulsa, before the rule
    (datetime(2026, 12, 1, 3, tzinfo=UTC), 24 * 60),
)
"""Plan starts and how many minutes later they may be: around the rules' first days."""
_PROFILES = (US_SMS, us_sms_profile(double_opt_in={"prompt": "Reply S or N"}))


def _rules_at(number: str, at: datetime) -> list[tuple[QuietHours, FrequencyLimit]]:
    """The region rules of the test data ``number`` is under at ``at``, from phonenumbers."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return []
    if parsed.country_code != 1:
        return []
    area = phonenumbers.national_significant_number(parsed)[:3]
    found = []
    for codes, since in ((FL_CODES, FL_FROM), (OK_CODES, OK_FROM)):
        in_force = at >= datetime.combine(since, time(0), tzinfo=UTC)
        if area in codes and in_force:
            found.append((STATE_HOURS, THREE_A_DAY))
    return found


@st.composite
def region_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """A plan on the US SMS data near the rules' first days: region and other numbers,
    some with an own zone, earlier messages, several messages, a rate that spreads
    the sends over days."""
    base, most = draw(st.sampled_from(_STARTS))
    start = base + timedelta(minutes=draw(st.integers(0, most)))
    count = draw(st.integers(1, 4))
    rate = draw(
        st.sampled_from(
            [
                None,
                Rate(messages=1, per=timedelta(minutes=1)),
                Rate(messages=1, per=timedelta(minutes=20)),
                Rate(messages=1, per=timedelta(minutes=20)),
            ]
        )
    )
    quiet = draw(st.sampled_from([None, QuietHours(start=time(9), end=time(19, 30))]))
    cap = draw(st.sampled_from([None, FrequencyCap(messages=4, period=timedelta(days=2))]))
    classes = draw(
        st.lists(st.sampled_from([None, "toll_free", "long_code"]), min_size=1, max_size=2)
    )
    senders = tuple(Sender(f"sms-{n}", K.SMS, sender_class=c) for n, c in enumerate(classes))
    contacts: list[Contact] = []
    history: dict[str, list[datetime]] = {}
    for n in range(draw(st.integers(0, 25))):
        cid = f"c{n:02d}"
        phone = draw(st.sampled_from(_POOL))
        other = draw(st.sampled_from([None, None, None, *_POOL]))
        identities = [ident(senders[0].account_id, K.SMS, other)] if other else []
        subs = dict.fromkeys((s.account_id for s in senders), SubscriptionStatus.SUBSCRIBED)
        contacts.append(
            person(
                cid,
                phone=phone,
                tz=draw(st.sampled_from(_ZONES)),
                last=K.SMS,
                identities=identities,
                subs=subs if draw(st.booleans()) else {},
            )
        )
        earlier = draw(st.lists(st.integers(0, 48 * 60), max_size=4))
        if earlier:
            history[cid] = [start - timedelta(minutes=m) for m in earlier]
    draft = Draft(
        id="bc-region",
        name="regions",
        audience=Audience(),
        content={K.SMS: tuple(BroadcastMessage(text=f"Offer {n}") for n in range(count))},
        senders=senders,
        channels=frozenset({K.SMS}),
        schedule=Schedule(start=start),
        rate=rate,
        quiet_hours=quiet,
        frequency_cap=cap,
    )
    return {
        "profile": draw(st.sampled_from(_PROFILES)),
        "draft": draft,
        "contacts": contacts,
        "history": history,
        "now": start,
    }


def _plan(scenario: dict[str, Any]) -> list[ContactOutcome]:
    outcomes, _ = run(
        plan_broadcast(
            scenario["draft"],
            scenario["contacts"],
            profile=scenario["profile"],
            now=scenario["now"],
            history=scenario["history"],
        )
    )
    return outcomes


def _most_around(instants: Sequence[datetime], at: datetime, period: timedelta) -> int:
    """The most of ``instants`` in any window ``[x, x + period)`` that holds ``at``."""
    ordered = sorted(instants)
    starts = [x for x in ordered if at - period < x <= at] + [
        at - period + timedelta(microseconds=1)
    ]
    return max(
        bisect.bisect_left(ordered, x + period) - bisect.bisect_left(ordered, x) for x in starts
    )


@given(region_scenarios())
def test_p12_x4_no_region_recipient_gets_more_than_its_cap_in_any_24h(
    scenario: dict[str, Any],
) -> None:
    """SPEC P12, X4: for every planned message to a number in a region whose rule is in
    force at its instant, no 24 h window holding it holds more than three messages,
    the contact's earlier ones included."""
    for outcome in _plan(scenario):
        earlier = scenario["history"].get(outcome.entry, [])
        messages_ = [s for s in outcome.sends if s.kind is SendKind.MESSAGE]
        instants = [*earlier, *(s.not_before for s in messages_)]
        for send in messages_:
            for _, limit in _rules_at(send.address, send.not_before):
                assert _most_around(instants, send.not_before, limit.period) <= limit.messages, (
                    outcome.entry,
                    send.address,
                    send.not_before,
                )


@given(region_scenarios())
def test_p12_x2_no_send_lands_in_the_recipients_quiet_hours(scenario: dict[str, Any]) -> None:
    """SPEC P12, X2: every send (prompts too) lies in the region's hours where a rule is
    in force at its instant (else the channel's) and the draft's, in every zone the
    recipient may be in (its own, else its number's)."""
    contacts = {c.id: c for c in scenario["contacts"]}
    draft_quiet = scenario["draft"].quiet_hours
    for send in sends_of(_plan(scenario)):
        region = [hours for hours, _ in _rules_at(send.address, send.not_before)]
        rules = (region or [TCPA]) + ([draft_quiet] if draft_quiet else [])
        for where in recipient_zones(contacts[send.contact_id], UTC):
            clock = local_clock(send.not_before, where)
            for rule in rules:
                assert allowed_at(clock, rule), (send.contact_id, send.address, str(where), clock)


@given(region_scenarios())
def test_p12_nobody_is_lost_or_planned_twice(scenario: dict[str, Any]) -> None:
    """Conservation under P12 and P14: one outcome per contact, in order; each planned
    contact gets every message once; an exclusion says why."""
    outcomes = _plan(scenario)
    assert [o.entry for o in outcomes] == [c.id for c in scenario["contacts"]]
    count = len(scenario["draft"].content[K.SMS])
    keys = [s.key for s in sends_of(outcomes)]
    assert len(keys) == len(set(keys))
    start = scenario["now"]
    for outcome in outcomes:
        if outcome.outcome is OutcomeKind.PLANNED:
            assert [s.number for s in outcome.sends] == list(range(1, count + 1))
            assert all(start <= s.not_before < start + 7 * DAY for s in outcome.sends)
        elif outcome.outcome is OutcomeKind.EXCLUDED:
            assert outcome.sends == ()
            assert (outcome.reason, outcome.rule) in {
                ("frequency_cap", "P12"),
                ("frequency_cap", "X4"),
                ("after_seven_days", "B10"),
            }
        else:
            assert outcome.reason in {"opt_in_required", "opt_in_pending"}


def test_p15_a_broadcast_on_a_retired_channel_is_refused_with_its_rule() -> None:
    """SPEC P15: Google Business Messages shut down on 2024-07-31; a draft for it
    starting after that is refused as retired, not as a channel without broadcasts."""
    from omnimsg.broadcasts import draft_from_dict
    from omnimsg.errors import DraftError

    data = {
        "id": "b1",
        "name": "x",
        "channels": ["google_business"],
        "senders": [{"account": "gb-1", "channel": "google_business"}],
        "content": {"google_business": [{"text": "hi"}]},
        "schedule": {"start": "2024-08-02T09:00:00+00:00"},
    }
    with pytest.raises(DraftError, match="retired") as caught:
        plan_broadcast(
            draft_from_dict(data), [], profile=OFFICIAL, now=datetime(2024, 8, 2, 9, tzinfo=UTC)
        )
    assert "P15" in str(caught.value.problems) or "P15" in str(caught.value)
