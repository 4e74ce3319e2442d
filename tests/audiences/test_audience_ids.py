"""Pasted id lists: parsing (SPEC A3) and resolution against a channel account (SPEC A4)."""

from __future__ import annotations

from collections.abc import Collection, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnimsg.audiences import (
    MAX_ID_LENGTH,
    IdList,
    IdRejection,
    id_problem,
    parse_id_list,
    resolve_id_list,
)
from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact
from omnimsg.errors import InputError
from omnimsg.stores.memory import MemoryContactStore

WA = "wa-main"
WA2 = "wa-support"


def contact(cid: str, *identities: tuple[str, str]) -> Contact:
    return Contact(
        id=cid,
        identities=tuple(
            ChannelIdentity(account_id=a, channel=ChannelKind.WHATSAPP, external_id=e)
            for a, e in identities
        ),
    )


ANN = contact("ann", (WA, "v-1"))
BOB = contact("bob", (WA, "v-2"), (WA2, "s-9"))
CAT = contact("cat", (WA2, "v-3"))


class RecordingSource:
    """A fake contact source over a dict that records every identity asked for.

    It knows nothing of other accounts (``accounts_for`` is empty), as a source
    that cannot search by external id alone.
    """

    def __init__(self, contacts: dict[tuple[str, str], Contact]) -> None:
        self.contacts = contacts
        self.calls: list[tuple[str, str]] = []

    def iter_contacts(self) -> Iterator[Contact]:
        return iter(self.contacts.values())

    def get_contact(self, contact_id: str, /) -> Contact | None:
        return next((c for c in self.contacts.values() if c.id == contact_id), None)

    def find_identity(self, account_id: str, external_id: str, /) -> Contact | None:
        self.calls.append((account_id, external_id))
        return self.contacts.get((account_id, external_id))

    def accounts_for(self, external_id: str, /) -> Collection[str]:
        return ()


# ---------------------------------------------------------------- A3: parsing


def test_parse_splits_on_any_mix_of_newlines_spaces_commas_and_semicolons() -> None:
    """SPEC A3: newlines, spaces, commas and semicolons (and tabs, CRLF) separate ids."""
    text = "v-1\nv-2 v-3,v-4;v-5\tv-6\r\nv-7 ,; \r\n\r\n v-8"
    assert parse_id_list(text).ids == tuple(f"v-{i}" for i in range(1, 9))


def test_parse_counts_a_repeated_id_once_and_keeps_first_seen_order() -> None:
    """SPEC A3: duplicates count once; the report says how many were dropped."""
    parsed = parse_id_list("b, a; b\na c b")
    assert parsed == IdList(ids=("b", "a", "c"), read=6, duplicates=3)


def test_parse_ignores_empty_pieces_and_blank_text() -> None:
    """SPEC A3: runs of separators make no empty ids."""
    assert parse_id_list(" ,,;;\n\n\t ") == IdList(ids=(), read=0, duplicates=0)
    assert parse_id_list("") == IdList(ids=(), read=0, duplicates=0)


def test_parse_compares_ids_exactly() -> None:
    """SPEC A3: ids are platform ids; case differs means a different id."""
    assert parse_id_list("AbC abc ABC").ids == ("AbC", "abc", "ABC")


def test_parse_drops_a_byte_order_mark_at_the_start_only() -> None:
    """SPEC A3: a list read from a UTF-8 file with a BOM does not turn it into an id."""
    assert parse_id_list("\ufeffv-1 v-2").ids == ("v-1", "v-2")
    assert parse_id_list("v-1 \ufeffv-2").ids == ("v-1", "\ufeffv-2")


def test_parse_reads_chunks_as_separate_lines() -> None:
    """SPEC A3: an iterable (lines of a file) never glues the end of one chunk to the next."""
    assert parse_id_list(["v-1\n", "v-2", "v-3", "v-1"]).ids == ("v-1", "v-2", "v-3")


SEPARATOR = st.sampled_from([" ", "\n", "\r\n", "\t", ",", ";", "\r", "\u00a0", "\u2003"])
ID_CHARS = st.characters(
    blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs"),
    blacklist_characters=",;\ufeff",
)
AN_ID = st.text(ID_CHARS, min_size=1, max_size=12)


