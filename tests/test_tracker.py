"""Hand-built segment sequences through the whole pipeline (pcap -> report).

These cover what the kernel samples cannot easily show: out-of-window RSTs,
simultaneous open, FIN carrying data, a lost final ACK, sequence wrap ...
Each trace is written as a real pcap and read back through the CLI's path.
"""
from conftest import states
from pcapgen import Trace

from tcpflow_analyze.engine.zeek import conn_state

C, S = 1000, 5000  # client and server ISNs


def established(**kw):
    t = Trace(**kw).handshake(C, S)
    t.c("PA", C + 1, S + 1, b"GET / HTTP/1.0\r\n\r\n")
    t.s("PA", S + 1, C + 19, b"HTTP/1.0 200 OK\r\n\r\nhello")
    t.c("A", C + 19, S + 25)
    return t  # client next seq C+19, server next seq S+25


def test_client_closes_first_four_way(run_trace):
    t = established()
    t.c("FA", C + 19, S + 25).s("A", S + 25, C + 20).s("FA", S + 25, C + 20).c("A", C + 20, S + 26)
    [conn] = run_trace(t)
    assert states(conn) == ("TIME_WAIT", "CLOSED")
    assert conn.history == "ShADdFaf"
    assert conn_state(conn) == "SF"
    assert conn.handshake == "complete" and conn.close == "fin"
    assert (conn.client.bytes, conn.server.bytes) == (18, 24)
    assert (conn.client.packets, conn.server.packets) == (6, 4)


def test_three_way_close_server_first(run_trace):
    t = established()
    t.s("FA", S + 25, C + 19).c("FA", C + 19, S + 26).s("A", S + 26, C + 20)
    [conn] = run_trace(t)
    assert states(conn) == ("CLOSED", "TIME_WAIT")


def test_time_wait_expires_after_time_wait_seconds(run_trace):
    t = established()
    t.c("FA", C + 19, S + 25).s("FA", S + 25, C + 20).c("A", C + 20, S + 26)
    t.other("S", 1, dt=2.0)  # another connection, two seconds on, sets the capture's end
    conn = run_trace(t, time_wait=1.0)[0]
    assert states(conn)[0] == "CLOSED"
    conn = run_trace(t, time_wait=5.0)[0]
    assert states(conn)[0] == "TIME_WAIT"


def test_fin_carrying_data(run_trace):
    t = established()
    t.c("FPA", C + 19, S + 25, b"bye")
    t.s("A", S + 25, C + 23)  # acks 3 data bytes + the FIN
    [conn] = run_trace(t)
    assert states(conn) == ("FIN_WAIT_2", "CLOSE_WAIT")
    assert conn.client.bytes == 21


def test_fin_acked_only_when_ack_covers_fin(run_trace):
    t = established()
    t.c("FPA", C + 19, S + 25, b"bye")
    t.s("A", S + 25, C + 22)  # acks the data but not the FIN
    [conn] = run_trace(t)
    assert states(conn) == ("FIN_WAIT_1", "ESTABLISHED")


def test_lost_final_ack_then_fin_retransmitted(run_trace):
    t = established()
    t.c("FA", C + 19, S + 25).s("A", S + 25, C + 20).s("FA", S + 25, C + 20)
    t.other("S", 1, dt=0.5)
    conn = run_trace(t)[0]
    # Half a second and no ACK from the client: no evidence the FIN arrived.
    assert states(conn) == ("FIN_WAIT_2", "LAST_ACK")
    t.s("FA", S + 25, C + 20, dt=0.2).c("A", C + 20, S + 26)
    conn = run_trace(t)[0]
    assert states(conn) == ("TIME_WAIT", "CLOSED")
    assert conn.history == "ShADdFaf"  # a retransmitted FIN is not a new letter


def test_simultaneous_close(run_trace):
    t = established()
    t.c("FA", C + 19, S + 25)
    t.s("FA", S + 25, C + 19)   # crossed: does not acknowledge the client's FIN
    t.c("A", C + 20, S + 26).s("A", S + 26, C + 20)
    [conn] = run_trace(t)
    assert states(conn) == ("TIME_WAIT", "TIME_WAIT")
    assert conn.client.active_close and conn.server.active_close
    assert conn_state(conn) == "SF"


