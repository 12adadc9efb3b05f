"""Numbers from the protocols' specifications: TCP flags, why a packet was
skipped, link types, ethertypes, IP protocol and extension header numbers,
TCP option kinds.  No code."""

# TCP flag bits (RFC 9293 section 3.1; ECE/CWR from RFC 3168).
FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10
URG = 0x20
ECE = 0x40
CWR = 0x80

# Why a packet was not analyzed.  Names are the report's capture.skipped keys.
SKIP_NON_IP = 0
SKIP_NON_TCP = 1
SKIP_MALFORMED = 2
SKIP_FRAGMENT = 3
SKIP_TRUNCATED = 4
SKIP_UNSUPPORTED_LINK = 5
SKIP_NAMES = ("non_ip", "non_tcp", "malformed", "fragment", "truncated_header", "unsupported_link")

# Link types (https://www.tcpdump.org/linktypes.html).
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_PPP = 9
LINKTYPE_RAW_OPENBSD = 12
LINKTYPE_RAW_BSDOS = 14
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_NFLOG = 239
LINKTYPE_LINUX_SLL2 = 276
# Raw IP (tun devices, WireGuard, some cloud mirrors): no link header and no
# ethertype; the IP version nibble says what follows.
RAW_LINKTYPES = (LINKTYPE_RAW, LINKTYPE_RAW_OPENBSD, LINKTYPE_RAW_BSDOS, LINKTYPE_IPV4, LINKTYPE_IPV6)

ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
ETH_P_8021Q = 0x8100
ETH_P_8021AD = 0x88A8
ETH_P_QINQ_OLD = 0x9100
ETH_P_PPPOE_SESSION = 0x8864
PPP_IP = 0x0021
PPP_IPV6 = 0x0057

IPPROTO_TCP = 6
# IPv6 extension headers that may precede TCP (RFC 8200 section 4).
IPV6_HOPOPTS = 0
IPV6_ROUTING = 43
IPV6_FRAGMENT = 44
IPV6_AH = 51
IPV6_DSTOPTS = 60
IPV6_MOBILITY = 135
IPV6_HIP = 139
IPV6_SHIM6 = 140
# A chain longer than this is hostile or broken; no real stack sends one.
MAX_IPV6_EXT_HEADERS = 16

TCPOPT_EOL = 0
TCPOPT_NOP = 1
TCPOPT_WSCALE = 3
