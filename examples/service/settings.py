"""The service's settings: one frozen value, read from the environment at the edge.

Everything the app and the workers need to agree on lives here, so the API process
and every worker are pointed at the same database schema, store tenant, profile,
broker and queue by the same environment variables (see README.md).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

ENV_PREFIX = "OMNIMSG_SERVICE_"
"""Every setting ``name`` is read from ``OMNIMSG_SERVICE_<NAME>``."""

_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass(frozen=True, slots=True)
class Settings:
    """Where the service keeps its data and how it sends.

    Attributes:
        database_url: the PostgreSQL server, as ``postgresql://user@host:port/db``.
        schema: the PostgreSQL schema that holds the contacts, the stored plans and
            omnimsg's delivery store (created when missing).
        tenant: the delivery store's tenant (docs/delivery.md, "Tenants").
        profile: the rules: a built-in profile name (``official``) or a ``.toml`` path
            every worker can read.
        broker_url: the Celery broker (Redis), also its result backend.
        broker_prefix: a prefix of every key the broker and the results take in Redis.
        queue: the Celery queue the plans' batches go to.
        transport: ``module:factory`` of the transport the workers send through.
    """

    database_url: str = "postgresql://postgres@127.0.0.1:5432/test"
    schema: str = "omnimsg_service"
    tenant: str = "default"
    profile: str = "official"
    broker_url: str = "redis://127.0.0.1:6379/0"
    broker_prefix: str = "omnimsg-service:"
    queue: str = "omnimsg-service"
    transport: str = "service.transports:logging_transport"

    def __post_init__(self) -> None:
        if not _SCHEMA.fullmatch(self.schema):
            raise ValueError(
                f"schema: expected 1 to 63 lower-case letters, digits and '_', got {self.schema!r}"
            )
        if not self.database_url.startswith(("postgresql://", "postgres://")):
            raise ValueError("database_url: expected a postgresql:// URL")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings named by ``OMNIMSG_SERVICE_*`` variables, the defaults for the rest.

        Raises:
            ValueError: a variable holds a value the service cannot use.
        """
        env = os.environ if environ is None else environ
        given = {
            name: env[ENV_PREFIX + name.upper()]
            for name in cls.__dataclass_fields__
            if ENV_PREFIX + name.upper() in env
        }
        return cls(**given)

    def to_env(self) -> dict[str, str]:
        """These settings as the environment variables :meth:`from_env` reads."""
        return {
            ENV_PREFIX + name.upper(): getattr(self, name) for name in self.__dataclass_fields__
        }

    @property
    def store_url(self) -> str:
        """The delivery store's URL: the database, its tables in :attr:`schema`."""
        joiner = "&" if "?" in self.database_url else "?"
        return f"{self.database_url}{joiner}options={quote('-csearch_path=' + self.schema)}"

    @property
    def sqlalchemy_url(self) -> str:
        """The database's URL for SQLAlchemy with psycopg 3."""
        return "postgresql+psycopg://" + self.database_url.partition("://")[2]
