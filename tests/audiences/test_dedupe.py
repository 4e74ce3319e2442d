"""Derived contact ids of imported rows (P16: one person's forms of a number)."""

from __future__ import annotations

from omnimsg.audiences import derive_contact_id


def test_p16_both_forms_of_an_argentine_mobile_derive_one_contact_id() -> None:
    """SPEC P16: +54 11 ... and +54 9 11 ... are one person, imported apart or together."""
    assert derive_contact_id("+541123456789", None) == derive_contact_id("+5491123456789", None)
    assert derive_contact_id("+34600000001", None) != derive_contact_id("+34600000002", None)
