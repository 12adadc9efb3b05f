#!/usr/bin/env python3
"""Write a pcap of N spoofed SYNs from random sources to one server port.

For measuring memory under a SYN flood (issue: hostile input): every SYN is a
new connection, so the connection table and the report must stay bounded.

    python3 scripts/gen_syn_flood.py -n 1000000 -o /tmp/flood.pcap
"""
import argparse
import random
import struct

GLOBAL = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
REC = struct.Struct("<IIII")
# Ethernet + IPv4 (20) + TCP (20), checksums left zero.
FRAME = struct.Struct("!6s6sH BBHHHBBH4s4s HHIIBBHHH")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--packets", type=int, default=1_000_000)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rate", type=float, default=100_000.0, help="SYNs per second")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    dst = bytes([10, 0, 0, 2])
    t0 = 1_700_000_000.0
    with open(args.output, "wb") as fh:
        fh.write(GLOBAL)
        chunk = []
        for i in range(args.packets):
            src = rng.getrandbits(32).to_bytes(4, "big")
            frame = FRAME.pack(b"\x02\x00\x00\x00\x00\x02", b"\x02\x00\x00\x00\x00\x01", 0x0800,
                               0x45, 0, 40, i & 0xFFFF, 0, 64, 6, 0, src, dst,
                               rng.randrange(1024, 65536), 80, rng.getrandbits(32), 0, 0x50, 0x02, 64240, 0, 0)
            ts = t0 + i / args.rate
            sec = int(ts)
            chunk.append(REC.pack(sec, int((ts - sec) * 1e6), len(frame), len(frame)) + frame)
            if len(chunk) >= 10000:
                fh.write(b"".join(chunk))
                chunk.clear()
        fh.write(b"".join(chunk))


if __name__ == "__main__":
    main()
