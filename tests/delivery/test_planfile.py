"""Reading a plan's JSON Lines back (X5: a dispatcher never takes a partial plan for a whole).

The writer is :meth:`Plan.write_jsonl`; :func:`read_plan` must give back the same
header and the same sends, and refuse anything else naming the line.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from broadcasts.plan_strategies import (
    EXPERTCONNECT,
    LIVETEX,
    NOW,
    K,
    ident,
    make_draft,
    messages,
    person,
    scenarios,
)
from omnimsg.broadcasts import FrequencyCap, Rate, Sender, plan_broadcast
from omnimsg.delivery import PlanFileError, PlanHeader, read_plan
from omnimsg.delivery.planfile import MAX_LINE
from omnimsg.errors import InputError
from omnimsg.stores.memory import MemoryStore

from .test_dispatcher import World, plan_text, sms_contacts, sms_draft


def read_all(text: str) -> tuple[PlanHeader, list[Any]]:
    header, sends = read_plan(io.StringIO(text))
    return header, list(sends)


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(scenarios(most_contacts=12))
def test_read_plan_gives_back_what_write_jsonl_wrote(scenario: Any) -> None:
    # SPEC X5: the keys, instants and contents of the file are the plan's
    plan = scenario.plan()
    expected = [send for outcome in plan for send in outcome.sends]
    out = io.StringIO()
    again = scenario.plan()
    again.write_jsonl(out)
    header, sends = read_all(out.getvalue())
    draft = scenario.draft
    assert header == PlanHeader(
        broadcast_id=draft.id,
        name=draft.name,
        start=again.start,
        ends_by=again.ends_by,
        profile=scenario.profile.name,
        rate=draft.rate,
        frequency_cap=draft.frequency_cap,
    )
    assert sends == expected


def test_templates_params_tags_and_prompts_round_trip() -> None:
    contact = person(
        "c1",
        phone="+34612345678",
        identities=[ident("wa-1", K.WHATSAPP, "34612345678")],
        first_name="Zoë",
    )
    draft = make_draft(
        {
            K.WHATSAPP: messages(
                "Hi {{first_name}}", template="offer", template_params={"name": "{{first_name}}"}
            )
        },
        [Sender("wa-1", K.WHATSAPP)],
        rate=Rate(messages=5, per=timedelta(hours=1)),
        frequency_cap=FrequencyCap(messages=3, period=timedelta(days=7)),
    )
    expected = [
        s for o in plan_broadcast(draft, [contact], profile=LIVETEX, now=NOW) for s in o.sends
    ]
    header, sends = read_all(plan_text(draft, [contact], profile=LIVETEX))
    assert sends == expected
    assert sends[0].template == "offer"
    assert header.rate == Rate(messages=5, per=timedelta(hours=1))
    assert header.frequency_cap == FrequencyCap(messages=3, period=timedelta(days=7))
    held = person("h1", phone="+34612340001")
    _, prompts = read_all(plan_text(sms_draft(), [held]))
    assert [s.kind.value for s in prompts] == ["prompt", "reminder"]


def read_stream(stream: Any) -> tuple[PlanHeader, list[Any]]:
    header, sends = read_plan(stream)
    return header, list(sends)


def lines_of(count: int = 3) -> list[str]:
    return plan_text(sms_draft(), sms_contacts(count)).splitlines(keepends=True)


def test_a_file_cut_short_is_refused_at_its_end() -> None:
    # SPEC X5: no summary line -> the sends read so far came, then the error
    lines = lines_of(3)
    assert json.loads(lines[-1])["type"] == "summary"
    header, sends = read_plan(io.StringIO("".join(lines[:-1])))
    assert header.broadcast_id == "bc-1"
    got = [next(sends) for _ in range(3)]
    assert [send.contact_id for send in got] == ["c0", "c1", "c2"]
    with pytest.raises(PlanFileError) as caught:
        next(sends)
    assert caught.value.line == 4
    assert "cut short" in str(caught.value)
    assert "plan line 4" in str(caught.value)


def test_a_line_cut_in_the_middle_names_its_line() -> None:
    lines = lines_of(3)
    text = "".join(lines[:2]) + lines[2][: len(lines[2]) // 2]
    with pytest.raises(PlanFileError) as caught:
        read_all(text)
    assert caught.value.line == 3


def test_the_dispatcher_sends_nothing_of_a_cut_plan() -> None:
    # SPEC X5: a partial plan is never taken for a whole one
    store = MemoryStore()
    world = World(store)
    transport = world.transport()
    text = "".join(lines_of(3)[:-1])
    with pytest.raises(PlanFileError):
        world.dispatcher(transport).run(io.StringIO(text))
    assert transport.requests == []
    assert list(store.scan_records("ledger", "bc-1")) == []


def edit_send(field: str, value: Any) -> str:
    lines = lines_of(2)
    data = json.loads(lines[2])
    data["sends"][0][field] = value
    lines[2] = json.dumps(data) + "\n"
    return "".join(lines)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("number", 0, "number"),
        ("number", True, "number"),
        ("kind", "bogus", "kind"),
        ("channel", "pigeon", "channel"),
        ("mode", None, "mode"),
        ("key", "", "key"),
        ("key", 5, "key"),
        ("contact_id", None, "contact_id"),
        ("not_before", "2026-12-01T12:00:00", "no UTC offset"),
        ("not_before", "tomorrow", "not_before"),
        ("not_before", 17, "not_before"),
        ("paid", "no", "paid"),
        ("text", None, "text"),
        ("params", {"a": 1}, "params"),
        ("params", ["a"], "params"),
        ("template", 3, "template"),
    ],
)
def test_a_bad_send_names_its_line(field: str, value: Any, words: str) -> None:
    with pytest.raises(PlanFileError, match=words) as caught:
        read_all(edit_send(field, value))
    assert caught.value.line == 3
    assert str(caught.value).startswith("plan line 3: ")


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("not json\n", "not a JSON object"),
        ("[1, 2]\n", "not a JSON object"),
        ('{"type": "other"}\n', "expected an outcome"),
        ('{"type": "outcome", "sends": {}}\n', "sends"),
        ('{"type": "outcome", "sends": [1]}\n', "object"),
        ("[" * 100_000 + "\n", "not a JSON object"),
    ],
)
def test_a_bad_line_names_its_number(line: str, words: str) -> None:
    lines = lines_of(2)
    lines.insert(2, line)
    with pytest.raises(PlanFileError, match=words) as caught:
        read_all("".join(lines))
    assert caught.value.line == 3


def test_blank_lines_are_skipped_but_counted() -> None:
    lines = lines_of(2)
    lines.insert(1, "\n")
    lines.insert(3, "   \n")
    _, sends = read_all("".join(lines))
    assert len(sends) == 2
    bad = lines_of(2)
    bad.insert(1, "\n")
    bad.insert(2, "oops\n")
    with pytest.raises(PlanFileError) as caught:
        read_all("".join(bad))
    assert caught.value.line == 3


def header_with(**changes: Any) -> str:
    lines = lines_of(1)
    data = json.loads(lines[0])
    data.update(changes)
    lines[0] = json.dumps(data) + "\n"
    return "".join(lines)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"type": "outcome"}, "plan header"),
        ({"broadcast_id": ""}, "broadcast_id"),
        ({"start": None}, "start"),
        ({"ends_by": "2026-12-08T12:00:00"}, "no UTC offset"),
        ({"rate": 5}, "rate"),
        ({"rate": {"messages": 0, "per_seconds": 60}}, "rate.messages"),
        ({"rate": {"messages": 1, "per_seconds": -1}}, "rate.per_seconds"),
        ({"rate": {"messages": 1, "per_seconds": True}}, "rate.per_seconds"),
        ({"rate": {"messages": 1, "per_seconds": 1e300}}, "rate.per_seconds"),
        ({"frequency_cap": {"messages": 1.5, "period_seconds": 60}}, "frequency_cap"),
        ({"frequency_cap": []}, "frequency_cap"),
        ({"profile": 7}, "profile"),
    ],
)
def test_a_bad_header_names_line_one(changes: dict[str, Any], words: str) -> None:
    with pytest.raises(PlanFileError, match=words) as caught:
        read_plan(io.StringIO(header_with(**changes)))
    assert caught.value.line == 1


def test_an_empty_file_and_a_file_of_blank_lines_are_refused() -> None:
    for text in ("", "\n\n  \n"):
        with pytest.raises(PlanFileError, match="empty") as caught:
            read_plan(io.StringIO(text))
        assert caught.value.line == 1


def test_a_line_too_long_is_refused_without_reading_it_whole() -> None:
    lines = lines_of(1)
    lines.insert(1, "x" * (MAX_LINE + 10) + "\n")
    with pytest.raises(PlanFileError, match="longer than") as caught:
        read_all("".join(lines))
    assert caught.value.line == 2


def test_bytes_that_are_not_utf8_are_refused(tmp_path: Path) -> None:
    # The text stream decodes ahead of the reader (by chunks): the line named is the
    # first one the reader could not get, at or before the bad one.
    lines = lines_of(200)
    path = tmp_path / "plan.jsonl"
    bad = b'{"type": "outc\xff\xfe"}\n'
    path.write_bytes("".join(lines[:150]).encode() + bad + "".join(lines[150:]).encode())
    with (
        path.open(encoding="utf-8") as stream,
        pytest.raises(PlanFileError, match="UTF-8") as caught,
    ):
        read_stream(stream)
    assert 1 <= caught.value.line <= 151
    path.write_bytes(b"\xff\xfe\n")
    with path.open(encoding="utf-8") as stream, pytest.raises(PlanFileError) as caught:
        read_plan(stream)
    assert caught.value.line == 1


def test_a_plan_file_on_disk_is_read_lazily(tmp_path: Path) -> None:
    path = tmp_path / "plan.jsonl"
    path.write_text(plan_text(sms_draft(), sms_contacts(5)), encoding="utf-8")
    with path.open(encoding="utf-8") as stream:
        header, sends = read_plan(stream)
        first = next(sends)
        assert first.contact_id == "c0"
        assert len([first, *sends]) == 5
    assert header.profile == EXPERTCONNECT.name


@pytest.mark.parametrize("stream", [None, "a path", b"bytes", 3, ["lines"]])
def test_read_plan_wants_a_text_stream(stream: Any) -> None:
    with pytest.raises(InputError, match="stream"):
        read_plan(stream)


def test_plan_file_error_is_an_input_error() -> None:
    error = PlanFileError(7, "bad")
    assert isinstance(error, InputError)
    assert (error.line, str(error)) == (7, "plan line 7: bad")
