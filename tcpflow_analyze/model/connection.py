"""The data model: one ``Connection`` per connection instance, two ``Endpoint``s.

Plain ``__slots__`` records with scalar fields, mutated in place by the
tracker, so the per-packet path allocates nothing.  Sequence numbers are kept
as raw 32-bit values and compared modulo 2**32 (RFC 9293 section 3.4).
"""
from __future__ import annotations

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

SEQ_MASK = 0xFFFFFFFF
_NEVER = float("inf")
SEQ_HALF = 0x80000000

# Zeek's endpoint states (TCP_Endpoint.h), tracked beside ours only to compute
# Zeek's conn_state code exactly as conn.log does.
Z_INACTIVE = 0
Z_SYN_SENT = 1
Z_SYN_ACK_SENT = 2
Z_ESTABLISHED = 3
Z_CLOSED = 4
Z_RESET = 5
Z_PARTIAL = 6
# An endpoint's zlast while Zeek's last_seq and reassembler frontier both
# equal its SND.NXT ("in step", engine.table.segment): a value no sequence
# number takes (those are 0 .. 2**32 - 1, and -1 for "not seen"), not None,
# so that the field is an integer in the compiled build too.
Z_IN_STEP = -2

# Handshake progress bits.
HS_SYN = 1
HS_SYNACK = 2
HS_ACK = 4
# Both ends sent a SYN (RFC 9293 3.5, figure 8: a simultaneous open); HS_ACK
# then means both SYNs were acknowledged, by the crossing SYN-ACKs or an ACK.
HS_SIMOPEN = 8
# The listener ignored the client's acknowledgment of its SYN-ACK more than
# once: it kept retransmitting the SYN-ACK although the client had sent data
# or answered an earlier retransmission (Linux: the accept queue was full,
# tcp_check_req drops the ACK, ListenOverflows).
HS_OVERFLOW = 16


def seq_ge(a: int, b: int) -> bool:
    """a >= b in sequence space."""
    return ((a - b) & SEQ_MASK) < SEQ_HALF


# Compiled, outside the cyclic GC: an Endpoint refers to no object that could
# lead back to it (its address bytes, its history, its rare fields: numbers
# only), so it needs no GC header (16 bytes each) and no tracking as it is
# made and freed.  (cclass: Cython takes no_gc only on what it knows is an
# extension type.)
@cython.no_gc
@cython.cclass
class Endpoint:
    __slots__ = (
        "addr", "port",
        "wscale",
        "state",
        "zstate", "zprev",  # Zeek's states (Z_*)
        "hist_seen",
        "got_fin",      # we acknowledged the peer's FIN
        "active_close",  # our FIN went out before we had the peer's FIN
        "zdid_close",   # Zeek's did_close: this endpoint's FIN or RST closed it in Zeek's eyes
        "tw_entries",   # times it entered TIME_WAIT (a shortcut past most endpoints)
        "syn_count",    # SYN or SYN-ACK segments sent
        "retransmits",
        "zrxmit",       # Zeek's retransmission count (TCP_Endpoint::DidRxmit, the T letter)
        "fin_count",    # FIN segments sent
        "state_time",
        "isn",          # initial sequence number, -1 until a SYN is seen
        "snd_nxt",      # one past the highest sequence number sent, -1 until seen
        "rcv_nxt",      # the highest acknowledgment this endpoint sent, -1 until seen
        "fin_seq",      # sequence number of this endpoint's FIN, -1 if none
        "syn_time", "fin_time",
        "last_syn_time",  # this endpoint's last SYN before the peer's first SYN: the one a SYN-ACK answers
        "rxmt_time",    # when this endpoint last retransmitted payload
        "got_fin_time",  # when we acknowledged the peer's FIN
        # Every state this endpoint went through, flat: [time, state, time,
        # state, ...] (a list of pairs cost 56 bytes a pair more: a fifth of
        # a finished connection), as ``new_history`` makes it; once the
        # connection ended, what ``ended_history`` keeps
        # (``endpoint.check_ended``).  ``transitions(ep)`` gives the pairs.
        "trans_flat",
        "packets", "bytes",
        "first_time", "last_time",
        # Zeek's own sequence bookkeeping, kept apart from ours so that the
        # Zeek view cannot move our endpoint states (TCPSessionAdapter.cc):
        "zstart",       # start_seq: the ISN, or one below the first sequence number seen; -1 until seen
        "zlast",        # last_seq: one past the highest segment end seen, zero-length ones included; -1 until seen;
                        # Z_IN_STEP while it and zdata equal snd_nxt (engine.table: "in step")
        "zdata",        # one past the payload the reassembler holds (a FIN's byte is not data); -1 until seen
        "ip_bytes",     # IP-level bytes sent (Zeek's orig_ip_bytes / resp_ip_bytes: IP total lengths)
        "last_syn", "last_fin",
        "last_fin_time",  # when the last FIN went (a FIN retransmitted or not)
        # The last data segment that carried new bytes (its sequence number
        # and time), and the last SYN/FIN (likewise): a copy of one of them
        # moments later is the capture seeing one packet twice, not a
        # retransmission (``table.DUP_WINDOW``).
        "seg_seq", "seg_time", "ctl_seq", "ctl_time",
        "acks",         # times this endpoint's acknowledgment advanced (its first one, of the SYN, included)
        # What nearly every endpoint leaves at its defaults (EndpointRare):
        # the shared RARE until the first of them is set (``own_rare``).
        "rare",
    )

    def __init__(self, addr: bytes, port: int, state: int, ts: float | None = None):
        """``ts``: when the endpoint was first seen, in ``state`` (its first transition)."""
        _start_endpoint(self, addr, port, state, ts)


