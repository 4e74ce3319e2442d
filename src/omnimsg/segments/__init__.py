"""Segments and audiences: who a broadcast goes to (SPEC A1-A6).

Parse segment JSON with :func:`parse_segment`, evaluate it with :func:`compile_segment`
or :func:`filter_contacts`, push it down to a database with
:mod:`omnimsg.segments.sql` (optional extra ``sql``; not imported here). Build
audiences from pasted id lists (:func:`resolve_id_list`) and CSV imports
(:func:`import_contacts_csv`).
"""

from omnimsg.segments.audience import (
    MAX_ID_LENGTH,
    AccountAwareLookup,
    ContactIndex,
    ContactLookup,
    IdAudience,
    IdList,
    IdRejection,
    RejectedId,
    id_problem,
    parse_id_list,
    resolve_id_list,
)
from omnimsg.segments.casefold import fold_case
from omnimsg.segments.compiler import (
    ContactPredicate,
    compile_segment,
    filter_contacts,
    predicate_source,
)
from omnimsg.segments.csv_import import (
    CONTACT_FIELDS,
    REJECT_REASON_COLUMN,
    ContactSink,
    CsvImportOptions,
    CsvImportReport,
    MemoryContactSink,
    RejectedRow,
    RejectedRowWriter,
    RowProblem,
    RowRejection,
    UnknownColumns,
    derive_contact_id,
    import_contacts_csv,
    import_contacts_csv_file,
    merge_contacts,
    neutralize_formula,
    write_rejected_rows,
    write_rejected_rows_file,
)
from omnimsg.segments.fields import FieldType, Operator, Period, PeriodUnit
from omnimsg.segments.model import (
    AllGroup,
    AnyGroup,
    Condition,
    Node,
    NotGroup,
    Segment,
)
from omnimsg.segments.parse import parse_segment
from omnimsg.segments.schema import segment_json_schema

__all__ = [
    "CONTACT_FIELDS",
    "MAX_ID_LENGTH",
    "REJECT_REASON_COLUMN",
    "AccountAwareLookup",
    "AllGroup",
    "AnyGroup",
    "Condition",
    "ContactIndex",
    "ContactLookup",
    "ContactPredicate",
    "ContactSink",
    "CsvImportOptions",
    "CsvImportReport",
    "FieldType",
    "IdAudience",
    "IdList",
    "IdRejection",
    "MemoryContactSink",
    "Node",
    "NotGroup",
    "Operator",
    "Period",
    "PeriodUnit",
    "RejectedId",
    "RejectedRow",
    "RejectedRowWriter",
    "RowProblem",
    "RowRejection",
    "Segment",
    "UnknownColumns",
    "compile_segment",
    "derive_contact_id",
    "filter_contacts",
    "fold_case",
    "id_problem",
    "import_contacts_csv",
    "import_contacts_csv_file",
    "merge_contacts",
    "neutralize_formula",
    "parse_id_list",
    "parse_segment",
    "predicate_source",
    "resolve_id_list",
    "segment_json_schema",
    "write_rejected_rows",
    "write_rejected_rows_file",
]
