"""Snippets: templates filled per contact, safely (SPEC C5)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnimsg.contacts import Contact
from omnimsg.errors import InputError, SnippetError
from omnimsg.policy.snippets import Placeholder, Snippet, contact_variables, parse_snippet


def fill(source: str, values: Mapping[str, object], **kwargs: str | None) -> str:
    return parse_snippet(source).fill(values, **kwargs)


# filling -----------------------------------------------------------------------------


def test_c5_variables_are_filled_per_contact() -> None:
    """SPEC C5: one snippet, a different text for each contact."""
    snippet = parse_snippet("Hola {{ first_name }}, tu pedido {{order}} está listo.")
    assert snippet.fill({"first_name": "Ana", "order": "A-17"}) == (
        "Hola Ana, tu pedido A-17 está listo."
    )
    assert snippet.fill({"first_name": "Luis", "order": 18}) == (
        "Hola Luis, tu pedido 18 está listo."
    )


def test_c5_dotted_paths_walk_nested_mappings() -> None:
    """SPEC C5."""
    values = {"contact": {"first_name": "Ana", "custom": {"plan": "Pro"}}}
    assert fill("{{ contact.first_name }} ({{contact.custom.plan}})", values) == "Ana (Pro)"


def test_c5_non_string_values_are_inserted_with_str() -> None:
    """SPEC C5."""
    when = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert fill("{{n}} {{x}} {{ok}} {{at}}", {"n": 3, "x": 2.5, "ok": True, "at": when}) == (
        f"3 2.5 True {when}"
    )


def test_c5_missing_variable_raises_naming_it_and_its_position() -> None:
    """SPEC C5: a clear error for a missing value."""
    snippet = parse_snippet("Hola\n  {{ first_name }}!")
    with pytest.raises(SnippetError, match=r"'first_name' at line 2, column 3") as info:
        snippet.fill({})
    assert "no value was given" in str(info.value)
    assert isinstance(info.value, InputError)
    assert isinstance(info.value, ValueError)


def test_c5_none_counts_as_missing() -> None:
    """SPEC C5: an unset field is missing, not the text 'None'."""
    with pytest.raises(SnippetError, match="its value is None"):
        fill("{{ first_name }}", {"first_name": None})


def test_c5_placeholder_fallback_replaces_a_missing_value() -> None:
    """SPEC C5: an explicit fallback for a missing value."""
    snippet = parse_snippet('Hola {{ first_name | "amigo" }}!')
    assert snippet.fill({}) == "Hola amigo!"
    assert snippet.fill({"first_name": None}) == "Hola amigo!"
    assert snippet.fill({"first_name": "Ana"}) == "Hola Ana!"


def test_c5_fallback_also_replaces_a_blank_value() -> None:
    """SPEC C5: 'Hola  !' is never what a fallback was written for."""
    snippet = parse_snippet("Hola {{ first_name | 'amigo' }}!")
    assert snippet.fill({"first_name": ""}) == "Hola amigo!"
    assert snippet.fill({"first_name": "  "}) == "Hola amigo!"


def test_c5_blank_value_without_fallback_is_inserted_as_is() -> None:
    """SPEC C5: a present value is used, even an empty one, when no fallback is given."""
    assert fill("[{{ a }}]", {"a": ""}) == "[]"


def test_c5_global_missing_applies_where_the_placeholder_has_no_fallback() -> None:
    """SPEC C5."""
    snippet = parse_snippet('{{ a }} {{ b | "B" }} {{ c }}')
    assert snippet.fill({"c": "C"}, missing="?") == "? B C"
    assert snippet.fill({}, missing="") == " B "


def test_c5_fallback_strings_take_escapes_and_any_braces() -> None:
    """SPEC C5: a quoted fallback may hold quotes (escaped) and '}}'."""
    assert fill('{{ a | "say \\"hi\\" }}" }}', {}) == 'say "hi" }}'
    assert fill("{{ a | 'it\\'s' }}", {}) == "it's"
    assert fill('{{ a | "" }}', {}) == ""


def test_c5_a_path_through_a_non_mapping_is_missing() -> None:
    """SPEC C5: no attribute access; a str has no keys."""
    with pytest.raises(SnippetError, match="contact is a str, not a mapping"):
        fill("{{ contact.first_name }}", {"contact": "Ana"})
    assert fill('{{ contact.first_name | "x" }}', {"contact": "Ana"}) == "x"


def test_c5_a_mapping_value_is_refused() -> None:
    """SPEC C5: a whole mapping is never printed as its repr."""
    with pytest.raises(SnippetError, match="is a mapping, not a value"):
        fill("{{ contact }}", {"contact": {"first_name": "Ana"}})


def test_c5_values_must_be_a_mapping() -> None:
    """SPEC C5."""
    with pytest.raises(SnippetError, match="must be a mapping"):
        parse_snippet("{{ a }}").fill(["a"])  # type: ignore[arg-type]


def test_c5_a_value_whose_str_fails_is_reported_as_a_snippet_error() -> None:
    """SPEC C5."""

    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    with pytest.raises(SnippetError, match="cannot be turned into text") as info:
        fill("{{ a }}", {"a": Broken()})
    assert isinstance(info.value.__cause__, RuntimeError)


# safety ------------------------------------------------------------------------------


class Trap:
    """A value that fails the test if anything but str() reaches into it."""

    def __getattribute__(self, name: str) -> object:
        if name == "__class__":
            return object.__getattribute__(self, name)
        raise AssertionError(f"attribute {name!r} was read")

    def __str__(self) -> str:
        return "trap"


class RecordingMapping(Mapping[str, object]):
    """A mapping that records which keys were asked for."""

    def __init__(self, data: dict[str, object]) -> None:
        self.data = data
        self.asked: list[str] = []

    def __getitem__(self, key: str) -> object:
        self.asked.append(key)
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


@pytest.mark.parametrize("name", ["__class__", "__dict__", "__globals__", "_private"])
def test_c5_dunder_names_are_plain_keys(name: str) -> None:
    """SPEC C5: '{{ __class__ }}' looks up the key '__class__' and nothing else."""
    with pytest.raises(SnippetError, match="no value was given"):
        fill(f"{{{{ {name} }}}}", {"first_name": "Ana"})
    assert fill(f"{{{{ {name} }}}}", {name: "just a key"}) == "just a key"


def test_c5_no_attribute_of_a_value_is_ever_read() -> None:
    """SPEC C5: '{{ a.__dict__ }}' does not reach the object's attributes."""
    with pytest.raises(SnippetError, match="a is a Trap, not a mapping"):
        fill("{{ a.__dict__ }}", {"a": Trap()})
    assert fill("{{ a }}", {"a": Trap()}) == "trap"