def new_endpoint(addr: bytes, port: int, state: int, ts) -> Endpoint:
    """``Endpoint(addr, port, state, ts)``, as the tracker makes two per
    connection: compiled, allocated and set by C calls, without the
    constructor's argument tuple to build and parse."""
    ep = Endpoint.__new__(Endpoint)
    _start_endpoint(ep, addr, port, state, ts)
    return ep


def _start_endpoint(ep: Endpoint, addr: bytes, port: int, state: int, ts) -> None:
    """Every slot of a new endpoint."""
    ep.addr = addr
    ep.port = port
    ep.state = state
    ep.isn = -1
    ep.snd_nxt = -1
    ep.rcv_nxt = -1
    ep.wscale = -1
    ep.fin_seq = -1
    ep.got_fin = False
    ep.active_close = False
    ep.syn_time = -1.0
    ep.last_syn_time = -1.0
    ep.fin_time = -1.0
    ep.rxmt_time = -1.0
    ep.syn_count = 0
    ep.got_fin_time = -1.0
    ep.state_time = 0.0 if ts is None else ts
    # (The pure build's list made here: a call fewer per endpoint.)
    ep.trans_flat = new_history(ts, state) if cython.compiled else [] if ts is None else [ts, state]
    ep.tw_entries = 0
    ep.packets = 0
    ep.bytes = 0
    ep.retransmits = 0
    ep.first_time = -1.0
    ep.last_time = -1.0
    ep.zstate = Z_INACTIVE
    ep.zprev = Z_INACTIVE
    ep.zstart = -1
    ep.zlast = -1
    ep.zdata = -1
    ep.zrxmit = 0
    ep.zdid_close = False
    ep.ip_bytes = 0
    ep.hist_seen = 0
    ep.last_syn = -1
    ep.last_fin = -1
    ep.fin_count = 0
    ep.last_fin_time = -1.0
    ep.seg_seq = -1
    ep.seg_time = -1.0
    ep.ctl_seq = -1
    ep.ctl_time = -1.0
    ep.acks = 0
    ep.rare = RARE


