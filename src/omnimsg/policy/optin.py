"""Opt-in and opt-out state per contact and sender (B12, X1)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["SubscriptionStatus"]


class SubscriptionStatus(StrEnum):
    """Where a contact stands with one sender's marketing messages."""

    NOT_ASKED = "not_asked"
    PROMPTED = "prompted"
    SUBSCRIBED = "subscribed"
    DECLINED = "declined"
    UNSUBSCRIBED = "unsubscribed"