def test_c5_lookups_go_through_the_mapping_by_key_only() -> None:
    """SPEC C5: keys are the only way in."""
    inner = RecordingMapping({"first_name": "Ana"})
    outer = RecordingMapping({"contact": inner})
    assert fill("{{ contact.first_name }}", outer) == "Ana"
    assert (outer.asked, inner.asked) == (["contact"], ["first_name"])


@pytest.mark.parametrize(
    "value",
    ["{0.__class__}", "{first_name}", "{{ first_name }}", "%(first_name)s", "${first_name}"],
)
def test_c5_template_syntax_inside_values_is_inert(value: str) -> None:
    """SPEC C5: a value is inserted once, as text: never formatted or parsed again."""
    assert fill("[{{ a }}]", {"a": value, "first_name": "Ana"}) == f"[{value}]"


def test_c5_format_string_syntax_in_the_snippet_is_literal_text() -> None:
    """SPEC C5: single braces are text, not str.format fields."""
    assert fill("{0.__class__} {a} {{ a }}", {"a": "A"}) == "{0.__class__} {a} A"


# parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ 1+1 }}", r"malformed placeholder '\{\{ 1\+1 \}\}' at line 1, column 1"),
        ("Hola {{}}", "malformed placeholder.*column 6"),
        ("{{ a b }}", "malformed"),
        ("{{ a | b }}", "malformed"),  # fallbacks are quoted
        ("{{ a. }}", "malformed"),
        ("{{ .a }}", "malformed"),
        ("{{ 1a }}", "malformed"),
        ("{{ a() }}", "malformed"),
        ("{{ a[0] }}", "malformed"),
        ("{{ a | 'x }}", "malformed"),
        ("{{ a {{ b }}", "malformed"),
        ("Hola\n\n  {{ first_name", "unclosed placeholder at line 3, column 3"),
        ("{{", "unclosed placeholder at line 1, column 1"),
    ],
)
def test_c5_malformed_placeholders_are_refused_at_parse_time(source: str, message: str) -> None:
    """SPEC C5: a malformed placeholder is an error with its position."""
    with pytest.raises(SnippetError, match=message):
        parse_snippet(source)


def test_c5_parse_once_fill_many_keeps_parts_and_positions() -> None:
    """SPEC C5."""
    snippet = parse_snippet('Hi {{ contact.first_name | "there" }}!\n{{ plan }}')
    assert snippet.parts == (
        "Hi ",
        Placeholder(("contact", "first_name"), "there", '{{ contact.first_name | "there" }}', 1, 4),
        "!\n",
        Placeholder(("plan",), None, "{{ plan }}", 2, 1),
    )
    assert snippet.variables == ("contact.first_name", "plan")


def test_c5_variables_are_listed_once_in_order_of_first_use() -> None:
    """SPEC C5."""
    assert parse_snippet("{{b}}{{a}}{{b}}{{ c.d }}").variables == ("b", "a", "c.d")
    assert parse_snippet("no placeholders").variables == ()


