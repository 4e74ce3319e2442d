"""Audiences: pasted id lists and contacts imported from CSV (SPEC A3, A4, A5).

Besides segments (:mod:`omnimsg.segments`), a broadcast's audience can be a pasted
list of visitor ids on one channel account (:func:`parse_id_list`,
:func:`resolve_id_list`) or contacts imported from a CSV file
(:func:`import_contacts_csv`), whose rejected rows can be written back out for
correction (:func:`write_rejected_rows`). Contacts are read from a
:class:`~omnimsg.protocols.ContactSource` and written to a
:class:`~omnimsg.protocols.ContactSink`; nothing here talks to a database.

Modules, one job each: ``ids`` (pasted lists), ``options``, ``columns`` (the
header), ``cells`` (cell parsers), ``plan`` (a file's parsers, from its header),
``reader`` (CSV records and line numbers), ``dedupe`` (which earlier contact a row
is), ``report``, ``importer``, ``formula`` (the spreadsheet guard), ``export`` and
``files`` (the only one that opens files).
"""

from omnimsg.audiences.columns import CONTACT_FIELDS, REJECT_REASON_COLUMN
from omnimsg.audiences.dedupe import derive_contact_id
from omnimsg.audiences.export import RejectedRowWriter, write_rejected_rows
from omnimsg.audiences.files import import_contacts_csv_file, write_rejected_rows_file
from omnimsg.audiences.formula import neutralize_formula
from omnimsg.audiences.ids import (
    MAX_ID_LENGTH,
    IdAudience,
    IdList,
    IdRejection,
    RejectedId,
    WhatsAppMatch,
    WhatsAppMatchKind,
    find_whatsapp_contact,
    id_problem,
    parse_id_list,
    resolve_id_list,
)
from omnimsg.audiences.importer import import_contacts_csv
from omnimsg.audiences.options import CsvImportOptions, UnknownColumns
from omnimsg.audiences.report import CsvImportReport, RejectedRow, RowProblem, RowRejection

__all__ = [
    "CONTACT_FIELDS",
    "MAX_ID_LENGTH",
    "REJECT_REASON_COLUMN",
    "CsvImportOptions",
    "CsvImportReport",
    "IdAudience",
    "IdList",
    "IdRejection",
    "RejectedId",
    "RejectedRow",
    "RejectedRowWriter",
    "RowProblem",
    "RowRejection",
    "UnknownColumns",
    "WhatsAppMatch",
    "WhatsAppMatchKind",
    "derive_contact_id",
    "find_whatsapp_contact",
    "id_problem",
    "import_contacts_csv",
    "import_contacts_csv_file",
    "neutralize_formula",
    "parse_id_list",
    "resolve_id_list",
    "write_rejected_rows",
    "write_rejected_rows_file",
]