# An endpoint's fields that nearly every capture leaves at their defaults:
# on the 2M benchmark capture's 203k endpoints, only the last RST's number
# (5%) and the FIN_WAIT_2 data mark (2.5%) are set, on none the others.
# They took an endpoint 112 bytes, a fourth of it, so they live apart, in one
# record made when the first of them is set.  Until then an endpoint holds
# the shared RARE, which is never written: ``own_rare`` gives the record to
# write to, a reader reads ``ep.rare`` as it is.
@cython.no_gc
@cython.cclass
class EndpointRare:
    __slots__ = (
        "probes", "probe_time",  # zero-length segments at SND.NXT - 1 (keepalive probes)
        "zero_windows", "gaps",
        "fw2_live",     # data arrived while in FIN_WAIT_2: a half-close, not an orphan
        "zgaps", "zmissed",  # content gaps Zeek writes (G) and their bytes (conn.log missed_bytes)
        "last_rst",     # the sequence number of the last RST sent (Zeek's R letter, once per number)
        # While none of this endpoint's packets were seen: the last advance of
        # the peer's acknowledgment (bytes) and when it was seen; what the
        # peer acknowledges is all there is to know of an unseen side.
        "unseen_step", "unseen_time",
        "missed",       # bytes the peer acknowledged that the capture never showed (Zeek's missed_bytes)
        "duplicates",   # data segments the capture holds twice (tcpdump -i any on a router or bridge)
        "ctl_duplicates",  # SYNs and FINs without data it holds twice
        # Capture loss (Zeek's capture_loss.zeek: gaps over ACKs seen).
        "gap_acks",     # times the peer acknowledged bytes of this endpoint the capture never showed
        "seq_holes",    # new segments starting past SND.NXT (tshark's "previous segment not captured")
        "hole_ack",     # the last acknowledgment that covered a hole (-1: none)
        # The peer's acknowledgment last ran exactly one past this endpoint's
        # bytes (a FIN takes one sequence number): when, and where (-1: no).
        "fin_guess_time", "fin_guess",
        "holes",        # None, or [start, end, ...]: those holes, until filled or acknowledged
    )

    def __init__(self):
        self.probes = 0
        self.probe_time = -1.0
        self.zero_windows = 0
        self.gaps = 0
        self.fw2_live = False
        self.zgaps = 0
        self.zmissed = 0
        self.last_rst = -1
        self.unseen_step = 0
        self.unseen_time = -1.0
        self.missed = 0
        self.duplicates = 0
        self.ctl_duplicates = 0
        self.gap_acks = 0
        self.seq_holes = 0
        self.hole_ack = -1
        self.fin_guess_time = -1.0
        self.fin_guess = -1
        self.holes = None


RARE = EndpointRare()


def own_rare(ep: Endpoint) -> EndpointRare:
    """``ep``'s own rare fields, to write to: made (at their defaults) the
    first time, in place of the shared RARE."""
    rare = ep.rare
    if rare is RARE:
        rare = ep.rare = EndpointRare()
    return rare


# What a connection's states rest on (``Connection.evidence``).
EVIDENCE_SEEN = 0       # packets of both sides, in the capture
EVIDENCE_INFERRED = 1   # partly inferred: a side never seen, or packets the capture missed
EVIDENCE_UNKNOWN = 2    # the capture's evidence contradicts itself, or rules out the one state
                        # it shows and leaves nothing to choose among the rest: a state is UNKNOWN
EVIDENCE_NAMES = ("seen", "inferred", "unknown")

# Which side a one-sided connection was seen from (``Connection.one_sided``).
ONE_SIDED_NAMES = (None, "client", "server")

# Which of ours is Zeek's originator, by ``Connection.zflip``.
ORIG_SIDE_NAMES = ("client", "server")


