"""Phone numbers at the boundary: E.164, validity, region and time zones (phonenumbers).

Parsing is slow compared with the core's hot paths, so it happens once, when a
contact is built or a CSV row is read, never inside a predicate or a decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import NamedTuple

import phonenumbers
from phonenumbers import timezone as phone_timezone

from omnimsg._convert import shown
from omnimsg.errors import PhoneNumberError

_MAX_PHONE_LENGTH = 250
"""phonenumbers itself refuses longer input; checked first so no time is spent on it."""

__all__ = [
    "normalize_phone",
    "parse_phone",
    "phone_region",
    "phone_time_zones",
    "prefix_time_zones",
    "same_whatsapp_person",
    "whatsapp_equivalents",
    "whatsapp_ids",
    "whatsapp_key",
    "whatsapp_phone",
]


def _parse(raw: str, default_region: str | None) -> phonenumbers.PhoneNumber:
    if not isinstance(raw, str):
        raise PhoneNumberError(f"a phone number is text, got {type(raw).__name__}")
    if default_region is not None and not isinstance(default_region, str):
        raise PhoneNumberError(
            "default_region: expected a region code such as 'US', "
            f"got {type(default_region).__name__}"
        )
    text = raw.strip()
    if len(text) > _MAX_PHONE_LENGTH:
        raise PhoneNumberError(f"phone number of {len(text):,} characters is too long")
    if not text:
        raise PhoneNumberError("empty phone number")
    region = default_region.upper() if default_region else None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        hint = "" if region or text.startswith("+") else " (no default region: use +<country code>)"
        raise PhoneNumberError(f"cannot parse phone number {shown(raw)}: {exc}{hint}") from None
    return number


def _valid(raw: str, default_region: str | None) -> tuple[phonenumbers.PhoneNumber, str | None]:
    """The parsed number and its region, refused unless it is a valid number.

    ``is_valid_number`` would look the region up itself; asking for it once and
    checking validity for that region is the same test at half the cost.
    """
    number = _parse(raw, default_region)
    region = phonenumbers.region_code_for_number(number)
    if region is None or not phonenumbers.is_valid_number_for_region(number, region):
        number, region = _repaired(raw, number)
    return number, (str(region) if region and region != "ZZ" else None)


def _repaired(raw: str, number: phonenumbers.PhoneNumber) -> tuple[phonenumbers.PhoneNumber, str]:
    """A number libphonenumber refuses, in its current form where P16 knows one.

    ``+52 1 55 1234 5678`` (the Mexican mobile ``1`` dropped in 2019) becomes
    ``+52 55 1234 5678``; ``+55 11 8765 4321`` (a Brazilian mobile before its ninth
    digit) becomes ``+55 11 98765 4321``. Anything else is refused.
    """
    if number.country_code in _WA_COUNTRIES:
        digits = f"{number.country_code}{number.national_number}"
        key = _wa_key(digits)
        if key != digits:
            current = _parse("+" + key, None)
            region = phonenumbers.region_code_for_number(current)
            if region is not None and phonenumbers.is_valid_number_for_region(current, region):
                return current, str(region)
    raise PhoneNumberError(f"phone number {shown(raw)} is not a valid number")


def normalize_phone(raw: str, default_region: str | None = None) -> str:
    """Return ``raw`` as E.164 (``+14155550123``).

    ``default_region`` (ISO 3166 alpha-2, e.g. ``"US"``) is used for numbers written
    without a country code. Raises :class:`~omnimsg.errors.PhoneNumberError`.
    """
    number, _ = _valid(raw, default_region)
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def parse_phone(raw: str, default_region: str | None = None) -> tuple[str, str | None]:
    """Return ``raw`` as E.164 and its ISO 3166 region, from one parse.

    Building a contact needs both; parsing twice costs about 40 % more per number.
    Raises :class:`~omnimsg.errors.PhoneNumberError`.
    """
    number, region = _valid(raw, default_region)
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)), region


def phone_region(e164: str) -> str | None:
    """Return the ISO 3166 alpha-2 region of an E.164 number, or ``None`` if unknown."""
    return _region(e164) if isinstance(e164, str) else None


@lru_cache(maxsize=65536)
def _region(e164: str) -> str | None:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(number)
    return str(region) if region and region != "ZZ" else None


def phone_time_zones(e164: str) -> tuple[str, ...]:
    """Return the IANA time zones a number may be in (several for large countries)."""
    return _zones(e164) if isinstance(e164, str) else ()


@lru_cache(maxsize=65536)
def _zones(e164: str) -> tuple[str, ...]:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ()
    zones = phone_timezone.time_zones_for_number(number)
    return tuple(z for z in zones if z != "Etc/Unknown")


_PREFIX_ZONES: dict[str, tuple[str, ...]] = {}
# The zone data phonenumbers looks numbers up in (its stubs do not declare them).
_TZ_PREFIXES: Mapping[str, object] = vars(phone_timezone)["TIMEZONE_DATA"]
_TZ_LONGEST: int = vars(phone_timezone)["TIMEZONE_LONGEST_PREFIX"]
_TYPE_DIGITS = 5  # national digits that tell a number's type (mobile, fixed) in every plan


@lru_cache(maxsize=1024)
def _key_length(head: str) -> int:
    """How many leading characters of an E.164 number fix its time zones."""
    for cc_len in (1, 2, 3):
        code = head[1 : 1 + cc_len]
        if code.isdigit() and int(code) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            longest = max(
                (len(k) for k in _TZ_PREFIXES if k.startswith(code)),
                default=cc_len,
            )
            return 1 + max(longest, cc_len + _TYPE_DIGITS)
    return 1 + _TZ_LONGEST


def prefix_time_zones(e164: str) -> tuple[str, ...]:
    """:func:`phone_time_zones` for numbers already validated, cached per leading digits (X2).

    The planner's fast path over large audiences. A number's zones follow from its
    leading digits: the country code, the longest prefix the zone data list for that
    country, and the first digits that tell a mobile from a fixed line. The answer
    is cached per those digits instead of per number.
    """
    if not isinstance(e164, str):
        return ()
    head = e164[: _key_length(e164[:4])]
    found = _PREFIX_ZONES.get(head)
    if found is None:
        found = phone_time_zones(e164)
        # Only a number that has zones speaks for its prefix: an invalid one (no zone)
        # must not decide for the valid numbers that share its leading digits.
        if found and len(_PREFIX_ZONES) < 200_000:
            _PREFIX_ZONES[head] = found
    return found


# --- WhatsApp ids (P16) ------------------------------------------------------------------
#
# A WhatsApp id is the digits WhatsApp knows a number by, not always its E.164 form:
# - Mexico dropped the mobile "1" in 2019 and libphonenumber refuses "+52 1 ...", yet
#   WhatsApp still sends Mexican senders as 521 + 10 digits;
# - Argentina's mobiles are +54 9 ...; a contact typed without the 9 is the same line
#   (a 10-digit Argentine number is either a mobile or a fixed line, never both);
# - Brazil's older accounts may lack the ninth digit of a mobile (55 + area + 8 digits;
#   only mobiles, which began with 6 to 9 before the ninth digit was added).
# Each country's two forms differ by one digit at one place: the rules below are that
# table. The exact rules per country are what public integrators report (SPEC P16,
# marked uncertain); these are the library's documented choice (docs/audiences.md).


class _TwoForms(NamedTuple):
    """A country whose numbers WhatsApp may know in two forms, one digit apart."""

    at: int
    """Where the digit sits, counted in digits after the country code."""
    digit: str
    """The digit the long form has there and the short form lacks."""
    national: int
    """How many digits follow the country code in the short form."""
    follows: str
    """The digits that may follow that place in the short form (Brazil: mobiles only)."""
    long_is_e164: bool
    """Whether the long form is the number's current E.164 form (else the short one is)."""
    id_means_key: bool
    """Whether an id in the other form stands for the current number too (Argentina: an
    id without the ``9`` may be a fixed line's, and stands for itself)."""


