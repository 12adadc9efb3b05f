"""The command line: a thin layer of options over the library.

Every failure a user can cause is mapped here, in one place, to a one-line
message and an exit code (``errors.ExitStatus``); no traceback reaches them.
"""
from __future__ import annotations

import dataclasses
import errno
import functools
from itertools import islice
import math
import os
import re
import shutil
import tempfile
import sys

import click

from . import __version__, _core, detectors
from .analysis import AnalysisOptions
from .analysis import analyze as run_analysis
from .analysis.filters import SORT_KEYS, ConnectionFilter, parse_network, parse_state_spec, parse_time, select, select_anomalies
from .capture.source import SpoolFull, StdinSpool, spooling
from .errors import CaptureError, ExitStatus
from .model.states import (
    DEFAULT_FIN_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_REPORT_CONNECTIONS, DEFAULT_TIME_WAIT,
)
from .model.text import endpoint_text, printable
from .output import check as check_output_file
from .output import write_bytes, write_text
from .progress import Progress
from . import runtime
from .runtime import ForkedTable
from .views.findings import analysis_notices, notice_line
from .views import services as services_view
from .views.record import numbered
from .views.report import build_report

SEVERITIES = detectors.SEVERITIES
# The HTML report draws the ladder of each connection an anomaly names, up to this many.
HTML_MAX_LADDERS = 20
# ... and at most this many of their segments in all, shared evenly: a ladder
# costs memory by the segment, and one connection can have millions.
HTML_LADDER_SEGMENTS = 10_000


# --jobs by default: below this much capture, starting and feeding worker
# processes costs about what they save (the pure-Python core), or more than
# they save (the compiled core, whose walk is a larger share of a packet's
# cost: see auto_jobs).
PARALLEL_MIN_BYTES = 64 << 20
PARALLEL_MIN_BYTES_COMPILED = 512 << 20


def run() -> None:
    """The console entry point: ``main``, then an exit without heap teardown
    (``runtime.exit_without_teardown``)."""
    runtime.exit_without_teardown(main)


def _fail(message: str, code: ExitStatus = ExitStatus.USAGE):
    # A message may quote a file name or a capture's bytes: escaped, so that
    # an ESC or BEL in a name cannot drive the user's terminal.
    click.echo(f"tcpflow-analyze: error: {printable(message)}", err=True)
    sys.exit(int(code))


# --fail-on names a user may reach for: "no-tcp" is how the issue that asked
# for the gate spelled it, and types may be written with dashes, as options are.
FAIL_ON_ALIASES = {"no-tcp": "no_tcp_traffic", **{t.replace("_", "-"): t for t in detectors.TYPES}}


def parse_fail_on(value: str | None):
    """The --fail-on list: anomaly types and/or one severity; None if not given."""
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        # An empty list would gate nothing: a CI job whose variable expanded
        # to nothing must hear of it, not pass silently.
        raise click.BadParameter("the list is empty; give anomaly types or a severity")
    items = [FAIL_ON_ALIASES.get(i, i) for i in items]
    unknown = [i for i in items if i not in SEVERITIES and i not in detectors.TYPES]
    if not items or unknown:
        raise click.BadParameter(
            f"unknown {', '.join(map(repr, unknown)) or 'value'}; give anomaly types "
            f"({', '.join(detectors.TYPES)}) or a severity ({', '.join(SEVERITIES)})")
    return items


def fail_on_matches(report: dict, fail_on) -> list[dict]:
    """The report's anomalies that ``--fail-on`` matches, in report order."""
    if not fail_on:
        return []
    rank = {s: i for i, s in enumerate(SEVERITIES)}

    def matches(a) -> bool:
        return any(rank.get(a["severity"], -1) >= rank[item] if item in rank else a["type"] == item
                   for item in fail_on)
    return [a for a in report["anomalies"] if matches(a)]


def fail_on_text(matched: list[dict], known: int | None = None) -> str:
    """One line for stderr naming what tripped --fail-on: each type with its
    count, and the first match's message -- the gate explains itself even
    when the report went to a file (-o).  ``known``: with --baseline, the
    matches the baseline already had (not in ``matched``)."""
    counts: dict[str, int] = {}
    for a in matched:
        counts[a["type"]] = counts.get(a["type"], 0) + 1
    kinds = ", ".join(f"{t} x{n}" for t, n in counts.items())
    noun = "anomaly" if len(matched) == 1 else "anomalies"
    new = "" if known is None else "new "
    tolerated = "" if known is None else f"; {known} known from the baseline"
    return (f"tcpflow-analyze: --fail-on matched {len(matched)} {new}{noun} ({kinds}){tolerated}; "
            f"first: {matched[0]['message']}")


def gate(report: dict, fail_on) -> tuple[list[dict], int]:
    """(the matches of ``fail_on`` that fail, how many matches a --baseline
    already had): with a baseline (anomalies marked ``new``) only new
    findings fail."""
    matched = fail_on_matches(report, fail_on)
    failing = [a for a in matched if a.get("new", True)]
    return failing, len(matched) - len(failing)


def _baseline_file(ctx, param, value):
    """--baseline read as it is parsed, before a long analysis: (path, its anomalies)."""
    if value is None:
        return None
    if value == "":
        _fail("--baseline: empty file name")
    from .views import baseline
    try:
        return value, baseline.load(value)
    except ValueError as exc:
        _fail(f"--baseline: {exc}")


