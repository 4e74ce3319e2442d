"""The pure decision core: windows, modes, reasons, consent, content, snippets, opt-in.

Nothing in this package does I/O or reads the clock.
"""

from omnimsg.policy.consent import consent_refusal
from omnimsg.policy.content import (
    Media,
    MediaKind,
    OutboundContent,
    SmsEncoding,
    SmsSegments,
    measure,
    render_content,
    sms_segments,
    split_sms,
)
from omnimsg.policy.decision import Decision, Message, decide
from omnimsg.policy.graphemes import count_characters, split_graphemes
from omnimsg.policy.optin import (
    DeliverBroadcast,
    DropBroadcast,
    HoldBroadcast,
    KeywordAction,
    OpenTicket,
    OptInEvent,
    OptInRules,
    RefuseBroadcast,
    ReleaseBroadcast,
    SendHelp,
    SendOptOutConfirmation,
    SendPrompt,
    Transition,
    classify_reply,
    next_prompt_at,
    receive_reply,
    request_broadcast,
    tick,
)
from omnimsg.policy.reasons import REASONS, RULE_OF, Reason, ReasonInfo
from omnimsg.policy.snippets import Placeholder, Snippet, contact_variables, parse_snippet

__all__ = [
    "REASONS",
    "RULE_OF",
    "Decision",
    "DeliverBroadcast",
    "DropBroadcast",
    "HoldBroadcast",
    "KeywordAction",
    "Media",
    "MediaKind",
    "Message",
    "OpenTicket",
    "OptInEvent",
    "OptInRules",
    "OutboundContent",
    "Placeholder",
    "Reason",
    "ReasonInfo",
    "RefuseBroadcast",
    "ReleaseBroadcast",
    "SendHelp",
    "SendOptOutConfirmation",
    "SendPrompt",
    "SmsEncoding",
    "SmsSegments",
    "Snippet",
    "Transition",
    "classify_reply",
    "consent_refusal",
    "contact_variables",
    "count_characters",
    "decide",
    "measure",
    "next_prompt_at",
    "parse_snippet",
    "receive_reply",
    "render_content",
    "request_broadcast",
    "sms_segments",
    "split_graphemes",
    "split_sms",
    "tick",
]
