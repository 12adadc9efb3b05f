#!/usr/bin/env python3
"""How fast could two processes be?  The upper bounds of the two ways to
divide a capture, against ``--jobs 1`` and ``--jobs 2`` as built.

    python3 bench/parallel_bounds.py bench/out/synth-2000000-s1.pcap --pairs 11

Each bound runs two whole ``analyze --format json`` processes side by side,
each doing every stage (the loop, the detectors, the report, the JSON lines)
on its half alone, and nothing that joins them: no merge, no shipping, no
connection followed across the halves.  No design of that kind can beat it.

- **by time**: the capture cut at its middle record into two files, one
  process each (contiguous halves: each reads only its own packets);
- **by port hash** (what ``--jobs`` does): each process reads every packet
  and keeps the connections of its half of the hash buckets
  (``analysis.parallel.analyze_partition``), then runs every stage on them.

And the floor of a design that cuts by time and still writes one report
(**time split, least join**): one process, forked after its imports as
``--jobs`` forks, tracks the first half while its child tracks the second;
each runs the detectors on its own half; the child numbers its connections
after the parent's, sends its anomalies over, and writes its JSON lines into
a memfd that the parent sends on after its own (``os.sendfile``).  What
such a design must also do is left out, so no design of that kind can beat
it either: the connections that cross the cut (followed on from the first
half's state), anomalies grouped again over both halves, the report cap
shared, the counts merged, and the child's lines waiting for the merged
anomalies.

The four commands alternate, run after run; printed: median wall time and
CPU of each, and each one's speed against ``--jobs 1`` (the median of the
ratios pair by pair).  Our tool runs from this checkout, its bytecode
cached (bench/run_bench.py's rule).  Standard library only.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)
from run_bench import bytecode_env, compile_ours, merged_env  # noqa: E402

# One hash partition of two, every stage run on it alone, as the CLI runs
# them (argv: the partition, then the analyze command's arguments).
HASH_HALF = """
import sys
from tcpflow_analyze import cli, runtime
from tcpflow_analyze.analysis import parallel
part = int(sys.argv.pop(1))
def first_pass(paths, options, jobs, engine, dask, spool, second_pass):
    return parallel.merge([parallel.analyze_partition(paths, part, 2, options, packed=False, read_ahead=False)],
                          options)
cli._first_pass = first_pass
sys.argv = ["tcpflow-analyze"] + sys.argv[1:]
runtime.exit_without_teardown(cli.main)
"""

# The time split's floor (see above); argv: the two halves.
TIME_SPLIT_FLOOR = """
import gc, os, pickle, struct, sys
from tcpflow_analyze import cli, detectors   # cli: the imports a run pays for
from tcpflow_analyze.analysis import AnalysisOptions, analyze
from tcpflow_analyze.render.json_out import iter_dumps
from tcpflow_analyze.views.report import build_report
first, second = sys.argv[1:3]
gc.disable()   # as the CLI runs (runtime.pause_cyclic_gc)
# Each half keeps half of the memory caps, as a partition of --jobs does.
options, cfg = AnalysisOptions().share(0.5), detectors.config()
down_r, down_w = os.pipe()
up_r, up_w = os.pipe()
lines = os.memfd_create("floor-lines")

def read_exactly(fd, n):
    buf = bytearray()
    while len(buf) < n:
        buf += os.read(fd, n - len(buf))
    return bytes(buf)

def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    return len(data)

def number(fd):
    return struct.unpack("<Q", read_exactly(fd, 8))[0]

child = os.fork()
if child == 0:
    a = analyze([second], options)
    offset = number(down_r)
    for c in a.connections:
        c.id += offset
    found = detectors.run(a, cfg)
    sent = pickle.dumps(found, protocol=pickle.HIGHEST_PROTOCOL)
    write_all(up_w, struct.pack("<Q", len(sent)) + sent)
    size = 0
    for chunk in build_report(a, found)["connections"].json_chunks(",\\n    "):
        size += write_all(lines, chunk if chunk.__class__ is bytes else chunk.encode())
    write_all(up_w, struct.pack("<Q", size))
    os._exit(0)
a = analyze([first], options)
write_all(down_w, struct.pack("<Q", len(a.connections)))
found = detectors.run(a, cfg)
found += pickle.loads(read_exactly(up_r, number(up_r)))
found.sort(key=detectors.report_order)
report = build_report(a, found)
mine = report["connections"]
out = os.fdopen(1, "wb", closefd=False)

