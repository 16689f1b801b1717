"""Classic pcap files for PGM: write captures, read them back, dig the PGM packets out.

Standard library only.  Three parts:

* :class:`PcapWriter` writes a classic (libpcap) capture file, by default with link type
  ``LINKTYPE_RAW`` (each record is an IPv4 or IPv6 packet, no link header);
  :func:`read_pcap` reads one back (either byte order, microsecond or nanosecond timestamps).
  pcapng is not read: convert it with ``editcap -F pcap in.pcapng out.pcap``.
* :func:`ipv4_packet`, :func:`ipv6_packet` and :func:`udp_datagram` wrap a PGM packet the way
  the wire carries it — raw IP protocol 113, or UDP-encapsulated — with correct IPv4 header and
  UDP checksums, so Wireshark/tshark reads the capture without complaint.
  :func:`pgm_ip_packet` does both steps at once.
* :func:`extract_pgm` strips the link, IP (and, on the given ports, UDP) headers of a record and
  returns the PGM packet bytes plus where it came from (:class:`PgmMeta`).

>>> import io
>>> buf = io.BytesIO()
>>> with PcapWriter(buf) as w:
...     w.write(pgm_ip_packet("10.0.0.1", "239.192.0.1", b"PGM bytes"), ts=1.5)
>>> rec = next(read_pcap(io.BytesIO(buf.getvalue())))
>>> rec.ts, rec.linktype
(1.5, 101)
>>> pkt, meta = extract_pgm(rec)
>>> pkt, meta["src"], meta["dst"], meta["transport"]
(b'PGM bytes', '10.0.0.1', '239.192.0.1', 'ip')
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Collection, Iterator
from ipaddress import IPv4Address, IPv6Address, ip_address
from types import TracebackType
from typing import BinaryIO, NamedTuple, TypedDict

__all__ = [
    "DEFAULT_UDP_ENCAP_PORTS",
    "IPPROTO_PGM",
    "IPPROTO_UDP",
    "LINKTYPE_ETHERNET",
    "LINKTYPE_IPV4",
    "LINKTYPE_IPV6",
    "LINKTYPE_LINUX_SLL",
    "LINKTYPE_LINUX_SLL2",
    "LINKTYPE_LOOP",
    "LINKTYPE_NULL",
    "LINKTYPE_RAW",
    "PcapRecord",
    "PcapWriter",
    "PgmMeta",
    "extract_pgm",
    "gso_payloads",
    "inet_checksum",
    "ipv4_packet",
    "ipv6_packet",
    "pgm_ip_packet",
    "read_pcap",
    "split_gso",
    "udp_datagram",
]

#: Link types (https://www.tcpdump.org/linktypes.html) this module reads.
LINKTYPE_NULL = 0  # BSD loopback: 4-byte address family in the capturing host's byte order
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101  # bare IPv4 or IPv6 packet, version from the first nibble
LINKTYPE_LOOP = 108  # OpenBSD loopback: 4-byte address family, big-endian
LINKTYPE_LINUX_SLL = 113  # Linux "cooked" capture v1 (tcpdump/dumpcap -i any, older)
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276  # Linux "cooked" capture v2 (dumpcap -i any since Wireshark 3.x)

IPPROTO_PGM = 113
IPPROTO_UDP = 17

#: UDP encapsulation ports OpenPGM uses by default (unicast 3055, multicast 3056).
DEFAULT_UDP_ENCAP_PORTS: frozenset[int] = frozenset({3055, 3056})

_MAGIC_US = 0xA1B2C3D4
_MAGIC_NS = 0xA1B23C4D
_MAGIC_PCAPNG = 0x0A0D0D0A
_GLOBAL = "IHHiIII"  # magic, major, minor, thiszone, sigfigs, snaplen, linktype
_RECORD = "IIII"  # ts_sec, ts_frac, incl_len, orig_len
_RECORD_SIZE = 16
_GLOBAL_SIZE = 24

_ETHERTYPE_IPV4 = 0x0800
_ETHERTYPE_IPV6 = 0x86DD
_ETHERTYPE_VLAN = frozenset({0x8100, 0x88A8, 0x9100})

Address = str | bytes | IPv4Address | IPv6Address


# -- reading and writing ---------------------------------------------------------------------


class PcapRecord(NamedTuple):
    """One captured packet: timestamp (seconds since the epoch), link type, captured bytes."""

    ts: float
    linktype: int
    data: bytes


class PcapWriter:
    """Write a classic pcap file (little-endian; microsecond timestamps unless ``nanosecond``).

    ``dest`` is a path (the file is created/truncated and closed by :meth:`close`) or a binary
    file object opened for writing (flushed, not closed, by :meth:`close`).  Use it as a
    context manager.  Every record is written whole, with its length as captured and original.
    """

    def __init__(
        self,
        dest: str | os.PathLike[str] | BinaryIO,
        linktype: int = LINKTYPE_RAW,
        *,
        snaplen: int = 262144,
        nanosecond: bool = False,
    ) -> None:
        if isinstance(dest, str | os.PathLike):
            self._f: BinaryIO = open(dest, "wb")  # noqa: SIM115 - closed by close()
            self._owned = True
        else:
            self._f = dest
            self._owned = False
        self.linktype = linktype
        self.snaplen = snaplen
        self.nanosecond = nanosecond
        self._closed = False
        magic = _MAGIC_NS if nanosecond else _MAGIC_US
        self._f.write(struct.pack("<" + _GLOBAL, magic, 2, 4, 0, 0, snaplen, linktype))

    def write(self, packet: bytes | bytearray | memoryview, ts: float | None = None) -> None:
        """Append one record; ``ts`` defaults to now (``time.time()``)."""
        if self._closed:
            raise ValueError("write to a closed PcapWriter")
        data = bytes(packet)
        if ts is None:
            ts = time.time()
        if ts < 0:
            raise ValueError(f"negative timestamp {ts}")
        sec = int(ts)
        scale = 1_000_000_000 if self.nanosecond else 1_000_000
        frac = round((ts - sec) * scale)
        if frac >= scale:  # rounding carried into the next second
            sec, frac = sec + 1, frac - scale
        n = len(data)
        self._f.write(struct.pack("<" + _RECORD, sec, frac, n, n))
        self._f.write(data)

    def close(self) -> None:
        """Finish the file: close it if this writer opened it, else flush it."""
        if self._closed:
            return
        self._closed = True
        if self._owned:
            self._f.close()
        else:
            self._f.flush()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_pcap(source: str | os.PathLike[str] | BinaryIO) -> Iterator[PcapRecord]:
    """Yield the records of a classic pcap file (a path or a binary file object).

    Reads both byte orders and both microsecond (0xa1b2c3d4) and nanosecond (0xa1b23c4d)
    timestamps.  Raises :class:`ValueError` for pcapng (with the ``editcap`` command that
    converts it), an unknown magic number, or a file cut off inside a record.
    """
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as f:
            yield from _read(f)
    else:
        yield from _read(source)


def _read(f: BinaryIO) -> Iterator[PcapRecord]:
    head = f.read(_GLOBAL_SIZE)
    if len(head) < 4:
        raise ValueError("not a pcap file: shorter than the 4-byte magic number")
    (magic_le,) = struct.unpack_from("<I", head)
    if magic_le == _MAGIC_PCAPNG:
        raise ValueError(
            "this is a pcapng file, which read_pcap does not read; "
            "convert it with: editcap -F pcap IN.pcapng OUT.pcap"
        )
    for order in ("<", ">"):
        (magic,) = struct.unpack_from(order + "I", head)
        if magic in (_MAGIC_US, _MAGIC_NS):
            break
    else:
        raise ValueError(f"not a pcap file: unknown magic number 0x{magic_le:08x}")
    if len(head) < _GLOBAL_SIZE:
        raise ValueError("truncated pcap file header")
    linktype = struct.unpack_from(order + _GLOBAL, head)[6] & 0xFFFF  # high bits: FCS info
    scale = 1e-9 if magic == _MAGIC_NS else 1e-6
    rec = struct.Struct(order + _RECORD)
    while True:
        rh = f.read(_RECORD_SIZE)
        if not rh:
            return
        if len(rh) < _RECORD_SIZE:
            raise ValueError("pcap file ends inside a record header")
        sec, frac, incl_len, _orig_len = rec.unpack(rh)
        data = f.read(incl_len)
        if len(data) < incl_len:
            raise ValueError(f"pcap file ends inside a record ({len(data)} of {incl_len} bytes)")
        yield PcapRecord(sec + frac * scale, linktype, data)


# -- building packets ------------------------------------------------------------------------


def inet_checksum(data: bytes | bytearray | memoryview) -> int:
    """RFC 1071 Internet checksum: one's complement of the one's complement sum of 16-bit
    big-endian words (an odd final byte padded with zero)."""
    v = int.from_bytes(data, "big")
    if len(data) & 1:
        v <<= 8
    s = v % 0xFFFF  # 2**16 ≡ 1 (mod 0xFFFF): folding the big integer adds up the words
    if s == 0 and v:
        s = 0xFFFF  # a non-zero sum that folds to 0 is one's complement "negative zero"
    return 0xFFFF - s


def _addr(value: Address) -> IPv4Address | IPv6Address:
    return value if isinstance(value, IPv4Address | IPv6Address) else ip_address(value)


def _v4(value: Address) -> IPv4Address:
    a = _addr(value)
    if not isinstance(a, IPv4Address):
        raise ValueError(f"{a} is not an IPv4 address")
    return a


def _v6(value: Address) -> IPv6Address:
    a = _addr(value)
    if not isinstance(a, IPv6Address):
        raise ValueError(f"{a} is not an IPv6 address")
    return a


def ipv4_packet(
    src: Address,
    dst: Address,
    proto: int,
    payload: bytes,
    ttl: int = 64,
    *,
    ident: int = 0,
    tos: int = 0,
    router_alert: bool = False,
) -> bytes:
    """An IPv4 packet (RFC 791) around ``payload``, header checksum filled in, DF clear.

    ``router_alert`` adds the IP Router Alert option (RFC 2113), which RFC 3208 asks for on
    raw-IP SPM, POLL, NCF and RDATA.
    """
    opts = b"\x94\x04\x00\x00" if router_alert else b""
    ihl = 5 + len(opts) // 4
    total = ihl * 4 + len(payload)
    if total > 0xFFFF:
        raise ValueError(f"IPv4 packet of {total} bytes is too long")
    hdr = bytearray(
        struct.pack(
            "!BBHHHBBH4s4s",
            0x40 | ihl,
            tos,
            total,
            ident,
            0,
            ttl,
            proto,
            0,
            _v4(src).packed,
            _v4(dst).packed,
        )
        + opts
    )
    struct.pack_into("!H", hdr, 10, inet_checksum(hdr))
    return bytes(hdr) + payload


def ipv6_packet(
    src: Address,
    dst: Address,
    next_header: int,
    payload: bytes,
    hop_limit: int = 64,
    *,
    traffic_class: int = 0,
    flow_label: int = 0,
) -> bytes:
    """An IPv6 packet (RFC 8200) around ``payload``, without extension headers."""
    if len(payload) > 0xFFFF:
        raise ValueError(f"IPv6 payload of {len(payload)} bytes needs a jumbogram")
    first = (6 << 28) | ((traffic_class & 0xFF) << 20) | (flow_label & 0xFFFFF)
    return (
        struct.pack(
            "!IHBB16s16s",
            first,
            len(payload),
            next_header,
            hop_limit,
            _v6(src).packed,
            _v6(dst).packed,
        )
        + payload
    )


def udp_datagram(src: Address, dst: Address, sport: int, dport: int, payload: bytes) -> bytes:
    """A UDP header and ``payload`` with the checksum over the IPv4 or IPv6 pseudo-header.

    ``src`` and ``dst`` (same family) only enter the checksum; wrap the result with
    :func:`ipv4_packet` / :func:`ipv6_packet` using protocol 17.
    """
    s, d = _addr(src), _addr(dst)
    if s.version != d.version:
        raise ValueError(f"{s} and {d} are of different address families")
    length = 8 + len(payload)
    if length > 0xFFFF:
        raise ValueError(f"UDP datagram of {length} bytes is too long")
    udp = struct.pack("!HHHH", sport, dport, length, 0) + payload
    if s.version == 4:
        pseudo = s.packed + d.packed + struct.pack("!BBH", 0, IPPROTO_UDP, length)
    else:
        pseudo = s.packed + d.packed + struct.pack("!I3xB", length, IPPROTO_UDP)
    cs = inet_checksum(pseudo + udp) or 0xFFFF  # 0 means "no checksum": send 0xFFFF
    return udp[:6] + struct.pack("!H", cs) + udp[8:]


def pgm_ip_packet(
    src: Address,
    dst: Address,
    pgm: bytes,
    *,
    udp_ports: tuple[int, int] | None = None,
    ttl: int = 64,
) -> bytes:
    """``pgm`` as the network carries it: raw IP protocol 113, or with ``udp_ports=(sport,
    dport)`` UDP-encapsulated; IPv4 or IPv6 after the addresses' family."""
    s = _addr(src)
    proto, payload = IPPROTO_PGM, pgm
    if udp_ports is not None:
        proto, payload = IPPROTO_UDP, udp_datagram(src, dst, udp_ports[0], udp_ports[1], pgm)
    if s.version == 4:
        return ipv4_packet(src, dst, proto, payload, ttl)
    return ipv6_packet(src, dst, proto, payload, ttl)


