#!/usr/bin/env python3
"""Fuzz the capture reader, the decoder and the whole analysis.

Captures are untrusted input: whatever bytes arrive, the analysis must end in
a report or a ``CaptureError`` (exit 2) -- never another exception, never a
hang, never a memory blow-up.  This harness feeds mutated captures to

* ``reader``:  the tests' ``records.read_records`` + ``decode.decode`` on every record,
  checking that each record lies inside its buffer and that every decoded
  field is in range;
* ``analyze``: ``analyzer.analyze`` + the anomaly detectors + the JSON report
  (``json.dumps(..., allow_nan=False)``) + the table, i.e. what the CLI runs;
* ``views``: every other command and format, through the CLI;
* ``differential``: the CLI's JSON report with ``--jobs 1``, ``--jobs 2``
  and from standard input (a pipe), and the partitions a Dask cluster runs
  (``analyze_partition`` + ``merge``, here): all must say the same, but for
  the capture's name -- damaged input included.

Mutations know gzip too: a capture is gzipped (an already gzipped one
inflated first) and damaged the ways gzip files are -- a deflate block of
the reserved type after a flush point, a cut, a wrong trailer, bytes after
the end, a second member.

Engines: libFuzzer through atheris when it is installed (coverage-guided;
``pip install atheris``), else a built-in random-mutation loop (structure
aware: it knows where pcap records and packet headers are).  Both start from
the captures in ``sample_pcaps/`` and ``../shared/pcaps/public/`` and save
every crasher -- an exception other than CaptureError, an input that runs
longer than ``--timeout``, or one that grows the process by more than
``--rss-limit-mb`` -- to ``tests/crashers/``, where ``tests/test_hostile_input.py``
replays each through the CLI.

    python3 scripts/fuzz.py --seconds 300                   # both targets, in parallel
    python3 scripts/fuzz.py --target reader --seconds 60
    python3 scripts/fuzz.py --target differential --engine random --seconds 120
    python3 scripts/fuzz.py --engine random --seconds 60 --seed 7
    python3 scripts/fuzz.py --replay tests/crashers/*       # re-run saved inputs

See docs/fuzzing.md.
"""
from __future__ import annotations

import argparse
import gc
import gzip
import hashlib
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLES = ROOT / "sample_pcaps"
PUBLIC = ROOT.parent / "shared" / "pcaps" / "public"
ENCAPSULATION = ROOT.parent / "shared" / "pcaps" / "encapsulation"
CRASHERS = ROOT / "tests" / "crashers"
SEED_MAX = 16 * 1024   # seeds are cut to this many bytes: small inputs run fast
TARGETS = ("reader", "analyze", "views", "differential")
DEFAULT_TARGETS = "reader,analyze"


# --------------------------------------------------------------------- targets
def _import_targets():
    global CaptureError, read_records, decode, analyze, detectors, build_report, render_table
    global SKIP_COUNT, dumps_json
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from records import read_records  # noqa: F811  (the tests' record-at-a-time reader)
    from tcpflow_analyze import detectors  # noqa: F811
    from tcpflow_analyze.analysis import analyze  # noqa: F811
    from tcpflow_analyze.decode import SKIP_NAMES, decode  # noqa: F811
    from tcpflow_analyze.errors import CaptureError  # noqa: F811
    from tcpflow_analyze.render.json_out import iter_dumps
    from tcpflow_analyze.render.table import iter_render
    from tcpflow_analyze.views.report import build_report  # noqa: F811
    SKIP_COUNT = len(SKIP_NAMES)

    def render_table(report, *args, **kw):  # noqa: F811
        return "".join(iter_render(report, *args, **kw))

    def dumps_json(report):  # noqa: F811
        return "".join(iter_dumps(report))


def _no_constants(name):
    raise InvariantError(f"report JSON contains {name}")


class InvariantError(AssertionError):
    """The code ran but produced something impossible."""


def _check(cond, what):
    if not cond:
        raise InvariantError(what)


