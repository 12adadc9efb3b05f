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


def test_shipped_through_a_file_same_connections():
    # A local worker writes its packed connections to a file the parent
    # holds open (memfd), and sends only their length through the pool.
    import os

    from tcpflow_analyze.analysis import AnalysisOptions
    from tcpflow_analyze.analysis.parallel import Shipped, _shipping_file, analyze_partition
    from tcpflow_analyze.views.report import build_report
    from tcpflow_analyze.render.json_out import dumps
    from tcpflow_analyze.analysis.parallel import merge
    options = AnalysisOptions()
    fd = _shipping_file()
    try:
        shipped = analyze_partition(CAPTURES, 1, 2, options, ship_fd=fd, read_ahead=False)
        assert isinstance(shipped.connections, Shipped)
        assert os.fstat(fd).st_size == shipped.connections.length > 0
        shipped.received(fd)
    finally:
        os.close(fd)
    kept = analyze_partition(CAPTURES, 1, 2, options, packed=False, read_ahead=False)
    assert len(shipped.connections) == len(kept.connections) > 100
    assert dumps(build_report(merge([shipped], options))) == dumps(build_report(merge([kept], options)))


def test_shipping_costs_less_where_the_report_keeps_a_part():
    # Past --max-report-connections' worth of capture, a worker ships at most
    # that many connections while it tracks ever more: the merging process's
    # share comes down towards an equal one.
    from tcpflow_analyze.analysis import AnalysisOptions
    from tcpflow_analyze.analysis.parallel import ship_cost, shares
    options = AnalysisOptions()
    small, big, huge = (ship_cost(size, options) for size in (10 << 20, 1 << 30, 10 << 30))
    assert small == ship_cost(0, options) > big > huge > 0
    assert shares(2, True, small)[0] > shares(2, True, big)[0] > shares(2, True, huge)[0] > 0.5
    assert ship_cost(1 << 30, options.share(0.1)) < big


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


# ------------------------------------------------ damaged captures, any engine
# Every way of running an analysis reads the same bytes of a damaged capture,
# so each must say the same: the same packets, connections and truncation.
STORM = SAMPLES / "time_wait_storm.pcap"   # 6,002 packets of 2,000 connections; 59 in its first 5,000 bytes
CRASHERS = sorted(p for p in (SAMPLES.parent / "tests" / "crashers").iterdir() if p.suffix != ".md")


def _bad_block_after(raw: bytes, good: int) -> bytes:
    """``raw[:good]`` deflated and flushed to a byte boundary, then a block of
    the reserved type 3 (RFC 1951 3.2.3)."""
    import zlib
    z = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return z.compress(raw[:good]) + z.flush(zlib.Z_FULL_FLUSH) + b"\x07" + bytes(64)


def _pcapng_of(raw: bytes) -> bytes:
    """A little-endian microsecond pcap as pcapng: a section, one Ethernet
    interface, an Enhanced Packet Block per record (pcapng spec 4.1-4.3)."""
    import struct

    def block(btype, body):
        body += bytes(-len(body) % 4)
        return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)
    out = [block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)), block(1, struct.pack("<HHI", 1, 0, 65535))]
    pos = 24
    while pos + 16 <= len(raw):
        sec, usec, caplen, wire_len = struct.unpack_from("<IIII", raw, pos)
        ts = sec * 1_000_000 + usec
        out.append(block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, caplen, wire_len)
                         + raw[pos + 16:pos + 16 + caplen]))
        pos += 16 + caplen
    return b"".join(out)


