"""Channel kinds and their capabilities, and the profiles that bundle them as data."""

from omnimsg.channels.capabilities import (
    ChannelCapabilities,
    ContentLimits,
    DoubleOptIn,
    KeywordSet,
    QuietHours,
    TierPolicy,
)
from omnimsg.channels.kinds import (
    AfterWindow,
    ChannelKind,
    MediaDelivery,
    Mode,
    TextUnit,
    parse_channel_kind,
)

__all__ = [
    "AfterWindow",
    "ChannelCapabilities",
    "ChannelKind",
    "ContentLimits",
    "DoubleOptIn",
    "KeywordSet",
    "MediaDelivery",
    "Mode",
    "QuietHours",
    "TextUnit",
    "TierPolicy",
    "parse_channel_kind",
]
