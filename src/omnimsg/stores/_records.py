"""The :class:`~omnimsg.protocols.StateStore` methods, written once over records.

Every delivery store keeps conversations, accounts and usage as records (JSON text
with a version, :mod:`omnimsg.delivery.records`); this mixin gives it the
``get_*``/``put_*`` methods of the state-store protocol on top of its own
``get_record`` and ``put_record``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from types import TracebackType
from typing import Self, TypeVar

from omnimsg.delivery.records import (
    attempts,
    decode_account,
    decode_conversation,
    decode_usage,
    encode_account,
    encode_conversation,
    encode_usage,
)
from omnimsg.errors import InputError
from omnimsg.state import AccountState, ConversationState, SenderUsage

__all__ = [
    "RecordStateMixin",
    "check_key",
    "check_tenant",
    "check_text",
    "check_version",
    "conversation_key",
    "micros_of",
]

T = TypeVar("T")

_SEP = "\x1f"


def check_key(value: object, name: str) -> str:
    """``value`` as a non-empty key without NUL, or :class:`InputError`."""
    if not isinstance(value, str):
        raise InputError(f"{name}: expected text, got {type(value).__name__}")
    if not value or "\x00" in value or len(value) > 1000:
        raise InputError(f"{name}: expected 1 to 1,000 characters without NUL")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{name}: not valid Unicode text (a lone surrogate)") from None
    return value


def micros_of(span: timedelta) -> int:
    """``span`` in whole microseconds."""
    return (span.days * 86_400 + span.seconds) * 1_000_000 + span.microseconds


def check_version(value: object) -> None:
    """An expected record version: ``None`` or a positive int."""
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise InputError(
            f"expected: a record version (a positive int) or None, got {type(value).__name__}"
        )


def check_text(value: object) -> None:
    """Record text: a str of valid Unicode."""
    if not isinstance(value, str):
        raise InputError(f"text: expected str, got {type(value).__name__}")
    if "\x00" in value:
        raise InputError("text: NUL characters cannot be stored")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError("text: not valid Unicode text (a lone surrogate)") from None


def check_tenant(value: object) -> str:
    """A tenant name: 1 to 100 characters, letters, digits, ``-``, ``_`` and ``.``."""
    if not isinstance(value, str):
        raise InputError(f"tenant: expected text, got {type(value).__name__}")
    if not (0 < len(value) <= 100) or not all(
        c.isascii() and (c.isalnum() or c in "-_.") for c in value
    ):
        raise InputError(
            "tenant: expected 1 to 100 characters of ASCII letters, digits, '-', '_' and '.'"
        )
    return value


def conversation_key(contact_id: str, account_id: str) -> str:
    """The record key of a contact's conversation on an account."""
    return check_key(contact_id, "contact_id") + _SEP + check_key(account_id, "account_id")


class RecordStateMixin:
    """``get_/put_conversation``, ``get_/put_account``, ``get_/put_usage`` over records,
    and ``with store:`` closing the store at the end of the block."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def get_record(self, kind: str, key: str, /) -> tuple[int, str] | None:
        raise NotImplementedError

    def put_record(
        self, kind: str, key: str, expected: int | None, text: str, /, group: str = ""
    ) -> bool:
        raise NotImplementedError

    def _replace(self, kind: str, key: str, text: str) -> None:
        for _ in attempts("replacing a record"):
            found = self.get_record(kind, key)
            if self.put_record(kind, key, None if found is None else found[0], text):
                return

    def _read(self, kind: str, key: str, decode: Callable[[str, str], T]) -> T | None:
        found = self.get_record(kind, key)
        return None if found is None else decode(key, found[1])

    def get_conversation(self, contact_id: str, account_id: str, /) -> ConversationState | None:
        """The stored conversation state of a contact on an account, or ``None``."""
        found = self.get_record("conversation", conversation_key(contact_id, account_id))
        if found is None:
            return None
        return decode_conversation(conversation_key(contact_id, account_id), found[1])[0]

    def put_conversation(
        self, contact_id: str, account_id: str, state: ConversationState, /
    ) -> None:
        """Replace the conversation state of a contact on an account (its event ids kept)."""
        if not isinstance(state, ConversationState):
            raise InputError(f"state: expected ConversationState, got {type(state).__name__}")
        key = conversation_key(contact_id, account_id)
        for _ in attempts("replacing a conversation"):
            found = self.get_record("conversation", key)
            events = () if found is None else decode_conversation(key, found[1])[1]
            text = encode_conversation(state, events)
            if self.put_record("conversation", key, None if found is None else found[0], text):
                return

    def get_account(self, account_id: str, /) -> AccountState | None:
        """The stored state of a sender account, or ``None``."""
        return self._read("account", check_key(account_id, "account_id"), decode_account)

    def put_account(self, account_id: str, state: AccountState, /) -> None:
        """Replace the state of a sender account."""
        if not isinstance(state, AccountState):
            raise InputError(f"state: expected AccountState, got {type(state).__name__}")
        self._replace("account", check_key(account_id, "account_id"), encode_account(state))

    def get_usage(self, account_id: str, /) -> SenderUsage | None:
        """The usage record of a sender account, or ``None``."""
        return self._read("usage", check_key(account_id, "account_id"), decode_usage)

    def put_usage(self, account_id: str, usage: SenderUsage, /) -> None:
        """Replace the usage record of a sender account."""
        if not isinstance(usage, SenderUsage):
            raise InputError(f"usage: expected SenderUsage, got {type(usage).__name__}")
        self._replace("usage", check_key(account_id, "account_id"), encode_usage(usage))
