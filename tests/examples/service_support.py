"""What the example service's tests hand its worker: a transport that records in PostgreSQL.

The Celery worker the tests start makes its transport from
``OMNIMSG_SERVICE_TRANSPORT=examples.service_support:outbox_transport`` and reads
the service's own settings from the environment, so each message it sends becomes
one row of ``<schema>.test_outbox``, which the test process counts.
"""

from __future__ import annotations

import threading

import psycopg
from psycopg import sql
from service.settings import Settings

from omnimsg.transports import SendRequest, SendResult, SendStatus

OUTBOX = "test_outbox"


def create_outbox(settings: Settings) -> None:
    """Create the service's schema (if missing) and an empty outbox table in it."""
    with psycopg.connect(settings.database_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(settings.schema))
        )
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (key text NOT NULL, account text NOT NULL,"
                " recipient text NOT NULL, mode text NOT NULL, template text, body text NOT NULL)"
            ).format(sql.Identifier(settings.schema, OUTBOX))
        )


def outbox_rows(settings: Settings) -> list[tuple[str, str, str, str, str | None, str]]:
    """Every row of the outbox: key, account, recipient, mode, template, text."""
    with psycopg.connect(settings.database_url, connect_timeout=5) as conn:
        query = sql.SQL("SELECT key, account, recipient, mode, template, body FROM {}").format(
            sql.Identifier(settings.schema, OUTBOX)
        )
        return list(conn.execute(query).fetchall())


class OutboxTransport:
    """Inserts each request as a row of the outbox (one statement), then accepts it."""

    def __init__(self, settings: Settings) -> None:
        self.conn = psycopg.connect(settings.database_url, autocommit=True, connect_timeout=5)
        self.insert = sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s)").format(
            sql.Identifier(settings.schema, OUTBOX)
        )
        self.lock = threading.Lock()

    def send(self, request: SendRequest) -> SendResult:
        key = request.idempotency_key
        row = (
            key,
            request.account_id,
            request.recipient,
            request.mode.value,
            request.template,
            request.content.text,
        )
        with self.lock:
            self.conn.execute(self.insert, row)
        return SendResult(key, SendStatus.ACCEPTED, provider_message_id=f"outbox-{key}")


def outbox_transport() -> OutboxTransport:
    """The worker's transport: the outbox of the service's settings in the environment."""
    return OutboxTransport(Settings.from_env())
