"""The consent rule: may a marketing message or a broadcast reach this contact (X1, B12).

Stated once, here. :func:`omnimsg.decide` is the gate every send goes through and
asks this rule; the opt-in machine (:func:`omnimsg.policy.optin.request_broadcast`)
asks the same rule to choose between delivering, holding and refusing a broadcast.
"""

from __future__ import annotations

from omnimsg.policy.reasons import Reason
from omnimsg.state import SubscriptionStatus

__all__ = ["consent_refusal"]

_UNSUBSCRIBED = SubscriptionStatus.UNSUBSCRIBED
_DECLINED = SubscriptionStatus.DECLINED
_SUBSCRIBED = SubscriptionStatus.SUBSCRIBED
_PROMPTED = SubscriptionStatus.PROMPTED


def consent_refusal(
    status: SubscriptionStatus,
    *,
    broadcast: bool,
    double_opt_in: bool,
    broadcasts: bool = True,
) -> Reason | None:
    """Why a marketing send to a contact with consent ``status`` may not go, or ``None``.

    For marketing messages (a broadcast is one), in order:

    1. an opt-out ends marketing from the sender (X1): OPTED_OUT;
    2. an ``N`` to the double opt-in means no marketing from that sender until the
       contact subscribes, broadcast or not (B12): OPT_IN_DECLINED;
    3. a broadcast needs a channel (and plan) with broadcasts (B4, B16):
       BROADCASTS_NOT_SUPPORTED when ``broadcasts`` is false;
    4. where the sender asks for a ``double_opt_in``, a broadcast needs a subscribed
       contact (B12): OPT_IN_REQUIRED before the prompt, OPT_IN_PENDING after it.

    Service messages (not marketing) are not a matter of consent: callers ask only
    for marketing sends.
    """
    if status is _UNSUBSCRIBED:
        return Reason.OPTED_OUT
    if status is _DECLINED:
        return Reason.OPT_IN_DECLINED
    if not broadcast:
        return None
    if not broadcasts:
        return Reason.BROADCASTS_NOT_SUPPORTED
    if double_opt_in and status is not _SUBSCRIBED:
        return Reason.OPT_IN_PENDING if status is _PROMPTED else Reason.OPT_IN_REQUIRED
    return None
