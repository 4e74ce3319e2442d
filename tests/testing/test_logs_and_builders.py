"""assert_no_violations over the auditor, and the builders behind make_profile and
make_contact (derive_profile, ContactFactory), with hostile arguments."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from omnimsg import (
    ChannelKind,
    ConformanceError,
    Contact,
    InputError,
    ProfileError,
    SubscriptionStatus,
    UnknownChannelError,
    UnknownProfileError,
    conversation_state,
    load_profile,
)
from omnimsg.audit import LogEntry, read_log
from omnimsg.testing import ContactFactory, assert_no_violations, derive_profile

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "audit"


def _line(minute: int, direction: str, text: str, **extra: object) -> str:
    row = {
        "at": f"2026-03-02T09:{minute:02d}:00Z",
        "direction": direction,
        "channel": "whatsapp",
        "account": "wa-1",
        "contact": "+34611000001",
        "text": text,
        **extra,
    }
    return json.dumps(row)


CLEAN = [_line(0, "inbound", "Hola"), _line(1, "outbound", "¡Hola! Sí.")]
LATE = [*CLEAN, _line(2, "outbound", "promo", contact="+34611000009")]


def test_a_clean_log_passes_as_lines_entries_or_a_file(tmp_path: Path) -> None:
    """SPEC W2: a reply inside the window breaks nothing."""
    official = load_profile("official")
    assert_no_violations(CLEAN, official)
    assert_no_violations(list(read_log(CLEAN)), official)
    assert_no_violations([], official)
    path = tmp_path / "sent.jsonl"
    path.write_text("\n".join(CLEAN) + "\n", encoding="utf-8")
    assert_no_violations(path, official)
    assert_no_violations(str(path), official, contacts=[])


def test_a_violation_fails_with_rule_reason_line_and_why() -> None:
    """SPEC W2: free-form text to a contact who never wrote."""
    with pytest.raises(ConformanceError) as failed:
        assert_no_violations(LATE, load_profile("official"))
    message = str(failed.value)
    assert "expected no violations of profile 'official', but the log has 1 (W2: 1)" in message
    assert "[W2] template_required line 3: outbound whatsapp on wa-1 to +34611000009" in message
    assert "only a pre-approved template may be sent" in message


def test_the_bundled_audit_example_lists_its_first_violations_and_counts_all() -> None:
    """Every kind of violation in examples/audit is counted; ten are shown."""
    profile = load_profile(EXAMPLE / "profile.toml")
    contacts = [Contact.from_dict(d) for d in json.loads((EXAMPLE / "contacts.json").read_text())]
    with pytest.raises(ConformanceError) as failed:
        assert_no_violations(EXAMPLE / "violations.jsonl", profile, contacts)
    message = str(failed.value)
    for rule in ("W2", "W5", "X1", "X2", "P12", "B11"):
        assert f"{rule}: " in message.splitlines()[0]
    assert message.count("\n  - [") == 10
    assert "... and" in message


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((None, "official"), "expected a Profile"),
        ((CLEAN, None), "expected a Profile"),
        ((5, "P"), "expected a path, lines or log entries"),
        (([5], "P"), r"log\[0\]: expected a log line or a LogEntry"),
        ((CLEAN, "P", "c1"), "expected contacts"),
        ((CLEAN, "P", [None]), r"contacts\[0\]"),
        (("no/such/log\x00.jsonl", "P"), None),
        ((["\ud800"], "P"), None),
        ((["{" * 100_000], "P"), None),
    ],
)
def test_assert_no_violations_refuses_wrong_arguments(
    args: tuple[object, ...], fragment: str | None
) -> None:
    official = load_profile("official")
    real = tuple(official if a == "P" else a for a in args)
    with pytest.raises(InputError, match=fragment):
        assert_no_violations(*real)  # type: ignore[arg-type]


def test_entries_built_in_code_are_accepted() -> None:
    entry = LogEntry(
        at=NOW,
        direction="outbound",
        channel="sms",
        account="sms-1",
        contact="+34612000001",
        text="Your order is ready",
    )
    assert_no_violations([entry], load_profile("official"))


# --- derive_profile ------------------------------------------------------------------------


def test_derive_profile_merges_per_channel_overrides() -> None:
    """SPEC W8: windows and caps are data, derived in one line."""
    profile = derive_profile(
        "official",
        whatsapp={"window": "48h"},
        sms={"daily_recipient_cap": 50},
        overrides={"channels": {"sms": {"rate_per_second": 2}}, "description": "ours"},
    )
    assert profile.name == "official-test"
    assert profile.description == "ours"
    assert profile.capabilities("whatsapp", as_of=NOW).window == timedelta(hours=48)
    sms = profile.capabilities("sms", as_of=NOW)
    assert (sms.daily_recipient_cap, sms.rate_per_second) == (50, 2)
    again = derive_profile(profile, name="mine", whatsapp={"window": "12h"})
    assert again.name == "mine"
    assert again.capabilities("sms", as_of=NOW).daily_recipient_cap == 50


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((None,), {}, InputError),
        ((5,), {}, InputError),
        (("no-such-profile",), {}, UnknownProfileError),
        (("official",), {"name": None, "overrides": 5}, InputError),
        (("official",), {"overrides": {"channels": 5}, "sms": {}}, InputError),
        (("official",), {"carrier_pigeon": {}}, UnknownChannelError),
        (("official",), {"sms": "fast"}, InputError),
        (("official",), {"sms": {"window": "forever"}}, ProfileError),
        (("official",), {"name": 7}, InputError),
        (("official",), {"name": "x\x00"}, ProfileError),
    ],
)
def test_derive_profile_refuses_wrong_arguments(
    args: tuple[object, ...], kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        derive_profile(*args, **kwargs)  # type: ignore[arg-type]


# --- ContactFactory ---------------------------------------------------------------------------


def test_contacts_have_unique_ids_valid_phones_and_identities() -> None:
    make = ContactFactory(NOW)
    first, second = make(), make(timezone="Europe/Madrid", tags={"vip"})
    assert (first.id, second.id) == ("contact-1", "contact-2")
    assert first.phone != second.phone
    assert {i.account_id for i in first.identities} == {"wa-1", "sms-1"}
    assert first.identity_on("wa-1").external_id == first.phone.lstrip("+")  # type: ignore[union-attr]
    assert second.timezone == "Europe/Madrid"
    assert second.tags == {"vip"}


def test_last_inbound_is_absolute_relative_or_per_account() -> None:
    """SPEC W2: the window counts from the contact's last inbound message."""
    make = ContactFactory(NOW)
    ago = make(last_inbound=timedelta(hours=3))
    assert conversation_state(ago, "wa-1").last_inbound_at == NOW - timedelta(hours=3)
    mixed = make(last_inbound={"wa-1": NOW - timedelta(days=2), "sms-1": None})
    assert conversation_state(mixed, "wa-1").last_inbound_at == NOW - timedelta(days=2)
    assert conversation_state(mixed, "sms-1").last_inbound_at is None


