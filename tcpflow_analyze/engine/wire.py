"""Finished connections across a process boundary, compactly.

A parallel run (``parallel``) ships every worker's connections to the
parent.  Pickling ``__slots__`` objects goes through a dict per object, and
loading sets them back one attribute at a time: for 50,000 connections, more
than a second at each end -- serial time that ate the gain of a second core.
Here each connection is one flat tuple (its own slots, then both endpoints'),
``marshal``-ed (no memo, no class lookups: built-in types only), and loaded
by generated functions that assign every slot in one statement, as
``dataclasses`` generates its methods.  References between objects (an
instance's ``prev``, the endpoint whose RST was accepted) become indexes.
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
    Transitions, history_from_block,
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
# Compiled, the int and bool slots travel as the bytes of their C fields
# (_numbers_out), the rest by name; plain Python, every slot by name.
if cython.compiled:
    _PLAIN = tuple(s for s in _PLAIN if s in CONNECTION_OBJECTS)
    _ENDPOINT_SLOTS = ENDPOINT_OBJECTS
else:
    _ENDPOINT_SLOTS = Endpoint.__slots__

_conn_values = operator.attrgetter(*_PLAIN)
_CONN_RARE = _PLAIN.index("rare")
_endpoint_values = operator.attrgetter(*_ENDPOINT_SLOTS)
_HISTORY = _ENDPOINT_SLOTS.index("trans_flat")
# An endpoint's rare fields travel as a tuple of their slots, or None for
# the shared RARE (nearly every endpoint: it stays shared on arrival).
_RARE = _ENDPOINT_SLOTS.index("rare")
_rare_values = operator.attrgetter(*EndpointRare.__slots__)
_row_values = operator.attrgetter(*ZeekRow.__slots__)
# Compiled, the slots that travel by name are set as C fields
# (_connection_in, _endpoint_in), not through the generic attribute setter
# as the generated assigners below do (a type lookup and a descriptor call
# per slot: a quarter of the unpacking).  Each is named there: another object
# slot would travel unset, so it stops the import here.
_CKEY = _PLAIN.index("ckey")
_HIST = _PLAIN.index("hist")
_ENCAP = _PLAIN.index("encap")
_ADDR = _ENDPOINT_SLOTS.index("addr")
if cython.compiled and (len(_PLAIN) != 4 or len(_ENDPOINT_SLOTS) != 3):
    raise ImportError("engine.wire: a connection or endpoint slot that travels by name is not set on arrival")
# marshal format 4 keeps an object written twice one object (a host's
# address, one bytes object for all its endpoints; a live history's time
# shared with its state_time in the pure build), so the unpacked
# connections share what the packed ones did.
_MARSHAL_VERSION = 4
# Rows are marshalled in batches, and unpacked batch by batch: the rows of
# all connections at once would be a passing peak of tens of megabytes.
BATCH = 4096


def _assigner(slots, made=None) -> callable:
    """``assign(obj, values)``: every one of ``slots`` set from ``values`` in
    one statement; ``made``: slot -> a function making that slot's value
    from what travelled (a rare record, a history), applied on the way."""
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


def _history_in(flat):
    """A history as it travelled: a compiled core's ``Transitions`` went as
    its C memory's bytes."""
    return history_from_block(flat) if type(flat) is bytes else flat


_assign_row = _assigner(ZeekRow.__slots__)
_assign_rare = _assigner(EndpointRare.__slots__)
_assign_conn_rare = _assigner(_CONN_RARE_PLAIN)
_connection_rare_in = _rare_maker(CONNECTION_RARE, ConnectionRare, _assign_conn_rare)
_endpoint_rare_in = _rare_maker(RARE, EndpointRare, _assign_rare)
_assign_conn = _assigner(_PLAIN, {"rare": _connection_rare_in})
_assign_endpoint = _assigner(_ENDPOINT_SLOTS, {"rare": _endpoint_rare_in, "trans_flat": _history_in})


def _connection_in(c, values):
    """``c``'s slots that travel by name, from ``values``."""
    if cython.compiled:
        c.ckey = values[_CKEY]
        c.hist = values[_HIST]
        c.encap = values[_ENCAP]
        c.rare = _connection_rare_in(values[_CONN_RARE])
    else:
        _assign_conn(c, values)


def _endpoint_in(ep, values):
    """``ep``'s slots that travel by name, from ``values``."""
    if cython.compiled:
        ep.addr = values[_ADDR]
        ep.trans_flat = _history_in(values[_HISTORY])
        ep.rare = _endpoint_rare_in(values[_RARE])
    else:
        _assign_endpoint(ep, values)


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


