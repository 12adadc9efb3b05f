"""TCP endpoint states (RFC 9293 section 3.3.2) and their external names.

One table turns a state into the name every reporter prints, so the JSON
report, the tables and the tests can never disagree about spelling.
"""

CLOSED = 0
LISTEN = 1
SYN_SENT = 2
SYN_RECEIVED = 3
ESTABLISHED = 4
FIN_WAIT_1 = 5
FIN_WAIT_2 = 6
CLOSE_WAIT = 7
CLOSING = 8
LAST_ACK = 9
TIME_WAIT = 10
UNKNOWN = 11

STATE_NAMES = (
    "CLOSED", "LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1",
    "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT", "UNKNOWN",
)
STATE_BY_NAME = {name: i for i, name in enumerate(STATE_NAMES)}

# ss's spelling of the state names (iproute2 misc/ss.c sstate_name): what
# ``states --at`` prints beside ours, and what a person copies from ``ss -tan``.
# ss calls a TCP socket in CLOSE "UNCONN".
SS_NAMES = {
    "ESTABLISHED": "ESTAB", "SYN_SENT": "SYN-SENT", "SYN_RECEIVED": "SYN-RECV", "FIN_WAIT_1": "FIN-WAIT-1",
    "FIN_WAIT_2": "FIN-WAIT-2", "TIME_WAIT": "TIME-WAIT", "CLOSED": "UNCONN", "CLOSE_WAIT": "CLOSE-WAIT",
    "LAST_ACK": "LAST-ACK", "LISTEN": "LISTEN", "CLOSING": "CLOSING", "UNKNOWN": "?",
}
# Other names a person types for a state: ss's own (SYN-RECV, ESTAB, UNCONN),
# and the words of ss's state filter (``ss state listening``).
_SPELLINGS = {
    **{ss.replace("-", "_"): STATE_BY_NAME[name] for name, ss in SS_NAMES.items() if ss != "?"},
    "LISTENING": LISTEN, "CLOSE": CLOSED,
}


def parse_state(text: str) -> int:
    """A state from any of its names: RFC 9293's (SYN-RECEIVED), this tool's
    (SYN_RECEIVED) or ss's (SYN-RECV, ESTAB, UNCONN), in any case, with
    hyphens, underscores or spaces; a ValueError naming the choices."""
    key = "_".join(str(text).replace("-", " ").replace("_", " ").upper().split())
    state = STATE_BY_NAME.get(key, _SPELLINGS.get(key))
    if state is None:
        own = [ss for name, ss in SS_NAMES.items() if ss.replace("-", "_") not in (name, "?")]
        raise ValueError(f"{text!r} is not a TCP state: one of {', '.join(STATE_NAMES)} (any case, - or _), "
                         f"or ss's {', '.join(own)}")
    return state

# States in which the endpoint has a synchronized connection (RFC 9293 3.3.2).
SYNCHRONIZED = frozenset((ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT))

# Memory bounds (see folding.py): live connections tracked at once, and
# finished connections listed in the report before further ones are folded
# into per-service aggregates.  About 2 KB each: together ~420 MB at most,
# enough for a busy server's capture while a SYN flood of millions of spoofed
# sources stays bounded.
DEFAULT_MAX_CONNECTIONS = 100_000
DEFAULT_MAX_REPORT_CONNECTIONS = 100_000

# Linux timers a capture cannot show, applied at the end of the capture.
# TIME_WAIT length is a CLI option (--time-wait, default TCP_TIMEWAIT_LEN 60 s).
DEFAULT_TIME_WAIT = 60.0
# An orphaned FIN_WAIT_2 socket lives tcp_fin_timeout (60 s) and is then gone.
DEFAULT_FIN_TIMEOUT = 60.0
# A peer silent while the other side retransmits for this long has lost the
# connection (several RTOs: Linux's first five retransmissions span ~3 s at the
# minimum RTO of 200 ms).  The half_open detector's threshold.
DEFAULT_UNANSWERED = 5.0
# TCP_TIMEOUT_INIT, the initial RTO (RFC 6298 2.1): a live client answers a
# SYN-ACK well within it.
SYNACK_ANSWER_TIME = 1.0
# A FIN that arrives is acknowledged at once; one that is lost is sent again
# after at least TCP_RTO_MIN (200 ms).  An unanswered FIN younger than this at
# the end of a capture is taken as received.
FIN_ANSWER_TIME = 0.2
# A segment that takes an answer -- a FIN, data, a SYN -- still unanswered
# this long before the capture's end, yet never sent again, was answered or
# given up on: the capture lacks what happened (engine.timers).  Linux
# retransmits after the RTO -- max(200 ms, SRTT + 4 RTTVAR), 1 s before any
# RTT sample (RFC 6298 2.1, TCP_TIMEOUT_INIT) -- so 3 s is past the first
# retransmission of any RFC 6298 sender (minimum RTO 1 s) by two backoffs.
LOST_ANSWER_WAIT = 3.0
# A SYN_RECEIVED request retransmits its SYN-ACK after TCP_TIMEOUT_INIT (1 s);
# waiting half as long again allows for timer slack.
SYNACK_RETRANSMIT_WAIT = 1.5
# SYN_SENT gives up after tcp_syn_retries=6 retransmissions: 1+2+...+64 = 127 s.
SYN_SENT_TIMEOUT = 127.0
# A SYN_RECEIVED request is dropped after tcp_synack_retries=5: 1+...+32 = 63 s.
SYN_RECEIVED_TIMEOUT = 63.0