_ALL_DIGITS = "0123456789"
_TWO_FORMS: Mapping[str, _TwoForms] = MappingProxyType(
    {
        # code: at, digit, national, follows, long_is_e164, id_means_key
        "52": _TwoForms(0, "1", 10, _ALL_DIGITS, False, True),  # Mexico: 52 1 55 1234 5678
        "54": _TwoForms(0, "9", 10, _ALL_DIGITS, True, False),  # Argentina: 54 9 11 2345 6789
        "55": _TwoForms(2, "9", 10, "6789", True, True),  # Brazil: 55 11 9 8765 4321
    }
)
"""Mexico, Argentina, Brazil, by country code (SPEC P16)."""
_WA_COUNTRIES = frozenset(int(code) for code in _TWO_FORMS)


def _forms(digits: str) -> tuple[_TwoForms, str, str] | None:
    """``(rule, long form, short form)`` when ``digits`` are one of a country's two forms."""
    rule = _TWO_FORMS.get(digits[:2])
    if rule is None:
        return None
    cut = 2 + rule.at
    count = len(digits) - 2
    if count == rule.national:
        short, long = digits, digits[:cut] + rule.digit + digits[cut:]
    elif count == rule.national + 1 and digits[cut] == rule.digit:
        short, long = digits[:cut] + digits[cut + 1 :], digits
    else:
        return None
    return (rule, long, short) if short[cut] in rule.follows else None


