"""A plan as JSON Lines: written while it is produced, the same bytes for the same inputs.

The first line (``"type": "plan"``) says what was planned; then one line per
outcome (``"type": "outcome"``), in audience order, each with its sends; the last
line is the summary (``"type": "summary"``). Instants are ISO 8601 in UTC; keys are
sorted; nothing depends on the wall clock.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any, TextIO

from omnimsg.broadcasts.model import sender_classes
from omnimsg.broadcasts.outcomes import ContactOutcome, PlannedSend
from omnimsg.broadcasts.summary import PlanSummary
from omnimsg.errors import InputError

if TYPE_CHECKING:
    from omnimsg.broadcasts.plan import Plan

__all__ = ["outcome_record", "send_record", "write_plan"]

_dumps = json.JSONEncoder(
    ensure_ascii=True, sort_keys=True, separators=(",", ":"), allow_nan=False
).encode


def send_record(send: PlannedSend) -> dict[str, Any]:
    """One planned send as JSON-ready values."""
    return {
        "key": send.key,
        "contact_id": send.contact_id,
        "account_id": send.account_id,
        "channel": send.channel.value,
        "address": send.address,
        "kind": send.kind.value,
        "number": send.number,
        "not_before": send.not_before.isoformat(),
        "batch": send.batch,
        "mode": send.mode.value,
        "paid": send.paid,
        "text": send.text,
        "params": dict(send.params),
        "template": send.template,
        "tag": send.tag,
        **(
            {}
            if send.hours is None
            else {"hours": [send.hours[0].isoformat(), send.hours[1].isoformat()]}
        ),
    }


def outcome_record(outcome: ContactOutcome) -> dict[str, Any]:
    """One outcome as JSON-ready values."""
    return {
        "type": "outcome",
        "entry": outcome.entry,
        "contact_id": outcome.contact_id,
        "outcome": outcome.outcome.value,
        "reason": outcome.reason,
        "rule": outcome.rule,
        "channel": None if outcome.channel is None else outcome.channel.value,
        "account_id": outcome.account_id,
        "sends": [send_record(send) for send in outcome.sends],
    }


def write_plan(plan: Plan, stream: TextIO) -> PlanSummary:
    """Write ``plan`` to ``stream`` as JSON Lines while it is produced; return its summary.

    Raises:
        InputError: ``plan`` is not a plan or ``stream`` not a text stream.
    """
    from omnimsg.broadcasts.plan import Plan

    if not isinstance(plan, Plan):
        raise InputError(f"plan: expected a Plan, got {type(plan).__name__}")
    if not callable(getattr(stream, "write", None)) or isinstance(
        stream, io.RawIOBase | io.BufferedIOBase
    ):
        raise InputError(f"stream: expected a text stream, got {type(stream).__name__}")
    draft = plan.draft
    header: dict[str, object] = {
        "type": "plan",
        "broadcast_id": draft.id,
        "name": draft.name,
        "tags": sorted(draft.tags),
        "start": plan.start.isoformat(),
        "ends_by": plan.ends_by.isoformat(),
        "profile": plan.profile.name,
        "rate": None
        if draft.rate is None
        else {"messages": draft.rate.messages, "per_seconds": draft.rate.per.total_seconds()},
        "frequency_cap": None
        if draft.frequency_cap is None
        else {
            "messages": draft.frequency_cap.messages,
            "period_seconds": draft.frequency_cap.period.total_seconds(),
        },
    }
    classes = sender_classes(draft)
    if classes:
        header["sender_classes"] = classes
    write = stream.write
    write(_dumps(header) + "\n")
    for outcome in plan:
        write(_dumps(outcome_record(outcome)) + "\n")
    summary = plan.summary
    write(_dumps({"type": "summary", **summary.to_dict()}) + "\n")
    return summary