class ByteSize(click.ParamType):
    """A size in bytes: 4096, 512K, 4G, 1.5GiB (K, M, G, T: powers of 1024)."""

    name = "size"
    _UNITS = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4}

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([KMGT]?)(?:I?B)?\s*", str(value), re.IGNORECASE)
        size = int(float(m[1]) * 1024 ** self._UNITS[m[2].upper()]) if m else 0
        if not m or size < 1:
            self.fail(f"{value!r} is not a size of at least a byte: give bytes, or K, M, G or T (4G)", param, ctx)
        return size

    @staticmethod
    def text(size: int) -> str:
        for unit, power in (("TiB", 4), ("GiB", 3), ("MiB", 2), ("KiB", 1)):
            if size >= 1024 ** power:
                return f"{size / 1024 ** power:.4g} {unit}"
        return f"{size} bytes"


class Seconds(click.ParamType):
    """A duration or time threshold in seconds (60, 0.25, 1e-3), refused as
    the command line is parsed -- before anything is read or written -- when
    it is not a finite number, 0 or more: nan, inf and -1 would run and mean
    nothing.  ``positive``: 0 is refused too, where it makes no sense (a
    timeout every connection exceeds, a window of no time)."""

    name = "seconds"

    def __init__(self, positive: bool = False):
        self.positive = positive

    def convert(self, value, param, ctx):
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(seconds) or seconds < 0 or (self.positive and seconds == 0):
            least = "more than 0" if self.positive else "0 or more"
            self.fail(f"{value!r} is not a duration: give seconds, {least}", param, ctx)
        return seconds


class TableFormat(click.Choice):
    """tabulate's table formats (``--table-format``), read from tabulate
    only when a format other than the default is given: importing tabulate
    (and its Unicode width tables) would cost every run, JSON and CSV too,
    more than analyzing a small capture does."""

    DEFAULT = "simple"

    def __init__(self):
        # Not click.Choice's: it would take the list now.
        self.case_sensitive = True

    @property
    def choices(self):
        from tabulate import tabulate_formats
        return tuple(tabulate_formats)

    def convert(self, value, param, ctx):
        return value if value == self.DEFAULT else super().convert(value, param, ctx)


class Checked(click.ParamType):
    """Text whose form ``check`` (raising ValueError) approves as the command
    line is parsed, so that a typo is refused before the capture is read; the
    text is kept, for what needs the capture to place it (``+12s``, ``end``)."""

    def __init__(self, check, name: str):
        self.check, self.name = check, name

    def convert(self, value, param, ctx):
        try:
            self.check(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return value


# A moment of the capture (``filters.parse_time``: end, +12.5s, epoch, ISO-8601).
MOMENT = Checked(lambda text: parse_time(text, 0.0, 0.0), "time")


def _detector_value(opt) -> Checked:
    """A detector threshold given as text (``--time-wait-threshold 25%``,
    ``--port-range``), checked alone by the detectors' own rule
    (``detectors.config``); the pair is checked again together."""
    def check(text):
        try:
            detectors.config({opt.key: text})
        except ValueError as exc:
            raise ValueError(str(exc).removeprefix(f"{opt.flag}: ")) from None
    return Checked(check, "text")


def threshold_type(opt) -> click.ParamType:
    """The click type of a detector threshold option (``detectors.Option``)."""
    if opt.type is float:
        return Seconds(positive=opt.positive)
    if opt.type is int:
        return click.IntRange(min=1 if opt.positive else 0)
    return _detector_value(opt)


def analysis_options(func):
    """Options every command that analyzes captures shares."""
    opts = [
        click.argument("captures", nargs=-1, required=True, metavar="CAPTURE..."),
        click.option("--time-wait", type=Seconds(), default=DEFAULT_TIME_WAIT, show_default=True,
                     metavar="SECONDS",
                     help="How long an endpoint stays in TIME_WAIT after its final ACK (Linux: 60)."),
        click.option("--fin-timeout", type=Seconds(), default=DEFAULT_FIN_TIMEOUT, show_default=True,
                     metavar="SECONDS", help="How long an orphaned FIN_WAIT_2 socket lives (Linux tcp_fin_timeout: 60)."),
        click.option("--max-connections", type=click.IntRange(min=1), default=DEFAULT_MAX_CONNECTIONS,
                     show_default=True, metavar="N",
                     help="Live connections tracked at once; when full, the idlest tenth are finished early "
                          "(capture.evicted). Bounds memory on floods."),
        click.option("--jobs", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Processes to analyze with: each reads the whole capture and tracks its share of the "
                          "connections; the report is the same.  [default: every core for capture files of "
                          f"{PARALLEL_MIN_BYTES_COMPILED >> 20} MB or more ({PARALLEL_MIN_BYTES >> 20} MB on the "
                          "pure-Python core), else 1]"),
        click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
                     help="dask: run the partitions as tasks on a Dask cluster (--scheduler; the 'dask' extra)."),
        click.option("--scheduler", default="local", show_default=True, metavar="ADDRESS",
                     help="With --engine dask: the scheduler's address (tcp://host:8786), or local for a "
                          "LocalCluster of --jobs workers."),
        click.option("--scheduler-timeout", type=Seconds(positive=True), default=10.0,
                     show_default=True, metavar="SECONDS",
                     help="With --engine dask: how long to wait for the scheduler to accept and answer."),
        click.option("--spool-limit", type=ByteSize(), default="4G", show_default=True, metavar="SIZE",
                     envvar="TCPFLOW_ANALYZE_SPOOL_LIMIT",
                     help="Standard input is kept in TMPDIR for the second pass of --format html and ladder, "
                          "up to this much (K, M, G, T: powers of 1024); beyond it the run stops: give a file. "
                          "[env: TCPFLOW_ANALYZE_SPOOL_LIMIT]"),
        click.option("--max-report-connections", type=click.IntRange(min=0), default=DEFAULT_MAX_REPORT_CONNECTIONS,
                     show_default=True, metavar="N",
                     help="Finished connections listed in the report; older ones beyond it are folded into "
                          "per-service counts (capture.connections_omitted, capture.omitted)."),
    ]
    for opt in detectors.all_options():
        opts.append(click.option(opt.flag, opt.key, type=threshold_type(opt), default=opt.default, show_default=True,
                                 metavar=opt.metavar, help=opt.help))
    for decorate in reversed(opts):
        func = decorate(func)

    @functools.wraps(func)
    def wrapper(**kw):
        try:
            cfg = detectors.config({opt.key: kw.pop(opt.key) for opt in detectors.all_options()})
            options = AnalysisOptions(time_wait=kw.pop("time_wait"), fin_timeout=kw.pop("fin_timeout"),
                                      unanswered=cfg["half_open_timeout"],
                                      max_connections=kw.pop("max_connections"),
                                      max_report_connections=kw.pop("max_report_connections"))
        except ValueError as exc:
            _fail(str(exc))
        paths = _once_each(kw.pop("captures"))
        _check_outputs(paths, kw)
        if kw.get("finding_rows") and kw.get("fmt") != "csv":
            # Checked before the capture is read, not after.
            _fail("--anomalies is for --format csv (the other formats list the findings already)")
        engine = kw.pop("engine")
        dask = (kw.pop("scheduler"), kw.pop("scheduler_timeout"))
        second_pass = _reads_twice(kw)
        spool = None
        spool_limit = kw.pop("spool_limit")
        if "-" in paths and second_pass and engine != "dask":
            spool = _spool_stdin(spool_limit, second_pass)
        if "-" in paths and engine != "dask":
            _say_if_waiting_for_a_terminal()
        try:
            analysis = _first_pass(paths, options, kw.pop("jobs"), engine, dask, spool, second_pass)
            runtime.keep_until_exit(analysis)
            return func(analysis=analysis, cfg=cfg, **kw)
        finally:
            # Every way out: done, a usage error, Ctrl-C or SIGTERM (runtime.Terminated).
            if spool is not None:
                spool.discard()
    return wrapper


