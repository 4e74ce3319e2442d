"""examples/whatsapp_cloud.py against a local stand-in for the Graph API (no mocks).

The fake server checks the bearer token and the JSON shape of every message and
answers as the Cloud API does: 200 with a message id, 429 with Retry-After, 400 for an
invalid number, 500 with an error body, and a slow answer. Each answer must map to the
result the dispatcher relies on: a refusal is reported per recipient (SPEC B15); a
send that may have gone raises TransportError so that the idempotency key (X5) decides
what happens next.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from omnimsg import ConfigurationError, TransportError
from omnimsg.channels.kinds import Mode
from omnimsg.policy.content import Media, OutboundContent
from omnimsg.protocols import AsyncTransport, Transport
from omnimsg.testing import check_transport
from omnimsg.transports import SendRequest, SendResult, SendStatus

EXAMPLE = Path(__file__).parents[1] / "examples" / "whatsapp_cloud.py"
TOKEN = "test-token"
PHONE_ID = "106540352242922"
NUMBERS = {"wa-1": PHONE_ID, "contract-account": "100000000000001"}
TIMEOUT = 5.0  # generous: a loaded machine must not turn an answer into a timeout
SHORT = 0.5  # the timeout of the slow case
SLOW = 20.0  # the slow answer comes after this, or as soon as the test ends


def _load() -> Any:
    spec = importlib.util.spec_from_file_location("whatsapp_cloud", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wa = _load()


# the fake Graph API --------------------------------------------------------------------


def _error(code: int, message: str) -> bytes:
    return json.dumps(
        {"error": {"message": message, "type": "OAuthException", "code": code}}
    ).encode()


JSON = {"Content-Type": "application/json"}
# Answers by recipient ("to"); anyone else with a valid number is accepted.
SCRIPTED: dict[str, tuple[int, dict[str, str], bytes]] = {
    "34600000429": (429, {**JSON, "Retry-After": "7"}, _error(130429, "Rate limit hit")),
    "34600000430": (
        429,
        {**JSON, "Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"},
        _error(130429, "Rate limit hit"),
    ),
    "34600000500": (500, JSON, _error(1, "An unknown error occurred")),
    "34600000502": (502, {"Content-Type": "text/html"}, b"<html>Bad Gateway</html>"),
    "34600000200": (200, JSON, b'{"messaging_product": "whatsapp"}'),
    "34600000201": (200, JSON, b'{"messages": [{"id": 42}]}'),
    "34600000400": (400, JSON, b"[" * 100_000 + b"]" * 100_000),
    "34600000401": (400, JSON, b'{"error": "no"}'),
}
SLOW_RECIPIENT = "34600000999"


class FakeGraph(ThreadingHTTPServer):
    """``POST /v21.0/{phone_number_id}/messages`` as the Cloud API answers it."""

    daemon_threads = True
    request_queue_size = 128  # the concurrent test opens 20 connections at once

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _GraphHandler)
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.problems: list[str] = []
        self.release = threading.Event()
        self.ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v21.0"


def _shape_problem(body: object) -> str | None:
    """What is wrong with a message body, as the Graph API would see it; None if fine."""
    if not isinstance(body, dict):
        return "not an object"
    head = {k: body.get(k) for k in ("messaging_product", "recipient_type")}
    if head != {"messaging_product": "whatsapp", "recipient_type": "individual"}:
        return f"bad head {head}"
    if not isinstance(body.get("to"), str):
        return "to is not text"
    kind = body.get("type")
    if set(body) != {"messaging_product", "recipient_type", "to", "type", kind}:
        return f"unexpected keys {sorted(body)}"
    if kind == "text":
        text = body["text"]
        return None if set(text) == {"body"} and isinstance(text["body"], str) else "bad text"
    if kind != "template":
        return f"unknown type {kind}"
    template = body["template"]
    if not isinstance(template.get("name"), str) or set(template) - {
        "name",
        "language",
        "components",
    }:
        return "bad template"
    if set(template["language"]) != {"code"}:
        return "bad language"
    for component in template.get("components", []):
        if component["type"] != "body" or any(
            p != {"type": "text", "text": p.get("text")} or not isinstance(p["text"], str)
            for p in component["parameters"]
        ):
            return "bad component"
    return None


class _GraphHandler(BaseHTTPRequestHandler):
    server: FakeGraph

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        path = re.fullmatch(r"/v21\.0/(\d+)/messages", self.path)
        if path is None or path[1] not in NUMBERS.values():
            self._answer(400, JSON, _error(100, "Unsupported post request"))
            return
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._answer(401, JSON, _error(190, "Invalid OAuth access token"))
            return
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        try:
            problem = _shape_problem(body)
        except (AttributeError, KeyError, TypeError) as exc:
            problem = f"malformed: {exc}"
        if problem is not None or self.headers.get("Content-Type") != "application/json":
            self.server.problems.append(problem or "content type")
            self._answer(400, JSON, _error(100, f"(#100) {problem}"))
            return
        self.server.received.append((path[1], body))
        to = body["to"]
        if to == SLOW_RECIPIENT:
            self.server.release.wait(SLOW)
        if to in SCRIPTED:
            self._answer(*SCRIPTED[to])
        elif re.fullmatch(r"\d{8,15}", to) is None:
            self._answer(400, JSON, _error(100, "(#100) Invalid parameter"))
        else:
            answer = {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": f"wamid.{next(self.server.ids)}"}],
            }
            self._answer(200, JSON, json.dumps(answer).encode())

    def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up waiting (the timeout case)


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    server = FakeGraph()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    assert server.problems == []


# helpers -------------------------------------------------------------------------------


def text_request(recipient: str, key: str = "k1", account: str = "wa-1") -> SendRequest:
    return SendRequest(key, account, "whatsapp", recipient, OutboundContent(text="Hola Ana"))


def send(
    kind: str, base_url: str, request: SendRequest, token: str = TOKEN, timeout: float = TIMEOUT
) -> SendResult:
    """Send through a fresh sync or async transport, closed afterwards."""
    if kind == "sync":
        transport = wa.WhatsAppCloudTransport(base_url, token, NUMBERS, timeout=timeout)
        try:
            result: SendResult = transport.send(request)
        finally:
            transport.close()
        return result

    async def run() -> SendResult:
        transport = wa.AsyncWhatsAppCloudTransport(base_url, token, NUMBERS, timeout=timeout)
        try:
            answer: SendResult = await transport.asend(request)
        finally:
            await transport.aclose()
        return answer

    return asyncio.run(run())


KINDS = pytest.mark.parametrize("kind", ["sync", "async"])


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# the mapping ---------------------------------------------------------------------------


@KINDS
def test_a_text_message_is_posted_in_the_cloud_api_shape_and_accepted(
    kind: str, graph: FakeGraph
) -> None:
    result = send(kind, graph.base_url, text_request("34612345678"))
    assert (result.status, result.provider_message_id) == (SendStatus.ACCEPTED, "wamid.1")
    assert result.idempotency_key == "k1"
    assert graph.received == [
        (
            PHONE_ID,
            {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": "34612345678",
                "type": "text",
                "text": {"body": "Hola Ana"},
            },
        )
    ]


@KINDS
def test_a_template_carries_its_name_language_and_parameters_in_order(
    kind: str, graph: FakeGraph
) -> None:
    request = SendRequest(
        "k1",
        "wa-1",
        "whatsapp",
        "34612345678",
        OutboundContent(text="Hola Ana, su revisión es el lunes"),
        mode=Mode.TEMPLATE,
        template="winter_service",
        params=(("first_name", "Ana"), ("day", "lunes")),
        language="es",
    )
    assert send(kind, graph.base_url, request).ok
    assert graph.received[0][1] == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "34612345678",
        "type": "template",
        "template": {
            "name": "winter_service",
            "language": {"code": "es"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Ana"},
                        {"type": "text", "text": "lunes"},
                    ],
                }
            ],
        },
    }


def test_a_template_without_language_or_parameters_goes_in_english() -> None:
    request = SendRequest(
        "k1",
        "wa-1",
        "whatsapp",
        "34612345678",
        OutboundContent(text="x"),
        mode="template",
        template="hello_world",
    )
    assert wa.message_body(request)["template"] == {
        "name": "hello_world",
        "language": {"code": "en"},
    }


@KINDS
@pytest.mark.parametrize(
    ("recipient", "status", "error", "retry_after"),
    [
        ("34600000429", SendStatus.RETRY, "Rate limit hit", timedelta(seconds=7)),
        ("34600000430", SendStatus.RETRY, "Rate limit hit", None),
        ("34600000500", SendStatus.RETRY, "An unknown error occurred", None),
        ("12", SendStatus.REJECTED, "100: (#100) Invalid parameter", None),
        ("34600000400", SendStatus.REJECTED, "400: Bad Request", None),
        ("34600000401", SendStatus.REJECTED, "400: Bad Request", None),
    ],
)
def test_each_answer_maps_to_its_result(
    kind: str,
    graph: FakeGraph,
    recipient: str,
    status: SendStatus,
    error: str,
    retry_after: timedelta | None,
) -> None:
    result = send(kind, graph.base_url, text_request(recipient))
    assert (result.status, result.error, result.retry_after) == (status, error, retry_after)
    assert result.idempotency_key == "k1"
    assert result.provider_message_id is None


@KINDS
def test_a_bad_token_is_a_refusal_with_the_platforms_code(kind: str, graph: FakeGraph) -> None:
    result = send(kind, graph.base_url, text_request("34612345678"), token="expired")
    assert (result.status, result.error) == (SendStatus.REJECTED, "190: Invalid OAuth access token")
    assert graph.received == []


@KINDS
def test_a_refused_connection_is_a_retry_since_nothing_was_sent(kind: str) -> None:
    base_url = f"http://127.0.0.1:{_closed_port()}/v21.0"
    result = send(kind, base_url, text_request("34612345678"))
    assert result.status is SendStatus.RETRY
    assert result.error is not None
    assert result.error.startswith("not sent")


@KINDS
def test_no_answer_after_the_request_was_written_raises_transport_error(
    kind: str, graph: FakeGraph
) -> None:
    """The message may have gone: the dispatcher marks it uncertain (SPEC X5)."""
    started = time.monotonic()
    with pytest.raises(TransportError, match="may have gone") as caught:
        send(kind, graph.base_url, text_request(SLOW_RECIPIENT), timeout=SHORT)
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert time.monotonic() - started < SLOW / 4
    # The request did arrive (on a loaded machine the server may read it a little later).
    deadline = time.monotonic() + 5
    while not graph.received and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [body["to"] for _, body in graph.received] == [SLOW_RECIPIENT]


@KINDS
@pytest.mark.parametrize("recipient", ["34600000502", "34600000200", "34600000201"])
def test_an_answer_that_is_not_the_platforms_raises_transport_error(
    kind: str, graph: FakeGraph, recipient: str
) -> None:
    """A gateway's 502 page or a 200 without a message id: the message may have gone."""
    with pytest.raises(TransportError, match="HTTP"):
        send(kind, graph.base_url, text_request(recipient))


