"""The command line: a thin layer of options over the library.

Every failure a user can cause is mapped here, in one place, to a one-line
message and an exit code (``errors.ExitStatus``); no traceback reaches them.
"""
from __future__ import annotations

import functools
import gc
import json
import sys
from importlib import resources

import click
from tabulate import tabulate_formats

from . import __version__, detectors
from .analyzer import analyze as run_analysis
from .detectors.time_wait_storm import threshold_count
from .errors import CaptureError, ExitStatus
from .output import write_text
from .report import build_report
from .report.json_out import iter_dumps
from .report.markdown import render as render_markdown
from .report.table import render as render_table
from .states import (
    DEFAULT_FIN_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_REPORT_CONNECTIONS, DEFAULT_TIME_WAIT,
)
from .timewait import parse_port_range

SEVERITIES = detectors.SEVERITIES


def _fail(message: str, code: ExitStatus = ExitStatus.USAGE):
    click.echo(f"tcpflow-analyze: error: {message}", err=True)
    sys.exit(int(code))


def parse_fail_on(value: str | None):
    """The --fail-on list: anomaly types and/or one severity; None if not given."""
    if not value:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [i for i in items if i not in SEVERITIES and i not in detectors.TYPES]
    if not items or unknown:
        raise click.BadParameter(
            f"unknown {', '.join(map(repr, unknown)) or 'value'}; give anomaly types "
            f"({', '.join(detectors.TYPES)}) or a severity ({', '.join(SEVERITIES)})")
    return items


def fail_on_matches(report: dict, fail_on) -> bool:
    if not fail_on:
        return False
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    for a in report["anomalies"]:
        for item in fail_on:
            if item in rank:
                if rank.get(a["severity"], -1) >= rank[item]:
                    return True
            elif a["type"] == item:
                return True
    return False


def analysis_options(func):
    """Options every command that analyzes captures shares."""
    opts = [
        click.argument("captures", nargs=-1, required=True, metavar="CAPTURE..."),
        click.option("--time-wait", type=click.FloatRange(min=0), default=DEFAULT_TIME_WAIT, show_default=True,
                     metavar="SECONDS",
                     help="How long an endpoint stays in TIME_WAIT after its final ACK (Linux: 60)."),
        click.option("--fin-timeout", type=click.FloatRange(min=0), default=DEFAULT_FIN_TIMEOUT, show_default=True,
                     metavar="SECONDS", help="How long an orphaned FIN_WAIT_2 socket lives (Linux tcp_fin_timeout: 60)."),
        click.option("--max-connections", type=click.IntRange(min=1), default=DEFAULT_MAX_CONNECTIONS,
                     show_default=True, metavar="N",
                     help="Live connections tracked at once; when full, the idlest tenth are finished early "
                          "(capture.evicted). Bounds memory on floods."),
        click.option("--max-report-connections", type=click.IntRange(min=0), default=DEFAULT_MAX_REPORT_CONNECTIONS,
                     show_default=True, metavar="N",
                     help="Finished connections listed in the report; older ones beyond it are folded into "
                          "per-service counts (capture.connections_omitted, capture.omitted)."),
    ]
    for opt in detectors.all_options():
        kind = {float: click.FloatRange(min=0), int: click.IntRange(min=0), str: str}[opt.type]
        opts.append(click.option(opt.flag, opt.key, type=kind, default=opt.default, show_default=True,
                                 metavar=opt.metavar, help=opt.help))
    for decorate in reversed(opts):
        func = decorate(func)

    @functools.wraps(func)
    def wrapper(**kw):
        cfg = {opt.key: kw.pop(opt.key) for opt in detectors.all_options()}
        try:
            cfg["port_range_parsed"] = parse_port_range(cfg["port_range"])
            range_size = cfg["port_range_parsed"][1] - cfg["port_range_parsed"][0] + 1
            threshold_count(cfg["time_wait_threshold"], range_size)
        except ValueError as exc:
            _fail(f"--port-range / --time-wait-threshold: {exc}")
        try:
            analysis = run_analysis(list(kw.pop("captures")), time_wait=kw.pop("time_wait"),
                                    fin_timeout=kw.pop("fin_timeout"),
                                    unanswered=cfg["half_open_timeout"],
                                    max_connections=kw.pop("max_connections"),
                                    max_report_connections=kw.pop("max_report_connections"))
        except CaptureError as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            _fail("interrupted", ExitStatus.INTERRUPTED)
        return func(analysis=analysis, cfg=cfg, **kw)
    return wrapper


