"""``pgm dump``'s live capture: sockets that see PGM and hand it on as bare IP packets.

Theory of operation
-------------------
Every capture method yields :class:`~pgm.pcap.PcapRecord` s of link type ``LINKTYPE_RAW`` (one
IPv4 or IPv6 packet each), so decoding, filtering and ``--write`` treat a live capture and a
pcap file alike:

* ``packet`` (Linux): one ``AF_PACKET``/``SOCK_DGRAM`` socket, on one interface or all, sees
  both raw PGM and UDP-encapsulated PGM, sent and received, like tcpdump.  A classic BPF
  program in the kernel passes only IP packets of protocol 113 or UDP, and the socket's
  PACKET_STATISTICS tell how many frames the kernel dropped because we fell behind
  (:attr:`Capture.kernel_drops`, in the summary).  Outgoing copies on a loopback interface are
  skipped (the same packet comes back in), as libpcap does.
* ``raw``: ``SOCK_RAW`` protocol 113 sockets, IPv4 and (where the host has it) IPv6; they see
  incoming raw PGM only.  IPv4 raw sockets deliver the IP header; for IPv6 the destination
  comes from ``IPV6_PKTINFO`` and the header is rebuilt (:func:`pgm.pcap.ipv6_packet`).
* ``udp``: unprivileged; UDP sockets bound to the encapsulation ports (``SO_REUSEADDR``, so a
  receiver on the same host keeps getting its multicast) see the datagrams delivered to this
  host.  The IP and UDP headers are rebuilt (:func:`pgm.pcap.pgm_ip_packet`).

``packet`` and ``raw`` need root or CAP_NET_RAW: without it :func:`open_capture` raises
:class:`CaptureError` saying so.  ``--group`` joins groups on the interface (through a UDP
socket for ``packet``/``raw``), so the host accepts their multicast.  :meth:`Capture.records`
waits in ``select()`` at most :data:`POLL_SECS` at a time, so Ctrl-C and SIGTERM stop it
promptly, and drains at most :data:`BATCH` datagrams per socket per wake-up.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import sys
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address

from ..interfaces import IFF_LOOPBACK, Interface, interface_flags
from ..pcap import (
    IPPROTO_PGM,
    LINKTYPE_RAW,
    PcapRecord,
    ipv6_packet,
    pgm_ip_packet,
)

__all__ = ["BATCH", "CAPTURE_METHODS", "POLL_SECS", "Capture", "CaptureError", "open_capture"]

CAPTURE_METHODS = ("auto", "packet", "raw", "udp")
POLL_SECS = 0.2
BATCH = 256
_SNAP = 65535
_ETH_P_ALL = 0x0003
_ETH_P_IP, _ETH_P_IPV6 = 0x0800, 0x86DD
_PACKET_OUTGOING = 4
_IN6_PKTINFO = struct.Struct("16sI")
_IN_PKTINFO = struct.Struct("I4s4s")
_IP_PKTINFO: int = getattr(socket, "IP_PKTINFO", 8)  # Linux value; not in every typeshed

Reader = Callable[[socket.socket], PcapRecord | None]


class CaptureError(OSError):
    """A capture socket could not be opened (the message says why and what to do)."""


_NEED_PRIV = (
    "capturing with --capture {m} needs root or CAP_NET_RAW; run as root (or `setcap "
    "cap_net_raw+ep` on the interpreter), use --capture udp --udp-port PORT (no privilege: the "
    "UDP-encapsulated PGM delivered to this host), or read a capture with --read FILE"
)


class Capture:
    """Open capture sockets and how to read one record from each."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.linktype = LINKTYPE_RAW
        self._socks: list[tuple[socket.socket, Reader]] = []
        self._helpers: list[socket.socket] = []
        self.drop_counter: Callable[[], int] | None = None
        """Kernel drops since the last call, where the method can tell (``packet``)."""
        self.kernel_drops: int | None = None
        """Packets the kernel dropped because the capture fell behind (``None``: unknown)."""

    def add(self, sock: socket.socket, reader: Reader) -> None:
        sock.setblocking(False)
        self._socks.append((sock, reader))

    def records(self, until: float | None = None) -> Iterator[PcapRecord]:
        """Records as they arrive, until ``until`` (``time.monotonic()``) if given."""
        readers = dict(self._socks)
        while until is None or time.monotonic() < until:
            wait = (
                POLL_SECS if until is None else max(0.0, min(POLL_SECS, until - time.monotonic()))
            )
            ready, _, _ = select.select(list(readers), [], [], wait)
            for sock in ready:
                for _ in range(BATCH):
                    try:
                        rec = readers[sock](sock)
                    except (BlockingIOError, InterruptedError):
                        break
                    if rec is not None:
                        yield rec

    def join(self, groups: Sequence[IPv4Address | IPv6Address], iface: Interface | None) -> None:
        """Join ``groups`` on ``iface`` (the default interface of each family if ``None``)."""
        from ..interfaces import resolve_interface

        for g in groups:
            where = iface or resolve_interface(None, g.version)
            fam = socket.AF_INET if g.version == 4 else socket.AF_INET6
            s = socket.socket(fam, socket.SOCK_DGRAM)
            _membership(s, g, where)
            self._helpers.append(s)

    def close(self) -> None:
        if self.drop_counter is not None and self._socks:
            with contextlib.suppress(OSError):
                self.kernel_drops = (self.kernel_drops or 0) + self.drop_counter()
        for s, _ in self._socks:
            s.close()
        for s in self._helpers:
            s.close()
        self._socks.clear()
        self._helpers.clear()