class Connection:
    __slots__ = (
        "roles_inferred",
        "ended",          # both sides closed: a new SYN starts a new instance
        "route_check",    # packets need a look before they are attributed
        "zflip",          # Zeek's originator is our server (Zeek guesses roles by likely_server_ports, we by port)
        "first_seen",
        "last_seen",
        "seq_order",      # creation order, to break first_seen ties
        "id",             # report id, assigned in first_seen order at the end
        # Zeek's conn.log rows for this instance (engine.zeek: Zeek removes a
        # connection 5 s after it closed or was reset; later packets of the
        # 4-tuple make a new row while our instance goes on):
        "zfirst",         # when the current row began
        "zend",           # when Zeek removes the current row (its close/reset timer), or infinity
        "zclosed",        # when both endpoints had closed (Zeek stops the row's clock), or -1
        "hs",             # HS_* bits
        # 0, or 1/2 when only the client's/server's packets were seen though
        # they prove the peer answered (ONE_SIDED_NAMES): a one-way capture.
        "one_sided",
        "evidence",       # EVIDENCE_*: whether the states rest on inference
        "ckey",           # flow key as sent by the client (src, dst, sport, dport)
        "client", "server",
        "hist",           # Zeek-style history letters, in order (a str: one object, not a list of letters)
        # The tunnel that carried it (decode.tunnel.encapsulation): (name,
        # tunnel id as shown, flow-key tag), or None when not encapsulated.
        "encap",
        # What most connections leave at its defaults (ConnectionRare): the
        # shared CONNECTION_RARE until the first of it is set
        # (``own_connection_rare``).
        "rare",
    )

    def __init__(self, ckey: bytes, client: Endpoint, server: Endpoint, ts: float, order: int):
        _start_connection(self, ckey, client, server, ts, order)

    @property
    def history(self) -> str:
        return self.hist

    @property
    def handshake(self) -> str:
        return handshake_kind(self)

    @property
    def simultaneous_open(self) -> bool:
        return opened_simultaneously(self)

    @property
    def listen_overflow(self) -> bool:
        return bool(self.hs & HS_OVERFLOW)

    @property
    def close(self) -> str:
        return close_kind(self)


# The properties' values as functions: compiled, the record's line writer
# (views.record_lines) calls them in C, not through a property lookup each.
def handshake_kind(conn: Connection) -> str:
    """"complete" (SYN, SYN-ACK and the ACK of it seen), "partial" or "none"."""
    if conn.hs & (HS_SYN | HS_SYNACK | HS_ACK) == HS_SYN | HS_SYNACK | HS_ACK:
        return "complete"
    if conn.hs & (HS_SYN | HS_SYNACK):
        return "partial"
    return "none"


def opened_simultaneously(conn: Connection) -> bool:
    """Crossed SYNs (RFC 9293 3.5 figure 8)."""
    return bool(conn.hs & HS_SIMOPEN)


def close_kind(conn: Connection) -> str:
    """"rst" (reset), "fin" (a FIN seen from either side) or "none"."""
    if conn.rare.reset_by is not None:
        return "rst"
    if conn.client.fin_seq >= 0 or conn.server.fin_seq >= 0:
        return "fin"
    return "none"