def _numbers_out(c, out):
    """The C fields of ``c`` and its endpoints, appended to ``out``."""
    conn_at, conn_len, client_at, server_at, ep_len = _blocks(c)
    out += conn_at[:conn_len]
    out += client_at[:ep_len]
    out += server_at[:ep_len]


def _numbers_in(c, data, at):
    """``c``'s and its endpoints' C fields from ``data`` at ``at``; the offset after them."""
    conn_at, conn_len, client_at, server_at, ep_len = _blocks(c)
    src = cython.cast(cython.p_char, data) + at
    memcpy(conn_at, src, conn_len)
    memcpy(client_at, src + conn_len, ep_len)
    memcpy(server_at, src + conn_len + ep_len, ep_len)
    return at + conn_len + 2 * ep_len


def _endpoint_out(ep):
    """``ep``'s slots that travel by name; a history of the compiled core
    (``Transitions``) as its C memory's bytes (marshal takes built-in types only, and a
    float object per time would cost what packing the rest does)."""
    if cython.compiled:
        values = [None, None, None]
        values[_ADDR] = ep.addr
        values[_HISTORY] = ep.trans_flat
        values[_RARE] = ep.rare
    else:
        values = list(_endpoint_values(ep))
    flat = values[_HISTORY]
    if type(flat) is Transitions:
        values[_HISTORY] = flat.block()
    values[_RARE] = _rare_out(values[_RARE], RARE, _rare_values)
    return tuple(values)


def _connection_out(c):
    """``c``'s slots that travel by name (its endpoints apart)."""
    if cython.compiled:
        values = [None, None, None, None]
        values[_CKEY] = c.ckey
        values[_HIST] = c.hist
        values[_ENCAP] = c.encap
    else:
        values = list(_conn_values(c))
    values[_CONN_RARE] = _rare_out(c.rare, CONNECTION_RARE, _conn_rare_values)
    return tuple(values)


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


def encode(conns: list[Connection]) -> bytes:
    """The connections as bytes; an instance one of them links to but that is
    not in the list (folded away, say) travels too, unlisted."""
    rows_of = list(conns)
    index = {id(c): i for i, c in enumerate(rows_of)}
    rows = []
    i = 0
    while i < len(rows_of):
        c = rows_of[i]
        rare = c.rare
        # Links (row indexes, -1 for none) live in a rare record of the
        # connection's own: None for the shared one, which has none.
        links = None if rare is CONNECTION_RARE else []
        for name in _LINKS if links is not None else ():
            other = getattr(rare, name)
            if other is None:
                links.append(-1)
                continue
            j = index.get(id(other))
            if j is None:
                j = index[id(other)] = len(rows_of)
                rows_of.append(other)
            links.append(j)
        rb = rare.reset_by
        rows.append((_connection_out(c), _endpoint_out(c.client), _endpoint_out(c.server),
                     0 if rb is None else 1 if rb is c.client else 2, links, _rows_out(rare.zrows)))
        i += 1
    batches = []
    for i in range(0, len(rows), BATCH):
        numbers = bytearray()
        if cython.compiled:
            for c in rows_of[i:i + BATCH]:
                _numbers_out(c, numbers)
        batches.append(marshal.dumps((rows[i:i + BATCH], numbers), _MARSHAL_VERSION))
    return marshal.dumps((len(conns), batches), _MARSHAL_VERSION)


def decode(data: bytes) -> list[Connection]:
    # The class's own __new__, not object.__new__: compiled, Connection and
    # Endpoint are extension types, which object.__new__ refuses to make.
    blank_conn = Connection.__new__
    blank_endpoint = Endpoint.__new__
    listed, batches = marshal.loads(data)
    conns = []
    links = []
    for batch in batches:
        rows, numbers = marshal.loads(batch)
        at = 0
        for values, client_values, server_values, reset_by, linked, zrows in rows:
            c = blank_conn(Connection)
            _connection_in(c, values)
            rare = c.rare
            c.client = client = blank_endpoint(Endpoint)
            _endpoint_in(client, client_values)
            c.server = server = blank_endpoint(Endpoint)
            _endpoint_in(server, server_values)
            if cython.compiled:
                at = _numbers_in(c, numbers, at)
            # (Set only on a record of the connection's own: it came with one.)
            if reset_by:
                rare.reset_by = client if reset_by == 1 else server
            if zrows is not None:
                rare.zrows = _rows_in(zrows)
            conns.append(c)
            if linked is not None:
                links.append((c, linked))
    for c, linked in links:
        for name, i in zip(_LINKS, linked):
            if i >= 0:
                setattr(c.rare, name, conns[i])
    return conns[:listed]
