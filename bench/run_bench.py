#!/usr/bin/env python3
"""Benchmark tcpflow-analyze against tshark, tcptrace and argus on one capture.

    python3 bench/run_bench.py bench/out/synth-1000000-s1.pcap      # an existing capture
    python3 bench/run_bench.py --packets 1000000 --runs 3           # generate it first (cached)
    python3 bench/run_bench.py --growth                             # 100k .. 2M packets, our tool only
    python3 bench/run_bench.py --growth --with-tshark --json bench/out/growth.json

Each run of each tool is one process under ``/usr/bin/time -f '%e %M'`` (wall
seconds, peak RSS in KiB); without /usr/bin/time the process is timed here and
its peak RSS read from ``os.wait4``.  Tools alternate run by run (the starting
tool rotates), and the capture is read once beforehand so every tool finds it
in the page cache.  Output of every tool is discarded.

Run from anywhere; our tool is run as ``python3 -m tcpflow_analyze`` with the
repository root as working directory.  Where its compiled core is built (issue
#14: ``python3 setup.py build_ext --inplace``, or an installed wheel), the same
source is also run as pure Python (``TCPFLOW_ANALYZE_PURE=1``), so one table
gives both builds.  Standard library only.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import io
import json
import math
import mmap
import os
import platform
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tarfile
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
OUT_DIR = os.path.join(BENCH_DIR, "out")
GEN = os.path.join(BENCH_DIR, "gen_capture.py")
GROWTH_SIZES = (100_000, 250_000, 500_000, 1_000_000, 2_000_000)
GNU_TIME = "/usr/bin/time"
OURS = "tcpflow-analyze"
PURE_ENV = {"TCPFLOW_ANALYZE_PURE": "1"}  # the pure-Python build of the same tree (tcpflow_analyze/_core.py)
IDLE_BELOW = 0.25  # --idle-below: CPUs busy that still count as idle for --wait-idle


# ------------------------------------------------------------------ captures
def count_packets(path: str) -> int:
    """Number of packet records in a classic pcap or pcapng file (read once)."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size < 24:
            raise SystemExit(f"{path}: too short to be a capture")
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            magic = mm[:4]
            n = 0
            if magic == b"\x0a\x0d\x0d\x0a":  # pcapng
                pos = 0
                endian = "<"
                while pos + 12 <= size:
                    btype = struct.unpack_from(endian + "I", mm, pos)[0]
                    if btype == 0x0A0D0D0A:
                        endian = "<" if mm[pos + 8:pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
                    blen = struct.unpack_from(endian + "I", mm, pos + 4)[0]
                    if blen < 12:
                        break
                    if btype in (2, 3, 6):  # (obsolete) packet, simple packet, enhanced packet
                        n += 1
                    pos += blen
                return n
            if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
                endian = "<"
            elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
                endian = ">"
            else:
                raise SystemExit(f"{path}: not a pcap or pcapng file (gzipped captures: unpack first)")
            unpack = struct.Struct(endian + "I").unpack_from
            pos = 24
            while pos + 16 <= size:
                pos += 16 + unpack(mm, pos + 8)[0]
                if pos <= size:
                    n += 1
            return n
        finally:
            mm.close()


def file_sha256(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def ensure_capture(packets: int, seed: int, pcapng: bool, regen: bool = False,
                   snaplen: int | None = None, encap: str | None = None) -> tuple[str, dict]:
    """Generate (or reuse) bench/out/synth-N-sSEED[-snapS][-ENCAP].pcap[ng]; return (path, generator summary)."""
    os.makedirs(OUT_DIR, exist_ok=True)
    ext = "pcapng" if pcapng else "pcap"
    snap = f"-snap{snaplen}" if snaplen else ""
    tunnel = f"-{encap}" if encap else ""
    path = os.path.join(OUT_DIR, f"synth-{packets}-s{seed}{snap}{tunnel}.{ext}")
    meta = path + ".json"
    gen_sha = file_sha256(GEN)
    if not regen and os.path.exists(path) and os.path.exists(meta):
        try:
            with open(meta) as fh:
                summary = json.load(fh)
            if summary.get("generator_sha256") == gen_sha and summary.get("bytes") == os.path.getsize(path):
                print(f"reusing {os.path.relpath(path)} (same generator, same options)", file=sys.stderr)
                return path, summary
        except (OSError, ValueError):
            pass
    cmd = [sys.executable, GEN, "--packets", str(packets), "--seed", str(seed), "-o", path,
           "--summary-json", meta]
    if pcapng:
        cmd.append("--pcapng")
    if snaplen:
        cmd += ["--snaplen", str(snaplen)]
    if encap:
        cmd += ["--encap", encap]
    print("generating:", " ".join(os.path.relpath(c) if c.startswith("/") and c != sys.executable else c
                                  for c in cmd), file=sys.stderr)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t0
    with open(meta) as fh:
        summary = json.load(fh)
    summary["generator_sha256"] = gen_sha
    summary["generation_wall_s"] = round(wall, 2)
    with open(meta, "w") as fh:
        json.dump(summary, fh, indent=2)
        fh.write("\n")
    return path, summary


def warm(path: str) -> None:
    """Read the file once so that no tool pays for the first disk read."""
    with open(path, "rb") as fh:
        while fh.read(1 << 24):
            pass


# ------------------------------------------------------------------ tools
# Where `python3 -m tcpflow_analyze` runs: the working tree, or (--ours-rev) a
# pristine export of one commit, so that half-finished edits in the working
# tree neither break nor skew a benchmark.
OURS_DIR = REPO
OURS_REV = None
# Our runs read bytecode cached here, compiled once before any run is timed
# (``bytecode_env``), as an installed package's is: pip compiles every
# module at install.  Where the environment sets PYTHONDONTWRITEBYTECODE
# (as this project's machines do), a run would otherwise parse and compile
# the modules that are not compiled to C every time: 0.07-0.1 s of CPU, 4% of a
# 2M-packet run (bench/README.md, *What is run*), that no installed copy pays.
PYCACHE = os.path.join(REPO, "bench", "out", "pycache")


def export_rev(rev: str) -> tuple[str, str]:
    """Export tcpflow_analyze/ at commit ``rev`` to bench/out/tree-SHA/ (git archive; the
    repository, its index and its worktrees are not touched).  Returns (dir, sha)."""
    sha = subprocess.run(["git", "rev-parse", "--verify", rev + "^{commit}"], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout.strip()
    dest = os.path.join(OUT_DIR, "tree-" + sha[:12])
    if not os.path.isdir(os.path.join(dest, "tcpflow_analyze")):
        os.makedirs(OUT_DIR, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".tree-", dir=OUT_DIR)
        # setup.py and pyproject.toml where the commit has them: what builds its compiled core.
        names = subprocess.run(["git", "ls-tree", "--name-only", sha, "setup.py", "pyproject.toml"], cwd=REPO,
                               check=True, capture_output=True, text=True).stdout.split()
        data = subprocess.run(["git", "archive", "--format=tar", sha, "tcpflow_analyze", *names], cwd=REPO,
                              check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, filter="data")
            else:
                tar.extractall(tmp)
        if os.path.exists(os.path.join(tmp, "setup.py")):
            # The compiled core, built in place; a failed build leaves the pure one (said by --version).
            r = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=tmp,
                               capture_output=True, text=True)
            if r.returncode:
                print(f"building the compiled core of {sha[:12]} failed; pure Python only:\n{r.stderr[-600:]}",
                      file=sys.stderr)
        os.rename(tmp, dest)
    return dest, sha


def our_has_jobs() -> bool:
    r = subprocess.run([sys.executable, "-m", "tcpflow_analyze", "analyze", "--help"], cwd=OURS_DIR,
                       capture_output=True, text=True)
    return r.returncode == 0 and "--jobs" in r.stdout


def our_core() -> str:
    """What ``--version`` says of the core ("compiled core: cython 3.x", "pure
    Python"); "" where a tree predates the compiled core."""
    r = subprocess.run([sys.executable, "-m", "tcpflow_analyze", "--version"], cwd=OURS_DIR,
                       capture_output=True, text=True)
    text = r.stdout.strip()
    return text.split("(", 1)[1].rstrip(")") if "(" in text else ""


def bytecode_env() -> dict:
    """What our runs add to the environment: bytecode cached under PYCACHE
    (None: the variable is removed)."""
    return {"PYTHONPYCACHEPREFIX": PYCACHE, "PYTHONDONTWRITEBYTECODE": None}


def compile_ours() -> None:
    """Byte-compile our package into PYCACHE, so that no timed run compiles it."""
    env = merged_env(bytecode_env())
    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.join(OURS_DIR, "tcpflow_analyze")],
                   cwd=OURS_DIR, env=env, check=True, stdout=subprocess.DEVNULL)
    # And the modules the standard library and click bring in at start-up.
    subprocess.run([sys.executable, "-m", "tcpflow_analyze", "--version"], cwd=OURS_DIR, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def merged_env(env: dict | None) -> dict | None:
    """os.environ with ``env`` on top (a None value removes the variable)."""
    if not env:
        return None
    out = dict(os.environ)
    for k, v in env.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def tools_for(path: str, ours: bool = True, tshark: bool = True, tcptrace: bool = True, argus: bool = True,
              pure: bool = True):
    """[(name, argv, cwd, env)] of the tools to run on ``path``; ``env``: what
    the run adds to the environment.  ``pure``: where our compiled core is
    built, our --jobs 1 run again as pure Python."""
    path = os.path.abspath(path)
    tools = []
    if ours:
        # The report goes to stdout, which is /dev/null.  Do NOT use
        # `-o /dev/null`: -o writes a temporary file next to the target and
        # renames it over the target, which as root replaces the /dev/null
        # device node with a regular file.
        base = [sys.executable, "-m", "tcpflow_analyze", "analyze", "--format", "json"]
        if our_has_jobs():
            tools.append((f"{OURS} --jobs 1", base + ["--jobs", "1", path], OURS_DIR, bytecode_env()))
            tools.append((f"{OURS} --jobs 2", base + ["--jobs", "2", path], OURS_DIR, bytecode_env()))
            if pure and "compiled" in our_core():
                tools.append((f"{OURS} --jobs 1 (pure)", base + ["--jobs", "1", path], OURS_DIR,
                              {**PURE_ENV, **bytecode_env()}))
        else:
            tools.append((OURS, base + [path], OURS_DIR, bytecode_env()))
    if tshark and shutil.which("tshark"):
        tools.append(("tshark -z conv,tcp", ["tshark", "-r", path, "-q", "-z", "conv,tcp"], REPO, {}))
    if tcptrace and shutil.which("tcptrace"):
        tools.append(("tcptrace -n", ["tcptrace", "-n", path], REPO, {}))
    if argus and shutil.which("argus"):
        # Flow records written nowhere: argus's reading and flow tracking alone.
        tools.append(("argus", ["argus", "-r", path, "-w", "/dev/null"], REPO, {}))
    return tools


def _children(pid: int):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(x) for x in fh.read().split()]
    except (OSError, ValueError):
        return []


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def busy_cpu_s():
    """CPU seconds all processes on this machine have used (from /proc/stat), or None."""
    try:
        with open("/proc/stat") as fh:
            f = [int(x) for x in fh.readline().split()[1:]]
        return (sum(f[:8]) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait
    except (OSError, ValueError, IndexError):
        return None


def wait_idle(max_wait: float, busy_cores: float = 0.25) -> float:
    """Wait (at most max_wait s) until the machine has been nearly idle for one
    second: less than ``busy_cores`` CPUs busy.  Returns the seconds waited."""
    t0 = time.perf_counter()
    while True:
        b0 = busy_cpu_s()
        time.sleep(1.0)
        b1 = busy_cpu_s()
        if b0 is None or b1 is None or b1 - b0 < busy_cores or time.perf_counter() - t0 >= max_wait:
            return time.perf_counter() - t0


def measure(argv, timeout: float, cwd: str = REPO, env: dict | None = None) -> dict:
    """Run argv once (``env``: added to the environment); return wall
    seconds, peak RSS (KiB) and exit status."""
    use_time = os.access(GNU_TIME, os.X_OK)
    with tempfile.NamedTemporaryFile("r", prefix="bench-time-", suffix=".txt", delete=False) as tf:
        tfile = tf.name
    err = tempfile.TemporaryFile("w+b")
    try:
        cmd = ([GNU_TIME, "-f", "%e %M", "-o", tfile] + argv) if use_time else argv
        load_before = os.getloadavg()[0]
        busy0 = busy_cpu_s()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                env=merged_env(env))
        deadline = t0 + timeout
        timed_out = False
        try:
            while True:
                pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() > deadline:
                    timed_out = True
                    proc.kill()
                    pid, status, ru = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.005)
        except BaseException:
            # Interrupted (Ctrl-C, SIGTERM): take the measured process down too.
            # With /usr/bin/time in between, kill the tool (its child) first.
            for child in _children(proc.pid):
                _kill(child)
            _kill(proc.pid)
            try:
                os.wait4(proc.pid, 0)
            except ChildProcessError:
                pass
            proc.returncode = -9
            raise
        wall_here = time.perf_counter() - t0
        busy1 = busy_cpu_s()
        # CPU time used by anything else during the run: a noise indicator
        # (machine busy time minus what the measured process tree used).
        other = (round(max(0.0, busy1 - busy0 - ru.ru_utime - ru.ru_stime), 2)
                 if busy0 is not None and busy1 is not None else None)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall, rss_kb = wall_here, ru.ru_maxrss
        if use_time:
            try:
                with open(tfile) as fh:
                    last = [ln for ln in fh.read().splitlines() if ln.strip()][-1].split()
                wall, rss_kb = float(last[0]), int(last[1])
            except (OSError, IndexError, ValueError):
                pass
            if wall < 0.1:  # %e has 10 ms resolution; use ours (which includes time's own start-up)
                wall = wall_here
        # GNU time reports a failing command's status on its own first line.
        err.seek(0)
        tail = err.read()[-600:].decode("utf-8", "replace")
        return {"wall_s": wall, "wall_s_outer": round(wall_here, 4), "rss_kb": rss_kb,
                "exit": proc.returncode, "timed_out": timed_out, "load1_before": round(load_before, 2),
                "cpu_s": round(ru.ru_utime + ru.ru_stime, 2), "other_cpu_s": other,
                "stderr_tail": tail if proc.returncode else ""}
    finally:
        err.close()
        try:
            os.unlink(tfile)
        except OSError:
            pass