@KINDS
def test_what_this_transport_cannot_send_is_refused_before_any_request(
    kind: str, graph: FakeGraph
) -> None:
    unknown = send(kind, graph.base_url, text_request("34612345678", account="wa-9"))
    media = SendRequest(
        "k2",
        "wa-1",
        "whatsapp",
        "34612345678",
        OutboundContent(text="x", attachments=(Media("https://example.com/a.pdf"),)),
    )
    with_media = send(kind, graph.base_url, media)
    assert unknown.status is with_media.status is SendStatus.REJECTED
    assert "phone number id" in (unknown.error or "")
    assert "text and templates only" in (with_media.error or "")
    assert graph.received == []


def test_the_transports_meet_the_protocols_and_the_contract_check(graph: FakeGraph) -> None:
    transport = wa.WhatsAppCloudTransport(graph.base_url, TOKEN, NUMBERS, timeout=TIMEOUT)
    try:
        assert transport.idempotent is False
        check_transport(transport)
    finally:
        transport.close()
    assert isinstance(transport, Transport)
    # "contract-check" is not a phone number: the platform refused it, and said so.
    assert graph.received[0][0] == NUMBERS["contract-account"]
    assert graph.received[0][1]["to"] == "contract-check"
    twin = wa.AsyncWhatsAppCloudTransport(graph.base_url, TOKEN, NUMBERS)
    asyncio.run(twin.aclose())
    assert twin.idempotent is False
    assert isinstance(twin, AsyncTransport)


