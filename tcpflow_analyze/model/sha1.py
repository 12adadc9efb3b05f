"""SHA-1 for the flow identifiers written per connection (the Community
ID, Zeek's uid).

CPython's own SHA-1 (``_sha1``) before OpenSSL's (``hashlib.sha1``): for a
message of a few dozen bytes the cost is making the hash object, and
OpenSSL's is made through its provider lookup.  The same digest either way;
``hashlib``'s where a Python is built without its own.

The compiled build hashes in C instead (``digest``, FIPS 180-4 section 6.1):
its callers write their message into a C buffer and the digest straight into
their identifier's text, so no bytes object, hash object or method call is
made per identifier.  A block is compressed by the processor's SHA
instructions where it has them (x86's SHA extensions: sha1.pxd, ``_SHA_NI``)
-- a connection's two identifiers were otherwise 5% of a whole run's
instructions -- and by ``_compress`` where not.
"""
from __future__ import annotations

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

try:
    from _sha1 import sha1
except ImportError:  # pragma: no cover -- a Python built without its own hashes
    from hashlib import sha1

__all__ = ["sha1"]

# Whether blocks go to the SHA instructions (``use_sha_instructions``).
_SHA_NI = False


def use_sha_instructions(on: bool) -> bool:
    """Send blocks to the SHA instructions (where the processor has them,
    compiled) or to ``_compress``; returns the setting it replaced.  On from
    the start; off, so that one machine tests both (tests/test_zeek_view.py)."""
    global _SHA_NI
    was = _SHA_NI
    _SHA_NI = bool(on) and cython.compiled and _sha_ni_available()
    return was


use_sha_instructions(True)


def digest(msg, n, out):
    """The SHA-1 digest of the ``n`` bytes at ``msg`` into the 20 at ``out``
    (the compiled build only): FIPS 180-4 5.1.1's padding -- a 1 bit, zeros,
    the length in bits as 64 bits big-endian -- then 6.1.2 per 64-byte block."""
    h[0] = 0x67452301   # 5.3.1
    h[1] = 0xEFCDAB89
    h[2] = 0x98BADCFE
    h[3] = 0x10325476
    h[4] = 0xC3D2E1F0
    done = 0
    while n - done >= 64:
        _block(h, msg + done)
        done += 64
    rest = n - done
    memset(tail, 0, 128)
    memcpy(tail, msg + done, rest)
    tail[rest] = 0x80
    # The length goes in the last 8 bytes of the block the padding ends in:
    # this one if they still fit after the 1 bit, else one more.
    end = 64 if rest < 56 else 128
    bits = cython.cast(cython.ulonglong, n) * 8
    for i in range(8):
        tail[end - 1 - i] = (bits >> (8 * i)) & 0xFF
    _block(h, tail)
    if end == 128:
        _block(h, tail + 64)
    for i in range(5):
        out[4 * i] = h[i] >> 24
        out[4 * i + 1] = (h[i] >> 16) & 0xFF
        out[4 * i + 2] = (h[i] >> 8) & 0xFF
        out[4 * i + 3] = h[i] & 0xFF


def _block(h, block):
    """One 64-byte block into ``h``: by the SHA instructions if the
    processor has them."""
    if _SHA_NI:
        _compress_ni(h, block)
    else:
        _compress(h, block)


def _compress(h, block):
    """FIPS 180-4 6.1.2 steps 1-4: one 64-byte block into the hash value ``h``
    (32-bit words: C's unsigned arithmetic is the spec's addition modulo 2**32)."""
    for t in range(16):
        w[t] = (cython.cast(uint32_t, block[4 * t]) << 24 | cython.cast(uint32_t, block[4 * t + 1]) << 16
                | cython.cast(uint32_t, block[4 * t + 2]) << 8 | block[4 * t + 3])
    for t in range(16, 80):
        x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]
        w[t] = x << 1 | x >> 31
    a, b, c, d, e = h[0], h[1], h[2], h[3], h[4]
    # 4.1.1's f_t and 4.2.1's K_t change every 20 rounds: a loop each.  (K_t
    # through a C variable: a literal above 2**31 would be a Python int.)
    k = 0x5A827999
    for t in range(20):
        x = (a << 5 | a >> 27) + ((b & c) | (~b & d)) + e + k + w[t]
        e, d, c, b, a = d, c, b << 30 | b >> 2, a, x
    k = 0x6ED9EBA1
    for t in range(20, 40):
        x = (a << 5 | a >> 27) + (b ^ c ^ d) + e + k + w[t]
        e, d, c, b, a = d, c, b << 30 | b >> 2, a, x
    k = 0x8F1BBCDC
    for t in range(40, 60):
        x = (a << 5 | a >> 27) + ((b & c) | (b & d) | (c & d)) + e + k + w[t]
        e, d, c, b, a = d, c, b << 30 | b >> 2, a, x
    k = 0xCA62C1D6
    for t in range(60, 80):
        x = (a << 5 | a >> 27) + (b ^ c ^ d) + e + k + w[t]
        e, d, c, b, a = d, c, b << 30 | b >> 2, a, x
    h[0] += a
    h[1] += b
    h[2] += c
    h[3] += d
    h[4] += e
