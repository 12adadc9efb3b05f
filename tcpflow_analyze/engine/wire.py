"""Finished connections across a process boundary, compactly.

A parallel run (``parallel``) ships every worker's connections to the
parent.  Pickling ``__slots__`` objects goes through a dict per object, and
loading sets them back one attribute at a time: for 50,000 connections, more
than a second at each end -- serial time that ate the gain of a second core.

The pure build packs each connection as one flat tuple (its own slots, then
both endpoints'), ``marshal``-ed (no memo, no class lookups: built-in types
only), and loads it by generated functions that assign every slot in one
statement, as ``dataclasses`` generates its methods.  The compiled core
packs the C fields as they lie in memory (below, "compiled").  Either way
references between objects (an instance's ``prev``, the endpoint whose RST
was accepted) become indexes.
"""
from __future__ import annotations

import marshal
import operator

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

from ..model.connection import (
    CONNECTION_OBJECTS, CONNECTION_RARE, ENDPOINT_OBJECTS, RARE, Connection, ConnectionRare, Endpoint, EndpointRare,
    Transitions,
)
from .zeek import ZeekRow

# A connection's rare slots (ConnectionRare) holding other objects, sent as
# indexes (into the list, or 1/2 for the client/server endpoint).
_LINKS = ("prev", "superseded", "reused_from", "replay_of")
_ENDPOINT_LINKS = ("reset_by",)
_OWNED = ("client", "server")
# Zeek's finished conn.log rows of an instance Zeek split (engine.zeek), sent
# as a tuple of their slots each: marshal takes built-in types only.
_ROWS = ("zrows",)
_PLAIN = tuple(s for s in Connection.__slots__ if s not in _OWNED)
# The rest of a connection's rare slots travel as a tuple, or None for the
# shared CONNECTION_RARE (most connections: it stays shared on arrival).
_CONN_RARE_PLAIN = tuple(s for s in ConnectionRare.__slots__ if s not in _LINKS + _ENDPOINT_LINKS + _ROWS)
_conn_rare_values = operator.attrgetter(*_CONN_RARE_PLAIN)
_conn_values = operator.attrgetter(*_PLAIN)
_endpoint_values = operator.attrgetter(*Endpoint.__slots__)
# An endpoint's rare fields travel as a tuple of their slots, or None for
# the shared RARE (nearly every endpoint: it stays shared on arrival).
_rare_values = operator.attrgetter(*EndpointRare.__slots__)
_row_values = operator.attrgetter(*ZeekRow.__slots__)
# A connection's and an endpoint's rare record travel last among their
# slots (_slots_out).
if _PLAIN[-1] != "rare" or Endpoint.__slots__[-1] != "rare":
    raise ImportError("engine.wire: the rare record is no longer the last slot")
# The compiled packing sets each object slot by name (_encode_flat,
# _decode_flat): another would travel unset, so it stops the import here.
if cython.compiled and (CONNECTION_OBJECTS != ("ckey", "client", "server", "hist", "encap", "rare")
                        or ENDPOINT_OBJECTS != ("addr", "trans_flat", "rare")):
    raise ImportError("engine.wire: a connection or endpoint slot that travels by name is not set on arrival")
# marshal format 4 keeps an object written twice one object (a host's
# address, one bytes object for all its endpoints; a live history's time
# shared with its state_time in the pure build), so the unpacked
# connections share what the packed ones did.
_MARSHAL_VERSION = 4
# The pure build's rows are marshalled in batches, and unpacked batch by
# batch: the rows of all connections at once would be a passing peak of
# tens of megabytes.
BATCH = 4096


def _assigner(slots, made=None) -> callable:
    """``assign(obj, values)``: every one of ``slots`` set from ``values`` in
    one statement; ``made``: slot -> a function making that slot's value
    from what travelled (a rare record), applied on the way."""
    made = made or {}
    targets = ", ".join(f"_{s}" if s in made else f"self.{s}" for s in slots)
    after = "".join(f"    self.{s} = _make_{s}(_{s})\n" for s in slots if s in made)
    namespace: dict = {f"_make_{s}": f for s, f in made.items()}
    exec(f"def assign(self, values):\n    ({targets},) = values\n{after}", namespace)
    return namespace["assign"]


def _rare_maker(shared, make, assign):
    """The function making a rare record (EndpointRare, ConnectionRare) again
    from what travelled: the shared one for None."""
    def made(travelled):
        if travelled is None:
            return shared
        rare = make()
        assign(rare, travelled)
        return rare
    return made