# A connection's fields that most captures leave at their defaults: on the
# 2M benchmark capture, a RST's (10% of connections) and a reused 4-tuple's
# (6%), none of the others.  They took a connection 112 bytes, two fifths
# of it, so they live apart as an endpoint's do (EndpointRare):
# a connection holds the shared CONNECTION_RARE, never written, until
# ``own_connection_rare`` gives it its own record.  Links to other instances
# of the 4-tuple are here, so the record is in the cyclic GC (one instance's
# ``superseded`` is the next's ``prev``).
@cython.cclass
class ConnectionRare:
    __slots__ = (
        "reset_by",       # the Endpoint whose RST was accepted, or None
        "rst_time", "rst_ack", "rst_prior",  # the accepted RST: when, ACK bit, (sender, receiver) states before it
        "rst_ignored",    # RSTs that fell outside the receiver's window
        "prev",           # the instance this one replaced on the same 4-tuple
        "superseded",     # the later instance that took over this 4-tuple, or None
        "reused_from",    # the instance this one replaced on its 4-tuple, or None
        "reused_peer_state",  # the peer's state in the old instance when this one's SYN came, or -1
        "reused_own_state",   # the SYN sender's own state in the old instance then, or -1
        "replay_of",      # an earlier instance whose client ISN this instance's SYN repeated
        "challenge_time",  # when the peer answered a new SYN with this instance's old numbers
        "challenge_state",  # the answering side's state then (TIME_WAIT, ESTABLISHED ...)
        "syn_cookie",     # the server answered statelessly (a SYN cookie)
        "evict_spared",   # an eviction already passed it over once for being recent
        "zbase",          # (client packets, server packets, client ip_bytes, server ip_bytes) when Zeek's row began, or None
        "zrows",          # Zeek's earlier rows, finished (engine.zeek.ZeekRow), or None
    )

    def __init__(self):
        self.reset_by = None
        self.rst_time = -1.0
        self.rst_ack = False
        self.rst_prior = None
        self.rst_ignored = 0
        self.prev = None
        self.superseded = None
        self.reused_from = None
        self.reused_peer_state = -1
        self.reused_own_state = -1
        self.replay_of = None
        self.challenge_time = -1.0
        self.challenge_state = -1
        self.syn_cookie = False
        self.evict_spared = False
        self.zbase = None
        self.zrows = None


CONNECTION_RARE = ConnectionRare()


def own_connection_rare(conn: Connection) -> ConnectionRare:
    """``conn``'s own rare fields, to write to: made (at their defaults) the
    first time, in place of the shared CONNECTION_RARE."""
    rare = conn.rare
    if rare is CONNECTION_RARE:
        rare = conn.rare = ConnectionRare()
    return rare


def new_connection(ckey: bytes, client: Endpoint, server: Endpoint, ts, order: int) -> Connection:
    """``Connection(ckey, client, server, ts, order)``, made as ``new_endpoint``
    makes an endpoint."""
    conn = Connection.__new__(Connection)
    _start_connection(conn, ckey, client, server, ts, order)
    return conn


def _start_connection(conn: Connection, ckey: bytes, client: Endpoint, server: Endpoint, ts, order: int) -> None:
    """Every slot of a new connection."""
    conn.ckey = ckey
    conn.client = client
    conn.server = server
    conn.roles_inferred = False
    conn.first_seen = ts
    conn.last_seen = ts
    conn.hist = ""
    conn.hs = 0
    conn.ended = False
    conn.route_check = False
    conn.seq_order = order
    conn.id = 0
    conn.zflip = False
    conn.zfirst = ts
    conn.zend = _NEVER
    conn.zclosed = -1.0
    conn.encap = None
    conn.one_sided = 0
    conn.evidence = EVIDENCE_SEEN
    conn.rare = CONNECTION_RARE


# The slots that hold Python objects (None, floats, bytes, lists, other
# instances).  Every other slot is an int or a bool all its life: a C field
# of the compiled core, which connection.pxd lays out first, in one block
# that engine.wire copies whole.
ENDPOINT_OBJECTS = ("addr", "trans_flat", "rare")
CONNECTION_OBJECTS = ("ckey", "client", "server", "hist", "encap", "rare")


# Changes of state a new endpoint's history has room for (compiled): a
# connection that opens and closes makes six on each side.
HISTORY_ROOM = 8


def new_history(ts, state):
    """A new endpoint's history (``trans_flat``) on the compiled core: its
    first change of state, to ``state`` at ``ts`` (``ts`` None: none yet), in
    a ``Transitions`` with room to grow, so that a change of state makes no
    float object and no list item (the pure build's is a list:
    ``Endpoint.__init__``)."""
    history = Transitions.__new__(Transitions)
    history._allocate(HISTORY_ROOM)
    if ts is not None:
        history.add(ts, state)
    return history


