"""WhatsApp ids and phone numbers of one person (SPEC P16).

A WhatsApp id is the digits WhatsApp knows a number by, not always E.164: Mexican
senders arrive as 521 + 10 digits, Argentine mobiles with or without their 9, old
Brazilian accounts without the ninth digit.
"""

from __future__ import annotations

import contextlib
import time

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnimsg.errors import OmnimsgError, PhoneNumberError
from omnimsg.phones import (
    normalize_phone,
    parse_phone,
    same_whatsapp_person,
    whatsapp_equivalents,
    whatsapp_ids,
    whatsapp_key,
    whatsapp_phone,
)


@pytest.mark.parametrize(
    ("wa_id", "phone"),
    [
        ("5215512345678", "+525512345678"),  # Mexico: the mobile 1 WhatsApp still sends
        ("525512345678", "+525512345678"),
        ("5491123456789", "+5491123456789"),  # Argentina: the mobile 9
        ("5511987654321", "+5511987654321"),  # Brazil: with the ninth digit
        ("551187654321", "+5511987654321"),  # Brazil: an old account without it
        ("+34612345678", "+34612345678"),
        ("14155550123", "+14155550123"),
    ],
)
def test_a_whatsapp_id_stands_for_its_e164_number(wa_id: str, phone: str) -> None:
    # SPEC P16
    assert whatsapp_phone(wa_id) == phone
    assert same_whatsapp_person(wa_id, phone)


@pytest.mark.parametrize(
    ("phone", "ids"),
    [
        ("+52 55 1234 5678", ("5215512345678", "525512345678")),
        ("+54 11 2345 6789", ("5491123456789", "541123456789")),
        ("+54 9 11 2345 6789", ("5491123456789", "541123456789")),
        ("+55 11 98765 4321", ("5511987654321", "551187654321")),
        ("+55 11 3456 7890", ("551134567890",)),  # a Brazilian landline has no ninth digit
        ("+34 612 34 56 78", ("34612345678",)),
    ],
)
def test_the_ids_whatsapp_may_send_for_a_number(phone: str, ids: tuple[str, ...]) -> None:
    # SPEC P16: the likeliest first, the one to answer to is the one the platform sent
    assert whatsapp_ids(phone) == ids


def test_a_national_number_uses_the_default_region() -> None:
    # SPEC P16
    assert whatsapp_ids("55 1234 5678", "MX") == ("5215512345678", "525512345678")
    assert same_whatsapp_person("5215512345678", "55 1234 5678", "MX")


def test_different_people_do_not_match() -> None:
    # SPEC P16
    assert not same_whatsapp_person("5215512345679", "+525512345678")
    assert not same_whatsapp_person("34612345678", "+525512345678")


def test_digits_that_are_no_valid_number_stand_for_nothing() -> None:
    # SPEC P16: an id is kept as the platform sent it, even when it maps to no number
    assert whatsapp_phone("1234567") is None
    assert whatsapp_phone("999999999999999") is None


_MX_MOBILES = st.integers(min_value=0, max_value=99_999_999).map(lambda n: f"+5255{n:08d}")


@given(_MX_MOBILES)
def test_every_id_of_a_number_leads_back_to_it(phone: str) -> None:
    # SPEC P16: Mexico City mobiles, every form WhatsApp may send
    e164 = normalize_phone(phone)
    for wa_id in whatsapp_ids(phone):
        assert whatsapp_phone(wa_id) == e164
        assert same_whatsapp_person(wa_id, phone)


@given(st.integers(min_value=10_000_000, max_value=99_999_999))
def test_brazilian_mobiles_match_with_and_without_the_ninth_digit(n: int) -> None:
    # SPEC P16: mobiles that began with 6 to 9 before the ninth digit have both forms
    phone = f"+55119{n}"
    assert phonenumbers.is_valid_number(phonenumbers.parse(phone))
    ids = whatsapp_ids(phone)
    assert ids[0] == phone[1:]
    assert len(ids) == (2 if str(n)[0] in "6789" else 1)
    for wa_id in ids:
        assert whatsapp_phone(wa_id) == phone


