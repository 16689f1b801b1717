"""PGM option extensions (RFC 3208 §9), as objects.

On the wire options follow the packet body when the header flag ``OPT_PRESENT`` is set.  The
first is always OPT_LENGTH (total length of all options); the last has the ``OPT_END`` bit set
in its type byte.  The codec writes both for you: a packet's ``options`` list holds only the
real options, in order.

Each option's 4-byte header and the :class:`Option` base class are in :mod:`.optbase`.
Every option object carries ``opx``, ``f_bits`` (byte 2 without OPX, kept exactly so parsed
packets re-encode byte for byte) and ``u``.  Unknown option types are kept as
:class:`UnknownOption` (OPX 00 "ignore" / 01 "invalidate") or make the whole packet be dropped
(:class:`~pgm.wire.errors.OptionDiscarded`, OPX 10), per RFC 3208 §9.1.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import ClassVar

from .errors import (
    BadOption,
    NakListTooLong,
    OptionChainError,
    OptionDiscarded,
    TruncatedPacket,
)
from .nla import NLA, decode_nla, encode_nla
from .optbase import (
    MAX_NAK_LIST,
    MAX_OPTIONS,
    OPT_END,
    OPT_INVALID,
    OPT_LENGTH_TYPE,
    OPT_U,
    OPTION_HEADER,
    OPX_DISCARD,
    OPX_IGNORE,
    OPX_INVALIDATE,
    OPX_RESERVED,
    Option,
    UnknownOption,
)

__all__ = [
    "MAX_NAK_LIST",
    "MAX_OPTIONS",
    "OPT_END",
    "OPX_DISCARD",
    "OPX_IGNORE",
    "OPX_INVALIDATE",
    "OptCr",
    "OptCrqst",
    "OptCurrTgsize",
    "OptFin",
    "OptFragment",
    "OptJoin",
    "OptNakBoIvl",
    "OptNakBoRng",
    "OptNakList",
    "OptNbrUnreach",
    "OptParityGrp",
    "OptParityPrm",
    "OptPathNla",
    "OptRedirect",
    "OptRst",
    "OptSyn",
    "Option",
    "UnknownOption",
    "decode_options",
    "encode_options",
]

_HDR = OPTION_HEADER
_U32 = struct.Struct(">I")
_U32x2 = struct.Struct(">II")
_U32x3 = struct.Struct(">III")


@dataclass(slots=True)
class OptFragment(Option):
    """OPT_FRAGMENT (RFC 3208 §9): this TPDU is part of an APDU.

    16 bytes on the wire (the RFC text says 12; its figure, OpenPGM and Wireshark use 16).
    """

    TYPE: ClassVar[int] = 0x01
    NAME: ClassVar[str] = "OPT_FRAGMENT"
    LENGTH: ClassVar[int | None] = 16

    first_sqn: int = 0
    """Sequence number of the APDU's first fragment."""
    offset: int = 0
    """Byte offset of this fragment within the APDU."""
    apdu_length: int = 0
    """Total length of the APDU in bytes."""

    def _body(self) -> bytes:
        return _U32x3.pack(self.first_sqn, self.offset, self.apdu_length)

    @classmethod
    def _decode(cls, bits3: int, body: bytes) -> Option:
        a, b, c = _U32x3.unpack(body)
        return cls(a, b, c)


@dataclass(slots=True)
class OptNakList(Option):
    """OPT_NAK_LIST (RFC 3208 §9): further sequence numbers requested by a NAK / confirmed by an
    NCF, up to 62 beyond the packet's own sequence number."""

    TYPE: ClassVar[int] = 0x02
    NAME: ClassVar[str] = "OPT_NAK_LIST"
    LENGTH: ClassVar[int | None] = None
    NETWORK_SIGNIFICANT: ClassVar[bool] = True

    sqns: list[int] = field(default_factory=list)
    """The listed sequence numbers (1 … 62 of them)."""

    def _body(self) -> bytes:
        n = len(self.sqns)
        if not 1 <= n <= MAX_NAK_LIST:
            raise NakListTooLong(f"OPT_NAK_LIST must list 1..{MAX_NAK_LIST} SQNs, not {n}")
        return struct.pack(f">{n}I", *self.sqns)

    @classmethod
    def _decode(cls, bits3: int, body: bytes) -> Option:
        n, rem = divmod(len(body), 4)
        if rem:
            raise BadOption(f"OPT_NAK_LIST length {len(body) + 4} is not 4 + 4N")
        if n == 0:
            raise BadOption("OPT_NAK_LIST lists no sequence numbers")
        if n > MAX_NAK_LIST:
            raise NakListTooLong(f"OPT_NAK_LIST lists {n} SQNs, more than {MAX_NAK_LIST}")
        return cls(list(struct.unpack(f">{n}I", body)))


