"""The service's HTTP API: omnimsg's rules behind a few FastAPI endpoints.

``create_app(settings, clock=...)`` builds the app (``uvicorn --factory
service.app:make_app`` reads the settings from the environment):

- ``POST /contacts``: store contacts (the audience of broadcasts);
- ``POST /webhooks/inbound``: a contact wrote; :func:`omnimsg.delivery.on_inbound`
  opens the window (W2, W5), reads opt-out keywords and opt-in replies (X1, B12);
- ``POST /decisions``: may this go now, and how? :func:`omnimsg.decide`'s answer;
- ``POST /broadcasts``: plan a draft for the stored contacts
  (:func:`omnimsg.plan_broadcast`), store the plan, queue it for the workers;
- ``POST /broadcasts/{id}/dispatch``: queue a stored plan again (nothing goes twice);
- ``GET /broadcasts/{id}``: the plan's summary and what became of its sends.

The wall clock is read only through the injected :class:`omnimsg.Clock`
(:class:`omnimsg.SystemClock` unless a test fixes one). omnimsg's errors become 4xx
answers carrying their words: malformed input 422 (a channel other than the one the
contact's identity gives the account included), an unknown profile, channel or
setting 400, a missing contact or broadcast 404, an id taken 409; a database or
broker that cannot be reached 503.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from omnimsg import (
    ChannelKind,
    Clock,
    ConfigurationError,
    Contact,
    DraftError,
    InputError,
    Message,
    OmnimsgError,
    SegmentValidationError,
    StoreError,
    SystemClock,
    conversation_state,
    decide,
    draft_from_dict,
    load_profile,
    normalize_phone,
    parse_channel_kind,
    plan_broadcast,
)
from omnimsg.audiences import find_whatsapp_contact
from omnimsg.delivery import delivery_report, on_inbound
from omnimsg.delivery.celery import enqueue_plan
from omnimsg.errors import StoreUnavailableError
from service.database import DuplicateError, ServiceDatabase
from service.models import (
    BroadcastIn,
    BroadcastOut,
    ContactsIn,
    ContactsOut,
    DecisionOut,
    DeliveryOut,
    InboundMessage,
    InboundOut,
    SendQuestion,
)
from service.settings import Settings
from service.worker import make_celery

log = logging.getLogger("service.app")

# The driver's errors of a server that cannot be reached (or a connection it dropped).
_UNREACHABLE = (sa.exc.OperationalError, sa.exc.InterfaceError)


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    database: ServiceDatabase | None = None,
    celery: Any | None = None,
) -> FastAPI:
    """The service on ``settings``.

    Args:
        settings: the database schema, tenant, profile, broker and queue.
        clock: where "now" comes from; :class:`omnimsg.SystemClock` by default.
        database: the service's data; by default opened from ``settings`` (its tables
            are created when the app starts, and it is closed when the app stops).
        celery: the Celery app plans are queued on; by default
            :func:`service.worker.make_celery` of ``settings``.

    Raises:
        ConfigurationError: ``settings.profile`` names no profile.
    """
    clock = clock or SystemClock()
    profile = load_profile(settings.profile)
    db = database or ServiceDatabase(settings)
    queue = celery if celery is not None else make_celery(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        db.create()
        try:
            yield
        finally:
            db.close()
            if celery is None:  # ours: its connections to the broker go with the app
                queue.close()

    app = FastAPI(title="omnimsg example service", lifespan=lifespan)
    app.add_exception_handler(OmnimsgError, _omnimsg_error)
    app.add_exception_handler(DuplicateError, _duplicate)
    app.add_exception_handler(RequestValidationError, _malformed)
    app.add_exception_handler(StarletteHTTPException, _http_error)

    @app.post("/contacts", status_code=201)
    def add_contacts(body: ContactsIn) -> ContactsOut:
        """Store new contacts; their conversations start in omnimsg's store."""
        contacts = [Contact.from_dict(item.model_dump(exclude_none=True)) for item in body.contacts]
        return ContactsOut(stored=db.add_contacts(contacts))

    @app.post("/webhooks/inbound")
    def inbound(body: InboundMessage) -> InboundOut:
        """A contact's message: the window opens, keywords and replies move consent."""
        kind = parse_channel_kind(body.channel)
        found = _contact(db, body.contact, body.sender, body.account, kind)
        _check_channel(found, body.account, kind)
        contact = found.id
        result = on_inbound(
            db.store,
            contact_id=contact,
            account_id=body.account,
            channel=body.channel,
            message_id=body.message_id,
            at=body.at,
            now=clock.now(),
            profile=profile,
            text=body.text,
            locale=body.locale,
        )
        events = [type(event).__name__ for event in result.events]
        if events:
            log.info("contact %s on %s: %s", contact, body.account, ", ".join(events))
        return InboundOut(
            contact=contact,
            duplicate=result.duplicate,
            consent=result.state.consent.status.value,
            last_inbound_at=result.state.last_inbound_at,
            events=events,
        )

    @app.post("/decisions")
    def may_send(body: SendQuestion) -> DecisionOut:
        """omnimsg's decision for this message, to this contact, on this account, now."""
        now = clock.now()
        caps = profile.capabilities(body.channel, as_of=now)
        contact = db.contacts.get_contact(body.contact)
        if contact is None:
            raise HTTPException(404, f"contact: no contact has the id {body.contact!r}")
        _check_channel(contact, body.account, caps.kind)
        state = db.store.get_conversation(contact.id, body.account)
        if state is None:
            state = conversation_state(contact, body.account)
        message = Message(
            text=body.text,
            template=body.template,
            tag=body.tag,
            marketing=body.marketing,
            broadcast=body.broadcast,
        )
        account = db.store.get_account(body.account)
        decision = decide(caps, state, message, now=now, account=account)
        return DecisionOut(
            allowed=decision.allowed,
            mode=decision.mode.value,
            reason=decision.reason.value,
            rule=decision.rule,
            window_closes_at=decision.window_closes_at,
            retry_at=decision.retry_at,
            remaining_in_window=decision.remaining_in_window,
            paid=decision.paid,
            explanation=decision.explain(),
        )

    @app.post("/broadcasts", status_code=201)
    def plan(body: BroadcastIn) -> BroadcastOut:
        """Plan a draft for the stored contacts, store the plan and queue it."""
        now = clock.now()
        draft = draft_from_dict(body.draft)
        planned = plan_broadcast(draft, db.contacts, profile=profile, now=now, state=db.store)
        text = io.StringIO()
        summary = planned.write_jsonl(text)
        db.save_plan(draft.id, now, summary.to_dict(), text.getvalue())
        tasks = _enqueue(queue, settings, clock, text.getvalue())
        return BroadcastOut(
            broadcast_id=draft.id,
            description=summary.describe(),
            summary=summary.to_dict(),
            tasks=tasks,
        )

    @app.post("/broadcasts/{broadcast_id}/dispatch")
    def dispatch_again(broadcast_id: str) -> BroadcastOut:
        """Queue a stored plan again: what was sent is not sent twice (X5)."""
        summary, text = _stored(db, broadcast_id)
        tasks = _enqueue(queue, settings, clock, text)
        return BroadcastOut(
            broadcast_id=broadcast_id,
            description=str(summary.get("text", "")),
            summary=summary,
            tasks=tasks,
        )

    @app.get("/broadcasts/{broadcast_id}")
    def delivery(broadcast_id: str) -> DeliveryOut:
        """The plan's summary and its sends' fate, from omnimsg's ledger (B15)."""
        summary, _ = _stored(db, broadcast_id)
        report = delivery_report(db.store, broadcast_id)
        failed = [
            {
                "contact": item.contact_id,
                "account": item.account_id,
                "status": item.status.value,
                "reason": item.reason,
                "rule": item.rule,
                "error": item.error,
            }
            for item in report.failed
        ]
        return DeliveryOut(
            broadcast_id=broadcast_id, summary=summary, counts=report.counts, failed=failed
        )

    return app


