"""The kernel's ss text in the sample truths, read by scripts/ss_truth.py, and
what we infer against the kernel's timers and retransmission counts.

Truths made by ``ss -tanoi`` (their "ss_command") hold, beside each socket's
state, the timer the kernel had armed (-o) and its tcp_info (-i), and the
wall clock around each ss run ("ss_time", the clock of the capture's
timestamps).  That makes more of what we infer checkable than the end
states: when a TIME_WAIT began (its timer's remaining time at ss), when the
next SYN retransmission was due and how many went before.
"""
import json

import pytest
from conftest import SAMPLES, capture_lacks_evidence, ss_truth

from tcpflow_analyze.analysis import AnalysisOptions, analyze
from tcpflow_analyze.model.states import STATE_NAMES
from tcpflow_analyze.views.ladder import LadderEvent, record_ladder
from tcpflow_analyze.views.report import build_report

ALL_TRUTHS = sorted(SAMPLES.glob("*.truth.json"))
# The samples regenerated with ss -tanoi (the others keep their ss -tan truth).
TANOI = {"server_close_first", "simultaneous_close", "syn_dropped"}


def name_of(path):
    return path.name.split(".")[0]


def read(path):
    return json.loads(path.read_text())


# A kernel's ss -tanoi into a pipe (tfa-srv of close_wait, tfa-cli of
# syn_dropped and of simultaneous_close); ss pads lines with blanks, kept here.
TANOI_TEXT = """\
State      Recv-Q Send-Q Local Address:Port Peer Address:Port Process                  
LISTEN     0      128       10.201.0.2:8080      0.0.0.0:*
\t bbr cwnd:10                                                     
CLOSE-WAIT 0      0         10.201.0.2:8080   10.201.0.1:40001
\t ts sack bbr wscale:10,10 rto:204 rtt:0.025/0.014 ato:40 mss:1448 pmtu:1500 rcvmss:536 advmss:1448 cwnd:11 \
bytes_sent:52 bytes_acked:52 bytes_received:35 segs_out:3 segs_in:5 data_segs_out:1 data_segs_in:1 send 5096960000bps \
lastsnd:576 lastrcv:576 lastack:528 pacing_rate 11823338480bps delivery_rate 1158400000bps delivered:2 app_limited \
rcv_space:14480 rcv_ssthresh:64088 minrtt:0.01 snd_wnd:64512
SYN-SENT   0      1         10.201.0.1:40001   10.201.0.2:8080 timer:(on,544ms,2)
\t bbr rto:1000 mss:524 pmtu:1500 rcvmss:88 advmss:1460 cwnd:1 segs_out:3 bbr:(bw:0bps,mrtt:0) lastsnd:16002248 \
lastrcv:16002248 lastack:16002248 app_limited unacked:1 retrans:1/2 lost:1 rcv_ssthresh:64240
TIME-WAIT  0      0         10.201.0.1:40002   10.201.0.2:8080 timer:(timewait,58sec,0)
\t                                      
ESTAB      0      0     [fd00:201::1]:40003 [fd00:201::2]:8080 timer:(keepalive,119min,0)
\t ts sack cubic wscale:7,7 rto:1.25 rtt:0.031/0.017 cwnd:10
"""
# The same sockets as ss -tan writes them.
TAN_TEXT = """\
State      Recv-Q Send-Q Local Address:Port Peer Address:PortProcess
LISTEN     0      128       10.201.0.2:8080      0.0.0.0:*
CLOSE-WAIT 0      0         10.201.0.2:8080   10.201.0.1:40001
SYN-SENT   0      1         10.201.0.1:40001   10.201.0.2:8080
TIME-WAIT  0      0         10.201.0.1:40002   10.201.0.2:8080
ESTAB      0      0     [fd00:201::1]:40003 [fd00:201::2]:8080
"""
# At a narrow terminal ss moves the columns that do not fit to lines of their
# own, the header's too.
WRAPPED_TEXT = """\
State      Recv-Q Send-Q Local Address:Port
                    Peer Address:Port Process
LISTEN     0      128       10.201.0.2:8080
                         0.0.0.0:*
\t bbr cwnd:10
CLOSE-WAIT 0      0         10.201.0.2:8080
                      10.201.0.1:40001
\t ts sack bbr rto:204 rtt:0.025/0.014 cwnd:11 bytes_sent:52 send 5096960000bps lastsnd:576
SYN-SENT   0      1         10.201.0.1:40001
                       10.201.0.2:8080 timer:(on,544ms,2)
\t bbr rto:1000 cwnd:1 segs_out:3 unacked:1 retrans:1/2 lost:1
TIME-WAIT  0      0         10.201.0.1:40002
                       10.201.0.2:8080
 timer:(timewait,58sec,0)
\t
ESTAB      0      0     [fd00:201::1]:40003
              [fd00:201::2]:8080 timer:(keepalive,119min,0)
\t ts sack cubic wscale:7,7 rto:1.25 rtt:0.031/0.017 cwnd:10
"""