def _membership(s: socket.socket, g: IPv4Address | IPv6Address, iface: Interface) -> None:
    if g.version == 4:
        mreq = g.packed + iface.address(4).packed
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    else:
        mreq6 = g.packed + struct.pack("@I", iface.index)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq6)


# -- the methods -------------------------------------------------------------------------------


def _packet_reader() -> Reader:
    loopback: dict[str, bool] = {}

    def read(sock: socket.socket) -> PcapRecord | None:
        data, addr = sock.recvfrom(_SNAP)
        ifname, proto, pkttype = addr[0], addr[1], addr[2]
        if proto not in (_ETH_P_IP, _ETH_P_IPV6):
            return None
        if pkttype == _PACKET_OUTGOING:
            if ifname not in loopback:
                loopback[ifname] = bool((interface_flags(ifname) or 0) & IFF_LOOPBACK)
            if loopback[ifname]:
                return None
        return PcapRecord(time.time(), LINKTYPE_RAW, data)

    return read


# Classic BPF (linux/filter.h) run by the kernel on each frame of the AF_PACKET socket: keep
# IPv4/IPv6 packets whose protocol is PGM or UDP (IPv6 also behind hop-by-hop, routing,
# fragment and destination-options headers); Python sees nothing else.
_BPF_LD_PROTO = (0x28, 0, 0, 0xFFFFF000)  # ldh skb->protocol (SKF_AD_OFF + SKF_AD_PROTOCOL)
_BPF = (
    _BPF_LD_PROTO,
    (0x15, 0, 4, _ETH_P_IP),  # 1: IPv4? else to 6
    (0x30, 0, 0, 9),  # 2: ldb [9] protocol
    (0x15, 10, 0, IPPROTO_PGM),  # 3: -> accept
    (0x15, 9, 0, 17),  # 4: UDP -> accept
    (0x06, 0, 0, 0),  # 5: drop
    (0x15, 0, 8, _ETH_P_IPV6),  # 6: IPv6? else drop
    (0x30, 0, 0, 6),  # 7: ldb [6] next header
    (0x15, 5, 0, IPPROTO_PGM),  # 8: -> accept
    (0x15, 4, 0, 17),  # 9
    (0x15, 3, 0, 0),  # 10: hop-by-hop
    (0x15, 2, 0, 43),  # 11: routing
    (0x15, 1, 0, 44),  # 12: fragment
    (0x15, 0, 1, 60),  # 13: destination options, else drop
    (0x06, 0, 0, _SNAP),  # 14: accept
    (0x06, 0, 0, 0),  # 15: drop
)
_SO_ATTACH_FILTER = 26
_SOL_PACKET, _PACKET_STATISTICS = 263, 6


def _attach_filter(s: socket.socket) -> None:
    """Attach :data:`_BPF`; without it (an old kernel) Python filters everything itself."""
    import ctypes

    code = b"".join(struct.pack("HBBI", *ins) for ins in _BPF)
    buf = ctypes.create_string_buffer(code)
    prog = struct.pack("HL", len(_BPF), ctypes.addressof(buf))
    with contextlib.suppress(OSError):
        s.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, prog)


def _packet_drops(s: socket.socket) -> int:
    """Frames the kernel dropped for this AF_PACKET socket since the last call (the capture
    did not keep up): PACKET_STATISTICS' tp_drops."""
    _packets, drops = struct.unpack("II", s.getsockopt(_SOL_PACKET, _PACKET_STATISTICS, 8))
    return int(drops)


