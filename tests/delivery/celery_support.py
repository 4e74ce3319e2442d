"""The Celery app and the transports of the worker ``test_celery.py`` starts.

The worker runs ``python -m celery -A delivery.celery_support worker ...`` with
``tests`` and ``src`` on its path and takes its settings from the environment:

- ``OMNIMSG_TEST_CELERY_BROKER``: the Redis URL of the broker, the results and the
  transport's list (``redis://127.0.0.1:6379/0``);
- ``OMNIMSG_TEST_CELERY_PREFIX``: a prefix of every broker and result key, so that a
  run never meets another's keys;
- ``OMNIMSG_TEST_CELERY_LIST``: the Redis list :func:`list_transport` appends each
  request's idempotency key to, before answering ACCEPTED.

The test process builds its own app with :func:`make_test_app` and the same prefix.
"""

from __future__ import annotations

import os
from typing import Any

import redis

from omnimsg.delivery.celery import VISIBILITY_TIMEOUT, make_app
from omnimsg.testing import RecordingTransport
from omnimsg.transports import SendRequest, SendResult, SendStatus

BROKER_ENV = "OMNIMSG_TEST_CELERY_BROKER"
PREFIX_ENV = "OMNIMSG_TEST_CELERY_PREFIX"
LIST_ENV = "OMNIMSG_TEST_CELERY_LIST"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"


def make_test_app(broker: str, prefix: str) -> Any:
    """omnimsg's app on ``broker``, every broker and result key under ``prefix``."""
    app = make_app(broker, name="omnimsg_test")
    app.conf.update(
        broker_transport_options={
            "visibility_timeout": VISIBILITY_TIMEOUT,
            "global_keyprefix": prefix,
        },
        result_backend_transport_options={"global_keyprefix": prefix},
        result_expires=3600,
        worker_hijack_root_logger=False,
    )
    return app


app = make_test_app(
    os.environ.get(BROKER_ENV, DEFAULT_BROKER),
    os.environ.get(PREFIX_ENV, "omnimsgtest-celery-unset:"),
)


class ListTransport:
    """Appends each request's key to a Redis list (one RPUSH), then accepts it."""

    def __init__(self, url: str, key: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=10)
        self.key = key

    def send(self, request: SendRequest) -> SendResult:
        key = request.idempotency_key
        self.client.rpush(self.key, key)
        return SendResult(key, SendStatus.ACCEPTED, provider_message_id=f"list-{key}")


def list_transport() -> ListTransport:
    """The worker's transport: the list named by ``OMNIMSG_TEST_CELERY_LIST``."""
    return ListTransport(os.environ.get(BROKER_ENV, DEFAULT_BROKER), os.environ[LIST_ENV])


_recording = RecordingTransport()


def recording() -> RecordingTransport:
    """One :class:`RecordingTransport` per process, for batches run in the test process."""
    return _recording


def broken() -> RecordingTransport:
    """A factory that fails, as a misconfigured transport does."""
    raise RuntimeError("no credentials configured")


def not_a_transport() -> object:
    """A factory that returns something without ``send``."""
    return object()
