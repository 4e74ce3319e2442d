"""The contact model segments and decisions read (SPEC A5, A6, X2)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from omnimsg import (
    ChannelKind,
    Contact,
    ConversationStatus,
    InputError,
    NaiveDatetimeError,
    PhoneNumberError,
    SubscriptionStatus,
    UnknownChannelError,
)
from omnimsg.contacts import ChannelIdentity, merge_contacts
from omnimsg.phones import normalize_phone, parse_phone, phone_region, phone_time_zones


def test_from_dict_normalises_phone_and_derives_region_and_channels() -> None:
    """SPEC A5: phones become E.164 with a default region."""
    c = Contact.from_dict(
        {
            "id": "c1",
            "first_name": "Ana",
            "last_name": "García",
            "phone": "(415) 555-0132",
            "tags": ["vip"],
            "identities": [
                {"account_id": "wa-1", "channel": "whatsapp", "external_id": "14155550132"},
                {
                    "account_id": "tg-1",
                    "channel": "TELEGRAM",
                    "external_id": "991",
                    "last_inbound_at": "2026-11-20T10:00:00+01:00",
                },
            ],
            "conversation_status": "snoozed",
            "subscriptions": {"sms-1": "subscribed"},
            "created_at": "2026-01-01T00:00:00Z",
        },
        default_region="US",
    )
    assert (c.phone, c.phone_region) == ("+14155550132", "US")
    assert c.channels == {ChannelKind.WHATSAPP, ChannelKind.TELEGRAM}
    assert c.name == "Ana García"
    assert c.conversation_status is ConversationStatus.SNOOZED
    assert c.subscriptions["sms-1"].status is SubscriptionStatus.SUBSCRIBED
    identity = c.identity_on("tg-1")
    assert identity is not None
    assert identity.last_inbound_at == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert c.identity_on("nope") is None


def test_time_zone_comes_from_the_contact_else_from_the_phone() -> None:
    """SPEC X2: the recipient's time zone comes from the contact, or else the phone."""
    assert Contact(id="a", timezone="Europe/Madrid", phone="+14155550132").time_zones() == (
        "Europe/Madrid",
    )
    assert Contact(id="b", phone="+14155550132").time_zones() == ("America/Los_Angeles",)
    assert Contact(id="c").time_zones() == ()


@pytest.mark.parametrize(
    ("data", "error", "needle"),
    [
        ({"first_name": "x"}, InputError, "missing 'id'"),
        ({"id": "1", "phone": "12345"}, PhoneNumberError, "contact '1'.phone"),
        ({"id": "1", "created_at": "2026-01-01T00:00:00"}, NaiveDatetimeError, "created_at"),
        ({"id": "1", "created_at": date(2026, 1, 1)}, InputError, "created_at"),
        ({"id": "1", "created_at": "soon"}, InputError, "ISO 8601"),
        ({"id": "1", "custom": {"when": datetime(2026, 1, 1)}}, NaiveDatetimeError, "custom.when"),
        ({"id": "1", "custom": {"blob": [1, 2]}}, InputError, "custom.blob"),
        ({"id": "1", "identities": [{"channel": "sms"}]}, InputError, r"identities\[0\]"),
        (
            {"id": "1", "identities": [{"account_id": "a", "channel": "fax", "external_id": "x"}]},
            LookupError,
            "fax",
        ),
        ({"id": "1", "conversation_status": "asleep"}, InputError, "asleep"),
        ({"id": "1", "subscriptions": {"s": "maybe"}}, InputError, "maybe"),
    ],
)
def test_bad_contact_data_is_refused_naming_the_field(
    data: dict[str, object], error: type[Exception], needle: str
) -> None:
    with pytest.raises(error, match=needle):
        Contact.from_dict(data)


def test_parse_phone_gives_the_same_number_and_region_as_the_separate_calls() -> None:
    for raw in ("+34 612 345 678", "+55 11 91234-5678", "+44 7911 123456", "+1 415 555 0132"):
        e164, region = parse_phone(raw)
        assert e164 == normalize_phone(raw)
        assert region == phone_region(e164)
        assert phone_time_zones(e164)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"id": "a", "first_name": 5}, r"contact 'a'\.first_name: expected text"),
        ({"id": "a", "tags": [1, "vip"]}, r"contact 'a'\.tags: every tag must be text"),
        ({"id": "a", "tags": 5}, r"contact 'a'\.tags"),
        ({"id": "a", "custom": ["x"]}, r"contact 'a'\.custom: expected a mapping"),
        ({"id": "a", "subscriptions": ["x"]}, r"contact 'a'\.subscriptions"),
        ({"id": "a", "identities": ["x"]}, r"contact 'a'\.identities\[0\]"),
        ({"id": "a", "identities": {"a": 1}}, r"contact 'a'\.identities: expected a list"),
        ({"id": True}, "contact.id"),
    ],
)
def test_values_the_engines_could_not_read_are_refused_when_built(
    data: dict[str, object], needle: str
) -> None:
    """SPEC A5: a contact is checked once, at the boundary, naming the field."""
    with pytest.raises(InputError, match=needle):
        Contact.from_dict(data)


def test_a_numeric_phone_is_read_as_text() -> None:
    contact = Contact.from_dict({"id": "a", "phone": 4155550132}, default_region="US")
    assert contact.phone == "+14155550132"


def test_an_unknown_channel_names_the_field() -> None:
    with pytest.raises(UnknownChannelError, match=r"contact 'a'\.last_interacted_channel"):
        Contact.from_dict({"id": "a", "last_interacted_channel": "fax"})


def test_a_bad_default_region_is_an_input_error() -> None:
    with pytest.raises(InputError, match="default_region"):
        Contact.from_dict({"id": "a"}, default_region=1)  # type: ignore[arg-type]


def test_p16_a_merge_keeps_the_whatsapp_id_of_the_latest_inbound_message() -> None:
    """SPEC P16: replies go to the id the platform sent last; an import carrying an
    older form of the same person's id does not replace the newer one."""
    newer = datetime(2026, 1, 5, tzinfo=UTC)
    older = datetime(2024, 1, 5, tzinfo=UTC)
    wa = ChannelKind.WHATSAPP
    stored = Contact(
        id="c1", identities=(ChannelIdentity("wa-1", wa, "525512345678", last_inbound_at=newer),)
    )
    stale = Contact(
        id="c1", identities=(ChannelIdentity("wa-1", wa, "5215512345678", last_inbound_at=older),)
    )
    fresh = Contact(
        id="c1",
        identities=(
            ChannelIdentity("wa-1", wa, "5215512345678", last_inbound_at=newer + timedelta(days=1)),
        ),
    )
    assert [i.external_id for i in merge_contacts(stored, stale).identities] == ["525512345678"]
    assert [i.external_id for i in merge_contacts(stored, fresh).identities] == ["5215512345678"]