@dataclass(slots=True)
class OptJoin(Option):
    """OPT_JOIN (RFC 3208 §9): late joiners may NAK back to ``join_min``."""

    TYPE: ClassVar[int] = 0x03
    NAME: ClassVar[str] = "OPT_JOIN"
    LENGTH: ClassVar[int | None] = 8

    join_min: int = 0
    """OPT_JOIN_MIN: lowest sequence number a late joiner may request."""

    def _body(self) -> bytes:
        return _U32.pack(self.join_min)

    @classmethod
    def _decode(cls, bits3: int, body: bytes) -> Option:
        return cls(_U32.unpack(body)[0])


@dataclass(slots=True)
class OptNakBoIvl(Option):
    """OPT_NAK_BO_IVL (RFC 3208 §9): a NAK back-off interval advertised by a DLR/network."""

    TYPE: ClassVar[int] = 0x04
    NAME: ClassVar[str] = "OPT_NAK_BO_IVL"
    LENGTH: ClassVar[int | None] = 12
    NETWORK_SIGNIFICANT: ClassVar[bool] = True

    bo_ivl: int = 0
    """NAK_BO_IVL in microseconds."""
    bo_ivl_sqn: int = 0
    """POLL round SQN this interval belongs to (0: use it now)."""

    def _body(self) -> bytes:
        return _U32x2.pack(self.bo_ivl, self.bo_ivl_sqn)

    @classmethod
    def _decode(cls, bits3: int, body: bytes) -> Option:
        a, b = _U32x2.unpack(body)
        return cls(a, b)


@dataclass(slots=True)
class OptNakBoRng(Option):
    """OPT_NAK_BO_RNG (RFC 3208 §9): the range NAK_BO_IVL may take."""

    TYPE: ClassVar[int] = 0x05
    NAME: ClassVar[str] = "OPT_NAK_BO_RNG"
    LENGTH: ClassVar[int | None] = 12
    NETWORK_SIGNIFICANT: ClassVar[bool] = True

    max_bo_ivl: int = 0
    """Maximum NAK back-off interval, µs."""
    min_bo_ivl: int = 0
    """Minimum NAK back-off interval, µs."""

    def _body(self) -> bytes:
        return _U32x2.pack(self.max_bo_ivl, self.min_bo_ivl)

    @classmethod
    def _decode(cls, bits3: int, body: bytes) -> Option:
        a, b = _U32x2.unpack(body)
        return cls(a, b)


def _decode_nla_body(name: str, body: bytes, off: int) -> NLA:
    addr, end = decode_nla(body, off, name)
    if end != len(body):
        raise BadOption(f"{name}: {len(body) - end} stray bytes after the NLA")
    return addr


@dataclass(slots=True)
class OptRedirect(Option):
    """OPT_REDIRECT (RFC 3208 §9, on POLR): the NLA of a DLR to redirect NAKs to."""

    TYPE: ClassVar[int] = 0x07
    NAME: ClassVar[str] = "OPT_REDIRECT"
    LENGTH: ClassVar[int | None] = None
    NETWORK_SIGNIFICANT: ClassVar[bool] = True

    dlr_nla: NLA | None = None
    """The designated local repairer's address."""

    def _body(self) -> bytes:
        if self.dlr_nla is None:
            raise BadOption("OPT_REDIRECT needs dlr_nla")
        return encode_nla(self.dlr_nla)

    @classmethod
    def _decode(cls, bits3: int, body: bytes) -> Option:
        return cls(_decode_nla_body(cls.NAME, body, 0))


#: OPT_PARITY_PRM bits in byte 3 as RFC 3208 §9.6.1's figure (and Wireshark) place them.
PARITY_PRM_PRO_RFC = 0x02
PARITY_PRM_OND_RFC = 0x01
#: ... and as OpenPGM writes and reads them (swapped; docs/protocol.md §6).
PARITY_PRM_PRO_OPENPGM = 0x01
PARITY_PRM_OND_OPENPGM = 0x02