def run_tools(path: str, tools, runs: int, timeout: float, quiet: bool = False, idle_wait: float = 0):
    """Alternate the tools run by run; return {name: [result, ...]}."""
    results = {name: [] for name, _, _, _ in tools}
    if any(name.startswith(OURS) for name in results):
        compile_ours()
    k = len(tools)
    for i in range(runs):
        order = [tools[(i + j) % k] for j in range(k)]
        for name, argv, cwd, env in order:
            waited = wait_idle(idle_wait, IDLE_BELOW) if idle_wait > 0 else 0.0
            r = measure(argv, timeout, cwd, env)
            r["idle_wait_s"] = round(waited, 1)
            results[name].append(r)
            if not quiet:
                status = "" if r["exit"] == 0 else f"  EXIT {r['exit']}" + ("  TIMEOUT" if r["timed_out"] else "")
                print(f"  run {i + 1}/{runs}  {name:<26} {r['wall_s']:8.2f} s  {r['rss_kb'] / 1024:8.1f} MB"
                      f"  cpu {r['cpu_s']:.2f} s  other cpu {r['other_cpu_s']} s"
                      + (f"  (waited {r['idle_wait_s']:.0f} s for idle)" if r["idle_wait_s"] >= 2 else "")
                      + status,
                      file=sys.stderr)
                if r["exit"]:
                    print("    " + r["stderr_tail"].strip().replace("\n", "\n    "), file=sys.stderr)
    return results


