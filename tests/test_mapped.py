"""A regular pcap file is mapped (capture.mapped), not read: the same
records and reports as any other reading; a file that shrinks while it is
walked is damage, seen before the walk reaches the lost pages (no SIGBUS); a
file that grows is read whole; the map is closed on every way out."""
import itertools
import json
import mmap
import os
import struct
import subprocess
import sys

import pytest
from clirun import invoke
from conftest import ROOT, SAMPLES, walk_windows

from tcpflow_analyze.analysis import analyze
from tcpflow_analyze.capture import pcap, pcapng, read_windows, source

BULK = SAMPLES / "bulk_loss.pcap"          # 4,283 packets, records up to ~1.5 kB


def test_a_regular_pcap_file_is_walked_in_its_map():
    windows = read_windows([str(BULK)], [])
    buf, pos, end, _, _ = next(windows)
    assert isinstance(buf, mmap.mmap) and pos == 24
    windows.close()
    assert buf.closed


def test_the_map_reads_as_a_pipe_and_as_positional_reads(monkeypatch):
    # Small windows: records cross their ends in every way.
    monkeypatch.setattr(pcap, "WINDOW", 1000)
    mapped = walk_windows(read_windows([str(BULK)], []))
    monkeypatch.setattr(source, "_map", lambda raw: None)
    positional = walk_windows(read_windows([str(BULK)], []))
    monkeypatch.setattr(source, "_is_regular", lambda raw: False)
    stream = walk_windows(read_windows([str(BULK)], []))
    assert len(mapped) == 4283 and mapped == positional == stream


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_the_file_and_the_same_bytes_piped_give_the_same_report(fmt):
    # A real pipe: standard input is read as a stream, the file is mapped.
    cmd = [sys.executable, "-m", "tcpflow_analyze", "analyze", "--format", fmt]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    by_file = subprocess.run([*cmd, str(BULK)], capture_output=True, cwd=ROOT, env=env, check=True).stdout
    piped = subprocess.run([*cmd, "-"], input=BULK.read_bytes(), capture_output=True, cwd=ROOT, env=env,
                           check=True).stdout
    assert by_file and by_file.replace(str(BULK).encode(), b"<stdin>") == piped


def _frames(n):
    """``n`` distinct frames of 40 to 99 bytes (the reader does not decode them)."""
    return [bytes([i % 251]) * (40 + i % 60) for i in range(n)]


def _pcap(frames):
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for i, f in enumerate(frames):
        out += struct.pack("<IIII", 1_700_000_000 + i, 0, len(f), len(f)) + f
    return out


def _offsets(frames):
    """Each record's file offset, and the end's."""
    offs = [24]
    for f in frames:
        offs.append(offs[-1] + 16 + len(f))
    return offs


def _then(windows, after: int, action):
    """``windows``, with ``action()`` run once ``after`` windows have been
    walked, before the reader is asked for the next."""
    reply = yield next(windows)
    for n in itertools.count(1):
        if n == after:
            action()
        try:
            window = windows.send(reply)
        except StopIteration:
            return
        reply = yield window


def test_a_file_truncated_behind_the_walk_is_damage(tmp_path, monkeypatch):
    # Cut below where the walk already is: nothing more is touched.  (Past
    # the first 8 KiB: positional reads go through the file object's buffer,
    # which still holds them from the header's read.)
    monkeypatch.setattr(pcap, "WINDOW", 700)
    frames = _frames(200)
    data = _pcap(frames)
    path = tmp_path / "emptied.pcap"
    path.write_bytes(data)
    damages = []
    got = walk_windows(_then(read_windows([str(path)], damages), 15, lambda: os.truncate(path, 0)))
    [d] = damages
    assert d.packet == len(got) > 100 and d.offset == _offsets(frames)[len(got)]
    assert d.reason == f"the file shrank from {len(data)} to 0 bytes while it was read"


def test_a_file_truncated_while_read_is_reported_as_a_cut_capture(tmp_path, monkeypatch):
    # The command, the file cut between two windows: it reports what was
    # there, marked truncated, exit 0 -- as for any cut capture.
    from tcpflow_analyze import analysis
    monkeypatch.setattr(pcap, "WINDOW", 4096)
    data = BULK.read_bytes()
    path = tmp_path / "cut-while-read.pcap"
    path.write_bytes(data)
    real = analysis.read_windows
    monkeypatch.setattr(analysis, "read_windows", lambda *a: _then(real(*a), 3, lambda: os.truncate(path, 50_000)))
    run = invoke("analyze", "--format", "json", path)
    assert run.code == 0, run.stderr
    cap = json.loads(run.stdout)["capture"]
    assert cap["truncated"] is True and 0 < cap["packets"] < 4283
    assert cap["truncation"]["reason"].startswith(f"the file shrank from {len(data)} to 50000 bytes while it was read")
    assert "truncated at byte" in run.stderr


