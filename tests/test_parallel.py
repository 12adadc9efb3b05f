"""--jobs and --engine dask give the single-process report."""
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import SAMPLES

from tcpflow_analyze.cli import main

# Several kernel captures merged: ~1,000 connections of every kind, reused
# tuples and anomalies included.
CAPTURES = [str(SAMPLES / n) for n in ("time_wait_storm.pcap", "syn_flood.pcap", "port_reuse.pcap",
                                        "bulk_loss.pcap", "challenge_ack_reboot.pcap", "close_wait_leak.pcap")]


def report(*args):
    res = CliRunner().invoke(main, ["analyze", "--format", "json", "--time-wait-threshold", "500", *args, *CAPTURES],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def test_two_jobs_same_report():
    one = report("--jobs", "1")
    two = report("--jobs", "2")
    three = report("--jobs", "3")
    assert one == two == three
    rep = json.loads(two)
    assert rep["summary"]["connections"] > 900
    assert {a["type"] for a in rep["anomalies"]} >= {"time_wait_storm", "half_open", "port_reuse_in_time_wait"}


def test_worker_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture at all")
    proc = subprocess.run([sys.executable, "-m", "tcpflow_analyze", "analyze", "--jobs", "2", CAPTURES[0], str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "not a pcap" in proc.stderr


def test_dask_local_cluster_same_report():
    pytest.importorskip("dask.distributed")
    one = report("--jobs", "1")
    res = CliRunner().invoke(main, ["analyze", "--format", "json", "--time-wait-threshold", "500", "--engine", "dask",
                                    "--scheduler", "local", "--jobs", "2", *CAPTURES], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert res.output == one


@pytest.mark.parametrize("command", [["timewait", "--format", "json"], ["states", "--format", "json"],
                                     ["ladder", "--format", "json", "--port", "8080", "--top", "3"],
                                     ["analyze", "--format", "csv", "--sort", "bytes"]])
def test_views_same_with_jobs(command):
    # --jobs defaults to every core for big captures: every command that
    # analyzes must say the same either way.
    def out(jobs):
        res = CliRunner().invoke(main, [*command, "--jobs", jobs, *CAPTURES], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        return res.output
    assert out("1") == out("2")


@pytest.mark.parametrize("nparts", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("parent", [False, True])
def test_partitions_own_every_bucket_once(nparts, parent):
    from tcpflow_analyze.analysis.parallel import BUCKETS, owned_buckets, shares
    weights = shares(nparts, parent)
    assert abs(sum(weights) - 1) < 1e-9
    owned = [owned_buckets(i, weights) for i in range(nparts)]
    assert [sum(col) for col in zip(*owned)] == [1] * BUCKETS
    if parent and nparts > 1:
        # The merging process ships nothing: it takes the larger share.
        assert sum(owned[0]) > sum(owned[1])


@pytest.mark.parametrize("cores", [2, 8])
def test_gzip_and_read_ahead_same_report(tmp_path, monkeypatch, cores):
    # One capture file, gzipped: with a process on every core it is read
    # without a read-ahead thread or inflating child; with cores to spare,
    # with them.  The report is the single process's either way.
    import gzip
    from tcpflow_analyze.analysis import parallel
    plain = CAPTURES[0]
    zipped = tmp_path / "capture.pcap.gz"
    zipped.write_bytes(gzip.compress(open(plain, "rb").read()))
    monkeypatch.setattr(parallel, "usable_cores", lambda: cores)
    seen = []
    import tcpflow_analyze.analysis as analysis_pkg
    real = analysis_pkg.read_windows

    def spy(paths, damages, opened=None, read_ahead=True):
        seen.append(read_ahead)
        return real(paths, damages, opened, read_ahead)
    monkeypatch.setattr(analysis_pkg, "read_windows", spy)

    def run(jobs, capture):
        res = CliRunner().invoke(main, ["analyze", "--format", "json", "--time-wait-threshold", "500",
                                        "--jobs", jobs, capture], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        return json.loads(res.output)
    one = run("1", plain)
    seen.clear()   # the single process reads through the same analyze()
    two = run("2", str(zipped))
    assert seen == [cores > 2]
    for rep in (one, two):
        rep["capture"].pop("files")
    assert one == two
    assert one["summary"]["connections"] > 500
