"""The service's request and response bodies (pydantic, at the HTTP boundary only).

Requests are checked for shape here (types, required fields, aware instants);
omnimsg then checks the meaning (a known channel, a valid phone, a draft that fits
the profile) and its errors become 4xx answers with their words (:mod:`service.app`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

_Text = Field(min_length=1, max_length=1000)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdentityIn(_Body):
    """A contact's id on one channel account (a WhatsApp number, a Telegram chat)."""

    account_id: str = _Text
    channel: str = _Text
    external_id: str = _Text
    first_seen_at: AwareDatetime | None = None
    last_inbound_at: AwareDatetime | None = None


class ContactIn(_Body):
    """A contact as :meth:`omnimsg.Contact.from_dict` reads it."""

    id: str = _Text
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    timezone: str | None = None
    language: str | None = None
    tags: list[str] = Field(default_factory=list, max_length=1000)
    custom: dict[str, str | int | float | bool] = Field(default_factory=dict, max_length=1000)
    identities: list[IdentityIn] = Field(default_factory=list, max_length=100)
    subscriptions: dict[str, str] = Field(default_factory=dict, max_length=100)


class ContactsIn(_Body):
    """``POST /contacts``: new contacts."""

    contacts: list[ContactIn] = Field(min_length=1, max_length=10_000)


class ContactsOut(BaseModel):
    """How many contacts were stored."""

    stored: int


class InboundMessage(_Body):
    """``POST /webhooks/inbound``: a message a contact sent, as the platform reported it.

    The contact is named by ``contact`` (the service's id) or by ``sender``, the
    platform's id of the sender on ``account`` (a contact identity's ``external_id``).
    ``at`` is when the contact sent it: ISO 8601 with its offset, or Unix seconds (as
    WhatsApp's ``timestamp``); an instant without a zone is refused.
    """

    channel: str = _Text
    account: str = _Text
    contact: str | None = Field(default=None, min_length=1, max_length=1000)
    sender: str | None = Field(default=None, min_length=1, max_length=1000)
    message_id: str = _Text
    at: AwareDatetime
    text: str | None = Field(default=None, max_length=100_000)
    locale: str | None = Field(default=None, max_length=35)

    @model_validator(mode="after")
    def _one_contact(self) -> Self:
        if (self.contact is None) == (self.sender is None):
            raise ValueError("give exactly one of 'contact' and 'sender'")
        return self


class InboundOut(BaseModel):
    """What an inbound message changed."""

    contact: str
    duplicate: bool
    consent: str
    last_inbound_at: datetime | None
    events: list[str]


class SendQuestion(_Body):
    """``POST /decisions``: may this message go to this contact on this account now?"""

    channel: str = _Text
    account: str = _Text
    contact: str = _Text
    text: str = Field(default="", max_length=100_000)
    template: str | None = Field(default=None, min_length=1, max_length=512)
    tag: str | None = Field(default=None, min_length=1, max_length=100)
    marketing: bool = False
    broadcast: bool = False


class DecisionOut(BaseModel):
    """omnimsg's :class:`~omnimsg.Decision`, as JSON."""

    allowed: bool
    mode: str
    reason: str
    rule: str
    window_closes_at: datetime | None
    retry_at: datetime | None
    remaining_in_window: int | None
    paid: bool
    explanation: str


class BroadcastIn(_Body):
    """``POST /broadcasts``: a draft in the JSON form :func:`omnimsg.draft_from_dict` reads."""

    draft: dict[str, Any]


class BroadcastOut(BaseModel):
    """A planned broadcast: its summary (B7) and the tasks queued for the workers."""

    broadcast_id: str
    description: str
    summary: dict[str, Any]
    tasks: list[str]
    """The ids of the Celery tasks queued, one per batch (their results say what went)."""


class DeliveryOut(BaseModel):
    """What became of a broadcast's sends, from omnimsg's ledger (B15)."""

    broadcast_id: str
    summary: dict[str, Any]
    counts: dict[str, int]
    failed: list[dict[str, Any]]
