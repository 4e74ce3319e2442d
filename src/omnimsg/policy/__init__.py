"""The pure decision core: windows, modes, reasons, content, opt-in state.

Nothing in this package does I/O or reads the clock.
"""

from omnimsg.policy.decision import AccountState, ConversationState, Decision, Message, decide
from omnimsg.policy.reasons import RULE_OF, Reason

__all__ = [
    "RULE_OF",
    "AccountState",
    "ConversationState",
    "Decision",
    "Message",
    "Reason",
    "decide",
]
