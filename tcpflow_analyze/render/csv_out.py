"""The connections as CSV, one row per connection, for spreadsheets."""
from __future__ import annotations

import csv
import io

from ..views.record import CSV_COLUMNS, csv_row

# The record's leaves (views.record), flattened: client_ip, ..., anomalies.
COLUMNS = CSV_COLUMNS


def iter_csv(report: dict):
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for entry in report["connections"]:
        writer.writerow(csv_row(entry))
        if buf.tell() > 1 << 16:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()