def test_consent_per_account() -> None:
    """SPEC X1, B12: opted out on one account, subscribed on the other."""
    make = ContactFactory(NOW, accounts={"tg-1": "telegram", "sms-1": ChannelKind.SMS})
    contact = make(opted_out="sms-1", subscribed=["tg-1"], phone=None)
    assert contact.subscriptions["sms-1"].status is SubscriptionStatus.UNSUBSCRIBED
    assert contact.subscriptions["tg-1"].status is SubscriptionStatus.SUBSCRIBED
    assert [i.account_id for i in contact.identities] == ["tg-1"]  # no phone: no SMS identity
    assert contact.identities[0].external_id == "telegram-contact-1"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"id": 5},
        {"accounts": "wa-1"},
        {"accounts": {"": "sms"}},
        {"accounts": {"x": "pigeon"}},
        {"last_inbound": "yesterday"},
        {"last_inbound": datetime(2026, 1, 1)},
        {"last_inbound": timedelta.max},
        {"opted_out": 5},
        {"opted_out": True, "subscribed": True},
        {"subscriptions": 5},
        {"no_such_field": 1},
        {"tags": None},
    ],
)
def test_the_factory_refuses_wrong_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises((InputError, UnknownChannelError)):
        ContactFactory(NOW)(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs", [{"id": "\ud800" * 3}, {"phone": "+3461\x00"}, {"first_name": "x" * 100_000}]
)
def test_odd_text_builds_a_contact_or_is_an_input_error(kwargs: dict[str, object]) -> None:
    try:
        contact = ContactFactory(NOW)(**kwargs)  # type: ignore[arg-type]
    except InputError:
        return
    assert isinstance(contact, Contact)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((None,), {}),
        ((datetime(2026, 1, 1),), {}),
        ((NOW,), {"ids": [1, 2]}),
        ((NOW,), {"accounts": 3}),
    ],
)
def test_the_factory_refuses_a_wrong_setup(
    args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    with pytest.raises(InputError):
        ContactFactory(*args, **kwargs)  # type: ignore[arg-type]


def test_a_log_whose_first_item_is_none_is_not_an_empty_log() -> None:
    """A log starting with None must not read as an empty log that passes (SPEC W2:
    the violation after it is still found when the first line is merely blank)."""
    official = load_profile("official")
    with pytest.raises(InputError, match=r"log\[0\]: expected a log line or a LogEntry"):
        assert_no_violations([None, *LATE], official)
    with pytest.raises(ConformanceError, match=r"\[W2\] template_required line 4"):
        assert_no_violations(["", *LATE], official)


def test_opted_out_or_subscribed_must_name_the_contacts_accounts() -> None:
    """SPEC X1: a typo in an account id would leave the contact subscribed there."""
    make = ContactFactory(NOW, accounts={"sms-promo": "sms"})
    with pytest.raises(InputError, match="'sms-1' is not one of the contact's accounts"):
        make(opted_out="sms-1")
    with pytest.raises(InputError, match="subscribed: 'wa-1'"):
        make(subscribed=["wa-1"])
    assert make(opted_out="sms-promo").subscriptions["sms-promo"].status is (
        SubscriptionStatus.UNSUBSCRIBED
    )


def test_a_used_up_id_iterator_is_an_input_error() -> None:
    make = ContactFactory(NOW, ids=iter([7]))
    assert make().id == "contact-7"
    with pytest.raises(InputError, match="used up"):
        make()


def test_the_default_accounts_are_read_only() -> None:
    from omnimsg.testing._builders import DEFAULT_ACCOUNTS

    with pytest.raises(TypeError):
        DEFAULT_ACCOUNTS["x"] = ChannelKind.SMS  # type: ignore[index]


def test_overrides_and_a_channel_keyword_merge_key_by_key() -> None:
    """SPEC X2: quiet hours from overrides= and the sms= keyword merge, neither lost."""
    profile = derive_profile(
        "official",
        overrides={"channels": {"sms": {"quiet_hours": {"start": "10:00"}}}},
        sms={"quiet_hours": {"end": "19:00"}},
    )
    quiet = profile.capabilities("sms", as_of=NOW).quiet_hours
    assert quiet is not None
    assert (quiet.start.isoformat("minutes"), quiet.end.isoformat("minutes")) == ("10:00", "19:00")


def test_overrides_nested_too_deep_are_an_input_error() -> None:
    deep: dict[str, object] = {}
    for _ in range(100):
        deep = {"x": deep}
    with pytest.raises(InputError, match="nested"):
        derive_profile("official", overrides={"channels": {"sms": deep}}, sms=deep)
