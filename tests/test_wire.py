"""wire: connections packed for another process come back equal, links and all."""
from conftest import SAMPLES

from tcpflow_analyze.engine import wire
from tcpflow_analyze.analysis import analyze
from tcpflow_analyze.model.connection import (
    CONNECTION_RARE, RARE, Connection, ConnectionRare, Endpoint, own_connection_rare, own_rare,
)
from tcpflow_analyze.views.report import build_report
from tcpflow_analyze.render.json_out import dumps


def slots(obj):
    out = {s: getattr(obj, s) for s in obj.__slots__}
    if isinstance(obj, Endpoint):
        # Its rare fields by value; whether they are the shared RARE too.
        out["rare"] = (obj.rare is RARE, slots(obj.rare))
    return out


import pytest


@pytest.mark.parametrize("batch", [4096, 2, 1])
def test_round_trip_keeps_every_field_and_link(monkeypatch, batch):
    # Small batches: links cross from one marshalled batch to another.
    monkeypatch.setattr(wire, "BATCH", batch)
    # port_reuse and the challenge-ACK reboot chain instances of one 4-tuple
    # (prev, superseded, reused_from, replay_of) and accept RSTs (reset_by).
    for name in ("port_reuse.pcap", "challenge_ack_reboot.pcap", "stale_syn.pcap", "rst_abort.pcap"):
        a = analyze([str(SAMPLES / name)])
        back = wire.decode(wire.encode(a.connections))
        assert len(back) == len(a.connections)
        index = {id(c): i for i, c in enumerate(a.connections)}
        linked = 0
        for orig, copy in zip(a.connections, back):
            assert (copy.rare is CONNECTION_RARE) == (orig.rare is CONNECTION_RARE)
            fields = [(s, getattr(orig, s), getattr(copy, s)) for s in Connection.__slots__ if s != "rare"]
            fields += [(s, getattr(orig.rare, s), getattr(copy.rare, s)) for s in ConnectionRare.__slots__]
            for s, o, c in fields:
                if isinstance(o, Connection):
                    linked += 1
                    assert back.index(c) == index[id(o)]
                elif isinstance(o, Endpoint):
                    assert c is (copy.client if o is orig.client else copy.server)
                    if s != "client" and s != "server":
                        linked += 1
                    assert slots(c) == slots(o)
                else:
                    assert c == o, (name, s)
        assert linked, name
        before = dumps(build_report(a))
        a.connections = back
        assert dumps(build_report(a)) == before


def test_a_link_to_an_unlisted_instance_travels_too():
    a = analyze([str(SAMPLES / "port_reuse.pcap")])
    conns = [c for c in a.connections if c.rare.reused_from is not None]
    assert conns
    back = wire.decode(wire.encode(conns))
    assert len(back) == len(conns)
    for orig, copy in zip(conns, back):
        assert copy.rare.reused_from is not None and copy.rare.reused_from not in back
        assert slots(copy.rare.reused_from.client) == slots(orig.rare.reused_from.client)
        assert copy.rare.reused_from.rare.superseded is (copy if orig.rare.reused_from.rare.superseded is orig else
                                               copy.rare.reused_from.rare.superseded)


def _zeek_split_trace(tmp_path):
    # Zeek forgets a connection 5 s after its RST: a packet of the 4-tuple
    # 10 s later starts a second conn.log row (ZeekRow objects in zrows).
    from pcapgen import Trace
    t = Trace().handshake()
    t.c("PA", 1001, 5001, b"GET")
    t.s("R", 5001, dt=0.5)
    t.c("PA", 1004, 5001, b"more", dt=10.0)
    return t.write(str(tmp_path / "split.pcap"))


def test_zeek_rows_of_a_split_connection_travel(tmp_path):
    # They once stopped every parallel run with "unmarshallable object".
    from tcpflow_analyze.engine.zeek import ZeekRow
    a = analyze([_zeek_split_trace(tmp_path)])
    (conn,) = a.connections
    assert conn.rare.zrows and all(isinstance(r, ZeekRow) for r in conn.rare.zrows)
    (back,) = wire.decode(wire.encode(a.connections))
    assert [slots(r) for r in back.rare.zrows] == [slots(r) for r in conn.rare.zrows]
    before = dumps(build_report(a))
    a.connections = [back]
    assert dumps(build_report(a)) == before


@pytest.mark.parametrize("fmt", ["json", "zeek"])
def test_zeek_split_same_report_with_jobs_and_partitions(tmp_path, fmt):
    from clirun import invoke

    from tcpflow_analyze.analysis import AnalysisOptions
    from tcpflow_analyze.analysis.parallel import analyze_partition, merge
    path = _zeek_split_trace(tmp_path)
    one = invoke("analyze", "--format", fmt, "--jobs", "1", path)
    two = invoke("analyze", "--format", fmt, "--jobs", "2", path)
    assert one.code == two.code == 0, two.stderr[-2000:]
    assert two.stdout == one.stdout
    options = AnalysisOptions()
    merged = merge([analyze_partition([path], i, 3, options) for i in range(3)], options)
    assert [c.rare.zrows and len(c.rare.zrows) for c in merged.connections] == [1]


# Slots that hold other objects of the graph, or need their own type: left as
# the connection made them.
_KEEP = {"ckey", "client", "server", "reset_by", "prev", "superseded", "reused_from", "replay_of", "zrows",
         "addr", "rare"}