def _wa_key(digits: str) -> str:
    """The form all ids of one person share: the E.164 form's digits where there are two."""
    found = _forms(digits)
    if found is None:
        return digits
    rule, long, short = found
    return long if rule.long_is_e164 else short


def _wa_ids(digits: str) -> tuple[str, ...]:
    """Every form of ``digits``, the one WhatsApp sends (the long one) first."""
    found = _forms(digits)
    return (digits,) if found is None else found[1:]


def _wa_digits(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise PhoneNumberError(f"{name}: expected text, got {type(value).__name__}")
    digits = value.strip()
    digits = digits[1:] if digits.startswith("+") else digits
    if not (7 <= len(digits) <= 15 and digits.isascii() and digits.isdigit()):
        raise PhoneNumberError(f"{name}: a WhatsApp id is 7 to 15 digits, got {shown(value)}")
    return digits


def whatsapp_phone(wa_id: str) -> str | None:
    """The E.164 number a WhatsApp id stands for, or ``None`` if it is no valid number.

    ``5215512345678`` (Mexico, as WhatsApp sends it) is ``+525512345678``; an old
    Brazilian id without the ninth digit (``551187654321``) is ``+5511987654321``.
    Raises :class:`~omnimsg.errors.PhoneNumberError` for text that is no WhatsApp id.
    """
    digits = _wa_digits(wa_id, "wa_id")
    rule = _TWO_FORMS.get(digits[:2])
    if rule is not None and rule.id_means_key:
        digits = _wa_key(digits)
    try:
        return normalize_phone("+" + digits)
    except PhoneNumberError:
        return None


def whatsapp_ids(phone: str, default_region: str | None = None) -> tuple[str, ...]:
    """The ids WhatsApp may send for a phone number, the likeliest first (P16).

    ``+52 55 1234 5678`` gives ``("5215512345678", "525512345678")``; an Argentine
    mobile both with and without its ``9``; a Brazilian mobile with and without its
    ninth digit; any other number its E.164 digits. Raises
    :class:`~omnimsg.errors.PhoneNumberError` for a number that is not valid.
    """
    return _wa_ids(normalize_phone(phone, default_region)[1:])


def whatsapp_equivalents(wa_id: str) -> tuple[str, ...]:
    """Every id of the person a WhatsApp id names, the id itself (as digits) first (P16).

    ``5215512345678`` gives ``("5215512345678", "525512345678")`` and
    ``525512345678`` the same two the other way round; an id of a country with one
    form gives only itself. Pure digit rules, no parsing: cheap enough for every
    lookup. Raises :class:`~omnimsg.errors.PhoneNumberError` for text that is no
    WhatsApp id (7 to 15 ASCII digits, optionally after ``+``).
    """
    digits = _wa_digits(wa_id, "wa_id")
    return (digits, *(form for form in _wa_ids(digits) if form != digits))


def whatsapp_key(number: str) -> str:
    """The digits every WhatsApp id and phone number of one person share (P16).

    Two ids, an id and an E.164 number, or two E.164 numbers are one person's exactly
    when their keys are equal: ``5215512345678`` and ``+525512345678`` both give
    ``525512345678``; ``+541123456789`` and ``5491123456789`` both
    ``5491123456789``. Where a country has two forms the key is its current form
    (Mexico without the ``1``, Argentina and Brazil with the ``9``), else the digits
    given. Raises :class:`~omnimsg.errors.PhoneNumberError`
    for text that is not 7 to 15 ASCII digits (optionally after ``+``).
    """
    return _wa_key(_wa_digits(number, "number"))


def same_whatsapp_person(wa_id: str, phone: str, default_region: str | None = None) -> bool:
    """Whether the WhatsApp id and the phone number are one person's (P16).

    Raises :class:`~omnimsg.errors.PhoneNumberError` for a malformed id or an invalid
    phone number.
    """
    digits = _wa_digits(wa_id, "wa_id")
    return digits in whatsapp_ids(phone, default_region)