def run_reader(path: str) -> int:
    """read_records + decode over one capture; returns the record count."""
    damages: list = []
    n = 0
    try:
        for rec in read_records([path], damages):
            ts, lt, buf, off, caplen = rec
            _check(isinstance(ts, float) and math.isfinite(ts), f"record {n}: bad timestamp {ts!r}")
            _check(0 <= off and 0 <= caplen and off + caplen <= len(buf),
                   f"record {n}: [{off}:{off}+{caplen}] outside its {len(buf)}-byte buffer")
            r = decode(lt, buf, off, caplen)
            if r.__class__ is int:
                _check(0 <= r < SKIP_COUNT, f"record {n}: skip reason {r}")
            else:
                key, sport, dport, seq, ack, flags, win, plen, wscale = r[:9]
                if len(r) == 10:
                    # Inside a tunnel: (name, tunnel id, tag), the tag ending the key.
                    name, _, tag = r[9]
                    _check(name and tag == key[len(key) - len(tag):] and len(tag) % 2 == (1 if tag else 0)
                           and (not tag or tag[-1] == len(tag)), f"record {n}: encapsulation {r[9]!r}")
                    key = key[:len(key) - len(tag)]
                _check(len(r) in (9, 10), f"record {n}: {len(r)} fields")
                _check(len(key) in (12, 36), f"record {n}: key of {len(key)} bytes")
                _check(0 <= sport < 65536 and 0 <= dport < 65536 and 0 <= flags < 256 and 0 <= win < 65536,
                       f"record {n}: field out of range {r!r}")
                _check(0 <= seq < 2 ** 32 and 0 <= ack < 2 ** 32, f"record {n}: seq/ack out of range")
                _check(0 <= plen < 2 ** 32, f"record {n}: payload length {plen}")
                _check(-1 <= wscale <= 14, f"record {n}: window scale {wscale}")
            n += 1
    except CaptureError:
        _check(n == 0, "CaptureError after records were produced")
    for d in damages:
        _check(isinstance(d.offset, int) and isinstance(d.packet, int) and d.reason, f"bad damage {d!r}")
    return n


def _config():
    return detectors.config()


def run_analyze(path: str) -> int:
    """The CLI's pipeline in-process: analysis, detectors, JSON and table reports."""
    try:
        analysis = analyze([path])
    except CaptureError:
        return 0
    stats = analysis.stats
    _check(stats.packets == stats.tcp_packets + sum(stats.skipped.values()),
           f"packets {stats.packets} != tcp {stats.tcp_packets} + skipped {stats.skipped}")
    _check(sum(c.client.packets + c.server.packets for c in analysis.connections) == stats.tcp_packets,
           "connection packet counts do not add up to tcp_packets")
    for c in analysis.connections:
        _check(0 <= c.client.state <= 11 and 0 <= c.server.state <= 11, "illegal state")
    report = build_report(analysis, detectors.run(analysis, _config()))
    json.loads(dumps_json(report), parse_constant=_no_constants)
    render_table(report)
    return stats.packets


# The other commands and formats, each a view of the same analysis that
# renders times, ladders and timelines of its own.
VIEW_COMMANDS = (
    ["analyze", "--format", "html"], ["analyze", "--format", "markdown"], ["analyze", "--format", "csv"],
    ["timewait"], ["timewait", "--format", "json"], ["states"], ["states", "--at", "end"],
    ["ladder", "--full"], ["ladder", "--format", "json"],
)


def run_views(path: str) -> int:
    """Every other command in-process; an "internal error" line is a defect too."""
    from click.testing import CliRunner

    from tcpflow_analyze.cli import main as cli_main
    runner = CliRunner()
    for cmd in VIEW_COMMANDS:
        res = runner.invoke(cli_main, [*cmd, path], catch_exceptions=True)
        # The CLI switches the cyclic collector off for its (short) process;
        # in this long-running one that would read as a memory leak.
        gc.enable()
        if res.exception is not None and not isinstance(res.exception, SystemExit):
            raise res.exception
        if "internal error" in res.output or res.exit_code not in (0, 1, 2):
            line = res.output.strip().splitlines()[-1] if res.output.strip() else f"exit {res.exit_code}"
            raise InvariantError(f"{' '.join(cmd)}: {line}")
    return 0


def _outcome(res, names) -> dict:
    """What no way of running may change: the exit code and the JSON report,
    or the error line; the capture's name (``<stdin>`` for standard input)
    is set aside."""
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    if res.exit_code != 0:
        line = res.stderr.strip().splitlines()[-1] if res.stderr.strip() else ""
        for name in names:
            line = line.replace(name, "CAPTURE")
        return {"exit": res.exit_code, "error": line}
    rep = json.loads(res.stdout)
    cap = rep["capture"]
    cap["files"] = ["CAPTURE" if f in names else f for f in cap["files"]]
    for d in cap["damage"] + ([cap["truncation"]] if cap["truncation"] else []):
        d["file"] = "CAPTURE" if d["file"] in names else d["file"]
    # A notice quotes the capture's name too (a truncated capture's does).
    for notice in rep["summary"]["notices"]:
        for key in ("message", "brief"):
            for name in names:
                notice[key] = notice[key].replace(name, "CAPTURE")
    return {"exit": 0, "report": rep}