def _emit(text: str, output: str | None) -> None:
    try:
        write_text(text, output)
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        _fail("interrupted", ExitStatus.INTERRUPTED)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="tcpflow-analyze")
def main():
    """Rebuild every TCP connection in packet captures, say what state each
    endpoint's TCP stack was in, and what went wrong."""
    # A run builds one large, long-lived object graph and exits: the cyclic
    # collector would only rescan it again and again (see analyzer.run).
    gc.disable()


@main.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table",
              show_default=True, help="table for people, json for scripts (the report contract), "
                                      "markdown for CI summaries.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the report to FILE (atomically) instead of stdout.")
@click.option("--fail-on", "fail_on", default=None, metavar="LIST",
              help="Comma-separated anomaly types, or a severity (info, warning, critical): "
                   "exit 1 when a matching anomaly is found.")
@click.option("--table-format", default="simple", show_default=True, metavar="NAME",
              help="Any tabulate table format (simple, github, grid, plain, ...).")
@analysis_options
def analyze(analysis, cfg, fmt, output, fail_on, table_format):
    """Analyze CAPTURE files (pcap, pcapng, optionally gzipped; - for stdin).

    Several captures are merged in timestamp order into one trace.  Each
    anomaly detector's threshold has its own option below.
    """
    try:
        fail_items = parse_fail_on(fail_on)
    except click.BadParameter as exc:
        _fail(f"--fail-on: {exc}")
    if fmt == "table" and table_format not in tabulate_formats:
        _fail(f"--table-format: unknown format {table_format!r} (one of: {', '.join(tabulate_formats)})")
    anomalies = detectors.run(analysis, cfg)
    report = build_report(analysis, anomalies)
    if fmt == "json":
        text = iter_dumps(report)
    elif fmt == "markdown":
        text = render_markdown(report)
    else:
        text = render_table(report, table_format)
    _emit(text, output)
    if fail_on_matches(report, fail_items):
        sys.exit(int(ExitStatus.FAIL_ON))


@main.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the report to FILE (atomically) instead of stdout.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, metavar="FILE.png",
              help="Also draw TIME_WAIT and CLOSE_WAIT counts over time per host (needs the 'plot' extra: "
                   "pip install 'tcpflow-analyze[plot]').")
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True,
              help="How many hosts and remote endpoints to list.")
@analysis_options
def timewait(analysis, cfg, fmt, output, plot, top):
    """Why are we out of ports?  TIME_WAIT and CLOSE_WAIT per host.

    Which side closes first, how many sockets sit in TIME_WAIT over time and
    at the peak, toward whom, how fast new connections are opened, how much of
    the ephemeral port range that uses and when it would run out, with advice
    tied to what was seen; and which services leave sockets in CLOSE_WAIT.
    """
    from .report import timewait_view
    view = timewait_view.build(analysis, cfg, top=top)
    if plot:
        try:
            timewait_view.plot(view, plot)
        except ImportError:
            _fail("--plot needs matplotlib: pip install 'tcpflow-analyze[plot]'")
        except OSError as exc:
            _fail(f"cannot write {plot}: {exc.strerror or exc}")
    if fmt == "json":
        text = json.dumps(view, indent=2, allow_nan=False) + "\n"
    else:
        text = timewait_view.render(view)
    _emit(text, output)


@main.command()
def schema():
    """Print the JSON Schema of the JSON report."""
    click.echo(resources.files("tcpflow_analyze").joinpath("report/report.schema.json").read_text())