def test_simultaneous_close_midway_is_closing(run_trace):
    t = established()
    t.c("FA", C + 19, S + 25).s("FA", S + 25, C + 19).c("A", C + 20, S + 26)
    [conn] = run_trace(t)
    # The client has the server's FIN before its own FIN was acknowledged.
    assert states(conn) == ("CLOSING", "FIN_WAIT_2")


def test_half_close_with_data_flowing_back(run_trace):
    t = established()
    t.c("FA", C + 19, S + 25).s("A", S + 25, C + 20)
    t.s("PA", S + 25, C + 20, b"x" * 100).c("A", C + 20, S + 125)
    t.s("PA", S + 125, C + 20, b"y" * 100, dt=5).c("A", C + 20, S + 225)
    [conn] = run_trace(t, fin_timeout=1.0)
    # Data kept arriving in FIN_WAIT_2: a shutdown(SHUT_WR), not an orphan,
    # so tcp_fin_timeout does not end it.
    assert states(conn) == ("FIN_WAIT_2", "CLOSE_WAIT")
    t.s("FA", S + 225, C + 20).c("A", C + 20, S + 226)
    [conn] = run_trace(t)
    assert states(conn) == ("TIME_WAIT", "CLOSED")
    assert conn.server.bytes == 224


def test_orphaned_fin_wait_2_times_out(run_trace):
    t = established()
    t.c("FA", C + 19, S + 25).s("A", S + 25, C + 20)
    t.other("S", 1, dt=3.0)
    conn = run_trace(t, fin_timeout=2.0)[0]
    assert states(conn) == ("CLOSED", "CLOSE_WAIT")


def test_rst_in_window_closes_both(run_trace):
    t = established()
    t.s("R", S + 25)
    [conn] = run_trace(t)
    assert states(conn) == ("CLOSED", "CLOSED")
    assert conn.close == "rst" and conn_state(conn) == "RSTR"


def test_rst_out_of_window_changes_nothing(run_trace):
    t = established()
    t.s("R", S + 25 + 10_000_000)      # far outside the client's window
    t.s("R", S + 30)                   # in the window but not RCV.NXT: a challenge ACK, not a reset
    [conn] = run_trace(t)
    assert states(conn) == ("ESTABLISHED", "ESTABLISHED")
    assert conn.rare.rst_ignored == 2
    assert conn.close == "none"


def test_rst_covering_unacked_data_is_accepted(run_trace):
    t = established()
    t.c("PA", C + 19, S + 25, b"more")
    t.c("RA", C + 23, S + 25)  # the server has not acked the 4 bytes yet
    [conn] = run_trace(t)
    assert states(conn) == ("CLOSED", "CLOSED")
    assert conn_state(conn) == "RSTO"


