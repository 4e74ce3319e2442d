"""What crosses a transport: the request to send one message and the result of it.

A transport is anything with ``send(request) -> SendResult`` (or ``asend`` for the
async twin); the protocols are in :mod:`omnimsg.protocols`. omnimsg never sends by
itself: a backend plugs its own transports in (an HTTP client for a platform's API,
a queue, a test double from :mod:`omnimsg.testing`).
"""

from __future__ import annotations

from enum import StrEnum

import attrs

from omnimsg._convert import to_enum, to_optional_text, to_text
from omnimsg.channels.kinds import ChannelKind, Mode
from omnimsg.errors import InputError
from omnimsg.policy.content import OutboundContent

__all__ = ["SendRequest", "SendResult", "SendStatus"]


def _key(value: object) -> str:
    text = to_text(value, "idempotency_key")
    if not text:
        raise _empty("idempotency_key")
    return text


def _account(value: object) -> str:
    text = to_text(value, "account_id")
    if not text:
        raise _empty("account_id")
    return text


def _recipient(value: object) -> str:
    text = to_text(value, "recipient")
    if not text:
        raise _empty("recipient")
    return text


def _empty(name: str) -> InputError:
    return InputError(f"{name}: must not be empty")


def _channel(value: object) -> ChannelKind:
    return to_enum(ChannelKind, value, "channel")


def _mode(value: object) -> Mode:
    return to_enum(Mode, value, "mode")


def _content(value: object) -> OutboundContent:
    if not isinstance(value, OutboundContent):
        raise InputError(f"content: expected OutboundContent, got {type(value).__name__}")
    return value


def _template(value: object) -> str | None:
    return to_optional_text(value, "template")


def _tag(value: object) -> str | None:
    return to_optional_text(value, "tag")


def _contact_id(value: object) -> str | None:
    return to_optional_text(value, "contact_id")


@attrs.frozen
class SendRequest:
    """One message to hand to a transport.

    ``idempotency_key`` is the same for the same message to the same recipient on
    every run (X5): a transport or its platform drops a second request with a key it
    has seen. ``recipient`` is the contact's id on ``account_id`` (the platform's user
    id or phone). ``content`` is the content as :func:`omnimsg.decide` rendered it;
    ``mode`` how it may go, with its ``template`` or ``tag``.
    """

    idempotency_key: str = attrs.field(converter=_key)
    account_id: str = attrs.field(converter=_account)
    channel: ChannelKind = attrs.field(converter=_channel)
    recipient: str = attrs.field(converter=_recipient)
    content: OutboundContent = attrs.field(converter=_content)
    mode: Mode = attrs.field(default=Mode.FREE_FORM, converter=_mode)
    template: str | None = attrs.field(default=None, converter=_template)
    tag: str | None = attrs.field(default=None, converter=_tag)
    contact_id: str | None = attrs.field(default=None, converter=_contact_id)


class SendStatus(StrEnum):
    """What became of a send request."""

    ACCEPTED = "accepted"
    """The platform took the message (delivery is reported later, if at all)."""
    REJECTED = "rejected"
    """The platform refused it for good (bad recipient, policy): do not retry (B15)."""
    RETRY = "retry"
    """A passing failure (rate limited, timeout, 5xx): the same request may be retried."""


def _status(value: object) -> SendStatus:
    return to_enum(SendStatus, value, "status")


def _provider_id(value: object) -> str | None:
    return to_optional_text(value, "provider_message_id")


def _error(value: object) -> str | None:
    return to_optional_text(value, "error")


@attrs.frozen
class SendResult:
    """A transport's answer to one :class:`SendRequest`.

    ``provider_message_id`` is the platform's id for an accepted message; ``error``
    says why a rejected or retryable one did not go, in the platform's words.
    """

    idempotency_key: str = attrs.field(converter=_key)
    status: SendStatus = attrs.field(converter=_status)
    provider_message_id: str | None = attrs.field(default=None, converter=_provider_id)
    error: str | None = attrs.field(default=None, converter=_error)

    @property
    def ok(self) -> bool:
        """Whether the message was accepted."""
        return self.status is SendStatus.ACCEPTED