def ended_history(flat):
    """An ended endpoint's history, as it is kept from then on: nearly every
    connection of a long capture is an ended one by its end.  A tuple in the
    pure build (a list grows by appending while the endpoint lives); on the
    compiled core the ``Transitions`` it was, its room to grow given back:
    9 bytes a change of state, where a tuple's two pointers and the time's
    float object took 40 (bench/README: "sixth round")."""
    if cython.compiled:
        if type(flat) is Transitions:
            history = cython.cast(Transitions, flat)
            history.fit()
            return history
        return Transitions(flat)
    return tuple(flat)


class Transitions:
    """A flat history (time, state, time, state ...) in C memory, read as the
    tuple it stands for: ``len``, an index (a float time at even places, an
    int state at odd ones), a slice or ``+`` (a tuple), iteration, equality
    with a tuple.  The compiled core's only (see ``new_history``); the state
    machine adds to it (``add``), nothing else changes it."""

    @cython.locals(m="Py_ssize_t", i="Py_ssize_t")
    def __init__(self, flat):
        m = len(flat) >> 1
        self._allocate(m)
        for i in range(m):
            self.times[i] = flat[2 * i]
            self.states[i] = flat[2 * i + 1]
        self.n = 2 * m

    def _allocate(self, room):
        """Empty, with room for ``room`` changes of state: their times, then
        their states, in one block."""
        block = PyMem_Malloc(room * 9 if room else 1)
        if block == cython.NULL:
            raise MemoryError()
        PyMem_Free(self.times)
        self.times = cython.cast(cython.p_double, block)
        self.states = cython.cast(cython.p_uchar, self.times + room)
        self.room = room
        self.n = 0

    def add(self, ts, state):
        """The change to ``state`` at ``ts``, or at the last change's time if
        ``ts`` is earlier (a capture's timestamps can go backwards: merged
        interfaces, clock steps; a history must not): the time kept."""
        m = self.n >> 1
        if m and ts < self.times[m - 1]:
            ts = self.times[m - 1]
        if m == self.room:
            # Past HISTORY_ROOM a change at a time: an endpoint's states move
            # along RFC 9293's diagram, a few more at most, and an ended
            # history (``fit``) gets only the odd timer's change after.
            self._move(m + 1 if m else HISTORY_ROOM)
        self.times[m] = ts
        self.states[m] = state
        self.n += 2
        return ts

    def fit(self):
        """Give back the room to grow (an ended endpoint's history)."""
        if self.room > self.n >> 1:
            self._move(self.n >> 1)
        return 0

    def _move(self, room):
        """The same changes of state, the block resized to ``room`` changes
        (the states, after the times, moved with it)."""
        m = self.n >> 1
        if room < self.room:
            memmove(cython.cast(cython.p_char, self.times) + room * 8, self.states, m)
        block = PyMem_Realloc(self.times, room * 9 if room else 1)
        if block == cython.NULL:
            raise MemoryError()
        if room > self.room:
            memmove(cython.cast(cython.p_char, block) + room * 8, cython.cast(cython.p_char, block) + self.room * 8, m)
        self.times = cython.cast(cython.p_double, block)
        self.states = cython.cast(cython.p_uchar, self.times + room)
        self.room = room
        return 0

    def __dealloc__(self):
        PyMem_Free(self.times)

    def __len__(self):
        return self.n

    @cython.locals(i="Py_ssize_t")
    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(self)[index]
        i = index
        if i < 0:
            i += self.n
        if i < 0 or i >= self.n:
            raise IndexError("Transitions index out of range")
        if i & 1:
            return self.states[i >> 1]
        return self.times[i >> 1]

    @cython.locals(i="Py_ssize_t")
    def __iter__(self):
        for i in range(self.n >> 1):
            yield self.times[i]
            yield self.states[i]

    def __add__(self, other):
        # As a tuple's ``+``, but as compact.
        return Transitions(tuple(self) + tuple(other))

    def __eq__(self, other):
        if isinstance(other, (tuple, Transitions)):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __reduce__(self):
        return Transitions, (tuple(self),)

    def block(self):
        """The history as bytes, its times then its states, without a float
        object per time (``history_from_block`` takes it back)."""
        out = PyBytes_FromStringAndSize(cython.NULL, (self.n >> 1) * 9)
        self.copy_to(PyBytes_AS_STRING(out))
        return out

    def copy_to(self, at):
        """``block()`` written at ``at`` (C memory with room for it), not
        made as bytes: how a --jobs worker ships it (``engine.wire``;
        ``history_at`` takes it back).  The bytes written."""
        m = self.n >> 1
        memcpy(at, self.times, m * 8)
        memcpy(at + m * 8, self.states, m)
        return m * 9

    def __repr__(self):
        return f"Transitions({tuple(self)!r})"