_assign_row = _assigner(ZeekRow.__slots__)
_assign_rare = _assigner(EndpointRare.__slots__)
_assign_conn_rare = _assigner(_CONN_RARE_PLAIN)
_connection_rare_in = _rare_maker(CONNECTION_RARE, ConnectionRare, _assign_conn_rare)
_endpoint_rare_in = _rare_maker(RARE, EndpointRare, _assign_rare)
_assign_conn = _assigner(_PLAIN, {"rare": _connection_rare_in})
_assign_endpoint = _assigner(Endpoint.__slots__, {"rare": _endpoint_rare_in})


def _rare_out(rare, shared, values_of):
    """A rare record (EndpointRare, ConnectionRare) as it travels: None for
    the shared one, else its values."""
    return None if rare is shared else values_of(rare)


def _rows_out(rows):
    return None if rows is None else tuple(_row_values(row) for row in rows)


def _rows_in(values):
    if values is None:
        return None
    rows = []
    for v in values:
        row = ZeekRow()
        _assign_row(row, v)
        rows.append(row)
    return rows


def encode(conns: list[Connection]) -> bytes | bytearray:
    """The connections as bytes; an instance one of them links to but that is
    not in the list (folded away, say) travels too, unlisted."""
    if cython.compiled:
        return _encode_flat(conns)
    return _encode_rows(conns)


def decode(data) -> list[Connection]:
    """The connections ``encode`` packed, links and all; ``data``: its
    bytes, or a buffer holding them (a mapped file: ``parallel``)."""
    if cython.compiled:
        return _decode_flat(data)
    return _decode_rows(data)


def _links_out(rare, rows_of, index):
    """The instances ``rare`` links to as row indexes (-1 for none); one not
    yet among ``rows_of`` is appended to it (and to ``index``: id -> row)."""
    links = []
    for name in _LINKS:
        other = getattr(rare, name)
        if other is None:
            links.append(-1)
            continue
        j = index.get(id(other))
        if j is None:
            j = index[id(other)] = len(rows_of)
            rows_of.append(other)
        links.append(j)
    return links


def _resolve_links(conns, links) -> None:
    for c, linked in links:
        for name, i in zip(_LINKS, linked):
            if i >= 0:
                setattr(c.rare, name, conns[i])


def _encode_rows(conns):
    """The pure build's packing: a tuple of slots per connection, marshalled."""
    rows_of = list(conns)
    index = {id(c): i for i, c in enumerate(rows_of)}
    rows = []
    i = 0
    while i < len(rows_of):
        c = rows_of[i]
        rare = c.rare
        # Links (row indexes, -1 for none) live in a rare record of the
        # connection's own: None for the shared one, which has none.
        links = None if rare is CONNECTION_RARE else _links_out(rare, rows_of, index)
        rb = rare.reset_by
        rows.append((_slots_out(c, _conn_values, CONNECTION_RARE, _conn_rare_values),
                     _slots_out(c.client, _endpoint_values, RARE, _rare_values),
                     _slots_out(c.server, _endpoint_values, RARE, _rare_values),
                     0 if rb is None else 1 if rb is c.client else 2, links, _rows_out(rare.zrows)))
        i += 1
    batches = [marshal.dumps(rows[i:i + BATCH], _MARSHAL_VERSION) for i in range(0, len(rows), BATCH)]
    return marshal.dumps((len(conns), batches), _MARSHAL_VERSION)


def _slots_out(obj, values_of, shared_rare, rare_values):
    """The slots of ``obj`` (a connection, its endpoints apart; an endpoint)
    as they travel: its rare record last among them, as ``_rare_out`` gives it."""
    values = values_of(obj)
    return values[:-1] + (_rare_out(values[-1], shared_rare, rare_values),)


def _decode_rows(data):
    try:
        listed, batches = marshal.loads(data)
    except (EOFError, TypeError, ValueError):
        raise ValueError("engine.wire: not a packing of connections") from None
    conns = []
    links = []
    for batch in batches:
        for values, client_values, server_values, reset_by, linked, zrows in marshal.loads(batch):
            c = Connection.__new__(Connection)
            _assign_conn(c, values)
            rare = c.rare
            c.client = client = Endpoint.__new__(Endpoint)
            _assign_endpoint(client, client_values)
            c.server = server = Endpoint.__new__(Endpoint)
            _assign_endpoint(server, server_values)
            # (Set only on a record of the connection's own: it came with one.)
            if reset_by:
                rare.reset_by = client if reset_by == 1 else server
            if zrows is not None:
                rare.zrows = _rows_in(zrows)
            conns.append(c)
            if linked is not None:
                links.append((c, linked))
    _resolve_links(conns, links)
    return conns[:listed]


