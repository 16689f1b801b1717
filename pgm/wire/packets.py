"""PGM packets (RFC 3208 §8) as objects: parse bytes into them, encode them back to bytes.

>>> from pgm import wire
>>> pkt = wire.ODATA(source_port=40000, destination_port=7500, gsi=b"\\x01" * 6,
...                  data_sqn=0, data_trail=0, data=b"hello")
>>> raw = pkt.encode()
>>> back = wire.parse(raw)
>>> back.data, back.tsi.source_port, back.encode() == raw
(b'hello', 40000, True)

Every class is a ``dataclass``: construct with keyword arguments named after the RFC's fields,
read and change fields freely, call :meth:`Packet.encode`.  :func:`parse` (in :mod:`.parsing`)
checks everything a receiver must check and raises a :class:`~pgm.wire.errors.PacketError`
subclass on anything malformed; nothing else escapes it.

Header flags use the values real implementations put on the wire (docs/protocol.md §2):
PRESENT 0x01, NETWORK 0x02, VAR_PKTLEN 0x40, PARITY 0x80 (not the RFC text's MSB-first bit
numbering).
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any, ClassVar, NamedTuple, TypeVar

from .checksum import _PLANS, fold_plan
from .checksum import checksum as _checksum
from .errors import (
    BadChecksum,
    BadLength,
    MissingChecksum,
    PacketError,
    TruncatedPacket,
    UnknownPacketType,
)
from .fastpath import encode_data, option_flags
from .header import (
    ACK_BODY,
    COMMON_HEADER,
    FLAG_NETWORK,
    FLAG_PARITY,
    FLAG_PRESENT,
    FLAG_VAR_PKTLEN,
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
from .header import SQN_TRAIL as _SQN_TRAIL  # decode_data's name for the layout
from .nla import NLA, encode_nla
from .options import MAX_NAK_LIST, Option, OptNakList, decode_options, encode_options

__all__ = [
    "ACK",
    "NAK",
    "NCF",
    "NNAK",
    "ODATA",
    "POLL",
    "POLR",
    "RDATA",
    "SPM",
    "SPMR",
    "TSI",
    "DataPacket",
    "NakPacket",
    "Packet",
    "encode_nak_list",
]


_UNSPECIFIED = IPv4Address(0)  # immutable default NLA (0.0.0.0)


class TSI(NamedTuple):
    """Transport session identifier (RFC 3208 §3): GSI (6 bytes) and data-source port."""

    gsi: bytes
    source_port: int

    def __str__(self) -> str:  # OpenPGM's notation: "1.2.3.4.5.6.7500"
        return ".".join(str(b) for b in self.gsi) + f".{self.source_port}"

    def __repr__(self) -> str:  # the dotted form the CLI prints; TSI.parse reads it back
        return f"TSI.parse({str(self)!r})"

    @classmethod
    def parse(cls, text: str) -> TSI:
        """The TSI in OpenPGM's dotted notation, ``"1.2.3.4.5.6.7500"``; ValueError if not."""
        parts = text.strip().split(".")
        try:
            nums = [int(p) for p in parts]
        except ValueError:
            nums = []
        if len(nums) != 7 or not all(0 <= n < 256 for n in nums[:6]) or not 0 <= nums[6] < 65536:
            raise ValueError(f"not a TSI (six bytes and a port, dotted): {text!r}")
        return cls(bytes(nums[:6]), nums[6])


P = TypeVar("P", bound="Packet")


