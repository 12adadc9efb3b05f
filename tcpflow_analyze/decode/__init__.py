"""Packet decoding: link layer -> IPv4/IPv6 -> the TCP header fields we need.

Only the fields the analysis uses are read (addresses, ports, seq, ack, flags,
window, payload length, window scale on SYNs); no object tree is built.  The
common case -- Ethernet (or Linux cooked capture), IPv4 without options or
IPv6 without extension headers, TCP -- is one precompiled ``struct`` read
that the packet loop (``engine.loop.run``) inlines (``FAST_PATHS``);
``decode`` is the general path for everything else.

``decode`` returns either a tuple
``(key, sport, dport, seq, ack, flags, window, payload_len, wscale, ip_len)`` or an
int, the reason the packet was skipped (``SKIP_*``).  ``key`` is the raw bytes
src addr + dst addr + sport + dport, so it doubles as the flow-table key;
``ip_len`` is the IP packet's length, headers included (Zeek's ip_bytes).

The modules, one job each:

* ``constants`` -- TCP flags, skip reasons, link types, ethertypes, ...
* ``layouts``   -- the headers declared as data (``Header``), compiled into
  one ``struct`` read each (``Read``); the fast paths (``FAST_PATHS``).
* ``links``     -- ``decode``: link type -> link-layer decoder (``LINK_DECODERS``).
* ``ip``        -- IPv4, IPv6 and its extension headers.
* ``tcp``       -- the TCP header and its window-scale option.
* ``tunnel``    -- the TCP inside VXLAN, Geneve, GRE/ERSPAN/WCCP, IP in IP,
  MPLS, PBB, VN-Tag, GTP-U, Teredo, AYIYA: ``decode`` then returns an eleventh
  item, the encapsulation ``(name, tunnel id, tag)``, and the key ends with
  the tag (the tunnel's identity; odd length, its last byte its length).
"""
from .constants import (  # noqa: F401
    ACK, CONTROL, CWR, ECE, FIN, PSH, RST, SYN, URG,
    SKIP_FRAGMENT, SKIP_MALFORMED, SKIP_NAMES, SKIP_NON_IP, SKIP_NON_TCP, SKIP_TRUNCATED, SKIP_UNSUPPORTED_LINK,
    LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_LOOP,
    LINKTYPE_NFLOG, LINKTYPE_NULL, LINKTYPE_PPP, LINKTYPE_RAW, LINKTYPE_RAW_BSDOS, LINKTYPE_RAW_OPENBSD,
    RAW_LINKTYPES,
    ETH_P_8021AD, ETH_P_8021Q, ETH_P_IP, ETH_P_IPV6, ETH_P_PPPOE_SESSION, ETH_P_QINQ_OLD, PPP_IP, PPP_IPV6,
    IPPROTO_TCP, IPV6_AH, IPV6_DSTOPTS, IPV6_FRAGMENT, IPV6_HIP, IPV6_HOPOPTS, IPV6_MOBILITY, IPV6_ROUTING,
    IPV6_SHIM6, MAX_IPV6_EXT_HEADERS,
    TCPOPT_EOL, TCPOPT_NOP, TCPOPT_WSCALE,
)
from .layouts import (  # noqa: F401
    FAST_PATHS, FAST_V4_NAMES, FAST_V6_NAMES, RAW_IPV4, RAW_IPV6, FastPath, Header, Read,
)
from .links import LINK_DECODERS, decode  # noqa: F401
from .tcp import TCP_MIN_LEN, window_scale  # noqa: F401
