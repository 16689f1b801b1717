"""Fast builders for the packets a source sends all the time: ODATA, RDATA and SPM.

Theory of operation
-------------------
:meth:`Packet.encode` is general and builds objects; a source sends hundreds of thousands of
data packets a second and needs less.  A *template* is made once per session and holds what
never changes: the ports and GSI and, for data, the one's complement sum of those header words
(RFC 3208 §8: the checksum covers the whole packet and no pseudo-header).  Per packet only the
varying fields are packed, and the checksum is finished from partial sums:

* the sum of a TPDU's options and payload (:func:`payload_sum`) is taken once, when the message
  is queued, and kept with it in the transmit window;
* ODATA and a later RDATA of the same TPDU (RFC 3208 §5.3: same SQN and payload, type 5 and a
  fresh trailing edge) differ only in header words, so an RDATA costs a header sum, one
  ``struct`` pack and one join — the payload is never summed again.

Sums of pieces that start at even offsets add (``pgm.wire.checksum``); the data header is 24
bytes and options a multiple of 4, so header, options and payload are such pieces.  One
``Struct.pack`` plus a join is faster in CPython than ``pack_into`` a reused buffer plus a copy
out of it, so data headers are packed whole; the SPM template, built rarely, patches a
pre-built buffer with ``pack_into``.

Option bytes for data packets come from :func:`data_options` (OPT_LENGTH first, OPT_END on the
last option, as :func:`~pgm.wire.options.encode_options` writes them), with pre-compiled layouts
for the two chains a source writes per packet (OPT_FRAGMENT, OPT_JOIN).  :func:`option_flags`
gives the header flags a chain of option objects implies (PRESENT, NETWORK).  The FEC header
flags (PARITY, VAR_PKTLEN) are passed to :meth:`DataTemplate.encode` in ``flags``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from .checksum import checksum, partial_sum
from .header import DATA_FIXED, DATA_HEADER_SIZE, FLAG_NETWORK, FLAG_PRESENT, TYPE_SPM
from .nla import NLA, encode_nla
from .options import (
    OPT_END,
    OptCurrTgsize,
    OptFin,
    OptFragment,
    Option,
    OptJoin,
    OptParityGrp,
    OptSyn,
    encode_options,
)

__all__ = [
    "DATA_HEADER_SIZE",
    "DataTemplate",
    "SpmTemplate",
    "data_options",
    "encode_data",
    "option_flags",
    "payload_sum",
    "peek_type",
]

_M = 0xFFFF
_SPM_HEAD = struct.Struct(">HHBBH6sHIII")
_CSUM = struct.Struct(">H")
_SPM_FIELDS = struct.Struct(">III")
# OPT_LENGTH (total 20) + OPT_FRAGMENT with OPT_END: the chain of every fragment.
_FRAG_CHAIN = struct.Struct(">BBHBBBBIII")
# OPT_LENGTH (total 12) + OPT_JOIN with OPT_END: options_on_all_data's chain.
_JOIN_CHAIN = struct.Struct(">BBHBBBBI")
_FRAG_TOTAL = 4 + OptFragment.LENGTH  # type: ignore[operator]
_JOIN_TOTAL = 4 + OptJoin.LENGTH  # type: ignore[operator]
_SQN_MASK = 0xFFFFFFFF


def peek_type(datagram: bytes) -> int:
    """The type byte of a datagram of at least :data:`~pgm.wire.HEADER_SIZE` bytes, read
    without parsing (to turn away packets of the wrong direction cheaply)."""
    return datagram[4]


def payload_sum(data: bytes, opts: bytes = b"") -> int:
    """Partial one's complement sum of a TPDU's options and payload, the part of its checksum
    that ODATA and every RDATA of it share (keep it with the TPDU)."""
    if opts:
        return (partial_sum(opts) + partial_sum(data)) % _M
    return partial_sum(data)


def data_options(
    *,
    fragment: tuple[int, int, int] | None = None,
    join: int | None = None,
    syn: bool = False,
    fin: bool = False,
    parity_grp: int | None = None,
    curr_tgsize: int | None = None,
) -> bytes:
    """The option chain of an ODATA/RDATA packet; ``b""`` when there is none.

    ``fragment`` is ``(first_sqn, offset, apdu_length)`` (OPT_FRAGMENT; sequence numbers are
    reduced mod 2**32 here), ``join`` an OPT_JOIN_MIN, ``syn``/``fin`` add OPT_SYN/OPT_FIN,
    ``parity_grp`` and ``curr_tgsize`` the FEC options OPT_PARITY_GRP and OPT_CURR_TGSIZE
    (RFC 3208 §9).  Options appear in that order.  The bytes equal
    :func:`~pgm.wire.options.encode_options` of the same option objects.
    """
    if not (syn or fin) and parity_grp is None and curr_tgsize is None:
        if fragment is not None and join is None:
            first, offset, length = fragment
            return _FRAG_CHAIN.pack(
                0,
                4,
                _FRAG_TOTAL,
                OptFragment.TYPE | OPT_END,
                OptFragment.LENGTH,
                0,
                0,
                first & _SQN_MASK,
                offset,
                length,
            )
        if join is not None and fragment is None:
            return _JOIN_CHAIN.pack(
                0, 4, _JOIN_TOTAL, OptJoin.TYPE | OPT_END, OptJoin.LENGTH, 0, 0, join & _SQN_MASK
            )
    opts: list[Option] = []
    if fragment is not None:
        first, offset, length = fragment
        opts.append(OptFragment(first & _SQN_MASK, offset, length))
    if join is not None:
        opts.append(OptJoin(join & _SQN_MASK))
    if syn:
        opts.append(OptSyn())
    if fin:
        opts.append(OptFin())
    if parity_grp is not None:
        opts.append(OptParityGrp(parity_grp))
    if curr_tgsize is not None:
        opts.append(OptCurrTgsize(curr_tgsize))
    return encode_options(opts)


def option_flags(options: Sequence[Option], packet_type: int) -> int:
    """Header flags a chain of ``options`` implies on ``packet_type``: PRESENT when there are
    any, NETWORK when one of them is network significant there (RFC 3208 §9)."""
    if not options:
        return 0
    if any(o.network_significant(packet_type) for o in options):
        return FLAG_PRESENT | FLAG_NETWORK
    return FLAG_PRESENT


class DataTemplate:
    """ODATA/RDATA of one session (its ports and GSI) built from a few fields per packet."""

    __slots__ = ("_hsum", "destination_port", "gsi", "source_port")

    def __init__(self, source_port: int, destination_port: int, gsi: bytes) -> None:
        if len(gsi) != 6:
            raise ValueError("gsi must be 6 bytes")
        self.source_port = source_port
        self.destination_port = destination_port
        self.gsi = gsi
        g = gsi
        # The header words that never change: ports and GSI.
        self._hsum = (
            source_port
            + destination_port
            + (g[0] << 8 | g[1])
            + (g[2] << 8 | g[3])
            + (g[4] << 8 | g[5])
        )

    def header_sum(self, type_: int, flags: int, trail: int) -> int:
        """The part of a data packet's checksum that a run of packets with one type, flags
        and trailing edge share (ports, GSI, type/flags, TXW_TRAIL), for callers that build a
        run of packets in one loop: add the TSDU length, the SQN's two halves and the payload
        sum, reduce ``% 0xFFFF`` and pack with :data:`~pgm.wire.header.DATA_FIXED` as
        :meth:`encode` does."""
        trail &= _SQN_MASK
        return self._hsum + (type_ << 8 | flags) + (trail >> 16) + (trail & 0xFFFF)

    def encode(
        self,
        type_: int,
        sqn: int,
        trail: int,
        data: bytes,
        psum: int,
        opts: bytes = b"",
        flags: int = 0,
    ) -> bytes:
        """One ODATA (``type_`` :data:`~pgm.wire.TYPE_ODATA`) or RDATA packet.

        ``sqn`` and ``trail`` may be unbounded counters (reduced mod 2**32 here); ``psum`` is
        :func:`payload_sum` of ``data`` and ``opts``; ``opts`` an option chain
        (:func:`data_options`), which adds the PRESENT flag; ``flags`` further header flags
        (PARITY, VAR_PKTLEN, NETWORK for FEC packets).
        """
        sqn &= _SQN_MASK
        trail &= _SQN_MASK
        if opts:
            flags |= FLAG_PRESENT
        tlen = len(data)
        s = (
            self._hsum
            + (type_ << 8 | flags)
            + tlen
            + (sqn >> 16)
            + (sqn & 0xFFFF)
            + (trail >> 16)
            + (trail & 0xFFFF)
            + psum
        ) % _M
        hdr = DATA_FIXED.pack(
            self.source_port,
            self.destination_port,
            type_,
            flags,
            _M - s if s else _M,  # a computed 0 goes out as 0xFFFF (RFC 3208 §8)
            self.gsi,
            tlen,
            sqn,
            trail,
        )
        return hdr + opts + data if opts else hdr + data


class SpmTemplate:
    """SPMs of one session (RFC 3208 §8.1): ports, GSI and path NLA pre-built."""

    __slots__ = ("_head",)

    def __init__(self, source_port: int, destination_port: int, gsi: bytes, path_nla: NLA) -> None:
        if len(gsi) != 6:
            raise ValueError("gsi must be 6 bytes")
        self._head = bytearray(
            _SPM_HEAD.pack(source_port, destination_port, TYPE_SPM, 0, 0, gsi, 0, 0, 0, 0)
            + encode_nla(path_nla)
        )

    def encode(self, spm_sqn: int, trail: int, lead: int, options: Sequence[Option] = ()) -> bytes:
        """One SPM advertising ``trail``/``lead`` (may be unbounded; reduced mod 2**32 here)
        with ``options`` (OPT_FIN, OPT_RST, OPT_PARITY_PRM, ...)."""
        buf = self._head + encode_options(options)
        buf[5] = option_flags(options, TYPE_SPM)
        _SPM_FIELDS.pack_into(buf, 16, spm_sqn & _SQN_MASK, trail & _SQN_MASK, lead & _SQN_MASK)
        _CSUM.pack_into(buf, 6, checksum(buf))
        return bytes(buf)


def encode_data(
    type_: int,
    source_port: int,
    destination_port: int,
    gsi: bytes,
    sqn: int,
    trail: int,
    data: bytes,
    *,
    flags: int = 0,
    options: bytes = b"",
    with_checksum: bool = True,
) -> bytes:
    """One ODATA/RDATA packet from its fields, without keeping a template.

    ``options`` are pre-encoded option bytes (:func:`data_options`,
    :func:`~pgm.wire.options.encode_options`); the PRESENT flag is added when they are given.
    ``with_checksum=False`` writes 0 ("no checksum").  A session's stream of packets is cheaper
    with a :class:`DataTemplate`.
    """
    if with_checksum:
        tpl = DataTemplate(source_port, destination_port, gsi)
        return tpl.encode(type_, sqn, trail, data, payload_sum(data, options), options, flags)
    if options:
        flags |= FLAG_PRESENT
    hdr = DATA_FIXED.pack(
        source_port, destination_port, type_, flags, 0, gsi, len(data), sqn, trail
    )
    return hdr + options + data