def _say_if_waiting_for_a_terminal() -> None:
    """``-`` with a terminal on standard input: the run would sit silent,
    waiting for a capture that someone meant to pipe in -- say so, once.
    Nothing when a pipe or a file is there."""
    if sys.stdin is not None and sys.stdin.isatty():
        click.echo("tcpflow-analyze: reading a capture from standard input (pipe one in, or press Ctrl-D)",
                   err=True)


def _first_pass(paths, options, jobs, engine, dask, spool, second_pass):
    """The analysis of ``paths``; standard input read through ``spool`` when
    a second pass will read it again."""
    try:
        with spooling(spool):
            analysis = _run(paths, options, jobs, engine, *dask)
        # Report the names the user gave; keep the files to read again.
        analysis.stats.files = ["<stdin>" if p == "-" else p for p in paths]
        analysis.paths = [spool.path if p == "-" else p for p in paths] if spool is not None else None
        return analysis
    except SpoolFull as exc:
        _fail(_spool_full(exc, second_pass))
    except CaptureError as exc:
        _fail(str(exc))
    except RuntimeError as exc:
        _fail(str(exc))
    except KeyboardInterrupt as exc:
        _interrupted(exc)


def _once_each(captures) -> list[str]:
    """The captures, each file once: the same file given twice (by any name)
    would merge every packet with its own copy -- each a retransmission."""
    paths, seen = [], {}
    for path in captures:
        if path == "-":  # standard input twice is the reader's usage error
            paths.append(path)
            continue
        try:
            st = os.stat(path)
        except OSError:
            st = None  # the reader reports it
        key = (st.st_dev, st.st_ino) if st is not None else ("name", path)
        if key in seen:
            click.echo(printable(f"tcpflow-analyze: warning: {path} is {seen[key]} again: read once"), err=True)
            continue
        seen[key] = path
        paths.append(path)
    return paths


def filter_options(func):
    """--host/--port/--state/--anomaly/--since/--until: which connections a command shows."""
    opts = [
        click.option("--host", "hosts", multiple=True, type=Checked(parse_network, "network"), metavar="ADDR|CIDR",
                     help="Only connections with an endpoint at this address or in this network (repeatable)."),
        click.option("--port", "ports", multiple=True, type=click.IntRange(0, 65535), metavar="PORT",
                     help="Only connections with an endpoint on this port (repeatable)."),
        click.option("--state", "states", multiple=True, type=Checked(parse_state_spec, "state"), metavar="[client:|server:]STATE",
                     help="Only connections with an endpoint in this state at the end, e.g. CLOSE_WAIT or "
                          "server:TIME_WAIT; ss's names (ESTAB, SYN-RECV, time-wait) too (repeatable)."),
        click.option("--anomaly", "anomaly_types", multiple=True, type=click.Choice(detectors.TYPES), metavar="TYPE",
                     help="Only connections (and anomalies) of this anomaly type (repeatable)."),
        click.option("--since", type=MOMENT, default=None, metavar="TIME",
                     help="Only connections active at or after TIME: epoch seconds, ISO-8601, or +SECONDS from the start."),
        click.option("--until", type=MOMENT, default=None, metavar="TIME", help="Only connections active at or before TIME."),
    ]
    for decorate in reversed(opts):
        func = decorate(func)
    return func


