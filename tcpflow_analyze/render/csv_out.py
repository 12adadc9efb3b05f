"""The connections as CSV, one row per connection, for spreadsheets."""
from __future__ import annotations

import csv
import io

COLUMNS = ("id", "client_ip", "client_port", "server_ip", "server_port", "client_state", "server_state",
           "roles_inferred", "first_seen", "last_seen", "duration", "client_packets", "server_packets",
           "client_bytes", "server_bytes", "client_retransmissions", "server_retransmissions",
           "handshake", "close", "history", "conn_state", "anomalies")


def _row(c: dict) -> tuple:
    return (c["id"], c["client"]["ip"], c["client"]["port"], c["server"]["ip"], c["server"]["port"],
            c["client"]["state"], c["server"]["state"], str(c["roles_inferred"]).lower(),
            c["first_seen"], c["last_seen"], c["duration"], c["packets"]["client"], c["packets"]["server"],
            c["bytes"]["client"], c["bytes"]["server"], c["retransmissions"]["client"],
            c["retransmissions"]["server"], c["handshake"], c["close"], c["history"], c["conn_state"],
            ";".join(c["anomalies"]))


def iter_csv(report: dict):
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for entry in report["connections"]:
        writer.writerow(_row(entry))
        if buf.tell() > 1 << 16:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()
