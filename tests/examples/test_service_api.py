"""The example service's HTTP API against the real PostgreSQL: webhooks, decisions, errors.

Each test stores contacts of its own (fresh ids) through ``POST /contacts`` and
moves the service's injected clock; nothing here reads the wall clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service.app import create_app
from service.database import ServiceDatabase
from service.settings import Settings

from examples.conftest import NOW, unique
from omnimsg import Message, conversation_state, decide, load_profile
from omnimsg.testing import FixedClock


def whatsapp_contact(contact: str, number: str, **extra: Any) -> dict[str, Any]:
    """A contact with a WhatsApp identity on ``wa-1`` who has never written."""
    return {
        "id": contact,
        "first_name": "Ana",
        "identities": [{"account_id": "wa-1", "channel": "whatsapp", "external_id": number}],
        **extra,
    }


def post_json(client: TestClient, path: str, body: object) -> Any:
    """Post ``body`` as ASCII JSON, so a lone surrogate travels as its escape."""
    headers = {"content-type": "application/json"}
    return client.post(path, content=json.dumps(body).encode(), headers=headers)


def add(client: TestClient, *contacts: dict[str, Any]) -> None:
    answer = client.post("/contacts", json={"contacts": list(contacts)})
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"stored": len(contacts)}


def ask(client: TestClient, **question: Any) -> dict[str, Any]:
    answer = client.post("/decisions", json=question)
    assert answer.status_code == 200, answer.text
    decision: dict[str, Any] = answer.json()
    return decision


def inbound(client: TestClient, **message: Any) -> dict[str, Any]:
    answer = client.post("/webhooks/inbound", json=message)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_an_inbound_message_opens_the_window_for_free_form_text(
    client: TestClient, clock: FixedClock
) -> None:
    """W2: free-form text needs a template until the contact writes, then 24 h of
    free-form replies; the webhook finds the contact by its WhatsApp number."""
    contact, number = unique("wa"), "34612345678"
    add(client, whatsapp_contact(contact, number))
    question = {"channel": "whatsapp", "account": "wa-1", "contact": contact, "text": "Hi Ana"}

    before = ask(client, **question)
    assert before["allowed"] is False
    assert before["mode"] == "template"
    assert before["reason"] == "template_required"
    assert before["rule"] == "W2"
    assert before["window_closes_at"] is None
    assert before["explanation"]

    wrote = NOW - timedelta(minutes=5)
    result = inbound(
        client,
        channel="whatsapp",
        account="wa-1",
        sender=number,
        message_id=unique("wamid"),
        at=wrote.isoformat(),
        text="Is my car ready?",
    )
    assert result["contact"] == contact
    assert result["duplicate"] is False
    assert result["last_inbound_at"] == wrote.isoformat().replace("+00:00", "Z")

    after = ask(client, **question)
    assert after["allowed"] is True
    assert after["mode"] == "free_form"
    assert after["reason"] == "within_window"
    assert after["window_closes_at"] == (wrote + timedelta(hours=24)).isoformat().replace(
        "+00:00", "Z"
    )
    assert after["retry_at"] is None

    clock.advance(timedelta(hours=24))  # the window closed 5 minutes ago
    late = ask(client, **question)
    assert late["allowed"] is False
    assert late["mode"] == "template"
    templated = ask(client, **question, template="order_ready")
    assert templated["allowed"] is True
    assert templated["reason"] == "template_outside_window"


def test_a_webhook_delivered_twice_is_applied_once(client: TestClient) -> None:
    """The platform's message id makes a repeated webhook change nothing."""
    contact = unique("wa")
    add(client, whatsapp_contact(contact, "34612345679"))
    message = {
        "channel": "whatsapp",
        "account": "wa-1",
        "contact": contact,
        "message_id": unique("wamid"),
        "at": NOW.isoformat(),
        "text": "hello",
    }
    assert inbound(client, **message)["duplicate"] is False
    assert inbound(client, **message)["duplicate"] is True


def test_an_sms_opt_out_keyword_stops_marketing(client: TestClient) -> None:
    """X1: STOP on SMS unsubscribes the contact; marketing is refused from then on."""
    contact = unique("sms")
    add(
        client,
        {
            "id": contact,
            "phone": "+14155550123",
            "identities": [
                {"account_id": "sms-1", "channel": "sms", "external_id": "+14155550123"}
            ],
            "subscriptions": {"sms-1": "subscribed"},
        },
    )
    offer = {
        "channel": "sms",
        "account": "sms-1",
        "contact": contact,
        "text": "20% off this weekend",
        "marketing": True,
    }
    assert ask(client, **offer)["allowed"] is True

    result = inbound(
        client,
        channel="sms",
        account="sms-1",
        sender="+14155550123",
        message_id=unique("sms"),
        at=NOW.isoformat(),
        text="STOP",
    )
    assert result["consent"] == "unsubscribed"
    assert "SendOptOutConfirmation" in result["events"]

    refused = ask(client, **offer)
    assert refused["allowed"] is False
    assert refused["reason"] == "opted_out"
    assert refused["rule"] == "X1"


