"""A WhatsApp id and a phone number of one person find one contact (SPEC P16).

``+52 55 1234 5678`` imported from a CSV and an inbound from ``5215512345678`` are one
person; so are an Argentine mobile with and without its ``9`` and a Brazilian mobile
with and without its ninth digit. Inbounds find the contact (by id, by another id of
the person, or by phone) in the memory store, in a source with only the
ContactSource methods, and in SQL (SQLite and PostgreSQL); CSV imports merge the
rows of one person; the id the platform sent is the one kept for replies.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import phonenumbers
import pytest
import sqlalchemy as sa
from hypothesis import assume, given
from hypothesis import strategies as st
from sqlalchemy.pool import StaticPool

from omnimsg.audiences import CsvImportOptions, import_contacts_csv
from omnimsg.audiences.ids import WhatsAppMatch, WhatsAppMatchKind, find_whatsapp_contact
from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact, merge_contacts
from omnimsg.errors import InputError, OmnimsgError, PhoneNumberError
from omnimsg.phones import normalize_phone, whatsapp_ids
from omnimsg.protocols import ContactSource
from omnimsg.stores.memory import MemoryContactStore
from omnimsg.stores.sql import SqlContactSource, create_reference_schema, load_contacts

WA = "wa-1"
T1 = datetime(2024, 1, 5, 9, tzinfo=UTC)
T2 = datetime(2025, 3, 1, 18, tzinfo=UTC)

Make = Callable[[Iterable[Contact]], ContactSource]


def _wa(contact_id: str, wa_id: str, account: str = WA, **when: datetime) -> Contact:
    identity = ChannelIdentity(account, ChannelKind.WHATSAPP, wa_id, **when)
    return Contact(id=contact_id, identities=(identity,))


def _phone(contact_id: str, phone: str, region: str | None = None) -> Contact:
    return Contact.from_dict({"id": contact_id, "phone": phone}, default_region=region)


class PlainSource:
    """A ContactSource with the four protocol methods only (no P16 lookups)."""

    def __init__(self, contacts: Iterable[Contact]) -> None:
        self._store = MemoryContactStore(contacts)

    def iter_contacts(self) -> Iterator[Contact]:
        return self._store.iter_contacts()

    def get_contact(self, contact_id: str, /) -> Contact | None:
        return self._store.get_contact(contact_id)

    def find_identity(self, account_id: str, external_id: str, /) -> Contact | None:
        return self._store.find_identity(account_id, external_id)

    def accounts_for(self, external_id: str, /) -> Collection[str]:
        return self._store.accounts_for(external_id)


@pytest.fixture(scope="module")
def sqlite_engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine("sqlite://", poolclass=StaticPool)
    create_reference_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def postgres_schema(postgres_engine: Any) -> Iterator[sa.Engine]:
    schema = f"omnimsg_p16_{uuid.uuid4().hex[:12]}"
    with postgres_engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine: sa.Engine = postgres_engine.execution_options(schema_translate_map={None: schema})
    create_reference_schema(engine)
    try:
        yield engine
    finally:
        with postgres_engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


def _sql_maker(conn: sa.Connection) -> Make:
    def make(contacts: Iterable[Contact]) -> ContactSource:
        load_contacts(conn, contacts)
        return SqlContactSource(conn)

    return make


@pytest.fixture(params=["memory", "plain", "sqlite", "postgres"])
def make_source(request: pytest.FixtureRequest) -> Iterator[Make]:
    """Builds a source holding the contacts given: each kind of source in turn."""
    if request.param == "memory":
        yield MemoryContactStore
    elif request.param == "plain":
        yield PlainSource
    else:
        fixture = "sqlite_engine" if request.param == "sqlite" else "postgres_schema"
        engine: sa.Engine = request.getfixturevalue(fixture)
        with engine.connect() as conn, conn.begin() as transaction:
            yield _sql_maker(conn)
            transaction.rollback()


# --- an inbound finds its contact, per country, both ways ----------------------------------

# (stored phone as imported, default region, the ids WhatsApp may send for it)
COUNTRIES = {
    "mexico": ("+52 55 1234 5678", None, ("5215512345678", "525512345678")),
    "mexico national": ("55 1234 5678", "MX", ("5215512345678", "525512345678")),
    "mexico with the old 1": ("+52 1 55 1234 5678", None, ("5215512345678", "525512345678")),
    "argentina": ("+54 9 11 2345 6789", None, ("5491123456789", "541123456789")),
    "argentina without the 9": ("+54 11 2345 6789", None, ("5491123456789", "541123456789")),
    "argentina with 15": ("011 15 2345-6789", "AR", ("5491123456789", "541123456789")),
    "brazil": ("+55 11 98765 4321", None, ("5511987654321", "551187654321")),
    "brazil before the ninth digit": ("+55 11 8765 4321", None, ("5511987654321", "551187654321")),
}


@pytest.mark.parametrize("country", COUNTRIES)
def test_p16_an_inbound_finds_the_contact_imported_with_the_number(
    make_source: Make, country: str
) -> None:
    phone, region, wa_ids = COUNTRIES[country]
    source = make_source([_phone("c-1", phone, region), _phone("c-2", "+34612345678")])
    for wa_id in (*wa_ids, "+" + wa_ids[0]):
        match = find_whatsapp_contact(source, WA, wa_id)
        assert match is not None, wa_id
        assert match.contact.id == "c-1"
        assert match.matched_by is WhatsAppMatchKind.PHONE
        # replies go to the id the platform sent, never to a form of it
        assert match.identity == ChannelIdentity(WA, ChannelKind.WHATSAPP, wa_id)
        assert match.stored_id is None


@pytest.mark.parametrize("country", COUNTRIES)
def test_p16_an_inbound_finds_the_contact_by_another_id_of_the_person(
    make_source: Make, country: str
) -> None:
    _, _, (long_id, short_id) = COUNTRIES[country]
    pairs = ((long_id, short_id), (short_id, long_id), (long_id, "+" + short_id))
    # one account per pair: an SQL source keeps the contacts of earlier pairs
    source = make_source(
        [_wa(f"c-{n}", stored, f"wa-{n}", first_seen_at=T1) for n, (stored, _) in enumerate(pairs)]
    )
    for n, (stored, sent) in enumerate(pairs):
        match = find_whatsapp_contact(source, f"wa-{n}", sent)
        assert match is not None
        assert match.contact.id == f"c-{n}"
        assert match.matched_by is WhatsAppMatchKind.EQUIVALENT_ID
        assert match.stored_id == stored
        assert match.identity.external_id == sent
        assert match.identity.first_seen_at == T1


def test_p16_the_very_id_is_an_identity_match_with_nothing_to_update(make_source: Make) -> None:
    source = make_source([_wa("c-1", "5215512345678")])
    match = find_whatsapp_contact(source, WA, " 5215512345678 ")
    assert match is not None
    assert match.matched_by is WhatsAppMatchKind.IDENTITY
    assert match.identity.external_id == "5215512345678"
    assert match.update is None


def test_p16_an_id_held_on_the_account_wins_over_a_phone(make_source: Make) -> None:
    source = make_source(
        [
            _phone("a-by-phone", "+525512345678"),
            _wa("b-by-other-id", "525512345678"),
            _wa("c-other-account", "5215512345678", account="wa-2"),
        ]
    )
    match = find_whatsapp_contact(source, WA, "5215512345678")
    assert match is not None
    assert (match.contact.id, match.matched_by) == ("b-by-other-id", "equivalent_id")


def test_p16_the_id_as_sent_wins_over_another_form_held_by_another_contact(
    make_source: Make,
) -> None:
    # Two contacts already claim the person (data from before P16): the exact id wins.
    source = make_source([_wa("a", "525512345678"), _wa("b", "5215512345678")])
    match = find_whatsapp_contact(source, WA, "5215512345678")
    assert match is not None
    assert (match.contact.id, match.matched_by) == ("b", "identity")
    match = find_whatsapp_contact(source, WA, "525512345678")
    assert match is not None
    assert match.contact.id == "a"


def test_p16_a_phone_match_passes_over_contacts_with_another_id_on_the_account(
    make_source: Make,
) -> None:
    # "a" has the number but another WhatsApp id on this account: someone else's line
    # now, or a second number. "b" has no identity here; "c" only on another account.
    source = make_source(
        [
            Contact.from_dict(
                {
                    "id": "a",
                    "phone": "+525512345678",
                    "identities": [
                        {"account_id": WA, "channel": "whatsapp", "external_id": "34612345678"}
                    ],
                }
            ),
            Contact.from_dict(
                {
                    "id": "c",
                    "phone": "+525512345678",
                    "identities": [
                        {"account_id": "wa-2", "channel": "whatsapp", "external_id": "1"}
                    ],
                }
            ),
            _phone("b", "+525512345678"),
        ]
    )
    match = find_whatsapp_contact(source, WA, "5215512345678")
    assert match is not None
    assert match.contact.id == "b"  # the first by id among those without an identity here


def test_p16_a_contact_with_another_id_on_the_account_is_not_found_by_phone(
    make_source: Make,
) -> None:
    # Its WhatsApp id on this account is another line's: the number is not how it writes.
    holder = Contact.from_dict(
        {
            "id": "p",
            "phone": "+525512345678",
            "identities": [{"account_id": WA, "channel": "whatsapp", "external_id": "34612345678"}],
        }
    )
    source = make_source([holder])
    assert find_whatsapp_contact(source, WA, "5215512345678") is None
    match = find_whatsapp_contact(source, "wa-2", "5215512345678")
    assert match is not None
    assert match.contact.id == "p"


def test_p16_among_phones_the_form_sent_wins_then_the_smallest_id(make_source: Make) -> None:
    source = make_source(
        [
            _phone("z-with-9", "+5491123456789"),
            _phone("a-without-9", "+541123456789"),
            _phone("y-with-9", "+5491123456789"),
        ]
    )
    match = find_whatsapp_contact(source, WA, "5491123456789")
    assert match is not None
    assert match.contact.id == "y-with-9"
    match = find_whatsapp_contact(source, WA, "541123456789")
    assert match is not None
    assert match.contact.id == "a-without-9"


# --- not the same person --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "wa_id"),
    [
        ("+525512345678", "5215512345679"),  # Mexico: another number
        ("+525512345678", "5215512345670"),
        ("+5491123456789", "5491123456788"),  # Argentina: another number
        ("+551134567890", "5511934567890"),  # Brazil: a landline has no ninth digit
        ("+551134567890", "55119934567890"),
        ("+5511987654321", "5511987654322"),
        ("+34612345678", "5234612345678"),  # another country
        ("+525512345678", "525512345678" + "0"),
    ],
)
def test_p16_other_people_are_not_found(make_source: Make, phone: str, wa_id: str) -> None:
    source = make_source([_phone("c-1", phone), _wa("c-2", phone[1:] + "1", account="wa-9")])
    assert find_whatsapp_contact(source, WA, wa_id) is None


def test_p16_a_brazilian_landline_is_found_only_as_itself(make_source: Make) -> None:
    source = make_source([_phone("landline", "+55 11 3456 7890")])
    match = find_whatsapp_contact(source, WA, "551134567890")
    assert match is not None
    assert match.contact.id == "landline"
    assert find_whatsapp_contact(source, WA, "5511934567890") is None


# --- keeping the id the platform sent -----------------------------------------------------


def test_p16_the_update_keeps_the_id_the_platform_sent_in_the_store() -> None:
    store = MemoryContactStore([_wa("c-1", "525512345678", first_seen_at=T1, last_inbound_at=T1)])
    match = find_whatsapp_contact(store, WA, "5215512345678")
    assert match is not None
    assert match.update is not None
    assert match.update == Contact(id="c-1", identities=(match.identity,))
    store.merge("c-1", match.update)
    stored = store.get_contact("c-1")
    assert stored is not None
    assert stored.identities == (
        ChannelIdentity(WA, ChannelKind.WHATSAPP, "5215512345678", T1, T1),
    )
    assert store.find_identity(WA, "5215512345678") == stored
    assert store.find_identity(WA, "525512345678") is None
    assert not store.accounts_for("525512345678")
    again = find_whatsapp_contact(store, WA, "5215512345678")
    assert again is not None
    assert again.matched_by is WhatsAppMatchKind.IDENTITY


def test_p16_a_contact_found_by_phone_gains_the_identity() -> None:
    store = MemoryContactStore([_phone("c-1", "+55 11 98765 4321")])
    match = find_whatsapp_contact(store, WA, "551187654321")
    assert match is not None
    assert match.update is not None
    store.merge("c-1", match.update)
    assert store.find_identity(WA, "551187654321") == store.get_contact("c-1")


def test_p16_merging_puts_the_later_id_of_one_person_in_place_of_the_earlier() -> None:
    existing = _wa("c-1", "525512345678", first_seen_at=T1, last_inbound_at=T1)
    existing = merge_contacts(existing, _wa("c-1", "34612345678", account="wa-2"))
    incoming = _wa("c-1", "5215512345678", first_seen_at=T2, last_inbound_at=T2)
    merged = merge_contacts(existing, incoming)
    assert [i.external_id for i in merged.identities] == ["5215512345678", "34612345678"]
    assert merged.identities[0].first_seen_at == T1
    assert merged.identities[0].last_inbound_at == T2


@pytest.mark.parametrize(
    "incoming",
    [
        _wa("c-1", "5215512345678", account="wa-2"),  # another account
        _wa("c-1", "5215512345679"),  # another person
        Contact(  # another channel: the P16 rule is WhatsApp's
            id="c-1", identities=(ChannelIdentity(WA, ChannelKind.SMS, "5215512345678"),)
        ),
    ],
)
def test_p16_merging_adds_identities_of_other_accounts_people_and_channels(
    incoming: Contact,
) -> None:
    existing = _wa("c-1", "525512345678")
    merged = merge_contacts(existing, incoming)
    assert merged.identities == existing.identities + incoming.identities


# --- CSV import: rows of one person are one contact ---------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "region", "phone"),
    [
        ("+52 55 1234 5678", "+52 1 55 1234 5678", None, "+525512345678"),
        ("+52 1 55 1234 5678", "+525512345678", None, "+525512345678"),
        ("55 1234 5678", "5215512345678", "MX", "+525512345678"),
        ("+54 11 2345 6789", "+54 9 11 2345 6789", None, "+541123456789"),
        ("+54 9 11 2345 6789", "+54 11 2345 6789", None, "+5491123456789"),
        ("+55 11 8765 4321", "+55 11 98765 4321", None, "+5511987654321"),
        ("+55 11 98765 4321", "551187654321", "BR", "+5511987654321"),
    ],
)
def test_p16_csv_rows_of_one_person_merge(
    first: str, second: str, region: str | None, phone: str
) -> None:
    sink = MemoryContactStore()
    text = f"whatsapp,first_name,tags\n{first},Ana,a\n{second},,b\n"
    report = import_contacts_csv(
        io.StringIO(text, newline=""), sink, CsvImportOptions(default_region=region)
    )
    assert (report.imported, report.merged, report.rejected_count) == (1, 1, 0)
    (contact,) = sink.contacts
    assert (contact.phone, contact.first_name, contact.tags) == (phone, "Ana", {"a", "b"})


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("+55 11 3456 7890", "+55 11 93456 7890"),  # a landline and a mobile
        ("+52 55 1234 5678", "+52 55 1234 5679"),
        ("+54 9 11 2345 6789", "+54 9 11 2345 6780"),
    ],
)
def test_p16_csv_rows_of_two_people_stay_two(first: str, second: str) -> None:
    sink = MemoryContactStore()
    text = f"phone\n{first}\n{second}\n"
    report = import_contacts_csv(io.StringIO(text, newline=""), sink)
    assert (report.imported, report.merged) == (2, 0)


def test_p16_a_later_file_of_whatsapp_ids_merges_into_contacts_imported_before() -> None:
    sink = MemoryContactStore()
    index: dict[str, str] = {}
    crm = "id,phone,first_name\nc-ana,+52 55 1234 5678,Ana\nc-leo,+54 11 2345 6789,Leo\n"
    import_contacts_csv(io.StringIO(crm, newline=""), sink, dedupe_index=index)
    export = "WhatsApp,last_name\n+5215512345678,Ruiz\n+5491123456789,Paz\n"
    report = import_contacts_csv(io.StringIO(export, newline=""), sink, dedupe_index=index)
    assert (report.imported, report.merged) == (0, 2)
    assert [(c.id, c.last_name) for c in sink.contacts] == [("c-ana", "Ruiz"), ("c-leo", "Paz")]


# --- a property: every id WhatsApp may send finds the contact stored by E.164 -------------

_MX = st.builds(
    lambda area, rest: f"+52{area}{rest}",
    st.sampled_from(["55", "33", "81"]),
    st.integers(0, 10**8 - 1).map(lambda n: f"{n:08d}"),
) | st.builds(
    lambda area, rest: f"+52{area}{rest}",
    st.sampled_from(["222", "442", "664", "998"]),
    st.integers(0, 10**7 - 1).map(lambda n: f"{n:07d}"),
)
_AR = st.builds(
    lambda area, rest: f"+549{area}{rest[: 10 - len(area)]}",
    st.sampled_from(["11", "351", "341", "261", "2944"]),
    st.integers(0, 10**8 - 1).map(lambda n: f"{n:08d}"),
)
_BR = st.builds(
    lambda area, rest: f"+55{area}9{rest}",
    st.sampled_from(["11", "21", "31", "61", "71", "85", "91"]),
    st.integers(10**7, 10**8 - 1).map(str),
)


def _mobile(phone: str) -> bool:
    number = phonenumbers.parse(phone)
    kinds = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    return phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in kinds


def _found_from_every_id(source: ContactSource, e164: str) -> None:
    for wa_id in whatsapp_ids(e164):
        match = find_whatsapp_contact(source, WA, wa_id)
        assert match is not None, wa_id
        assert match.contact.id == "the-one"
        assert match.identity.external_id == wa_id


@given(_MX | _AR | _BR)
def test_p16_every_id_of_a_mobile_finds_the_contact_stored_by_e164(phone: str) -> None:
    assume(_mobile(phone))
    e164 = normalize_phone(phone)
    others = [_phone("another", "+34612345678"), _wa("someone", "34612345679")]
    _found_from_every_id(MemoryContactStore([_phone("the-one", e164), *others]), e164)
    _found_from_every_id(PlainSource([_phone("the-one", e164), *others]), e164)
    # and a contact holding any one of the ids is found from each of the others
    for held in whatsapp_ids(e164):
        _found_from_every_id(MemoryContactStore([_wa("the-one", held), *others]), e164)


@given(_MX | _AR | _BR)
def test_p16_the_sql_source_finds_the_same(sqlite_engine: sa.Engine, phone: str) -> None:
    assume(_mobile(phone))
    e164 = normalize_phone(phone)
    with sqlite_engine.connect() as conn, conn.begin() as transaction:
        held = whatsapp_ids(e164)[-1]
        source = _sql_maker(conn)([_phone("the-one", e164), _wa("x-held", held, account="wa-2")])
        _found_from_every_id(source, e164)
        for wa_id in whatsapp_ids(e164):
            match = find_whatsapp_contact(source, "wa-2", wa_id)
            assert match is not None
            assert match.contact.id == "x-held"
        transaction.rollback()


# --- SQL: one IN query per step, whatever the number of contacts --------------------------


def test_p16_sql_lookups_are_one_in_query_each(sqlite_engine: sa.Engine) -> None:
    def statements(count: int, wa_id: str) -> list[str]:
        seen: list[str] = []
        with sqlite_engine.connect() as conn, conn.begin() as transaction:
            contacts = [_phone(f"c-{n:04d}", f"+5255{n:08d}") for n in range(count)]
            contacts.append(_wa("held", "5215599999999"))
            source = _sql_maker(conn)(contacts)

            def record(*args: Any) -> None:
                seen.append(args[2])

            sa.event.listen(conn, "before_cursor_execute", record)
            assert find_whatsapp_contact(source, WA, wa_id) is not None
            sa.event.remove(conn, "before_cursor_execute", record)
            transaction.rollback()
        return seen

    for wa_id in ("5215500000002", "525599999999"):
        few, many = statements(3, wa_id), statements(300, wa_id)
        assert len(few) == len(many)
        lookups = [s for s in many if "GROUP BY" in s]
        assert all(" IN (" in s for s in lookups)
    assert len([s for s in statements(300, "5215500000002") if "GROUP BY" in s]) == 2


def test_p16_the_sql_source_refuses_more_than_a_thousand_values(sqlite_engine: sa.Engine) -> None:
    with sqlite_engine.connect() as conn:
        source = SqlContactSource(conn)
        with pytest.raises(InputError, match="at most 1000"):
            source.find_identities(WA, [str(n) for n in range(1001)])
        with pytest.raises(InputError, match="at most 1000"):
            source.find_by_phone([str(n) for n in range(1001)])


# --- hostile input ------------------------------------------------------------------------

HOSTILE = [None, 5, b"5215512345678", [], {}, "", "\x00", "521\x0055", "\ud800", "x" * 100_000]


@pytest.mark.parametrize("value", [*HOSTILE, "1" * 100_000, "+", "٥٢١٥٥١٢٣٤٥٦٧٨"])
def test_p16_a_hostile_id_is_a_phone_number_error(make_source: Make, value: object) -> None:
    source = make_source([_phone("c-1", "+525512345678")])
    started = time.perf_counter()
    with pytest.raises(PhoneNumberError):
        find_whatsapp_contact(source, WA, value)  # type: ignore[arg-type]
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize("value", HOSTILE)
def test_p16_hostile_accounts_and_sources_raise_omnimsg_errors_only(
    make_source: Make, value: object
) -> None:
    source = make_source([_phone("c-1", "+525512345678")])
    for call in (
        lambda: find_whatsapp_contact(source, value, "5215512345678"),  # type: ignore[arg-type]
        lambda: find_whatsapp_contact(value, WA, "5215512345678"),  # type: ignore[arg-type]
    ):
        started = time.perf_counter()
        try:
            found = call()
        except OmnimsgError:
            pass
        else:
            # any other text is an account without identities: the phone finds c-1
            assert isinstance(value, str)
            assert value
            assert found is not None
            assert found.contact.id == "c-1"
        assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@pytest.mark.parametrize("value", HOSTILE)
def test_p16_hostile_lookup_values_raise_omnimsg_errors_only(
    sqlite_engine: sa.Engine, kind: str, value: object
) -> None:
    with sqlite_engine.connect() as conn:
        source: Any = (
            MemoryContactStore([_phone("c-1", "+525512345678")])
            if kind == "memory"
            else SqlContactSource(conn)
        )
        for call in (
            lambda: source.find_identities(value, ["1"]),
            lambda: source.find_identities(WA, value),
            lambda: source.find_identities(WA, [value]),
            lambda: source.find_by_phone(value),
            lambda: source.find_by_phone([value]),
            lambda: source.find_by_phone(["+525512345678"], not_on_account=value),
        ):
            try:
                found = call()
            except OmnimsgError:
                continue
            assert found is None or found.id == "c-1"


def test_p16_a_source_that_answers_with_something_else_is_an_input_error() -> None:
    class Loose(PlainSource):
        def find_identities(self, account_id: str, ids: Collection[str], /) -> object:
            return "c-1"

    with pytest.raises(InputError, match="find_identities returned str"):
        find_whatsapp_contact(Loose([]), WA, "5215512345678")


def test_p16_a_loose_answer_counts_only_if_it_holds_the_id_or_the_phone() -> None:
    class Loose(PlainSource):
        def find_identity(self, account_id: str, external_id: str, /) -> Contact | None:
            return self._store.get_contact("c-1")

        def find_by_phone(self, phones: Collection[str], /, **_: object) -> Contact | None:
            return self._store.get_contact("c-1")

    source = Loose([_phone("c-1", "+34612345678")])
    assert find_whatsapp_contact(source, WA, "5215512345678") is None


def test_p16_a_match_is_a_checked_value() -> None:
    contact = _wa("c-1", "5215512345678")
    identity = contact.identities[0]
    match = WhatsAppMatch(contact, identity, "identity", "5215512345678")
    assert match.matched_by is WhatsAppMatchKind.IDENTITY
    with pytest.raises(InputError, match="matched_by"):
        WhatsAppMatch(contact, identity, "guess")
    with pytest.raises(InputError, match=r"WhatsAppMatch\.contact"):
        WhatsAppMatch(None, identity, "phone")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"WhatsAppMatch\.identity"):
        WhatsAppMatch(contact, "5215512345678", "phone")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"WhatsAppMatch\.stored_id"):
        WhatsAppMatch(contact, identity, "phone", 5)  # type: ignore[arg-type]
