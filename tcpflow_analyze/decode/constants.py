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
# The control flags: a segment with one opens, closes or resets.
CONTROL = SYN | FIN | RST

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
LINKTYPE_FDDI = 10
LINKTYPE_RAW_OPENBSD = 12
LINKTYPE_RAW_BSDOS = 14
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_NFLOG = 239
LINKTYPE_IPOIB = 242
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
PPP_MPLS_UC = 0x0281     # RFC 3032 section 4.3: MPLS over PPP
PPP_MPLS_MC = 0x0283

# Encapsulations (issue 16): ethertypes that open a tunnel or a label stack.
ETH_P_MPLS_UC = 0x8847   # RFC 3032
ETH_P_MPLS_MC = 0x8848
ETH_P_PBB = 0x88E7       # IEEE 802.1ah I-TAG (provider backbone bridging)
ETH_P_VNTAG = 0x8926     # Cisco VN-Tag (IEEE 802.1Qbh draft)
ETH_P_TEB = 0x6558       # transparent Ethernet bridging (GRE, Geneve: an Ethernet frame follows)
ETH_P_ERSPAN2 = 0x88BE   # ERSPAN type II (type I when the GRE sequence bit is clear)
ETH_P_ERSPAN3 = 0x22EB   # ERSPAN type III
ETH_P_WCCP = 0x883E      # WCCP redirect over GRE
# IP protocol numbers that carry another packet.
IPPROTO_IPIP = 4         # RFC 2003 (IPv4 or, inside IPv6, 4in6: RFC 2473)
IPPROTO_IPV6 = 41        # RFC 4213 (6in4) and RFC 2473 (6in6)
IPPROTO_GRE = 47         # RFC 2784, RFC 2890
IPPROTO_UDP = 17
TUNNEL_IP_PROTOS = frozenset((IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_GRE, IPPROTO_UDP))
# UDP ports of the UDP tunnels (IANA).
UDP_VXLAN = 4789         # RFC 7348
UDP_GENEVE = 6081        # RFC 8926
UDP_GTPU = 2152          # 3GPP TS 29.281
UDP_TEREDO = 3544        # RFC 4380
UDP_AYIYA = 5072         # draft-massar-v6ops-ayiya
# A tunnel inside a tunnel inside a tunnel...: real mirrors nest two or three
# deep (Geneve carrying GRE carrying IP); past this the packet is hostile.
MAX_ENCAP_DEPTH = 8

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