def summarize(results, packets: int):
    rows = []
    for name, rs in results.items():
        ok = [r for r in rs if r["exit"] == 0]
        if not ok:
            rows.append({"tool": name, "runs": len(rs), "ok_runs": 0})
            continue
        walls = [r["wall_s"] for r in ok]
        med = statistics.median(walls)
        rows.append({
            "tool": name, "runs": len(rs), "ok_runs": len(ok),
            "median_wall_s": med, "min_wall_s": min(walls), "max_wall_s": max(walls),
            "median_cpu_s": statistics.median(r["cpu_s"] for r in ok),
            "packets_per_s": packets / med if med > 0 else None,
            "peak_rss_mb": max(r["rss_kb"] for r in ok) / 1024,
        })
    for key in C_TOOLS:
        other = next((r for r in rows if r["tool"].startswith(key) and r.get("ok_runs")), None)
        for r in rows:
            if other and r.get("ok_runs") and r["median_wall_s"] > 0:
                r[f"throughput_vs_{key}"] = other["median_wall_s"] / r["median_wall_s"]
            if other and r.get("ok_runs") and r["median_cpu_s"] > 0:
                r[f"cpu_throughput_vs_{key}"] = other["median_cpu_s"] / r["median_cpu_s"]
    return rows


# The other tools, by the start of their names.  Against them the CPU-time
# ratio is the fair one: argus waits about a second before it exits (wall,
# not work), and our --jobs 2 spends CPU on two cores.
C_TOOLS = ("tshark", "tcptrace", "argus")


