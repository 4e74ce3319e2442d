"""Broadcasts: the draft, the plan of its sends, and the plan's summary (SPEC section 4).

A :class:`~omnimsg.broadcasts.model.Draft` says what goes to whom and how;
:func:`plan_broadcast` turns it, an audience and the senders' state into a stream of
outcomes, one per audience entry, with every send placed in a batch of its sender
account at a time no window, cap, tier, rate, opt-in, frequency cap or quiet hour
forbids, and a :class:`PlanSummary` to read before sending. Nothing here sends or
stores.
"""

from omnimsg.broadcasts.checks import validate_draft
from omnimsg.broadcasts.draft import (
    MAX_DRAFT_BYTES,
    MAX_DRAFT_DEPTH,
    draft_from_dict,
    draft_json_schema,
    draft_to_dict,
    load_draft,
)
from omnimsg.broadcasts.jsonl import outcome_record, send_record, write_plan
from omnimsg.broadcasts.lifecycle import TRANSITIONS, BroadcastStatus, occurrences, transition
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
from omnimsg.broadcasts.outcomes import (
    PLAN_REASONS,
    ContactOutcome,
    OutcomeKind,
    PlannedSend,
    PlanReason,
    SendKind,
    reason_rule,
    reason_words,
)
from omnimsg.broadcasts.plan import (
    PHONE_CHANNELS,
    SEVEN_DAYS,
    Plan,
    plan_broadcast,
    plan_test_send,
)
from omnimsg.broadcasts.summary import PlanSummary, Tally

__all__ = [
    "MAX_DRAFT_BYTES",
    "MAX_DRAFT_DEPTH",
    "PHONE_CHANNELS",
    "PLAN_REASONS",
    "SEVEN_DAYS",
    "TRANSITIONS",
    "Audience",
    "BroadcastMessage",
    "BroadcastStatus",
    "ContactOutcome",
    "Draft",
    "FrequencyCap",
    "OutcomeKind",
    "Plan",
    "PlanReason",
    "PlanSummary",
    "PlannedSend",
    "Rate",
    "Schedule",
    "SendKind",
    "Sender",
    "Tally",
    "Targeting",
    "draft_from_dict",
    "draft_json_schema",
    "draft_to_dict",
    "load_draft",
    "occurrences",
    "outcome_record",
    "plan_broadcast",
    "plan_test_send",
    "reason_rule",
    "reason_words",
    "send_record",
    "transition",
    "validate_draft",
    "write_plan",
]