def _open_packet(cap: Capture, iface: Interface | None) -> None:
    af_packet = getattr(socket, "AF_PACKET", None)
    if af_packet is None:
        raise CaptureError("--capture packet needs Linux (AF_PACKET); use --capture raw")
    s = socket.socket(af_packet, socket.SOCK_DGRAM, socket.htons(_ETH_P_ALL))
    _attach_filter(s)
    if iface is not None:
        s.bind((iface.name, 0))
    _packet_drops(s)  # reset the counter: count from here on
    cap.add(s, _packet_reader())
    cap.drop_counter = lambda: _packet_drops(s)


def _raw4(sock: socket.socket) -> PcapRecord | None:
    data = sock.recv(_SNAP)
    return PcapRecord(time.time(), LINKTYPE_RAW, data)


def _raw6(sock: socket.socket) -> PcapRecord | None:
    data, anc, _flags, addr = sock.recvmsg(_SNAP, 256)
    dst: IPv6Address | None = None
    hops = 64
    for level, kind, value in anc:
        if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO:
            dst = IPv6Address(_IN6_PKTINFO.unpack_from(value)[0])
        elif level == socket.IPPROTO_IPV6 and kind == getattr(socket, "IPV6_HOPLIMIT", -1):
            hops = int.from_bytes(value[:4], sys.byteorder)
    src = ip_address(addr[0].split("%")[0])
    pkt = ipv6_packet(src, dst or IPv6Address(0), IPPROTO_PGM, data, hops & 0xFF)
    return PcapRecord(time.time(), LINKTYPE_RAW, pkt)


def _open_raw(cap: Capture, iface: Interface | None) -> None:
    s4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_PGM)
    if iface is not None and hasattr(socket, "SO_BINDTODEVICE"):
        s4.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.name.encode())
    cap.add(s4, _raw4)
    try:
        s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, IPPROTO_PGM)
    except OSError:  # no IPv6 on this host: IPv4 only
        return
    s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    if hasattr(socket, "IPV6_RECVHOPLIMIT"):
        s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
    if iface is not None and hasattr(socket, "SO_BINDTODEVICE"):
        s6.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.name.encode())
    cap.add(s6, _raw6)


def _udp_reader(port: int, version: int) -> Reader:
    def read(sock: socket.socket) -> PcapRecord | None:
        data, anc, _flags, addr = sock.recvmsg(_SNAP, 256)
        dst: str | None = None
        for level, kind, value in anc:
            if version == 4 and level == socket.IPPROTO_IP and kind == _IP_PKTINFO:
                dst = str(IPv4Address(_IN_PKTINFO.unpack_from(value)[2]))
            elif version == 6 and level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO:
                dst = str(IPv6Address(_IN6_PKTINFO.unpack_from(value)[0]))
        src = addr[0].split("%")[0]
        dst = dst or ("0.0.0.0" if version == 4 else "::")
        pkt = pgm_ip_packet(src, dst, data, udp_ports=(addr[1], port))
        return PcapRecord(time.time(), LINKTYPE_RAW, pkt)

    return read


def _open_udp(
    cap: Capture,
    ports: Collection[int],
    versions: Collection[int],
    groups: Sequence[IPv4Address | IPv6Address],
    iface: Interface | None,
) -> None:
    from ..interfaces import resolve_interface

    for version in sorted(versions):
        fam = socket.AF_INET if version == 4 else socket.AF_INET6
        for port in sorted(ports):
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if version == 4:
                s.setsockopt(socket.IPPROTO_IP, _IP_PKTINFO, 1)
            else:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
            s.bind(("0.0.0.0" if version == 4 else "::", port))
            for g in groups:
                if g.version == version:
                    _membership(s, g, iface or resolve_interface(None, version))
            cap.add(s, _udp_reader(port, version))


def open_capture(
    method: str,
    *,
    iface: Interface | None,
    udp_ports: Collection[int],
    groups: Sequence[IPv4Address | IPv6Address] = (),
) -> Capture:
    """Open the capture sockets of ``method`` (``auto``: ``packet`` on Linux, else ``raw``).

    Raises :class:`CaptureError` without the privilege ``packet``/``raw`` need, and OSError
    (e.g. a UDP port in use without SO_REUSEADDR) otherwise.
    """
    if method == "auto":
        method = "packet" if hasattr(socket, "AF_PACKET") else "raw"
    cap = Capture(method)
    try:
        if method == "packet":
            _open_packet(cap, iface)
        elif method == "raw":
            _open_raw(cap, iface)
        elif method == "udp":
            versions = {g.version for g in groups} or {4}
            _open_udp(cap, udp_ports, versions, groups, iface)
            return cap
        else:
            raise CaptureError(f"unknown capture method {method!r}")
        cap.join(groups, iface)
    except PermissionError:
        cap.close()
        raise CaptureError(_NEED_PRIV.format(m=method)) from None
    except BaseException:
        cap.close()
        raise
    return cap
