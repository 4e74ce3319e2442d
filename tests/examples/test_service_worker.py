"""The example service's broadcasts, sent by its Celery worker on the real Redis (X5).

A worker process (``celery -A service.worker worker``, prefork, 2 processes) runs on
the run's own queue and key prefix, with the service's settings in its environment;
its transport (``examples.service_support:outbox_transport``) inserts each message
into a table of the run's schema, which the test counts. The service plans with a
clock fixed at the test's start: the worker sends by the wall clock, so the plan's
sends are due at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service.app import create_app
from service.settings import Settings
from service.worker import make_celery

from examples.conftest import EXAMPLES, unique
from examples.service_support import outbox_rows
from omnimsg.testing import FixedClock

TESTS = Path(__file__).resolve().parents[1]
SRC = TESTS.parent / "src"
WAIT = 60.0


class ServiceWorker:
    """The example's Celery worker, as a process of its own."""

    def __init__(self, settings: Settings, folder: Path) -> None:
        self.app = make_celery(settings)
        self.log = folder / "worker.log"
        env = {**os.environ, **settings.to_env()}
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(TESTS), str(EXAMPLES), str(SRC), env.get("PYTHONPATH")])
        )
        name = f"example-{uuid.uuid4().hex[:8]}@%h"
        args = [
            sys.executable, "-m", "celery", "-A", "service.worker", "worker",
            "--pool=prefork", "--concurrency=2", "-Q", settings.queue, "-n", name,
            "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "warning",
        ]  # fmt: skip
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=folder,
                start_new_session=True,
            )  # fmt: skip

    def wait(self, task_ids: list[str]) -> list[dict[str, Any]]:
        """The answers of the tasks, failing at once if the worker is gone."""
        deadline = time.monotonic() + WAIT
        answers: list[dict[str, Any]] = []
        for task_id in task_ids:
            result = self.app.AsyncResult(task_id)
            while True:
                if self.process.poll() is not None:
                    pytest.fail(f"the worker stopped: {self.tail()}", pytrace=False)
                if time.monotonic() > deadline:
                    pytest.fail(f"no answer after {WAIT:.0f} s: {self.tail()}", pytrace=False)
                try:
                    answers.append(result.get(timeout=1.0, interval=0.05))
                    break
                except Exception as exc:
                    if type(exc).__name__ != "TimeoutError":
                        raise
        return answers

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # pool processes left behind
        self.app.close()


@pytest.fixture(scope="module")
def worker(
    service_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceWorker]:
    started = ServiceWorker(service_settings, tmp_path_factory.mktemp("service-worker"))
    try:
        yield started
    finally:
        started.stop()


def customer(contact: str, number: str, tag: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": contact,
        "first_name": contact.split("-")[0].title(),
        "phone": f"+{number}",  # WhatsApp sends to the contact's number
        "tags": [tag],
        "identities": [{"account_id": "wa-1", "channel": "whatsapp", "external_id": number}],
        **extra,
    }


def test_a_planned_broadcast_is_sent_once_to_each_recipient_by_the_worker(
    service_settings: Settings, worker: ServiceWorker
) -> None:
    """X5, X1, B7, B15: the plan excludes the opted-out contact, the worker sends each
    planned message once, and queueing the stored plan again sends nothing more."""
    clock = FixedClock(datetime.now(UTC))
    tag, template = unique("spring"), f"spring_{uuid.uuid4().hex[:8]}"
    numbers = {f"ana{i}-{tag}": f"3461200{i:04d}" for i in range(5)}
    contacts = [customer(contact, number, tag) for contact, number in numbers.items()]
    contacts.append(
        customer(f"olga-{tag}", "34612009999", tag, subscriptions={"wa-1": "unsubscribed"})
    )
    contacts.append(customer(f"omar-{tag}", "34612008888", "someone-else"))
    draft = {
        "id": tag,
        "name": "Spring sale",
        "channels": ["whatsapp"],
        "audience": {"segment": {"field": "tags", "op": "has_any", "value": [tag]}},
        "senders": [{"account": "wa-1", "channel": "whatsapp"}],
        "content": {"whatsapp": [{"text": "Hi {{first_name}}, spring sale", "template": template}]},
    }
    with TestClient(create_app(service_settings, clock=clock)) as client:
        assert client.post("/contacts", json={"contacts": contacts}).status_code == 201
        planned = client.post("/broadcasts", json={"draft": draft})
        assert planned.status_code == 201, planned.text
        body = planned.json()
        assert body["broadcast_id"] == tag
        assert body["description"] == "a total of 5 messages to 5 recipients"
        summary = body["summary"]
        assert (summary["audience"], summary["planned"], summary["excluded"]) == (6, 5, 1)
        assert summary["excluded_by_reason"] == {"opted_out": 1}
        assert len(body["tasks"]) == 1

        answers = worker.wait(body["tasks"])
        assert [answer["sent"] for answer in answers] == [5]
        sent = [row for row in outbox_rows(service_settings) if row[4] == template]
        assert len(sent) == 5
        assert len({row[0] for row in sent}) == 5  # each idempotency key once
        assert {row[2] for row in sent} == set(numbers.values())
        assert {row[3] for row in sent} == {"template"}
        assert {row[5] for row in sent} == {f"Hi Ana{i}, spring sale" for i in range(5)}

        report = client.get(f"/broadcasts/{tag}")
        assert report.status_code == 200
        assert report.json()["counts"] == {"sent": 5}
        assert report.json()["failed"] == []

        again = client.post(f"/broadcasts/{tag}/dispatch")
        assert again.status_code == 200, again.text
        answers = worker.wait(again.json()["tasks"])
        assert sum(answer["sent"] for answer in answers) == 5  # settled before, as sent
        assert len([row for row in outbox_rows(service_settings) if row[4] == template]) == 5

        twice = client.post("/broadcasts", json={"draft": draft})
        assert twice.status_code == 409
        assert "planned already" in twice.json()["detail"]
