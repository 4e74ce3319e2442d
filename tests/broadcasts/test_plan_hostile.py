"""Hostile input to the planner: only omnimsg errors escape.

``plan_broadcast``, ``plan_test_send``, ``write_plan``, ``reason_rule`` and
``reason_words`` get wrong types, ``None``, naive and odd datetimes, the ends of
the date range, huge strings, NUL and lone surrogates. Each either works (the plan
is then read to its end and written) or raises an
:class:`~omnimsg.errors.OmnimsgError`; nothing else escapes.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from odd_zones import BrokenOffset, NoOffset
from omnimsg.broadcasts import (
    Audience,
    FrequencyCap,
    Plan,
    Rate,
    Sender,
    Targeting,
    plan_broadcast,
    plan_test_send,
    reason_rule,
    reason_words,
    write_plan,
)
from omnimsg.channels.capabilities import QuietHours
from omnimsg.errors import InputError, NaiveDatetimeError, OmnimsgError
from omnimsg.state import AccountState, SenderUsage

from .plan_strategies import (
    EXPERTCONNECT,
    NOW,
    RESPONDIO,
    K,
    ident,
    make_draft,
    messages,
    person,
    phone_of,
    subscribed,
)

SMS = make_draft({K.SMS: messages("Hi {{ first_name }}")}, [Sender("sms-1", K.SMS)])
GOOD = person("a", phone=phone_of(1), last=K.SMS, subs=subscribed("sms-1"))
LIMITED = attrs.evolve(
    SMS,
    quiet_hours=QuietHours(start=time(9), end=time(20)),
    frequency_cap=FrequencyCap(messages=1, period=timedelta(days=30)),
    rate=Rate(messages=1, per=timedelta(hours=1)),
)
LONG = "x" * 100_000
ODD_TEXTS = ["", "\x00", "\ud800", "\udfff", "a\x00b\ud800c", LONG, "\ud800\x00" * 5_000]


def settle(call: Callable[[], object]) -> None:
    """Run ``call``; a plan it returns is read to its end and written as JSON Lines.

    Only an :class:`OmnimsgError` may escape; a plan written is valid JSON Lines.
    """
    try:
        result = call()
        if isinstance(result, Plan):
            out = io.StringIO()
            write_plan(result, out)
            for line in out.getvalue().splitlines():
                json.loads(line)
    except OmnimsgError:
        pass


def plan_with(**changes: Any) -> Callable[[], object]:
    arguments: dict[str, Any] = {
        "draft": SMS,
        "contacts": [GOOD],
        "profile": EXPERTCONNECT,
        "now": NOW,
    }
    arguments.update(changes)
    draft = arguments.pop("draft")
    contacts = arguments.pop("contacts")
    return lambda: plan_broadcast(draft, contacts, **arguments)


# --- wrong types -------------------------------------------------------------------------

WRONG = [None, 42, 1.5, True, "text", b"bytes", [], {}, object(), date(2026, 1, 1)]


@pytest.mark.parametrize("value", WRONG, ids=repr)
@pytest.mark.parametrize(
    "name", ["draft", "contacts", "profile", "now", "accounts", "usage", "state", "history"]
)
def test_plan_broadcast_refuses_arguments_of_the_wrong_type(name: str, value: object) -> None:
    settle(plan_with(**{name: value}))


@pytest.mark.parametrize("value", [*WRONG, 0, -1, 10**100], ids=repr)
@pytest.mark.parametrize("name", ["start", "batch_size"])
def test_plan_broadcast_refuses_start_and_batch_size_of_the_wrong_type(
    name: str, value: object
) -> None:
    settle(plan_with(**{name: value}))


@pytest.mark.parametrize(
    "contacts",
    [[None], [42], ["a"], [GOOD, b"x"], [GOOD, {"id": "b"}], ({"id": "a"},)],
    ids=["none", "int", "text", "bytes-after-a-contact", "dict-after-a-contact", "dict"],
)
def test_an_audience_of_things_that_are_not_contacts_is_an_input_error(
    contacts: list[object],
) -> None:
    """Items of the wrong type in the audience are refused with an InputError."""
    with pytest.raises(InputError):
        list(plan_broadcast(SMS, contacts, profile=EXPERTCONNECT, now=NOW))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("accounts", {"sms-1": None}),
        ("accounts", {1: AccountState()}),
        ("accounts", [("sms-1", AccountState())]),
        ("usage", {"sms-1": "1500"}),
        ("usage", {None: SenderUsage()}),
        ("usage", {"sms-1": AccountState()}),
    ],
    ids=repr,
)
def test_state_mappings_with_wrong_values(name: str, value: object) -> None:
    with pytest.raises(InputError):
        plan_with(**{name: value})()


# --- history (X4) ------------------------------------------------------------------------

CAPPED = attrs.evolve(SMS, frequency_cap=FrequencyCap(messages=1, period=timedelta(days=7)))


@pytest.mark.parametrize(
    "history",
    [
        {"a": None},
        {"a": 42},
        {"a": "2026-11-30T10:00:00+00:00"},
        {"a": ["2026-11-30T10:00:00+00:00"]},
        {"a": [None]},
        {"a": [datetime(2026, 11, 30)]},
        {"a": [datetime(2026, 11, 30, tzinfo=NoOffset())]},
        {"a": [datetime(2026, 11, 30, tzinfo=BrokenOffset())]},
        {"a": [datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)]},
        lambda cid: None,
        lambda cid: 42,
        lambda cid: [date(2026, 11, 30)],
        lambda cid: iter([datetime(2026, 11, 30)]),
    ],
    ids=[
        "none",
        "int",
        "text",
        "list-of-text",
        "list-of-none",
        "naive",
        "no-offset",
        "broken-offset",
        "date-range-ends",
        "function-gives-none",
        "function-gives-int",
        "function-gives-dates",
        "function-gives-naive",
    ],
)
def test_history_of_the_wrong_shape(history: object) -> None:
    """SPEC X4: earlier sends that are not aware datetimes are refused, not crashed on."""
    settle(plan_with(draft=CAPPED, history=history))


def test_naive_history_is_a_naive_datetime_error() -> None:
    with pytest.raises(NaiveDatetimeError):
        list(
            plan_broadcast(
                CAPPED,
                [GOOD],
                profile=EXPERTCONNECT,
                now=NOW,
                history={"a": [datetime(2026, 1, 1)]},
            )
        )


# --- datetimes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 12, 1, 12),
        datetime(2026, 12, 1, 12, tzinfo=NoOffset()),
        datetime(2026, 12, 1, 12, tzinfo=BrokenOffset()),
    ],
    ids=["naive", "no-offset", "broken-offset"],
)
def test_now_must_be_an_aware_instant(now: datetime) -> None:
    with pytest.raises(InputError):
        plan_with(now=now)()
    with pytest.raises(InputError):
        plan_test_send(SMS, GOOD, profile=EXPERTCONNECT, now=now)


def test_a_naive_now_is_a_naive_datetime_error() -> None:
    with pytest.raises(NaiveDatetimeError):
        plan_with(now=datetime(2026, 12, 1, 12))()


@pytest.mark.parametrize(
    "start",
    [
        datetime(2026, 12, 2),
        datetime(2026, 12, 2, tzinfo=NoOffset()),
        datetime(2026, 12, 2, tzinfo=BrokenOffset()),
        datetime.max.replace(tzinfo=UTC),
        datetime(9999, 12, 28, tzinfo=UTC),
    ],
    ids=repr,
)
def test_odd_starts_are_refused(start: datetime) -> None:
    with pytest.raises(InputError):
        plan_with(start=start)()


EDGES = [
    *(datetime(1, 1, 1, tzinfo=UTC) + timedelta(hours=h) for h in (0, 30, 48, 54, 72, 120, 300)),
    *(
        datetime(9999, 12, 31, 23, 59, tzinfo=UTC) - timedelta(hours=h)
        for h in (0, 30, 200, 210, 216, 230, 260, 400)
    ),
    datetime.min.replace(tzinfo=UTC),
    datetime.max.replace(tzinfo=UTC),
]
EDGE_ZONES = ["UTC", "America/Los_Angeles", "Pacific/Kiritimati", "Pacific/Pago_Pago"]


EDGE_DRAFTS = {
    "plain": SMS,
    "quiet": attrs.evolve(SMS, quiet_hours=QuietHours(start=time(9), end=time(20))),
    "rate": attrs.evolve(SMS, rate=Rate(messages=1, per=timedelta(hours=1))),
    "cap": attrs.evolve(SMS, frequency_cap=FrequencyCap(messages=1, period=timedelta(days=1))),
}


@pytest.mark.parametrize("limits", list(EDGE_DRAFTS))
@pytest.mark.parametrize("zone", EDGE_ZONES)
@pytest.mark.parametrize("now", EDGES, ids=lambda d: d.isoformat())
def test_the_ends_of_the_date_range(now: datetime, zone: str, limits: str) -> None:
    """Near year 1 or 9999, with zones far from UTC, quiet hours, a rate or a
    frequency cap: a plan or an omnimsg error, never an OverflowError."""
    draft = EDGE_DRAFTS[limits]
    contact = attrs.evolve(GOOD, timezone=zone)
    accounts = {"sms-1": AccountState(timezone=zone)}
    settle(
        plan_with(
            draft=draft,
            contacts=[contact],
            now=now,
            accounts=accounts,
            history={"a": [datetime(1, 1, 1, tzinfo=UTC)]},
        )
    )
    settle(
        lambda: plan_test_send(draft, contact, profile=EXPERTCONNECT, now=now, accounts=accounts)
    )


def test_a_frequency_cap_longer_than_the_time_since_year_1() -> None:
    """X4 at the start of the date range: the cap's period reaches before year 1."""
    draft = attrs.evolve(SMS, frequency_cap=FrequencyCap(messages=1, period=timedelta(days=400)))
    settle(plan_with(draft=draft, now=datetime(1, 2, 1, tzinfo=UTC)))


