"""The example service's settings and transports, without servers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from service.app import make_app
from service.settings import Settings
from service.transports import HttpTransport, LoggingTransport, http_transport, request_body

from examples.conftest import EXAMPLES
from omnimsg import ConfigurationError, Mode, TransportError
from omnimsg.policy.content import OutboundContent
from omnimsg.transports import SendRequest, SendStatus

README = EXAMPLES / "service" / "README.md"
# What the ``celery`` program does before a task runs: it imports the ``-A`` app with
# the working directory on sys.path only for that import, then forgets it.
AS_CELERY_DOES = """
import sys
from celery.app.utils import find_app
from omnimsg.delivery.loader import load_transport
find_app(sys.argv[1])
for spec in sys.argv[2:]:
    load_transport(spec)
print("loaded")
"""


def request(key: str = "k1") -> SendRequest:
    return SendRequest(
        idempotency_key=key,
        account_id="wa-1",
        channel="whatsapp",
        recipient="+34612345678",
        content=OutboundContent(text="Hi Ana"),
        mode=Mode.TEMPLATE,
        template="spring_sale",
        params=(("first_name", "Ana"),),
    )


def test_settings_come_from_the_environment_and_go_back_to_it() -> None:
    settings = Settings.from_env(
        {"OMNIMSG_SERVICE_SCHEMA": "shop_eu", "OMNIMSG_SERVICE_TENANT": "eu", "OTHER": "x"}
    )
    assert (settings.schema, settings.tenant, settings.profile) == ("shop_eu", "eu", "official")
    assert Settings.from_env(settings.to_env()) == settings
    assert settings.store_url.endswith("/test?options=-csearch_path%3Dshop_eu")
    assert settings.sqlalchemy_url.startswith("postgresql+psycopg://postgres@")


@pytest.mark.parametrize("schema", ["", "Shop", "a;drop", "x" * 64, "1abc"])
def test_a_schema_name_that_is_not_a_plain_identifier_is_refused(schema: str) -> None:
    with pytest.raises(ValueError, match="schema: expected"):
        Settings(schema=schema)


def test_a_database_url_that_is_not_postgresql_is_refused() -> None:
    with pytest.raises(ValueError, match="database_url"):
        Settings.from_env({"OMNIMSG_SERVICE_DATABASE_URL": "sqlite:///x.db"})


def test_make_app_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIMSG_SERVICE_PROFILE", "respondio")
    assert isinstance(make_app(), FastAPI)
    monkeypatch.setenv("OMNIMSG_SERVICE_PROFILE", "no-such-profile")
    with pytest.raises(ConfigurationError, match="no-such-profile"):
        make_app()


def test_the_logging_transport_logs_and_accepts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="service.transports")
    result = LoggingTransport().send(request())
    assert result.status is SendStatus.ACCEPTED
    assert result.provider_message_id == "log-k1"
    assert "spring_sale" in caplog.text


def gateway(answer: httpx.Response | Exception) -> tuple[HttpTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        if isinstance(answer, Exception):
            raise answer
        return answer

    client = httpx.Client(transport=httpx.MockTransport(handle))
    return HttpTransport("http://gateway.test/send", client=client), seen


def test_the_http_transport_posts_the_message_with_its_key() -> None:
    transport, seen = gateway(httpx.Response(202, json={"id": "g-1"}))
    result = transport.send(request())
    assert (result.status, result.provider_message_id) == (SendStatus.ACCEPTED, "g-1")
    (sent,) = seen
    assert sent.headers["Idempotency-Key"] == "k1"
    body: dict[str, Any] = httpx.Response(200, content=sent.content).json()
    assert body == request_body(request())
    assert body["params"] == {"first_name": "Ana"}


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="OK"),
        httpx.Response(202, json=["queued"]),
        httpx.Response(200, json={"id": None}),
        httpx.Response(201, content=b"\xff\xfe"),
    ],
)
def test_a_gateway_that_took_the_message_without_a_json_id_is_still_accepted(
    answer: httpx.Response,
) -> None:
    """B15, X5: a 2xx means the gateway took the message; a body that names no id must
    not make the send look failed (it went), so the request's key stands in."""
    transport, _ = gateway(answer)
    result = transport.send(request("k9"))
    assert (result.status, result.provider_message_id) == (SendStatus.ACCEPTED, "k9")


