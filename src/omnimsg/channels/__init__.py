"""Channel kinds and their capabilities, and the profiles that bundle them as data."""

from omnimsg.channels.capabilities import (
    ChannelCapabilities,
    ContentLimits,
    DoubleOptIn,
    FrequencyLimit,
    KeywordSet,
    QuietHours,
    RegionRule,
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
from omnimsg.channels.profile_schema import profile_json_schema
from omnimsg.channels.timeline import (
    ChannelTimeline,
    RuleChange,
    RulePeriod,
    RulesView,
    channel_timeline,
    platform_rules_markdown,
    rules_as_of,
)

__all__ = [
    "AfterWindow",
    "ChannelCapabilities",
    "ChannelKind",
    "ChannelTimeline",
    "ContentLimits",
    "DoubleOptIn",
    "FrequencyLimit",
    "KeywordSet",
    "MediaDelivery",
    "Mode",
    "QuietHours",
    "RegionRule",
    "RuleChange",
    "RulePeriod",
    "RulesView",
    "TextUnit",
    "TierPolicy",
    "channel_timeline",
    "parse_channel_kind",
    "platform_rules_markdown",
    "profile_json_schema",
    "rules_as_of",
]
