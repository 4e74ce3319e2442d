"""Every public function of omnimsg.audiences, given hostile values (issue 6, point 5).

Wrong types, ``None``, NUL, lone surrogates, deep nesting and 100,000-character
strings go into every argument of every public function and constructor, one
argument at a time with the others valid. Each call returns, or raises an omnimsg
error, within a bounded time: never ``TypeError``, ``AttributeError``,
``UnicodeError`` or ``ValueError`` from the standard library. Today's code let
``AttributeError`` out of ``import_contacts_csv(b"...")`` and of
``CsvImportOptions(default_region=5)``, among others.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable, Collection, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import omnimsg.audiences as audiences
from omnimsg.audiences import (
    CsvImportOptions,
    CsvImportReport,
    IdAudience,
    IdList,
    RejectedId,
    RejectedRow,
    RejectedRowWriter,
    RowProblem,
    WhatsAppMatch,
    derive_contact_id,
    find_whatsapp_contact,
    id_problem,
    import_contacts_csv,
    import_contacts_csv_file,
    neutralize_formula,
    parse_id_list,
    resolve_id_list,
    write_rejected_rows,
    write_rejected_rows_file,
)
from omnimsg.contacts import ChannelIdentity, Contact
from omnimsg.errors import AudienceError, InputError, OmnimsgError
from omnimsg.stores.memory import MemoryContactStore

BOUND = 2.0
LONG = 100_000


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


class Exploding:
    """An object whose every dunder used by a careless check raises."""

    def __repr__(self) -> str:
        raise RuntimeError("repr of a hostile value")

    def __str__(self) -> str:
        raise RuntimeError("str of a hostile value")


HOSTILE: list[object] = [
    None,
    0,
    -1,
    2**80,
    1.5,
    float("nan"),
    True,
    b"phone\n+12122000001\n",
    bytearray(b"x"),
    memoryview(b"x"),
    "",
    "\x00",
    "\ud800",
    "\udcff",
    "x" * LONG,
    "=" * LONG,
    "\u200b" * LONG,
    [],
    ["\x00"],
    [b"phone"],
    [None],
    [["phone"]],
    nested(10_000),
    {},
    {"a": 1},
    {"phone": None},
    object(),
    Exploding(),
    print,
    datetime.max.replace(tzinfo=UTC),
    Path("/"),
]
IDS = [type(v).__name__ + (f"-{len(v)}" if isinstance(v, str | bytes) else "") for v in HOSTILE]


def a_report() -> CsvImportReport:
    sink = MemoryContactStore()
    return import_contacts_csv(io.StringIO("phone,first_name\nbad,=x\n", newline=""), sink)


def a_row() -> RejectedRow:
    return a_report().rejected[0]


def call_with(function: Callable[..., object], args: dict[str, object]) -> None:
    positional = [v for k, v in args.items() if k.startswith("_")]
    keywords = {k: v for k, v in args.items() if not k.startswith("_")}
    function(*positional, **keywords)


def only(option: str) -> Callable[[], dict[str, object]]:
    """Arguments of CsvImportOptions: only ``option``, which each hostile value replaces."""
    return lambda: {option: None}


# Each case: a name, the function, and valid arguments (names starting with "_" are
# positional, in order). Every argument in turn is replaced by each hostile value.
CASES: list[tuple[str, Callable[..., object], Callable[[], dict[str, object]]]] = [
    ("parse_id_list", parse_id_list, lambda: {"_text": "v-1 v-2"}),
    (
        "resolve_id_list",
        resolve_id_list,
        lambda: {
            "_ids": "v-1",
            "account_id": "wa",
            "source": MemoryContactStore(),
            "max_id_length": 10,
        },
    ),
    ("id_problem", id_problem, lambda: {"_value": "v-1", "_max_length": 5}),
    (
        "find_whatsapp_contact",
        find_whatsapp_contact,
        lambda: {
            "_source": MemoryContactStore([Contact(id="c1", phone="+525512345678")]),
            "_account_id": "wa-1",
            "_wa_id": "5215512345678",
        },
    ),
    (
        "WhatsAppMatch",
        WhatsAppMatch,
        lambda: {
            "contact": Contact(id="c1", phone="+525512345678"),
            "identity": ChannelIdentity(
                account_id="wa-1", channel="whatsapp", external_id="5215512345678"
            ),
            "matched_by": "phone",
            "stored_id": None,
        },
    ),
    ("derive_contact_id", derive_contact_id, lambda: {"_phone": "+12122000001", "_email": None}),
    ("neutralize_formula", neutralize_formula, lambda: {"_cell": "=1", "_delimiter": ";"}),
    *[
        (f"CsvImportOptions.{name}", CsvImportOptions, only(name))
        for name in (
            "mapping",
            "custom_types",
            "unknown_columns",
            "default_region",
            "dedupe",
            "naive_timezone",
            "delimiter",
            "tag_separators",
            "keep_rejected",
        )
    ],
    (
        "import_contacts_csv",
        import_contacts_csv,
        lambda: {
            "_source": io.StringIO("phone\n+12122000001\n", newline=""),
            "_sink": MemoryContactStore(),
            "_options": None,
            "on_rejected": None,
            "dedupe_index": None,
        },
    ),
    (
        "import_contacts_csv_file",
        import_contacts_csv_file,
        lambda: {
            "_path": "contacts.csv",
            "_sink": MemoryContactStore(),
            "_options": None,
            "encoding": "utf-8",
            "on_rejected": None,
            "dedupe_index": None,
        },
    ),
    (
        "write_rejected_rows",
        write_rejected_rows,
        lambda: {"_report": a_report(), "_stream": io.StringIO(), "delimiter": None},
    ),
    (
        "write_rejected_rows_file",
        write_rejected_rows_file,
        lambda: {"_report": a_report(), "_path": "rejected.csv", "encoding": "utf-8"},
    ),
    (
        "RejectedRowWriter",
        RejectedRowWriter,
        lambda: {"_stream": io.StringIO(), "_header": ("a",), "delimiter": None},
    ),
    ("RejectedRowWriter()", RejectedRowWriter(io.StringIO()), lambda: {"_row": a_row()}),
    (
        "RejectedRowWriter.write_header",
        RejectedRowWriter(io.StringIO()).write_header,
        lambda: {"_header": ("a",)},
    ),
    ("IdList", IdList, lambda: {"ids": ("v-1",), "read": 1, "duplicates": 0}),
    (
        "RejectedId",
        RejectedId,
        lambda: {"id": "v", "reason": "unknown_id", "message": "m", "accounts": ()},
    ),
    (
        "IdAudience",
        IdAudience,
        lambda: {
            "account_id": "wa",
            "contacts": (Contact(id="a"),),
            "rejected": (),
            "read": 1,
            "duplicate_ids": 0,
            "duplicate_contacts": 0,
        },
    ),
    ("RowProblem", RowProblem, lambda: {"code": "invalid_phone", "message": "m", "column": None}),
    (
        "RejectedRow",
        RejectedRow,
        lambda: {
            "line": 2,
            "end_line": 2,
            "cells": ("a",),
            "problems": (),
            "header": ("h",),
            "delimiter": ",",
        },
    ),
    (
        "CsvImportReport",
        CsvImportReport,
        lambda: {
            "header": ("phone",),
            "columns": {"phone": "phone"},
            "rows_read": 0,
            "imported": 0,
            "merged": 0,
            "rejected_count": 0,
            "blank_rows": 0,
            "rejected": (),
            "delimiter": ",",
        },
    ),
]
ARGUMENTS = [
    (name, function, valid, argument) for name, function, valid in CASES for argument in valid()
]


def test_every_public_name_has_a_hostile_case() -> None:
    """Issue 6.5: a public function added later must join the cases above."""
    covered = {name.split(".")[0].rstrip("()") for name, _, _ in CASES}
    values = {"CONTACT_FIELDS", "MAX_ID_LENGTH", "REJECT_REASON_COLUMN"}
    enums = {"IdRejection", "RowRejection", "UnknownColumns", "WhatsAppMatchKind"}
    assert set(audiences.__all__) - values - enums == covered


@pytest.mark.parametrize(
    ("name", "function", "valid", "argument"),
    ARGUMENTS,
    ids=[f"{name}-{argument.lstrip('_')}" for name, _, _, argument in ARGUMENTS],
)
@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_hostile_values_raise_only_omnimsg_errors_in_bounded_time(
    name: str,
    function: Callable[..., object],
    valid: Callable[[], dict[str, object]],
    argument: str,
    value: object,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 6.5 (fuzz): only OmnimsgError escapes, within 2 s of CPU time."""
    monkeypatch.chdir(tmp_path)  # relative paths among the values stay in tmp_path
    (tmp_path / "contacts.csv").write_text("phone\n+12122000001\n", encoding="utf-8")
    args = valid()
    args[argument] = value
    started = time.process_time()
    with contextlib.suppress(OmnimsgError):
        call_with(function, args)
    assert time.process_time() - started < BOUND


