"""Captures that do not show everything (issue #16 section 2).

One direction only: public captures of asymmetric routing and a half-duplex
tap, and kernel-made captures filtered to one direction (their truth is the
kernel's ss).
"""
from conftest import PUBLIC, states

from tcpflow_analyze.analysis import analyze
from tcpflow_analyze.detectors import run as run_detectors
from tcpflow_analyze.model.connection import transitions
from tcpflow_analyze.model.states import CLOSED, ESTABLISHED, STATE_NAMES, TIME_WAIT  # noqa: F401
from tcpflow_analyze.views.report import build_report


def report_of(path):
    analysis = analyze([str(path)])
    return analysis, build_report(analysis, run_detectors(analysis))


def names(ep):
    return [STATE_NAMES[s] for _, s in transitions(ep)]


def test_client_side_half_duplex_server_inferred_from_client_acks():
    """Zeek's trace of 20 SSH connections, only client->server captured.

    The client's first ACK after its SYN acknowledges the server's SYN-ACK,
    its later ACKs the server's data: the server answered, was ESTABLISHED,
    and (the client's FIN never retransmitted) got the client's FIN."""
    analysis, report = report_of(PUBLIC / "zeek-ssh-client-side-half-duplex.pcap")
    conns = analysis.connections
    assert len(conns) == 20
    assert report["capture"]["one_sided"] == 20
    assert report["capture"]["states_inferred"] == 20
    for conn, entry in zip(conns, report["connections"]):
        assert entry["one_sided"] == "client"
        assert entry["state_evidence"] == "inferred"
        assert entry["handshake"] == "complete"
        assert conn.server.packets == 0
        # Before: the server stayed CLOSED from start to end, as if it
        # never answered.
        assert "ESTABLISHED" in names(conn.server), names(conn.server)
        assert "ESTABLISHED" in names(conn.client)
    # Connection 1 (port 51880): client FIN, then its ACK moves by one: the
    # server's FIN.  Client FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT (-> CLOSED
    # by its 60 s timer, the capture runs on); the server LAST_ACK -> CLOSED.
    first = conns[0]
    assert first.client.port == 51880
    assert names(first.client)[-3:] == ["FIN_WAIT_2", "TIME_WAIT", "CLOSED"]
    assert names(first.server)[-3:] == ["CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    # The last connection's close comes less than 60 s before the capture's
    # end: still TIME_WAIT.
    assert states(conns[-1]) == ("TIME_WAIT", "CLOSED")
    # No "server is down" alarm: connection 17 retried its SYN twice, then
    # acknowledged the SYN-ACK that finally came.
    assert "syn_unanswered" not in report["summary"]["anomalies"]
    assert conns[16].client.syn_count == 3


def test_async_oneside_server_established_by_its_acks_of_client_data():
    """Suricata's IMAP trace: only server->client captured.  The server
    acknowledges the client's bytes: the client had the SYN-ACK and the
    server had the client's ACK -- not SYN_RECEIVED with 181 KB sent."""
    analysis, report = report_of(PUBLIC / "suricata-tcp-async-oneside.pcap")
    (conn,) = analysis.connections
    (entry,) = report["connections"]
    assert states(conn) == ("ESTABLISHED", "ESTABLISHED")
    assert entry["one_sided"] == "server"
    assert entry["handshake"] == "complete"
    assert entry["state_evidence"] == "inferred"
    assert report["capture"]["one_sided"] == 1
    assert entry["bytes"]["server"] > 180_000


def test_two_sided_connections_are_not_one_sided():
    """A capture of both directions: one_sided stays null, evidence 'seen'."""
    from conftest import SAMPLES
    analysis, report = report_of(SAMPLES / "client_close_first.pcap")
    assert report["capture"]["one_sided"] == 0
    assert [e["one_sided"] for e in report["connections"]] == [None] * len(report["connections"])
    assert {e["state_evidence"] for e in report["connections"]} == {"seen"}
    assert all(c.client.state in (CLOSED, TIME_WAIT, ESTABLISHED) for c in analysis.connections)


def test_kernel_made_one_way_captures_are_reported_one_sided():
    """sample_pcaps/one_sided_{client,server}: ordinary connections captured
    with 'src host' of one side (their states against ss are checked in
    test_kernel_samples); every connection is counted one-sided, from the
    side the filter kept, and its states are flagged inferred."""
    from conftest import SAMPLES
    for name, side in (("one_sided_client", "client"), ("one_sided_server", "server")):
        _, report = report_of(SAMPLES / f"{name}.pcap")
        entries = list(report["connections"])
        assert len(entries) == 4
        assert report["capture"]["one_sided"] == 4
        assert {e["one_sided"] for e in entries} == {side}
        assert {e["state_evidence"] for e in entries} == {"inferred"}
        assert report["anomalies"] == [], report["anomalies"]


def test_packets_captured_several_times_are_duplicates_not_retransmissions():
    """zeek-tcp-ssh-dups.pcap holds every packet of an SSH connection up to
    four times, microseconds apart (the same frame seen on several
    interfaces).  Before: 72 client and 90 server 'retransmissions' on a
    path that lost nothing.  Zeek's history still says T (its own conn.log
    of this trace does, tests/data/zeek_conn_baselines.json)."""
    analysis, report = report_of(PUBLIC / "zeek-tcp-ssh-dups.pcap")
    (entry,) = report["connections"]
    assert entry["retransmissions"] == {"client": 0, "server": 0}
    assert entry["duplicates"] == {"client": 74, "server": 92}
    assert report["capture"]["duplicates"] == 166
    assert entry["history"] == "ShADTadtTtFf"
    assert entry["syn_retries"] == 0
    assert states(analysis.connections[0]) == ("TIME_WAIT", "CLOSED")


def test_router_any_capture_has_no_retransmissions():
    """sample_pcaps/router_any: tcpdump -i any in a router namespace holds
    each forwarded packet twice; the kernels' path lost nothing.  Before:
    1/1, 1/1 and 139/0 retransmissions (history T for every copy's data)."""
    from conftest import SAMPLES
    _, report = report_of(SAMPLES / "router_any.pcap")
    entries = list(report["connections"])
    assert len(entries) == 3
    assert [e["retransmissions"] for e in entries] == [{"client": 0, "server": 0}] * 3
    assert [e["syn_retries"] for e in entries] == [0, 0, 0]
    # 40003's client sent 139 data segments and its SYN, each seen twice.
    assert entries[2]["duplicates"]["client"] == 140
    assert report["capture"]["duplicates"] == sum(e["duplicates"]["client"] + e["duplicates"]["server"]
                                                  for e in entries)
    assert report["anomalies"] == []
