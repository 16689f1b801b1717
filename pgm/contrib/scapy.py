"""Scapy layers for PGM (RFC 3208): every packet type and option, to craft, send and dissect.

>>> from scapy.layers.inet import IP
>>> from pgm.contrib.scapy import PGM, PGMODATA, PGMOptFragment
>>> pkt = IP(src="10.0.0.1", dst="239.192.0.1") / PGM(sport=40000, dport=7500,
...     gsi=b"\\x01" * 6) / PGMODATA(data_sqn=7, options=[PGMOptFragment(apdu_length=5)]) / b"hello"
>>> back = IP(bytes(pkt))
>>> back[PGM].type, back[PGMODATA].data_sqn, back[PGM].tsdu_length, bytes(back[PGMODATA].payload)
(4, 7, 5, b'hello')

Needs scapy (``pip install 'pypgm[scapy]'``).  Importing this module binds the layers to IP
protocol 113, IPv6 next header 113 and UDP ports 3055/3056 (OpenPGM's encapsulation defaults);
:func:`bind_udp_port` adds another UDP port (``pgm`` itself encapsulates on the session's port,
docs/transports.md).  Nothing else in ``pgm`` imports scapy: it never enters the data path.

Theory of operation
-------------------
A packet is three scapy layers: :class:`PGM`, the 16-byte common header (RFC 3208 §8); one body
layer chosen by the header's ``type`` (:class:`PGMSPM`, :class:`PGMPOLL`, :class:`PGMPOLR`,
:class:`PGMODATA`, :class:`PGMRDATA`, :class:`PGMNAK`, :class:`PGMNNAK`, :class:`PGMNCF`,
:class:`PGMSPMR` and OpenPGM's PGMCC :class:`PGMACK`); and, on ODATA/RDATA, the TSDU as the
body's payload.  Each body ends with ``options``, the option chain (RFC 3208 §9) as a list of
option layers (``PGMOpt*``) *without* OPT_LENGTH, which the field writes and reads itself, as
``pgm.wire`` does; the last option gets OPT_END unless its ``end`` is set by hand.

Building fills in what is left as ``None``: the header's ``present`` and ``network`` flags
(from the options: network-significant ones per RFC 3208 §9, OPT_CURR_TGSIZE not on ODATA),
``tsdu_length`` (the data payload's length), each option's ``len`` and the checksum (RFC 3208
§8: one's complement over the whole packet, no pseudo-header, a computed 0 sent as 0xFFFF).
Set any of them to craft a malformed packet.  Field names follow ``pgm.wire`` (``spm_sqn``,
``data_trail``, ``nak_sqn``, ``source_nla``, ...); NLAs (AFI, reserved, address) are one field
holding the address as a string, its AFI from the family.  Option byte 2 is ``f_bits`` (its
top six bits: OpenPGM's OP_ENCODED 0x08 is ``f_bits=2``) and ``opx``; byte 3 is ``u`` and seven
option-specific bits.  The layers compute everything with scapy's own helpers, independently of
``pgm.wire``, so the tests can check one against the other.  The option layers and the fields
live in :mod:`pgm.contrib.scapy_options`; this module re-exports them.
"""

from __future__ import annotations

import struct
from typing import Any

from scapy.fields import (
    BitField,
    ByteEnumField,
    IntField,
    ShortField,
    XIntField,
    XShortField,
    XStrFixedLenField,
)
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.packet import Packet, Raw, bind_layers
from scapy.utils import checksum as _inet_checksum

from .scapy_options import (
    OPTION_CLASSES,
    OPTION_TYPES,
    NLAField,
    PGMOptCr,
    PGMOptCrqst,
    PGMOptCurrTgsize,
    PGMOptFin,
    PGMOptFragment,
    PGMOption,
    PGMOptionsField,
    PGMOptJoin,
    PGMOptNakBoIvl,
    PGMOptNakBoRng,
    PGMOptNakList,
    PGMOptNbrUnreach,
    PGMOptParityGrp,
    PGMOptParityPrm,
    PGMOptPathNla,
    PGMOptRedirect,
    PGMOptRst,
    PGMOptSyn,
    PGMOptUnknown,
)