def triples(socks):
    return [(s["state"], s["local"], s["peer"]) for s in socks]


def test_tanoi_reads_as_tan_and_wrapped():
    rich = ss_truth.parse(TANOI_TEXT.splitlines())
    wrapped = ss_truth.parse(WRAPPED_TEXT.splitlines())
    plain = ss_truth.parse(TAN_TEXT.splitlines())
    assert triples(rich) == triples(plain) == triples(wrapped) == [
        ("LISTEN", "10.201.0.2:8080", "0.0.0.0:*"),
        ("CLOSE-WAIT", "10.201.0.2:8080", "10.201.0.1:40001"),
        ("SYN-SENT", "10.201.0.1:40001", "10.201.0.2:8080"),
        ("TIME-WAIT", "10.201.0.1:40002", "10.201.0.2:8080"),
        ("ESTAB", "[fd00:201::1]:40003", "[fd00:201::2]:8080")]
    assert all("timer" not in s and "info" not in s for s in plain)
    listen, close_wait, syn_sent, time_wait, estab = rich
    assert "timer" not in listen and listen["info"] == {"flags": ["bbr"], "items": {"cwnd": "10"}}
    assert syn_sent["send_q"] == 1
    assert syn_sent["timer"] == {"name": "on", "expires_ms": 544, "resolution_ms": 1, "count": 2,
                                 "text": "on,544ms,2"}
    assert time_wait["timer"]["name"] == "timewait" and time_wait["timer"]["expires_ms"] == 58000
    assert time_wait["timer"]["resolution_ms"] == 1000 and "info" not in time_wait
    assert estab["timer"]["expires_ms"] == 119 * 60000 and estab["timer"]["resolution_ms"] == 60000
    for a, b in zip(rich, wrapped):
        assert a.get("timer") == b.get("timer")
    info = ss_truth.info_numbers(close_wait["info"]["items"])
    assert info["rto"] == 204 and info["cwnd"] == 11 and (info["rtt"], info["rttvar"]) == (0.025, 0.014)
    assert (info["segs_out"], info["segs_in"], info["data_segs_out"], info["lastack"]) == (3, 5, 1, 528)
    assert close_wait["info"]["items"]["send"] == "5096960000bps"
    assert close_wait["info"]["items"]["pacing_rate"] == "11823338480bps"
    assert {"ts", "sack", "bbr", "app_limited"} <= set(close_wait["info"]["flags"])
    assert "5096960000bps" not in close_wait["info"]["flags"]
    syn_info = ss_truth.info_numbers(syn_sent["info"]["items"])
    assert (syn_info["retrans"], syn_info["retrans_total"], syn_info["unacked"], syn_info["lost"]) == (1, 2, 1, 1)
    assert syn_sent["info"]["items"]["bbr"] == "(bw:0bps,mrtt:0)"
    assert ss_truth.info_numbers(estab["info"]["items"])["rto"] == 1.25
    # What a truth's endpoint keeps of it.
    assert ss_truth.endpoint_extras(time_wait) == {"timer": {"name": "timewait", "expires_ms": 58000,
                                                             "resolution_ms": 1000, "count": 0}}
    assert ss_truth.endpoint_extras(syn_sent)["tcp_info"]["retrans_total"] == 2


