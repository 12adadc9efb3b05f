"""Every capture in ../shared/pcaps/public: no crash, the right exit code, and
for TCP captures the same connections and per-connection packet counts as
tshark's ``conv,tcp`` view kept in reference/.  Skips when ../shared is absent.
"""
import json
from collections import Counter

import pytest
from clirun import invoke
from conftest import PUBLIC
from tshark_reference import parse_conv

pytestmark = pytest.mark.skipif(not PUBLIC.is_dir(), reason="../shared/pcaps/public not present")

CAPTURES = sorted(p for p in PUBLIC.glob("*") if p.is_file() and p.suffix != ".md") if PUBLIC.is_dir() else []

# Not captures at all: exit 2 with one line (libpcap and tshark refuse them too).
NOT_A_CAPTURE = {
    "libpcap-linktype-reserved-field-not-zero.pcap",
    "libpcap-pcap-invalid-version-1.pcap",
    "libpcap-pcapng-invalid-vers-1.pcapng",
    "libpcap-shb-option-too-long.pcapng",
    "synthetic-corrupt-magic.pcap",
    "synthetic-zero-length.pcap",
    "tcpdump-text-output-not-a-capture.pcap",
}
# Cut or damaged part-way: analyzed up to the damage, capture.truncated true.
TRUNCATED = {
    "synthetic-cut-mid-block.pcapng": 2,
    "synthetic-cut-mid-record.pcap": 3,
    "synthetic-huge-caplen.pcap": 1,
}
# Where we and tshark 4.0 differ, and why (each checked by hand):
TSHARK_DIFFERS = {
    # tshark reassembles IP fragments; we count them under skipped.fragment.
    "suricata-ppp-frag-tcp-syn.pcap": "fragment",
    "suricata-vlan-ipv6-frag-tcp.pcap": "fragment",
    "zeek-ipv4-fragmented-syn.pcap": "fragment",
    # tshark stopped at the bad record and kept no table; we keep packet 1.
    "synthetic-huge-caplen.pcap": "tshark kept no table",
    # BIG TCP: IPv6 payload length 0 on a >64 KiB segment; tshark 4.0 does not
    # decode it, we take the length from the capture.
    "tcpdump-bigtcp-ipv6.pcap": "big tcp",
    # snaplen 68 cuts one packet's TCP options; tshark drops the packet, we
    # keep it (its 20 fixed header bytes are all there).
    "zeek-tcp-truncated-header.pcap": "options cut by snaplen",
}


def analyze_json(path):
    """``analyze --format json`` in-process (clirun: an escaping exception, a
    thread's error or a hang fails the test, as a process's traceback would)."""
    return invoke("analyze", "--format", "json", path, timeout=120)


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_public_capture(path):
    proc = analyze_json(path)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    if path.name in NOT_A_CAPTURE:
        assert proc.code == 2
        assert len(proc.stderr.strip().splitlines()) == 1
        assert proc.stdout == ""
        return
    assert proc.code == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert rep["capture"]["truncated"] == (path.name in TRUNCATED)
    if path.name in TRUNCATED:
        assert rep["capture"]["packets"] == TRUNCATED[path.name]
        assert rep["capture"]["truncation"]["reason"]

    conv = PUBLIC / "reference" / (path.name + ".conv.txt")
    if not conv.exists():
        return
    ref = parse_conv(conv.read_text())
    ours = Counter()
    for c in rep["connections"]:
        ends = frozenset([(c["client"]["ip"], c["client"]["port"]), (c["server"]["ip"], c["server"]["port"])])
        ours[(ends, c["packets"]["client"] + c["packets"]["server"])] += 1
    theirs = Counter((frozenset([r["a"], r["b"]]), r["frames"]) for r in ref)
    why = TSHARK_DIFFERS.get(path.name)
    if why is None:
        assert ours == theirs
    elif why == "fragment":
        assert rep["capture"]["skipped"]["fragment"] > 0
        assert not rep["connections"]
    else:
        assert ours != theirs  # if they ever agree, drop the exception


def test_port_reuse_capture_splits_like_tshark():
    # 23 SYNs reuse one 4-tuple: tshark starts a new stream on each new ISN.
    rep = json.loads(analyze_json(PUBLIC / "suricata-tcp-port-reuse.pcap").stdout)
    assert rep["summary"]["connections"] == 24
    tuples = {(c["client"]["port"], c["server"]["port"]) for c in rep["connections"]}
    assert tuples == {(45511, 80)}


def test_link_types_decode_tcp():
    for name, linktype in (("suricata-decode-sll2.pcap", 276), ("tcpdump-tcp-handshake-nano.pcap", 113),
                           ("gopacket-test-loopback.pcap", 0), ("zeek-tcp-payload-syn.pcap", 101),
                           ("zeek-tcp-timeout-with-pings.pcap", 228), ("zeek-nflog-http.pcap", 239)):
        rep = json.loads(analyze_json(PUBLIC / name).stdout)
        assert rep["capture"]["link_types"] == [linktype], name
        assert rep["connections"], name


def test_unsupported_link_type_is_counted_not_fatal():
    rep = json.loads(analyze_json(PUBLIC / "tcpdump-unsupported-linktype-dbus.pcap").stdout)
    assert rep["capture"]["skipped"]["unsupported_link"] == 2


def test_pcapng_simple_packet_blocks_and_sections_are_read():
    # dpkt reads 0 of 4, 4 of 5 and 3 of 4 packets of these.
    for name, n in (("pcapngtg-le-test010-spb.pcapng", 4), ("pcapngtg-le-test102-all-blocks.pcapng", 5),
                    ("pcapngtg-le-test201-multi-shb.pcapng", 4)):
        rep = json.loads(analyze_json(PUBLIC / name).stdout)
        assert rep["capture"]["packets"] == n, name