def test_simultaneous_open(run_trace):
    t = Trace()
    t.c("S", C).s("S", S).c("SA", C, S + 1).s("SA", S, C + 1)
    conns = run_trace(t)
    assert len(conns) == 1
    assert states(conns[0]) == ("ESTABLISHED", "ESTABLISHED")
    # RFC 9293 3.5 figure 8: both SYNs acknowledged by the crossing SYN-ACKs.
    assert conns[0].handshake == "complete" and conns[0].simultaneous_open
    for ep in (conns[0].client, conns[0].server):
        assert path(ep) == ["CLOSED", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED"]


def test_simultaneous_open_one_syn_lost(run_trace):
    # The client's SYN never reached the server: the client got the server's
    # SYN in SYN_SENT (-> SYN_RECEIVED, SYN-ACK); the server got that SYN-ACK
    # in SYN_SENT and went straight to ESTABLISHED, answering with an ACK.
    t = Trace()
    t.c("S", C).s("S", S).c("SA", C, S + 1).s("A", S + 1, C + 1)
    [conn] = run_trace(t)
    assert conn.handshake == "complete" and conn.simultaneous_open
    assert path(conn.client) == ["CLOSED", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED"]
    assert path(conn.server) == ["CLOSED", "SYN_SENT", "ESTABLISHED"]


def test_simultaneous_open_kernel_sample():
    from tcpflow_analyze.analysis import analyze
    from conftest import SAMPLES
    [conn] = analyze([str(SAMPLES / "simultaneous_open.pcap")]).connections
    assert conn.handshake == "complete" and conn.simultaneous_open
    for ep in (conn.client, conn.server):
        assert path(ep) == ["CLOSED", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED"]
    # Zeek writes S and s once (HIST_SYN_PKT), and no H for a SYN-ACK with the
    # same sequence number as the side's SYN; each side sent a bare ACK.
    assert conn.history == "SsAaDd" and conn_state(conn) == "S1"


def test_ordinary_handshake_is_no_simultaneous_open(run_trace):
    [conn] = run_trace(established())
    assert not conn.simultaneous_open


def path(ep):
    from tcpflow_analyze.model.connection import transitions
    from tcpflow_analyze.model.states import STATE_NAMES
    return [STATE_NAMES[st] for _, st in transitions(ep)]


def test_synack_after_lost_ack_is_syn_received_until_the_next_ack(run_trace):
    # The final ACK is lost after the capture point: the request socket
    # retransmits its SYN-ACK after 1 s, the client's answer completes it.
    t = Trace().c("S", C).s("SA", S, C + 1).c("A", C + 1, S + 1)
    t.s("SA", S, C + 1, dt=1.0)
    [conn] = run_trace(t)
    assert states(conn) == ("ESTABLISHED", "SYN_RECEIVED")
    assert path(conn.server) == ["CLOSED", "SYN_RECEIVED"]
    assert conn.server.retransmits == 1 and not conn.listen_overflow
    t.c("A", C + 1, S + 1)
    [conn] = run_trace(t)
    assert states(conn) == ("ESTABLISHED", "ESTABLISHED") and not conn.listen_overflow


def test_accept_queue_overflow_holds_syn_received(run_trace):
    # The listener ignores the final ACK and the request: SYN-ACK again
    # after 1 s and 3 s, each answered by the client's duplicate ACK.
    t = Trace().c("S", C).s("SA", S, C + 1).c("A", C + 1, S + 1)
    t.c("PA", C + 1, S + 1, b"GET /", dt=0.01).c("PA", C + 1, S + 1, b"GET /", dt=0.2)
    t.s("SA", S, C + 1, dt=0.8).c("A", C + 1, S + 1)
    t.s("SA", S, C + 1, dt=2.0).c("A", C + 1, S + 1)
    [conn] = run_trace(t)
    assert conn.listen_overflow and states(conn) == ("ESTABLISHED", "SYN_RECEIVED")
    assert path(conn.server) == ["CLOSED", "SYN_RECEIVED"]
    assert (conn.server.retransmits, conn.client.retransmits) == (2, 1)
    # The queue gets room: the client's retransmitted request is taken and
    # the child socket acknowledges it.
    t.c("PA", C + 1, S + 1, b"GET /", dt=0.5).s("A", S + 1, C + 6)
    [conn] = run_trace(t)
    assert states(conn) == ("ESTABLISHED", "ESTABLISHED")
    assert path(conn.server) == ["CLOSED", "SYN_RECEIVED", "ESTABLISHED"]


def test_accept_queue_overflow_kernel_sample():
    from tcpflow_analyze.analysis import analyze
    from conftest import SAMPLES
    conns = analyze([str(SAMPLES / "accept_queue_overflow.pcap")]).connections
    held = [c for c in conns if c.listen_overflow]
    assert len(held) == 2
    for c in held:
        assert states(c) == ("ESTABLISHED", "SYN_RECEIVED")
        assert path(c.server) == ["CLOSED", "SYN_RECEIVED"]
        # SYN-ACKs sent again at 1, 3 and 7 s after the client's ACK.
        assert c.server.retransmits == 3 and c.server.syn_count == 4
        assert c.handshake == "complete"   # as the client saw it: its ACK went out
    assert all(c.server.retransmits == 0 for c in conns if not c.listen_overflow)


def test_retransmitted_syn_is_one_connection(run_trace):
    t = Trace().c("S", C).c("S", C, dt=1.0).c("S", C, dt=2.0)
    [conn] = run_trace(t)
    assert states(conn) == ("SYN_SENT", "CLOSED")
    assert conn.history == "S" and conn_state(conn) == "S0"
    assert conn.client.packets == 3


def test_syn_sent_gives_up_after_linux_retries(run_trace):
    t = Trace().c("S", C).c("S", C, dt=127.5)
    [conn] = run_trace(t)
    assert states(conn) == ("CLOSED", "CLOSED")


def test_synack_before_syn_is_one_connection(run_trace):
    t = Trace()
    t.s("SA", S, C + 1).c("S", C).c("A", C + 1, S + 1)
    [conn] = run_trace(t)
    assert not conn.roles_inferred
    assert (conn.client.port, conn.server.port) == (40000, 80)
    assert states(conn) == ("ESTABLISHED", "ESTABLISHED")


def test_connection_refused(run_trace):
    t = Trace().c("S", C).s("RA", 0, C + 1)
    [conn] = run_trace(t)
    assert states(conn) == ("CLOSED", "CLOSED")
    assert conn.history == "Sr" and conn_state(conn) == "REJ"


def test_rst_that_does_not_ack_the_syn_is_ignored(run_trace):
    t = Trace().c("S", C).s("RA", 0, C + 77)
    [conn] = run_trace(t)
    assert states(conn) == ("SYN_SENT", "CLOSED")


def test_new_isn_after_rst_is_a_new_connection(run_trace):
    t = Trace().c("S", C).s("RA", 0, C + 1).c("S", 777777, dt=1.0)
    conns = run_trace(t)
    assert len(conns) == 2
    assert states(conns[0]) == ("CLOSED", "CLOSED")
    assert states(conns[1]) == ("SYN_SENT", "CLOSED")


def test_port_reuse_after_close(run_trace):
    t = established()
    t.s("FA", S + 25, C + 19).c("FA", C + 19, S + 26).s("A", S + 26, C + 20)
    # The server holds TIME_WAIT; a SYN with a higher ISN is accepted (Linux).
    t.c("S", C + 100000, dt=1.0).s("SA", 9000, C + 100001).c("A", C + 100001, 9001)
    old, new = run_trace(t)
    assert states(old) == ("CLOSED", "CLOSED")  # the TIME_WAIT socket was replaced
    assert states(new) == ("ESTABLISHED", "ESTABLISHED")
    assert new.rare.reused_peer_state >= 0


def test_challenge_ack_after_client_reboot(run_trace):
    t = established()
    # The client reboots and reuses its port: its SYN lands on the server's
    # live connection, which answers with an ACK carrying the old numbers
    # (RFC 5961 section 4); the client resets it and retries a second later.
    t.c("S", 90000, dt=10.0)
    t.s("A", S + 25, C + 19)
    t.c("R", C + 19)
    t.c("S", 90000, dt=1.0).s("SA", 7000, 90001).c("A", 90001, 7001)
    old, new = run_trace(t)
    assert states(old) == ("CLOSED", "CLOSED")
    assert old.rare.reset_by is old.client
    assert states(new) == ("ESTABLISHED", "ESTABLISHED")
    assert (new.client.packets, new.server.packets) == (3, 1)
    assert new.history == "ShA"


def test_syn_answered_by_time_wait_ack(run_trace):
    t = established()
    t.s("FA", S + 25, C + 19).c("FA", C + 19, S + 26).s("A", S + 26, C + 20)
    # A SYN whose ISN is below the TIME_WAIT's RCV.NXT gets the TIME_WAIT's
    # ACK; the client resets it (killing the TIME_WAIT) and retries.
    t.c("S", 500, dt=1.0).s("A", S + 26, C + 20).c("R", C + 20).c("S", 500, dt=1.0)
    t.s("SA", 8000, 501).c("A", 501, 8001)
    old, new = run_trace(t)
    assert states(old) == ("CLOSED", "CLOSED")
    assert states(new) == ("ESTABLISHED", "ESTABLISHED")
    assert old.server.packets == 5  # SYN-ACK, data, FIN, ACK, and the TIME_WAIT's ACK


def test_sequence_numbers_wrapping(run_trace):
    isn = 0xFFFFFF00
    t = Trace().handshake(isn, S)
    seq = isn + 1
    for _ in range(3):
        t.c("PA", seq, S + 1, b"z" * 200)
        seq += 200
        t.s("A", S + 1, seq)
    t.c("FA", seq, S + 1).s("FA", S + 1, seq + 1).c("A", seq + 1, S + 2)
    [conn] = run_trace(t)
    assert conn.client.bytes == 600 and conn.client.retransmits == 0
    assert states(conn) == ("TIME_WAIT", "CLOSED")


def test_retransmission_is_history_T(run_trace):
    t = established()
    t.c("PA", C + 19, S + 25, b"again").c("PA", C + 19, S + 25, b"again", dt=0.2)
    [conn] = run_trace(t)
    assert conn.client.retransmits == 1 and conn.client.bytes == 23
    assert conn.history == "ShADdT"


def test_midstream_both_directions(run_trace):
    t = Trace()
    t.c("PA", C, S, b"abc").s("PA", S, C + 3, b"defg").c("A", C + 3, S + 4)
    [conn] = run_trace(t)
    assert conn.roles_inferred and conn.handshake == "none"
    assert conn.server.port == 80
    assert states(conn) == ("ESTABLISHED", "ESTABLISHED")
    assert conn_state(conn) == "OTH"


def test_midstream_one_direction_only(run_trace):
    t = Trace()
    t.c("PA", C, S, b"abc").c("PA", C + 3, S, b"def")
    [conn] = run_trace(t)
    # Nothing from the server and its acknowledgment never moves: nothing
    # supports a state for it.
    assert states(conn) == ("ESTABLISHED", "UNKNOWN")


def test_midstream_reversed_first_packet_gets_flip_mark(run_trace):
    t = Trace()
    t.s("PA", S, C, b"hello").c("A", C, S + 5)
    [conn] = run_trace(t)
    assert conn.history.startswith("^")
    assert (conn.client.port, conn.server.port) == (40000, 80)


def test_ipv6_connection(run_trace):
    t = Trace(client=("fd00::1", 40000), server=("fd00::2", 443)).handshake(C, S)
    t.c("FA", C + 1, S + 1).s("FA", S + 1, C + 2).c("A", C + 2, S + 2)
    [conn] = run_trace(t)
    assert states(conn) == ("TIME_WAIT", "CLOSED")


def test_zero_window_history(run_trace):
    t = established()
    t.c("A", C + 19, S + 25, win=0)
    [conn] = run_trace(t)
    assert conn.history.endswith("W")


def test_fin_ack_at_the_very_end_is_taken_as_received(run_trace):
    # The capture stops right after the server's FIN+ACK: its ACK is taken as
    # delivered, and so is the FIN on the same segment (a FIN that arrives is
    # answered at once; a lost one would be repeated after 200 ms).
    t = established()
    t.c("FA", C + 19, S + 25).s("FA", S + 25, C + 20)
    [conn] = run_trace(t)
    assert states(conn) == ("TIME_WAIT", "LAST_ACK")


def test_fin_unanswered_for_long_was_not_received(run_trace):
    t = established()
    t.c("FA", C + 19, S + 25).s("FA", S + 25, C + 20)
    t.other("S", 1, dt=1.0)  # the capture goes on for a second: no ACK, no TIME_WAIT
    conn = run_trace(t)[0]
    assert states(conn) == ("FIN_WAIT_2", "LAST_ACK")