def test_the_http_transport_maps_refusals_and_busy_answers() -> None:
    """B15: a 4xx is final with the gateway's words; 429 and 5xx are tried again later."""
    rejected, _ = gateway(httpx.Response(400, text="unknown template"))
    result = rejected.send(request())
    assert (result.status, result.error) == (SendStatus.REJECTED, "400: unknown template")
    busy, _ = gateway(httpx.Response(429, headers={"Retry-After": "7"}))
    result = busy.send(request())
    assert (result.status, result.retry_after) == (SendStatus.RETRY, timedelta(seconds=7))
    down, _ = gateway(httpx.Response(503))
    assert down.send(request()).status is SendStatus.RETRY


@pytest.mark.parametrize(
    ("header", "wait"),
    [
        (b"1000000000", timedelta(days=1)),
        ("\u0663".encode(), None),  # ARABIC-INDIC DIGIT THREE: a digit to str.isdigit
        (b"-5", None),
        (b" 3 ", timedelta(seconds=3)),
    ],
)
def test_a_retry_after_omnimsg_would_refuse_is_bounded_not_a_crash(
    header: bytes, wait: timedelta | None
) -> None:
    """B15: a busy gateway's message is tried again later whatever its Retry-After says."""
    busy, _ = gateway(httpx.Response(503, headers={"Retry-After": header}))
    result = busy.send(request())
    assert (result.status, result.retry_after) == (SendStatus.RETRY, wait)


def test_the_http_transport_retries_what_never_left_and_raises_for_a_lost_answer() -> None:
    """X5: a refused connection is safe to retry; a read time-out may have sent it."""
    refused, _ = gateway(httpx.ConnectError("refused"))
    assert refused.send(request()).status is SendStatus.RETRY
    lost, _ = gateway(httpx.ReadTimeout("no answer"))
    with pytest.raises(TransportError, match="k1"):
        lost.send(request())


def test_http_transport_needs_its_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMNIMSG_SERVICE_OUTBOX_URL", raising=False)
    with pytest.raises(ConfigurationError, match="OMNIMSG_SERVICE_OUTBOX_URL"):
        http_transport()
    monkeypatch.setenv("OMNIMSG_SERVICE_OUTBOX_URL", "http://gateway.test/send")
    monkeypatch.setenv("OMNIMSG_SERVICE_OUTBOX_IDEMPOTENT", "1")
    made = http_transport()
    assert made.idempotent is True
    made.client.close()


def _run_block() -> tuple[dict[str, str], str]:
    """The README's run commands: the variables it exports (``$PWD`` is ``examples/``)
    and the ``-A`` app of its ``celery`` command."""
    text = README.read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```sh\n(.*?)```", text, re.S) if "cd examples" in b)
    exports = {
        name: value.strip("'\"").replace("$PWD", str(EXAMPLES))
        for name, value in re.findall(r"^export (\w+)=(\S+)", block, re.M)
    }
    (app,) = re.findall(r"^celery -A (\S+) worker", block, re.M)
    return exports, app


def test_the_readme_worker_command_can_load_every_transport_it_names(tmp_path: Path) -> None:
    """The README runs ``celery -A service.worker`` in examples/ and names
    ``whatsapp_cloud:make_transport``: the ``celery`` program keeps the working directory
    on sys.path only while it imports the app, so the workers find that module only if
    the README's own commands put the folder there."""
    exports, app = _run_block()
    text = README.read_text(encoding="utf-8")
    named = re.findall(r"`(?:OMNIMSG_SERVICE_TRANSPORT=)?([\w.]+:\w+_transport)`", text)
    # The tests' own transport lives under tests/, which the test's worker is given.
    specs = sorted({spec for spec in named if not spec.startswith("examples.")})
    assert "whatsapp_cloud:make_transport" in specs
    assert "service.transports:logging_transport" in specs
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "OMNIMSG_WA_BASE_URL": "http://graph.test/v21.0",
        "OMNIMSG_WA_TOKEN": "token",
        "OMNIMSG_WA_NUMBERS": "wa-1=1065",
        "OMNIMSG_SERVICE_OUTBOX_URL": "http://gateway.test/send",
        **exports,
    }
    done = subprocess.run(
        [sys.executable, "-P", "-c", AS_CELERY_DOES, app, *specs],
        cwd=EXAMPLES,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "loaded"
