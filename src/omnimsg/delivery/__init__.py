"""Delivery: sending what a plan planned, once, with state many workers share.

- :class:`Dispatcher` / :class:`AsyncDispatcher` execute a plan through a transport
  against a :class:`~omnimsg.protocols.DeliveryStore` (docs/delivery.md);
- :func:`on_inbound` / :func:`on_outbound` feed the platforms' webhooks into the
  store: windows (W5), opt-in replies (B12, X1), the last interacted channel (B5);
- the ledger's reports: :func:`delivery_report`, :func:`failed_sends` (B15), and
  :func:`resolve` for sends left uncertain by a worker that stopped;
- :func:`read_plan` reads a plan's JSON Lines back.
"""

from omnimsg.delivery.dispatcher import AsyncDispatcher, Dispatcher, DispatchProgress, worker_id
from omnimsg.delivery.events import InboundResult, on_event, on_inbound, on_outbound
from omnimsg.delivery.ledger import (
    DeliveryReport,
    FailedSend,
    delivery_report,
    entries,
    failed_sends,
    resolve,
)
from omnimsg.delivery.planfile import PlanFileError, PlanHeader, read_plan
from omnimsg.delivery.records import LedgerEntry, LedgerStatus, Reservation

__all__ = [
    "AsyncDispatcher",
    "DeliveryReport",
    "DispatchProgress",
    "Dispatcher",
    "FailedSend",
    "InboundResult",
    "LedgerEntry",
    "LedgerStatus",
    "PlanFileError",
    "PlanHeader",
    "Reservation",
    "delivery_report",
    "entries",
    "failed_sends",
    "on_event",
    "on_inbound",
    "on_outbound",
    "read_plan",
    "resolve",
    "worker_id",
]