@dataclass(slots=True, kw_only=True)
class Packet:
    """Fields common to every PGM packet (RFC 3208 §8, the 16-byte header).

    ``network`` is the OPT_NETWORK header flag: ``None`` (the default) sets it exactly when a
    network-significant option is present; a parsed packet records what was on the wire.
    ``checksum`` is the value parsed from the wire (``None`` for packets you build);
    :meth:`encode` always computes a fresh one.
    """

    TYPE: ClassVar[int] = -1
    NAME: ClassVar[str] = "?"
    UPSTREAM: ClassVar[bool] = False  # sent towards the source (ports swapped)

    source_port: int
    """Source port: data-source port downstream, data-destination port upstream."""
    destination_port: int
    """Destination port: data-destination port downstream, data-source port upstream."""
    gsi: bytes
    """Global source identifier of the session's source (6 bytes)."""
    options: list[Option] = field(default_factory=list)
    """Option extensions after the body, without OPT_LENGTH (the codec writes it)."""
    parity: bool = False
    """Header flag OPT_PARITY (0x80): a parity packet or a parity NAK/NCF."""
    var_pktlen: bool = False
    """Header flag OPT_VAR_PKTLEN (0x40): parity over TSDUs of different lengths."""
    network: bool | None = None
    """Header flag OPT_NETWORK (0x02); ``None`` = derive from the options."""
    reserved_flags: int = 0
    """Unassigned header flag bits (0x04–0x20), kept so odd packets re-encode exactly."""
    checksum: int | None = None
    """Checksum field as received; ignored by :meth:`encode`."""

    @property
    def tsi(self) -> TSI:
        """The session this packet belongs to."""
        port = self.destination_port if self.UPSTREAM else self.source_port
        return TSI(self.gsi, port)

    def option(self, cls: type[Any]) -> Any:
        """The first option of class ``cls``, or ``None``."""
        for o in self.options:
            if type(o) is cls:
                return o
        return None

    def replace(self: P, **changes: Any) -> P:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    # -- encoding ------------------------------------------------------------------------------
    def _flags(self) -> int:
        f = self.reserved_flags & RESERVED_FLAGS
        if self.options and self.network is None:
            f |= option_flags(self.options, self.TYPE)
        else:
            if self.options:
                f |= FLAG_PRESENT
            if self.network:
                f |= FLAG_NETWORK
        if self.parity:
            f |= FLAG_PARITY
        if self.var_pktlen:
            f |= FLAG_VAR_PKTLEN
        return f

    def _body(self) -> bytes:
        return b""

    def _payload(self) -> bytes:
        return b""

    def encode(self, *, checksum: bool = True) -> bytes:
        """Wire bytes of the packet.  ``checksum=False`` writes 0 ("no checksum")."""
        if len(self.gsi) != 6:
            raise PacketError(f"GSI must be 6 bytes, not {len(self.gsi)}")
        payload = self._payload()
        if len(payload) > 0xFFFF:
            raise BadLength(f"TSDU of {len(payload)} bytes does not fit the 16-bit length")
        rest = self._body() + encode_options(self.options) + payload
        hdr = COMMON_HEADER.pack(
            self.source_port,
            self.destination_port,
            self.TYPE,
            self._flags(),
            0,
            self.gsi,
            len(payload),
        )
        if not checksum:
            return hdr + rest
        raw = bytearray(hdr)
        raw += rest
        struct.pack_into(">H", raw, 6, _checksum(raw))
        return bytes(raw)

    def __bytes__(self) -> bytes:
        return self.encode()


@dataclass(slots=True, kw_only=True)
class SPM(Packet):
    """Source Path Message (RFC 3208 §8.1): session announcement, window edges, path NLA.

    Before any data OpenPGM advertises trail 0 / lead 0xFFFFFFFF (an empty window).
    """

    TYPE: ClassVar[int] = TYPE_SPM
    NAME: ClassVar[str] = "SPM"

    spm_sqn: int = 0
    """SPM sequence number (its own space, not data SQNs)."""
    spm_trail: int = 0
    """Trailing edge of the transmit window (TXW_TRAIL)."""
    spm_lead: int = 0
    """Leading edge of the transmit window (TXW_LEAD)."""
    path_nla: NLA = _UNSPECIFIED
    """Path NLA: where NAKs go (the source's, or the last PGM router's, address)."""

    def _body(self) -> bytes:
        return SPM_BODY.pack(self.spm_sqn, self.spm_trail, self.spm_lead) + encode_nla(
            self.path_nla
        )


@dataclass(slots=True, kw_only=True)
class POLL(Packet):
    """POLL (RFC 3208 §14.7.1): a network element or source polls its receivers."""

    TYPE: ClassVar[int] = TYPE_POLL
    NAME: ClassVar[str] = "POLL"

    poll_sqn: int = 0
    """POLL sequence number."""
    poll_round: int = 0
    """Round of this poll (repeats of one poll share the SQN)."""
    poll_s_type: int = 0
    """Sub-type: 0 general poll, 1 DLR poll."""
    path_nla: NLA = _UNSPECIFIED
    """Address of the poller (where POLRs go)."""
    poll_bo_ivl: int = 0
    """Back-off interval receivers spread their POLRs over, µs."""
    poll_rand: bytes = b"\0\0\0\0"
    """POLL_RAND: random string receivers match under the mask."""
    poll_mask: int = 0
    """POLL_MASK: which bits of POLL_RAND must match."""

    def _body(self) -> bytes:
        if len(self.poll_rand) != 4:
            raise PacketError("poll_rand must be 4 bytes")
        return (
            POLL_BODY.pack(self.poll_sqn, self.poll_round, self.poll_s_type)
            + encode_nla(self.path_nla)
            + POLL_TAIL.pack(self.poll_bo_ivl, self.poll_rand, self.poll_mask)
        )


