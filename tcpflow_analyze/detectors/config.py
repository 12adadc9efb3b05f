"""Every detector's thresholds in one object, validated once where it is made.

Built from the registry of options (each detector's ``OPTIONS``), so a new
threshold needs no change here; values a detector would have to parse (the
port range, a TIME_WAIT threshold given as a share of it) are parsed here,
once, and a bad value is a ValueError naming its option.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

from ..analysis.timewait import parse_port_range


class DetectorConfig(Mapping):
    """The thresholds by key (``cfg["close_wait_timeout"]``), plus the parsed
    ``port_range`` (low, high) and ``time_wait_limit`` (a count)."""

    def __init__(self, options, values: Mapping | None = None):
        """``options``: every detector's ``Option``s; ``values``: keys to set
        (the rest take their defaults)."""
        by_key = {opt.key: opt for opt in options}
        merged = {key: opt.default for key, opt in by_key.items()}
        for key, value in (values or {}).items():
            if key not in by_key:
                raise ValueError(f"unknown detector option {key!r}")
            merged[key] = value
        for key, value in merged.items():
            opt = by_key[key]
            if opt.type in (int, float):
                least = 0 if not opt.positive else 1 if opt.type is int else math.ulp(0)
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                        or value < least or (opt.type is int and value != int(value)):
                    raise ValueError(f"{opt.flag}: expected a {'count' if opt.type is int else 'number'} "
                                     f"{'more than 0' if opt.positive else '0 or more'}, not {value!r}")
        self._values = merged
        try:
            self.port_range = parse_port_range(str(merged["port_range"]))
        except ValueError as exc:
            raise ValueError(f"{by_key['port_range'].flag}: {exc}") from None
        try:
            self.time_wait_limit = threshold_count(merged["time_wait_threshold"],
                                                   self.port_range[1] - self.port_range[0] + 1)
        except ValueError as exc:
            raise ValueError(f"{by_key['time_wait_threshold'].flag}: {exc}") from None

    def __getitem__(self, key):
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def threshold_count(text, range_size: int) -> int:
    """A TIME_WAIT threshold: a count, or a share of the port range (``25%``)."""
    text = str(text).strip()
    if text.endswith("%"):
        try:
            share = float(text[:-1]) / 100.0
        except ValueError:
            raise ValueError(f"{text!r} is not a share of the port range (25%)") from None
        if not 0 < share <= 1:
            raise ValueError("a share must be between 0% and 100%")
        return max(1, int(share * range_size))
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither a count (1000) nor a share of the port range (25%)") from None
    if value < 1:
        raise ValueError("the count must be at least 1")
    return value
