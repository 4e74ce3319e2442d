"""The consent rule: may a message reach this contact, as far as consent goes (X1, P13, B12).

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
    marketing: bool = True,
    opt_out_scope: str = "marketing",
) -> Reason | None:
    """Why a send to a contact with consent ``status`` may not go, or ``None``.

    In order:

    1. an opt-out ends marketing from the sender (X1): OPTED_OUT; where the
       channel's ``opt_out_scope`` is ``"all"`` (US SMS, P13) it ends every message
       from the sender, marketing or not. The one confirmation an opt-out allows is
       not decided here: the opt-in machine asks for it
       (:class:`~omnimsg.policy.optin.SendOptOutConfirmation`) and the backend sends
       it as the answer to the opt-out;
    2. a message that is not marketing (``marketing`` false and not a broadcast)
       is not a matter of consent any further: ``None``;
    3. an ``N`` to the double opt-in means no marketing from that sender until the
       contact subscribes, broadcast or not (B12): OPT_IN_DECLINED;
    4. a broadcast needs a channel (and plan) with broadcasts (B4, B16):
       BROADCASTS_NOT_SUPPORTED when ``broadcasts`` is false;
    5. where the sender asks for a ``double_opt_in``, a broadcast needs a subscribed
       contact (B12): OPT_IN_REQUIRED before the prompt, OPT_IN_PENDING after it.
    """
    if status is _UNSUBSCRIBED:
        if marketing or broadcast or opt_out_scope == "all":
            return Reason.OPTED_OUT
        return None
    if not (marketing or broadcast):
        return None
    if status is _DECLINED:
        return Reason.OPT_IN_DECLINED
    if not broadcast:
        return None
    if not broadcasts:
        return Reason.BROADCASTS_NOT_SUPPORTED
    if double_opt_in and status is not _SUBSCRIBED:
        return Reason.OPT_IN_PENDING if status is _PROMPTED else Reason.OPT_IN_REQUIRED
    return None
