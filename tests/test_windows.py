"""The packet loop walks read windows (capture.read_windows): wherever the
windows happen to cut the file, and however the file is read, the analysis is
the same as record-at-a-time reading gives."""
import gzip
import shutil

import pytest
from conftest import SAMPLES, walk_windows as walked

from tcpflow_analyze.analyzer import analyze
from tcpflow_analyze.capture import pcap, read_records, read_windows, source
from tcpflow_analyze.report import build_report
from tcpflow_analyze.report.json_out import dumps

BULK = SAMPLES / "bulk_loss.pcap"          # 4,283 packets, records up to ~1.5 kB
REUSE = SAMPLES / "port_reuse.pcap"


def report_text(paths):
    a = analyze([str(p) for p in paths])
    return dumps(build_report(a)), a


@pytest.fixture(scope="module")
def reference():
    return {p: report_text([p]) for p in (BULK, REUSE)}


@pytest.mark.parametrize("chunk", [16, 97, 1500, 4096])
@pytest.mark.parametrize("positional", [True, False])
def test_any_window_size_same_records(monkeypatch, chunk, positional):
    # Chunks smaller than a record header, than one record, and of odd sizes:
    # records cross every kind of boundary, and records bigger than a chunk
    # are read whole.
    monkeypatch.setattr(pcap, "CHUNK", chunk)
    monkeypatch.setattr(source, "_is_regular", lambda raw: positional)
    got = walked(read_windows([str(BULK)], []))
    want = [(ts, lt, bytes(buf[off:off + n])) for ts, lt, buf, off, n in read_records([str(BULK)], [])]
    assert len(got) == 4283
    assert got == want


@pytest.mark.parametrize("chunk", [16, 1500])
def test_small_windows_same_report(monkeypatch, reference, chunk):
    monkeypatch.setattr(pcap, "CHUNK", chunk)
    for path, (text, _) in reference.items():
        assert report_text([path])[0] == text


def test_stdin_and_gzip_read_as_the_file(monkeypatch, reference, tmp_path):
    # gzip is a stream (no positional reads): the same windows protocol, with
    # the tail of each buffer carried into the next.
    gz = tmp_path / "bulk.pcap.gz"
    with open(BULK, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    text, a = report_text([gz])
    want_text, want = reference[BULK]
    assert a.stats.packets == want.stats.packets == 4283
    assert text.replace(str(gz), str(BULK)) == want_text


def test_pcapng_and_merged_files_are_packed_into_windows(monkeypatch):
    # Packed windows flush at their size limit and at every link-type change.
    monkeypatch.setattr(source, "PACK_WINDOW", 500)
    paths = [str(SAMPLES / "pcapng.pcapng"), str(SAMPLES / "sll2_any.pcap"), str(REUSE)]
    got = walked(read_windows(paths, []))
    want = [(ts, lt, bytes(buf[off:off + n])) for ts, lt, buf, off, n in read_records(paths, [])]
    assert len(got) == len(want) > 50
    assert got == want
    assert {lt for _, lt, _ in got} == {1, 276}


def test_window_damage_is_where_record_reading_puts_it(tmp_path):
    # A file cut inside its last record: both shapes of reading stop at the
    # same offset, after the same packets, for the same reason.
    data = BULK.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:len(data) - 7])
    d1, d2 = [], []
    assert len(walked(read_windows([str(cut)], d1))) == len(list(read_records([str(cut)], d2))) == 4282
    assert d1 == d2 and d1[0].reason.startswith("last record cut short")


@pytest.mark.parametrize("read_size", [1, 7, 64, 1500])
def test_pcapng_blocks_across_any_read_boundary(monkeypatch, read_size):
    # Enhanced Packet Blocks are read in place from the read buffer; a block
    # that crosses its end takes the careful path.  Either way, the same
    # records in the same order, and the same damage, as with large reads.
    from tcpflow_analyze.capture import pcapng
    paths = [str(SAMPLES / "pcapng.pcapng")]
    want_damage, got_damage = [], []
    want = [(ts, lt, bytes(buf[off:off + n])) for ts, lt, buf, off, n in read_records(paths, want_damage)]
    monkeypatch.setattr(pcapng, "READ_SIZE", read_size)
    got = [(ts, lt, bytes(buf[off:off + n])) for ts, lt, buf, off, n in read_records(paths, got_damage)]
    assert got == want and len(got) > 10 and got_damage == want_damage