def build_filter(analysis, hosts, ports, states, anomaly_types, since, until) -> ConnectionFilter:
    try:
        return ConnectionFilter.from_options(hosts, ports, states, anomaly_types, since, until,
                                             analysis.stats.start, analysis.stats.end)
    except ValueError as exc:
        _fail(str(exc))


def use_color(flag: bool | None, output: str | None) -> bool:
    """Colour only for a person at a terminal: not into files or pipes, not with NO_COLOR."""
    if flag is not None:
        return flag
    if output not in (None, "-") or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return sys.stdout.isatty()


def _run(paths, options, jobs, engine, scheduler, scheduler_timeout):
    """The analysis, with the processes it was asked to use (``Analysis.jobs``)."""
    if engine == "dask":
        if "-" in paths:
            _fail("--engine dask reads files the workers can open, not standard input")
        from .analysis import parallel
        analysis = parallel.analyze_dask(paths, scheduler, jobs, options, timeout=scheduler_timeout)
        analysis.jobs = jobs if jobs is not None else auto_jobs(paths)
        return analysis
    if jobs is None:
        jobs = auto_jobs(paths)
    if jobs > 1 and "-" not in paths:
        # The process pool (multiprocessing) is imported only for a run that uses it.
        from .analysis import parallel
        analysis = parallel.analyze_parallel(paths, jobs, options, progress=Progress(paths))
    else:
        analysis = run_analysis(paths, options, progress=Progress(paths))
    analysis.jobs = jobs
    return analysis


def auto_jobs(paths) -> int:
    """--jobs by default: every core this process may use, for capture files
    big enough to gain from them; standard input is read once, by one process.

    Every worker walks every packet to find its own connections, and the
    merge and the report run in one process.  On the compiled core the walk
    is a larger share of what a packet costs, so more processes shorten only
    the runs whose connections outweigh it: from about half a gigabyte of
    capture (bench/README: "--jobs on the compiled core")."""
    if "-" in paths:
        return 1
    from . import _core
    min_bytes = PARALLEL_MIN_BYTES_COMPILED if _core.compiled_modules() else PARALLEL_MIN_BYTES
    try:
        size = sum(os.path.getsize(p) for p in paths)
    except OSError:
        return 1  # the reader reports the missing file
    if size < min_bytes:
        return 1
    from .analysis.parallel import usable_cores
    cores = usable_cores()
    return cores if cores > 1 else 1


def _terminal_width(output: str | None) -> int | None:
    """The width to fit text to: COLUMNS when set (``COLUMNS=80 ... | less``
    asks for 80 columns, as ls honours it), else the terminal's when the text
    goes to one; None for files, and for pipes without COLUMNS."""
    if output not in (None, "-"):
        return None
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size((100, 24)).columns


def _emit(text: str, output: str | None) -> None:
    try:
        write_text(text, output)
    except BrokenPipeError:
        if output is None or output == "-":
            raise  # the reader of stdout went away: _Group.invoke ends quietly
        _fail(f"-o/--output: cannot write {output}: {os.strerror(errno.EPIPE)}")
    except OSError as exc:
        if output is None or output == "-":
            _fail(f"cannot write standard output: {exc.strerror or exc}")
        _fail(f"-o/--output: cannot write {output}: {exc.strerror or exc}")
    except KeyboardInterrupt as exc:
        _interrupted(exc)


def _interrupted(exc: KeyboardInterrupt):
    """Ctrl-C, SIGTERM or SIGHUP (``runtime.Terminated``): one line, exit 128 + the signal."""
    message, code = runtime.interruption(exc)
    _fail(message, code)


class _Group(click.Group):
    """Maps what escapes a command to one line and an exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            _interrupted(exc)
        except BrokenPipeError:
            # The reader of our output went away (| head): not an error of ours.
            try:
                sys.stdout = open(os.devnull, "w")
            except OSError:
                pass
            sys.exit(0)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as exc:  # a defect: still one line, never a traceback
            if os.environ.get("TCPFLOW_ANALYZE_DEBUG"):
                raise
            _fail(f"internal error: {type(exc).__name__}: {exc} (please report it; set "
                  f"TCPFLOW_ANALYZE_DEBUG=1 to see the traceback)")


def output_option(help_text: str):
    """Every command's ``-o/--output FILE`` (stdout without it)."""
    return click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help=help_text,
                        callback=_output_name)


def _output_name(ctx, param, value):
    if value == "":
        _fail("-o/--output: empty file name")
    return value


NEEDS_MATPLOTLIB = "--plot needs matplotlib: pip install 'tcpflow-analyze[plot]'"


def plot_option(help_text: str):
    """``--plot FILE``: an image in the format its extension names (matplotlib's: png, svg, pdf, ...)."""
    return click.option("--plot", type=click.Path(dir_okay=False), default=None, metavar="FILE.png",
                        help=help_text + " The extension picks the format (.png, .svg, .pdf, ...); needs the "
                                         "'plot' extra: pip install 'tcpflow-analyze[plot]'.",
                        callback=_plot_name)