# -- extracting PGM --------------------------------------------------------------------------


class PgmMeta(TypedDict):
    """Where a PGM packet found by :func:`extract_pgm` came from."""

    ts: float
    linktype: int
    ip_version: int
    src: str
    dst: str
    ttl: int
    """IPv4 TTL or IPv6 hop limit."""
    transport: str
    """``"ip"`` (raw IP protocol 113) or ``"udp"`` (UDP encapsulation)."""
    sport: int | None
    """UDP source port (``None`` for raw IP)."""
    dport: int | None
    """UDP destination port (``None`` for raw IP)."""
    truncated: bool
    """The capture holds fewer bytes than the IP/UDP header says (snaplen)."""


def _link_payload(linktype: int, data: bytes) -> bytes | None:
    """The network-layer packet inside a link-layer frame, or ``None`` if it is not IP."""
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
        return data
    ethertype: int | None = None
    off = 0
    if linktype == LINKTYPE_ETHERNET:
        if len(data) < 14:
            return None
        ethertype, off = struct.unpack_from("!H", data, 12)[0], 14
        while ethertype in _ETHERTYPE_VLAN and len(data) >= off + 4:
            ethertype, off = struct.unpack_from("!H", data, off + 2)[0], off + 4
    elif linktype == LINKTYPE_LINUX_SLL:
        if len(data) < 16:
            return None
        ethertype, off = struct.unpack_from("!H", data, 14)[0], 16
    elif linktype == LINKTYPE_LINUX_SLL2:
        if len(data) < 20:
            return None
        ethertype, off = struct.unpack_from("!H", data, 0)[0], 20
    elif linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(data) < 4:
            return None
        # AF_INET is 2 everywhere; AF_INET6 is 24, 28 or 30 depending on the BSD.  NULL is in
        # the capturing host's byte order, so accept either.
        fam = struct.unpack_from("!I", data)[0]
        if linktype == LINKTYPE_NULL and fam > 0xFFFF:
            fam = struct.unpack_from("<I", data)[0]
        return data[4:] if fam in (2, 24, 28, 30) else None
    if ethertype in (_ETHERTYPE_IPV4, _ETHERTYPE_IPV6):
        return data[off:]
    return None