def test_a_stored_consent_holds_before_any_webhook(client: TestClient) -> None:
    """X1: a contact stored as unsubscribed is refused marketing at once (its
    conversation starts in omnimsg's store from the contact)."""
    contact = unique("wa")
    add(client, whatsapp_contact(contact, "34612345670", subscriptions={"wa-1": "unsubscribed"}))
    refused = ask(
        client,
        channel="whatsapp",
        account="wa-1",
        contact=contact,
        template="sale",
        marketing=True,
    )
    assert (refused["allowed"], refused["reason"]) == (False, "opted_out")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ages=st.lists(st.integers(min_value=0, max_value=3 * 24 * 60), min_size=1, max_size=4))
def test_the_window_follows_the_latest_inbound_message_in_any_order(
    client: TestClient, clock: FixedClock, ages: list[int]
) -> None:
    """W2: free-form text may go exactly while the latest inbound message (minutes
    ``ages`` ago, delivered in any order) is less than 24 h old."""
    clock.set(NOW)
    contact = unique("p")
    add(client, whatsapp_contact(contact, "34612345675"))
    for age in ages:
        inbound(
            client,
            channel="whatsapp",
            account="wa-1",
            contact=contact,
            message_id=unique("m"),
            at=(NOW - timedelta(minutes=age)).isoformat(),
        )
    decision = ask(client, channel="whatsapp", account="wa-1", contact=contact, text="hi")
    newest = min(ages)
    assert decision["allowed"] is (newest < 24 * 60)
    if decision["allowed"]:
        closes = NOW - timedelta(minutes=newest) + timedelta(hours=24)
        assert decision["window_closes_at"] == closes.isoformat().replace("+00:00", "Z")
    else:
        assert decision["reason"] == "template_required"


# --- errors: 4xx with words -----------------------------------------------------------


def test_an_unknown_contact_is_404_naming_it(client: TestClient) -> None:
    answer = client.post(
        "/decisions", json={"channel": "whatsapp", "account": "wa-1", "contact": "nobody-x1"}
    )
    assert answer.status_code == 404
    assert "nobody-x1" in answer.json()["detail"]
    answer = client.post(
        "/webhooks/inbound",
        json={
            "channel": "whatsapp",
            "account": "wa-1",
            "sender": "999",
            "message_id": "m1",
            "at": NOW.isoformat(),
        },
    )
    assert answer.status_code == 404
    assert "'999' on 'wa-1'" in answer.json()["detail"]
    missing = client.get("/broadcasts/no-such-broadcast")
    assert missing.status_code == 404
    assert "no-such-broadcast" in missing.json()["detail"]