def _first_difference(a, b, where="") -> str:
    """The path of the first field where ``a`` and ``b`` differ (for the
    crasher's signature: one per field, not per value)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{where}.{key}" if where else str(key))
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{where}[{i}]")
    return where or "value"


def _piped(runner, cli_main, args, path):
    """The CLI with ``path`` on standard input through a pipe.  An input that
    fits the pipe is written before the run, so no thread runs beside it (a
    thread would keep gzip from being inflated by a forked child)."""
    import threading
    data = Path(path).read_bytes()
    r, w = os.pipe()
    writer = None
    if len(data) <= 65536:
        os.write(w, data)
        os.close(w)
    else:
        def feed():
            try:
                with os.fdopen(w, "wb") as out:
                    out.write(data)
            except BrokenPipeError:
                pass  # the reader stopped early
        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
    with os.fdopen(r, "rb") as stdin:
        res = runner.invoke(cli_main, [*args, "-"], input=stdin, catch_exceptions=True)
    if writer is not None:
        writer.join()
    return res


def _partitioned_report(path: str, nparts: int):
    """The report from ``nparts`` partitions merged, as Dask's workers run
    them (packed for the wire), or the CaptureError's message."""
    from tcpflow_analyze.analysis import AnalysisOptions
    from tcpflow_analyze.analysis.parallel import analyze_partition, merge
    options = AnalysisOptions()
    try:
        if nparts == 1:
            analysis = analyze([path], options)
        else:
            analysis = merge([analyze_partition([path], i, nparts, options) for i in range(nparts)], options)
    except CaptureError as exc:
        return str(exc)
    return json.loads(dumps_json(build_report(analysis, detectors.run(analysis, _config()))))


def run_differential(path: str) -> int:
    """--jobs 1, --jobs 2, standard input and the Dask engine's partitions
    must give the same report: a difference is a defect."""
    from click.testing import CliRunner

    from tcpflow_analyze.cli import main as cli_main
    runner = CliRunner()
    names = (path, "<stdin>")
    args = ["analyze", "--format", "json"]
    try:
        ref = _outcome(runner.invoke(cli_main, [*args, "--jobs", "1", path], catch_exceptions=True), names)
        runs = {"--jobs 2": _outcome(runner.invoke(cli_main, [*args, "--jobs", "2", path], catch_exceptions=True),
                                     names),
                "standard input": _outcome(_piped(runner, cli_main, args, path), names)}
    finally:
        gc.enable()  # the CLI switches it off for its (short) process
    for label, got in runs.items():
        _check(got == ref, f"{label} and --jobs 1 differ in {_first_difference(ref, got)}")
    one, three = _partitioned_report(path, 1), _partitioned_report(path, 3)
    _check(one == three, f"3 merged partitions and 1 differ in {_first_difference(one, three)}")
    return 0


TARGET_FUNCS = {"reader": run_reader, "analyze": run_analyze, "views": run_views, "differential": run_differential}


# ------------------------------------------------------------------ seeds
def seed_files() -> list[Path]:
    files = []
    for d in (SAMPLES, PUBLIC, ENCAPSULATION, CRASHERS):
        if d.is_dir():
            files += sorted(p for p in d.iterdir()
                            if p.is_file() and p.suffix not in (".json", ".md", ".txt"))
    return files


