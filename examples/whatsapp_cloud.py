"""A transport for the WhatsApp Cloud API, on httpx: a transport is a few lines.

omnimsg decides what may go; a transport only posts it and says what became of it,
one :class:`~omnimsg.transports.SendResult` per request:

- the platform took it: ``ACCEPTED`` with its message id (``wamid…``);
- it refused for good (4xx: bad number, unknown template): ``REJECTED``, ``"code: message"``;
- it said "not now" (429, a 5xx with its error body) or the connection was never made:
  ``RETRY``, with the ``Retry-After`` seconds when given;
- no answer came after the request was written (read timeout, broken connection): the
  message may have gone, so :class:`~omnimsg.errors.TransportError` is raised and the
  dispatcher marks the send uncertain. The Cloud API takes no idempotency key, so
  ``idempotent`` is false: resending could deliver twice.

Text and template messages only; a request with attachments or a voice note is
rejected rather than sent without them.

Use it in code, or from the command line through :func:`make_transport`::

    export OMNIMSG_WA_BASE_URL=https://graph.facebook.com/v21.0
    export OMNIMSG_WA_TOKEN=...                  # a system user's access token
    export OMNIMSG_WA_NUMBERS=wa-1=106540352242922,wa-2=107655329012345
    omnimsg ... --transport examples/whatsapp_cloud.py:make_transport
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import httpx

from omnimsg import ConfigurationError, Mode, TransportError
from omnimsg.transports import SendRequest, SendResult, SendStatus

# The request never reached the platform: sending it again is safe.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def message_body(request: SendRequest) -> dict[str, Any]:
    """The Cloud API's JSON for ``request``: a template in TEMPLATE mode, else text."""
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": request.recipient,
    }
    if request.mode is Mode.TEMPLATE:
        template: dict[str, Any] = {
            "name": request.template,
            "language": {"code": request.language or "en"},
        }
        if request.params:
            parameters = [{"type": "text", "text": value} for _, value in request.params]
            template["components"] = [{"type": "body", "parameters": parameters}]
        return body | {"type": "template", "template": template}
    return body | {"type": "text", "text": {"body": request.content.text}}