@dataclass(slots=True, kw_only=True)
class POLR(Packet):
    """POLL response (RFC 3208 §14.7.2), unicast to the poller."""

    TYPE: ClassVar[int] = TYPE_POLR
    NAME: ClassVar[str] = "POLR"
    UPSTREAM: ClassVar[bool] = True

    polr_sqn: int = 0
    """The POLL_SQN being answered."""
    polr_round: int = 0
    """The POLL_ROUND being answered."""

    def _body(self) -> bytes:
        return POLR_BODY.pack(self.polr_sqn, self.polr_round, 0)


@dataclass(slots=True, kw_only=True)
class DataPacket(Packet):
    """ODATA and RDATA (RFC 3208 §8.2): a TSDU with its sequence number."""

    data_sqn: int = 0
    """Sequence number of this TPDU."""
    data_trail: int = 0
    """Trailing edge of the source's transmit window when sent."""
    data: bytes = b""
    """The TSDU (application bytes or one fragment of an APDU)."""

    def _body(self) -> bytes:
        return U32.pack(self.data_sqn) + U32.pack(self.data_trail)

    def _payload(self) -> bytes:
        return self.data

    def encode(self, *, checksum: bool = True) -> bytes:
        if self.options or len(self.gsi) != 6 or len(self.data) > 0xFFFF:
            return Packet.encode(self, checksum=checksum)
        # Fast path for the common case (no options): one pack, one checksum, one join.
        return encode_data(
            self.TYPE,
            self.source_port,
            self.destination_port,
            self.gsi,
            self.data_sqn,
            self.data_trail,
            self.data,
            flags=self._flags(),
            with_checksum=checksum,
        )


@dataclass(slots=True, kw_only=True)
class ODATA(DataPacket):
    """Original data (RFC 3208 §8.2)."""

    TYPE: ClassVar[int] = TYPE_ODATA
    NAME: ClassVar[str] = "ODATA"


@dataclass(slots=True, kw_only=True)
class RDATA(DataPacket):
    """Repair data (RFC 3208 §8.2): a retransmission, same SQN, fresh trail."""

    TYPE: ClassVar[int] = TYPE_RDATA
    NAME: ClassVar[str] = "RDATA"


@dataclass(slots=True, kw_only=True)
class NakPacket(Packet):
    """NAK, NNAK and NCF (RFC 3208 §8.3): a sequence number plus the source and group NLAs."""

    nak_sqn: int = 0
    """The requested (NAK/NNAK) or confirmed (NCF) sequence number."""
    source_nla: NLA = _UNSPECIFIED
    """NAK_SRC_NLA: the source's address (the SPM path NLA for OpenPGM)."""
    group_nla: NLA = _UNSPECIFIED
    """NAK_GRP_NLA: the multicast group of the session."""

    def _body(self) -> bytes:
        return U32.pack(self.nak_sqn) + encode_nla(self.source_nla) + encode_nla(self.group_nla)


@dataclass(slots=True, kw_only=True)
class NAK(NakPacket):
    """Negative acknowledgement (RFC 3208 §8.3), unicast upstream; ports swapped."""

    TYPE: ClassVar[int] = TYPE_NAK
    NAME: ClassVar[str] = "NAK"
    UPSTREAM: ClassVar[bool] = True


@dataclass(slots=True, kw_only=True)
class NNAK(NakPacket):
    """Null NAK (RFC 3208 §8.3): a DLR tells the source it suppressed a NAK."""

    TYPE: ClassVar[int] = TYPE_NNAK
    NAME: ClassVar[str] = "NNAK"
    UPSTREAM: ClassVar[bool] = True


@dataclass(slots=True, kw_only=True)
class NCF(NakPacket):
    """NAK confirmation (RFC 3208 §8.3), multicast downstream."""

    TYPE: ClassVar[int] = TYPE_NCF
    NAME: ClassVar[str] = "NCF"