def seeds() -> list[bytes]:
    out = []
    for p in seed_files():
        data = p.read_bytes()[:SEED_MAX]
        if data:
            out.append(data)
    # gzip-compressed captures, so the gzip paths are reached too: whole,
    # and with a damaged deflate block after the first half.
    small = SAMPLES / "client_close_first.pcap"
    if small.exists():
        raw = small.read_bytes()
        out.append(gzip.compress(raw))
        out.append(_bad_block_after(raw, len(raw) // 2))
    return out


# ------------------------------------------------------------ random engine
INTERESTING8 = (0, 1, 0x7F, 0x80, 0xFF, 0x45, 0x46, 0x4F, 0x60, 0x50, 0x00, 0x3C, 0x2B, 0x06)
INTERESTING16 = (0, 1, 4, 5, 20, 40, 0x7FFF, 0x8000, 0xFFFF, 0x0800, 0x86DD, 0x8100, 0x88A8, 0x8864,
                 # the tunnels' ethertypes and UDP ports (decode.tunnel)
                 0x6558, 0x88BE, 0x22EB, 0x883E, 0x8847, 0x88E7, 0x8926, 4789, 6081, 2152, 3544, 5072)
INTERESTING32 = (0, 1, 8, 12, 16, 28, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x0A0D0D0A, 0x00040000,
                 0x01000000, 0x1A2B3C4D)


def pcap_records(data) -> list[tuple[int, int, str]]:
    """(offset of the record header, caplen, byte order) of each whole record of a classic pcap."""
    if len(data) < 24:
        return []
    magic = bytes(data[:4])
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return []
    out, pos = [], 24
    while pos + 16 <= len(data) and len(out) < 4096:
        caplen = struct.unpack_from(e + "I", data, pos + 8)[0]
        if pos + 16 + caplen > len(data):
            break
        out.append((pos, caplen, e))
        pos += 16 + caplen
    return out


def pcapng_packets(data) -> list[tuple[int, int, str]]:
    """(block offset, block length, byte order) of each Enhanced Packet Block."""
    out, pos, e = [], 0, "<"
    while pos + 12 <= len(data) and len(out) < 4096:
        if bytes(data[pos:pos + 4]) == b"\x0a\x0d\x0d\x0a":
            e = "<" if bytes(data[pos + 8:pos + 12]) == b"\x4d\x3c\x2b\x1a" else ">"
        btype, blen = struct.unpack_from(e + "II", data, pos)
        if blen < 12 or pos + blen > len(data):
            break
        if btype == 6 and blen >= 32:
            out.append((pos, blen, e))
        pos += blen
    return out


def _packets(b) -> list[tuple[int, int]]:
    """(offset, caplen) of the packet bytes of each record, pcap or pcapng."""
    recs = pcap_records(b)
    if recs:
        return [(pos + 16, caplen) for pos, caplen, _ in recs]
    out = []
    for pos, blen, e in pcapng_packets(b):
        caplen = struct.unpack_from(e + "I", b, pos + 20)[0]
        if 28 + caplen + 4 <= blen:
            out.append((pos + 28, caplen))
    return out


def _recut(b: bytearray, rng: random.Random) -> bool:
    """Cut (or grow) one packet and re-frame its record so the file stays
    consistent: every "header cut at byte k" path of the decoder."""
    recs = pcap_records(b)
    if recs:
        pos, caplen, e = rng.choice(recs)
        if caplen and rng.random() < 0.8:
            # Mostly within the first headers, where the decoder's checks are.
            new = min(rng.randrange(caplen + 1), rng.randrange(100))
        else:
            new = caplen + rng.randrange(1, 64)
        body = pos + 16
        if new <= caplen:
            del b[body + new:body + caplen]
        else:
            b[body + caplen:body + caplen] = bytes(rng.randrange(256) for _ in range(new - caplen))
        struct.pack_into(e + "I", b, pos + 8, new)
        if rng.random() < 0.5:
            struct.pack_into(e + "I", b, pos + 12, new)
        return True
    blocks = pcapng_packets(b)
    if blocks:
        pos, blen, e = rng.choice(blocks)
        caplen = struct.unpack_from(e + "I", b, pos + 20)[0]
        if 28 + caplen + 4 > blen:
            return False
        pkt = bytes(b[pos + 28:pos + 28 + caplen])
        opts = bytes(b[pos + 28 + ((caplen + 3) & ~3):pos + blen - 4])
        new = min(rng.randrange(caplen + 1), rng.randrange(100)) if caplen else 0
        pkt = pkt[:new]
        body = bytes(b[pos + 8:pos + 20]) + struct.pack(e + "II", new, new) + pkt + bytes(-new % 4) + opts
        nlen = len(body) + 12
        b[pos:pos + blen] = struct.pack(e + "II", 6, nlen) + body + struct.pack(e + "I", nlen)
        return True
    return False


def _block_lie(b: bytearray, rng: random.Random) -> bool:
    """Make one pcapng block's length fields lie (too short, unaligned, past the end, mismatched)."""
    blocks = []
    pos, e = 0, "<"
    while pos + 12 <= len(b) and len(blocks) < 4096:
        if bytes(b[pos:pos + 4]) == b"\x0a\x0d\x0d\x0a":
            e = "<" if bytes(b[pos + 8:pos + 12]) == b"\x4d\x3c\x2b\x1a" else ">"
        blen = struct.unpack_from(e + "I", b, pos + 4)[0]
        if blen < 12 or pos + blen > len(b):
            break
        blocks.append((pos, blen, e))
        pos += blen
    if not blocks:
        return False
    pos, blen, e = rng.choice(blocks)
    lie = rng.choice((0, 4, 8, 12, 13, 16, 20, blen - 4, blen + 1, blen + 4, blen * 2, 0x7FFFFFFF,
                      16 * 1024 * 1024, 16 * 1024 * 1024 + 4, 0xFFFFFFFC, rng.randrange(1 << 32)))
    lie &= 0xFFFFFFFF
    which = rng.randrange(4)
    if which == 3:
        # A consistent lie: both length fields agree on a wrong length.
        if 12 <= lie <= len(b) - pos:
            struct.pack_into(e + "I", b, pos + 4, lie)
            struct.pack_into(e + "I", b, pos + lie - 4, lie)
        return True
    if which != 1:
        struct.pack_into(e + "I", b, pos + 4, lie)
    if which != 0:
        struct.pack_into(e + "I", b, pos + blen - 4, lie)
    return True


def _bad_block_after(raw: bytes, good: int, level: int = 6) -> bytes:
    """``raw[:good]`` deflated and flushed to a byte boundary, then a block of
    the reserved type 3 (RFC 1951 3.2.3): zlib's "invalid block type"."""
    z = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return z.compress(raw[:good]) + z.flush(zlib.Z_FULL_FLUSH) + b"\x07" + bytes(64)


def _inflated(data: bytes) -> bytes:
    """What the capture reader inflates of a (possibly damaged) gzip file."""
    import io

    from tcpflow_analyze.capture.source import _GzipStream
    return _GzipStream(io.BytesIO(data)).read()


def _gzip_damage(data: bytes, rng: random.Random) -> bytes:
    """The capture gzipped (a gzipped one inflated first), and damaged the
    ways gzip files are."""
    if data[:2] == b"\x1f\x8b":
        data = _inflated(data)
    at = rng.randrange(len(data) + 1)
    level = rng.choice((1, 6, 9))
    kind = rng.randrange(5)
    if kind == 0:
        return _bad_block_after(data, at, level)
    whole = gzip.compress(data, level)
    if kind == 1:
        return whole[:rng.randrange(len(whole))]  # cut
    if kind == 2:
        b = bytearray(whole)
        b[-rng.randrange(1, 9)] ^= 1 << rng.randrange(8)  # the trailer's CRC-32 or length (RFC 1952 2.2)
        return bytes(b)
    if kind == 3:
        return whole + bytes(rng.randrange(256) for _ in range(rng.choice((1, 2, 16))))  # after the end
    # Two members (cat a.gz b.gz), padded with zeros or not, the second damaged or not.
    second = gzip.compress(data[at:], level) if rng.random() < 0.5 else _bad_block_after(data[at:], 0, level)
    return gzip.compress(data[:at], level) + bytes(rng.choice((0, 0, 4))) + second


def mutate(data: bytes, rng: random.Random, pool: list[bytes]) -> bytes:
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 5))):
        op = rng.randrange(16)
        n = len(b)
        if op <= 3:
            # A byte inside one packet's first headers (link, IP, TCP): the
            # decoder's input.  Falls back to any byte for other inputs.
            pkts = _packets(b) if op <= 2 else []
            if pkts:
                off, caplen = rng.choice(pkts)
                if caplen:
                    i = off + min(rng.randrange(caplen), rng.randrange(80))
                    b[i] = rng.choice(INTERESTING8) if rng.random() < 0.3 else rng.randrange(256)
                    continue
            if n:
                b[rng.randrange(n)] = rng.randrange(256)
        elif op == 4 and n:
            b[rng.randrange(n)] ^= 1 << rng.randrange(8)
        elif op == 5 and n >= 2:
            i = rng.randrange(n - 1)
            b[i:i + 2] = struct.pack(rng.choice("<>") + "H", rng.choice(INTERESTING16))
        elif op == 6 and n >= 4:
            i = rng.randrange(n - 3)
            if rng.random() < 0.5:
                i &= ~3  # block and record fields are 4-aligned
            b[i:i + 4] = struct.pack(rng.choice("<>") + "I", rng.choice(INTERESTING32))
        elif op == 7 and n:
            del b[rng.randrange(n):]  # truncate
        elif op == 8:
            i = rng.randrange(n + 1)
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.choice((1, 2, 4, 8, 16))))
        elif op == 9 and n:
            i = rng.randrange(n)
            del b[i:i + rng.choice((1, 2, 4, 8, 16, 64))]
        elif op == 10 and pool:
            other = rng.choice(pool)
            i, j = rng.randrange(n + 1), rng.randrange(len(other) + 1)
            b = b[:i] + other[j:j + rng.randrange(1, 512)]  # splice
        elif op == 11 and n:
            i = rng.randrange(n)
            chunk = b[i:i + rng.randrange(1, 256)]
            j = rng.randrange(n + 1)
            b[j:j] = chunk  # duplicate a range
        elif op <= 13:
            _recut(b, rng)
        elif op == 14:
            _block_lie(b, rng)
        else:
            b = bytearray(_gzip_damage(bytes(b), rng))
    return bytes(b)


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def signature(exc: BaseException) -> str:
    """What makes two failures the same bug: the exception type and where it
    was raised (for a broken invariant, which one)."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
    if isinstance(exc, InvariantError):
        # "internal error: OverflowError: ..." -> up to the message's detail.
        where += ":" + re.sub(r"[0-9]+", "N", str(exc))[:90]
    return f"{type(exc).__name__}@{where}"


def save_crasher(kind: str, target: str, data: bytes, detail: str, out_dir: Path, sig: str = "") -> Path | None:
    """Save one input per distinct failure; returns its path, or None if that failure was saved before."""
    out_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1((sig or data.hex()).encode()).hexdigest()[:12]
    path = out_dir / f"{kind}-{target}-{digest}"
    if path.exists():
        return None
    path.write_bytes(data)
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print(f"\n*** {kind} in {target} ({sig or 'no signature'}): saved {shown}\n{detail}",
          file=sys.stderr, flush=True)
    return path


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def random_engine(target: str, seconds: float, seed: int, timeout: float, rss_mb: int, out_dir: Path) -> dict:
    fn = TARGET_FUNCS[target]
    rng = random.Random(seed)
    pool = seeds()
    signal.signal(signal.SIGALRM, _alarm)
    tmp = tempfile.mkdtemp(prefix="tcpflow-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    path = os.path.join(tmp, "input")
    stats = {"target": target, "engine": "random", "seed": seed, "execs": 0, "crashes": 0, "seconds": 0.0}
    found: set[str] = set()
    t0 = time.monotonic()
    last_print = t0
    base_rss = _maxrss_mb()
    try:
        while time.monotonic() - t0 < seconds:
            parent = rng.choice(pool)
            data = mutate(parent, rng, pool)
            with open(path, "wb") as fh:
                fh.write(data)
            signal.setitimer(signal.ITIMER_REAL, timeout)
            kind = None
            sig = ""
            try:
                fn(path)
            except Hang:
                kind, detail = "timeout", f"ran longer than {timeout}s"
            except MemoryError:
                kind, detail = "oom", "MemoryError"
            except Exception as exc:  # noqa: BLE001 -- every other exception is a finding
                kind, detail, sig = "crash", traceback.format_exc(), signature(exc)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            stats["execs"] += 1
            if kind is None and _maxrss_mb() - base_rss > rss_mb:
                kind, detail = "oom", f"peak RSS grew to {_maxrss_mb():.0f} MB"
                base_rss = _maxrss_mb()
            if kind is not None:
                sig = sig or kind
                if sig not in found:  # one file per distinct failure
                    found.add(sig)
                    stats["crashes"] += 1
                    save_crasher(kind, target, data, detail, out_dir, sig)
            elif len(pool) < 2000 and rng.random() < 0.01:
                pool.append(data)  # keep some mutants: mutations stack up
            now = time.monotonic()
            if now - last_print > 30:
                last_print = now
                print(f"[{target}] {stats['execs']} execs, {stats['execs'] / (now - t0):.0f}/s, "
                      f"{stats['crashes']} crashers", file=sys.stderr, flush=True)
    finally:
        stats["seconds"] = round(time.monotonic() - t0, 1)
        try:
            os.unlink(path)
        except OSError:
            pass
        os.rmdir(tmp)
    return stats


# ----------------------------------------------------------- atheris engine
def atheris_engine(target: str, seconds: float, timeout: float, rss_mb: int, out_dir: Path,
                   max_len: int, extra: list[str], corpus: Path | None = None) -> dict:
    """Run libFuzzer (in a child process) until the time is used up.

    An exception is saved and fuzzing goes on; a hang or a memory blow-up
    makes libFuzzer write the input (timeout-*, oom-*) and exit, and a fresh
    child resumes from the corpus gathered so far.  The corpus lives in a
    temporary directory removed at the end, unless ``corpus`` names one to keep.
    """
    work = Path(tempfile.mkdtemp(prefix=f"tcpflow-fuzz-{target}-"))
    try:
        return _atheris_runs(target, seconds, timeout, rss_mb, out_dir, max_len, extra,
                             corpus or work / "corpus", work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _atheris_runs(target, seconds, timeout, rss_mb, out_dir, max_len, extra, corpus: Path, work: Path) -> dict:
    corpus.mkdir(parents=True, exist_ok=True)
    if not any(corpus.iterdir()):
        for i, s in enumerate(seeds()):
            (corpus / f"seed-{i:03d}").write_bytes(s[:max_len])
    out_dir.mkdir(parents=True, exist_ok=True)
    stats = {"target": target, "engine": "atheris", "execs": 0, "crashes": 0, "restarts": 0, "seconds": 0.0}
    t0 = time.monotonic()
    while True:
        left = seconds - (time.monotonic() - t0)
        if left < 2:
            break
        cmd = [sys.executable, __file__, "--atheris-child", "--target", target, str(corpus),
               f"-max_total_time={max(1, int(left))}", f"-timeout={int(max(1, timeout))}",
               f"-rss_limit_mb={rss_mb}", f"-max_len={max_len}", f"-artifact_prefix={out_dir}/",
               "-print_final_stats=1", "-print_pcs=0", "--crashers", str(out_dir),
               "--scratch", str(work / "input"), *extra]
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, errors="replace")
        quiet = False
        for line in proc.stderr:
            if line.startswith("stat::number_of_executed_units:"):
                stats["execs"] += int(line.split(":")[-1])
            if line.startswith("*** ") or "Test unit written to" in line:
                stats["crashes"] += 1  # saved by the child, or by libFuzzer (timeout-*, oom-*)
            if "Recommended dictionary" in line:
                quiet = not quiet and "End of" not in line
                continue
            if quiet or line.startswith(("#", "INFO:", "WARNING: Failed", "MS:", "stat::", '"')) \
                    or not line.strip():
                if line.startswith("#") and ("pulse" in line or "DONE" in line or "INITED" in line):
                    print(f"[{target}] {line.rstrip()}", file=sys.stderr, flush=True)
                continue
            print(f"[{target}] {line.rstrip()}", file=sys.stderr, flush=True)
        rc = proc.wait()
        if rc == 0 and seconds - (time.monotonic() - t0) < 2:
            break
        if rc != 0:
            stats["restarts"] += 1  # a hang or an out-of-memory; go on from the corpus
    stats["seconds"] = round(time.monotonic() - t0, 1)
    return stats


def atheris_child(target: str, out_dir: Path, path: str, libfuzzer_args: list[str]) -> None:
    import atheris

    with atheris.instrument_imports(include=["tcpflow_analyze"]):
        _import_targets()
    fn = TARGET_FUNCS[target]
    found: set[str] = set()

    def one_input(data: bytes):
        with open(path, "wb") as fh:
            fh.write(data)
        try:
            fn(path)
        except Exception as exc:  # noqa: BLE001 -- every exception that escapes is a finding
            sig = signature(exc)
            if sig not in found:
                found.add(sig)
                save_crasher("crash", target, data, traceback.format_exc(), out_dir, sig)

    pool = seeds()

    def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
        # Half libFuzzer's own byte-level mutations (guided by the comparisons
        # it traced), half the structure-aware ones of the random engine.
        rng = random.Random(seed)
        if rng.random() < 0.5:
            return atheris.Mutate(data, max_size)
        return mutate(data, rng, pool)[:max_size]

    atheris.Setup([sys.argv[0], *libfuzzer_args], one_input, custom_mutator=custom_mutator)
    atheris.Fuzz()


# ------------------------------------------------------------------- replay
def replay(paths: list[str], timeout: float) -> int:
    """Run saved inputs through the CLI: exit 0 or 2 and no traceback, or it is still a bug."""
    bad = 0
    for p in paths:
        try:
            # The report goes to a pipe, not to "-o /dev/null": -o replaces
            # its target with a new file (see docs/fuzzing.md).
            proc = subprocess.run([sys.executable, "-m", "tcpflow_analyze", "analyze", "--format", "json", p],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                  timeout=timeout, cwd=ROOT)
            ok = proc.returncode in (0, 2) and "Traceback" not in proc.stderr
            why = f"exit {proc.returncode} {proc.stderr.strip()[-300:]}"
        except subprocess.TimeoutExpired:
            ok, why = False, f"timeout after {timeout}s"
        bad += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {p}: {why if not ok else 'exit ' + str(proc.returncode)}")
    return 1 if bad else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    ap.add_argument("--target", default=DEFAULT_TARGETS,
                    help=f"comma-separated, of {', '.join(TARGETS)} (default: {DEFAULT_TARGETS}), "
                         "each in its own process")
    ap.add_argument("--seconds", type=float, default=60.0, help="how long to fuzz (each target)")
    ap.add_argument("--engine", choices=("auto", "atheris", "random"), default="auto")
    ap.add_argument("--seed", type=int, default=None, help="random engine: RNG seed (default: time)")
    ap.add_argument("--timeout", type=float, default=10.0, help="an input running longer is a hang")
    ap.add_argument("--rss-limit-mb", type=int, default=1024, help="memory growth that counts as a blow-up")
    ap.add_argument("--max-len", type=int, default=SEED_MAX, help="atheris: largest input")
    ap.add_argument("--crashers", type=Path, default=CRASHERS, help="where crashers are saved")
    ap.add_argument("--replay", nargs="+", metavar="FILE", help="run saved inputs through the CLI and stop")
    ap.add_argument("--stats-json", type=Path, help="write the run's numbers here")
    ap.add_argument("--corpus", type=Path, help="atheris: keep the corpus here (seeded when empty), "
                                                "to resume a later run from it")
    ap.add_argument("--atheris-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--scratch", help=argparse.SUPPRESS)
    args, extra = ap.parse_known_args(argv)

    if args.atheris_child:
        atheris_child(args.target, args.crashers, args.scratch, extra)
        return 0

    if args.replay:
        return replay(args.replay, max(args.timeout, 30))

    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401
            engine = "atheris"
        except ImportError:
            engine = "random"

    targets = [t.strip() for t in args.target.split(",") if t.strip()]
    unknown = [t for t in targets if t not in TARGETS]
    if unknown or not targets:
        ap.error(f"unknown target {', '.join(unknown)}; choose from {', '.join(TARGETS)}")
    if len(targets) > 1:
        # One process per target, side by side (libFuzzer owns its process).
        procs = []
        for i, target in enumerate(targets):
            cmd = [sys.executable, __file__, "--target", target, "--engine", engine,
                   "--seconds", str(args.seconds), "--timeout", str(args.timeout),
                   "--rss-limit-mb", str(args.rss_limit_mb), "--max-len", str(args.max_len),
                   "--crashers", str(args.crashers)]
            if args.seed is not None:
                cmd += ["--seed", str(args.seed + i)]
            if args.stats_json:
                cmd += ["--stats-json", str(args.stats_json.with_suffix(f".{target}.json"))]
            if args.corpus:
                cmd += ["--corpus", str(args.corpus / target)]
            procs.append(subprocess.Popen(cmd + extra))
        return max(p.wait() for p in procs)

    if engine == "atheris":
        stats = atheris_engine(args.target, args.seconds, args.timeout, args.rss_limit_mb, args.crashers,
                               args.max_len, extra, args.corpus)
    else:
        _import_targets()
        seed = args.seed if args.seed is not None else int(time.time())
        stats = random_engine(args.target, args.seconds, seed, args.timeout, args.rss_limit_mb, args.crashers)
    print(json.dumps(stats), flush=True)
    if args.stats_json:
        args.stats_json.write_text(json.dumps(stats) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
