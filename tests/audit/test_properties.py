"""Properties of the audit over generated logs (SPEC W2, W5, X1, X2, B13, P5, P8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from omnimsg import load_profile
from omnimsg.audit import LogEntry, audit, audit_log, summarize

from .builders import inbound, outbound

OFFICIAL = load_profile("official")
STARTS = st.sampled_from(
    [
        datetime(2023, 6, 10, 8, 0, tzinfo=UTC),  # WeChat's cap changes on the 12th (P8)
        datetime(2025, 4, 10, 14, 0, tzinfo=UTC),  # SMS opt-out scope changes on the 11th (P13)
        datetime(2026, 3, 2, 12, 0, tzinfo=UTC),
    ]
)
CHANNELS = {
    "whatsapp": "wa-1",
    "wechat": "wc-1",
    "sms": "sms-1",
    "messenger": "fb-1",
    "telegram": "tg-1",
}
CONTACTS = ["+12125550100", "+13055550101", "+34611000002", "c3"]
TEXTS = st.sampled_from(["hi", "STOP", "START", "x" * 5000, "Sale!"])

_EVENT = st.tuples(
    st.integers(0, 3000),  # minutes after the event before
    st.booleans(),  # inbound
    st.sampled_from(sorted(CHANNELS)),
    st.sampled_from(CONTACTS),
    TEXTS,
    st.booleans(),  # template
    st.booleans(),  # marketing
)


@st.composite
def logs(draw: st.DrawFn) -> list[LogEntry]:
    """A log in time order over a few channels, contacts and years."""
    at = draw(STARTS)
    entries = []
    for step, is_inbound, channel, contact, text, template, marketing in draw(
        st.lists(_EVENT, max_size=40)
    ):
        at += timedelta(minutes=step)
        account = CHANNELS[channel]
        if is_inbound:
            entries.append(inbound(at, contact, channel=channel, account=account, text=text))
        else:
            entries.append(
                outbound(
                    at,
                    contact,
                    channel=channel,
                    account=account,
                    text=text,
                    template="t" if template else None,
                    marketing=marketing,
                )
            )
    return entries


@st.composite
def conversations(draw: st.DrawFn) -> list[LogEntry]:
    """Contacts writing and each getting one reply 30 s later: every reply is inside a
    fresh window."""
    at = draw(STARTS)
    entries = []
    for step, channel, contact in draw(
        st.lists(
            st.tuples(
                st.integers(1, 3000),
                st.sampled_from(["whatsapp", "wechat", "messenger"]),
                st.sampled_from(CONTACTS),
            ),
            max_size=40,
        )
    ):
        at += timedelta(minutes=step)
        account = CHANNELS[channel]
        entries.append(inbound(at, contact, channel=channel, account=account, text="hello"))
        entries.append(
            outbound(
                at + timedelta(seconds=30),
                contact,
                channel=channel,
                account=account,
                text="Thanks, we are on it",
            )
        )
    return entries


@settings(max_examples=60)
@given(conversations())
def test_replies_inside_fresh_windows_are_clean(log: list[LogEntry]) -> None:
    # SPEC W2, W3, W5, P1, P8: one reply per message from the contact, 30 s later
    assert list(audit_log(log, OFFICIAL)) == []


@settings(max_examples=60)
@given(logs(), st.data())
def test_one_free_form_message_outside_any_window_adds_exactly_one_w2(
    log: list[LogEntry], data: st.DataObject
) -> None:
    # SPEC W2: a WhatsApp contact who never wrote, sent free-form text
    before = [(v.rule, v.entry) for v in audit_log(log, OFFICIAL)]
    spot = data.draw(st.integers(0, len(log)))
    at = log[spot - 1].at if spot else (log[0].at if log else datetime(2026, 1, 1, tzinfo=UTC))
    extra = outbound(at, "+4915100000099", text="Remember us?")
    changed = [*log[:spot], extra, *log[spot:]]
    after = [(v.rule, v.entry) for v in audit_log(changed, OFFICIAL)]
    assert [pair for pair in after if pair[1] is extra] == [("W2", extra)]
    assert [pair for pair in after if pair[1] is not extra] == before


@settings(max_examples=60)
@given(logs(), st.integers(0, 5))
def test_counts_by_rule_add_up_to_the_violations_and_samples_are_bounded(
    log: list[LogEntry], samples: int
) -> None:
    found = list(audit_log(log, OFFICIAL))
    report = audit(log, OFFICIAL, samples=samples)
    assert report.violations == len(found) == sum(report.by_rule.values())
    assert report.messages_read == len(log)
    assert report.outbound_checked == sum(1 for e in log if e.outbound)
    for rule, kept in report.samples.items():
        assert len(kept) == min(samples, report.by_rule[rule])
        assert list(kept) == [v for v in found if v.rule == rule][:samples]


@settings(max_examples=40)
@given(logs())
def test_streaming_the_same_log_twice_gives_the_same_report(log: list[LogEntry]) -> None:
    first = audit(iter(log), OFFICIAL)
    second = audit((x for x in log), OFFICIAL)
    assert first == second
    assert summarize(audit_log(log, OFFICIAL)).by_rule == first.by_rule
