"""The replay: each rule the auditor checks, on small logs (SPEC sections 1, 2, 4, 6, 7)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from omnimsg import load_profile
from omnimsg.audit import Auditor, LogEntry, Violation, audit, audit_log, summarize
from omnimsg.broadcasts import FrequencyCap
from omnimsg.channels.capabilities import FrequencyLimit
from omnimsg.contacts import ChannelIdentity, Contact
from omnimsg.errors import InputError, OmnimsgError
from omnimsg.policy.reasons import Reason
from omnimsg.state import AccountState

from .builders import HOUR, MIN, T0, inbound, outbound

OFFICIAL = load_profile("official")
RESPONDIO = load_profile("respondio")
EXPERTCONNECT = load_profile("expertconnect")


def rules(entries: list[LogEntry], profile: object = OFFICIAL, **options: object) -> list[str]:
    return [v.rule for v in audit_log(entries, profile, **options)]  # type: ignore[arg-type]


# --- windows (W2-W5, P1, P8) ---------------------------------------------------------------


def test_w2_a_reply_inside_the_window_is_clean_and_after_it_needs_a_template() -> None:
    log = [
        inbound(T0),
        outbound(T0 + MIN),
        outbound(T0 + 25 * HOUR),
        outbound(T0 + 26 * HOUR, text=None, template="order_update"),
    ]
    (violation,) = audit_log(log, OFFICIAL)
    assert violation.rule == "W2"
    assert violation.reason is Reason.TEMPLATE_REQUIRED
    assert violation.entry is log[2]
    assert "last wrote 2026-03-02T12:00:00+00:00" in violation.detail


@pytest.mark.parametrize(("day", "cap"), [(date(2023, 6, 11), 20), (date(2023, 6, 12), 5)])
def test_w5_p8_the_wechat_cap_is_the_one_in_force_on_the_day(day: date, cap: int) -> None:
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + 9 * HOUR
    log = [inbound(start, "wx", channel="wechat", account="wc")]
    log += [
        outbound(start + (n + 1) * MIN, "wx", channel="wechat", account="wc")
        for n in range(cap + 1)
    ]
    found = list(audit_log(log, OFFICIAL))
    assert [(v.rule, v.entry.at) for v in found] == [("W5", log[-1].at)]
    assert f"{cap} sent since" in found[0].detail


def test_w5_a_new_message_from_the_contact_resets_the_count() -> None:
    log = [inbound(T0, "wx", channel="wechat", account="wc")]
    log += [outbound(T0 + n * MIN, "wx", channel="wechat", account="wc") for n in range(1, 6)]
    log.append(inbound(T0 + 10 * MIN, "wx", channel="wechat", account="wc"))
    log += [outbound(T0 + n * MIN, "wx", channel="wechat", account="wc") for n in range(11, 16)]
    assert rules(log) == []


def test_w3_messenger_after_the_window_needs_a_tag() -> None:
    log = [
        inbound(T0, "fb", channel="messenger", account="fb-1"),
        outbound(T0 + 2 * HOUR * 24, "fb", channel="messenger", account="fb-1"),
        outbound(T0 + 49 * HOUR, "fb", channel="messenger", account="fb-1", tag="ACCOUNT_UPDATE"),
    ]
    assert rules(log) == ["W3"]


def test_a_contact_s_last_inbound_message_in_the_contact_data_opens_the_window() -> None:
    # SPEC W2: the starting state comes from the contact data
    ana = Contact(
        id="ana",
        identities=(
            ChannelIdentity(
                account_id="wa-1",
                channel="whatsapp",
                external_id="+34611000009",
                last_inbound_at=T0 - HOUR,
            ),
        ),
    )
    log = [outbound(T0, "+34611000009"), outbound(T0 + MIN, "ana")]
    assert rules(log) == ["W2", "W2"]
    assert rules(log, contacts=[ana]) == []


# --- consent (X1, P13) ---------------------------------------------------------------------


def test_x1_stop_is_an_opt_out_from_then_on_and_start_opts_back_in() -> None:
    sms: dict[str, Any] = {"channel": "sms", "account": "sms-1"}
    n = "+12125550100"
    at = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 11:00 in New York
    log = [
        outbound(at, n, marketing=True, **sms),
        inbound(at + MIN, n, text="STOP", **sms),
        outbound(at + 2 * MIN, n, marketing=True, **sms),
        inbound(at + 3 * MIN, n, text="START", **sms),
        outbound(at + 4 * MIN, n, marketing=True, **sms),
    ]
    found = list(audit_log(log, OFFICIAL))
    assert [(v.rule, v.reason, v.entry.at) for v in found] == [("X1", Reason.OPTED_OUT, log[2].at)]


def test_p13_after_2025_04_11_an_sms_opt_out_ends_every_business_message() -> None:
    sms: dict[str, Any] = {"channel": "sms", "account": "sms-1"}
    n = "+12125550100"
    for at, expected in [
        (datetime(2025, 3, 3, 16, 0, tzinfo=UTC), []),
        (datetime(2026, 3, 3, 16, 0, tzinfo=UTC), ["X1"]),
    ]:
        log = [
            inbound(at, n, text="STOP", **sms),
            outbound(at + MIN, n, text="Unsubscribed: no more messages", **sms),  # allowed
            outbound(at + 2 * MIN, n, text="Your code is 1234", **sms),
        ]
        assert rules(log) == expected, at


# --- content (C1, C3, X3) ------------------------------------------------------------------


def test_c1_expertconnect_sms_over_240_characters() -> None:
    log = [
        outbound(T0, "+34611000001", channel="sms", account="sms-1", text="x" * 241),
        outbound(T0 + MIN, "+34611000001", channel="sms", account="sms-1", text="x" * 240),
    ]
    found = list(audit_log(log, EXPERTCONNECT))
    assert [(v.rule, v.reason) for v in found] == [("C1", Reason.CONTENT_TOO_LONG)]


def test_c3_a_text_too_long_outside_the_window_is_two_violations() -> None:
    log = [outbound(T0, text="x" * 5000)]
    assert rules(log) == ["W2", "C3"]


# --- caps the planner places (B11, B13, X2, X4, P12) ---------------------------------------


def test_b11_the_daily_cap_counts_distinct_recipients_on_the_account_s_local_day() -> None:
    profile = EXPERTCONNECT.derive("tiny", {"channels": {"sms": {"daily_recipient_cap": 2}}})
    madrid = AccountState(timezone="Europe/Madrid")
    day = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    sms: dict[str, Any] = {"channel": "sms", "account": "sms-1"}
    log = [
        outbound(day, "+34611000001", **sms),
        outbound(day + MIN, "+34611000001", **sms),  # the same recipient again
        outbound(day + 2 * MIN, "+34611000002", **sms),
        outbound(day + 3 * MIN, "+34611000003", **sms),  # the third: over
        outbound(day.replace(hour=23, minute=30), "+34611000004", **sms),  # 00:30 next day
    ]
    found = list(audit_log(log, profile, accounts={"sms-1": madrid}))
    assert [(v.rule, v.entry.contact) for v in found] == [("B11", "+34611000003")]
    assert "cap is 2 a day" in found[0].detail


def test_b13_replies_inside_a_window_do_not_count_toward_the_limit() -> None:
    profile = OFFICIAL.derive("tiny", {"channels": {"whatsapp": {"tiers": {"limits": [2, 5]}}}})
    log = []
    for n in range(5):  # five users write and get a reply: no user started
        log.append(inbound(T0 + n * MIN, f"+3461100000{n}"))
        log.append(outbound(T0 + n * MIN + MIN, f"+3461100000{n}"))
    log += [
        outbound(T0 + HOUR + n * MIN, f"+3462200000{n}", text=None, template="t") for n in range(3)
    ]
    log.append(outbound(T0 + 2 * HOUR, "+34622000000", text=None, template="t"))  # counted already
    log.append(outbound(T0 + 30 * HOUR, "+34622000009", text=None, template="t"))  # window moved
    found = list(audit_log(log, profile))
    assert [(v.rule, v.entry.contact) for v in found] == [("P4", "+34622000002")]


def test_b13_the_rules_version_in_force_names_the_rule() -> None:
    profile = OFFICIAL.derive("tiny", {"channels": {"whatsapp": {"tiers": {"limits": [1, 5]}}}})
    for at, rule in [
        (datetime(2022, 5, 2, tzinfo=UTC), "P2"),
        (datetime(2024, 5, 2, tzinfo=UTC), "P3"),
        (datetime(2026, 5, 2, tzinfo=UTC), "P4"),
    ]:
        log = [outbound(at + n * MIN, f"+3462200000{n}", text=None, template="t") for n in range(2)]
        assert rules(log, profile) == [rule]


def test_x2_quiet_hours_in_the_recipient_s_time_and_p12_florida_s_stricter_hours() -> None:
    sms: dict[str, Any] = {"channel": "sms", "account": "sms-1", "marketing": True}
    evening = datetime(2026, 3, 3, 1, 30, tzinfo=UTC)  # 20:30 in New York and Miami
    night = datetime(2026, 3, 3, 3, 0, tzinfo=UTC)  # 22:00
    log = [
        outbound(evening, "+12125550100", **sms),  # New York: allowed until 21:00
        outbound(evening, "+13055550100", **sms),  # Florida: until 20:00 (P12)
        outbound(night, "+12125550101", **sms),
        outbound(night, "+12125550102", channel="sms", account="sms-1"),  # not marketing
    ]
    found = list(audit_log(log, OFFICIAL))
    assert [(v.rule, v.entry.contact) for v in found] == [
        ("P12", "+13055550100"),
        ("X2", "+12125550101"),
    ]
    assert "20:30 America/New_York" in found[0].detail


def test_x2_the_contact_s_time_zone_comes_before_the_phone_s() -> None:
    bob = Contact(id="bob", phone="+12125550100", timezone="Europe/Madrid")
    at = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 18:00 New York, 00:00 Madrid
    log = [outbound(at, "bob", channel="sms", account="sms-1", marketing=True)]
    assert rules(log) == ["X2"]
    assert rules(log, contacts=[bob]) == ["X2"]
    assert (
        rules([outbound(at, "+12125550100", channel="sms", account="sms-1", marketing=True)]) == []
    )


def test_x4_the_frequency_cap_counts_marketing_per_contact_across_channels() -> None:
    cap = FrequencyCap(messages=2, period=timedelta(days=1))
    log = [
        outbound(T0, "c", channel="line", account="ln", marketing=True),
        outbound(T0 + HOUR, "c", channel="line", account="ln", text="not marketing"),
        outbound(T0 + 2 * HOUR, "c", channel="line", account="ln", marketing=True),
        outbound(T0 + 3 * HOUR, "c", channel="line", account="ln", marketing=True),
        outbound(T0 + 27 * HOUR, "c", channel="line", account="ln", marketing=True),
    ]
    log = [inbound(T0 - MIN, "c", channel="line", account="ln"), *log]
    assert rules(log, RESPONDIO, frequency_cap=cap) == ["X4"]
    assert rules(log, RESPONDIO, frequency_cap=FrequencyLimit(2, timedelta(days=1))) == ["X4"]
    assert rules(log, RESPONDIO) == []


def test_p12_florida_s_three_messages_a_day_per_number() -> None:
    at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 10:00 in Miami
    log = [
        outbound(at + n * HOUR, "+13055550100", channel="sms", account="sms-1", marketing=True)
        for n in range(4)
    ]
    found = list(audit_log(log, OFFICIAL))
    assert [(v.rule, v.entry.at) for v in found] == [("P12", log[3].at)]
    assert "US-FL" in found[0].detail


# --- what else decide refuses (P6, P9, P15) ------------------------------------------------


def test_p15_p6_p9_are_reported_with_decide_s_own_reason() -> None:
    viber = OFFICIAL.derive("tiny", {"channels": {"viber": {"unanswered_cap": 1}}})
    log = [
        outbound(T0, "gb", channel="google_business", account="gb"),
        inbound(T0 + MIN, "fb", channel="messenger", account="fb"),
        outbound(
            T0 + 2 * MIN,
            "fb",
            channel="messenger",
            account="fb",
            tag="ACCOUNT_UPDATE",
            marketing=True,
        ),
        inbound(T0 + 3 * MIN, "vb", channel="viber", account="vb"),
        outbound(T0 + 4 * MIN, "vb", channel="viber", account="vb"),
        outbound(T0 + 5 * MIN, "vb", channel="viber", account="vb"),
    ]
    found = list(audit_log(log, viber))
    assert [(v.rule, v.reason) for v in found] == [
        ("P15", Reason.CHANNEL_RETIRED),
        ("P6", Reason.MARKETING_UNDER_TAG),
        ("P9", Reason.UNANSWERED_CAP_REACHED),
    ]


# --- the walk ------------------------------------------------------------------------------


def test_an_entry_out_of_time_order_stops_the_replay_naming_its_line() -> None:
    log = [outbound(T0, line=1), outbound(T0 - MIN, line=2)]
    with pytest.raises(InputError, match=r"log line 2: .* earlier than the entry before it"):
        list(audit_log(log, OFFICIAL))


def test_entries_at_the_same_instant_keep_the_log_s_order() -> None:
    assert rules([inbound(T0), outbound(T0)]) == []


def test_a_channel_the_profile_does_not_define_is_counted_unchecked() -> None:
    report = audit([outbound(T0, "a@b.c", channel="email", account="mail")], OFFICIAL)
    assert (report.messages_read, report.outbound_checked, report.unchecked) == (1, 0, 1)
    assert report.clean


def test_the_report_keeps_a_bounded_sample_per_rule_in_spec_order() -> None:
    log = [outbound(T0 + n * MIN, f"+346110000{n:02d}") for n in range(10)]
    profile = OFFICIAL.derive("wide", {"channels": {"whatsapp": {"tiers": {"limits": [1000]}}}})
    report = audit(log, profile, samples=2)
    assert report.by_rule == {"W2": 10}
    assert [v.entry for v in report.samples["W2"]] == log[:2]
    summary = summarize(audit_log(log, profile), samples=0)
    assert summary.violations == 10
    assert summary.samples == {"W2": ()}
    assert summary.messages_read is None


def test_rule_ids_sort_by_letter_then_number() -> None:
    from omnimsg.audit.report import rule_order

    assert sorted(["P12", "W2", "P4", "B11", "X2", "C3"], key=rule_order) == [
        "B11",
        "C3",
        "P4",
        "P12",
        "W2",
        "X2",
    ]


def test_an_auditor_replays_one_log() -> None:
    auditor = Auditor(OFFICIAL)
    list(auditor.run([inbound(T0)]))
    with pytest.raises(InputError, match="one log"):
        auditor.run([])


# --- hostile arguments ---------------------------------------------------------------------

HOSTILE = [None, 5, "text", b"bytes", {"a": 1}, object(), [None], [5], ["\ud800"], [[[]]]]


@pytest.mark.parametrize("value", HOSTILE)
def test_only_omnimsg_errors_escape_from_audit_log_and_audit(value: object) -> None:
    for call in (
        lambda: list(audit_log(value, OFFICIAL)),  # type: ignore[arg-type]
        lambda: list(audit_log([], value)),  # type: ignore[arg-type]
        lambda: summarize(value),  # type: ignore[arg-type]
    ):
        with pytest.raises(OmnimsgError):
            call()
    if value is not None:
        for call in (
            lambda: list(audit_log([], OFFICIAL, contacts=value)),  # type: ignore[arg-type]
            lambda: list(audit_log([], OFFICIAL, accounts=value)),  # type: ignore[arg-type]
            lambda: list(audit_log([], OFFICIAL, frequency_cap=value)),  # type: ignore[arg-type]
        ):
            with pytest.raises(OmnimsgError):
                call()
    if value != 5:
        with pytest.raises(InputError):
            audit([], OFFICIAL, samples=value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "at",
    [
        datetime.min.replace(tzinfo=UTC),
        datetime.max.replace(tzinfo=UTC),
        datetime(2026, 3, 2, 12, 0),
    ],
)
def test_an_entry_at_the_ends_of_the_range_or_naive_is_an_input_error(at: datetime) -> None:
    with pytest.raises(InputError):
        outbound(at)


def test_hostile_text_in_entries_is_judged_not_raised() -> None:
    log = [
        inbound(T0, "\x00", text="\ud800"),
        outbound(T0 + MIN, "\x00", text="\ud800" * 100_000),
        outbound(T0 + 2 * MIN, "x" * 100_000, channel="sms", account="s", marketing=True),
    ]
    found = list(audit_log(log, OFFICIAL))
    assert all(isinstance(v, Violation) for v in found)
    assert "C3" in [v.rule for v in found]