def _ratio(r: dict, key: str) -> str:
    ratio = r.get(key)
    return f"{ratio:.2f}" if ratio is not None else "-"


def fmt_table(headers, rows, aligns=None) -> str:
    cols = list(zip(*([headers] + rows))) if rows else [[h] for h in headers]
    widths = [max(len(str(c)) for c in col) for col in cols]
    aligns = aligns or ["<"] + [">"] * (len(headers) - 1)
    line = lambda cells: "  ".join(f"{str(c):{a}{w}}" for c, a, w in zip(cells, aligns, widths))  # noqa: E731
    out = [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)


def print_bench_table(rows, packets: int, path: str):
    sys.stderr.flush()
    print(f"\ncapture: {os.path.relpath(path)}  ({packets:,} packets, {os.path.getsize(path) / 1e6:.1f} MB)")
    table = []
    for r in rows:
        if not r.get("ok_runs"):
            table.append([r["tool"], f"0/{r['runs']}", "failed", "", "", "", "", ""])
            continue
        table.append([
            r["tool"], f"{r['ok_runs']}/{r['runs']}", f"{r['median_wall_s']:.2f}",
            f"{r['min_wall_s']:.2f}-{r['max_wall_s']:.2f}", f"{r['median_cpu_s']:.2f}",
            f"{r['packets_per_s']:,.0f}" if r["packets_per_s"] else "-",
            f"{r['peak_rss_mb']:.0f}", _ratio(r, "throughput_vs_tshark"),
            *(_ratio(r, f"cpu_throughput_vs_{key}") for key in C_TOOLS),
        ])
    print(fmt_table(["tool", "runs", "median wall s", "range s", "median CPU s", "packets/s", "peak RSS MB",
                     "x tshark", *(f"CPU x {key}" for key in C_TOOLS)], table))
    ours = [r for r in rows if r["tool"].startswith(OURS) and r.get("ok_runs")]
    for r in ours:
        if r.get("throughput_vs_tshark"):
            print(f"{r['tool']}: throughput {r['throughput_vs_tshark']:.2f}x tshark's "
                  f"({r['packets_per_s']:,.0f} vs {r['packets_per_s'] / r['throughput_vs_tshark']:,.0f} packets/s)")
        cpu = ", ".join(f"{r[f'cpu_throughput_vs_{key}']:.2f}x {key}'s" for key in C_TOOLS
                        if r.get(f"cpu_throughput_vs_{key}"))
        if cpu:
            print(f"{r['tool']}: packets per CPU second {cpu}")


