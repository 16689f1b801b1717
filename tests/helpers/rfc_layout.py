"""RFC 3208's packet and option layouts, written down independently of the codec.

Theory of operation
-------------------
A cross-check against a dissector is only worth something if the expected layout does not come
from the code under test.  These functions say, from RFC 3208 §8-§9's figures alone, how long a
packet body and each option are, which type code and Wireshark label an option has, whether it
is network-significant, what byte 3 of its header holds, and how the bytes of the options
Wireshark does not dissect decode.  They read :mod:`pgm.wire` objects for their field values
only.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address, ip_address

from pgm import wire


def nla_len(a: IPv4Address | IPv6Address | None) -> int:
    assert a is not None
    return 4 + (4 if a.version == 4 else 16)


# class: (type code, Wireshark 4.0 label, network-significant per RFC 3208 §9)
RFC_OPTIONS: dict[type[wire.Option], tuple[int, str, bool]] = {
    wire.OptFragment: (0x01, "Fragment", False),
    wire.OptNakList: (0x02, "NakList", True),
    wire.OptJoin: (0x03, "Join", False),
    wire.OptNakBoIvl: (0x04, "NakBackOffIvl", True),
    wire.OptNakBoRng: (0x05, "NakBackOffRng", True),
    wire.OptRedirect: (0x07, "ReDirect", True),
    wire.OptParityPrm: (0x08, "ParityPrm", True),
    wire.OptParityGrp: (0x09, "ParityGrp", False),
    wire.OptCurrTgsize: (0x0A, "CurrTgsiz", True),  # ... except on ODATA
    wire.OptNbrUnreach: (0x0B, "Unknown (0x0b)", True),
    wire.OptPathNla: (0x0C, "Unknown (0x0c)", True),
    wire.OptSyn: (0x0D, "Syn", False),
    wire.OptFin: (0x0E, "Fin", False),
    wire.OptRst: (0x0F, "Rst", False),
    wire.OptCr: (0x10, "Unknown (0x10)", True),
    wire.OptCrqst: (0x11, "Unknown (0x11)", True),
}
PGMCC_LABELS = {0x12: "CcData", 0x13: "CcFeedBack"}


def opt_type(o: wire.Option) -> int:
    if isinstance(o, wire.UnknownOption):
        return o.type
    return RFC_OPTIONS[type(o)][0]


def opt_len(o: wire.Option) -> int:
    """Option length from RFC 3208 §9's figures."""
    if isinstance(o, wire.OptFragment):
        return 16  # the figure's 16 (the text's "12" is an erratum)
    if isinstance(o, wire.OptNakList):
        return 4 + 4 * len(o.sqns)
    if isinstance(o, wire.OptNakBoIvl | wire.OptNakBoRng):
        return 12
    if isinstance(o, wire.OptJoin | wire.OptParityPrm | wire.OptParityGrp | wire.OptCurrTgsize):
        return 8
    if isinstance(o, wire.OptRedirect):
        return 4 + nla_len(o.dlr_nla)
    if isinstance(o, wire.OptPathNla):
        return 4 + len(o.path_nla.packed)  # bare address, no AFI
    if isinstance(o, wire.OptCr):
        return 4 + 12 + nla_len(o.worst_nla)
    if isinstance(o, wire.UnknownOption):
        return 4 + len(o.body)
    return 4  # NBR_UNREACH, SYN, FIN, RST, CRQST


def netsig(o: wire.Option, ptype: int) -> bool:
    if isinstance(o, wire.UnknownOption):
        return False
    if isinstance(o, wire.OptCurrTgsize):
        return ptype != wire.TYPE_ODATA
    return RFC_OPTIONS[type(o)][2]


def body_len(p: wire.Packet) -> int:
    """Bytes between the 16-byte header and the options (RFC 3208 §8)."""
    if isinstance(p, wire.SPM):
        return 12 + nla_len(p.path_nla)
    if isinstance(p, wire.POLL):
        return 8 + nla_len(p.path_nla) + 12
    if isinstance(p, wire.POLR | wire.DataPacket | wire.ACK):
        return 8
    if isinstance(p, wire.NakPacket):
        return 4 + nla_len(p.source_nla) + nla_len(p.group_nla)
    return 0  # SPMR


def byte3(o: wire.Option) -> int:
    """Byte 3 as RFC 3208 §9 lays it out: U (0x80) and the option-specific bits."""
    bits = 0
    if isinstance(o, wire.OptParityPrm):
        bits = o.bits
    elif isinstance(o, wire.OptRst):
        bits = (0x40 if o.n else 0) | o.error_code
    elif isinstance(o, wire.OptCr | wire.OptCrqst):
        bits = o.lpr
    elif isinstance(o, wire.UnknownOption):
        bits = o.bits3
    return (0x80 if o.u else 0) | bits


def rfc_nla(b: bytes) -> IPv4Address | IPv6Address:
    afi, res = struct.unpack_from(">HH", b)
    assert res == 0
    assert (afi, len(b)) in ((1, 8), (2, 20)), f"bad NLA {b.hex()}"
    return ip_address(b[4:])


def check_undissected(o: wire.Option, raw: bytes) -> None:
    """Decode the bytes of an option Wireshark does not dissect, per the RFC figure."""
    body = raw[4:]
    if isinstance(o, wire.OptCurrTgsize):
        assert struct.unpack(">I", body) == (o.tgsize,)
    elif isinstance(o, wire.OptPathNla):
        assert ip_address(body) == o.path_nla
    elif isinstance(o, wire.OptCr):
        lead, wl, wp, rp, res = struct.unpack_from(">IHHHH", body)
        assert (lead, wl, wp, rp, res) == (o.lead_sqn, o.ne_wl, o.ne_wp, o.rx_wp, 0)
        assert rfc_nla(body[12:]) == o.worst_nla
    else:  # NBR_UNREACH, SYN, FIN, RST, CRQST: header only, bits in byte 3
        assert body == b""
    assert raw[3] == byte3(o)