def test_every_slot_travels_with_a_value_of_its_own():
    # Every int slot a number of its own, every bool slot the opposite of its
    # neighbour's, every object or double slot a float of its own: a slot that the
    # compiled build's C blocks miss, or copy from another's place, comes
    # back wrong (the samples leave most slots at equal defaults).
    from tcpflow_analyze.model.connection import CONNECTION_OBJECTS, ENDPOINT_OBJECTS
    client = Endpoint(b"\x0a\x00\x00\x01", 40000, 1, 1.0)
    server = Endpoint(b"\x0a\x00\x00\x02", 80, 1, 1.0)
    conn = Connection(b"\x0a\x00\x00\x01\x0a\x00\x00\x02\x9c\x40\x00\x50", client, server, 1.0, 1)
    n = 100
    for obj, objects in ((conn, CONNECTION_OBJECTS), (client, ENDPOINT_OBJECTS), (server, ENDPOINT_OBJECTS)):
        for s in obj.__slots__:
            n += 1
            value = getattr(obj, s)
            if s in _KEEP:
                continue
            if s in objects or isinstance(value, float):   # an object, or a C double
                setattr(obj, s, n + 0.5)
            elif isinstance(value, bool):
                setattr(obj, s, bool(n & 1))
            else:
                # (Below 120: the small codes are C chars in the compiled build.)
                assert isinstance(value, int), (s, value)
                setattr(obj, s, n % 120)
    # The client's rare fields its own, the server's the shared RARE.
    rare = own_rare(client)
    for s in rare.__slots__:
        n += 1
        value = getattr(rare, s)
        setattr(rare, s, [n, n + 1] if s == "holes" else n + 0.5 if isinstance(value, float) else n)
    # The connection's too, but for its links (the round-trip test's).
    crare = own_connection_rare(conn)
    for s in ConnectionRare.__slots__:
        n += 1
        value = getattr(crare, s)
        if s in _KEEP:
            continue
        setattr(crare, s, bool(n & 1) if isinstance(value, bool) else n if isinstance(value, int) else n + 0.5)
    (back,) = wire.decode(wire.encode([conn]))
    assert back.server.rare is RARE and back.client.rare is not RARE
    assert slots(back.client) == slots(client)
    assert slots(back.server) == slots(server)
    assert {s: getattr(back, s) for s in Connection.__slots__ if s not in ("client", "server", "rare")} == \
        {s: getattr(conn, s) for s in Connection.__slots__ if s not in ("client", "server", "rare")}
    assert back.rare is not CONNECTION_RARE and slots(back.rare) == slots(crare)


def test_connection_pxd_lays_the_c_fields_out_in_one_block():
    # engine.wire copies each object's C fields as one block, from its first
    # to its last (compiled build): every slot that is not an object is a C
    # field before the first object field, in __slots__ order, from
    # roles_inferred/port to evidence/acks (the names wire._blocks uses).
    import re
    from pathlib import Path

    from tcpflow_analyze.model import connection
    text = (Path(connection.__file__).with_name("connection.pxd")).read_text()
    for cls, objects, first, last in ((Connection, connection.CONNECTION_OBJECTS, "roles_inferred", "evidence"),
                                      (Endpoint, connection.ENDPOINT_OBJECTS, "port", "acks")):
        body = text.split(f"cdef class {cls.__name__}:")[1].split("cdef class")[0]
        declared = []
        c_types = ("long long", "int", "bint", "double", "unsigned short", "short", "signed char")
        for ctype, names in re.findall(r"cdef public (long long|int|bint|double|unsigned short|short|signed char|"
                                       r"object|bytes|EndpointRare|ConnectionRare|Endpoint) ([\w, ]+)", body):
            declared += [(name.strip(), ctype) for name in names.split(",")]
        c_fields = [n for n, t in declared if t in c_types]
        assert {n for n, _ in declared} == set(cls.__slots__)
        assert [n for n, _ in declared[:len(c_fields)]] == c_fields, "C fields first, in one block"
        assert c_fields == [s for s in cls.__slots__ if s not in objects]
        assert (c_fields[0], c_fields[-1]) == (first, last)
        assert [n for n, t in declared if t not in c_types] == [s for s in cls.__slots__ if s in objects]


def test_a_packing_read_from_a_buffer_and_garbage_refused():
    # The parent of a --jobs run unpacks straight from the mapped file; what
    # is not a packing is an error, not a crash.
    import mmap
    a = analyze([str(SAMPLES / "port_reuse.pcap")])
    data = wire.encode(a.connections)
    with mmap.mmap(-1, len(data)) as m:
        m.write(bytes(data))
        back = wire.decode(m)
    assert [c.ckey for c in back] == [c.ckey for c in a.connections]
    before = dumps(build_report(a))
    a.connections = back
    assert dumps(build_report(a)) == before
    for bad in (b"", b"\0" * 15, b"\xff" * 40):
        with pytest.raises(ValueError):
            wire.decode(bad)
    if type(data) is bytearray:
        # The compiled packing (records, then their tables, then the two
        # lengths): records cut short are refused, never read past.
        import struct
        used, tlen = struct.unpack_from("=qq", data, len(data) - 16)
        for cut in (1, 100, used - 1):
            short = bytes(data[:used - cut]) + bytes(data[used:used + tlen]) + struct.pack("=qq", used - cut, tlen)
            with pytest.raises(ValueError):
                wire.decode(short)