def test_a_client_passed_in_is_used_and_left_open(graph: FakeGraph) -> None:
    with httpx.Client(timeout=TIMEOUT, headers={"User-Agent": "dealer-crm"}) as client:
        transport = wa.WhatsAppCloudTransport(graph.base_url, TOKEN, NUMBERS, client=client)
        assert transport.send(text_request("34612345678")).ok
        transport.close()
        assert not client.is_closed
        assert transport.send(text_request("34612345679", key="k2")).ok


def test_one_async_transport_serves_concurrent_sends(graph: FakeGraph) -> None:
    async def run() -> list[SendResult]:
        transport = wa.AsyncWhatsAppCloudTransport(graph.base_url, TOKEN, NUMBERS, timeout=TIMEOUT)
        try:
            sends = (transport.asend(text_request(f"346000010{i:02d}", f"k{i}")) for i in range(20))
            results: list[SendResult] = await asyncio.gather(*sends)
        finally:
            await transport.aclose()
        return results

    results = asyncio.run(run())
    assert all(r.ok for r in results)
    assert [r.idempotency_key for r in results] == [f"k{i}" for i in range(20)]
    assert len({r.provider_message_id for r in results}) == 20


# hostile inputs ------------------------------------------------------------------------


@KINDS
@pytest.mark.parametrize(
    "recipient", ["\x00", "\ud800", "3460000\ud8001", "9" * 100_000, "34612345678\n"]
)
def test_odd_recipients_get_a_result_never_a_crash(
    kind: str, graph: FakeGraph, recipient: str
) -> None:
    result = send(kind, graph.base_url, text_request(recipient))
    assert result.status is SendStatus.REJECTED
    assert [body["to"] for _, body in graph.received] == [recipient]


