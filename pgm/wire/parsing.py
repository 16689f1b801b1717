"""Parsing: bytes of one PGM packet into a :class:`~pgm.wire.packets.Packet` (RFC 3208 §8).

Theory of operation
-------------------
:func:`parse` reads the common header, takes data packets (the bulk of all traffic) through
:func:`~pgm.wire.packets.decode_data` without building a dict, and hands every other type to
its body parser in :data:`_BODIES`, which reads the fixed body and NLAs; then the option chain
(:func:`~pgm.wire.options.decode_options`) follows and nothing may be left over: a non-data
packet carries no TSDU.  Anything malformed raises a :class:`~pgm.wire.errors.PacketError`
subclass; nothing else escapes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .checksum import verify_checksum
from .errors import (
    BadChecksum,
    BadLength,
    BadVersion,
    MissingChecksum,
    TruncatedPacket,
    UnknownPacketType,
)
from .header import (
    ACK_BODY,
    COMMON_HEADER,
    FLAG_NETWORK,
    FLAG_PARITY,
    FLAG_PRESENT,
    FLAG_VAR_PKTLEN,
    HEADER_SIZE,
    POLL_BODY,
    POLL_TAIL,
    POLR_BODY,
    RESERVED_FLAGS,
    SPM_BODY,
    TYPE_ACK,
    TYPE_NAK,
    TYPE_NCF,
    TYPE_NNAK,
    TYPE_ODATA,
    TYPE_POLL,
    TYPE_POLR,
    TYPE_RDATA,
    TYPE_SPM,
    TYPE_SPMR,
    U32,
)
from .nla import decode_nla
from .options import Option, decode_options
from .packets import (
    ACK,
    NAK,
    NCF,
    NNAK,
    ODATA,
    POLL,
    POLR,
    RDATA,
    SPM,
    SPMR,
    Packet,
    decode_data,
)

__all__ = ["PACKET_TYPES", "parse"]

_new = object.__new__


def _check_end(pkt_name: str, buf: bytes, off: int, tsdu_length: int) -> None:
    """Non-data packets carry no TSDU: the datagram must end where body and options end."""
    if tsdu_length:
        raise BadLength(f"{pkt_name} has TSDU length {tsdu_length}; it carries no data")
    if off != len(buf):
        raise BadLength(f"{pkt_name}: {len(buf) - off} stray bytes after body and options")


def _need(buf: bytes, n: int, name: str) -> None:
    if len(buf) < n:
        raise TruncatedPacket(f"{name} needs at least {n} bytes, datagram has {len(buf)}")


def parse(data: bytes | bytearray | memoryview, *, verify: bool = True) -> Packet:
    """Parse one PGM packet (starting at the PGM header: IP/UDP headers already removed).

    With ``verify`` (the default) the checksum must verify; ODATA/RDATA must carry one.
    Raises a :class:`~pgm.wire.errors.PacketError` subclass for anything malformed.
    """
    buf = bytes(data)
    n = len(buf)
    if n < HEADER_SIZE:
        raise TruncatedPacket(f"{n} bytes is shorter than the 16-byte PGM header")
    sport, dport, tbyte, flags, csum, gsi, tsdu_length = COMMON_HEADER.unpack_from(buf)
    if (tbyte in (TYPE_ODATA, TYPE_RDATA)) and n >= 24:
        # Fast path for data, the bulk of all traffic.
        _t, _f, sqn, trail, opts, payload = decode_data(buf, verify)
        p = _new(ODATA if tbyte == TYPE_ODATA else RDATA)
        p.source_port = sport
        p.destination_port = dport
        p.gsi = gsi
        p.options = opts
        p.parity = bool(flags & FLAG_PARITY)
        p.var_pktlen = bool(flags & FLAG_VAR_PKTLEN)
        p.network = bool(flags & FLAG_NETWORK)
        p.reserved_flags = flags & RESERVED_FLAGS
        p.checksum = csum
        p.data_sqn = sqn
        p.data_trail = trail
        p.data = payload
        return p
    if tbyte >> 6:
        raise BadVersion(f"PGM version {tbyte >> 6}; only version 0 exists (RFC 3208 §8)")
    typ = tbyte & 0x3F
    cls = _TYPES.get(typ)
    if cls is None:
        raise UnknownPacketType(f"unknown PGM packet type 0x{typ:02x}")
    if verify:
        if csum == 0:
            if typ in (TYPE_ODATA, TYPE_RDATA):
                # RFC 3208 §8: the checksum is mandatory on data; OpenPGM drops data without one.
                raise MissingChecksum(f"{cls.NAME} without checksum")
        elif not verify_checksum(buf):
            raise BadChecksum(f"{cls.NAME} checksum 0x{csum:04x} does not verify")
    fields, off = _BODIES[typ](buf, cls.NAME)
    opts, off = _options_at(buf, off, flags)
    _check_end(cls.NAME, buf, off, tsdu_length)
    return cls(
        source_port=sport,
        destination_port=dport,
        gsi=gsi,
        options=opts,
        parity=bool(flags & FLAG_PARITY),
        var_pktlen=bool(flags & FLAG_VAR_PKTLEN),
        network=bool(flags & FLAG_NETWORK),
        reserved_flags=flags & RESERVED_FLAGS,
        checksum=csum,
        **fields,
    )


def _options_at(buf: bytes, off: int, flags: int) -> tuple[list[Option], int]:
    if flags & FLAG_PRESENT:
        return decode_options(buf, off)
    return [], off


# Body parsers: the type-specific fields after the common header, as keyword arguments of the
# packet class, and the offset where the option chain (if any) starts.
_Body = tuple[dict[str, Any], int]


def _data_body(buf: bytes, name: str) -> _Body:
    # Reached only for data shorter than its fixed part: parse() decodes the rest directly.
    raise TruncatedPacket(f"{name} needs at least 24 bytes, datagram has {len(buf)}")


def _spm_body(buf: bytes, name: str) -> _Body:
    _need(buf, 28, name)
    sqn, trail, lead = SPM_BODY.unpack_from(buf, 16)
    nla, off = decode_nla(buf, 28, "SPM path NLA")
    return {"spm_sqn": sqn, "spm_trail": trail, "spm_lead": lead, "path_nla": nla}, off


def _poll_body(buf: bytes, name: str) -> _Body:
    _need(buf, 24, name)
    sqn, rnd, s_type = POLL_BODY.unpack_from(buf, 16)
    nla, off = decode_nla(buf, 24, "POLL path NLA")
    if off + 12 > len(buf):
        raise TruncatedPacket("POLL ends before BO_IVL / RAND / MASK")
    bo_ivl, rand, mask = POLL_TAIL.unpack_from(buf, off)
    fields = {
        "poll_sqn": sqn,
        "poll_round": rnd,
        "poll_s_type": s_type,
        "path_nla": nla,
        "poll_bo_ivl": bo_ivl,
        "poll_rand": rand,
        "poll_mask": mask,
    }
    return fields, off + 12


def _polr_body(buf: bytes, name: str) -> _Body:
    _need(buf, 24, name)
    sqn, rnd, _res = POLR_BODY.unpack_from(buf, 16)
    return {"polr_sqn": sqn, "polr_round": rnd}, 24


def _nak_body(buf: bytes, name: str) -> _Body:
    _need(buf, 20, name)
    (sqn,) = U32.unpack_from(buf, 16)
    src, off = decode_nla(buf, 20, f"{name} source NLA")
    grp, off = decode_nla(buf, off, f"{name} group NLA")
    return {"nak_sqn": sqn, "source_nla": src, "group_nla": grp}, off


def _spmr_body(buf: bytes, name: str) -> _Body:
    return {}, 16


def _ack_body(buf: bytes, name: str) -> _Body:
    _need(buf, 24, name)
    rx_max, bitmap = ACK_BODY.unpack_from(buf, 16)
    return {"ack_rx_max": rx_max, "ack_bitmap": bitmap}, 24


_TYPES: dict[int, type[Packet]] = {
    c.TYPE: c for c in (SPM, POLL, POLR, ODATA, RDATA, NAK, NNAK, NCF, SPMR, ACK)
}
_BODIES: dict[int, Callable[[bytes, str], _Body]] = {
    TYPE_SPM: _spm_body,
    TYPE_POLL: _poll_body,
    TYPE_POLR: _polr_body,
    TYPE_ODATA: _data_body,
    TYPE_RDATA: _data_body,
    TYPE_NAK: _nak_body,
    TYPE_NNAK: _nak_body,
    TYPE_NCF: _nak_body,
    TYPE_SPMR: _spmr_body,
    TYPE_ACK: _ack_body,
}

#: Every packet class by type code.
PACKET_TYPES: dict[int, type[Packet]] = dict(_TYPES)
