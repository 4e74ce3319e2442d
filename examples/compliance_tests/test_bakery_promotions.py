"""The weekend SMS promotion: planned inside the law's hours, never to who said STOP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from bakery import MADRID, SMS, weekend_promo

from omnimsg import Contact, OutcomeKind, Profile
from omnimsg.testing import assert_plan_respects

Customer = Callable[..., Contact]


def _audience(customer: Customer) -> list[Contact]:
    return [
        customer(first_name="Ana", tags={"promos"}),
        customer(first_name="Bo", tags={"promos"}, subscribed=True),
        customer(first_name="Luis", tags={"promos"}, opted_out=True),
        customer(first_name="Eva", tags={"wholesale"}),
    ]


def test_the_promo_respects_the_official_rules(
    customer: Customer, omnimsg_profile: Profile, omnimsg_now: datetime
) -> None:
    """Quiet hours, rate, opt-outs: every planned SMS is checked again (X1, X2, B10)."""
    contacts = _audience(customer)
    plan = weekend_promo(contacts, profile=omnimsg_profile, now=omnimsg_now)
    outcomes = assert_plan_respects(plan, contacts=contacts, accounts={SMS: MADRID})
    by_name = {c.first_name: o for c, o in zip(contacts[:3], outcomes, strict=True)}
    assert by_name["Ana"].outcome is OutcomeKind.PLANNED
    assert by_name["Bo"].outcome is OutcomeKind.PLANNED
    assert (by_name["Luis"].outcome, by_name["Luis"].reason) == (OutcomeKind.EXCLUDED, "opted_out")
    assert len(outcomes) == 3  # Eva is not tagged for promotions


@pytest.mark.omnimsg_now("2026-03-06T22:30:00+01:00")
def test_a_late_evening_promo_waits_for_the_morning(
    customer: Customer, omnimsg_profile: Profile, omnimsg_now: datetime
) -> None:
    """Planned at 22:30 in Madrid, nothing goes before 08:00 (X2)."""
    contacts = _audience(customer)
    plan = weekend_promo(contacts, profile=omnimsg_profile, now=omnimsg_now)
    outcomes = assert_plan_respects(plan, contacts=contacts, accounts={SMS: MADRID})
    sends = [s for o in outcomes for s in o.sends]
    assert sends
    assert all(s.not_before >= omnimsg_now + timedelta(hours=9, minutes=30) for s in sends)


def test_our_own_stricter_hours_are_kept(
    customer: Customer, make_profile: Callable[..., Profile], omnimsg_now: datetime
) -> None:
    """The shop promises no promotion before 10:00 or after 19:00: a derived profile."""
    ours = make_profile("official", sms={"quiet_hours": {"start": "10:00", "end": "19:00"}})
    contacts = _audience(customer)
    plan = weekend_promo(contacts, profile=ours, now=omnimsg_now)
    assert_plan_respects(plan, contacts=contacts, accounts={SMS: MADRID})


def test_a_plan_of_the_official_rules_may_break_ours(
    customer: Customer,
    omnimsg_profile: Profile,
    make_profile: Callable[..., Profile],
    omnimsg_now: datetime,
) -> None:
    """Checked against stricter hours, a plan made under the official ones fails, and
    the failure names the rule (X2)."""
    ours = make_profile("official", sms={"quiet_hours": {"start": "12:00", "end": "13:00"}})
    contacts = _audience(customer)
    plan = weekend_promo(contacts, profile=omnimsg_profile, now=omnimsg_now)
    with pytest.raises(AssertionError, match=r"\[X2\]"):
        assert_plan_respects(plan, ours, contacts=contacts, accounts={SMS: MADRID})