HOSTILE = [
    None,
    5,
    1.5,
    b"5215512345678",
    [],
    {},
    "",
    "\x00",
    "\ud800",
    "521\ud80055",
    "x" * 100_000,
    "1" * 100_000,
    "+",
    "++5215512345678",
    "٥٢١٥٥١٢٣٤٥٦٧٨",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_ids_and_numbers_raise_omnimsg_errors_only(value: object) -> None:
    for call in (
        lambda: whatsapp_phone(value),  # type: ignore[arg-type]
        lambda: whatsapp_ids(value),  # type: ignore[arg-type]
        lambda: same_whatsapp_person(value, "+525512345678"),  # type: ignore[arg-type]
        lambda: same_whatsapp_person("5215512345678", value),  # type: ignore[arg-type]
        lambda: whatsapp_ids("+525512345678", value),  # type: ignore[arg-type]
        lambda: whatsapp_equivalents(value),  # type: ignore[arg-type]
        lambda: whatsapp_key(value),  # type: ignore[arg-type]
        lambda: parse_phone(value),  # type: ignore[arg-type]
    ):
        started = time.perf_counter()
        with contextlib.suppress(OmnimsgError):
            call()
        assert time.perf_counter() - started < 2.0


def test_a_malformed_id_is_a_phone_number_error() -> None:
    with pytest.raises(PhoneNumberError, match="7 to 15 digits"):
        whatsapp_phone("52-155-1234")


@pytest.mark.parametrize(
    ("wa_id", "ids"),
    [
        ("5215512345678", ("5215512345678", "525512345678")),
        ("525512345678", ("525512345678", "5215512345678")),
        ("+5491123456789", ("5491123456789", "541123456789")),
        ("541123456789", ("541123456789", "5491123456789")),
        ("551187654321", ("551187654321", "5511987654321")),
        ("5511987654321", ("5511987654321", "551187654321")),
        ("551134567890", ("551134567890",)),  # a Brazilian landline: one form
        ("5511934567890", ("5511934567890",)),  # a mobile that never lacked its 9
        (" 34612345678 ", ("34612345678",)),
        ("1234567", ("1234567",)),  # no valid number: the id all the same
    ],
)
def test_p16_the_ids_of_one_person_the_one_sent_first(wa_id: str, ids: tuple[str, ...]) -> None:
    assert whatsapp_equivalents(wa_id) == ids
    assert len({whatsapp_key(form) for form in ids}) == 1


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        ("5215512345678", "+525512345678", True),
        ("+541123456789", "5491123456789", True),
        ("551187654321", "+5511987654321", True),
        ("+551134567890", "5511934567890", False),  # landline and another mobile
        ("5215512345678", "5215512345679", False),
        ("+34612345678", "34612345678", True),
        ("+34612345678", "+3461234567", False),
    ],
)
def test_p16_one_key_per_person(one: str, other: str, same: bool) -> None:
    assert (whatsapp_key(one) == whatsapp_key(other)) is same


@given(_MX_MOBILES)
def test_p16_the_key_of_a_number_is_the_key_of_each_of_its_ids(phone: str) -> None:
    key = whatsapp_key(normalize_phone(phone))
    for wa_id in whatsapp_ids(phone):
        assert whatsapp_key(wa_id) == key
        assert whatsapp_equivalents(wa_id)[0] == wa_id
        assert set(whatsapp_equivalents(wa_id)) == set(whatsapp_ids(phone))


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("+52 1 55 1234 5678", None, "+525512345678"),  # the mobile 1 dropped in 2019
        ("+5215512345678", None, "+525512345678"),
        ("5215512345678", "MX", "+525512345678"),
        ("044 55 1234 5678", "MX", None),  # an old national prefix: still refused
        ("+55 11 8765 4321", None, "+5511987654321"),  # before the ninth digit
        ("11 8765 4321", "BR", "+5511987654321"),
        ("+55 11 3456 7890", None, "+551134567890"),  # a landline stays as it is
        ("+55 11 2345 678", None, None),
        ("011 15 2345-6789", "AR", "+5491123456789"),  # libphonenumber's own rule
        ("+54 11 2345 6789", None, "+541123456789"),  # valid as written: kept
    ],
)
def test_p16_phones_become_their_current_e164_form(
    raw: str, region: str | None, e164: str | None
) -> None:
    if e164 is None:
        with pytest.raises(PhoneNumberError, match="not a valid number"):
            parse_phone(raw, region)
    else:
        assert parse_phone(raw, region)[0] == e164
        assert normalize_phone(raw, region) == e164