def test_an_unknown_channel_is_400_with_omnimsgs_words(client: TestClient) -> None:
    contact = unique("wa")
    add(client, whatsapp_contact(contact, "34612345671"))
    answer = client.post(
        "/decisions", json={"channel": "pigeon", "account": "wa-1", "contact": contact}
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"] == "UnknownChannelError"
    assert "pigeon" in body["detail"]


def test_a_message_from_the_future_is_422(client: TestClient) -> None:
    """An inbound message stamped after now (beyond the clock skew) is refused."""
    contact = unique("wa")
    add(client, whatsapp_contact(contact, "34612345672"))
    answer = client.post(
        "/webhooks/inbound",
        json={
            "channel": "whatsapp",
            "account": "wa-1",
            "contact": contact,
            "message_id": unique("m"),
            "at": (NOW + timedelta(hours=1)).isoformat(),
        },
    )
    assert answer.status_code == 422
    assert answer.json()["error"] == "InputError"
    assert "at" in answer.json()["detail"]


def test_a_naive_instant_and_a_missing_contact_are_422(client: TestClient) -> None:
    base = {"channel": "whatsapp", "account": "wa-1", "message_id": "m1"}
    naive = client.post(
        "/webhooks/inbound", json={**base, "contact": "c", "at": "2026-11-30T12:00"}
    )
    assert naive.status_code == 422
    assert "timezone" in naive.text
    neither = client.post("/webhooks/inbound", json={**base, "at": NOW.isoformat()})
    assert neither.status_code == 422
    assert "exactly one of 'contact' and 'sender'" in neither.text


def test_a_contact_with_a_bad_phone_is_422_and_a_taken_id_409(client: TestClient) -> None:
    contact = unique("c")
    bad = client.post("/contacts", json={"contacts": [{"id": contact, "phone": "12"}]})
    assert bad.status_code == 422
    assert bad.json()["error"] == "PhoneNumberError"
    assert contact in bad.json()["detail"]
    add(client, {"id": contact})
    again = client.post("/contacts", json={"contacts": [{"id": contact}]})
    assert again.status_code == 409
    assert contact in again.json()["detail"]


def test_a_draft_that_breaks_the_profile_is_422_with_every_problem(client: TestClient) -> None:
    draft = {
        "id": unique("bad-draft"),
        "channels": ["sms"],
        "audience": {"segment": {"field": "tags", "op": "has_any", "value": ["x"]}},
        "senders": [{"account": "sms-1", "channel": "sms"}],
        "content": {"sms": [{"text": "x" * 5000}]},
    }
    answer = client.post("/broadcasts", json={"draft": draft})
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "DraftError"
    assert body["problems"]
    assert all(problem["message"] for problem in body["problems"])
    shapeless = client.post("/broadcasts", json={"draft": {"id": 5}})
    assert shapeless.status_code == 422
    assert shapeless.json()["error"] == "DraftError"


@pytest.fixture(scope="module")
def shared(service_settings: Settings) -> Iterator[TestClient]:
    """One app for the hostile-input tests, which never move its clock."""
    with TestClient(create_app(service_settings, clock=FixedClock(NOW))) as test_client:
        yield test_client


HOSTILE: list[Any] = [
    None,
    5,
    "",
    "\x00",
    "\ud800",
    "x" * 100_000,
    ["list"],
    {"deep": {"er": [[[[[]]]]]}},
]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("field", ["channel", "account", "contact", "text", "template", "tag"])
def test_hostile_questions_are_4xx_with_words(shared: TestClient, field: str, value: Any) -> None:
    """Wrong types, NUL, lone surrogates and huge text end in a 4xx with words, never a 500."""
    contact = unique("h")
    add(shared, whatsapp_contact(contact, "34612345673"))
    question = {"channel": "whatsapp", "account": "wa-1", "contact": contact, field: value}
    answer = post_json(shared, "/decisions", question)
    if answer.status_code == 200:  # a value omnimsg takes: decided, not refused
        assert field in ("text", "template", "tag")
        assert answer.json()["reason"]
        return
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["detail"]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize(
    "field", ["channel", "account", "contact", "message_id", "at", "text", "locale"]
)
def test_hostile_webhooks_are_4xx_with_words(shared: TestClient, field: str, value: Any) -> None:
    contact = unique("h")
    add(shared, whatsapp_contact(contact, "34612345674"))
    message = {
        "channel": "whatsapp",
        "account": "wa-1",
        "contact": contact,
        "message_id": unique("m"),
        "at": NOW.isoformat(),
        field: value,
    }
    answer = post_json(shared, "/webhooks/inbound", message)
    if answer.status_code == 200:  # a text or locale omnimsg takes; Unix seconds for ``at``
        assert field in ("text", "locale") or (field, value) == ("at", 5)
        return
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["detail"]


def test_a_deeply_nested_draft_is_a_4xx(client: TestClient) -> None:
    depth = 100_000
    body = '{"draft": {"id": "deep", "audience": ' + '{"a": ' * depth + "1" + "}" * depth + "}}"
    answer = client.post(
        "/broadcasts", content=body.encode(), headers={"content-type": "application/json"}
    )
    assert 400 <= answer.status_code < 500
    assert answer.json()["detail"]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize(
    "field", ["id", "first_name", "phone", "timezone", "tags", "identities", "subscriptions"]
)
def test_hostile_contacts_are_4xx_with_words_and_store_nothing(
    shared: TestClient, field: str, value: Any
) -> None:
    contact = {"id": unique("h"), field: value}
    answer = post_json(shared, "/contacts", {"contacts": [contact]})
    if answer.status_code == 201:  # a value omnimsg takes as it is, or as no value
        assert value in (None, "") or field in ("first_name", "timezone", "tags")
        return
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["detail"]
    if field != "id":
        missing = post_json(shared, "/decisions", {"channel": "sms", "account": "a", **contact})
        assert missing.status_code in (404, 422)


# --- the contact a webhook names, and the channel of its account -----------------------


def sms_draft(draft_id: str, tag: str) -> dict[str, Any]:
    """A marketing SMS broadcast from ``sms-1`` to the contacts tagged ``tag``."""
    return {
        "id": draft_id,
        "name": "Weekend offer",
        "channels": ["sms"],
        "audience": {"segment": {"field": "tags", "op": "has_any", "value": [tag]}},
        "senders": [{"account": "sms-1", "channel": "sms"}],
        "content": {"sms": [{"text": "20% off this weekend"}]},
    }


def test_an_sms_stop_from_a_contact_reached_by_phone_ends_marketing_and_plans(
    client: TestClient,
) -> None:
    """X1: a contact with a phone and no identity on the SMS account gets broadcasts
    at that phone (B2), so its STOP, sent from that phone, must find it: the next
    decision refuses marketing and the next plan leaves it out."""
    contact, tag, phone = unique("ph"), unique("phone-only"), "+14155550188"
    add(client, {"id": contact, "phone": phone, "tags": [tag]})
    result = inbound(
        client,
        channel="sms",
        account="sms-1",
        sender=phone,
        message_id=unique("sms"),
        at=NOW.isoformat(),
        text="STOP",
    )
    assert result["contact"] == contact
    assert result["consent"] == "unsubscribed"
    offer = {"channel": "sms", "account": "sms-1", "contact": contact, "marketing": True}
    refused = ask(client, **offer, text="20% off this weekend")
    assert (refused["allowed"], refused["reason"], refused["rule"]) == (False, "opted_out", "X1")
    planned = client.post("/broadcasts", json={"draft": sms_draft(unique("offer"), tag)})
    assert planned.status_code == 201, planned.text
    summary = planned.json()["summary"]
    assert (summary["planned"], summary["excluded_by_reason"]) == (0, {"opted_out": 1})
    assert planned.json()["tasks"] == []


def test_a_whatsapp_sender_in_another_form_of_the_stored_number_finds_the_contact(
    client: TestClient,
) -> None:
    """P16, W2: WhatsApp sends a Mexican mobile as 521 + 10 digits; the contact stored
    with +52 and 10 digits is the same person, and its window opens."""
    contact = unique("mx")
    add(client, {"id": contact, "phone": "+525512345678"})
    result = inbound(
        client,
        channel="whatsapp",
        account="wa-mx",
        sender="5215512345678",
        message_id=unique("wamid"),
        at=NOW.isoformat(),
        text="hola",
    )
    assert result["contact"] == contact
    decision = ask(client, channel="whatsapp", account="wa-mx", contact=contact, text="hola")
    assert (decision["allowed"], decision["reason"]) == (True, "within_window")


def test_a_sender_that_is_not_a_phone_number_is_still_404(client: TestClient) -> None:
    for channel, sender in (("sms", "not-a-number"), ("whatsapp", "abc"), ("sms", "+1\x00")):
        answer = post_json(
            client,
            "/webhooks/inbound",
            {
                "channel": channel,
                "account": "acct-x",
                "sender": sender,
                "message_id": unique("m"),
                "at": NOW.isoformat(),
            },
        )
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"] == "Not Found"


def test_a_channel_other_than_the_accounts_is_422_naming_both(client: TestClient) -> None:
    """W2, W1: the contact's identity says wa-1 is a WhatsApp account; a question or
    a webhook about SMS on it would be decided by SMS rules (no window), so it is
    refused instead of answered."""
    contact = unique("wa")
    add(client, whatsapp_contact(contact, "34612345676"))
    answer = client.post(
        "/decisions", json={"channel": "sms", "account": "wa-1", "contact": contact, "text": "x"}
    )
    assert answer.status_code == 422, answer.text
    assert "'wa-1'" in answer.json()["detail"]
    assert "whatsapp" in answer.json()["detail"]
    assert "sms" in answer.json()["detail"]
    message = {
        "channel": "sms",
        "account": "wa-1",
        "contact": contact,
        "message_id": unique("m"),
        "at": NOW.isoformat(),
        "text": "STOP",
    }
    assert client.post("/webhooks/inbound", json=message).status_code == 422
    still = ask(client, channel="whatsapp", account="wa-1", contact=contact, text="x")
    assert still["reason"] == "template_required"  # the refused webhook changed nothing


@pytest.mark.parametrize("broadcast_id", ["%00", "a%00b", "%ED%A0%80"])
def test_a_broadcast_id_no_plan_can_have_is_404(client: TestClient, broadcast_id: str) -> None:
    """NUL cannot be stored in PostgreSQL text: no plan has such an id, so 404, not 500."""
    for answer in (
        client.get(f"/broadcasts/{broadcast_id}"),
        client.post(f"/broadcasts/{broadcast_id}/dispatch"),
    ):
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"] == "Not Found"
        assert "no plan has the id" in answer.json()["detail"]


def test_one_id_twice_in_a_request_is_422_and_stores_nothing(client: TestClient) -> None:
    """A5: the request names every id given more than once; the database's refusal of
    the second row is not a 500."""
    twice, once = unique("twice"), unique("once")
    answer = client.post(
        "/contacts", json={"contacts": [{"id": twice}, {"id": once}, {"id": twice}]}
    )
    assert answer.status_code == 422, answer.text
    assert twice in answer.json()["detail"]
    assert once not in answer.json()["detail"]
    add(client, {"id": once})  # nothing of the refused request was stored


def test_a_database_that_cannot_be_reached_is_503_with_words(
    service_settings: Settings, clock: FixedClock
) -> None:
    """The README's promise: a database that does not answer is 503 (retry later), on
    the service's own tables (plans, the duplicate check) as on omnimsg's."""
    dead = replace(service_settings, database_url="postgresql://postgres@127.0.0.1:1/test")
    database = ServiceDatabase(dead)
    try:
        app = create_app(service_settings, clock=clock, database=database)
        client = TestClient(app)  # no lifespan: the tables are not created
        for answer in (
            client.get("/broadcasts/spring"),
            client.post("/broadcasts/spring/dispatch"),
            client.post("/decisions", json={"channel": "sms", "account": "a", "contact": "c"}),
        ):
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"] in ("StoreUnavailableError", "StoreError")
            assert "127.0.0.1" in answer.json()["detail"] or "reached" in answer.json()["detail"]
    finally:
        database.close()


ACCOUNTS = {"whatsapp": "wa-1", "messenger": "fb-1", "wechat": "wc-1", "sms": "sms-1"}


@pytest.fixture(scope="module")
def reader(service_settings: Settings) -> Iterator[ServiceDatabase]:
    """The service's database, opened beside the app to read what the app stored."""
    database = ServiceDatabase(service_settings)
    try:
        yield database
    finally:
        database.close()


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    channel=st.sampled_from(sorted(ACCOUNTS)),
    wrote=st.none() | st.integers(min_value=0, max_value=10 * 24 * 60),
    text=st.sampled_from(["", "Hi", "x" * 2100, "STOP"]),
    template=st.none() | st.just("order_ready"),
    tag=st.none() | st.sampled_from(["HUMAN_AGENT", "ACCOUNT_UPDATE", "NOT_A_TAG"]),
    marketing=st.booleans(),
    broadcast=st.booleans(),
)
def test_may_i_send_is_omnimsgs_decide_on_the_stored_state(
    shared: TestClient,
    reader: ServiceDatabase,
    channel: str,
    wrote: int | None,
    text: str,
    template: str | None,
    tag: str | None,
    marketing: bool,
    broadcast: bool,
) -> None:
    """W7: the service's answer is decide()'s for the same contact, account, message and
    instant, read from the same store (W2-W5 windows, X1 consent, C3 lengths)."""
    contact, account = unique("agree"), ACCOUNTS[channel]
    identity = {"account_id": account, "channel": channel, "external_id": unique("id")}
    add(shared, {"id": contact, "identities": [identity]})
    if wrote is not None:
        message = {"channel": channel, "account": account, "contact": contact}
        at = (NOW - timedelta(minutes=wrote)).isoformat()
        inbound(shared, **message, message_id=unique("m"), at=at, text=text or None)
    question = {
        "channel": channel,
        "account": account,
        "contact": contact,
        "text": text,
        "template": template,
        "tag": tag,
        "marketing": marketing,
        "broadcast": broadcast,
    }
    answer = ask(shared, **question)
    state = reader.store.get_conversation(contact, account)
    if state is None:
        state = conversation_state(reader.contacts.get_contact(contact), account)
    caps = load_profile(reader.settings.profile).capabilities(channel, as_of=NOW)
    expected = decide(
        caps,
        state,
        Message(text=text, template=template, tag=tag, marketing=marketing, broadcast=broadcast),
        now=NOW,
        account=reader.store.get_account(account),
    )
    assert answer == {
        "allowed": expected.allowed,
        "mode": expected.mode.value,
        "reason": expected.reason.value,
        "rule": expected.rule,
        "window_closes_at": _iso(expected.window_closes_at),
        "retry_at": _iso(expected.retry_at),
        "remaining_in_window": expected.remaining_in_window,
        "paid": expected.paid,
        "explanation": expected.explain(),
    }


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")
