"""engine.flowtable: the compiled build's flow table maps keys to connections
exactly as the pure build's dict does.  (Whole captures through both --
samples, public and bench captures, with evicting tables -- are
test_builds_identical's.)"""
import random

import pytest

from tcpflow_analyze import _core
from tcpflow_analyze.model.connection import Connection, Endpoint, reverse_key

pytestmark = pytest.mark.skipif("engine.flowtable" not in _core.compiled_modules(),
                                reason="the flow table is the compiled core's")


def _connection(rng, v6=False, tag=b""):
    alen = 16 if v6 else 4
    src, dst = rng.randbytes(alen), rng.randbytes(alen)
    sport, dport = rng.randrange(65536), rng.choice((80, 443, rng.randrange(65536)))
    key = src + dst + sport.to_bytes(2, "big") + dport.to_bytes(2, "big")
    if tag:
        key += tag + bytes([len(tag) + 1])
    return Connection(key, Endpoint(src, sport, 0, 0.0), Endpoint(dst, dport, 0, 0.0), 0.0, 0)


def _flow_table():
    from tcpflow_analyze.engine.flowtable import FlowTable
    return FlowTable()


def test_a_dict_s_answers_through_many_changes():
    rng = random.Random(9293)
    # A fifth tunneled (their keys in the slots too, since the VXLAN mirror
    # path's lookups): a short tag, and a longer one that makes an IPv6 key
    # too long to keep in front of the slots.
    conns = [_connection(rng, v6=rng.random() < 0.3, tag=rng.choice((b"", b"", b"", b"", b"", b"", b"", b"",
                                                                      b"\x00\x2a", b"VXLAN\x01")))
             for _ in range(3000)]
    table, model = _flow_table(), {}
    for _ in range(60000):
        conn = rng.choice(conns)
        # Its own keys nearly always; now and then another connection's key
        # mapped to it (kept beside the slots, as a dict would keep it).
        key = rng.choice((conn.ckey, reverse_key(conn.ckey))) if rng.random() < 0.97 \
            else rng.choice(conns).ckey
        op = rng.random()
        if op < 0.45:
            table[key] = model[key] = conn
        elif op < 0.6:
            assert table.setdefault(key, conn) is model.setdefault(key, conn)
        elif op < 0.85:
            if key in model:
                del table[key], model[key]
            else:
                with pytest.raises(KeyError):
                    del table[key]
        assert table.get(key) is model.get(key)
        assert len(table) == len(model)
    for key, conn in model.items():
        assert table[key] is conn
        assert table.get(reverse_key(key)) is model.get(reverse_key(key))
    assert sorted(map(id, table.values())) == sorted(map(id, model.values()))


def test_a_key_mapped_anew_names_only_its_new_connection():
    rng = random.Random(5961)
    old, new = _connection(rng), _connection(rng)
    key = old.ckey
    new.ckey = key   # another instance on the same 4-tuple
    table = _flow_table()
    table[key] = old
    table[reverse_key(key)] = old
    table[key] = new
    assert table.get(key) is new and table.get(reverse_key(key)) is old and len(table) == 2
    del table[reverse_key(key)]
    assert table.get(reverse_key(key)) is None and table[key] is new and len(table) == 1


def test_it_holds_its_connections():
    import sys
    rng = random.Random(793)
    conn = _connection(rng)
    before = sys.getrefcount(conn)
    table = _flow_table()
    table[conn.ckey] = conn
    table[reverse_key(conn.ckey)] = conn
    assert sys.getrefcount(conn) == before + 2
    del table[conn.ckey]
    assert sys.getrefcount(conn) == before + 1
    del table
    assert sys.getrefcount(conn) == before
