"""Endpoint state over time, from the transitions the tracker records.

Everything here is off the per-packet path: pure functions over finished
connections, shared by the detectors and the views.
"""
from __future__ import annotations

import datetime as _dt

from .states import CLOSED


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


def intervals(ep, end: float):
    """Yield (start, stop, state) for every state the endpoint was in, up to ``end``."""
    flat = ep.trans_flat
    n = len(flat)
    for i in range(0, n, 2):
        t = flat[i]
        stop = flat[i + 2] if i + 2 < n else end
        yield t, max(stop, t), flat[i + 1]


def state_at(ep, t: float) -> int:
    """The endpoint's state at time t (CLOSED before its first packet)."""
    state = CLOSED
    flat = ep.trans_flat
    for i in range(0, len(flat), 2):
        when, st = flat[i], flat[i + 1]
        if when > t:
            break
        state = st
    return state


def sweep(spans):
    """Peak concurrency of (start, stop) spans: (peak, time of peak, step series).

    The series is [(time, count), ...] after every change, for sparklines.
    """
    events = []
    for start, stop in spans:
        events.append((start, 1))
        events.append((stop, -1))
    # At equal times, leave before entering: a span ending when another starts
    # does not overlap it.
    events.sort(key=lambda e: (e[0], e[1]))
    count = peak = 0
    peak_time = None
    series = []
    for t, delta in events:
        if t == float("inf"):
            break
        count += delta
        if count > peak:
            peak, peak_time = count, t
        if series and series[-1][0] == t:
            series[-1] = (t, count)
        else:
            series.append((t, count))
    return peak, peak_time, series


SPARK = " ▁▂▃▄▅▆▇█"


def bucket_peaks(series, start: float, end: float, width: int) -> list[int]:
    """The most sockets held at once in each of ``width`` equal slices of [start, end].

    The last slice includes ``end``: a socket entering TIME_WAIT with the
    capture's last packet must still show.
    """
    if width <= 0:
        return []
    step = (end - start) / width
    peaks = [0] * width
    count = idx = 0
    for b in range(width):
        hi = start + (b + 1) * step if b < width - 1 else float("inf")
        peak = count   # held from the previous slice into this one
        while idx < len(series) and series[idx][0] < hi:
            count = series[idx][1]
            peak = max(peak, count)
            idx += 1
        peaks[b] = peak
    return peaks


def sparkline(series, start: float, end: float, width: int, top: int | None = None) -> str:
    """Block characters scaled to ``top`` (default: the series' own peak); any socket at all shows."""
    peaks = bucket_peaks(series, start, end, width) if end > start else [series[-1][1] if series else 0]
    top = top or max(peaks) or 1
    return "".join(SPARK[0 if v <= 0 else max(1, -(-v * 8 // top))] for v in peaks)
