"""Broadcasts: the draft, the plan of its sends, and the plan's summary (SPEC section 4).

A :class:`~omnimsg.broadcasts.model.Draft` says what goes to whom and how; the
planner turns it, an audience and the senders' state into a stream of outcomes, one
per audience contact, with every send placed in a batch of its sender account at a
time no window, cap, tier, rate, opt-in, frequency cap or quiet hour forbids.
Nothing here sends or stores.
"""

from omnimsg.broadcasts.model import (
    Audience,
    BroadcastMessage,
    Draft,
    FrequencyCap,
    Rate,
    Schedule,
    Sender,
    Targeting,
)

__all__ = [
    "Audience",
    "BroadcastMessage",
    "Draft",
    "FrequencyCap",
    "Rate",
    "Schedule",
    "Sender",
    "Targeting",
]