def _plot_name(ctx, param, value):
    """The --plot file's name, refused as it is parsed, not after the analysis."""
    if value is None:
        return None
    if value == "":
        _fail("--plot: empty file name")
    from .render import figure
    try:
        figure.format_of(value)
    except ImportError:
        _fail(NEEDS_MATPLOTLIB)
    except ValueError as exc:
        _fail(f"--plot: {exc}")
    return value


def _check_outputs(captures, kw) -> None:
    """Refuse, before the analysis runs, an -o or --plot file that must not
    or cannot be written (``output.check``): one of the captures, a
    write-protected file, a missing directory."""
    for option, key in (("-o/--output", "output"), ("--plot", "plot")):
        path = kw.get(key)
        if path is None or (key == "output" and path == "-"):
            continue
        try:
            check_output_file(path, captures)
        except ValueError as exc:
            _fail(f"{option}: {exc}")
        except OSError as exc:
            _fail(f"{option}: cannot write {path}: {exc.strerror or exc}")


def _print_version(ctx, _param, value):
    # Which core runs is part of the version: a slow run on a machine whose
    # install fell back to pure Python (no compiler) is explained here.
    if not value or ctx.resilient_parsing:
        return
    click.echo(f"tcpflow-analyze, version {__version__} ({_core.describe()})")
    ctx.exit()


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and which core runs (compiled or pure Python), and exit.")
def main():
    """Rebuild every TCP connection in packet captures, say what state each
    endpoint's TCP stack was in, and what went wrong."""
    runtime.end_on_signals(click.get_current_context().call_on_close)
    runtime.pause_cyclic_gc(click.get_current_context().call_on_close)


@main.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown", "csv", "html", "junit", "zeek"]),
              default="table", show_default=True,
              help="table for people, json for scripts (the report contract), markdown for CI summaries, csv for "
                   "spreadsheets, html for a self-contained page, junit for CI test reports (one test case per "
                   "anomaly type; failing: what --fail-on matches, warning and critical without it), zeek for "
                   "a Zeek conn.log (TSV, or JSON lines with --zeek-json).")
@click.option("--zeek-json", "zeek_json", is_flag=True, default=False,
              help="With --format zeek: Zeek's JSON log lines (one object per connection) instead of its TSV.")
@output_option("Write the report to FILE (atomically) instead of stdout.")
@click.option("--fail-on", "fail_on", default=None, metavar="LIST",
              help="Comma-separated anomaly types, or a severity (info, warning, critical): "
                   "exit 1 when a matching anomaly is found. no-tcp: no_tcp_traffic.")
@click.option("--baseline", default=None, metavar="OLD.json",
              callback=_baseline_file,
              help="A previous JSON report of this tool: --fail-on fails only on findings it did not have "
                   "(same type and service, host or source); the report marks each finding new or not "
                   "(summary.baseline).")
@click.option("--table-format", type=TableFormat(), default="simple", show_default=True, metavar="NAME",
              help="Any tabulate table format (simple, github, grid, plain, ...).")
@click.option("--sort", type=click.Choice(sorted(SORT_KEYS)), default="id", show_default=True,
              help="Order of the connections table (id is first-seen order; sizes and durations largest first).")
@click.option("--top", type=click.IntRange(min=0), default=None, metavar="N",
              help="List only the first N connections (the counts stay whole); 0: the summary and findings alone.")
@click.option("--no-connections", is_flag=True, help="No connections list: the same as --top 0.")
@click.option("--min-severity", type=click.Choice(SEVERITIES), default=None,
              help="Hide lesser findings from the text outputs (table, markdown, html), saying how many; "
                   "json keeps them all.")
@click.option("--anomalies", "finding_rows", is_flag=True,
              help="With --format csv: one row per finding (type, severity, time, service/host/source, count, "
                   "connection ids, message), worst first, instead of one per connection.")
