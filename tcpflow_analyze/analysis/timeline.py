"""Endpoint state over time, from the transitions the tracker records.

Everything here is off the per-packet path: pure functions over finished
connections, shared by the detectors and the views.
"""
from __future__ import annotations

from array import array
from itertools import repeat

from ..model.states import CLOSED


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

    The series is a ``Steps``: (time, count) after every change, for sparklines.
    """
    starts, stops = [], []
    for start, stop in spans:
        starts.append(start)
        stops.append(stop)
    return sweep_lists(starts, stops)


def sweep_lists(starts: list, stops: list):
    """``sweep`` of spans given as a list of their starts and one of their
    stops (each sorted here, in place)."""
    starts.sort()
    stops.sort()
    peak, peak_time, times, counts = sweep_sorted(starts, stops)
    return peak, peak_time, Steps(times, counts)


_INF = float("inf")


def sweep_sorted(starts: list, stops: list):
    """``sweep`` of spans given as their sorted starts and sorted stops:
    (peak, time of peak, times, counts), the count after every change.

    At equal times, leave before entering: a span ending when another starts
    does not overlap it.  A stop at infinity (still open at the end) is never
    reached.
    """
    # Flat arrays: no object per point (a busy host's counts run past the
    # small ints CPython shares).
    times, counts = array("d"), array("q")
    ns, ne = len(starts), len(stops)
    i = j = count = peak = 0
    peak_time = None
    while True:
        t = starts[i] if i < ns else _INF
        u = stops[j] if j < ne else _INF
        if u < t:
            t = u
        if t == _INF:
            break
        while j < ne and stops[j] == t:
            j += 1
            count -= 1
        while i < ns and starts[i] == t:
            i += 1
            count += 1
        if count > peak:
            peak, peak_time = count, t
        times.append(t)
        counts.append(count)
    return peak, peak_time, times, counts


class Steps:
    """A count over time as ``(time, count)`` after every change (what
    ``sweep`` gives).

    Kept as two flat arrays, not a pair per point: the timelines of a busy
    capture run to millions of points (1.4 million for 2M packets), and a
    TIME_WAIT storm's busiest host to tens of thousands, made while every
    connection of the capture is held.  Iterating gives the pairs.
    """
    __slots__ = ("times", "counts")

    def __init__(self, times, counts):
        self.times = times
        self.counts = counts

    def __len__(self) -> int:
        return len(self.times)

    def __iter__(self):
        return zip(self.times, self.counts)

    def __getitem__(self, index):
        return self.times[index], self.counts[index]


class StepSeries(Steps):
    """``Steps`` with the times rounded to the microsecond as the views
    print them; ``as_json`` the ``[[t, n], ...]`` the JSON views write."""
    __slots__ = ()

    def __iter__(self):
        return zip(map(round, self.times, repeat(6)), self.counts)

    def __getitem__(self, index):
        return round(self.times[index], 6), self.counts[index]

    def as_json(self) -> list:
        return [[round(t, 6), n] for t, n in zip(self.times, self.counts)]


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
    count = 0
    points = iter(series)
    point = next(points, None)
    for b in range(width):
        hi = start + (b + 1) * step if b < width - 1 else _INF
        peak = count   # held from the previous slice into this one
        while point is not None and point[0] < hi:
            count = point[1]
            if count > peak:
                peak = count
            point = next(points, None)
        peaks[b] = peak
    return peaks


def sparkline(series, start: float, end: float, width: int, top: int | None = None) -> str:
    """Block characters scaled to ``top`` (default: the series' own peak); any socket at all shows."""
    peaks = bucket_peaks(series, start, end, width) if end > start else [series[-1][1] if series else 0]
    top = top or max(peaks) or 1
    return "".join(SPARK[0 if v <= 0 else max(1, -(-v * 8 // top))] for v in peaks)
