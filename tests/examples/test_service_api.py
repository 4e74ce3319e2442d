"""The example service's HTTP API against the real PostgreSQL: webhooks, decisions, errors.

Each test stores contacts of its own (fresh ids) through ``POST /contacts`` and
moves the service's injected clock; nothing here reads the wall clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service.app import create_app
from service.settings import Settings

from examples.conftest import NOW, unique
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
