"""A plan omnimsg made and dispatched is clean under the auditor (SPEC W2, B11, B13, X2, X4, P12).

The planner places each send; the dispatcher sends it, deciding again, with a clock
the injected ``sleep`` moves; the transport records the instant of each request.
The log is the inbound messages that opened the windows plus every request as it
went (:func:`omnimsg.audit.entry_from_request`), and the auditor, reading the same
profile, contacts and frequency cap, finds nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from omnimsg import load_profile
from omnimsg.audit import Direction, LogEntry, audit_log, entry_from_request
from omnimsg.broadcasts import Audience, FrequencyCap, Sender, plan_broadcast
from omnimsg.broadcasts.model import BroadcastMessage, Draft
from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact
from omnimsg.errors import InputError
from omnimsg.state import SubscriptionStatus
from omnimsg.transports import SendRequest

from .builders import dispatch_recorded

OFFICIAL = load_profile("official")
NOW = datetime(2026, 3, 3, 1, 30, tzinfo=UTC)  # 20:30 in New York and Miami, 19:30 in Tulsa
K = ChannelKind


def _contacts() -> list[Contact]:
    people = []
    for n in range(6):  # WhatsApp: three wrote an hour ago, three a week ago
        phone = f"+3461100{n:04d}"
        wrote = NOW - (timedelta(hours=1) if n < 3 else timedelta(days=7))
        people.append(
            Contact(
                id=f"wa{n}",
                phone=phone,
                last_interacted_channel=K.WHATSAPP,
                identities=(
                    ChannelIdentity(
                        account_id="wa-1",
                        channel=K.WHATSAPP,
                        external_id=phone,
                        last_inbound_at=wrote,
                    ),
                ),
            )
        )
    for n, area in enumerate(["212", "305", "918", "415"] * 3):  # NY, FL, OK, CA
        phone = f"+1{area}55501{n:02d}"
        people.append(
            Contact(
                id=f"sms{n}",
                phone=phone,
                last_interacted_channel=K.SMS,
                identities=(ChannelIdentity(account_id="sms-1", channel=K.SMS, external_id=phone),),
                subscriptions={"sms-1": SubscriptionStatus.SUBSCRIBED},
            )
        )
    return people


def _draft(*, reminder: bool = False) -> Draft:
    whatsapp: tuple[BroadcastMessage, ...] = (
        BroadcastMessage(text="Spring sale: 20% off", template="spring_sale"),
    )
    if reminder:
        whatsapp += (BroadcastMessage(text="Ends Sunday", template="spring_reminder"),)
    return Draft(
        id="spring",
        name="Spring sale",
        audience=Audience(),
        content={
            K.WHATSAPP: whatsapp,
            K.SMS: (BroadcastMessage(text="Spring sale: 20% off. Reply STOP to opt out"),),
        },
        senders=(Sender("wa-1", K.WHATSAPP), Sender("sms-1", K.SMS)),
        frequency_cap=FrequencyCap(messages=2, period=timedelta(days=1)),
    )


def _dispatched(
    contacts: list[Contact], draft: Draft | None = None
) -> list[tuple[datetime, SendRequest]]:
    plan = plan_broadcast(draft or _draft(), contacts, profile=OFFICIAL, now=NOW)
    return dispatch_recorded(plan, NOW)


def _log(contacts: list[Contact], sent: list[tuple[datetime, SendRequest]]) -> list[LogEntry]:
    opened = [
        LogEntry(
            at=identity.last_inbound_at,
            direction=Direction.INBOUND,
            channel=identity.channel,
            account=identity.account_id,
            contact=contact.id,
            text="Hello",
        )
        for contact in contacts
        for identity in contact.identities
        if identity.last_inbound_at is not None
    ]
    went = [entry_from_request(request, at, marketing=True) for at, request in sent]
    return sorted([*opened, *went], key=lambda entry: entry.at)


def test_a_plan_omnimsg_dispatched_is_clean_under_the_auditor() -> None:
    contacts = _contacts()
    sent = _dispatched(contacts)
    # Both channels sent, and some SMS went later than the plan's start (quiet hours).
    assert {request.channel for _, request in sent} == {K.WHATSAPP, K.SMS}
    assert len(sent) == 6 + 12
    assert any(at > NOW + timedelta(hours=3) for at, r in sent if r.channel is K.SMS)
    log = _log(contacts, sent)
    found = list(audit_log(log, OFFICIAL, contacts=contacts, frequency_cap=_draft().frequency_cap))
    assert found == []


def test_a_two_message_whatsapp_broadcast_keeps_p5_s_interval() -> None:
    # SPEC P5: about one message per 6 s to the same WhatsApp user; the planner spaces
    # one recipient's messages by the channel's interval, and the dispatcher keeps it.
    contacts = _contacts()
    sent = _dispatched(contacts, _draft(reminder=True))
    found = [v.rule for v in audit_log(_log(contacts, sent), OFFICIAL, contacts=contacts)]
    assert found == []
    by_user: dict[str, list[datetime]] = {}
    for at, request in sent:
        if request.channel is K.WHATSAPP:
            by_user.setdefault(request.recipient, []).append(at)
    assert len(by_user) == 6
    for times in by_user.values():
        assert len(times) == 2
        assert times[1] - times[0] >= timedelta(seconds=6)


def test_the_same_log_sent_at_night_is_not_clean() -> None:
    # The check above can fail: the same sends moved to 03:00 UTC break X2 and P12.
    contacts = _contacts()
    sent = _dispatched(contacts)
    night = datetime(2026, 3, 3, 3, 0, tzinfo=UTC)
    moved = [(night + i * timedelta(seconds=1), r) for i, (_, r) in enumerate(sent)]
    found = {v.rule for v in audit_log(_log(contacts, moved), OFFICIAL, contacts=contacts)}
    assert {"X2", "P12"} <= found


def test_entry_from_request_refuses_what_is_no_request() -> None:
    with pytest.raises(InputError):
        entry_from_request("request", NOW)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        entry_from_request(_dispatched(_contacts())[0][1], datetime(2026, 3, 2))
