"""omnimsg: the rules of business messaging, as an embeddable library.

May I send this to this contact on this channel now, and how? Load a profile,
resolve a channel's capabilities as of now, and :func:`decide`::

    from datetime import UTC, datetime
    from omnimsg import Message, conversation_state, decide, load_profile

    now = datetime.now(UTC)
    caps = load_profile("respondio").capabilities("whatsapp", as_of=now)
    state = conversation_state(contact, "wa-1")   # window and consent on that account
    decision = decide(caps, state, Message(text="Hi"), now=now)

This module only re-exports; every name lives in a submodule.
"""

from omnimsg.audiences import (
    CsvImportOptions,
    CsvImportReport,
    IdAudience,
    import_contacts_csv,
    import_contacts_csv_file,
    parse_id_list,
    resolve_id_list,
)
from omnimsg.broadcasts import (
    ContactOutcome,
    Draft,
    OutcomeKind,
    Plan,
    PlannedSend,
    PlanSummary,
    plan_broadcast,
    plan_test_send,
)
from omnimsg.broadcasts.checks import validate_draft
from omnimsg.broadcasts.draft import draft_from_dict, load_draft
from omnimsg.channels import (
    AfterWindow,
    ChannelCapabilities,
    ChannelKind,
    ContentLimits,
    DoubleOptIn,
    KeywordSet,
    MediaDelivery,
    Mode,
    QuietHours,
    TextUnit,
    TierPolicy,
    parse_channel_kind,
    profile_json_schema,
)
from omnimsg.channels.registry import (
    Profile,
    builtin_profile_names,
    load_profile,
    profile_from_dict,
)
from omnimsg.clock import SystemClock
from omnimsg.contacts import (
    ChannelIdentity,
    Contact,
    ConversationStatus,
    merge_contacts,
)
from omnimsg.errors import (
    AudienceError,
    ConfigurationError,
    ConformanceError,
    DraftError,
    InputError,
    LifecycleError,
    NaiveDatetimeError,
    OmnimsgError,
    PhoneNumberError,
    ProfileError,
    SegmentError,
    SegmentValidationError,
    SnippetError,
    StoreError,
    TransportError,
    UnknownChannelError,
    UnknownProfileError,
)
from omnimsg.phones import normalize_phone
from omnimsg.policy import RULE_OF, Decision, Message, Reason, decide
from omnimsg.policy.content import Media, MediaKind, OutboundContent
from omnimsg.protocols import Clock
from omnimsg.segments import (
    FieldType,
    Segment,
    compile_segment,
    filter_contacts,
    parse_segment,
    segment_json_schema,
)
from omnimsg.state import (
    AccountState,
    ConversationState,
    OptInState,
    SenderUsage,
    SubscriptionStatus,
    conversation_state,
)
from omnimsg.stores.memory import MemoryContactStore, MemoryStateStore

try:  # written by the build from the VCS tag (hatch-vcs); absent only in an uninstalled tree
    from omnimsg._version import __version__ as __version__
except ImportError:  # pragma: no cover - running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "RULE_OF",
    "AccountState",
    "AfterWindow",
    "AudienceError",
    "ChannelCapabilities",
    "ChannelIdentity",
    "ChannelKind",
    "Clock",
    "ConfigurationError",
    "ConformanceError",
    "Contact",
    "ContactOutcome",
    "ContentLimits",
    "ConversationState",
    "ConversationStatus",
    "CsvImportOptions",
    "CsvImportReport",
    "Decision",
    "DoubleOptIn",
    "Draft",
    "DraftError",
    "FieldType",
    "IdAudience",
    "InputError",
    "KeywordSet",
    "LifecycleError",
    "Media",
    "MediaDelivery",
    "MediaKind",
    "MemoryContactStore",
    "MemoryStateStore",
    "Message",
    "Mode",
    "NaiveDatetimeError",
    "OmnimsgError",
    "OptInState",
    "OutboundContent",
    "OutcomeKind",
    "PhoneNumberError",
    "Plan",
    "PlanSummary",
    "PlannedSend",
    "Profile",
    "ProfileError",
    "QuietHours",
    "Reason",
    "Segment",
    "SegmentError",
    "SegmentValidationError",
    "SenderUsage",
    "SnippetError",
    "StoreError",
    "SubscriptionStatus",
    "SystemClock",
    "TextUnit",
    "TierPolicy",
    "TransportError",
    "UnknownChannelError",
    "UnknownProfileError",
    "builtin_profile_names",
    "compile_segment",
    "conversation_state",
    "decide",
    "draft_from_dict",
    "filter_contacts",
    "import_contacts_csv",
    "import_contacts_csv_file",
    "load_draft",
    "load_profile",
    "merge_contacts",
    "normalize_phone",
    "parse_channel_kind",
    "parse_id_list",
    "parse_segment",
    "plan_broadcast",
    "plan_test_send",
    "profile_from_dict",
    "profile_json_schema",
    "resolve_id_list",
    "segment_json_schema",
    "validate_draft",
]
