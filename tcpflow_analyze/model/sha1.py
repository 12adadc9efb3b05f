"""SHA-1 for the flow identifiers written per connection (the Community
ID, Zeek's uid).

CPython's own SHA-1 (``_sha1``) before OpenSSL's (``hashlib.sha1``): for a
message of a few dozen bytes the cost is making the hash object, and
OpenSSL's is made through its provider lookup.  The same digest either way;
``hashlib``'s where a Python is built without its own.
"""
from __future__ import annotations

try:
    from _sha1 import sha1
except ImportError:  # pragma: no cover -- a Python built without its own hashes
    from hashlib import sha1

__all__ = ["sha1"]
