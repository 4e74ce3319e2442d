"""The service's data in one PostgreSQL schema: contacts, stored plans, omnimsg's store.

- Contacts live in omnimsg's reference tables (:mod:`omnimsg.stores.sql`), read back
  by :class:`~omnimsg.stores.sql.SqlContactSource`, which the planner asks for a
  draft's segment (evaluated by the database).
- Plans live in ``service_plans``: the plan's JSON Lines as omnimsg wrote them and
  its summary, one row per broadcast, so any process can enqueue a plan again.
- Conversations, consent, the ledger and the caps' reservations live in omnimsg's
  :class:`~omnimsg.stores.postgres.PostgresStore`, its tables in the same schema.

Nothing here reads the clock: instants come in as arguments.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import sqlalchemy as sa

from omnimsg import Contact, InputError, StoreError, conversation_state
from omnimsg.errors import StoreUnavailableError
from omnimsg.protocols import DeliveryStore
from omnimsg.stores.open import open_store
from omnimsg.stores.sql import SqlContactSource, create_reference_schema, load_contacts
from omnimsg.stores.sql import contacts as contact_rows
from service.settings import Settings

_plans_metadata = sa.MetaData()

plans = sa.Table(
    "service_plans",
    _plans_metadata,
    sa.Column("tenant", sa.Text, primary_key=True),
    sa.Column("broadcast_id", sa.Text, primary_key=True),
    sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("summary", sa.JSON, nullable=False),
    sa.Column("plan", sa.Text, nullable=False),
)
"""One row per planned broadcast: its JSON Lines and its summary."""


class DuplicateError(Exception):
    """A contact or a broadcast with this id is stored already."""


@contextmanager
def _database(where: str) -> Iterator[None]:
    """SQLAlchemy's errors as omnimsg's, as omnimsg's own stores raise them.

    A server that cannot be reached is :class:`~omnimsg.errors.StoreUnavailableError`
    (the app answers 503: retry later); any other failure is
    :class:`~omnimsg.StoreError`.
    """
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        cause = type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__
        raise StoreUnavailableError(f"{where}: the database cannot be reached ({cause})") from exc
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"{where}: the database failed ({type(exc).__name__})") from exc


class ServiceDatabase:
    """The service's schema on the PostgreSQL server of ``settings``.

    Args:
        settings: where the schema is (``database_url``, ``schema``) and the store's
            ``tenant``.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        base = sa.create_engine(settings.sqlalchemy_url, pool_pre_ping=True)
        self._base = base
        self.engine: sa.Engine = base.execution_options(
            schema_translate_map={None: settings.schema}
        )
        self._store: DeliveryStore | None = None

    def create(self) -> None:
        """Create the schema and the tables that are missing (omnimsg's store's too)."""
        with _database("create"):
            with self._base.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.settings.schema}"'))
            create_reference_schema(self.engine)
            _plans_metadata.create_all(self.engine)
        self.store  # noqa: B018  (opening the store creates or migrates its tables)

    @property
    def store(self) -> DeliveryStore:
        """omnimsg's delivery store, opened on first use and shared by the app's threads."""
        if self._store is None:
            self._store = open_store(self.settings.store_url, tenant=self.settings.tenant)
        return self._store

    @property
    def contacts(self) -> SqlContactSource:
        """The stored contacts, as a contact source for the planner and the lookups."""
        return SqlContactSource(self.engine)

    def add_contacts(self, contacts: Sequence[Contact]) -> int:
        """Store new contacts and start their conversations in the delivery store.

        Each account a contact has an identity or a consent record on gets its
        conversation (window and consent, :func:`omnimsg.conversation_state`) in the
        store, unless one is there already: from then on the store is the one home
        of that conversation, which webhooks and sends update.

        Raises:
            DuplicateError: a contact id is stored already (nothing is stored).
            InputError: a value the database cannot hold, or an id given twice
                (nothing is stored).
            StoreError: the database failed.
        """
        counts = Counter(contact.id for contact in contacts)
        twice = sorted(contact_id for contact_id, count in counts.items() if count > 1)
        if twice:
            shown = ", ".join(repr(contact_id[:100]) for contact_id in twice[:20])
            raise InputError(f"contacts: {shown} given more than once")
        try:
            with self.engine.begin() as conn:
                count = load_contacts(conn, contacts)  # every value checked before it is sent
        except StoreUnavailableError:
            raise
        except StoreError:
            ids = [contact.id for contact in contacts]
            with _database("add_contacts"), self.engine.connect() as conn:
                known = sa.select(contact_rows.c.id).where(contact_rows.c.id.in_(ids))
                taken = conn.execute(known).scalars().all()
            if taken:
                raise DuplicateError(
                    f"contacts: {', '.join(sorted(taken)[:20])} exist already"
                ) from None
            raise
        store = self.store
        for contact in contacts:
            for account in _accounts(contact):
                if store.get_conversation(contact.id, account) is None:
                    store.put_conversation(
                        contact.id, account, conversation_state(contact, account)
                    )
        return count

    def save_plan(
        self, broadcast_id: str, planned_at: datetime, summary: dict[str, object], text: str
    ) -> None:
        """Store a plan's JSON Lines and summary.

        Raises:
            DuplicateError: the broadcast was planned already.
        """
        row = {
            "tenant": self.settings.tenant,
            "broadcast_id": broadcast_id,
            "planned_at": planned_at,
            "summary": summary,
            "plan": text,
        }
        statement = (
            sa.dialects.postgresql.insert(plans)
            .values(**row)
            .on_conflict_do_nothing()
            .returning(plans.c.broadcast_id)
        )
        with _database("save_plan"), self.engine.begin() as conn:
            if conn.execute(statement).first() is None:
                raise DuplicateError(f"broadcast {broadcast_id!r} was planned already")

    def plan(self, broadcast_id: str) -> tuple[dict[str, object], str] | None:
        """The summary and the JSON Lines of a stored plan, or ``None``.

        An id PostgreSQL text cannot hold (a NUL) is no stored plan's: ``None``.
        """
        if "\x00" in broadcast_id:
            return None
        query = sa.select(plans.c.summary, plans.c.plan).where(
            plans.c.tenant == self.settings.tenant, plans.c.broadcast_id == broadcast_id
        )
        with _database("plan"), self.engine.connect() as conn:
            found = conn.execute(query).first()
        return None if found is None else (dict(found[0]), str(found[1]))

    def close(self) -> None:
        """Close the store and the connections."""
        if self._store is not None:
            self._store.close()
            self._store = None
        self._base.dispose()


def _accounts(contact: Contact) -> Iterable[str]:
    seen = dict.fromkeys(identity.account_id for identity in contact.identities)
    seen.update(dict.fromkeys(contact.subscriptions))
    return seen