@given(
    ids=st.lists(AN_ID, max_size=30),
    gaps=st.lists(st.lists(SEPARATOR, min_size=1, max_size=3).map("".join), min_size=31),
    lead=st.lists(SEPARATOR, max_size=2).map("".join),
)
def test_parse_yields_exactly_the_distinct_ids_in_first_seen_order(
    ids: list[str], gaps: list[str], lead: str
) -> None:
    """SPEC A3 (property): any ids joined by any separator runs come back distinct, in order."""
    text = lead + "".join(i + g for i, g in zip(ids, gaps, strict=False))
    parsed = parse_id_list(text)
    assert parsed.ids == tuple(dict.fromkeys(ids))
    assert parsed.read == len(ids)
    assert parsed.duplicates == len(ids) - len(set(ids))


# ---------------------------------------------------------------- A4: resolution


def test_resolve_matches_contacts_of_the_account_in_list_order() -> None:
    """SPEC A4: every id with an identity on the account is matched, order kept."""
    audience = resolve_id_list(
        "v-2\nv-1", account_id=WA, source=MemoryContactStore([ANN, BOB, CAT])
    )
    assert audience.contacts == (BOB, ANN)
    assert audience.ok
    assert (audience.read, audience.duplicate_ids, audience.distinct_ids) == (2, 0, 2)


def test_resolve_reports_an_id_of_another_account_with_that_account() -> None:
    """SPEC A4: an id of another channel account is not sent to and is reported as such."""
    audience = resolve_id_list(
        "v-1 v-3 s-9", account_id=WA, source=MemoryContactStore([ANN, BOB, CAT])
    )
    assert audience.contacts == (ANN,)
    assert [(r.id, r.reason, r.accounts) for r in audience.rejected] == [
        ("v-3", IdRejection.OTHER_ACCOUNT, (WA2,)),
        ("s-9", IdRejection.OTHER_ACCOUNT, (WA2,)),
    ]
    assert "wa-support" in audience.rejected[0].message
    assert "wa-main" in audience.rejected[0].message
    assert not audience.ok


def test_resolve_reports_an_unknown_id() -> None:
    """SPEC A4: an id no contact has is reported, never dropped silently."""
    audience = resolve_id_list("v-1 nobody", account_id=WA, source=MemoryContactStore([ANN]))
    assert [(r.id, r.reason) for r in audience.rejected] == [("nobody", IdRejection.UNKNOWN_ID)]
    assert audience.rejected[0].message == "id 'nobody' is not a contact of account 'wa-main'"


def test_resolve_with_a_source_that_cannot_name_accounts_reports_them_as_unknown() -> None:
    """SPEC A4: a source that knows no other account still rejects the id, as unknown."""
    source = RecordingSource({(WA, "v-1"): ANN, (WA2, "v-3"): CAT})
    audience = resolve_id_list("v-1 v-3", account_id=WA, source=source)
    assert audience.contacts == (ANN,)
    assert [(r.id, r.reason) for r in audience.rejected] == [("v-3", IdRejection.UNKNOWN_ID)]
    assert source.calls == [(WA, "v-1"), (WA, "v-3")]


@pytest.mark.parametrize(
    "source", [{(WA, "v-1"): ANN}, lambda a, e: ANN, None, "wa-main", object()]
)
def test_resolve_refuses_what_is_not_a_contact_source(source: object) -> None:
    """SPEC A4: contacts come from a ContactSource (find_identity, accounts_for)."""
    with pytest.raises(InputError, match="source must be a ContactSource"):
        resolve_id_list("v-1", account_id=WA, source=source)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("piece", "words"),
    [
        ("x" * (MAX_ID_LENGTH + 1), "257 characters long"),
        ("v\x00-1", "U+0000 at position 2"),
        ("v-\u200b1", "U+200B at position 3"),
        ("v-1\x7f", "U+007F"),
    ],
)
def test_resolve_rejects_malformed_ids_without_asking_the_source(piece: str, words: str) -> None:
    """SPEC A4: too long or control/invisible characters: rejected as malformed, with words."""
    source = RecordingSource({(WA, piece): ANN})
    audience = resolve_id_list(IdList((piece,), 1, 0), account_id=WA, source=source)
    assert audience.contacts == ()
    (rejected,) = audience.rejected
    assert rejected.reason is IdRejection.MALFORMED_ID
    assert words in rejected.message
    assert source.calls == []


