"""Case-insensitive matching is one definition in Python, SQLite and PostgreSQL.

SPEC section 3: "case-insensitive matching is spelled out, never left to a collation";
SQLite's own lower()/LIKE fold ASCII only.
"""

from __future__ import annotations

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from omnimsg.segments.casefold import fold_case, fold_table, fold_table_strings
from omnimsg.segments.sql import fold_sql

from .conftest import Backend
from .strategies import TEXT_ALPHABET

texts = st.text(
    alphabet=st.one_of(
        st.sampled_from(TEXT_ALPHABET),
        st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
    ),
    max_size=12,
)


def test_folding_maps_case_variants_together() -> None:
    """SPEC section 3: Unicode case variants compare equal after folding."""
    assert fold_case("ÉLODIE") == fold_case("élodie") == "élodie"
    assert fold_case("ΣΟΦΙΑΣ") == fold_case("σοφιας") == "σοφιασ"
    assert fold_case("STRAẞE") == fold_case("straße")
    assert fold_case("\u212a") == "k"
    assert fold_case("ǅ") == fold_case("Ǆ") == "ǆ"


def test_folding_keeps_characters_without_a_one_to_one_fold() -> None:
    """SPEC section 3: ß stays ß and İ stays İ, so lengths never change."""
    assert fold_case("ß") == "ß"
    assert fold_case("İ") == "İ"
    assert fold_case("100%_\\'") == "100%_\\'"


def test_the_table_is_one_to_one_and_idempotent() -> None:
    """SPEC section 3: folding a folded string changes nothing."""
    table = fold_table()
    assert all(len(target) == 1 for target in table.values())
    assert all(ord(target) not in table for target in table.values())
    source, target = fold_table_strings()
    assert len(source) == len(target)
    assert all(ord(char) > 0x7F for char in source)


@given(texts)
def test_folding_preserves_length_and_is_idempotent(text: str) -> None:
    """SPEC section 3: substring and prefix tests mean the same before and after."""
    folded = fold_case(text)
    assert len(folded) == len(text)
    assert fold_case(folded) == folded


@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=12))
def test_ascii_folds_exactly_like_lower(text: str) -> None:
    """SPEC section 3: for ASCII the fold is the familiar lower-casing of A-Z."""
    assert fold_case(text) == text.lower()


def _fold_in(backend: Backend, values: list[str]) -> list[str]:
    with backend.engine.connect() as conn:
        row = conn.execute(sa.select(*(fold_sql(sa.literal(v, sa.Text)) for v in values))).one()
    return list(row)


@settings(max_examples=60)
@given(st.lists(texts, min_size=1, max_size=8))
def test_sqlite_and_postgres_fold_exactly_like_python(
    sqlite_backend: Backend, postgres_backend: Backend, values: list[str]
) -> None:
    """SPEC section 3: the same table folds text in all three places."""
    expected = [fold_case(v) for v in values]
    assert _fold_in(sqlite_backend, values) == expected
    assert _fold_in(postgres_backend, values) == expected