def _blocks(c):
    """Where the C fields of ``c`` and of its endpoints lie (compiled only:
    connection.pxd puts them in one block, from roles_inferred and port to
    evidence and acks), and their lengths."""
    client = c.client
    server = c.server
    conn_at = cython.cast(cython.p_char, cython.address(c.roles_inferred))
    conn_len = cython.cast(cython.p_char, cython.address(c.evidence) + 1) - conn_at
    client_at = cython.cast(cython.p_char, cython.address(client.port))
    server_at = cython.cast(cython.p_char, cython.address(server.port))
    ep_len = cython.cast(cython.p_char, cython.address(client.acks) + 1) - client_at
    return conn_at, conn_len, client_at, server_at, ep_len


# ---------------------------------------------------------------- compiled
# The compiled core's packing: one flat block of bytes, a record a
# connection -- its C fields and its endpoints' (``_blocks``), then
# its history's number among the run's distinct histories, its extras' row
# (-1: none), its key, and for each endpoint its address's number and its
# history (``Transitions.copy_to``) -- with the few objects that are not
# the same for many connections (rare records, links, tunnels, Zeek's rows)
# in a list after it, marshalled, then the two lengths.  Nothing is made
# per connection but the objects that arrive: the tuples per connection
# that ``_encode_rows`` marshals cost about 4 us a connection at each end,
# as much as tracking it (bench/README: "--jobs, twelfth round").


def _encode_flat(conns):
    rows_of = list(conns)
    index = None
    hists = {}
    hist_list = []
    addrs = {}
    addr_list = []
    extras = []
    out = bytearray()
    used = 0
    blocks = 0
    i = 0
    while i < len(rows_of):
        c = rows_of[i]
        client = c.client
        server = c.server
        conn_at, conn_len, client_at, server_at, ep_len = _blocks(c)
        blocks = conn_len + 2 * ep_len
        key = c.ckey
        klen = len(key)
        ch = client.trans_flat
        sh = server.trans_flat
        cm = cython.cast(Transitions, ch).n >> 1 if type(ch) is Transitions else -1
        sm = cython.cast(Transitions, sh).n >> 1 if type(sh) is Transitions else -1
        PyByteArray_Resize(out, used + blocks + 28 + klen + 9 * (max(cm, 0) + max(sm, 0)))
        p = PyByteArray_AS_STRING(out) + used
        memcpy(p, conn_at, conn_len)
        memcpy(p + conn_len, client_at, ep_len)
        memcpy(p + conn_len + ep_len, server_at, ep_len)
        p += blocks
        _put32(p, _numbered(c.hist, hists, hist_list))
        rare = c.rare
        if (rare is CONNECTION_RARE and client.rare is RARE and server.rare is RARE and c.encap is None
                and cm >= 0 and sm >= 0):
            _put32(p + 4, -1)
        else:
            _put32(p + 4, len(extras))
            links = None
            if rare is not CONNECTION_RARE:
                if index is None:
                    index = {id(x): j for j, x in enumerate(rows_of)}
                links = _links_out(rare, rows_of, index)
            rb = rare.reset_by
            extras.append((_rare_out(rare, CONNECTION_RARE, _conn_rare_values), links,
                           0 if rb is None else 1 if rb is client else 2, _rows_out(rare.zrows),
                           _rare_out(client.rare, RARE, _rare_values), _rare_out(server.rare, RARE, _rare_values),
                           c.encap, None if cm >= 0 else ch, None if sm >= 0 else sh))
        _put32(p + 8, klen)
        memcpy(p + 12, cython.cast(cython.p_char, key), klen)
        p += 12 + klen
        p = _endpoint_flat(p, client, cm, addrs, addr_list)
        p = _endpoint_flat(p, server, sm, addrs, addr_list)
        used = p - PyByteArray_AS_STRING(out)
        i += 1
    tables = marshal.dumps((len(conns), len(rows_of), blocks, hist_list, addr_list, extras), _MARSHAL_VERSION)
    tlen = len(tables)
    PyByteArray_Resize(out, used + tlen + 16)
    p = PyByteArray_AS_STRING(out) + used
    memcpy(p, cython.cast(cython.p_char, tables), tlen)
    _put64(p + tlen, used)
    _put64(p + tlen + 8, tlen)
    return out


