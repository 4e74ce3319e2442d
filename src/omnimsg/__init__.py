"""omnimsg: the rules of business messaging, as an embeddable library.

May I send this to this contact on this channel now, and how? Load a profile,
resolve a channel's capabilities as of now, and :func:`decide`::

    from datetime import UTC, datetime
    from omnimsg import ConversationState, Message, decide, load_profile

    now = datetime.now(UTC)
    caps = load_profile("respondio").capabilities("whatsapp", as_of=now)
    decision = decide(caps, ConversationState(last_inbound_at=...), Message(text="Hi"), now=now)

This module only re-exports; every name lives in a submodule.
"""

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
)
from omnimsg.channels.registry import (
    Profile,
    builtin_profile_names,
    load_profile,
    profile_from_dict,
)
from omnimsg.clock import Clock, FixedClock, SystemClock
from omnimsg.contacts import ChannelIdentity, Contact, ConversationStatus, SubscriptionStatus
from omnimsg.errors import (
    AudienceError,
    ConfigurationError,
    InputError,
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
from omnimsg.policy import (
    RULE_OF,
    AccountState,
    ConversationState,
    Decision,
    Message,
    Reason,
    decide,
)
from omnimsg.policy.content import Media, MediaKind, OutboundContent
from omnimsg.segments import (
    ContactIndex,
    CsvImportOptions,
    CsvImportReport,
    FieldType,
    IdAudience,
    MemoryContactSink,
    Segment,
    compile_segment,
    filter_contacts,
    import_contacts_csv,
    import_contacts_csv_file,
    parse_id_list,
    parse_segment,
    resolve_id_list,
    segment_json_schema,
)

__version__ = "0.1.0"

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
    "Contact",
    "ContactIndex",
    "ContentLimits",
    "ConversationState",
    "ConversationStatus",
    "CsvImportOptions",
    "CsvImportReport",
    "Decision",
    "DoubleOptIn",
    "FieldType",
    "FixedClock",
    "IdAudience",
    "InputError",
    "KeywordSet",
    "Media",
    "MediaDelivery",
    "MediaKind",
    "MemoryContactSink",
    "Message",
    "Mode",
    "NaiveDatetimeError",
    "OmnimsgError",
    "OutboundContent",
    "PhoneNumberError",
    "Profile",
    "ProfileError",
    "QuietHours",
    "Reason",
    "Segment",
    "SegmentError",
    "SegmentValidationError",
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
    "decide",
    "filter_contacts",
    "import_contacts_csv",
    "import_contacts_csv_file",
    "load_profile",
    "normalize_phone",
    "parse_channel_kind",
    "parse_id_list",
    "parse_segment",
    "profile_from_dict",
    "resolve_id_list",
    "segment_json_schema",
]
