"""How the model's values are written for people: addresses, endpoints, times.

One place for each, so every output spells an endpoint (``[ip]:port`` for
IPv6) and a capture time the same way.
"""
from __future__ import annotations

import datetime as _dt
import functools
import socket


@functools.lru_cache(maxsize=1 << 16)
def ip_text(addr: bytes) -> str:
    """Printable address; cached, as a capture repeats a few hosts many times."""
    return socket.inet_ntop(socket.AF_INET6 if len(addr) == 16 else socket.AF_INET, addr)


def endpoint_text(ep) -> str:
    """An Endpoint as ip:port, with IPv6 addresses in brackets."""
    return address_port_text(ip_text(ep.addr), ep.port)


def address_port_text(ip: str, port) -> str:
    """ip:port from an address already in text, with IPv6 in brackets."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def utc_text(t: float | None, fmt: str = "%Y-%m-%d %H:%M:%S.%f", digits: int = 3) -> str:
    """A capture timestamp as UTC text; epoch seconds where no calendar holds it.

    A timestamp comes from the file and may be anything (the year 584 billion,
    before 1970 by 2**62 seconds): it is shown, never an error.
    """
    if t is None:
        return "-"
    try:
        text = _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime(fmt)
    except (OverflowError, OSError, ValueError):
        return f"{t:.6f} (epoch seconds)"
    if fmt.endswith("%f") and digits < 6:
        text = text[:digits - 6] if digits else text[:-7]
    return text + " UTC"


def duration_text(seconds: float) -> str:
    """A short span for people: µs, ms or s."""
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.1f} s"