__all__ = [
    "OPTION_CLASSES",
    "OPTION_TYPES",
    "PACKET_CLASSES",
    "PGM",
    "PGMACK",
    "PGMNAK",
    "PGMNCF",
    "PGMNNAK",
    "PGMODATA",
    "PGMPOLL",
    "PGMPOLR",
    "PGMRDATA",
    "PGMSPM",
    "PGMSPMR",
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
    "bind_udp_port",
]

IPPROTO_PGM = 113
UDP_ENCAP_PORTS = (3055, 3056)

PACKET_TYPES = {
    0x00: "SPM",
    0x01: "POLL",
    0x02: "POLR",
    0x04: "ODATA",
    0x05: "RDATA",
    0x08: "NAK",
    0x09: "NNAK",
    0x0A: "NCF",
    0x0C: "SPMR",
    0x0D: "ACK",
}
# RFC 3208 §9: options that make the header's OPT_NETWORK flag apply.
_NETWORK_SIGNIFICANT = frozenset({0x02, 0x04, 0x05, 0x07, 0x08, 0x0A, 0x0B, 0x0C, 0x10, 0x11})
_TYPE_ODATA, _TYPE_RDATA, _OPT_CURR_TGSIZE = 0x04, 0x05, 0x0A


# -- the header and the bodies ---------------------------------------------------------------


class PGM(Packet):
    """The PGM common header (RFC 3208 §8).

    ``type`` includes the two version bits (0).  The flags byte is split into its bits:
    ``parity`` (0x80), ``var_pktlen`` (0x40), ``reserved_flags`` (0x04-0x20), ``network``
    (0x02) and ``present`` (0x01); ``network``, ``present``, ``chksum`` and ``tsdu_length``
    are computed when left ``None``.
    """

    name = "PGM"
    fields_desc = [
        ShortField("sport", 0),
        ShortField("dport", 0),
        ByteEnumField("type", 0, PACKET_TYPES),
        BitField("parity", 0, 1),
        BitField("var_pktlen", 0, 1),
        BitField("reserved_flags", 0, 4),
        BitField("network", None, 1),
        BitField("present", None, 1),
        XShortField("chksum", None),
        XStrFixedLenField("gsi", b"\0" * 6, 6),
        ShortField("tsdu_length", None),
    ]

    def _options(self) -> list[Any]:
        opts: list[Any] = getattr(self.payload, "options", None) or []
        return opts

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        flags = p[5]
        opts = self._options()
        if self.present is None and opts:
            flags |= 0x01
        if self.network is None and any(self._significant(o) for o in opts):
            flags |= 0x02
        tsdu = self.tsdu_length
        if tsdu is None:
            tsdu = len(bytes(self.payload.payload)) if self.type in (4, 5) else 0
        head = p[:5] + bytes([flags]) + p[6:14] + struct.pack(">H", tsdu & 0xFFFF)
        if self.chksum is None:
            cs = _inet_checksum(head[:6] + b"\0\0" + head[8:] + pay) or 0xFFFF
            head = head[:6] + struct.pack(">H", cs) + head[8:]
        return head + pay

    def _significant(self, opt: Any) -> bool:
        code = int(getattr(opt, "opt_type", 0x7F))
        if code == _OPT_CURR_TGSIZE and self.type == _TYPE_ODATA:
            return False  # RFC 3208 §9 (OPT_CURR_TGSIZE): not network significant on ODATA
        return code in _NETWORK_SIGNIFICANT

    def do_dissect_payload(self, s: bytes) -> None:
        cls = PACKET_CLASSES.get(self.type)
        if not s and cls is not None:  # an SPMR's body is empty: still give it its layer
            self.add_payload(cls(b"", _internal=1, _underlayer=self))
            return
        super().do_dissect_payload(s)

    def mysummary(self) -> str:
        name = PACKET_TYPES.get(self.type, f"type {self.type:#x}")
        return f"PGM {name} {self.sport} > {self.dport}"