# --- strings -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ODD_TEXTS, ids=lambda t: repr(t[:8]) + f"x{len(t)}")
def test_odd_strings_everywhere(text: str) -> None:
    """Huge strings, NUL and lone surrogates in ids, names, tags, texts, zones and phones."""
    contact = attrs.evolve(GOOD, first_name=text or None)
    settle(plan_with(contacts=[attrs.evolve(GOOD, id=text)]))
    settle(plan_with(contacts=[contact]))
    settle(plan_with(contacts=[attrs.evolve(GOOD, timezone=text)], draft=LIMITED))
    settle(plan_with(contacts=[attrs.evolve(GOOD, phone=text)]))
    settle(plan_with(contacts=[attrs.evolve(GOOD, phone="+1" + text)]))
    if text:
        settle(plan_with(draft=attrs.evolve(SMS, id=text, name=text, tags=frozenset({text}))))
        settle(plan_with(draft=make_draft({K.SMS: messages(text[:300])}, [Sender("sms-1", K.SMS)])))
        settle(
            plan_with(
                draft=make_draft({K.SMS: messages("hi")}, [Sender(text, K.SMS)]),
                contacts=[attrs.evolve(GOOD, subscriptions={text: "subscribed"})],
                accounts={text: AccountState()},
                usage={text: SenderUsage(recent=[(NOW, text)])},
            )
        )
        pasted = make_draft(
            {K.TELEGRAM: messages("hi")},
            [Sender("tg", K.TELEGRAM)],
            targeting=Targeting.ACCOUNT,
            account="tg",
            audience=Audience(id_list=(text, text, "other"), id_list_account="tg"),
        )
        holder = person("h", identities=[ident("tg", K.TELEGRAM, text)])
        settle(plan_with(draft=pasted, contacts=[holder], profile=RESPONDIO))
    settle(lambda: plan_test_send(SMS, contact, profile=EXPERTCONNECT, now=NOW))
    with pytest.raises(InputError):
        reason_rule(text)
    with pytest.raises(InputError):
        reason_words(text)


