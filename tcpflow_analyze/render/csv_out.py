"""The report as CSV, for spreadsheets: one row per connection, or with
``--anomalies`` one row per finding."""
from __future__ import annotations

import csv
import io

from ..detectors.base import GROUP_FIELDS
from ..model.text import iso_utc, printable
from ..views.findings import at_least, findings, groups, span
from ..views.record import CSV_COLUMNS, csv_row, csv_time

# The record's leaves (views.record), flattened: client_ip, ..., anomalies.
COLUMNS = CSV_COLUMNS

# One row per finding: what it is, when (first and last instance), what it
# is about (GROUP_FIELDS: the service, host or scanning source), how many
# instances it stands for, its connections' ids and its one-line message.
FINDING_COLUMNS = ("type", "severity", "time", "time_utc", "last_time", "last_time_utc",
                   *GROUP_FIELDS, "count", "connections", "message")

# What a notice row says in the severity column: the capture could not be
# seen whole (truncated, evicted, folded), not a finding about the network.
NOTICE = "notice"

# A cell starting with one of these is a formula to Excel, LibreOffice and
# Google Sheets (CSV injection): a capture's file name can start with "=".
_FORMULA_START = ("=", "+", "-", "@")


def text_cell(text) -> str:
    """Free text (messages naming files and hosts) as a cell a spreadsheet
    shows as text: control characters escaped (``printable``), and a leading
    formula character quoted with ``'``, which spreadsheets display as text
    and do not evaluate (OWASP's CSV injection advice)."""
    text = printable(str(text))
    return "'" + text if text.startswith(_FORMULA_START) else text


def iter_csv(report: dict):
    """The connections, one row each (``views.record``)."""
    return _write(COLUMNS, (csv_row(entry) for entry in report["connections"]))


def iter_findings_csv(report: dict, min_severity: str | None = None):
    """The findings, one row each, in the order the text outputs list them
    (types worst first, each type's groups biggest first: views.findings);
    before them a row for each notice, so a damaged or partly seen capture
    is said where the rows start.  ``min_severity`` leaves lesser ones out."""
    rows = [_notice_row(n) for n in report["summary"].get("notices", ())]
    shown, _ = at_least(report["anomalies"], min_severity)
    rows += [_finding_row(a) for kind in findings(shown) for a in groups(shown, kind["type"])]
    return _write(FINDING_COLUMNS, rows)


def _finding_row(a: dict) -> tuple:
    details = a.get("details") or {}
    first, last = span(a)
    return (a["type"], a["severity"], csv_time(first), iso_utc(first), csv_time(last), iso_utc(last),
            *(text_cell(details.get(name) or "") for name in GROUP_FIELDS),
            details.get("count", 1), " ".join(map(str, sorted(a["connections"]))), text_cell(a["message"]))


def _notice_row(notice: dict) -> tuple:
    row = dict.fromkeys(FINDING_COLUMNS, "")
    row.update(type=notice["kind"], severity=NOTICE, message=text_cell(notice["message"]))
    return tuple(row.values())


def _write(columns, rows):
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(row)
        if buf.tell() > 1 << 16:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()
