"""The bundled log with one violation of each kind: the auditor finds each, and nothing else.

examples/audit/violations.jsonl (and its CSV twin, one line lower for the header) is
audited under examples/audit/profile.toml (the official rules, SPEC section 7, with
three caps made small), with examples/audit/contacts.json and a frequency cap of 2
marketing messages per contact in 7 days (X4).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from omnimsg import load_profile
from omnimsg.audit import audit, audit_log, read_log
from omnimsg.channels.capabilities import FrequencyLimit
from omnimsg.contacts import Contact

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples" / "audit"
PROFILE = load_profile(EXAMPLES / "profile.toml")
CAP = FrequencyLimit(messages=2, period=timedelta(days=7))

# (rule, line in the JSON Lines file): one of each kind the auditor finds.
EXPECTED = [
    ("W2", 4),  # SPEC W2, P1: free-form WhatsApp with no window
    ("P4", 7),  # SPEC B13, P4: a fourth unique user with a limit of three
    ("C3", 9),  # SPEC C3, P5: 4,114 characters where WhatsApp takes 4,096
    ("W5", 16),  # SPEC W5, P8: the sixth WeChat message in a window (5 from 2023-06-12)
    ("B11", 22),  # SPEC B11: a third recipient in a day with a cap of two
    ("P9", 26),  # SPEC P9: a third unanswered Viber message in an hour
    ("P15", 29),  # SPEC P15: Google Business Messages, retired
    ("X1", 33),  # SPEC X1, P13: marketing after STOP
    ("P12", 38),  # SPEC P12: 20:30 in Florida
    ("X2", 39),  # SPEC X2: 22:00 in New York
    ("P6", 40),  # SPEC P6: promotion under a Messenger tag
    ("X4", 42),  # SPEC X4: a third marketing message in 7 days
]


def _contacts() -> list[Contact]:
    data = json.loads((EXAMPLES / "contacts.json").read_text(encoding="utf-8"))
    return [Contact.from_dict(item) for item in data]


@pytest.mark.parametrize(("name", "offset"), [("violations.jsonl", 0), ("violations.csv", 1)])
def test_the_bundled_log_has_exactly_one_violation_of_each_kind(name: str, offset: int) -> None:
    found = [
        (v.rule, v.entry.line)
        for v in audit_log(
            read_log(EXAMPLES / name), PROFILE, contacts=_contacts(), frequency_cap=CAP
        )
    ]
    assert found == [(rule, line + offset) for rule, line in EXPECTED]


def test_each_kind_of_the_bundled_log_is_a_different_rule() -> None:
    rules = [rule for rule, _ in EXPECTED]
    assert len(set(rules)) == len(rules)


def test_the_report_of_the_bundled_log_counts_one_per_rule() -> None:
    report = audit(
        read_log(EXAMPLES / "violations.jsonl"), PROFILE, contacts=_contacts(), frequency_cap=CAP
    )
    assert report.violations == len(EXPECTED)
    assert dict(report.by_rule) == {rule: 1 for rule, _ in EXPECTED}
    assert report.messages_read == 42
    assert report.outbound_checked == 30
    assert not report.clean


def test_without_the_contact_data_ana_s_reply_has_no_window() -> None:
    # SPEC W2: Ana wrote at 08:00 (contacts.json); without it the 09:02 reply is
    # free-form with no window, and she counts as a started user (B13, P4).
    found = [
        (v.rule, v.entry.line)
        for v in audit_log(read_log(EXAMPLES / "violations.jsonl"), PROFILE, frequency_cap=CAP)
    ]
    assert found[:4] == [("W2", 3), ("W2", 4), ("P4", 6), ("P4", 7)]
    assert found[4:] == EXPECTED[2:]


def test_without_the_frequency_cap_x4_is_not_checked() -> None:
    found = [
        v.rule
        for v in audit_log(read_log(EXAMPLES / "violations.jsonl"), PROFILE, contacts=_contacts())
    ]
    assert found == [rule for rule, _ in EXPECTED if rule != "X4"]
