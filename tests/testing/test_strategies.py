"""The public strategies draw valid values, and omnimsg holds up under them.

The properties here are the ones a user would write: decide answers every generated
state and message with a decision (W1-W8, W7 in particular), a generated segment
parses, compiles and evaluates (A1), generated contacts are valid (A5, P16), and
generated profiles resolve every channel (W8).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnimsg import (
    AccountState,
    ChannelCapabilities,
    ChannelKind,
    Contact,
    ConversationState,
    Decision,
    InputError,
    Message,
    Profile,
    Segment,
    SegmentValidationError,
    UnknownChannelError,
    builtin_profile_names,
    compile_segment,
    conversation_state,
    decide,
    filter_contacts,
    parse_segment,
)
from omnimsg.testing import strategies as oms

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@given(oms.decision_inputs(), oms.account_states())
def test_decide_answers_every_generated_state_and_message(
    inputs: tuple[ChannelCapabilities, ConversationState, Message, datetime],
    account: object,
) -> None:
    """SPEC W7: a decision, never an exception; a refusal says why and under which rule."""
    caps, state, message, now = inputs
    decision = decide(caps, state, message, now=now, account=account)  # type: ignore[arg-type]
    assert isinstance(decision, Decision)
    assert decision.rule
    assert decision.explain().startswith("allowed" if decision.allowed else "refused")


@settings(max_examples=50)
@given(oms.segment_json({"orders": "number", "vip_since": "datetime"}), oms.contact_lists())
def test_generated_segments_parse_compile_and_filter(
    data: dict[str, object], contacts: list[Contact]
) -> None:
    """SPEC A1: valid JSON parses; the predicate answers every contact."""
    segment = parse_segment(data, custom_fields={"orders": "number", "vip_since": "datetime"})
    predicate = compile_segment(segment, now=NOW)
    chosen = filter_contacts(segment, contacts, now=NOW)
    assert [c.id for c in chosen] == [c.id for c in contacts if predicate(c)]


@settings(max_examples=30)
@given(oms.segments())
def test_segments_draws_segment_objects(segment: Segment) -> None:
    assert isinstance(segment, Segment)


@settings(max_examples=40)
@given(oms.contact_lists(max_size=8, now=NOW))
def test_generated_contacts_are_valid(contacts: list[Contact]) -> None:
    """SPEC A5: valid phones; identities on the given accounts; windows before now."""
    assert len({c.id for c in contacts}) == len(contacts)
    for contact in contacts:
        if contact.phone is not None:
            assert phonenumbers.is_valid_number(phonenumbers.parse(contact.phone, None))
        for identity in contact.identities:
            assert oms.ACCOUNTS[identity.account_id] is identity.channel
            state = conversation_state(contact, identity.account_id)
            assert state.last_inbound_at is None or state.last_inbound_at <= NOW


@settings(max_examples=30)
@given(oms.profiles(), oms.aware_datetimes())
def test_generated_profiles_resolve_every_channel(profile: Profile, at: datetime) -> None:
    """SPEC W8: built-in or derived, every channel resolves at any date."""
    assert profile.name.split("-")[0] in builtin_profile_names()
    for kind in profile.kinds:
        assert profile.capabilities(kind, as_of=at).kind is kind


@given(oms.aware_datetimes(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)))
def test_aware_datetimes_stay_in_range(at: datetime) -> None:
    assert at.tzinfo is not None
    assert datetime(2026, 3, 1, tzinfo=UTC) <= at <= datetime(2026, 4, 1, tzinfo=UTC)


@given(oms.conversation_states(now=NOW))
def test_conversation_states_are_as_of_now(state: ConversationState) -> None:
    assert state.last_inbound_at is None or state.last_inbound_at <= NOW
    assert all(at <= NOW for at in state.outbound_times)
    if state.session_started_at is not None:
        assert state.last_inbound_at is not None
        assert state.session_started_at <= state.last_inbound_at


@given(oms.phone_numbers(["MX", "AR", "BR"]), oms.time_zones())
def test_phone_numbers_are_valid_for_their_region(phone: str, zone: str) -> None:
    number = phonenumbers.parse(phone, None)
    assert phonenumbers.region_code_for_number(number) in {"MX", "AR", "BR"}
    assert phonenumbers.is_valid_number(number)
    assert zone in oms.TIME_ZONES


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: oms.aware_datetimes(datetime(2026, 1, 1), NOW), "timezone-aware"),
        (lambda: oms.aware_datetimes(None, NOW), "min_value"),  # type: ignore[arg-type]
        (lambda: oms.aware_datetimes(NOW, NOW - timedelta(days=1)), "after"),
        (lambda: oms.phone_numbers(["XX"]), "no valid numbers"),
        (lambda: oms.phone_numbers([]), "no valid numbers"),
        (lambda: oms.phone_numbers("ES"), "a sequence"),
        (lambda: oms.phone_numbers([None]), "regions"),  # type: ignore[list-item]
        (lambda: oms.phone_numbers(["\ud800" * 100_000]), "no valid numbers"),
        (lambda: oms.segment_json({"x": "colour"}), "unknown field type"),
        (lambda: oms.segment_json(5), "expected a mapping"),  # type: ignore[arg-type]
        (lambda: oms.segment_json({"\x00": "number"}), "NUL"),
        (lambda: oms.segments({"": "string"}), "non-empty"),
        (lambda: oms.segments(5), "expected a mapping"),  # type: ignore[arg-type]
        (lambda: oms.segment_json(senders=[]), "at least one sender"),
        (lambda: oms.segment_json(senders="wa-1"), "sequence of texts"),
        (lambda: oms.segment_json(max_leaves=0), "max_leaves"),
        (lambda: oms.segment_json(max_leaves=10**9), "max_leaves"),
        (lambda: oms.contacts(now=datetime(2026, 1, 1)), "timezone-aware"),
        (lambda: oms.contacts(now="2026-01-01"), "now"),  # type: ignore[arg-type]
        (lambda: oms.contacts(accounts=None), "accounts"),  # type: ignore[arg-type]
        (lambda: oms.contacts(accounts={"": "sms"}), "must not be empty"),
        (lambda: oms.contacts(tags="promos"), "sequence of texts"),
        (lambda: oms.contacts(tags=[None]), "tags"),  # type: ignore[list-item]
        (lambda: oms.contacts(id=5), "id"),  # type: ignore[arg-type]
        (lambda: oms.contact_lists(min_size=5, max_size=2), "min_size <= max_size"),
        (lambda: oms.contact_lists(min_size=-1), "min_size"),
        (lambda: oms.contact_lists(max_size=True), "max_size"),
        (lambda: oms.contact_lists(max_size=10**9), "max_size"),
        (lambda: oms.conversation_states(now=datetime(2026, 1, 1)), "timezone-aware"),
        (lambda: oms.account_states(now=datetime.max.replace(tzinfo=UTC)), "range"),
        (lambda: oms.capabilities(profile="official"), "expected a Profile"),  # type: ignore[arg-type]
        (lambda: oms.capabilities(as_of=datetime(2026, 1, 1)), "as_of"),
        (lambda: oms.decision_inputs(profile=5), "expected a Profile"),  # type: ignore[arg-type]
        (lambda: oms.profiles(derived="yes"), "derived"),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments_are_refused_at_once(build: Callable[[], object], fragment: str) -> None:
    """A bad argument is an omnimsg error when the strategy is built, never a
    hypothesis error or an AttributeError while a test draws from it."""
    with pytest.raises((InputError, SegmentValidationError, UnknownChannelError), match=fragment):
        build()


@given(st.data())
def test_capabilities_of_a_given_profile(data: st.DataObject) -> None:
    from omnimsg import load_profile

    official = load_profile("official")
    caps = data.draw(oms.capabilities(profile=official, as_of=NOW))
    assert caps.kind in official.kinds


def test_without_hypothesis_the_import_error_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['hypothesis'] = None\n"
        "try:\n"
        "    import omnimsg.testing.strategies\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "'testing' extra" in out
    assert 'pip install "omnimsg[testing]"' in out


@settings(max_examples=30)
@given(oms.contacts(accounts={"wa-2": "whatsapp", "sms-2": "sms", "tg-2": "telegram"}, now=NOW))
def test_channel_kinds_given_by_name_build_the_same_identities(contact: Contact) -> None:
    """SPEC P16: a WhatsApp id is the phone's digits, whether the kind came as a
    ChannelKind or by its name."""
    for identity in contact.identities:
        assert isinstance(identity.channel, ChannelKind)
        if identity.channel is ChannelKind.WHATSAPP:
            assert identity.external_id == (contact.phone or "").lstrip("+")
            assert identity.external_id.isdigit()


@settings(max_examples=40)
@given(oms.account_states(now=datetime(2026, 2, 1, 0, 30, tzinfo=UTC)))
def test_account_counts_are_of_nows_month_in_the_accounts_zone(account: AccountState) -> None:
    """SPEC W6, P11: the drawn counts are this month's where the account is, even when
    its local month is not UTC's (America/* is still in January here)."""
    at = datetime(2026, 2, 1, 0, 30, tzinfo=UTC)
    assert account.chatbot_count_at(at) == account.chatbot_initiated_count
    assert account.quota_count_at(at) == account.quota_count


def test_the_default_accounts_cannot_be_changed_by_a_test() -> None:
    """A module-level default shared by every test is read-only."""
    with pytest.raises(TypeError):
        oms.ACCOUNTS["x"] = ChannelKind.SMS  # type: ignore[index]