def test_malformed_id_limit_is_configurable() -> None:
    """SPEC A4: the length limit is a parameter."""
    audience = resolve_id_list(
        "v-1", account_id=WA, source=MemoryContactStore([ANN]), max_id_length=2
    )
    assert audience.rejected[0].reason is IdRejection.MALFORMED_ID
    assert id_problem("v-1") is None


def test_resolve_rejects_a_contact_the_source_returns_without_the_identity() -> None:
    """SPEC A4: belonging means an identity with this account and id, whatever the source says."""
    careless = RecordingSource({(WA, "v-3"): CAT, (WA, "zzz"): ANN})
    audience = resolve_id_list("v-3 zzz", account_id=WA, source=careless)
    assert audience.contacts == ()
    assert [(r.id, r.reason, r.accounts) for r in audience.rejected] == [
        ("v-3", IdRejection.OTHER_ACCOUNT, (WA2,)),
        ("zzz", IdRejection.UNKNOWN_ID, ()),
    ]
    assert "returned contact 'ann'" in audience.rejected[1].message


def test_resolve_counts_duplicates_and_keeps_each_contact_once() -> None:
    """SPEC A3: a repeated id, or two ids of one contact, still reach the contact once."""
    twice = contact("dan", (WA, "d-1"), (WA, "d-2"))
    audience = resolve_id_list("d-1 d-2 d-1", account_id=WA, source=MemoryContactStore([twice]))
    assert audience.contacts == (twice,)
    assert (audience.duplicate_ids, audience.duplicate_contacts) == (1, 1)


def test_resolve_refuses_an_empty_account() -> None:
    """SPEC A4: the chosen channel account is required."""
    with pytest.raises(InputError, match="account_id"):
        resolve_id_list("v-1", account_id="", source=MemoryContactStore())


def test_the_memory_store_refuses_one_identity_claimed_by_two_contacts() -> None:
    """SPEC A4: an id belongs to one contact per account; a store that says otherwise is bad."""
    with pytest.raises(InputError, match="'ann' and 'eve' both claim id 'v-1'"):
        MemoryContactStore([ANN, contact("eve", (WA, "v-1"))])
    store = MemoryContactStore([ANN, ANN, BOB])
    assert len(store) == 2
    assert set(store.accounts_for("s-9")) == {WA2}


ACCOUNTS = st.sampled_from([WA, WA2, "tg-bot"])


def keys(c: Contact) -> list[tuple[str, str]]:
    return [(i.account_id, i.external_id) for i in c.identities]


@st.composite
def directories(draw: st.DrawFn) -> tuple[list[Contact], list[str]]:
    """Contacts with identities on a few accounts, and a pasted list mixing their ids."""
    known = draw(st.lists(st.text("abc123", min_size=1, max_size=4), unique=True, max_size=12))
    contacts = [contact(f"c{n}", (draw(ACCOUNTS), external)) for n, external in enumerate(known)]
    pool = [*known, "unknown-1", "x" * 300, "bad\x01id"]
    return contacts, draw(st.lists(st.sampled_from(pool), max_size=25))


@given(directories(), st.booleans())
def test_resolve_accounts_for_every_pasted_id(
    data: tuple[list[Contact], list[str]], aware: bool
) -> None:
    """SPEC A3, A4 (property): each distinct id is matched or rejected; none disappears."""
    contacts, ids = data
    index = MemoryContactStore(contacts)
    source = index if aware else RecordingSource({k: c for c in contacts for k in keys(c)})
    audience = resolve_id_list(" ".join(ids), account_id=WA, source=source)
    distinct = list(dict.fromkeys(ids))
    matched = [i.external_id for c in audience.contacts if (i := c.identity_on(WA)) is not None]
    rejected_ids = [r.id for r in audience.rejected]
    assert matched == [i for i in distinct if i not in rejected_ids]
    assert rejected_ids == [i for i in distinct if i not in matched]
    assert audience.read == (
        audience.duplicate_ids
        + len(audience.contacts)
        + audience.duplicate_contacts
        + len(audience.rejected)
    )
    for rejected in audience.rejected:
        owners: Collection[str] = index.accounts_for(rejected.id)
        if rejected.reason is IdRejection.OTHER_ACCOUNT:
            assert aware
            assert set(rejected.accounts) == set(owners) - {WA}
        elif rejected.reason is IdRejection.UNKNOWN_ID:
            assert WA not in owners
            assert not aware or not owners