def test_a_file_that_cannot_be_mapped_is_read_by_position(tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise OSError(19, "No such device")
    monkeypatch.setattr(mmap, "mmap", refuse)
    windows = read_windows([str(BULK)], [])
    buf = next(windows)[0]
    assert isinstance(buf, bytes)
    windows.close()
    assert analyze([str(BULK)]).stats.packets == 4283


def test_closing_while_a_view_of_the_map_is_held(tmp_path):
    # The walk ended by an exception while it held a view: closing the
    # reader raises nothing, and the map goes with the last view.
    windows = read_windows([str(BULK)], [])
    buf = next(windows)[0]
    view = memoryview(buf)
    windows.close()
    assert not buf.closed and view[0] == buf[0]
    view.release()


def test_the_file_position_follows_the_walk(monkeypatch):
    # Where the progress display looks (progress.Progress.bytes_read).
    monkeypatch.setattr(pcap, "WINDOW", 4096)
    opened = []
    windows = read_windows([str(BULK)], [], opened.append)
    window = next(windows)
    [raw] = opened
    positions = []
    while True:
        buf, pos, end, (unpack, hlen, _, _, _, _), _ = window
        n = 0
        while pos + hlen <= end and pos + hlen + unpack(buf, pos)[2] <= end:
            pos += hlen + unpack(buf, pos)[2]
            n += 1
        try:
            window = windows.send((pos, n))
        except StopIteration:
            break
        positions.append(os.lseek(raw.fileno(), 0, os.SEEK_CUR))
    assert positions == sorted(positions) and positions[-1] > BULK.stat().st_size - 8192


# ------------------------------------------------------------------ pcapng
# A regular pcapng file is mapped too: its runs of Enhanced Packet Blocks are
# walked in the map, every other block copied out of it.

NG = SAMPLES / "pcapng.pcapng"


def _pcapng(frames, every=None):
    """A pcapng file of ``frames`` as EPBs of one Ethernet interface; with
    ``every``, a Simple Packet Block instead of every ``every``-th EPB (it
    takes the careful way)."""
    shb = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
    idb = struct.pack("<IIHHI", 1, 20, 1, 0, 65535) + struct.pack("<I", 20)
    out = shb + idb
    for i, f in enumerate(frames):
        pad = b"\0" * (-len(f) % 4)
        if every and i % every == every - 1:
            blen = 16 + len(f) + len(pad)
            out += struct.pack("<III", 3, blen, len(f)) + f + pad + struct.pack("<I", blen)
        else:
            blen = 32 + len(f) + len(pad)
            ts = (1_700_000_000 + i) * 1_000_000
            out += struct.pack("<IIIIIII", 6, blen, 0, ts >> 32, ts & 0xFFFFFFFF, len(f), len(f)) + f + pad \
                + struct.pack("<I", blen)
    return out


def _ng_offsets(data):
    """Each block's file offset after the section and interface blocks."""
    offs, pos = [], 48
    while pos < len(data):
        offs.append(pos)
        pos += struct.unpack_from("<I", data, pos + 4)[0]
    return offs


def test_a_regular_pcapng_file_is_walked_in_its_map():
    windows = read_windows([str(NG)], [])
    buf, pos, end, _, _ = next(windows)
    assert isinstance(buf, mmap.mmap) and end - pos <= pcapng.WINDOW
    windows.close()
    assert buf.closed


@pytest.mark.parametrize("every", [None, 7])
def test_a_pcapng_map_reads_as_a_pipe(tmp_path, monkeypatch, every):
    # Small windows: blocks cross their ends in every way; with every 7th
    # packet a Simple Packet Block, the walk leaves the map and comes back.
    monkeypatch.setattr(pcapng, "WINDOW", 700)
    path = tmp_path / "small.pcapng"
    path.write_bytes(_pcapng(_frames(300), every))
    mapped = walk_windows(read_windows([str(path)], []))
    monkeypatch.setattr(source, "_map", lambda raw: None)
    read = walk_windows(read_windows([str(path)], []))
    assert len(mapped) == 300 and mapped == read
    sample = walk_windows(read_windows([str(NG)], []))
    monkeypatch.undo()
    assert walk_windows(read_windows([str(NG)], [])) == sample and sample


# Each format's builder, block offsets (then the end's) and windowing module.
FORMATS = {"pcap": (lambda frames: _pcap(frames), lambda data, frames: _offsets(frames), pcap),
           "pcapng": (lambda frames: _pcapng(frames), lambda data, frames: _ng_offsets(data) + [len(data)], pcapng)}


def _small_windows(monkeypatch, fmt):
    """200 frames in a capture of ``fmt``, walked in windows of about 700
    bytes: (frames, the file's bytes, each record's offset and the end's)."""
    build, offsets, module = FORMATS[fmt]
    monkeypatch.setattr(module, "WINDOW", 700)
    frames = _frames(200)
    data = build(frames)
    return frames, data, offsets(data, frames)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("inside", [0, 30])
def test_a_file_truncated_between_windows_is_damage(tmp_path, monkeypatch, inside, fmt):
    # The file cut after the first window, at a record's start (inside=0)
    # or 30 bytes into it.  Without the size check, the walk would touch
    # pages past the new end: SIGBUS.
    frames, data, offs = _small_windows(monkeypatch, fmt)
    path = tmp_path / f"shrinking.{fmt}"
    path.write_bytes(data)
    cut = offs[100] + inside
    damages = []
    got = walk_windows(_then(read_windows([str(path)], damages), 1, lambda: os.truncate(path, cut)))
    assert [g[2] for g in got] == frames[:100]
    [d] = damages
    assert (d.offset, d.packet) == (offs[100], 100)
    why = f"the file shrank from {len(data)} to {cut} bytes while it was read"
    cut_short = {"pcap": f"last record cut short (14 of {len(frames[100])} bytes)",
                 "pcapng": f"block cut short (30 of {offs[101] - offs[100]} bytes)"}[fmt]
    assert d.reason == (why if not inside else f"{why}; {cut_short}")


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("inside", [0, 20])
def test_a_growing_file_is_read_whole(tmp_path, monkeypatch, inside, fmt):
    # A capture still being written: what is appended after the file was
    # mapped, the rest of a record cut at the map's end included, is read by
    # position.
    frames, data, offs = _small_windows(monkeypatch, fmt)
    first = offs[50] + inside
    path = tmp_path / f"growing.{fmt}"
    path.write_bytes(data[:first])

    def append():
        with open(path, "ab") as fh:
            fh.write(data[first:])
    got = walk_windows(_then(read_windows([str(path)], damages := []), 1, append))
    assert [g[2] for g in got] == frames and not damages
