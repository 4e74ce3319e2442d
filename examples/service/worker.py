"""The Celery worker that sends the service's plans.

Run it with the service's settings in the environment (README.md)::

    celery -A service.worker worker -Q omnimsg-service --concurrency=4

The worker runs omnimsg's ``omnimsg.dispatch_batch`` task (``omnimsg.delivery.celery``):
each task is a batch of a stored plan, dispatched with a
:class:`~omnimsg.delivery.Dispatcher` against the service's PostgreSQL store
(``Settings.store_url``, ``Settings.tenant``), so each planned message is sent at
most once however many workers run or however often a plan is enqueued (X5), and
the caps are reserved in the store. The transport is made in each worker process
from ``Settings.transport``.
"""

from __future__ import annotations

from typing import Any

from omnimsg.delivery.celery import VISIBILITY_TIMEOUT, make_app
from service.settings import Settings


def make_celery(settings: Settings) -> Any:
    """The Celery app of ``settings``: the API enqueues on it, workers run it.

    Every key the broker and the result backend write starts with
    ``settings.broker_prefix``, so several services (or test runs) share one Redis.
    """
    app = make_app(settings.broker_url, name="omnimsg_service")
    app.conf.update(
        broker_transport_options={
            "visibility_timeout": VISIBILITY_TIMEOUT,
            "global_keyprefix": settings.broker_prefix,
        },
        result_backend_transport_options={"global_keyprefix": settings.broker_prefix},
        result_expires=24 * 3600,
        task_default_queue=settings.queue,
    )
    return app


app = make_celery(Settings.from_env())
"""The worker's app, for ``celery -A service.worker``."""