@click.option("--color/--no-color", "color", default=None, help="Colour states and severities (default: on a terminal).")
@filter_options
@analysis_options
def analyze(analysis, cfg, fmt, output, fail_on, baseline, zeek_json, table_format, sort, top, no_connections,
            min_severity, finding_rows, color, hosts, ports, states, anomaly_types, since, until):
    """Analyze CAPTURE files (pcap, pcapng, optionally gzipped; - for stdin).

    Several captures are merged in timestamp order into one trace.  Each
    anomaly detector's threshold has its own option below.
    """
    try:
        fail_items = parse_fail_on(fail_on)
    except click.BadParameter as exc:
        _fail(f"--fail-on: {exc}")
    if zeek_json and fmt != "zeek":
        _fail("--zeek-json goes with --format zeek")
    flt = build_filter(analysis, hosts, ports, states, anomaly_types, since, until)
    if no_connections:
        top = 0
    color, width = use_color(color, output), _terminal_width(output)
    forked = None
    if not flt.active and sort == "id" and top is None and fmt == "table" and table_format == "simple":
        # Every connection is listed, in order: the table of them can be
        # written while the detectors run (runtime.ForkedTable).
        forked = ForkedTable.start(analysis.connections, analysis.jobs, color, width)
    try:
        found = detectors.run(analysis, cfg)
        matched = select(analysis.connections, flt, found)
        shown = select(matched, ConnectionFilter(), sort=sort, top=top)
        anomalies = select_anomalies(found, flt, matched)
        report = build_report(analysis, anomalies, connections=shown, counted=matched, selected=flt.active)
        if flt.active or top is not None:
            report["selection"] = {"matched": len(matched), "shown": len(shown),
                                   "total": len(analysis.connections), "sort": sort, "top": top}
        if baseline is not None:
            from .views.baseline import mark
            mark(report, baseline[1], baseline[0])
        # Each format's renderer is imported when chosen: the others would
        # cost every run's start (the table's tabulate, for one).
        if fmt == "json":
            from .render.json_out import iter_dumps
            text = iter_dumps(report)
        elif fmt == "markdown":
            from .render.markdown import render as render_markdown
            text = render_markdown(report, min_severity=min_severity)
        elif fmt == "csv" and finding_rows:
            from .render.csv_out import iter_findings_csv
            text = iter_findings_csv(report, min_severity)
        elif fmt == "csv":
            from .render.csv_out import iter_csv
            text = iter_csv(report)
        elif fmt == "html":
            text = _html(report, analysis, found, cfg, matched if flt.active else None, flt, min_severity)
        elif fmt == "zeek":
            from .render.zeek_log import iter_json, iter_tsv
            from .views.zeek_log import rows as zeek_rows
            conn_rows = zeek_rows(shown)
            text = iter_json(conn_rows) if zeek_json else \
                iter_tsv(conn_rows, report["capture"].get("start"), report["capture"].get("end"),
                         [n["message"] for n in report["summary"]["notices"]])
        elif fmt == "junit":
            from .render.junit import render as render_junit
            # Without --fail-on the test report still fails what needs a
            # look (warning and up); the exit status gates only on --fail-on.
            junit_gate = fail_items or ["warning"]
            text = render_junit(report, gate(report, junit_gate)[0], ",".join(junit_gate))
        else:
            from .render.table import iter_render as render_table
            text = render_table(report, table_format, color=color, width=width, forked=forked,
                                min_severity=min_severity, sort=sort)
        _emit(text, output)
    finally:
        if forked is not None:
            forked.close()
    _say_unseen(report["summary"]["notices"])
    tripped, known = gate(report, fail_items)
    if tripped:
        click.echo(printable(fail_on_text(tripped, known if baseline is not None else None)), err=True)
        sys.exit(int(ExitStatus.FAIL_ON))
    if known:
        noun = "anomaly" if known == 1 else "anomalies"
        click.echo(printable(f"tcpflow-analyze: --fail-on matched {known} {noun}, all known from the baseline "
                             f"({baseline[0]})"), err=True)


def _say_unseen(notices: list[dict], where: str = "the report's top") -> None:
    """Nothing silent: what the analysis could not see (views.findings)
    reaches the person as one stderr line, even when the output went to a
    file or a pipe, whatever its format."""
    unseen = notice_line(notices, where)
    if unseen:
        click.echo(printable(unseen), err=True)


# Where a view (timewait, states, services, ladder) writes its notices in full.
VIEW_TOP = "the output's top"


@main.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@output_option("Write the report to FILE (atomically) instead of stdout.")
@plot_option("Also draw TIME_WAIT and CLOSE_WAIT counts over time per host.")
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True,
              help="How many hosts and remote endpoints to list.")
@filter_options
@analysis_options
def timewait(analysis, cfg, fmt, output, plot, top, hosts, ports, states, anomaly_types, since, until):
    """Why are we out of ports?  TIME_WAIT and CLOSE_WAIT per host.

    Which side closes first, how many sockets sit in TIME_WAIT over time and
    at the peak, toward whom, how fast new connections are opened, how much of
    the ephemeral port range that uses and when it would run out, with advice
    tied to what was seen; and which services leave sockets in CLOSE_WAIT.
    """
    from .render import timewait as timewait_text
    from .views import timewait as timewait_view
    analysis = _filtered(analysis, cfg, hosts, ports, states, anomaly_types, since, until)
    view = timewait_view.build(analysis, cfg, top=top)
    if plot:
        _plot(timewait_text.plot, view, plot)
    text = _view_json(view) if fmt == "json" else timewait_text.render(view, _terminal_width(output))
    _emit(text, output)
    _say_unseen(view["notices"], VIEW_TOP)


@main.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@output_option("Write to FILE instead of stdout.")
@click.option("--sort", type=click.Choice(list(services_view.SORT_KEYS)), default=services_view.DEFAULT_SORT,
              show_default=True, help="Rank the rows by this, largest first.")
@click.option("--top", type=click.IntRange(min=1), default=services_view.DEFAULT_TOP, show_default=True, metavar="N",
              help="Rows per table; the output says how many more there were.")
@click.option("--by", type=click.Choice(services_view.BY), default="both", show_default=True,
              help="Per server ip:port, per client host, or both.")
