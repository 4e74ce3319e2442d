"""Phone numbers at the boundary: E.164, validity, region and time zones (phonenumbers).

Parsing is slow compared with the core's hot paths, so it happens once, when a
contact is built or a CSV row is read, never inside a predicate or a decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

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
    "whatsapp_ids",
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
        raise PhoneNumberError(f"phone number {shown(raw)} is not a valid number")
    return number, (str(region) if region and region != "ZZ" else None)


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
# - Argentina's mobiles are +54 9 ...; a contact typed without the 9 is the same line;
# - Brazil's older accounts may lack the ninth digit of a mobile (55 + area + 8 digits).
# The exact rules per country are what public integrators report (SPEC P16, marked
# uncertain); these are the library's documented choice (docs/audiences.md).


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
    if digits.startswith("521") and len(digits) == 13:
        digits = "52" + digits[3:]
    elif digits.startswith("55") and len(digits) == 12 and digits[4] in "6789":
        digits = digits[:4] + "9" + digits[4:]
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
    digits = normalize_phone(phone, default_region)[1:]
    if digits.startswith("52") and len(digits) == 12:
        return ("521" + digits[2:], digits)
    if digits.startswith("549") and len(digits) == 13:
        return (digits, "54" + digits[3:])
    if digits.startswith("54") and len(digits) == 12:
        return ("549" + digits[2:], digits)
    if digits.startswith("55") and len(digits) == 13 and digits[4] == "9" and digits[5] in "6789":
        # Before the ninth digit, mobiles began with 6 to 9: only those had an old form.
        return (digits, digits[:4] + digits[5:])
    return (digits,)


def same_whatsapp_person(wa_id: str, phone: str, default_region: str | None = None) -> bool:
    """Whether the WhatsApp id and the phone number are one person's (P16).

    Raises :class:`~omnimsg.errors.PhoneNumberError` for a malformed id or an invalid
    phone number.
    """
    digits = _wa_digits(wa_id, "wa_id")
    return digits in whatsapp_ids(phone, default_region)
