"""The public names of omnimsg.segments: one obvious path per name (SPEC A1, A2)."""

from __future__ import annotations

import omnimsg.segments
import omnimsg.segments.sql

LANGUAGE = {
    "AllGroup",
    "AnyGroup",
    "Condition",
    "ContactPredicate",
    "FieldType",
    "Node",
    "NotGroup",
    "Operator",
    "Period",
    "PeriodUnit",
    "Segment",
    "compile_segment",
    "filter_contacts",
    "fold_case",
    "parse_segment",
    "predicate_source",
    "segment_json_schema",
}


def isort_order(names: list[str]) -> list[str]:
    """Constants, then classes, then functions, each alphabetical (ruff RUF022)."""
    return sorted(names, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n))


def test_the_segment_language_is_exported_from_the_package() -> None:
    """SPEC A1: the language, its compilers and its schema are one import away."""
    exported = omnimsg.segments.__all__
    assert exported == isort_order(exported)
    assert set(exported) >= LANGUAGE
    assert all(hasattr(omnimsg.segments, name) for name in exported)


def test_the_sql_module_exports_its_names() -> None:
    """SPEC A2: the SQL pushdown lives in its own module (optional extra)."""
    exported = omnimsg.segments.sql.__all__
    assert exported == isort_order(exported)
    assert {"select_contact_ids", "segment_clause", "install_sqlite_functions"} <= set(exported)
    assert all(hasattr(omnimsg.segments.sql, name) for name in exported)
