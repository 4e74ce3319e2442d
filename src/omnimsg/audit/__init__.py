"""The compliance auditor: replay a log of sent and received messages through the rules.

Read a log (JSON Lines or CSV) with :func:`read_log`, replay it with
:func:`audit_log` (every :class:`Violation`, streamed) or :func:`audit` (an
:class:`AuditReport`: totals, counts by rule and a sample of each), each message
judged by the profile's rules as of its own instant. docs/audit.md describes the log
formats, what is checked and the memory bound.

```python
from omnimsg import load_profile
from omnimsg.audit import audit, read_log

report = audit(read_log("sent.jsonl"), load_profile("official"))
print(report.by_rule)
```
"""

from __future__ import annotations

from omnimsg.audit.model import BadRow, Direction, LogEntry, Violation, entry_from_request
from omnimsg.audit.reader import LOG_FORMATS, MAX_LINE_BYTES, read_log
from omnimsg.audit.replay import Auditor, audit_log
from omnimsg.audit.report import MAX_SAMPLES, AuditReport, audit, summarize

__all__ = [
    "LOG_FORMATS",
    "MAX_LINE_BYTES",
    "MAX_SAMPLES",
    "AuditReport",
    "Auditor",
    "BadRow",
    "Direction",
    "LogEntry",
    "Violation",
    "audit",
    "audit_log",
    "entry_from_request",
    "read_log",
    "summarize",
]