odd_text = st.text(
    st.one_of(st.characters(), st.sampled_from(["\x00", "\ud800", "\udc00", "{", "}"])),
    max_size=40,
)


@given(
    contact_id=odd_text,
    first_name=odd_text,
    text=odd_text.filter(bool),
    account=odd_text.filter(bool),
    phone=odd_text,
    zone=odd_text,
)
def test_random_odd_strings(
    contact_id: str, first_name: str, text: str, account: str, phone: str, zone: str
) -> None:
    """Any text in the fields the planner reads: a plan or an omnimsg error."""
    draft = make_draft(
        {K.SMS: messages(text, "{{ first_name }}" + text)},
        [Sender(account, K.SMS)],
        quiet_hours=QuietHours(start=time(8), end=time(21)),
    )
    contact = person(
        contact_id,
        first_name=first_name or None,
        phone=phone or None,
        tz=zone or None,
        last=K.SMS,
        subs=subscribed(account),
    )
    settle(plan_with(draft=draft, contacts=[contact]))
    settle(lambda: plan_test_send(draft, contact, profile=EXPERTCONNECT, now=NOW))


# --- plan_test_send -----------------------------------------------------------------------


@pytest.mark.parametrize("value", WRONG, ids=repr)
@pytest.mark.parametrize("name", ["draft", "contact", "profile", "now", "accounts", "usage"])
def test_plan_test_send_refuses_arguments_of_the_wrong_type(name: str, value: object) -> None:
    arguments: dict[str, Any] = {
        "draft": SMS,
        "contact": GOOD,
        "profile": EXPERTCONNECT,
        "now": NOW,
    }
    arguments[name] = value
    settle(lambda: plan_test_send(arguments.pop("draft"), arguments.pop("contact"), **arguments))


