"""Fixtures of the bakery's suite, built on the omnimsg plugin's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from bakery import SMS, WHATSAPP

from omnimsg import Contact


@pytest.fixture
def customer(make_contact: Callable[..., Contact]) -> Callable[..., Contact]:
    """A customer with an identity on the shop's WhatsApp and SMS numbers."""

    def build(**fields: Any) -> Contact:
        fields.setdefault("accounts", {WHATSAPP: "whatsapp", SMS: "sms"})
        return make_contact(**fields)

    return build