def _endpoint_flat(p, ep, m, addrs, addr_list):
    """``ep``'s address number and history (``m`` changes; -1: not a
    ``Transitions``, it travels in the extras) written at ``p``; where they end."""
    _put32(p, _numbered(ep.addr, addrs, addr_list))
    _put32(p + 4, m)
    if m > 0:
        return p + 8 + cython.cast(Transitions, ep.trans_flat).copy_to(p + 8)
    return p + 8


def _numbered(obj, numbers, objects):
    """``obj``'s number among ``objects`` (appended to them, and entered in
    ``numbers``, obj -> number, the first time)."""
    n = numbers.get(obj)
    if n is None:
        n = numbers[obj] = len(objects)
        objects.append(obj)
    return n


def _decode_flat(data):
    n = data.shape[0]
    if n < 16:
        raise ValueError("engine.wire: not a packing of connections")
    p = cython.cast(cython.p_char, cython.address(data[0]))
    used = _get64(p + n - 16)
    tlen = _get64(p + n - 8)
    if used < 0 or tlen < 0 or used + tlen + 16 != n:
        raise ValueError("engine.wire: not a packing of connections")
    try:
        listed, count, blocks, hist_list, addr_list, extras = marshal.loads(p[used:used + tlen])
    except (EOFError, TypeError, ValueError):
        raise ValueError("engine.wire: not a packing of connections") from None
    # Each record is read within the block (its parts' lengths came with it).
    end = p + used
    blank_conn = Connection.__new__
    blank_endpoint = Endpoint.__new__
    conns = []
    links = []
    for _ in range(count):
        if end - p < blocks + 12 or blocks < 0:
            raise ValueError("engine.wire: a packing of connections cut short")
        c = blank_conn(Connection)
        c.client = client = blank_endpoint(Endpoint)
        c.server = server = blank_endpoint(Endpoint)
        conn_at, conn_len, client_at, server_at, ep_len = _blocks(c)
        if conn_len + 2 * ep_len != blocks:
            raise ValueError("engine.wire: packed by another build of the connection record")
        memcpy(conn_at, p, conn_len)
        memcpy(client_at, p + conn_len, ep_len)
        memcpy(server_at, p + conn_len + ep_len, ep_len)
        p += blocks
        c.hist = hist_list[_get32(p)]
        extra = _get32(p + 4)
        klen = _get32(p + 8)
        if klen < 0 or end - p < 12 + klen + 16:
            raise ValueError("engine.wire: a packing of connections cut short")
        c.ckey = p[12:12 + klen]
        p += 12 + klen
        p = _endpoint_in_flat(p, end, client, addr_list)
        p = _endpoint_in_flat(p, end, server, addr_list)
        c.rare = CONNECTION_RARE
        client.rare = RARE
        server.rare = RARE
        if extra >= 0:
            conn_rare, linked, reset_by, zrows, client_rare, server_rare, c.encap, ch, sh = extras[extra]
            c.rare = rare = _connection_rare_in(conn_rare)
            client.rare = _endpoint_rare_in(client_rare)
            server.rare = _endpoint_rare_in(server_rare)
            if ch is not None:
                client.trans_flat = ch
            if sh is not None:
                server.trans_flat = sh
            if reset_by:
                rare.reset_by = client if reset_by == 1 else server
            if zrows is not None:
                rare.zrows = _rows_in(zrows)
            if linked is not None:
                links.append((c, linked))
        conns.append(c)
    _resolve_links(conns, links)
    return conns[:listed]


def _endpoint_in_flat(p, end, ep, addr_list):
    """``ep``'s address and history from ``p`` (``_endpoint_flat``'s); where they end."""
    if end - p < 8:
        raise ValueError("engine.wire: a packing of connections cut short")
    ep.addr = addr_list[_get32(p)]
    m = _get32(p + 4)
    if m >= 0:
        if (end - p - 8) // 9 < m:
            raise ValueError("engine.wire: a packing of connections cut short")
        ep.trans_flat = history_at(p + 8, m)
        return p + 8 + 9 * m
    return p + 8