@filter_options
@analysis_options
def services(analysis, cfg, fmt, output, sort, top, by, hosts, ports, states, anomaly_types, since, until):
    """Per service (server ip:port) and per client host: connections, refused,
    reset, unanswered, open, TIME_WAIT and CLOSE_WAIT at the end,
    retransmission rate, handshake RTT and connect time, bytes.

    What tshark -z endpoints,tcp, Zeek's summaries and ss -s give, with the
    TCP states; clients with the ephemeral ports they hold.
    """
    from .render import services as services_text
    selected = _filtered(analysis, cfg, hosts, ports, states, anomaly_types, since, until)
    view = services_view.build(selected, sort=sort, top=top, by=by, filtered=selected is not analysis)
    if fmt == "json":
        text = _view_json(view)
    elif fmt == "csv":
        text = services_text.render_csv(view)
        left = {k: view.get(f"{k}_left_out", 0) for k in ("services", "clients")}
        if any(left.values()):
            s, c = left["services"], left["clients"]
            click.echo(f"tcpflow-analyze: note: --top {top} left out {s:,} service{'' if s == 1 else 's'} and "
                       f"{c:,} client host{'' if c == 1 else 's'}", err=True)
    else:
        text = services_text.render(view, width=_terminal_width(output))
    _emit(text, output)
    _say_unseen(view["notices"], VIEW_TOP)


def _view_json(view):
    """A view's JSON text, in chunks."""
    from .render.json_out import iter_view_dumps
    return iter_view_dumps(view)