def make_app() -> FastAPI:
    """The service on the settings of the environment, for ``uvicorn --factory``."""
    return create_app(Settings.from_env())


def _contact(
    db: ServiceDatabase, contact: str | None, sender: str | None, account: str, kind: ChannelKind
) -> Contact:
    """The contact a webhook names, by the service's id or the platform's."""
    if contact is not None:
        found = db.contacts.get_contact(contact)
        if found is None:
            raise HTTPException(404, f"contact: no contact has the id {contact!r}")
        return found
    assert sender is not None  # the model asks for one of the two
    found = db.contacts.find_identity(account, sender) or _by_number(db, sender, account, kind)
    if found is None:
        raise HTTPException(404, f"sender: no contact has the id {sender!r} on {account!r}")
    return found


def _by_number(db: ServiceDatabase, sender: str, account: str, kind: ChannelKind) -> Contact | None:
    """The contact a phone channel's sender is when no identity on the account has its id.

    The planner sends SMS and WhatsApp to a contact's phone when it has no identity
    on the account (B2), so that contact's replies, an opt-out above all (X1), come
    from the phone: a WhatsApp id in any of its forms (P16), an SMS number as E.164.
    """
    try:
        if kind is ChannelKind.WHATSAPP:
            match = find_whatsapp_contact(db.contacts, account, sender)
            return None if match is None else match.contact
        if kind is ChannelKind.SMS:
            phone = normalize_phone(sender)
            return db.contacts.find_by_phone([phone], not_on_account=account)
    except InputError:  # not a phone number: no contact has it
        return None
    return None


