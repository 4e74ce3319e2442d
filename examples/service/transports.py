"""The transports the service's workers send through, chosen by a setting.

The worker makes its transport from ``OMNIMSG_SERVICE_TRANSPORT``
(``module:factory``, called with no arguments, as omnimsg's Celery task does), so
the same worker sends through a log, an HTTP gateway, the WhatsApp Cloud API
(``whatsapp_cloud:make_transport`` from ``examples/``) or a test's recorder:

- :func:`logging_transport`: writes each message to the log and accepts it (a dry
  run, and the default);
- :func:`http_transport`: posts each message as JSON to the gateway at
  ``OMNIMSG_SERVICE_OUTBOX_URL``, with its idempotency key as a header.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import httpx

from omnimsg import ConfigurationError, TransportError
from omnimsg.transports import SendRequest, SendResult, SendStatus

log = logging.getLogger("service.transports")

# The request never reached the gateway: sending it again is safe.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def request_body(request: SendRequest) -> dict[str, Any]:
    """``request`` as JSON values: what the log line and the gateway receive."""
    return {
        "key": request.idempotency_key,
        "account": request.account_id,
        "channel": request.channel.value,
        "to": request.recipient,
        "contact": request.contact_id,
        "mode": request.mode.value,
        "template": request.template,
        "tag": request.tag,
        "params": dict(request.params),
        "text": request.content.text,
    }


class LoggingTransport:
    """Logs each message at INFO and accepts it: a dry run of a plan."""

    def send(self, request: SendRequest) -> SendResult:
        """Log ``request``; always ``ACCEPTED``."""
        log.info("send %s", request_body(request))
        key = request.idempotency_key
        return SendResult(key, SendStatus.ACCEPTED, provider_message_id=f"log-{key}")


class HttpTransport:
    """Posts each message to an HTTP gateway that sends it on.

    The gateway answers 2xx with ``{"id": ...}`` when it took the message, 4xx when
    it refuses it for good, 429 or 5xx when it cannot take it now (``Retry-After``
    honoured). A gateway that drops a second request with the same
    ``Idempotency-Key`` header makes the transport ``idempotent``: a send whose
    answer was lost is then tried again instead of being reported uncertain.

    Args:
        url: where to post.
        client: the httpx client (a test passes one with a ``MockTransport``).
        idempotent: whether the gateway drops repeated keys.
    """

    def __init__(self, url: str, *, client: httpx.Client, idempotent: bool = False) -> None:
        self.url = url
        self.client = client
        self.idempotent = idempotent

    def send(self, request: SendRequest) -> SendResult:
        """Post ``request``; its fate as a :class:`~omnimsg.transports.SendResult`.

        Raises:
            TransportError: the request was written but no answer came: it may
                have been sent.
        """
        key = request.idempotency_key
        try:
            answer = self.client.post(
                self.url, json=request_body(request), headers={"Idempotency-Key": key}
            )
        except _NOT_SENT as exc:
            return SendResult(key, SendStatus.RETRY, error=f"gateway unreachable: {exc}")
        except httpx.HTTPError as exc:
            raise TransportError(f"no answer from the gateway for {key}: {exc}") from exc
        if answer.is_success:
            return SendResult(
                key, SendStatus.ACCEPTED, provider_message_id=_gateway_id(answer, key)
            )
        words = f"{answer.status_code}: {answer.text[:500]}"
        if answer.status_code == 429 or answer.status_code >= 500:
            return SendResult(key, SendStatus.RETRY, error=words, retry_after=_retry_after(answer))
        return SendResult(key, SendStatus.REJECTED, error=words)


_LONGEST_WAIT = 24 * 3600  # seconds: a Retry-After beyond a day is read as a day


def _retry_after(answer: httpx.Response) -> float | None:
    """The seconds of a ``Retry-After`` header (ASCII digits only, at most a day), or ``None``.

    A header omnimsg would refuse (a wait of years, a digit of another script) must
    not make a message the gateway will take later look failed.
    """
    after = answer.headers.get("Retry-After", "").strip()
    if not (after.isascii() and after.isdigit()):
        return None
    return float(min(int(after[:12]), _LONGEST_WAIT))


def _gateway_id(answer: httpx.Response, key: str) -> str:
    """The id a 2xx answer gives the message, else ``key``.

    The gateway took the message whatever its body says: a body that is not JSON,
    or names no id, must not turn a sent message into a failed one.
    """
    try:
        body = answer.json() if answer.content else None
    except ValueError:  # not JSON, or not text
        return key
    found = body.get("id") if isinstance(body, dict) else None
    return str(found) if isinstance(found, str | int) and str(found) else key


def logging_transport() -> LoggingTransport:
    """The worker's default transport: :class:`LoggingTransport`."""
    return LoggingTransport()


def http_transport() -> HttpTransport:
    """A :class:`HttpTransport` to ``OMNIMSG_SERVICE_OUTBOX_URL``.

    ``OMNIMSG_SERVICE_OUTBOX_IDEMPOTENT=1`` declares that the gateway drops
    repeated idempotency keys.

    Raises:
        ConfigurationError: ``OMNIMSG_SERVICE_OUTBOX_URL`` is not set.
    """
    url = os.environ.get("OMNIMSG_SERVICE_OUTBOX_URL")
    if not url:
        raise ConfigurationError("OMNIMSG_SERVICE_OUTBOX_URL: the gateway's URL is not set")
    idempotent = os.environ.get("OMNIMSG_SERVICE_OUTBOX_IDEMPOTENT", "") == "1"
    return HttpTransport(url, client=httpx.Client(timeout=10.0), idempotent=idempotent)