class Joined:
    def json_chunks(self, sep):
        any_ = False
        for chunk in mine.json_chunks(sep):
            any_ = True
            yield chunk
        size = number(up_r)
        if size:
            if any_:
                yield sep
            out.flush()
            done = 0
            while done < size:
                done += os.sendfile(1, lines, done, size - done)

report["connections"] = Joined()
for chunk in iter_dumps(report):
    out.write(chunk if chunk.__class__ is bytes else chunk.encode())
out.flush()
os.waitpid(child, 0)
os._exit(0)
"""


def split_by_time(path: str, out_dir: str) -> tuple[str, str]:
    """The classic pcap ``path`` cut at its middle record into two files."""
    with open(path, "rb") as fh:
        data = fh.read()
    magic = data[:4]
    order = {b"\xd4\xc3\xb2\xa1": "<", b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">",
             b"\xa1\xb2\x3c\x4d": ">"}.get(magic)
    if order is None:
        raise SystemExit(f"{path}: a classic pcap file is needed (pcapng is not cut here)")
    caplen = struct.Struct(order + "I")
    starts = []
    at = 24
    while at + 16 <= len(data):
        starts.append(at)
        at += 16 + caplen.unpack_from(data, at + 8)[0]
    mid = starts[len(starts) // 2]
    halves = (os.path.join(out_dir, "first.pcap"), os.path.join(out_dir, "second.pcap"))
    for name, body in zip(halves, (data[24:mid], data[mid:])):
        with open(name, "wb") as fh:
            fh.write(data[:24])
            fh.write(body)
    return halves


def run_side_by_side(argvs, env) -> tuple[float, float]:
    """Run the commands at once; their wall time (until the last ends) and CPU."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    errs = [tempfile.TemporaryFile() for _ in argvs]   # warnings kept out of the table; shown on failure
    procs = [subprocess.Popen(a, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=e)
             for a, e in zip(argvs, errs)]
    codes = [p.wait() for p in procs]
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if any(codes):
        for e in errs:
            e.seek(0)
            sys.stderr.write(e.read().decode(errors="replace"))
        raise SystemExit(f"failed ({codes}): {argvs}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("capture", help="a classic pcap file (bench/gen_capture.py makes them)")
    ap.add_argument("--pairs", type=int, default=11, help="runs of each command, alternating (default 11)")
    args = ap.parse_args(argv)
    capture = os.path.abspath(args.capture)
    env = merged_env(bytecode_env())
    compile_ours()
    analyze = [sys.executable, "-m", "tcpflow_analyze", "analyze", "--format", "json"]
    with tempfile.TemporaryDirectory(prefix="parallel-bounds-") as tmp:
        first, second = split_by_time(capture, tmp)
        commands = {
            "--jobs 1": [analyze + ["--jobs", "1", capture]],
            "--jobs 2": [analyze + ["--jobs", "2", capture]],
            "bound: halves by time": [analyze + ["--jobs", "1", first], analyze + ["--jobs", "1", second]],
            "bound: halves by port hash": [[sys.executable, "-c", HASH_HALF, str(part), "analyze", "--format",
                                            "json", "--jobs", "1", capture] for part in (0, 1)],
            "floor: time split, least join": [[sys.executable, "-c", TIME_SPLIT_FLOOR, first, second]],
        }
        # Read once, so that every run finds the files in the page cache.
        run_side_by_side(commands["bound: halves by time"], env)
        times = {name: [] for name in commands}
        names = list(commands)
        for i in range(args.pairs):
            for name in names[i % len(names):] + names[:i % len(names)]:
                times[name].append(run_side_by_side(commands[name], env))
    one = [w for w, _ in times["--jobs 1"]]
    print(f"{capture}: {args.pairs} runs each, alternating")
    print(f"{'':31} {'wall':>8} {'CPU':>8} {'x --jobs 1 (wall)':>18}")
    for name in names:
        walls = [w for w, _ in times[name]]
        ratio = statistics.median(a / b for a, b in zip(one, walls))
        print(f"{name:31} {statistics.median(walls):7.3f}s {statistics.median(c for _, c in times[name]):7.3f}s "
              f"{ratio:17.2f}x")


if __name__ == "__main__":
    main()