def test_bytes_are_refused_with_a_documented_error() -> None:
    """SPEC A5, issue 6.5: import_contacts_csv(b"...") raised AttributeError before."""
    with pytest.raises(InputError, match="decode bytes first"):
        import_contacts_csv(b"phone\n+12122000001\n", MemoryContactStore())  # type: ignore[arg-type]


def test_a_stream_opened_in_binary_mode_is_refused_naming_the_line() -> None:
    """SPEC A5: a binary file gives bytes lines; the error says to open it in text mode."""
    with pytest.raises(InputError, match=r"^line 1: .* not text; open the file in text mode"):
        import_contacts_csv(io.BytesIO(b"phone\n+12122000001\n"), MemoryContactStore())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("phone,na\x00me", "column 2 holds a NUL character"),
        ("phone,n\udce4me", "column 2 holds bytes that are not valid text"),
        ("\x00,phone", "column 1 holds a NUL character"),
    ],
)
def test_a_header_cell_with_a_nul_or_bad_bytes_is_refused_like_a_row(
    header: str, words: str
) -> None:
    """SPEC A5, issue 6.5: such a header cell was silently mapped (to a custom field)
    while the same bytes in a row reject it; now the header is refused, naming the column."""
    sink = MemoryContactStore()
    options = CsvImportOptions(unknown_columns="custom")
    with pytest.raises(AudienceError, match=words):
        import_contacts_csv(io.StringIO(header + "\n+12122000001,x\n", newline=""), sink, options)
    assert len(sink) == 0