def _check_channel(contact: Contact, account: str, kind: ChannelKind) -> None:
    """Refuse a channel other than the one the contact's identity gives the account.

    Decided by another channel's rules, a WhatsApp account would answer as SMS does
    (no window, W1) and read SMS keywords: 422 instead of a wrong answer.
    """
    identity = contact.identity_on(account)
    if identity is not None and identity.channel is not kind:
        raise HTTPException(
            422,
            f"channel: account {account!r} is the contact's {identity.channel.value} account,"
            f" not {kind.value}",
        )


def _stored(db: ServiceDatabase, broadcast_id: str) -> tuple[dict[str, Any], str]:
    found = db.plan(broadcast_id)
    if found is None:
        raise HTTPException(404, f"broadcast: no plan has the id {broadcast_id!r}")
    return found


def _enqueue(queue: Any, settings: Settings, clock: Clock, text: str) -> list[str]:
    """Queue a plan's batches for the workers; the ids of the tasks sent."""
    results = enqueue_plan(
        queue,
        io.StringIO(text),
        store_url=settings.store_url,
        transport=settings.transport,
        tenant=settings.tenant,
        profile=settings.profile,
        queue=settings.queue,
        clock=clock,
    )
    return [str(result.id) for result in results]


class AsciiJSONResponse(JSONResponse):
    """JSON with every character beyond ASCII escaped, so no text can break the encoding.

    Error answers quote what was sent; a lone surrogate (``"\\ud800"``) sent as an
    escape is valid JSON but no UTF-8, and would otherwise fail the answer itself.
    """

    def render(self, content: Any) -> bytes:
        """``content`` as ASCII JSON."""
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _status(exc: OmnimsgError) -> int:
    if isinstance(exc, StoreUnavailableError):
        return 503
    if isinstance(exc, StoreError) and isinstance(exc.__cause__, _UNREACHABLE):
        return 503  # SqlContactSource words a refused connection as a plain StoreError
    if isinstance(exc, StoreError):
        return 500
    if isinstance(exc, ConfigurationError):
        return 400
    return 422


async def _omnimsg_error(_: Request, exc: Exception) -> JSONResponse:
    """An omnimsg error as JSON: its words, its kind, and a draft's or segment's problems."""
    assert isinstance(exc, OmnimsgError)
    content: dict[str, Any] = {"detail": str(exc), "error": type(exc).__name__}
    if isinstance(exc, DraftError):
        content["problems"] = [
            {"path": path, "rule": rule, "message": message} for path, rule, message in exc.problems
        ]
    elif isinstance(exc, SegmentValidationError):
        content["problems"] = [{"path": p.path, "message": p.message} for p in exc.problems]
    return AsciiJSONResponse(content, status_code=_status(exc))


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    """A 404, 405 or 422 the app raises itself, in the same shape as the others."""
    assert isinstance(exc, StarletteHTTPException)
    try:
        kind = HTTPStatus(exc.status_code).phrase
    except ValueError:  # a status the standard does not name
        kind = "HTTPException"
    content = {"detail": str(exc.detail), "error": kind}
    return AsciiJSONResponse(content, status_code=exc.status_code, headers=exc.headers)


async def _duplicate(_: Request, exc: Exception) -> JSONResponse:
    return AsciiJSONResponse({"detail": str(exc), "error": "Conflict"}, status_code=409)


async def _malformed(_: Request, exc: Exception) -> JSONResponse:
    """A body of the wrong shape: each problem with its place, the input not echoed back."""
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"path": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
        for error in exc.errors()
    ]
    words = "; ".join(f"{p['path']}: {p['message']}" for p in problems[:20])
    content = {"detail": f"malformed request: {words}", "error": "RequestValidationError"}
    return AsciiJSONResponse({**content, "problems": problems[:100]}, status_code=422)
