"""Zeek's conn.log view of our connections (issue #16 section 4): the Zeek
rules our history/conn_state follow (TCPSessionAdapter.cc, TCP_Reassembler.cc,
TCP.cc WantConnection), the Community ID, and ``--format zeek`` read back
with a Zeek log parser from PyPI (parsezeeklogs).

Public captures where one shows the rule; hand-built (dpkt) where none does.
"""
from __future__ import annotations

import base64
import hashlib
import io
import ipaddress
import re
import struct
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from clirun import invoke
from conftest import PUBLIC, SAMPLES
from parsezeeklogs import ZeekLog, read_zeek
from pcapgen import Trace

from tcpflow_analyze.analysis import analyze
from tcpflow_analyze.engine.zeek import uid
from tcpflow_analyze.model import sha1
from tcpflow_analyze.model.community_id import community_id
from tcpflow_analyze.model.connection import Connection, Endpoint
from tcpflow_analyze.views.report import build_report

needs_public = pytest.mark.skipif(not PUBLIC.is_dir(), reason="../shared/pcaps/public not present")

def report_of(path):
    return build_report(analyze([str(path)]))


def only(rep):
    (c,) = rep["connections"]
    return c


# ---------------------------------------------------------------- Community ID
@pytest.mark.parametrize("a, ap, b, bp, proto, expected", [
    # The published v1 test vectors (corelight/community-id-spec), seed 0.
    ("128.232.110.120", 34855, "66.35.250.204", 80, 6, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
    ("192.168.1.52", 54585, "8.8.8.8", 53, 17, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
    ("2001:470:e5bf:dead:4957:2174:e82c:4887", 63943, "2607:f8b0:400c:c03::1a", 25, 6,
     "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="),
])
def test_community_id_spec_vectors(a, ap, b, bp, proto, expected):
    pa, pb = ipaddress.ip_address(a).packed, ipaddress.ip_address(b).packed
    assert community_id(pa, ap, pb, bp, proto) == expected
    assert community_id(pb, bp, pa, ap, proto) == expected


def test_community_id_on_every_connection(tmp_path):
    t = Trace(client=("128.232.110.120", 34855), server=("66.35.250.204", 80)).handshake()
    rep = report_of(t.write(str(tmp_path / "t.pcap")))
    assert only(rep)["community_id"] == "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
    csv = invoke("analyze", "--format", "csv", str(tmp_path / "t.pcap")).stdout.splitlines()
    col = csv[0].split(",").index("community_id")
    assert csv[1].split(",")[col] == "1:LQU9qZlK+B5F3KDmev6m5PMibrg="


# The identifiers against hashlib, written here from the specs: the compiled
# build hashes in C (model.sha1.digest) and writes the text itself.
def _community_id_by_hashlib(a, ap, b, bp, proto, seed):
    if (a, ap) > (b, bp):
        a, ap, b, bp = b, bp, a, ap
    message = struct.pack("!H", seed) + a + b + struct.pack("!BxHH", proto, ap, bp)
    return "1:" + base64.b64encode(hashlib.sha1(message).digest()).decode()


_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _uid_by_hashlib(key, t):
    return "C" + "".join(_B62[b % 62] for b in hashlib.sha1(key + struct.pack("<d", t)).digest()[:17])


_ports = st.integers(0, 65535)


@contextmanager
def _sha_instructions(on):
    # Each SHA-1 block path of the compiled build (model.sha1): the
    # processor's SHA instructions where it has them, and the portable one.
    was = sha1.use_sha_instructions(on)
    try:
        yield
    finally:
        sha1.use_sha_instructions(was)


@pytest.mark.parametrize("sha_ni", [True, False])
@settings(max_examples=500, deadline=None, derandomize=True)
@given(size=st.sampled_from([4, 16]), data=st.data(), ap=_ports, bp=_ports, proto=st.integers(0, 255),
       seed=_ports, same=st.booleans())
def test_community_id_is_the_spec_hash(sha_ni, size, data, ap, bp, proto, seed, same):
    a = data.draw(st.binary(min_size=size, max_size=size))
    b = a if same else data.draw(st.binary(min_size=size, max_size=size))
    expected = _community_id_by_hashlib(a, ap, b, bp, proto, seed)
    with _sha_instructions(sha_ni):
        assert community_id(a, ap, b, bp, proto, seed) == community_id(b, bp, a, ap, proto, seed) == expected


@settings(max_examples=500, deadline=None, derandomize=True)
# Keys of IPv4 and IPv6 4-tuples, and with a tunnel tag (up to 255 bytes
# more): messages of one SHA-1 block, of two, and of several.
@given(key=st.one_of(st.binary(min_size=12, max_size=12), st.binary(min_size=36, max_size=36),
                     st.binary(min_size=13, max_size=291)),
       t=st.floats(allow_nan=False) | st.floats(0, 4294967296.0))
@pytest.mark.parametrize("sha_ni", [True, False])
def test_uid_is_the_hash_of_key_and_time(sha_ni, key, t):
    ep = Endpoint(key[:4], 1, 0)
    with _sha_instructions(sha_ni):
        assert uid(Connection(key, ep, ep, t, 0)) == _uid_by_hashlib(key, t)


# ---------------------------------------------------------------- Zeek's rules, public captures
@needs_public
def test_synack_without_syn_leaves_originator_inactive():
    # Port 80 is a likely server port: Zeek flips at the SYN-ACK ("^h") and
    # its originator, having sent no SYN, stays INACTIVE; the SYN that comes
    # later makes it SYN_SENT, never ESTABLISHED: OTH, not S1.
    c = only(report_of(PUBLIC / "synthetic-cut-mid-record.pcap"))
    assert (c["history"], c["conn_state"]) == ("^hSA", "OTH")


@needs_public
def test_one_sided_synack_from_unlikely_port():
    # Only the 143 side was captured.  143 (IMAP) is registered by Zeek's
    # imap script but not added to likely_server_ports, so Zeek does not
    # flip: the SYN-ACK's sender is its originator (upper case), the silent
    # side never sent and so gets no content gap (G), and the state is OTH.
    # Our own roles keep the contract's guess (143 is the server).
    c = only(report_of(PUBLIC / "suricata-tcp-async-oneside.pcap"))
    assert (c["history"], c["conn_state"]) == ("HDAT", "OTH")
    assert c["server"]["port"] == 143 and c["zeek"]["orig"] == "server"


@needs_public
def test_rst_payload_counts_as_retransmission_like_zeek():
    # update_last_seq: a RST's segment length leaves its payload out, so
    # payload at the last sequence number reads as a retransmission (T).
    c = only(report_of(PUBLIC / "suricata-tcp-rst-with-data.pcap"))
    assert c["history"] == "ShAdRT"


# ---------------------------------------------------------------- Zeek's rules, hand-built
def test_zero_length_segment_moves_last_seq_and_d_before_t(tmp_path):
    # A pure ACK whose sequence number is 100 ahead (the capture missed the
    # data) moves Zeek's last_seq; the data sent below it afterwards is a
    # retransmission, written after the D of the same packet.
    t = Trace().handshake()
    t.c("A", 1101, 5001)
    t.c("PA", 1001, 5001, b"x" * 100)
    c = only(report_of(t.write(str(tmp_path / "t.pcap"))))
    assert c["history"] == "ShADT"


def test_fin_over_unseen_data_then_acked_is_a_gap(tmp_path):
    # The server's FIN claims bytes 5101..5200 the capture never showed; the
    # client's ACK of the FIN reveals them: Zeek's reassembler reports a gap
    # (g) and conn.log's missed_bytes counts them.
    t = Trace().handshake()
    t.c("PA", 1001, 5001, b"GET")
    t.s("PA", 5001, 1004, b"y" * 100)
    t.c("A", 1004, 5101)
    t.s("FA", 5201, 1004)
    t.c("A", 1004, 5202)
    c = only(report_of(t.write(str(tmp_path / "t.pcap"))))
    assert c["history"] == "ShADdfg"
    assert c["zeek"]["missed_bytes"] == 100


def test_midstream_roles_follow_likely_server_ports(tmp_path):
    # Neither 40000 nor 50000 is a likely server port: Zeek keeps the first
    # packet's sender as originator (no "^").  We guess the lower port is the
    # server, as the contract says, so Zeek's originator is our server.
    t = Trace(client=("10.0.0.1", 50000), server=("10.0.0.2", 40000))
    t.s("PA", 7000, 9000, b"z" * 10)
    t.c("A", 9000, 7010)
    c = only(report_of(t.write(str(tmp_path / "t.pcap"))))
    assert c["server"]["port"] == 40000 and c["zeek"]["orig"] == "server"
    assert c["history"] == "Da"
    row = next(read_zeek(io.StringIO(invoke("analyze", "--format", "zeek", "--zeek-json",
                                            str(tmp_path / "t.pcap")).stdout)))
    assert (row["id.orig_p"], row["id.resp_p"]) == (40000, 50000)


def test_midstream_from_likely_server_port_flips(tmp_path):
    # 8080 is one (HTTP): Zeek flips and marks it.
    t = Trace(client=("10.0.0.1", 50000), server=("10.0.0.2", 8080))
    t.s("PA", 7000, 9000, b"z" * 10)
    t.c("A", 9000, 7010)
    c = only(report_of(t.write(str(tmp_path / "t.pcap"))))
    assert c["zeek"]["orig"] == "client" and c["history"] == "^dA"


def test_packets_after_zeek_forgot_a_reset_connection_make_a_new_row(tmp_path):
    # Zeek removes a connection 5 s after a RST; a packet of the 4-tuple 10 s
    # later starts a new conn.log row.  Our instance (and its endpoint
    # states) goes on as one connection.
    t = Trace().handshake()
    t.c("PA", 1001, 5001, b"GET")
    t.s("R", 5001, dt=0.5)
    t.c("PA", 1004, 5001, b"more", dt=10.0)
    path = t.write(str(tmp_path / "t.pcap"))
    c = only(report_of(path))
    assert (c["history"], c["conn_state"], c["zeek"]["rows"]) == ("ShADr", "RSTR", 2)
    rows = list(read_zeek(io.StringIO(invoke("analyze", "--format", "zeek", path).stdout)))
    assert [(r["history"], r["conn_state"], r["orig_pkts"], r["resp_pkts"]) for r in rows] == \
        [("ShADr", "RSTR", 3, 2), ("D", "OTH", 1, 0)]
    assert rows[0]["uid"] != rows[1]["uid"]
    assert rows[0]["community_id"] == rows[1]["community_id"]


# ---------------------------------------------------------------- the writer
@needs_public
@pytest.mark.parametrize("json_lines", [False, True])
def test_conn_log_reads_back_with_a_zeek_parser(tmp_path, json_lines):
    args = ["analyze", "--format", "zeek", str(PUBLIC / "zeek-ftp-ipv6.pcap")]
    if json_lines:
        args.insert(3, "--zeek-json")
    r = invoke(*args)
    assert r.code == 0, r.stderr
    path = tmp_path / "conn.log"
    path.write_text(r.stdout)
    log = ZeekLog(str(path))
    rows = list(log)
    if not json_lines:
        assert log.path == "conn"
        assert list(log.fields)[:6] == ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p"]
        assert log.types["ts"] == "time" and log.types["tunnel_parents"] == "set[string]"
    # Zeek's own conn.log rows for this trace (tests/data/zeek_conn_baselines.json).
    expected = {
        49185: ("SF", "ShAdDfFa", 57, 34), 49186: ("SF", "ShAdfFa", 5, 4), 49187: ("SF", "ShAdfFa", 5, 4),
        49188: ("SF", "ShAdfFa", 5, 4), 55785: ("SF", "ShADFaf", 5, 4), 55647: ("SF", "ShADFaf", 5, 4),
    }
    got = {row["id.orig_p"]: (row["conn_state"], row["history"], row["orig_pkts"], row["resp_pkts"])
           for row in rows}
    assert got == expected
    first = rows[0]
    assert first["proto"] == "tcp"
    # Zeek's uid form ("C" and base-62 digits), one per row, the same each run.
    uids = [row["uid"] for row in rows]
    assert all(re.fullmatch(r"C[0-9A-Za-z]{17}", u) for u in uids) and len(set(uids)) == len(uids)
    assert invoke(*args).stdout == r.stdout
    # Unset fields: "-" in the TSV, left out of the JSON.
    assert first.get("service") is None and first.get("local_orig") is None and first["missed_bytes"] == 0
    assert isinstance(first["ts"], float) and first["orig_ip_bytes"] > first["orig_bytes"]
    assert [row["ts"] for row in rows] == sorted(row["ts"] for row in rows)


def test_zeek_json_needs_format_zeek(tmp_path):
    t = Trace().handshake()
    r = invoke("analyze", "--zeek-json", t.write(str(tmp_path / "t.pcap")))
    assert r.code == 2 and "--zeek-json" in r.stderr


def test_ip_bytes_are_ip_total_lengths(tmp_path):
    # IPv4 20 + TCP 20 per segment, plus payload.
    t = Trace().handshake()
    t.c("PA", 1001, 5001, b"hello")
    c = only(report_of(t.write(str(tmp_path / "t.pcap"))))
    assert c["ip_bytes"] == {"client": 40 + 40 + 45, "server": 40}


def test_conn_log_says_what_the_capture_lost(tmp_path):
    # The kernel-made lossy sample: its capture-loss notice heads the TSV as a
    # #notice line the parser passes over, and the rows still read back.
    r = invoke("analyze", "--format", "zeek", str(SAMPLES / "lossy_close_mix.pcap"))
    assert r.code == 0, r.stderr
    notices = [line for line in r.stdout.splitlines() if line.startswith("#notice\t")]
    assert len(notices) == 1 and "capture lost packets" in notices[0] and "capture_loss" in notices[0]
    header = r.stdout.splitlines()
    assert header.index(notices[0]) == header.index(next(h for h in header if h.startswith("#types"))) + 1
    rows = list(read_zeek(io.StringIO(r.stdout)))
    assert len(rows) == sum(1 for line in header if not line.startswith("#"))
    assert any(row["missed_bytes"] for row in rows)
    # A capture that lost nothing has no such line.
    clean = invoke("analyze", "--format", "zeek", str(SAMPLES / "close_wait.pcap"))
    assert "#notice" not in clean.stdout


def test_history_letters_step_through_shared_strings():
    from tcpflow_analyze.engine import history
    first = history.grown(history.grown("", "S"), "h")
    again = history.grown(history.grown("", "S"), "h")
    assert first == again == "Sh"
    assert first is again   # one string for every connection that went this way
    # More distinct histories than the table keeps: it starts afresh, and
    # every history is still its letters in order.
    made = [history.grown(f"S{i}", "a") for i in range(70_000)]
    assert made[:2] == ["S0a", "S1a"] and made[-1] == "S69999a"
    assert history.grown(history.grown("Sh", "A"), "D") == "ShAD"
    assert history.grown("ShA", "D") is history.grown(history.grown("Sh", "A"), "D")
    assert history.grown("Sh", "\u00e9") == "Sh\u00e9"   # no letter of Zeek's, but still appended
