#!/usr/bin/env python3
"""Prove that a restructuring of tcpflow_analyze changed no output byte.

Runs the CLI (``python3 -m tcpflow_analyze``) over every sample and public
capture with a fixed set of commands (analyze in every format, timewait,
states, ladder, ...), once with the package as committed at a revision and
once with the working tree, and compares the two sets of outputs byte for
byte: stdout, exit code and stderr of every run.  A refactor that is really
only a refactor shows ``0 differ``.

Usage, from anywhere in the repository (Python 3.10+, standard library only)::

    # The one-command check after a refactor: render REV (cached), render the
    # working tree (always fresh), diff them.  Exit 0 = no output byte changed.
    python3 bench/compare_outputs.py check --rev HEAD
    python3 bench/compare_outputs.py check --rev HEAD --big bench/out/synth-2m-full.pcap
    python3 bench/compare_outputs.py check --rev HEAD --only-samples      # quick

    # The two halves by hand
    python3 bench/compare_outputs.py render --rev 3e6c4b3 --out bench/out/compare/A
    python3 bench/compare_outputs.py render --rev WORKTREE --out bench/out/compare/B
    python3 bench/compare_outputs.py diff bench/out/compare/A bench/out/compare/B

``render --rev REV --out DIR [--big PATH ...] [--jobs N] [--only-samples]``
    Exports tcpflow_analyze/ as committed at REV into bench/out/tree-SHA/
    (``git archive SHA tcpflow_analyze | tar -x``; reused when already there;
    the index and the working tree are never touched), or with
    ``--rev WORKTREE`` uses the working tree's tcpflow_analyze/ directly.
    Then runs every (capture, command) pair with cwd = the repository root and
    PYTHONPATH = that tree, writing ``DIR/<capture>/<slug>.out`` (stdout),
    ``.rc`` (exit code) and ``.err`` (stderr), at most ``--jobs`` (default 2)
    at once, largest captures first.  ``DIR/_help/`` holds the ``--help`` of
    each command (a changed help text is a changed output too).
    ``DIR/_render.json`` records what was run, how long each run took, and
    which source was used; ``diff`` ignores it.

    Captures: sample_pcaps/*.pcap|.pcapng|.gz; every file of
    ../shared/pcaps/public/ except MANIFEST.md and reference/ (skipped with a
    message when ../shared is absent); each ``--big PATH``.  ``--only-samples``
    renders sample_pcaps/ only.  Commands: see COMMANDS below; a ``--big``
    capture gets only the analyze (every format, --jobs 1 and 2), timewait,
    states and ``ladder --conn 1`` ones, and ``analyze --format json
    --jobs 2`` runs on big captures and on any capture above 1 MB.

``diff DIR_A DIR_B``
    Compares every file of the two trees byte for byte; prints one line per
    difference (path, sizes, first differing line and both lines cut to 200
    characters) or per file present on one side only, then
    ``N files compared, M differ``.  Exit 1 if anything differs.

``check --rev REV [--big PATH ...] [--fresh] [--jobs N] [--only-samples]``
    Renders REV into bench/out/compare/<full sha>/ -- reusing every run that
    is already there for the same capture file (size, mtime), command line and
    Python, unless ``--fresh`` -- and the working tree into
    bench/out/compare/worktree/ (always fresh), then diffs the runs of this
    check (files of other, earlier runs in the cache are ignored).

The environment of every run: TZ=UTC; NO_COLOR, COLUMNS, LINES, FORCE_COLOR,
CLICOLOR and CLICOLOR_FORCE unset; stdin /dev/null, stdout and stderr files
(so no terminal: no colour, no progress line, 100-column ladders);
``--no-color`` where the command has it; PYTHONPATH = the tree,
PYTHONSAFEPATH=1 (Python 3.11+; on 3.10 a two-line launcher drops '' from
sys.path instead) so that the repository root, the cwd, cannot shadow the
exported tree -- each render checks which tcpflow_analyze it imports; and
PYTHONPYCACHEPREFIX=bench/out/pycache with PYTHONDONTWRITEBYTECODE unset,
so that bytecode is cached (a run starts in ~0.2 s instead of ~1.3 s) but only
under bench/out/pycache, never into tcpflow_analyze/ or site-packages.  Nothing in the outputs is normalised: a difference
between two renders of the same revision is nondeterminism in the tool.

Everything is written under bench/out/, which is git-ignored: never commit it.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "bench" / "out"
COMPARE_DIR = OUT_DIR / "compare"
PYCACHE = OUT_DIR / "pycache"
SAMPLES = REPO / "sample_pcaps"
SHARED = REPO.parent / "shared"
PUBLIC = SHARED / "pcaps" / "public"
SAMPLE_SUFFIXES = (".pcap", ".pcapng", ".gz")
PUBLIC_SKIP = {"MANIFEST.md"}          # and every directory (reference/)
LARGE = 1_000_000                      # bytes: "above 1 MB" adds analyze --jobs 2
WORKTREE = "WORKTREE"
MANIFEST = "_render.json"              # per render; not compared by diff
HELP_DIR = "_help"
CUT = 200                              # characters of a differing line shown
UNSET = ("NO_COLOR", "COLUMNS", "LINES", "FORCE_COLOR", "CLICOLOR", "CLICOLOR_FORCE")

# (slug, arguments before the capture, kinds of capture it runs for)
#   std   every sample and public capture
#   large a sample or public capture above LARGE bytes
#   big   a --big capture
STD, LARGE_K, BIG = "std", "large", "big"
COMMANDS: list[tuple[str, list[str], frozenset]] = [
    ("analyze-table", ["analyze", "--format", "table", "--no-color"], frozenset({STD, BIG})),
    ("analyze-json", ["analyze", "--format", "json"], frozenset({STD, BIG})),
    ("analyze-markdown", ["analyze", "--format", "markdown"], frozenset({STD, BIG})),
    ("analyze-csv", ["analyze", "--format", "csv"], frozenset({STD, BIG})),
    ("analyze-html", ["analyze", "--format", "html"], frozenset({STD, BIG})),
    ("analyze-table-github", ["analyze", "--format", "table", "--table-format", "github", "--no-color"],
     frozenset({STD})),
    ("analyze-table-sort-bytes-top3", ["analyze", "--format", "table", "--no-color", "--sort", "bytes", "--top", "3"],
     frozenset({STD})),
    ("analyze-json-state-established", ["analyze", "--format", "json", "--state", "ESTABLISHED"], frozenset({STD})),
    ("timewait", ["timewait"], frozenset({STD, BIG})),
    ("timewait-json", ["timewait", "--format", "json"], frozenset({STD})),
    ("states", ["states"], frozenset({STD, BIG})),
    ("states-json", ["states", "--format", "json"], frozenset({STD, BIG})),
    ("states-at-end", ["states", "--at", "end"], frozenset({STD})),
    ("states-at-end-json", ["states", "--at", "end", "--format", "json"], frozenset({STD})),
    ("ladder-conn1", ["ladder", "--conn", "1", "--no-color"], frozenset({STD, BIG})),
    ("ladder-conn1-json", ["ladder", "--conn", "1", "--format", "json"], frozenset({STD, BIG})),
    ("ladder-conn1-full", ["ladder", "--conn", "1", "--full", "--no-color"], frozenset({STD})),
    ("analyze-json-jobs2", ["analyze", "--format", "json", "--jobs", "2"], frozenset({LARGE_K, BIG})),
    ("analyze-table-jobs1", ["analyze", "--format", "table", "--no-color", "--jobs", "1"], frozenset({BIG})),
]
# Help texts, rendered into DIR/_help/ like any other run.
HELPS: list[tuple[str, list[str]]] = [
    ("main", ["--help"]), ("analyze", ["analyze", "--help"]), ("timewait", ["timewait", "--help"]),
    ("states", ["states", "--help"]), ("ladder", ["ladder", "--help"]),
]
# The options the commands above need, looked for in `analyze --help` etc. once per render.
NEEDED_OPTIONS = {
    "analyze": ["--format", "--table-format", "--no-color", "--sort", "--top", "--state", "--jobs"],
    "timewait": ["--format"], "states": ["--at", "--format"], "ladder": ["--conn", "--format", "--full", "--no-color"],
}
# Python 3.10 has no PYTHONSAFEPATH / -P: run the module through a launcher
# that removes the cwd ('') from sys.path first.  Same argv[0] and __main__
# package as `python -m`, so click prints the same program name.
LAUNCHER_310 = ("import sys, runpy; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
                "runpy.run_module('tcpflow_analyze', run_name='__main__', alter_sys=True)")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()


# ---------------------------------------------------------------- source tree

def resolve_sha(rev: str) -> str:
    try:
        return git("rev-parse", "--verify", rev + "^{commit}")
    except subprocess.CalledProcessError as e:
        sys.exit(f"compare_outputs: unknown revision {rev!r}: {e.stderr.strip()}")


def prepare_tree(rev: str) -> tuple[Path, str | None]:
    """(directory to put on PYTHONPATH, full sha or None for the working tree)."""
    if rev == WORKTREE:
        return REPO, None
    sha = resolve_sha(rev)
    dest = OUT_DIR / f"tree-{sha}"
    if (dest / "tcpflow_analyze" / "__init__.py").is_file():
        log(f"tree: reusing {rel(dest)}")
        return dest, sha
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tree-", dir=OUT_DIR))
    archive = subprocess.Popen(["git", "archive", sha, "tcpflow_analyze"], cwd=REPO, stdout=subprocess.PIPE)
    tar = subprocess.run(["tar", "-x", "-C", str(tmp)], stdin=archive.stdout)
    archive.stdout.close()
    if archive.wait() != 0 or tar.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        sys.exit(f"compare_outputs: git archive {sha} tcpflow_analyze | tar -x failed")
    try:
        os.rename(tmp, dest)
    except OSError:                      # someone else exported it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"tree: exported {sha} to {rel(dest)}")
    return dest, sha


def rel(p: Path | str) -> str:
    """For messages: relative to the repository root when inside it or next to it."""
    a = Path(p).resolve()
    return os.path.relpath(a, REPO) if a.is_relative_to(REPO.parent) else str(a)


def run_env(tree: Path) -> dict:
    env = dict(os.environ)
    for k in UNSET:
        env.pop(k, None)
    env["TZ"] = "UTC"
    old = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(tree) + (os.pathsep + old if old else "")
    env["PYTHONSAFEPATH"] = "1"
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env.pop("PYTHONDONTWRITEBYTECODE", None)   # bytecode only under PYCACHE: runs start in 0.2 s, not 1.3
    return env


def tool_argv() -> list[str]:
    if sys.version_info >= (3, 11):
        return [sys.executable, "-m", "tcpflow_analyze"]
    return [sys.executable, "-c", LAUNCHER_310]


def check_import(env: dict, tree: Path) -> None:
    """Make sure the runs import tcpflow_analyze from ``tree`` (not the cwd, not an
    editable install)."""
    code = "import tcpflow_analyze; print(tcpflow_analyze.__file__)"
    if sys.version_info < (3, 11):
        code = "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; " + code
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    got = Path(r.stdout.strip()).resolve() if r.returncode == 0 else None
    want = (tree / "tcpflow_analyze").resolve()
    if got is None or got.parent != want:
        sys.exit(f"compare_outputs: the runs would import tcpflow_analyze from {got} instead of {want}\n{r.stderr}")


def check_options(env: dict) -> None:
    """Look once for the options the commands use; only warns (a command that fails on
    both sides is still compared)."""
    for sub, opts in NEEDED_OPTIONS.items():
        r = subprocess.run([*tool_argv(), sub, "--help"], cwd=REPO, env=env, capture_output=True, text=True,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            log(f"warning: `{sub} --help` exited {r.returncode}: {r.stderr.strip()[:300]}")
            continue
        missing = [o for o in opts if o not in r.stdout]
        if missing:
            log(f"warning: `{sub} --help` does not mention {', '.join(missing)}; those runs will fail")


# ---------------------------------------------------------------- plan

@dataclass
class Capture:
    name: str          # directory name in the render
    path: str          # as passed on the command line (relative to the repo root when inside it)
    kind: str          # std or big
    size: int
    mtime_ns: int


@dataclass
class Job:
    name: str          # directory
    slug: str
    argv: list[str]    # after `python3 -m tcpflow_analyze`
    size: int = 0      # of the capture: largest first
    seconds: float = 0.0
    rc: str = ""
    reused: bool = False

    @property
    def key(self) -> str:
        return f"{self.name}/{self.slug}"


def cli_path(p: Path) -> str:
    """The capture's path on the command line: relative to the repo root (the cwd)
    when it is inside the repository or next to it (../shared), else absolute."""
    a = p.resolve()
    return os.path.relpath(a, REPO) if a.is_relative_to(REPO.parent) else str(a)


def collect_captures(big: list[str], only_samples: bool) -> list[Capture]:
    found: list[tuple[Path, str]] = []
    found += [(p, STD) for p in sorted(SAMPLES.iterdir()) if p.is_file() and p.name.endswith(SAMPLE_SUFFIXES)]
    if not only_samples:
        if PUBLIC.is_dir():
            found += [(p, STD) for p in sorted(PUBLIC.iterdir()) if p.is_file() and p.name not in PUBLIC_SKIP]
        else:
            log(f"note: {rel(PUBLIC)} not found ({rel(SHARED)} absent?): skipping the public captures")
        for b in big:
            p = Path(b)
            if not p.is_file():
                sys.exit(f"compare_outputs: --big {b}: no such file")
            found.append((p, BIG))
    caps: dict[str, Capture] = {}
    by_path: dict[Path, Capture] = {}
    for p, kind in found:
        a = p.resolve()
        if a in by_path:                 # a sample given again with --big
            by_path[a].kind = BIG
            continue
        if p.name in caps:
            sys.exit(f"compare_outputs: two captures named {p.name} ({caps[p.name].path}, {cli_path(p)})")
        st = a.stat()
        caps[p.name] = by_path[a] = Capture(p.name, cli_path(p), kind, st.st_size, st.st_mtime_ns)
    return list(caps.values())


def plan(captures: list[Capture]) -> list[Job]:
    jobs = [Job(HELP_DIR, slug, args) for slug, args in HELPS]
    for c in captures:
        kinds = {BIG} if c.kind == BIG else ({STD, LARGE_K} if c.size > LARGE else {STD})
        for slug, args, runs_for in COMMANDS:
            if kinds & runs_for:
                jobs.append(Job(c.name, slug, [*args, c.path], c.size))
    return jobs


def expected_files(jobs: list[Job]) -> set[str]:
    return {f"{j.key}{ext}" for j in jobs for ext in (".out", ".rc", ".err")}


# ---------------------------------------------------------------- render

class Runner:
    def __init__(self, out: Path, env: dict, timeout: float | None):
        self.out, self.env, self.timeout = out, env, timeout
        self.lock = threading.Lock()
        self.running: dict[int, subprocess.Popen] = {}
        self.stopping = False
        self.done = 0

    def run(self, job: Job) -> Job:
        if self.stopping:
            return job
        d = self.out / job.name
        d.mkdir(parents=True, exist_ok=True)
        base = str(d / job.slug)
        t0 = time.monotonic()
        with open(base + ".out.part", "wb") as fo, open(base + ".err.part", "wb") as fe:
            p = subprocess.Popen([*tool_argv(), *job.argv], cwd=REPO, env=self.env, stdin=subprocess.DEVNULL,
                                 stdout=fo, stderr=fe, start_new_session=True)
            with self.lock:
                self.running[p.pid] = p
            try:
                rc = str(p.wait(timeout=self.timeout))
            except subprocess.TimeoutExpired:
                kill_group(p)
                rc = f"timeout after {self.timeout:g} s"
            finally:
                with self.lock:
                    self.running.pop(p.pid, None)
        job.seconds = time.monotonic() - t0
        if self.stopping:
            return job
        job.rc = rc
        os.replace(base + ".out.part", base + ".out")
        os.replace(base + ".err.part", base + ".err")
        with open(base + ".rc.part", "w") as f:
            f.write(rc + "\n")
        os.replace(base + ".rc.part", base + ".rc")     # last: a .rc means the run is complete
        with self.lock:
            self.done += 1
        return job

    def stop(self) -> None:
        self.stopping = True
        with self.lock:
            procs = list(self.running.values())
        for p in procs:
            kill_group(p)


def kill_group(p: subprocess.Popen) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)     # the run and its --jobs workers
    except (ProcessLookupError, PermissionError):
        pass
    p.wait()


def load_manifest(out: Path) -> dict | None:
    try:
        with open(out / MANIFEST) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_manifest(out: Path, data: dict) -> None:
    tmp = out / (MANIFEST + ".part")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, out / MANIFEST)


def clear_render_dir(out: Path) -> None:
    """Empty ``out`` if it is a render (or empty); refuse anything else."""
    if not out.exists():
        return
    if not out.is_dir():
        sys.exit(f"compare_outputs: {out} exists and is not a directory")
    if any(out.iterdir()) and not (out / MANIFEST).exists():
        sys.exit(f"compare_outputs: {out} is not empty and holds no {MANIFEST}: not a render, not removing it")
    shutil.rmtree(out)


def render(rev: str, out: Path, big: list[str], jobs: int, only_samples: bool = False, reuse: bool = False,
           timeout: float | None = None) -> list[Job]:
    """Render ``rev`` into ``out``; returns the jobs of this render."""
    t_start = time.monotonic()
    tree, sha = prepare_tree(rev)
    env = run_env(tree)
    check_import(env, tree)
    captures = collect_captures(big, only_samples)
    todo = plan(captures)
    source = {"rev": rev, "sha": sha, "tree": rel(tree), "python": sys.version, "executable": sys.executable,
              "run_as": "-m tcpflow_analyze" if sys.version_info >= (3, 11) else "-c LAUNCHER_310"}
    if sha is None:
        source["head"] = git("rev-parse", "HEAD")
        source["dirty_files"] = git("status", "--porcelain", "--", "tcpflow_analyze").splitlines()

    old = load_manifest(out) if reuse else None
    if old and (old.get("source", {}).get("sha") != sha or sha is None
                or old.get("source", {}).get("python") != sys.version):
        log(f"cache {rel(out)}: made from another revision or Python: rendering afresh")
        old = None
    if old is None:
        clear_render_dir(out)
        old = {"captures": {}, "runs": {}}
    out.mkdir(parents=True, exist_ok=True)
    # Reuse a finished run only for the same capture file and the same command line.
    keep_caps = {c.name for c in captures
                 if old["captures"].get(c.name) == {"path": c.path, "size": c.size, "mtime_ns": c.mtime_ns}}
    runs = dict(old.get("runs", {}))
    pending = []
    for j in todo:
        prev = runs.get(j.key)
        if (prev and prev.get("argv") == j.argv and (j.name == HELP_DIR or j.name in keep_caps)
                and (out / (j.key + ".rc")).is_file()):
            j.rc, j.seconds, j.reused = prev.get("rc", ""), prev.get("seconds", 0.0), True
        else:
            runs.pop(j.key, None)
            pending.append(j)
    caps_meta = dict(old.get("captures", {}))
    caps_meta.update({c.name: {"path": c.path, "size": c.size, "mtime_ns": c.mtime_ns} for c in captures})
    manifest = {"source": source, "captures": caps_meta, "runs": runs, "complete": False,
                "elapsed_seconds": old.get("elapsed_seconds")}     # of the last render that ran something
    write_manifest(out, manifest)

    check_options(env)
    n_big = sum(c.kind == BIG for c in captures)
    log(f"render {rev}{' = ' + sha if sha and sha != rev else ''} -> {rel(out)}: {len(captures)} captures "
        f"({n_big} big), {len(todo)} runs, {len(todo) - len(pending)} reused, {len(pending)} to run, "
        f"{jobs} at once")
    pending.sort(key=lambda j: -j.size)          # longest first: the pool ends evenly
    runner = Runner(out, env, timeout)
    t_runs = time.monotonic()
    last = t_runs
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = [pool.submit(runner.run, j) for j in pending]
        for i, fut in enumerate(as_completed(futures), 1):
            fut.result()
            now = time.monotonic()
            if now - last >= 30 or i == len(futures):
                log(f"  [{runner.done}/{len(pending)}] {now - t_runs:.0f} s")
                last = now
    except BaseException:
        runner.stop()                    # before the pool waits for its threads
        pool.shutdown(wait=True, cancel_futures=True)
        log("interrupted: the runs in progress were killed; finished ones stay in place")
        for j in todo:
            if j.rc:
                runs[j.key] = {"argv": j.argv, "rc": j.rc, "seconds": round(j.seconds, 3)}
        write_manifest(out, manifest)
        raise
    pool.shutdown(wait=True)
    for j in todo:
        runs[j.key] = {"argv": j.argv, "rc": j.rc, "seconds": round(j.seconds, 3)}
    manifest["complete"] = True
    if pending:
        manifest["elapsed_seconds"] = round(time.monotonic() - t_start, 1)
    write_manifest(out, manifest)

    ran = [j for j in todo if not j.reused]
    failed = [j for j in todo if j.rc != "0"]
    log(f"done in {time.monotonic() - t_start:.1f} s: {len(todo)} runs ({len(ran)} run now, "
        f"{len(todo) - len(ran)} reused), {3 * len(todo)} files in {rel(out)}; "
        f"{len(failed)} runs exited non-zero")
    for j in sorted(ran, key=lambda j: -j.seconds)[:5]:
        log(f"  slowest: {j.seconds:6.1f} s  {j.key}")
    return todo


# ---------------------------------------------------------------- diff

def tree_files(root: Path) -> set[str]:
    files = set()
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            p = Path(dirpath, n).relative_to(root).as_posix()
            if p == MANIFEST or p.endswith(".part"):
                continue
            files.add(p)
    return files


def cut(line: bytes | None) -> str:
    if line is None:
        return "<end of file>"
    text = line.rstrip(b"\n").decode("utf-8", "replace")
    return repr(text[:CUT] + ("..." if len(text) > CUT else ""))


def first_difference(a: Path, b: Path) -> tuple[int, bytes | None, bytes | None]:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        for n, (la, lb) in enumerate(zip_longest(fa, fb), 1):
            if la != lb:
                return n, la, lb
    return 0, None, None


def same_bytes(a: Path, b: Path, size: int) -> bool:
    if size != b.stat().st_size:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            ca, cb = fa.read(1 << 20), fb.read(1 << 20)
            if ca != cb:
                return False
            if not ca:
                return True


def diff_trees(a: Path, b: Path, only: set[str] | None = None) -> int:
    """Print the differences of two renders; returns the number of differing files.
    ``only``: compare just these paths (a missing one counts as a difference)."""
    for d in (a, b):
        if not d.is_dir():
            sys.exit(f"compare_outputs: {d}: no such directory")
    fa, fb = tree_files(a), tree_files(b)
    if only is not None:
        fa, fb = fa & only, fb & only
        names = sorted(only)
    else:
        names = sorted(fa | fb)
    differ = 0
    for name in names:
        pa, pb = a / name, b / name
        if name not in fa and name not in fb:
            differ += 1
            print(f"{name}: missing on both sides")
            continue
        if name not in fa or name not in fb:
            differ += 1
            side, there = ("A", pa) if name in fa else ("B", pb)
            size = f"{there.stat().st_size} bytes" if there.exists() else "missing"
            print(f"{name}: only in {side} ({size}); missing in {'B' if side == 'A' else 'A'}")
            continue
        sa = pa.stat().st_size
        if same_bytes(pa, pb, sa):
            continue
        differ += 1
        n, la, lb = first_difference(pa, pb)
        print(f"{name}: {sa} vs {pb.stat().st_size} bytes, first difference at line {n}: "
              f"A {cut(la)} | B {cut(lb)}")
    print(f"{len(names)} files compared, {differ} differ")
    return differ


# ---------------------------------------------------------------- commands

def cmd_render(args) -> int:
    render(args.rev, Path(args.out), args.big, args.jobs, args.only_samples, timeout=args.timeout)
    return 0


def cmd_diff(args) -> int:
    return 1 if diff_trees(Path(args.dir_a), Path(args.dir_b)) else 0


def cmd_check(args) -> int:
    sha = WORKTREE if args.rev == WORKTREE else resolve_sha(args.rev)
    cache = COMPARE_DIR / (sha if sha != WORKTREE else "worktree-as-rev")
    wt = COMPARE_DIR / "worktree"
    t0 = time.monotonic()
    jobs_a = render(args.rev, cache, args.big, args.jobs, args.only_samples, reuse=not args.fresh,
                    timeout=args.timeout)
    jobs_b = render(WORKTREE, wt, args.big, args.jobs, args.only_samples, timeout=args.timeout)
    log(f"check: both renders took {time.monotonic() - t0:.0f} s; A = {rel(cache)} ({args.rev}), "
        f"B = {rel(wt)} (working tree)")
    differ = diff_trees(cache, wt, only=expected_files(jobs_a) | expected_files(jobs_b))
    return 1 if differ else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p, out: bool) -> None:
        p.add_argument("--rev", required=True, help=f"commit to render (any git revision), or {WORKTREE}")
        if out:
            p.add_argument("--out", required=True, metavar="DIR", help="where to write (emptied first if a render)")
        p.add_argument("--big", action="append", default=[], metavar="PATH",
                       help="a large capture: only the analyze, timewait, states and ladder runs (repeatable)")
        p.add_argument("--jobs", type=int, default=2, metavar="N", help="runs at once (default 2)")
        p.add_argument("--only-samples", action="store_true",
                       help="only the captures of sample_pcaps/ (no public ones, no --big)")
        p.add_argument("--timeout", type=float, default=3600, metavar="SECONDS",
                       help="kill a run after this long; its .rc says so (default 3600)")

    p = sub.add_parser("render", help="run every command on every capture with one source tree")
    common(p, out=True)
    p.set_defaults(func=cmd_render)
    p = sub.add_parser("diff", help="compare two renders byte for byte")
    p.add_argument("dir_a", metavar="DIR_A")
    p.add_argument("dir_b", metavar="DIR_B")
    p.set_defaults(func=cmd_diff)
    p = sub.add_parser("check", help="render REV (cached) and the working tree, and diff them")
    common(p, out=False)
    p.add_argument("--fresh", action="store_true", help="render REV again even if cached")
    p.set_defaults(func=cmd_check)

    args = ap.parse_args(argv)

    def terminated(signum, frame):
        raise KeyboardInterrupt          # kill the runs in progress, like ^C
    signal.signal(signal.SIGTERM, terminated)
    if getattr(args, "jobs", 1) < 1:
        ap.error("--jobs must be at least 1")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
