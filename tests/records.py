"""Packet records one at a time: the tests' second reader.

The package reads captures only as windows (``capture.read_windows``) walked
in place by the packet loop.  The tests check that walk against this
simpler one: ``walk_records`` takes each record through
``capture.windows.record_at``, and ``read_records`` merges several files with
``heapq.merge`` over their records, a different algorithm from
``capture.windows.merge_windows``.
"""
from __future__ import annotations

import heapq

from tcpflow_analyze.capture import read_windows
from tcpflow_analyze.capture.windows import record_at
from tcpflow_analyze.errors import CaptureError


def iter_file(path: str, damages: list, opened=None):
    """Yield the records of one capture; record damage into ``damages``.

    The first record is produced only after the header has been validated, so
    a CaptureError surfaces on the first ``next()``.
    """
    yield from walk_records(read_windows([path], damages, opened, read_ahead=False))


def read_records(paths, damages: list, opened=None):
    """Yield records from every capture in ``paths``, merged in timestamp order.

    Rotated ``tcpdump -G/-C`` files are one trace: merging by timestamp rather
    than concatenating keeps a connection that spans two files in order.
    Every file's header is checked before the first record is produced, so a
    bad file fails the run before any output.  ``opened(raw)``, if given, is
    told of every file opened (for a progress display).
    """
    paths = list(paths)
    if paths.count("-") > 1:
        raise CaptureError("-", "standard input can be read only once; give - once")
    gens = []
    try:
        for path in paths:
            gen = iter_file(path, damages, opened)
            first = next(gen, None)
            if first is not None:
                gens.append((first, gen))
    except BaseException:
        for _, gen in gens:
            gen.close()  # close the files already opened
        raise
    # Files in the order of their first packet: heapq.merge breaks timestamp
    # ties by input order, so rotated files given out of order (b.pcap
    # a.pcap) still keep a tie across the rotation in capture order.
    gens.sort(key=lambda g: g[0][0])
    if len(gens) == 1:
        first, gen = gens[0]
        yield first
        yield from gen
        return
    def chain(first, gen):
        yield first
        yield from gen
    yield from heapq.merge(*(chain(f, g) for f, g in gens), key=_ts)


def _ts(record):
    return record[0]

def walk_records(windows):
    """Every record of a window stream as ``(ts, linktype, buf, offset,
    caplen)``, for consumers that take one record at a time.  ``buf`` is the
    packet's own copy: a window's buffer (a file's map) may not outlive the
    reading, and the tests keep records after it."""
    window = next(windows, None)
    while window is not None:
        buf, pos, end, layout, ts_end = window
        hlen, linktype = layout[1], layout[3]
        walked = 0
        while True:
            record = record_at(buf, pos, end, layout)
            if record is None or record[0] > ts_end:
                break
            ts, caplen, nxt = record
            walked += 1
            yield ts, linktype, bytes(buf[pos + hlen:pos + hlen + caplen]), 0, caplen
            pos = nxt
        try:
            window = windows.send((pos, walked))
        except StopIteration:
            window = None
