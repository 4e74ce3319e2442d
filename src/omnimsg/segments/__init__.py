"""Segments: the filter language that says who a broadcast goes to (SPEC A1, A2).

Parse segment JSON with :func:`parse_segment`, evaluate it with :func:`compile_segment`
or :func:`filter_contacts`, push it down to a database with
:mod:`omnimsg.segments.sql` (optional extra ``sql``; not imported here). The tables it
compiles against and their loader are in :mod:`omnimsg.stores.sql`.
"""

from omnimsg.segments.casefold import fold_case
from omnimsg.segments.compiler import (
    ContactPredicate,
    compile_segment,
    filter_contacts,
    predicate_source,
)
from omnimsg.segments.fields import FieldType, Operator, Period, PeriodUnit
from omnimsg.segments.model import (
    MAX_DEPTH,
    MAX_LIST_ITEMS,
    AllGroup,
    AnyGroup,
    Condition,
    Node,
    NotGroup,
    Segment,
)
from omnimsg.segments.parse import parse_segment
from omnimsg.segments.schema import segment_json_schema
from omnimsg.segments.walk import MAX_TERMS

__all__ = [
    "MAX_DEPTH",
    "MAX_LIST_ITEMS",
    "MAX_TERMS",
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
]
