"""Scapy fields and option layers for PGM (RFC 3208 §9), used by :mod:`pgm.contrib.scapy`.

Theory of operation
-------------------
Each option is one scapy layer (``PGMOpt*``): the 4-byte option header (OPT_END bit, type,
length, byte 2 as ``f_bits``/``opx``, byte 3 as ``u`` plus seven option-specific bits) and its
body, ``len`` computed on build.  :class:`PGMOptionsField`, the last field of every packet
body, reads and writes the chain: OPT_LENGTH (never a layer of its own, as in ``pgm.wire``),
then the options, each cut out by its length byte and dissected by the layer its type selects
(:data:`OPTION_CLASSES`, :class:`PGMOptUnknown` for the rest); OPT_END goes on the last
option unless its ``end`` is set by hand.  NLAs are :class:`NLAField` (AFI, reserved, address,
the value a string).  Import :mod:`pgm.contrib.scapy`, which re-exports all of this.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any, cast

from scapy.fields import (
    BitEnumField,
    BitField,
    ByteField,
    Field,
    FieldListField,
    IntField,
    PacketListField,
    ShortField,
    StrField,
)
from scapy.packet import Packet

__all__ = [
    "OPTION_CLASSES",
    "OPTION_TYPES",
    "BareAddressField",
    "NLAField",
    "PGMOptCr",
    "PGMOptCrqst",
    "PGMOptCurrTgsize",
    "PGMOptFin",
    "PGMOptFragment",
    "PGMOptJoin",
    "PGMOptNakBoIvl",
    "PGMOptNakBoRng",
    "PGMOptNakList",
    "PGMOptNbrUnreach",
    "PGMOptParityGrp",
    "PGMOptParityPrm",
    "PGMOptPathNla",
    "PGMOptRedirect",
    "PGMOptRst",
    "PGMOptSyn",
    "PGMOptUnknown",
    "PGMOption",
    "PGMOptionsField",
]

_AFI_IP, _AFI_IP6 = 1, 2

OPTION_TYPES = {
    0x00: "OPT_LENGTH",
    0x01: "OPT_FRAGMENT",
    0x02: "OPT_NAK_LIST",
    0x03: "OPT_JOIN",
    0x04: "OPT_NAK_BO_IVL",
    0x05: "OPT_NAK_BO_RNG",
    0x07: "OPT_REDIRECT",
    0x08: "OPT_PARITY_PRM",
    0x09: "OPT_PARITY_GRP",
    0x0A: "OPT_CURR_TGSIZE",
    0x0B: "OPT_NBR_UNREACH",
    0x0C: "OPT_PATH_NLA",
    0x0D: "OPT_SYN",
    0x0E: "OPT_FIN",
    0x0F: "OPT_RST",
    0x10: "OPT_CR",
    0x11: "OPT_CRQST",
    0x12: "OPT_PGMCC_DATA",
    0x13: "OPT_PGMCC_FEEDBACK",
    0x7F: "OPT_INVALID",
}


# -- fields ----------------------------------------------------------------------------------


class NLAField(Field[str, bytes]):
    """A PGM network-layer address: AFI (1 IPv4, 2 IPv6), 2 reserved bytes, the address.

    The value is the address as a string; the AFI follows from its family.
    """

    def __init__(self, name: str, default: str = "0.0.0.0") -> None:
        Field.__init__(self, name, default)

    def h2i(self, pkt: Packet | None, x: Any) -> str:
        return str(ip_address(x)) if x is not None else "0.0.0.0"

    def addfield(self, pkt: Packet, s: bytes, val: str | None) -> bytes:
        addr = ip_address(val if val is not None else "0.0.0.0")
        afi = _AFI_IP if addr.version == 4 else _AFI_IP6
        return s + struct.pack(">HH", afi, 0) + addr.packed

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, str]:
        if len(s) < 4:
            raise ValueError("packet ends inside an NLA")
        afi = struct.unpack_from(">H", s)[0]
        size = {_AFI_IP: 4, _AFI_IP6: 16}.get(afi)
        if size is None:
            raise ValueError(f"NLA address family {afi} is neither 1 (IPv4) nor 2 (IPv6)")
        if len(s) < 4 + size:
            raise ValueError("packet ends inside an NLA address")
        return s[4 + size :], str(ip_address(s[4 : 4 + size]))

    def i2len(self, pkt: Packet | None, x: Any) -> int:
        return 8 if ip_address(x).version == 4 else 20

    def i2repr(self, pkt: Packet | None, x: str) -> str:
        return str(x)


class BareAddressField(Field[str, bytes]):
    """An address without AFI filling the rest of its option (OPT_PATH_NLA): 4 bytes IPv4,
    16 bytes IPv6."""

    def __init__(self, name: str, default: str = "0.0.0.0") -> None:
        Field.__init__(self, name, default)

    def addfield(self, pkt: Packet, s: bytes, val: str | None) -> bytes:
        return s + ip_address(val if val is not None else "0.0.0.0").packed

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, str]:
        if len(s) not in (4, 16):
            raise ValueError(f"OPT_PATH_NLA address of {len(s)} bytes is neither 4 nor 16")
        return b"", str(IPv4Address(s) if len(s) == 4 else IPv6Address(s))

    def i2repr(self, pkt: Packet | None, x: str) -> str:
        return str(x)


def _option_from_bytes(m: bytes) -> Packet:
    cls = OPTION_CLASSES.get(m[0] & 0x7F, PGMOptUnknown) if m else PGMOptUnknown
    opt: Packet = cls(m)
    return opt


class PGMOptionsField(PacketListField):
    """The option chain after a body: OPT_LENGTH (written and read here), then the options.

    Dissected only when the header's ``present`` flag is set (or, for a body without a PGM
    header under it, when the bytes start with an OPT_LENGTH).  Each option is cut out by its
    length byte and dissected on its own; the chain ends at the option with OPT_END, or at
    OPT_LENGTH's total.
    """

    def __init__(self, name: str = "options") -> None:
        PacketListField.__init__(self, name, [], _option_from_bytes)

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, list[Any]]:
        hdr = pkt.underlayer
        present = s[:2] == b"\x00\x04" if hdr is None else bool(hdr.present)
        if not present:
            return s, []
        if len(s) < 4 or s[0] & 0x7F != 0 or s[1] != 4:
            raise ValueError("the option chain does not start with OPT_LENGTH")
        total = struct.unpack_from(">H", s, 2)[0]
        if not 8 <= total <= len(s):
            raise ValueError(f"OPT_LENGTH total {total} does not fit the packet")
        chain, rest = s[4:total], s[total:]
        opts: list[Any] = []
        while chain:
            length = chain[1] if len(chain) >= 2 else 0
            if length < 4 or length > len(chain):
                raise ValueError(f"option of length {length} in a chain of {len(chain)} bytes")
            opt = _option_from_bytes(chain[:length])
            opt.add_parent(pkt)
            opts.append(opt)
            last = chain[0] & 0x80
            chain = chain[length:]
            if last:
                break
        return chain + rest, opts

    def addfield(self, pkt: Packet, s: bytes, val: list[Any] | None) -> bytes:
        if not val:
            return s
        parts = []
        for i, opt in enumerate(val):
            o = opt
            if getattr(opt, "end", 0) is None:
                o = opt.copy()
                o.end = int(i == len(val) - 1)
            parts.append(bytes(o))
        body = b"".join(parts)
        return s + struct.pack(">BBH", 0, 4, 4 + len(body)) + body


# -- options ---------------------------------------------------------------------------------


def _opt_header(code: int) -> list[Any]:
    """Bytes 0-2 and the U bit of byte 3 of every option (RFC 3208 §9)."""
    return [
        BitField("end", None, 1),
        BitEnumField("opt_type", code, 7, OPTION_TYPES),
        ByteField("len", None),
        BitField("f_bits", 0, 6),
        BitField("opx", 0, 2),
        BitField("u", 0, 1),
    ]


_BITS3 = BitField("bits3", 0, 7)  # the option-specific low bits of byte 3, when unused


class PGMOption(Packet):
    """Base of the option layers: fills in ``len``; an option carries no payload."""

    name = "PGM option"

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        if self.len is None:
            p = p[:1] + bytes([len(p) & 0xFF]) + p[2:]
        return p + pay

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes | None]:
        return b"", s


class PGMOptFragment(PGMOption):
    name = "PGM OPT_FRAGMENT"
    fields_desc = [
        *_opt_header(0x01),
        _BITS3,
        IntField("first_sqn", 0),
        IntField("offset", 0),
        IntField("apdu_length", 0),
    ]


class PGMOptNakList(PGMOption):
    name = "PGM OPT_NAK_LIST"
    fields_desc = [
        *_opt_header(0x02),
        _BITS3,
        FieldListField("sqns", [], IntField("", 0), length_from=lambda p: (p.len or 4) - 4),
    ]


class PGMOptJoin(PGMOption):
    name = "PGM OPT_JOIN"
    fields_desc = [*_opt_header(0x03), _BITS3, IntField("join_min", 0)]


class PGMOptNakBoIvl(PGMOption):
    name = "PGM OPT_NAK_BO_IVL"
    fields_desc = [*_opt_header(0x04), _BITS3, IntField("bo_ivl", 0), IntField("bo_ivl_sqn", 0)]


class PGMOptNakBoRng(PGMOption):
    name = "PGM OPT_NAK_BO_RNG"
    fields_desc = [
        *_opt_header(0x05),
        _BITS3,
        IntField("max_bo_ivl", 0),
        IntField("min_bo_ivl", 0),
    ]


class PGMOptRedirect(PGMOption):
    name = "PGM OPT_REDIRECT"
    fields_desc = [*_opt_header(0x07), _BITS3, NLAField("dlr_nla")]


class PGMOptParityPrm(PGMOption):
    """OPT_PARITY_PRM: ``bits`` are byte 3's P/O bits as on the wire (RFC: pro-active 0x02,
    on-demand 0x01; OpenPGM swaps them)."""

    name = "PGM OPT_PARITY_PRM"
    fields_desc = [*_opt_header(0x08), BitField("bits", 0, 7), IntField("tgs", 0)]


class PGMOptParityGrp(PGMOption):
    name = "PGM OPT_PARITY_GRP"
    fields_desc = [*_opt_header(0x09), _BITS3, IntField("prm_group", 0)]


class PGMOptCurrTgsize(PGMOption):
    name = "PGM OPT_CURR_TGSIZE"
    fields_desc = [*_opt_header(0x0A), _BITS3, IntField("tgsize", 0)]


class PGMOptNbrUnreach(PGMOption):
    name = "PGM OPT_NBR_UNREACH"
    fields_desc = [*_opt_header(0x0B), _BITS3]


class PGMOptPathNla(PGMOption):
    """OPT_PATH_NLA: the bare address, no AFI (8 bytes in all for IPv4, 20 for IPv6)."""

    name = "PGM OPT_PATH_NLA"
    fields_desc = [*_opt_header(0x0C), _BITS3, BareAddressField("path_nla")]


class PGMOptSyn(PGMOption):
    name = "PGM OPT_SYN"
    fields_desc = [*_opt_header(0x0D), _BITS3]


class PGMOptFin(PGMOption):
    name = "PGM OPT_FIN"
    fields_desc = [*_opt_header(0x0E), _BITS3]


class PGMOptRst(PGMOption):
    name = "PGM OPT_RST"
    fields_desc = [*_opt_header(0x0F), BitField("n", 0, 1), BitField("error_code", 0, 6)]


class PGMOptCr(PGMOption):
    name = "PGM OPT_CR"
    fields_desc = [
        *_opt_header(0x10),
        BitField("res3", 0, 4),
        BitField("lpr", 0, 3),
        IntField("lead_sqn", 0),
        ShortField("ne_wl", 0),
        ShortField("ne_wp", 0),
        ShortField("rx_wp", 0),
        ShortField("reserved", 0),
        NLAField("worst_nla"),
    ]


class PGMOptCrqst(PGMOption):
    name = "PGM OPT_CRQST"
    fields_desc = [*_opt_header(0x11), BitField("res3", 0, 4), BitField("lpr", 0, 3)]


class PGMOptUnknown(PGMOption):
    """Any other option (OpenPGM's PGMCC 0x12/0x13, OPT_INVALID): its body kept as bytes."""

    name = "PGM option (unknown)"
    fields_desc = [*_opt_header(0x7F), _BITS3, StrField("body", b"")]


#: Option layer by option type.
OPTION_CLASSES: dict[int, type[PGMOption]] = {
    cast(int, c.fields_desc[1].default): c
    for c in (
        PGMOptFragment,
        PGMOptNakList,
        PGMOptJoin,
        PGMOptNakBoIvl,
        PGMOptNakBoRng,
        PGMOptRedirect,
        PGMOptParityPrm,
        PGMOptParityGrp,
        PGMOptCurrTgsize,
        PGMOptNbrUnreach,
        PGMOptPathNla,
        PGMOptSyn,
        PGMOptFin,
        PGMOptRst,
        PGMOptCr,
        PGMOptCrqst,
    )
}