@dataclass(slots=True)
class OptParityPrm(Option):
    """OPT_PARITY_PRM (RFC 3208 §9, SPM only): FEC parameters of the session.

    ``bits`` holds byte 3's P/O bits exactly as on the wire.  The RFC puts pro-active at 0x02 and
    on-demand at 0x01; OpenPGM swaps them.  Use :meth:`make` / :meth:`modes` with
    ``openpgm=True`` to speak OpenPGM's dialect.
    """

    TYPE: ClassVar[int] = 0x08
    NAME: ClassVar[str] = "OPT_PARITY_PRM"
    LENGTH: ClassVar[int | None] = 8
    NETWORK_SIGNIFICANT: ClassVar[bool] = True

    tgs: int = 0
    """Transmission group size (k), a power of two."""
    bits: int = 0
    """Raw P/O bits of byte 3."""

    @classmethod
    def make(
        cls, tgs: int, *, proactive: bool, ondemand: bool, openpgm: bool = False
    ) -> OptParityPrm:
        """Build the option from modes, in RFC (default) or OpenPGM bit order."""
        pro, ond = (
            (PARITY_PRM_PRO_OPENPGM, PARITY_PRM_OND_OPENPGM)
            if openpgm
            else (PARITY_PRM_PRO_RFC, PARITY_PRM_OND_RFC)
        )
        return cls(tgs, (pro if proactive else 0) | (ond if ondemand else 0))

    def modes(self, *, openpgm: bool = False) -> tuple[bool, bool]:
        """``(proactive, ondemand)`` read in RFC (default) or OpenPGM bit order."""
        pro, ond = (
            (PARITY_PRM_PRO_OPENPGM, PARITY_PRM_OND_OPENPGM)
            if openpgm
            else (PARITY_PRM_PRO_RFC, PARITY_PRM_OND_RFC)
        )
        return bool(self.bits & pro), bool(self.bits & ond)

    def _bits3(self) -> int:
        return self.bits

    def _body(self) -> bytes:
        return _U32.pack(self.tgs)

    @classmethod
    def _decode(cls, bits3: int, body: bytes) -> Option:
        return cls(_U32.unpack(body)[0], bits3)


@dataclass(slots=True)
class OptParityGrp(Option):
    """OPT_PARITY_GRP (RFC 3208 §9): parity group number (j div k) of a parity packet."""

    TYPE: ClassVar[int] = 0x09
    NAME: ClassVar[str] = "OPT_PARITY_GRP"
    LENGTH: ClassVar[int | None] = 8

    prm_group: int = 0
    """PRM_GROUP: which group of k parity packets this one belongs to."""

    def _body(self) -> bytes:
        return _U32.pack(self.prm_group)

    @classmethod
    def _decode(cls, bits3: int, body: bytes) -> Option:
        return cls(_U32.unpack(body)[0])


@dataclass(slots=True)
class OptCurrTgsize(Option):
    """OPT_CURR_TGSIZE (RFC 3208 §9): the actual size of a short transmission group."""

    TYPE: ClassVar[int] = 0x0A
    NAME: ClassVar[str] = "OPT_CURR_TGSIZE"
    LENGTH: ClassVar[int | None] = 8
    NETWORK_SIGNIFICANT: ClassVar[bool] = True

    tgsize: int = 0
    """PRM_ATGSIZE: packets actually in this transmission group."""

    def network_significant(self, packet_type: int) -> bool:
        # RFC 3208 §9 (OPT_CURR_TGSIZE): network significant except on ODATA.
        return packet_type != 0x04

    def _body(self) -> bytes:
        return _U32.pack(self.tgsize)

    @classmethod
    def _decode(cls, bits3: int, body: bytes) -> Option:
        return cls(_U32.unpack(body)[0])


@dataclass(slots=True)
class OptNbrUnreach(Option):
    """OPT_NBR_UNREACH (RFC 3208 §9): a PGM neighbour is unreachable (SPM, NCF)."""

    TYPE: ClassVar[int] = 0x0B
    NAME: ClassVar[str] = "OPT_NBR_UNREACH"
    NETWORK_SIGNIFICANT: ClassVar[bool] = True


@dataclass(slots=True)
class OptPathNla(Option):
    """OPT_PATH_NLA (RFC 3208 §9, NCF): the path NLA of the network element.

    Laid out as the RFC figure and OpenPGM's ``struct pgm_opt_path_nla`` have it: the bare
    address right after the option header, with no AFI.  The family follows from the length:
    8 bytes is IPv4, 20 is IPv6.
    """

    TYPE: ClassVar[int] = 0x0C
    NAME: ClassVar[str] = "OPT_PATH_NLA"
    LENGTH: ClassVar[int | None] = None
    NETWORK_SIGNIFICANT: ClassVar[bool] = True

    path_nla: NLA | None = None
    """The network element's address."""

    def _body(self) -> bytes:
        if self.path_nla is None:
            raise BadOption("OPT_PATH_NLA needs path_nla")
        return self.path_nla.packed

    @classmethod
    def _decode(cls, bits3: int, body: bytes) -> Option:
        if len(body) == 4:
            return cls(IPv4Address(body))
        if len(body) == 16:
            return cls(IPv6Address(body))
        raise BadOption(f"OPT_PATH_NLA length {len(body) + 4} is neither 8 (IPv4) nor 20 (IPv6)")


