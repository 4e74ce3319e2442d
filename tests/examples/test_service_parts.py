"""The example service's settings and transports, without servers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from service.app import make_app
from service.settings import Settings
from service.transports import HttpTransport, LoggingTransport, http_transport, request_body

from omnimsg import ConfigurationError, Mode, TransportError
from omnimsg.policy.content import OutboundContent
from omnimsg.transports import SendRequest, SendStatus


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