# ------------------------------------------------------------------ environment
def environment() -> dict:
    def first_line(cmd, cwd=REPO):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=cwd)
            return (r.stdout or r.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return None
    cpu = None
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), None)
    except OSError:
        pass
    dirty = first_line(["git", "status", "--porcelain", "--", "tcpflow_analyze"])
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(), "cpu": cpu, "cpus": os.cpu_count(),
        "python": platform.python_version(), "platform": platform.platform(),
        "tcpflow_analyze": first_line([sys.executable, "-m", "tcpflow_analyze", "--version"], OURS_DIR),
        "tcpflow_analyze_source": f"git archive of {OURS_REV}" if OURS_REV else "working tree",
        "tcpflow_analyze_dir": OURS_DIR,
        "repo_commit": first_line(["git", "rev-parse", "HEAD"]),
        "working_tree_dirty": bool(dirty),
        "tshark": first_line(["tshark", "--version"]) if shutil.which("tshark") else None,
        "tcptrace": next((ln for ln in (subprocess.run(["tcptrace", "-v"], capture_output=True, text=True)
                                        .stderr.splitlines()) if "version" in ln), None)
        if shutil.which("tcptrace") else None,
        "argus": first_line(["argus", "-h"]) if shutil.which("argus") else None,
    }


# ------------------------------------------------------------------ modes
def bench_one(args) -> dict:
    gen_summary = None
    if args.capture:
        path = args.capture
        if not os.path.isfile(path):
            raise SystemExit(f"{path}: no such file")
    else:
        path, gen_summary = ensure_capture(args.packets, args.seed, args.pcapng, args.regen, args.snaplen,
                                           args.encap)
    packets = count_packets(path)
    warm(path)
    tools = tools_for(path, tshark=not args.no_tshark, tcptrace=not args.no_tcptrace, argus=not args.no_argus,
                      pure=not args.no_pure)
    print(f"{len(tools)} tools x {args.runs} runs on {os.path.relpath(path)} ({packets:,} packets)", file=sys.stderr)
    results = run_tools(path, tools, args.runs, args.timeout, args.quiet, args.wait_idle)
    rows = summarize(results, packets)
    print_bench_table(rows, packets, path)
    return {"mode": "bench", "capture": path, "packets": packets, "bytes": os.path.getsize(path),
            "generator": gen_summary, "runs": args.runs,
            "commands": {name: {"argv": argv, "cwd": cwd, "env": env} for name, argv, cwd, env in tools},
            "results": results, "summary": rows}


