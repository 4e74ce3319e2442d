"""The reference schema: five tables holding :class:`~omnimsg.contacts.Contact` values.

:data:`REFERENCE_TABLES` is what :mod:`omnimsg.segments.sql` compiles against by
default; :class:`ContactTables` lets an application point it at its own tables, views
or subqueries instead. Missing values are ``NULL`` (or no row). A custom value sits in
the column of its type (:func:`~omnimsg.segments.compiler.custom_value_type`).

The indexes serve the sets the segment SQL reads from child tables (tags by tag,
custom values by name and number or instant, identities by channel, by latest
inbound and by contact, consent by sender and status) and the lookups of an
external id. Custom strings get none: every text condition compares folded text,
which an index of the stored text cannot answer, and PostgreSQL refuses index
entries beyond about 2.7 kB, which a long custom string would make.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs
import sqlalchemy as sa

from omnimsg.errors import InputError
from omnimsg.segments.fields import FieldType
from omnimsg.stores.sql._driver import database_errors
from omnimsg.stores.sql.types import ExactNumber, Instant

__all__ = [
    "CUSTOM_VALUE_COLUMNS",
    "REFERENCE_TABLES",
    "ContactTables",
    "contact_custom_values",
    "contact_identities",
    "contact_subscriptions",
    "contact_tags",
    "contacts",
    "create_reference_schema",
    "metadata",
]

metadata = sa.MetaData()
"""The reference schema's metadata; :func:`create_reference_schema` creates its tables."""


contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("first_name", sa.Text),
    sa.Column("last_name", sa.Text),
    sa.Column("email", sa.Text),
    sa.Column("phone", sa.Text),
    sa.Column("phone_region", sa.Text),
    sa.Column("timezone", sa.Text),
    sa.Column("language", sa.Text),
    sa.Column("lifecycle", sa.Text),
    sa.Column("assignee", sa.Text),
    sa.Column("conversation_status", sa.Text),
    sa.Column("last_interacted_channel", sa.Text),
    sa.Column("created_at", Instant()),
    sa.Index("ix_contacts_phone", "phone"),
)
"""One row per contact; the standard fields, ``NULL`` when missing. Phones are indexed:
a WhatsApp inbound is matched to a contact by its number (P16)."""


def _contact_id() -> sa.Column[str]:
    return sa.Column(
        "contact_id", sa.Text, sa.ForeignKey(contacts.c.id, ondelete="CASCADE"), primary_key=True
    )


contact_tags = sa.Table(
    "contact_tags",
    metadata,
    _contact_id(),
    sa.Column("tag", sa.Text, primary_key=True),
    sa.Index("ix_contact_tags_tag", "tag", "contact_id"),
)
"""One row per tag of a contact."""

contact_identities = sa.Table(
    "contact_identities",
    metadata,
    _contact_id(),
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("external_id", sa.Text, primary_key=True),
    sa.Column("position", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("first_seen_at", Instant()),
    sa.Column("last_inbound_at", Instant()),
    sa.Index("ix_contact_identities_channel", "channel", "contact_id"),
    sa.Index("ix_contact_identities_last_inbound", "last_inbound_at", "contact_id"),
    sa.Index("ix_contact_identities_contact_inbound", "contact_id", "last_inbound_at"),
    sa.Index("ix_contact_identities_external", "external_id", "account_id", "contact_id"),
)
"""One row per channel identity (channel account) of a contact, ``position`` its place
in :attr:`Contact.identities <omnimsg.contacts.Contact.identities>`."""

contact_custom_values = sa.Table(
    "contact_custom_values",
    metadata,
    _contact_id(),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("string_value", sa.Text),
    sa.Column("number_value", ExactNumber()),
    sa.Column("boolean_value", sa.Boolean),
    sa.Column("datetime_value", Instant()),
    sa.Index("ix_contact_custom_values_number", "name", "number_value", "contact_id"),
    sa.Index("ix_contact_custom_values_datetime", "name", "datetime_value", "contact_id"),
)
"""Typed custom values (EAV): a value sits in the column of its type, the others are NULL."""

CUSTOM_VALUE_COLUMNS: Mapping[FieldType, str] = MappingProxyType(
    {
        FieldType.STRING: "string_value",
        FieldType.NUMBER: "number_value",
        FieldType.BOOLEAN: "boolean_value",
        FieldType.DATETIME: "datetime_value",
    }
)
"""The column of ``contact_custom_values`` holding a custom value of each type."""

contact_subscriptions = sa.Table(
    "contact_subscriptions",
    metadata,
    _contact_id(),
    sa.Column("sender", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Index("ix_contact_subscriptions_sender", "sender", "status", "contact_id"),
)
"""A contact's subscription status per sender (channel account); no row means not asked."""


def _from_clause(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, sa.FromClause):
        raise InputError(
            f"ContactTables.{attribute.name}: expected a table, view or subquery "
            f"(a SQLAlchemy FromClause), got {type(value).__name__}"
        )


@attrs.frozen
class ContactTables:
    """The tables (or views, or subqueries) a segment is compiled against.

    Each must expose the columns of the reference table it stands for, by column
    *key*: an application can declare ``sa.Column("mail", sa.Text, key="email")`` on
    its own table, or build a view with the reference names. ``contacts.id`` must be
    unique, and each of the other four needs ``contact_id``. Raises
    :class:`~omnimsg.errors.InputError` for something that is not a FROM object.
    """

    contacts: sa.FromClause = attrs.field(validator=_from_clause)
    tags: sa.FromClause = attrs.field(validator=_from_clause)
    identities: sa.FromClause = attrs.field(validator=_from_clause)
    custom_values: sa.FromClause = attrs.field(validator=_from_clause)
    subscriptions: sa.FromClause = attrs.field(validator=_from_clause)


REFERENCE_TABLES = ContactTables(
    contacts=contacts,
    tags=contact_tags,
    identities=contact_identities,
    custom_values=contact_custom_values,
    subscriptions=contact_subscriptions,
)
"""The reference schema, the default of every function that takes ``tables``."""


def create_reference_schema(bind: sa.Connection | sa.Engine) -> None:
    """Create the reference tables (and their indexes) if they do not exist.

    Raises :class:`~omnimsg.errors.InputError` when ``bind`` is not a SQLAlchemy
    ``Connection`` or ``Engine`` and :class:`~omnimsg.errors.StoreError` when the
    database refuses.
    """
    if not isinstance(bind, sa.Connection | sa.Engine):
        raise InputError(
            f"create_reference_schema: expected a SQLAlchemy Connection or Engine, "
            f"got {type(bind).__name__}"
        )
    with database_errors("create_reference_schema"):
        metadata.create_all(bind)