def _damaged() -> dict:
    import gzip
    raw = STORM.read_bytes()
    part = raw[:150_000]
    whole = gzip.compress(part)
    crc = bytearray(whole)
    crc[-8] ^= 1   # the trailer's CRC-32 (RFC 1952 2.2)
    ng = _pcapng_of(raw[:100_000])
    cases = {
        "gzip invalid block after 5,000 bytes": _bad_block_after(raw, 5000),
        "gzip invalid block after 200 KB": _bad_block_after(raw, 200_000),
        "gzip cut": whole[:len(whole) // 2],
        "gzip bad CRC": bytes(crc),
        "gzip then garbage": whole + b"garbage",
        "gzip of nothing valid": whole[:12],
        "pcapng cut": ng[:len(ng) * 2 // 3],
        "pcap cut": raw[:100_001],
    }
    cases.update({"fuzz crasher " + p.name: p.read_bytes() for p in CRASHERS})
    return cases


DAMAGED = _damaged()


def _same_everywhere(res, names) -> tuple:
    """What must not depend on the engine: the exit code and the report, or
    the error line.  Set aside: the capture's name (``<stdin>`` for standard
    input), which is the only field that legitimately differs."""
    if res.code != 0:
        line = res.stderr
        for name in names:
            line = line.replace(name, "CAPTURE")
        return res.code, line
    rep = json.loads(res.stdout)
    cap = rep["capture"]
    cap["files"] = ["CAPTURE" if f in names else f for f in cap["files"]]
    for d in cap["damage"] + ([cap["truncation"]] if cap["truncation"] else []):
        d["file"] = "CAPTURE" if d["file"] in names else d["file"]
    for notice in rep["summary"]["notices"]:
        for key in ("message", "brief"):
            for name in names:
                notice[key] = notice[key].replace(name, "CAPTURE")
    return res.code, rep


@pytest.mark.parametrize("case", list(DAMAGED))
def test_damaged_capture_same_report_any_jobs_and_stdin(tmp_path, case):
    from clirun import invoke
    path = tmp_path / "capture"
    path.write_bytes(DAMAGED[case])
    names = (str(path), "<stdin>")
    args = ("analyze", "--format", "json", "--time-wait-threshold", "500")
    one = _same_everywhere(invoke(*args, "--jobs", "1", path), names)
    two = _same_everywhere(invoke(*args, "--jobs", "2", path), names)
    with open(path, "rb") as stdin:  # analyze - < capture
        piped = _same_everywhere(invoke(*args, "-", input=stdin), names)
    assert one == two, case
    assert one == piped, case
    assert one[0] in (0, 2)


def test_notices_differ_only_by_the_capture_name(tmp_path):
    """scripts/fuzz.py --target differential --seed 19 flags its first input
    (tests/crashers/truncated-pcap-notice-names-the-capture, cut at byte
    1,248 by a record claiming 3.9 GB) as a notice differing between
    standard input and --jobs N.  The difference is the capture's name,
    which the truncation notice and the stderr warning quote: the notices
    are made from the report's capture and options sections alone, which
    agree.  Held here, stderr included (which the fuzzer does not compare):
    the name set aside, every way of reading says the same; read, each
    names the capture as it was given."""
    from clirun import invoke
    path = tmp_path / "capture"
    path.write_bytes((SAMPLES.parent / "tests" / "crashers" / "truncated-pcap-notice-names-the-capture").read_bytes())
    names = (str(path), "<stdin>")
    args = ("analyze", "--format", "json")
    runs = {"--jobs 1": invoke(*args, "--jobs", "1", path), "--jobs 2": invoke(*args, "--jobs", "2", path)}
    with open(path, "rb") as stdin:
        runs["standard input"] = invoke(*args, "-", input=stdin)
    for label, run in runs.items():
        name = "<stdin>" if label == "standard input" else str(path)
        notices = json.loads(run.stdout)["summary"]["notices"]
        assert [n["kind"] for n in notices] == ["truncated", "skipped"], label
        assert notices[0]["message"].startswith(f"{name} is damaged at byte 1,248 after packet 11: "), label
        assert f"capture {name} truncated at byte 1,248" in run.stderr, label

    def set_aside(run):
        stderr = run.stderr
        for name in names:
            stderr = stderr.replace(name, "CAPTURE")
        return _same_everywhere(run, names), stderr
    one = set_aside(runs["--jobs 1"])
    assert set_aside(runs["--jobs 2"]) == one
    assert set_aside(runs["standard input"]) == one


@pytest.mark.parametrize("case", ["gzip invalid block after 5,000 bytes", "pcapng cut"])
def test_damaged_capture_same_report_with_dask(tmp_path, case):
    # A LocalCluster costs seconds: two cases, the gzip one read by a child
    # inflating for one job and here by each Dask worker.
    pytest.importorskip("dask.distributed")
    from clirun import invoke
    path = tmp_path / "capture"
    path.write_bytes(DAMAGED[case])
    args = ("analyze", "--format", "json", "--time-wait-threshold", "500")
    one = invoke(*args, "--jobs", "1", path)
    dask = invoke(*args, "--engine", "dask", "--scheduler", "local", "--jobs", "2", path, timeout=120)
    assert one.code == 0 and json.loads(one.stdout)["capture"]["truncated"]
    assert dask.code == 0 and dask.stdout == one.stdout


# The report's capture counts that must not depend on the memory caps.
CAPTURE_COUNTS = ("one_sided", "states_inferred", "missed_bytes", "duplicates", "capture_loss")


def test_capture_loss_of_dask_partitions_with_folds(lossy_storm):
    """The capture counts under the memory caps (tests/test_capture_gaps.py:
    one process and --jobs 2) with the Dask engine, which ships each
    partition's folds (and so their capture counts) back as its own pickled
    result, not through a process pool: merged, the same counts as one
    unbounded process.  Here beside the other Dask tests: the cluster
    leaves threads behind, and a report's forked writer is not started
    beside threads (test_forked_table)."""
    pytest.importorskip("dask.distributed")
    from clirun import invoke
    path = lossy_storm
    whole = json.loads(invoke("analyze", "--format", "json", path).stdout)["capture"]
    res = invoke("analyze", "--format", "json", "--engine", "dask", "--scheduler", "local", "--jobs", "2",
                 "--max-connections", "5", "--max-report-connections", "5", path, timeout=120)
    assert res.code == 0, res.stderr
    got = json.loads(res.stdout)["capture"]
    assert got["connections_omitted"] >= 580
    assert {k: got[k] for k in CAPTURE_COUNTS} == {k: whole[k] for k in CAPTURE_COUNTS}


def test_damage_met_by_one_partition_only_is_reported(tmp_path, monkeypatch):
    # Every partition reads the whole capture.  A read error met by a worker
    # alone (EIO from a failing disk or network file system) still cut its
    # connections short: the report must say the capture was not read whole.
    import errno
    import os

    from clirun import invoke

    from tcpflow_analyze.capture import source
    parent = os.getpid()
    real_open = source.open_capture

    class FailsInWorkers:
        """The capture, whose reads fail with EIO past byte 300,000 in the workers."""

        def __init__(self, raw):
            self.raw, self.pos = raw, 0

        def read(self, n=-1):
            if os.getpid() != parent:
                if self.pos >= 300_000:
                    raise OSError(errno.EIO, os.strerror(errno.EIO))
                n = 300_000 - self.pos if n is None or n < 0 else min(n, 300_000 - self.pos)
            out = self.raw.read(n)
            self.pos += len(out)
            return out

        def close(self):
            self.raw.close()

    monkeypatch.setattr(source, "open_capture", lambda path: FailsInWorkers(real_open(path)))
    res = invoke("analyze", "--format", "json", "--jobs", "2", STORM)
    assert res.code == 0
    cap = json.loads(res.stdout)["capture"]
    assert cap["truncated"] is True
    [d] = cap["damage"]
    assert d["reason"].startswith("read error: Input/output error")
    assert d["reason"].endswith("(met by worker 2 of 2 only: its connections end there)")
    assert d["packet"] < cap["packets"] == 6002
