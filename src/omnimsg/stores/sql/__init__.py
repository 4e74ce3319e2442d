"""The reference SQL schema of contacts and its loader (optional extra ``sql``).

:mod:`omnimsg.stores.sql.schema` declares the five reference tables
(:data:`REFERENCE_TABLES`) that :mod:`omnimsg.segments.sql` compiles segments
against, :class:`ContactTables` points the compiler at an application's own tables,
:func:`load_contacts` inserts :class:`~omnimsg.contacts.Contact` values and
:class:`SqlContactSource` streams them back (a
:class:`~omnimsg.protocols.ContactSource`, with segments pushed down). The SQL stores
of state will live next to them. SQLite and PostgreSQL are supported. Functions take
the caller's connection; a source given an engine connects through it. This package imports
SQLAlchemy; :mod:`omnimsg` and :mod:`omnimsg.stores` never import it.
"""

try:
    import sqlalchemy as _sqlalchemy  # noqa: F401  (fail here, with the extra to install)
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("omnimsg.stores.sql needs SQLAlchemy 2: pip install omnimsg[sql]") from exc

from omnimsg.stores.sql.load import load_contacts
from omnimsg.stores.sql.schema import (
    CUSTOM_VALUE_COLUMNS,
    REFERENCE_TABLES,
    ContactTables,
    contact_custom_values,
    contact_identities,
    contact_subscriptions,
    contact_tags,
    contacts,
    create_reference_schema,
    metadata,
)
from omnimsg.stores.sql.source import SqlContactSource
from omnimsg.stores.sql.types import ExactNumber, Instant, exact_decimal

__all__ = [
    "CUSTOM_VALUE_COLUMNS",
    "REFERENCE_TABLES",
    "ContactTables",
    "ExactNumber",
    "Instant",
    "SqlContactSource",
    "contact_custom_values",
    "contact_identities",
    "contact_subscriptions",
    "contact_tags",
    "contacts",
    "create_reference_schema",
    "exact_decimal",
    "load_contacts",
    "metadata",
]