def result_of(request: SendRequest, response: httpx.Response) -> SendResult:
    """What the platform's answer means for ``request``."""
    key, status, data = request.idempotency_key, response.status_code, _json(response)
    if response.is_success:
        try:
            message_id = data["messages"][0]["id"]
            return SendResult(key, SendStatus.ACCEPTED, provider_message_id=message_id)
        except (LookupError, TypeError, ValueError):
            raise TransportError(f"HTTP {status} without a message id") from None
    error = data.get("error")
    error = error if isinstance(error, dict) else {}
    message = error.get("message")
    message = message if isinstance(message, str) else response.reason_phrase
    if status == 429 or (status >= 500 and error):
        return SendResult(key, SendStatus.RETRY, error=message, retry_after=_seconds(response))
    if status >= 500:
        # Not the platform's own answer (a gateway's page): it may have taken the message.
        raise TransportError(f"HTTP {status} without a Graph API error body")
    return SendResult(key, SendStatus.REJECTED, error=f"{error.get('code', status)}: {message}")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = json.loads(response.content)
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _seconds(response: httpx.Response) -> int | None:
    value = response.headers.get("Retry-After", "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 9 else None


def _encoded(request: SendRequest) -> bytes:
    # ASCII JSON: a lone surrogate in a name is escaped, not an encoding crash.
    return json.dumps(message_body(request)).encode("ascii")


class _CloudApi:
    """Where each request goes, and what refuses it before any I/O."""

    idempotent = False

    def __init__(self, base_url: str, token: str, phone_number_ids: Mapping[str, str]) -> None:
        self._base_url = base_url.rstrip("/")
        self._numbers = dict(phone_number_ids)
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def _url(self, request: SendRequest) -> str | SendResult:
        """The endpoint for ``request``, or the result refusing it."""
        number = self._numbers.get(request.account_id)
        if number is None:
            problem = "no phone number id configured for this account"
        elif request.content.attachments or request.content.voice_note:
            problem = "this transport sends text and templates only"
        else:
            return f"{self._base_url}/{number}/messages"
        return SendResult(request.idempotency_key, SendStatus.REJECTED, error=problem)


def _not_sent(request: SendRequest, exc: httpx.HTTPError) -> SendResult:
    return SendResult(request.idempotency_key, SendStatus.RETRY, error=f"not sent: {exc}")


def _no_answer(exc: httpx.HTTPError) -> TransportError:
    return TransportError(f"no answer from WhatsApp ({type(exc).__name__}); it may have gone")


class WhatsAppCloudTransport(_CloudApi):
    """Sends through ``{base_url}/{phone_number_id}/messages``; ``phone_number_ids``
    maps omnimsg account ids to WhatsApp phone number ids."""

    def __init__(
        self,
        base_url: str,
        token: str,
        phone_number_ids: Mapping[str, str],
        *,
        client: httpx.Client | None = None,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(base_url, token, phone_number_ids)
        self._owned = client is None
        self._client = httpx.Client(timeout=timeout) if client is None else client

    def send(self, request: SendRequest, /) -> SendResult:
        """Post ``request`` and say what became of it."""
        url = self._url(request)
        if isinstance(url, SendResult):
            return url
        try:
            response = self._client.post(url, content=_encoded(request), headers=self._headers)
        except NOT_SENT as exc:
            return _not_sent(request, exc)
        except httpx.HTTPError as exc:
            raise _no_answer(exc) from exc
        return result_of(request, response)

    def close(self) -> None:
        """Close the HTTP client if this transport made it."""
        if self._owned:
            self._client.close()


class AsyncWhatsAppCloudTransport(_CloudApi):
    """The awaitable twin of :class:`WhatsAppCloudTransport`, on ``httpx.AsyncClient``."""

    def __init__(
        self,
        base_url: str,
        token: str,
        phone_number_ids: Mapping[str, str],
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(base_url, token, phone_number_ids)
        self._owned = client is None
        self._client = httpx.AsyncClient(timeout=timeout) if client is None else client

    async def asend(self, request: SendRequest, /) -> SendResult:
        """Post ``request`` and say what became of it."""
        url = self._url(request)
        if isinstance(url, SendResult):
            return url
        try:
            response = await self._client.post(
                url, content=_encoded(request), headers=self._headers
            )
        except NOT_SENT as exc:
            return _not_sent(request, exc)
        except httpx.HTTPError as exc:
            raise _no_answer(exc) from exc
        return result_of(request, response)

    async def aclose(self) -> None:
        """Close the HTTP client if this transport made it."""
        if self._owned:
            await self._client.aclose()


def settings_from_env() -> tuple[str, str, dict[str, str]]:
    """``(base_url, token, phone_number_ids)`` from the ``OMNIMSG_WA_*`` variables."""
    values: dict[str, str] = {}
    for name in ("OMNIMSG_WA_BASE_URL", "OMNIMSG_WA_TOKEN", "OMNIMSG_WA_NUMBERS"):
        values[name] = os.environ.get(name, "").strip()
        if not values[name]:
            raise ConfigurationError(f"{name}: not set")
    numbers: dict[str, str] = {}
    for pair in values["OMNIMSG_WA_NUMBERS"].split(","):
        account, _, number = (part.strip() for part in pair.partition("="))
        if not account or not number:
            raise ConfigurationError("OMNIMSG_WA_NUMBERS: expected account=phone_number_id,...")
        numbers[account] = number
    return values["OMNIMSG_WA_BASE_URL"], values["OMNIMSG_WA_TOKEN"], numbers


def make_transport() -> WhatsAppCloudTransport:
    """The transport the environment describes (for ``--transport``)."""
    return WhatsAppCloudTransport(*settings_from_env())


def make_async_transport() -> AsyncWhatsAppCloudTransport:
    """The async transport the environment describes."""
    return AsyncWhatsAppCloudTransport(*settings_from_env())
