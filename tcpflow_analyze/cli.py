"""The command line: a thin layer of options over the library.

Every failure a user can cause is mapped here, in one place, to a one-line
message and an exit code (``errors.ExitStatus``); no traceback reaches them.
"""
from __future__ import annotations

import json
import sys
from importlib import resources

import click
from tabulate import tabulate_formats

from . import __version__
from .analyzer import analyze as run_analysis
from .errors import CaptureError, ExitStatus
from .output import write_text
from .report import build_report
from .report.table import render as render_table
from .states import DEFAULT_FIN_TIMEOUT, DEFAULT_TIME_WAIT

SEVERITIES = ("info", "warning", "critical")


def _fail(message: str, code: ExitStatus = ExitStatus.USAGE):
    click.echo(f"tcpflow-analyze: error: {message}", err=True)
    sys.exit(int(code))


def _parse_fail_on(value: str | None):
    if not value:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise click.BadParameter("give anomaly types or a severity")
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tcpflow-analyze")
def main():
    """Rebuild every TCP connection in packet captures and say what state each
    endpoint's TCP stack was in, and what went wrong."""


@main.command()
@click.argument("captures", nargs=-1, required=True, metavar="CAPTURE...")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="table for people, json for scripts (see the report contract).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the report to FILE (atomically) instead of stdout.")
@click.option("--fail-on", "fail_on", default=None, metavar="LIST",
              help="Comma-separated anomaly types, or a severity (warning, critical): exit 1 when one is found.")
@click.option("--time-wait", type=click.FloatRange(min=0), default=DEFAULT_TIME_WAIT, show_default=True,
              metavar="SECONDS", help="How long an endpoint stays in TIME_WAIT after its final ACK (Linux: 60).")
@click.option("--fin-timeout", type=click.FloatRange(min=0), default=DEFAULT_FIN_TIMEOUT, show_default=True,
              metavar="SECONDS", help="How long an orphaned FIN_WAIT_2 socket lives (Linux tcp_fin_timeout: 60).")
@click.option("--table-format", default="simple", show_default=True, metavar="NAME",
              help="Any tabulate table format (simple, github, grid, plain, ...).")
def analyze(captures, fmt, output, fail_on, time_wait, fin_timeout, table_format):
    """Analyze CAPTURE files (pcap, pcapng, optionally gzipped; - for stdin).

    Several captures are merged in timestamp order into one trace.
    """
    try:
        fail_items = _parse_fail_on(fail_on)
    except click.BadParameter as exc:
        _fail(f"--fail-on: {exc}")
    if fmt == "table" and table_format not in tabulate_formats:
        _fail(f"--table-format: unknown format {table_format!r} (one of: {', '.join(tabulate_formats)})")
    try:
        analysis = run_analysis(list(captures), time_wait=time_wait, fin_timeout=fin_timeout)
    except CaptureError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted", ExitStatus.INTERRUPTED)
    report = build_report(analysis)
    if fmt == "json":
        text = json.dumps(report, indent=2, allow_nan=False) + "\n"
    else:
        text = render_table(report, table_format)
    try:
        write_text(text, output)
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")
    if fail_on_matches(report, fail_items):
        sys.exit(int(ExitStatus.FAIL_ON))


@main.command()
def schema():
    """Print the JSON Schema of the JSON report."""
    click.echo(resources.files("tcpflow_analyze").joinpath("report/report.schema.json").read_text())