def encode_nak_list(
    cls: type[NakPacket],
    *,
    source_port: int,
    destination_port: int,
    gsi: bytes,
    sqns: list[int],
    source_nla: NLA,
    group_nla: NLA,
    parity: bool = False,
) -> bytes:
    """Bytes of a NAK, NNAK or NCF (``cls``) for 1 … 63 wire sequence numbers: the first in
    the packet's own field, the others in OPT_NAK_LIST (RFC 3208 §8.3, §9)."""
    if not 1 <= len(sqns) <= 1 + MAX_NAK_LIST:
        raise ValueError(f"a NAK names 1..{1 + MAX_NAK_LIST} sequence numbers, not {len(sqns)}")
    return cls(
        source_port=source_port,
        destination_port=destination_port,
        gsi=gsi,
        nak_sqn=sqns[0],
        source_nla=source_nla,
        group_nla=group_nla,
        options=[OptNakList(sqns[1:])] if len(sqns) > 1 else [],
        parity=parity,
    ).encode()


@dataclass(slots=True, kw_only=True)
class SPMR(Packet):
    """SPM request (RFC 3208 §13.6): header only; asks the source for an SPM."""

    TYPE: ClassVar[int] = TYPE_SPMR
    NAME: ClassVar[str] = "SPMR"
    UPSTREAM: ClassVar[bool] = True


@dataclass(slots=True, kw_only=True)
class ACK(Packet):
    """PGMCC ACK (type 0x0D): an OpenPGM/PGMCC extension, not part of RFC 3208."""

    TYPE: ClassVar[int] = TYPE_ACK
    NAME: ClassVar[str] = "ACK"
    UPSTREAM: ClassVar[bool] = True

    ack_rx_max: int = 0
    """Highest sequence number the acker has received."""
    ack_bitmap: int = 0
    """Bitmap of the 32 sequence numbers up to ``ack_rx_max``."""

    def _body(self) -> bytes:
        return ACK_BODY.pack(self.ack_rx_max, self.ack_bitmap)


# -- parsing ---------------------------------------------------------------------------------


def decode_data(buf: bytes, verify: bool = True) -> tuple[int, int, int, int, list[Option], bytes]:
    """Decode an ODATA/RDATA packet without building an object (the receive hot path).

    Returns ``(type, flags, data_sqn, data_trail, options, tsdu)``: ``flags`` is the header's
    options-flags byte (``FLAG_PARITY``, ``FLAG_VAR_PKTLEN``, ``FLAG_NETWORK``, ``FLAG_PRESENT``;
    RFC 3208 §8), so a caller can tell a parity packet from data without parsing it.  The other
    header fields are the caller's to read (``buf[0:16]``).  Performs every check :func:`parse`
    does for data packets and raises the same :class:`~pgm.wire.errors.PacketError` subclasses.
    """
    n = len(buf)
    if n < 24:
        raise TruncatedPacket(f"data packet of {n} bytes is shorter than its 24-byte header")
    tbyte = buf[4]
    if tbyte != TYPE_ODATA and tbyte != TYPE_RDATA:
        raise UnknownPacketType(f"type 0x{tbyte:02x} is not ODATA/RDATA")
    if verify:
        if not (buf[6] or buf[7]):
            # RFC 3208 §8: the checksum is mandatory on data; OpenPGM drops data without one.
            raise MissingChecksum(f"{_NAMES[tbyte]} without checksum")
        v = int.from_bytes(buf, "big")
        if n & 1:
            v <<= 8
        if n >= 256:  # fold first (see checksum._mod), inlined on this hot path
            for k, m in _PLANS.get(n >> 5) or fold_plan(n):
                v = (v >> k) + (v & m)
        if not v or v % 0xFFFF:
            cs = buf[6] << 8 | buf[7]
            raise BadChecksum(f"{_NAMES[tbyte]} checksum 0x{cs:04x} does not verify")
    flags = buf[5]
    if flags & FLAG_PRESENT:
        opts, off = decode_options(buf, 24)
    else:
        opts, off = [], 24
    tsdu_length = buf[14] << 8 | buf[15]
    if n - off != tsdu_length:
        raise BadLength(
            f"{_NAMES[tbyte]} TSDU length {tsdu_length} but {n - off} data bytes follow"
        )
    sqn, trail = _SQN_TRAIL.unpack_from(buf, 16)
    return tbyte, flags, sqn, trail, opts, buf[off:]


_NAMES = {TYPE_ODATA: "ODATA", TYPE_RDATA: "RDATA"}
