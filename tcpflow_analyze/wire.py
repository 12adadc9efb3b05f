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

from .connection import Connection, Endpoint

# Slots holding other objects, sent as indexes (into the list, or 1/2 for the
# client/server endpoint).
_LINKS = ("prev", "superseded", "reused_from", "replay_of")
_ENDPOINT_LINKS = ("reset_by",)
_OWNED = ("client", "server")
_PLAIN = tuple(s for s in Connection.__slots__ if s not in _LINKS + _ENDPOINT_LINKS + _OWNED)

_conn_values = operator.attrgetter(*_PLAIN)
_endpoint_values = operator.attrgetter(*Endpoint.__slots__)
# marshal format 2: no back-references, so no table of every object written.
_MARSHAL_VERSION = 2


def _assigner(slots) -> callable:
    namespace: dict = {}
    exec(f"def assign(self, values):\n    ({', '.join('self.' + s for s in slots)},) = values\n", namespace)
    return namespace["assign"]


_assign_conn = _assigner(_PLAIN)
_assign_endpoint = _assigner(Endpoint.__slots__)


def encode(conns: list[Connection]) -> bytes:
    """The connections as bytes; an instance one of them links to but that is
    not in the list (folded away, say) travels too, unlisted."""
    rows_of = list(conns)
    index = {id(c): i for i, c in enumerate(rows_of)}
    rows = []
    i = 0
    while i < len(rows_of):
        c = rows_of[i]
        links = []
        for name in _LINKS:
            other = getattr(c, name)
            if other is None:
                links.append(-1)
                continue
            j = index.get(id(other))
            if j is None:
                j = index[id(other)] = len(rows_of)
                rows_of.append(other)
            links.append(j)
        rb = c.reset_by
        rows.append((_conn_values(c), _endpoint_values(c.client), _endpoint_values(c.server),
                     0 if rb is None else 1 if rb is c.client else 2, links))
        i += 1
    return marshal.dumps((len(conns), rows), _MARSHAL_VERSION)


def decode(data: bytes) -> list[Connection]:
    new = object.__new__
    listed, rows = marshal.loads(data)
    conns = []
    for values, client_values, server_values, reset_by, _ in rows:
        c = new(Connection)
        _assign_conn(c, values)
        c.client = client = new(Endpoint)
        _assign_endpoint(client, client_values)
        c.server = server = new(Endpoint)
        _assign_endpoint(server, server_values)
        c.reset_by = None if reset_by == 0 else client if reset_by == 1 else server
        conns.append(c)
    for c, row in zip(conns, rows):
        for name, i in zip(_LINKS, row[4]):
            setattr(c, name, conns[i] if i >= 0 else None)
    return conns[:listed]