class BrokenSource:
    """A contact source that answers with the wrong types."""

    def __init__(self, found: object, accounts: object) -> None:
        self.found = found
        self.accounts = accounts

    def iter_contacts(self) -> Iterator[Contact]:
        return iter(())

    def get_contact(self, contact_id: str, /) -> Contact | None:
        return None

    def find_identity(self, account_id: str, external_id: str, /) -> Any:
        return self.found

    def accounts_for(self, external_id: str, /) -> Any:
        return self.accounts


@pytest.mark.parametrize(
    ("found", "accounts"),
    [("ann", ()), (5, ()), (None, None), (None, 5), (None, "wa"), (None, [1]), (None, iter(()))],
)
def test_a_source_answering_with_wrong_types_is_an_input_error(
    found: object, accounts: Collection[str]
) -> None:
    """SPEC A4: a source that returns something else than contacts and account ids."""
    with pytest.raises(InputError, match="source"):
        resolve_id_list("v-1", account_id="wa", source=BrokenSource(found, accounts))


TEXT = st.text(st.characters(), max_size=40)


@given(TEXT, st.sampled_from([",", ";", "\t", "|", " ", "\u00a0", "-", "="]))
def test_any_text_is_neutralised_and_restored_without_error(cell: str, delimiter: str) -> None:
    """SPEC A5 (property): any text, surrogates included, goes through the guard and back."""
    from omnimsg.audiences.formula import guard_patterns

    guarded = neutralize_formula(cell, delimiter)
    assert guard_patterns(delimiter)[1].sub("", guarded) == cell


@given(st.lists(TEXT, max_size=5), TEXT)
def test_any_text_is_an_id_list_or_an_input_error(chunks: list[str], account: str) -> None:
    """SPEC A3, A4 (property): arbitrary pasted text resolves or is refused as input."""
    try:
        resolve_id_list(chunks, account_id=account, source=MemoryContactStore())
    except InputError:
        assert not account


def test_the_hostile_values_include_what_issue_6_names() -> None:
    """Issue 6.5: wrong types, None, NUL, lone surrogates, deep nesting, huge strings."""
    kinds = {type(v) for v in HOSTILE}
    assert {type(None), bytes, str, list, dict, int, float} <= kinds
    assert any(isinstance(v, str) and len(v) == LONG for v in HOSTILE)
    assert "\ud800" in HOSTILE
    assert "\x00" in HOSTILE
    assert any(isinstance(v, list) and v and isinstance(v[0], list) for v in HOSTILE)
