"""What crosses a transport: the request to send one message and the result of it.

A transport is anything with ``send(request) -> SendResult`` (or ``asend`` for the
async twin); the protocols are in :mod:`omnimsg.protocols`. omnimsg never sends by
itself: a backend plugs its own transports in (an HTTP client for a platform's API,
a queue, a test double from :mod:`omnimsg.testing`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from enum import StrEnum

import attrs

from omnimsg._convert import shown, to_enum, to_optional_text, to_text
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


def _language(value: object) -> str | None:
    return to_optional_text(value, "language")


def _params(value: object) -> tuple[tuple[str, str], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    if isinstance(items, str | bytes) or not isinstance(items, Iterable):
        raise InputError(f"params: expected a mapping of text to text, got {type(value).__name__}")
    out: list[tuple[str, str]] = []
    for item in items:
        if not (
            isinstance(item, tuple | list)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], str)
        ):
            raise InputError("params: expected (name, value) pairs of text")
        out.append((item[0], item[1]))
    return tuple(out)


@attrs.frozen
class SendRequest:
    """One message to hand to a transport.

    ``idempotency_key`` is the same for the same message to the same recipient on
    every run (X5): a transport or its platform drops a second request with a key it
    has seen. ``recipient`` is the contact's id on ``account_id`` (the platform's user
    id or phone). ``content`` is the content as :func:`omnimsg.decide` rendered it;
    ``mode`` how it may go, with its ``template`` or ``tag``; ``params`` are a
    template's parameters as ``(name, value)`` pairs in order, ``language`` the
    contact's language when known (a template's language code).
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
    params: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_params)
    language: str | None = attrs.field(default=None, converter=_language)


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


def _retry_after(value: object) -> timedelta | None:
    if value is None:
        return None
    if isinstance(value, timedelta) and value >= timedelta(0):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 10**9:
        return timedelta(seconds=value)
    raise InputError(
        f"retry_after: expected a non-negative timedelta or seconds, got {shown(value)}"
    )


@attrs.frozen
class SendResult:
    """A transport's answer to one :class:`SendRequest`.

    ``provider_message_id`` is the platform's id for an accepted message; ``error``
    says why a rejected or retryable one did not go, in the platform's words;
    ``retry_after`` is how long the platform asked to wait before a retry (a
    ``Retry-After`` header), when it said.
    """

    idempotency_key: str = attrs.field(converter=_key)
    status: SendStatus = attrs.field(converter=_status)
    provider_message_id: str | None = attrs.field(default=None, converter=_provider_id)
    error: str | None = attrs.field(default=None, converter=_error)
    retry_after: timedelta | None = attrs.field(default=None, converter=_retry_after)

    @property
    def ok(self) -> bool:
        """Whether the message was accepted."""
        return self.status is SendStatus.ACCEPTED