class _PGMBody(Packet):
    """A body ends with the option chain; only ODATA/RDATA carry a payload (the TSDU)."""

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes | None]:
        return b"", s or None


class PGMSPM(_PGMBody):
    name = "PGM SPM"
    fields_desc = [
        IntField("spm_sqn", 0),
        IntField("spm_trail", 0),
        IntField("spm_lead", 0),
        NLAField("path_nla"),
        PGMOptionsField(),
    ]


class PGMPOLL(_PGMBody):
    name = "PGM POLL"
    fields_desc = [
        IntField("poll_sqn", 0),
        ShortField("poll_round", 0),
        ShortField("poll_s_type", 0),
        NLAField("path_nla"),
        IntField("poll_bo_ivl", 0),
        XStrFixedLenField("poll_rand", b"\0" * 4, 4),
        XIntField("poll_mask", 0),
        PGMOptionsField(),
    ]


class PGMPOLR(_PGMBody):
    name = "PGM POLR"
    fields_desc = [
        IntField("polr_sqn", 0),
        ShortField("polr_round", 0),
        ShortField("reserved", 0),
        PGMOptionsField(),
    ]


class _PGMData(Packet):
    fields_desc = [IntField("data_sqn", 0), IntField("data_trail", 0), PGMOptionsField()]

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        tsdu: type[Packet] = Raw  # the TSDU, whatever it holds
        return tsdu


class PGMODATA(_PGMData):
    name = "PGM ODATA"


class PGMRDATA(_PGMData):
    name = "PGM RDATA"


_NAK_FIELDS: list[Any] = [
    IntField("nak_sqn", 0),
    NLAField("source_nla"),
    NLAField("group_nla"),
    PGMOptionsField(),
]


class PGMNAK(_PGMBody):
    name = "PGM NAK"
    fields_desc = list(_NAK_FIELDS)


class PGMNNAK(_PGMBody):
    name = "PGM NNAK"
    fields_desc = list(_NAK_FIELDS)


class PGMNCF(_PGMBody):
    name = "PGM NCF"
    fields_desc = list(_NAK_FIELDS)


class PGMSPMR(_PGMBody):
    name = "PGM SPMR"
    fields_desc = [PGMOptionsField()]


class PGMACK(_PGMBody):
    """OpenPGM's PGMCC ACK (type 0x0D), not part of RFC 3208."""

    name = "PGM ACK"
    fields_desc = [IntField("ack_rx_max", 0), XIntField("ack_bitmap", 0), PGMOptionsField()]


#: Body layer by packet type.
PACKET_CLASSES: dict[int, type[Packet]] = {
    0x00: PGMSPM,
    0x01: PGMPOLL,
    0x02: PGMPOLR,
    0x04: PGMODATA,
    0x05: PGMRDATA,
    0x08: PGMNAK,
    0x09: PGMNNAK,
    0x0A: PGMNCF,
    0x0C: PGMSPMR,
    0x0D: PGMACK,
}

for _code, _cls in PACKET_CLASSES.items():
    bind_layers(PGM, _cls, type=_code)
bind_layers(IP, PGM, proto=IPPROTO_PGM)
bind_layers(IPv6, PGM, nh=IPPROTO_PGM)


def bind_udp_port(port: int) -> None:
    """Dissect UDP datagrams from or to ``port`` as UDP-encapsulated PGM (and build
    ``UDP()/PGM()`` with that port)."""
    bind_layers(UDP, PGM, sport=port)
    bind_layers(UDP, PGM, dport=port)
    bind_layers(UDP, PGM, sport=port, dport=port)


for _port in UDP_ENCAP_PORTS:
    bind_udp_port(_port)
