"""Choices the planner makes where the rules are silent (docs/planner.md)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone

from omnimsg.broadcasts import (
    Audience,
    BroadcastMessage,
    Draft,
    OutcomeKind,
    Schedule,
    Sender,
    Targeting,
    plan_broadcast,
)
from omnimsg.channels.kinds import ChannelKind
from omnimsg.channels.registry import load_profile
from omnimsg.contacts import ChannelIdentity, Contact

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
LIVETEX = load_profile("livetex")
RESPONDIO = load_profile("respondio")


def whatsapp_draft(*senders: str) -> Draft:
    return Draft(
        id="wa",
        name="WhatsApp",
        audience=Audience(),
        content={"whatsapp": (BroadcastMessage(text="Hi", template="winter"),)},
        senders=tuple(Sender(s, "whatsapp") for s in senders),
        channels={"whatsapp"},
    )


def wa_contact(cid: str, external_id: str, account: str = "wa-1") -> Contact:
    return Contact(
        id=cid,
        identities=(ChannelIdentity(account, "whatsapp", external_id),),
        last_interacted_channel="whatsapp",
    )


def test_a_whatsapp_id_is_the_phone_digits_without_a_plus() -> None:
    """WhatsApp ids are the number's digits (34612345678): reachable, not an invalid phone."""
    (outcome,) = plan_broadcast(
        whatsapp_draft("wa-1"), [wa_contact("c1", "34612345678")], profile=LIVETEX, now=NOW
    )
    assert outcome.outcome is OutcomeKind.PLANNED
    assert outcome.sends[0].address == "34612345678"


def test_a_bad_address_on_one_team_number_leaves_the_others() -> None:
    """B11: the contact's phone reaches it from the other number."""
    contact = Contact(
        id="c1",
        phone="+34612345678",
        identities=(ChannelIdentity("wa-1", "whatsapp", "not-a-phone"),),
        last_interacted_channel="whatsapp",
    )
    draft = whatsapp_draft("wa-1", "wa-2")
    (outcome,) = plan_broadcast(draft, [contact], profile=LIVETEX, now=NOW)
    assert outcome.outcome is OutcomeKind.PLANNED
    assert outcome.account_id == "wa-2"
    (alone,) = plan_broadcast(
        whatsapp_draft("wa-1"), [wa_contact("c1", "not-a-phone")], profile=LIVETEX, now=NOW
    )
    assert (alone.reason, alone.rule) == ("invalid_phone", "A5")


def test_team_numbers_take_turns_when_both_can_send_at_once() -> None:
    """B11: the load is shared even when no number is limited yet."""
    contacts = [Contact(id=f"c{i}", phone=f"+3461234{i:04d}") for i in range(10)]
    draft = Draft(
        id="sms",
        name="SMS",
        audience=Audience(),
        content={"sms": (BroadcastMessage(text="Hola"),)},
        senders=(Sender("sms-1", "sms"), Sender("sms-2", "sms")),
        channels={"sms"},
    )
    profile = load_profile("expertconnect")
    subscribed = [
        Contact(
            id=c.id, phone=c.phone, subscriptions={"sms-1": "subscribed", "sms-2": "subscribed"}
        )
        for c in contacts
    ]
    plan = plan_broadcast(draft, subscribed, profile=profile, now=NOW)
    accounts = [o.account_id for o in plan]
    assert accounts.count("sms-1") == accounts.count("sms-2") == 5


def test_instants_are_written_in_utc() -> None:
    """The plan's start is UTC in the JSON Lines, whatever offset the draft used."""
    madrid = timezone(timedelta(hours=1))
    draft = Draft(
        id="wa",
        name="WhatsApp",
        audience=Audience(),
        content={"whatsapp": (BroadcastMessage(text="Hi", template="winter"),)},
        senders=(Sender("wa-1", "whatsapp"),),
        channels={"whatsapp"},
        schedule=Schedule(start=datetime(2026, 12, 1, 10, 0, tzinfo=madrid)),
    )
    out = io.StringIO()
    plan_broadcast(draft, [wa_contact("c1", "34612345678")], profile=LIVETEX, now=NOW).write_jsonl(
        out
    )
    header, outcome, summary = (json.loads(line) for line in out.getvalue().splitlines())
    assert header["start"] == "2026-12-01T09:00:00+00:00"
    assert summary["start"] == header["start"]
    assert outcome["sends"][0]["not_before"] == "2026-12-01T09:00:00+00:00"


def test_no_identity_names_the_targeting_rule() -> None:
    """B2 for a specific account, B3 for the last interacted channel."""
    contact = Contact(id="c1", last_interacted_channel="telegram")
    content = {"telegram": (BroadcastMessage(text="Hi"),)}
    last = Draft(
        id="t",
        name="T",
        audience=Audience(),
        content=content,
        senders=(Sender("tg-1", "telegram"),),
        channels={"telegram"},
    )
    (outcome,) = plan_broadcast(last, [contact], profile=RESPONDIO, now=NOW)
    assert (outcome.reason, outcome.rule) == ("no_identity", "B3")
    account = Draft(
        id="t",
        name="T",
        audience=Audience(),
        content=content,
        senders=(Sender("tg-1", "telegram"),),
        targeting=Targeting.ACCOUNT,
        account="tg-1",
    )
    (outcome,) = plan_broadcast(account, [contact], profile=RESPONDIO, now=NOW)
    assert (outcome.reason, outcome.rule) == ("no_identity", "B2")


def test_the_summary_sentence_groups_thousands() -> None:
    """B7, read by a person: "a total of 1,200 messages to 1,200 recipients"."""
    contacts = [
        Contact(
            id=f"c{i}",
            identities=(ChannelIdentity("tg-1", "telegram", f"u{i}"),),
            last_interacted_channel="telegram",
        )
        for i in range(1200)
    ]
    draft = Draft(
        id="t",
        name="T",
        audience=Audience(),
        content={"telegram": (BroadcastMessage(text="Hi"),)},
        senders=(Sender("tg-1", "telegram"),),
        channels={"telegram"},
    )
    summary = plan_broadcast(draft, contacts, profile=RESPONDIO, now=NOW).run()
    assert summary.describe() == "a total of 1,200 messages to 1,200 recipients"
    assert summary.recipients == 1200
    assert ChannelKind.TELEGRAM in summary.by_channel


def test_b15_the_plan_reports_each_recipient_left_out_with_the_reason() -> None:
    """SPEC B15, the planning half (the dispatcher reports failed sends): every contact
    the broadcast will not reach has its line with the reason and rule, and every send
    carries the text it goes with, the context an operator sees beside a reply."""
    contacts = [
        wa_contact("reached", "34612345678"),
        Contact(id="no-whatsapp", last_interacted_channel="whatsapp"),
        wa_contact("bad-id", "not-a-phone"),
    ]
    out = io.StringIO()
    plan_broadcast(whatsapp_draft("wa-1"), contacts, profile=LIVETEX, now=NOW).write_jsonl(out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    outcomes = {line["entry"]: line for line in lines if line["type"] == "outcome"}
    assert set(outcomes) == {"reached", "no-whatsapp", "bad-id"}
    assert (outcomes["no-whatsapp"]["reason"], outcomes["no-whatsapp"]["rule"]) == (
        "no_identity",
        "B3",
    )
    assert (outcomes["bad-id"]["reason"], outcomes["bad-id"]["rule"]) == ("invalid_phone", "A5")
    (send,) = outcomes["reached"]["sends"]
    assert send["text"] == "Hi"
    assert lines[-1]["excluded_by_reason"] == {"invalid_phone": 1, "no_identity": 1}