# --- write_plan and reading a plan -----------------------------------------------------------


@pytest.mark.parametrize(
    "stream", [None, 42, object(), io.BytesIO()], ids=["none", "int", "object", "binary"]
)
def test_write_plan_refuses_a_stream_that_is_not_a_text_stream(stream: object) -> None:
    plan = plan_broadcast(SMS, [GOOD], profile=EXPERTCONNECT, now=NOW)
    with pytest.raises(InputError):
        write_plan(plan, stream)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "plan", [None, "plan", 42, object(), [GOOD]], ids=["none", "text", "int", "object", "list"]
)
def test_write_plan_refuses_what_is_not_a_plan(plan: object) -> None:
    with pytest.raises(InputError):
        write_plan(plan, io.StringIO())  # type: ignore[arg-type]


def test_a_plan_is_read_once() -> None:
    plan = plan_broadcast(SMS, [GOOD], profile=EXPERTCONNECT, now=NOW)
    reading = iter(plan)
    with pytest.raises(InputError):
        iter(plan)
    with pytest.raises(InputError):
        _ = plan.summary
    list(reading)
    assert plan.summary.audience == 1
    with pytest.raises(InputError):
        write_plan(plan, io.StringIO())


# --- reason codes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code", [None, 42, 1.5, b"opted_out", ["opted_out"], {"opted_out"}, {"a": 1}], ids=repr
)
def test_reason_lookups_refuse_what_is_not_a_code(code: object) -> None:
    with pytest.raises(InputError):
        reason_rule(code)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        reason_words(code)  # type: ignore[arg-type]


def test_reason_lookups_know_every_code() -> None:
    assert reason_rule("no_identity") == "B2"
    assert reason_rule("broadcasts_not_supported") == "B4"
    assert reason_rule("after_seven_days") == "B10"
    assert reason_words("duplicate")