def _html(report, analysis, found, cfg, matched=None, flt=None, min_severity=None) -> str:
    """The HTML report; ``found``: every anomaly the detectors found (the
    ladders mark them all, whatever the filters kept); ``matched``: the
    connections the filters selected (None: no filter), of which the charts
    and the services tables are drawn, as the tables are."""
    from .render.html import anomaly_connection_ids, render_html
    from .views.states import state_timelines
    from .views.ladder import record_ladders
    ids = anomaly_connection_ids(report, limit=HTML_MAX_LADDERS, min_severity=min_severity)
    ladders = {}
    if ids:
        ladders = record_ladders(_paths(analysis), ids, analysis.options, analysis=analysis, cfg=cfg,
                                 anomalies=found, max_segments=HTML_LADDER_SEGMENTS // len(ids))
    drawn = analysis if matched is None else dataclasses.replace(analysis, connections=matched, selected=True)
    services = services_view.build(drawn, top=None, filtered=matched is not None)
    window = (flt.since, flt.until) if flt is not None else (None, None)
    return render_html(report, state_timelines(drawn), ladders, services=services, min_severity=min_severity,
                       window=window)


def _paths(analysis) -> list[str]:
    """The files to read again for a view (standard input was spooled to one)."""
    return list(analysis.paths) if analysis.paths else ["-" if f == "<stdin>" else f for f in analysis.stats.files]


def _reads_twice(kw) -> str | None:
    """What reads the captures a second time, as the user named it: the
    ladder and the HTML report; None for every other output."""
    if click.get_current_context().info_name == "ladder":
        return "ladder"
    return "--format html" if kw.get("fmt") == "html" else None


def _spool_stdin(limit: int, second_pass: str) -> StdinSpool:
    """Standard input can be read once: the first pass copies it into a
    temporary file (in TMPDIR) for the second (``capture.StdinSpool``)."""
    try:
        return StdinSpool(limit)
    except OSError as exc:
        _fail(f"cannot keep standard input in TMPDIR ({tempfile.gettempdir()}) for the second pass of "
              f"{second_pass}: {exc.strerror or exc}: save it to a file and pass its name")


def _spool_full(exc: SpoolFull, second_pass: str) -> str:
    if exc.error is not None:
        return (f"cannot keep standard input in TMPDIR ({tempfile.gettempdir()}) for the second pass of "
                f"{second_pass}: {exc.error}: save it to a file and pass its name")
    return (f"standard input is larger than --spool-limit ({ByteSize.text(exc.limit)}), which {second_pass} "
            f"keeps in TMPDIR for its second pass: save it to a file and pass its name")


@main.command()
@click.option("--conn", "conns", multiple=True, metavar="ID|A:P-B:P[#N]",
              help="The connection: its id in the report, or its 4-tuple (either order; #N for the Nth "
                   "instance of a reused tuple). Repeatable. Without it, the connections the filters select.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@output_option("Write to FILE instead of stdout.")
@click.option("--full", is_flag=True, help="Every segment: do not fold the data phase into a summary line.")
@click.option("--absolute", is_flag=True, help="Absolute sequence numbers instead of relative to each ISN.")
@click.option("--width", type=click.IntRange(min=60), default=None, metavar="COLUMNS",
              help="Diagram width (default: the terminal's, else 100).")
@click.option("--top", type=click.IntRange(min=1), default=1, show_default=True,
              help="With filters instead of --conn: how many of the selected connections to draw.")
@click.option("--color/--no-color", "color", default=None, help="Colour states and marks (default: on a terminal).")
@filter_options
@analysis_options
def ladder(analysis, cfg, conns, fmt, output, full, absolute, width, top, color,
           hosts, ports, states, anomaly_types, since, until):
    """Draw a connection as the textbook ladder diagram.

    Client on the left, server on the right, one line per segment with its
    flags, relative seq/ack and length, and each side's TCP state written
    where it changes; retransmissions, ignored RSTs and anomalies are marked
    on their line.  The data phase of a long connection folds into one
    summary line unless --full.
    """
    from .render.ladder import iter_ladders_json, iter_ladders_text
    from .views.ladder import ladder_json, record_ladders
    selects = list(conns)
    anomalies = ()
    if not selects:
        flt = build_filter(analysis, hosts, ports, states, anomaly_types, since, until)
        if not flt.active and not _the_only_connection(analysis):
            _fail(_pick_one(analysis))
        anomalies = detectors.run(analysis, cfg) if flt.anomalies else ()
        picked = select(analysis.connections, flt, anomalies, top=top)
        if not picked:
            _fail("no connection matches the filters")
        selects = [c.id for c in picked]
    else:
        selects = [int(s) if s.isdigit() else s for s in selects]
    try:
        # The folded text ladder needs only what its lines show: long quiet
        # runs are folded as they are recorded.
        drawn = record_ladders(_paths(analysis), selects, analysis.options, analysis=analysis, cfg=cfg,
                               anomalies=anomalies or None, folded=fmt == "text" and not full)
    except ValueError as exc:
        _fail(f"--conn: {exc}")
    except CaptureError as exc:
        _fail(str(exc))
    # Written as made: a connection's events are read from compact records
    # one at a time, never all held as objects or text.
    notices = analysis_notices(analysis)
    if fmt == "json":
        text = iter_ladders_json([ladder_json(lad, stream=True, notices=notices) for lad in drawn.values()])
    else:
        cols = width or (shutil.get_terminal_size((100, 24)).columns if sys.stdout.isatty() else 100)
        paint = use_color(color, output)
        text = iter_ladders_text(drawn.values(), notices, full=full, width=cols, color=paint, absolute=absolute)
    _emit(text, output)
    _say_unseen(notices, VIEW_TOP)


@main.command()
@click.option("--at", "at", type=MOMENT, default=None, metavar="TIME",
              help="Show the sockets at TIME, as ss -tan would have: epoch seconds, ISO-8601, +SECONDS from the "
                   "start (+12.5s, +250ms), or end.  Without it: the count per state over time, per host.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@output_option("Write to FILE instead of stdout.")
@plot_option("Also draw the timelines (with --at: the sockets per state at that moment).")
@click.option("--width", type=click.IntRange(min=10), default=None, metavar="N",
              help="Sparkline width in characters (default: 60, narrower to fit the terminal).")
@click.option("--limit", type=click.IntRange(min=1), default=None, metavar="N",
              help="With --at: list at most N sockets per host (the counts stay complete).")
@filter_options
@analysis_options
def states(analysis, cfg, at, fmt, output, plot, width, limit, hosts, ports, states, anomaly_types, since, until):
    """What ss -tan would have shown at a moment, or each host's states over time."""
    from .render import states as states_text
    from .views import states as sv
    analysis = _filtered(analysis, cfg, hosts, ports, states, anomaly_types, since, until)
    if at is not None:
        try:
            t = sv.parse_time(at, analysis)
        except ValueError as exc:
            _fail(f"--at: {exc}")
        view = sv.states_at(analysis, t)
        if plot:
            _plot(states_text.plot_states_at, view, plot)
        text = _view_json(view) if fmt == "json" else \
            states_text.render_states_at(view, limit=limit, width=_terminal_width(output)) + "\n"
    else:
        view = sv.state_timelines(analysis)
        if plot:
            _plot(states_text.plot_timelines, view, plot)
        text = _view_json(view) if fmt == "json" else \
            states_text.render_timelines(view, width=width, columns=_terminal_width(output)) + "\n"
    _emit(text, output)
    _say_unseen(view["notices"], VIEW_TOP)


def _the_only_connection(analysis) -> bool:
    """The capture holds one connection, none folded away: the ladder has
    nothing to choose between."""
    return len(analysis.connections) == 1 and not analysis.stats.connections_omitted


# The ladder's choices named when it must be told which connection to draw.
LADDER_CHOICES = 5


def _pick_one(analysis) -> str:
    """The one line asking which connection to draw, naming the first few."""
    conns = analysis.connections
    total = len(conns) + analysis.stats.connections_omitted
    if not total:
        return "the capture holds no TCP connection to draw"
    named = ", ".join(f"{cid} = {endpoint_text(c.client)}-{endpoint_text(c.server)}"
                      for c, cid in islice(numbered(conns), LADDER_CHOICES))
    more = f", ... ('analyze' lists all {total:,})" if total > LADDER_CHOICES else ""
    return (f"the capture holds {total:,} connections: say which with --conn ID or 4-tuple ({named}{more}) "
            f"or with filters (--host, --port, --state, --anomaly ...)")


def _filtered(analysis, cfg, hosts, ports, states, anomaly_types, since, until):
    """The analysis with only the connections the filter options select."""
    flt = build_filter(analysis, hosts, ports, states, anomaly_types, since, until)
    if not flt.active:
        return analysis
    anomalies = detectors.run(analysis, cfg) if flt.anomalies else ()
    return dataclasses.replace(analysis, connections=select(analysis.connections, flt, anomalies), selected=True)


def _plot(draw, view, path) -> None:
    """``draw``'s image of ``view`` written to ``path``, as a report is (``output``)."""
    from .render import figure
    try:
        write_bytes(draw(view, figure.format_of(path)), path)
    except ImportError:
        _fail(NEEDS_MATPLOTLIB)
    except ValueError as exc:  # matplotlib refusing what it was given to draw or write
        _fail(f"--plot: {exc}")
    except OSError as exc:
        _fail(f"--plot: cannot write {path}: {exc.strerror or exc}")


@main.command()
def schema():
    """Print the JSON Schema of the JSON report."""
    from importlib import resources
    click.echo(resources.files("tcpflow_analyze").joinpath("views/report.schema.json").read_text())