def bench_growth(args) -> dict:
    sizes = args.sizes or list(GROWTH_SIZES)
    points = []
    for n in sizes:
        path, gen_summary = ensure_capture(n, args.seed, args.pcapng, args.regen, args.snaplen, args.encap)
        packets = count_packets(path)
        warm(path)
        tools = tools_for(path, tshark=args.with_tshark, tcptrace=args.with_tcptrace, argus=args.with_argus,
                          pure=not args.no_pure)
        print(f"{packets:,} packets: {len(tools)} tools x {args.runs} runs", file=sys.stderr)
        results = run_tools(path, tools, args.runs, args.timeout, args.quiet, args.wait_idle)
        points.append({"packets": packets, "capture": path, "bytes": os.path.getsize(path),
                       "connections": gen_summary.get("connections"), "generator": gen_summary,
                       "results": results, "summary": summarize(results, packets)})
    report = {"mode": "growth", "seed": args.seed, "runs": args.runs, "points": points}
    print_growth(report)
    return report


def print_growth(report):
    points = report["points"]
    names = [r["tool"] for r in points[0]["summary"]]
    for name in names:
        print(f"\ngrowth: {name}  (seed {report['seed']}, {report['runs']} run(s) per size, median wall, "
              f"max peak RSS)")
        table = []
        prev = None
        first = None
        for p in points:
            row = next(r for r in p["summary"] if r["tool"] == name)
            if not row.get("ok_runs"):
                table.append([f"{p['packets']:,}", f"{p['connections']:,}", "failed", "", "", "", "", "", ""])
                continue
            t, m = row["median_wall_s"], row["peak_rss_mb"]
            cells = [f"{p['packets']:,}", f"{p['connections']:,}", f"{t:.2f}", f"{row['median_cpu_s']:.2f}",
                     f"{row['packets_per_s']:,.0f}",
                     f"{m:.0f}", f"{m * 1024 / (p['packets'] / 1000):.1f}"]
            if prev:
                cells += [f"{t / prev[1]:.2f}x / {p['packets'] / prev[0]:.1f}x",
                          f"{m / prev[2]:.2f}x"]
            else:
                cells += ["-", "-"]
            table.append(cells)
            prev = (p["packets"], t, m)
            first = first or (p["packets"], t, m)
        print(fmt_table(["packets", "connections", "wall s", "CPU s", "packets/s", "peak RSS MB", "RSS KB/1k pkts",
                         "time growth / size growth", "RSS growth"], table))
        if first and prev and prev[0] > first[0] and first[1] > 0:
            k = math.log(prev[1] / first[1]) / math.log(prev[0] / first[0])
            slope = (prev[2] - first[2]) / ((prev[0] - first[0]) / 1e6)
            print(f"{name}: time ~ packets^{k:.2f} from {first[0]:,} to {prev[0]:,} packets; "
                  f"peak RSS grows {slope:.0f} MB per million packets")