def history_from_block(block):
    """The ``Transitions`` whose ``block()`` gave ``block`` (compiled only)."""
    return history_at(cython.cast(cython.p_char, block), len(block) // 9)


def history_at(at, m):
    """The ``Transitions`` of ``m`` changes of state whose ``block()`` lies
    at ``at`` in C memory (compiled only)."""
    history = Transitions.__new__(Transitions)
    history._allocate(m)
    memcpy(history.times, at, m * 9)
    history.n = 2 * m
    return history


def transitions(ep: Endpoint) -> list[tuple[float, int]]:
    """The endpoint's state changes as ``(time, state)`` pairs, first to last."""
    flat = ep.trans_flat
    return list(zip(flat[::2], flat[1::2]))


def split_key(key: bytes) -> tuple[bytes, bytes]:
    """A flow key's 4-tuple part and its tunnel tag (b"" if none).  A tag's
    last byte is its length and that length is odd (decode.tunnel), so a
    tagged key is the only kind with an odd length."""
    n = len(key)
    if n & 1:
        m = n - key[n - 1]
        if cython.compiled:
            # From the key's C memory: a bytes object each, no slice object.
            kp = cython.cast(cython.p_char, key)
            return kp[:m], kp[m:n]
        return key[:m], key[m:]
    return key, b""


# The longest key reverse_key builds in a C buffer: 36 bytes of IPv6
# addresses and ports and a tunnel tag of at most 255 bytes (decode.tunnel),
# and a margin.
_C_KEY_MAX = 296


def reverse_key(key: bytes) -> bytes:
    """The key of the other direction of ``key``'s connection (the same tunnel)."""
    if cython.compiled:
        # The same bytes, written into one buffer from the key's C memory:
        # no slice object and no intermediate bytes per part (a new
        # connection makes one: engine.table._new).
        n = len(key)
        m = n - (key[n - 1] if n & 1 else 0)   # the 4-tuple part
        if 4 <= m and n <= _C_KEY_MAX:
            kp = cython.cast(cython.p_char, key)
            alen = (m - 4) >> 1
            a2 = alen + alen
            memcpy(buf, kp + alen, alen)
            memcpy(buf + alen, kp, alen)
            memcpy(buf + a2, kp + a2 + 2, 2)
            memcpy(buf + a2 + 2, kp + a2, 2)
            memcpy(buf + a2 + 4, kp + a2 + 4, n - a2 - 4)
            return buf[:n]
    tag = b""
    if len(key) & 1:
        key, tag = key[:-key[-1]], key[-key[-1]:]
    alen = (len(key) - 4) >> 1
    a2 = 2 * alen
    return key[alen:a2] + key[:alen] + key[a2 + 2:a2 + 4] + key[a2:a2 + 2] + tag