_V6_EXT_SKIP = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options


def extract_pgm(
    record: PcapRecord,
    udp_ports: Collection[int] = DEFAULT_UDP_ENCAP_PORTS,
) -> tuple[bytes, PgmMeta] | None:
    """The PGM packet in ``record`` and where it came from, or ``None`` if there is none.

    PGM is found as IP protocol 113 (IPv4 or IPv6, after any hop-by-hop/routing/destination
    extension headers) or as the payload of a UDP datagram whose source or destination port is
    in ``udp_ports``.  IP fragments are not reassembled (``None``).  Link-layer padding is cut
    off by the IP length; a capture cut short by its snaplen returns what was captured, with
    ``truncated`` set.  The PGM bytes themselves are not checked: parse them with
    :func:`pgm.wire.parse`.
    """
    ip = _link_payload(record.linktype, record.data)
    if ip is None or not ip:
        return None
    version = ip[0] >> 4
    if version == 4:
        if len(ip) < 20:
            return None
        ihl = (ip[0] & 0x0F) * 4
        total, frag, ttl, proto = struct.unpack_from("!H2xHBB", ip, 2)
        if ihl < 20 or total < ihl or frag & 0x3FFF:  # bad header, or a fragment (MF/offset)
            return None
        truncated = len(ip) < total
        src, dst = str(IPv4Address(ip[12:16])), str(IPv4Address(ip[16:20]))
        body = ip[ihl:total]
    elif version == 6:
        if len(ip) < 40:
            return None
        plen, proto, ttl = struct.unpack_from("!HBB", ip, 4)
        src, dst = str(IPv6Address(ip[8:24])), str(IPv6Address(ip[24:40]))
        truncated = plen != 0 and len(ip) < 40 + plen
        body = ip[40 : 40 + plen] if plen else ip[40:]  # plen 0: jumbogram, take the rest
        while proto in _V6_EXT_SKIP or proto == 44:
            if len(body) < 8:
                return None
            if proto == 44:  # fragment header: only a whole (atomic) fragment is usable
                if struct.unpack_from("!H", body, 2)[0] & 0xFFF9:
                    return None
                proto, body = body[0], body[8:]
            else:
                proto, body = body[0], body[(body[1] + 1) * 8 :]
    else:
        return None
    sport: int | None = None
    dport: int | None = None
    if proto == IPPROTO_PGM:
        transport = "ip"
    elif proto == IPPROTO_UDP:
        if len(body) < 8:
            return None
        sport, dport, ulen = struct.unpack_from("!HHH", body)
        if sport not in udp_ports and dport not in udp_ports:
            return None
        if ulen < 8:
            return None
        truncated = truncated or len(body) < ulen
        transport, body = "udp", body[8:ulen]
    else:
        return None
    meta: PgmMeta = {
        "ts": record.ts,
        "linktype": record.linktype,
        "ip_version": version,
        "src": src,
        "dst": dst,
        "ttl": ttl,
        "transport": transport,
        "sport": sport,
        "dport": dport,
        "truncated": truncated,
    }
    return body, meta


