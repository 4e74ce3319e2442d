"""Every operator: a match, a non-match and a missing value, in Python, SQLite and PostgreSQL.

SPEC A1: a condition is a field and an operator. The missing-value column of the
truth table in docs/segments.md is checked against these cases, so the documentation
cannot drift from the behaviour (SPEC section 3, "missing values").
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact, ConversationStatus
from omnimsg.segments import Operator, parse_segment
from omnimsg.segments.fields import STANDARD_FIELDS, FieldSpec
from omnimsg.state import SubscriptionStatus

from .conftest import Evaluate

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CUSTOM = {"score": "number", "note": "string", "active": "boolean", "renewal": "datetime"}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "segments.md"


def wa(last_inbound: datetime | None = None, account: str = "wa-main") -> ChannelIdentity:
    return ChannelIdentity(account, ChannelKind.WHATSAPP, "1", last_inbound_at=last_inbound)


def sms() -> ChannelIdentity:
    return ChannelIdentity("sms-1", ChannelKind.SMS, "2")


def sms_at(at: datetime) -> ChannelIdentity:
    return ChannelIdentity("sms-1", ChannelKind.SMS, "2", last_inbound_at=at)


# (condition, matching contact fields, non-matching fields, missing fields, missing result)
Case = tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any], bool]
CASES: dict[str, Case] = {
    "equals text folds case": (
        {"field": "first_name", "op": "equals", "value": "ÉLODIE"},
        {"first_name": "élodie"},
        {"first_name": "elodie"},
        {},
        False,
    ),
    "equals keyword is exact": (
        {"field": "assignee", "op": "equals", "value": "ana"},
        {"assignee": "ana"},
        {"assignee": "Ana"},
        {},
        False,
    ),
    "equals number": (
        {"field": "custom.score", "op": "equals", "value": 500},
        {"custom": {"score": 500.0}},
        {"custom": {"score": 500.5}},
        {"custom": {"score": None}},
        False,
    ),
    "equals boolean": (
        {"field": "custom.active", "op": "equals", "value": True},
        {"custom": {"active": True}},
        {"custom": {"active": False}},
        {"custom": {"active": 1}},
        False,
    ),
    "equals conversation status": (
        {"field": "conversation_status", "op": "equals", "value": "open"},
        {"conversation_status": ConversationStatus.OPEN},
        {"conversation_status": ConversationStatus.CLOSED},
        {},
        False,
    ),
    "equals subscription": (
        {"field": "subscription", "sender": "wa-main", "op": "equals", "value": "subscribed"},
        {"subscriptions": {"wa-main": SubscriptionStatus.SUBSCRIBED}},
        {"subscriptions": {"wa-main": SubscriptionStatus.DECLINED}},
        {"subscriptions": {"sms-1": SubscriptionStatus.SUBSCRIBED}},
        False,
    ),
    "not_equals text": (
        {"field": "email", "op": "not_equals", "value": "a@x.io"},
        {"email": "b@x.io"},
        {"email": "A@X.IO"},
        {},
        True,
    ),
    "not_equals number": (
        {"field": "custom.score", "op": "not_equals", "value": 1},
        {"custom": {"score": 2}},
        {"custom": {"score": 1.0}},
        {"custom": {"score": float("nan")}},
        True,
    ),
    "in text": (
        {"field": "language", "op": "in", "value": ["en", "pt-BR"]},
        {"language": "PT-br"},
        {"language": "es"},
        {},
        False,
    ),
    "in number": (
        {"field": "custom.score", "op": "in", "value": [1, 2.5]},
        {"custom": {"score": 2.5}},
        {"custom": {"score": 3}},
        {"custom": {"score": "1"}},
        False,
    ),
    "in subscription (never missing: absent is not_asked)": (
        {"field": "subscription", "sender": "sms-1", "op": "in", "value": ["not_asked"]},
        {"subscriptions": {"sms-1": SubscriptionStatus.NOT_ASKED}},
        {"subscriptions": {"sms-1": SubscriptionStatus.PROMPTED}},
        {"subscriptions": {"wa-main": SubscriptionStatus.PROMPTED}},
        True,
    ),
    "not_in text": (
        {"field": "lifecycle", "op": "not_in", "value": ["lead"]},
        {"lifecycle": "customer"},
        {"lifecycle": "LEAD"},
        {},
        True,
    ),
    "contains text is a substring, % is literal": (
        {"field": "email", "op": "contains", "value": "0%"},
        {"email": "100%@X.io"},
        {"email": "1000@x.io"},
        {},
        False,
    ),
    "contains tags is membership": (
        {"field": "tags", "op": "contains", "value": "vip"},
        {"tags": {"vip", "gold"}},
        {"tags": {"VIP"}},
        {},
        False,
    ),
    "contains channels": (
        {"field": "channels", "op": "contains", "value": "sms"},
        {"identities": [sms()]},
        {"identities": [wa()]},
        {},
        False,
    ),
    "not_contains text, _ is literal": (
        {"field": "last_name", "op": "not_contains", "value": "_"},
        {"last_name": "smith"},
        {"last_name": "a_b"},
        {},
        True,
    ),
    "not_contains tags": (
        {"field": "tags", "op": "not_contains", "value": "vip"},
        {"tags": {"gold"}},
        {"tags": {"vip"}},
        {},
        True,
    ),
    "starts_with keyword": (
        {"field": "phone", "op": "starts_with", "value": "+55"},
        {"phone": "+5511987654321"},
        {"phone": "+14155550123"},
        {},
        False,
    ),
    "starts_with text folds case": (
        {"field": "first_name", "op": "starts_with", "value": "ẞt"},
        {"first_name": "ßTRASSE"},
        {"first_name": "Strasse"},
        {},
        False,
    ),
    "is_set text": (
        {"field": "email", "op": "is_set"},
        {"email": "a@x.io"},
        {"first_name": "a@x.io", "last_name": "x"},
        {},
        False,
    ),
    "is_set number treats NaN as missing": (
        {"field": "custom.score", "op": "is_set"},
        {"custom": {"score": 0}},
        {"custom": {"score": float("nan")}},
        {"custom": {"score": "12"}},
        False,
    ),
    "is_set tags means not empty": (
        {"field": "tags", "op": "is_set"},
        {"tags": {"x"}},
        {"identities": [wa()], "custom": {"tags": "x"}},
        {},
        False,
    ),
    "is_not_set datetime": (
        {"field": "created_at", "op": "is_not_set"},
        {"identities": [wa(NOW)], "custom": {"renewal": NOW}},
        {"created_at": NOW},
        {},
        True,
    ),
    "gt number": (
        {"field": "custom.score", "op": "gt", "value": 500},
        {"custom": {"score": 500.5}},
        {"custom": {"score": 500}},
        {},
        False,
    ),
    "gt number is exact beyond 2**53": (
        {"field": "custom.score", "op": "gt", "value": 2**53},
        {"custom": {"score": 2**53 + 1}},
        {"custom": {"score": float(2**53)}},
        {"custom": {"score": True}},
        False,
    ),
    "gte number": (
        {"field": "custom.score", "op": "gte", "value": 500},
        {"custom": {"score": 500}},
        {"custom": {"score": 499.9}},
        {},
        False,
    ),
    "lt number": (
        {"field": "custom.score", "op": "lt", "value": 500},
        {"custom": {"score": float("-inf")}},
        {"custom": {"score": 500}},
        {},
        False,
    ),
    "lte datetime": (
        {"field": "created_at", "op": "lte", "value": "2024-01-01T00:00:00+00:00"},
        {"created_at": datetime(2024, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=1)))},
        {"created_at": datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC)},
        {},
        False,
    ),
    "between number, both ends included": (
        {"field": "custom.score", "op": "between", "value": [1, 2]},
        {"custom": {"score": 2}},
        {"custom": {"score": 2.000001}},
        {},
        False,
    ),
    "between datetime": (
        {
            "field": "custom.renewal",
            "op": "between",
            "value": ["2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"],
        },
        {"custom": {"renewal": datetime(2024, 1, 15, tzinfo=UTC)}},
        {"custom": {"renewal": datetime(2024, 2, 1, 0, 0, 1, tzinfo=UTC)}},
        {"custom": {"renewal": datetime(2024, 1, 15)}},
        False,
    ),
    "has_any tags": (
        {"field": "tags", "op": "has_any", "value": ["vip", "gold"]},
        {"tags": {"gold", "x"}},
        {"tags": {"Gold"}},
        {},
        False,
    ),
    "has_all tags": (
        {"field": "tags", "op": "has_all", "value": ["vip", "gold"]},
        {"tags": {"vip", "gold", "x"}},
        {"tags": {"vip"}},
        {},
        False,
    ),
    "has_all channels counts kinds, not identities": (
        {"field": "channels", "op": "has_all", "value": ["whatsapp", "sms"]},
        {"identities": [wa(), wa(account="wa-2"), sms()]},
        {"identities": [wa(), wa(account="wa-2")]},
        {},
        False,
    ),
    "has_none tags": (
        {"field": "tags", "op": "has_none", "value": ["vip", "gold"]},
        {"tags": {"x"}},
        {"tags": {"vip", "x"}},
        {},
        True,
    ),
    "has_channel": (
        {"field": "channels", "op": "has_channel", "value": "whatsapp"},
        {"identities": [wa()]},
        {"identities": [sms()]},
        {},
        False,
    ),
    "last_interacted_channel_is": (
        {
            "field": "last_interacted_channel",
            "op": "last_interacted_channel_is",
            "value": ["whatsapp", "sms"],
        },
        {"last_interacted_channel": ChannelKind.SMS},
        {"last_interacted_channel": ChannelKind.TELEGRAM},
        {},
        False,
    ),
    "phone_country_is": (
        {"field": "phone_country", "op": "phone_country_is", "value": "br"},
        {"phone": "+5511987654321"},
        {"phone": "+14155550123"},
        {},
        False,
    ),
    "before is strict": (
        {"field": "created_at", "op": "before", "value": "2024-01-01T00:00:00Z"},
        {"created_at": datetime(2023, 12, 31, 23, 59, 59, tzinfo=UTC)},
        {"created_at": datetime(2024, 1, 1, tzinfo=UTC)},
        {},
        False,
    ),
    "after reads the latest inbound message": (
        {"field": "last_inbound_at", "op": "after", "value": "2024-04-01T00:00:00Z"},
        {"identities": [wa(datetime(2024, 3, 1, tzinfo=UTC)), sms_at(NOW)]},
        {"identities": [wa(datetime(2024, 4, 1, tzinfo=UTC))]},
        {"identities": [wa(None)]},
        False,
    ),
    "within_last includes the boundary": (
        {"field": "last_inbound_at", "op": "within_last", "value": {"amount": 24, "unit": "hours"}},
        {"identities": [wa(NOW - timedelta(hours=24))]},
        {"identities": [wa(NOW - timedelta(hours=24, microseconds=1))]},
        {},
        False,
    ),
    "within_last excludes the future": (
        {"field": "created_at", "op": "within_last", "value": {"amount": 1, "unit": "days"}},
        {"created_at": NOW},
        {"created_at": NOW + timedelta(seconds=1)},
        {},
        False,
    ),
    "more_than_ago is strict": (
        {"field": "created_at", "op": "more_than_ago", "value": {"amount": 7, "unit": "days"}},
        {"created_at": NOW - timedelta(days=7, seconds=1)},
        {"created_at": NOW - timedelta(days=7)},
        {},
        False,
    ),
    "more_than_ago months on a custom datetime": (
        {
            "field": "custom.renewal",
            "op": "more_than_ago",
            "value": {"amount": 1, "unit": "months"},
        },
        {"custom": {"renewal": datetime(2024, 3, 31, tzinfo=UTC)}},
        {"custom": {"renewal": datetime(2024, 4, 1, 12, tzinfo=UTC)}},
        {"custom": {"renewal": "2024-01-01"}},
        False,
    ),
}


def _params() -> list[Any]:
    params = []
    for name, (condition, match, miss, missing, missing_result) in CASES.items():
        params.append(pytest.param(condition, match, True, id=f"{name}: match"))
        params.append(pytest.param(condition, miss, False, id=f"{name}: no match"))
        params.append(pytest.param(condition, missing, missing_result, id=f"{name}: missing"))
    return params


@pytest.mark.parametrize(("condition", "fields", "expected"), _params())
def test_operator(
    evaluate: Evaluate, condition: dict[str, Any], fields: dict[str, Any], expected: bool
) -> None:
    """SPEC A1: each operator matches, refuses and treats a missing value as documented."""
    segment = parse_segment(condition, custom_fields=CUSTOM)
    contact = Contact(id="c", **fields)
    assert evaluate([contact], segment, NOW) == ({"c"} if expected else set())


def test_each_case_uses_three_different_contacts() -> None:
    """SPEC A1: a case's match, non-match and missing contacts differ, so each row tests
    something of its own."""
    for name, (_, match, miss, missing, _) in CASES.items():
        # repr, not ==: True and 1 are different contacts here although they compare equal.
        rows = {repr(Contact(id="c", **fields)) for fields in (match, miss, missing)}
        assert len(rows) == 3, name


def test_every_operator_has_cases() -> None:
    """SPEC A1: no operator goes untested."""
    tested = {Operator(condition["op"]) for condition, *_ in CASES.values()}
    assert tested == set(Operator)


def _documented_missing_results() -> dict[str, bool]:
    rows = re.findall(
        r"^\| `(\w+)` \|[^|\n]*\|[^|\n]*\| \*\*(true|false)\*\*", DOCS.read_text(), re.M
    )
    return {op: result == "true" for op, result in rows}


def test_the_documented_truth_table_is_what_the_code_does() -> None:
    """SPEC section 3: one documented meaning per operator for a missing value."""
    documented = _documented_missing_results()
    assert set(documented) == {op.value for op in Operator}
    for name, (condition, *_, missing_result) in CASES.items():
        if condition["field"] == "subscription":
            continue  # never missing: a sender with no entry reads as not_asked
        assert documented[condition["op"]] is missing_result, name


def test_the_fields_documented_as_never_missing_are_those_without_is_set() -> None:
    """SPEC section 3: ``id`` and ``subscription`` are never missing and take no ``is_set``;
    tags and channels can be missing (the empty set), in the code, its docstring and docs.
    """
    never = {name for name, spec in STANDARD_FIELDS.items() if not spec.optional}
    assert never == {"id", "subscription"}
    rows = dict(re.findall(r"^\| `(\w+)`[^|\n]*\|[^|\n]*\|([^|\n]*)\|$", DOCS.read_text(), re.M))
    assert {name for name, reads in rows.items() if "never missing" in reads} == never
    assert all("counts as missing" in rows[name] for name in ("tags", "channels"))
    docstring = FieldSpec.__doc__ or ""
    named = re.search(r"only ((?:``\w+``|,|\s|and)+) never do", docstring)
    assert named is not None, docstring
    assert set(re.findall(r"``(\w+)``", named.group(1))) == never