@dataclass(slots=True)
class OptSyn(Option):
    """OPT_SYN (RFC 3208 §9): the first data packet of a session."""

    TYPE: ClassVar[int] = 0x0D
    NAME: ClassVar[str] = "OPT_SYN"


@dataclass(slots=True)
class OptFin(Option):
    """OPT_FIN (RFC 3208 §9): the session has ended (last data and later SPMs)."""

    TYPE: ClassVar[int] = 0x0E
    NAME: ClassVar[str] = "OPT_FIN"


OPT_RST_N = 0x40  # "NAKs will not be answered"


@dataclass(slots=True)
class OptRst(Option):
    """OPT_RST (RFC 3208 §9, SPM): the session was aborted."""

    TYPE: ClassVar[int] = 0x0F
    NAME: ClassVar[str] = "OPT_RST"

    n: bool = False
    """N bit: NAKs will no longer be answered."""
    error_code: int = 0
    """6-bit reason code (0 = unspecified)."""

    def _bits3(self) -> int:
        return (OPT_RST_N if self.n else 0) | (self.error_code & 0x3F)

    @classmethod
    def _decode(cls, bits3: int, body: bytes) -> Option:
        if body:
            raise BadOption(f"OPT_RST: expected no body, got {len(body)} bytes")
        return cls(bool(bits3 & OPT_RST_N), bits3 & 0x3F)


CR_L = 0x04  # loss rate
CR_P = 0x02  # path
CR_R = 0x01  # receiver


_CR = struct.Struct(">IHHHH")


@dataclass(slots=True)
class OptCr(Option):
    """OPT_CR (RFC 3208 §9): a congestion report on a NAK."""

    TYPE: ClassVar[int] = 0x10
    NAME: ClassVar[str] = "OPT_CR"
    LENGTH: ClassVar[int | None] = None
    NETWORK_SIGNIFICANT: ClassVar[bool] = True

    lpr: int = 0
    """L/P/R report-type bits (0x04, 0x02, 0x01)."""
    lead_sqn: int = 0
    """OPT_CR_LEAD: leading edge SQN the report refers to."""
    ne_wl: int = 0
    """OPT_CR_NE_WL: worst link loss rate seen by the network element."""
    ne_wp: int = 0
    """OPT_CR_NE_WP: worst path loss rate."""
    rx_wp: int = 0
    """OPT_CR_RX_WP: worst receiver loss rate."""
    worst_nla: NLA | None = None
    """OPT_CR_RCVR: address of the worst receiver."""

    def _bits3(self) -> int:
        return self.lpr & 0x07

    def _body(self) -> bytes:
        if self.worst_nla is None:
            raise BadOption("OPT_CR needs worst_nla")
        return _CR.pack(self.lead_sqn, self.ne_wl, self.ne_wp, self.rx_wp, 0) + encode_nla(
            self.worst_nla
        )

    @classmethod
    def _decode(cls, bits3: int, body: bytes) -> Option:
        if len(body) < _CR.size:
            raise BadOption(f"OPT_CR: body of {len(body)} bytes is too short")
        lead, wl, wp, rp, _res = _CR.unpack_from(body)
        return cls(bits3 & 0x07, lead, wl, wp, rp, _decode_nla_body(cls.NAME, body, _CR.size))


@dataclass(slots=True)
class OptCrqst(Option):
    """OPT_CRQST (RFC 3208 §9, SPM): request for congestion reports of kinds L/P/R."""

    TYPE: ClassVar[int] = 0x11
    NAME: ClassVar[str] = "OPT_CRQST"
    NETWORK_SIGNIFICANT: ClassVar[bool] = True

    lpr: int = 0
    """L/P/R bits (0x04, 0x02, 0x01)."""

    def _bits3(self) -> int:
        return self.lpr & 0x07

    @classmethod
    def _decode(cls, bits3: int, body: bytes) -> Option:
        if body:
            raise BadOption(f"OPT_CRQST: expected no body, got {len(body)} bytes")
        return cls(bits3 & 0x07)


_KNOWN: dict[int, type[Option]] = {
    c.TYPE: c
    for c in (
        OptFragment,
        OptNakList,
        OptJoin,
        OptNakBoIvl,
        OptNakBoRng,
        OptRedirect,
        OptParityPrm,
        OptParityGrp,
        OptCurrTgsize,
        OptNbrUnreach,
        OptPathNla,
        OptSyn,
        OptFin,
        OptRst,
        OptCr,
        OptCrqst,
    )
}