# -- UDP GSO buffers -------------------------------------------------------------------------


def gso_payloads(payload: bytes) -> list[bytes]:
    """The PGM packets of one captured UDP payload.

    A source sending with UDP GSO (``UDP_SEGMENT``, docs/transports.md) hands the kernel a run
    of same-size data packets as one buffer; on a veth or loopback a capture sees that buffer
    before it is cut into datagrams, so its payload holds several PGM packets: all as long as
    the first, the last maybe shorter.  The first one's length comes from its own header
    (RFC 3208 §8: 24 bytes of ODATA/RDATA header, OPT_LENGTH's total when options are present,
    the TSDU length).  Anything else is returned whole.
    """
    n = len(payload)
    if n < 24 or payload[4] & 0x0F not in (0x04, 0x05):
        return [payload]
    size = 24 + (payload[14] << 8 | payload[15])
    if payload[5] & 0x01:  # OPT_PRESENT: OPT_LENGTH follows the header
        size += payload[26] << 8 | payload[27] if n >= 28 else 0
    if size >= n or size <= 24:
        return [payload]
    return [payload[i : i + size] for i in range(0, n, size)]


def split_gso(
    record: PcapRecord, udp_ports: Collection[int] = DEFAULT_UDP_ENCAP_PORTS
) -> list[PcapRecord]:
    """``record`` as the datagrams the receivers get: a captured UDP GSO buffer of PGM data
    (:func:`gso_payloads`) becomes one record per datagram, each with its own IP and UDP
    header; every other record is returned alone.  Only bare IP records (``LINKTYPE_RAW``,
    ``LINKTYPE_IPV4``, ``LINKTYPE_IPV6``) are cut: a link-layer frame is kept as captured."""
    if record.linktype not in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
        return [record]
    found = extract_pgm(record, udp_ports)
    if found is None:
        return [record]
    body, meta = found
    if meta["transport"] != "udp" or meta["truncated"]:
        return [record]
    parts = gso_payloads(body)
    if len(parts) == 1:
        return [record]
    ports = (int(meta["sport"] or 0), int(meta["dport"] or 0))
    return [
        PcapRecord(
            record.ts,
            record.linktype,
            pgm_ip_packet(meta["src"], meta["dst"], p, udp_ports=ports, ttl=meta["ttl"]),
        )
        for p in parts
    ]