def main(argv=None):
    global OURS_DIR, OURS_REV, IDLE_BELOW
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("capture", nargs="?", help="capture to benchmark on (or use --packets)")
    ap.add_argument("--packets", type=int, metavar="N",
                    help="generate (or reuse) bench/out/synth-N-sSEED.pcap and benchmark on it")
    ap.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    ap.add_argument("--pcapng", action="store_true", help="generate pcapng instead of pcap")
    ap.add_argument("--encap", choices=("vxlan",), default=None,
                    help="generate the capture mirrored in this encapsulation (gen_capture.py --encap)")
    ap.add_argument("--snaplen", type=int, default=None, metavar="BYTES",
                    help="bytes stored per frame in generated captures (the generator's default: 96, "
                         "headers only; 65535 keeps whole packets, ~600 bytes each, as a busy server's "
                         "tcpdump -w does)")
    ap.add_argument("--regen", action="store_true", help="regenerate even if a matching capture exists")
    ap.add_argument("--runs", type=int, default=3, help="runs per tool (default 3)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds before a run is killed (default 3600)")
    ap.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                    help="before each run, wait up to SECONDS for the machine to be idle (under --idle-below "
                         "CPUs busy for 1 s): for shared machines (default 0: do not wait)")
    ap.add_argument("--idle-below", type=float, default=IDLE_BELOW, metavar="CPUS",
                    help=f"--wait-idle: how many CPUs may be busy and still count as idle (default {IDLE_BELOW})")
    ap.add_argument("--no-tshark", action="store_true", help="do not run tshark")
    ap.add_argument("--no-tcptrace", action="store_true", help="do not run tcptrace")
    ap.add_argument("--no-argus", action="store_true", help="do not run argus (argus -r CAPTURE -w /dev/null)")
    ap.add_argument("--no-pure", action="store_true",
                    help="where our compiled core is built, do not also run the pure-Python build")
    ap.add_argument("--growth", action="store_true",
                    help="time our tool on 100k, 250k, 500k, 1M and 2M packet captures of the same mix")
    ap.add_argument("--sizes", type=lambda s: [int(float(x)) for x in s.split(",")], metavar="N,N,...",
                    help="packet counts for --growth (default 100000,250000,500000,1000000,2000000)")
    ap.add_argument("--with-tshark", action="store_true", help="--growth: time tshark too")
    ap.add_argument("--with-tcptrace", action="store_true", help="--growth: time tcptrace too")
    ap.add_argument("--with-argus", action="store_true", help="--growth: time argus too")
    ap.add_argument("--ours-rev", metavar="REV",
                    help="benchmark tcpflow_analyze as committed at REV (e.g. HEAD), exported with git "
                         "archive to bench/out/tree-SHA/, instead of the working tree")
    ap.add_argument("--show", metavar="FILE", help="print the tables of a saved --json FILE again (nothing is run)")
    ap.add_argument("--json", metavar="FILE", help="save the raw results (every run) as JSON")
    ap.add_argument("-q", "--quiet", action="store_true", help="no per-run progress on stderr")
    args = ap.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # tables (stdout) and progress (stderr) in order
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so a killed benchmark kills its run
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    if args.show:
        with open(args.show) as fh:
            saved = json.load(fh)
        for pt in saved.get("points", []):  # re-summarize: older files lack newer columns
            pt["summary"] = summarize(pt["results"], pt["packets"])
        if saved["mode"] == "growth":
            print_growth(saved)
        else:
            print_bench_table(summarize(saved["results"], saved["packets"]), saved["packets"], saved["capture"])
        env = saved.get("environment", {})
        print(f"\n{env.get('tcpflow_analyze_source')}, {env.get('date_utc')}, {env.get('cpus')} x {env.get('cpu')}")
        return 0
    IDLE_BELOW = args.idle_below
    if args.ours_rev:
        OURS_DIR, sha = export_rev(args.ours_rev)
        OURS_REV = f"{args.ours_rev} ({sha})"
        print(f"tcpflow_analyze from {OURS_REV}: {os.path.relpath(OURS_DIR)}", file=sys.stderr)
    if args.growth:
        if args.capture or args.packets:
            ap.error("--growth generates its own captures; give no CAPTURE or --packets")
        report = bench_growth(args)
    else:
        if bool(args.capture) == bool(args.packets):
            ap.error("give a CAPTURE or --packets N (not both)")
        report = bench_one(args)
    report["environment"] = environment()
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
            fh.write("\n")
        print(f"\nraw results: {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