def encode_options(options: Sequence[Option]) -> bytes:
    """OPT_LENGTH followed by ``options`` (the last marked OPT_END); b"" when there are none."""
    if not options:
        return b""
    if len(options) > MAX_OPTIONS:
        raise OptionChainError(f"{len(options)} options; RFC 3208 allows {MAX_OPTIONS}")
    last = len(options) - 1
    parts = [o.encode(i == last) for i, o in enumerate(options)]
    total = 4 + sum(len(p) for p in parts)
    if total > 0xFFFF:
        raise OptionChainError(f"options total {total} bytes, more than 65535")
    return _HDR.pack(OPT_LENGTH_TYPE, 4, total >> 8, total & 0xFF) + b"".join(parts)


def decode_options(buf: bytes, off: int) -> tuple[list[Option], int]:
    """Decode the option chain starting at ``off``; return the options and the offset past them.

    RFC 3208 §9: the chain starts with OPT_LENGTH (type 0, length 4, bytes 2–3 the total length
    of all options) and ends with the option whose OPT_END bit is set, exactly at that total.
    """
    end = len(buf)
    if off + 4 > end:
        raise TruncatedPacket("OPT_PRESENT is set but the packet ends before OPT_LENGTH")
    t, length, hi, lo = _HDR.unpack_from(buf, off)
    if t & 0x7F != OPT_LENGTH_TYPE:
        raise OptionChainError(f"first option is type 0x{t & 0x7F:02x}, not OPT_LENGTH")
    if t & OPT_END:
        raise OptionChainError("OPT_LENGTH carries OPT_END: the option chain is empty")
    if length != 4:
        raise OptionChainError(f"OPT_LENGTH has length {length}, not 4")
    total = (hi << 8) | lo
    stop = off + total
    if total < 8:
        raise OptionChainError(f"total option length {total} is too short for any option")
    if stop > end:
        raise TruncatedPacket(f"options claim {total} bytes, only {end - off} remain")
    pos = off + 4
    opts: list[Option] = []
    nak_entries = 0
    while True:
        if pos + 4 > stop:
            raise OptionChainError("option chain overruns OPT_LENGTH's total without OPT_END")
        t, length, b2, b3 = _HDR.unpack_from(buf, pos)
        if length < 4:
            raise OptionChainError(f"option at offset {pos} has length {length} (< 4)")
        nxt = pos + length
        if nxt > stop:
            raise OptionChainError(f"option at offset {pos} overruns the option area")
        if len(opts) == MAX_OPTIONS:
            raise OptionChainError(f"more than {MAX_OPTIONS} options")
        typ = t & 0x7F
        cls = _KNOWN.get(typ)
        body = bytes(buf[pos + 4 : nxt])
        opx = b2 & 0x03
        if cls is None:
            if typ == OPT_LENGTH_TYPE:
                raise OptionChainError("OPT_LENGTH appears twice")
            if typ != OPT_INVALID:
                if opx == OPX_DISCARD:
                    raise OptionDiscarded(f"unknown option 0x{typ:02x} with OPX 'discard'")
                if opx == OPX_RESERVED:
                    raise BadOption(f"unknown option 0x{typ:02x} with reserved OPX value 3")
            opt: Option = UnknownOption(typ, body, b3 & 0x7F)
            if opx == OPX_INVALIDATE:
                # RFC 3208 §9.1: "invalidate the option by changing the type to OPT_INVALID"
                opt = UnknownOption(OPT_INVALID, body, b3 & 0x7F)
        else:
            if cls.LENGTH is not None and length != cls.LENGTH:
                raise BadOption(f"{cls.NAME} has length {length}, expected {cls.LENGTH}")
            opt = cls._decode(b3 & 0x7F, body)
            if cls is OptNakList:
                # One option's length byte caps a list at 62 entries; a second OPT_NAK_LIST
                # must not push a NAK past RFC 3208's 62 extra sequence numbers either.
                nak_entries += len(opt.sqns)  # type: ignore[attr-defined]
                if nak_entries > MAX_NAK_LIST:
                    raise NakListTooLong(
                        f"OPT_NAK_LIST entries total {nak_entries}, more than {MAX_NAK_LIST}"
                    )
        opt.opx = opx
        opt.f_bits = b2 & 0xFC
        opt.u = bool(b3 & OPT_U)
        opts.append(opt)
        pos = nxt
        if t & OPT_END:
            break
    if pos != stop:
        raise OptionChainError(f"OPT_END reached {stop - pos} bytes before OPT_LENGTH's total")
    return opts, pos