def test_c5_backslash_keeps_double_braces_literal() -> None:
    """SPEC C5."""
    snippet = parse_snippet("\\{{ not a variable }} {{ a }}")
    assert snippet.variables == ("a",)
    assert snippet.fill({"a": "A"}) == "{{ not a variable }} A"


def test_c5_lone_closing_braces_and_single_braces_are_text() -> None:
    """SPEC C5."""
    assert fill("}} { } {x}", {}) == "}} { } {x}"
    assert fill("{{{ a }}}", {"a": "A"}) == "{A}"
    assert fill("{{{{a}}", {"a": "A"}) == "{{A"


def test_c5_names_may_use_unicode_letters_digits_and_dashes() -> None:
    """SPEC C5: custom fields named in any language, or with dashes, can be used."""
    assert fill(
        "{{ país }} {{ first-name }} {{ a_1 }}", {"país": "ES", "first-name": "Ana", "a_1": 1}
    ) == ("ES Ana 1")


def test_c5_snippet_is_frozen() -> None:
    """SPEC C5: parse once, share freely."""
    snippet = parse_snippet("{{ a }}")
    with pytest.raises(AttributeError):
        snippet.source = "x"  # type: ignore[misc]
    assert isinstance(snippet, Snippet)


def test_c5_a_non_string_source_is_refused() -> None:
    """SPEC C5."""
    with pytest.raises(SnippetError, match="must be a str"):
        parse_snippet(b"{{ a }}")  # type: ignore[arg-type]


# contacts ----------------------------------------------------------------------------


def test_c5_contact_variables_give_the_contact_fields_both_ways() -> None:
    """SPEC C5: contact name etc. filled per contact."""
    ana = Contact(id="c1", first_name="Ana", last_name="Gómez", custom={"plan": "Pro"})
    values = contact_variables(ana)
    snippet = parse_snippet(
        "{{ first_name }} / {{ contact.first_name }} / {{ name }} / {{ custom.plan }}"
        " / {{ contact.custom.plan }}"
    )
    assert snippet.fill(values) == "Ana / Ana / Ana Gómez / Pro / Pro"


def test_c5_unset_contact_fields_are_missing() -> None:
    """SPEC C5: a contact without a first name takes the fallback."""
    values = contact_variables(Contact(id="c2"))
    assert fill('Hola {{ first_name | "amigo" }}', values) == "Hola amigo"
    assert fill('{{ name | "-" }}', values) == "-"
    with pytest.raises(SnippetError):
        fill("{{ email }}", values)


# properties --------------------------------------------------------------------------

names = st.from_regex(r"[a-z_][a-z0-9_]{0,5}", fullmatch=True)
literal = st.text(alphabet=st.sampled_from(list("ab {}|\"'.\n0_$%é")), max_size=8).filter(
    lambda s: "{{" not in s and "\\" not in s
)
values_strategy = st.one_of(
    st.text(max_size=10),
    st.sampled_from(["{0.__class__}", "{{ a }}", "%s", "${a}", "\\{{"]),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
)


@given(
    st.lists(st.tuples(literal, names, st.none() | st.text(alphabet="xyz ", max_size=3))),
    literal,
    st.dictionaries(names, values_strategy),
)
def test_c5_filling_inserts_each_value_as_text(
    chunks: list[tuple[str, str, str | None]], tail: str, values: dict[str, object]
) -> None:
    """SPEC C5: the output is the literal text with each value inserted as str(value),
    or the fallback where a value is missing or blank, and nothing else."""
    source = ""
    expected = ""
    missing = False
    for text, name, fallback in chunks:
        source += text
        expected += text
        if fallback is None:
            source += "{{ " + name + " }}"
        else:
            source += "{{ " + name + ' | "' + fallback + '" }}'
        value = values.get(name)
        shown = None if value is None else str(value)
        if fallback is not None and (shown is None or not shown.strip()):
            expected += fallback
        elif shown is None:
            missing = True
        else:
            expected += shown
    source += tail
    expected += tail
    snippet = parse_snippet(source)
    if missing:
        with pytest.raises(SnippetError):
            snippet.fill(values)
    else:
        assert snippet.fill(values) == expected


nested_values: st.SearchStrategy[object] = st.recursive(
    st.none() | values_strategy,
    lambda inner: st.dictionaries(names, inner, max_size=3),
    max_leaves=8,
)


@given(
    st.text(alphabet=st.sampled_from(list("{}|\"'\\.ab_1 -\n")), max_size=30),
    st.dictionaries(names, nested_values, max_size=4),
    st.none() | st.text(max_size=3),
)
def test_c5_any_text_parses_or_fails_only_with_a_snippet_error(
    source: str, values: dict[str, object], missing: str | None
) -> None:
    """SPEC C5: parsing and filling raise nothing but SnippetError, whatever the input."""
    try:
        snippet = parse_snippet(source)
    except SnippetError:
        return
    try:
        out = snippet.fill(values, missing=missing)
    except SnippetError:
        return
    assert isinstance(out, str)