@pytest.mark.parametrize("text, ms, resolution", [
    ("57sec", 57000, 1000), ("812ms", 812, 1), ("050ms", 50, 1), ("1.250ms", 1250, 1), ("3sec", 3000, 1),
    ("2min3sec", 123000, 1000), ("2min", 120000, 1000), ("119min", 7140000, 60000), ("", 0, 1),
])
def test_timer_expiry_as_ss_prints_it(text, ms, resolution):
    assert ss_truth.parse_expires(text) == (ms, resolution)


@pytest.mark.parametrize("lines", [
    ["State Recv-Q Send-Q Local Address:Port Peer Address:Port", "ESTAB x 0 10.0.0.1:1 10.0.0.2:2"],
    ["State Recv-Q Send-Q Local Address:Port Peer Address:Port", "ESTAB 0 0 10.0.0.1:1"],
    ["Netid State Recv-Q Send-Q", "tcp ESTAB 0 0 10.0.0.1:1 10.0.0.2:2"],
    ["State Recv-Q Send-Q Local Address:Port Peer Address:Port",
     "ESTAB 0 0 10.0.0.1:1 10.0.0.2:2 timer:(on,1.,0)"],
    ["State Recv-Q Send-Q Local Address:Port Peer Address:Port",
     "ESTAB 0 0 10.0.0.1:1 10.0.0.2:2 timer:(on,5ms,0) timer:(keepalive,1min,0)"],
    ["State Recv-Q Send-Q Local Address:Port Peer Address:Port", "ESTAB 0 0 10.0.0.1:1 10.0.0.2:2",
     "\t rto:204 rto:208"],
])
def test_unreadable_ss_text_is_an_error_not_a_truth(lines):
    with pytest.raises(ss_truth.SSFormatError):
        ss_truth.parse(lines)


# ---------------------------------------------------------------------- every truth file
@pytest.mark.parametrize("truth_path", ALL_TRUTHS, ids=name_of)
def test_truth_connections_are_what_its_ss_text_says(truth_path):
    """Each truth's endpoint states (and, from ss -tanoi, timers and
    tcp_info) are those its own ss text holds, read by ss_truth -- for the
    old ss -tan truths as for the new."""
    truth = read(truth_path)
    command = ss_truth.command_of(truth)
    assert command == ("ss -tanoi" if name_of(truth_path) in TANOI else "ss -tan")
    assert ("ss_time" in truth) == (command != "ss -tan")
    tuples = [((c["client"]["ip"], c["client"]["port"]), (c["server"]["ip"], c["server"]["port"]))
              for c in truth["connections"]]
    for side in ("client", "server"):
        socks = ss_truth.by_tuple(ss_truth.sockets(truth, side))
        for i, conn in enumerate(truth["connections"]):
            me = conn[side]
            local, peer = tuples[i] if side == "client" else tuples[i][::-1]
            found = socks.get((local, peer), [])
            if me["state"] == "CLOSED":
                # No socket, or the socket is a later instance's (reused tuple),
                # or the endpoint is in no namespace we control.
                assert "timer" not in me and "tcp_info" not in me
                continue
            assert tuples[i] not in tuples[i + 1:]
            sock, = found
            assert ss_truth.SS_STATES[sock["state"]] == me["state"]
            extras = {k: me[k] for k in ("timer", "tcp_info") if k in me}
            assert extras == ss_truth.endpoint_extras(sock)
            if command == "ss -tan":
                assert extras == {}


# ---------------------------------------------------------------------- the kernel's timers against the capture
def kernel_sockets(truth_path):
    """(truth path, connection index, side, ss socket) for every endpoint of a
    -tanoi truth that has a socket."""
    truth = read(truth_path)
    out = []
    for side in ("client", "server"):
        socks = ss_truth.by_tuple(ss_truth.sockets(truth, side))
        for i, c in enumerate(truth["connections"]):
            other = "server" if side == "client" else "client"
            local, peer = (c[side]["ip"], c[side]["port"]), (c[other]["ip"], c[other]["port"])
            if c[side]["state"] != "CLOSED" and socks.get((local, peer)):
                out.append((truth_path, i, side, socks[(local, peer)][0]))
    return out