@KINDS
def test_odd_text_and_parameters_arrive_unchanged(kind: str, graph: FakeGraph) -> None:
    odd = "a\x00b \ud83d \u202e" + "é" * 5_000
    request = SendRequest(
        "k1",
        "wa-1",
        "whatsapp",
        "34612345678",
        OutboundContent(text=odd),
        mode="template",
        template=odd,
        params=(("name", odd),),
        language="\ud800",
    )
    assert send(kind, graph.base_url, request).ok
    template = graph.received[0][1]["template"]
    assert template["name"] == odd
    assert template["language"] == {"code": "\ud800"}
    assert template["components"][0]["parameters"] == [{"type": "text", "text": odd}]


# the command-line factory --------------------------------------------------------------


def test_make_transport_reads_the_environment(
    graph: FakeGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNIMSG_WA_BASE_URL", graph.base_url + "/")
    monkeypatch.setenv("OMNIMSG_WA_TOKEN", TOKEN)
    monkeypatch.setenv("OMNIMSG_WA_NUMBERS", f" wa-1 = {PHONE_ID} ,wa-2={PHONE_ID}")
    transport = wa.make_transport()
    try:
        assert transport.send(text_request("34612345678")).ok
        assert transport.send(text_request("34612345678", key="k2", account="wa-2")).ok
    finally:
        transport.close()

    async def run() -> SendResult:
        async_transport = wa.make_async_transport()
        try:
            answer: SendResult = await async_transport.asend(text_request("34612345678", "k3"))
        finally:
            await async_transport.aclose()
        return answer

    assert asyncio.run(run()).ok
    assert len(graph.received) == 3


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OMNIMSG_WA_BASE_URL", ""),
        ("OMNIMSG_WA_TOKEN", " "),
        ("OMNIMSG_WA_NUMBERS", ""),
        ("OMNIMSG_WA_NUMBERS", "wa-1"),
        ("OMNIMSG_WA_NUMBERS", "wa-1=1,=2"),
        ("OMNIMSG_WA_NUMBERS", "wa-1=1,"),
    ],
)
def test_make_transport_names_a_missing_or_malformed_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv("OMNIMSG_WA_BASE_URL", "http://127.0.0.1:9/v21.0")
    monkeypatch.setenv("OMNIMSG_WA_TOKEN", TOKEN)
    monkeypatch.setenv("OMNIMSG_WA_NUMBERS", f"wa-1={PHONE_ID}")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=name):
        wa.make_transport()
