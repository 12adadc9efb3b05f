"""Parse tshark's ``-q -z conv,tcp`` output kept in shared/pcaps/public/reference/."""
from __future__ import annotations

import ipaddress
import re

_ROW = re.compile(r"^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+\d+\s+\S+\s+(\d+)\s+\d+\s+\S+\s+(\d+)\s+\d+\s+\S+\s+([\d.]+)\s+([\d.]+)")


def _endpoint(text: str):
    addr, port = text.rsplit(":", 1)
    return str(ipaddress.ip_address(addr.strip("[]"))), int(port)


def parse_conv(text: str) -> list[dict]:
    """One dict per tshark conversation: endpoints, frames each way, relative start."""
    rows = []
    for line in text.splitlines():
        m = _ROW.match(line)
        if not m:
            continue
        a, b = _endpoint(m.group(1)), _endpoint(m.group(2))
        rows.append({
            "a": a, "b": b,
            "frames_to_a": int(m.group(3)), "frames_from_a": int(m.group(4)),
            "frames": int(m.group(5)), "start": float(m.group(6)),
        })
    return rows