KERNEL = [k for p in ALL_TRUTHS if "o" in ss_truth.command_of(read(p)).split()[-1] for k in kernel_sockets(p)]
# Not where the capture lacks packets the sockets exchanged (a filter kept out
# the FINs, say): when TIME_WAIT began is then inferred at best.
TIME_WAITS = [k for k in KERNEL if k[3]["state"] == "TIME-WAIT" and k[3]["timer"]["name"] == "timewait"
              and not capture_lacks_evidence(read(k[0]))]
SYN_RETRIES = [k for k in KERNEL if k[3]["state"] == "SYN-SENT" and k[3]["timer"]["name"] == "on"]


def case_id(case):
    path, i, side, _ = case
    return f"{name_of(path)}#{i + 1}-{side}"


def test_the_kernel_checks_have_cases():
    assert {name_of(k[0]) for k in TIME_WAITS} >= {"server_close_first", "simultaneous_close"}
    assert {name_of(k[0]) for k in SYN_RETRIES} >= {"syn_dropped"}


def kernel_expiry(truth, side, sock):
    """When the kernel's timer was due, as (earliest, latest) wall-clock
    times: ss ran between the two ss_time stamps, and printed the remaining
    time truncated to its resolution."""
    timer = sock["timer"]
    before, after = truth["ss_time"][side]
    return (before + timer["expires_ms"] / 1000,
            after + (timer["expires_ms"] + timer["resolution_ms"]) / 1000)


def select(truth, i):
    """The ladder's select for truth connection i: its 4-tuple and instance."""
    def text(ep):
        return f"[{ep['ip']}]:{ep['port']}" if ":" in ep["ip"] else f"{ep['ip']}:{ep['port']}"
    conns = truth["connections"]
    key = (text(conns[i]["client"]), text(conns[i]["server"]))
    nth = sum((text(c["client"]), text(c["server"])) == key for c in conns[:i + 1])
    return f"{key[0]}-{key[1]}#{nth}"


# Jiffies: the kernel's timers count in ticks (HZ 100 at worst), ss in ms.
TICK = 0.011


@pytest.mark.parametrize("case", TIME_WAITS, ids=case_id)
def test_time_wait_began_when_the_kernel_timer_says(case):
    """The kernel's TIME_WAIT timer, read from ss -o, ends TIME_WAIT's length
    (TCP_TIMEWAIT_LEN, our time_wait) after we say the endpoint entered it."""
    path, i, side, sock = case
    truth = read(path)
    ladder = record_ladder([str(SAMPLES / truth["capture"])], select(truth, i))
    entered = [ev.time for ev in ladder.events if isinstance(ev, LadderEvent)
               and STATE_NAMES[getattr(ev, side + "_state")] == "TIME_WAIT"]
    assert entered, "we never saw this endpoint enter TIME_WAIT"
    earliest, latest = kernel_expiry(truth, side, sock)
    ours = entered[0] + AnalysisOptions().time_wait
    assert earliest - TICK <= ours <= latest + TICK, (ours - earliest, latest - ours)


@pytest.mark.parametrize("case", SYN_RETRIES, ids=case_id)
def test_syn_retransmissions_are_the_kernels(case):
    """A connect() still retrying at ss: the kernel's count of SYN
    retransmissions (the timer's and tcp_info's) and of segments sent are
    what we count in the capture, and its next retransmission is due one RTO
    after the last SYN we saw."""
    path, i, side, sock = case
    truth = read(path)
    report = build_report(analyze([str(SAMPLES / truth["capture"])]))
    ep = truth["connections"][i][side]
    conn, = [c for c in report["connections"] if (c[side]["ip"], c[side]["port"]) == (ep["ip"], ep["port"])]
    info = ss_truth.info_numbers(sock["info"]["items"])
    assert conn[side]["state"] == "SYN_SENT"
    assert conn["syn_retries"] == sock["timer"]["count"] == info["retrans_total"] > 0
    assert conn["packets"][side] == info["segs_out"] == conn["syn_retries"] + 1
    earliest, latest = kernel_expiry(truth, side, sock)
    due = conn["last_seen"] + info["rto"] / 1000
    assert earliest - TICK <= due <= latest + TICK, (due - earliest, latest - due)
